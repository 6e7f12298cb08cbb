/* test_node_trav_hostile.c - the node's traversal glue against an off-path forger, in one
 * process over loopback UDP: a rendezvous R, two nodes A and B registered with
 * it, and an attacker X that knows B's key and A's address.
 *
 * From the start, X sends A (every 5 ms) PUNCH probes and acks naming B's key, and HELLO copies
 * tagged with B's key, with intro ids of its own and guessed MACs.  Before this was fixed, a probe made
 * A start an attempt with X's intro id and probe X, and X's ack of that probe moved A's path to
 * B onto X.  Now A must never send X a traversal datagram (PUNCH probe or ack, tagged HELLO copy),
 * and A's request to B by key must be answered.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "konce/konce.h"
#include "nat/rdvwire.h"
#include "node/base/addr.h"
#include "node/base/wire.h"
#include "tests/unit/node_world.h"

enum { R, A, B, NNODES };

struct world {
	struct event_base *base;
	char dir[64];
	konce_node *node[NNODES];
	uint8_t pk[NNODES][KONCE_KEY_BYTES];
	char addr[NNODES][64];
	/* the attacker */
	int xfd;
	struct event *xread, *xtick;
	struct sockaddr_in a_sa;
	unsigned forged, got_punch, got_tagged, got_other;
	uint64_t seq;
	/* A's request */
	int done, outcome;
};

static void on_request(void *ctx, konce_node *node, const konce_message *m)
{
	(void)ctx;
	if (m->is_request)
		assert_int_equal(konce_node_reply(node, m, (const uint8_t *)"b", 1), 0);
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	(void)reason;
	(void)data;
	(void)len;
	w->done = 1;
	w->outcome = outcome;
	event_base_loopbreak(w->base);
}

static void x_send(struct world *w, const uint8_t *pkt, size_t len)
{
	if (sendto(w->xfd, pkt, len, 0, (const struct sockaddr *)&w->a_sa, sizeof(w->a_sa)) == (ssize_t)len)
		w->forged++;
}

static void x_tick(evutil_socket_t fd, short what, void *arg)
{
	struct world *w = arg;
	(void)fd;
	(void)what;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	w->seq++;
	/* a PUNCH probe and an ack naming B's key, with an id and a MAC of its own */
	for (int ack = 0; ack < 2; ack++) {
		konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .flags = ack ? KONCE_PUNCH_F_ACK : 0,
				   .seq = (uint16_t)(1 + w->seq % 60000), .id = w->seq * 0x9e3779b97f4a7c15ull};
		memcpy(m.key, w->pk[B], KONCE_KEY_BYTES);
		for (unsigned i = 0; i < sizeof(m.mac); i++)
			m.mac[i] = (uint8_t)(w->seq * 31 + i);
		size_t len = konce_rdvwire_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		x_send(w, buf, len);
	}
	/* a HELLO copy tagged with B's key */
	uint8_t hello[KONCE_HELLO_SIZE];
	memset(hello, 0, sizeof(hello));
	hello[0] = KONCE_PKT_HELLO;
	memcpy(hello + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4);
	memcpy(hello + KONCE_HELLO_TRAV_KEY, w->pk[B], KONCE_KEY_BYTES);
	wire_put64(hello + KONCE_HELLO_TRAV_INTRO, w->seq * 0x9e3779b97f4a7c15ull);
	for (unsigned i = 0; i < KONCE_PUNCH_MAC_BYTES; i++)
		hello[KONCE_HELLO_TRAV_MAC + i] = (uint8_t)(w->seq * 7 + i);
	x_send(w, hello, sizeof(hello));
}

