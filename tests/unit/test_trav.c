/* test_trav.c - the traversal core's interface to its host (node/core/trav.h), sans-I/O: a real
 * endpoint, a peer table standing for the node's behind the ops, no socket, no clock.
 *
 *   - After konce_trav_new() work is pending at once (next timer 0); the timer dials the
 *     rendezvous through ops.dial and queues the REGISTER on that session.
 *   - konce_trav_resolve() names the key by a path handle, which konce_trav_outgoing() takes (and
 *     holds while no path is chosen); a datagram to a real address is not traversal's.
 *   - A PUNCH naming a key we were not introduced to is taken, counted, answered with nothing and
 *     allocates nothing; a real datagram from [100::5]:7 is not taken (the endpoint's).
 *   - A rendezvous message from a key that is no rendezvous of ours is counted and dropped.
 *   - The filtering test's service: sockets by number, echoes without amplification and within
 *     budget, probes only to the asker's own IP.
 *   - Datagrams lent by reference stay unchanged in the ring until released.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "count_env.h"
#include "nat/filtertest.h"
#include "nat/rdvwire.h"
#include "node/base/wire.h"
#include "node/core/trav.h"
#include "node/core/trav_int.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/unit/trav_rig.h"

static bool op_peer(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	host *h = ctx;
	for (unsigned i = 0; i < 4; i++)
		if (h->tab[i].used && !memcmp(h->tab[i].pk, pk, KONCE_WIRE_KEY)) {
			*out = (konce_trav_peer){h->tab[i].conn, false, h->tab[i].addr};
			return true;
		}
	return false;
}

static uint32_t op_dial(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now)
{
	host *h = ctx;
	for (unsigned i = 0; i < 4; i++)
		if (!h->tab[i].used) {
			if (konce_ep_connect(h->ep, pk, to, NULL, 0, now, &h->tab[i].conn))
				return 0;
			h->tab[i].used = true;
			memcpy(h->tab[i].pk, pk, KONCE_WIRE_KEY);
			h->tab[i].addr = *to;
			h->dials++;
			return h->tab[i].conn;
		}
	return 0;
}

static void setup_host(host *h)
{
	trav_host_open(h, 9);
	uint8_t rdv_pk[1][KONCE_WIRE_KEY];
	memcpy(rdv_pk[0], konce_identity_public(h->rdv_id), KONCE_WIRE_KEY);
	konce_addr hostc;
	assert_int_equal(konce_addr_parse(&hostc, "10.0.0.2:7000"), 0);
	konce_trav_cfg tc = {.env = &h->ce.env, .ep = h->ep, .pk = konce_identity_public(h->id),
			     .ops = {.peer = op_peer, .dial = op_dial, .ctx = h},
			     .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])rdv_pk, .rdv_addr = &h->rdv, .nrdv = 1,
			     .host = &hostc, .nhost = 1};
	assert_int_equal(konce_trav_new(&h->t, &tc, 1000000), 0);
}

static void free_host(host *h) { trav_host_close(h); }

static void test_start_dials_rendezvous(void **state)
{
	(void)state;
	host h;
	setup_host(&h);
	assert_int_equal(konce_trav_next_timer(h.t), 0); /* the first registration is due */
	konce_trav_timer(h.t, 1000000);
	assert_int_equal(h.dials, 1);
	assert_memory_equal(h.tab[0].pk, konce_identity_public(h.rdv_id), KONCE_WIRE_KEY);
	assert_true(konce_addr_eq(&h.tab[0].addr, &h.rdv));
	assert_true(konce_ep_msg_queued(h.ep, h.tab[0].conn) > 0); /* the REGISTER waits for the session */
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned sock;
	assert_true(konce_ep_poll_datagram(h.ep, buf, &len, &to)); /* the endpoint's HELLO to it */
	assert_int_equal(buf[0], KONCE_PKT_HELLO);
	assert_true(konce_addr_eq(&to, &h.rdv));
	assert_false(konce_trav_outgoing(h.t, buf, len, &to, 1000000)); /* a real address */
	assert_false(konce_trav_poll(h.t, &sock, buf, &len, &to)); /* nothing bare */
	assert_true(konce_trav_next_timer(h.t) > 1000000);
	free_host(&h);
}

