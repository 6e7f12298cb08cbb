/* test_pmresult.c - the port-mapping protocols' answers as the policy's outcomes (nat/pmresult.h),
 * against the libraries' own codes: the headers nat/ may not include are included here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <natpmp.h>

#include "nat/pmresult.h"

static void natpmp_codes(void **state)
{
	(void)state;
	assert_int_equal(KONCE_PMRES_NATPMP_TRYAGAIN, NATPMP_TRYAGAIN);
	/* nothing there to answer: try UPnP */
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_CANNOTGETGATEWAY), KONCE_PM_ERR_NO_GATEWAY);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_NOGATEWAYSUPPORT), KONCE_PM_ERR_NO_GATEWAY);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_TRYAGAIN), KONCE_PM_ERR_NO_GATEWAY);
	/* the gateway answered no */
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_NOTAUTHORIZED), KONCE_PM_ERR_REFUSED);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_NETWORKFAILURE), KONCE_PM_ERR_REFUSED);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_OUTOFRESOURCES), KONCE_PM_ERR_REFUSED);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_UNSUPPORTEDVERSION), KONCE_PM_ERR_REFUSED);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_UNSUPPORTEDOPCODE), KONCE_PM_ERR_REFUSED);
	/* local failures */
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_SOCKETERROR), KONCE_PM_ERR_IO);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_RECVFROM), KONCE_PM_ERR_IO);
	assert_int_equal(konce_pmres_natpmp_err(NATPMP_ERR_UNDEFINEDERROR), KONCE_PM_ERR_IO);
	assert_string_equal(konce_pmres_natpmp_why(NATPMP_TRYAGAIN), "no answer");
	assert_string_equal(konce_pmres_natpmp_why(NATPMP_ERR_SENDERR), "public address request failed");
}

static void natpmp_lease(void **state)
{
	(void)state;
	uint16_t pub;
	uint32_t life;
	konce_portmap_policy_req r = {.op = KONCE_PM_OP_ADD, .internal_port = 7807, .external_port = 7807,
				      .lifetime_s = 3600};
	konce_pmres_natpmp_lease(&r, &pub, &life);
	assert_int_equal(pub, 7807);
	assert_int_equal(life, 3600);
	r.lifetime_s = 0; /* permanent: NAT-PMP has none, and lifetime 0 would delete */
	konce_pmres_natpmp_lease(&r, &pub, &life);
	assert_int_equal(life, KONCE_PMRES_NATPMP_LIFETIME);
	r.op = KONCE_PM_OP_RENEW;
	r.lifetime_s = 600;
	konce_pmres_natpmp_lease(&r, &pub, &life);
	assert_int_equal(pub, 7807);
	assert_int_equal(life, 600);
	r.op = KONCE_PM_OP_DELETE; /* RFC 6886 3.4: port 0, lifetime 0 */
	konce_pmres_natpmp_lease(&r, &pub, &life);
	assert_int_equal(pub, 0);
	assert_int_equal(life, 0);

	assert_true(konce_pmres_natpmp_answers(&r, NATPMP_RESPTYPE_UDPPORTMAPPING, 7807));
	assert_false(konce_pmres_natpmp_answers(&r, NATPMP_RESPTYPE_TCPPORTMAPPING, 7807));
	assert_false(konce_pmres_natpmp_answers(&r, NATPMP_RESPTYPE_PUBLICADDRESS, 7807));
	assert_false(konce_pmres_natpmp_answers(&r, NATPMP_RESPTYPE_UDPPORTMAPPING, 7808));
}

static void natpmp_wait(void **state)
{
	(void)state;
	assert_int_equal(konce_pmres_natpmp_wait_ms(250, 1000, 3000), 250);   /* the next retransmission */
	assert_int_equal(konce_pmres_natpmp_wait_ms(4000, 1000, 3000), 2000); /* not past the deadline */
	assert_int_equal(konce_pmres_natpmp_wait_ms(-5, 1000, 3000), 0);      /* overdue: retransmit now */
	assert_int_equal(konce_pmres_natpmp_wait_ms(0, 1000, 3000), 0);
	assert_int_equal(konce_pmres_natpmp_wait_ms(250, 3000, 3000), 0);    /* no time left */
}

