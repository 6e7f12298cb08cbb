/* ncgroup.h - consensus groups (consensus/cgroup.h) hosted by the node core.
 *
 * The node core owns up to KONCE_NC_GROUPS_MAX konce_group instances.  Composition:
 *   - a group's outgoing messages travel as node messages of class KONCE_CLASS_GROUP (plain,
 *     keep_session) to the member's key: konce_nodecore_send() opens a session on demand from the
 *     known-keys cache or the resolve hook, so a member's key is all a group needs;
 *   - a received KONCE_CLASS_GROUP message is routed by the group id in its header (cwire.h
 *     KONCE_CW_H_GROUP) to konce_group_input() with the session's authenticated key; a message for
 *     no hosted group is dropped and counted;
 *   - konce_nodecore_timer() runs the groups' timers and konce_nodecore_next_timer() includes them;
 *   - group events come out of konce_nodecore_poll_event() as KONCE_NC_EV_GROUP (gid and a copy of
 *     the konce_group_event whose data stays valid until the next poll_event());
 *   - persistence: every konce_group_persist call becomes a group note (a copy of the record) and
 *     returns KONCE_GROUP_PERSIST_QUEUED.  The I/O layer polls the notes with
 *     konce_nodecore_poll_gnote(), queues them with konce_store_group_note() and, once
 *     konce_store_group_flush() has made them durable, calls konce_nodecore_groups_persisted():
 *     every note polled before the flush is then durable and each group releases what waited on it.
 *
 * Life of a hosted group:  group_add() -> [IDLE core] -> the caller runs konce_group_create / _join
 * / or konce_store_group_restore on the returned core -> [RUNNING] -> group_remove() frees it.
 * Invariants:
 *   G1. A group note is handed out once, in persist-call order per group; its pid is the persist id
 *       konce_group_persisted() takes; groups_persisted() never reports a pid that was not polled.
 *   G2. Group events are drained after every pump, so a core's event ring never blocks the node.
 *   G3. The outcome of a group send is consumed inside the core (never reaches the I/O layer):
 *       the group protocol retransmits what a failed message carried.
 */
#ifndef KONCE_NCGROUP_H
#define KONCE_NCGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cgroup.h"
#include "consensus/cnote.h"

struct konce_nodecore;

enum {
	KONCE_NC_GROUPS_MAX = 64,
	KONCE_NC_GNOTES_MAX = 8192, /* unpolled group notes; beyond, the persist call fails (-ENOBUFS) */
};

/* A group note: one persist call of a hosted group (consensus/cnote.h); its bytes stay valid until
 * the next poll_gnote(). */
typedef konce_cnote konce_nc_gnote;

/* Hosts a new, idle group core for gid (the caller then creates, joins or restores it); its policy
 * and snapshot callbacks are konce_nodecore_groups_app()'s.  0 and *out, -EEXIST, -ENOSPC, -ENOMEM. */
int konce_nodecore_group_add(struct konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID],
			     konce_group **out);
konce_group *konce_nodecore_group_find(struct konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID]);
/* Frees the hosted group (its queued notes are dropped).  0 or -ENOENT. */
int konce_nodecore_group_remove(struct konce_nodecore *c, const uint8_t gid[KONCE_CW_GROUP_ID]);
/* Calls fn for every hosted group. */
void konce_nodecore_groups_each(struct konce_nodecore *c, void (*fn)(void *ctx, const uint8_t *gid, konce_group *g),
				void *ctx);
/* The application's callbacks for every hosted group (cgroup.h konce_group_config policy and
 * snapshot), called with the group's id from inside konce_nodecore_input()/_timer() (the core's
 * input path); NULL members: accept every holder of a valid invitation / an empty state.  The
 * struct is copied; a later call replaces it, for the groups hosted already too. */
typedef struct konce_nc_group_app {
	bool (*policy)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t key[KONCE_CW_KEY]);
	int (*snapshot)(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const uint8_t **data, size_t *len);
	void *policy_ctx, *snapshot_ctx;
} konce_nc_group_app;
int konce_nodecore_groups_app(struct konce_nodecore *c, const konce_nc_group_app *app);
/* The wall clock (unix seconds) invitation expiry is judged by, for every group. */
void konce_nodecore_groups_wallclock(struct konce_nodecore *c, uint64_t unix_seconds);
/* After a command on a hosted core (konce_group_propose, ...): sends what it queued.  poll_event()
 * does this too. */
void konce_nodecore_groups_pump(struct konce_nodecore *c);

bool konce_nodecore_poll_gnote(struct konce_nodecore *c, konce_nc_gnote *n);
/* Every note polled so far is durable. */
void konce_nodecore_groups_persisted(struct konce_nodecore *c);
/* Group messages dropped: for no hosted group (unrouted), refused by a group core as not from a
 * member or for another group (-EPERM: not_member), or refused otherwise (stale, malformed, wrong
 * state: rejected); and outgoing ones the node could not send (unsent). */
typedef struct konce_nc_group_stats {
	uint64_t unrouted, not_member, rejected, unsent;
} konce_nc_group_stats;
void konce_nodecore_groups_stats(const struct konce_nodecore *c, konce_nc_group_stats *out);
/* Whether pk is a member of a hosted group's view, or a member a joining group asks to let it in:
 * such peers know us by our master key (the identity rule, ncpeerconf.c). */
bool konce_nodecore_groups_have_key(const struct konce_nodecore *c, const uint8_t pk[KONCE_CW_KEY]);

#endif
