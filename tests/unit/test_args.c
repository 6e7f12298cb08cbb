/* test_args.c - PEER and HOST:PORT arguments of the CLI: petnames, bad key text, address resolution
 * (numeric only, so the test needs no DNS), and SECONDS.
 *
 * tools/ is not part of libkonce, so this test compiles tools/args.c in directly. */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tools/args.c"

static void test_petnames(void **state)
{
	(void)state;
	assert_true(konce_args_petname_ok("alice"));
	assert_true(konce_args_petname_ok("Ännchen-von_Tharau.2"));
	assert_true(konce_args_petname_ok("日本"));
	assert_true(konce_args_petname_ok("x"));
	char s[80];
	memset(s, 'a', sizeof(s));
	s[64] = '\0';
	assert_true(konce_args_petname_ok(s));
	s[64] = 'a', s[65] = '\0';
	assert_false(konce_args_petname_ok(s)); /* 65 bytes */
	s[43] = '\0';
	assert_false(konce_args_petname_ok(s)); /* the length of a key */
	s[42] = '\0';
	assert_true(konce_args_petname_ok(s));
	assert_false(konce_args_petname_ok(""));
	assert_false(konce_args_petname_ok("two words"));
	assert_false(konce_args_petname_ok("tab\there"));
	assert_false(konce_args_petname_ok("a@b"));
	assert_false(konce_args_petname_ok("del\x7f"));
	assert_false(konce_args_petname_ok("\xc3"));             /* truncated sequence */
	assert_false(konce_args_petname_ok("\xc0\xaf"));         /* overlong '/' */
	assert_false(konce_args_petname_ok("\xed\xa0\x80"));     /* a surrogate */
	assert_false(konce_args_petname_ok("\xf4\x90\x80\x80")); /* past U+10FFFF */
	assert_false(konce_args_petname_ok("\xc2\x85"));         /* C1 control NEL */
	assert_false(konce_args_petname_ok("nb\xc2\xa0sp"));     /* no-break space */
}

static void test_check_peer(void **state)
{
	(void)state;
	uint8_t pk[KONCE_KEY_BYTES];
	char text[KONCE_KEY_TEXT_LEN + 1];
	for (size_t i = 0; i < sizeof(pk); i++)
		pk[i] = (uint8_t)(i * 7 + 1);
	pk[31] &= 0x7f; /* a canonical X25519 key: bit 255 clear */
	konce_key_to_text(text, pk);
	assert_int_equal(konce_args_check_peer("t", text), 0);
	assert_int_equal(konce_args_check_peer("t", "alice"), 0);
	/* a key with one character changed to one outside base64url, or cut short, or non-canonical */
	text[5] = '+';
	assert_int_equal(konce_args_check_peer("t", text), KONCE_EXIT_USAGE);
	konce_key_to_text(text, pk);
	text[KONCE_KEY_TEXT_LEN - 1] = text[KONCE_KEY_TEXT_LEN - 1] == 'B' ? 'C' : 'B'; /* trailing bits */
	assert_int_equal(konce_args_check_peer("t", text), KONCE_EXIT_USAGE);
	assert_int_equal(konce_args_check_peer("t", "has space"), KONCE_EXIT_USAGE);
	assert_int_equal(konce_args_check_peer("t", ""), KONCE_EXIT_USAGE);
}

static void expect_resolve(const char *in, const char *want)
{
	char out[128], err[256];
	int r = konce_args_resolve(in, out, sizeof(out), err, sizeof(err));
	if (r)
		fail_msg("%s: %d %s", in, r, err);
	assert_string_equal(out, want);
}

static void expect_bad(const char *in, int want_r, const char *want_msg)
{
	char out[128], err[256];
	assert_int_equal(konce_args_resolve(in, out, sizeof(out), err, sizeof(err)), want_r);
	if (!strstr(err, want_msg))
		fail_msg("%s: message '%s' lacks '%s'", in, err, want_msg);
}

