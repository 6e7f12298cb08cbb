/* fileread.h - a file's bytes read on a worker thread (worker.h), so that a large or slow file does
 * not stop the event loop: the control socket's `send --file` (ctlproto.h's read_file).
 *
 * The caller opens the file, checks it and allocates the buffer on the loop (metadata only: no
 * data is read there); the reader's thread reads it, and done(ctx, 0 or a negative errno) runs on
 * the loop.  Reads run one at a time, in the order asked.  The thread starts at the first read and
 * stops with the node (node_fileread_stop), which waits for the reads asked and reports them. */
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
/* Waits for every read asked, reports each (its done), and stops the thread. */
void node_fileread_stop(struct konce_node *n);

#endif
