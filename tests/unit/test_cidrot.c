/* test_cidrot.c - connection ids that change with the path (node/transport/cidrot.c): both sides
 * derive the same ids, a side follows an epoch the peer started, the table answers to a window of
 * epochs and no other, and an id never goes to two addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_internal.h"
#include "node/transport/identity.h"
#include "tests/unit/ep_pair.h"

/* relay()'s hop: all of a's to b, and b's that go to a, each 10 ms after the one before. */
static void relay_hop(pair *p, bool from_a, const uint8_t *buf, size_t len, const konce_addr *to)
{
	if (from_a)
		konce_ep_input(p->b, buf, len, &p->addr_a, p->now += 10000, NULL);
	else if (konce_addr_eq(to, &p->addr_a))
		konce_ep_input(p->a, buf, len, &p->addr_b, p->now += 10000, NULL);
}

/* Delivers everything queued, both ways, until quiet (ep_pair.h's loop). */
static void relay(pair *p) { pair_pump_with(p, relay_hop, NULL); }

static void setup(pair *p)
{
	make_pair(p, NULL, NULL);
	assert_int_equal(konce_ep_connect(p->a, konce_identity_public(p->id_b), &p->addr_b, NULL, 0, p->now, &p->ca),
			 0);
	relay(p);
	konce_ep_event ev;
	while (konce_ep_poll_event(p->b, &ev))
		if (ev.type == KONCE_EV_ESTABLISHED)
			p->cb = ev.conn;
	assert_int_not_equal(p->cb, 0);
	drain_events(p->a);
}

/* The epochs of the ids a session answers to now. */
static unsigned ids_of(const konce_sess *s, uint32_t *epochs)
{
	unsigned n = 0;
	for (unsigned i = 0; i < KONCE_EP_CIDS; i++)
		if (s->cids[i].used)
			epochs[n++] = s->cids[i].epoch;
	return n;
}

static bool answers(const konce_sess *s, uint32_t e)
{
	uint32_t ep[KONCE_EP_CIDS];
	unsigned n = ids_of(s, ep);
	for (unsigned i = 0; i < n; i++)
		if (ep[i] == e)
			return true;
	return false;
}

/* One message from a with its ids of epoch e for b; true if b delivered it. */
static bool a_sends_on(pair *p, uint32_t e, uint8_t dcid[KONCE_WIRE_CID])
{
	konce_sess *sa = konce_ep_sess_by_conn(p->a, p->ca);
	sa->path.cur_epoch = e;
	if (e > sa->path.max_epoch)
		sa->path.max_epoch = e;
	assert_int_equal(konce_ep_send(p->a, p->ca, (const uint8_t *)"m", 1, p->now), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p->a, buf, &len, &to));
	if (dcid)
		memcpy(dcid, buf + KONCE_DATA_DCID, KONCE_WIRE_CID);
	konce_ep_input(p->b, buf, len, &p->addr_a, p->now += 10000, NULL);
	konce_ep_event ev;
	bool got = false;
	while (konce_ep_poll_event(p->b, &ev))
		got |= ev.type == KONCE_EV_MESSAGE;
	return got;
}

