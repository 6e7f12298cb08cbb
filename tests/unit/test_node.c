/* test_node.c - three nodes in one process over real loopback UDP through libevent: handshakes,
 * requests and replies, plain messages, failures, and what the store remembers afterwards. */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "konce/konce.h"
#include "store/store.h"
#include "tests/unit/node_world.h"

struct world {
	struct event_base *base;
	char dir[64];
	konce_node *node[3];
	uint8_t pk[3][KONCE_KEY_BYTES];
	char addr[3][64];
	int outstanding;
	int in_call; /* set while konce_node_send runs: a callback then is a bug */
	int store_errors, store_recovered; /* log lines of the store worker's health */
};

struct result {
	struct world *w;
	int done, outcome, reason;
	char data[64];
};

static void quiet(void *ctx, int level, const char *line)
{
	struct world *w = ctx;
	if (w && strstr(line, "cannot write queued records"))
		w->store_errors++;
	if (w && strstr(line, "presence store writable again"))
		w->store_recovered++;
	node_log_show(level, line);
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct result *r = ctx;
	assert_false(r->w->in_call);
	assert_int_equal(r->done, 0); /* exactly one outcome */
	r->done = 1;
	r->outcome = outcome;
	r->reason = reason;
	snprintf(r->data, sizeof(r->data), "%.*s", (int)len, (const char *)data);
	if (--r->w->outstanding == 0)
		event_base_loopbreak(r->w->base);
}

/* Class 300: reply with "<name>:<request>" */
static void on_request(void *ctx, konce_node *node, const konce_message *m)
{
	char out[128];
	int n = snprintf(out, sizeof(out), "%s:%.*s", (const char *)ctx, (int)m->len, (const char *)m->data);
	if (m->is_request)
		assert_int_equal(konce_node_reply(node, m, (const uint8_t *)out, (size_t)n), 0);
	else
		assert_int_equal(konce_node_reply(node, m, (const uint8_t *)out, (size_t)n), -EINVAL);
}

static int send_msg(struct world *w, int from, int to, uint16_t klass, const char *text, int request, const char *hint,
		struct result *r)
{
	konce_send_opts o = {.expect_reply = request, .addr_hint = hint, .connect_timeout_ms = 3000};
	r->w = w;
	w->in_call = 1;
	int e = konce_node_send(w->node[from], w->pk[to], klass, (const uint8_t *)text, strlen(text), &o, on_outcome, r,
				NULL);
	w->in_call = 0;
	if (e == 0)
		w->outstanding++;
	return e;
}

static void run(struct world *w)
{
	struct timeval limit = {15, 0};
	event_base_loopexit(w->base, &limit); /* a hang fails below instead of blocking the suite */
	event_base_dispatch(w->base);
	assert_int_equal(w->outstanding, 0);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[512], path[128];
	static const char *names[3] = {"a", "b", "c"};
	if (!w->base && !(w->base = event_base_new()))
		return -1;
	if (node_dir_make(w->dir, sizeof w->dir, "node"))
		return -1;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->dir, names[i]);
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = quiet, .log_ctx = w,
					 .log_level = KONCE_LOG_DEBUG};
		if (konce_node_new(&w->node[i], w->base, &cfg, err, sizeof(err))) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return -1;
		}
		konce_node_public_key(w->node[i], w->pk[i]);
		konce_node_listen_addr(w->node[i], w->addr[i], sizeof(w->addr[i]));
		konce_node_handle(w->node[i], 300, on_request, (void *)names[i]);
	}
	/* The three are each other's contacts: each knows the others' keys and sends to them by key
	 * (as a petname or konce.conf identity_master makes a key), so each shows the others its
	 * master key.  test_per_server_stranger drops that for one pair. */
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j && konce_node_peer_conf(w->node[i], w->pk[j], KONCE_IDENTITY_MASTER, NULL))
				return -1;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	int rc = node_world_free(w->node, 3, w->base, w->dir);
	free(w);
	return rc;
}

