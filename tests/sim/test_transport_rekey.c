/* test_transport_rekey.c - rekey after KONCE_REKEY_AFTER_MS over a reordering, duplicating link,
 * with stragglers under the old key.
 *
 *	client 203.0.113.5 <---> M 192.0.2.99 (relay) <---> server 198.51.100.1:7807
 *
 * Both sides send a numbered message every 100 ms for 130 s, so each side's sending key passes
 * its 120 s limit and rolls over once.  The links reorder (20%, held back 200 ms) and duplicate
 * (5%).  M also holds back up to STRAGGLERS of the client's last old-key packets and, once the
 * first new-key packet has passed, releases half of them 1 s later (inside KONCE_REKEY_OLD_KEY_MS:
 * accepted, counted as rx_old_key) and the rest 1 s after that window (refused: data_auth_fail).
 * Every other message arrives exactly once.
 *
 * The packet limit (KONCE_REKEY_AFTER_PACKETS = 2^24): sending 16 million packets would take the
 * test minutes, so test_rekey_packet_limit reaches into the endpoint (node/transport/ep_internal.h, the one
 * place a test does) to start the client's packet count 20 short of the limit, then sends 40
 * messages over the same reordering link: the 21st packet is the first under the new key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/ep_internal.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum {
	PORT = 7807,
	MPORT = 9000,
	RUN_S = 130,
	NMSG = RUN_S * 10,
	STRAGGLERS = 8,
	EARLY = STRAGGLERS / 2,
};

typedef struct held {
	size_t len;
	uint8_t d[KONCE_WIRE_MAX_DATAGRAM];
} held;

typedef struct world {
	sim *s;
	tnode srv, cli;
	sim_host *m;
	konce_addr m_front, srv_addr, cli_addr;
	uint32_t cconn, sconn;
	int next_c, next_s;
	uint8_t s_got[NMSG + 1], c_got[NMSG + 1]; /* per message number: times delivered */
	held hold[STRAGGLERS];
	held seen[32]; /* old-key packets M held */
	unsigned nseen;
	int sending;             /* the message the client is sending now */
	uint8_t tag[NMSG + 1][16]; /* the last 16 bytes (the AEAD tag) of each message's packet */
	int nheld, released;
	bool new_key_seen;
	uint64_t new_key_at;
	int bad;
	bool c_est;
	int limit;             /* tick stops after this many messages */
	int m_old, m_new;      /* client DATA packets M saw under each key phase */
} world;

static int msg_no(const uint8_t *d, size_t len)
{
	char t[32];
	int k;
	if (len >= sizeof t)
		return -1;
	memcpy(t, d, len);
	t[len] = 0;
	return sscanf(t, "%*c %d", &k) == 1 && k >= 0 && k <= NMSG ? k : -1;
}

static void srv_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		w->sconn = ev->conn;
	else if (ev->type == KONCE_EV_MESSAGE) {
		int k = msg_no(ev->data, ev->len);
		if (k < 0 || ev->data[0] != 'c')
			w->bad++;
		else
			w->s_got[k]++;
	} else
		w->bad++;
}

static void cli_event(tnode *n, const konce_ep_event *ev, uint64_t now)
{
	world *w = n->user;
	if (ev->type == KONCE_EV_MESSAGE) {
		int k = msg_no(ev->data, ev->len);
		if (k < 0 || ev->data[0] != 's')
			w->bad++;
		else
			w->c_got[k]++;
	} else if (ev->type == KONCE_EV_ESTABLISHED)
		w->c_est = true;
	else
		w->bad++;
}

static bool not_established(void *ctx) { return !((world *)ctx)->c_est; }

static void release(void *ctx, uint64_t now)
{
	world *w = ctx;
	int upto = w->released < EARLY ? EARLY : w->nheld;
	for (; w->released < upto; w->released++)
		sim_send(w->s, w->m, MPORT, &w->srv_addr, w->hold[w->released].d, w->hold[w->released].len);
}

