/* test_trav_conf.c - the traversal configuration (node/core/trav_conf.h): rendezvous_peers,
 * lifetime and rendezvous_capacity are read or refused with a reason, before anything is opened;
 * introductions = known and the host candidates only apply to a node that registers; the host
 * candidates are the bound address, or the up, non-loopback IPv4 interfaces at the bound port. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "konce/konce.h"
#include "node/core/trav_conf.h"
#include "tests/unit/parse_addr.h"

static char k1[KONCE_KEY_TEXT_LEN + 1], k2[KONCE_KEY_TEXT_LEN + 1];
static uint8_t K1[32], K2[32];
static char err[256];
static konce_travconf c;

static int setup(void **state)
{
	(void)state;
	memset(K1, 0x11, 32);
	memset(K2, 0x22, 32);
	konce_key_to_text(k1, K1);
	konce_key_to_text(k2, K2);
	return 0;
}

static int parse_peers(const char *list)
{
	konce_traversal_config cfg = {.rendezvous_peers = list};
	err[0] = '\0';
	return konce_travconf_parse(&c, &cfg, err, sizeof(err));
}

static void test_peers(void **state)
{
	(void)state;
	char list[512];
	assert_int_equal(parse_peers(NULL), 0);
	assert_int_equal(c.nrdv, 0);
	assert_int_equal(parse_peers(""), 0);
	assert_int_equal(c.nrdv, 0);
	snprintf(list, sizeof(list), " %s@192.0.2.1:4000, ,%s@[2001:db8::1]:5000 ", k1, k2);
	assert_int_equal(parse_peers(list), 0);
	assert_int_equal(c.nrdv, 2);
	assert_memory_equal(c.rdv_pk[0], K1, 32);
	assert_memory_equal(c.rdv_pk[1], K2, 32);
	konce_addr a = addr("192.0.2.1:4000"), b = addr("[2001:db8::1]:5000");
	assert_true(konce_addr_eq(&c.rdv_addr[0], &a));
	assert_true(konce_addr_eq(&c.rdv_addr[1], &b));

	/* refused, each with the token named */
	snprintf(list, sizeof(list), "%s192.0.2.1:4000", k1); /* no @ */
	assert_int_equal(parse_peers(list), -EINVAL);
	assert_non_null(strstr(err, "is not KEY@IP:PORT"));
	assert_int_equal(parse_peers("shortkey@192.0.2.1:4000"), -EINVAL);
	assert_non_null(strstr(err, "'shortkey' is not")); /* the bad part named */
	snprintf(list, sizeof(list), "%s@rdv.example.com:4000", k1); /* numeric only */
	assert_int_equal(parse_peers(list), -EINVAL);
	assert_non_null(strstr(err, "@rdv.example.com:4000' is not"));
	snprintf(list, sizeof(list), "%s@192.0.2.1", k1); /* no port */
	assert_int_equal(parse_peers(list), -EINVAL);
	snprintf(list, sizeof(list), "%s@192.0.2.1:4000,%s@", k1, k2);
	assert_int_equal(parse_peers(list), -EINVAL);
	char longtok[300];
	memset(longtok, 'A', sizeof(longtok) - 1);
	longtok[sizeof(longtok) - 1] = '\0';
	longtok[50] = '@';
	assert_int_equal(parse_peers(longtok), -EINVAL);
	assert_true(strlen(err) < 200);
	/* at most KONCE_RDVCLIENT_MAX_RDV */
	list[0] = '\0';
	for (int i = 0; i <= KONCE_RDVCLIENT_MAX_RDV; i++) {
		size_t at = strlen(list);
		snprintf(list + at, sizeof(list) - at, "%s%s@192.0.2.%d:4000", i ? "," : "", i % 2 ? k2 : k1, i + 1);
	}
	assert_int_equal(parse_peers(list), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

static void test_lifetime_and_capacity(void **state)
{
	(void)state;
	konce_traversal_config cfg = {0};
	static const char *good[] = {NULL, "", "auto", "off", "5:30", "2:600", "5:10:30"};
	static const char *bad[] = {"1:30", "30:5", "5:5", "5:601", "x", "5:", ":5", "5", "5:10:30:40", "5:30s", "-5:30"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg.lifetime = good[i];
		assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	}
	cfg.lifetime = "off";
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_true(c.life_off);
	cfg.lifetime = "5:10:30";
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_false(c.life_off);
	assert_int_equal(c.life.min_us, 5000000);
	assert_int_equal(c.life.start_us, 10000000);
	assert_int_equal(c.life.max_us, 30000000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.lifetime = bad[i];
		err[0] = '\0';
		assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "nat_lifetime"));
	}
	cfg.lifetime = NULL;
	cfg.rendezvous = 1;
	cfg.rendezvous_capacity = KONCE_TRAVCONF_CAPACITY_MAX;
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_true(c.rendezvous);
	assert_int_equal(c.rendezvous_capacity, KONCE_TRAVCONF_CAPACITY_MAX);
	cfg.rendezvous_capacity = KONCE_TRAVCONF_CAPACITY_MAX + 1;
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rendezvous_capacity"));
}

