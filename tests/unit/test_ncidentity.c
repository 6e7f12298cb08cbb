/* test_ncidentity.c - which key the node core shows the peers it dials, and limited-circulation
 * servers, on two cores joined by this file (no sockets): docs/KEYS.md, "Which key a node shows".
 *
 *   - per_server: a dial shows the key derived for that peer (konce_identity_derive_for), the peer's
 *     handler sees that key as `from`, and never the master key; ESTABLISHED reports it on both
 *     sides (local_pk: the derived key at the dialler, the master key at the dialled);
 *   - the rule: a key with a petname, a key set to master (konce_nodecore_peer_identity) and a
 *     traversal address (is_virtual) are shown the master key; per_server false shows it always;
 *   - a server with a group key: a dial without the key gets no answer at all (the server sends
 *     no datagram) and fails UNREACHABLE; with konce_nodecore_peer_group it is delivered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/core/nodecore.h"
#include "node/core/ncgroup.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_fixture.h"

enum { APP = 300, MS = 1000 };

struct side {
	int msgs;
	uint64_t tx;
	uint8_t from[KONCE_KEY_BYTES];
};

struct world {
	nc_fix f; /* first: the hooks cast it back */
	struct side s[2];
	int outcome, reason, calls;
};

static uint8_t group_key[KONCE_KEY_BYTES] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
					     7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	struct world *w = ctx;
	(void)data, (void)len;
	w->calls++;
	w->outcome = outcome;
	w->reason = reason;
}

static void on_app(void *ctx, konce_node *node, const konce_message *m)
{
	struct side *sd = ctx;
	(void)node;
	sd->msgs++;
	memcpy(sd->from, m->from, KONCE_KEY_BYTES);
}

/* The traversal hook's is_virtual: addresses in 100::/16 belong to it. */
static bool is_virtual(void *ctx, const konce_addr *a)
{
	(void)ctx;
	return a->ip[0] == 1 && a->ip[1] == 0;
}

/* Every datagram a side sends is counted; those to the other side reach it. */
static bool carry(nc_fix *f, int i, const konce_addr *to)
{
	((struct world *)f)->s[i].tx++;
	return konce_addr_eq(to, &f->addr[!i]);
}

/* A run stops once an outcome arrived. */
static bool outcome_done(nc_fix *f) { return ((struct world *)f)->calls > 0; }

static void side_init(struct world *w, int i, const char *addr, bool per_server, const uint8_t *group)
{
	assert_int_equal(konce_identity_generate(&w->f.id[i], konce_env_default()), 0);
	konce_nodecore_config cfg = {
		.ep = {.identity = w->f.id[i], .explicit_identity = true, .group_key = group},
		.per_server = per_server,
		.hooks = {.is_virtual = is_virtual},
	};
	nc_fix_core(&w->f, i, &cfg, addr, APP, on_app, &w->s[i]);
}

static void world_init(struct world *w, bool per_server, const uint8_t *server_group)
{
	memset(w, 0, sizeof *w);
	w->f = (nc_fix){.now = NC_FIX_START, .carry = carry, .done = outcome_done};
	side_init(w, 0, "192.0.2.1:7807", per_server, NULL);
	side_init(w, 1, "192.0.2.2:7807", false, server_group);
}

static void world_free(struct world *w) { nc_fix_free(&w->f); }

static const uint8_t *pk_of(struct world *w, int i) { return nc_fix_pk(&w->f, i); }

/* A sends "hi" to B at B's address; returns the outcome. */
static int send_hi(struct world *w)
{
	assert_int_equal(konce_nodecore_known_load(w->f.c[0], pk_of(w, 1), &w->f.addr[1], NULL), 0);
	assert_int_equal(konce_nodecore_send(w->f.c[0], pk_of(w, 1), APP, (const uint8_t *)"hi", 2, NULL, on_outcome, w,
					     w->f.now, NULL),
			 0);
	nc_fix_run(&w->f, w->f.now + 10000 * MS);
	assert_int_equal(w->calls, 1);
	return w->outcome;
}

static void test_per_server_default(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, NULL);
	konce_identity *derived;
	assert_int_equal(konce_identity_derive_for(w.f.id[0], pk_of(&w, 1), &derived), 0);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], pk_of(&w, 1), &w.f.addr[1]), KONCE_NC_ID_PER_SERVER);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w.s[1].msgs, 1);
	assert_memory_equal(w.s[1].from, konce_identity_public(derived), KONCE_KEY_BYTES);
	assert_memory_not_equal(w.s[1].from, pk_of(&w, 0), KONCE_KEY_BYTES);
	/* each side's peer record says which of our keys the session runs under */
	konce_ncpeer *pa = konce_nodecore_peer_find(w.f.c[0], pk_of(&w, 1));
	konce_ncpeer *pb = konce_nodecore_peer_find(w.f.c[1], konce_identity_public(derived));
	assert_non_null(pa);
	assert_non_null(pb);
	assert_int_equal(pa->identity, KONCE_NC_ID_PER_SERVER);
	assert_memory_equal(pa->local_pk, konce_identity_public(derived), KONCE_KEY_BYTES);
	assert_int_equal(pb->identity, KONCE_NC_ID_MASTER); /* incoming: the key B was dialled by */
	assert_memory_equal(pb->local_pk, pk_of(&w, 1), KONCE_KEY_BYTES);
	assert_null(konce_nodecore_peer_find(w.f.c[1], pk_of(&w, 0)));
	konce_identity_free(derived);
	world_free(&w);
}

