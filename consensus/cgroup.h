/* cgroup.h - one member of a small consensus group: sans-I/O core.
 *
 * A group is a small, fully connected set of members known to all.  A decision (an entry) commits
 * when every member of the current view has persisted it; a member that stops answering is
 * evicted by a view change that a strict majority of the old view must vote for.  The core knows
 * no sockets, clock or storage: the caller feeds it messages (konce_group_input, with the sender's
 * key as the authenticated session named it) and the time, sends what konce_group_poll() returns,
 * handles what konce_group_poll_event() returns, runs konce_group_timer() no later than
 * konce_group_next_timer(), and makes records durable through konce_group_persist: either before
 * the call returns (it returns 0), or later (it returns KONCE_GROUP_PERSIST_QUEUED, and the caller
 * reports durability with konce_group_persisted()).  Times are microseconds of a monotonic clock and never go backwards.  docs/CONSENSUS.md
 * is the reference (messages, invariants, corner cases); cwire.h has the layouts.
 *
 * States and transitions (the function behind each):
 *
 *                 konce_group_create()                  
 *   NONE ---------------------------------------------------------------> NORMAL (epoch 1, alone)
 *     |  konce_group_join(token): JOIN to every member, again every JOIN_RETRY
 *     v
 *   JOINING --input(NEWVIEW naming us), cv_install()--------------------> NORMAL
 *     |  ^ input(NEWVIEW without us, newer), cv_on_newview():              |   ^
 *     |  | the JOIN goes to its members now (cj_learn_view)                |   |
 *     |  input(REFUSED, not UNKNOWN); or no view by join_until: WITHDRAW  |   |
 *     |  until REFUSED(WITHDRAWN) or WITHDRAW_MS later (TIMEDOUT)          |   |
 *     |  (a view naming us meanwhile still admits us: cjoin.c)             |   |
 *     +--------------------------------------------> OUT                   |   |
 *                                                     ^                    |   |
 *        input(NEWVIEW without us), cv_install():     |                    |   |
 *        evicted, or left after konce_group_leave()   |                    |   |
 *                                                     |                    |   | input(NEWVIEW),
 *   NORMAL --cf_tick(): a member suspected, or cj_decide(): a join         |   | cv_decided():
 *            accepted, or a LEAVE; cv_start() sends PREPARE --------->  VIEWCHANGE  cv_install()
 *   NORMAL --input(PREPARE with a higher ballot), cv_on_prepare(): promise ----^
 *   VIEWCHANGE --cv_tick(): no new view within KONCE_GROUP_HALT_MS: event HALTED (the state stays
 *            VIEWCHANGE; konce_group_halted() says so) and the member keeps trying; a view
 *            installed later clears it.
 *
 * A member installed without the state before its view's commit index (a joiner, or one that
 * missed views) is catching up (csnap.c): it delivers nothing until a snapshot from another
 * member arrives (event SNAPSHOT), and goes on after the snapshot's seq.
 *
 * In NORMAL the coordinator (member epoch mod n) orders entries (cc_propose): it issues its own
 * persist call and sends PROPOSE at once, without waiting for that record to be durable; members
 * persist and ACK (cc_on_propose); the coordinator advances the commit index when all have acked
 * (cc_on_ack) and its own copy is durable (konce_group_persisted -> cc_persisted: its own "ack"
 * is the end of its durable log, cc_durable), and every message carries it (cc_learn_commit).
 * A member in VIEWCHANGE has promised a ballot for its epoch: it acks nothing more in that epoch.
 * A coordinator restored by konce_group_restore() in its own epoch (n > 1) is *sealed*: it orders
 * nothing more in that epoch and, on its next timer, starts a view change to e + 1 (cc_tick ->
 * cv_start; the same members unless some are suspected); the next installed view unseals it.
 * konce_group_found() starts a founder from a first view, in which nobody can have proposed:
 * not sealed.
 *
 * Invariants (docs/CONSENSUS.md proves the first three, and 8):
 *   1. An entry is committed at seq s only when every member of the view has persisted it at s,
 *      the coordinator included (its own copy counts once konce_group_persisted() covers it, not
 *      when its PROPOSE leaves); no member delivers an entry at s that another delivers
 *      differently.
 *   2. At most one view is decided per epoch (single-decree Paxos among the old view's members,
 *      ballots unique per proposer; a vote is persisted before it is sent).
 *   3. Every decided view e+1 carries every entry committed in e (all-ack commit: every promiser
 *      has them, and a promiser acks nothing in e after promising).
 *   4. Log positions (delivered, last] are held in memory; last - delivered < KONCE_GROUP_RING.
 *   5. Nothing is allocated after konce_group_new() except queued outgoing messages (bounded by
 *      KONCE_GROUP_OUT_MAX; overflow is counted and the protocol's retransmissions recover).
 *   6. Nothing leaves the core before the records it follows are durable: every outgoing message,
 *      event and delivery carries the number of persist calls made before it was created, and
 *      poll returns it only once konce_group_persisted() (or a synchronous persist) has covered
 *      that number.  Messages and events keep their order.  Delivery marks (put_delivered) are
 *      the exception: no message or event waits for one, since a lost mark only redelivers after
 *      a restart; so a host may write them lazily, with the next records.
 *   7. No event is ever dropped: while fewer than KONCE_GROUP_EV_RESERVE event slots are free, the
 *      core takes no input, timer or proposal (-ENOBUFS; the timer does nothing) until the caller
 *      polls events.  If a single call still filled the ring, the events that did not fit are
 *      counted and konce_group_poll_event() reports KONCE_GROUP_EV_OVERFLOW after the ring is
 *      drained: the caller must then resynchronise from the state accessors.
 *      The coordinator's own entries are the second exception: PROPOSE waits for every persist
 *      call made before the entries' own, never for that one (nor does anything created after
 *      it: only a later persist call raises the gate again), so its write and the members' run
 *      in parallel.  Invariant 1 holds because the coordinator counts its copy only when durable.
 *   8. At most one entry exists at any (epoch, seq): only the epoch's coordinator gives seqs, and
 *      it gives each at most once.  The danger is a coordinator that sent PROPOSE(s, x), crashed
 *      before x was durable (its store ends before s), restarted in the same epoch and gave s to
 *      y: a member holding x would ack s by seq and deliver x where others deliver y.  So a
 *      coordinator restored in its epoch (konce_group_restore, n > 1) is sealed: it gives no
 *      seq in that epoch again, and hands the epoch over by a view change.  Why that is enough:
 *      a seq given in epoch e was given by e's coordinator in one incarnation, the one that
 *      first installed e (cv_install, or found); every later incarnation came through a
 *      restore, is sealed, and gives none.  The view change is the ordinary one: a promiser
 *      freezes e, so a PROPOSE of the old incarnation still in flight is appended by no
 *      promiser after its promise; the value's tail comes from promisers that agree at each
 *      seq (one entry per (e, seq)); x is not committed (the coordinator never counted its own
 *      copy) and the new view keeps it only if a promiser holds it.  Nothing new is stored:
 *      every restart goes through konce_group_restore, which seals again, and a view change
 *      that does not complete leaves the member sealed (and halted, like any minority).
 *   9. A joiner is told a final refusal only on a fact that later coordinators learn too, so no
 *      JOIN of it still in flight (resent, duplicated, delayed) is admitted after it stopped: a
 *      used invitation (a decided view used it, or a REVOKE entry), a member's "no" (which
 *      proposes the REVOKE), expiry by the wall clock.  An invitation the coordinator does not
 *      know -- its INVITE not committed yet, or missed -- gets REFUSED(UNKNOWN), which is not
 *      final: the joiner keeps asking until it is admitted, refused finally, or withdraws at its
 *      deadline (cjoin.c).  Where a final refusal is not airtight (a REVOKE lost uncommitted in a
 *      view change; lagging wall clocks) and a view names the refused joiner anyway, it answers
 *      that view's members with JOIN_WITHDRAW(OUT), and they remove it at once.
 */
