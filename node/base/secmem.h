/* secmem.h - locked memory for secrets: sodium_malloc() with its mlock() checked.
 *
 * sodium_malloc() puts guard pages around a block and tries to mlock() it, but it ignores a failed
 * mlock() (RLIMIT_MEMLOCK reached, or no privilege): the secret is then swappable and nobody is
 * told.  konce_secmem_alloc() locks the block again itself -- mlock() of locked pages is free -- and
 * refuses the allocation when that fails, with the errno, so the caller can say why.  Each block
 * costs whole pages of the lock limit (docs/konce.service sizes LimitMEMLOCK from this).
 */
#ifndef KONCE_SECMEM_H
#define KONCE_SECMEM_H

#include <stddef.h>
#include <stdint.h>

/* n bytes of locked, guarded memory, or NULL with *err (if err is not NULL) = -ENOMEM (no
 * memory), or the negative errno of mlock(): -ENOMEM over RLIMIT_MEMLOCK, -EPERM, -EAGAIN. */
void *konce_secmem_alloc(size_t n, int *err);
/* Zeroes, unlocks and frees p, allocated with size n (NULL is fine). */
void konce_secmem_free(void *p, size_t n);
/* Bytes of memory this process's konce_secmem blocks hold locked now (whole pages). */
uint64_t konce_secmem_locked(void);

#endif