static void test_three_nodes_exchange(void **state)
{
	struct world *w = *state;
	struct result r[6] = {0};
	char path[128];
	struct stat sb;

	/* identity files were generated, owner-only */
	snprintf(path, sizeof(path), "%s/a/identity.key", w->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* every pair, both directions, as requests carried in the INITIATE */
	assert_int_equal(send_msg(w, 0, 1, 300, "hello b", 1, w->addr[1], &r[0]), 0);
	assert_int_equal(send_msg(w, 1, 2, 300, "hello c", 1, w->addr[2], &r[1]), 0);
	assert_int_equal(send_msg(w, 2, 0, 300, "hello a", 1, w->addr[0], &r[2]), 0);
	run(w);
	assert_int_equal(r[0].outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r[0].data, "b:hello b");
	assert_string_equal(r[1].data, "c:hello c");
	assert_string_equal(r[2].data, "a:hello a");

	/* established sessions: no hint needed, in either direction */
	assert_int_equal(send_msg(w, 1, 0, 300, "again", 1, NULL, &r[3]), 0);
	assert_int_equal(send_msg(w, 0, 1, 1 /* KONCE_CLASS_ECHO */, "echo me", 1, NULL, &r[4]), 0);
	/* a plain message on a live session: delivered once the peer acknowledged it */
	assert_int_equal(send_msg(w, 0, 2, 300, "fire and forget", 0, NULL, &r[5]), 0);
	run(w);
	assert_string_equal(r[3].data, "a:again");
	assert_int_equal(r[4].outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r[4].data, "echo me");
	assert_int_equal(r[5].outcome, KONCE_OUTCOME_DELIVERED);
}

static void test_first_plain_message_delivered(void **state)
{
	struct world *w = *state;
	struct result r = {0};
	/* a plain message that rides in the INITIATE is known delivered when the ACCEPT arrives */
	assert_int_equal(send_msg(w, 0, 1, 300, "first", 0, w->addr[1], &r), 0);
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_DELIVERED);
}

/* Class 301: counts what arrives */
static void on_count(void *ctx, konce_node *node, const konce_message *m)
{
	(void)node;
	(void)m;
	++*(int *)ctx;
}

/* Two nodes send each other their first message at the same moment: a simultaneous open, one
 * session.  The higher key's first message leaves in its ACCEPT (not its INITIATE) and must be
 * reported only once acked (a plain one) or answered (a request); each arrives exactly once. */
