/* test_keyfile.c - key files: save/load round trip, modes, refusals, format errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "store/keyfile.h"

static char dir[] = "/tmp/konce-test-keyfile-XXXXXX";
static char path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/identity.key", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static konce_identity *new_id(void)
{
	konce_identity *id = NULL;
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	return id;
}

static void write_file(const char *p, const char *text, size_t len, mode_t mode)
{
	unlink(p);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_round_trip_and_mode(void **state)
{
	(void)state;
	mode_t old = umask(0); /* the file must be 0600 whatever the umask */
	konce_identity *id = new_id(), *back = NULL;
	assert_int_equal(konce_keyfile_save(path, id, false), 0);
	umask(old);

	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, KONCE_KEYFILE_LEN);
	assert_int_equal(count_entries(), 1); /* no temporary file left behind */

	char err[512] = "";
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), 0);
	assert_memory_equal(konce_identity_public(back), konce_identity_public(id), 32);
	assert_memory_equal(konce_identity_secret_(back), konce_identity_secret_(id), 32);
	uint8_t pub[32];
	assert_int_equal(konce_keyfile_load_public(path, pub, err, sizeof(err)), 0);
	assert_memory_equal(pub, konce_identity_public(id), 32);

	/* the file is exactly what konce_keyfile_format writes, and shows the public key text */
	char text[KONCE_KEYFILE_LEN + 1], want[KONCE_KEYFILE_LEN + 1], pubtext[KONCE_KEY_TEXT_LEN + 1];
	FILE *f = fopen(path, "r");
	assert_int_equal(fread(text, 1, sizeof(text), f), KONCE_KEYFILE_LEN);
	fclose(f);
	text[KONCE_KEYFILE_LEN] = '\0';
	assert_int_equal(konce_keyfile_format(want, id), KONCE_KEYFILE_LEN);
	assert_string_equal(text, want);
	konce_key_to_text(pubtext, pub);
	assert_non_null(strstr(text, pubtext));
	assert_int_equal(strncmp(text, "# konce secret key v1 - keep private\nsecret: ", 45), 0);
	konce_identity_free(back);
	konce_identity_free(id);
	unlink(path);
}

static void test_overwrite(void **state)
{
	(void)state;
	konce_identity *a = new_id(), *b = new_id(), *back = NULL;
	assert_int_equal(konce_keyfile_save(path, a, false), 0);
	assert_int_equal(konce_keyfile_save(path, b, false), -EEXIST);
	assert_int_equal(count_entries(), 1);
	assert_int_equal(konce_keyfile_load(path, &back, NULL, 0), 0);
	assert_memory_equal(konce_identity_public(back), konce_identity_public(a), 32); /* untouched */
	konce_identity_free(back);

	assert_int_equal(konce_keyfile_save(path, b, true), 0);
	assert_int_equal(konce_keyfile_load(path, &back, NULL, 0), 0);
	assert_memory_equal(konce_identity_public(back), konce_identity_public(b), 32);
	konce_identity_free(back);

	/* a dangling symlink is an existing path too; with force it is replaced, not followed */
	char target[300];
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(konce_keyfile_save(path, a, false), -EEXIST);
	assert_int_equal(konce_keyfile_save(path, a, true), 0);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(access(target, F_OK), -1);
	assert_int_equal(count_entries(), 1);

	/* a directory that does not exist */
	char nodir[300];
	snprintf(nodir, sizeof(nodir), "%s/missing/identity.key", dir);
	assert_int_equal(konce_keyfile_save(nodir, a, false), -ENOENT);
	konce_identity_free(a);
	konce_identity_free(b);
	unlink(path);
}

static void test_refuses_open_modes(void **state)
{
	(void)state;
	konce_identity *id = new_id(), *back = NULL;
	assert_int_equal(konce_keyfile_save(path, id, false), 0);
	static const mode_t bad[] = {0640, 0604, 0644, 0660, 0606, 0666, 0610, 0601, 0620, 0602, 0700 | 04};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512] = "", want[64];
		uint8_t pub[32];
		assert_int_equal(chmod(path, bad[i]), 0);
		back = (konce_identity *)0x1;
		assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EACCES);
		assert_ptr_equal(back, (konce_identity *)0x1); /* out untouched on failure */
		snprintf(want, sizeof(want), "permissions %04o are too open", (unsigned)bad[i]);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "chmod 600 "));
		assert_non_null(strstr(err, path));
		assert_int_equal(konce_keyfile_load_public(path, pub, err, sizeof(err)), -EACCES);
	}
	/* owner-only modes other than 0600 are fine */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(konce_keyfile_load(path, &back, NULL, 0), 0);
	konce_identity_free(back);
	konce_identity_free(id);
	unlink(path);
}

