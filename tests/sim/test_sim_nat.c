/* test_sim_nat.c - the simulated NATs, observed the way a NAT traversal test would see them: from
 * outside hosts (which source address arrives, which datagrams get in) and from inside hosts.
 *
 *	   S1 203.0.113.1  S2 203.0.113.2  S3 203.0.113.3      (public; ports 1..12 bound)
 *	            \           |           /
 *	             NAT 198.51.100.1 (preset under test)
 *	              /                  \
 *	   C 192.168.1.10:4000     D 192.168.1.11:4000
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim.h"

typedef struct peer {
	sim *s;
	sim_host *h;
	uint64_t n;
	konce_addr from, to; /* of the last datagram */
	uint64_t at;
} peer;

static uint64_t peer_recv(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *from,
			  const konce_addr *to, uint64_t now)
{
	peer *p = ctx;
	p->n++;
	p->from = *from;
	p->to = *to;
	p->at = now;
	return 0;
}

static const sim_host_ops peer_ops = {peer_recv, NULL, NULL};

typedef struct net {
	sim *s;
	sim_nat *nat;
	peer S[3], C, D;
} net;

static void add_peer(net *w, peer *p, sim_nat *nat, const char *ip, uint16_t lo, uint16_t hi)
{
	p->s = w->s;
	p->h = nat ? sim_host_add_behind(w->s, nat, ip, &peer_ops, p) : sim_host_add(w->s, ip, &peer_ops, p);
	assert_non_null(p->h);
	for (uint16_t port = lo; port <= hi; port++)
		assert_int_equal(sim_host_bind(p->h, port), 0);
}

static void net_init(net *w, uint64_t seed, const sim_nat_cfg *cfg)
{
	memset(w, 0, sizeof(*w));
	w->s = sim_new(seed);
	assert_non_null(w->s);
	sim_link_cfg c = {.delay_us = 10 * SIM_MS};
	sim_link_default(w->s, &c);
	w->nat = sim_nat_add(w->s, "198.51.100.1", cfg);
	assert_non_null(w->nat);
	add_peer(w, &w->S[0], NULL, "203.0.113.1", 1, 12);
	add_peer(w, &w->S[1], NULL, "203.0.113.2", 1, 12);
	add_peer(w, &w->S[2], NULL, "203.0.113.3", 1, 12);
	add_peer(w, &w->C, w->nat, "192.168.1.10", 4000, 4000);
	add_peer(w, &w->D, w->nat, "192.168.1.11", 4000, 4000);
}

/* `from` sends one datagram from port fport to `to`; returns whether `rx` got it, and what
 * source address it saw in *seen. */
static bool xfer(net *w, peer *from, uint16_t fport, const konce_addr *to, peer *rx, konce_addr *seen)
{
	uint64_t before = rx->n;
	assert_int_equal(sim_send(w->s, from->h, fport, to, "x", 1), 0);
	sim_run_for(w->s, 100 * SIM_MS);
	if (seen)
		*seen = rx->from;
	return rx->n == before + 1;
}

/* C (port 4000) to S[i]:port; returns the mapping S[i] observed. */
static konce_addr out(net *w, int i, uint16_t port)
{
	konce_addr to = sim_host_addr(w->S[i].h, port), seen;
	assert_true(xfer(w, &w->C, 4000, &to, &w->S[i], &seen));
	konce_addr pub = sim_nat_public(w->nat, 0);
	assert_memory_equal(seen.ip, pub.ip, 16); /* the source was rewritten */
	konce_addr internal = sim_host_addr(w->C.h, 4000), looked;
	assert_int_equal(sim_nat_lookup(w->nat, &internal, &to, &looked), 0);
	assert_true(konce_addr_eq(&looked, &seen));
	return seen;
}

/* S[i] from sport to mapping m: did C get it? */
static bool in(net *w, int i, uint16_t sport, const konce_addr *m)
{
	konce_addr seen;
	bool got = xfer(w, &w->S[i], sport, m, &w->C, &seen);
	if (got) {
		konce_addr expect = sim_host_addr(w->S[i].h, sport), c = sim_host_addr(w->C.h, 4000);
		assert_true(konce_addr_eq(&seen, &expect)); /* destination rewritten, source intact */
		assert_true(konce_addr_eq(&w->C.to, &c));
	}
	return got;
}