static void test_resolve(void **state)
{
	(void)state;
	expect_resolve("127.0.0.1:7807", "127.0.0.1:7807");
	expect_resolve("[::1]:1", "[::1]:1");
	expect_resolve("[2001:db8::7]:65535", "[2001:db8::7]:65535");
	expect_resolve("[::ffff:10.0.0.1]:9", "10.0.0.1:9"); /* mapped IPv4 prints as IPv4 */
	expect_bad("127.0.0.1", -EINVAL, "expected HOST:PORT");
	expect_bad("::1:7807", -EINVAL, "brackets");
	expect_bad("[::1]7807", -EINVAL, "[IPv6]:PORT");
	expect_bad(":7807", -EINVAL, "missing host");
	expect_bad("127.0.0.1:0", -EINVAL, "port");
	expect_bad("127.0.0.1:65536", -EINVAL, "port");
	expect_bad("127.0.0.1:http", -EINVAL, "port");
	expect_bad("127.0.0.1:-1", -EINVAL, "port");
	expect_bad("127.0.0.1:", -EINVAL, "port");
	/* .invalid never resolves (RFC 2606); the resolver may answer from /etc/hosts or fail fast */
	expect_bad("no-such-host.invalid:7807", -EHOSTUNREACH, "cannot resolve 'no-such-host.invalid'");
}

/* One key in 64 starts with '-': getopt must see it (and KEY@HOST:PORT) as an operand, in place. */
static void test_dash_keys(void **state)
{
	(void)state;
	uint8_t pk[KONCE_KEY_BYTES];
	char key[KONCE_KEY_TEXT_LEN + 1], at[KONCE_KEY_TEXT_LEN + 32], text[] = "-not-a-key", c3[] = "-c",
	     n3[] = "3", cmd[] = "ping", dd[] = "--", key2[KONCE_KEY_TEXT_LEN + 1];
	for (size_t i = 0; i < sizeof(pk); i++)
		pk[i] = (uint8_t)(i * 11 + 3);
	pk[0] = 0xf8; /* top six bits 62: base64url '-' */
	konce_key_to_text(key, pk);
	assert_int_equal(key[0], '-');
	snprintf(at, sizeof(at), "%s@192.0.2.7:7807", key);
	memcpy(key2, key, sizeof(key2));

	char *argv[] = {cmd, key, c3, n3, at, NULL};
	int argc = 5, ch, count = 0;
	optind = 0;
	opterr = 0;
	konce_args_hide_keys(argc, argv);
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		assert_int_equal(ch, 'c');
		count++;
	}
	konce_args_unhide_keys(argc, argv);
	assert_int_equal(count, 1);
	assert_int_equal(argc - optind, 2);
	assert_string_equal(argv[optind], key2); /* restored, and in the order given */
	assert_int_equal(strncmp(argv[optind + 1], key2, KONCE_KEY_TEXT_LEN), 0);
	assert_string_equal(argv[optind + 1] + KONCE_KEY_TEXT_LEN, "@192.0.2.7:7807");

	/* not key text: still an option (and an unknown one); after "--": left alone */
	char *argv2[] = {cmd, text, dd, key, NULL};
	konce_args_hide_keys(4, argv2);
	assert_string_equal(argv2[1], "-not-a-key");
	assert_string_equal(argv2[3], key2);
	key[KONCE_KEY_TEXT_LEN - 1] = '+'; /* no longer key text */
	char *argv3[] = {cmd, key, NULL};
	konce_args_hide_keys(2, argv3);
	assert_int_equal(argv3[1][0], '-');
}

