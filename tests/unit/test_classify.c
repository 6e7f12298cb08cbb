/* test_classify.c - the RFC 5780 classifier against a model NAT and a model server, on virtual time.
 *
 * The model is small but honest: a NAT table with endpoint-independent / address-dependent /
 * address-and-port-dependent mapping, three filtering rules, three port-allocation rules, optional
 * hairpinning, an idle timeout per mapping; a server with up to two addresses and two ports that obeys
 * the probe commands.  The classifier only ever sees what a real driver would see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/classify.h"

enum map_kind { M_NONE, M_EIM, M_ADM, M_APDM };
enum filt_kind { F_EIF, F_ADF, F_APDF };
enum alloc_kind { A_PRESERVE, A_SEQ, A_RANDOM };

typedef struct {
	enum map_kind map;
	enum filt_kind filt;
	enum alloc_kind alloc;
	bool hairpin, blocked;
	uint32_t lifetime_s;
	uint16_t seq_stride; /* A_SEQ: step between allocations (default 1) */
	bool srv_no_alt_addr, srv_no_alt_port; /* what the server lacks */
} nat_spec;

struct mapping {
	unsigned sock;
	konce_addr key;      /* destination this mapping is keyed on (zeroed parts for EIM/ADM) */
	uint16_t ext;
	uint64_t last_out;
	konce_addr perm[16]; /* destinations contacted through it */
	unsigned nperm;
};

typedef struct {
	nat_spec s;
	struct mapping m[64];
	unsigned nm;
	uint16_t next_seq;
	uint32_t rng;
	konce_addr pub, a1, a2, other;
	uint8_t local_ip[4];
	uint64_t max_idle_scheduled;
} world;

static uint16_t local_port(unsigned sock) { return (uint16_t)(41000 + sock * 37); }

static konce_addr mk(const char *s)
{
	konce_addr a;
	assert_int_equal(konce_addr_parse(&a, s), 0);
	return a;
}

static void world_init(world *w, nat_spec s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	if (!w->s.lifetime_s)
		w->s.lifetime_s = 60;
	w->next_seq = 50000;
	w->rng = 12345;
	w->pub = mk("203.0.113.1:0");
	w->a1 = mk("198.51.100.1:3478");
	w->a2 = mk("198.51.100.2:3479");
	memcpy(w->local_ip, (uint8_t[]){192, 168, 1, 10}, 4);
	/* what the server announces as its alternate */
	w->other = w->a2;
	if (s.srv_no_alt_addr)
		memcpy(w->other.ip, w->a1.ip, 16);
	if (s.srv_no_alt_port)
		w->other.port = w->a1.port;
}

static bool same_ip(const konce_addr *a, const konce_addr *b) { return !memcmp(a->ip, b->ip, 16); }

static konce_addr local_addr(world *w, unsigned sock)
{
	konce_addr a;
	konce_addr_from_v4(&a, w->local_ip, local_port(sock));
	return a;
}

static bool expired(world *w, struct mapping *m, uint64_t now)
{
	return w->s.map != M_NONE && now - m->last_out > (uint64_t)w->s.lifetime_s * 1000000;
}