struct expect {
	enum sim_nat_preset preset;
	bool ei_mapping;      /* one mapping for every destination */
	bool other_ip_in;     /* a host never contacted gets in */
	bool other_port_in;   /* a contacted host, from a port never contacted, gets in */
};

static const struct expect expects[] = {
	{SIM_NAT_FULL_CONE, true, true, true},
	{SIM_NAT_RESTRICTED_CONE, true, false, true},
	{SIM_NAT_PORT_RESTRICTED_CONE, true, false, false},
	{SIM_NAT_SYMMETRIC, false, false, false},
	{SIM_NAT_SYMMETRIC_SEQUENTIAL, false, false, false},
};

static void test_presets_mapping_and_filtering(void **state)
{
	SIM_FOR_EACH_SEED(seed, 10) {
		for (size_t k = 0; k < sizeof(expects) / sizeof(expects[0]); k++) {
			const struct expect *e = &expects[k];
			sim_nat_cfg cfg = sim_nat_preset(e->preset);
			net w;
			net_init(&w, seed, &cfg);
			sim *s = w.s;

			/* C behind the NAT; nobody outside can reach it before it speaks */
			konce_addr guess = sim_nat_public(w.nat, 4000);
			SIM_ASSERT(s, !in(&w, 0, 1, &guess));
			SIM_ASSERT_EQ(s, sim_nat_counters_get(w.nat)->dropped_nomap, 1);

			konce_addr m1 = out(&w, 0, 1), m2 = out(&w, 1, 1), m3 = out(&w, 0, 2);
			/* mapping reuse across destinations */
			SIM_ASSERT(s, konce_addr_eq(&m1, &m2) == e->ei_mapping);
			SIM_ASSERT(s, konce_addr_eq(&m1, &m3) == e->ei_mapping);
			SIM_ASSERT(s, e->ei_mapping || !konce_addr_eq(&m2, &m3));
			SIM_ASSERT_EQ(s, sim_nat_mappings(w.nat), e->ei_mapping ? 1 : 3);
			if (cfg.ports == SIM_NAT_PORT_PRESERVE)
				SIM_ASSERT_EQ(s, m1.port, 4000);
			if (cfg.ports == SIM_NAT_PORT_SEQUENTIAL) {
				SIM_ASSERT_EQ(s, m2.port, m1.port == 65535 ? 1024 : m1.port + 1);
				SIM_ASSERT_EQ(s, m3.port, m2.port == 65535 ? 1024 : m2.port + 1);
			}

			/* filtering: the contacted endpoint always gets in */
			SIM_ASSERT(s, in(&w, 0, 1, &m1));
			SIM_ASSERT(s, in(&w, 1, 1, &m2));
			SIM_ASSERT(s, in(&w, 2, 1, &m1) == e->other_ip_in);     /* S3 never contacted */
			SIM_ASSERT(s, in(&w, 0, 7, &m1) == e->other_port_in);   /* S1, new port */
			/* a contacted endpoint at the wrong mapping (symmetric: S2 -> S1's mapping) */
			SIM_ASSERT(s, in(&w, 1, 1, &m1) == (e->ei_mapping || e->other_ip_in));
			const sim_nat_counters *nc = sim_nat_counters_get(w.nat);
			SIM_ASSERT_EQ(s, nc->out, 3);
			SIM_ASSERT_EQ(s, nc->mappings, e->ei_mapping ? 1 : 3);
			SIM_ASSERT_EQ(s, nc->in + nc->dropped_filter + nc->dropped_nomap, 6);
			/* the filtered datagrams are counted on the senders and the links */
			const sim_counters *s3 = sim_host_tx(w.S[2].h);
			SIM_ASSERT_EQ(s, s3->dropped_filter, e->other_ip_in ? 0 : 1);
			sim_free(s);
		}
	}
}

