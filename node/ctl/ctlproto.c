/* ctlproto.c - the control protocol's dispatcher (ctlproto.h): parses a request line, hands it to
 * the file that answers its command, and writes the answer as one line of compact JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

json_t *ctl_error(int e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *name = e == EHOSTUNREACH ? "EHOSTUNREACH" : e == EINVAL ? "EINVAL" : e == ENOENT ? "ENOENT"
			 : e == ETIMEDOUT ? "ETIMEDOUT" : e == EMSGSIZE ? "EMSGSIZE" : e == EEXIST ? "EEXIST"
			 : e == ENOBUFS ? "ENOBUFS" : e == ECONNREFUSED ? "ECONNREFUSED" : e == EPROTO ? "EPROTO"
			 : e == ECONNRESET ? "ECONNRESET" : e == EACCES ? "EACCES" : "EIO";
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "errno", name);
}

json_t *ctl_key_json(const uint8_t pk[KONCE_KEY_BYTES])
{
	char t[KONCE_KEY_TEXT_LEN + 1];
	konce_key_to_text(t, pk);
	return json_string(t);
}

void ctl_write(json_t *r, konce_ctlproto_out_fn out, void *octx, bool final)
{
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	out(octx, s, s ? strlen(s) : 0, final); /* s NULL: out of memory, nothing to write */
	free(s);
}

konce_ctlproto_op *ctl_op_new(const konce_ctlproto_host *h, konce_ctlproto_out_fn out, void *octx, const char *cmd,
			      const char *name)
{
	konce_ctlproto_op *op = calloc(1, sizeof *op);
	if (!op || !(op->name = strdup(name ? name : ""))) {
		free(op);
		return NULL;
	}
	op->h = h;
	op->out = out;
	op->octx = octx;
	snprintf(op->cmd, sizeof op->cmd, "%s", cmd);
	return op;
}

void ctl_op_answer(konce_ctlproto_op *op, json_t *r)
{
	konce_ctlproto_out_fn out = op->out;
	void *octx = op->octx;
	json_decref(op->answer);
	free(op->name);
	free(op); /* before the response line (ctlproto.h) */
	if (out)
		ctl_write(r, out, octx, true);
	else
		json_decref(r);
}

int konce_ctlproto_handle(const konce_ctlproto_host *h, const char *line, konce_ctlproto_out_fn out, void *octx,
			  konce_ctlproto_op **op)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *r = NULL;
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	*op = NULL;
	if (!req || !json_is_object(req))
		r = ctl_error(EINVAL, "request is not a JSON object: %s", req ? "wrong type" : jerr.text);
	else if (!cmd)
		r = ctl_error(EINVAL, "request has no \"cmd\"");
	else if (!strcmp(cmd, "status"))
		r = ctl_status(h);
	else if (!strcmp(cmd, "peers"))
		r = ctl_peers(h, req);
	else if (!strcmp(cmd, "alias"))
		r = ctl_alias(h, req, out, octx, op);
	else if (!strcmp(cmd, "path") || !strcmp(cmd, "netcheck"))
		r = ctl_trav(h, cmd, req);
	else if (!strcmp(cmd, "connect") || !strcmp(cmd, "send") || !strcmp(cmd, "ping"))
		r = ctl_send_start(h, req, cmd, out, octx, op);
	else if (!strncmp(cmd, "group.", 6))
		r = ctl_group(h, cmd, req, out, octx, op);
	else
		r = ctl_error(EINVAL, "unknown command '%s'", cmd);
	json_decref(req);
	if (*op)
		return KONCE_CTLPROTO_PENDING;
	ctl_write(r, out, octx, true);
	return KONCE_CTLPROTO_DONE;
}

void konce_ctlproto_too_long(konce_ctlproto_out_fn out, void *octx)
{
	ctl_write(ctl_error(EMSGSIZE, "request longer than %d bytes", KONCE_CTLPROTO_LINE_MAX), out, octx, true);
}
