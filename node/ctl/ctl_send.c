/* ctl_send.c - the control requests that wait for the network: "connect", "send" and "ping"
 * (docs/CONTROL.md).  Each becomes one konce_node_send(); its outcome callback writes the response
 * line.  A send that asks for progress ("progress_ms") gets progress lines, {"progress": {...}}
 * without "ok", each time the host calls konce_ctlproto_op_progress(): how much the peer has
 * acknowledged, the rate since the last line and the node's estimate of when the outcome is known.
 * The op's life is drawn in ctlproto.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/secmem.h"
#include "node/ctl/ctl_int.h"
#include "node/transport/keytext.h"

/* "peer" is key text or a petname.  0, or an error response in *err. */
static int resolve_peer(const konce_ctlproto_host *h, json_t *req, uint8_t pk[KONCE_KEY_BYTES], json_t **err)
{
	const char *s = json_string_value(json_object_get(req, "peer"));
	if (!s || !*s) {
		*err = ctl_error(EINVAL, "missing \"peer\": a public key or a petname");
		return -1;
	}
	if (konce_key_from_text(pk, s) == 0)
		return 0;
	/* the core's copy of the store's petnames (docs/STORE.md): no SQLite on the loop */
	if (h->store && konce_nodecore_known_by_name(h->core, s, pk) == 0)
		return 0;
	*err = ctl_error(ENOENT, "'%s' is neither a public key (43 characters of base64url) nor a known petname", s);
	return -1;
}

static json_t *outcome_error(const konce_ctlproto_op *op, int reason)
{
	int e = reason == KONCE_REASON_UNREACHABLE ? EHOSTUNREACH : reason == KONCE_REASON_TIMED_OUT ? ETIMEDOUT
	      : reason == KONCE_REASON_TOO_LARGE ? EMSGSIZE : reason == KONCE_REASON_REFUSED ? ECONNREFUSED
	      : reason == KONCE_REASON_PROTOCOL ? EPROTO : reason == KONCE_REASON_INTRO_REFUSED ? EACCES : ECONNRESET;
	/* A bare "unreachable" leaves a user behind a UDP-blocking NAT guessing: say where and how long. */
	if (reason == KONCE_REASON_UNREACHABLE)
		return ctl_error(e, "unreachable: no answer%s%s within %.1f s", op->addr[0] ? " from " : "", op->addr,
				 (double)(op->h->now_us(op->h->ctx) - op->start_us) / 1e6);
	return ctl_error(e, "%s", konce_reason_str(reason));
}

/* Frees a send op, with what it still holds: the file's buffer (if the node has not taken it), its
 * path and hint. */
static void op_free(konce_ctlproto_op *op)
{
	if (op->framed)
		konce_env_free(op->env, op->framed);
	free(op->name);
	free(op->hint);
	free(op);
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	konce_ctlproto_op *op = ctx;
	konce_ctlproto_out_fn out = op->out;
	void *octx = op->octx;
	(void)data;
	if (!out) { /* abandoned: nobody to tell, and the host may be gone */
		op_free(op);
		return;
	}
	const konce_ctlproto_host *h = op->h;
	double rtt = (double)(h->now_us(h->ctx) - op->start_us) / 1000.0;
	json_t *r;
	if (outcome == KONCE_OUTCOME_FAILED) {
		r = outcome_error(op, reason);
	} else if (!strcmp(op->cmd, "send")) {
		const char *o = outcome == KONCE_OUTCOME_REPLIED ? "replied" : outcome == KONCE_OUTCOME_DELIVERED ? "delivered"
												: "unknown";
		r = json_pack("{s:b, s:s, s:o}", "ok", 1, "outcome", o,
			      "rtt_ms", outcome == KONCE_OUTCOME_UNKNOWN ? json_null() : json_real(rtt));
	} else if (!strcmp(op->cmd, "ping")) {
		r = json_pack("{s:b, s:f, s:I}", "ok", 1, "rtt_ms", rtt, "bytes", (json_int_t)len);
	} else { /* connect */
		konce_ncpeer *p = konce_nodecore_peer_find(h->core, op->pk);
		char as[KONCE_ADDR_STRLEN];
		r = json_pack("{s:b, s:o, s:s, s:f}", "ok", 1, "public_key", ctl_key_json(op->pk), "address",
			      p ? konce_addr_str(&p->addr, as) : "", "rtt_ms", rtt);
	}
	op_free(op);
	ctl_write(r, out, octx, true);
}