static void test_port_allocation(void **state)
{
	SIM_FOR_EACH_SEED(seed, 10) {
		/* sequential: every new mapping takes the next port; random: hardly ever */
		for (int random = 0; random < 2; random++) {
			sim_nat_cfg cfg = sim_nat_preset(random ? SIM_NAT_SYMMETRIC : SIM_NAT_SYMMETRIC_SEQUENTIAL);
			net w;
			net_init(&w, seed, &cfg);
			konce_addr prev = out(&w, 0, 1);
			int consecutive = 0;
			for (uint16_t p = 2; p <= 12; p++) {
				konce_addr m = out(&w, 0, p);
				consecutive += m.port == (prev.port == 65535 ? 1024 : prev.port + 1);
				SIM_ASSERT(w.s, m.port >= 1024);
				prev = m;
			}
			SIM_ASSERT(w.s, random ? consecutive <= 1 : consecutive == 11);
			sim_free(w.s);
		}
	}

	/* a preserving NAT with address-and-port-dependent mapping: 4000 first, then the next free */
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC);
	cfg.ports = SIM_NAT_PORT_PRESERVE;
	net w;
	net_init(&w, 1, &cfg);
	assert_int_equal(out(&w, 0, 1).port, 4000);
	assert_int_equal(out(&w, 0, 2).port, 4001);
	/* D's port 4000 is taken by C's mapping */
	konce_addr to = sim_host_addr(w.S[1].h, 1), seen;
	assert_true(xfer(&w, &w.D, 4000, &to, &w.S[1], &seen));
	assert_int_equal(seen.port, 4002);
	sim_free(w.s);

	/* a range of three ports runs out on the fourth destination */
	cfg = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
	cfg.port_min = 20000;
	cfg.port_max = 20002;
	net_init(&w, 1, &cfg);
	for (uint16_t p = 1; p <= 3; p++) {
		konce_addr m = out(&w, 0, p);
		assert_true(m.port >= 20000 && m.port <= 20002);
	}
	to = sim_host_addr(w.S[0].h, 4);
	assert_false(xfer(&w, &w.C, 4000, &to, &w.S[0], NULL));
	assert_int_equal(sim_nat_counters_get(w.nat)->dropped_ports, 1);
	assert_int_equal(sim_host_tx(w.C.h)->dropped_filter, 1);
	sim_free(w.s);
}

/* What nftables does in netsim (symmetric-sequential preset, measured with udpecho): "who" to the
 * reflector from port p, then datagrams to 10.2.0.2:7807 and 10.2.0.2:7808 (a private address on
 * another LAN, which no router on the internet delivers), then "who" to another reflector port
 * comes from p + 3.  The router translates every new destination, reachable or not, so each
 * spends a port; an unsolicited inbound datagram spends none. */
static void test_unreachable_spends_port(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 4) {
		sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
		net w;
		net_init(&w, seed, &cfg);
		konce_addr first = out(&w, 0, 1), lan, lan2;
		SIM_ASSERT(w.s, konce_addr_parse(&lan, "10.2.0.2:7807") == 0);
		SIM_ASSERT(w.s, konce_addr_parse(&lan2, "10.2.0.2:7808") == 0);
		uint64_t noroute = sim_host_tx(w.C.h)->dropped_noroute;
		SIM_ASSERT_EQ(w.s, sim_send(w.s, w.C.h, 4000, &lan, "x", 1), 0);
		SIM_ASSERT_EQ(w.s, sim_send(w.s, w.C.h, 4000, &lan2, "x", 1), 0);
		SIM_ASSERT_EQ(w.s, sim_send(w.s, w.C.h, 4000, &lan, "x", 1), 0); /* its mapping exists */
		sim_run_for(w.s, 100 * SIM_MS);
		SIM_ASSERT_EQ(w.s, sim_host_tx(w.C.h)->dropped_noroute, noroute + 3);
		/* unsolicited datagrams from outside to the next ports spend nothing */
		for (uint16_t k = 4; k <= 6; k++) {
			konce_addr m = first;
			m.port = (uint16_t)(first.port + k);
			SIM_ASSERT(w.s, !in(&w, 1, 1, &m));
		}
		konce_addr next = out(&w, 0, 2);
		uint32_t want = (uint32_t)first.port + 3;
		SIM_ASSERT_EQ(w.s, next.port, want > 65535 ? want - 65536 + 1024 : want); /* wraps to 1024 */
		sim_free(w.s);
	}
	/* a host on the internet has no NAT to go through: no route, as before */
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
	net w;
	net_init(&w, 1, &cfg);
	konce_addr lan;
	assert_int_equal(konce_addr_parse(&lan, "10.2.0.2:7807"), 0);
	assert_int_equal(sim_send(w.s, w.S[0].h, 1, &lan, "x", 1), -EHOSTUNREACH);
	sim_free(w.s);
}

