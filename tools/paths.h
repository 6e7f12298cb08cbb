/* paths.h - where konce keeps its files, per the XDG Base Directory specification.
 *
 *   data dir     $XDG_DATA_HOME/konce      (default ~/.local/share/konce)   identity.key, the store
 *   config file  $XDG_CONFIG_HOME/konce/konce.conf  (default ~/.config)
 *   runtime dir  $XDG_RUNTIME_DIR/konce    (if unset: the data dir's run/)  control socket
 *
 * As the specification says, an XDG variable that is unset, empty or not an absolute path is
 * ignored.  Every function takes the environment as a lookup function so that tests can supply
 * their own; NULL means getenv().  Each writes a NUL-terminated path into out[0..len) and returns 0,
 * -ENOENT if the path cannot be found (no XDG variable and no usable HOME), or -ENAMETOOLONG.
 */
#ifndef KONCE_TOOLS_PATHS_H
#define KONCE_TOOLS_PATHS_H

#include <stddef.h>
#include <sys/types.h>

typedef const char *(*konce_getenv_fn)(const char *name);

int konce_paths_data_dir(char *out, size_t len, konce_getenv_fn env);
int konce_paths_config_file(char *out, size_t len, konce_getenv_fn env);
int konce_paths_runtime_dir(char *out, size_t len, konce_getenv_fn env);
/* The default key file: <data dir>/identity.key. */
int konce_paths_identity_file(char *out, size_t len, konce_getenv_fn env);

/* mkdir -p: creates dir and any missing parents with mode (0700 for konce's directories, as the XDG
 * specification asks); existing directories are left as they are.  0 or a negative errno. */
int konce_paths_mkdirs(const char *dir, mode_t mode);
/* mkdir -p of the directory that holds file ("." and "/" need nothing). */
int konce_paths_mkdirs_for(const char *file, mode_t mode);

#endif
