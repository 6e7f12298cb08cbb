/* test_transport_migration.c - an attacker who races copies of a peer's packets cannot move its
 * session (RFC 9000 section 9.3.3).
 *
 *	client 10.0.0.2:5555 --[NAT 192.0.2.1, port restricted]-- (15 ms) -- server 198.51.100.1:7807
 *	Eve 203.0.113.66:4444: sees the client's packets as they leave, 1 ms from the server and
 *	from the client's NAT
 *
 * Both sides send a numbered message every 100 ms.  From 1 s to 5 s Eve copies every DATA
 * packet the client sends and sends the copy to the server from her own address: it arrives
 * first, authenticates, and makes the genuine packet a replay.  Whatever the server sends to
 * her address she forwards to the client, spoofing the server's address so the NAT lets it in;
 * the client's answers she copies again.  So the server's PATH_CHALLENGE to her address is
 * answered, and today's endpoint moved the session to her and kept it there.  Now the server
 * also challenges the old address; the client, still there, answers, so the move is refused
 * or undone at once, no PATH_CHANGED ever says Eve's address is the peer's (validated), and the
 * server stays wary: Eve's address starts no probe again.  At 6 s the client's NAT really
 * rebinds: the session still follows it, once the old path failed its check (the wary rule),
 * and that move is confirmed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"
#include "tests/sim/tnode_traffic.h"

enum { PORT = 7807, EVE_PORT = 4444, RUN_MS = 12000, NMSG = RUN_MS / 100 + 10 };

typedef struct world {
	sim *s;
	sim_nat *nat;
	tnode srv, cli;
	sim_host *eve;
	konce_addr srv_addr, eve_addr, cli_ext;
	tnode_traffic t;
	bool eve_on;
	int moves_to_eve, validated_eve, moves, confirmations, bad;
	uint64_t last_move_at, flushed_at;
	uint64_t copies, relayed, srv_to_eve_bytes;
} world;

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_PATH_CHANGED) {
		if (konce_addr_eq(&ev->addr, &w->eve_addr)) {
			w->moves_to_eve++;
			w->validated_eve += ev->validated;
		}
		if (konce_addr_eq(&ev->addr, &w->t.path)) {
			w->confirmations += ev->validated && !w->t.path_validated;
		} else {
			w->moves++;
			w->last_move_at = now;
		}
	}
	tnode_traffic_srv_event(&w->t, ev);
}

static void cli_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	tnode_traffic_cli_event(&((world *)n->user)->t, ev, now, true);
}

/* Eve sees the client's DATA packet leave and races a copy from her address. */
static bool cli_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	if (w->eve_on && pkt[0] == KONCE_PKT_DATA && konce_addr_eq(to, &w->srv_addr)) {
		SIM_ASSERT(w->s, sim_send(w->s, w->eve, EVE_PORT, &w->srv_addr, pkt, len) == 0);
		w->copies++;
	}
	return true;
}

static bool srv_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	if (konce_addr_eq(to, &w->eve_addr))
		w->srv_to_eve_bytes += len;
	return true;
}

/* What reaches Eve she forwards to the client, as if from the server. */
static uint64_t eve_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
			 uint64_t now)
{
	world *w = ctx;
	if (w->eve_on && konce_addr_eq(from, &w->srv_addr)) {
		sim_send_spoofed(w->s, w->eve, &w->srv_addr, &w->cli_ext, pkt, len);
		w->relayed++;
	}
	return 0;
}

static void eve_start(void *ctx, uint64_t now) { ((world *)ctx)->eve_on = true; }
static void eve_stop(void *ctx, uint64_t now) { ((world *)ctx)->eve_on = false; }

static void rebind(void *ctx, uint64_t now)
{
	world *w = ctx;
	sim_nat_flush(w->nat);
	w->flushed_at = now;
}

