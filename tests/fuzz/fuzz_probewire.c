/* fuzz_probewire.c - libFuzzer target for the konce probe parser.
 *
 * Invariants (abort on violation): a packet that parses re-encodes to the same bytes; the reply a
 * listener would build for a parsed request parses back with the request's nonce, seq and command.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/probewire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_probewire_msg p, q;
	uint8_t out[KONCE_PROBE_SIZE];
	if (konce_probewire_parse(&p, d, n) != KONCE_PROBE_OK)
		return 0;
	if (n != KONCE_PROBE_SIZE || konce_probewire_encode(&p, out) != KONCE_PROBE_SIZE || memcmp(out, d, n))
		abort();
	if (p.type != KONCE_PROBE_T_REQUEST)
		return 0;
	konce_addr a, b;
	konce_addr_parse(&a, "10.1.2.3:4567");
	konce_addr_parse(&b, "[2001:db8::2]:3478");
	konce_probewire_make_reply(&q, &p, &a, &b, &b, NULL, KONCE_PROBE_TR_UDP, (int)(p.nonce & 0x1ff));
	if (konce_probewire_encode(&q, out) != KONCE_PROBE_SIZE || konce_probewire_parse(&p, out, sizeof(out)) != KONCE_PROBE_OK)
		abort();
	if (p.nonce != q.nonce || p.seq != q.seq || p.command != q.command || !konce_addr_eq(&p.seen_src, &a))
		abort();
	return 0;
}
