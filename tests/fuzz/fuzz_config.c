/* fuzz_config.c - konce.conf parsing (tools/config.c around libinih).
 *
 * Invariants: every input either loads or fails with a message that names the file; a config that
 * loads, written back out as `key = value` lines, loads again to the same values (round trip); and
 * every value that loads is accepted by konce_conf_set on its own (file and flags agree). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/paths.c"
#include "tools/config.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static int load_bytes(struct konce_conf *c, const void *d, size_t n, char *err, size_t errlen, char *path)
{
	int fd = memfd_create("konce.conf", 0);
	if (fd < 0)
		abort();
	if (n && write(fd, d, n) != (ssize_t)n)
		abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	konce_conf_init(c);
	int r = konce_conf_load(c, path, true, err, errlen);
	close(fd);
	return r;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct konce_conf c, c2, c3;
	char err[1024], path[64], path2[64];
	if (n > 4096)
		return 0;
	err[0] = '\0';
	int r = load_bytes(&c, d, n, err, sizeof(err), path);
	if (r) {
		if (strncmp(err, path, strlen(path)))
			abort(); /* every file error names the file */
		konce_conf_free(&c);
		return 0;
	}

	char out[2048];
	int len = 0;
	konce_conf_init(&c3);
#define KEY(name, fmt, val)                                                                              \
	do {                                                                                             \
		char v_[600];                                                                            \
		snprintf(v_, sizeof(v_), fmt, val);                                                      \
		len += snprintf(out + len, sizeof(out) - (size_t)len, "%s=%s\n", name, v_);            \
		if (konce_conf_set(&c3, name, v_, "flag", err, sizeof(err)))                             \
			abort();                                                                         \
	} while (0)
	if (c.listen)
		KEY("listen", "%s", c.listen);
	if (c.data)
		KEY("data", "%s", c.data);
	if (c.control)
		KEY("control", "%s", c.control);
	if (c.log_level >= 0)
		KEY("log", "%s", konce_conf_log_name(c.log_level));
	if (c.max_sessions)
		KEY("max_sessions", "%u", c.max_sessions);
	if (c.capacity)
		KEY("capacity", "%llu", (unsigned long long)c.capacity);
	if (c.identity)
		KEY("identity", "%s", c.identity == KONCE_IDENTITY_MASTER ? "master" : "per-server");
	if (c.identity_master)
		KEY("identity_master", "%s", c.identity_master);
	if (c.group_key)
		KEY("group_key", "%s", c.group_key);
	r = load_bytes(&c2, out, (size_t)len, err, sizeof(err), path2);
	/* written as key=value: inih looks for " ;" comments before it strips the space after '=', so a
	 * value that begins with ';' survives only without that space */
	if (r || !same(c.listen, c2.listen) || !same(c.data, c2.data) || !same(c.control, c2.control) ||
	    c.log_level != c2.log_level || c.max_sessions != c2.max_sessions || c.capacity != c2.capacity ||
	    c.identity != c2.identity || !same(c.identity_master, c2.identity_master) || !same(c.group_key, c2.group_key))
		abort();
	konce_conf_free(&c);
	konce_conf_free(&c2);
	konce_conf_free(&c3);
	return 0;
}