static void test_address_dependent_mapping(void **state)
{
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_RESTRICTED_CONE);
	cfg.mapping = SIM_NAT_AD;
	net w;
	net_init(&w, 1, &cfg);
	konce_addr a = out(&w, 0, 1), b = out(&w, 0, 2), c = out(&w, 1, 1);
	assert_true(konce_addr_eq(&a, &b));  /* same remote IP, any port: one mapping */
	assert_false(konce_addr_eq(&a, &c)); /* another IP: another mapping */
	assert_true(in(&w, 0, 9, &a));       /* AD filtering: S1 from any port */
	assert_false(in(&w, 1, 1, &a));      /* S2 only on its own mapping */
	assert_true(in(&w, 1, 5, &c));
	sim_free(w.s);
}

static void test_mapping_timeout(void **state)
{
	for (int refresh_in = 0; refresh_in < 2; refresh_in++) {
		sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
		cfg.timeout_us = 30 * SIM_SEC;
		cfg.inbound_refresh = refresh_in;
		net w;
		net_init(&w, 1, &cfg);
		sim *s = w.s;
		konce_addr m = out(&w, 0, 1);
		sim_run_for(s, 20 * SIM_SEC);
		assert_true(in(&w, 0, 1, &m));
		sim_run_for(s, 15 * SIM_SEC);
		/* 35 s after the last outbound datagram, 15 s after the last inbound one */
		assert_true(in(&w, 0, 1, &m) == refresh_in);
		if (refresh_in)
			assert_int_equal(sim_nat_mappings(w.nat), 1);
		else
			assert_int_equal(sim_nat_counters_get(w.nat)->dropped_nomap, 1);
		sim_run_for(s, 31 * SIM_SEC);
		assert_false(in(&w, 0, 1, &m));
		assert_int_equal(sim_nat_mappings(w.nat), 0);
		assert_true(sim_nat_counters_get(w.nat)->expired >= 1);
		sim_free(s);
	}

	/* outbound keepalives every 25 s hold a 30 s mapping open for minutes */
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC_SEQUENTIAL);
	cfg.timeout_us = 30 * SIM_SEC;
	net w;
	net_init(&w, 1, &cfg);
	konce_addr m = out(&w, 0, 1);
	for (int i = 0; i < 10; i++) {
		sim_run_for(w.s, 25 * SIM_SEC);
		konce_addr again = out(&w, 0, 1);
		assert_true(konce_addr_eq(&again, &m));
	}
	assert_true(in(&w, 0, 1, &m));
	/* after expiry a sequential NAT hands out a new port */
	sim_run_for(w.s, 31 * SIM_SEC);
	konce_addr later = out(&w, 0, 1);
	assert_int_not_equal(later.port, m.port);
	sim_free(w.s);
}

static void test_flush(void **state)
{
	for (int seq = 0; seq < 2; seq++) {
		sim_nat_cfg cfg = sim_nat_preset(seq ? SIM_NAT_SYMMETRIC_SEQUENTIAL : SIM_NAT_FULL_CONE);
		net w;
		net_init(&w, 1, &cfg);
		konce_addr m = out(&w, 0, 1);
		assert_true(in(&w, 0, 1, &m));
		sim_nat_flush(w.nat);
		assert_int_equal(sim_nat_mappings(w.nat), 0);
		assert_false(in(&w, 0, 1, &m));
		konce_addr m2 = out(&w, 0, 1);
		/* rebinding: sequential gets a new port, preserving the same one again */
		assert_true(konce_addr_eq(&m, &m2) == !seq);
		/* and the old permission is gone with the old mapping */
		if (seq)
			assert_false(in(&w, 0, 1, &m));
		assert_true(in(&w, 0, 1, &m2));
		sim_free(w.s);
	}
}

