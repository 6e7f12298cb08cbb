/* test_ep_server.c - a server endpoint's admission (ep_pair.h): the input-queue priority hint,
 * several durable server keys, a client's rebinding between COOKIE and INITIATE, a full session
 * table, and limited circulation behind a group key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/ep_pair.h"

/* The input-queue hint: a session's DATA first, a fresh source's HELLO next, DATA typed junk (no
 * such connection id, or a header too short to name one) and unknown types last.  From any
 * address: a session's DATA is 0 wherever it comes from (migration), and costs no crypto to tell. */
static void test_priority(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t sc, cc = handshake(&p, &sc);
	(void)sc;
	drain_events(p.a);
	drain_events(p.b);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], hello[KONCE_HELLO_SIZE] = {KONCE_PKT_HELLO};
	size_t len;
	konce_addr to, elsewhere;
	assert_int_equal(konce_addr_parse(&elsewhere, "203.0.113.9:4000"), 0);
	assert_int_equal(konce_ep_send(p.a, cc, (const uint8_t *)"m", 1, p.now), 0);
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	assert_int_equal(buf[0], KONCE_PKT_DATA);
	uint64_t auth_fail = konce_ep_counters(p.b)->data_auth_fail;
	assert_int_equal(konce_ep_priority(p.b, buf, len, &p.addr_a, p.now), 0);
	assert_int_equal(konce_ep_priority(p.b, buf, len, &elsewhere, p.now), 0);
	assert_int_equal(konce_ep_priority(p.b, hello, sizeof hello, &elsewhere, p.now), 1);
	buf[KONCE_DATA_DCID] ^= 1; /* no session has this id */
	assert_int_equal(konce_ep_priority(p.b, buf, len, &p.addr_a, p.now), 17);
	assert_int_equal(konce_ep_priority(p.b, buf, KONCE_DATA_DCID + 4, &p.addr_a, p.now), 17);
	uint8_t unknown = 0x7f;
	assert_int_equal(konce_ep_priority(p.b, &unknown, 1, &p.addr_a, p.now), 17);
	assert_int_equal(konce_ep_priority(p.b, buf, 0, &p.addr_a, p.now), 17);
	/* reads only: nothing was opened, counted or charged */
	assert_int_equal(konce_ep_counters(p.b)->data_auth_fail, auth_fail);
	free_pair(&p);
}

/* A server answering for several durable keys. */
static void test_server_identities(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	konce_identity *other;
	assert_int_equal(konce_identity_generate(&other, &p.tenv_b.env), 0);
	const konce_identity *ids[] = {p.id_b, other};
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 2), 0);
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 0), -EINVAL);
	uint32_t conn;
	konce_ep_event ev;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(konce_ep_connect(p.a, konce_identity_public(ids[i]), &p.addr_b, NULL, 0, p.now, &conn), 0);
		pump(&p);
		assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
		assert_memory_equal(ev.peer_pk, konce_identity_public(ids[i]), 32);
	}
	/* and no longer for one it dropped */
	assert_int_equal(konce_ep_set_server_identities(p.b, ids, 1), 0);
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(other), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	assert_false(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_true(konce_ep_counters(p.b)->init_unknown_server >= 1);
	free_pair(&p);
	konce_identity_free(other);
}

/* The client's address changes between COOKIE and INITIATE (a NAT rebinding): the INITIATE fails
 * the cookie MAC, and after KONCE_HS_RESTART_AFTER tries the client starts over and gets through. */