/* Outbound packet from sock to dst: the external address it leaves with. */
static konce_addr nat_out(world *w, unsigned sock, const konce_addr *dst, uint64_t now)
{
	konce_addr key = *dst;
	if (w->s.map == M_EIM || w->s.map == M_NONE)
		memset(&key, 0, sizeof(key));
	else if (w->s.map == M_ADM)
		key.port = 0;
	struct mapping *m = NULL;
	for (unsigned i = 0; i < w->nm; i++)
		if (w->m[i].sock == sock && konce_addr_eq(&w->m[i].key, &key) && !expired(w, &w->m[i], now))
			m = &w->m[i];
	if (!m) {
		assert_true(w->nm < 64);
		m = &w->m[w->nm++];
		memset(m, 0, sizeof(*m));
		m->sock = sock;
		m->key = key;
		if (w->s.map == M_NONE || w->s.alloc == A_PRESERVE)
			m->ext = local_port(sock);
		else if (w->s.alloc == A_SEQ)
			m->ext = w->next_seq, w->next_seq = (uint16_t)(w->next_seq + (w->s.seq_stride ? w->s.seq_stride : 1));
		else {
			w->rng = w->rng * 1103515245u + 12345u;
			m->ext = (uint16_t)(1024 + (w->rng >> 8) % 60000);
		}
	}
	m->last_out = now;
	if (m->nperm < 16)
		m->perm[m->nperm++] = *dst;
	konce_addr ext = w->s.map == M_NONE ? local_addr(w, sock) : w->pub;
	ext.port = m->ext;
	return ext;
}

/* Inbound packet from src to our external address ext: the socket it reaches, or -1. */
static int nat_in(world *w, const konce_addr *src, const konce_addr *ext, uint64_t now)
{
	for (unsigned i = 0; i < w->nm; i++) {
		struct mapping *m = &w->m[i];
		if (m->ext != ext->port || expired(w, m, now))
			continue;
		for (unsigned k = 0; k < m->nperm; k++) {
			bool ok = w->s.filt == F_EIF || (w->s.filt == F_ADF && same_ip(&m->perm[k], src)) ||
				  (w->s.filt == F_APDF && konce_addr_eq(&m->perm[k], src));
			if (ok)
				return (int)m->sock;
		}
	}
	return -1;
}

static bool server_has(world *w, const konce_addr *a)
{
	konce_addr a1p2 = w->a1, a2p1 = w->a2;
	a1p2.port = w->a2.port;
	a2p1.port = w->a1.port;
	if (konce_addr_eq(a, &w->a1))
		return true;
	if (konce_addr_eq(a, &a1p2))
		return !w->s.srv_no_alt_port;
	if (konce_addr_eq(a, &a2p1))
		return !w->s.srv_no_alt_addr;
	if (konce_addr_eq(a, &w->a2))
		return !w->s.srv_no_alt_addr && !w->s.srv_no_alt_port;
	return false;
}

/* Runs one probe through the world; true and *o filled if an answer reaches expect_sock. */
static bool world_run(world *w, const konce_classify_probe *p, uint64_t now, konce_classify_obs *o)
{
	memset(o, 0, sizeof(*o));
	if (w->s.blocked)
		return false;
	konce_addr ext = nat_out(w, p->sock, &p->to, now);
	if (p->hairpin) {
		if (!w->s.hairpin)
			return false;
		int s = nat_in(w, &ext, &p->to, now);
		if (s != (int)p->expect_sock)
			return false;
		o->local = local_addr(w, p->expect_sock);
		return true;
	}
	if (!server_has(w, &p->to))
		return false;
	konce_addr from = p->to, dst = ext;
	switch (p->ask) {
	case KONCE_CLASSIFY_ASK_SAME: break;
	case KONCE_CLASSIFY_ASK_OTHER_PORT:
		if (w->s.srv_no_alt_port)
			return false;
		from.port = p->to.port == w->a1.port ? w->a2.port : w->a1.port;
		break;
	case KONCE_CLASSIFY_ASK_OTHER_BOTH:
		if (w->s.srv_no_alt_addr || w->s.srv_no_alt_port)
			return false;
		from = same_ip(&p->to, &w->a1) ? w->a2 : w->a1;
		break;
	case KONCE_CLASSIFY_ASK_TO_PORT:
		dst.port = p->reply_port;
		break;
	}
	int s = nat_in(w, &from, &dst, now);
	if (s != (int)p->expect_sock)
		return false;
	o->local = local_addr(w, (unsigned)s);
	o->has_mapped = true;
	o->mapped = ext;
	if (!w->s.srv_no_alt_addr || !w->s.srv_no_alt_port) {
		o->has_other = true;
		o->other = w->other;
	}
	return true;
}

