/* test_ctlproto.c - the control protocol (node/ctl/ctlproto.h) driven directly, without a socket:
 * request lines in, JSON lines out.  Two real nodes share one event loop over loopback UDP, so the
 * requests that wait for the network (ping, send) complete for real.  Covers the refusals (bad JSON,
 * wrong types, out-of-range fields, an oversized request), status, alias and peers, groups, a
 * pending ping, a send's progress lines, a file's send (read off the loop) and an op whose client
 * went away; that status and peers answer from the node core's known set, not from SQLite; and that
 * an alias waits for a locked store on the store writer's thread while the loop goes on. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "node/io/node_int.h"
#include "node/transport/keytext.h"
#include "tests/unit/node_world.h"

struct sink {
	int lines, finals;
	json_t *last;     /* the last line, parsed */
	json_t *progress; /* the last progress line's "progress" */
};

struct world {
	struct event_base *base;
	char dir[64];
	konce_node *a, *b;
	konce_ctlproto_host host; /* a's */
	char bkey[KONCE_KEY_TEXT_LEN + 1], baddr[64];
	struct sink *wait; /* the loop stops at this sink's response line */
} W;

static void quiet(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (level <= KONCE_LOG_WARN)
		fprintf(stderr, "  node log: %s\n", line);
}

static void out(void *octx, const char *line, size_t len, bool final)
{
	struct sink *s = octx;
	json_error_t je;
	assert_non_null(line);
	assert_int_equal(strlen(line), len); /* one line: no NUL, and the caller adds the newline */
	assert_null(memchr(line, '\n', len));
	json_t *r = json_loadb(line, len, 0, &je);
	assert_true(json_is_object(r));
	assert_int_equal(s->finals, 0); /* nothing after the response line */
	s->lines++;
	if (final) {
		s->finals++;
		json_decref(s->last);
		s->last = r;
		if (W.wait == s)
			event_base_loopbreak(W.base);
	} else {
		assert_null(json_object_get(r, "ok")); /* a progress line is not a response */
		json_decref(s->progress);
		s->progress = json_incref(json_object_get(r, "progress"));
		assert_true(json_is_object(s->progress));
		json_decref(r);
	}
}

static void sink_clear(struct sink *s)
{
	json_decref(s->last);
	json_decref(s->progress);
	memset(s, 0, sizeof(*s));
}

/* A request answered at once: its one response line. */
static json_t *ask(struct sink *s, const char *line)
{
	konce_ctlproto_op *op = (konce_ctlproto_op *)1;
	sink_clear(s);
	node_ctl_host(W.a, &W.host);
	assert_int_equal(konce_ctlproto_handle(&W.host, line, out, s, &op), KONCE_CTLPROTO_DONE);
	assert_null(op);
	assert_int_equal(s->finals, 1);
	assert_int_equal(s->lines, 1);
	return s->last;
}

/* A refusal: ok false, the errno name, and a message containing want. */
static void refused(const char *line, const char *errname, const char *want)
{
	struct sink s = {0};
	json_t *r = ask(&s, line);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "errno")), errname);
	const char *msg = json_string_value(json_object_get(r, "error"));
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("'%s' does not say '%s'", msg, want);
	sink_clear(&s);
}

static konce_ctlproto_op *start(struct sink *s, const char *line)
{
	konce_ctlproto_op *op = NULL;
	sink_clear(s);
	assert_int_equal(konce_ctlproto_handle(&W.host, line, out, s, &op), KONCE_CTLPROTO_PENDING);
	assert_non_null(op);
	assert_int_equal(s->lines, 0); /* the answer waits for the network */
	return op;
}

static void time_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(W.base);
}

static void wait_for(struct sink *s)
{
	/* a hang fails below instead of blocking the suite; the limit is an event of its own, gone
	 * afterwards (a loopexit would outlive this wait and cut a later one short) */
	struct timeval limit = {15, 0};
	struct event *t = evtimer_new(W.base, time_up, NULL);
	assert_non_null(t);
	assert_int_equal(evtimer_add(t, &limit), 0);
	W.wait = s;
	event_base_dispatch(W.base);
	W.wait = NULL;
	event_free(t);
	assert_int_equal(s->finals, 1);
}

