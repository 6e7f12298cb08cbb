/* test_nodecore.c - the node core's call set (node/core/nodecore.h), driven directly: two cores, a
 * hand-moved clock, and datagrams carried between them by this file (no sockets, no libevent).
 *
 *   - send to a key with no address: -EHOSTUNREACH and no event; once the key's address is known
 *     (the known-keys cache), send connects, the message is DELIVERED once, the peer's handler
 *     gets it, both sides see PEER_UP, and store notes go out by the rules of docs/STORE.md;
 *   - after the session closed, a send to the same key needs no hint (the cache kept its address);
 *   - connect timeout: nobody answers, the send FAILS with UNREACHABLE at its deadline;
 *   - reply lifetime: the peer never replies, the request FAILS with TIMED_OUT one lifetime after
 *     the session came up;
 *   - the peer closes: its peer record is freed and its pending request FAILS with PEER_CLOSED;
 *   - a command that fails queues no event and calls nothing;
 *   - the path MTU bound: the host's estimate for a real address, the base size for a path handle;
 *   - the known-keys set keeps the store's counts by the notes it makes: a completed handshake adds
 *     one to the loaded count and makes the key seen at that time, a failed one adds a failure, and
 *     a stranger that dialled gets no entry.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/nodecore.h"
#include "node/transport/ep_internal.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_event.h"

enum { APP = 300, MS = 1000 };

struct outcome {
	int calls, outcome, reason;
	uint64_t at;
	size_t len;
	uint8_t data[64];
};

struct side {
	konce_nodecore *c;
	konce_identity *id;
	konce_addr addr;
	int up, down, msgs, seen_notes, hs_notes, trusted_notes, if_known_notes;
	konce_message last;
	uint8_t last_data[64];
	int reply_to_requests;
	struct world *w;
};

struct world {
	struct side s[2];
	uint64_t now;
	int deaf; /* drop everything to side 1 */
};

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct outcome *o = ctx;
	o->calls++;
	o->outcome = outcome;
	o->reason = reason;
	o->len = len < sizeof(o->data) ? len : sizeof(o->data);
	if (len)
		memcpy(o->data, data, o->len);
}

static void on_app(void *ctx, konce_node *node, const konce_message *m)
{
	struct side *sd = ctx;
	(void)node;
	sd->msgs++;
	sd->last = *m;
	memcpy(sd->last_data, m->data, m->len < sizeof(sd->last_data) ? m->len : sizeof(sd->last_data));
	if (m->is_request && sd->reply_to_requests)
		assert_int_equal(konce_nodecore_reply(sd->c, m, (const uint8_t *)"pong", 4, sd->w->now), 0);
}

static void side_init(struct world *w, int i, const char *addr)
{
	struct side *sd = &w->s[i];
	sd->w = w;
	assert_int_equal(konce_identity_generate(&sd->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = sd->id, .explicit_identity = true}, .notes = true};
	assert_int_equal(konce_nodecore_new(&sd->c, &cfg, w->now), 0);
	assert_int_equal(konce_addr_parse(&sd->addr, addr), 0);
	assert_int_equal(konce_nodecore_handle(sd->c, APP, on_app, sd), 0);
}

static int setup(void **state)
{
	static struct world w;
	memset(&w, 0, sizeof w);
	w.now = 1000000;
	side_init(&w, 0, "192.0.2.1:7807");
	side_init(&w, 1, "192.0.2.2:7807");
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	for (int i = 0; i < 2; i++) {
		konce_nodecore_free(w->s[i].c);
		konce_identity_free(w->s[i].id);
	}
	return 0;
}

/* Drains one side as node_io_kick() does: events, datagrams (carried to the other side; side 0's
 * lent by reference in batches, konce_nodecore_poll_ref, side 1's copied), notes. */
