/* test_ncconf.c - the node's configuration read and checked before anything opens
 * (node/core/ncconf.h): enums out of range, a bad identity_master list and a bad group key are
 * refused with the setting named; good ones decode (the group key into locked memory, freed by
 * free_key); traversal runs for a rendezvous or a node with rendezvous peers; identity_master's
 * keys are shown the master key once applied to the core; the node keeps its
 * paths (a data directory required, peers.db in it, the listen address's default) and none of the
 * strings only konce_node_new() reads; the node core's configuration follows from the settings; the
 * rates the host measures are counted on its clock; and a failed endpoint's error names the
 * RLIMIT_MEMLOCK it ran into. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "node/core/ncconf.h"
#include "node/transport/identity.h"
#include "node/transport/keyslab.h"
#include "node/transport/load.h"
#include "node/transport/cc.h"

static char err[256];

static void test_refused(void **state)
{
	(void)state;
	konce_ncconf c;
	konce_node_config cfg = {.data_dir = "/tmp", .congestion = 99};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "congestion"));
	cfg = (konce_node_config){.data_dir = "/tmp", .identity = -1};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "identity mode"));
	cfg = (konce_node_config){.data_dir = "/tmp", .identity_master = "not-a-key"};
	assert_true(konce_ncconf_parse(&c, &cfg, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "identity_master"));
	assert_null(c.masters); /* nothing left allocated */
	cfg = (konce_node_config){.data_dir = "/tmp", .group_key = "short"};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "group_key"));
	assert_null(c.group_key);
	cfg = (konce_node_config){.data_dir = "/tmp", .group_max_batch = 17};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "group_max_batch 17"));
	cfg = (konce_node_config){.data_dir = "/tmp", .listen = "7807"};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad listen address '7807'"));
	assert_null(c.data_dir); /* nothing left allocated */
}

static void test_parsed(void **state)
{
	(void)state;
	uint8_t k1[KONCE_KEY_BYTES], k2[KONCE_KEY_BYTES], gk[KONCE_KEY_BYTES];
	char t1[KONCE_KEY_TEXT_LEN + 1], t2[KONCE_KEY_TEXT_LEN + 1], tg[KONCE_KEY_TEXT_LEN + 1], list[128];
	memset(k1, 1, sizeof k1);
	memset(k2, 2, sizeof k2);
	memset(gk, 7, sizeof gk);
	konce_key_to_text(t1, k1);
	konce_key_to_text(t2, k2);
	konce_key_to_text(tg, gk);
	snprintf(list, sizeof list, "%s,%s", t1, t2);
	konce_node_config cfg = {.data_dir = "/tmp", .identity_master = list, .group_key = tg,
				 .congestion = KONCE_CONGESTION_NEWRENO, .identity = KONCE_IDENTITY_MASTER,
				 .max_sessions = 77, .capacity = 5, .group_max_batch = 1};
	konce_ncconf c;
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_int_equal(c.nmasters, 2);
	assert_memory_equal(c.masters[0], k1, KONCE_KEY_BYTES);
	assert_memory_equal(c.masters[1], k2, KONCE_KEY_BYTES);
	assert_non_null(c.group_key);
	assert_memory_equal(c.group_key, gk, KONCE_KEY_BYTES);
	assert_false(c.traversal);
	assert_null(c.kept.identity_master); /* read here, not kept */
	assert_null(c.kept.group_key);

	konce_nodecore_config nc;
	konce_ncconf_core(&c, &cfg, NULL, true, &nc);
	assert_ptr_equal(nc.ep.cc, &konce_cc_newreno);
	assert_ptr_equal(nc.ep.group_key, c.group_key);
	assert_int_equal(nc.ep.max_sessions, 77);
	assert_int_equal(nc.ep.capacity, 5);
	assert_true(nc.ep.explicit_identity);
	assert_true(nc.notes);
	assert_false(nc.per_server); /* identity = MASTER: every dial shows the master key */
	assert_int_equal(nc.group_max_batch, 1);
	konce_ncconf_free_key(&c);
	assert_null(c.group_key);
	konce_ncconf_free(&c);
	assert_null(c.masters);

	/* defaults: the endpoint's controller, a key per server, traversal with rendezvous peers */
	cfg = (konce_node_config){.data_dir = "/tmp", .traversal = {.rendezvous_peers = t1}};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_true(c.traversal);
	konce_ncconf_core(&c, &cfg, NULL, false, &nc);
	assert_null(nc.ep.cc);
	assert_true(nc.per_server);
	assert_false(nc.notes);
	konce_ncconf_free(&c);
	cfg.congestion = KONCE_CONGESTION_CUBIC;
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	konce_ncconf_core(&c, &cfg, NULL, false, &nc);
	assert_ptr_equal(nc.ep.cc, &konce_cc_cubic);
	konce_ncconf_free(&c);
	cfg.congestion = KONCE_CONGESTION_DEFAULT;
	cfg.traversal = (konce_traversal_config){.rendezvous_peers = ""};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_false(c.traversal);
	konce_ncconf_free(&c);
	cfg.traversal.rendezvous = true;
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_true(c.traversal);
	konce_ncconf_free(&c);
}