static konce_classify_result classify(world *w, bool lifetime, uint32_t max_s)
{
	konce_classify c;
	konce_classify_config cfg = {.server = w->a1, .reply_to_port = true, .lifetime = lifetime, .lifetime_max_s = max_s};
	konce_classify_probe p;
	konce_classify_obs o;
	uint64_t now = 1000000;
	konce_classify_init(&c, &cfg);
	unsigned guard = 0;
	uint64_t life_map_at = 0;
	while (konce_classify_poll(&c, now, &p)) {
		assert_true(++guard < 200);
		assert_true(p.deadline > p.not_before);
		if (p.not_before > now)
			now = p.not_before;
		if (p.test == KONCE_CLASSIFY_T_LIFE_CHECK && now - life_map_at > w->max_idle_scheduled)
			w->max_idle_scheduled = now - life_map_at;
		if (world_run(w, &p, now, &o)) {
			now += 20000;
			if (p.test == KONCE_CLASSIFY_T_LIFE_MAP)
				life_map_at = now;
			konce_classify_input(&c, now, &o);
		} else {
			assert_int_equal(konce_classify_next_timer(&c), p.deadline);
			now = p.deadline;
			konce_classify_timer(&c, now);
		}
	}
	assert_false(konce_classify_poll(&c, now, &p));
	konce_classify_result r = *konce_classify_result_get(&c);
	assert_true(r.done);
	return r;
}

#define SPEC(...) ((nat_spec){__VA_ARGS__})

static void test_full_cone(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_EIM, .filt = F_EIF, .alloc = A_PRESERVE, .hairpin = true));
	konce_classify_result r = classify(&w, false, 0);
	assert_false(r.blocked);
	assert_true(r.nat);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_EIM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_EIF);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_PRESERVING);
	assert_int_equal(r.hairpin, KONCE_NAT_YES);
	assert_string_equal(konce_classify_classic_str(&r), "full-cone");
	assert_int_equal(r.mapped.port, local_port(0));
	assert_false(r.lifetime_measured);
}

static void test_restricted_cone(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_EIM, .filt = F_ADF, .alloc = A_RANDOM));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_EIM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_ADF);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_RANDOM);
	assert_int_equal(r.hairpin, KONCE_NAT_NO);
	assert_string_equal(konce_classify_classic_str(&r), "restricted-cone");
}

static void test_port_restricted_cone(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_EIM, .filt = F_APDF, .alloc = A_PRESERVE, .hairpin = true));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_EIM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_APDF);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_PRESERVING);
	/* the hairpinned packet comes from socket 2's mapping, which socket 0 never contacted */
	assert_int_equal(r.hairpin, KONCE_NAT_NO);
	assert_string_equal(konce_classify_classic_str(&r), "port-restricted-cone");
}

static void test_symmetric_random(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_RANDOM));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_APDM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_APDF);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_RANDOM);
	assert_string_equal(konce_classify_classic_str(&r), "symmetric");
	assert_false(konce_addr_eq(&r.mapped, &r.map_alt_addr));
	assert_false(konce_addr_eq(&r.map_alt_addr, &r.map_alt_both));
}

static void test_symmetric_sequential(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_SEQ));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_APDM);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_SEQUENTIAL);
	assert_string_equal(konce_classify_classic_str(&r), "symmetric-sequential");
	assert_true(r.n_samples >= 6);
}

/* Allocation every 256th port (as an nftables "numgen inc" written in host byte order gives), with
 * the hairpin socket's mapping in between the sampled ones. */
