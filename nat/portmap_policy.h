/* portmap_policy.h - when to ask the router for a port mapping, and what to do with its answers.
 *
 * The sans-I/O half of port mapping.  It decides which protocol to try (NAT-PMP first: one UDP
 * round trip to the default gateway; then UPnP-IGD: SSDP discovery plus SOAP over HTTP), what lease
 * to ask for, when to renew it, how long to back off after failures, and that a held lease is
 * deleted on stop.  The I/O layer (node/io/portmap.c) performs each request on a worker thread and
 * feeds the result back; this file never blocks, reads no clock and keeps no globals.
 *
 * One request is outstanding at a time.  Each carries an id; a result with another id is stale
 * (it answers a request from before a stop or reset) and is ignored.
 *
 *                      start()
 *   IDLE ---------------------------------> DISCOVER(p)  (p = first protocol in cfg order)
 *
 *   DISCOVER(p) --ok--> ADD(p)
 *               --fail--> DISCOVER(next p) | BACKOFF when none is left   [ev UNAVAILABLE]
 *   ADD(p)      --ok--> MAPPED                                            [ev MAPPED]
 *               --conflict--> ADD(p) with a random external port (at most KONCE_PM_CONFLICT_TRIES)
 *               --permanent only--> ADD(p) with lifetime 0 (UPnP error 725)
 *               --fail--> DISCOVER(next p) | BACKOFF                      [ev UNAVAILABLE]
 *   MAPPED      --now >= renew_at--> RENEW(p)
 *   RENEW(p)    --ok--> MAPPED               [ev MAPPED with changed=true if address/port moved]
 *               --fail, lease not expired--> MAPPED, renew_at = now + retry
 *               --fail, lease expired--> DISCOVER(first)                  [ev LOST]
 *   MAPPED      --now >= expires_at (renewals kept failing)--> DISCOVER(first)  [ev LOST]
 *   BACKOFF     --now >= retry_at--> DISCOVER(first)
 *   any         --reset()--> DISCOVER(first) (the network changed; a held lease is first deleted
 *                            by DELETE and then the cycle restarts) [ev LOST if one was held]
 *   any         --stop()--> DELETE(p) if a lease is held or an ADD/RENEW is in flight, else STOPPED
 *   DELETE(p)   --any result--> STOPPED
 *
 * Invariants:
 *   1. At most one request is outstanding (inflight != 0), and only its result is consumed.
 *   2. A lease the router may hold (an ADD or RENEW that was sent, whatever its answer) is deleted
 *      on stop: held is set when an ADD/RENEW is issued and cleared only by DELETE or a LOST lease.
 *   3. renew_at < expires_at whenever state == MAPPED and the lease is not permanent: renewal starts
 *      at half the granted lifetime, and failed renewals retry before the lease runs out.
 *   4. Backoff doubles from cfg.retry_min_us to cfg.retry_max_us and resets after a mapping.
 */
#ifndef KONCE_PORTMAP_POLICY_H
#define KONCE_PORTMAP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/env.h"

enum konce_portmap_policy_proto {
	KONCE_PM_PROTO_NONE = 0,
	KONCE_PM_PROTO_NATPMP = 1,
	KONCE_PM_PROTO_UPNP = 2,
};

enum konce_portmap_policy_op {
	KONCE_PM_OP_NONE = 0,
	KONCE_PM_OP_DISCOVER, /* find the gateway, learn its external address */
	KONCE_PM_OP_ADD,      /* ask for internal_port -> external_port for lifetime_s */
	KONCE_PM_OP_RENEW,    /* the same call as ADD, for the lease already held */
	KONCE_PM_OP_DELETE,   /* give the lease back */
};

/* Why a request failed: nat/pmresult.h maps the protocols' error codes onto these. */
enum konce_portmap_policy_err {
	KONCE_PM_OK = 0,
	KONCE_PM_ERR_NO_GATEWAY,     /* nothing answered within the bounded timeout */
	KONCE_PM_ERR_REFUSED,        /* the gateway answered but will not map (not authorised, disabled) */
	KONCE_PM_ERR_CONFLICT,       /* the external port is taken by someone else */
	KONCE_PM_ERR_PERMANENT_ONLY, /* UPnP 725: only lifetime 0 (permanent) leases are supported */
	KONCE_PM_ERR_IO,             /* socket or parse error, or anything else */
};

enum konce_portmap_policy_state {
	KONCE_PM_IDLE = 0,
	KONCE_PM_DISCOVER,
	KONCE_PM_ADD,
	KONCE_PM_MAPPED,
	KONCE_PM_RENEW,
	KONCE_PM_BACKOFF,
	KONCE_PM_DELETE,
	KONCE_PM_STOPPED,
};

enum {
	KONCE_PM_MAX_PROTOS = 2,
	KONCE_PM_CONFLICT_TRIES = 3,
	KONCE_PM_EVQ = 8,
};

typedef struct konce_portmap_policy_cfg {
	const konce_env *env;     /* NULL = konce_env_default(); also the random external ports */
	uint16_t internal_port;   /* the local UDP port to expose (1..65535) */
	uint16_t external_port;   /* wanted external port; 0 = the same as internal_port */
	uint32_t lifetime_s;      /* lease to ask for; 0 = 7200 (RFC 6886's recommendation) */
	uint8_t protos[KONCE_PM_MAX_PROTOS]; /* order to try; all zero = NAT-PMP then UPnP */
	uint64_t retry_min_us;    /* first backoff after everything failed; 0 = 30 s */
	uint64_t retry_max_us;    /* backoff cap; 0 = 30 min */
	uint64_t permanent_refresh_us; /* how often a lifetime-0 lease is re-added; 0 = 20 min */
} konce_portmap_policy_cfg;

