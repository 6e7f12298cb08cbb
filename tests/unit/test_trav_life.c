/* test_trav_life.c - the node's mapping lifetime core (node/core/trav_life.c): the setting's
 * parser, a client and a rendezvous service driven against each other through a toy NAT, the
 * keepalives it applies through its ops, the rebound, and what it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "count_env.h"
#include "nat/rdvwire.h"
#include "node/base/wire.h"
#include "node/core/trav_life.h"

#define SEC 1000000ULL

enum { NPEERS = 3, MAXSET = 64 };

/* The node's side: three peers (0: the primary rendezvous, 1: a second rendezvous, 2: another
 * peer) and what the core set through its ops. */
struct rig {
	count_env ce;
	konce_travlife *c; /* the client */
	konce_travlife *s; /* the rendezvous's service */
	uint8_t pk[NPEERS][KONCE_WIRE_KEY];
	uint32_t conn[NPEERS];
	uint64_t keepalive[NPEERS];
	unsigned sets[NPEERS];
	uint64_t rdv_k, path_k;
	unsigned path_sets, logs, rebound_logs;
	konce_addr rdv[2], probe, now_refl;
	uint64_t now, life, last_cross;
	bool mapped;
};

static void op_each_peer(void *ctx, konce_travlife_peer_fn fn, void *arg)
{
	struct rig *r = ctx;
	for (unsigned i = 0; i < NPEERS; i++)
		fn(arg, r->pk[i], r->conn[i]);
}

static void op_set_keepalive(void *ctx, uint32_t conn, uint64_t k, uint64_t now)
{
	struct rig *r = ctx;
	(void)now;
	for (unsigned i = 0; i < NPEERS; i++)
		if (r->conn[i] == conn) {
			r->keepalive[i] = k;
			r->sets[i]++;
			return;
		}
	fail_msg("keepalive set on an unknown conn %u", conn);
}

static void op_set_rdv_keepalive(void *ctx, uint64_t k) { ((struct rig *)ctx)->rdv_k = k; }

static void op_set_path_keepalive(void *ctx, uint64_t k, uint64_t now)
{
	struct rig *r = ctx;
	(void)now;
	r->path_k = k;
	r->path_sets++;
}

static void op_log(void *ctx, int level, const char *text)
{
	struct rig *r = ctx;
	(void)level;
	r->logs++;
	if (strstr(text, "rebound"))
		r->rebound_logs++;
}

static void rig_init(struct rig *r, uint64_t life)
{
	memset(r, 0, sizeof(*r));
	count_env_init(&r->ce, 5);
	for (unsigned i = 0; i < NPEERS; i++) {
		memset(r->pk[i], 0x10 + i, KONCE_WIRE_KEY);
		r->conn[i] = 100 + i;
	}
	assert_int_equal(konce_addr_parse(&r->rdv[0], "203.0.113.1:7000"), 0);
	assert_int_equal(konce_addr_parse(&r->rdv[1], "203.0.113.2:7000"), 0);
	assert_int_equal(konce_addr_parse(&r->probe, "198.51.100.7:40001"), 0);
	r->life = life;
	konce_travlife_cfg cc = {.env = &r->ce.env,
				 .client = true,
				 .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])r->pk,
				 .rdv_addr = r->rdv,
				 .nrdv = 2,
				 .ops = {op_each_peer, op_set_keepalive, op_set_rdv_keepalive, op_set_path_keepalive, op_log, r}};
	assert_int_equal(konce_travlife_new(&r->c, &cc, 0), 0);
	assert_true(konce_travlife_wants_probe(r->c));
	konce_travlife_cfg sc = {.env = &r->ce.env, .server = true};
	assert_int_equal(konce_travlife_new(&r->s, &sc, 0), 0);
	assert_false(konce_travlife_wants_probe(r->s));
	konce_addr local;
	assert_int_equal(konce_addr_parse(&local, "10.0.0.2:5555"), 0);
	konce_travlife_sock_opened(r->c, &local);
}

static void rig_free(struct rig *r)
{
	konce_travlife_free(r->c);
	konce_travlife_free(r->s);
	assert_int_equal(r->ce.live, 0);
}

static bool nat_alive(const struct rig *r) { return r->mapped && r->now - r->last_cross < r->life; }

/* The client's datagrams leave the probe socket through a NAT (public r->probe) to the primary;
 * the service's answers come back through it while the mapping lives. */
