/* bench_presence.c - what it costs to know many peers: 100,000 presences in the store.
 *
 * Prints, from one run:
 *   - the process's resident memory when empty (the baseline), after opening the store, and after
 *     writing and reading 100,000 presences, as bytes per presence above the baseline;
 *   - lookup cost by key (random order, cold and warm), beside the cost of the baseline operation a
 *     lookup must at least do: hashing the key (crypto_generichash of 32 bytes).
 * Usage: bench_presence [COUNT]   (default 100000; the database lives in a temporary directory)
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void key(uint8_t pk[32], uint32_t i)
{
	memset(pk, 0, 32);
	crypto_generichash(pk, 32, (const uint8_t *)&i, sizeof(i), NULL, 0);
}

int main(int argc, char **argv)
{
	uint32_t count = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	char dir[] = "/tmp/konce-bench-XXXXXX", path[128], err[768];
	konce_store *st;
	uint8_t pk[32];
	konce_addr a;

	if (sodium_init() < 0 || !mkdtemp(dir) || count == 0)
		return 1;
	snprintf(path, sizeof(path), "%s/peers.db", dir);
	long base = rss_kib();
	if (konce_store_open(&st, path, 0, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	long opened = rss_kib();
	konce_addr_parse(&a, "198.51.100.7:7807");

	double t0 = now_s();
	for (uint32_t i = 0; i < count; i++) {
		key(pk, i);
		a.port = (uint16_t)(1024 + i % 60000);
		if (konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, 1700000000 + i, 1000 + i % 5000) == -ENOBUFS ||
		    (i % 10000 == 9999)) {
			if (konce_store_flush(st, err, sizeof(err))) {
				fprintf(stderr, "%s\n", err);
				return 1;
			}
			if (i % 10000 != 9999 && konce_store_note_seen(st, pk, &a, KONCE_ADDR_SEEN, 1700000000 + i, 0))
				return 1;
		}
	}
	if (konce_store_flush(st, err, sizeof(err)))
		return 1;
	double t_write = now_s() - t0;
	long written = rss_kib();

	/* lookups in a random order */
	uint32_t *order = malloc(count * sizeof(*order));
	for (uint32_t i = 0; i < count; i++)
		order[i] = i;
	for (uint32_t i = count - 1; i > 0; i--) {
		uint32_t j = randombytes_uniform(i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	konce_peer_rec r;
	double t_cold = 0, t_warm = 0;
	for (int pass = 0; pass < 2; pass++) {
		t0 = now_s();
		for (uint32_t i = 0; i < count; i++) {
			key(pk, order[i]);
			if (konce_store_peer_get(st, pk, &r))
				return fprintf(stderr, "lookup %u missing\n", order[i]), 1;
		}
		*(pass ? &t_warm : &t_cold) = now_s() - t0;
	}
	long looked = rss_kib();

	/* baseline: the hashing every lookup above also did */
	volatile uint8_t sink = 0;
	t0 = now_s();
	for (uint32_t i = 0; i < count; i++) {
		key(pk, order[i]);
		sink ^= pk[0];
	}
	double t_hash = now_s() - t0;
	(void)sink;

	printf("presences:                 %u (database %s)\n", count, path);
	printf("rss empty process:         %ld KiB   <- baseline\n", base);
	printf("rss store open, empty:     %ld KiB   (+%ld)\n", opened, opened - base);
	printf("rss after writes:          %ld KiB   (+%ld)\n", written, written - base);
	printf("rss after lookups:         %ld KiB   (+%ld) = %.1f bytes per presence above baseline\n", looked,
	       looked - base, (double)(looked - base) * 1024.0 / count);
	printf("write (batched notes):     %.2f us per presence\n", t_write * 1e6 / count);
	printf("lookup by key, first pass: %.2f us\n", t_cold * 1e6 / count);
	printf("lookup by key, warm:       %.2f us   vs hashing the key alone %.3f us (baseline) -> %.0fx\n",
	       t_warm * 1e6 / count, t_hash * 1e6 / count, t_warm / (t_hash > 0 ? t_hash : 1e-9));
	printf("note: inactive presences live on disk; resident memory is bounded by SQLite's page cache, not by the count\n");
	konce_store_close(st, err, sizeof(err));
	free(order);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}
