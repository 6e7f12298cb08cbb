/* test_nctrav.c - the traversal core's ops over the node core's peer table (node/core/nctrav.h),
 * on a real node core with no socket:
 *
 *   - peer: none for an unknown key; after dial, the peer's conn, not up, at the dialled address;
 *   - dial adds exactly one peer and opens a session attempt (the HELLO is queued);
 *   - known: only a key with a petname counts (introductions = known);
 *   - a declined introduction frees a peer not yet up and fails what waits for it with
 *     KONCE_REASON_INTRO_REFUSED, once; an unknown key is a no-op;
 *   - the shared hook bodies: outgoing leaves a real address to the socket and keeps a path handle
 *     from it (queued only when there is a traversal core to take it); a rendezvous message is fed to the
 *     traversal core, or counted as dropped (no traversal, empty body);
 *   - where a datagram for traversal goes: the lifetime's sockets and the filtering test's are
 *     always taken, a LIFE_REQ is taken on every socket (served only on the node's), anything the
 *     traversal core refuses is not taken (the node socket's goes on, a pool socket's is refused);
 *   - the shared hook table: each hook takes what the functions above take, asks the host to run
 *     the traversal core (kick) exactly when it took something, and works at the node core's
 *     latest time;
 *   - a port-mapping event: noted in the status; MAPPED gives the traversal core its external
 *     address (again when it moves), LOST takes it back, UNAVAILABLE leaves it; each with its log
 *     line and level.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/nctrav.h"
#include "node/core/trav_info.h"
#include "node/transport/identity.h"

enum { APP = 300 };

/* One node core with a fresh identity at 1 s, and (with_trav) a traversal core over its peer table. */
typedef struct rig {
	konce_identity *id;
	konce_nodecore *c;
	konce_trav *t;
	uint64_t now;
} rig;

static void rig_open(rig *r, bool with_trav)
{
	*r = (rig){.now = 1000000};
	assert_int_equal(konce_identity_generate(&r->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = r->id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&r->c, &cfg, r->now), 0);
	if (!with_trav)
		return;
	konce_trav_cfg tc = {.env = konce_env_default(), .ep = konce_nodecore_ep(r->c),
			     .pk = konce_nodecore_public_key(r->c), .ops = konce_nodecore_trav_ops(r->c)};
	assert_int_equal(konce_trav_new(&r->t, &tc, r->now), 0);
}

static void rig_close(rig *r)
{
	if (r->t)
		konce_trav_free(r->t);
	konce_nodecore_free(r->c);
	konce_identity_free(r->id);
}

/* cmocka setup/teardown: *state is the rig, opened with its traversal core */
static int rig_setup_trav(void **state)
{
	static rig r;
	rig_open(&r, true);
	*state = &r;
	return 0;
}

static int rig_teardown(void **state)
{
	rig_close(*state);
	return 0;
}

static int outcomes, last_outcome, last_reason;

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	outcomes++;
	last_outcome = outcome;
	last_reason = reason;
}

static void test_ops(void **state)
{
	(void)state;
	rig r;
	rig_open(&r, false);
	konce_nodecore *c = r.c;
	uint64_t now = r.now;
	konce_identity *other;
	assert_int_equal(konce_identity_generate(&other, konce_env_default()), 0);
	konce_trav_ops ops = konce_nodecore_trav_ops(c);
	const uint8_t *pk = konce_identity_public(other);
	konce_trav_peer tp;
	assert_false(ops.peer(ops.ctx, pk, &tp));
	assert_false(ops.known(ops.ctx, pk));

	konce_addr to;
	assert_int_equal(konce_addr_parse(&to, "192.0.2.9:7807"), 0);
	uint32_t conn = ops.dial(ops.ctx, pk, &to, now);
	assert_int_not_equal(conn, 0);
	assert_int_equal(konce_nodecore_npeers(c), 1);
	assert_true(ops.peer(ops.ctx, pk, &tp));
	assert_int_equal(tp.conn, conn);
	assert_false(tp.up);
	assert_true(konce_addr_eq(&tp.addr, &to));
	konce_nc_datagram dg;
	bool hello = false;
	while (konce_nodecore_poll(c, &dg))
		hello |= konce_addr_eq(&dg.to, &to);
	assert_true(hello);

	/* a send waiting for the session, then the peer's side declines us */
	uint64_t h;
	assert_int_equal(konce_nodecore_send(c, pk, APP, (const uint8_t *)"hi", 2, NULL, on_outcome, NULL, now, &h), 0);
	konce_nodecore_trav_declined(c, pk, now);
	assert_false(ops.peer(ops.ctx, pk, &tp));
	assert_int_equal(konce_nodecore_npeers(c), 0);
	konce_nc_event ev;
	while (konce_nodecore_poll_event(c, &ev))
		if (ev.type == KONCE_NC_EV_OUTCOME)
			ev.fn(ev.ctx, ev.outcome, ev.reason, ev.data, ev.len);
	assert_int_equal(outcomes, 1);
	assert_int_equal(last_outcome, KONCE_OUTCOME_FAILED);
	assert_int_equal(last_reason, KONCE_REASON_INTRO_REFUSED);
	konce_nodecore_trav_declined(c, pk, now); /* nothing left: a no-op */
	assert_false(konce_nodecore_poll_event(c, &ev));

	/* introductions = known: a petname counts, a key merely seen does not */
	konce_nodecore_known_load(c, pk, &to, NULL);
	assert_false(ops.known(ops.ctx, pk));
	konce_nodecore_known_load(c, pk, &to, "carol");
	assert_true(ops.known(ops.ctx, pk));

	konce_identity_free(other);
	rig_close(&r);
}

