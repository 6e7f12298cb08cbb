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
#include "tests/unit/nc_fixture.h"

enum { APP = 300, MS = 1000 };

struct outcome {
	int calls, outcome, reason;
	uint64_t at;
	size_t len;
	uint8_t data[64];
};

struct side {
	int i; /* which core: w->f.c[i] */
	int up, down, msgs, seen_notes, hs_notes, trusted_notes, if_known_notes;
	konce_message last;
	uint8_t last_data[64];
	uint64_t last_sum; /* of every byte of the last message, each times its position + 1 */
	int reply_to_requests;
	struct world *w;
};

struct world {
	nc_fix f; /* first: the hooks cast it back */
	struct side s[2];
	int deaf;             /* drop everything to side 1 */
	struct outcome *wait; /* run() returns once this has come */
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
	sd->last_sum = 0;
	for (size_t k = 0; k < m->len; k++)
		sd->last_sum += (uint64_t)m->data[k] * (k + 1);
	if (m->is_request && sd->reply_to_requests)
		assert_int_equal(konce_nodecore_reply(sd->w->f.c[sd->i], m, (const uint8_t *)"pong", 4, sd->w->f.now), 0);
}

static void on_event(nc_fix *f, int i, const konce_nc_event *ev)
{
	struct side *sd = &((struct world *)f)->s[i];
	if (ev->peer_event == KONCE_PEER_UP)
		sd->up++;
	else if (ev->peer_event == KONCE_PEER_DOWN)
		sd->down++;
}

/* Side 0's datagrams are lent by reference (konce_nodecore_poll_ref), side 1's copied. */
static bool carry(nc_fix *f, int i, const konce_addr *to)
{
	return konce_addr_eq(to, &f->addr[!i]) && !(((struct world *)f)->deaf && !i);
}

static void on_note(nc_fix *f, int i, const konce_nc_note *no)
{
	struct side *sd = &((struct world *)f)->s[i];
	sd->seen_notes += no->type == KONCE_NC_NOTE_SEEN;
	sd->hs_notes += no->type == KONCE_NC_NOTE_HANDSHAKE;
	sd->trusted_notes += no->type == KONCE_NC_NOTE_TRUSTED;
	sd->if_known_notes += (no->flags & KONCE_NC_NOTE_IF_KNOWN) != 0;
}

static bool outcome_done(nc_fix *f)
{
	const struct outcome *o = ((struct world *)f)->wait;
	return o && o->calls > 0;
}

static void side_init(struct world *w, int i, const char *addr)
{
	struct side *sd = &w->s[i];
	sd->w = w;
	sd->i = i;
	assert_int_equal(konce_identity_generate(&w->f.id[i], konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = w->f.id[i], .explicit_identity = true}, .notes = true};
	nc_fix_core(&w->f, i, &cfg, addr, APP, on_app, sd);
}

static int setup(void **state)
{
	static struct world w;
	memset(&w, 0, sizeof w);
	w.f = (nc_fix){.now = NC_FIX_START, .by_ref0 = true, .event = on_event, .carry = carry, .note = on_note,
		       .done = outcome_done};
	side_init(&w, 0, "192.0.2.1:7807");
	side_init(&w, 1, "192.0.2.2:7807");
	*state = &w;
	return 0;
}

static int teardown(void **state)
{
	nc_fix_free(&((struct world *)*state)->f);
	return 0;
}

/* Runs both cores on a zero-latency link until o (if any) came or the clock passes until. */
static void run(struct world *w, uint64_t until, struct outcome *o)
{
	w->wait = o;
	nc_fix_run(&w->f, until);
}

static const uint8_t *pk_of(struct world *w, int i) { return nc_fix_pk(&w->f, i); }

/* Side i sends the other text by key alone, and the cores run until its outcome o came (5 s at
 * the most). */
static void send_wait(struct world *w, int i, const char *text, struct outcome *o)
{
	assert_int_equal(konce_nodecore_send(w->f.c[i], pk_of(w, !i), APP, (const uint8_t *)text, strlen(text), NULL,
					     on_outcome, o, w->f.now, NULL),
			 0);
	run(w, w->f.now + 5000 * MS, o);
}

