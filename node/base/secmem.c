/* secmem.c - sodium_malloc() whose mlock() failure is reported (see secmem.h). */
#include "node/base/secmem.h"

#include <errno.h>
#include <sodium.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint64_t locked;

static uint64_t pages(size_t n)
{
	long p = sysconf(_SC_PAGESIZE);
	uint64_t page = p > 0 ? (uint64_t)p : 4096;
	return (n + page - 1) / page * page;
}

/* mlock() itself, as a raw system call where there is one: AddressSanitizer replaces mlock() with a
 * no-op that always succeeds, which would hide exactly the failure this file exists to report. */
static int lock(void *p, size_t n)
{
#ifdef SYS_mlock
	return (int)syscall(SYS_mlock, p, n);
#else
	return mlock(p, n);
#endif
}

void *konce_secmem_alloc(size_t n, int *err)
{
	int e = 0;
	void *p = NULL;
	if (sodium_init() < 0 || !(p = sodium_malloc(n))) {
		e = -ENOMEM;
	} else if (lock(p, n) != 0) {
		e = errno ? -errno : -ENOMEM;
		sodium_free(p);
		p = NULL;
	} else {
		atomic_fetch_add(&locked, pages(n));
	}
	if (err)
		*err = e;
	return p;
}

void konce_secmem_free(void *p, size_t n)
{
	if (!p)
		return;
	atomic_fetch_sub(&locked, pages(n));
	sodium_free(p); /* wipes, unlocks, unmaps */
}

uint64_t konce_secmem_locked(void) { return atomic_load(&locked); }