static void upnp_codes(void **state)
{
	(void)state;
	assert_int_equal(konce_pmres_upnp_err(UPNPCOMMAND_SUCCESS), KONCE_PM_OK);
	assert_int_equal(konce_pmres_upnp_err(718), KONCE_PM_ERR_CONFLICT);
	assert_int_equal(konce_pmres_upnp_err(725), KONCE_PM_ERR_PERMANENT_ONLY);
	assert_int_equal(konce_pmres_upnp_err(606), KONCE_PM_ERR_REFUSED); /* action not authorized */
	assert_int_equal(konce_pmres_upnp_err(402), KONCE_PM_ERR_REFUSED); /* invalid args */
	assert_int_equal(konce_pmres_upnp_err(UPNPCOMMAND_HTTP_ERROR), KONCE_PM_ERR_IO);
	assert_int_equal(konce_pmres_upnp_err(UPNPCOMMAND_INVALID_RESPONSE), KONCE_PM_ERR_IO);
	assert_int_equal(konce_pmres_upnp_err(UPNPCOMMAND_UNKNOWN_ERROR), KONCE_PM_ERR_IO);
	/* deleting: already gone is what was wanted */
	assert_int_equal(konce_pmres_upnp_delete(0), KONCE_PM_OK);
	assert_int_equal(konce_pmres_upnp_delete(714), KONCE_PM_OK);
	assert_int_equal(konce_pmres_upnp_delete(606), KONCE_PM_ERR_REFUSED);
	assert_int_equal(konce_pmres_upnp_delete(UPNPCOMMAND_HTTP_ERROR), KONCE_PM_ERR_IO);
}

static void upnp_igd(void **state)
{
	(void)state;
	enum konce_portmap_policy_err e = KONCE_PM_OK;
	const char *why = NULL;
	assert_true(konce_pmres_upnp_igd(1, &e, &why));
	assert_null(why);
	assert_false(konce_pmres_upnp_igd(0, &e, &why));
	assert_int_equal(e, KONCE_PM_ERR_NO_GATEWAY);
	assert_string_equal(why, "no IGD found");
	assert_false(konce_pmres_upnp_igd(2, &e, &why));
	assert_int_equal(e, KONCE_PM_ERR_REFUSED);
	assert_string_equal(why, "the IGD reports it is not connected");
	assert_false(konce_pmres_upnp_igd(3, &e, &why));
	assert_int_equal(e, KONCE_PM_ERR_REFUSED);
	assert_string_equal(why, "a UPnP device answered, but it is not an IGD");
}

static void upnp_lease(void **state)
{
	(void)state;
	assert_int_equal(konce_pmres_upnp_lease(3600, "1800"), 1800); /* shortened: believed */
	assert_int_equal(konce_pmres_upnp_lease(3600, "7200"), 3600); /* longer: not believed */
	assert_int_equal(konce_pmres_upnp_lease(3600, "0"), 3600);    /* "permanent" for a timed ask */
	assert_int_equal(konce_pmres_upnp_lease(3600, ""), 3600);
	assert_int_equal(konce_pmres_upnp_lease(3600, "soon"), 3600);
	assert_int_equal(konce_pmres_upnp_lease(3600, NULL), 3600);   /* the query failed */
	assert_int_equal(konce_pmres_upnp_lease(0, "86400"), 86400);  /* a permanent ask got a lease */
	assert_int_equal(konce_pmres_upnp_lease(0, "0"), 0);
	assert_int_equal(konce_pmres_upnp_lease(0, "99999999999"), 0); /* beyond 32 bits: unreadable */
}

