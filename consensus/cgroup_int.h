/* cgroup_int.h - the consensus core's state, shared by its files:
 *   cgroup.c  lifecycle, input dispatch, output and event queues, timer, restore
 *   ccommit.c the log: proposals, PROPOSE/ACK, commit index, delivery, submissions
 *   cfail.c   heartbeats, indirect probes, suspicion with hysteresis
 *   cview.c   view change (Paxos over the old view), NEWVIEW, install
 *   cjoin.c   invitations, join votes, leave
 *   csnap.c   state transfer to a member without state (snapshot request, chunks, restore)
 */
#ifndef KONCE_CGROUP_INT_H
#define KONCE_CGROUP_INT_H

#include "consensus/cgroup.h"

#define MS(x) ((uint64_t)(x) * 1000u)

typedef struct cg_slot {
	uint64_t seq; /* 0: empty */
	uint8_t kind;
	uint8_t origin[KONCE_CW_ORIGIN];
	uint64_t nonce;
	uint16_t len;
	uint64_t pid; /* log slots: the persist call that made it durable (delivered once covered) */
	uint8_t data[KONCE_CW_MAX_ENTRY];
} cg_slot;

typedef struct cg_member {
	uint64_t last_heard;
	uint64_t acked;       /* coordinator: persisted through */
	uint64_t owed_since;  /* coordinator: oldest unacked entry was sent then (0: none owed) */
	uint64_t last_tx;     /* coordinator: last PROPOSE to it */
	uint64_t resend_at;   /* last time we resent our view to it */
	bool suspect;
	bool withdrawn;       /* a joiner that gave up for good (JOIN_WITHDRAW OUT): suspect for ever */
	uint64_t suspect_since;
	uint64_t probe_deadline; /* an indirect probe is out (0: none) */
	uint32_t probe_nonce;
	unsigned defers;
	uint64_t defer_until;
	bool promised, accepted; /* proposer: answers this round */
	bool voted;              /* coordinator: answered the join under vote, */
	uint8_t vote;            /* with this konce_cw_vote */
	uint64_t snap_at;        /* last snapshot sent to it */
} cg_member;

typedef struct cg_pending {
	bool used, in_log;
	uint8_t kind;
	uint64_t nonce;
	uint16_t len;
	uint8_t data[KONCE_CW_MAX_ENTRY];
	uint64_t sent_at;
} cg_pending;

/* A joiner that withdrew (cjoin.c): no JOIN from it is taken until `until`. */
typedef struct cg_withdrawn {
	uint8_t key[KONCE_CW_KEY];
	uint64_t until;
	bool out; /* KONCE_CW_WD_OUT: it gave up for good; a view naming it removes it at once */
} cg_withdrawn;

typedef struct cg_joinreq {
	uint8_t key[KONCE_CW_KEY];
	uint8_t secret[KONCE_CW_SECRET];
} cg_joinreq;

typedef struct cg_outmsg {
	uint8_t to[KONCE_CW_KEY];
	uint8_t *bytes;
	size_t len;
	uint64_t need; /* persist calls that must be durable before it leaves */
} cg_outmsg;

struct konce_group {
	konce_group_config cfg;
	const konce_env *env;
	enum konce_group_state state;
	bool halted, leaving, fresh;
	bool sealed; /* restarted as the coordinator of its epoch: orders nothing more in it (cgroup.h
		      * invariant 8); cleared by the next view */
	unsigned max_batch; /* entries per PROPOSE this member sends as coordinator (set_max_batch) */
	uint64_t now, next_tick, next_hb, behind_at;
	uint64_t out_epoch; /* OUT: the epoch of the view that removed us (view_bytes holds it) */

	/* Installed view. */
	uint64_t epoch;
	unsigned n, self;
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	unsigned prev_n; /* the view before: its removed members learn they are out */
	uint8_t prev_keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	uint8_t *view_bytes; /* encoded value of the installed view, resent to members behind */
	size_t view_len;
	cg_member m[KONCE_CW_MAX_MEMBERS];

	/* Log: positions (delivered, last] in ring[seq % RING]. */
	cg_slot ring[KONCE_GROUP_RING];
	uint64_t last, commit, delivered;

	/* Coordinator: submissions waiting for a sequence number. */
	cg_slot queue[KONCE_GROUP_QUEUE];
	unsigned q_head, q_len;

	/* (origin, nonce) of the last KONCE_GROUP_SEEN entries appended: a SUBMIT that arrives again
	 * after its entry was appended (and maybe delivered) is not ordered twice. */
	struct { uint8_t origin[KONCE_CW_ORIGIN]; uint64_t nonce; } seen[KONCE_GROUP_SEEN];
	unsigned seen_next;

	/* Own proposals not yet delivered. */
	cg_pending pend[KONCE_GROUP_PENDING];
	uint64_t next_nonce;

