/* mtune.h - the process's allocator settings for bulk messages (see mtune.c). */
#ifndef KONCE_MTUNE_H
#define KONCE_MTUNE_H

enum {
	KONCE_MTUNE_MMAP_THRESHOLD = 8 << 20, /* blocks below this come from the heap */
	KONCE_MTUNE_TRIM_THRESHOLD = 64 << 20, /* free heap top kept before it goes back to the OS */
};

/* Makes glibc's malloc keep message-sized blocks (up to 8 MiB) in the heap and reuse their pages,
 * rather than map fresh zeroed pages for each.  Process-wide; once is enough, more is harmless.
 * Does nothing on a C library other than glibc. */
void konce_mtune_bulk(void);

#endif