static void test_simultaneous_first_messages(void **state)
{
	struct world *w = *state;
	struct result r[4] = {0};
	int got[3] = {0};
	for (int i = 0; i < 3; i++)
		konce_node_handle(w->node[i], 301, on_count, &got[i]);
	assert_int_equal(send_msg(w, 0, 1, 301, "plain a", 0, w->addr[1], &r[0]), 0);
	assert_int_equal(send_msg(w, 1, 0, 300, "request b", 1, w->addr[0], &r[1]), 0);
	assert_int_equal(send_msg(w, 2, 0, 301, "plain c", 0, w->addr[0], &r[2]), 0);
	assert_int_equal(send_msg(w, 0, 2, 300, "request a", 1, w->addr[2], &r[3]), 0);
	run(w);
	assert_int_equal(r[0].outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(r[1].outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r[1].data, "a:request b");
	assert_int_equal(r[2].outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(r[3].outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r[3].data, "c:request a");
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 0);
}

static void test_failures(void **state)
{
	struct world *w = *state;
	struct result r[3] = {0};
	uint8_t stranger[KONCE_KEY_BYTES];

	/* too large: refused at once, no callback ever */
	r[0].w = w;
	konce_send_opts big_o = {.addr_hint = w->addr[1]};
	static const uint8_t one = 1;
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 300, &one, (size_t)KONCE_MESSAGE_MAX + 1, &big_o,
					 on_outcome, &r[0], NULL), -EMSGSIZE);
	/* flags not available yet are refused, not ignored */
	big_o.flags = KONCE_SEND_RENDEZVOUS; /* no RETRANSMIT */
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 300, &one, 1, &big_o, on_outcome, &r[0], NULL), -ENOTSUP);
	big_o.flags = KONCE_SEND_DIRECT | KONCE_SEND_RETRANSMIT | KONCE_SEND_STORE_FORWARD;
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 300, &one, 1, &big_o, on_outcome, &r[0], NULL), -ENOTSUP);
	/* a hint without leave to use an address; a node with no rendezvous cannot introduce */
	big_o.flags = KONCE_SEND_RENDEZVOUS | KONCE_SEND_RETRANSMIT;
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 300, &one, 1, &big_o, on_outcome, &r[0], NULL), -EINVAL);
	big_o.addr_hint = NULL;
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 300, &one, 1, &big_o, on_outcome, &r[0], NULL),
			 -EHOSTUNREACH);
	assert_int_equal(r[0].done, 0);
	/* no address for an unknown key */
	memset(stranger, 7, sizeof(stranger));
	konce_send_opts o = {0};
	assert_int_equal(konce_node_send(w->node[0], stranger, 300, (const uint8_t *)"x", 1, &o, on_outcome, &r[1], NULL),
			 -EHOSTUNREACH);
	/* sending to oneself */
	assert_int_equal(send_msg(w, 0, 0, 300, "me", 1, w->addr[0], &r[1]), -EINVAL);
	/* nobody listens there: fails as unreachable after the connect timeout */
	o = (konce_send_opts){.expect_reply = 1, .addr_hint = "127.0.0.1:9", .connect_timeout_ms = 300};
	r[2].w = w;
	assert_int_equal(konce_node_send(w->node[0], stranger, 300, (const uint8_t *)"x", 1, &o, on_outcome, &r[2], NULL), 0);
	w->outstanding++;
	run(w);
	assert_int_equal(r[2].outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(r[2].reason, KONCE_REASON_UNREACHABLE);
	/* a request to a class nobody handles times out (short lifetime) */
	struct result t = {0};
	konce_send_opts o2 = {.expect_reply = 1, .addr_hint = w->addr[1], .reply_lifetime_ms = 300};
	t.w = w;
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 999, (const uint8_t *)"?", 1, &o2, on_outcome, &t, NULL), 0);
	w->outstanding++;
	run(w);
	assert_int_equal(t.outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(t.reason, KONCE_REASON_TIMED_OUT);
	/* reserved classes cannot be taken by applications */
	assert_int_equal(konce_node_handle(w->node[0], 1, on_request, NULL), -EINVAL);
	/* the sends that failed were never reported, although the loop has run since */
	assert_int_equal(r[0].done, 0);
	assert_int_equal(r[1].done, 0);
}

/* Class 301: reply with the length and a checksum of what arrived */
static void on_sum(void *ctx, konce_node *node, const konce_message *m)
{
	char out[64];
	uint32_t sum = 0;
	(void)ctx;
	for (size_t i = 0; i < m->len; i++)
		sum = sum * 31 + m->data[i];
	int n = snprintf(out, sizeof(out), "%zu:%u", m->len, sum);
	if (m->is_request)
		assert_int_equal(konce_node_reply(node, m, (const uint8_t *)out, (size_t)n), 0);
}