static void rig_pump(struct rig *r)
{
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	unsigned sock;
	konce_addr to;
	while (konce_travlife_poll(r->c, &sock, buf, &len, &to)) {
		assert_int_equal(sock, KONCE_TRAVLIFE_SOCK_PROBE);
		assert_true(konce_addr_eq(&to, &r->rdv[0]));
		if (!nat_alive(r))
			r->mapped = true;
		r->last_cross = r->now;
		konce_travlife_input(r->s, 0, buf, len, &r->probe, r->now);
	}
	while (konce_travlife_poll(r->s, &sock, buf, &len, &to)) {
		assert_int_equal(sock, 0); /* the service answers from the node socket */
		assert_true(konce_addr_eq(&to, &r->probe));
		if (!nat_alive(r))
			continue;
		r->last_cross = r->now;
		konce_travlife_input(r->c, KONCE_TRAVLIFE_SOCK_PROBE, buf, len, &r->rdv[0], r->now);
	}
}

static void rig_run(struct rig *r, uint64_t until)
{
	rig_pump(r);
	for (;;) {
		uint64_t a = konce_travlife_next_timer(r->c), b = konce_travlife_next_timer(r->s);
		uint64_t t = a < b ? a : b;
		if (t > until)
			break;
		r->now = t > r->now ? t : r->now;
		konce_travlife_timer(r->s, r->now);
		konce_travlife_timer(r->c, r->now);
		rig_pump(r);
	}
	r->now = until;
}

static void test_parse(void **state)
{
	(void)state;
	bool off;
	char err[200] = "";
	konce_lifetime_cfg c = {0};
	assert_int_equal(konce_travlife_parse(NULL, &off, &c, err, sizeof(err)), 0);
	assert_false(off);
	assert_int_equal(konce_travlife_parse("auto", &off, &c, err, sizeof(err)), 0);
	assert_int_equal(c.min_us, 0);
	assert_int_equal(konce_travlife_parse("off", &off, &c, err, sizeof(err)), 0);
	assert_true(off);
	assert_int_equal(konce_travlife_parse("10:60", &off, &c, err, sizeof(err)), 0);
	assert_false(off);
	assert_int_equal(c.min_us, 10 * SEC);
	assert_int_equal(c.max_us, 60 * SEC);
	assert_int_equal(c.start_us, 0);
	assert_int_equal(konce_travlife_parse("10:20:60", &off, &c, err, sizeof(err)), 0);
	assert_int_equal(c.start_us, 20 * SEC);
	static const char *bad[] = {"10", "1:60", "60:10", "10:60:", "x", "10:20:30:40", "10:99999", "-5:10"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(konce_travlife_parse(bad[i], &off, &c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i]));
	}
}

/* The search converges below the NAT's lifetime, and the keepalive goes where trav_life.h says. */
static void test_learns_and_applies(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 40 * SEC);
	konce_travlife_apply(r.c, NULL, NPEERS, r.now);
	uint64_t k0 = r.rdv_k;
	assert_true(k0 > 0);
	assert_int_equal(r.sets[2], 1); /* the first apply sets every peer */
	long allocs = r.ce.allocs;
	rig_run(&r, 3600 * SEC);
	assert_int_equal(r.ce.allocs, allocs); /* nothing allocated after new() */
	konce_lifetime_status st;
	konce_addr probe_local;
	assert_true(konce_travlife_status(r.c, &st, &probe_local));
	assert_true(st.learned);
	assert_true(st.lo_us <= 40 * SEC);
	assert_int_equal(probe_local.port, 5555);
	unsigned logs = r.logs, path_sets = r.path_sets;
	konce_travlife_apply(r.c, NULL, NPEERS, r.now);
	uint64_t k = r.rdv_k;
	assert_int_equal(k, st.keepalive_us);
	assert_true(k <= 40 * SEC);
	assert_true(k > k0); /* learned above the conservative start */
	assert_int_equal(r.logs, logs + 1); /* the new keepalive is logged once */
	/* both rendezvous's sessions: 5/4 k, capped at a third of the idle timeout */
	uint64_t sk = k + k / 4 < KONCE_IDLE_TIMEOUT_MS * 1000ull / 3 ? k + k / 4 : KONCE_IDLE_TIMEOUT_MS * 1000ull / 3;
	assert_int_equal(r.keepalive[0], sk);
	assert_int_equal(r.keepalive[1], sk);
	/* another peer only ever gets shorter than its 25 s default; a direct path than its 10 s */
	assert_int_equal(r.keepalive[2], k < KONCE_KEEPALIVE_MS * 1000ull ? k : 0);
	assert_int_equal(r.path_k, k < KONCE_PUNCH_PATH_KEEPALIVE_MS * 1000ull ? k : 0);
	assert_int_equal(r.path_sets, path_sets + 1);
	/* unchanged keepalive and peer count: the rendezvous sessions again, not the others */
	unsigned others = r.sets[2];
	konce_travlife_apply(r.c, NULL, NPEERS, r.now);
	assert_int_equal(r.sets[2], others);
	assert_int_equal(r.path_sets, path_sets + 1);
	assert_int_equal(r.logs, logs + 1);
	/* a new peer: the others are set again */
	konce_travlife_apply(r.c, NULL, NPEERS + 1, r.now);
	assert_int_equal(r.sets[2], others + 1);
	assert_int_equal(r.path_sets, path_sets + 2);
	rig_free(&r);
}