#ifndef KONCE_CGROUP_H
#define KONCE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cwire.h"
#include "node/base/env.h"

enum {
	KONCE_GROUP_TICK_MS = 20,        /* the core asks to be woken this often */
	KONCE_GROUP_HB_MS = 100,         /* heartbeat to every member */
	KONCE_GROUP_SUSPECT_MS = 600,    /* silence (or an unacked entry) before an indirect probe */
	KONCE_GROUP_PROBE_MS = 300,      /* wait for the indirect probe's answer */
	KONCE_GROUP_DEFER_MAX = 2,       /* indirect "alive" answers that may defer one suspicion */
	KONCE_GROUP_JOIN_GRACE_MS = 1500, /* a member new to the view is not suspected before this: it may
					   * still be opening sessions (one lost handshake packet costs a
					   * 1 s retry) and installing the view (JOIN is resent every 500 ms) */
	KONCE_GROUP_REHAB_MS = 1200,     /* a suspect must be heard this long after suspicion to clear */
	KONCE_GROUP_RETX_MS = 150,       /* retransmit an unacked PROPOSE / SUBMIT / LEAVE */
	KONCE_GROUP_VC_RETRY_MS = 400,   /* a proposer retries with a higher ballot (plus 50 ms x index) */
	KONCE_GROUP_VC_TAKEOVER_MS = 900, /* a promiser with no new view becomes a proposer */
	KONCE_GROUP_HALT_MS = 2500,      /* view change this long without a new view: HALTED */
	KONCE_GROUP_JOIN_DEADLINE_MS = 1000, /* votes on a join are counted by then */
	KONCE_GROUP_JOIN_RETRY_MS = 500, /* a joiner resends JOIN */
	KONCE_GROUP_JOIN_TIMEOUT_MS = 30000, /* a joiner not admitted (nor refused) by then withdraws
					      * (the default; konce_group_join_timeout sets another) */
	KONCE_GROUP_WITHDRAW_MS = 3000,  /* a withdrawing joiner waits this long for REFUSED(WITHDRAWN) or
					  * a view naming it, then gives up unanswered: OUT (TIMEDOUT) */
	KONCE_GROUP_WITHDRAW_KEEP_MS = 5000, /* a member takes no JOIN from a joiner that withdrew for
					      * this long (a late or duplicated JOIN) */
	KONCE_GROUP_RESEND_MS = 300,     /* resend our view to a member behind, at most this often */
	KONCE_GROUP_SNAP_RETRY_MS = 500, /* a member without state asks the next member for a snapshot */
	KONCE_GROUP_SNAP_ANSWER_MS = 250, /* a member sends one requester a snapshot at most this often */
	KONCE_GROUP_RING = 4 * KONCE_CW_WINDOW, /* log entries held in memory */
	KONCE_GROUP_PENDING = 32,        /* own proposals not yet committed */
	KONCE_GROUP_QUEUE = 64,          /* submissions waiting at the coordinator */
	KONCE_GROUP_JOINQ = 8,           /* joins waiting at the coordinator */
	KONCE_GROUP_INVITES = KONCE_CW_SNAP_INVITES, /* invitations remembered */
	KONCE_GROUP_OUT_MAX = 1024,      /* queued outgoing messages */
	KONCE_GROUP_EV_RING = 32,
	KONCE_GROUP_EV_RESERVE = 8,      /* free event slots needed to take a call (invariant 7) */
	KONCE_GROUP_PERSIST_QUEUED = 1,  /* a persist call queued the record: konce_group_persisted() */
	KONCE_GROUP_SEEN = 512,          /* (origin, nonce) pairs remembered against duplicate submissions */
};

