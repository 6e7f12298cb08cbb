/* parse_addr.h - an address from its text, for the tests that write addresses as strings
 * (header only; include it after <cmocka.h>: an address that does not parse fails the test). */
#ifndef KONCE_TEST_PARSE_ADDR_H
#define KONCE_TEST_PARSE_ADDR_H

#include "node/base/addr.h"

static inline konce_addr addr(const char *s)
{
	konce_addr a;
	assert_int_equal(konce_addr_parse(&a, s), 0);
	return a;
}

#endif
