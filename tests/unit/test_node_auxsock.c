/* test_node_auxsock.c - the numbered socket set (node/io/auxsock.h) over loopback: pool sockets
 * opened on first use, one port per number, datagrams handed back with their number and a done
 * call per batch, bounds, sockets above the pool opened and closed only when asked, and the sweep
 * that keeps birthday sockets only for a running attempt or a verified path
 * (konce_trav_socks_needed). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/io/node_int.h"
#include "node/core/trav_int.h"
#include "node/io/auxsock.h"

struct rx {
	int n;
	unsigned sock;
	konce_addr from;
	char data[64];
	int done;
	struct node_aux *sweep_pool; /* sweep from inside the callback */
	konce_trav *sweep_t;
};

static void sweep(struct node_aux *s, konce_trav *t)
{
	bool keep[KONCE_PUNCH_BIRTHDAY + 1] = {false};
	if (!konce_trav_socks_needed(t, node_now_us(), keep))
		node_aux_keep(s, keep);
}

static void on_done(void *ctx)
{
	struct rx *r = ctx;
	r->done++;
}

static void on_rx(void *ctx, unsigned sock, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	struct rx *r = ctx;
	r->n++;
	r->sock = sock;
	r->from = *from;
	memset(r->data, 0, sizeof(r->data));
	memcpy(r->data, pkt, len < sizeof(r->data) - 1 ? len : sizeof(r->data) - 1);
	if (r->sweep_pool)
		sweep(r->sweep_pool, r->sweep_t);
}

/* A plain loopback socket standing for the peer. */
static int peer_sock(konce_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(konce_addr_from_sockaddr(a, (struct sockaddr *)&sin), 0);
	return fd;
}

/* Receives one datagram on fd; returns where it came from. */
static konce_addr peer_recv(int fd, const char *want)
{
	struct pollfd p = {fd, POLLIN, 0};
	char buf[64] = {0};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	konce_addr from;
	assert_int_equal(poll(&p, 1, 2000), 1);
	ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&ss, &sl);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(konce_addr_from_sockaddr(&from, (struct sockaddr *)&ss), 0);
	return from;
}

static void peer_send(int fd, const konce_addr *to, const char *what)
{
	struct sockaddr_storage ss;
	socklen_t sl = (socklen_t)konce_addr_to_sockaddr(to, &ss, false);
	assert_int_equal(sendto(fd, what, strlen(what), 0, (struct sockaddr *)&ss, sl), (ssize_t)strlen(what));
}

static void run_until(struct event_base *b, const struct rx *r, int n)
{
	for (int i = 0; i < 200 && r->n < n; i++)
		event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	assert_int_equal(r->n, n);
}

enum { ABOVE = KONCE_PUNCH_BIRTHDAY + 2 }; /* the set's last number, outside the pool */

static struct node_aux *pool(struct event_base *b, struct rx *r)
{
	konce_addr lo;
	struct node_aux *s;
	assert_int_equal(konce_addr_parse(&lo, "127.0.0.1:7807"), 0);
	assert_int_equal(node_aux_new(&s, b, &lo, ABOVE, KONCE_PUNCH_BIRTHDAY, on_rx, on_done, r), 0);
	return s;
}

