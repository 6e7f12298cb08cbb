/* ncdatadir.h - whether the node may use a data directory, from its stat() mode.  The directory
 * holds the identity and the presence store, so like the key file it is refused when someone else
 * could write there (and so replace either).  node/io/node.c makes the calls. */
#ifndef KONCE_NODE_NCDATADIR_H
#define KONCE_NODE_NCDATADIR_H

#include <stddef.h>

/* 0 when dir (whose st_mode is mode) is a directory only its owner can write; otherwise -ENOTDIR
 * or -EPERM, with err saying why and how to fix it. */
int konce_ncdatadir_check(const char *dir, unsigned mode, char *err, size_t errlen);

#endif