static void test_rule(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, NULL);
	const uint8_t *b = pk_of(&w, 1);
	konce_addr virt;
	assert_int_equal(konce_addr_parse(&virt, "[100::5]:7"), 0);
	/* a traversal address: the introduction named our master key */
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &virt), KONCE_NC_ID_MASTER);
	/* a petname: a peer we named gets the master key */
	assert_int_equal(konce_nodecore_known_load(w.f.c[0], b, &w.f.addr[1], "bob"), 0);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_MASTER);
	/* the peer's own setting wins over the petname, both ways */
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], b, KONCE_NC_ID_PER_SERVER), 0);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_PER_SERVER);
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], b, KONCE_NC_ID_UNSET), 0);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_MASTER);
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], b, 3), -EINVAL);
	world_free(&w);

	/* a member a joining group asks to let it in knows us by our master key, and so does every
	 * member of a group's view: the group names each member by it */
	world_init(&w, true, NULL);
	b = pk_of(&w, 1);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_PER_SERVER);
	const uint8_t gid[KONCE_CW_GROUP_ID] = {7}, secret[KONCE_CW_SECRET] = {9};
	konce_group *g;
	assert_int_equal(konce_nodecore_group_add(w.f.c[0], gid, &g), 0);
	assert_int_equal(konce_group_join(g, (const uint8_t(*)[KONCE_CW_KEY])b, 1, secret, w.f.now), 0);
	assert_true(konce_nodecore_groups_have_key(w.f.c[0], b));
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_MASTER);
	assert_int_equal(konce_nodecore_group_remove(w.f.c[0], gid), 0);
	assert_int_equal(konce_nodecore_identity_for(w.f.c[0], b, &w.f.addr[1]), KONCE_NC_ID_PER_SERVER);
	world_free(&w);

	/* identity_master: a named setting makes the dial show the master key */
	world_init(&w, true, NULL);
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], pk_of(&w, 1), KONCE_NC_ID_MASTER), 0);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_DELIVERED);
	assert_memory_equal(w.s[1].from, pk_of(&w, 0), KONCE_KEY_BYTES);
	assert_int_equal(konce_nodecore_peer_find(w.f.c[0], pk_of(&w, 1))->identity, KONCE_NC_ID_MASTER);
	world_free(&w);

	/* per_server false: the master key always (the core's old behaviour) */
	world_init(&w, false, NULL);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_DELIVERED);
	assert_memory_equal(w.s[1].from, pk_of(&w, 0), KONCE_KEY_BYTES);
	world_free(&w);
}

static void test_peerconf_table(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, true, NULL);
	uint8_t pk[KONCE_KEY_BYTES] = {0};
	for (unsigned i = 0; i < KONCE_NC_PEERCONF_MAX; i++) {
		pk[0] = (uint8_t)i, pk[1] = (uint8_t)(i >> 8);
		assert_int_equal(konce_nodecore_peer_group(w.f.c[0], pk, group_key), 0);
	}
	pk[0] = 0xff, pk[1] = 0xff;
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], pk, KONCE_NC_ID_MASTER), -ENOSPC);
	/* clearing an entry frees its slot; clearing what is not there is fine */
	pk[0] = 3, pk[1] = 0;
	assert_int_equal(konce_nodecore_peer_group(w.f.c[0], pk, NULL), 0);
	assert_int_equal(konce_nodecore_peer_group(w.f.c[0], pk, NULL), 0);
	pk[0] = 0xff, pk[1] = 0xff;
	assert_int_equal(konce_nodecore_peer_identity(w.f.c[0], pk, KONCE_NC_ID_MASTER), 0);
	world_free(&w);
}

static void test_group_server(void **state)
{
	(void)state;
	struct world w;
	/* without the group key: not one datagram from the server, and the dial fails */
	world_init(&w, true, group_key);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_FAILED);
	assert_int_equal(w.reason, KONCE_REASON_UNREACHABLE);
	assert_int_equal(w.s[1].tx, 0);
	assert_int_equal(w.s[1].msgs, 0);
	assert_true(konce_ep_counters(konce_nodecore_ep(w.f.c[1]))->hello_bad_clue >= 1);
	world_free(&w);

	/* with it */
	world_init(&w, true, group_key);
	assert_int_equal(konce_nodecore_peer_group(w.f.c[0], pk_of(&w, 1), group_key), 0);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_DELIVERED);
	assert_int_equal(w.s[1].msgs, 1);
	world_free(&w);

	/* a wrong group key is as good as none */
	world_init(&w, true, group_key);
	uint8_t wrong[KONCE_KEY_BYTES];
	memcpy(wrong, group_key, sizeof wrong);
	wrong[31] ^= 1;
	assert_int_equal(konce_nodecore_peer_group(w.f.c[0], pk_of(&w, 1), wrong), 0);
	assert_int_equal(send_hi(&w), KONCE_OUTCOME_FAILED);
	assert_int_equal(w.s[1].tx, 0);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_server_default),
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_peerconf_table),
		cmocka_unit_test(test_group_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
