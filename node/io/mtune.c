/* mtune.c - the allocator settings a node process runs with.
 *
 * A received message is one block of its length (node/transport/frag.c: written in place as it
 * arrives, or copied from its chunks on completion), allocated through konce_env and freed when the
 * application releases it.  With glibc's defaults a block of 128 KiB or more
 * is mmap'ed; once one is freed the threshold rises to its size, but the trim threshold rises
 * only to twice that, so every free of a 1 MiB message hands the heap's top back to the kernel
 * and the next message faults in fresh zeroed pages: on loopback the receiver spent more CPU in
 * page faults and zeroing than in opening the datagrams.  Fixed thresholds keep those pages in
 * the process (at most KONCE_MTUNE_TRIM_THRESHOLD of free heap top is kept) and reuse them.
 *
 * This is I/O-layer configuration: the sans-I/O transport allocates through konce_env and does not
 * know which allocator is behind it.  A pool in frag.c would do the same for reassembly only, and
 * would hold memory the budget already charges for; the allocator's own free lists already are
 * that pool once the kernel is kept out of it.
 */
#include "node/io/mtune.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void konce_mtune_bulk(void)
{
#if defined(__GLIBC__)
	mallopt(M_MMAP_THRESHOLD, KONCE_MTUNE_MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, KONCE_MTUNE_TRIM_THRESHOLD);
#endif
}
