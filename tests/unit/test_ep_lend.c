/* test_ep_lend.c - datagrams lent by reference (konce_ep_poll_datagram_ref, ep_pair.h): a lent
 * datagram's slot stays taken until konce_ep_release_datagrams(), so nothing the endpoint queues
 * meanwhile writes over it, and the lent bytes are the datagrams the peer accepts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ep_pair.h"

enum { RING = 8 };

/* Queues one-byte messages from a until its out ring refuses (-ENOBUFS); how many it took. */
static unsigned fill_ring(pair *p, uint32_t conn, uint8_t *next)
{
	unsigned n = 0;
	while (konce_ep_send(p->a, conn, next, 1, p->now) == 0) {
		(*next)++;
		n++;
		assert_true(n <= RING);
	}
	return n;
}

struct lent {
	const uint8_t *pkt;
	size_t len;
	uint8_t copy[KONCE_WIRE_MAX_DATAGRAM];
};

static unsigned lend_all(pair *p, struct lent *l, unsigned max)
{
	unsigned k = 0;
	konce_addr to;
	while (k < max && konce_ep_poll_datagram_ref(p->a, &l[k].pkt, &l[k].len, &to)) {
		assert_true(konce_addr_eq(&to, &p->addr_b));
		memcpy(l[k].copy, l[k].pkt, l[k].len);
		k++;
	}
	return k;
}

/* The lent bytes, unchanged, to b: every one a message, in order from first. */
static void deliver(pair *p, const struct lent *l, unsigned k, uint8_t first)
{
	konce_ep_event ev;
	for (unsigned i = 0; i < k; i++) {
		assert_memory_equal(l[i].pkt, l[i].copy, l[i].len);
		konce_ep_input(p->b, l[i].pkt, l[i].len, &p->addr_a, p->now += 1000, NULL);
	}
	for (unsigned i = 0; i < k; i++) {
		assert_true(next_event(p->b, &ev, KONCE_EV_MESSAGE));
		assert_int_equal(ev.len, 1);
		assert_int_equal(ev.data[0], (uint8_t)(first + i));
	}
}

static void test_lent_slots_stay_taken(void **state)
{
	(void)state;
	pair p;
	konce_ep_config ca = {.out_ring = RING};
	uint32_t sc, cc = connected_pair(&p, &ca, NULL, &sc);
	struct lent l[RING];
	uint8_t next = 1;

	unsigned n = fill_ring(&p, cc, &next);
	assert_int_equal(n, RING);
	/* lend half: the ring still counts them, a send is refused, nothing is overwritten */
	unsigned k = lend_all(&p, l, RING / 2);
	assert_int_equal(k, RING / 2);
	assert_int_equal(konce_ep_send(p.a, cc, &next, 1, p.now), -ENOBUFS);
	/* the timer (retransmissions after 500 ms) must not write into a lent slot either: deliver()
	 * checks the lent bytes against their copies */
	konce_ep_timer(p.a, p.now += 500000);
	/* the rest of the queue is handed out behind the lent ones */
	k += lend_all(&p, l + k, RING - k);
	assert_int_equal(k, RING);
	konce_addr to;
	assert_false(konce_ep_poll_datagram_ref(p.a, &l[0].pkt, &l[0].len, &to));
	deliver(&p, l, k, 1);
	/* released: the ring takes new datagrams again */
	konce_ep_release_datagrams(p.a);
	uint8_t first = next;
	n = fill_ring(&p, cc, &next);
	assert_true(n > 0);
	k = lend_all(&p, l, RING);
	assert_true(k >= n);
	/* what the timer queued in the meantime (if anything) came first: deliver only the messages */
	unsigned skip = k - n;
	deliver(&p, l + skip, n, first);
	konce_ep_release_datagrams(p.a);
	free_pair(&p);
}

/* konce_ep_poll_datagram() while datagrams are lent copies its datagram and lends its slot too:
 * the earlier references stay valid until the one release. */
static void test_copy_poll_while_lending(void **state)
{
	(void)state;
	pair p;
	konce_ep_config ca = {.out_ring = RING};
	uint32_t sc, cc = connected_pair(&p, &ca, NULL, &sc);
	struct lent l[RING];
	uint8_t next = 1, buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;

	assert_int_equal(fill_ring(&p, cc, &next), RING);
	assert_int_equal(lend_all(&p, l, 2), 2);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	assert_int_equal(konce_ep_send(p.a, cc, &next, 1, p.now), -ENOBUFS); /* all 8 still taken */
	konce_ep_release_datagrams(p.a);
	/* three slots free now; without a loan a copying poll frees its slot at once */
	assert_int_equal(fill_ring(&p, cc, &next), 3);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	assert_int_equal(fill_ring(&p, cc, &next), 1);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lent_slots_stay_taken),
		cmocka_unit_test(test_copy_poll_while_lending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
