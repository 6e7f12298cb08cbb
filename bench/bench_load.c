/* bench_load.c - what the node's start-time load of the presence store costs (node_io.c
 * load_known): every stored key with its newest address, read before the loop serves anything.
 *
 * Fills a store with COUNT keys, key i with i % 5 addresses (0 to 4: a fifth have none, two on
 * average), then times, on one open store, the ways to read it:
 *   - the baseline: a bare `SELECT count(*) FROM peers` on its own connection to the same file,
 *     stepped to the end (SQLite walking the smallest index of the table, nothing copied out);
 *   - the walk alone: konce_store_peers_each with a callback that does nothing (every record
 *     copied out, no address);
 *   - the per-key load: konce_store_peers_each, and konce_store_addrs(pk, 1) for each key: COUNT + 1
 *     queries (how the node loaded before konce_store_peers_each_newest);
 *   - the one-query load: konce_store_peers_each_newest.
 * Each is run three times, the four alternating, and the best time is printed, with the time per
 * key and the ratio to the baseline.  The two loads must visit the same keys in the same order with
 * the same newest addresses (a BLAKE2b over what each saw): the bench fails if they do not.
 * The node core's own work per key (konce_nodecore_known_load) is not in these figures.
 * Usage: bench_load [COUNT]   (default 100000; 5000 with BENCH_QUICK=1; the database lives in a
 * temporary directory)
 */
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/loop.h"
#include "store/store.h"

static void key(uint8_t pk[32], uint32_t i)
{
	crypto_generichash(pk, 32, (const uint8_t *)&i, sizeof(i), NULL, 0);
}

struct load {
	konce_store *st;
	crypto_generichash_state h;
	unsigned keys, with_addr;
};

static void saw(struct load *l, const konce_peer_rec *r, const konce_store_addr *a)
{
	uint8_t have = a != NULL;
	crypto_generichash_update(&l->h, r->pk, 32);
	crypto_generichash_update(&l->h, &have, 1);
	if (a) {
		crypto_generichash_update(&l->h, a->addr.ip, 16);
		crypto_generichash_update(&l->h, (const uint8_t *)&a->addr.port, sizeof(a->addr.port));
		l->with_addr++;
	}
	l->keys++;
}

static int walk_cb(void *ctx, const konce_peer_rec *r)
{
	struct load *l = ctx;
	(void)r;
	l->keys++;
	return 0;
}

static int per_key_cb(void *ctx, const konce_peer_rec *r)
{
	struct load *l = ctx;
	konce_store_addr a;
	int n = konce_store_addrs(l->st, r->pk, &a, 1);
	if (n < 0)
		return 1;
	saw(l, r, n == 1 ? &a : NULL);
	return 0;
}

static int newest_cb(void *ctx, const konce_peer_rec *r, const konce_store_addr *newest)
{
	saw(ctx, r, newest);
	return 0;
}

enum { BASELINE, WALK, PER_KEY, ONE_QUERY, WAYS };
static const char *const way_name[WAYS] = {
	"SELECT count(*) FROM peers", "peers_each, no address", "peers_each + addrs per key",
	"peers_each_newest (one query)",
};

/* One timed run of a way; fills digest (loads) and returns seconds, or -1 on a failure. */
static double run(int way, konce_store *st, sqlite3_stmt *count_stmt, unsigned count, uint8_t digest[32],
		  unsigned *with_addr)
{
	struct load l = {.st = st};
	crypto_generichash_init(&l.h, NULL, 0, 32);
	double t0 = bench_now_s();
	int rc = 0;
	switch (way) {
	case BASELINE:
		rc = sqlite3_step(count_stmt) == SQLITE_ROW ? (int)sqlite3_column_int64(count_stmt, 0) : -1;
		sqlite3_reset(count_stmt);
		break;
	case WALK:
		rc = konce_store_peers_each(st, 0, walk_cb, &l);
		break;
	case PER_KEY:
		rc = konce_store_peers_each(st, 0, per_key_cb, &l);
		break;
	case ONE_QUERY:
		rc = konce_store_peers_each_newest(st, 0, newest_cb, &l);
		break;
	}
	double dt = bench_now_s() - t0;
	crypto_generichash_final(&l.h, digest, 32);
	*with_addr = l.with_addr;
	if (rc != (int)count || (way != BASELINE && l.keys != count)) {
		fprintf(stderr, "bench_load: %s visited %d keys (%u seen), not %u\n", way_name[way], rc, l.keys, count);
		return -1;
	}
	return dt;
}