static void test_symmetric_strided(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_SEQ, .seq_stride = 256));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_SEQUENTIAL);
	assert_int_equal(r.port_stride, 256);
	assert_string_equal(konce_classify_classic_str(&r), "symmetric-sequential");

	/* random allocation is not mistaken for a stride */
	for (uint32_t seed = 1; seed < 200; seed++) {
		world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_RANDOM));
		w.rng = seed;
		r = classify(&w, false, 0);
		assert_int_equal(r.ports, KONCE_NAT_PORTS_RANDOM);
	}
}

static void test_address_dependent_mapping(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_ADM, .filt = F_ADF, .alloc = A_SEQ));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_ADM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_ADF);
	assert_true(konce_addr_eq(&r.map_alt_addr, &r.map_alt_both));
	assert_string_equal(konce_classify_classic_str(&r), "symmetric-sequential");
}

static void test_eim_sequential_allocation(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_EIM, .filt = F_EIF, .alloc = A_SEQ));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_EIM);
	assert_int_equal(r.ports, KONCE_NAT_PORTS_SEQUENTIAL);
	assert_string_equal(konce_classify_classic_str(&r), "full-cone");
}

static void test_open_and_firewalled(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_NONE, .filt = F_EIF));
	konce_classify_result r = classify(&w, false, 0);
	assert_false(r.nat);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_NONE);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_EIF);
	assert_int_equal(r.hairpin, KONCE_NAT_UNKNOWN); /* no NAT, nothing to hairpin */
	assert_string_equal(konce_classify_classic_str(&r), "open");

	world_init(&w, SPEC(.map = M_NONE, .filt = F_APDF));
	r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_NONE);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_APDF);
	assert_string_equal(konce_classify_classic_str(&r), "firewalled");

	/* one address only: filtering cannot be told fully, so neither "open" nor "firewalled" */
	world_init(&w, SPEC(.map = M_NONE, .filt = F_EIF, .srv_no_alt_addr = true));
	r = classify(&w, false, 0);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_PORT_INDEPENDENT);
	assert_string_equal(konce_classify_classic_str(&r), "no-nat");
}

static void test_blocked(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_EIM, .blocked = true));
	konce_classify_result r = classify(&w, true, 60);
	assert_true(r.blocked);
	assert_int_equal(r.tests_run, 1);
	assert_int_equal(r.timeouts, 1);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_UNKNOWN);
	assert_string_equal(konce_classify_classic_str(&r), "blocked");
}

/* A server with one address and one port (a plain STUN server): only the basic facts. */
static void test_server_without_alternate(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .srv_no_alt_addr = true, .srv_no_alt_port = true));
	konce_classify_result r = classify(&w, false, 0);
	assert_true(r.nat);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_UNKNOWN);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_UNKNOWN);
	assert_string_equal(konce_classify_classic_str(&r), "other");
}

/* Two ports, one address: port dependence is measurable, address dependence is not. */
static void test_server_alt_port_only(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_ADM, .filt = F_ADF, .srv_no_alt_addr = true));
	konce_classify_result r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_PORT_INDEPENDENT);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_PORT_INDEPENDENT);

	/* a random allocator, since a preserving one may reuse the port for a new destination */
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_RANDOM, .srv_no_alt_addr = true));
	r = classify(&w, false, 0);
	assert_int_equal(r.mapping, KONCE_NAT_MAP_APDM);
	assert_int_equal(r.filtering, KONCE_NAT_FILT_APDF);
}

static void test_lifetime(void **state)
{
	(void)state;
	static const uint32_t lifetimes[] = {3, 30, 47, 100};
	for (size_t i = 0; i < sizeof(lifetimes) / sizeof(lifetimes[0]); i++) {
		world w;
		world_init(&w, SPEC(.map = M_EIM, .filt = F_APDF, .lifetime_s = lifetimes[i]));
		konce_classify_result r = classify(&w, true, 120);
		assert_true(r.lifetime_measured);
		print_message("lifetime %u: alive at %u, dead at %u\n", lifetimes[i], r.lifetime_alive_s, r.lifetime_dead_s);
		/* alive after lifetime_alive_s of idleness, gone after lifetime_dead_s; idleness is counted
		 * from the answer, one round trip after the NAT last saw us, hence >= rather than > */
		assert_true(r.lifetime_alive_s <= lifetimes[i]);
		assert_true(r.lifetime_dead_s >= lifetimes[i]);
		uint32_t gap = r.lifetime_dead_s - r.lifetime_alive_s;
		assert_true(gap <= 1 || gap * 10 <= r.lifetime_dead_s || r.lifetime_alive_s == 0);
		assert_true(w.max_idle_scheduled <= 120ull * 1000000);
	}
}