static void test_large_messages(void **state)
{
	struct world *w = *state;
	struct result r[3] = {0};
	size_t len = 3 * 1024 * 1024 + 7;
	uint8_t *big = malloc(len);
	uint32_t sum = 0;
	char want[64];
	for (size_t i = 0; i < len; i++) {
		big[i] = (uint8_t)(i * 7 + (i >> 11));
		sum = sum * 31 + big[i];
	}
	snprintf(want, sizeof(want), "%zu:%u", len, sum);
	konce_node_handle(w->node[1], 301, on_sum, NULL);
	/* a 3 MiB request over a new session, and a background-class one beside it */
	konce_send_opts o = {.expect_reply = 1, .addr_hint = w->addr[1], .reply_lifetime_ms = 12000};
	uint64_t h = 0;
	for (int i = 0; i < 2; i++) {
		r[i].w = w;
		o.background = i;
		assert_int_equal(konce_node_send(w->node[0], w->pk[1], 301, big, len, &o, on_outcome, &r[i], &h), 0);
		w->outstanding++;
		assert_true(h != 0);
	}
	/* the outcome of a queued message has an estimate (ms from now) */
	assert_true(konce_node_outcome_eta(w->node[0], h) >= 0);
	assert_int_equal(konce_node_outcome_eta(w->node[0], 12345), -ENOENT);
	/* and a plain 1 MiB message, delivered when acknowledged in full */
	r[2].w = w;
	konce_send_opts p = {0};
	assert_int_equal(konce_node_send(w->node[0], w->pk[1], 301, big, 1 << 20, &p, on_outcome, &r[2], NULL), 0);
	w->outstanding++;
	run(w);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r[i].outcome, KONCE_OUTCOME_REPLIED);
		assert_string_equal(r[i].data, want);
	}
	assert_int_equal(r[2].outcome, KONCE_OUTCOME_DELIVERED);
	assert_int_equal(konce_node_outcome_eta(w->node[0], h), -ENOENT);
	free(big);
}

/* Regression: the built-in echo answered any body, up to 16 MiB, into an
 * unbounded send queue.  Now a body above KONCE_ECHO_MAX gets no answer (the request times out),
 * while a small one is still echoed. */
static void test_echo_capped(void **state)
{
	struct world *w = *state;
	struct result r[2] = {0};
	size_t len = KONCE_ECHO_MAX + 1;
	uint8_t *big = calloc(1, len);
	konce_send_opts o = {.expect_reply = 1, .addr_hint = w->addr[1], .reply_lifetime_ms = 1500};
	for (int i = 0; i < 2; i++) {
		r[i].w = w;
		assert_int_equal(konce_node_send(w->node[0], w->pk[1], 1, big, i ? 64 : len, &o, on_outcome, &r[i], NULL), 0);
		w->outstanding++;
	}
	run(w);
	assert_int_equal(r[0].outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(r[1].outcome, KONCE_OUTCOME_REPLIED);
	free(big);
}

struct peer_events {
	int up, down, path;
	uint8_t last[KONCE_KEY_BYTES];
	char addr[64];
};

static void on_peer(void *ctx, int event, const uint8_t pk[KONCE_KEY_BYTES], const char *addr)
{
	struct peer_events *pe = ctx;
	pe->up += event == KONCE_PEER_UP;
	pe->down += event == KONCE_PEER_DOWN;
	pe->path += event == KONCE_PEER_PATH;
	memcpy(pe->last, pk, KONCE_KEY_BYTES);
	snprintf(pe->addr, sizeof(pe->addr), "%s", addr);
}

static void test_peer_events_and_introspection(void **state)
{
	struct world *w = *state;
	struct result r = {0};
	struct peer_events pe = {0};
	konce_peer_info info[4];
	konce_node_stats st;

	assert_int_equal(konce_node_on_peer(w->node[1], on_peer, &pe), 0);
	assert_int_equal(konce_node_peers(w->node[1], info, 4), 0);
	assert_int_equal(send_msg(w, 0, 1, 300, "hi", 1, w->addr[1], &r), 0);
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_REPLIED);
	/* B saw A come up, from A's address */
	assert_int_equal(pe.up, 1);
	assert_memory_equal(pe.last, w->pk[0], KONCE_KEY_BYTES);
	assert_string_equal(pe.addr, w->addr[0]);
	assert_int_equal(konce_node_peers(w->node[1], info, 4), 1);
	assert_memory_equal(info[0].pk, w->pk[0], KONCE_KEY_BYTES);
	assert_true(info[0].up);
	assert_int_equal(info[0].msgs_rx, 1);
	assert_int_equal(info[0].msgs_tx, 1);
	/* A measured the round trip of its request */
	assert_int_equal(konce_node_peers(w->node[0], info, 0), 1); /* counts even when max is 0 */
	assert_int_equal(konce_node_peers(w->node[0], info, 4), 1);
	assert_true(info[0].rtt_us > 0);
	konce_node_get_stats(w->node[1], &st);
	assert_int_equal(st.peers_active, 1);
	assert_int_equal(st.handshakes_in, 1);
	assert_int_equal(st.msgs_rx, 1);
	assert_int_equal(st.forged_dropped, 0);
	/* A's node goes away: B hears the CLOSE and reports the peer down */
	assert_int_equal(konce_node_free(w->node[0]), 0);
	w->node[0] = NULL;
	struct timeval tv = {0, 200000};
	event_base_loopexit(w->base, &tv);
	event_base_dispatch(w->base);
	assert_int_equal(pe.down, 1);
	assert_int_equal(konce_node_peers(w->node[1], info, 4), 0);
}