static void drain(struct world *w, int i)
{
	struct side *sd = &w->s[i], *other = &w->s[!i];
	konce_nc_event ev;
	konce_nc_datagram dg;
	konce_nc_note no;
	while (konce_nodecore_poll_event(sd->c, &ev)) {
		if (nc_app_event(&ev))
			continue;
		if (ev.peer_event == KONCE_PEER_UP)
			sd->up++;
		else if (ev.peer_event == KONCE_PEER_DOWN)
			sd->down++;
	}
	if (i == 0) { /* by reference, a batch lent before any is carried, then released */
		konce_nc_dgref ref[4];
		unsigned k;
		do {
			for (k = 0; k < 4 && konce_nodecore_poll_ref(sd->c, &ref[k]); k++)
				;
			for (unsigned j = 0; j < k; j++)
				if (konce_addr_eq(&ref[j].to, &other->addr) && !w->deaf)
					konce_nodecore_input(other->c, 0, ref[j].pkt, ref[j].len, &sd->addr, w->now);
			konce_nodecore_sent(sd->c);
		} while (k == 4);
	}
	while (konce_nodecore_poll(sd->c, &dg))
		if (konce_addr_eq(&dg.to, &other->addr) && !(w->deaf && !i))
			konce_nodecore_input(other->c, 0, dg.buf, dg.len, &sd->addr, w->now);
	while (konce_nodecore_poll_note(sd->c, &no)) {
		sd->seen_notes += no.type == KONCE_NC_NOTE_SEEN;
		sd->hs_notes += no.type == KONCE_NC_NOTE_HANDSHAKE;
		sd->trusted_notes += no.type == KONCE_NC_NOTE_TRUSTED;
		sd->if_known_notes += (no.flags & KONCE_NC_NOTE_IF_KNOWN) != 0;
	}
}

/* Runs both cores on a zero-latency link until done() or the clock passes until. */
static void run(struct world *w, uint64_t until, int (*done)(struct world *, void *), void *ctx)
{
	for (int guard = 0; guard < 1000000; guard++) {
		for (int i = 0; i < 2; i++)
			drain(w, i);
		if (done && done(w, ctx))
			return;
		uint64_t a = konce_nodecore_next_timer(w->s[0].c), b = konce_nodecore_next_timer(w->s[1].c);
		uint64_t t = a < b ? a : b;
		if (t > until) {
			if (until > w->now)
				w->now = until;
			return;
		}
		if (t > w->now)
			w->now = t;
		for (int i = 0; i < 2; i++)
			if (konce_nodecore_next_timer(w->s[i].c) <= w->now)
				konce_nodecore_timer(w->s[i].c, w->now);
	}
	fail_msg("the cores did not go idle");
}

static int outcome_done(struct world *w, void *ctx)
{
	(void)w;
	return ((struct outcome *)ctx)->calls > 0;
}

static const uint8_t *pk_of(struct world *w, int i) { return konce_nodecore_public_key(w->s[i].c); }

static void test_send_unknown_then_known(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_nc_event ev;
	/* no session, no hint, nothing known: refused at once, no event */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome,
					     &o, w->now, NULL),
			 -EHOSTUNREACH);
	assert_false(konce_nodecore_poll_event(w->s[0].c, &ev));
	assert_int_equal(konce_nodecore_known(w->s[0].c, pk_of(w, 1)), 0);
	/* the store said where it is (what node_io.c loads at start) */
	assert_int_equal(konce_nodecore_known_load(w->s[0].c, pk_of(w, 1), &w->s[1].addr, NULL), 0);
	assert_int_equal(konce_nodecore_known(w->s[0].c, pk_of(w, 1)), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome,
					     &o, w->now, NULL),
			 0);
	assert_int_equal(o.calls, 0); /* never inside the call */
	assert_int_equal(konce_nodecore_npeers(w->s[0].c), 1);
	run(w, w->now + 5000 * MS, outcome_done, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].msgs, 1);
	assert_int_equal(w->s[1].last.len, 2);
	assert_memory_equal(w->s[1].last_data, "hi", 2);
	assert_memory_equal(w->s[1].last.from, pk_of(w, 0), KONCE_KEY_BYTES);
	run(w, w->now + 100 * MS, NULL, NULL);
	assert_int_equal(o.calls, 1); /* exactly once */
	assert_int_equal(w->s[0].up, 1);
	assert_int_equal(w->s[1].up, 1);
	/* notes: A dialled B (recorded); B was dialled by a stranger (only if known) */
	assert_true(w->s[0].seen_notes >= 1 && w->s[0].hs_notes >= 1);
	assert_int_equal(w->s[0].if_known_notes, 0);
	assert_true(w->s[1].if_known_notes >= 2);
	assert_int_equal(konce_nodecore_known(w->s[1].c, pk_of(w, 0)), 0);
	konce_addr a;
	assert_int_equal(konce_nodecore_known_addr(w->s[0].c, pk_of(w, 1), &a), 0);
	assert_true(konce_addr_eq(&a, &w->s[1].addr));

	/* B closes; A's peer goes, and the address stays known: the next send needs no hint */
	konce_nodecore_close_all(w->s[1].c, w->now);
	run(w, w->now + 100 * MS, NULL, NULL);
	assert_int_equal(konce_nodecore_npeers(w->s[0].c), 0);
	assert_int_equal(w->s[0].down, 1);
	memset(&o, 0, sizeof o);
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"again", 5, NULL,
					     on_outcome, &o, w->now, NULL),
			 0);
	run(w, w->now + 5000 * MS, outcome_done, &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].msgs, 2);
}

