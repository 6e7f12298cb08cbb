/* ctl_int.h - shared by the files of the control protocol (ctlproto.h): each request family is
 * answered by one file, and every answer is a JSON object the dispatcher (ctlproto.c) writes. */
#ifndef KONCE_CTL_INT_H
#define KONCE_CTL_INT_H

#include <jansson.h>

#include "node/ctl/ctlproto.h"

/* A request waiting for the network (ctl_send.c) or for the store writer (ctl_status.c "alias",
 * ctl_group.c "group.log"); its life is drawn in ctlproto.h. */
struct konce_ctlproto_op {
	const konce_ctlproto_host *h; /* not after the client went away (out NULL) */
	konce_ctlproto_out_fn out;    /* NULL once abandoned */
	void *octx;
	char cmd[16];
	uint8_t pk[KONCE_KEY_BYTES];
	uint64_t start_us;
	size_t bytes;                 /* send: the message's; group.join: the timeout, seconds */
	char addr[KONCE_ADDR_STRLEN]; /* where the handshake went, for the error message */
	uint64_t handle;
	unsigned progress_ms;         /* 0: no progress lines */
	uint64_t last_acked, last_us; /* at the last progress line */
	konce_nodecore *core;         /* alias: the core whose copy of the petnames follows the write */
	char *name;                   /* alias: the petname; group.*: the group's name */
	json_t *answer;               /* group.log: the entries the store writer reads */
	/* send --file while the file is read (READING in ctl_send.c): the send, kept for after */
	uint8_t *framed;              /* KONCE_MSG_BODY bytes of room, then the file; env's */
	const konce_env *env;         /* the node's, which framed comes from */
	konce_send_opts o;            /* its addr_hint is hint */
	char *hint;
	uint16_t klass;
};

/* {"ok": false, "error": message, "errno": "ENAME"} (the errno names of docs/CONTROL.md) */
json_t *ctl_error(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A public key's text (43 characters of base64url) as a JSON string. */
json_t *ctl_key_json(const uint8_t pk[KONCE_KEY_BYTES]);
/* Writes r as one compact line through out and frees it. */
void ctl_write(json_t *r, konce_ctlproto_out_fn out, void *octx, bool final);

/* An op waiting for the store writer, with the client's out and a copy of name (NULL: out of
 * memory); its answer r (NULL when the client is gone), written after the op is freed. */
konce_ctlproto_op *ctl_op_new(const konce_ctlproto_host *h, konce_ctlproto_out_fn out, void *octx, const char *cmd,
			      const char *name);
void ctl_op_answer(konce_ctlproto_op *op, json_t *r);

/* ctl_status.c: "status", "peers", "alias" (NULL when the op is pending, *op set: the petname's
 * write waits for the store writer) */
json_t *ctl_status(const konce_ctlproto_host *h);
json_t *ctl_peers(const konce_ctlproto_host *h, json_t *req);
json_t *ctl_alias(const konce_ctlproto_host *h, json_t *req, konce_ctlproto_out_fn out, void *octx,
		  konce_ctlproto_op **op);

/* ctl_send.c: "connect", "send", "ping".  NULL when the op is pending (*op set), else the answer. */
json_t *ctl_send_start(const konce_ctlproto_host *h, json_t *req, const char *cmd, konce_ctlproto_out_fn out,
		       void *octx, konce_ctlproto_op **op);

/* ctl_group.c: "group.*" (NULL when the op is pending, *op set: group.create's and group.join's
 * write, group.log's read) */
json_t *ctl_group(const konce_ctlproto_host *h, const char *cmd, json_t *req, konce_ctlproto_out_fn out, void *octx,
		  konce_ctlproto_op **op);
/* ctl_group.c: sets "out_reason" (a name, or null) and, while joining, "join_left_ms" and
 * "join_epoch" on a group's JSON object */
struct konce_group_info;
void ctl_group_progress(json_t *o, const struct konce_group_info *g);
/* ctl_group_status.c: the "group.status" answer for group `name` */
json_t *ctl_group_status(konce_node *n, const char *name);

/* ctl_trav.c: "path", "netcheck", and the traversal part of "status" (null without traversal) */
json_t *ctl_trav(const konce_ctlproto_host *h, const char *cmd, json_t *req);
json_t *ctl_trav_status(const konce_ctlproto_host *h);

#endif