enum konce_group_state {
	KONCE_GROUP_NONE = 0,
	KONCE_GROUP_JOINING,
	KONCE_GROUP_NORMAL,
	KONCE_GROUP_VIEWCHANGE,
	KONCE_GROUP_OUT,
};

enum konce_group_ev_type {
	KONCE_GROUP_EV_COMMITTED = 1, /* seq, kind, origin, nonce, data/len: deliver in this order */
	KONCE_GROUP_EV_VIEW,          /* epoch: a view was installed (konce_group_members) */
	KONCE_GROUP_EV_HALTED,        /* a view change has not completed: this side may be a minority */
	KONCE_GROUP_EV_JOIN_REQUESTED, /* key: a join is being voted on (the policy was asked) */
	KONCE_GROUP_EV_JOIN_DECIDED,  /* coordinator only: key, flag = accepted, yes/no counts */
	KONCE_GROUP_EV_OUT,           /* out_reason: this member is no longer in the group */
	KONCE_GROUP_EV_PERSIST_FAILED, /* err: a record could not be made durable; nothing was acked */
	KONCE_GROUP_EV_GAP,           /* seq..nonce: positions this member could not deliver (it missed
				       * views); a SNAPSHOT event follows before any delivery */
	KONCE_GROUP_EV_OVERFLOW,      /* seq: events lost because one call overflowed the ring (never
				       * when the caller drains events after each call); resynchronise */
	KONCE_GROUP_EV_SNAPSHOT,      /* seq, data/len: replace the application state by this one, the
				       * state after delivering seq; COMMITTED events go on from seq + 1.
				       * data is valid until the next snapshot or konce_group_free(). */
};

