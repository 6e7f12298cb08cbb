/* fuzz_tokenhint.c - libFuzzer target for the invitation token's address hint
 * (konce_ctoken_hint_addrs in consensus/ctoken.c).
 *
 * The first byte gives the token's key count (1..KONCE_CW_MAX_MEMBERS), the rest (at most
 * KONCE_CW_MAX_RENDEZVOUS bytes) the hint, with no NUL after it.  Invariants: nothing after
 * rdv_len is read (the result is the same whatever follows: "1.2.3.4:5 " or NULs); an address
 * only for a key the token has; the count matches; and the canonical hint rebuilt from what was
 * parsed ("ADDR:PORT" or "-" per key, as konce_node_group_invite writes it) parses back to the
 * same addresses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/ctoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static bool same(const konce_addr *a, const konce_addr *b)
{
	char x[KONCE_ADDR_STRLEN], y[KONCE_ADDR_STRLEN];
	return !strcmp(konce_addr_str(a, x), konce_addr_str(b, y));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 1)
		return 0;
	static konce_ctoken t;
	memset(&t, 0, sizeof t);
	t.n = (uint8_t)(1 + d[0] % KONCE_CW_MAX_MEMBERS);
	size_t len = n - 1 > KONCE_CW_MAX_RENDEZVOUS ? KONCE_CW_MAX_RENDEZVOUS : n - 1;
	memcpy(t.rdv, d + 1, len);
	t.rdv_len = (uint8_t)len;
	static const char fill[] = "1.2.3.4:5 ";
	for (size_t i = len; i < sizeof t.rdv; i++)
		t.rdv[i] = fill[(i - len) % (sizeof fill - 1)];

	konce_addr a[KONCE_CW_MAX_MEMBERS], b[KONCE_CW_MAX_MEMBERS];
	bool have[KONCE_CW_MAX_MEMBERS], have2[KONCE_CW_MAX_MEMBERS];
	int count = konce_ctoken_hint_addrs(&t, a, have);
	konce_ctoken z = t;
	memset(z.rdv + len, 0, sizeof z.rdv - len);
	if (konce_ctoken_hint_addrs(&z, b, have2) != count)
		abort(); /* it read past rdv_len */
	for (unsigned i = 0; i < KONCE_CW_MAX_MEMBERS; i++)
		if (have[i] != have2[i] || (have[i] && !same(&a[i], &b[i])))
			abort();
	int seen = 0;
	for (unsigned i = 0; i < KONCE_CW_MAX_MEMBERS; i++) {
		if (have[i] && i >= t.n)
			abort(); /* an address for a key the token does not have */
		seen += have[i];
	}
	if (count != seen || count < 0)
		abort();

	/* Rebuild the canonical hint and parse it again. */
	konce_ctoken u = t;
	char buf[KONCE_CW_MAX_MEMBERS * (KONCE_ADDR_STRLEN + 1) + 1], as[KONCE_ADDR_STRLEN];
	size_t l = 0;
	for (unsigned i = 0; i < t.n; i++)
		l += (size_t)snprintf(buf + l, sizeof buf - l, "%s%s", i ? " " : "", have[i] ? konce_addr_str(&a[i], as) : "-");
	if (l > KONCE_CW_MAX_RENDEZVOUS)
		return 0; /* does not fit a token: the builder cuts it */
	memcpy(u.rdv, buf, l + 1);
	u.rdv_len = (uint8_t)l;
	if (konce_ctoken_hint_addrs(&u, b, have2) != count)
		abort();
	for (unsigned i = 0; i < t.n; i++)
		if (have[i] != have2[i] || (have[i] && !same(&a[i], &b[i])))
			abort();
	return 0;
}