static void test_send_unknown_then_known(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_nc_event ev;
	/* no session, no hint, nothing known: refused at once, no event */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome,
					     &o, w->f.now, NULL),
			 -EHOSTUNREACH);
	assert_false(konce_nodecore_poll_event(w->f.c[0], &ev));
	assert_int_equal(konce_nodecore_known(w->f.c[0], pk_of(w, 1)), 0);
	/* the store said where it is (what node_io.c loads at start) */
	assert_int_equal(konce_nodecore_known_load(w->f.c[0], pk_of(w, 1), &w->f.addr[1], NULL), 0);
	assert_int_equal(konce_nodecore_known(w->f.c[0], pk_of(w, 1)), KONCE_NC_KNOWN);
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome,
					     &o, w->f.now, NULL),
			 0);
	assert_int_equal(o.calls, 0); /* never inside the call */
	assert_int_equal(konce_nodecore_npeers(w->f.c[0]), 1);
	run(w, w->f.now + 5000 * MS, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].msgs, 1);
	assert_int_equal(w->s[1].last.len, 2);
	assert_memory_equal(w->s[1].last_data, "hi", 2);
	assert_memory_equal(w->s[1].last.from, pk_of(w, 0), KONCE_KEY_BYTES);
	run(w, w->f.now + 100 * MS, NULL);
	assert_int_equal(o.calls, 1); /* exactly once */
	assert_int_equal(w->s[0].up, 1);
	assert_int_equal(w->s[1].up, 1);
	/* notes: A dialled B (recorded); B was dialled by a stranger (only if known) */
	assert_true(w->s[0].seen_notes >= 1 && w->s[0].hs_notes >= 1);
	assert_int_equal(w->s[0].if_known_notes, 0);
	assert_true(w->s[1].if_known_notes >= 2);
	assert_int_equal(konce_nodecore_known(w->f.c[1], pk_of(w, 0)), 0);
	konce_addr a;
	assert_int_equal(konce_nodecore_known_addr(w->f.c[0], pk_of(w, 1), &a), 0);
	assert_true(konce_addr_eq(&a, &w->f.addr[1]));

	/* B closes; A's peer goes, and the address stays known: the next send needs no hint */
	konce_nodecore_close_all(w->f.c[1], w->f.now);
	run(w, w->f.now + 100 * MS, NULL);
	assert_int_equal(konce_nodecore_npeers(w->f.c[0]), 0);
	assert_int_equal(w->s[0].down, 1);
	memset(&o, 0, sizeof o);
	send_wait(w, 0, "again", &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].msgs, 2);
}

/* Sends text from side 0 to side 1 with options *so and side 1's address as the hint; what the send
 * returned. */
static int send_hinted(struct world *w, konce_send_opts *so, const char *text, struct outcome *o)
{
	char hint[KONCE_ADDR_STRLEN];
	so->addr_hint = konce_addr_str(&w->f.addr[1], hint);
	int r = konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)text, strlen(text), so, on_outcome,
				    o, w->f.now, NULL);
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
	run(w, w->f.now + 5000 * MS, &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_REPLIED);
	assert_int_equal(o.len, 4);
	assert_memory_equal(o.data, "pong", 4);
	assert_int_equal(w->s[0].trusted_notes, 0); /* A dialled B: recorded already */
	/* B's own message reaching A (a stranger that dialled it) is a trust signal: B records A */
	assert_int_equal(konce_nodecore_known(w->f.c[1], pk_of(w, 0)), 0);
	struct outcome ob = {0};
	send_wait(w, 1, "back", &ob);
	assert_int_equal(ob.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[0].msgs, 1);
	assert_int_equal(w->s[1].trusted_notes, 1);
	assert_int_equal(konce_nodecore_known(w->f.c[1], pk_of(w, 0)), KONCE_NC_KNOWN);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->f.c[0], &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.msgs_rx, 2); /* the reply and "back" */
}

static void test_connect_timeout(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	w->deaf = 1;
	konce_send_opts so = {.connect_timeout_ms = 300, .expect_reply = 1};
	uint64_t t0 = w->f.now;
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	assert_true(konce_nodecore_next_timer(w->f.c[0]) <= t0 + 300 * MS); /* the deadline is data */
	run(w, t0 + 60000 * MS, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_UNREACHABLE);
	assert_int_equal(w->f.now, t0 + 300 * MS);
	assert_int_equal(w->s[0].up, 0);
}

static void test_reply_lifetime(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_send_opts so = {.expect_reply = 1, .reply_lifetime_ms = 500};
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	uint64_t t0 = w->f.now; /* zero latency: the session is up at once */
	run(w, t0 + 60000 * MS, &o);
	assert_int_equal(w->s[1].msgs, 1); /* delivered, never answered */
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_TIMED_OUT);
	assert_int_equal(w->f.now, t0 + 500 * MS);
}