static void upnp_extip(void **state)
{
	(void)state;
	konce_addr a, want;
	assert_int_equal(KONCE_PMRES_UPNP_INVALID_RESPONSE, UPNPCOMMAND_INVALID_RESPONSE);
	assert_int_equal(konce_pmres_upnp_extip("203.0.113.7", &a), 0);
	assert_int_equal(konce_addr_parse(&want, "203.0.113.7:0"), 0);
	assert_true(konce_addr_eq(&a, &want));
	assert_int_equal(konce_pmres_upnp_extip("", &a), UPNPCOMMAND_INVALID_RESPONSE);
	assert_int_equal(konce_pmres_upnp_extip("2001:db8::1", &a), UPNPCOMMAND_INVALID_RESPONSE);
	assert_int_equal(konce_pmres_upnp_extip("203.0.113.7:80", &a), UPNPCOMMAND_INVALID_RESPONSE);
	assert_int_equal(konce_pmres_upnp_extip("300.1.1.1", &a), UPNPCOMMAND_INVALID_RESPONSE);
	assert_int_equal(konce_pmres_upnp_extip(NULL, &a), UPNPCOMMAND_INVALID_RESPONSE);
}

static void upnp_mapped(void **state)
{
	(void)state;
	konce_addr now_ext, disc, want;
	konce_portmap_policy_req r = {.id = 5, .op = KONCE_PM_OP_ADD, .proto = KONCE_PM_PROTO_UPNP,
				      .internal_port = 7807, .external_port = 40001, .lifetime_s = 3600};
	konce_portmap_policy_result res = {.id = 5, .err = KONCE_PM_ERR_IO};
	assert_int_equal(konce_addr_parse(&now_ext, "203.0.113.9:0"), 0);
	assert_int_equal(konce_addr_parse(&disc, "203.0.113.7:0"), 0);
	/* the address the IGD reports now, the port asked for, a shortened lease believed */
	konce_pmres_upnp_mapped(&r, &now_ext, &disc, "1800", &res);
	assert_int_equal(res.err, KONCE_PM_OK);
	assert_int_equal(konce_addr_parse(&want, "203.0.113.9:40001"), 0);
	assert_true(konce_addr_eq(&res.external, &want));
	assert_int_equal(res.lifetime_s, 1800);
	assert_int_equal(res.id, 5);
	/* both queries failed: the mapping exists, so it still succeeds, at the discovered address
	 * with the lease asked for */
	konce_pmres_upnp_mapped(&r, NULL, &disc, NULL, &res);
	assert_int_equal(res.err, KONCE_PM_OK);
	assert_int_equal(konce_addr_parse(&want, "203.0.113.7:40001"), 0);
	assert_true(konce_addr_eq(&res.external, &want));
	assert_int_equal(res.lifetime_s, 3600);
}

static void trace_lines(void **state)
{
	(void)state;
	char line[256];
	konce_portmap_policy_req r = {.id = 3, .op = KONCE_PM_OP_RENEW, .proto = KONCE_PM_PROTO_NATPMP,
				      .internal_port = 45123, .external_port = 45123, .lifetime_s = 4};
	konce_pmres_req_line(&r, line, sizeof line);
	assert_string_equal(line, "request 3: renew natpmp internal 45123 external 45123 lifetime 4 s");
	konce_portmap_policy_result res = {.id = 3, .err = KONCE_PM_ERR_CONFLICT, .lifetime_s = 0};
	assert_int_equal(konce_addr_parse(&res.external, "11.0.0.10:45123"), 0);
	konce_pmres_result_line(&res, "AddPortMapping: 718", line, sizeof line);
	char want[256];
	snprintf(want, sizeof want, "result 3: %s, external 11.0.0.10:45123 lifetime 0 s (AddPortMapping: 718)",
		 konce_portmap_policy_err_name(KONCE_PM_ERR_CONFLICT));
	assert_string_equal(line, want);
	char small[16];
	konce_pmres_req_line(&r, small, sizeof small); /* cut, terminated */
	assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(natpmp_codes), cmocka_unit_test(natpmp_lease), cmocka_unit_test(natpmp_wait),
		cmocka_unit_test(upnp_codes),
		cmocka_unit_test(upnp_igd), cmocka_unit_test(upnp_lease), cmocka_unit_test(upnp_extip),
		cmocka_unit_test(upnp_mapped), cmocka_unit_test(trace_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
