/* config.c - konce.conf parsing and defaults (see config.h).
 *
 * libinih does the lexing (comments, whitespace, `key = value`); this file only counts lines, so that
 * every error names FILE:LINE, and checks each key's value.  The same checks serve the command-line
 * flags, so a value means the same thing wherever it is given.
 */
#include "tools/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "konce/konce.h"
#include "node/base/addr.h"
#include "node/transport/keytext.h"

#include <sodium.h>

static const char *const keys[] = {"listen", "data", "control", "log", "max_sessions", "max_per_source", "capacity", "rendezvous",
				   "rendezvous_peers", "rendezvous_peer", "portmap", "host_candidates", "introductions", "rendezvous_capacity",
				   "nat_lifetime", "file_background", "congestion", "identity",
				   "identity_master", "group_key"};
enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void konce_conf_init(struct konce_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = -1;
	c->portmap = -1;
}

void konce_conf_free(struct konce_conf *c)
{
	free(c->listen);
	free(c->data);
	free(c->control);
	free(c->rendezvous_peers);
	free(c->nat_lifetime);
	free(c->identity_master);
	if (c->group_key)
		sodium_memzero(c->group_key, strlen(c->group_key));
	free(c->group_key);
	konce_conf_init(c);
}

int konce_conf_log_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

const char *konce_conf_log_name(int level)
{
	return level >= 0 && level < 4 ? level_names[level] : "?";
}

static int set_string(char **slot, const char *value, char *err, size_t errlen)
{
	char *s = strdup(value);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	free(*slot);
	*slot = s;
	return 0;
}

/* A decimal integer in [min, max], digits only (no sign, no spaces, no hex). */
static int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