static void test_same_ids_both_sides(void **state)
{
	(void)state;
	pair p;
	setup(&p);
	konce_sess *sb = konce_ep_sess_by_conn(p.b, p.cb);
	/* after the handshake: epochs 0 (the handshake id), 1 and 2 */
	uint32_t ep[KONCE_EP_CIDS];
	assert_int_equal(ids_of(sb, ep), 3);
	assert_true(answers(sb, 0) && answers(sb, 1) && answers(sb, 2));
	/* a's id for b of epoch 1 is the one b derived for itself */
	uint8_t d0[KONCE_WIRE_CID], d1[KONCE_WIRE_CID], d2[KONCE_WIRE_CID];
	assert_true(a_sends_on(&p, 0, d0));
	assert_memory_equal(d0, sb->scid, KONCE_WIRE_CID);
	assert_true(a_sends_on(&p, 1, d1));
	uint32_t e = 99;
	assert_ptr_equal(konce_cid_lookup(p.b, d1, &e), sb);
	assert_int_equal(e, 1);
	assert_memory_not_equal(d1, d0, KONCE_WIRE_CID);
	/* b followed epoch 1 on the path it came by: its answers carry a's id of epoch 1 */
	assert_int_equal(sb->path.max_epoch, 1);
	assert_int_equal(sb->path.cur_epoch, 1);
	assert_int_equal(konce_ep_send(p.b, p.cb, (const uint8_t *)"r", 1, p.now), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	konce_sess *sa = konce_ep_sess_by_conn(p.a, p.ca);
	assert_ptr_equal(konce_cid_lookup(p.a, buf + KONCE_DATA_DCID, &e), sa);
	assert_int_equal(e, 1);
	assert_memory_not_equal(buf + KONCE_DATA_DCID, sa->scid, KONCE_WIRE_CID);
	/* two epochs ahead of what b knows is still answered */
	assert_true(a_sends_on(&p, 3, d2));
	assert_int_equal(sb->path.max_epoch, 3);
	free_pair(&p);
}

static void test_window(void **state)
{
	(void)state;
	pair p;
	setup(&p);
	konce_sess *sb = konce_ep_sess_by_conn(p.b, p.cb);
	uint64_t unknown = konce_ep_counters(p.b)->data_unknown_cid;
	/* three ahead: no such id in b's table, dropped and counted */
	assert_false(a_sends_on(&p, 3, NULL));
	assert_int_equal(konce_ep_counters(p.b)->data_unknown_cid, unknown + 1);
	assert_int_equal(sb->path.max_epoch, 0);
	/* two ahead, then two more: b slides its window to max-1 .. max+2 */
	assert_true(a_sends_on(&p, 2, NULL));
	assert_true(a_sends_on(&p, 4, NULL));
	uint32_t ep[KONCE_EP_CIDS];
	assert_int_equal(ids_of(sb, ep), 4);
	for (uint32_t e = 3; e <= 6; e++)
		assert_true(answers(sb, e));
	/* the handshake id and the old epochs are no longer answered */
	assert_false(a_sends_on(&p, 0, NULL));
	assert_false(a_sends_on(&p, 2, NULL));
	assert_int_equal(konce_ep_counters(p.b)->data_unknown_cid, unknown + 3);
	/* b made epochs of its own (a probe, then a refused move: max 6) while a still uses 4: the
	 * epoch a uses stays answered beside the window */
	sb->path.max_epoch = 7;
	konce_cid_sync(p.b, sb);
	assert_int_equal(ids_of(sb, ep), 5);
	assert_true(answers(sb, 4));
	assert_true(a_sends_on(&p, 4, NULL));
	free_pair(&p);
}

/* An id never goes to two addresses: the probe gets a fresh epoch, the old path keeps its own. */
static void test_one_address_per_id(void **state)
{
	(void)state;
	pair p;
	setup(&p);
	konce_sess *sb = konce_ep_sess_by_conn(p.b, p.cb);
	konce_addr old = p.addr_a;
	assert_int_equal(konce_addr_parse(&p.addr_a, "192.0.2.1:2000"), 0); /* a rebinding */
	assert_int_equal(konce_ep_send(p.a, p.ca, (const uint8_t *)"a longer message, to pay for a challenge", 40,
				       p.now),
			 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now += 10000, NULL);
	assert_true(sb->path.probing && sb->path.checking);
	uint8_t to_old[KONCE_WIRE_CID], to_new[KONCE_WIRE_CID];
	int n_old = 0, n_new = 0;
	while (konce_ep_poll_datagram(p.b, buf, &len, &to)) {
		if (konce_addr_eq(&to, &old)) {
			if (n_old++)
				assert_memory_equal(to_old, buf + KONCE_DATA_DCID, KONCE_WIRE_CID);
			memcpy(to_old, buf + KONCE_DATA_DCID, KONCE_WIRE_CID);
		} else if (konce_addr_eq(&to, &p.addr_a)) {
			if (n_new++)
				assert_memory_equal(to_new, buf + KONCE_DATA_DCID, KONCE_WIRE_CID);
			memcpy(to_new, buf + KONCE_DATA_DCID, KONCE_WIRE_CID);
		}
	}
	assert_int_equal(n_old, 1); /* the old path's challenge */
	assert_int_equal(n_new, 1); /* the probe's */
	assert_memory_not_equal(to_old, to_new, KONCE_WIRE_CID);
	assert_int_equal(sb->path.old_epoch, 0);
	assert_int_equal(sb->path.probe_epoch, 1);
	drain_events(p.b);
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_ids_both_sides),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_one_address_per_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
