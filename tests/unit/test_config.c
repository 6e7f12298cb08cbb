/* test_config.c - konce.conf: parsing with libinih, value checks, errors naming FILE:LINE, flags
 * winning over the file, and the defaults.
 *
 * tools/ is not part of libkonce, so this test compiles tools/config.c and tools/paths.c in directly
 * (as test_paths.c does). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fake_getenv.h"
#include "tools/paths.c"
#include "tools/config.c"

static char dir[] = "/tmp/konce-test-config-XXXXXX";
static char file[256];
static char err[1024];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof(file), "%s/konce.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads text into a fresh config; returns the result, leaves the message in err. */
static int load(struct konce_conf *c, const char *text)
{
	write_file(text);
	konce_conf_init(c);
	err[0] = '\0';
	return konce_conf_load(c, file, true, err, sizeof(err));
}

/* Expects the load to fail with r, and err to begin with FILE:LINE and contain want. */
static void expect_error(const char *text, int r, int line, const char *want)
{
	struct konce_conf c;
	char prefix[300];
	assert_int_equal(load(&c, text), r);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, want))
		fail_msg("for %s: got '%s', want '%s' ... '%s'", text, err, prefix, want);
	konce_conf_free(&c);
}

static void test_every_key(void **state)
{
	(void)state;
	struct konce_conf c;
	assert_int_equal(load(&c, "# konce.conf\n"
				  "; another comment\n"
				  "\n"
				  "listen = 127.0.0.1:9000\n"
				  "  data=/var/lib/konce  \n"
				  "control = /run/konce/control.sock ; inline comment\n"
				  "log = debug\r\n"
				  "max_sessions = 5000\n"
				  "max_per_source = 300\n"
				  "capacity = 200\n"
				  "rendezvous = no\n"),
			 0);
	assert_string_equal(err, "");
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_string_equal(c.data, "/var/lib/konce");
	assert_string_equal(c.control, "/run/konce/control.sock");
	assert_int_equal(c.log_level, KONCE_LOG_DEBUG);
	assert_int_equal(c.max_sessions, 5000);
	assert_int_equal(c.max_per_source, 300);
	assert_int_equal(c.capacity, 200);
	assert_false(c.rendezvous);
	konce_conf_free(&c);

	/* IPv6 and port 0; an empty file changes nothing */
	assert_int_equal(load(&c, "listen = [::1]:0\n"), 0);
	assert_string_equal(c.listen, "[::1]:0");
	konce_conf_free(&c);
	assert_int_equal(load(&c, ""), 0);
	assert_null(c.listen);
	assert_null(c.data);
	assert_int_equal(c.log_level, -1);
	assert_int_equal(c.max_sessions, 0);
	konce_conf_free(&c);
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("listen = 1.2.3.4\n", -EINVAL, 1, "listen: '1.2.3.4' is not a numeric ADDR:PORT");
	expect_error("\n\nlisten = example.com:7807\n", -EINVAL, 3, "listen:");
	expect_error("listen = 1.2.3.4:65536\n", -EINVAL, 1, "listen:");
	expect_error("listen = ::1:7807\n", -EINVAL, 1, "listen:");
	expect_error("log = loud\n", -EINVAL, 1, "log: 'loud' is not one of error, warn, info, debug");
	expect_error("max_sessions = 0\n", -EINVAL, 1, "max_sessions: '0' is not a whole number");
	expect_error("max_sessions = 1000001\n", -EINVAL, 1, "max_sessions:");
	expect_error("max_sessions = -5\n", -EINVAL, 1, "max_sessions:");
	expect_error("max_sessions = 12abc\n", -EINVAL, 1, "max_sessions:");
	expect_error("max_per_source = 0\n", -EINVAL, 1, "max_per_source: '0' is not a whole number");
	expect_error("max_per_source = 1000001\n", -EINVAL, 1, "max_per_source:");
	expect_error("max_sessions = 99999999999999999999999\n", -EINVAL, 1, "max_sessions:");
	expect_error("capacity = 0x10\n", -EINVAL, 1, "capacity:");
	expect_error("capacity = 4294967296\n", -EINVAL, 1, "capacity:");
	expect_error("rendezvous = maybe\n", -EINVAL, 1, "rendezvous: 'maybe' is not yes or no");
	expect_error("data =\n", -EINVAL, 1, "data needs a value");
	char longctl[200];
	snprintf(longctl, sizeof(longctl), "control = /%0120d\n", 0);
	expect_error(longctl, -EINVAL, 1, "control: '/000");
}