int konce_conf_set(struct konce_conf *c, const char *key, const char *value, const char *where, char *err,
		   size_t errlen)
{
	uint64_t v;
	int r;

	if (!*value) {
		snprintf(err, errlen, "%s: %s needs a value", where, key);
		return -EINVAL;
	}
	if (!strcmp(key, "listen")) {
		konce_addr a;
		if (konce_addr_parse(&a, value)) {
			snprintf(err, errlen,
				 "%s: listen: '%s' is not a numeric ADDR:PORT such as [::]:7807, 0.0.0.0:7807 or "
				 "127.0.0.1:0", where, value);
			return -EINVAL;
		}
		return set_string(&c->listen, value, err, errlen);
	}
	if (!strcmp(key, "data")) {
		if (strlen(value) >= PATH_MAX - 32) {
			snprintf(err, errlen, "%s: data: directory name too long", where);
			return -EINVAL;
		}
		return set_string(&c->data, value, err, errlen);
	}
	if (!strcmp(key, "control")) {
		if (strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "%s: control: '%s' is longer than a Unix socket path may be (%zu bytes)",
				 where, value, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -EINVAL;
		}
		return set_string(&c->control, value, err, errlen);
	}
	if (!strcmp(key, "log")) {
		int l = konce_conf_log_level(value);
		if (l < 0) {
			snprintf(err, errlen, "%s: log: '%s' is not one of error, warn, info, debug", where, value);
			return -EINVAL;
		}
		c->log_level = l;
		return 0;
	}
	if (!strcmp(key, "max_sessions")) {
		if ((r = parse_uint(value, 1, KONCE_CONF_MAX_SESSIONS, &v))) {
			snprintf(err, errlen, "%s: max_sessions: '%s' is not a whole number from 1 to %d", where, value,
				 KONCE_CONF_MAX_SESSIONS);
			return -EINVAL;
		}
		c->max_sessions = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "max_per_source")) {
		if ((r = parse_uint(value, 1, KONCE_CONF_MAX_SESSIONS, &v))) {
			snprintf(err, errlen, "%s: max_per_source: '%s' is not a whole number from 1 to %d", where, value,
				 KONCE_CONF_MAX_SESSIONS);
			return -EINVAL;
		}
		c->max_per_source = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "capacity")) {
		if ((r = parse_uint(value, 1, UINT32_MAX, &v))) {
			snprintf(err, errlen, "%s: capacity: '%s' is not a whole number from 1 to %u", where, value,
				 UINT32_MAX);
			return -EINVAL;
		}
		c->capacity = v;
		return 0;
	}
	if (!strcmp(key, "rendezvous")) {
		int b = parse_bool(value);
		if (b < 0) {
			snprintf(err, errlen, "%s: rendezvous: '%s' is not yes or no", where, value);
			return -EINVAL;
		}
		c->rendezvous = b;
		return 0;
	}
	if (!strcmp(key, "portmap")) {
		int b = parse_bool(value);
		if (b < 0) {
			snprintf(err, errlen, "%s: portmap: '%s' is not yes or no", where, value);
			return -EINVAL;
		}
		c->portmap = b;
		return 0;
	}
	if (!strcmp(key, "host_candidates")) {
		int b = parse_bool(value);
		if (b < 0) {
			snprintf(err, errlen, "%s: host_candidates: '%s' is not yes or no", where, value);
			return -EINVAL;
		}
		c->host_candidates = b == 1;
		return 0;
	}
	if (!strcmp(key, "rendezvous_capacity")) {
		if ((r = parse_uint(value, 1, 1u << 20, &v))) {
			snprintf(err, errlen, "%s: rendezvous_capacity: '%s' is not a whole number from 1 to %u", where,
				 value, 1u << 20);
			return -EINVAL;
		}
		c->rendezvous_capacity = (unsigned)v;
		return 0;
	}
	if (!strcmp(key, "introductions")) {
		if (strcmp(value, "any") && strcmp(value, "known")) {
			snprintf(err, errlen, "%s: introductions: '%s' is not any or known", where, value);
			return -EINVAL;
		}
		c->introductions_known = !strcmp(value, "known");
		return 0;
	}
	if (!strcmp(key, "congestion")) {
		if (strcmp(value, "bbr") && strcmp(value, "newreno") && strcmp(value, "cubic")) {
			snprintf(err, errlen, "%s: congestion: '%s' is not bbr, newreno or cubic", where, value);
			return -EINVAL;
		}
		c->congestion = !strcmp(value, "bbr")	  ? KONCE_CONGESTION_BBR
				: !strcmp(value, "cubic") ? KONCE_CONGESTION_CUBIC
							  : KONCE_CONGESTION_NEWRENO;
		return 0;
	}
	if (!strcmp(key, "file_background")) {
		/* bytes, or with a binary suffix: 0 = never; "off" too */
		size_t l = strlen(value);
		uint64_t mult = 1;
		char num[32];
		if (!strcmp(value, "off")) {
			c->file_background = 0;
			return 0;
		}
		if (l && l < sizeof(num) && strchr("KMG", value[l - 1]))
			mult = value[l - 1] == 'K' ? 1u << 10 : value[l - 1] == 'M' ? 1u << 20 : 1u << 30, l--;
		if (l >= sizeof(num) || (memcpy(num, value, l), num[l] = 0, parse_uint(num, 0, 1u << 30, &v))) {
			snprintf(err, errlen, "%s: file_background: '%s' is not a size in bytes (e.g. 1M, 65536 or off)",
				 where, value);
			return -EINVAL;
		}
		c->file_background = v * mult;
		return 0;
	}
	if (!strcmp(key, "identity")) {
		if (strcmp(value, "per-server") && strcmp(value, "master")) {
			snprintf(err, errlen, "%s: identity: '%s' is not per-server or master", where, value);
			return -EINVAL;
		}
		c->identity = !strcmp(value, "master") ? KONCE_IDENTITY_MASTER : KONCE_IDENTITY_PER_SERVER;
		return 0;
	}
	if (!strcmp(key, "identity_master")) {
		uint8_t(*list)[KONCE_KEY_BYTES] = malloc(256 * KONCE_KEY_BYTES);
		if (!list)
			return -ENOMEM;
		r = konce_key_list_(value, list, 256);
		free(list);
		if (r < 0) {
			snprintf(err, errlen, "%s: identity_master: %s", where,
				 r == -E2BIG ? "more than 256 keys"
					     : "not a list of public keys separated by commas, without spaces (KEY,KEY)");
			return -EINVAL;
		}
		return set_string(&c->identity_master, value, err, errlen);
	}
	if (!strcmp(key, "group_key")) {
		uint8_t k[KONCE_KEY_BYTES];
		r = konce_key_decode_(k, value, strlen(value));
		sodium_memzero(k, sizeof k);
		if (r) {
			snprintf(err, errlen, "%s: group_key: not a key's text (43 characters of base64url, as konce "
				 "keygen --group prints)", where);
			return -EINVAL;
		}
		if (c->group_key)
			sodium_memzero(c->group_key, strlen(c->group_key));
		return set_string(&c->group_key, value, err, errlen);
	}
	if (!strcmp(key, "nat_lifetime")) /* the node checks it (auto, off, MIN:MAX, MIN:START:MAX) */
		return set_string(&c->nat_lifetime, value, err, errlen);
	if (!strcmp(key, "rendezvous_peers") || !strcmp(key, "rendezvous_peer")) {
		/* rendezvous_peers replaces the list, rendezvous_peer (the repeatable flag) adds to it;
		 * the node checks the entries (KEY@IP:PORT) when it starts */
		bool add = !strcmp(key, "rendezvous_peer") && c->rendezvous_peers && *c->rendezvous_peers;
		size_t l = (add ? strlen(c->rendezvous_peers) + 1 : 0) + strlen(value) + 1;
		char *s = malloc(l);
		if (!s)
			return -ENOMEM;
		snprintf(s, l, "%s%s%s", add ? c->rendezvous_peers : "", add ? "," : "", value);
		free(c->rendezvous_peers);
		c->rendezvous_peers = s;
		return 0;
	}
	snprintf(err, errlen, "%s: unknown key '%s' (known keys: listen, data, control, log, max_sessions, max_per_source, "
			      "capacity, rendezvous, rendezvous_capacity, rendezvous_peers, portmap, host_candidates, "
			      "introductions, "
			      "nat_lifetime, file_background, congestion, identity, identity_master, group_key)", where, key);
	return -EINVAL;
}

