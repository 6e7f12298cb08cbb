/* store_dir.h - the scratch directory of the store tests (test_store.c, test_store_groups.c,
 * test_store_group_note.c, test_store_ncnote.c): dir, a fresh /tmp/konce-NAME-XXXXXX for the
 * group of tests; dbpath, the database in it; err, for the store's messages.  store_dir_make() and
 * store_dir_remove() are the bodies of the group's setup and teardown; open_store() opens dbpath
 * and asserts it opened; in_child() runs a function in a child process.  Include it after
 * <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_STORE_DIR_H
#define KONCE_TEST_STORE_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

static char dir[64], dbpath[128], err[512];

/* 0, or -1 when the directory cannot be made. */
static inline int store_dir_make(const char *name)
{
	snprintf(dir, sizeof(dir), "/tmp/konce-%s-XXXXXX", name);
	if (!mkdtemp(dir))
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/peers.db", dir);
	return 0;
}

/* Removes the directory and all in it, even when a test left it read-only. */
static inline int store_dir_remove(void)
{
	char cmd[128];
	chmod(dir, 0700);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static inline konce_store *open_store(void)
{
	konce_store *st;
	assert_int_equal(konce_store_open(&st, dbpath, 0, err, sizeof(err)), 0);
	return st;
}

/* Runs fn in a child process; returns the child's exit status (100 + the signal that killed it). */
static inline int in_child(int (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

#endif