static void test_identity_and_group(void **state)
{
	(void)state;
	struct konce_conf c;
	const char *k1 = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo", *k2 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
	char text[400];
	snprintf(text, sizeof text, "identity = master\nidentity_master = %s,%s\ngroup_key = %s\n", k1, k2, k2);
	assert_int_equal(load(&c, text), 0);
	assert_int_equal(c.identity, KONCE_IDENTITY_MASTER);
	snprintf(text, sizeof text, "%s,%s", k1, k2);
	assert_string_equal(c.identity_master, text);
	assert_string_equal(c.group_key, k2);
	konce_conf_free(&c);
	assert_int_equal(load(&c, "identity = per-server\n"), 0);
	assert_int_equal(c.identity, KONCE_IDENTITY_PER_SERVER);
	assert_null(c.group_key);
	konce_conf_free(&c);

	expect_error("identity = anonymous\n", -EINVAL, 1, "identity: 'anonymous' is not per-server or master");
	snprintf(text, sizeof text, "identity_master = %s, %s\n", k1, k2);
	expect_error(text, -EINVAL, 1, "identity_master: not a list of public keys");
	snprintf(text, sizeof text, "identity_master = %s,\n", k1);
	expect_error(text, -EINVAL, 1, "identity_master: not a list");
	expect_error("identity_master = bob\n", -EINVAL, 1, "identity_master: not a list");
	snprintf(text, sizeof text, "group_key = %.42s\n", k1);
	expect_error(text, -EINVAL, 1, "group_key: not a key's text");
	snprintf(text, sizeof text, "group_key = %sA\n", k1);
	expect_error(text, -EINVAL, 1, "group_key: not a key's text");
}