/* The daemon's default: A dials B, which is no contact of A's, and shows B a key derived for B
 * alone.  B sees that key come up, never A's master key: B cannot reach A's master key over the
 * session, but the key it saw works both ways while the session lives.  Each side's peer info says
 * which of its keys the session runs under. */
static void test_per_server_stranger(void **state)
{
	struct world *w = *state;
	struct result r = {0}, rb = {0};
	struct peer_events pe = {0};
	konce_peer_info info[4];
	assert_int_equal(konce_node_peer_conf(w->node[0], w->pk[1], KONCE_IDENTITY_DEFAULT, NULL), 0);
	assert_int_equal(konce_node_peer_conf(w->node[0], w->pk[1], 3, NULL), -EINVAL);
	assert_int_equal(konce_node_on_peer(w->node[1], on_peer, &pe), 0);
	assert_int_equal(send_msg(w, 0, 1, 300, "who am I", 1, w->addr[1], &r), 0);
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_REPLIED);
	assert_int_equal(pe.up, 1);
	assert_memory_not_equal(pe.last, w->pk[0], KONCE_KEY_BYTES);
	assert_int_equal(konce_node_peers(w->node[0], info, 4), 1);
	assert_int_equal(info[0].identity, KONCE_IDENTITY_PER_SERVER);
	assert_memory_equal(info[0].local_pk, pe.last, KONCE_KEY_BYTES);
	assert_int_equal(konce_node_peers(w->node[1], info, 4), 1);
	assert_memory_equal(info[0].pk, pe.last, KONCE_KEY_BYTES);
	assert_int_equal(info[0].identity, KONCE_IDENTITY_MASTER); /* incoming: the key A dialled */
	assert_memory_equal(info[0].local_pk, w->pk[1], KONCE_KEY_BYTES);
	/* B has nothing under A's master key; the key it saw reaches A over A's session */
	konce_send_opts o = {.expect_reply = 1};
	assert_int_equal(
	    konce_node_send(w->node[1], w->pk[0], 300, (const uint8_t *)"x", 1, &o, on_outcome, &rb, NULL),
	    -EHOSTUNREACH);
	rb.w = w;
	assert_int_equal(
	    konce_node_send(w->node[1], pe.last, 300, (const uint8_t *)"back", 4, &o, on_outcome, &rb, NULL), 0);
	w->outstanding++;
	run(w);
	assert_int_equal(rb.outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(rb.data, "a:back");
}

/* A dials B and B answers; C dials B and B then sends C a message of its own.  A remembers B (it
 * dialled B); B remembers C (a message of B's reached C: a trust signal) but not A, a stranger that
 * only dialled it (every incoming handshake used to write a row). */
