/* test_paths.c - XDG locations of konce's files, and mkdir -p.
 *
 * tools/ is not part of libkonce, so this test compiles tools/paths.c in directly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fake_getenv.h"
#include "tools/paths.c"

static void expect(int (*fn)(char *, size_t, konce_getenv_fn), const char *const *vars, int want_r,
		   const char *want)
{
	char out[256];
	fake_vars = vars;
	assert_int_equal(fn(out, sizeof(out), fake_getenv), want_r);
	if (!want_r)
		assert_string_equal(out, want);
	else
		assert_string_equal(out, "");
}

static void test_defaults_from_home(void **state)
{
	(void)state;
	static const char *const home[] = {"HOME", "/home/ann", NULL};
	expect(konce_paths_data_dir, home, 0, "/home/ann/.local/share/konce");
	expect(konce_paths_identity_file, home, 0, "/home/ann/.local/share/konce/identity.key");
	expect(konce_paths_config_file, home, 0, "/home/ann/.config/konce/konce.conf");
	expect(konce_paths_runtime_dir, home, 0, "/home/ann/.local/share/konce/run");
}

static void test_xdg_variables(void **state)
{
	(void)state;
	static const char *const xdg[] = {"HOME", "/home/ann", "XDG_DATA_HOME", "/d", "XDG_CONFIG_HOME", "/c",
					  "XDG_RUNTIME_DIR", "/run/user/1000", NULL};
	expect(konce_paths_data_dir, xdg, 0, "/d/konce");
	expect(konce_paths_identity_file, xdg, 0, "/d/konce/identity.key");
	expect(konce_paths_config_file, xdg, 0, "/c/konce/konce.conf");
	expect(konce_paths_runtime_dir, xdg, 0, "/run/user/1000/konce");
	/* XDG variables work without HOME */
	static const char *const nohome[] = {"XDG_DATA_HOME", "/d", NULL};
	expect(konce_paths_identity_file, nohome, 0, "/d/konce/identity.key");
	expect(konce_paths_runtime_dir, nohome, 0, "/d/konce/run");
}

static void test_ignored_values(void **state)
{
	(void)state;
	/* empty and relative values are ignored, as the XDG specification says */
	static const char *const rel[] = {"HOME", "/h", "XDG_DATA_HOME", "rel/dir", "XDG_CONFIG_HOME", "",
					  "XDG_RUNTIME_DIR", "run", NULL};
	expect(konce_paths_data_dir, rel, 0, "/h/.local/share/konce");
	expect(konce_paths_config_file, rel, 0, "/h/.config/konce/konce.conf");
	expect(konce_paths_runtime_dir, rel, 0, "/h/.local/share/konce/run");
	/* no usable HOME either */
	static const char *const none[] = {NULL};
	static const char *const relhome[] = {"HOME", "home", NULL};
	expect(konce_paths_data_dir, none, -ENOENT, NULL);
	expect(konce_paths_config_file, relhome, -ENOENT, NULL);
	expect(konce_paths_runtime_dir, none, -ENOENT, NULL);
}

static void test_too_long(void **state)
{
	(void)state;
	static char longdir[300];
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[0] = '/';
	static const char *const vars[] = {"XDG_DATA_HOME", longdir, NULL};
	expect(konce_paths_data_dir, vars, -ENAMETOOLONG, NULL);
	char out[64];
	static const char *const h[] = {"HOME", "/h", NULL};
	fake_vars = h;
	assert_int_equal(konce_paths_data_dir(out, 16, fake_getenv), -ENAMETOOLONG);
	assert_int_equal(konce_paths_data_dir(out, 21, fake_getenv), -ENAMETOOLONG); /* no room for NUL */
	assert_int_equal(konce_paths_data_dir(out, 0, fake_getenv), -ENAMETOOLONG);
	assert_int_equal(konce_paths_data_dir(out, 22, fake_getenv), 0); /* exactly enough */
	assert_string_equal(out, "/h/.local/share/konce");
}

static void test_mkdirs(void **state)
{
	(void)state;
	char base[] = "/tmp/konce-test-paths-XXXXXX", p[256], f[256];
	struct stat st;
	assert_non_null(mkdtemp(base));
	mode_t old = umask(0);
	snprintf(p, sizeof(p), "%s/a/b//c/", base);
	assert_int_equal(konce_paths_mkdirs(p, 0700), 0);
	assert_int_equal(konce_paths_mkdirs(p, 0700), 0); /* existing: fine */
	snprintf(p, sizeof(p), "%s/a/b/c", base);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(p, sizeof(p), "%s/a", base);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* the directory of a file */
	snprintf(f, sizeof(f), "%s/d/e/identity.key", base);
	assert_int_equal(konce_paths_mkdirs_for(f, 0700), 0);
	snprintf(p, sizeof(p), "%s/d/e", base);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(access(f, F_OK), -1); /* the file itself is not created */
	assert_int_equal(konce_paths_mkdirs_for("identity.key", 0700), 0);
	assert_int_equal(konce_paths_mkdirs_for("/identity.key", 0700), 0);

	/* a file in the way */
	snprintf(f, sizeof(f), "%s/file", base);
	FILE *fp = fopen(f, "w");
	fclose(fp);
	assert_int_equal(konce_paths_mkdirs(f, 0700), -ENOTDIR);
	snprintf(p, sizeof(p), "%s/file/sub", base);
	assert_int_equal(konce_paths_mkdirs(p, 0700), -ENOTDIR);
	assert_int_equal(konce_paths_mkdirs("", 0700), -ENOENT);
	umask(old);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_from_home),
		cmocka_unit_test(test_xdg_variables),
		cmocka_unit_test(test_ignored_values),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_mkdirs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
