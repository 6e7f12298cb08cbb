/* nc_pair.h - two node cores wired back to back over a zero-latency link the test carries, with a
 * hand-moved clock, for the unit tests of the groups they host (test_ncgapi.c, test_ncghost.c,
 * test_ncgstatus.c).
 *
 * nc_pair_drain() takes one side's output: its events (the group events to the public group API
 * when the pair has one, else to the test's group_event; the others dropped), every group note made
 * durable at once (konce_nodecore_groups_persisted), the datagrams addressed to the other side fed
 * to it, the store notes dropped.  nc_pair_run() drains both until quiet, then moves the clock to
 * the next timer and runs it, until the clock reaches `until`.  nc_pair_side_new() makes one side.
 *
 * For the tests of the public group API and its host (test_ncgapi.c, test_ncghost.c), the pair is
 * the test's api: side i's call context (node/core/ncgapi.h), with the clock read then, whose core
 * is side i's.  nc_pair_api_run() runs both sides' cores as nc_pair_run() with every group event
 * through konce_ncgapi_event(); nc_pair_api_state() is side i's group by that name's state (0: none).
 * Include it after <cmocka.h>: a run that never goes idle fails. */
#ifndef KONCE_TEST_NC_PAIR_H
#define KONCE_TEST_NC_PAIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "node/core/ncgapi.h"
#include "node/core/ncgroup.h"
#include "node/core/nodecore.h"
#include "node/transport/identity.h"

typedef struct nc_pair {
	konce_nodecore *c[2];
	konce_addr addr[2];
	uint64_t *now;
	void (*group_event)(int i, const konce_nc_event *ev); /* NULL: dropped */
	konce_ncgapi (*api)(int i); /* set: the group events go to the API, not to group_event */
} nc_pair;

/* Side i's address, 192.0.2.(i + 1):7807. */
static inline void nc_pair_addr(int i, konce_addr *addr)
{
	char a[32];
	snprintf(a, sizeof a, "192.0.2.%d:7807", i + 1);
	assert_int_equal(konce_addr_parse(addr, a), 0);
}

/* Side i (0 or 1): a new identity, a node core with it whose clock starts at now, and its address. */
static inline void nc_pair_side_new(int i, konce_identity **id, konce_nodecore **c, konce_addr *addr, uint64_t now)
{
	assert_int_equal(konce_identity_generate(id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = *id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(c, &cfg, now), 0);
	nc_pair_addr(i, addr);
}

/* Side i's output; true if there was any. */
static inline bool nc_pair_drain(const nc_pair *p, int i)
{
	konce_nc_event ev;
	konce_nc_datagram dg;
	konce_nc_note no;
	konce_nc_gnote g;
	bool any = false;
	while (konce_nodecore_poll_event(p->c[i], &ev)) {
		any = true;
		if (ev.type != KONCE_NC_EV_GROUP)
			continue;
		if (p->api) {
			konce_ncgapi a = p->api(i);
			konce_ncgapi_event(&a, &ev);
		} else if (p->group_event) {
			p->group_event(i, &ev);
		}
	}
	while (konce_nodecore_poll_gnote(p->c[i], &g))
		any = true;
	konce_nodecore_groups_persisted(p->c[i]);
	while (konce_nodecore_poll(p->c[i], &dg)) {
		any = true;
		if (konce_addr_eq(&dg.to, &p->addr[!i]))
			konce_nodecore_input(p->c[!i], 0, dg.buf, dg.len, &p->addr[i], *p->now);
	}
	while (konce_nodecore_poll_note(p->c[i], &no))
		;
	return any;
}

/* Runs both cores until the clock reaches until. */
static inline void nc_pair_run(const nc_pair *p, uint64_t until)
{
	uint64_t *now = p->now;
	for (int guard = 0; guard < 1000000; guard++) {
		while (nc_pair_drain(p, 0) | nc_pair_drain(p, 1))
			;
		uint64_t t = konce_nodecore_next_timer(p->c[0]), t1 = konce_nodecore_next_timer(p->c[1]);
		t = t1 < t ? t1 : t;
		if (t > until) {
			*now = until > *now ? until : *now;
			return;
		}
		*now = t > *now ? t : *now;
		for (int i = 0; i < 2; i++)
			if (konce_nodecore_next_timer(p->c[i]) <= *now)
				konce_nodecore_timer(p->c[i], *now);
	}
	fail_msg("the cores did not go idle");
}

/* Runs the cores of api's two sides until the clock reaches until, every group event through the API. */
static inline void nc_pair_api_run(konce_ncgapi (*api)(int i), uint64_t *now, uint64_t until)
{
	nc_pair p = {.c = {api(0).c, api(1).c}, .now = now, .api = api};
	nc_pair_addr(0, &p.addr[0]);
	nc_pair_addr(1, &p.addr[1]);
	nc_pair_run(&p, until);
}

/* The state of side i's group called name (konce_group_info's), 0 when it has none. */
static inline int nc_pair_api_state(konce_ncgapi (*api)(int i), int i, const char *name)
{
	konce_group_info info;
	konce_ncgapi a = api(i);
	return konce_ncgapi_info(&a, name, &info) ? 0 : (int)info.state;
}

#endif