unsigned konce_ctlproto_op_progress_ms(const konce_ctlproto_op *op)
{
	return op->progress_ms;
}

void konce_ctlproto_op_abandon(konce_ctlproto_op *op)
{
	op->out = NULL;
	op->octx = NULL;
}

void konce_ctlproto_op_progress(konce_ctlproto_op *op)
{
	const konce_ctlproto_host *h = op->h;
	konce_progress pr;
	if (!op->out)
		return; /* nobody to tell; the outcome frees the op */
	uint64_t now = h->now_us(h->ctx);
	if (konce_node_outcome_progress(h->node, op->handle, &pr)) /* delivered (a reply may be due) or still in the handshake: what is known */
		pr = (konce_progress){.acked_bytes = op->last_acked, .total_bytes = op->bytes, .eta_ms = -1};
	/* the rate over this line's interval, which the client chose: a sample of the op, not the node */
	double secs = (double)(now - op->last_us) / 1e6;
	double rate = secs > 0 && pr.acked_bytes >= op->last_acked ? (double)(pr.acked_bytes - op->last_acked) / secs : 0;
	json_t *p = json_pack("{s:{s:I, s:I, s:f, s:o, s:I}}", "progress", "acked_bytes", (json_int_t)pr.acked_bytes,
			      "total_bytes", (json_int_t)pr.total_bytes, "rate_bytes_per_s", rate, "eta_ms",
			      pr.eta_ms >= 0 ? json_integer(pr.eta_ms) : json_null(), "elapsed_ms",
			      (json_int_t)((now - op->start_us) / 1000));
	if (p)
		ctl_write(p, op->out, op->octx, false);
	op->last_acked = pr.acked_bytes;
	op->last_us = now;
}

/* Opens a regular file of at most KONCE_MESSAGE_MAX bytes and allocates the buffer the node takes
 * over (konce_node_send_framed): KONCE_MSG_BODY bytes of room for the message header, then the
 * file's, in memory of env.  Nothing of the file is read here (the host's read_file).
 * 0 with *fd open, or an error response in *err. */
static int open_file(const konce_env *env, const char *path, int *fd, uint8_t **out, size_t *len, json_t **err)
{
	struct stat sb;
	int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f < 0 || fstat(f, &sb) < 0) {
		*err = ctl_error(errno == ENOENT ? ENOENT : EIO, "%s: %s", path, strerror(errno));
		if (f >= 0)
			close(f);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > KONCE_MESSAGE_MAX) {
		*err = ctl_error(S_ISREG(sb.st_mode) ? EMSGSIZE : EINVAL, "%s: %s", path,
				 S_ISREG(sb.st_mode) ? "larger than a message may be (16 MiB)" : "not a regular file");
		close(f);
		return -1;
	}
	*len = (size_t)sb.st_size;
	if (!(*out = konce_env_alloc_raw(env, KONCE_MSG_BODY + *len))) {
		*err = ctl_error(ENOMEM, "%s: out of memory", path);
		close(f);
		return -1;
	}
	*fd = f;
	return 0;
}

/* The refusal of a file whose read failed (e: a negative errno). */
static json_t *read_error(const char *path, int e)
{
	return ctl_error(EIO, "%s: %s", path, e == -EIO ? "short read (the file shrank)" : strerror(-e));
}

/* "group" (the key text of the peer's limited-circulation group) and "identity" ("master" or
 * "per-server"): settings of the node's dials to pk from this request on (docs/CONTROL.md).  NULL,
 * or an error response. */