static void test_send_receive(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *s = pool(b, &r);
	struct node_aux_stats st;
	konce_addr pa;
	int fd = peer_sock(&pa);

	node_aux_get_stats(s, &st);
	assert_int_equal(st.open_now, 0); /* nothing until something is sent */
	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"p5", 2, &pa), 0);
	konce_addr m5 = peer_recv(fd, "p5");
	assert_int_not_equal(m5.port, 7807); /* an ephemeral port, not the node's */
	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"again", 5, &pa), 0);
	konce_addr m5b = peer_recv(fd, "again");
	assert_true(konce_addr_eq(&m5, &m5b)); /* one socket per number */
	assert_int_equal(node_aux_send(s, KONCE_PUNCH_BIRTHDAY, (const uint8_t *)"last", 4, &pa), 0);
	konce_addr m256 = peer_recv(fd, "last");
	assert_int_not_equal(m256.port, m5.port);

	/* the peer answers each: the callback gets the socket number and the sender */
	peer_send(fd, &m5, "to5");
	run_until(b, &r, 1);
	assert_int_equal(r.sock, 5);
	assert_string_equal(r.data, "to5");
	assert_true(konce_addr_eq(&r.from, &pa));
	peer_send(fd, &m256, "to256");
	run_until(b, &r, 2);
	assert_int_equal(r.sock, KONCE_PUNCH_BIRTHDAY);

	assert_true(r.done >= 2); /* once after each read batch */

	/* out of range: socket 0 is the node's own */
	assert_int_equal(node_aux_send(s, 0, (const uint8_t *)"x", 1, &pa), -EINVAL);
	assert_int_equal(node_aux_send(s, ABOVE + 1, (const uint8_t *)"x", 1, &pa), -EINVAL);
	assert_int_equal(node_aux_open(s, ABOVE + 1, NULL), -EINVAL);
	node_aux_get_stats(s, &st);
	assert_int_equal(st.opened, 2);
	assert_int_equal(st.open_now, 2);
	assert_int_equal(st.tx, 3);
	assert_int_equal(st.rx, 2);
	node_aux_free(s);
	close(fd);
	event_base_free(b);
}

static const uint8_t key_a[KONCE_WIRE_KEY] = {1}, key_b[KONCE_WIRE_KEY] = {2};

/* A traversal peer whose attempt runs birthday probing from our extra sockets toward refl. */
static void birthday_peer(struct tpeer *p, const konce_addr *refl)
{
	konce_cand c = {KONCE_CAND_REFLEXIVE, *refl};
	konce_punch_intro in = {.intro_id = 9, .delay_us = 0, .peer_cands = &c, .npeer = 1,
				.peer_nat = {KONCE_NATMAP_EIM, 0, 0}, .self_nat = {KONCE_NATMAP_EDM_RANDOM, 0, 0}};
	memset(p, 0, sizeof(*p));
	assert_int_equal(konce_punch_new(&p->pu, konce_env_default(), key_a, key_b), 0);
	assert_int_equal(konce_punch_start(p->pu, &in, 1000), 0);
	p->used = true;
}

