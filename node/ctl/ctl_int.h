/* ctl_int.h - shared by the files of the control protocol (ctlproto.h): each request family is
 * answered by one file, and every answer is a JSON object the dispatcher (ctlproto.c) writes. */
#ifndef KONCE_CTL_INT_H
#define KONCE_CTL_INT_H

#include <jansson.h>

#include "node/ctl/ctlproto.h"

/* {"ok": false, "error": message, "errno": "ENAME"} (the errno names of docs/CONTROL.md) */
json_t *ctl_error(int e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A public key's text (43 characters of base64url) as a JSON string. */
json_t *ctl_key_json(const uint8_t pk[KONCE_KEY_BYTES]);
/* Writes r as one compact line through out and frees it. */
void ctl_write(json_t *r, konce_ctlproto_out_fn out, void *octx, bool final);

/* ctl_status.c: "status", "peers", "alias" */
json_t *ctl_status(const konce_ctlproto_host *h);
json_t *ctl_peers(const konce_ctlproto_host *h, json_t *req);
json_t *ctl_alias(const konce_ctlproto_host *h, json_t *req);

/* ctl_send.c: "connect", "send", "ping".  NULL when the op is pending (*op set), else the answer. */
json_t *ctl_send_start(const konce_ctlproto_host *h, json_t *req, const char *cmd, konce_ctlproto_out_fn out,
		       void *octx, konce_ctlproto_op **op);

/* ctl_group.c: "group.*" */
json_t *ctl_group(const konce_ctlproto_host *h, const char *cmd, json_t *req);
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
