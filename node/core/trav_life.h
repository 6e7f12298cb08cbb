/* trav_life.h - the mapping lifetime in the node, sans-I/O: it composes the lifetime search
 * (nat/lifetime.h, the client) and the rendezvous's delayed probes (nat/lifesrv.h) with the node's
 * keepalives.  docs/TRAVERSAL.md, "Mapping lifetime".
 *
 * Client: a node that registers runs the experiments from a socket of its own, the probe socket
 * (KONCE_TRAVLIFE_SOCK_PROBE: the host binds it to the node socket's IP, any port, and reports it
 * with konce_travlife_sock_opened()), to the primary rendezvous's address, in bare datagrams.  The
 * node socket could not serve: its mapping toward the rendezvous is refreshed by the registration
 * session all the time, and on an endpoint-independent NAT by every other flow too.  The learned
 * keepalive k then drives what holds the node socket's mapping open (konce_travlife_apply, after
 * every traversal pump):
 *     - the registration refresh (ops.set_rdv_keepalive: k), and
 *     - the PING interval of the sessions to the rendezvous (ops.set_keepalive): 5/4 k, so that it
 *       only fires when the refresh did not, and at most a third of the idle timeout so that the
 *       rendezvous never closes them.
 * Other peers' sessions (25 s) and the direct paths' keepalive probes (nat/punch.c, 10 s, also the
 * path's liveness check) only ever get shorter, when k is below their default; they are set again
 * when k or the number of peers changes.  When the primary rendezvous reports a new reflexive
 * address for the node socket (the NAT rebound: the mapping was lost), the search starts again
 * from the conservative keepalive (konce_lifetime_rebound).
 *
 * Rendezvous: LIFE_REQ datagrams from the node socket (sock 0) go to the lifesrv core; its ACKs and
 * delayed probes leave from the node socket.
 *
 * Call set (one thread, times in microseconds): input / poll / next_timer / timer, and apply.
 * Datagrams on the probe socket from anyone but the primary rendezvous are counted and dropped.
 * Nothing is allocated after konce_travlife_new().
 */
#ifndef KONCE_TRAV_LIFE_H
#define KONCE_TRAV_LIFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/lifesrv.h"
#include "nat/lifetime.h"
#include "node/base/addr.h"
#include "node/base/env.h"
#include "node/core/trav.h"

typedef struct konce_travlife konce_travlife;

/* The probe socket's number, after the traversal core's (trav.h). */
enum { KONCE_TRAVLIFE_SOCK_PROBE = KONCE_TRAV_SOCKS };

typedef void (*konce_travlife_peer_fn)(void *arg, const uint8_t pk[KONCE_WIRE_KEY], uint32_t conn);

typedef struct konce_travlife_ops {
	/* Calls fn(arg, pk, conn) for every peer of the node's with a session or attempt (conn != 0). */
	void (*each_peer)(void *ctx, konce_travlife_peer_fn fn, void *arg);
	/* A session's PING interval (konce_ep_set_keepalive; 0 = the endpoint's default). */
	void (*set_keepalive)(void *ctx, uint32_t conn, uint64_t keepalive_us, uint64_t now);
	/* The registration refresh (konce_rdvclient_set_keepalive) and the direct paths' keepalive
	 * (konce_trav_set_path_keepalive; 0 = the punch core's default). */
	void (*set_rdv_keepalive)(void *ctx, uint64_t keepalive_us);
	void (*set_path_keepalive)(void *ctx, uint64_t keepalive_us, uint64_t now);
	void (*log)(void *ctx, int level, const char *text);
	void *ctx;
} konce_travlife_ops;

typedef struct konce_travlife_cfg {
	const konce_env *env;         /* NULL = konce_env_default(); also the two cores' */
	bool client;                  /* run the search (needs nrdv >= 1) */
	konce_lifetime_cfg life;      /* its bounds (konce_travlife_parse) */
	bool server;                  /* answer LIFE_REQ (a rendezvous) */
	const uint8_t (*rdv_pk)[KONCE_WIRE_KEY]; /* the rendezvous registered with; [0] = primary */
	const konce_addr *rdv_addr;
	unsigned nrdv;
	konce_travlife_ops ops;       /* all required when client */
} konce_travlife_cfg;

/* The nat_lifetime setting: "" / NULL / "auto": the defaults; "off"; "MIN:MAX" or
 * "MIN:START:MAX" in whole seconds.  0, or -EINVAL with err saying why. */
int konce_travlife_parse(const char *spec, bool *off, konce_lifetime_cfg *c, char *err, size_t errlen);

/* 0, -EINVAL, -ENOMEM. */
int konce_travlife_new(konce_travlife **out, const konce_travlife_cfg *cfg, uint64_t now);
void konce_travlife_free(konce_travlife *l);

/* Whether the host must open the probe socket (a client). */
bool konce_travlife_wants_probe(const konce_travlife *l);
/* The host opened the probe socket at local. */
void konce_travlife_sock_opened(konce_travlife *l, const konce_addr *local);

/* A datagram from socket sock: 0 (the node's: a LIFE_REQ, for the service) or
 * KONCE_TRAVLIFE_SOCK_PROBE (the client's answers). */
void konce_travlife_input(konce_travlife *l, unsigned sock, const uint8_t *pkt, size_t len,
			  const konce_addr *from, uint64_t now);
/* The next datagram to send: its socket (0 or KONCE_TRAVLIFE_SOCK_PROBE), bytes and destination. */
bool konce_travlife_poll(konce_travlife *l, unsigned *sock, uint8_t buf[KONCE_LIFE_REQ_SIZE], size_t *len,
			 konce_addr *to);
uint64_t konce_travlife_next_timer(const konce_travlife *l);
void konce_travlife_timer(konce_travlife *l, uint64_t now);
/* Applies the keepalive through the ops.  refl: the primary rendezvous's latest report of our
 * reflexive address (NULL: none yet); npeers: the node's peer count. */
void konce_travlife_apply(konce_travlife *l, const konce_addr *refl, unsigned npeers, uint64_t now);

/* The probe socket's mapping as the rendezvous reported it in LIFE_ACK (konce_lifetime_mapping):
 * 0 and *x, or -ENOENT (none yet, or no client). */
int konce_travlife_mapping(const konce_travlife *l, konce_addr *x);
/* Read-only: the client's status (false: no client) and probe socket address; the service's
 * counters and pending probes (NULL: no service). */
bool konce_travlife_status(const konce_travlife *l, konce_lifetime_status *st, konce_addr *probe_local);
const struct konce_lifesrv_counters *konce_travlife_srv(const konce_travlife *l, size_t *pending);
uint64_t konce_travlife_rx_other(const konce_travlife *l);

#endif