static void test_file_types(void **state)
{
	(void)state;
	char err[512] = "", other[300];
	konce_identity *id = new_id(), *back = NULL;
	uint8_t pub[32];

	/* missing */
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "no such key file"));
	assert_int_equal(konce_keyfile_load_public(path, pub, err, sizeof(err)), -ENOENT);

	/* a directory */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(path);

	/* a FIFO: refused, and opening it does not hang waiting for a writer */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);

	/* a symlink is followed (as ssh does) and the mode of its target is what counts */
	snprintf(other, sizeof(other), "%s/real.key", dir);
	assert_int_equal(konce_keyfile_save(other, id, false), 0);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), 0);
	assert_memory_equal(konce_identity_public(back), konce_identity_public(id), 32);
	konce_identity_free(back);
	assert_int_equal(chmod(other, 0644), 0);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EACCES);
	unlink(path);
	unlink(other);

	/* too large, even with a valid key at its start */
	char big[KONCE_KEYFILE_MAX + 2];
	memset(big, '\n', sizeof(big));
	konce_keyfile_format(big, id);
	big[KONCE_KEYFILE_LEN] = '\n';
	write_file(path, big, sizeof(big), 0600);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "too large"));
	unlink(path);
	konce_identity_free(id);
}

/* Parses text and expects -EINVAL with a message containing want. */
static void expect_parse_error(const char *text, size_t len, const char *want)
{
	char err[256] = "";
	uint8_t pub[32];
	konce_identity *id = NULL;
	assert_int_equal(konce_keyfile_parse(text, len, pub, &id, err, sizeof(err)), -EINVAL);
	assert_null(id);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_bad_format(void **state)
{
	(void)state;
	konce_identity *id = new_id();
	char good[KONCE_KEYFILE_LEN + 1], buf[KONCE_KEYFILE_LEN + 64];
	konce_keyfile_format(good, id);
	const char *secret_line = strstr(good, "secret: ");
	const char *public_line = strstr(good, "public: ");

	/* the good text parses, with or without its final newline; and public-only mode agrees */
	uint8_t pub[32], pub2[32];
	konce_identity *back = NULL;
	assert_int_equal(konce_keyfile_parse(good, KONCE_KEYFILE_LEN, pub, &back, NULL, 0), 0);
	konce_identity_free(back);
	assert_int_equal(konce_keyfile_parse(good, KONCE_KEYFILE_LEN - 1, pub, &back, NULL, 0), 0);
	konce_identity_free(back);
	assert_int_equal(konce_keyfile_parse(good, KONCE_KEYFILE_LEN, pub2, NULL, NULL, 0), 0);
	assert_memory_equal(pub, pub2, 32);
	assert_memory_equal(pub, konce_identity_public(id), 32);

	expect_parse_error("", 0, "empty file");
	expect_parse_error("hello\n", 6, "line 1: not a konce key file");
	expect_parse_error("# konce secret key v2 - keep private\n", 37, "line 1: unsupported key file version");
	expect_parse_error("# konce secret key v1 - keep private\r\n", 38, "line 1: CRLF");
	expect_parse_error(good, 37, "line 2: missing the secret line");

	/* line 2 */
	snprintf(buf, sizeof(buf), "%.37spublic: x\n", good);
	expect_parse_error(buf, strlen(buf), "line 2: expected the secret line");
	snprintf(buf, sizeof(buf), "%.37ssecret: AAAA\n%s", good, public_line);
	expect_parse_error(buf, strlen(buf), "line 2: the secret key must be 43 characters of key text, not 4");
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	buf[37 + 8 + 5] = '+';
	expect_parse_error(buf, KONCE_KEYFILE_LEN, "line 2: the secret key is not valid key text");
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	memmove(buf + 37 + 52, buf + 37 + 51, KONCE_KEYFILE_LEN - 37 - 51 + 1);
	buf[37 + 51] = '\r';
	expect_parse_error(buf, KONCE_KEYFILE_LEN + 1, "line 2: CRLF");

	/* an unclamped secret: same key after clamping, but not the canonical file */
	static const char *unclamped[] = {
		"cQdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LGo", /* low bits of byte 0 set */
		"cAdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LOo", /* top bit of byte 31 set */
		"cAdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo", /* bit 6 of byte 31 clear */
	};
	for (size_t i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "%.37ssecret: %s\npublic: hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\n",
			 good, unclamped[i]);
		expect_parse_error(buf, strlen(buf), "line 2: the secret key is not clamped");
	}
	/* and the clamped RFC 7748 key itself is the docs/KEYS.md vector */
	snprintf(buf, sizeof(buf), "%.37ssecret: cAdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LGo\n"
		 "public: hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\n", good);
	assert_int_equal(konce_keyfile_parse(buf, strlen(buf), pub, &back, NULL, 0), 0);
	konce_identity_free(back);

	/* line 3 */
	expect_parse_error(good, 37 + 52, "line 3: missing the public line");
	snprintf(buf, sizeof(buf), "%.89s%s", good, secret_line);
	expect_parse_error(buf, strlen(buf), "line 3: expected the public line");
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	buf[KONCE_KEYFILE_LEN - 3] = '/';
	expect_parse_error(buf, KONCE_KEYFILE_LEN, "line 3: the public key is not valid key text");
	/* a well-formed public key that belongs to another secret */
	konce_identity *other = new_id();
	char otext[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(otext, konce_identity_public(other));
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	memcpy(buf + 89 + 8, otext, KONCE_KEY_TEXT_LEN);
	expect_parse_error(buf, KONCE_KEYFILE_LEN, "line 3: the public key does not match the secret key");
	/* ... which public-only mode cannot see, since it never reads the secret */
	assert_int_equal(konce_keyfile_parse(buf, KONCE_KEYFILE_LEN, pub, NULL, NULL, 0), 0);
	konce_identity_free(other);

	/* trailing content, and an embedded NUL */
	snprintf(buf, sizeof(buf), "%s\n", good);
	expect_parse_error(buf, strlen(buf), "line 4: unexpected text after the public line");
	snprintf(buf, sizeof(buf), "%s# comment\n", good);
	expect_parse_error(buf, strlen(buf), "line 4: unexpected");
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	buf[37 + 20] = '\0';
	expect_parse_error(buf, KONCE_KEYFILE_LEN, "line 2: the secret key is not valid key text");

	/* every truncation is a clean error (the last one, minus the final newline, is accepted) */
	for (size_t n = 0; n < KONCE_KEYFILE_LEN - 1; n++) {
		konce_identity *t = NULL;
		char err[256];
		assert_int_equal(konce_keyfile_parse(good, n, pub, &t, err, sizeof(err)), -EINVAL);
		assert_null(t);
	}
	/* error messages never include the secret */
	char err[256] = "";
	char stext[KONCE_KEY_TEXT_LEN + 1];
	memcpy(stext, secret_line + 8, KONCE_KEY_TEXT_LEN);
	stext[KONCE_KEY_TEXT_LEN] = '\0';
	memcpy(buf, good, KONCE_KEYFILE_LEN + 1);
	buf[37 + 8 + KONCE_KEY_TEXT_LEN - 1] = '9';
	assert_int_equal(konce_keyfile_parse(buf, KONCE_KEYFILE_LEN, pub, &back, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, stext));
	konce_identity_free(id);
}

static void test_truncated_file(void **state)
{
	(void)state;
	konce_identity *id = new_id(), *back = NULL;
	char good[KONCE_KEYFILE_LEN + 1], err[512];
	konce_keyfile_format(good, id);
	write_file(path, good, 100, 0600);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EINVAL);
	assert_null(back);
	/* the path prefixes the parser's message */
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, ": line 3: "));
	write_file(path, good, 0, 0600);
	assert_int_equal(konce_keyfile_load(path, &back, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty file"));
	unlink(path);
	konce_identity_free(id);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_mode),
		cmocka_unit_test(test_overwrite),
		cmocka_unit_test(test_refuses_open_modes),
		cmocka_unit_test(test_file_types),
		cmocka_unit_test(test_bad_format),
		cmocka_unit_test(test_truncated_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
