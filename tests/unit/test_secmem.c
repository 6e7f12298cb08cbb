/* test_secmem.c - secrets in locked memory: a failed mlock() is an error, never silent.
 *
 * Each case runs in a child process that lowers RLIMIT_MEMLOCK and drops CAP_IPC_LOCK (root locks
 * without limit otherwise), so nothing leaks into the other tests. */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "node/base/secmem.h"

/* Lock at most `bytes` from now on, as an unprivileged process would. */
static void limit_lock(rlim_t bytes)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) == 0) {
		d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
		d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
		if (syscall(SYS_capset, &h, d) != 0)
			_exit(90);
	}
	struct rlimit rl = {bytes, bytes};
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		_exit(91);
}

/* Runs fn in a child; returns its exit status. */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int alloc_unlockable(void *arg)
{
	(void)arg;
	int e = 0;
	void *ok = konce_secmem_alloc(100, &e);
	if (!ok || e || konce_secmem_locked() == 0)
		return 1; /* within the limit: locked and counted */
	konce_secmem_free(ok, 100);
	if (konce_secmem_locked() != 0)
		return 2;
	limit_lock(0);
	void *p = konce_secmem_alloc(100, &e);
	if (p || (e != -EPERM && e != -ENOMEM && e != -EAGAIN))
		return 3;
	return 0;
}

/* Regression: the endpoint's session key slab is sodium_malloc()ed, and
 * sodium_malloc() ignores a failed mlock(): the keys were silently swappable.  Now konce_ep_new()
 * fails with the mlock() error. */
static int ep_unlockable(void *arg)
{
	konce_identity *id = arg;
	limit_lock(64 * 1024); /* the 1024-session slab needs 160 KiB */
	konce_ep_config cfg = {.identity = id};
	konce_ep *ep = NULL;
	int r = konce_ep_new(&ep, &cfg, 1000);
	if (r == 0)
		return 1;
	if (r != -EPERM && r != -ENOMEM && r != -EAGAIN)
		return 2;
	cfg.max_sessions = 64; /* 10 KiB: fits */
	if (konce_ep_new(&ep, &cfg, 1000) != 0)
		return 3;
	konce_ep_free(ep);
	return 0;
}

static void test_alloc_reports_mlock_failure(void **state)
{
	(void)state;
	assert_int_equal(in_child(alloc_unlockable, NULL), 0);
}

static void test_ep_new_reports_mlock_failure(void **state)
{
	(void)state;
	konce_identity *id;
	assert_int_equal(konce_identity_generate(&id, konce_env_default()), 0);
	assert_int_equal(in_child(ep_unlockable, id), 0);
	konce_identity_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_reports_mlock_failure),
		cmocka_unit_test(test_ep_new_reports_mlock_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