static void test_sweep(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *s = pool(b, &r);
	konce_trav *t = calloc(1, sizeof(*t));
	struct node_aux_stats st;
	konce_addr pa;
	int fd = peer_sock(&pa);
	assert_non_null(t);

	for (unsigned i = 1; i <= 4; i++)
		assert_int_equal(node_aux_send(s, i, (const uint8_t *)"x", 1, &pa), 0);
	/* an attempt is running: every socket may still be verified or answered on (a birthday pair
	 * starts it in PROBING: relay first, nat/punch.h) */
	birthday_peer(&t->peers[3], &pa);
	assert_int_equal(konce_punch_state(t->peers[3].pu), KONCE_PUNCH_PATH_PROBING);
	sweep(s, t);
	node_aux_get_stats(s, &st);
	assert_int_equal(st.open_now, 4);

	/* the pair (3, pa) is verified: within the attempt's window every socket stays (the peer may
	 * have verified another pair, and its probes there move our path); after it, only socket 3
	 * stays, and it is the same socket */
	assert_int_equal(node_aux_send(s, 3, (const uint8_t *)"before", 6, &pa), 0);
	konce_addr m3 = {{0}, 0, 0};
	for (int k = 0; k < 5; k++) /* drain the four "x" first */
		m3 = peer_recv(fd, k < 4 ? "x" : "before");
	konce_punch_input(t->peers[3].pu, 3, &pa, true, 9, 1, 2000);
	unsigned sock;
	konce_addr path;
	assert_true(konce_punch_path(t->peers[3].pu, &sock, &path) && sock == 3);
	t->peers[3].start_us = node_now_us();
	sweep(s, t);
	node_aux_get_stats(s, &st);
	assert_int_equal(st.open_now, 4);
	t->peers[3].start_us = node_now_us() - KONCE_PUNCH_GIVEUP_MS * 1000ull - 1;
	sweep(s, t);
	node_aux_get_stats(s, &st);
	assert_int_equal(st.open_now, 1);
	assert_int_equal(st.closed, 3);
	assert_int_equal(node_aux_send(s, 3, (const uint8_t *)"after", 5, &pa), 0);
	konce_addr m3b = peer_recv(fd, "after");
	assert_true(konce_addr_eq(&m3, &m3b));

	/* the path's socket closes when the callback itself sweeps it away (no peer needs it) */
	konce_punch_free(t->peers[3].pu);
	t->peers[3].used = false;
	r.sweep_pool = s;
	r.sweep_t = t;
	peer_send(fd, &m3, "one");
	peer_send(fd, &m3, "two");
	run_until(b, &r, 1);
	event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(r.n, 1); /* closed after the first: the second was never read */
	node_aux_get_stats(s, &st);
	assert_int_equal(st.open_now, 0);
	assert_int_equal(st.closed, 4);
	/* a number can be used again later: a fresh socket */
	assert_int_equal(node_aux_send(s, 3, (const uint8_t *)"new", 3, &pa), 0);
	peer_recv(fd, "new");
	node_aux_get_stats(s, &st);
	assert_int_equal(st.opened, 5);
	node_aux_free(s);
	free(t);
	close(fd);
	event_base_free(b);
}

/* Numbers above the pool open and close only when asked, and are not the pool's counters. */
static void test_above_pool(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *s = pool(b, &r);
	struct node_aux_stats st;
	konce_addr pa, local, again;
	int fd = peer_sock(&pa);

	assert_int_equal(node_aux_send(s, ABOVE, (const uint8_t *)"x", 1, &pa), -ENOTCONN);
	assert_int_equal(node_aux_open(s, ABOVE, &local), 0);
	assert_int_not_equal(local.port, 0);
	assert_int_not_equal(local.port, 7807);
	assert_int_equal(node_aux_open(s, ABOVE, &again), 0); /* already open: the same socket */
	assert_true(konce_addr_eq(&local, &again));
	assert_int_equal(node_aux_send(s, ABOVE, (const uint8_t *)"hi", 2, &pa), 0);
	konce_addr m = peer_recv(fd, "hi");
	assert_int_equal(m.port, local.port);
	peer_send(fd, &m, "back");
	run_until(b, &r, 1);
	assert_int_equal(r.sock, ABOVE);
	assert_string_equal(r.data, "back");
	node_aux_get_stats(s, &st);
	assert_int_equal(st.opened, 0);
	assert_int_equal(st.tx, 0);
	assert_int_equal(st.rx, 0);
	node_aux_close(s, ABOVE);
	assert_int_equal(node_aux_send(s, ABOVE, (const uint8_t *)"x", 1, &pa), -ENOTCONN);

	/* without an address to bind to, every open fails */
	struct node_aux *none;
	assert_int_equal(node_aux_new(&none, b, NULL, 3, 2, on_rx, NULL, &r), 0);
	assert_int_equal(node_aux_send(none, 1, (const uint8_t *)"x", 1, &pa), -EADDRNOTAVAIL);
	assert_int_equal(node_aux_open(none, 3, NULL), -EADDRNOTAVAIL);
	node_aux_get_stats(none, &st);
	assert_int_equal(st.open_failed, 1);
	assert_int_equal(st.tx_failed, 1);
	node_aux_free(none);
	node_aux_free(s);
	close(fd);
	event_base_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_receive),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_above_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