/* Sends text from side 0 to side 1 with options *so and side 1's address as the hint; what the send
 * returned. */
static int send_hinted(struct world *w, konce_send_opts *so, const char *text, struct outcome *o)
{
	char hint[KONCE_ADDR_STRLEN];
	so->addr_hint = konce_addr_str(&w->s[1].addr, hint);
	int r = konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)text, strlen(text), so, on_outcome,
				    o, w->now, NULL);
	so->addr_hint = NULL; /* the hint's buffer ends here */
	return r;
}

static void test_request_replied(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_send_opts so = {.expect_reply = 1};
	w->s[1].reply_to_requests = 1;
	assert_int_equal(send_hinted(w, &so, "ping", &o), 0);
	run(w, w->now + 5000 * MS, outcome_done, &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_REPLIED);
	assert_int_equal(o.len, 4);
	assert_memory_equal(o.data, "pong", 4);
	assert_int_equal(w->s[0].trusted_notes, 0); /* A dialled B: recorded already */
	/* B's own message reaching A (a stranger that dialled it) is a trust signal: B records A */
	assert_int_equal(konce_nodecore_known(w->s[1].c, pk_of(w, 0)), 0);
	struct outcome ob = {0};
	assert_int_equal(konce_nodecore_send(w->s[1].c, pk_of(w, 0), APP, (const uint8_t *)"back", 4, NULL, on_outcome,
					     &ob, w->now, NULL),
			 0);
	run(w, w->now + 5000 * MS, outcome_done, &ob);
	assert_int_equal(ob.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[0].msgs, 1);
	assert_int_equal(w->s[1].trusted_notes, 1);
	assert_int_equal(konce_nodecore_known(w->s[1].c, pk_of(w, 0)), KONCE_NC_KNOWN);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->s[0].c, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.msgs_rx, 2); /* the reply and "back" */
}

static void test_connect_timeout(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	w->deaf = 1;
	konce_send_opts so = {.connect_timeout_ms = 300, .expect_reply = 1};
	uint64_t t0 = w->now;
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	assert_true(konce_nodecore_next_timer(w->s[0].c) <= t0 + 300 * MS); /* the deadline is data */
	run(w, t0 + 60000 * MS, outcome_done, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_UNREACHABLE);
	assert_int_equal(w->now, t0 + 300 * MS);
	assert_int_equal(w->s[0].up, 0);
}

static void test_reply_lifetime(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_send_opts so = {.expect_reply = 1, .reply_lifetime_ms = 500};
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	uint64_t t0 = w->now; /* zero latency: the session is up at once */
	run(w, t0 + 60000 * MS, outcome_done, &o);
	assert_int_equal(w->s[1].msgs, 1); /* delivered, never answered */
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_TIMED_OUT);
	assert_int_equal(w->now, t0 + 500 * MS);
}

static void test_peer_closed_fails_pending(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_send_opts so = {.expect_reply = 1, .reply_lifetime_ms = 60000};
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	run(w, w->now + 100 * MS, NULL, NULL);
	assert_int_equal(w->s[1].msgs, 1);
	assert_int_equal(o.calls, 0);
	assert_non_null(konce_nodecore_peer_find(w->s[0].c, pk_of(w, 1)));
	konce_nodecore_close_all(w->s[1].c, w->now); /* B's CLOSE reaches A */
	run(w, w->now + 100 * MS, outcome_done, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_PEER_CLOSED);
	assert_null(konce_nodecore_peer_find(w->s[0].c, pk_of(w, 1)));
	assert_int_equal(w->s[0].down, 1);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->s[0].c, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.peers, 0);
}