static void test_store_remembers(void **state)
{
	struct world *w = *state;
	struct result r = {0}, rc = {0}, rb = {0};
	char path[128], err[512];
	assert_int_equal(send_msg(w, 0, 1, 300, "remember me", 1, w->addr[1], &r), 0);
	assert_int_equal(send_msg(w, 2, 1, 300, "and me", 1, w->addr[1], &rc), 0);
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_REPLIED);
	assert_int_equal(rc.outcome, KONCE_OUTCOME_REPLIED);
	assert_int_equal(send_msg(w, 1, 2, 300, "hello C", 0, NULL, &rb), 0);
	run(w);
	assert_int_equal(rb.outcome, KONCE_OUTCOME_DELIVERED);
	/* freeing flushes the store */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(konce_node_free(w->node[i]), 0);
		w->node[i] = NULL;
	}
	konce_store *st;
	konce_peer_rec rec;
	snprintf(path, sizeof(path), "%s/b/peers.db", w->dir);
	assert_int_equal(konce_store_open(&st, path, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_get(st, w->pk[0], &rec), -ENOENT);
	assert_int_equal(konce_store_peer_get(st, w->pk[2], &rec), 0);
	assert_int_equal(rec.handshakes, 1);
	konce_store_close(st, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/a/peers.db", w->dir);
	assert_int_equal(konce_store_open(&st, path, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_get(st, w->pk[1], &rec), 0);
	assert_int_equal(rec.handshakes, 1);
	konce_store_addr a;
	assert_int_equal(konce_store_addrs(st, w->pk[1], &a, 1), 1);
	char as[KONCE_ADDR_STRLEN];
	assert_string_equal(konce_addr_str(&a.addr, as), w->addr[1]);
	konce_store_close(st, err, sizeof(err));
}

/* The store worker (node/io/node_storew.c) against a store another process holds locked: the node
 * keeps serving messages, says once that the store is failing, writes everything once the lock is
 * gone, and loses nothing. */
static void test_store_locked(void **state)
{
	struct world *w = *state;
	struct result r = {0};
	char path[128], err[512];
	sqlite3 *db;
	snprintf(path, sizeof(path), "%s/b/peers.db", w->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK); /* the write lock */
	/* B dials C: a trust signal, so B's store must record C */
	assert_int_equal(send_msg(w, 1, 2, 300, "while locked", 1, w->addr[2], &r), 0);
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r.data, "c:while locked");
	node_run_for(w->base, 4000); /* a flush waits out the 2 s busy timeout and fails; the 1 s tick reports it */
	assert_int_equal(w->store_errors, 1); /* once per failing spell */
	assert_int_equal(w->store_recovered, 0);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	node_run_for(w->base, 4000);
	assert_int_equal(w->store_recovered, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(konce_node_free(w->node[i]), 0);
		w->node[i] = NULL;
	}
	konce_store *st;
	konce_peer_rec rec;
	assert_int_equal(konce_store_open(&st, path, 0, err, sizeof(err)), 0);
	assert_int_equal(konce_store_peer_get(st, w->pk[2], &rec), 0);
	assert_int_equal(rec.handshakes, 1);
	konce_store_close(st, err, sizeof(err));
}

/* Regression: a data directory others can write to (and so replace the
 * identity or the store in) is refused, as a loose key file is. */
static void test_data_dir_mode(void **state)
{
	struct world *w = *state;
	char path[128], err[512];
	konce_node *n = NULL;
	snprintf(path, sizeof(path), "%s/loose", w->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0777), 0);
	konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = quiet};
	assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "writable"));
	assert_int_equal(chmod(path, 0775), 0);
	assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), -EPERM);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), 0);
	konce_node_free(n);
}

/* Regression: a control client still connected when its node is freed is closed with the node
 * (it sees EOF), and its connection closing afterwards touches nothing of the freed node.  Before,
 * the connection stayed open and its close wrote into the freed control socket's state. */
