/* config.h - konce.conf, the node's configuration file (docs/konce.conf.5).
 *
 * The file is parsed by libinih: `key = value` lines, `#` and `;` comments, no sections.  Every key
 * can also be given as a command-line flag; the caller loads the file first and then applies the
 * flags with konce_conf_set(), so flags win.  konce_conf_resolve() then fills in the defaults.
 *
 * Every function that can fail writes a one-line message into err (naming FILE:LINE and the key for
 * file errors) and returns a negative errno.
 */
#ifndef KONCE_TOOLS_CONFIG_H
#define KONCE_TOOLS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/paths.h"

enum { KONCE_CONF_MAX_SESSIONS = 1000000 };

struct konce_conf {
	char *listen;           /* "ADDR:PORT", numeric; NULL = unset */
	char *data;             /* data directory; NULL = unset */
	char *control;          /* control socket path; NULL = unset */
	int log_level;          /* enum konce_log_level, or -1 = unset */
	unsigned max_sessions;  /* 0 = unset (the node's default) */
	unsigned max_per_source; /* 0 = unset (the node's default) */
	uint64_t capacity;      /* 0 = unset (the node's default) */
	bool rendezvous;        /* serve as a rendezvous */
	char *rendezvous_peers; /* "KEY@IP:PORT,..." to register with; NULL = none */
	int portmap;            /* 1 yes, 0 no, -1 unset (= yes): lease the port while registered */
	char *nat_lifetime;     /* "auto", "off", "MIN:MAX", "MIN:START:MAX"; NULL = unset (auto) */
	unsigned rendezvous_capacity; /* registration table slots; 0 = unset (4096) */
	bool host_candidates;   /* register the node's interface addresses with the rendezvous */
	bool introductions_known; /* introductions = known: refuse introductions from unknown keys */
	int congestion;         /* enum konce_congestion; 0 = unset (the default, bbr) */
	uint64_t file_background; /* `konce send --file` of at least this many bytes goes background; 0 = never */
	int identity;           /* enum konce_identity_mode; 0 = unset (per-server) */
	char *identity_master;  /* "KEY,KEY" shown the master key; NULL = none */
	char *group_key;        /* key text of our limited-circulation group (a secret: wiped); NULL = public */
};

/* An empty configuration: every field unset. */
void konce_conf_init(struct konce_conf *c);
void konce_conf_free(struct konce_conf *c);

/* Sets key to value after checking it.  where names the origin for the message ("konce.conf:3" or
 * "--listen").  0, -EINVAL (unknown key or bad value), -ENOMEM. */
int konce_conf_set(struct konce_conf *c, const char *key, const char *value, const char *where, char *err,
		   size_t errlen);

/* Reads file into c.  A missing file is an error only if must_exist (a file named by --config); a
 * missing default file leaves c as it was and returns 0.  Lines longer than KONCE_CONF_LINE_MAX
 * characters, lines that are not `key = value`, sections, keys given twice, unknown keys and bad
 * values are errors naming FILE:LINE. */
enum { KONCE_CONF_LINE_MAX = 197 }; /* libinih's fixed line buffer (200) less "\r\n\0" */
int konce_conf_load(struct konce_conf *c, const char *file, bool must_exist, char *err, size_t errlen);

/* Fills in every unset field: data = $XDG_DATA_HOME/konce; control = $XDG_RUNTIME_DIR/konce/control.sock,
 * or <data>/control.sock when XDG_RUNTIME_DIR is unset; listen = "[::]:7807"; log = info.
 * env as in paths.h (NULL = getenv).  0, -ENOENT (no data directory: neither XDG_DATA_HOME nor HOME),
 * -ENAMETOOLONG, -ENOMEM. */
int konce_conf_resolve(struct konce_conf *c, konce_getenv_fn env, char *err, size_t errlen);

/* "error", "warn", "info", "debug" -> enum konce_log_level; -1 for anything else. */
int konce_conf_log_level(const char *name);
const char *konce_conf_log_name(int level);

#endif
