/* fuzz_stun.c - libFuzzer target for the STUN parser.
 *
 * Invariants checked (abort on violation):
 *  - a message that parses has the length its header claims;
 *  - the answer built for a parsed request parses again, carries the same transaction id, and
 *    reflects exactly the addresses it was given;
 *  - re-encoding the reflexive address of a parsed response and parsing it back gives the same address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_stun_msg m, r;
	if (konce_stun_parse(&m, d, n) != KONCE_STUN_OK)
		return 0;
	if ((size_t)m.length + KONCE_STUN_HEADER != n)
		abort();

	konce_addr seen, origin, other;
	konce_addr_parse(&seen, "203.0.113.5:40000");
	konce_addr_parse(&origin, "[2001:db8::1]:3478");
	konce_addr_parse(&other, "198.51.100.7:3479");
	uint8_t out[KONCE_STUN_MAX_MESSAGE];
	int len = konce_stun_answer(out, sizeof(out), &m, &seen, &origin, &other, "fuzz");
	if (len < 0)
		abort(); /* an answer always fits in a full-size buffer */
	if (len > 0) {
		if (konce_stun_parse(&r, out, (size_t)len) != KONCE_STUN_OK)
			abort();
		if (memcmp(r.txid, m.txid, KONCE_STUN_TXID) || r.cookie != m.cookie)
			abort();
		if (r.type == KONCE_STUN_BINDING_SUCCESS) {
			const konce_addr *x = konce_stun_mapped(&r);
			if (!x || !konce_addr_eq(x, &seen) || !r.has_origin || !konce_addr_eq(&r.origin, &origin) ||
			    !r.has_other || !konce_addr_eq(&r.other, &other))
				abort();
		} else if (r.type != KONCE_STUN_BINDING_ERROR || r.error_code != 420 || !m.n_unknown_required) {
			abort();
		}
	}

	const konce_addr *x = konce_stun_mapped(&m);
	if (x) {
		konce_stun_builder b;
		konce_stun_build_start(&b, out, sizeof(out), KONCE_STUN_BINDING_SUCCESS, m.cookie, m.txid);
		konce_stun_add_addr(&b, KONCE_STUN_A_XOR_MAPPED_ADDRESS, x);
		konce_stun_add_fingerprint(&b);
		len = konce_stun_build_finish(&b);
		if (len <= 0 || konce_stun_parse(&r, out, (size_t)len) != KONCE_STUN_OK || !r.has_xor_mapped ||
		    !konce_addr_eq(&r.xor_mapped, x))
			abort();
	}
	return 0;
}