static void test_peer_closed_fails_pending(void **state)
{
	struct world *w = *state;
	struct outcome o = {0};
	konce_send_opts so = {.expect_reply = 1, .reply_lifetime_ms = 60000};
	assert_int_equal(send_hinted(w, &so, "x", &o), 0);
	run(w, w->f.now + 100 * MS, NULL);
	assert_int_equal(w->s[1].msgs, 1);
	assert_int_equal(o.calls, 0);
	assert_non_null(konce_nodecore_peer_find(w->f.c[0], pk_of(w, 1)));
	konce_nodecore_close_all(w->f.c[1], w->f.now); /* B's CLOSE reaches A */
	run(w, w->f.now + 100 * MS, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(o.reason, KONCE_REASON_PEER_CLOSED);
	assert_null(konce_nodecore_peer_find(w->f.c[0], pk_of(w, 1)));
	assert_int_equal(w->s[0].down, 1);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->f.c[0], &st);
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
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, (size_t)KONCE_MESSAGE_MAX + 1, &so,
					     on_outcome, &o, w->f.now, NULL),
			 -EMSGSIZE);
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 0), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -EINVAL); /* to itself */
	so.flags = KONCE_SEND_RENDEZVOUS; /* no RETRANSMIT: not available */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -ENOTSUP);
	so.flags = KONCE_SEND_RETRANSMIT; /* no route at all */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -EINVAL);
	so.flags = KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT; /* a hint, but no leave to use an address */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -EINVAL);
	so = (konce_send_opts){.flags = KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT}; /* no rendezvous here */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -EHOSTUNREACH);
	so = (konce_send_opts){.addr_hint = "not an address"};
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, &one, 1, &so, on_outcome, &o, w->f.now, NULL),
			 -EINVAL);
	konce_message notreq = {.is_request = 0};
	assert_int_equal(konce_nodecore_reply(w->f.c[0], &notreq, NULL, 0, w->f.now), -EINVAL);
	konce_message gone = {.is_request = 1, .conn_ = 12345};
	assert_int_equal(konce_nodecore_reply(w->f.c[0], &gone, NULL, 0, w->f.now), -ENOTCONN);
	assert_int_equal(konce_nodecore_handle(w->f.c[0], 7, on_app, NULL), -EINVAL); /* reserved class */
	assert_false(konce_nodecore_poll_event(w->f.c[0], &ev));
	run(w, w->f.now + 10000 * MS, NULL);
	assert_int_equal(o.calls, 0);
	assert_int_equal(konce_nodecore_npeers(w->f.c[0]), 0);
}

/* A framed buffer of len body bytes in c's memory, byte k being k * 31 + 7; *sum as on_app sums. */
static uint8_t *framed(konce_nodecore *c, size_t len, uint64_t *sum)
{
	uint8_t *b = konce_env_alloc_raw(konce_nodecore_env(c), KONCE_MSG_BODY + len);
	assert_non_null(b);
	memset(b, 0xee, KONCE_MSG_BODY); /* the core writes the header over it */
	*sum = 0;
	for (size_t k = 0; k < len; k++) {
		b[KONCE_MSG_BODY + k] = (uint8_t)(k * 31 + 7);
		*sum += (uint64_t)(uint8_t)(k * 31 + 7) * (k + 1);
	}
	return b;
}

/* konce_nodecore_send_framed: refused, the buffer stays the caller's; taken, in the INITIATE and
 * on an open session, the peer gets exactly its body (ASan and the leak check see the ownership). */