static int setup(void **state)
{
	char err[512], path[128];
	uint8_t pk[KONCE_KEY_BYTES];
	(void)state;
	if (!(W.base = event_base_new()) || node_dir_make(W.dir, sizeof W.dir, "ctlproto"))
		return -1;
	konce_node **nodes[2] = {&W.a, &W.b};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%c", W.dir, "ab"[i]);
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = quiet,
					 .log_level = KONCE_LOG_WARN};
		if (konce_node_new(nodes[i], W.base, &cfg, err, sizeof(err))) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return -1;
		}
	}
	konce_node_public_key(W.b, pk);
	konce_key_to_text(W.bkey, pk);
	konce_node_listen_addr(W.b, W.baddr, sizeof(W.baddr));
	node_ctl_host(W.a, &W.host);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	konce_node_free(W.a);
	konce_node_free(W.b);
	event_base_free(W.base);
	return node_dir_remove(W.dir) == 0 ? 0 : -1;
}

static void test_refusals(void **state)
{
	char line[512];
	(void)state;
	refused("{\"cmd\": \"status\"", "EINVAL", "request is not a JSON object");
	refused("[\"status\"]", "EINVAL", "wrong type");
	refused("\"status\"", "EINVAL", "request is not a JSON object");
	refused("{}", "EINVAL", "no \"cmd\"");
	refused("{\"cmd\": 5}", "EINVAL", "no \"cmd\"");
	refused("{\"cmd\": \"reboot\"}", "EINVAL", "unknown command 'reboot'");
	refused("{\"cmd\": \"group.nothing\"}", "EINVAL", "needs \"group\"");
	/* group.join's timeout: whole seconds, 1 .. KONCE_GROUP_JOIN_TIMEOUT_MAX, checked before the token */
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": 0}", "EINVAL", "whole seconds, 1 to 86400");
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": -5}", "EINVAL", "whole seconds");
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": 86401}", "EINVAL", "whole seconds");
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": \"10\"}", "EINVAL", "whole seconds");
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": 1.5}", "EINVAL", "whole seconds");
	refused("{\"cmd\": \"group.join\", \"token\": \"t\", \"timeout\": 10}", "EINVAL", "not a valid invitation token");
	refused("{\"cmd\": \"send\", \"text\": \"x\"}", "EINVAL", "missing \"peer\"");
	refused("{\"cmd\": \"send\", \"peer\": 7, \"text\": \"x\"}", "EINVAL", "missing \"peer\"");
	refused("{\"cmd\": \"send\", \"peer\": \"nobody\", \"text\": \"x\"}", "ENOENT", "nor a known petname");
	refused("{\"cmd\": \"alias\", \"peer\": \"short\", \"name\": \"x\"}", "EINVAL", "public key");
	char own[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(own, W.host.pk);
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\"}", own);
	refused(line, "EINVAL", "own key");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"text\": \"x\", \"progress_ms\": 50}", W.bkey);
	refused(line, "EINVAL", "\"progress_ms\" is for send, from 100 to 60000");
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\", \"progress_ms\": 500}", W.bkey);
	refused(line, "EINVAL", "\"progress_ms\" is for send");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"text\": \"x\", \"background\": 1}", W.bkey);
	refused(line, "EINVAL", "\"background\" is true or false");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"identity\": \"mine\"}", W.bkey);
	refused(line, "EINVAL", "\"identity\" is \"master\" or \"per-server\"");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"group\": 3}", W.bkey);
	refused(line, "EINVAL", "\"group\" is not a key's text");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\"}", W.bkey);
	refused(line, "EINVAL", "missing \"text\" or \"file\"");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"file\": \"%s/none\"}", W.bkey, W.dir);
	refused(line, "ENOENT", "No such file");
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"file\": \"%s\"}", W.bkey, W.dir);
	refused(line, "EINVAL", "not a regular file");
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\", \"size\": %d}", W.bkey, KONCE_ECHO_MAX + 1);
	refused(line, "EMSGSIZE", "ping size must be");
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\", \"size\": -1}", W.bkey);
	refused(line, "EMSGSIZE", "ping size must be");
	/* a key with no address known, and none given: refused at once */
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"text\": \"x\"}", W.bkey);
	refused(line, "EHOSTUNREACH", "no address known");
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\", \"addr\": \"not an address\"}", W.bkey);
	refused(line, "EINVAL", "bad address 'not an address'");

	/* traversal is off on this node: "path" and "netcheck" say so (errno is a number here) */
	struct sink s = {0};
	json_t *r = ask(&s, "{\"cmd\": \"netcheck\"}");
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "errno")), ENOTSUP);
	sink_clear(&s);

	/* oversized: the plumbing sees no line end within the limit */
	konce_ctlproto_too_long(out, &s);
	assert_int_equal(s.finals, 1);
	assert_string_equal(json_string_value(json_object_get(s.last, "errno")), "EMSGSIZE");
	assert_non_null(strstr(json_string_value(json_object_get(s.last, "error")), "65536"));
	sink_clear(&s);
}