static void test_failed_command_no_event(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_nc_event ev;
	konce_send_opts so = {.addr_hint = "192.0.2.2:7807"};
	static const uint8_t one = 1;
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, (size_t)KONCE_MESSAGE_MAX + 1, &so,
					     on_outcome, &o, w->now, NULL),
			 -EMSGSIZE);
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 0), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -EINVAL); /* to itself */
	so.flags = KONCE_SEND_RENDEZVOUS; /* no RETRANSMIT: not available */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -ENOTSUP);
	so.flags = KONCE_SEND_RETRANSMIT; /* no route at all */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -EINVAL);
	so.flags = KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT; /* a hint, but no leave to use an address */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -EINVAL);
	so = (konce_send_opts){.flags = KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT}; /* no rendezvous here */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -EHOSTUNREACH);
	so = (konce_send_opts){.addr_hint = "not an address"};
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->now, NULL),
			 -EINVAL);
	konce_message notreq = {.is_request = 0};
	assert_int_equal(konce_nodecore_reply(w->s[0].c, &notreq, NULL, 0, w->now), -EINVAL);
	konce_message gone = {.is_request = 1, .conn_ = 12345};
	assert_int_equal(konce_nodecore_reply(w->s[0].c, &gone, NULL, 0, w->now), -ENOTCONN);
	assert_int_equal(konce_nodecore_handle(w->s[0].c, 7, on_app, NULL), -EINVAL); /* reserved class */
	assert_false(konce_nodecore_poll_event(w->s[0].c, &ev));
	run(w, w->now + 10000 * MS, NULL, NULL);
	assert_int_equal(o.calls, 0);
	assert_int_equal(konce_nodecore_npeers(w->s[0].c), 0);
}

/* Freeing a core with sends in every state (in the INITIATE and awaiting a reply, handed to the
 * endpoint and awaiting a reply, plain and in flight, finished but not yet polled) releases them
 * all without a callback (ASan's leak check and the counting below). */
static void test_free_with_pendings(void **state)
{
	struct world *w = *state;
	struct outcome o[4] = {{0}};
	static uint8_t big[100000];
	konce_send_opts req = {.expect_reply = 1, .reply_lifetime_ms = 60000};
	char hint[KONCE_ADDR_STRLEN];
	req.addr_hint = konce_addr_str(&w->s[1].addr, hint);
	w->deaf = 1; /* nothing arrives: everything stays pending */
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"q", 1, &req, on_outcome,
					     &o[0], w->now, NULL),
			 0);
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, big, sizeof big, &req, on_outcome, &o[1],
					     w->now, NULL),
			 0);
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, big, sizeof big, NULL, on_outcome, &o[2],
					     w->now, NULL),
			 0);
	/* a fourth to another key, failed by its 1 ms connect deadline and left unpolled */
	konce_identity *third;
	assert_int_equal(konce_identity_generate(&third, konce_env_default()), 0);
	konce_send_opts quick = {.addr_hint = "192.0.2.9:7807", .connect_timeout_ms = 1};
	assert_int_equal(konce_nodecore_send(w->s[0].c, konce_identity_public(third), APP, (const uint8_t *)"x", 1,
					     &quick, on_outcome, &o[3], w->now, NULL),
			 0);
	konce_identity_free(third);
	konce_nodecore_timer(w->s[0].c, w->now + 1000);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->s[0].c, &st);
	assert_int_equal(st.pending, 4); /* three in the tables, one finished and queued */
	assert_int_equal(st.peers, 2); /* a failed deadline leaves the dial to the endpoint */
	konce_nodecore_fail_all(w->s[1].c, KONCE_REASON_LOCAL_CLOSE); /* nothing at B */
	konce_nodecore_free(w->s[0].c);
	w->s[0].c = NULL;
	konce_identity_free(w->s[0].id);
	w->s[0].id = NULL;
	for (int i = 0; i < 4; i++)
		assert_int_equal(o[i].calls, 0);
}

