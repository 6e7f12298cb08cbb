/* test_nctravlife.c - the mapping lifetime composed with a real node core and traversal core
 * (node/core/nctravlife.h): which of the search and the service run for a setting and a traversal
 * configuration; the search is handed the traversal core's rendezvous; its ops walk exactly the
 * node core's peers that have a session or attempt; its log lines reach the host's log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/nctrav.h"
#include "node/core/nctravlife.h"
#include "node/core/trav_info.h"
#include "node/transport/identity.h"

struct rig {
	konce_identity *id;
	konce_nodecore *c;
	konce_trav *t;
	konce_nctravlife b;
	uint8_t rdv_pk[KONCE_WIRE_KEY];
	konce_addr rdv_addr;
	unsigned logged;
	char last[128];
};

static void host_log(void *ctx, int level, const char *text)
{
	struct rig *r = ctx;
	(void)level;
	r->logged++;
	snprintf(r->last, sizeof(r->last), "%s", text);
}

/* nrdv: register with one rendezvous; service: be one. */
static void rig_new(struct rig *r, unsigned nrdv, bool service)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(konce_identity_generate(&r->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = r->id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&r->c, &cfg, 1000), 0);
	memset(r->rdv_pk, 0x5a, sizeof(r->rdv_pk));
	assert_int_equal(konce_addr_parse(&r->rdv_addr, "192.0.2.1:4000"), 0);
	konce_trav_cfg tc = {.ep = konce_nodecore_ep(r->c), .pk = konce_nodecore_public_key(r->c),
			     .ops = konce_nodecore_trav_ops(r->c), .rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])r->rdv_pk,
			     .rdv_addr = &r->rdv_addr, .nrdv = nrdv, .rendezvous = service};
	assert_int_equal(konce_trav_new(&r->t, &tc, 1000), 0);
	r->b = (konce_nctravlife){.c = r->c, .t = r->t, .log = host_log, .log_ctx = r};
}

static void rig_free(struct rig *r)
{
	konce_trav_free(r->t);
	konce_nodecore_free(r->c);
	konce_identity_free(r->id);
}

static void test_what_runs(void **state)
{
	(void)state;
	static struct rig r;
	konce_lifetime_cfg life = {.min_us = 5000000, .max_us = 30000000};
	konce_travlife_cfg c;
	rig_new(&r, 1, false); /* a client */
	assert_true(konce_nctravlife_cfg(&r.b, false, &life, &c));
	assert_true(c.client);
	assert_false(c.server);
	assert_int_equal(c.nrdv, 1);
	assert_memory_equal(c.rdv_pk[0], r.rdv_pk, KONCE_WIRE_KEY);
	assert_true(konce_addr_eq(&c.rdv_addr[0], &r.rdv_addr));
	assert_int_equal(c.life.min_us, life.min_us);
	assert_int_equal(c.life.max_us, life.max_us);
	assert_ptr_equal(c.ops.ctx, &r.b);
	assert_false(konce_nctravlife_cfg(&r.b, true, &life, &c)); /* "off", and no service */
	rig_free(&r);

	rig_new(&r, 0, true); /* a rendezvous only: the service, never the search */
	assert_true(konce_nctravlife_cfg(&r.b, false, &life, &c));
	assert_false(c.client);
	assert_true(c.server);
	assert_true(konce_nctravlife_cfg(&r.b, true, &life, &c));
	assert_true(c.server);
	rig_free(&r);

	rig_new(&r, 0, false); /* neither */
	assert_false(konce_nctravlife_cfg(&r.b, false, &life, &c));
	rig_free(&r);
}

struct walk {
	unsigned n;
	uint8_t pk[4][KONCE_WIRE_KEY];
	uint32_t conn[4];
};

static void walk_one(void *arg, const uint8_t pk[KONCE_WIRE_KEY], uint32_t conn)
{
	struct walk *w = arg;
	assert_true(w->n < 4);
	memcpy(w->pk[w->n], pk, KONCE_WIRE_KEY);
	w->conn[w->n++] = conn;
}

static void test_ops_and_lifetime_core(void **state)
{
	(void)state;
	static struct rig r;
	konce_lifetime_cfg life = {0};
	konce_travlife_cfg c;
	rig_new(&r, 1, false);
	uint8_t pk[3][KONCE_KEY_BYTES];
	for (unsigned i = 0; i < 3; i++) {
		memset(pk[i], 0x30 + (int)i, KONCE_KEY_BYTES);
		konce_ncpeer *p = konce_nodecore_peer_add(r.c, pk[i]);
		assert_non_null(p);
		if (i != 1) /* peer 1: known, no session or attempt */
			konce_nodecore_peer_set_conn(r.c, p, 100 + i);
	}
	assert_true(konce_nctravlife_cfg(&r.b, false, &life, &c));
	struct walk w = {0};
	c.ops.each_peer(c.ops.ctx, walk_one, &w);
	assert_int_equal(w.n, 2);
	for (unsigned i = 0; i < w.n; i++) {
		unsigned k = w.conn[i] - 100;
		assert_true(k == 0 || k == 2);
		assert_memory_equal(w.pk[i], pk[k], KONCE_KEY_BYTES);
	}
	c.ops.log(c.ops.ctx, KONCE_LOG_INFO, "a line");
	assert_int_equal(r.logged, 1);
	assert_string_equal(r.last, "a line");

	/* The lifetime core runs on these ops: its first experiment is due at once and goes to the
	 * primary rendezvous from the probe socket; apply() (no reflexive address yet) is harmless. */
	konce_travlife *l;
	assert_int_equal(konce_travlife_new(&l, &c, 2000), 0);
	assert_true(konce_travlife_wants_probe(l));
	konce_addr probe;
	assert_int_equal(konce_addr_parse(&probe, "198.51.100.2:5555"), 0);
	konce_travlife_sock_opened(l, &probe);
	konce_nctravlife_apply(&r.b, l, 2000);
	konce_travlife_timer(l, konce_travlife_next_timer(l));
	uint8_t buf[KONCE_LIFE_REQ_SIZE];
	size_t len;
	unsigned sock;
	konce_addr to;
	bool sent = false;
	while (konce_travlife_poll(l, &sock, buf, &len, &to))
		if (sock == KONCE_TRAVLIFE_SOCK_PROBE && konce_addr_eq(&to, &r.rdv_addr))
			sent = true;
	assert_true(sent);
	konce_travlife_free(l);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_what_runs),
		cmocka_unit_test(test_ops_and_lifetime_core),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