static void test_status(void **state)
{
	struct sink s = {0};
	char own[KONCE_KEY_TEXT_LEN + 1], listen[64];
	(void)state;
	json_t *r = ask(&s, "{\"cmd\": \"status\"}");
	konce_key_to_text(own, W.host.pk);
	konce_node_listen_addr(W.a, listen, sizeof(listen));
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "public_key")), own);
	assert_string_equal(json_string_value(json_object_get(r, "listen")), listen);
	assert_string_equal(json_string_value(json_object_get(r, "version")), KONCE_VERSION_STRING);
	assert_true(json_is_true(json_object_get(json_object_get(r, "store"), "ok")));
	assert_true(json_is_integer(json_object_get(json_object_get(r, "counters"), "rx_packets")));
	assert_true(json_is_integer(json_object_get(json_object_get(r, "counters"), "init_bad_pow")));
	assert_true(json_is_null(json_object_get(r, "traversal")));
	assert_true(json_is_array(json_object_get(json_object_get(r, "traffic"), "busiest")));
	assert_true(json_is_object(json_object_get(json_object_get(r, "memory"), "reassembly")));
	sink_clear(&s);
}

static void test_alias_peers_groups(void **state)
{
	struct sink s = {0};
	char line[256];
	(void)state;
	snprintf(line, sizeof(line), "{\"cmd\": \"alias\", \"peer\": \"%s\", \"name\": \"bob\"}", W.bkey);
	node_ctl_host(W.a, &W.host);
	start(&s, line); /* the write waits for the store writer's thread */
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	json_t *peers = json_object_get(ask(&s, "{\"cmd\": \"peers\"}"), "peers");
	int found = 0;
	for (size_t i = 0; i < json_array_size(peers); i++) {
		json_t *p = json_array_get(peers, i);
		if (!strcmp(json_string_value(json_object_get(p, "public_key")), W.bkey)) {
			found = 1;
			assert_string_equal(json_string_value(json_object_get(p, "petname")), "bob");
			assert_string_equal(json_string_value(json_object_get(p, "state")), "known");
		}
	}
	assert_true(found);
	json_t *r = ask(&s, "{\"cmd\": \"group.list\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_is_array(json_object_get(r, "groups")));
	r = ask(&s, "{\"cmd\": \"group.create\", \"name\": \"bad name!\"}");
	assert_string_equal(json_string_value(json_object_get(r, "errno")), "EINVAL");
	r = ask(&s, "{\"cmd\": \"group.members\", \"group\": \"none\"}");
	assert_string_equal(json_string_value(json_object_get(r, "errno")), "ENOENT");
	sink_clear(&s);
}

/* The known peers of "peers" and status's peers_known come from the core's copy of the store,
 * not from SQLite (docs/STORE.md): rows another connection writes into the node's peers.db behind
 * its back, seen more recently than anything (so the store would list them first) and named, show
 * in neither answer, while the keys the core knows do. */
static void test_peers_status_from_memory(void **state)
{
	enum { FOREIGN = 3 };
	struct sink s = {0};
	char path[128], sql[512], ftext[FOREIGN][KONCE_KEY_TEXT_LEN + 1];
	uint8_t fk[FOREIGN][KONCE_KEY_BYTES];
	sqlite3 *db;
	(void)state;
	snprintf(path, sizeof(path), "%s/a/peers.db", W.dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < FOREIGN; i++) {
		randombytes_buf(fk[i], sizeof fk[i]);
		konce_key_to_text(ftext[i], fk[i]);
		char hex[2 * KONCE_KEY_BYTES + 1];
		sodium_bin2hex(hex, sizeof hex, fk[i], sizeof fk[i]);
		snprintf(sql, sizeof(sql),
			 "INSERT INTO peers (pk, petname, first_seen, last_seen, handshakes) "
			 "VALUES (x'%s', 'foreign-%d', 4000000000, 4000000000, 9)",
			 hex, i);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM peers", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	json_int_t stored = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	unsigned known = konce_nodecore_known_count(W.host.core);
	assert_true(known >= 1); /* bob, named by the test above */
	json_t *r = ask(&s, "{\"cmd\": \"status\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "peers_known")), known);
	assert_true(stored >= FOREIGN && stored != (json_int_t)known); /* SQLite's count differs */
	json_t *peers = json_object_get(ask(&s, "{\"cmd\": \"peers\"}"), "peers");
	int bob = 0;
	for (size_t i = 0; i < json_array_size(peers); i++) {
		const char *k = json_string_value(json_object_get(json_array_get(peers, i), "public_key"));
		for (int j = 0; j < FOREIGN; j++)
			if (!strcmp(k, ftext[j]))
				fail_msg("peers listed %s, a row the core never saw: it read SQLite", k);
		bob += !strcmp(k, W.bkey);
	}
	assert_int_equal(bob, 1);
	/* and "limit" takes the first of the core's order: bob, the one known key */
	peers = json_object_get(ask(&s, "{\"cmd\": \"peers\", \"limit\": 1}"), "peers");
	assert_int_equal(json_array_size(peers), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(peers, 0), "public_key")), W.bkey);

	assert_int_equal(sqlite3_exec(db, "DELETE FROM peers WHERE petname LIKE 'foreign-%'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	sink_clear(&s);
}

/* A ping waits for the network, answers once, and the petname set above names the peer. */
static void test_ping_pending(void **state)
{
	struct sink s = {0};
	char line[256];
	(void)state;
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"bob\", \"addr\": \"%s\", \"size\": 100}", W.baddr);
	konce_ctlproto_op *op = start(&s, line);
	assert_int_equal(konce_ctlproto_op_progress_ms(op), 0);
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	assert_int_equal(json_integer_value(json_object_get(s.last, "bytes")), 100);
	assert_true(json_is_real(json_object_get(s.last, "rtt_ms")));
	/* the session shows at once with its petname and the handshake just made (the core's copy of
	 * the store, kept by the notes: no flush waited for) */
	json_t *peers = json_object_get(ask(&s, "{\"cmd\": \"peers\"}"), "peers");
	int found = 0;
	for (size_t i = 0; i < json_array_size(peers); i++) {
		json_t *p = json_array_get(peers, i);
		if (strcmp(json_string_value(json_object_get(p, "public_key")), W.bkey))
			continue;
		found++;
		assert_string_equal(json_string_value(json_object_get(p, "petname")), "bob");
		assert_string_equal(json_string_value(json_object_get(p, "state")), "up");
		assert_int_equal(json_integer_value(json_object_get(p, "handshakes")), 1);
		assert_int_equal(json_integer_value(json_object_get(p, "failures")), 0);
	}
	assert_int_equal(found, 1);
	sink_clear(&s);
}

/* A send that asked for progress: each call writes one progress line, then the response. */
static void test_send_progress(void **state)
{
	struct sink s = {0};
	char line[256];
	(void)state;
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"text\": \"hello\", \"progress_ms\": 100}",
		 W.bkey);
	konce_ctlproto_op *op = start(&s, line);
	assert_int_equal(konce_ctlproto_op_progress_ms(op), 100);
	konce_ctlproto_op_progress(op);
	assert_int_equal(s.lines, 1);
	assert_int_equal(s.finals, 0);
	assert_int_equal(json_integer_value(json_object_get(s.progress, "total_bytes")), 5);
	assert_true(json_integer_value(json_object_get(s.progress, "acked_bytes")) <= 5);
	assert_true(json_is_real(json_object_get(s.progress, "rate_bytes_per_s")));
	assert_true(json_is_integer(json_object_get(s.progress, "elapsed_ms")));
	assert_non_null(json_object_get(s.progress, "eta_ms"));
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	const char *o = json_string_value(json_object_get(s.last, "outcome"));
	assert_non_null(o);
	assert_true(!strcmp(o, "replied") || !strcmp(o, "delivered") || !strcmp(o, "unknown"));
	sink_clear(&s);
}

/* A file of n bytes in the world's directory; its path in path. */
static void make_file(char *path, size_t cap, const char *name, size_t n)
{
	snprintf(path, cap, "%s/%s", W.dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(fputc((int)(i * 7 % 251), f), EOF);
	assert_int_equal(fclose(f), 0);
}

/* send --file: the request is pending while the file is read off the loop (node/io/fileread.c: a
 * progress line then shows nothing acked of the file's size), then the send runs to its outcome.
 * A host without read_file refuses the file: it is never read on the loop.  A client that goes away
 * while its file is read gets nothing, and the op and its buffer are freed at the read's done
 * (ASan's leak check); a ping behind it on the same session completes. */
static void test_send_file(void **state)
{
	struct sink s = {0}, gone = {0};
	char line[512], path[128];
	(void)state;
	make_file(path, sizeof path, "file.bin", 300000);
	node_ctl_host(W.a, &W.host);
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"file\": \"%s\", \"progress_ms\": 100}",
		 W.bkey, path);
	konce_ctlproto_op *op = start(&s, line);
	konce_ctlproto_op_progress(op); /* still reading: nothing of the file is on its way */
	assert_int_equal(s.lines, 1);
	assert_int_equal(json_integer_value(json_object_get(s.progress, "total_bytes")), 300000);
	assert_int_equal(json_integer_value(json_object_get(s.progress, "acked_bytes")), 0);
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	const char *o = json_string_value(json_object_get(s.last, "outcome"));
	assert_non_null(o);
	assert_true(!strcmp(o, "replied") || !strcmp(o, "delivered"));
	sink_clear(&s);

	W.host.read_file = NULL; /* a host without a reader */
	sink_clear(&s);
	op = (konce_ctlproto_op *)1;
	assert_int_equal(konce_ctlproto_handle(&W.host, line, out, &s, &op), KONCE_CTLPROTO_DONE);
	assert_null(op);
	assert_true(json_is_false(json_object_get(s.last, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(s.last, "error")), "cannot read it off the loop"));
	sink_clear(&s);

	node_ctl_host(W.a, &W.host);
	snprintf(line, sizeof(line), "{\"cmd\": \"send\", \"peer\": \"%s\", \"file\": \"%s\"}", W.bkey, path);
	op = start(&gone, line);
	konce_ctlproto_op_abandon(op);
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\"}", W.bkey);
	start(&s, line);
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	assert_int_equal(gone.lines, 0);
	sink_clear(&s);
}

