/* fuzz_tmpdir.h - a temporary directory for a fuzz target's node, removed when the fuzzer exits
 * normally (header only; a crash leaves it, beside the crash's test case). */
#ifndef KONCE_FUZZ_TMPDIR_H
#define KONCE_FUZZ_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fz_tmpdir[64];

static int fz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fz_tmpdir_remove(void) { nftw(fz_tmpdir, fz_rm_one, 8, FTW_DEPTH | FTW_PHYS); }

/* Creates /tmp/konce-fuzz-NAME-XXXXXX; its path, or NULL. */
static const char *fz_tmpdir_make(const char *name)
{
	snprintf(fz_tmpdir, sizeof fz_tmpdir, "/tmp/konce-fuzz-%s-XXXXXX", name);
	if (!mkdtemp(fz_tmpdir))
		return NULL;
	atexit(fz_tmpdir_remove);
	return fz_tmpdir;
}

#endif
