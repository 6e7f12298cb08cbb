/* test_ncgrestore.c - a stored group at start (node/core/ncgapp.h, ncgrestore.c): hosted once,
 * unhosted when its restore fails or no name is left for it; a restored member is owed its state
 * and a restored joiner only its JOINED; the debts are paid once each, in table order, a group's
 * own before its event, all of them once the application listens; the notices are `replayed`, a
 * snapshot's carry its bytes, and only application entries of the log become DECIDED notices (a
 * malformed one stops the replay); the store's replay callbacks hand them to the application's
 * callback and count the decided ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncgapp.h"
#include "node/transport/identity.h"

static const uint8_t SECRET[KONCE_CW_SECRET] = "the invitation secret, 32 bytes";

struct side {
	konce_identity *id;
	konce_nodecore *c;
	konce_ncgapp app;
};

static void side_new(struct side *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(konce_identity_generate(&s->id, konce_env_default()), 0);
	konce_nodecore_config cfg = {.ep = {.identity = s->id, .explicit_identity = true}};
	assert_int_equal(konce_nodecore_new(&s->c, &cfg, 1000), 0);
}

static void side_free(struct side *s)
{
	konce_ncgapp_unwire(&s->app, s->c);
	konce_nodecore_free(s->c);
	konce_identity_free(s->id);
}

static void test_restored(void **state)
{
	(void)state;
	static struct side a, b;
	static konce_ctoken t;
	char token[KONCE_GROUP_TOKEN_MAX], nm[KONCE_GROUP_NAME_MAX + 1];
	uint8_t gid[KONCE_CW_GROUP_ID];
	side_new(&a);
	side_new(&b);
	randombytes_buf(gid, sizeof gid);
	assert_int_equal(konce_ncgapp_create(&a.app, a.c, gid, "team", 2000, 100), 0);
	assert_int_equal(konce_ncgapp_invite(&a.app, a.c, "team", konce_nodecore_public_key(a.c), SECRET, 0, NULL,
					     3000, 100, token, sizeof token),
			 0);
	assert_int_equal(konce_ncgapp_join_check(&b.app, konce_nodecore_public_key(b.c), token, "far", 100, &t, nm),
			 0);
	assert_int_equal(konce_ncgapp_join(&b.app, b.c, &t, nm, 4000, 100), 0);

	/* after a restart the table is new; the groups are in the core (as konce_store_group_restore
	 * leaves them) */
	static konce_ncgapp ta, tb;
	konce_ncgapp_unwire(&a.app, a.c);
	konce_ncgapp_unwire(&b.app, b.c);
	/* a member: bound, owed its state (up to the delivery point the host reads) */
	konce_ncgapp_name *x = konce_ncgapp_restored(&ta, a.c, gid, "team", 0);
	assert_non_null(x);
	assert_ptr_equal(konce_ncgapp_by_name(&ta, "team"), x);
	assert_false(x->joining);
	assert_true(konce_ncgapp_replay_due(x));
	assert_false(x->replay); /* nothing owed until the host has the delivery point */
	konce_ncgapp_replay_owe(x, 17);
	assert_true(x->replay);
	assert_int_equal(x->replay_upto, 17);
	/* a joiner: its JOINED only, nothing to hand back */
	konce_ncgapp_name *y = konce_ncgapp_restored(&tb, b.c, gid, NULL, 0);
	assert_non_null(y);
	assert_true(y->joining);
	assert_false(konce_ncgapp_replay_due(y));
	assert_null(konce_ncgapp_replay_next(&tb, NULL, &(int){0}));

	/* hosting: once per group; a failed restore, or no room for the name, unhosts it */
	uint8_t g2[KONCE_CW_GROUP_ID];
	konce_group *g;
	memset(g2, 9, sizeof g2);
	assert_int_equal(konce_ncgapp_restore_host(a.c, gid, 100, &g), -EEXIST);
	assert_int_equal(konce_ncgapp_restore_host(a.c, g2, 100, &g), 0);
	assert_ptr_equal(konce_nodecore_group_find(a.c, g2), g);
	assert_null(konce_ncgapp_restored(&ta, a.c, g2, "broken", -EIO));
	assert_null(konce_nodecore_group_find(a.c, g2));
	assert_null(konce_ncgapp_by_name(&ta, "broken"));
	for (int i = 1; i < KONCE_NC_GROUPS_MAX; i++) { /* no room left for a name */
		uint8_t other[KONCE_CW_GROUP_ID] = {(uint8_t)i, 1};
		assert_non_null(konce_ncgapp_bind(&ta, other, NULL));
	}
	assert_int_equal(konce_ncgapp_restore_host(a.c, g2, 100, &g), 0);
	assert_null(konce_ncgapp_restored(&ta, a.c, g2, "late", 0));
	assert_null(konce_nodecore_group_find(a.c, g2));
	assert_non_null(konce_nodecore_group_find(a.c, gid));
	side_free(&a);
	side_free(&b);
}

