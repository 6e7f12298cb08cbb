/* ncdatadir.c - the data directory's mode check (ncdatadir.h). */
#include "node/core/ncdatadir.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int konce_ncdatadir_check(const char *dir, unsigned mode, char *err, size_t errlen)
{
	if (!S_ISDIR(mode)) {
		snprintf(err, errlen, "data directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (mode & 022) {
		snprintf(err, errlen, "data directory %s is writable by %s (mode %04o): run chmod go-w %s", dir,
			 mode & 002 ? "everyone" : "its group", mode & 07777, dir);
		return -EPERM;
	}
	return 0;
}
