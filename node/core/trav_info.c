/* trav_info.c - read-only views of the traversal core for its host (trav_info.h). */
#include "node/core/trav_info.h"

#include <errno.h>

#include "node/core/trav_int.h"

unsigned konce_trav_rdvs(const konce_trav *t, const uint8_t (**pk)[KONCE_WIRE_KEY], const konce_addr **addr)
{
	*pk = (const uint8_t(*)[KONCE_WIRE_KEY])t->rdv_pk;
	*addr = t->rdv_addr;
	return t->rc ? t->nrdv : 0;
}

bool konce_trav_has_client(const konce_trav *t) { return t->rc != NULL; }
bool konce_trav_has_service(const konce_trav *t) { return t->srv != NULL; }

int konce_trav_reflexive(const konce_trav *t, konce_addr *a)
{
	if (!t->rc)
		return -ENOENT;
	return konce_rdvclient_reflexive(t->rc, 0, a) ? -ENOENT : 0;
}

void konce_trav_set_rdv_keepalive(konce_trav *t, uint64_t keepalive_us)
{
	if (t->rc)
		konce_rdvclient_set_keepalive(t->rc, keepalive_us);
}