/* PEER[+GROUP][@HOST:PORT]: the group clue of a limited-circulation server (docs/konce.1). */
static void test_split_peer(void **state)
{
	(void)state;
	uint8_t pk[KONCE_KEY_BYTES], gk[KONCE_KEY_BYTES];
	char key[KONCE_KEY_TEXT_LEN + 1], grp[KONCE_KEY_TEXT_LEN + 1], arg[300], peer[KONCE_ARGS_PEER_MAX],
		group[KONCE_KEY_TEXT_LEN + 1];
	const char *hp;
	for (size_t i = 0; i < sizeof(pk); i++)
		pk[i] = (uint8_t)(i * 7 + 1), gk[i] = (uint8_t)(i * 13 + 5);
	pk[31] &= 0x7f, gk[31] &= 0x7f;
	gk[0] = 0xf8; /* a group key that starts with '-' */
	konce_key_to_text(key, pk);
	konce_key_to_text(grp, gk);

	/* KEY+GROUP@HOST:PORT */
	snprintf(arg, sizeof(arg), "%s+%s@192.0.2.1:7807", key, grp);
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_string_equal(peer, key);
	assert_string_equal(group, grp);
	assert_string_equal(hp, "192.0.2.1:7807");
	/* KEY+GROUP, KEY@HOST:PORT, KEY, petname+GROUP */
	snprintf(arg, sizeof(arg), "%s+%s", key, grp);
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_string_equal(peer, key);
	assert_string_equal(group, grp);
	assert_null(hp);
	snprintf(arg, sizeof(arg), "%s@[2001:db8::1]:7807", key);
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_string_equal(peer, key);
	assert_string_equal(group, "");
	assert_string_equal(hp, "[2001:db8::1]:7807");
	assert_int_equal(konce_args_split_peer(key, peer, group, &hp), 0);
	assert_string_equal(peer, key);
	assert_string_equal(group, "");
	assert_null(hp);
	snprintf(arg, sizeof(arg), "bob+%s", grp);
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_string_equal(peer, "bob");
	assert_string_equal(group, grp);
	/* a '+' not followed by a key's text stays in PEER (a petname may hold a '+') */
	assert_int_equal(konce_args_split_peer("a+b@192.0.2.1:1", peer, group, &hp), 0);
	assert_string_equal(peer, "a+b");
	assert_string_equal(group, "");
	snprintf(arg, sizeof(arg), "%s+%.42s", key, grp); /* one character short */
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_int_equal(strlen(peer), strlen(arg));
	assert_string_equal(group, "");
	snprintf(arg, sizeof(arg), "+%s", grp); /* no PEER at all: PEER is the whole text, refused later */
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	assert_string_equal(peer, arg);
	assert_string_equal(group, "");
	/* too long for any PEER */
	memset(arg, 'x', KONCE_ARGS_PEER_MAX - 1);
	arg[KONCE_ARGS_PEER_MAX - 1] = 0;
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), 0);
	strcat(arg, "x@192.0.2.1:1");
	assert_int_equal(konce_args_split_peer(arg, peer, group, &hp), -EINVAL);
	/* a key that starts with '-' followed by +GROUP is hidden from getopt too */
	pk[0] = 0xf8;
	konce_key_to_text(key, pk);
	snprintf(arg, sizeof(arg), "%s+%s", key, grp);
	char cmd[] = "send", *argv[] = {cmd, arg, NULL};
	konce_args_hide_keys(2, argv);
	assert_int_not_equal(argv[1][0], '-');
	konce_args_unhide_keys(2, argv);
	assert_int_equal(argv[1][0], '-');
}

static void test_seconds(void **state)
{
	(void)state;
	unsigned ms = 0;
	assert_int_equal(konce_args_seconds("2", 0.01, 10, &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(konce_args_seconds("0.2", 0.01, 10, &ms), 0);
	assert_int_equal(ms, 200);
	assert_int_equal(konce_args_seconds(".05", 0.01, 10, &ms), 0);
	assert_int_equal(ms, 50);
	assert_int_equal(konce_args_seconds("0.001", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("11", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("1s", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("-1", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("nan", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("0x1", 0.01, 10, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("1e1", 0.01, 100, &ms), -EINVAL);
	assert_int_equal(konce_args_seconds("1..2", 0.01, 10, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_petnames),
		cmocka_unit_test(test_check_peer),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_dash_keys),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_split_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