enum konce_group_out_reason {
	KONCE_GROUP_OUT_EVICTED = 1,
	KONCE_GROUP_OUT_LEFT,
	KONCE_GROUP_OUT_REFUSED,
	KONCE_GROUP_OUT_TIMEDOUT, /* a join neither admitted nor refused within KONCE_GROUP_JOIN_TIMEOUT_MS */
};

typedef struct konce_group_event {
	enum konce_group_ev_type type;
	uint64_t seq, epoch, nonce;
	uint8_t kind;        /* COMMITTED: the entry's kind; OUT (REFUSED): the refusal's reason,
			      * KONCE_CW_R_REJECTED, _INVALID or _EXPIRED */
	uint8_t origin[KONCE_CW_ORIGIN];
	const uint8_t *data; /* COMMITTED: valid until the next call into the core */
	size_t len;
	uint8_t key[KONCE_CW_KEY];
	bool flag;
	unsigned yes, no;
	unsigned members;    /* VIEW: how many members this view has (the core may be in a later view by
			      * the time a host reads the event: konce_group_members() says the current one) */
	enum konce_group_out_reason out_reason;
	int err;
} konce_group_event;

typedef struct konce_group_out {
	uint8_t to[KONCE_CW_KEY];
	const uint8_t *bytes; /* valid until the next call into the core */
	size_t len;
} konce_group_out;

/* Durability.  Each call returns 0 once the record is durable; or KONCE_GROUP_PERSIST_QUEUED when
 * it has queued the record (copied: the bytes are valid only during the call) and will make it
 * durable later, in call order, reporting it with konce_group_persisted(); or a negative errno
 * (nothing was queued; the core then sends nothing that depends on it and raises PERSIST_FAILED).
 * A caller that cannot make a queued record durable retries (the core's output waits), or frees
 * the core and restarts it from what is durable (konce_group_restore): a crash, which the
 * protocol tolerates.  value/entry bytes are cwire.h encodings. */
typedef struct konce_group_persist {
	void *ctx;
	/* The installed view; atomically replaces every stored entry at seq > value.commit by the
	 * value's entries. */
	int (*put_view)(void *ctx, const uint8_t *value, size_t len);
	/* The vote for the view after epoch `base`: promised ballot, accepted ballot and value. */
	int (*put_vote)(void *ctx, uint64_t base, uint64_t promised, uint64_t acc_ballot, const uint8_t *value,
			size_t len);
	/* Entries at first_seq.. (count of them, concatenated), replacing any stored at >= first_seq. */
	int (*put_entries)(void *ctx, uint64_t first_seq, unsigned count, const uint8_t *entries, size_t len);
	/* Every entry up to seq was delivered to the application. */
	int (*put_delivered)(void *ctx, uint64_t seq);
	/* State transfer (csnap.c): seq 0 and no bytes marks that this member holds no application
	 * state before its view's commit index (made before the view that admits it); seq >= 1 is the
	 * snapshot it received, the state after delivering seq, which clears the mark: the whole
	 * stream (the core section of cwire.h, then the application's bytes), which a restart hands
	 * back to konce_group_restore_snapshot().  NULL: the caller keeps neither (a restart in the
	 * middle of a transfer then resumes without state). */
	int (*put_snapshot)(void *ctx, uint64_t seq, const uint8_t *data, size_t len);
} konce_group_persist;

typedef struct konce_group_config {
	uint8_t group[KONCE_CW_GROUP_ID];
	uint8_t self[KONCE_CW_KEY];
	const konce_env *env;
	konce_group_persist persist;
	/* May veto a joiner (return false).  NULL accepts every holder of a valid invitation. */
	bool (*policy)(void *ctx, const uint8_t joiner[KONCE_CW_KEY]);
	void *policy_ctx;
	/* The application state after every entry delivered so far (COMMITTED events polled), for a
	 * member that joins or missed views: points *data at up to KONCE_CW_SNAP_MAX -
	 * KONCE_CW_SNAP_CORE_MAX bytes (the core's own section travels first in the snapshot), valid
	 * during the call, and returns 0 (or a negative errno: no snapshot now).  NULL: the state is
	 * empty (the receiver learns only where to start delivering). */
	int (*snapshot)(void *ctx, const uint8_t **data, size_t *len);
	void *snapshot_ctx;
} konce_group_config;

typedef struct konce_group konce_group;

konce_group *konce_group_new(const konce_group_config *cfg);
void konce_group_free(konce_group *g);

