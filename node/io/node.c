/* node.c - the public node API (include/konce/konce.h) over the node core: creating and freeing a
 * node (identity, store, logging), and each call handed to the core with the time, after which the
 * core is drained from the event loop's next turn (node_io_schedule), so that no callback ever runs
 * inside the call that caused it. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/keyfile.h"
#include "node/core/ncconf.h"
#include "node/core/ncdatadir.h"
#include "node/core/ncpublic.h"
#include "node/io/fileread.h"
#include "node/io/mtune.h"
#include "node/io/node_int.h"
#include "node/io/node_trav.h"
#include "node/base/secmem.h"

void node_log(struct konce_node *n, int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[1024];
	va_list ap;
	if (level > n->cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n->cfg.log) {
		n->cfg.log(n->cfg.log_ctx, level, line);
		return;
	}
	fprintf(stderr, "konce: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}

void node_log_line(void *ctx, int level, const char *line) { node_log(ctx, level, "%s", line); }

static int load_identity(struct konce_node *n, char *err, size_t errlen)
{
	char path[4096], kerr[512];
	struct stat sb;
	int e;

	snprintf(path, sizeof(path), "%s/identity.key", n->data_dir);
	if (stat(path, &sb) == 0) {
		e = konce_keyfile_load(path, &n->id, kerr, sizeof(kerr));
		if (e) {
			snprintf(err, errlen, "%s", kerr);
			return e;
		}
	} else {
		if ((e = konce_identity_generate(&n->id, konce_env_default())))
			return snprintf(err, errlen, "cannot generate an identity: %s", strerror(-e)), e;
		if ((e = konce_keyfile_save(path, n->id, false))) {
			snprintf(err, errlen, "cannot write the new identity to %s: %s", path, strerror(-e));
			return e;
		}
		node_log(n, KONCE_LOG_INFO, "generated a new identity in %s", path);
	}
	memcpy(n->pk, konce_identity_public(n->id), KONCE_KEY_BYTES);
	return 0;
}

static int open_store(struct konce_node *n)
{
	char serr[768];
	int e = konce_store_open(&n->store, n->db_path, 0, serr, sizeof(serr));
	if (e) {
		/* The node still serves from memory: peers it meets are simply not remembered. */
		node_log(n, KONCE_LOG_ERROR, "%s; running without a presence store", serr);
		n->store = NULL;
	}
	return e;
}

/* The data directory: node/core/ncdatadir.h says whether its mode will do. */
static int check_data_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "data directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	return konce_ncdatadir_check(dir, st.st_mode, err, errlen);
}

int konce_node_new(konce_node **out, struct event_base *base, const konce_node_config *cfg, char *err,
		   size_t errlen)
{
	struct konce_node *n;
	int e;

	*out = NULL;
	if (!base || !cfg) {
		snprintf(err, errlen, "konce_node_new: an event base and a configuration are required");
		return -EINVAL;
	}
	konce_mtune_bulk(); /* reuse message blocks' pages (mtune.c) */
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	konce_ncconf pc;
	if ((e = konce_ncconf_parse(&pc, cfg, err, errlen)))
		return e;
	n = calloc(1, sizeof(*n));
	if (!n) {
		konce_ncconf_free(&pc);
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	}
	n->base = base;
	n->cfg = pc.kept; /* the node owns its paths from here (pc's copies, taken) */
	n->data_dir = pc.data_dir;
	n->db_path = pc.db_path;
	n->listen = pc.listen;
	n->control_path = pc.control_path;
	pc.data_dir = pc.db_path = pc.listen = pc.control_path = NULL;
	n->started_us = node_now_us();

	if (mkdir(n->data_dir, 0700) < 0 && errno != EEXIST) {
		e = -errno;
		snprintf(err, errlen, "cannot create the data directory %s: %s", n->data_dir, strerror(errno));
		goto fail;
	}
	if ((e = check_data_dir(n->data_dir, err, errlen)))
		goto fail;
	if ((e = load_identity(n, err, errlen)))
		goto fail;
	open_store(n);
	e = node_io_start(n, &pc, err, errlen);
	konce_ncconf_free_key(&pc); /* the endpoint has its own locked copy */
	if (e)
		goto fail;
	if ((e = konce_ncconf_apply(&pc, n->core, err, errlen)))
		goto fail;
	if (pc.traversal) {
		if (errlen)
			err[0] = '\0';
		if ((e = konce_node_traversal(n, &cfg->traversal, err, errlen))) {
			if (errlen && !err[0])
				snprintf(err, errlen, "cannot start NAT traversal: %s", strerror(-e));
			goto fail;
		}
	}
	if (n->control_path && (e = node_control_start(n, n->control_path, err, errlen)))
		goto fail;
	konce_ncconf_free(&pc);
	*out = n;
	return 0;
fail:
	konce_ncconf_free(&pc);
	konce_node_free(n);
	return e;
}