/* Parser state shared by the line reader and the key handler. */
struct load {
	FILE *f;
	const char *file;
	struct konce_conf *c;
	int lineno;           /* the line the reader returned last */
	int seen[NKEYS];      /* line where each key was set, 0 = not yet */
	int r;                /* first error, 0 = none */
	char *err;
	size_t errlen;
};

static void load_fail(struct load *x, int r, const char *fmt, const char *arg)
{
	if (x->r)
		return;
	x->r = r;
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg);
	snprintf(x->err, x->errlen, "%s:%d: %s", x->file, x->lineno, msg);
}

/* An fgets() for libinih that counts lines and rejects what inih would silently split or skip. */
static char *read_line(char *str, int num, void *stream)
{
	struct load *x = stream;
	if (x->r || !fgets(str, num, x->f))
		return NULL;
	x->lineno++;
	size_t n = strlen(str);
	bool complete = (n && str[n - 1] == '\n') || feof(x->f);
	while (n && (str[n - 1] == '\n' || str[n - 1] == '\r'))
		n--;
	if (!complete || n > KONCE_CONF_LINE_MAX) {
		load_fail(x, -EINVAL, "line is longer than %s characters", "197");
		return NULL;
	}
	const char *s = str + strspn(str, " \t");
	if (*s == '[') {
		load_fail(x, -EINVAL, "konce.conf has no sections: '%.40s' (write `key = value` lines only)", s);
		return NULL;
	}
	/* inih also takes `key: value`; konce.conf documents only `key = value`, so refuse the other */
	const char *sep = strpbrk(s, "=:");
	if (*s && !strchr(";#\r\n", *s) && (!sep || *sep == ':')) {
		load_fail(x, -EINVAL, "%s", "expected `key = value`");
		return NULL;
	}
	return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct load *x = user;
	int k;
	(void)section; /* read_line refuses section headers */
	if (x->r)
		return 0;
	for (k = 0; k < NKEYS; k++)
		if (!strcmp(name, keys[k]))
			break;
	if (k < NKEYS && x->seen[k]) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%s: given twice (first on line %d)", name, x->seen[k]);
		load_fail(x, -EINVAL, "%s", msg);
		return 0;
	}
	char where[PATH_MAX + 32];
	snprintf(where, sizeof(where), "%s:%d", x->file, x->lineno);
	int r = konce_conf_set(x->c, name, value, where, x->err, x->errlen);
	if (r) {
		x->r = r;
		return 0;
	}
	if (k < NKEYS) /* always: konce_conf_set refuses unknown keys */
		x->seen[k] = x->lineno;
	return 1;
}

