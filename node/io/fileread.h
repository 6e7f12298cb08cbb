/* fileread.h - a file's bytes read on a worker thread (worker.h), so that a large or slow file does
 * not stop the event loop: the control socket's `send --file` (ctlproto.h's read_file).
 *
 * The caller opens the file, checks it and allocates the buffer on the loop (metadata only: no
 * data is read there); the reader's thread reads it, and done(ctx, 0 or a negative errno) runs on
 * the loop.  Reads run one at a time, in the order asked.  The thread starts at the first read and
 * stops with the node (node_fileread_stop).
 *
 * The stop waits up to NODE_FILEREAD_STOP_MS for the read in progress, not for a file system that
 * hangs (a hard NFS mount, a stuck FUSE server: such a pread cannot be interrupted).  The reads
 * asked and not begun end then, with done(ctx, -ECANCELED) on the loop.  A read still in progress at
 * the deadline keeps its thread, which the stop leaves behind: when the read returns, its done(ctx,
 * -ECANCELED) runs on that thread, after the node is gone, so a caller's done must then only free
 * (the control's send ops are abandoned by then: ctl_send.c's file_read).  Its buffer stays the
 * read's until that done. */
#ifndef KONCE_NODE_FILEREAD_H
#define KONCE_NODE_FILEREAD_H

#include <stddef.h>
#include <stdint.h>

struct konce_node;

/* Reads len bytes of the open regular file fd from offset 0 into buf.  On 0 the fd is the reader's
 * (it closes it) and done(ctx, e) follows once, on the loop thread, never inside this call: e is 0
 * when all len bytes were read, -EIO on a short read, or read()'s errno.  buf must stay valid until
 * then.  A negative errno (-ENOMEM, -ESHUTDOWN once the node stops, or the thread's start): nothing
 * taken, no done. */
int node_fileread(struct konce_node *n, int fd, uint8_t *buf, size_t len, void (*done)(void *ctx, int e), void *ctx);
enum { NODE_FILEREAD_STOP_MS = 2000 };

/* Stops the reader: the reads that ended are reported (their done), the rest end as the header
 * says, with -ECANCELED. */
void node_fileread_stop(struct konce_node *n);

#endif
