/* test_trav_info.c - the traversal core's read-only views for its host (node/core/trav_info.h):
 * what a client and a rendezvous core report, with a real endpoint and no socket.
 *
 *   - A client reports its rendezvous, host candidates and "not registered"; no reflexive address
 *     yet; no service.  The registration refresh it is given does not change what it reports.
 *   - konce_trav_path_info_get() knows only keys with a traversal entry; a resolved key's entry is
 *     solicited, IDLE, with nothing sent yet; konce_trav_path_name() calls a real address direct
 *     and a handle whose path is not verified relayed; the peer table counts it as solicited.
 *   - Refusals are counted where the info says: a PUNCH from a stranger and a datagram the host
 *     counts with konce_trav_count_refused().
 *   - A rendezvous core reports its service: the registration capacity, and the filtering
 *     service's echoes, refusals and second port.
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
#include "node/core/trav_info.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/unit/trav_rig.h"

static bool op_peer(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], konce_trav_peer *out)
{
	(void)ctx;
	(void)pk;
	(void)out;
	return false;
}

static uint32_t op_dial(void *ctx, const uint8_t pk[KONCE_WIRE_KEY], const konce_addr *to, uint64_t now)
{
	host *h = ctx;
	uint32_t conn;
	return konce_ep_connect(h->ep, pk, to, NULL, 0, now, &conn) ? 0 : conn;
}

static void setup(host *h, bool client, bool rendezvous)
{
	trav_host_open(h, 11);
	assert_int_equal(konce_addr_parse(&h->hostc, "10.0.0.2:7000"), 0);
	uint8_t rdv_pk[1][KONCE_WIRE_KEY];
	memcpy(rdv_pk[0], konce_identity_public(h->rdv_id), KONCE_WIRE_KEY);
	konce_trav_cfg tc = {.env = &h->ce.env, .ep = h->ep, .pk = konce_identity_public(h->id),
			     .ops = {.peer = op_peer, .dial = op_dial, .ctx = h}, .rendezvous = rendezvous,
			     .local = &h->hostc};
	if (client) {
		tc.rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])rdv_pk;
		tc.rdv_addr = &h->rdv;
		tc.nrdv = 1;
		tc.host = &h->hostc;
		tc.nhost = 1;
		tc.host_candidates = true; /* configured: the info then lists it */
	}
	assert_int_equal(konce_trav_new(&h->t, &tc, 1000000), 0);
}

static void teardown(host *h) { trav_host_close(h); }

static void test_client(void **state)
{
	(void)state;
	host h;
	setup(&h, true, false);
	konce_trav_timer(h.t, 1000000);
	konce_trav_info in;
	konce_trav_info_get(h.t, &in);
	assert_true(in.client);
	assert_false(in.service);
	assert_false(in.registered);
	assert_int_equal(in.nrdv, 1);
	assert_memory_equal(in.rdv[0].pk, konce_identity_public(h.rdv_id), KONCE_WIRE_KEY);
	assert_true(konce_addr_eq(&in.rdv[0].addr, &h.rdv));
	assert_false(in.rdv[0].have_refl);
	assert_int_equal(in.rdv[0].rtt_us, 0);
	assert_int_equal(in.nhost, 1);
	assert_true(konce_addr_eq(&in.host[0], &h.hostc));
	assert_false(in.filter_started);
	assert_false(in.filter_running);
	konce_addr a;
	assert_int_equal(konce_trav_reflexive(h.t, &a), -ENOENT);
	const uint8_t(*pk)[KONCE_WIRE_KEY];
	const konce_addr *addr;
	assert_int_equal(konce_trav_rdvs(h.t, &pk, &addr), 1);
	assert_memory_equal(pk[0], konce_identity_public(h.rdv_id), KONCE_WIRE_KEY);
	assert_true(konce_addr_eq(&addr[0], &h.rdv));
	assert_true(konce_trav_has_client(h.t));
	assert_false(konce_trav_has_service(h.t));
	konce_trav_service_info si;
	assert_int_equal(konce_trav_service_info_get(h.t, 1000000, &si), -ENOENT);
	konce_trav_set_rdv_keepalive(h.t, 20000000);
	konce_trav_info in2;
	konce_trav_info_get(h.t, &in2);
	assert_memory_equal(&in, &in2, sizeof in);
	teardown(&h);
}

