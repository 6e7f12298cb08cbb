/* fuzz_rdvwire.c - the rendezvous/traversal codec: whatever parses must re-encode to the same
 * bytes, and whatever encodes must parse back to the same message.  Aborts on any violation. */
#include <stdlib.h>
#include <string.h>

#include "nat/rdvwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void same(const konce_rdv_msg *a, const konce_rdv_msg *b)
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

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_rdv_msg m, m2;
	static uint8_t buf[KONCE_RDV_MAX_MSG + 64];
	if (konce_rdv_decode(&m, d, n) != 0)
		return 0;
	if (n > KONCE_RDV_MAX_MSG || !konce_rdv_is(d, n))
		abort(); /* accepted something no encoder produces */
	size_t len = konce_rdv_encode(&m, buf, sizeof(buf));
	if (len != n || memcmp(buf, d, n) != 0)
		abort();
	/* one byte short of room must fail cleanly */
	if (konce_rdv_encode(&m, buf, n - 1) != 0)
		abort();
	if (konce_rdv_decode(&m2, buf, len) != 0)
		abort();
	same(&m, &m2);
	return 0;
}
