/* ctl_line.c - the control-socket client's receive side: one line at a time out of the bytes
 * received so far (ctl.h, docs/CONTROL.md).  No I/O here, so the fuzz target drives the same code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/ctl.h"

int konce_ctl_take_line(struct konce_ctl *c, json_t **resp, char *err, size_t errlen)
{
	*resp = NULL;
	char *nl = memchr(c->buf, '\n', c->len);
	if (!nl) {
		if (c->len >= KONCE_CTL_LINE_MAX) {
			snprintf(err, errlen, "the node's response is longer than %d bytes", KONCE_CTL_LINE_MAX);
			return -EMSGSIZE;
		}
		return KONCE_CTL_MORE;
	}
	size_t linelen = (size_t)(nl - c->buf);
	json_error_t je;
	json_t *r = json_loadb(c->buf, linelen, JSON_REJECT_DUPLICATES, &je);
	c->len -= linelen + 1;
	memmove(c->buf, nl + 1, c->len);
	if (!r || !json_is_object(r)) {
		snprintf(err, errlen, "the node sent a response that is not a JSON object%s%s", r ? "" : ": ",
			 r ? "" : je.text);
		json_decref(r);
		return -EPROTO;
	}
	json_t *progress = json_object_get(r, "progress");
	if (json_is_object(progress) && !json_object_get(r, "ok")) {
		/* a progress line: the request is alive, its response is still to come */
		if (c->on_progress)
			c->on_progress(c->progress_ctx, progress);
		json_decref(r);
		return KONCE_CTL_PROGRESS;
	}
	*resp = r;
	return KONCE_CTL_REPLY;
}
