/* ncconf.h - the node's configuration (include/konce/konce.h konce_node_config) read and checked
 * before anything is opened, sans-I/O: a data directory given, the enums in range, the
 * identity_master list and the group key decoded, whether traversal runs, what the node keeps of the
 * configuration (its paths and listen address, defaults applied), and the node core's configuration
 * that follows from it.
 * The host adds what it measures or owns (the X25519 and proof-of-work rates, the route's MTU,
 * logging, the input queue's size) and the hooks; konce_ncconf_capacity() turns its X25519 rate
 * into the handshake capacity. */
#ifndef KONCE_NCCONF_H
#define KONCE_NCCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"
#include "node/core/nodecore.h"

#define KONCE_NCCONF_LISTEN "[::]:7807" /* konce_node_config.listen's default: dual stack */

typedef struct konce_ncconf {
	uint8_t (*masters)[KONCE_KEY_BYTES]; /* identity_master's keys (KONCE_NC_ID_MASTER), or NULL */
	int nmasters;
	uint8_t *group_key; /* locked memory (secmem.h): group_key decoded, or NULL */
	bool traversal;     /* the node serves as a rendezvous or registers with one (traversal.h) */
	/* What the node keeps, allocated (konce_ncconf_free() frees what the caller did not take):
	 * data_dir; db_path, data_dir/peers.db (the presence store and the group records); listen,
	 * cfg's or KONCE_NCCONF_LISTEN (then listen_default: the host may fall back to IPv4);
	 * control_path (NULL: none). */
	char *data_dir, *db_path, *listen, *control_path;
	bool listen_default;
	konce_addr listen_addr; /* listen, parsed */
	/* cfg as the node keeps it: its paths pointing at the ones above, and the strings only
	 * konce_node_new() reads (identity_master, group_key, the traversal's) cleared. */
	konce_node_config kept;
} konce_ncconf;

/* 0, or -EINVAL (err says which setting and why: no data_dir, ...), -ENOMEM, or secmem's errno. */
int konce_ncconf_parse(konce_ncconf *out, const konce_node_config *cfg, char *err, size_t errlen);
/* After binding c->listen_addr failed with e: whether to bind *next instead.  Only the default
 * dual-stack address falls back, on a kernel without IPv6 (-EAFNOSUPPORT): to IPv4's any address
 * on the same port. */
bool konce_ncconf_listen_fallback(const konce_ncconf *c, int e, konce_addr *next);
/* Wipes and frees what parse allocated (the group key as soon as the endpoint copied it). */
void konce_ncconf_free_key(konce_ncconf *c);
void konce_ncconf_free(konce_ncconf *c);
/* The node core's configuration for cfg, its identity and parsed settings: everything but what the
 * host measures or owns (capacity, pow_rate, path_mtu, inq_slots, wake_budget, log, hooks). */
void konce_ncconf_core(const konce_ncconf *c, const konce_node_config *cfg, const konce_identity *id, bool notes,
		       konce_nodecore_config *out);

/* What the settings ask of the running core c: identity_master's keys are shown our master key
 * (konce_nodecore_peer_identity KONCE_NC_ID_MASTER).  0, or the first failure's errno with err
 * naming the setting. */
int konce_ncconf_apply(const konce_ncconf *c, konce_nodecore *core, char *err, size_t errlen);

/* The endpoint's handshake capacity (konce_ep_config.capacity, load units per second) on a host
 * that computes dh_per_s X25519 a second: a completed handshake costs the server 3 X25519 and is
 * charged KONCE_COST_DH units, and handshake work is granted half of one core.  At least 1. */
uint64_t konce_ncconf_capacity(uint64_t dh_per_s);

/* How long each of konce_ncconf_measure()'s two rates is counted, on the host's clock. */
enum { KONCE_NCCONF_MEASURE_US = 5000 };

/* What the host measures for out (konce_ncconf_core's), on its clock now_us(ctx) (microseconds),
 * once at start: unless the configuration set a capacity, this machine's X25519 rate, turned into
 * out->ep.capacity by konce_ncconf_capacity(); and its proof-of-work rate (BLAKE2b of a full
 * datagram a second, konce_pow_check) as out->ep.pow_rate.  Each is counted over
 * KONCE_NCCONF_MEASURE_US.  line (linelen > 0) gets what was measured, for the log. */
void konce_ncconf_measure(konce_nodecore_config *out, uint64_t (*now_us)(void *ctx), void *ctx, char *line,
			  size_t linelen);

/* Why konce_nodecore_new(cc) failed with e, into err.  A failure to lock memory (-ENOMEM, -EPERM,
 * -EAGAIN) under a finite RLIMIT_MEMLOCK (memlock: its soft limit in bytes, UINT64_MAX when it is
 * unlimited or unknown) names what the session keys need, what is locked already and how to raise
 * the limit. */
void konce_ncconf_core_err(const konce_nodecore_config *cc, int e, uint64_t memlock, char *err, size_t errlen);

#endif