static void test_restart_after_rebinding(void **state)
{
	(void)state;
	pair p;
	make_pair(&p, NULL, NULL);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, (const uint8_t *)"q", 1,
					  p.now, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
	konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
	assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
	konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
	konce_addr_parse(&p.addr_a, "192.0.2.1:3333"); /* the NAT maps the client anew */
	konce_ep_event ev;
	while (!konce_ep_poll_event(p.a, &ev)) {
		pump(&p);
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_int_equal(konce_ep_counters(p.b)->init_bad_mac, KONCE_HS_RESTART_AFTER);
	assert_int_equal(konce_ep_counters(p.a)->hs_restarts, 1);
	assert_true(next_event(p.b, &ev, KONCE_EV_MESSAGE)); /* the first message survived the restart */
	assert_memory_equal(ev.data, "q", 1);
	free_pair(&p);
}

/* A full server refuses before any DH, and its client times out; a freed slot is reused. */
static void test_server_full(void **state)
{
	(void)state;
	pair p;
	konce_ep_config cb = {.max_sessions = 1};
	make_pair(&p, NULL, &cb);
	uint32_t sc;
	handshake(&p, &sc);
	drain_events(p.a);
	uint32_t conn;
	assert_int_equal(konce_ep_connect(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, p.now, &conn), 0);
	pump(&p);
	const struct konce_ep_counters *c = konce_ep_counters(p.b);
	assert_int_equal(c->init_full, 1);
	assert_int_equal(p.b_verdict, KONCE_EP_DROPPED_FULL);
	assert_int_equal(p.b_rx.cost, KONCE_COST_REJECT + KONCE_COST_POW);
	/* the server's session ends; the client's retransmitted INITIATE now finds room */
	assert_int_equal(konce_ep_close(p.b, sc, p.now), 0);
	konce_ep_event ev;
	while (!konce_ep_poll_event(p.a, &ev) || ev.type == KONCE_EV_CLOSED) {
		pump(&p);
		p.now = konce_ep_next_timer(p.a);
		konce_ep_timer(p.a, p.now);
	}
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_int_equal(ev.conn, conn);
	free_pair(&p);
}

/* Limited circulation: only holders of the group key get any answer, and each COOKIE's point is
 * masked differently. */
static void test_group_server(void **state)
{
	(void)state;
	pair p;
	uint8_t group[32], wrong[32];
	memset(group, 0x77, sizeof group);
	memset(wrong, 0x78, sizeof wrong);
	konce_ep_config cb = {.group_key = group};
	make_pair(&p, NULL, &cb);
	konce_ep_connect_opts opts = {.group_key = group};
	uint32_t conn;
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], epk1[32];
	size_t len;
	konce_addr to;
	/* two HELLOs with the key: two COOKIEs, masked, whose points differ */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now,
						     &conn), 0);
		assert_true(konce_ep_poll_datagram(p.a, buf, &len, &to));
		assert_int_equal(buf[KONCE_HELLO_FLAGS], KONCE_HELLO_F_CLUE);
		konce_ep_input(p.b, buf, len, &p.addr_a, p.now, NULL);
		assert_true(konce_ep_poll_datagram(p.b, buf, &len, &to));
		assert_int_equal(buf[KONCE_COOKIE_FLAGS], KONCE_COOKIE_F_MASKED);
		if (i == 0)
			memcpy(epk1, buf + KONCE_COOKIE_SERVER_EPK, 32);
		else
			assert_memory_not_equal(epk1, buf + KONCE_COOKIE_SERVER_EPK, 32);
		konce_ep_input(p.a, buf, len, &p.addr_b, p.now, NULL);
		pump(&p);
	}
	konce_ep_event ev;
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_true(next_event(p.a, &ev, KONCE_EV_ESTABLISHED));
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 2);

	/* without the key, or with the wrong one: silence, then a timeout */
	const uint8_t *keys[] = {NULL, wrong};
	for (int i = 0; i < 2; i++) {
		opts.group_key = keys[i];
		assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now,
						     &conn), 0);
		uint64_t tx = konce_ep_counters(p.b)->tx_packets;
		while (!konce_ep_poll_event(p.a, &ev)) {
			pump(&p);
			p.now = konce_ep_next_timer(p.a);
			konce_ep_timer(p.a, p.now);
		}
		assert_int_equal(ev.type, KONCE_EV_FAILED);
		assert_int_equal(ev.reason, KONCE_FAIL_TIMEOUT);
		assert_int_equal(konce_ep_counters(p.b)->tx_packets, tx);
	}
	assert_int_equal(konce_ep_counters(p.b)->hello_bad_clue, 2 * KONCE_HS_ATTEMPTS);
	free_pair(&p);

	/* a client that expects a group server does not accept an unmasked cookie */
	make_pair(&p, NULL, NULL);
	opts.group_key = group;
	assert_int_equal(konce_ep_connect_ex(p.a, konce_identity_public(p.id_b), &p.addr_b, NULL, 0, &opts, p.now, &conn),
			 0);
	pump(&p);
	assert_true(konce_ep_counters(p.a)->cookie_bad >= 1);
	assert_false(konce_ep_poll_event(p.a, &ev));
	free_pair(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_group_server),
		cmocka_unit_test(test_server_identities),
		cmocka_unit_test(test_server_full),
		cmocka_unit_test(test_restart_after_rebinding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