static void test_paths_and_refusals(void **state)
{
	(void)state;
	host h;
	setup(&h, true, false);
	konce_trav_timer(h.t, 1000000);
	const uint8_t *peer = konce_identity_public(h.peer_id);
	konce_trav_path_info pi;
	assert_int_equal(konce_trav_path_info_get(h.t, peer, 1000000, &pi), -ENOENT);
	konce_addr va;
	konce_trav_info in;
	konce_trav_info_get(h.t, &in);
	assert_int_equal(in.peers_used, 0);
	assert_int_equal(in.peer_capacity, 64);
	assert_int_equal(in.stranger_capacity, 16);
	assert_int_equal(konce_trav_resolve(h.t, peer, &va, 1000000), 0);
	/* a key we asked for takes a solicited entry, not one of the strangers' pool */
	konce_trav_info_get(h.t, &in);
	assert_int_equal(in.peers_used, 1);
	assert_int_equal(in.peers_solicited, 1);
	assert_int_equal(in.peers_strangers, 0);
	assert_int_equal(konce_trav_path_info_get(h.t, peer, 1000000, &pi), 0);
	assert_true(pi.solicited);
	assert_int_equal(pi.state, KONCE_PUNCH_PATH_IDLE);
	assert_true(pi.asked_us > 0);
	assert_int_equal(pi.ncand, 0);
	assert_int_equal(pi.punch.probes, 0);
	assert_int_equal(pi.direct_tx + pi.relayed_tx, 0);
	assert_false(pi.have_path_sock);
	assert_string_equal(konce_trav_path_name(h.t, &h.rdv), "direct");
	assert_string_equal(konce_trav_path_name(h.t, &va), "relayed");
	assert_string_equal(konce_trav_path_name(NULL, &va), "relayed");

	/* a PUNCH naming a key nobody introduced us to: refused and counted */
	konce_trav_info_get(h.t, &in);
	uint64_t refused = in.probes_refused;
	uint8_t pkt[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg m = {.type = KONCE_RDV_PUNCH, .seq = 1, .id = 9};
	memcpy(m.key, konce_identity_public(h.rdv_id), KONCE_WIRE_KEY);
	size_t n = konce_rdvwire_encode(&m, pkt, sizeof pkt);
	konce_addr from;
	assert_int_equal(konce_addr_parse(&from, "203.0.113.5:4000"), 0);
	assert_true(konce_trav_input(h.t, 0, pkt, n, &from, 1000000));
	konce_trav_info_get(h.t, &in);
	assert_int_equal(in.probes_refused, refused + 1);
	konce_trav_count_refused(h.t);
	konce_trav_info_get(h.t, &in);
	assert_int_equal(in.probes_refused, refused + 2);
	teardown(&h);
}

static void test_service(void **state)
{
	(void)state;
	host h;
	setup(&h, false, true);
	konce_trav_info in;
	konce_trav_info_get(h.t, &in);
	assert_false(in.client);
	assert_true(in.service);
	assert_int_equal(in.nrdv, 0);
	assert_false(in.alt_open);
	const uint8_t(*pk)[KONCE_WIRE_KEY];
	const konce_addr *addr;
	assert_int_equal(konce_trav_rdvs(h.t, &pk, &addr), 0);
	konce_addr alt, asker;
	assert_int_equal(konce_addr_parse(&alt, "10.0.0.2:7001"), 0);
	assert_int_equal(konce_addr_parse(&asker, "198.51.100.7:40000"), 0);
	konce_trav_sock_opened(h.t, KONCE_TRAV_SOCK_ALT, &alt, 1000000);
	uint8_t pkt[KONCE_RDV_MAX_MSG], buf[KONCE_WIRE_MAX_DATAGRAM];
	konce_rdvwire_msg req = {.type = KONCE_RDV_FILTER, .flags = KONCE_FILT_OP_ECHO_REQ, .id = 77};
	size_t n = konce_rdvwire_encode(&req, pkt, sizeof pkt), len;
	unsigned sock, echoes = 0;
	konce_addr to;
	for (int i = 0; i < 30; i++) {
		assert_true(konce_trav_input(h.t, 0, pkt, n, &asker, 1000000));
		while (konce_trav_poll(h.t, &sock, buf, &len, &to))
			echoes++;
	}
	konce_trav_info_get(h.t, &in);
	assert_int_equal(in.filter_echoes, echoes);
	assert_int_equal(in.filter_echoes + in.filter_refused, 30);
	assert_true(in.filter_refused > 0);
	assert_true(in.alt_open);
	assert_true(konce_addr_eq(&in.alt_local, &alt));
	konce_trav_service_info si;
	assert_int_equal(konce_trav_service_info_get(h.t, 1000000, &si), 0);
	assert_true(si.capacity > 0);
	assert_int_equal(si.registrations, 0);
	assert_int_equal(si.relay_pairs, 0);
	assert_int_equal(si.forged + si.no_session, 0);
	teardown(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_paths_and_refusals),
		cmocka_unit_test(test_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
