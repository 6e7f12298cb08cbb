/* gstore_fake.h - an in-memory group store behind konce_ncgapi_host's store calls, for the unit tests
 * of the group API and of its host (test_ncgapi.c, test_ncghost.c).
 *
 * It keeps one row per group and records, in order, a letter for each call that reaches it (order:
 * A add, J add_join, R remove, E entries, P read; the test adds its host's own letters with
 * gstore_mark), and the host's log lines (gstore_log, gstore_logged).  add, each, delivered and
 * entries fail with the errno set in add_err, each_err, delivered_err, entries_err; a row's restore
 * and read with its restore_err and replay_err.
 *
 * A group's log: entry 1 is the group's own (an invitation), then application entries "e2", "e3",
 * ...  A read hands back the snapshot "state" at seq 1, then the entries from 2 up to upto and to
 * the row's delivery point.  Include it after <cmocka.h>: a full store fails the test. */
#ifndef KONCE_TEST_GSTORE_FAKE_H
#define KONCE_TEST_GSTORE_FAKE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "consensus/cwire.h"
#include "node/core/ncgapi.h"
#include "node/core/ncgroup.h"

enum { GSTORE_RECS = KONCE_NC_GROUPS_MAX + 8 };

struct gstore_rec {
	uint8_t gid[KONCE_CW_GROUP_ID];
	char name[KONCE_GROUP_NAME_MAX + 1];
	bool used, join;
	unsigned nkeys;   /* add_join: the token's members */
	uint64_t until;   /* add_join: the wall-clock time the join gives up */
	uint64_t delivered;
	int restore_err, replay_err;
};

typedef struct gstore {
	struct gstore_rec recs[GSTORE_RECS];
	int add_err, each_err, delivered_err, entries_err;
	char order[128];
	uint64_t restore_now, replay_upto; /* the last restore's clock, the last read's upto */
	char logs[8][256];
	unsigned nlog;
} gstore;

static inline void gstore_mark(gstore *f, char c)
{
	size_t n = strlen(f->order);
	if (n + 1 < sizeof f->order)
		f->order[n] = c;
}

static inline struct gstore_rec *gstore_rec_of(gstore *f, const uint8_t *gid)
{
	for (int i = 0; i < GSTORE_RECS; i++)
		if (f->recs[i].used && !memcmp(f->recs[i].gid, gid, KONCE_CW_GROUP_ID))
			return &f->recs[i];
	return NULL;
}

static inline struct gstore_rec *gstore_rec_new(gstore *f, const uint8_t *gid, const char *name)
{
	for (int i = 0; i < GSTORE_RECS; i++)
		if (!f->recs[i].used) {
			struct gstore_rec *r = &f->recs[i];
			memset(r, 0, sizeof *r);
			r->used = true;
			memcpy(r->gid, gid, KONCE_CW_GROUP_ID);
			snprintf(r->name, sizeof r->name, "%s", name ? name : "");
			return r;
		}
	fail_msg("the fake store is full");
	return NULL;
}

static inline unsigned gstore_count(const gstore *f)
{
	unsigned n = 0;
	for (int i = 0; i < GSTORE_RECS; i++)
		n += f->recs[i].used;
	return n;
}

static inline void gstore_log(gstore *f, const char *line)
{
	if (f->nlog < 8)
		snprintf(f->logs[f->nlog++], sizeof f->logs[0], "%s", line);
}

static inline bool gstore_logged(const gstore *f, const char *text)
{
	for (unsigned i = 0; i < f->nlog; i++)
		if (strstr(f->logs[i], text))
			return true;
	return false;
}

/* The log's entry seq, encoded into out. */
static inline size_t gstore_entry(uint64_t seq, uint8_t *out, size_t cap)
{
	static const uint8_t origin[KONCE_CW_ORIGIN] = "origin!";
	char d[16];
	uint8_t hash[KONCE_CW_INVITE_LEN + 1] = {0};
	memset(hash, 'h', KONCE_CW_INVITE_LEN);
	snprintf(d, sizeof d, "e%llu", (unsigned long long)seq);
	const char *data = seq == 1 ? (const char *)hash : d;
	konce_cw_entry e = {.kind = seq == 1 ? KONCE_CW_E_INVITE : KONCE_CW_E_APP, .origin = origin, .nonce = 42,
			    .len = (uint16_t)strlen(data), .data = (const uint8_t *)data};
	return konce_cw_entry_encode(&e, out, cap);
}

