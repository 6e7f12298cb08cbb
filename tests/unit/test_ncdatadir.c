/* test_ncdatadir.c - the data directory's mode check (node/core/ncdatadir.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "node/core/ncdatadir.h"

static void owner_only(void **state)
{
	(void)state;
	char err[256] = "";
	assert_int_equal(konce_ncdatadir_check("/d", S_IFDIR | 0700, err, sizeof err), 0);
	assert_int_equal(konce_ncdatadir_check("/d", S_IFDIR | 0755, err, sizeof err), 0); /* readable is fine */
	assert_int_equal(konce_ncdatadir_check("/d", S_IFDIR | 01700, err, sizeof err), 0);
	assert_string_equal(err, "");
}

static void writable_by_others(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(konce_ncdatadir_check("/d", S_IFDIR | 0770, err, sizeof err), -EPERM);
	assert_string_equal(err, "data directory /d is writable by its group (mode 0770): run chmod go-w /d");
	assert_int_equal(konce_ncdatadir_check("/d", S_IFDIR | 0702, err, sizeof err), -EPERM);
	assert_string_equal(err, "data directory /d is writable by everyone (mode 0702): run chmod go-w /d");
	assert_int_equal(konce_ncdatadir_check("/tmp", S_IFDIR | 01777, err, sizeof err), -EPERM);
	assert_string_equal(err, "data directory /tmp is writable by everyone (mode 1777): run chmod go-w /tmp");
}

static void not_a_directory(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(konce_ncdatadir_check("/f", S_IFREG | 0600, err, sizeof err), -ENOTDIR);
	assert_string_equal(err, "data directory /f is not a directory");
	assert_int_equal(konce_ncdatadir_check("/f", S_IFREG | 0666, err, sizeof err), -ENOTDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(owner_only), cmocka_unit_test(writable_by_others), cmocka_unit_test(not_a_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