static void test_lifetime_bounded(void **state)
{
	(void)state;
	world w;
	world_init(&w, SPEC(.map = M_APDM, .filt = F_APDF, .alloc = A_RANDOM, .lifetime_s = 1000));
	konce_classify_result r = classify(&w, true, 45);
	assert_true(r.lifetime_measured);
	assert_int_equal(r.lifetime_alive_s, 45);
	assert_int_equal(r.lifetime_dead_s, 0); /* still there at the bound */
	assert_true(w.max_idle_scheduled <= 45ull * 1000000);
	assert_true(w.max_idle_scheduled >= 45ull * 1000000);
}

/* Answers and timeouts with nothing outstanding, and answers without a mapped address. */
static void test_stray_input(void **state)
{
	(void)state;
	konce_classify c;
	konce_classify_config cfg = {.server = mk("198.51.100.1:3478")};
	konce_classify_probe p, p2;
	konce_classify_obs o = {0};
	konce_classify_init(&c, &cfg);
	konce_classify_input(&c, 1, &o);
	konce_classify_timer(&c, 1);
	assert_int_equal(konce_classify_result_get(&c)->ignored, 2);
	assert_int_equal(konce_classify_next_timer(&c), UINT64_MAX); /* nothing outstanding */
	assert_true(konce_classify_poll(&c, 10, &p));
	assert_int_equal(p.test, KONCE_CLASSIFY_T_BASIC);
	assert_true(p.deadline == 10 + 1500000);
	/* asking again without an answer gives the same probe, not a new test */
	assert_true(konce_classify_poll(&c, 20, &p2));
	assert_memory_equal(&p, &p2, sizeof(p));
	konce_classify_input(&c, 30, &o); /* no mapped address: not an answer to BASIC */
	assert_int_equal(konce_classify_result_get(&c)->ignored, 3);
	o.has_mapped = true;
	o.local = mk("10.0.0.2:5000");
	o.mapped = mk("203.0.113.1:6000");
	konce_classify_input(&c, 40, &o);
	assert_true(konce_classify_result_get(&c)->nat);
	assert_true(konce_classify_poll(&c, 50, &p));
	/* no alternate announced: the mapping tests are skipped, straight to hairpin */
	assert_int_equal(p.test, KONCE_CLASSIFY_T_HAIRPIN);
	assert_true(p.hairpin);
	assert_int_equal(p.expect_sock, 0);
	assert_true(konce_addr_eq(&p.to, &o.mapped));
	for (int t = KONCE_CLASSIFY_T_BASIC; t <= KONCE_CLASSIFY_T_DONE; t++)
		assert_non_null(konce_classify_test_str((enum konce_classify_test)t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_cone),
		cmocka_unit_test(test_restricted_cone),
		cmocka_unit_test(test_port_restricted_cone),
		cmocka_unit_test(test_symmetric_random),
		cmocka_unit_test(test_symmetric_sequential),
		cmocka_unit_test(test_symmetric_strided),
		cmocka_unit_test(test_address_dependent_mapping),
		cmocka_unit_test(test_eim_sequential_allocation),
		cmocka_unit_test(test_open_and_firewalled),
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_server_without_alternate),
		cmocka_unit_test(test_server_alt_port_only),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_lifetime_bounded),
		cmocka_unit_test(test_stray_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