	/* Acceptor (persisted): the vote for the view after epoch vote_base. */
	uint64_t vote_base, promised, acc_ballot;
	uint8_t *acc_value;
	size_t acc_len;
	uint64_t vc_since, vc_retry_at, max_round;

	/* Proposer. */
	int phase; /* 0 none, 1 collecting promises, 2 collecting accepts */
	uint64_t ballot;
	uint64_t best_acc;       /* highest accepted ballot among the promises */
	uint8_t *best_value;     /* and its value */
	size_t best_len;
	uint64_t c_max, l_max;   /* from the promises */
	cg_slot *collect;        /* [KONCE_GROUP_RING] entries by seq % RING */
	uint8_t *prop_value;     /* the value sent in ACCEPT */
	size_t prop_len;
	bool change_join;        /* this change admits join.key */
	uint8_t vkeys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY]; /* the value's members, being built */

	/* Join. */
	bool join_active;
	cg_joinreq join;
	uint64_t join_deadline, join_ask_at;
	cg_joinreq joinq[KONCE_GROUP_JOINQ];
	unsigned joinq_len;
	cg_withdrawn wd[KONCE_GROUP_JOINQ]; /* every member: joiners that withdrew (cjoin.c) */
	unsigned wd_len;
	uint8_t invites[KONCE_GROUP_INVITES][KONCE_CW_SECRET];
	bool invite_used[KONCE_GROUP_INVITES];
	uint64_t invite_expires[KONCE_GROUP_INVITES]; /* unix seconds, 0: never */
	uint64_t wall; /* konce_group_set_wallclock */
	unsigned n_invites;
	uint8_t leavers[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY]; /* coordinator: asked to leave */
	unsigned n_leavers;
	/* Joiner. */
	uint8_t token_keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	unsigned token_n;
	uint8_t *secret; /* KONCE_CW_SECRET, wiped on free */
	uint64_t join_retry_at, leave_retry_at;
	uint64_t join_until;      /* stops asking then and withdraws (cjoin.c) */
	bool withdrawing;         /* past join_until: JOIN_WITHDRAW instead of JOIN */
	uint64_t withdraw_until;  /* gives up then, unanswered (OUT, TIMEDOUT) */
	uint64_t join_view_epoch; /* the latest view a member told it of (0: none): token_keys are its members */
	enum konce_group_out_reason out_reason; /* OUT: why */

	/* State transfer (csnap.c): this member has no application state before catch_min. */
	bool catchup;
	uint64_t catch_min, catch_at;
	unsigned catch_ask;      /* members asked so far, to rotate */
	uint8_t *snap_buf;       /* reassembly, then the delivered snapshot (snap_total bytes) */
	uint64_t snap_seq, snap_have;
	uint32_t snap_total;
	int snap_from;
	uint8_t chunk[KONCE_CW_SNAP_CHUNK]; /* sender: one SNAP chunk being built */

	/* Queues. */
	cg_outmsg out[KONCE_GROUP_OUT_MAX];
	unsigned out_head, out_len;
	uint8_t *out_last; /* returned by the last poll, freed on the next */
	uint64_t out_dropped;
	konce_group_event ev[KONCE_GROUP_EV_RING];
	uint64_t ev_need[KONCE_GROUP_EV_RING];
	unsigned ev_head, ev_len;
	uint64_t ev_lost; /* events that did not fit (invariant 7): reported as EV_OVERFLOW */

	/* Durability (invariant 6): persist calls made, how many of them are durable, and p_issued as
	 * of the last call that was not a delivery mark (what messages and events wait for). */
	uint64_t p_issued, p_done, p_gate;
	bool defer_propose; /* inside cg_propose: cc_propose waits for the next poll */
	cg_slot *deliver_buf; /* the COMMITTED event's data lives here until the next call */

	konce_cw_msg msg;   /* scratch: the message being built */
	konce_cw_msg in;    /* the message being handled */
	uint8_t *buf;       /* scratch, KONCE_CW_MAX_MSG */
	uint8_t *vbuf;      /* scratch, KONCE_CW_MAX_VALUE */
};

/* cgroup.c */
int cg_index(const konce_group *g, const uint8_t key[KONCE_CW_KEY]);
unsigned cg_coord(const konce_group *g);
bool cg_is_coord(const konce_group *g);
unsigned cg_majority(unsigned n);
void cg_msg_init(konce_group *g, uint8_t type);
void cg_send(konce_group *g, const uint8_t to[KONCE_CW_KEY]);
void cg_send_all(konce_group *g);
void cg_event(konce_group *g, const konce_group_event *ev);
/* Account for one persist call's result: 0 (durable, or queued), or a negative errno after raising
 * PERSIST_FAILED. */
int cg_persist_rc(konce_group *g, int rc);
bool cg_busy(const konce_group *g);
/* Enter OUT with an OUT event of this reason (kind: a refusal's reason). */
void cg_set_out(konce_group *g, enum konce_group_out_reason why, uint8_t kind, uint64_t epoch);
void cg_slot_to_entry(const cg_slot *s, konce_cw_entry *e);
void cg_entry_to_slot(const konce_cw_entry *e, uint64_t seq, cg_slot *s);
int64_t cg_propose(konce_group *g, uint8_t kind, const uint8_t *data, size_t len, uint64_t now);