static json_t *peer_settings(const konce_ctlproto_host *h, json_t *req, const uint8_t pk[KONCE_KEY_BYTES])
{
	json_t *g = json_object_get(req, "group"), *id = json_object_get(req, "identity");
	const char *ids = json_string_value(id);
	int mode = !ids ? KONCE_NC_ID_UNSET : !strcmp(ids, "master") ? KONCE_NC_ID_MASTER
					 : !strcmp(ids, "per-server") ? KONCE_NC_ID_PER_SERVER : -1;
	if (id && mode <= KONCE_NC_ID_UNSET)
		return ctl_error(EINVAL, "\"identity\" is \"master\" or \"per-server\"");
	if (g) {
		const char *t = json_string_value(g);
		uint8_t *key = konce_secmem_alloc(KONCE_KEY_BYTES, NULL);
		if (!key)
			return ctl_error(ENOMEM, "cannot lock memory for the group key");
		int e = !t || konce_key_decode_(key, t, strlen(t)) ? -EINVAL : konce_nodecore_peer_group(h->core, pk, key);
		konce_secmem_free(key, KONCE_KEY_BYTES);
		if (e == -EINVAL)
			return ctl_error(EINVAL, "\"group\" is not a key's text (43 characters of base64url)");
		if (e)
			return ctl_error(-e, "cannot keep the peer's group key: %s", strerror(-e));
	}
	if (mode > KONCE_NC_ID_UNSET) {
		int e = konce_nodecore_peer_identity(h->core, pk, mode);
		if (e)
			return ctl_error(-e, "cannot keep the peer's identity setting: %s", strerror(-e));
	}
	return NULL;
}

/* What the request sends: the text, the ping's pattern (in *body, the caller's to free) or the file
 * (*fd open, and *framed, open_file's buffer, its bytes not read yet, to send with
 * konce_node_send_framed), and its class.  0, or an error response in *err. */
static int payload(const konce_ctlproto_host *h, json_t *req, const char *cmd, konce_send_opts *o, uint16_t *klass,
		   uint8_t **body, uint8_t **framed, int *fd, const uint8_t **data, size_t *len, json_t **err)
{
	if (!strcmp(cmd, "send")) {
		const char *text = json_string_value(json_object_get(req, "text"));
		const char *file = json_string_value(json_object_get(req, "file"));
		*klass = KONCE_CLASS_TEXT;
		if (file) {
			if (open_file(konce_nodecore_env(h->core), file, fd, framed, len, err))
				return -1;
			/* big files take the background class if the node says so and the request does not */
			o->background = h->file_background_bytes && *len >= h->file_background_bytes;
		} else if (text) {
			*data = (const uint8_t *)text;
			*len = strlen(text);
		} else {
			*err = ctl_error(EINVAL, "missing \"text\" or \"file\"");
			return -1;
		}
	} else if (!strcmp(cmd, "ping")) {
		json_int_t size = json_integer_value(json_object_get(req, "size"));
		if (size < 0 || size > KONCE_ECHO_MAX) {
			*err = ctl_error(EMSGSIZE, "ping size must be 0..%d bytes", KONCE_ECHO_MAX);
			return -1;
		}
		*len = (size_t)size;
		if (*len && !(*body = malloc(*len))) {
			*err = ctl_error(ENOMEM, "out of memory");
			return -1;
		}
		for (size_t i = 0; i < *len; i++)
			(*body)[i] = (uint8_t)i;
		*data = *body;
	}
	return 0;
}

/* Starts the send of op: data (len op->bytes), or op->framed (the node's on success).  NULL (the
 * outcome callback answers), or an error response. */
static json_t *send_now(konce_ctlproto_op *op, const uint8_t *data)
{
	const konce_ctlproto_host *h = op->h;
	int e;
	if (op->framed) {
		if (!(e = konce_node_send_framed(h->node, op->pk, op->klass, op->framed, op->bytes, &op->o, on_outcome, op,
						 &op->handle)))
			op->framed = NULL; /* the node's now */
	} else
		e = konce_node_send(h->node, op->pk, op->klass, data, op->bytes, &op->o, on_outcome, op, &op->handle);
	if (e == -EHOSTUNREACH)
		return ctl_error(EHOSTUNREACH, "no address known for that peer: give one (KEY@HOST:PORT or --addr)");
	if (e == -EINVAL && op->o.addr_hint)
		return ctl_error(EINVAL, "bad address '%s': use a numeric IP:PORT or [IPv6]:PORT", op->o.addr_hint);
	if (e)
		return ctl_error(-e, "%s", strerror(-e));
	konce_ncpeer *p = konce_nodecore_peer_find(h->core, op->pk);
	if (p && p->addr.port)
		konce_addr_str(&p->addr, op->addr);
	return NULL;
}