static void test_path_handles(void **state)
{
	(void)state;
	host h;
	setup_host(&h);
	konce_trav_timer(h.t, 1000000);
	konce_addr va, vb;
	const uint8_t *peer = konce_identity_public(h.peer_id);
	assert_int_equal(konce_trav_resolve(h.t, peer, &va, 1000000), 0);
	assert_true(konce_trav_is_path(&va));
	assert_int_equal(konce_trav_resolve(h.t, peer, &vb, 1000000), 0);
	assert_true(konce_addr_eq(&va, &vb)); /* one handle per key */
	assert_int_equal(konce_trav_resolve(h.t, konce_identity_public(h.id), &vb, 1000000), -EHOSTUNREACH);
	/* the endpoint's HELLO to the handle: taken, held (no path yet), never to a socket */
	uint32_t conn;
	assert_int_equal(konce_ep_connect(h.ep, peer, &va, NULL, 0, 1000000, &conn), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	unsigned sock;
	bool saw = false;
	while (konce_ep_poll_datagram(h.ep, buf, &len, &to))
		if (konce_addr_eq(&to, &va)) {
			assert_true(konce_trav_outgoing(h.t, buf, len, &to, 1000000));
			saw = true;
		}
	assert_true(saw);
	konce_trav_timer(h.t, 1000000);
	while (konce_trav_poll(h.t, &sock, buf, &len, &to))
		assert_false(to.path); /* the core never names a handle as a destination */
	struct tpeer *p = tpeer_get(h.t, peer, TPEER_FIND, 1000000);
	assert_non_null(p);
	assert_int_equal(p->nheld, 1);
	assert_true(p->solicited);
	free_host(&h);
}

static void test_forged_and_foreign(void **state)
{
	(void)state;
	host h;
	setup_host(&h);
	konce_trav_timer(h.t, 1000000);
	/* a PUNCH naming a key nobody introduced us to */
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .seq = 1, .id = 42};
	memcpy(m.key, konce_identity_public(h.peer_id), KONCE_WIRE_KEY);
	uint8_t pkt[KONCE_RDV_MAX_MSG], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = konce_rdvwire_encode(&m, pkt, sizeof pkt), len;
	assert_true(n > 0);
	konce_addr from, to;
	unsigned sock;
	assert_int_equal(konce_addr_parse(&from, "203.0.113.66:7000"), 0);
	long allocs = h.ce.allocs;
	assert_true(konce_trav_input(h.t, 0, pkt, n, &from, 1000000));
	assert_int_equal(h.t->punch_bad, 1);
	assert_int_equal(h.ce.allocs, allocs);
	konce_trav_timer(h.t, 1000000);
	assert_false(konce_trav_poll(h.t, &sock, buf, &len, &to)); /* no answer to it */
	/* a real datagram from the discard prefix is the endpoint's, not a traversal path */
	konce_addr r5;
	assert_int_equal(konce_addr_parse(&r5, "[100::5]:7"), 0);
	uint8_t data[64] = {KONCE_PKT_DATA};
	assert_false(konce_trav_input(h.t, 0, data, sizeof data, &r5, 2000000));
	/* rendezvous messages from a key that is no rendezvous of ours */
	konce_rdvwire_msg reg = {.type = KONCE_RDV_REGISTERED, .id = 1};
	n = konce_rdvwire_encode(&reg, pkt, sizeof pkt);
	konce_trav_message(h.t, konce_identity_public(h.peer_id), &from, pkt, n, 2000000);
	assert_int_equal(h.t->msg_unknown, 1);
	/* a REGISTER for a service we do not run */
	konce_rdvwire_msg r = {.type = KONCE_RDV_REGISTER, .id = 2};
	memcpy(r.key, konce_identity_public(h.peer_id), KONCE_WIRE_KEY);
	n = konce_rdvwire_encode(&r, pkt, sizeof pkt);
	allocs = h.ce.allocs;
	konce_trav_message(h.t, konce_identity_public(h.peer_id), &from, pkt, n, 2000000);
	assert_int_equal(h.t->msg_unknown, 2);
	assert_int_equal(h.ce.allocs, allocs);
	free_host(&h);
}

/* The filtering test's service on a rendezvous: the second port is asked for by event and named
 * by number; a bare ECHO_REQ is echoed to its source at the same size, within a per-source budget;
 * an ASK from a session is probed from the node socket (ASK_ALT: from the second port) only at the
 * asker's own IP, and the SENT report goes back on its session. */