static uint64_t m_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from, const konce_addr *to,
		       uint64_t now)
{
	world *w = ctx;
	if (to->port == MPORT) {
		sim_send(w->s, w->m, PORT, &w->cli_addr, pkt, len);
		return 0;
	}
	w->cli_addr = *from;
	if (len > KONCE_DATA_FLAGS && pkt[0] == KONCE_PKT_DATA) {
		bool old_key = (pkt[KONCE_DATA_FLAGS] & KONCE_DATA_F_KEY_PHASE) == 0;
		if (old_key)
			w->m_old++;
		else
			w->m_new++;
		/* M drops a link's second copy of a packet it held, even one that comes late, so that
		 * the copy cannot stand in for the held one */
		for (unsigned i = 0; i < sizeof w->seen / sizeof w->seen[0]; i++)
			if (w->seen[i].len == len && memcmp(w->seen[i].d, pkt, len) == 0)
				return 0;
		if (old_key && !w->new_key_seen && now >= (RUN_S - 12) * SIM_SEC) {
			/* the last old-key packets: keep the newest STRAGGLERS */
			w->seen[w->nseen++ % (sizeof w->seen / sizeof w->seen[0])] = (held){len, {0}};
			memcpy(w->seen[(w->nseen - 1) % (sizeof w->seen / sizeof w->seen[0])].d, pkt, len);
			if (w->nheld == STRAGGLERS) { /* the oldest goes on its way */
				sim_send(w->s, w->m, MPORT, &w->srv_addr, w->hold[0].d, w->hold[0].len);
				memmove(w->hold, w->hold + 1, sizeof w->hold[0] * (STRAGGLERS - 1));
				w->nheld--;
			}
			w->hold[w->nheld].len = len;
			memcpy(w->hold[w->nheld].d, pkt, len);
			w->nheld++;
			return 0;
		}
		if (!old_key && !w->new_key_seen) {
			w->new_key_seen = true;
			w->new_key_at = now;
			sim_at(w->s, now + SIM_SEC, release, w);
			sim_at(w->s, now + (KONCE_REKEY_OLD_KEY_MS + 1000) * SIM_MS, release, w);
		}
	}
	sim_send(w->s, w->m, MPORT, &w->srv_addr, pkt, len);
	return 0;
}
static const sim_host_ops m_ops = {m_recv, NULL, NULL}; /* M: what reaches it */

static bool cli_tx(tnode *n, const uint8_t *pkt, size_t len, const konce_addr *to, uint64_t now)
{
	world *w = n->user;
	if (w->sending > 0 && pkt[0] == KONCE_PKT_DATA && len >= 16)
		memcpy(w->tag[w->sending], pkt + len - 16, 16);
	return true;
}

/* The message a packet of the client's carries (by its tag), or -1. */
static int msg_of(const world *w, const held *h)
{
	for (int k = 1; k <= NMSG; k++)
		if (memcmp(w->tag[k], h->d + h->len - 16, 16) == 0)
			return k;
	return -1;
}

static void tick(void *ctx, uint64_t now)
{
	world *w = ctx;
	char m[32];
	w->sending = w->next_c + 1;
	int n = snprintf(m, sizeof m, "c %d", ++w->next_c);
	assert_int_equal(tnode_send(&w->cli, w->cconn, m, (size_t)n), 0);
	w->sending = 0;
	n = snprintf(m, sizeof m, "s %d", ++w->next_s);
	assert_int_equal(tnode_send(&w->srv, w->sconn, m, (size_t)n), 0);
	if (w->next_c < (w->limit ? w->limit : NMSG))
		sim_at(w->s, now + 100 * SIM_MS, tick, w);
}

/* A client and a server through M over links that reorder and duplicate, established. */
static void world_start(world *w, uint64_t seed)
{
	memset(w, 0, sizeof *w);
	w->s = sim_new(seed);
	sim_link_cfg l = {.delay_us = 20 * SIM_MS, .jitter_us = 5 * SIM_MS, .duplicate = 0.05,
			  .reorder = 0.2, .reorder_us = 200 * SIM_MS};
	sim_link_default(w->s, &l);
	w->m = tnode_mitm_open(w->s, &w->srv, &w->cli, PORT, MPORT, &m_ops, w, &w->m_front);
	assert_non_null(w->m);
	w->srv.on_event = srv_event;
	w->cli.on_event = cli_event;
	w->cli.on_tx = cli_tx;
	w->srv_addr = tnode_addr(&w->srv);

	assert_int_equal(tnode_connect(&w->cli, tnode_pk(&w->srv), &w->m_front, NULL, 0, &w->cconn), 0);
	sim_run_while(w->s, not_established, w, 10 * SIM_SEC);
	SIM_ASSERT(w->s, w->c_est && w->sconn != 0);
}