/* Found a group alone (epoch 1). */
int konce_group_create(konce_group *g, uint64_t now);
/* Ask to join the members named by the token (ctoken.h); the secret is copied and wiped on free. */
int konce_group_join(konce_group *g, const uint8_t (*keys)[KONCE_CW_KEY], unsigned n,
		     const uint8_t secret[KONCE_CW_SECRET], uint64_t now);
/* Restart from durable records: the view, the vote, the stored entries after `delivered`.  A
 * coordinator restored in its own epoch of several members is sealed (invariant 8). */
int konce_group_restore(konce_group *g, const uint8_t *view, size_t view_len, uint64_t vote_base,
			uint64_t promised, uint64_t acc_ballot, const uint8_t *acc_value, size_t acc_len,
			uint64_t delivered, uint64_t now);
/* Found a group of several members from its first view (epoch 1, commit 0, no entries), which
 * every founder's store already holds: a first start, in which nobody has proposed, so the
 * coordinator is not sealed.  Never for a restart (konce_group_restore).  0, or -EINVAL. */
int konce_group_found(konce_group *g, const uint8_t *view, size_t view_len, uint64_t now);
int konce_group_restore_entry(konce_group *g, uint64_t seq, const uint8_t *entry, size_t len);
/* After the restore, so that a restarted member knows the invitations it knew: every committed
 * INVITE or REVOKE entry at or below the delivery point, in log order (other entries are
 * ignored), and every invitation an earlier view used (a view's used invitation, by hash).
 * 0, or -EINVAL. */
int konce_group_restore_invite(konce_group *g, const uint8_t *entry, size_t len);
int konce_group_restore_used(konce_group *g, const uint8_t hash[KONCE_CW_SECRET]);
/* After the restore: the snapshot stream put_snapshot last stored (seq >= 1), so that a member
 * that joined knows again the invitations its snapshot brought (its own log starts after them).
 * 0, or -EINVAL (no core section: nothing is learnt, the member abstains on those invitations). */
int konce_group_restore_snapshot(konce_group *g, const uint8_t *stream, size_t len);
/* After the restore: the store holds the state-transfer mark (put_snapshot seq 0): the member
 * asks for a snapshot again and delivers nothing until it has one. */
int konce_group_restore_catchup(konce_group *g);
/* True while this member waits for a snapshot (it acks and votes, but delivers nothing). */
bool konce_group_catching_up(const konce_group *g);

/* Propose application data.  Returns the entry's nonce (>= 1) or -EMSGSIZE, -EAGAIN (too many
 * pending), -ENOTCONN (not a member).  A member sends it to the coordinator at once; the
 * coordinator appends it at its next konce_group_poll() or konce_group_poll_event(), with every
 * other proposal made since, so that one PROPOSE and one persist call carry them all. */
int64_t konce_group_propose(konce_group *g, const uint8_t *data, size_t len, uint64_t now);
/* Register an invitation (the hash of its secret) by ordering it like an entry.  It expires at
 * `expires` (unix seconds; 0: never), as judged by each member's wall clock. */
int64_t konce_group_invite(konce_group *g, const uint8_t secret_hash[KONCE_CW_SECRET], uint64_t expires, uint64_t now);
/* The wall clock (unix seconds) the core judges invitation expiry by; the caller sets it before
 * each call (the core reads no clock).  0 (the default): no invitation is judged expired. */
void konce_group_set_wallclock(konce_group *g, uint64_t unix_seconds);
/* The most entries one PROPOSE carries when this member coordinates (and so the most entries one
 * append, one persist call, takes from the queue): 1 (unbatched: a PROPOSE and a persist call per
 * entry) to KONCE_CW_MAX_BATCH, the default.  Local: a member that receives PROPOSEs takes any
 * count up to KONCE_CW_MAX_BATCH, so members may differ.  0, or -EINVAL (0 or above the maximum). */
int konce_group_set_max_batch(konce_group *g, unsigned max_entries);
/* What this member knows of the invitation with this secret: 1 (committed here, unused and
 * unexpired: a joiner can use it), 0 (unknown here: not committed yet, or never registered),
 * -ESTALE (used or revoked) or -ETIMEDOUT (expired by the wall clock). */
int konce_group_invite_state(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET]);
int konce_group_leave(konce_group *g, uint64_t now);

/* A message from `from`.  0, or -EBADMSG (malformed), -EPERM (not from a member, wrong group),
 * -ESTALE (an old epoch or a replay), -EINVAL (wrong state). */