static void test_filter_service(void **state)
{
	(void)state;
	host h;
	memset(&h, 0, sizeof h);
	count_env_init(&h.ce, 10);
	uint8_t s1[32] = {0, 1}, s2[32] = {0, 2}, s3[32] = {0, 3};
	assert_int_equal(konce_identity_from_secret(&h.id, s1), 0);
	assert_int_equal(konce_identity_from_secret(&h.rdv_id, s2), 0);
	assert_int_equal(konce_identity_from_secret(&h.peer_id, s3), 0);
	konce_ep_config ec = {.env = &h.ce.env, .identity = h.id, .explicit_identity = true};
	assert_int_equal(konce_ep_new(&h.ep, &ec, 1000000), 0);
	konce_addr local, alt, asker, other;
	assert_int_equal(konce_addr_parse(&local, "192.0.2.1:3478"), 0);
	assert_int_equal(konce_addr_parse(&alt, "192.0.2.1:3479"), 0);
	assert_int_equal(konce_addr_parse(&asker, "198.51.100.7:40000"), 0);
	assert_int_equal(konce_addr_parse(&other, "203.0.113.9:40000"), 0);
	konce_trav_cfg tc = {.env = &h.ce.env, .ep = h.ep, .pk = konce_identity_public(h.id),
			     .ops = {.peer = op_peer, .dial = op_dial, .ctx = &h}, .local = &local, .rendezvous = true};
	assert_int_equal(konce_trav_new(&h.t, &tc, 1000000), 0);
	konce_trav_event ev;
	assert_true(konce_trav_poll_event(h.t, &ev));
	assert_int_equal(ev.type, KONCE_TRAV_EV_SOCK_OPEN);
	assert_int_equal(ev.sock, KONCE_TRAV_SOCK_ALT);
	konce_trav_sock_opened(h.t, KONCE_TRAV_SOCK_ALT, &alt, 1000000);

	uint8_t pkt[KONCE_RDV_MAX_MSG], buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_rdvwire_msg req = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_ECHO_REQ, .id = 77};
	size_t n = konce_rdvwire_encode(&req, pkt, sizeof pkt);
	unsigned echoes = 0;
	for (int i = 0; i < 30; i++) {
		assert_true(konce_trav_input(h.t, 0, pkt, n, &asker, 1000000));
		while (konce_trav_poll(h.t, &sock, buf, &len, &to)) {
			konce_rdvwire_msg e;
			assert_int_equal(sock, 0);
			assert_true(konce_addr_eq(&to, &asker));
			assert_int_equal(len, n); /* no amplification */
			assert_int_equal(konce_rdvwire_decode(&e, buf, len), 0);
			assert_int_equal(e.flags, KONCE_FILT_OP_ECHO);
			assert_true(konce_addr_eq(&e.addr, &asker));
			echoes++;
		}
	}
	assert_int_equal(echoes, 20); /* the burst; the rest refused */
	assert_int_equal(h.t->filt.refused, 10);

	/* ASKs from a session with the asker's key, at the asker's address */
	const uint8_t *apk = konce_identity_public(h.peer_id);
	uint32_t conn = op_dial(&h, apk, &asker, 1000000);
	assert_int_not_equal(conn, 0);
	uint64_t queued = konce_ep_msg_queued(h.ep, conn);
	konce_rdvwire_msg ask = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_ASK, .id = 5, .addr = asker};
	ask.addr.port = 41000;
	n = konce_rdvwire_encode(&ask, pkt, sizeof pkt);
	konce_trav_message(h.t, apk, &asker, pkt, n, 3000000);
	assert_true(konce_trav_poll(h.t, &sock, buf, &len, &to));
	assert_int_equal(sock, 0);
	assert_int_equal(to.port, 41000);
	assert_true(konce_ep_msg_queued(h.ep, conn) > queued); /* SENT, on the session */
	ask.flags = KONCE_FILT_OP_ASK_ALT;
	n = konce_rdvwire_encode(&ask, pkt, sizeof pkt);
	konce_trav_message(h.t, apk, &asker, pkt, n, 3000000);
	assert_true(konce_trav_poll(h.t, &sock, buf, &len, &to));
	assert_int_equal(sock, KONCE_TRAV_SOCK_ALT);
	/* a probe for another host's IP: refused, nothing sent */
	uint64_t refused = h.t->filt.refused;
	ask.addr = other;
	n = konce_rdvwire_encode(&ask, pkt, sizeof pkt);
	konce_trav_message(h.t, apk, &asker, pkt, n, 3000000);
	assert_false(konce_trav_poll(h.t, &sock, buf, &len, &to));
	assert_int_equal(h.t->filt.refused, refused + 1);
	assert_int_equal(h.t->filt.probes, 2);
	/* anything on the second port is dropped (taken, never to the endpoint) */
	assert_true(konce_trav_input(h.t, KONCE_TRAV_SOCK_ALT, pkt, n, &asker, 3000000));
	free_host(&h);
}