static void test_kept(void **state)
{
	(void)state;
	konce_ncconf c;
	char dir[] = "/var/lib/konce";
	konce_node_config cfg = {.data_dir = NULL};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "data directory"));
	cfg.data_dir = "";
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);

	/* defaults: the dual-stack listen address (a fallback allowed), no control socket */
	cfg = (konce_node_config){.data_dir = dir, .max_sessions = 9,
				  .traversal = {.rendezvous = 1, .rendezvous_peers = "", .lifetime = "auto"}};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/var/lib/konce");
	assert_string_equal(c.db_path, "/var/lib/konce/peers.db");
	assert_string_equal(c.listen, KONCE_NCCONF_LISTEN);
	assert_string_equal(c.listen, "[::]:7807");
	assert_true(c.listen_default);
	char as[KONCE_ADDR_STRLEN];
	assert_string_equal(konce_addr_str(&c.listen_addr, as), "[::]:7807");
	konce_addr next;
	assert_false(konce_ncconf_listen_fallback(&c, 0, &next)); /* bound */
	assert_false(konce_ncconf_listen_fallback(&c, -EADDRINUSE, &next));
	assert_true(konce_ncconf_listen_fallback(&c, -EAFNOSUPPORT, &next)); /* no IPv6: IPv4, same port */
	assert_string_equal(konce_addr_str(&next, as), "0.0.0.0:7807");
	assert_null(c.control_path);
	/* kept: copies, not the caller's strings; what only konce_node_new() reads is gone */
	dir[1] = 'X';
	assert_ptr_equal(c.kept.data_dir, c.data_dir);
	assert_string_equal(c.kept.data_dir, "/var/lib/konce");
	assert_ptr_equal(c.kept.listen, c.listen);
	assert_null(c.kept.control_path);
	assert_null(c.kept.traversal.rendezvous_peers);
	assert_null(c.kept.traversal.lifetime);
	assert_int_equal(c.kept.traversal.rendezvous, 1);
	assert_int_equal(c.kept.max_sessions, 9);
	konce_ncconf_free(&c);
	assert_null(c.data_dir);
	assert_null(c.listen);

	/* given: kept as given, no fallback */
	cfg = (konce_node_config){.data_dir = "/d", .listen = "0.0.0.0:9", .control_path = "/run/k.sock"};
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "0.0.0.0:9");
	assert_false(c.listen_default);
	assert_false(konce_ncconf_listen_fallback(&c, -EAFNOSUPPORT, &next));
	konce_ncconf_free(&c);
	cfg.listen = "[::1]:9";
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_string_equal(konce_addr_str(&c.listen_addr, as), "[::1]:9");
	assert_false(konce_ncconf_listen_fallback(&c, -EAFNOSUPPORT, &next)); /* given: no fallback */
	konce_ncconf_free(&c);
	cfg.listen = "0.0.0.0:9";
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_string_equal(c.control_path, "/run/k.sock");
	assert_ptr_equal(c.kept.control_path, c.control_path);
	assert_ptr_not_equal(c.control_path, cfg.control_path);
	konce_ncconf_free(&c);
}