int konce_conf_load(struct konce_conf *c, const char *file, bool must_exist, char *err, size_t errlen)
{
	struct load x = {.file = file, .c = c, .err = err, .errlen = errlen};
	struct stat st;

	x.f = fopen(file, "r");
	if (!x.f) {
		int e = errno;
		if (e == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: cannot open the configuration file: %s", file, strerror(e));
		return -e;
	}
	if (fstat(fileno(x.f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(x.f);
		snprintf(err, errlen, "%s: not a regular file", file);
		return -EINVAL;
	}
	/* Debian's libinih makes its options run-time globals.  Indented lines must not silently continue
	 * the previous value: konce.conf has one value per line. */
	ini_allow_multiline = false;
	int r = ini_parse_stream(read_line, &x, on_pair, &x);
	bool read_error = ferror(x.f);
	fclose(x.f);
	if (x.r)
		return x.r;
	if (read_error) {
		snprintf(err, errlen, "%s: read error", file);
		return -EIO;
	}
	if (r == -2) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (r) {
		snprintf(err, errlen, "%s:%d: expected `key = value`", file, r);
		return -EINVAL;
	}
	return 0;
}

int konce_conf_resolve(struct konce_conf *c, konce_getenv_fn env, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int r;

	if (!c->data) {
		if ((r = konce_paths_data_dir(path, sizeof(path), env))) {
			snprintf(err, errlen, r == -ENOENT ? "no data directory: set HOME or XDG_DATA_HOME, or use --data DIR"
							   : "the default data directory's name is too long");
			return r;
		}
		if ((r = set_string(&c->data, path, err, errlen)))
			return r;
	}
	if (!c->control) {
		const char *run = env ? env("XDG_RUNTIME_DIR") : getenv("XDG_RUNTIME_DIR");
		if (run && run[0] == '/') {
			r = konce_paths_runtime_dir(path, sizeof(path), env);
			if (!r && strlen(path) + sizeof("/control.sock") > sizeof(path))
				r = -ENAMETOOLONG;
			if (!r)
				strcat(path, "/control.sock");
		} else {
			r = snprintf(path, sizeof(path), "%s/control.sock", c->data) >= (int)sizeof(path) ? -ENAMETOOLONG
													 : 0;
		}
		if (!r && strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			r = -ENAMETOOLONG;
		if (r) {
			snprintf(err, errlen, "the default control socket path %s is too long for a Unix socket; use "
					      "--control PATH", path);
			return r;
		}
		if ((r = set_string(&c->control, path, err, errlen)))
			return r;
	}
	if (!c->listen) {
		snprintf(path, sizeof(path), "[::]:%d", KONCE_DEFAULT_PORT);
		if ((r = set_string(&c->listen, path, err, errlen)))
			return r;
	}
	if (c->log_level < 0)
		c->log_level = KONCE_LOG_INFO;
	return 0;
}