/* The client went away: its op writes nothing more (and frees itself at the outcome: ASan's leak
 * check).  A second ping on the same session, answered after the first, shows the first is over. */
static void test_abandon(void **state)
{
	struct sink gone = {0}, s = {0};
	char line[256];
	(void)state;
	snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\"}", W.bkey);
	konce_ctlproto_op *op = start(&gone, line);
	konce_ctlproto_op_abandon(op);
	konce_ctlproto_op_progress(op); /* a tick racing the close writes nothing */
	start(&s, line);
	wait_for(&s);
	assert_true(json_is_true(json_object_get(s.last, "ok")));
	assert_int_equal(gone.lines, 0);
	sink_clear(&s);
}

/* The loop never waits for SQLite: while another connection holds a's peers.db locked (BEGIN
 * EXCLUSIVE), an alias waits on the store writer's thread, and meanwhile status answers at once and
 * a ping completes; once the lock goes, the alias answers and the core's copy names the peer.  A
 * lock held past the writer's busy timeout (2 s) answers the alias with the store's error, and the
 * petname stays as it was. */
static void test_alias_store_locked(void **state)
{
	struct sink al = {0}, s = {0};
	char line[256], path[128];
	sqlite3 *db;
	(void)state;
	snprintf(path, sizeof(path), "%s/a/peers.db", W.dir);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
		snprintf(line, sizeof(line), "{\"cmd\": \"alias\", \"peer\": \"%s\", \"name\": \"%s\"}", W.bkey,
			 round ? "bobby" : "robert");
		node_ctl_host(W.a, &W.host);
		start(&al, line);
		json_t *st = ask(&s, "{\"cmd\": \"status\"}"); /* at once */
		assert_true(json_is_true(json_object_get(st, "ok")));
		snprintf(line, sizeof(line), "{\"cmd\": \"ping\", \"peer\": \"%s\"}", W.bkey);
		start(&s, line);
		wait_for(&s);
		assert_true(json_is_true(json_object_get(s.last, "ok")));
		assert_int_equal(al.lines, 0); /* the alias still waits for the lock */
		if (round == 0) {
			assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
			wait_for(&al);
			assert_true(json_is_true(json_object_get(al.last, "ok")));
		} else {
			wait_for(&al); /* the busy timeout runs out */
			assert_true(json_is_false(json_object_get(al.last, "ok")));
			const char *msg = json_string_value(json_object_get(al.last, "error"));
			assert_non_null(msg);
			assert_non_null(strstr(msg, "locked"));
			assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
		}
		sqlite3_close(db);
		json_t *peers = json_object_get(ask(&s, "{\"cmd\": \"peers\"}"), "peers");
		int found = 0;
		for (size_t i = 0; i < json_array_size(peers); i++) {
			json_t *p = json_array_get(peers, i);
			if (!strcmp(json_string_value(json_object_get(p, "public_key")), W.bkey)) {
				found++;
				assert_string_equal(json_string_value(json_object_get(p, "petname")), "robert");
			}
		}
		assert_int_equal(found, 1);
	}
	sink_clear(&al);
	sink_clear(&s);
}

