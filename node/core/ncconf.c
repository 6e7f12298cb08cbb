/* ncconf.c - the node's configuration, read and checked (ncconf.h). */
#include "node/core/ncconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "consensus/cwire.h"
#include "node/base/secmem.h"
#include "node/transport/cc.h"
#include "node/transport/keyslab.h"
#include "node/transport/keytext.h"
#include "node/transport/load.h"
#include "node/transport/pow.h"

/* The paths and the address the node keeps, and the config that points at them. */
static int kept(konce_ncconf *out, const konce_node_config *cfg)
{
	size_t dbl = strlen(cfg->data_dir) + sizeof "/peers.db";
	out->data_dir = strdup(cfg->data_dir);
	if ((out->db_path = malloc(dbl)))
		snprintf(out->db_path, dbl, "%s/peers.db", cfg->data_dir);
	out->listen = strdup(cfg->listen ? cfg->listen : KONCE_NCCONF_LISTEN);
	out->listen_default = !cfg->listen;
	out->control_path = cfg->control_path ? strdup(cfg->control_path) : NULL;
	if (!out->data_dir || !out->db_path || !out->listen || (cfg->control_path && !out->control_path))
		return -ENOMEM;
	out->kept = *cfg;
	out->kept.data_dir = out->data_dir;
	out->kept.listen = out->listen;
	out->kept.control_path = out->control_path;
	out->kept.identity_master = out->kept.group_key = NULL;
	out->kept.traversal.rendezvous_peers = out->kept.traversal.lifetime = NULL;
	return 0;
}

int konce_ncconf_parse(konce_ncconf *out, const konce_node_config *cfg, char *err, size_t errlen)
{
	int e;
	*out = (konce_ncconf){0};
	if (!cfg->data_dir || !*cfg->data_dir) {
		snprintf(err, errlen, "konce_node_new: a data directory is required");
		return -EINVAL;
	}
	if (cfg->congestion < KONCE_CONGESTION_DEFAULT || cfg->congestion > KONCE_CONGESTION_CUBIC) {
		snprintf(err, errlen, "konce_node_new: unknown congestion controller %d", cfg->congestion);
		return -EINVAL;
	}
	if (cfg->identity < KONCE_IDENTITY_DEFAULT || cfg->identity > KONCE_IDENTITY_MASTER) {
		snprintf(err, errlen, "konce_node_new: unknown identity mode %d", cfg->identity);
		return -EINVAL;
	}
	if (cfg->group_max_batch > KONCE_CW_MAX_BATCH) {
		snprintf(err, errlen, "konce_node_new: group_max_batch %u: a PROPOSE carries 1 to %d decisions (0 = %d)",
			 cfg->group_max_batch, KONCE_CW_MAX_BATCH, KONCE_CW_MAX_BATCH);
		return -EINVAL;
	}
	if (cfg->identity_master) {
		if (!(out->masters = calloc(KONCE_NC_PEERCONF_MAX, KONCE_KEY_BYTES)))
			return snprintf(err, errlen, "out of memory"), -ENOMEM;
		out->nmasters = konce_key_list_(cfg->identity_master, out->masters, KONCE_NC_PEERCONF_MAX);
		if (out->nmasters < 0) {
			e = out->nmasters;
			snprintf(err, errlen, "identity_master: %s", e == -E2BIG ? "more than 256 keys"
				 : "not a list of public keys separated by commas (KEY,KEY)");
			konce_ncconf_free(out);
			return e;
		}
	}
	if (cfg->group_key) {
		if (!(out->group_key = konce_secmem_alloc(KONCE_KEY_BYTES, &e))) {
			snprintf(err, errlen, "cannot lock memory for the group key: %s", strerror(-e));
			konce_ncconf_free(out);
			return e;
		}
		if (konce_key_decode_(out->group_key, cfg->group_key, strlen(cfg->group_key))) {
			snprintf(err, errlen, "group_key: not a key's text (43 characters of base64url)");
			konce_ncconf_free(out);
			return -EINVAL;
		}
	}
	if (konce_addr_parse(&out->listen_addr, cfg->listen ? cfg->listen : KONCE_NCCONF_LISTEN) < 0) {
		snprintf(err, errlen, "bad listen address '%s': use ADDR:PORT, e.g. 0.0.0.0:7807 or [::]:7807", cfg->listen);
		konce_ncconf_free(out);
		return -EINVAL;
	}
	out->traversal = cfg->traversal.rendezvous ||
			 (cfg->traversal.rendezvous_peers && *cfg->traversal.rendezvous_peers);
	if ((e = kept(out, cfg))) {
		snprintf(err, errlen, "out of memory");
		konce_ncconf_free(out);
	}
	return e;
}

bool konce_ncconf_listen_fallback(const konce_ncconf *c, int e, konce_addr *next)
{
	static const uint8_t any4[4];
	if (e != -EAFNOSUPPORT || !c->listen_default || konce_addr_is_v4(&c->listen_addr))
		return false;
	konce_addr_from_v4(next, any4, c->listen_addr.port);
	return true;
}

void konce_ncconf_free_key(konce_ncconf *c)
{
	konce_secmem_free(c->group_key, KONCE_KEY_BYTES);
	c->group_key = NULL;
}

void konce_ncconf_free(konce_ncconf *c)
{
	konce_ncconf_free_key(c);
	free(c->masters);
	c->masters = NULL;
	c->nmasters = 0;
	free(c->data_dir);
	free(c->db_path);
	free(c->listen);
	free(c->control_path);
	c->data_dir = c->db_path = c->listen = c->control_path = NULL;
}

