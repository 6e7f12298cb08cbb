/* fuzz_rdvwire.c - the rendezvous/traversal codec: whatever parses must re-encode to the same
 * bytes, and whatever encodes must parse back to the same message.  Also feeds every input to the
 * filtering test core (nat/filtertest.h) as a bare datagram and as a session message, from both
 * rendezvous addresses: it must never emit a datagram that does not parse back as a FILTER
 * message, and its verdict may only be one of the defined values.  Aborts on any violation. */
#include <stdlib.h>
#include <string.h>

#include "nat/filtertest.h"
#include "nat/rdvwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void same(const konce_rdvwire_msg *a, const konce_rdvwire_msg *b)
{
	if (a->type != b->type || a->flags != b->flags || memcmp(a->key, b->key, sizeof(a->key)) ||
	    memcmp(a->target, b->target, sizeof(a->target)) || a->id != b->id || a->stamp != b->stamp ||
	    a->value != b->value || a->seq != b->seq || !konce_addr_eq(&a->addr, &b->addr) ||
	    memcmp(&a->nat, &b->nat, sizeof(a->nat)) || a->ncand != b->ncand || a->len != b->len ||
	    (a->len && memcmp(a->payload, b->payload, a->len)))
		abort();
	for (unsigned i = 0; i < a->ncand; i++)
		if (a->cand[i].type != b->cand[i].type || !konce_addr_eq(&a->cand[i].addr, &b->cand[i].addr))
			abort();
}

static void filtertest(const uint8_t *d, size_t n)
{
	static konce_filtertest *f;
	static uint64_t now;
	static konce_addr rdv[2];
	if (!f) {
		konce_addr_parse(&rdv[0], "203.0.113.10:7807");
		konce_addr_parse(&rdv[1], "203.0.113.11:7807");
		if (konce_filtertest_new(&f, NULL, rdv, 2, 0))
			abort();
	}
	now += 100000;
	konce_addr alt = rdv[0];
	alt.port = (uint16_t)(n ? d[0] : 1);
	konce_filtertest_input_bare(f, d, n, &rdv[n & 1], now);
	konce_filtertest_input_bare(f, d, n, &alt, now);
	konce_filtertest_input_session(f, (unsigned)(n % 3), d, n, now);
	konce_filtertest_timer(f, now);
	konce_filtertest_out o;
	konce_rdvwire_msg m;
	while (konce_filtertest_poll(f, &o))
		if (konce_rdvwire_decode(&m, o.buf, o.len) || m.type != KONCE_RDV_FILTER)
			abort();
	if (konce_filtertest_result(f) > KONCE_NAT_FILT_PORT_INDEPENDENT)
		abort();
	if (konce_filtertest_state(f) == KONCE_FILTERTEST_DONE) {
		konce_filtertest_free(f);
		f = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_rdvwire_msg m, m2;
	filtertest(d, n);
	static uint8_t buf[KONCE_RDV_MAX_MSG + 64];
	if (konce_rdvwire_decode(&m, d, n) != 0)
		return 0;
	if (n > KONCE_RDV_MAX_MSG || !konce_rdvwire_is(d, n))
		abort(); /* accepted something no encoder produces */
	size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
	if (len != n || memcmp(buf, d, n) != 0)
		abort();
	/* one byte short of room must fail cleanly */
	if (konce_rdvwire_encode(&m, buf, n - 1) != 0)
		abort();
	if (konce_rdvwire_decode(&m2, buf, len) != 0)
		abort();
	same(&m, &m2);
	return 0;
}