typedef struct konce_portmap_policy_req {
	uint32_t id;
	enum konce_portmap_policy_op op;
	enum konce_portmap_policy_proto proto;
	uint16_t internal_port;
	uint16_t external_port; /* ADD/RENEW: wanted; DELETE: the one held */
	uint32_t lifetime_s;    /* ADD/RENEW only; 0 = permanent */
} konce_portmap_policy_req;

typedef struct konce_portmap_policy_result {
	uint32_t id;                /* the request's id */
	enum konce_portmap_policy_err err;
	int code;                   /* the protocol's own error code, for messages only */
	konce_addr external;        /* DISCOVER: address (port 0); ADD/RENEW: address and granted port */
	uint32_t lifetime_s;        /* ADD/RENEW: granted lease; 0 = permanent */
} konce_portmap_policy_result;

enum konce_portmap_policy_ev_type {
	KONCE_PM_EV_MAPPED = 1,  /* a lease is held (again, or at a new address when changed) */
	KONCE_PM_EV_LOST,        /* the lease held is gone: stop advertising it */
	KONCE_PM_EV_UNAVAILABLE, /* no protocol worked; the policy retries after backoff */
};

typedef struct konce_portmap_policy_event {
	enum konce_portmap_policy_ev_type type;
	enum konce_portmap_policy_proto proto;
	konce_addr external;       /* MAPPED */
	uint32_t lifetime_s;       /* MAPPED: granted; 0 = permanent */
	bool changed;              /* MAPPED: the external address or port differs from the last one */
	enum konce_portmap_policy_err reason;  /* UNAVAILABLE: the last protocol's failure; LOST: the renewal's */
} konce_portmap_policy_event;

typedef struct konce_portmap_policy konce_portmap_policy;

/* 0 and *out, or -EINVAL (port 0, unknown protocol) or -ENOMEM.  Starts in IDLE. */
int konce_portmap_policy_new(konce_portmap_policy **out, const konce_portmap_policy_cfg *cfg);
void konce_portmap_policy_free(konce_portmap_policy *p);

void konce_portmap_policy_start(konce_portmap_policy *p, uint64_t now);
/* Delete a held lease, then STOPPED.  Idempotent. */
void konce_portmap_policy_stop(konce_portmap_policy *p, uint64_t now);
/* The network changed (new local address, gateway reboot): delete any lease and start over. */
void konce_portmap_policy_reset(konce_portmap_policy *p, uint64_t now);

/* The request to perform now, if any (true and *req).  Marks it outstanding. */
bool konce_portmap_policy_next(konce_portmap_policy *p, uint64_t now, konce_portmap_policy_req *req);
/* The result of the outstanding request.  -ESTALE if r->id is not outstanding (ignored). */
int konce_portmap_policy_result_in(konce_portmap_policy *p, uint64_t now, const konce_portmap_policy_result *r);
/* When to call konce_portmap_policy_next again if no result arrives: UINT64_MAX = not until a result. */
uint64_t konce_portmap_policy_wake(const konce_portmap_policy *p);
/* Pops one event; false when there are none. */
bool konce_portmap_policy_event_pop(konce_portmap_policy *p, konce_portmap_policy_event *ev);

enum konce_portmap_policy_state konce_portmap_policy_state_of(const konce_portmap_policy *p);
/* true and the mapping while one is held (MAPPED or RENEW). */
bool konce_portmap_policy_mapping(const konce_portmap_policy *p, konce_addr *external, enum konce_portmap_policy_proto *proto);

/* What a host reports of its port mapping (konce netcheck), from the policy's events:
 * OFF (never started) -> TRYING (started, no event yet) -> MAPPED / UNAVAILABLE / LOST, each
 * event moving it to its own state.  proto and external are the last MAPPED's, reason the last
 * UNAVAILABLE's or LOST's; the report shows them only in those states. */
enum konce_portmap_status_state {
	KONCE_PMST_OFF = 0,
	KONCE_PMST_TRYING,
	KONCE_PMST_MAPPED,
	KONCE_PMST_UNAVAILABLE,
	KONCE_PMST_LOST,
};

typedef struct konce_portmap_status {
	enum konce_portmap_status_state state;
	enum konce_portmap_policy_proto proto; /* MAPPED */
	konce_addr external;                   /* MAPPED */
	enum konce_portmap_policy_err reason;  /* UNAVAILABLE, LOST */
} konce_portmap_status;

void konce_portmap_status_note(konce_portmap_status *st, const konce_portmap_policy_event *ev);
/* "off", "trying", "mapped", "unavailable", "lost". */
const char *konce_portmap_status_name(enum konce_portmap_status_state s);

const char *konce_portmap_policy_proto_name(enum konce_portmap_policy_proto proto);
const char *konce_portmap_policy_op_name(enum konce_portmap_policy_op op);
const char *konce_portmap_policy_err_name(enum konce_portmap_policy_err err);

#endif
