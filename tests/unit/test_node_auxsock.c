/* test_node_auxsock.c - the numbered socket set (node/io/auxsock.h) over loopback: sockets opened
 * and closed only when asked (a closed one refuses sends), one port per number, datagrams handed
 * back with their number and a done call per batch, bounds, a socket closed from inside the
 * receive callback read no more, and a set without an address refusing every open.  Which
 * sockets are open when, and the birthday pool's counters, are the traversal unit's
 * (tests/unit/test_nctravhost.c). */
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

#include "nat/punch.h"
#include "node/io/auxsock.h"

struct rx {
	int n;
	unsigned sock;
	konce_addr from;
	char data[64];
	int done;
	struct node_aux *close_in_rx; /* closes the socket it read from, from inside the callback */
};

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
	if (r->close_in_rx)
		node_aux_close(r->close_in_rx, sock);
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

enum { ABOVE = KONCE_PUNCH_BIRTHDAY + 2 }; /* the set's last number */

static struct node_aux *set(struct event_base *b, struct rx *r)
{
	konce_addr lo;
	struct node_aux *s;
	assert_int_equal(konce_addr_parse(&lo, "127.0.0.1:7807"), 0);
	assert_int_equal(node_aux_new(&s, b, &lo, ABOVE, on_rx, on_done, r), 0);
	return s;
}

static void test_send_receive(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *s = set(b, &r);
	konce_addr pa, l5, l5b, l256;
	int fd = peer_sock(&pa);

	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"x", 1, &pa), -ENOTCONN); /* not opened */
	assert_int_equal(node_aux_open(s, 5, &l5), 0);
	assert_int_not_equal(l5.port, 7807); /* an ephemeral port, not the node's */
	assert_int_equal(node_aux_open(s, 5, &l5b), 0); /* already open: the same socket */
	assert_true(konce_addr_eq(&l5, &l5b));
	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"p5", 2, &pa), 0);
	konce_addr m5 = peer_recv(fd, "p5");
	assert_int_equal(m5.port, l5.port);
	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"again", 5, &pa), 0);
	konce_addr m5b = peer_recv(fd, "again");
	assert_true(konce_addr_eq(&m5, &m5b)); /* one socket per number */
	assert_int_equal(node_aux_open(s, KONCE_PUNCH_BIRTHDAY, &l256), 0);
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
	assert_int_equal(node_aux_open(s, 0, NULL), -EINVAL);
	assert_int_equal(node_aux_open(s, ABOVE + 1, NULL), -EINVAL);

	/* closed: sends refused; opened again later: a fresh socket */
	node_aux_close(s, 5);
	assert_int_equal(node_aux_send(s, 5, (const uint8_t *)"x", 1, &pa), -ENOTCONN);
	node_aux_close(s, 5); /* closing a closed one does nothing */
	assert_int_equal(node_aux_open(s, ABOVE, NULL), 0);
	assert_int_equal(node_aux_send(s, ABOVE, (const uint8_t *)"hi", 2, &pa), 0);
	peer_recv(fd, "hi");
	node_aux_free(s); /* closes what is still open */
	close(fd);
	event_base_free(b);
}

/* The callback closes the socket it read from (its core is done with it): the batch stops, the
 * datagram behind is never read. */
static void test_close_in_callback(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *s = set(b, &r);
	konce_addr pa, l3;
	int fd = peer_sock(&pa);

	assert_int_equal(node_aux_open(s, 3, &l3), 0);
	assert_int_equal(node_aux_send(s, 3, (const uint8_t *)"out", 3, &pa), 0);
	konce_addr m3 = peer_recv(fd, "out");
	r.close_in_rx = s;
	peer_send(fd, &m3, "one");
	peer_send(fd, &m3, "two");
	run_until(b, &r, 1);
	event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(r.n, 1); /* closed after the first: the second was never read */
	assert_int_equal(node_aux_send(s, 3, (const uint8_t *)"x", 1, &pa), -ENOTCONN);
	node_aux_free(s);
	close(fd);
	event_base_free(b);
}

/* Without an address to bind to, every open fails. */
static void test_no_address(void **state)
{
	(void)state;
	struct event_base *b = event_base_new();
	struct rx r = {0};
	struct node_aux *none, *bad;
	konce_addr pa;
	int fd = peer_sock(&pa);
	assert_int_equal(node_aux_new(&none, b, NULL, 3, on_rx, NULL, &r), 0);
	assert_int_equal(node_aux_open(none, 1, NULL), -EADDRNOTAVAIL);
	assert_int_equal(node_aux_open(none, 3, NULL), -EADDRNOTAVAIL);
	assert_int_equal(node_aux_send(none, 1, (const uint8_t *)"x", 1, &pa), -ENOTCONN);
	assert_int_equal(node_aux_new(&bad, b, NULL, 3, NULL, NULL, &r), -EINVAL); /* no rx */
	assert_null(bad);
	node_aux_free(none);
	close(fd);
	event_base_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_receive),
		cmocka_unit_test(test_close_in_callback),
		cmocka_unit_test(test_no_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
