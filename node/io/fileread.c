/* fileread.c - a file's bytes read on a worker thread (fileread.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/io/fileread.h"
#include "node/io/node_int.h"
#include "node/io/worker.h"

struct read_job {
	node_job job; /* first: the job is its read */
	int fd;
	uint8_t *buf;
	size_t len;
	int e;
	void (*done)(void *ctx, int e);
	void *ctx;
};

static void run_read(node_job *j)
{
	struct read_job *r = (struct read_job *)j;
	size_t got = 0;
	r->e = 0;
	while (got < r->len) {
		ssize_t k = pread(r->fd, r->buf + got, r->len - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r->e = k < 0 ? -errno : -EIO; /* 0: the file shrank since its fstat */
			break;
		}
		got += (size_t)k;
	}
	close(r->fd);
	r->fd = -1;
}

/* The read's end, e its result: done once, then the job is freed. */
static void finish(struct read_job *r, int e)
{
	void (*done)(void *ctx, int e) = r->done;
	void *ctx = r->ctx;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	done(ctx, e);
}

static void read_done(node_job *j) { finish((struct read_job *)j, ((struct read_job *)j)->e); }
/* handed back unrun by the stop's deadline (on the loop), or run by the abandoned thread (on it) */
static void read_cancel(node_job *j) { finish((struct read_job *)j, -ECANCELED); }

int node_fileread(struct konce_node *n, int fd, uint8_t *buf, size_t len, void (*done)(void *ctx, int e), void *ctx)
{
	int e;
	if (!n->reader && (e = node_worker_start(&n->reader, n->base, NULL, NULL)))
		return e;
	struct read_job *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	*r = (struct read_job){.job = {.run = run_read, .done = read_done, .drop = read_cancel, .cancel = read_cancel},
			       .fd = fd, .buf = buf, .len = len, .done = done, .ctx = ctx};
	if ((e = node_worker_post(n->reader, &r->job))) {
		free(r);
		return e;
	}
	return 0;
}

void node_fileread_stop(struct konce_node *n)
{
	if (!n->reader)
		return;
	if (node_worker_stop(n->reader, node_now_us() + (uint64_t)NODE_FILEREAD_STOP_MS * 1000))
		node_log(n, KONCE_LOG_WARN,
			 "a file read did not end within %u ms of the stop: its thread is left to finish it, and its "
			 "buffer with it", (unsigned)NODE_FILEREAD_STOP_MS);
	n->reader = NULL;
}