int konce_group_input(konce_group *g, const uint8_t from[KONCE_CW_KEY], const uint8_t *bytes, size_t len,
		      uint64_t now);
bool konce_group_poll(konce_group *g, konce_group_out *out);
bool konce_group_poll_event(konce_group *g, konce_group_event *ev);
uint64_t konce_group_next_timer(const konce_group *g);
void konce_group_timer(konce_group *g, uint64_t now);

enum konce_group_state konce_group_state(const konce_group *g);
bool konce_group_halted(const konce_group *g);
uint64_t konce_group_epoch(const konce_group *g);
/* Members of the installed view, in order; returns n and points *keys at them. */
unsigned konce_group_members(const konce_group *g, const uint8_t (**keys)[KONCE_CW_KEY]);
/* The members a joining group asks to let it in (its token's, or those of the latest view a member
 * told it of), else 0. */
unsigned konce_group_join_targets(const konce_group *g, const uint8_t (**keys)[KONCE_CW_KEY]);
unsigned konce_group_coordinator(const konce_group *g);
/* A joining group stops asking at `until` (the core's clock; konce_group_join sets now +
 * KONCE_GROUP_JOIN_TIMEOUT_MS) and withdraws (cjoin.c): it is OUT (TIMEDOUT) at most
 * KONCE_GROUP_WITHDRAW_MS later, unless a view already admitted it.  A time already past withdraws
 * on the next timer.  0, or -EINVAL when not joining or already withdrawing. */
int konce_group_join_deadline(konce_group *g, uint64_t until);
/* The same with a wall-clock deadline (unix seconds), judged by the wall clock set last
 * (konce_group_set_wallclock; -EINVAL if none): a host restarted during a join keeps the time
 * that was left, as its store recorded it. */
int konce_group_join_deadline_unix(konce_group *g, uint64_t unix_s);
/* A joining group: the epoch of the latest view a member told it of (0: none yet, it asks the
 * token's members) and the milliseconds left, as of the core's last call, before it gives up
 * (OUT, TIMEDOUT).  0, or -EINVAL when not joining. */
int konce_group_join_progress(const konce_group *g, uint64_t *epoch, uint64_t *left_ms);
/* Why this member is out (enum konce_group_out_reason), or 0 while it is not. */
int konce_group_out_reason(const konce_group *g);
/* A joiner that a coordinator answered REFUSED(UNKNOWN): it did not know the invitation (yet). */
bool konce_group_join_unknown(const konce_group *g);

/* What this member's failure detector knows of member i of the installed view (cfail.c). */
enum konce_group_suspicion {
	KONCE_GROUP_SUSP_NONE = 0, /* heard within KONCE_GROUP_SUSPECT_MS, or this member itself */
	KONCE_GROUP_SUSP_GRACE,    /* new to the view, or an indirect probe said "alive": not suspected yet */
	KONCE_GROUP_SUSP_SILENT,   /* silent (or owing an ACK) past KONCE_GROUP_SUSPECT_MS; a probe may be out */
	KONCE_GROUP_SUSP_PROBING,  /* an indirect probe is out */
	KONCE_GROUP_SUSP_SUSPECT,  /* suspected: a view change without it is under way */
};
typedef struct konce_group_mstatus {
	uint64_t last_heard; /* the core's clock (microseconds) when a message from it last arrived */
	uint64_t acked;      /* coordinator only: it has persisted the log through this seq */
	bool acked_known;    /* this member is the coordinator (others do not count acks) */
	enum konce_group_suspicion suspicion;
} konce_group_mstatus;
/* 0, or -EINVAL if i is not a member of the installed view (or there is none). */
int konce_group_member_info(const konce_group *g, unsigned i, konce_group_mstatus *out);
/* The last log position this member holds (persisted or being persisted). */
uint64_t konce_group_last(const konce_group *g);
uint64_t konce_group_commit_index(const konce_group *g);
uint64_t konce_group_out_dropped(const konce_group *g);

/* Persist calls made since konce_group_new() (the first is 1): after a call into the core, the
 * caller makes its queued records durable and then reports this number to konce_group_persisted(). */
uint64_t konce_group_persist_issued(const konce_group *g);
/* Every record up to the id-th persist call is durable: messages, events and deliveries that
 * waited for them are released to poll.  0, or -EINVAL if id > konce_group_persist_issued(). */
int konce_group_persisted(konce_group *g, uint64_t id);

#endif