static void test_known_only_and_trav_cfg(void **state)
{
	(void)state;
	char list[128];
	konce_traversal_config cfg = {.introductions_known = 1, .host_candidates = 1, .portmap = 1};
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_false(c.known_only); /* nothing to be introduced by */
	snprintf(list, sizeof(list), "%s@192.0.2.1:4000", k1);
	cfg.rendezvous_peers = list;
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_true(c.known_only);
	assert_true(c.portmap);
	konce_addr bound = addr("198.51.100.7:9000");
	konce_travconf_hosts(&c, &bound, NULL, 0);
	konce_trav_cfg tc = {0};
	konce_travconf_trav_cfg(&c, &tc);
	assert_int_equal(tc.nrdv, 1);
	assert_memory_equal(tc.rdv_pk[0], K1, 32);
	assert_ptr_equal(tc.rdv_addr, c.rdv_addr);
	assert_int_equal(tc.nhost, 1);
	assert_true(konce_addr_eq(&tc.host[0], &bound));
	assert_true(tc.host_candidates);
	assert_true(tc.known_only);
	assert_false(tc.rendezvous);
}

static void test_hosts(void **state)
{
	(void)state;
	char list[128];
	snprintf(list, sizeof(list), "%s@192.0.2.1:4000", k1);
	konce_traversal_config cfg = {.rendezvous_peers = list, .host_candidates = 1};
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	konce_addr any4 = addr("0.0.0.0:7000"), any6 = addr("[::]:7000"), spec = addr("10.0.0.5:7000");
	konce_travconf_iface ifs[] = {
		{addr("127.0.0.1:0"), true, true},    {addr("10.0.0.5:0"), true, false}, {addr("10.0.1.5:0"), false, false},
		{addr("[2001:db8::5]:0"), true, false}, {addr("172.16.0.1:0"), true, false}, {addr("172.16.0.2:0"), true, false},
		{addr("172.16.0.3:0"), true, false},  {addr("172.16.0.4:0"), true, false},
	};
	assert_false(konce_travconf_wants_ifaces(&c, &spec));
	konce_travconf_hosts(&c, &spec, ifs, 8);
	assert_int_equal(c.nhost, 1);
	assert_true(konce_addr_eq(&c.host[0], &spec));
	assert_true(konce_travconf_wants_ifaces(&c, &any4));
	assert_true(konce_travconf_wants_ifaces(&c, &any6));
	konce_travconf_hosts(&c, &any6, ifs, 8); /* up, not loopback, IPv4; the bound port; at most 4 */
	assert_int_equal(c.nhost, KONCE_RDVCLIENT_MAX_HOST);
	const char *want[] = {"10.0.0.5:7000", "172.16.0.1:7000", "172.16.0.2:7000", "172.16.0.3:7000"};
	for (unsigned i = 0; i < c.nhost; i++) {
		konce_addr w = addr(want[i]);
		assert_true(konce_addr_eq(&c.host[i], &w));
	}
	konce_travconf_hosts(&c, NULL, ifs, 8); /* the bound address unknown */
	assert_int_equal(c.nhost, 0);
	cfg.host_candidates = 0;
	assert_int_equal(konce_travconf_parse(&c, &cfg, err, sizeof(err)), 0);
	assert_false(konce_travconf_wants_ifaces(&c, &any4));
	konce_travconf_hosts(&c, &spec, ifs, 8);
	assert_int_equal(c.nhost, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_peers, setup),
		cmocka_unit_test_setup(test_lifetime_and_capacity, setup),
		cmocka_unit_test_setup(test_known_only_and_trav_cfg, setup),
		cmocka_unit_test_setup(test_hosts, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