static void test_hairpin(void **state)
{
	for (int on = 0; on < 2; on++) {
		sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_FULL_CONE);
		cfg.hairpin = on;
		net w;
		net_init(&w, 1, &cfg);
		/* D's mapping, learnt via S1 */
		konce_addr to = sim_host_addr(w.S[0].h, 1), md, mc;
		assert_true(xfer(&w, &w.D, 4000, &to, &w.S[0], &md));
		mc = out(&w, 0, 1);
		konce_addr seen;
		bool got = xfer(&w, &w.C, 4000, &md, &w.D, &seen);
		assert_true(got == on);
		if (on) {
			assert_true(konce_addr_eq(&seen, &mc)); /* the source is C's public mapping */
			assert_int_equal(sim_nat_counters_get(w.nat)->hairpinned, 1);
		} else {
			assert_int_equal(sim_nat_counters_get(w.nat)->dropped_hairpin, 1);
			assert_int_equal(sim_host_tx(w.C.h)->dropped_filter, 1);
		}
		/* inside hosts still reach each other directly on private addresses */
		konce_addr dpriv = sim_host_addr(w.D.h, 4000);
		assert_true(xfer(&w, &w.C, 4000, &dpriv, &w.D, &seen));
		konce_addr cpriv = sim_host_addr(w.C.h, 4000);
		assert_true(konce_addr_eq(&seen, &cpriv));
		sim_free(w.s);
	}

	/* hairpinning through a port-restricted NAT is filtered like any inbound datagram */
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE);
	net w;
	net_init(&w, 1, &cfg);
	konce_addr to = sim_host_addr(w.S[0].h, 1), md, mc, seen;
	assert_true(xfer(&w, &w.D, 4000, &to, &w.S[0], &md));
	mc = out(&w, 0, 1);
	assert_false(xfer(&w, &w.C, 4000, &md, &w.D, &seen)); /* D never sent to mc */
	assert_true(xfer(&w, &w.D, 4000, &mc, &w.C, &seen));  /* opens D's mapping to mc */
	assert_true(xfer(&w, &w.C, 4000, &md, &w.D, &seen));
	sim_free(w.s);
}

static void test_port_forward(void **state)
{
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC);
	net w;
	net_init(&w, 1, &cfg);
	assert_int_equal(sim_nat_forward(w.nat, 7807, w.C.h, 4000), 0);
	assert_int_equal(sim_nat_forward(w.nat, 7807, w.D.h, 4000), -EADDRINUSE);
	assert_int_equal(sim_nat_forward(w.nat, 7808, w.S[0].h, 1), -EINVAL); /* not behind it */
	konce_addr fwd = sim_nat_public(w.nat, 7807);
	assert_true(in(&w, 2, 3, &fwd)); /* unsolicited, from anyone */
	sim_run_for(w.s, 10 * SIM_NAT_TIMEOUT_DEFAULT);
	sim_nat_flush(w.nat);
	assert_true(in(&w, 1, 3, &fwd)); /* never expires, survives a flush */
	sim_free(w.s);
}

/* Two hosts behind their own NATs punch a hole at the same moment.  Inbound filtering happens when
 * a datagram arrives at the NAT, so each side's first datagram, arriving after the other side's
 * went out, gets in. */