/* ccommit.c */
cg_slot *cc_at(konce_group *g, uint64_t seq);
int cc_append(konce_group *g, uint64_t first, const konce_cw_entry *e, unsigned count);
void cc_learn_commit(konce_group *g, uint64_t c);
/* The coordinator: the end of its durable log (every slot up to it is covered by p_done). */
uint64_t cc_durable(const konce_group *g);
/* The coordinator: more of its own log may be durable now; count it as its own ack. */
void cc_persisted(konce_group *g);
void cc_propose(konce_group *g);
void cc_on_propose(konce_group *g, const konce_cw_msg *m);
void cc_on_ack(konce_group *g, unsigned from, uint64_t last);
void cc_submit(konce_group *g, const konce_cw_entry *e);
void cc_tick(konce_group *g);
void cc_pending_refresh(konce_group *g);
void cc_seen(konce_group *g, const uint8_t *origin, uint64_t nonce);
void cc_unsee(konce_group *g, const uint8_t *origin, uint64_t nonce);
bool cc_next_delivery(konce_group *g, konce_group_event *ev);

/* cfail.c */
void cf_heard(konce_group *g, unsigned i);
void cf_tick(konce_group *g);
void cf_on_probe_req(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m);
void cf_on_probe_rep(konce_group *g, const konce_cw_msg *m);

/* cview.c */
void cv_start(konce_group *g);
void cv_on_prepare(konce_group *g, unsigned from, const konce_cw_msg *m);
void cv_on_promise(konce_group *g, unsigned from, const konce_cw_msg *m);
void cv_on_nack(konce_group *g, const konce_cw_msg *m);
void cv_on_accept(konce_group *g, unsigned from, const konce_cw_msg *m);
void cv_on_accepted(konce_group *g, unsigned from, const konce_cw_msg *m);
int cv_on_newview(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m);
int cv_install(konce_group *g, const konce_cw_value *v, bool persist);
void cv_resend_view(konce_group *g, const uint8_t to[KONCE_CW_KEY], cg_member *mm);
void cv_tick(konce_group *g);
bool cv_in_prev(const konce_group *g, const uint8_t key[KONCE_CW_KEY]);
/* An invitation a view used (zero: none): known as used from now on. */
void cv_mark_invite_used(konce_group *g, const uint8_t *h);

/* csnap.c */
void cs_start(konce_group *g, uint64_t min_seq);
void cs_tick(konce_group *g);
void cs_on_req(konce_group *g, unsigned from, const konce_cw_msg *m);
void cs_on_snap(konce_group *g, unsigned from, const konce_cw_msg *m);

/* cjoin.c */
void cj_on_join(konce_group *g, const uint8_t from[KONCE_CW_KEY], const konce_cw_msg *m);
/* Joiner: a view that does not name us, from a member it asks: ask that view's members from now on. */
int cj_learn_view(konce_group *g, const konce_cw_value *v);

void cj_on_ask(konce_group *g, const konce_cw_msg *m);
void cj_on_vote(konce_group *g, unsigned from, const konce_cw_msg *m);
void cj_on_leave(konce_group *g, unsigned from);
/* Member: a JOIN_WITHDRAW from a joiner (i < 0) or from a member it admitted (its index i). */
void cj_on_withdraw(konce_group *g, const uint8_t from[KONCE_CW_KEY], int i, const konce_cw_msg *m);
/* Member, after an install: members that withdrew for good are suspects at once. */
void cj_mark_withdrawn(konce_group *g);
/* Joiner: send JOIN_WITHDRAW(final) to every member it asks (or to one, `to`). */
void cj_send_withdraw(konce_group *g, uint8_t final, const uint8_t *to);
void cj_committed(konce_group *g, const cg_slot *s);
bool cj_invite_valid(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET], int *slot);
/* 0 (committed, unused, unexpired), KONCE_CW_R_INVALID (unknown or used) or KONCE_CW_R_EXPIRED. */
int cj_invite_check(const konce_group *g, const uint8_t secret[KONCE_CW_SECRET], int *slot);
bool cj_is_leaver(const konce_group *g, const uint8_t key[KONCE_CW_KEY]);
void cj_tick(konce_group *g);
void cj_reset(konce_group *g);
/* The snapshot core section (cwire.h): the invitations this member knows, encoded into out
 * (KONCE_CW_SNAP_CORE_MAX bytes); and merging a received one (an invitation known here stays, a
 * "used" mark is never undone).  Export returns the length. */
size_t cj_export(const konce_group *g, uint8_t *out, size_t cap);
void cj_import(konce_group *g, const konce_cw_invite *inv, unsigned count);

#endif