static void test_rekey_packet_limit(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 30) {
		static world w;
		world_start(&w, seed);
		konce_sess *cs = konce_ep_sess_by_conn(w.cli.ep, w.cconn);
		SIM_ASSERT(w.s, cs != NULL);
		cs->sess.tx_key_packets = KONCE_REKEY_AFTER_PACKETS - 20;
		w.m_old = w.m_new = 0;
		uint64_t dups0 = sim_link_counters(w.s, w.cli.h, w.m).duplicated;
		w.limit = 40;
		sim_at(w.s, sim_now(w.s), tick, &w);
		sim_run_for(w.s, 10 * SIM_SEC);
		const struct konce_ep_counters *s = tnode_counters(&w.srv), *c = tnode_counters(&w.cli);
		SIM_ASSERT_EQ(w.s, w.bad, 0);
		SIM_ASSERT_EQ(w.s, w.next_c, 40);
		SIM_ASSERT_EQ(w.s, c->rekey_tx, 1);
		SIM_ASSERT_EQ(w.s, s->rekey_rx, 1);
		SIM_ASSERT_EQ(w.s, s->rekey_tx, 0); /* the server's count was nowhere near */
		SIM_ASSERT_EQ(w.s, c->rekey_rx, 0);
		/* M saw each copy the link made; without copies: exactly 20 old, 20 new */
		uint64_t dups = sim_link_counters(w.s, w.cli.h, w.m).duplicated - dups0;
		SIM_ASSERT(w.s, w.m_old >= 20 && w.m_new >= 20 && (uint64_t)(w.m_old + w.m_new) == 40 + dups);
		for (int k = 1; k <= 40; k++) {
			SIM_ASSERT_EQ(w.s, w.s_got[k], 1);
			SIM_ASSERT_EQ(w.s, w.c_got[k], 1);
		}
		tnode_free(&w.cli);
		tnode_free(&w.srv);
		sim_free(w.s);
	}
}

static void test_rekey_with_stragglers(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 30) {
		static world w;
		world_start(&w, seed);
		sim_at(w.s, sim_now(w.s), tick, &w);
		sim_run_until(w.s, (uint64_t)(RUN_S + 8) * SIM_SEC);
		const struct konce_ep_counters *s = tnode_counters(&w.srv), *c = tnode_counters(&w.cli);
		SIM_ASSERT_EQ(w.s, w.bad, 0);
		SIM_ASSERT(w.s, w.new_key_seen);
		SIM_ASSERT_EQ(w.s, w.nheld, STRAGGLERS);
		SIM_ASSERT_EQ(w.s, w.released, STRAGGLERS);
		/* each side's sending key rolled over once, and the other side followed */
		SIM_ASSERT_EQ(w.s, c->rekey_tx, 1);
		SIM_ASSERT_EQ(w.s, s->rekey_tx, 1);
		SIM_ASSERT_EQ(w.s, s->rekey_rx, 1);
		SIM_ASSERT_EQ(w.s, c->rekey_rx, 1);
		SIM_ASSERT(w.s, w.new_key_at >= (uint64_t)KONCE_REKEY_AFTER_MS * SIM_MS);
		/* every message arrived exactly once, but for the late stragglers' (the early ones made
		 * it: otherwise twice as many would be missing) */
		int missing = 0;
		for (int k = 1; k <= NMSG; k++) {
			SIM_ASSERT(w.s, w.s_got[k] <= 1 && w.c_got[k] <= 1);
			SIM_ASSERT_EQ(w.s, w.c_got[k], 1); /* nothing lost server -> client */
			missing += w.s_got[k] == 0;
		}
		/* the late half is refused: it authenticates under no key the server still holds */
		for (int i = 0; i < STRAGGLERS; i++) {
			int k = msg_of(&w, &w.hold[i]);
			SIM_ASSERT(w.s, k > 0);
			if (w.s_got[k] != (i < EARLY))
				fprintf(stderr, "straggler %d (message %d): delivered %d times\n", i, k, w.s_got[k]);
			SIM_ASSERT_EQ(w.s, w.s_got[k], i < EARLY);
		}
		SIM_ASSERT_EQ(w.s, missing, STRAGGLERS - EARLY);
		SIM_ASSERT(w.s, s->rx_old_key >= EARLY);
		SIM_ASSERT(w.s, s->data_auth_fail >= (uint64_t)(STRAGGLERS - EARLY));
		if (seed == 1)
			printf("  rekey at %.3f s; server: rx_old_key %llu (stragglers + reordered), auth fail %llu,"
			       " replays %llu; client: rx_old_key %llu\n",
			       (double)w.new_key_at / SIM_SEC, (unsigned long long)s->rx_old_key,
			       (unsigned long long)s->data_auth_fail, (unsigned long long)s->data_replay,
			       (unsigned long long)c->rx_old_key);
		tnode_free(&w.cli);
		tnode_free(&w.srv);
		sim_free(w.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rekey_with_stragglers),
		cmocka_unit_test(test_rekey_packet_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