static void test_hook_bodies(void **state)
{
	rig *r = *state;
	konce_nodecore *c = r->c;
	konce_trav *t = r->t;
	uint64_t now = r->now;

	const uint8_t pkt[4] = {1, 2, 3, 4};
	konce_addr real, path;
	bool queued = true;
	assert_int_equal(konce_addr_parse(&real, "192.0.2.9:7807"), 0);
	path = real;
	path.path = 1;
	assert_false(konce_nodecore_trav_outgoing(t, pkt, sizeof pkt, &real, now, &queued));
	assert_false(queued);
	queued = true;
	assert_true(konce_nodecore_trav_outgoing(NULL, pkt, sizeof pkt, &path, now, &queued));
	assert_false(queued); /* no traversal: dropped, never to a socket */
	assert_true(konce_nodecore_trav_outgoing(t, pkt, sizeof pkt, &path, now, &queued));
	assert_true(queued); /* handed to the core (which drops a handle it never gave out) */

	konce_ncpeer from = {.addr = real};
	memset(from.pk, 7, sizeof from.pk);
	konce_nodecore_stats st;
	assert_false(konce_nodecore_trav_message(c, NULL, &from, pkt, sizeof pkt, now));
	assert_false(konce_nodecore_trav_message(c, t, &from, pkt, 0, now));
	konce_nodecore_stats_get(c, &st);
	assert_int_equal(st.msgs_dropped, 2);
	assert_true(konce_nodecore_trav_message(c, t, &from, pkt, sizeof pkt, now));
	konce_nodecore_stats_get(c, &st);
	assert_int_equal(st.msgs_dropped, 2);

}

static void test_input(void **state)
{
	rig *r = *state;
	konce_trav *t = r->t;
	uint64_t now = r->now;
	konce_addr from;
	assert_int_equal(konce_addr_parse(&from, "192.0.2.9:7807"), 0);
	const uint8_t junk[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};
	enum konce_rx_kind k = konce_rx_classify(junk, sizeof junk);

	/* the probe socket and the filtering test's: always the cores' */
	assert_true(konce_nodecore_trav_input(t, NULL, KONCE_TRAVLIFE_SOCK_PROBE, k, junk, sizeof junk, &from, now));
	assert_true(konce_nodecore_trav_input(t, NULL, KONCE_PUNCH_BIRTHDAY + 1, k, junk, sizeof junk, &from, now));
	/* a LIFE_REQ: the lifetime service's on the node socket, dropped on a pool socket */
	assert_true(konce_nodecore_trav_input(t, NULL, 0, KONCE_RX_LIFE_REQ, junk, sizeof junk, &from, now));
	assert_true(konce_nodecore_trav_input(t, NULL, 1, KONCE_RX_LIFE_REQ, junk, sizeof junk, &from, now));
	/* what the traversal core does not take: on to the endpoint, or refused on a pool socket */
	assert_false(konce_nodecore_trav_input(t, NULL, 0, k, junk, sizeof junk, &from, now));
	assert_false(konce_nodecore_trav_input(t, NULL, 1, k, junk, sizeof junk, &from, now));
	assert_false(konce_nodecore_trav_input(t, NULL, KONCE_PUNCH_BIRTHDAY, KONCE_RX_TRANSPORT, junk, sizeof junk,
					       &from, now));

}

static int kicks;
static void count_kick(void *ctx)
{
	assert_ptr_equal(ctx, &kicks);
	kicks++;
}

