/* fuzz_data.c - session packets: arbitrary bytes opened by a fixed session, and arbitrary
 * plaintexts sealed and opened.  Invariants: nothing forged authenticates; a sealed packet opens
 * to the same plaintext exactly once; one changed byte makes it fail; frame parsing of any
 * plaintext terminates inside its bounds. */
#include <stdlib.h>
#include <string.h>

#include "node/transport/frame.h"
#include "node/transport/keyslab.h"
#include "node/transport/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static konce_keyslab *slab;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!slab && konce_keyslab_new(&slab, 2))
		abort();
	uint8_t k1[32], k2[32], ca[8] = {1, 2, 3, 4, 5, 6, 7, 8}, cb[8] = {8, 7, 6, 5, 4, 3, 2, 1};
	memset(k1, 0x11, 32);
	memset(k2, 0x22, 32);
	konce_session a, b;
	konce_session_init(&a, konce_keyslab_slot(slab, 0), k1, k2, cb, 0);
	konce_session_init(&b, konce_keyslab_slot(slab, 1), k2, k1, ca, 0);
	/* DATA packets up to the largest PLPMTU (pmtud.h) */
	static uint8_t plain[KONCE_PMTU_MAX], pkt[KONCE_PMTU_MAX], t[KONCE_PMTU_MAX];
	size_t plen;
	uint64_t pn;
	/* 1: the raw input as a packet */
	if (n <= KONCE_PMTU_MAX && konce_session_open(&b, plain, &plen, &pn, d, n, 0) == KONCE_SESS_OK)
		abort();
	/* 2: the input as a plaintext (after a pn skip byte) */
	if (n < 1)
		return 0;
	a.tx_pn += d[0]; /* exercise longer windows */
	size_t room = KONCE_PMTU_MAX - konce_session_overhead(&a);
	size_t m = n - 1 > room ? room : n - 1;
	size_t len = konce_session_seal(&a, pkt, d + 1, m, 0);
	if (len == 0)
		abort();
	konce_frame_validate(d + 1, m, NULL);
	memcpy(t, pkt, len);
	t[(d[0] * 31u) % len] ^= (uint8_t)(1u << (d[0] % 8));
	if (konce_session_open(&b, plain, &plen, &pn, t, len, 0) == KONCE_SESS_OK)
		abort();
	if (konce_session_open(&b, plain, &plen, &pn, pkt, len, 0) != KONCE_SESS_OK || plen != m ||
	    memcmp(plain, d + 1, m) || konce_session_open(&b, plain, &plen, &pn, pkt, len, 0) != KONCE_SESS_REPLAY)
		abort();
	return 0;
}