int konce_node_free(konce_node *n)
{
	char serr[768];
	int e = 0;
	if (!n)
		return 0;
	node_control_stop(n);
	node_fileread_stop(n); /* the control's reads in flight end, their ops abandoned above */
	if (n->core) {
		/* pending sends complete now, with LOCAL_CLOSE (konce.h); the peer callback is not called */
		konce_nodecore_fail_all(n->core, KONCE_REASON_LOCAL_CLOSE);
		n->peer_fn = NULL;
		node_io_kick(n);
	}
	node_io_stop(n);
	node_trav_free(n); /* after the sessions closed: their CLOSE took the traversal paths */
	e = n->store_result; /* the store worker's last write (node_io_stop) */
	if (n->store) {
		int ce = konce_store_close(n->store, serr, sizeof(serr)); /* reads only: nothing queued */
		if (ce)
			node_log(n, KONCE_LOG_ERROR, "%s", serr);
		if (!e)
			e = ce;
	}
	konce_identity_free(n->id);
	free(n->data_dir);
	free(n->db_path);
	free(n->listen);
	free(n->control_path);
	free(n);
	return e;
}

void konce_node_public_key(const konce_node *n, uint8_t pk[KONCE_KEY_BYTES]) { memcpy(pk, n->pk, KONCE_KEY_BYTES); }

void konce_node_listen_addr(const konce_node *n, char *buf, size_t len)
{
	konce_addr a;
	char s[KONCE_ADDR_STRLEN];
	if (n->udp && konce_udp_local(n->udp, &a) == 0)
		snprintf(buf, len, "%s", konce_addr_str(&a, s));
	else
		snprintf(buf, len, "%s", n->listen);
}

int konce_node_on_peer(konce_node *n, konce_peer_fn fn, void *ctx)
{
	if (!n)
		return -EINVAL;
	n->peer_fn = fn;
	n->peer_ctx = ctx;
	return 0;
}

int konce_node_peers(const konce_node *n, konce_peer_info *out, size_t max)
{
	return (int)konce_nodecore_peers_public(n->core, out, max, node_now_us());
}

/* The core checks pk and identity (KONCE_IDENTITY_* are its KONCE_NC_ID_* values). */
int konce_node_peer_conf(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], int identity, const uint8_t *group_key)
{
	int e = n ? konce_nodecore_peer_identity(n->core, pk, identity) : -EINVAL;
	return e ? e : konce_nodecore_peer_group(n->core, pk, group_key);
}

void konce_node_get_stats(const konce_node *n, konce_node_stats *o)
{
	konce_nodecore_stats_public(n->core, node_now_us(), n->started_us, o);
}

/* ---- messages: the core decides, the loop reports (node_io_kick) --------------------------- */

/* What a call the core took (e == 0) queued is drained on the loop's next turn, never inside it. */
static int drain_later(konce_node *n, int e)
{
	if (e == 0)
		node_io_schedule(n);
	return e;
}

int konce_node_send(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, const uint8_t *data,
		    size_t len, const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle)
{
	return n ? drain_later(n, konce_nodecore_send(n->core, pk, klass, data, len, o, fn, ctx, node_now_us(), handle))
		 : -EINVAL;
}

int konce_node_send_framed(konce_node *n, const uint8_t pk[KONCE_KEY_BYTES], uint16_t klass, uint8_t *msg, size_t len,
			   const konce_send_opts *o, konce_outcome_fn fn, void *ctx, uint64_t *handle)
{
	return n ? drain_later(n, konce_nodecore_send_framed(n->core, pk, klass, msg, len, o, fn, ctx, node_now_us(),
							     handle))
		 : -EINVAL;
}

int64_t konce_node_outcome_eta(konce_node *n, uint64_t handle)
{
	return n ? konce_nodecore_outcome_eta(n->core, handle, node_now_us()) : -EINVAL;
}

int konce_node_outcome_progress(konce_node *n, uint64_t handle, konce_progress *out)
{
	return n ? konce_nodecore_outcome_progress(n->core, handle, out, node_now_us()) : -EINVAL;
}

int konce_node_handle(konce_node *n, uint16_t klass, konce_handler_fn fn, void *ctx)
{
	return n ? konce_nodecore_handle(n->core, klass, fn, ctx) : -EINVAL;
}

int konce_node_reply(konce_node *n, const konce_message *req, const uint8_t *data, size_t len)
{
	return n ? drain_later(n, konce_nodecore_reply(n->core, req, data, len, node_now_us())) : -EINVAL;
}