static void test_hooks(void **state)
{
	rig *r = *state;
	konce_nodecore *c = r->c;
	konce_trav *t = r->t;
	uint64_t now = r->now;
	assert_int_equal(konce_nodecore_now(c), now);
	konce_nodecore_trav_glue g = {.c = c, .t = t, .kick = count_kick, .kick_ctx = &kicks};
	konce_nodecore_hooks h;
	konce_nodecore_trav_hooks(&g, &h);
	assert_ptr_equal(h.ctx, &g);
	assert_true(h.traversal(h.ctx));

	konce_addr real, path;
	assert_int_equal(konce_addr_parse(&real, "192.0.2.9:7807"), 0);
	path = real;
	path.path = 1;
	assert_false(h.is_virtual(h.ctx, &real));
	assert_true(h.is_virtual(h.ctx, &path));

	const uint8_t junk[8] = {0xee, 1, 2, 3, 4, 5, 6, 7};
	kicks = 0;
	assert_false(h.on_datagram(h.ctx, konce_rx_classify(junk, sizeof junk), junk, sizeof junk, &real, now));
	assert_int_equal(kicks, 0);
	assert_true(h.on_datagram(h.ctx, KONCE_RX_LIFE_REQ, junk, sizeof junk, &real, now));
	assert_int_equal(kicks, 1); /* taken (no lifetime core: dropped), so the host runs the cores */
	assert_false(h.outgoing(h.ctx, junk, sizeof junk, &real));
	assert_int_equal(kicks, 1);
	assert_true(h.outgoing(h.ctx, junk, sizeof junk, &path));
	assert_int_equal(kicks, 2);

	konce_ncpeer from = {.addr = real};
	memset(from.pk, 7, sizeof from.pk);
	h.on_message(h.ctx, &from, junk, 0); /* empty: dropped, nothing for the core */
	assert_int_equal(kicks, 2);
	h.on_message(h.ctx, &from, junk, sizeof junk);
	assert_int_equal(kicks, 3);

	/* no rendezvous to ask: no handle, nothing to run */
	uint8_t pk[KONCE_KEY_BYTES];
	konce_addr a;
	memset(pk, 9, sizeof pk);
	assert_int_not_equal(h.resolve(h.ctx, pk, &a), 0);
	assert_int_equal(kicks, 3);

}

static void test_portmap(void **state)
{
	rig *r = *state;
	konce_trav *t = r->t;
	uint64_t now = r->now;

	konce_portmap_status st = {.state = KONCE_PMST_TRYING};
	konce_addr ext, got;
	char line[160];
	assert_int_equal(konce_addr_parse(&ext, "203.0.113.5:40000"), 0);
	assert_false(konce_trav_mapped(t, &got));

	konce_portmap_policy_event ev = {.type = KONCE_PM_EV_UNAVAILABLE, .reason = KONCE_PM_ERR_NO_GATEWAY};
	assert_int_equal(konce_nodecore_trav_portmap(t, &st, &ev, now, line, sizeof line), KONCE_LOG_DEBUG);
	assert_int_equal(st.state, KONCE_PMST_UNAVAILABLE);
	assert_false(konce_trav_mapped(t, &got));
	assert_non_null(strstr(line, "no port mapping ("));

	ev = (konce_portmap_policy_event){.type = KONCE_PM_EV_MAPPED, .proto = KONCE_PM_PROTO_NATPMP, .external = ext,
					  .lifetime_s = 7200};
	assert_int_equal(konce_nodecore_trav_portmap(t, &st, &ev, now, line, sizeof line), KONCE_LOG_INFO);
	assert_int_equal(st.state, KONCE_PMST_MAPPED);
	assert_true(konce_addr_eq(&st.external, &ext));
	assert_true(konce_trav_mapped(t, &got));
	assert_true(konce_addr_eq(&got, &ext));
	assert_non_null(strstr(line, "203.0.113.5:40000 (lease 7200 s)"));

	/* the router moved it: the new address replaces the old */
	assert_int_equal(konce_addr_parse(&ev.external, "203.0.113.5:40001"), 0);
	ev.changed = true;
	konce_nodecore_trav_portmap(t, &st, &ev, now, line, sizeof line);
	assert_true(konce_trav_mapped(t, &got));
	assert_true(konce_addr_eq(&got, &ev.external));

	ev = (konce_portmap_policy_event){.type = KONCE_PM_EV_LOST, .reason = KONCE_PM_ERR_NO_GATEWAY};
	assert_int_equal(konce_nodecore_trav_portmap(t, &st, &ev, now, line, sizeof line), KONCE_LOG_INFO);
	assert_int_equal(st.state, KONCE_PMST_LOST);
	assert_false(konce_trav_mapped(t, &got));
	assert_non_null(strstr(line, "port mapping lost ("));

}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test_setup_teardown(test_hook_bodies, rig_setup_trav, rig_teardown),
		cmocka_unit_test_setup_teardown(test_input, rig_setup_trav, rig_teardown),
		cmocka_unit_test_setup_teardown(test_hooks, rig_setup_trav, rig_teardown),
		cmocka_unit_test_setup_teardown(test_portmap, rig_setup_trav, rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