/* A bare echo request with id i from asker: its echo, queued to the asker, carries the id. */
static void echo_req(host *h, const konce_addr *asker, unsigned i)
{
	uint8_t pkt[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg q = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_ECHO_REQ, .id = i};
	size_t n = konce_rdvwire_encode(&q, pkt, sizeof pkt);
	assert_true(konce_trav_input(h->t, 0, pkt, n, asker, 1000000));
}

/* Datagrams lent by reference (konce_trav_poll_ref): they stay in the ring, unchanged, while the
 * core queues more, until konce_trav_sent(); a copying poll meanwhile lends its slot too. */
static void test_poll_ref(void **state)
{
	(void)state;
	host h;
	memset(&h, 0, sizeof h);
	count_env_init(&h.ce, 10);
	uint8_t s1[32] = {0, 1};
	assert_int_equal(konce_identity_from_secret(&h.id, s1), 0);
	konce_ep_config ec = {.env = &h.ce.env, .identity = h.id, .explicit_identity = true};
	assert_int_equal(konce_ep_new(&h.ep, &ec, 1000000), 0);
	konce_addr local, asker, to;
	assert_int_equal(konce_addr_parse(&local, "192.0.2.1:3478"), 0);
	assert_int_equal(konce_addr_parse(&asker, "198.51.100.7:40000"), 0);
	konce_trav_cfg tc = {.env = &h.ce.env, .ep = h.ep, .pk = konce_identity_public(h.id),
			     .ops = {.peer = op_peer, .dial = op_dial, .ctx = &h}, .local = &local, .rendezvous = true};
	assert_int_equal(konce_trav_new(&h.t, &tc, 1000000), 0);
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM], copy[2][KONCE_WIRE_MAX_DATAGRAM];
	const uint8_t *ref[2];
	size_t len, rlen[2];
	unsigned sock;
	konce_rdvwire_msg e;
	for (unsigned i = 1; i <= 3; i++)
		echo_req(&h, &asker, i);
	for (int k = 0; k < 2; k++) {
		assert_true(konce_trav_poll_ref(h.t, &sock, &ref[k], &rlen[k], &to));
		memcpy(copy[k], ref[k], rlen[k]);
	}
	echo_req(&h, &asker, 4);
	echo_req(&h, &asker, 5);
	assert_true(konce_trav_poll(h.t, &sock, buf, &len, &to)); /* lent with the others */
	assert_int_equal(konce_rdvwire_decode(&e, buf, len), 0);
	assert_int_equal(e.id, 3);
	for (int k = 0; k < 2; k++) {
		assert_memory_equal(ref[k], copy[k], rlen[k]);
		assert_int_equal(konce_rdvwire_decode(&e, ref[k], rlen[k]), 0);
		assert_int_equal(e.id, (unsigned)k + 1);
	}
	assert_int_equal(h.t->out_n, 5);
	assert_true(konce_trav_poll_ref(h.t, &sock, &ref[0], &rlen[0], &to));
	assert_int_equal(konce_rdvwire_decode(&e, ref[0], rlen[0]), 0);
	assert_int_equal(e.id, 4);
	konce_trav_sent(h.t);
	assert_int_equal(h.t->out_n, 1);
	assert_true(konce_trav_poll(h.t, &sock, buf, &len, &to)); /* nothing lent: freed at once */
	assert_int_equal(konce_rdvwire_decode(&e, buf, len), 0);
	assert_int_equal(e.id, 5);
	assert_int_equal(h.t->out_n, 0);
	assert_false(konce_trav_poll_ref(h.t, &sock, &ref[0], &rlen[0], &to));
	free_host(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_dials_rendezvous),
		cmocka_unit_test(test_path_handles),
		cmocka_unit_test(test_forged_and_foreign),
		cmocka_unit_test(test_filter_service),
		cmocka_unit_test(test_poll_ref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