static void test_send_framed(void **state)
{
	struct world *w = *state;
	konce_nodecore *c = w->f.c[0];
	struct outcome o = {0};
	uint64_t sum;
	uint8_t *b = framed(c, 2, &sum);
	assert_int_equal(konce_nodecore_send_framed(c, pk_of(w, 1), APP, NULL, 0, NULL, on_outcome, &o, w->f.now, NULL),
			 -EINVAL);
	assert_int_equal(konce_nodecore_send_framed(c, pk_of(w, 1), APP, b, 2, NULL, on_outcome, &o, w->f.now, NULL),
			 -EHOSTUNREACH); /* no route: b is still ours */
	assert_int_equal(b[KONCE_MSG_BODY + 1], (uint8_t)(31 + 7));
	konce_env_free(konce_nodecore_env(c), b);
	assert_int_equal(konce_nodecore_known_load(c, pk_of(w, 1), &w->f.addr[1], NULL), 0);
	/* small, to a new peer: it rides in the INITIATE */
	b = framed(c, 2, &sum);
	assert_int_equal(konce_nodecore_send_framed(c, pk_of(w, 1), APP, b, 2, NULL, on_outcome, &o, w->f.now, NULL), 0);
	run(w, w->f.now + 5000 * MS, &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].last.len, 2);
	assert_int_equal(w->s[1].last_sum, sum);
	/* large, on the open session: the endpoint's send queue takes the buffer */
	memset(&o, 0, sizeof o);
	size_t len = 300000;
	b = framed(c, len, &sum);
	uint64_t h = 0;
	assert_int_equal(konce_nodecore_send_framed(c, pk_of(w, 1), APP, b, len, NULL, on_outcome, &o, w->f.now, &h), 0);
	assert_true(h != 0);
	run(w, w->f.now + 10000 * MS, &o);
	assert_int_equal(o.calls, 1);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[1].msgs, 2);
	assert_int_equal(w->s[1].last.len, len);
	assert_int_equal(w->s[1].last.klass, APP);
	assert_int_equal(w->s[1].last_sum, sum);
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
	req.addr_hint = konce_addr_str(&w->f.addr[1], hint);
	w->deaf = 1; /* nothing arrives: everything stays pending */
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)"q", 1, &req, on_outcome,
					     &o[0], w->f.now, NULL),
			 0);
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, big, sizeof big, &req, on_outcome, &o[1],
					     w->f.now, NULL),
			 0);
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, big, sizeof big, NULL, on_outcome, &o[2],
					     w->f.now, NULL),
			 0);
	/* a fourth to another key, failed by its 1 ms connect deadline and left unpolled */
	konce_identity *third;
	assert_int_equal(konce_identity_generate(&third, konce_env_default()), 0);
	konce_send_opts quick = {.addr_hint = "192.0.2.9:7807", .connect_timeout_ms = 1};
	assert_int_equal(konce_nodecore_send(w->f.c[0], konce_identity_public(third), APP, (const uint8_t *)"x", 1,
					     &quick, on_outcome, &o[3], w->f.now, NULL),
			 0);
	konce_identity_free(third);
	konce_nodecore_timer(w->f.c[0], w->f.now + 1000);
	konce_nodecore_stats st;
	konce_nodecore_stats_get(w->f.c[0], &st);
	assert_int_equal(st.pending, 4); /* three in the tables, one finished and queued */
	assert_int_equal(st.peers, 2); /* a failed deadline leaves the dial to the endpoint */
	konce_nodecore_fail_all(w->f.c[1], KONCE_REASON_LOCAL_CLOSE); /* nothing at B */
	konce_nodecore_free(w->f.c[0]);
	w->f.c[0] = NULL;
	konce_identity_free(w->f.id[0]);
	w->f.id[0] = NULL;
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
	assert_int_equal(konce_nodecore_known_load(w->f.c[0], pk_of(w, 1), &w->f.addr[1], NULL), 0);
	assert_int_equal(konce_nodecore_known_load_counts(w->f.c[0], pk_of(w, 1), 3, 1, 1234, 0), 0);
	assert_int_equal(konce_nodecore_known_info(w->f.c[0], pk_of(w, 1), &in), 0);
	assert_int_equal(in.handshakes, 3);
	assert_int_equal(in.failures, 1);
	assert_int_equal(in.last_seen, 1234);
	assert_false(in.seen_noted);
	uint64_t t0 = w->f.now;
	send_wait(w, 0, "hi", &o);
	assert_int_equal(o.outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w->s[0].hs_notes, 1);
	assert_int_equal(konce_nodecore_known_info(w->f.c[0], pk_of(w, 1), &in), 0);
	assert_int_equal(in.handshakes, 4);
	assert_int_equal(in.failures, 1);
	assert_int_equal(in.last_seen, 1234); /* as loaded; superseded by: */
	assert_true(in.seen_noted);
	assert_true(in.seen_us >= t0 && in.seen_us <= w->f.now);
	/* B was dialled by a stranger: nothing recorded, no counts */
	assert_int_equal(konce_nodecore_known_info(w->f.c[1], pk_of(w, 0), &in), -ENOENT);

	/* B goes away and stays silent: the next handshake fails and counts as a failure */
	konce_nodecore_close_all(w->f.c[1], w->f.now);
	run(w, w->f.now + 100 * MS, NULL);
	w->deaf = 1;
	memset(&o, 0, sizeof o);
	konce_send_opts so = {.connect_timeout_ms = 300};
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)"x", 1, &so, on_outcome,
					     &o, w->f.now, NULL),
			 0);
	run(w, w->f.now + 60000 * MS, NULL);
	assert_int_equal(o.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(w->s[0].hs_notes, 2); /* the failed one */
	assert_int_equal(konce_nodecore_known_info(w->f.c[0], pk_of(w, 1), &in), 0);
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
		cmocka_unit_test_setup_teardown(test_send_framed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_pendings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_counts_follow_notes, setup, teardown),
		cmocka_unit_test(test_path_mtu_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
