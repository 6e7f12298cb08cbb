/* crash_rig.h - kill -9 a writer of the store mid-stream, for test_store_crash.c and
 * test_store_group_crash.c.
 *
 * A round forks a child that runs the test's writer: it writes batches from first_batch on and,
 * after each one its flush acknowledged, reports the batch number (a uint64_t) on the pipe fd.
 * The parent waits for `want` reports, sleeps delay_us (the kill lands at different points of a
 * flush), kills the child with SIGKILL, reads every report that made it into the pipe before the
 * kill, reaps the child and returns the last batch reported.  crash_integrity_ok() then checks the
 * database as a restart finds it.  Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_CRASH_RIG_H
#define KONCE_TEST_CRASH_RIG_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

typedef void crash_writer(const char *path, uint64_t first_batch, int fd);

static inline uint64_t crash_round(crash_writer *writer, const char *path, uint64_t first_batch, int want,
				   useconds_t delay_us)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		writer(path, first_batch, p[1]);
	}
	close(p[1]);
	uint64_t b, last = UINT64_MAX;
	int got = 0;
	while (got < want && read(p[0], &b, sizeof(b)) == sizeof(b))
		last = b, got++;
	assert_int_equal(got, want);
	usleep(delay_us);
	kill(pid, SIGKILL);
	while (read(p[0], &b, sizeof(b)) == sizeof(b))
		last = b; /* acknowledged before the kill */
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	return last;
}

/* The database at path passes PRAGMA integrity_check. */
static inline void crash_integrity_ok(const char *path)
{
	char buf[128];
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(buf, sizeof(buf), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_string_equal(buf, "ok");
}

#endif
