/* nctravlife.c - the mapping lifetime composed with the node and traversal cores (nctravlife.h). */
#include <string.h>

#include "node/core/nctravlife.h"
#include "node/core/trav_info.h"

static void op_each_peer(void *ctx, konce_travlife_peer_fn fn, void *arg)
{
	konce_nctravlife *b = ctx;
	konce_ncpeer *const *bk = konce_nodecore_peer_buckets(b->c);
	for (unsigned i = 0; i < KONCE_NC_BUCKETS; i++)
		for (const konce_ncpeer *p = bk[i]; p; p = p->pk_next)
			if (p->conn)
				fn(arg, p->pk, p->conn);
}

static void op_set_keepalive(void *ctx, uint32_t conn, uint64_t k, uint64_t now)
{
	konce_nctravlife *b = ctx;
	konce_ep_set_keepalive(konce_nodecore_ep(b->c), conn, k, now);
}

static void op_set_rdv_keepalive(void *ctx, uint64_t k)
{
	konce_nctravlife *b = ctx;
	konce_trav_set_rdv_keepalive(b->t, k);
}

static void op_set_path_keepalive(void *ctx, uint64_t k, uint64_t now)
{
	konce_nctravlife *b = ctx;
	konce_trav_set_path_keepalive(b->t, k, now);
}

static void op_log(void *ctx, int level, const char *text)
{
	konce_nctravlife *b = ctx;
	if (b->log)
		b->log(b->log_ctx, level, text);
}

bool konce_nctravlife_cfg(konce_nctravlife *b, bool off, const konce_lifetime_cfg *life, konce_travlife_cfg *out)
{
	memset(out, 0, sizeof(*out));
	out->life = *life;
	out->nrdv = konce_trav_rdvs(b->t, &out->rdv_pk, &out->rdv_addr);
	out->client = !off && out->nrdv > 0;
	out->server = konce_trav_has_service(b->t);
	out->ops = (konce_travlife_ops){.each_peer = op_each_peer,
					.set_keepalive = op_set_keepalive,
					.set_rdv_keepalive = op_set_rdv_keepalive,
					.set_path_keepalive = op_set_path_keepalive,
					.log = op_log,
					.ctx = b};
	return out->client || out->server;
}

void konce_nctravlife_apply(const konce_nctravlife *b, konce_travlife *l, uint64_t now)
{
	konce_addr refl;
	bool have = konce_trav_reflexive(b->t, &refl) == 0;
	konce_travlife_apply(l, have ? &refl : NULL, konce_nodecore_npeers(b->c), now);
}