static void test_simultaneous_punch(void **state)
{
	static const struct {
		enum sim_nat_preset a, b;
		bool works;
		uint64_t a_got, b_got; /* of the three datagrams each side sends */
	} cases[] = {
		/* the very first datagrams cross: each arrives after the other side's went out */
		{SIM_NAT_PORT_RESTRICTED_CONE, SIM_NAT_PORT_RESTRICTED_CONE, true, 3, 3},
		/* A's filter is by IP only: B's first (from a new mapping) gets in, and A answers it */
		{SIM_NAT_RESTRICTED_CONE, SIM_NAT_SYMMETRIC, true, 3, 2},
		{SIM_NAT_PORT_RESTRICTED_CONE, SIM_NAT_SYMMETRIC, false, 0, 0},
		{SIM_NAT_SYMMETRIC, SIM_NAT_SYMMETRIC, false, 0, 0},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		sim *s = sim_new(k + 1);
		sim_link_cfg c = {.delay_us = 20 * SIM_MS};
		sim_link_default(s, &c);
		sim_nat_cfg ca = sim_nat_preset(cases[k].a), cb = sim_nat_preset(cases[k].b);
		sim_nat *na = sim_nat_add(s, "198.51.100.1", &ca), *nb = sim_nat_add(s, "198.51.100.2", &cb);
		peer A = {.s = s}, B = {.s = s}, R = {.s = s};
		/* the same private address in two homes: realms keep them apart */
		A.h = sim_host_add_behind(s, na, "192.168.1.10", &peer_ops, &A);
		B.h = sim_host_add_behind(s, nb, "192.168.1.10", &peer_ops, &B);
		R.h = sim_host_add(s, "203.0.113.50", &peer_ops, &R);
		assert_true(A.h && B.h && R.h);
		sim_host_bind(A.h, 4000), sim_host_bind(B.h, 4000), sim_host_bind(R.h, 3478);
		/* both learn their mapping from the rendezvous R */
		konce_addr r = sim_host_addr(R.h, 3478), ma, mb;
		sim_send(s, A.h, 4000, &r, "a", 1);
		sim_run_for(s, SIM_SEC);
		ma = R.from;
		sim_send(s, B.h, 4000, &r, "b", 1);
		sim_run_for(s, SIM_SEC);
		mb = R.from;
		/* simultaneous open, three rounds; each side aims at the address it last heard the
		 * other from, as a traversal would */
		for (int round = 0; round < 3; round++) {
			konce_addr ta = A.n ? A.from : mb, tb = B.n ? B.from : ma;
			sim_send(s, A.h, 4000, &ta, "p", 1);
			sim_send(s, B.h, 4000, &tb, "p", 1);
			sim_run_for(s, SIM_SEC);
		}
		assert_int_equal(A.n, cases[k].a_got);
		assert_int_equal(B.n, cases[k].b_got);
		if (cases[k].works) {
			konce_addr pa = sim_nat_public(na, 0), pb = sim_nat_public(nb, 0);
			assert_memory_equal(A.from.ip, pb.ip, 16);
			assert_memory_equal(B.from.ip, pa.ip, 16);
			/* with endpoint-independent mappings on both sides, the rendezvous addresses work */
			if (ca.mapping == SIM_NAT_EI && cb.mapping == SIM_NAT_EI)
				assert_true(konce_addr_eq(&A.from, &mb) && konce_addr_eq(&B.from, &ma));
		}
		sim_free(s);
	}
}

/* A home NAT behind a carrier-grade NAT (endpoint-independent mapping, port-restricted filtering,
 * as RFC 6888 asks); two homes use the same private addresses. */
static void test_nested_nat(void **state)
{
	sim *s = sim_new(5);
	sim_link_cfg c = {.delay_us = 5 * SIM_MS};
	sim_link_default(s, &c);
	sim_nat_cfg cg = sim_nat_preset(SIM_NAT_PORT_RESTRICTED_CONE), home = sim_nat_preset(SIM_NAT_FULL_CONE);
	sim_nat *cgnat = sim_nat_add(s, "198.51.100.9", &cg);
	sim_nat *h1 = sim_nat_add_behind(s, cgnat, "100.64.0.2", &home);
	sim_nat *h2 = sim_nat_add_behind(s, cgnat, "100.64.0.3", &home);
	assert_true(cgnat && h1 && h2);
	assert_null(sim_nat_add_behind(s, cgnat, "100.64.0.2", &home)); /* taken in that realm */
	peer A = {.s = s}, B = {.s = s}, S = {.s = s};
	A.h = sim_host_add_behind(s, h1, "192.168.1.10", &peer_ops, &A);
	B.h = sim_host_add_behind(s, h2, "192.168.1.10", &peer_ops, &B);
	S.h = sim_host_add(s, "203.0.113.1", &peer_ops, &S);
	assert_true(A.h && B.h && S.h);
	assert_true(sim_host_nat(A.h) == h1);
	sim_host_bind(A.h, 4000), sim_host_bind(B.h, 4000), sim_host_bind(S.h, 1);

	konce_addr to = sim_host_addr(S.h, 1), ma, mb;
	sim_send(s, A.h, 4000, &to, "a", 1);
	sim_run_for(s, SIM_SEC);
	ma = S.from;
	sim_send(s, B.h, 4000, &to, "b", 1);
	sim_run_for(s, SIM_SEC);
	mb = S.from;
	konce_addr pub = sim_nat_public(cgnat, 0);
	assert_memory_equal(ma.ip, pub.ip, 16);
	assert_memory_equal(mb.ip, pub.ip, 16);
	assert_int_equal(ma.port, 4000); /* preserved through both NATs */
	assert_int_equal(mb.port, 4001); /* 4000 was taken on the CGNAT */
	/* both paths took 5 ms: one link from sender to receiver whatever the NATs in between */
	assert_int_equal(S.at % SIM_SEC, 5 * SIM_MS);
	assert_int_equal(sim_nat_counters_get(h1)->out, 1);
	assert_int_equal(sim_nat_counters_get(cgnat)->out, 2);

	/* replies find their way in through both NATs */
	sim_send(s, S.h, 1, &ma, "r", 1);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(A.n, 1);
	assert_int_equal(B.n, 0);
	assert_true(konce_addr_eq(&A.from, &to));
	konce_addr a_int = sim_host_addr(A.h, 4000);
	assert_true(konce_addr_eq(&A.to, &a_int));

	/* home to home through the CGNAT's hairpin: the first datagram is filtered, the answer to
	 * it opens the way, as in a hole punch */
	sim_send(s, A.h, 4000, &mb, "x", 1);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(B.n, 0);
	assert_int_equal(sim_nat_counters_get(cgnat)->dropped_filter, 1);
	sim_send(s, B.h, 4000, &ma, "y", 1);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(A.n, 2);
	assert_true(konce_addr_eq(&A.from, &mb));
	sim_send(s, A.h, 4000, &mb, "z", 1);
	sim_run_for(s, SIM_SEC);
	assert_int_equal(B.n, 1);
	assert_true(konce_addr_eq(&B.from, &ma));
	assert_int_equal(sim_nat_counters_get(cgnat)->hairpinned, 3);
	sim_free(s);
}