static void test_order(void **state)
{
	(void)state;
	static konce_ncgapp t;
	uint8_t g[4][KONCE_CW_GROUP_ID];
	konce_ncgapp_name *x[4];
	memset(&t, 0, sizeof t);
	for (int i = 0; i < 4; i++) {
		memset(g[i], i + 1, sizeof g[i]);
		assert_non_null(x[i] = konce_ncgapp_bind(&t, g[i], NULL));
	}
	konce_ncgapp_replay_owe(x[0], 1);
	konce_ncgapp_replay_owe(x[2], 5);
	konce_ncgapp_replay_owe(x[3], 9);
	/* an event of a group owed nothing pays nobody's debt */
	assert_null(konce_ncgapp_replay_next(&t, g[1], &(int){0}));
	/* an event of x[2]: its own state first, once */
	assert_ptr_equal(konce_ncgapp_replay_next(&t, g[2], &(int){0}), x[2]);
	assert_false(x[2]->replay);
	assert_int_equal(x[2]->replay_upto, 5);
	assert_null(konce_ncgapp_replay_next(&t, g[2], &(int){0}));
	/* the application listens: every other debt, in table order, once */
	assert_ptr_equal(konce_ncgapp_replay_next(&t, NULL, &(int){0}), x[0]);
	assert_ptr_equal(konce_ncgapp_replay_next(&t, NULL, &(int){0}), x[3]);
	assert_null(konce_ncgapp_replay_next(&t, NULL, &(int){0}));
	assert_null(konce_ncgapp_replay_next(&t, g[3], &(int){0}));
}

static size_t entry(uint8_t kind, const char *data, uint8_t *out, size_t cap)
{
	static const uint8_t origin[KONCE_CW_ORIGIN] = "origin!";
	konce_cw_entry e = {.kind = kind, .origin = origin, .nonce = 42, .len = (uint16_t)strlen(data),
			    .data = (const uint8_t *)data};
	return konce_cw_entry_encode(&e, out, cap);
}

