/* ctlproto.h - the control protocol (docs/CONTROL.md): one request line of JSON in, JSON answer lines
 * out.  It parses the request, calls the public API (include/konce/) and reads the node core's
 * report views (node/core/ncinfo.h, node/core/trav_info.h) and its copy of the store's keys
 * (nodecore.h, "known keys"), and formats the answer.  Its SQLite work (`alias` writes, `group log`
 * reads) runs on the node's store writer thread (konce_node_store_call), never in the loop.
 *
 * It owns no socket, timer, clock or libevent object: node/io/control.c carries the lines over the
 * Unix socket and fills a konce_ctlproto_host with what only the plumbing knows (the build compiles
 * node/ctl/ with <event2/...> poisoned and fails if an object references libevent, a clock or a socket).
 *
 * A request is answered at once, or waits for the network (connect, send, ping), the store
 * writer (alias, group.log) or, for `send --file`, the file's read (host->read_file): then
 * konce_ctlproto_handle() returns KONCE_CTLPROTO_PENDING with an op, and the response line comes
 * later, from the outcome callback konce_node_send() or the store writer's completion runs inside
 * the node's event loop.  Until then
 * the caller reads no further request from that client (responses come back in request order) and,
 * if konce_ctlproto_op_progress_ms() is not 0, calls konce_ctlproto_op_progress() that often.
 *
 * Op life: PENDING -> (progress lines)* -> response line (out with final = true; the op is freed
 * before that call returns) | abandoned (the client went away: no more lines; freed at the outcome).
 * A `send --file` is PENDING from the start of its file's read: READING (progress lines show
 * nothing acked) -> the read's done: the send starts (SENDING, as above), or a read or send error
 * is the response line; abandoned while READING, the op and its buffer are freed at the read's
 * done.
 */
#ifndef KONCE_CTLPROTO_H
#define KONCE_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/group.h"
#include "konce/konce.h"
#include "nat/portmap_policy.h"
#include "node/base/addr.h"
#include "node/core/nodecore.h"
#include "node/core/trav.h"
#include "store/store.h"

enum { KONCE_CTLPROTO_LINE_MAX = 64 * 1024 }; /* a longer request is refused */

/* The plumbing's own figures for "status". */
typedef struct konce_ctlproto_io {
	uint64_t uptime_s;
	bool store_ok;           /* a store is open and its writes succeed */
	uint64_t store_pending;  /* notes waiting for the store worker */
	uint64_t udp_tx_dropped; /* datagrams the socket could not send */
} konce_ctlproto_io;

/* The traversal host's own state for "netcheck" and "path" (the core's is read through trav_info.h). */
typedef struct konce_ctlproto_travio {
	konce_portmap_status pm; /* the port-mapping worker's last report */
	uint64_t bday_dropped; /* datagrams for a birthday socket that could not be sent */
	uint64_t socks_opened, socks_open_failed, socks_tx, socks_rx;
	unsigned socks_open_now, socks_open_max;
	bool have_local;  /* the node socket's local address is known */
	konce_addr local; /* (for port preservation) */
} konce_ctlproto_travio;

struct json_t;

/* What a request reads of the node.  node, core and pk are required; the callbacks get ctx. */
typedef struct konce_ctlproto_host {
	konce_node *node;     /* the public API: send, progress, listen address, groups */
	konce_nodecore *core; /* report views, peer settings, known keys */
	konce_store *store;   /* non-NULL: the node has a store (its SQLite runs on the store writer); NULL: nothing stored shown */
	konce_trav *trav;     /* the traversal core, or NULL (traversal is off) */
	const struct konce_travlife *life; /* the mapping lifetime core, or NULL (off) */
	const uint8_t *pk;    /* the node's public key */
	uint64_t file_background_bytes; /* konce_node_config's: a file this large is sent as background */
	void *ctx;
	uint64_t (*now_us)(void *ctx); /* the node's monotonic clock */
	int64_t (*wall_s)(void *ctx);  /* unix seconds */
	void (*io_status)(void *ctx, konce_ctlproto_io *out);
	void (*trav_status)(void *ctx, konce_ctlproto_travio *out); /* only with trav */
	/* Reads len bytes of the open regular file fd into buf off the loop, then done(dctx, 0 or a
	 * negative errno) from the loop, never inside the call; on 0 fd is the reader's to close.
	 * Exception: a read that outlasts the host's stop ends with -ECANCELED on the reader's
	 * thread, after the host is gone (node/io/fileread.h); its op is abandoned by then.
	 * NULL: a `send --file` is refused (a file is never read on the loop). */
	int (*read_file)(void *ctx, int fd, uint8_t *buf, size_t len, void (*done)(void *dctx, int e), void *dctx);
} konce_ctlproto_host;

/* One answer line (JSON, without the newline; NULL if it could not be formatted: out of memory).  final: the request's response line; after it the
 * caller may read the client's next request. */
typedef void (*konce_ctlproto_out_fn)(void *octx, const char *line, size_t len, bool final);

typedef struct konce_ctlproto_op konce_ctlproto_op;

enum { KONCE_CTLPROTO_DONE = 0, KONCE_CTLPROTO_PENDING = 1 };

/* Serves one request line (a C string without its newline).  DONE: out was called once, with final.
 * PENDING: *op is set and out will be called later (see the top).  h must stay valid until the op
 * ends. */
int konce_ctlproto_handle(const konce_ctlproto_host *h, const char *line, konce_ctlproto_out_fn out, void *octx,
			  konce_ctlproto_op **op);

/* The refusal of a request longer than KONCE_CTLPROTO_LINE_MAX bytes (out with final). */
void konce_ctlproto_too_long(konce_ctlproto_out_fn out, void *octx);

/* How often a pending op wants a progress line, in ms; 0 = never. */
unsigned konce_ctlproto_op_progress_ms(const konce_ctlproto_op *op);
/* Writes one progress line: bytes acknowledged, the rate since the last line, the node's estimate. */
void konce_ctlproto_op_progress(konce_ctlproto_op *op);
/* The client is gone: out is not called again; the op frees itself at its outcome. */
void konce_ctlproto_op_abandon(konce_ctlproto_op *op);

/* Provided by the I/O layer (node/io/node.c): konce_node_send() of a body the node takes over
 * instead of copying (konce_nodecore_send_framed: msg is KONCE_MSG_BODY bytes of room, then len bytes,
 * allocated through konce_nodecore_env(); the node's on 0, still the caller's on a negative errno). */
int konce_node_send_framed(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, uint8_t *msg, size_t len,
			   const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle);
/* Provided by the I/O layer (node/io/node_storew.c): runs fn(st, arg, msg, msglen) on the node's
 * store writer thread, with its connection, then done(arg, fn's result, msg) in the node's event
 * loop (node_storew.h).  0, or -EIO (no store), -ENOBUFS (too many waiting), -ENOMEM: neither runs. */
int konce_node_store_call(konce_node *n, int (*fn)(konce_store *st, void *arg, char *msg, size_t msglen),
			  void (*done)(void *arg, int err, const char *msg), void *arg);
/* The group calls that do not wait for SQLite (konce_node_group_create_async, _join_async,
 * _log_async) are public: include/konce/group.h. */

#endif