/* The path MTU bound the endpoint asks the core for: the host's estimate for a real address, the
 * base size for a path handle (a traversal path), without asking the host. */
static void test_known_counts_follow_notes(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_nc_known_info in;
	/* what node_io.c loads at start: B's address, then its stored counts */
	assert_int_equal(konce_nodecore_known_load(w->s[0].c, pk_of(w, 1), &w->s[1].addr, NULL), 0);
	assert_int_equal(konce_nodecore_known_load_counts(w->s[0].c, pk_of(w, 1), 3, 1, 1234, 0), 0);
	assert_int_equal(konce_nodecore_known_info(w->s[0].c, pk_of(w, 1), &in), 0);
	assert_int_equal(in.handshakes, 3);
	assert_int_equal(in.failures, 1);
	assert_int_equal(in.last_seen, 1234);
	assert_false(in.seen_noted);
	uint64_t t0 = w->now;
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome,
					     &o, w->now, NULL),
			 0);
	run(w, w->now + 5000 * MS, outcome_done, &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[0].hs_notes, 1);
	assert_int_equal(konce_nodecore_known_info(w->s[0].c, pk_of(w, 1), &in), 0);
	assert_int_equal(in.handshakes, 4);
	assert_int_equal(in.failures, 1);
	assert_int_equal(in.last_seen, 1234); /* as loaded; superseded by: */
	assert_true(in.seen_noted);
	assert_true(in.seen_us >= t0 && in.seen_us <= w->now);
	/* B was dialled by a stranger: nothing recorded, no counts */
	assert_int_equal(konce_nodecore_known_info(w->s[1].c, pk_of(w, 0), &in), -ENOENT);

	/* B goes away and stays silent: the next handshake fails and counts as a failure */
	konce_nodecore_close_all(w->s[1].c, w->now);
	run(w, w->now + 100 * MS, NULL, NULL);
	w->deaf = 1;
	memset(&o, 0, sizeof o);
	konce_send_opts so = {.connect_timeout_ms = 300};
	assert_int_equal(konce_nodecore_send(w->s[0].c, pk_of(w, 1), APP, (const uint8_t *)"x", 1, &so, on_outcome,
					     &o, w->now, NULL),
			 0);
	run(w, w->now + 60000 * MS, NULL, NULL);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(w->s[0].hs_notes, 2); /* the failed one */
	assert_int_equal(konce_nodecore_known_info(w->s[0].c, pk_of(w, 1), &in), 0);
	assert_int_equal(in.handshakes, 4);
	assert_int_equal(in.failures, 2);
}

static int host_mtu_calls;
static unsigned host_mtu(void *ctx, const konce_addr *peer)
{
	(void)peer;
	host_mtu_calls++;
	return *(unsigned *)ctx;
}

static void test_path_mtu_rule(void **state)
{
	(void)state;
	konce_identity *id;
	konce_nodecore *c;
	konce_addr real, handle = konce_addr_path(3);
	unsigned route = 4000;
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	assert_int_equal(konce_addr_parse(&real, "192.0.2.9:7807"), 0);
	konce_nodecore_config cfg = {.ep = {.identity = id, .max_datagram = KONCE_PMTU_MAX, .path_mtu = host_mtu,
					    .path_mtu_ctx = &route}};
	for (int with_host = 1; with_host >= 0; with_host--) {
		if (!with_host)
			cfg.ep.path_mtu = NULL;
		assert_int_equal(konce_nodecore_new(&c, &cfg, 1000000), 0);
		konce_ep *ep = konce_nodecore_ep(c);
		host_mtu_calls = 0;
		assert_int_equal(ep->path_mtu(ep->path_mtu_ctx, &real), with_host ? route : 0);
		assert_int_equal(host_mtu_calls, with_host);
		assert_int_equal(ep->path_mtu(ep->path_mtu_ctx, &handle), KONCE_PMTU_BASE);
		assert_int_equal(host_mtu_calls, with_host);
		konce_nodecore_free(c);
	}
	konce_identity_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_send_unknown_then_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_replied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closed_fails_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_command_no_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_pendings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_counts_follow_notes, setup, teardown),
		cmocka_unit_test(test_path_mtu_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