static void x_read(evutil_socket_t fd, short what, void *arg)
{
	struct world *w = arg;
	uint8_t buf[2048];
	(void)what;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return;
		if (buf[0] == KONCE_RDV_PUNCH)
			w->got_punch++;
		else if (n == KONCE_HELLO_SIZE && buf[0] == KONCE_PKT_HELLO &&
			 memcmp(buf + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4) == 0)
			w->got_tagged++;
		else
			w->got_other++; /* e.g. the endpoint's stateless answer to a HELLO */
	}
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[512], path[128], peers[160], key[KONCE_KEY_TEXT_LEN + 1];
	static const char *names[NNODES] = {"r", "a", "b"};
	if (!(w->base = event_base_new()) || node_dir_make(w->dir, sizeof w->dir, "travh"))
		return -1;
	/* R first: A and B are configured with its key and address */
	for (int i = 0; i < NNODES; i++) {
		snprintf(path, sizeof(path), "%s/%s", w->dir, names[i]);
		konce_node_config cfg = {.data_dir = path, .listen = "127.0.0.1:0", .log = node_log_quiet,
					 .log_level = KONCE_LOG_DEBUG,
					 .traversal = {.rendezvous = i == R, .rendezvous_peers = i == R ? NULL : peers,
						       .lifetime = "off"}};
		if (konce_node_new(&w->node[i], w->base, &cfg, err, sizeof(err))) {
			fprintf(stderr, "node %d: %s\n", i, err);
			return -1;
		}
		konce_node_public_key(w->node[i], w->pk[i]);
		konce_node_listen_addr(w->node[i], w->addr[i], sizeof(w->addr[i]));
		konce_node_handle(w->node[i], 300, on_request, NULL);
		if (i == R) {
			konce_key_to_text(key, w->pk[R]);
			snprintf(peers, sizeof(peers), "%s@%s", key, w->addr[R]);
		}
	}
	konce_addr a;
	if (konce_addr_parse(&a, w->addr[A]) < 0)
		return -1;
	memset(&w->a_sa, 0, sizeof(w->a_sa));
	w->a_sa.sin_family = AF_INET;
	w->a_sa.sin_port = htons(a.port);
	memcpy(&w->a_sa.sin_addr, a.ip + 12, 4);
	w->xfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (w->xfd < 0 || bind(w->xfd, (struct sockaddr *)&any, sizeof(any)))
		return -1;
	w->xread = event_new(w->base, w->xfd, EV_READ | EV_PERSIST, x_read, w);
	w->xtick = event_new(w->base, -1, EV_PERSIST, x_tick, w);
	struct timeval five = {0, 5000};
	event_add(w->xread, NULL);
	event_add(w->xtick, &five);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	event_free(w->xread);
	event_free(w->xtick);
	close(w->xfd);
	int rc = node_world_free(w->node, NNODES, w->base, w->dir);
	free(w);
	return rc;
}

static void test_forger_gets_nothing(void **state)
{
	struct world *w = *state;
	node_run_for(w->base, 1500); /* A and B register with R, under fire */
	/* A has no address for B: without KONCE_SEND_RENDEZVOUS no introduction is asked, and nothing is
	 * reported later (the call failed) */
	konce_send_opts o = {.expect_reply = 1, .connect_timeout_ms = 8000,
			     .flags = KONCE_SEND_DIRECT | KONCE_SEND_RETRANSMIT};
	assert_int_equal(konce_node_send(w->node[A], w->pk[B], 300, (const uint8_t *)"hi", 2, &o, on_outcome, w, NULL),
			 -EHOSTUNREACH);
	o.flags = 0; /* every route: R introduces A to B */
	assert_int_equal(konce_node_send(w->node[A], w->pk[B], 300, (const uint8_t *)"hi", 2, &o, on_outcome, w, NULL), 0);
	node_run_for(w->base, 10000);
	assert_true(w->done);
	assert_int_equal(w->outcome, KONCE_OUTCOME_REPLIED);
	w->done = 0;
	node_run_for(w->base, 1500); /* keepalives and probes after the session is up */
	if (getenv("TEST_NODE_VERBOSE"))
		fprintf(stderr, "forged %u; X got %u PUNCH, %u tagged HELLO, %u other\n", w->forged, w->got_punch,
			w->got_tagged, w->got_other);
	assert_true(w->forged > 300);
	assert_int_equal(w->got_punch, 0);  /* A never probed nor acked X */
	assert_int_equal(w->got_tagged, 0); /* nor sent it a HELLO copy */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forger_gets_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