/* A new reflexive address from the primary means the mapping was lost: the search starts over. */
static void test_rebound(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 40 * SEC);
	rig_run(&r, 3600 * SEC);
	konce_addr a, b;
	assert_int_equal(konce_addr_parse(&a, "198.51.100.7:40000"), 0);
	assert_int_equal(konce_addr_parse(&b, "198.51.100.7:40999"), 0);
	konce_travlife_apply(r.c, &a, NPEERS, r.now);
	konce_travlife_apply(r.c, &a, NPEERS, r.now);
	assert_int_equal(r.rebound_logs, 0);
	konce_lifetime_status st;
	konce_addr pl;
	assert_true(konce_travlife_status(r.c, &st, &pl));
	uint64_t rebounds = st.rebounds;
	konce_travlife_apply(r.c, &b, NPEERS, r.now);
	assert_int_equal(r.rebound_logs, 1);
	assert_true(konce_travlife_status(r.c, &st, &pl));
	assert_int_equal(st.rebounds, rebounds + 1);
	assert_false(st.learned);
	rig_free(&r);
}

/* The probe socket takes answers only from the primary; the node socket feeds only the service. */
static void test_strangers(void **state)
{
	(void)state;
	struct rig r;
	rig_init(&r, 40 * SEC);
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	unsigned sock;
	konce_addr to;
	konce_travlife_timer(r.c, konce_travlife_next_timer(r.c));
	assert_true(konce_travlife_poll(r.c, &sock, buf, &len, &to)); /* the first request */
	konce_lifetime_status before, after;
	konce_addr pl;
	assert_true(konce_travlife_status(r.c, &before, &pl));
	/* an answer-shaped datagram from the second rendezvous, on the probe socket */
	uint8_t ack[KONCE_LIFE_REQ_SIZE];
	memcpy(ack, buf, len);
	ack[0] = KONCE_RDV_LIFE_ACK;
	konce_travlife_input(r.c, KONCE_TRAVLIFE_SOCK_PROBE, ack, len, &r.rdv[1], 1);
	assert_int_equal(konce_travlife_rx_other(r.c), 1);
	assert_true(konce_travlife_status(r.c, &after, &pl));
	assert_int_equal(after.state, before.state);
	/* the client runs no service: a LIFE_REQ on its node socket is ignored */
	konce_travlife_input(r.c, 0, buf, len, &r.probe, 1);
	assert_false(konce_travlife_poll(r.c, &sock, buf, &len, &to));
	/* the service: answers from the node socket, counts it */
	size_t pending;
	assert_null(konce_travlife_srv(r.c, &pending));
	konce_travlife_input(r.s, 0, buf, len, &r.probe, 1);
	const struct konce_lifesrv_counters *sc = konce_travlife_srv(r.s, &pending);
	assert_non_null(sc);
	assert_int_equal(sc->queued, 1);
	assert_true(konce_travlife_poll(r.s, &sock, buf, &len, &to));
	assert_int_equal(sock, 0);
	assert_int_equal(buf[0], KONCE_RDV_LIFE_ACK);
	assert_true(konce_addr_eq(&to, &r.probe));
	/* no client: apply does nothing, status says none */
	konce_travlife_apply(r.s, NULL, 1, 1);
	assert_false(konce_travlife_status(r.s, &after, &pl));
	rig_free(&r);
}

static void test_bad_config(void **state)
{
	(void)state;
	konce_travlife *l = (konce_travlife *)1;
	konce_travlife_cfg c = {.client = true}; /* no rendezvous */
	assert_int_equal(konce_travlife_new(&l, &c, 0), -EINVAL);
	assert_null(l);
	konce_addr a[1];
	uint8_t pk[1][KONCE_WIRE_KEY] = {{0}};
	konce_addr_parse(&a[0], "203.0.113.1:7000");
	c = (konce_travlife_cfg){.client = true, .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])pk, .rdv_addr = a, .nrdv = 1};
	assert_int_equal(konce_travlife_new(&l, &c, 0), -EINVAL); /* no ops */
	c.nrdv = KONCE_TRAV_MAX_RDV + 1;
	c.client = false;
	assert_int_equal(konce_travlife_new(&l, &c, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_learns_and_applies),
		cmocka_unit_test(test_rebound),
		cmocka_unit_test(test_strangers),
		cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
