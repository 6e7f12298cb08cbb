/* tnode_traffic.h - numbered messages both ways between a client and a server tnode, for the sims
 * that move a session under traffic (test_transport_migration.c, test_transport_roam.c).
 *
 * tnode_traffic_tick() sends "c K" from the client and "s K" from the server (numbered.h), K = 1,
 * 2, ..., every 100 ms, up to nmsg messages and while the clock is before last_tick.  The
 * handlers pass every event to tnode_traffic_srv_event() and tnode_traffic_cli_event(): they count
 * the messages that arrive (s_got, c_got and c_got_at by number) and anything unexpected in bad,
 * and the server's keeps its session and the path it runs on (the test looks at a PATH_CHANGED
 * first, while path still holds the one before).  Include it after <cmocka.h>: it asserts. */
#ifndef KONCE_SIM_TNODE_TRAFFIC_H
#define KONCE_SIM_TNODE_TRAFFIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/sim/numbered.h"
#include "tests/sim/sim.h"
#include "tests/sim/transport_node.h"

enum { TNODE_TRAFFIC_MAX = 256 };

typedef struct tnode_traffic {
	sim *s;
	tnode *cli, *srv;
	uint32_t cconn, sconn; /* each side's session: the client's from tnode_connect, the server's from ESTABLISHED */
	konce_addr path;       /* the server's path for the client, as ESTABLISHED and PATH_CHANGED said */
	bool path_validated;   /* its validated flag: a confirmed move (path.h) */
	bool c_est;            /* the client saw ESTABLISHED */
	int nmsg;              /* at most TNODE_TRAFFIC_MAX */
	uint64_t last_tick;    /* no tick is scheduled from one at or after this */
	int next;              /* the last number sent */
	uint8_t s_got[TNODE_TRAFFIC_MAX + 1], c_got[TNODE_TRAFFIC_MAX + 1];
	uint64_t c_got_at[TNODE_TRAFFIC_MAX + 1];
	int bad;
} tnode_traffic;

/* Opens the pair: a NAT at 192.0.2.1 (port-restricted cone, sequential ports, so a rebinding
 * always gets a new external port), the client tnode at 10.0.0.2:5555 behind it and the server at
 * 198.51.100.1:port, both with user as their user; t counts nmsg messages between them.  Returns
 * the NAT. */
static inline sim_nat *tnode_traffic_open(tnode_traffic *t, sim *s, tnode *cli, tnode *srv, uint16_t port, void *user,
					  int nmsg)
{
	sim_nat_cfg nc = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	nc.ports = SIM_NAT_PORT_SEQUENTIAL;
	sim_nat *nat = sim_nat_add(s, "192.0.2.1", &nc);
	SIM_ASSERT(s, nat != NULL);
	SIM_ASSERT(s, nmsg <= TNODE_TRAFFIC_MAX);
	SIM_ASSERT_EQ(s, tnode_init(srv, s, NULL, "198.51.100.1", port, NULL), 0);
	SIM_ASSERT_EQ(s, tnode_init(cli, s, nat, "10.0.0.2", 5555, NULL), 0);
	srv->user = cli->user = user;
	t->s = s;
	t->cli = cli;
	t->srv = srv;
	t->nmsg = nmsg;
	return nat;
}

/* Frees both tnodes and the simulator. */
static inline void tnode_traffic_close(tnode_traffic *t)
{
	tnode_free(t->cli);
	tnode_free(t->srv);
	sim_free(t->s);
}

static inline int tnode_traffic_no(const tnode_traffic *t, const konce_ep_event *ev, char who)
{
	return numbered_msg(ev->data, ev->len, who, 1, t->nmsg);
}

/* An event at the server: ESTABLISHED, PATH_CHANGED, one of the client's messages; anything else
 * is bad. */
static inline void tnode_traffic_srv_event(tnode_traffic *t, const konce_ep_event *ev)
{
	int k;
	if (ev->type == KONCE_EV_ESTABLISHED)
		t->sconn = ev->conn;
	if (ev->type == KONCE_EV_ESTABLISHED || ev->type == KONCE_EV_PATH_CHANGED) {
		t->path = ev->addr;
		t->path_validated = ev->validated;
	} else if (ev->type == KONCE_EV_MESSAGE && (k = tnode_traffic_no(t, ev, 'c')) >= 0) {
		t->s_got[k]++;
	} else {
		t->bad++;
	}
}

/* An event at the client: ESTABLISHED, one of the server's messages, PATH_CHANGED when moves_ok;
 * anything else is bad. */
static inline void tnode_traffic_cli_event(tnode_traffic *t, const konce_ep_event *ev, uint64_t now, bool moves_ok)
{
	int k;
	if (ev->type == KONCE_EV_ESTABLISHED) {
		t->c_est = true;
	} else if (ev->type == KONCE_EV_MESSAGE && (k = tnode_traffic_no(t, ev, 's')) > 0) {
		t->c_got[k]++;
		t->c_got_at[k] = now;
	} else if (!moves_ok || ev->type != KONCE_EV_PATH_CHANGED) {
		t->bad++;
	}
}

static inline bool tnode_traffic_connecting(void *ctx) { return !((tnode_traffic *)ctx)->c_est; }

/* A sim_at() callback (ctx: the tnode_traffic): the next message each way. */
static inline void tnode_traffic_tick(void *ctx, uint64_t now)
{
	tnode_traffic *t = ctx;
	char m[32];
	int k = ++t->next;
	int n = snprintf(m, sizeof m, "c %d", k);
	SIM_ASSERT_EQ(t->s, tnode_send(t->cli, t->cconn, m, (size_t)n), 0);
	n = snprintf(m, sizeof m, "s %d", k);
	SIM_ASSERT_EQ(t->s, tnode_send(t->srv, t->sconn, m, (size_t)n), 0);
	if (k < t->nmsg && now < t->last_tick)
		sim_at(t->s, now + 100 * SIM_MS, tnode_traffic_tick, t);
}

#endif