/* ---- konce_ncgapi_host's store calls (ctx: the gstore) ---------------------------------------- */

static inline int gstore_add(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], const char *name, char *err,
			     size_t errlen)
{
	gstore *f = ctx;
	gstore_mark(f, 'A');
	if (f->add_err) {
		snprintf(err, errlen, "no room on disk");
		return f->add_err;
	}
	gstore_rec_new(f, gid, name);
	return 0;
}

static inline int gstore_add_join(void *ctx, const konce_ctoken *t, const char *name, uint64_t until, char *err,
				  size_t errlen)
{
	gstore *f = ctx;
	(void)err, (void)errlen;
	gstore_mark(f, 'J');
	if (gstore_rec_of(f, t->group))
		return -EEXIST;
	struct gstore_rec *r = gstore_rec_new(f, t->group, name);
	r->join = true;
	r->nkeys = t->n;
	r->until = until;
	return 0;
}

static inline int gstore_remove(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], char *err, size_t errlen)
{
	gstore *f = ctx;
	(void)err, (void)errlen;
	gstore_mark(f, 'R');
	struct gstore_rec *r = gstore_rec_of(f, gid);
	if (!r)
		return -ENOENT;
	r->used = false;
	return 0;
}

static inline int gstore_delivered(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t *delivered)
{
	gstore *f = ctx;
	struct gstore_rec *r = gstore_rec_of(f, gid);
	if (f->delivered_err)
		return f->delivered_err;
	if (!r)
		return -ENOENT;
	*delivered = r->delivered;
	return 0;
}

static inline int gstore_entries(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t first, uint64_t last,
				 konce_ncgapi_entry_fn fn, void *fnctx)
{
	gstore *f = ctx;
	uint8_t buf[256];
	int n = 0;
	(void)gid;
	gstore_mark(f, 'E');
	if (f->entries_err)
		return f->entries_err;
	for (uint64_t q = first; q <= last; q++, n++)
		if (fn(fnctx, q, buf, gstore_entry(q, buf, sizeof buf)))
			break;
	return n;
}

static inline int gstore_each(void *ctx, konce_ncgapi_each_fn fn, void *fnctx)
{
	gstore *f = ctx;
	int n = 0;
	if (f->each_err)
		return f->each_err;
	for (int i = 0; i < GSTORE_RECS; i++)
		if (f->recs[i].used) {
			n++;
			if (fn(fnctx, f->recs[i].gid, f->recs[i].name, 0))
				break;
		}
	return n;
}

static inline int gstore_restore(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], konce_group *g, uint64_t now_us,
				 char *err, size_t errlen)
{
	gstore *f = ctx;
	struct gstore_rec *r = gstore_rec_of(f, gid);
	assert_non_null(g);
	f->restore_now = now_us;
	if (!r)
		return -ENOENT;
	if (r->restore_err)
		snprintf(err, errlen, "its records do not parse");
	return r->restore_err;
}

static inline int gstore_read(void *ctx, const uint8_t gid[KONCE_CW_GROUP_ID], uint64_t upto,
			      konce_ncgapi_snap_fn snap, konce_ncgapi_entry_fn fn, void *fnctx)
{
	gstore *f = ctx;
	struct gstore_rec *r = gstore_rec_of(f, gid);
	uint8_t buf[256];
	gstore_mark(f, 'P');
	f->replay_upto = upto;
	if (!r)
		return -ENOENT;
	if (r->replay_err)
		return r->replay_err;
	if (snap(fnctx, 1, (const uint8_t *)"state", 5))
		return -ECANCELED;
	for (uint64_t q = 2; q <= upto && q <= r->delivered; q++)
		if (fn(fnctx, q, buf, gstore_entry(q, buf, sizeof buf)))
			return -ECANCELED;
	return 0;
}

#endif