/* The file of a send --file has been read (host->read_file's done, on the loop): the send starts, or
 * the read's or the send's error is the response line. */
static void file_read(void *ctx, int e)
{
	konce_ctlproto_op *op = ctx;
	konce_ctlproto_out_fn out = op->out;
	void *octx = op->octx;
	if (!out) { /* abandoned while reading: nobody to tell, and the host may be gone */
		op_free(op);
		return;
	}
	json_t *err = e ? read_error(op->name, e) : send_now(op, NULL);
	if (!err)
		return; /* the outcome callback answers */
	op_free(op); /* before the response line (ctlproto.h) */
	ctl_write(err, out, octx, true);
}

json_t *ctl_send_start(const konce_ctlproto_host *h, json_t *req, const char *cmd, konce_ctlproto_out_fn out,
		       void *octx, konce_ctlproto_op **opp)
{
	json_t *err = NULL;
	uint8_t *body = NULL;
	const uint8_t *data = NULL;
	size_t len = 0;
	int fd = -1;
	konce_ctlproto_op *op = calloc(1, sizeof(*op));
	if (!op)
		return ctl_error(ENOMEM, "out of memory");
	op->env = konce_nodecore_env(h->core);
	op->klass = KONCE_CLASS_ECHO;
	if (resolve_peer(h, req, op->pk, &err))
		goto fail;
	if (!memcmp(op->pk, h->pk, KONCE_KEY_BYTES)) {
		err = ctl_error(EINVAL, "that is this node's own key");
		goto fail;
	}
	konce_send_opts *o = &op->o;
	*o = (konce_send_opts){.expect_reply = 1, .keep_session = !strcmp(cmd, "connect")};
	json_int_t progress_ms = json_integer_value(json_object_get(req, "progress_ms"));
	json_t *bg = json_object_get(req, "background");
	if (progress_ms && (progress_ms < 100 || progress_ms > 60000 || strcmp(cmd, "send"))) {
		err = ctl_error(EINVAL, "\"progress_ms\" is for send, from 100 to 60000");
		goto fail;
	}
	if (bg && !json_is_boolean(bg)) {
		err = ctl_error(EINVAL, "\"background\" is true or false");
		goto fail;
	}
	if ((err = peer_settings(h, req, op->pk)))
		goto fail;
	const char *hint = json_string_value(json_object_get(req, "addr"));
	if (hint && !(o->addr_hint = op->hint = strdup(hint))) {
		err = ctl_error(ENOMEM, "out of memory");
		goto fail;
	}
	json_int_t t = json_integer_value(json_object_get(req, "timeout_ms"));
	if (t > 0 && t < 3600000)
		o->reply_lifetime_ms = o->connect_timeout_ms = (uint32_t)t;
	if (payload(h, req, cmd, o, &op->klass, &body, &op->framed, &fd, &data, &len, &err))
		goto fail;
	if (bg)
		o->background = json_is_true(bg);
	snprintf(op->cmd, sizeof(op->cmd), "%s", cmd);
	op->h = h;
	op->out = out;
	op->octx = octx;
	op->start_us = op->last_us = h->now_us(h->ctx);
	op->bytes = len;
	op->progress_ms = (unsigned)progress_ms;
	if (op->framed) { /* the file: read first, off the loop where the host can */
		const char *path = json_string_value(json_object_get(req, "file"));
		if (!(op->name = strdup(path))) {
			err = ctl_error(ENOMEM, "out of memory");
			goto fail;
		}
		/* a host without a reader: the file is refused, never read on the loop */
		int e = h->read_file ? h->read_file(h->ctx, fd, op->framed + KONCE_MSG_BODY, len, file_read, op)
				     : -ENOTSUP;
		if (!e) {
			*opp = op; /* READING: the read's done goes on (file_read) */
			return NULL;
		}
		err = ctl_error(-e, "%s: cannot read it off the loop: %s", path, strerror(-e));
		goto fail;
	}
	err = send_now(op, data);
	free(body); /* copied by the node */
	body = NULL;
	if (err)
		goto fail;
	*opp = op; /* the outcome callback answers, from the node's event loop */
	return NULL;
fail:
	if (fd >= 0)
		close(fd);
	free(body);
	op_free(op);
	return err;
}