/* identity_master's keys are shown the master key, on a core whose rule is a key per server. */
static void test_apply(void **state)
{
	(void)state;
	uint8_t k1[KONCE_KEY_BYTES], k2[KONCE_KEY_BYTES], other[KONCE_KEY_BYTES];
	char t1[KONCE_KEY_TEXT_LEN + 1], t2[KONCE_KEY_TEXT_LEN + 1], list[128];
	memset(k1, 1, sizeof k1);
	memset(k2, 2, sizeof k2);
	memset(other, 3, sizeof other);
	konce_key_to_text(t1, k1);
	konce_key_to_text(t2, k2);
	snprintf(list, sizeof list, "%s,%s", t1, t2);
	konce_node_config cfg = {.data_dir = "/tmp", .identity_master = list};
	konce_ncconf c;
	konce_identity *id;
	konce_nodecore *core;
	konce_nodecore_config nc;
	assert_int_equal(konce_ncconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	konce_ncconf_core(&c, &cfg, id, false, &nc);
	assert_int_equal(konce_nodecore_new(&core, &nc, 1000000), 0);
	assert_int_equal(konce_nodecore_identity_for(core, k1, NULL), KONCE_NC_ID_PER_SERVER);
	assert_int_equal(konce_ncconf_apply(&c, core, err, sizeof(err)), 0);
	assert_int_equal(konce_nodecore_identity_for(core, k1, NULL), KONCE_NC_ID_MASTER);
	assert_int_equal(konce_nodecore_identity_for(core, k2, NULL), KONCE_NC_ID_MASTER);
	assert_int_equal(konce_nodecore_identity_for(core, other, NULL), KONCE_NC_ID_PER_SERVER);
	konce_nodecore_free(core);
	konce_identity_free(id);
	konce_ncconf_free(&c);
}

/* Handshake capacity from the X25519 rate: half a core of 3-X25519 handshakes, KONCE_COST_DH units
 * each; never 0 (the endpoint divides by it). */
static void test_capacity(void **state)
{
	(void)state;
	assert_int_equal(konce_ncconf_capacity(36000), 36000 / 3 * KONCE_COST_DH / 2);
	assert_int_equal(konce_ncconf_capacity(36000) / KONCE_COST_DH, 6000); /* handshakes a second */
	assert_int_equal(konce_ncconf_capacity(0), 1);
	assert_int_equal(konce_ncconf_capacity(2), 1);
}

/* A host's clock that moves 250 us at every read. */
static uint64_t fake_clock(void *ctx)
{
	uint64_t *t = ctx, now = *t;
	*t += 250;
	return now;
}

/* The rates are operations over the host's clock: 20 batches fill the 5 ms (16 X25519 or 64 hashes
 * each, one read per batch), so 320 X25519 and 1,280 hashes in 5,000 us.  A configured capacity
 * is kept, and its X25519 are not run. */
static void test_measure(void **state)
{
	(void)state;
	konce_nodecore_config cc = {0};
	uint64_t t = 1000;
	char line[256];
	assert_int_equal(KONCE_NCCONF_MEASURE_US, 5000);
	konce_ncconf_measure(&cc, fake_clock, &t, line, sizeof line);
	assert_int_equal(cc.ep.capacity, konce_ncconf_capacity(64000));
	assert_int_equal(cc.ep.pow_rate, 256000);
	assert_int_equal(t, 1000 + 2 * 21 * 250); /* two runs of one start read and 20 batch reads */
	assert_non_null(strstr(line, "measured 64000 X25519/s"));
	assert_non_null(strstr(line, "256000 proof-of-work"));

	cc = (konce_nodecore_config){.ep.capacity = 777};
	t = 0;
	konce_ncconf_measure(&cc, fake_clock, &t, line, sizeof line);
	assert_int_equal(cc.ep.capacity, 777);
	assert_int_equal(cc.ep.pow_rate, 256000);
	assert_int_equal(t, 21 * 250);
	assert_non_null(strstr(line, "configured: handshake capacity 777 units/s"));
}

/* A failed endpoint under a finite RLIMIT_MEMLOCK says what the keys need and how to raise it; any
 * other failure, or no limit, says only the error. */
static void test_core_err(void **state)
{
	(void)state;
	konce_nodecore_config cc = {.ep.max_sessions = 4096};
	char want[64];
	konce_ncconf_core_err(&cc, -ENOMEM, 65536, err, sizeof err);
	assert_non_null(strstr(err, "cannot create the transport endpoint: "));
	assert_non_null(strstr(err, "RLIMIT_MEMLOCK is 65536 bytes"));
	snprintf(want, sizeof want, "%zu bytes for 4096 sessions", 4096 * sizeof(konce_keyslot));
	assert_non_null(strstr(err, want));
	cc.ep.max_sessions = 0; /* the endpoint's default */
	konce_ncconf_core_err(&cc, -EPERM, 65536, err, sizeof err);
	assert_non_null(strstr(err, "for 1024 sessions"));
	konce_ncconf_core_err(&cc, -ENOMEM, UINT64_MAX, err, sizeof err);
	assert_null(strstr(err, "RLIMIT_MEMLOCK"));
	konce_ncconf_core_err(&cc, -EINVAL, 65536, err, sizeof err);
	assert_null(strstr(err, "RLIMIT_MEMLOCK"));
	assert_non_null(strstr(err, strerror(EINVAL)));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_parsed),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_measure),
		cmocka_unit_test(test_core_err),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