static void test_notices(void **state)
{
	(void)state;
	static konce_ncgapp t;
	uint8_t gid[KONCE_CW_GROUP_ID], buf[128];
	memset(&t, 0, sizeof t);
	memset(gid, 0x5a, sizeof gid);
	konce_ncgapp_name *x = konce_ncgapp_bind(&t, gid, "team");
	konce_group_notice base, o;
	memset(&base, 0xff, sizeof base);
	konce_ncgapp_replay_notice(x, &base);
	assert_string_equal(base.name, "team");
	assert_memory_equal(base.id, gid, sizeof gid);
	assert_int_equal(base.replayed, 1);
	assert_int_equal(base.seq, 0);

	o = base;
	konce_ncgapp_replay_snapshot(&o, 7, (const uint8_t *)"state", 5);
	assert_int_equal(o.type, KONCE_GROUP_N_SNAPSHOT);
	assert_int_equal(o.seq, 7);
	assert_int_equal(o.len, 5);
	assert_memory_equal(o.data, "state", 5);
	assert_int_equal(o.replayed, 1);

	size_t n = entry(KONCE_CW_E_APP, "hello", buf, sizeof buf);
	assert_true(n > 0);
	o = base;
	assert_int_equal(konce_ncgapp_replay_entry(&o, 8, buf, n), 1);
	assert_int_equal(o.type, KONCE_GROUP_N_DECIDED);
	assert_int_equal(o.seq, 8);
	assert_int_equal(o.nonce, 42);
	assert_memory_equal(o.origin, "origin!", KONCE_CW_ORIGIN);
	assert_int_equal(o.len, 5);
	assert_memory_equal(o.data, "hello", 5);
	assert_string_equal(o.name, "team");
	assert_int_equal(o.replayed, 1);
	/* the group's own entries are not the application's; a malformed one stops the replay */
	uint8_t hash[KONCE_CW_INVITE_LEN + 1] = {0};
	memset(hash, 'h', KONCE_CW_INVITE_LEN);
	n = entry(KONCE_CW_E_INVITE, (const char *)hash, buf, sizeof buf);
	assert_true(n > 0);
	o = base;
	assert_int_equal(konce_ncgapp_replay_entry(&o, 9, buf, n), 0);
	assert_int_equal(o.type, base.type);
	n = entry(KONCE_CW_E_APP, "hello", buf, sizeof buf);
	assert_int_equal(konce_ncgapp_replay_entry(&o, 10, buf, n - 1), -1);
}

static konce_group_notice seen[4];
static int nseen;

static void on_notice(void *ctx, const konce_group_notice *o)
{
	assert_ptr_equal(ctx, &nseen);
	assert_true(nseen < 4);
	seen[nseen++] = *o;
}

/* The store's replay callbacks: every notice to the application's callback (none without one),
 * only application entries counted as decided, a malformed entry stops the replay. */
static void test_replayer(void **state)
{
	(void)state;
	static konce_ncgapp t;
	uint8_t gid[KONCE_CW_GROUP_ID], buf[128], inv[128];
	memset(&t, 0, sizeof t);
	memset(gid, 0x33, sizeof gid);
	konce_ncgapp_name *x = konce_ncgapp_bind(&t, gid, "team");
	konce_ncgapp_replayer r = {.t = &t};
	konce_ncgapp_replay_notice(x, &r.o);
	size_t n = entry(KONCE_CW_E_APP, "hello", buf, sizeof buf);
	uint8_t hash[KONCE_CW_INVITE_LEN + 1] = {0};
	memset(hash, 'h', KONCE_CW_INVITE_LEN);
	size_t ni = entry(KONCE_CW_E_INVITE, (const char *)hash, inv, sizeof inv);

	/* no callback: nothing is handed, the entry still counts */
	assert_int_equal(konce_ncgapp_replay_entry_cb(&r, 3, buf, n), 0);
	assert_int_equal(r.decided, 1);
	assert_int_equal(nseen, 0);

	t.notify = on_notice;
	t.notify_ctx = &nseen;
	r.decided = 0;
	assert_int_equal(konce_ncgapp_replay_snap_cb(&r, 2, (const uint8_t *)"state", 5), 0);
	assert_int_equal(konce_ncgapp_replay_entry_cb(&r, 3, buf, n), 0);
	assert_int_equal(konce_ncgapp_replay_entry_cb(&r, 4, inv, ni), 0); /* the group's own: skipped */
	assert_int_equal(konce_ncgapp_replay_entry_cb(&r, 5, buf, n - 1), 1); /* malformed: stop */
	assert_int_equal(r.decided, 1);
	assert_int_equal(nseen, 2);
	assert_int_equal(seen[0].type, KONCE_GROUP_N_SNAPSHOT);
	assert_int_equal(seen[0].seq, 2);
	assert_int_equal(seen[1].type, KONCE_GROUP_N_DECIDED);
	assert_int_equal(seen[1].seq, 3);
	assert_string_equal(seen[1].name, "team");
	assert_int_equal(seen[1].replayed, 1);
	assert_int_equal(r.o.type, 0); /* each notice is built on a copy */
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restored),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_notices),
		cmocka_unit_test(test_replayer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