static int fill(konce_store *st, unsigned count)
{
	char err[256];
	uint8_t pk[32];
	for (uint32_t i = 0; i < count; i++) {
		key(pk, i);
		unsigned na = i % 5;
		for (unsigned j = 0; j < (na ? na : 1); j++) {
			konce_addr a;
			uint8_t ip4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
			konce_addr_from_v4(&a, ip4, (uint16_t)(7000 + j));
			/* a key without addresses is still seen (trusted without one) */
			int64_t t = 1700000000 + i * 10 + (int64_t)((j * 3 + i) % 4);
			for (int tries = 0; tries < 2; tries++) {
				int rc = na ? konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, t, 1000 + i % 5000)
					    : konce_store_note_trusted(st, pk, NULL, t);
				if (rc == 0)
					break;
				if (rc != -ENOBUFS || tries || konce_store_flush(st, err, sizeof(err))) {
					fprintf(stderr, "bench_load: cannot write: %s\n", rc == -ENOBUFS ? err : strerror(-rc));
					return -1;
				}
			}
		}
	}
	if (konce_store_flush(st, err, sizeof(err))) {
		fprintf(stderr, "bench_load: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : bench_quick() ? 5000 : 100000;
	char dir[] = "/tmp/konce-bench-load-XXXXXX", path[80], err[256];
	konce_store *st = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *cs = NULL;
	int ret = 1;

	if (sodium_init() < 0 || count < 5 || !mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/peers.db", dir);
	if (konce_store_open(&st, path, 0, err, sizeof(err))) {
		fprintf(stderr, "bench_load: %s\n", err);
		goto out;
	}
	konce_store_set_limits(st, count, 0);
	double t0 = bench_now_s();
	if (fill(st, count))
		goto out;
	printf("bench_load: %u keys, %u with addresses (1 to 4 each), written in %.1f s%s\n", count,
	       count - (count + 4) / 5, bench_now_s() - t0,
	       bench_quick() ? " [BENCH_QUICK: a smoke run, not figures]" : "");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM peers", -1, &cs, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_load: baseline connection: %s\n", sqlite3_errmsg(db));
		goto out;
	}

	double best[WAYS];
	uint8_t digest[WAYS][32];
	unsigned with_addr[WAYS];
	for (int w = 0; w < WAYS; w++)
		best[w] = 1e9;
	for (int pass = 0; pass < 3; pass++)
		for (int w = 0; w < WAYS; w++) {
			double dt = run(w, st, cs, count, digest[w], &with_addr[w]);
			if (dt < 0)
				goto out;
			if (dt < best[w])
				best[w] = dt;
		}
	if (memcmp(digest[PER_KEY], digest[ONE_QUERY], 32) || with_addr[PER_KEY] != with_addr[ONE_QUERY] ||
	    with_addr[ONE_QUERY] != count - (count + 4) / 5) {
		fprintf(stderr, "bench_load: the two loads disagree (%u and %u keys with an address)\n",
			with_addr[PER_KEY], with_addr[ONE_QUERY]);
		goto out;
	}
	printf("  best of 3, alternating; the same keys, order and newest addresses from both loads\n");
	for (int w = 0; w < WAYS; w++)
		printf("  %-32s %9.1f ms  %7.3f us/key  %6.1fx baseline%s\n", way_name[w], best[w] * 1e3,
		       best[w] * 1e6 / count, best[w] / (best[BASELINE] > 0 ? best[BASELINE] : 1e-9),
		       w == BASELINE ? "  <- baseline" : "");
	printf("  one query vs per key: %.2fx faster\n",
	       best[PER_KEY] / (best[ONE_QUERY] > 0 ? best[ONE_QUERY] : 1e-9));
	ret = 0;
out:
	sqlite3_finalize(cs);
	sqlite3_close(db);
	if (st)
		konce_store_close(st, err, sizeof(err));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