int konce_ncconf_apply(const konce_ncconf *c, konce_nodecore *core, char *err, size_t errlen)
{
	int e = 0;
	for (int i = 0; i < c->nmasters && !e; i++)
		if ((e = konce_nodecore_peer_identity(core, c->masters[i], KONCE_NC_ID_MASTER)))
			snprintf(err, errlen, "identity_master: %s", strerror(-e));
	return e;
}

void konce_ncconf_core(const konce_ncconf *c, const konce_node_config *cfg, const konce_identity *id, bool notes,
		       konce_nodecore_config *out)
{
	*out = (konce_nodecore_config){
		.ep = {
			.identity = id,
			.max_sessions = cfg->max_sessions,
			.max_per_source = cfg->max_per_source,
			.capacity = cfg->capacity, /* 0: the host measures it */
			/* the most we pay; the measured rate sets the real cap (19-21 bits on the bench core) */
			.max_pow_bits = 24,
			/* Dials made on the endpoint itself, by the traversal glue (rendezvous
			 * registration, introduced peers), show the master key: the rendezvous routes to
			 * it, and the introduction named it.  The core's own dials follow the rule of
			 * per_server below (docs/KEYS.md, "Which key a node shows"). */
			.explicit_identity = true,
			.group_key = c->group_key,
			.cc = cfg->congestion == KONCE_CONGESTION_NEWRENO ? &konce_cc_newreno
			      : cfg->congestion == KONCE_CONGESTION_CUBIC ? &konce_cc_cubic
			      : cfg->congestion == KONCE_CONGESTION_BBR   ? &konce_cc_bbr
									  : NULL,
			.max_datagram = KONCE_PMTU_MAX,
		},
		.notes = notes,
		.per_server = cfg->identity != KONCE_IDENTITY_MASTER,
		.log_level = cfg->log_level,
		.group_max_batch = cfg->group_max_batch,
	};
}

uint64_t konce_ncconf_capacity(uint64_t dh_per_s)
{
	uint64_t cap = dh_per_s / 3 * KONCE_COST_DH / 2;
	return cap ? cap : 1;
}

/* ---- what the host measures ------------------------------------------------------------------- */

/* Operations a second of batch (which runs some and says how many) over KONCE_NCCONF_MEASURE_US
 * of the host's clock.  At least 1. */
static uint64_t rate(unsigned (*batch)(void *st), void *st, uint64_t (*now_us)(void *ctx), void *ctx)
{
	uint64_t t0 = now_us(ctx), ops = 0, dt;
	do {
		ops += batch(st);
		dt = now_us(ctx) - t0;
	} while (dt < KONCE_NCCONF_MEASURE_US);
	uint64_t r = ops * 1000000u / dt;
	return r ? r : 1;
}

/* 16 X25519, each on the last one's output, so that none can be skipped. */
static unsigned dh_batch(void *st)
{
	uint8_t *sk = st, out[crypto_scalarmult_BYTES], pk[crypto_scalarmult_BYTES] = {9};
	for (int i = 0; i < 16; i++)
		if (crypto_scalarmult(out, sk, pk) == 0)
			sk[0] ^= out[0];
	return 16;
}

/* 64 proof-of-work checks of a full datagram, each with another nonce. */
static unsigned pow_batch(void *st)
{
	uint8_t *pkt = st;
	volatile unsigned sink = 0; /* the checks must not be optimised away */
	for (int i = 0; i < 64; i++) {
		pkt[KONCE_INIT_POW_NONCE]++;
		sink += konce_pow_check(pkt, KONCE_WIRE_MAX_DATAGRAM, 32);
	}
	return 64;
}

void konce_ncconf_measure(konce_nodecore_config *out, uint64_t (*now_us)(void *ctx), void *ctx, char *line,
			  size_t linelen)
{
	uint8_t sk[crypto_scalarmult_SCALARBYTES] = {1}, pkt[KONCE_WIRE_MAX_DATAGRAM] = {0};
	uint64_t dh = out->ep.capacity ? 0 : rate(dh_batch, sk, now_us, ctx);
	if (dh)
		out->ep.capacity = konce_ncconf_capacity(dh);
	out->ep.pow_rate = rate(pow_batch, pkt, now_us, ctx);
	char from[48] = "configured";
	if (dh)
		snprintf(from, sizeof from, "measured %llu X25519/s", (unsigned long long)dh);
	snprintf(line, linelen, "%s: handshake capacity %llu units/s (%llu handshakes/s); measured %llu "
		 "proof-of-work hashes/s", from, (unsigned long long)out->ep.capacity,
		 (unsigned long long)(out->ep.capacity / KONCE_COST_DH), (unsigned long long)out->ep.pow_rate);
}

void konce_ncconf_core_err(const konce_nodecore_config *cc, int e, uint64_t memlock, char *err, size_t errlen)
{
	unsigned sessions = cc->ep.max_sessions ? cc->ep.max_sessions : 1024; /* endpoint.h's default */
	if ((e == -ENOMEM || e == -EPERM || e == -EAGAIN) && memlock != UINT64_MAX)
		snprintf(err, errlen,
			 "cannot create the transport endpoint: %s (session keys live in locked memory, %zu bytes for "
			 "%u sessions, beside %llu locked already; RLIMIT_MEMLOCK is %llu bytes: raise it, e.g. "
			 "LimitMEMLOCK= in the systemd unit, or lower max_sessions)",
			 strerror(-e), (size_t)sessions * sizeof(konce_keyslot), sessions,
			 (unsigned long long)konce_secmem_locked(), (unsigned long long)memlock);
	else
		snprintf(err, errlen, "cannot create the transport endpoint: %s", strerror(-e));
}