static void test_control_client_outlives_node(void **state)
{
	struct world *w = *state;
	char path[160], err[512], buf[64];
	konce_node *n = NULL;
	snprintf(path, sizeof(path), "%s/ctl.sock", w->dir);
	konce_node_config cfg = {.data_dir = w->dir, .listen = "127.0.0.1:0", .control_path = path, .log = quiet};
	assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	const char *req = "{\"cmd\":\"status\"}\n";
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	for (int i = 0; i < 5000 && poll(&pfd, 1, 0) == 0; i++) { /* accepted and answered */
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	konce_node_free(n);
	event_base_loop(w->base, EVLOOP_NONBLOCK); /* libevent closes a freed bufferevent's socket here */
	for (int i = 0; i < 100 && poll(&pfd, 1, 50) == 1 && read(fd, buf, sizeof(buf)) > 0; i++)
		; /* the rest of the answer, then EOF */
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

static void never_handler(void *ctx, konce_node *node, const konce_message *m)
{
	(void)ctx, (void)node, (void)m;
	fail_msg("a handler whose registration failed was called");
}

static void never_peer(void *ctx, int event, const uint8_t pk[KONCE_KEY_BYTES], const char *addr)
{
	(void)ctx, (void)event, (void)pk, (void)addr;
	fail_msg("a peer callback whose registration failed was called");
}

static void count_log(void *ctx, int level, const char *line)
{
	(void)level, (void)line;
	(*(int *)ctx)++;
}

/* A call that fails never invokes the callback it was given, then or later (konce.h): a refused
 * handler registration sees no message of its class, and a node whose configuration is refused
 * leaves nothing behind that could log later. */
static void test_failed_calls_call_nothing(void **state)
{
	struct world *w = *state;
	struct result r = {.w = w};
	char path[128], err[512];
	int logged = 0;

	assert_int_equal(konce_node_handle(w->node[0], 1, never_handler, NULL), -EINVAL); /* reserved class */
	assert_int_equal(konce_node_handle(NULL, 300, never_handler, NULL), -EINVAL);
	assert_int_equal(konce_node_on_peer(NULL, never_peer, NULL), -EINVAL);
	/* class 1 traffic to node 0 reaches konce's own echo, never the refused handler */
	konce_send_opts o = {.expect_reply = 1, .addr_hint = w->addr[0]};
	assert_int_equal(konce_node_send(w->node[1], w->pk[0], 1, (const uint8_t *)"echo", 4, &o, on_outcome, &r, NULL), 0);
	w->outstanding++;
	run(w);
	assert_int_equal(r.outcome, KONCE_OUTCOME_REPLIED);
	assert_string_equal(r.data, "echo");

	/* a bad traversal field refuses the whole node */
	static const konce_traversal_config bad[] = {
		{.rendezvous_peers = "nokey@1.2.3.4:5"},
		{.rendezvous = 1, .lifetime = "sometimes"},
		{.rendezvous = 1, .rendezvous_capacity = (1u << 20) + 1},
	};
	snprintf(path, sizeof(path), "%s/trav", w->dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		konce_node *n = (konce_node *)&logged; /* overwritten with NULL on failure */
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = count_log, .log_ctx = &logged,
					 .log_level = KONCE_LOG_DEBUG, .traversal = bad[i]};
		err[0] = '\0';
		assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), -EINVAL);
		assert_null(n);
		assert_true(err[0] != '\0');
		if (i == 0)
			assert_non_null(strstr(err, "'nokey' is not KEY@IP:PORT"));
	}
	int before = logged;
	struct timeval t = {0, 200000};
	event_base_loopexit(w->base, &t);
	event_base_dispatch(w->base);
	assert_int_equal(logged, before);
	/* and a good one starts traversal with the node */
	konce_node *n = NULL;
	konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = quiet,
				 .traversal = {.rendezvous = 1, .lifetime = "off"}};
	assert_int_equal(konce_node_new(&n, w->base, &cfg, err, sizeof(err)), 0);
	assert_non_null(n);
	konce_node_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_three_nodes_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_plain_message_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_first_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_server_stranger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_remembers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_events_and_introspection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_dir_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_calls_call_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_client_outlives_node, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