/* Roaming: a host moves from behind one NAT to behind another, then to a public address; the
 * outside sees a new source each time, and datagrams to the old mapping no longer reach it. */
static void test_roaming(void **state)
{
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_FULL_CONE);
	net w;
	net_init(&w, 1, &cfg);
	sim_nat *other = sim_nat_add(w.s, "198.51.100.77", &cfg);
	assert_non_null(other);
	konce_addr m1 = out(&w, 0, 1), to = sim_host_addr(w.S[0].h, 1), m2, m3;
	assert_int_equal(sim_host_move(w.C.h, other, "10.0.0.5"), 0);
	assert_true(sim_host_nat(w.C.h) == other);
	assert_true(xfer(&w, &w.C, 4000, &to, &w.S[0], &m2));
	konce_addr pub2 = sim_nat_public(other, 0);
	assert_memory_equal(m2.ip, pub2.ip, 16);
	assert_false(in(&w, 0, 1, &m1)); /* the old NAT's mapping leads to an empty address */
	assert_int_equal(sim_host_tx(w.S[0].h)->dropped_noroute, 1);
	assert_true(in(&w, 0, 1, &m2));
	assert_int_equal(sim_host_move(w.C.h, NULL, "203.0.113.99"), 0);
	assert_true(xfer(&w, &w.C, 4000, &to, &w.S[0], &m3));
	assert_string_equal(sim_host_name(w.C.h), "203.0.113.99");
	konce_addr direct = sim_host_addr(w.C.h, 4000);
	assert_true(konce_addr_eq(&m3, &direct));
	sim_free(w.s);
}

/* A symmetric NAT's random ports and a second NAT's port choices come from the seed alone. */
static uint64_t nat_run(uint64_t seed)
{
	sim_nat_cfg cfg = sim_nat_preset(SIM_NAT_SYMMETRIC);
	net w;
	net_init(&w, seed, &cfg);
	for (int i = 0; i < 3; i++)
		for (uint16_t p = 1; p <= 12; p++)
			out(&w, i, p);
	uint64_t h = sim_trace_hash(w.s);
	sim_free(w.s);
	return h;
}

static void test_nat_determinism(void **state)
{
	assert_int_equal(nat_run(11), nat_run(11));
	assert_int_not_equal(nat_run(11), nat_run(12));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presets_mapping_and_filtering),
		cmocka_unit_test(test_port_allocation),
		cmocka_unit_test(test_unreachable_spends_port),
		cmocka_unit_test(test_address_dependent_mapping),
		cmocka_unit_test(test_mapping_timeout),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_hairpin),
		cmocka_unit_test(test_port_forward),
		cmocka_unit_test(test_simultaneous_punch),
		cmocka_unit_test(test_nested_nat),
		cmocka_unit_test(test_roaming),
		cmocka_unit_test(test_nat_determinism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
