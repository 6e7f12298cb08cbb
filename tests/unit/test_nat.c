/* test_nat.c - the names of the RFC 4787 behaviours (nat/nat.h): `konce netcheck`, `konce probe nat`
 * and the node's traversal status print them, and docs/CONTROL.md and docs/PROBE.md quote them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/nat.h"

static void test_mapping(void **state)
{
	(void)state;
	assert_string_equal(konce_nat_mapping_name(KONCE_NAT_MAP_EIM), "endpoint-independent");
	assert_string_equal(konce_nat_mapping_name(KONCE_NAT_MAP_ADM), "address-dependent");
	assert_string_equal(konce_nat_mapping_name(KONCE_NAT_MAP_APDM), "address-and-port-dependent");
	assert_string_equal(konce_nat_mapping_abbrev(KONCE_NAT_MAP_EIM), "EIM");
	assert_string_equal(konce_nat_mapping_abbrev(KONCE_NAT_MAP_APDM), "APDM");
	assert_string_equal(konce_nat_mapping_abbrev(KONCE_NAT_MAP_NONE), "none");
	assert_string_equal(konce_nat_mapping_abbrev(KONCE_NAT_MAP_PORT_INDEPENDENT), "EIM|ADM");
	assert_string_equal(konce_nat_mapping_name(KONCE_NAT_MAP_UNKNOWN), "unknown");
	assert_string_equal(konce_nat_mapping_name((enum konce_nat_mapping)99), "unknown");
	assert_string_equal(konce_nat_mapping_abbrev((enum konce_nat_mapping)-1), "unknown");
}

static void test_filtering(void **state)
{
	(void)state;
	assert_string_equal(konce_nat_filtering_name(KONCE_NAT_FILT_EIF), "endpoint-independent");
	assert_string_equal(konce_nat_filtering_name(KONCE_NAT_FILT_ADF), "address-dependent");
	assert_string_equal(konce_nat_filtering_name(KONCE_NAT_FILT_APDF), "address-and-port-dependent");
	/* the wording docs/CONTROL.md gives for the traversal status */
	assert_string_equal(konce_nat_filtering_name(KONCE_NAT_FILT_PORT_INDEPENDENT),
			    "address-dependent or endpoint-independent");
	assert_string_equal(konce_nat_filtering_abbrev(KONCE_NAT_FILT_APDF), "APDF");
	assert_string_equal(konce_nat_filtering_abbrev(KONCE_NAT_FILT_PORT_INDEPENDENT), "EIF|ADF");
	assert_string_equal(konce_nat_filtering_name((enum konce_nat_filtering)42), "unknown");
	assert_string_equal(konce_nat_filtering_abbrev(KONCE_NAT_FILT_UNKNOWN), "unknown");
}

static void test_ports_and_tri(void **state)
{
	(void)state;
	assert_string_equal(konce_nat_ports_name(KONCE_NAT_PORTS_PRESERVING), "preserving");
	assert_string_equal(konce_nat_ports_name(KONCE_NAT_PORTS_SEQUENTIAL), "sequential");
	assert_string_equal(konce_nat_ports_name(KONCE_NAT_PORTS_RANDOM), "random");
	assert_string_equal(konce_nat_ports_name((enum konce_nat_ports)7), "unknown");
	assert_string_equal(konce_nat_tri_name(KONCE_NAT_YES), "yes");
	assert_string_equal(konce_nat_tri_name(KONCE_NAT_NO), "no");
	assert_string_equal(konce_nat_tri_name(KONCE_NAT_UNKNOWN), "unknown");
}

/* The wire summary's values are the protocol's (docs/PROTOCOL.md): they must not move. */
static void test_natmap_wire_values(void **state)
{
	(void)state;
	assert_int_equal(KONCE_NATMAP_UNKNOWN, 0);
	assert_int_equal(KONCE_NATMAP_EIM, 1);
	assert_int_equal(KONCE_NATMAP_EDM_SEQ, 2);
	assert_int_equal(KONCE_NATMAP_EDM_RANDOM, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_filtering),
		cmocka_unit_test(test_ports_and_tri),
		cmocka_unit_test(test_natmap_wire_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
