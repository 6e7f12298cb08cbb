/* paths.c - XDG base directories for konce's files (see paths.h). */
#include "tools/paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *sys_getenv(const char *name) { return getenv(name); }

/* The variable's value if it is an absolute path, else NULL (the XDG rule for relative paths). */
static const char *abs_var(konce_getenv_fn env, const char *name)
{
	const char *v = (env ? env : sys_getenv)(name);
	return v && v[0] == '/' ? v : NULL;
}

static int join(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int join(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		if (len)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

/* $VAR/konce<suffix>, or $HOME/<home_rel>/konce<suffix>. */
static int xdg_path(char *out, size_t len, konce_getenv_fn env, const char *var, const char *home_rel,
		    const char *suffix)
{
	const char *base = abs_var(env, var);
	if (base)
		return join(out, len, "%s/konce%s", base, suffix);
	const char *home = abs_var(env, "HOME");
	if (!home) {
		if (len)
			out[0] = '\0';
		return -ENOENT;
	}
	return join(out, len, "%s/%s/konce%s", home, home_rel, suffix);
}

int konce_paths_data_dir(char *out, size_t len, konce_getenv_fn env)
{
	return xdg_path(out, len, env, "XDG_DATA_HOME", ".local/share", "");
}

int konce_paths_config_file(char *out, size_t len, konce_getenv_fn env)
{
	return xdg_path(out, len, env, "XDG_CONFIG_HOME", ".config", "/konce.conf");
}

int konce_paths_runtime_dir(char *out, size_t len, konce_getenv_fn env)
{
	const char *run = abs_var(env, "XDG_RUNTIME_DIR");
	if (run)
		return join(out, len, "%s/konce", run);
	/* no runtime dir: stay in a directory only this user owns rather than a guessable /tmp name */
	return xdg_path(out, len, env, "XDG_DATA_HOME", ".local/share", "/run");
}

int konce_paths_identity_file(char *out, size_t len, konce_getenv_fn env)
{
	return xdg_path(out, len, env, "XDG_DATA_HOME", ".local/share", "/identity.key");
}

int konce_paths_mkdirs(const char *dir, mode_t mode)
{
	if (!dir[0])
		return -ENOENT;
	char *p = strdup(dir);
	if (!p)
		return -ENOMEM;
	int r = 0;
	/* create each prefix in turn; the loop's last pass handles dir itself */
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (!r) {
		struct stat st;
		if (stat(p, &st) != 0)
			r = -errno;
		else if (!S_ISDIR(st.st_mode))
			r = -ENOTDIR;
	}
	free(p);
	return r;
}

int konce_paths_mkdirs_for(const char *file, mode_t mode)
{
	const char *slash = strrchr(file, '/');
	if (!slash || slash == file)
		return 0;
	char *dir = strndup(file, (size_t)(slash - file));
	if (!dir)
		return -ENOMEM;
	int r = konce_paths_mkdirs(dir, mode);
	free(dir);
	return r;
}