static void test_rendezvous_refused(void **state)
{
	(void)state;
	struct konce_conf c;
	konce_conf_init(&c);
	assert_int_equal(konce_conf_set(&c, "rendezvous", "yes", "--rendezvous", err, sizeof(err)), 0);
	assert_true(c.rendezvous);
	assert_int_equal(konce_conf_set(&c, "rendezvous", "NO", "--rendezvous", err, sizeof(err)), 0);
	assert_false(c.rendezvous);
	/* the list replaces, the repeatable flag appends */
	assert_int_equal(konce_conf_set(&c, "rendezvous_peers", "A@1.2.3.4:5", "f:1", err, sizeof(err)), 0);
	assert_int_equal(konce_conf_set(&c, "rendezvous_peer", "B@1.2.3.4:6", "--rendezvous-peer", err, sizeof(err)), 0);
	assert_string_equal(c.rendezvous_peers, "A@1.2.3.4:5,B@1.2.3.4:6");
	assert_int_equal(konce_conf_set(&c, "rendezvous_peers", "C@1.2.3.4:7", "f:2", err, sizeof(err)), 0);
	assert_string_equal(c.rendezvous_peers, "C@1.2.3.4:7");
	/* host_candidates: no by default (the LAN addresses stay private), yes|no */
	assert_false(c.host_candidates);
	assert_int_equal(konce_conf_set(&c, "host_candidates", "yes", "--host-candidates", err, sizeof(err)), 0);
	assert_true(c.host_candidates);
	assert_int_equal(konce_conf_set(&c, "host_candidates", "no", "f:2", err, sizeof(err)), 0);
	assert_false(c.host_candidates);
	assert_int_equal(konce_conf_set(&c, "host_candidates", "lan", "f:3", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:3: host_candidates: 'lan' is not yes or no");
	/* introductions: any (the default) or known, nothing else */
	assert_false(c.introductions_known);
	assert_int_equal(konce_conf_set(&c, "introductions", "known", "--introductions", err, sizeof(err)), 0);
	assert_true(c.introductions_known);
	assert_int_equal(konce_conf_set(&c, "introductions", "any", "f:3", err, sizeof(err)), 0);
	assert_false(c.introductions_known);
	assert_int_equal(konce_conf_set(&c, "introductions", "friends", "f:4", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:4: introductions: 'friends' is not any or known");
	assert_int_equal(konce_conf_set(&c, "rendezvous_capacity", "512", "f:5", err, sizeof(err)), 0);
	assert_int_equal(c.rendezvous_capacity, 512);
	assert_int_equal(konce_conf_set(&c, "rendezvous_capacity", "0", "f:6", err, sizeof(err)), -EINVAL);
	assert_int_equal(konce_conf_set(&c, "rendezvous_capacity", "2097152", "f:7", err, sizeof(err)), -EINVAL);
	/* congestion: bbr, newreno or cubic (unset = the node's default, bbr) */
	assert_int_equal(c.congestion, KONCE_CONGESTION_DEFAULT);
	assert_int_equal(konce_conf_set(&c, "congestion", "newreno", "--congestion", err, sizeof(err)), 0);
	assert_int_equal(c.congestion, KONCE_CONGESTION_NEWRENO);
	assert_int_equal(konce_conf_set(&c, "congestion", "bbr", "f:8", err, sizeof(err)), 0);
	assert_int_equal(c.congestion, KONCE_CONGESTION_BBR);
	assert_int_equal(konce_conf_set(&c, "congestion", "cubic", "f:9", err, sizeof(err)), 0);
	assert_int_equal(c.congestion, KONCE_CONGESTION_CUBIC);
	assert_int_equal(konce_conf_set(&c, "congestion", "vegas", "f:10", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:10: congestion: 'vegas' is not bbr, newreno or cubic");
	assert_int_equal(c.congestion, KONCE_CONGESTION_CUBIC);
	konce_conf_free(&c);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("log = info\nlisten 1.2.3.4:5\n", -EINVAL, 2, "expected `key = value`");
	expect_error("# ok\nfoo = bar\n", -EINVAL, 2, "unknown key 'foo'");
	expect_error("[node]\nlog = info\n", -EINVAL, 1, "no sections");
	expect_error("log = info\n\nlog = debug\n", -EINVAL, 3, "log: given twice (first on line 1)");
	/* an indented line does not continue the previous value (inih's multi-line mode is off) */
	expect_error("data = /a\n  /b\n", -EINVAL, 2, "expected `key = value`");
	expect_error("log: info\n", -EINVAL, 1, "expected `key = value`");

	/* libinih's line buffer is fixed: a longer line is refused, not split into two lines */
	char text[512];
	int n = snprintf(text, sizeof(text), "log = info\ndata = /");
	memset(text + n, 'x', 200);
	strcpy(text + n + 200, "\n");
	expect_error(text, -EINVAL, 2, "line is longer than 197 characters");
	/* exactly the limit is fine, with or without a final newline, with CRLF */
	n = snprintf(text, sizeof(text), "data = /");
	memset(text + n, 'y', (size_t)(KONCE_CONF_LINE_MAX - n));
	strcpy(text + KONCE_CONF_LINE_MAX, "\r\n");
	struct konce_conf c;
	assert_int_equal(load(&c, text), 0);
	assert_int_equal(strlen(c.data), KONCE_CONF_LINE_MAX - 7);
	konce_conf_free(&c);
	text[KONCE_CONF_LINE_MAX] = '\0';
	assert_int_equal(load(&c, text), 0);
	konce_conf_free(&c);
}

static void test_missing_files(void **state)
{
	(void)state;
	struct konce_conf c;
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/nope.conf", dir);
	konce_conf_init(&c);
	/* a missing default file is fine and changes nothing ... */
	assert_int_equal(konce_conf_load(&c, missing, false, err, sizeof(err)), 0);
	assert_null(c.listen);
	/* ... a missing file named by --config is an error naming it */
	assert_int_equal(konce_conf_load(&c, missing, true, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file"));
	/* a directory is not a configuration file */
	assert_int_equal(konce_conf_load(&c, dir, false, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	konce_conf_free(&c);
}

static void test_flags_win(void **state)
{
	(void)state;
	struct konce_conf c;
	assert_int_equal(load(&c, "listen = 0.0.0.0:1\nlog = warn\ndata = /from/file\n"), 0);
	assert_int_equal(konce_conf_set(&c, "listen", "[::]:2", "--listen", err, sizeof(err)), 0);
	assert_int_equal(konce_conf_set(&c, "log", "debug", "-v", err, sizeof(err)), 0);
	assert_string_equal(c.listen, "[::]:2");
	assert_int_equal(c.log_level, KONCE_LOG_DEBUG);
	assert_string_equal(c.data, "/from/file");
	/* a bad flag names the flag */
	assert_int_equal(konce_conf_set(&c, "listen", "nowhere", "--listen", err, sizeof(err)), -EINVAL);
	assert_true(!strncmp(err, "--listen: listen: 'nowhere'", 27));
	assert_string_equal(c.listen, "[::]:2"); /* unchanged */
	konce_conf_free(&c);
}

static void test_resolve_defaults(void **state)
{
	(void)state;
	struct konce_conf c;
	static const char *const home[] = {"HOME", "/home/ann", NULL};
	static const char *const xdg[] = {"HOME", "/home/ann", "XDG_DATA_HOME", "/d", "XDG_RUNTIME_DIR",
					  "/run/user/1000", NULL};
	static const char *const none[] = {NULL};

	fake_vars = home;
	konce_conf_init(&c);
	assert_int_equal(konce_conf_resolve(&c, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.data, "/home/ann/.local/share/konce");
	assert_string_equal(c.control, "/home/ann/.local/share/konce/control.sock"); /* no XDG_RUNTIME_DIR */
	assert_string_equal(c.listen, "[::]:7807");
	assert_int_equal(c.log_level, KONCE_LOG_INFO);
	konce_conf_free(&c);

	fake_vars = xdg;
	konce_conf_init(&c);
	assert_int_equal(konce_conf_resolve(&c, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.data, "/d/konce");
	assert_string_equal(c.control, "/run/user/1000/konce/control.sock");
	konce_conf_free(&c);

	/* a data directory given by the user holds the control socket when there is no runtime dir */
	fake_vars = home;
	konce_conf_init(&c);
	assert_int_equal(konce_conf_set(&c, "data", "/srv/k", "--data", err, sizeof(err)), 0);
	assert_int_equal(konce_conf_set(&c, "log", "error", "-q", err, sizeof(err)), 0);
	assert_int_equal(konce_conf_resolve(&c, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(c.control, "/srv/k/control.sock");
	assert_int_equal(c.log_level, KONCE_LOG_ERROR);
	konce_conf_free(&c);

	/* nothing set and no HOME: no data directory */
	fake_vars = none;
	konce_conf_init(&c);
	assert_int_equal(konce_conf_resolve(&c, fake_getenv, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "--data"));
	konce_conf_free(&c);

	/* a default socket path too long for sun_path is refused, not truncated */
	static char longdata[160];
	memset(longdata, 'z', sizeof(longdata) - 1);
	longdata[0] = '/';
	konce_conf_init(&c);
	assert_int_equal(konce_conf_set(&c, "data", longdata, "--data", err, sizeof(err)), 0);
	assert_int_equal(konce_conf_resolve(&c, fake_getenv, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "--control"));
	konce_conf_free(&c);
}

static void test_log_names(void **state)
{
	(void)state;
	for (int l = KONCE_LOG_ERROR; l <= KONCE_LOG_DEBUG; l++)
		assert_int_equal(konce_conf_log_level(konce_conf_log_name(l)), l);
	assert_int_equal(konce_conf_log_level("INFO"), -1);
	assert_string_equal(konce_conf_log_name(7), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),        cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_rendezvous_refused), cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_missing_files),    cmocka_unit_test(test_flags_win),
		cmocka_unit_test(test_resolve_defaults), cmocka_unit_test(test_log_names),
		cmocka_unit_test(test_identity_and_group),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