static void run(uint64_t seed)
{
	static world w;
	memset(&w, 0, sizeof w);
	w.s = sim_new(seed);
	sim_link_cfg l = {.delay_us = 15 * SIM_MS, .jitter_us = 2 * SIM_MS};
	sim_link_default(w.s, &l);
	w.nat = tnode_traffic_open(&w.t, w.s, &w.cli, &w.srv, PORT, &w, NMSG);
	w.srv.on_event = srv_event;
	w.srv.on_tx = srv_tx;
	w.cli.on_event = cli_event;
	w.cli.on_tx = cli_tx;
	w.srv_addr = tnode_addr(&w.srv);
	static const sim_host_ops eve_ops = {.recv = eve_recv};
	w.eve = sim_host_add(w.s, "203.0.113.66", &eve_ops, &w);
	SIM_ASSERT(w.s, w.eve != NULL);
	SIM_ASSERT_EQ(w.s, sim_host_bind(w.eve, EVE_PORT), 0);
	w.eve_addr = sim_host_addr(w.eve, EVE_PORT);
	sim_link_cfg near = {.delay_us = 1 * SIM_MS};
	sim_link_set_both(w.s, w.eve, w.srv.h, &near);
	sim_link_set(w.s, w.eve, w.cli.h, &near);

	SIM_ASSERT_EQ(w.s, tnode_connect(&w.cli, tnode_pk(&w.srv), &w.srv_addr, NULL, 0, &w.t.cconn), 0);
	sim_run_while(w.s, tnode_traffic_connecting, &w.t, 30 * SIM_SEC);
	SIM_ASSERT(w.s, w.t.c_est && w.t.sconn);
	konce_addr first = w.t.path, cli_int = tnode_addr(&w.cli);
	SIM_ASSERT_EQ(w.s, sim_nat_lookup(w.nat, &cli_int, &w.srv_addr, &w.cli_ext), 0);
	SIM_ASSERT(w.s, w.t.path_validated);
	uint64_t t0 = sim_now(w.s);
	w.t.last_tick = t0 + (uint64_t)RUN_MS * SIM_MS - 100 * SIM_MS;
	sim_at(w.s, t0, tnode_traffic_tick, &w.t);
	sim_at(w.s, t0 + 1 * SIM_SEC, eve_start, &w);
	sim_at(w.s, t0 + 5 * SIM_SEC, eve_stop, &w);
	/* while she is at it, the server sends to the client's own address */
	for (int i = 1; i <= 8; i++) {
		sim_run_until(w.s, t0 + (uint64_t)(1000 + 500 * i) * SIM_MS - 1);
		SIM_ASSERT(w.s, konce_addr_eq(&w.t.path, &first));
	}
	sim_run_until(w.s, t0 + 6 * SIM_SEC);

	/* Eve's phase: the session is where it was; at most one move to her, undone, never validated */
	const struct konce_ep_counters *c = tnode_counters(&w.srv);
	SIM_ASSERT(w.s, w.copies > 20);
	SIM_ASSERT(w.s, konce_addr_eq(&w.t.path, &first));
	SIM_ASSERT(w.s, w.t.path_validated);
	SIM_ASSERT_EQ(w.s, w.validated_eve, 0);
	SIM_ASSERT(w.s, w.moves_to_eve <= 1);
	SIM_ASSERT(w.s, c->path_refused + c->path_reverted >= 1);
	SIM_ASSERT_EQ(w.s, c->path_confirmed, 0);
	/* what went to Eve's address: challenges (1x), and the data of one undone move at most */
	SIM_ASSERT(w.s, w.srv_to_eve_bytes < 2000);
	uint64_t probes_in_attack = c->path_challenge_tx;
	SIM_ASSERT(w.s, probes_in_attack <= 2); /* wary: her address starts no probe again */
	int eve_moves = w.moves;

	/* a real rebinding afterwards still moves the session, confirmed */
	sim_at(w.s, sim_now(w.s), rebind, &w);
	sim_run_until(w.s, t0 + (uint64_t)RUN_MS * SIM_MS + SIM_SEC);
	konce_addr ext;
	SIM_ASSERT_EQ(w.s, sim_nat_lookup(w.nat, &cli_int, &w.srv_addr, &ext), 0);
	SIM_ASSERT(w.s, !konce_addr_eq(&ext, &first));
	SIM_ASSERT(w.s, konce_addr_eq(&w.t.path, &ext));
	SIM_ASSERT(w.s, w.t.path_validated);
	SIM_ASSERT_EQ(w.s, w.moves, eve_moves + 1);
	/* wary (Eve was refused within the minute): the move waits for the old path's check */
	SIM_ASSERT(w.s, w.last_move_at > w.flushed_at + 2 * SIM_SEC);
	SIM_ASSERT(w.s, w.last_move_at < w.flushed_at + 5 * SIM_SEC);
	SIM_ASSERT_EQ(w.s, w.t.bad, 0);
	SIM_ASSERT_EQ(w.s, c->sessions_live, 1);
	/* every client message arrived once (Eve's copies or the genuine packets) */
	int c2s_missing = 0, after = 0;
	for (int k = 1; k <= w.t.next; k++) {
		SIM_ASSERT(w.s, w.t.s_got[k] <= 1 && w.t.c_got[k] <= 1);
		c2s_missing += !w.t.s_got[k];
		after += w.t.c_got[k] && w.t.c_got_at[k] > w.last_move_at;
	}
	SIM_ASSERT_EQ(w.s, c2s_missing, 0);
	SIM_ASSERT(w.s, after >= 10);
	if (seed == 1)
		printf("  Eve copied %llu packets and relayed %llu; %d move(s) to her, %llu refused, %llu undone,"
		       " %llu bytes sent to her; the rebinding moved the session %.0f ms after the flush\n",
		       (unsigned long long)w.copies, (unsigned long long)w.relayed, w.moves_to_eve,
		       (unsigned long long)c->path_refused, (unsigned long long)c->path_reverted,
		       (unsigned long long)w.srv_to_eve_bytes, (double)(w.last_move_at - w.flushed_at) / 1000);
	tnode_traffic_close(&w.t);
}

static void test_raced_copies_do_not_move_the_session(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 20)
		run(seed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raced_copies_do_not_move_the_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