/* group.create writes its row, and group.log reads its rows, on the store writer's thread: each
 * request waits, then answers (the log with the decisions delivered: here a 1-member group's, once
 * its record is durable); a group that is not here is refused at once.  group.join on node b, with
 * a's invitation, waits for its row the same way. */
static void test_group_log(void **state)
{
	struct sink s = {0};
	(void)state;
	/* (json_is_true evaluates its argument twice: each answer is kept first) */
	start(&s, "{\"cmd\": \"group.create\", \"name\": \"logs\"}"); /* its row is written on the writer */
	wait_for(&s);
	json_t *r = s.last;
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "group"), "name")), "logs");
	r = ask(&s, "{\"cmd\": \"group.create\", \"name\": \"logs\"}"); /* the core refuses it at once */
	assert_string_equal(json_string_value(json_object_get(r, "errno")), "EEXIST");
	r = ask(&s, "{\"cmd\": \"group.propose\", \"group\": \"logs\", \"text\": \"hello\"}");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_t *entries = NULL;
	for (int i = 0; i < 500; i++) {
		start(&s, "{\"cmd\": \"group.log\", \"group\": \"logs\"}");
		wait_for(&s);
		assert_true(json_is_true(json_object_get(s.last, "ok")));
		entries = json_object_get(s.last, "entries");
		if (json_array_size(entries))
			break;
		struct timeval tv = {0, 10000}; /* not decided yet: let the loop run */
		event_base_loopexit(W.base, &tv);
		event_base_dispatch(W.base);
	}
	assert_int_equal(json_array_size(entries), 1);
	json_t *e = json_array_get(entries, 0);
	assert_string_equal(json_string_value(json_object_get(e, "text")), "hello");
	assert_true(json_integer_value(json_object_get(e, "seq")) >= 1);
	assert_true(json_is_false(json_object_get(s.last, "more")));
	r = ask(&s, "{\"cmd\": \"group.log\", \"group\": \"none\"}");
	assert_string_equal(json_string_value(json_object_get(r, "errno")), "ENOENT");

	r = ask(&s, "{\"cmd\": \"group.invite\", \"group\": \"logs\"}");
	const char *tok = json_string_value(json_object_get(r, "token"));
	assert_non_null(tok);
	char line[4096];
	snprintf(line, sizeof line, "{\"cmd\": \"group.join\", \"token\": \"%s\", \"name\": \"joined\", \"timeout\": 30}", tok);
	konce_ctlproto_host hb;
	konce_ctlproto_op *op = NULL;
	struct sink sb = {0};
	node_ctl_host(W.b, &hb);
	assert_int_equal(konce_ctlproto_handle(&hb, line, out, &sb, &op), KONCE_CTLPROTO_PENDING);
	wait_for(&sb);
	assert_true(json_is_true(json_object_get(sb.last, "ok")));
	assert_int_equal(json_integer_value(json_object_get(sb.last, "timeout")), 30);
	konce_group_info g;
	assert_int_equal(konce_node_group_info(W.b, "joined", &g), 0); /* hosted on b */
	sink_clear(&sb);
	sink_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_alias_peers_groups),
		cmocka_unit_test(test_peers_status_from_memory),
		cmocka_unit_test(test_ping_pending),
		cmocka_unit_test(test_send_progress),
		cmocka_unit_test(test_send_file),
		cmocka_unit_test(test_abandon),
		cmocka_unit_test(test_alias_store_locked),
		cmocka_unit_test(test_group_log),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
