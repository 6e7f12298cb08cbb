/* bench_rendezvous.c - what the rendezvous core (nat/rendezvous.h) costs per datagram, and that the
 * cost does not grow with the number of registrations.
 *
 * One thread, no sockets: datagrams are encoded up front and fed to konce_rendezvous_input(); what the
 * core queues is drained with konce_rendezvous_poll() inside the timed loop (the node must send it).
 * Every key registers from its own IPv4 source, as real peers do, so the per-source rate limit is
 * charged but never refuses.  For tables of 1,024, 16,384 and 131,072 slots (the 1k / 10k / 100k
 * sizes rounded up to the power of two the core uses), from one run:
 *   - REGISTER of distinct keys until every one was offered (how many found a slot: the table is
 *     "full" when a key's 8-slot run has no free entry), then refreshes of the registered keys;
 *   - INTRO_REQUEST between registered pairs (an INTRO_OFFER to the target), for an unregistered requester
 *     (the flood case), for an unregistered target, and forged (a registered key from another
 *     address); malformed datagrams (a truncated REGISTER);
 *   - baselines measured in the same run: konce_rdvwire_decode() alone of the same datagrams, the
 *     keyed hash of a 32-byte key the table computes per lookup (crypto_shorthash, SipHash-2-4),
 *     and one dependent random read in a buffer as large as the core's memory (a cache miss);
 *   - konce_rendezvous_lookup() alone: minus its hash, it should cost a constant number of such reads
 *     at every table size (never a scan), which the last lines print;
 *   - the bytes the core allocated through its env (a counting env), per table slot, and that
 *     nothing was allocated after konce_rendezvous_new().
 * Lookups go in a random order, so the larger tables are measured out of cache.
 * Usage: bench_rendezvous [MAX]   (default 100000: the largest table is sized for MAX keys; with
 * BENCH_QUICK=1 the tables are 1,000 / 2,000 / 4,000 keys, a smoke test)
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loop.h"
#include "nat/rendezvous.h"

static size_t alloc_bytes, alloc_count;

static void *cnt_alloc(void *ctx, size_t size)
{
	(void)ctx;
	alloc_bytes += size;
	alloc_count++;
	return calloc(1, size);
}

static void cnt_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void cnt_random(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

struct pkt {
	uint16_t len;
	uint8_t buf[200];
};

static void key_of(uint8_t k[KONCE_WIRE_KEY], uint32_t i, uint32_t salt)
{
	uint32_t in[2] = {i, salt};
	crypto_generichash(k, KONCE_WIRE_KEY, (const uint8_t *)in, sizeof(in), NULL, 0);
}

static void addr_of(konce_addr *a, uint32_t i)
{
	uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
	konce_addr_from_v4(a, ip, 40000);
}

static void encode(struct pkt *p, const konce_rdvwire_msg *m)
{
	p->len = (uint16_t)konce_rdvwire_encode(m, p->buf, sizeof(p->buf));
	if (!p->len) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
}

static void reg_msg(struct pkt *p, uint32_t i)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_REGISTER, .id = i, .nat = {.mapping = KONCE_NATMAP_EIM}, .ncand = 2};
	key_of(m.key, i, 0);
	m.cand[0].type = KONCE_CAND_HOST;
	konce_addr_parse(&m.cand[0].addr, "192.168.1.20:7807");
	m.cand[1].type = KONCE_CAND_REFLEXIVE;
	addr_of(&m.cand[1].addr, i);
	encode(p, &m);
}

static void intro_msg(struct pkt *p, uint32_t from_key, uint32_t from_salt, uint32_t to_key, uint32_t to_salt)
{
	konce_rdvwire_msg m = {.type = KONCE_RDV_INTRO_REQUEST, .id = from_key};
	key_of(m.key, from_key, from_salt);
	key_of(m.target, to_key, to_salt);
	encode(p, &m);
}

static uint64_t clk; /* the core's virtual microseconds: one per datagram */

enum { MIN_NS = 40 * 1000 * 1000 }; /* each figure repeats its pass for at least 40 ms */

/* ns per datagram of feeding pk[i] from src[i] (i in order[]) and draining the output, over as
 * many passes as fit in MIN_NS; *passes (if given) is how many were made. */
static double feed(konce_rendezvous *r, const struct pkt *pk, const konce_addr *src, const uint32_t *order, uint32_t n,
		   unsigned *passes)
{
	uint8_t out[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	unsigned p = 0;
	double t0 = bench_now_s(), t;
	do {
		for (uint32_t j = 0; j < n; j++) {
			uint32_t i = order[j];
			konce_rendezvous_input(r, pk[i].buf, pk[i].len, &src[i], ++clk);
			while (konce_rendezvous_poll(r, out, &len, &to))
				;
		}
		p++;
	} while ((t = bench_now_s()) - t0 < MIN_NS / 1e9);
	if (passes)
		*passes = p;
	return (t - t0) * 1e9 / ((double)n * p);
}

static volatile unsigned sink;

static double decode_only(const struct pkt *pk, const uint32_t *order, uint32_t n)
{
	konce_rdvwire_msg m;
	unsigned p = 0;
	double t0 = bench_now_s(), t;
	do {
		for (uint32_t j = 0; j < n; j++) {
			uint32_t i = order[j];
			sink += (unsigned)konce_rdvwire_decode(&m, pk[i].buf, pk[i].len) + m.type;
		}
		p++;
	} while ((t = bench_now_s()) - t0 < MIN_NS / 1e9);
	return (t - t0) * 1e9 / ((double)n * p);
}

/* The table's per-lookup hash alone, over the same keys in the same order. */
static double hash_only(const uint8_t (*keys)[KONCE_WIRE_KEY], const uint32_t *order, uint32_t n)
{
	uint8_t hk[crypto_shorthash_KEYBYTES], h[crypto_shorthash_BYTES];
	randombytes_buf(hk, sizeof(hk));
	unsigned p = 0;
	double t0 = bench_now_s(), t;
	do {
		for (uint32_t j = 0; j < n; j++) {
			crypto_shorthash(h, keys[order[j]], KONCE_WIRE_KEY, hk);
			sink += h[0];
		}
		p++;
	} while ((t = bench_now_s()) - t0 < MIN_NS / 1e9);
	return (t - t0) * 1e9 / ((double)n * p);
}

/* One random 8-byte read per key from a buffer as large as the core's allocation: the cache and
 * TLB miss any lookup in a table of that size pays, whatever its algorithm.  Each read's address
 * depends on the last read, so this is the latency of one miss, not the throughput of many. */
static double touch_only(size_t bytes, const uint32_t *order, uint32_t n)
{
	size_t words = 1;
	while (words * 2 * sizeof(uint64_t) <= bytes)
		words *= 2;
	uint64_t *buf = malloc(words * sizeof(*buf));
	if (!buf)
		exit(1);
	for (size_t i = 0; i < words; i++)
		buf[i] = i;
	unsigned p = 0;
	uint64_t acc = 0;
	double t0 = bench_now_s(), t;
	do {
		for (uint32_t j = 0; j < n; j++)
			acc += buf[(((uint64_t)order[j] * 2654435761u) ^ (acc & 1)) & (words - 1)];
		p++;
	} while ((t = bench_now_s()) - t0 < MIN_NS / 1e9);
	sink += (unsigned)acc;
	free(buf);
	return (t - t0) * 1e9 / ((double)n * p);
}

static double lookup_only(const konce_rendezvous *r, const uint8_t (*keys)[KONCE_WIRE_KEY], const uint32_t *order,
			  uint32_t n)
{
	konce_addr a;
	uint64_t rtt;
	unsigned p = 0;
	double t0 = bench_now_s(), t;
	do {
		for (uint32_t j = 0; j < n; j++)
			sink += (unsigned)konce_rendezvous_lookup(r, keys[order[j]], clk, &a, &rtt);
		p++;
	} while ((t = bench_now_s()) - t0 < MIN_NS / 1e9);
	return (t - t0) * 1e9 / ((double)n * p);
}

static void row(const char *what, double ns, const char *note)
{
	printf("  %-44s %12.0f /s %9.1f ns  %s\n", what, 1e9 / ns, ns, note);
}

static uint32_t *shuffled(uint32_t n)
{
	uint32_t *o = malloc(n * sizeof(*o));
	if (!o)
		exit(1);
	for (uint32_t i = 0; i < n; i++)
		o[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = randombytes_uniform(i + 1), t = o[i];
		o[i] = o[j];
		o[j] = t;
	}
	return o;
}

static int run(uint32_t want, double *lookup_ns, double *touch_ns)
{
	konce_env env = {cnt_alloc, cnt_free, cnt_random, NULL, NULL, NULL};
	/* The rate limiter is charged on every datagram as in service, but its budget is set so
	 * that the repeated passes (thousands of datagrams a virtual second per source) are never
	 * refused, and registrations never expire in the virtual time the passes take. */
	konce_rendezvous_cfg cfg = {.env = &env, .slots = want, .rl_rate = 1000000, .rl_burst = 1000000,
			     .expire_us = 1000000ull * 1000000ull};
	konce_rendezvous *r = NULL;
	uint32_t cap = 1;
	while (cap < want)
		cap <<= 1;
	uint32_t n = cap;
	struct pkt *reg = malloc(n * sizeof(*reg)), *intro = malloc(n * sizeof(*intro)),
		   *stranger = malloc(n * sizeof(*stranger)), *unknown = malloc(n * sizeof(*unknown)),
		   *bad = malloc(n * sizeof(*bad));
	konce_addr *src = malloc(n * sizeof(*src)), *wrong = malloc(n * sizeof(*wrong));
	uint8_t(*keys)[KONCE_WIRE_KEY] = malloc(n * sizeof(*keys));
	uint32_t *seq = malloc(n * sizeof(*seq)), *order = shuffled(n), *in = malloc(n * sizeof(*in));
	if (!reg || !intro || !stranger || !unknown || !bad || !src || !wrong || !keys || !seq || !in)
		return 1;
	for (uint32_t i = 0; i < n; i++) {
		seq[i] = i;
		reg_msg(&reg[i], i);
		key_of(keys[i], i, 0);
		addr_of(&src[i], i);
		addr_of(&wrong[i], i + (1u << 23));
		bad[i] = reg[i];
		bad[i].len = (uint16_t)(bad[i].len - 1 - i % 8);
	}

	/* filling: a fresh table each pass, the last one kept for the rest */
	size_t bytes = 0, allocs = 0;
	double t_fill = 0;
	unsigned fills = 0;
	do {
		konce_rendezvous_free(r);
		alloc_bytes = alloc_count = 0;
		if (konce_rendezvous_new(&r, &cfg))
			return 1;
		bytes = alloc_bytes, allocs = alloc_count;
		double t0 = bench_now_s();
		uint8_t out[KONCE_RDV_MAX_MSG];
		size_t len;
		konce_addr to;
		for (uint32_t i = 0; i < n; i++) {
			konce_rendezvous_input(r, reg[i].buf, reg[i].len, &src[i], ++clk);
			while (konce_rendezvous_poll(r, out, &len, &to))
				;
		}
		t_fill += bench_now_s() - t0;
		fills++;
	} while (t_fill < MIN_NS / 1e9);
	t_fill = t_fill * 1e9 / ((double)n * fills);
	if (konce_rendezvous_capacity(r) != cap)
		return 1;
	printf("table: %u slots (asked for %u); the core allocated %zu bytes in %zu allocations = %.1f bytes"
	       " per slot (registrations, rate-limit table, relay table, out ring)\n",
	       cap, want, bytes, allocs, (double)bytes / cap);
	const struct konce_rendezvous_counters *c = konce_rendezvous_counters(r);
	uint64_t got = c->registered;
	printf("  REGISTER of %u distinct keys: %" PRIu64 " registered (%.1f%% of the slots), %" PRIu64
	       " refused as table_full (their 8-slot run was taken); %.1f bytes per registration\n",
	       n, got, 100.0 * (double)got / cap, c->table_full, (double)bytes / (double)got);

	/* from here on, only the keys that hold a slot */
	uint32_t m = 0;
	konce_addr a;
	uint64_t rtt;
	for (uint32_t i = 0; i < n; i++)
		if (!konce_rendezvous_lookup(r, keys[i], clk, &a, &rtt))
			in[m++] = i;
	if (m != got || !m)
		return fprintf(stderr, "lookup found %u, registered %" PRIu64 "\n", m, got), 1;
	for (uint32_t j = 0; j < m; j++) {
		uint32_t i = in[j], peer = in[(j + 1) % m];
		intro_msg(&intro[i], i, 0, peer, 0);
		intro_msg(&stranger[i], i, 1, peer, 0); /* requester never registered */
		intro_msg(&unknown[i], i, 0, i, 2);     /* target never registered */
	}
	uint32_t *rnd = malloc(m * sizeof(*rnd)), *perm = shuffled(m);
	if (!rnd)
		return 1;
	for (uint32_t j = 0; j < m; j++)
		rnd[j] = in[perm[j]];

	unsigned p_ref, p_intro, p_str, p_unk, p_forged, p_bad;
	/* a request between registered keys asks the target first (INTRO_OFFER); a repeat while that
	 * offer is pending is counted, not offered again */
	uint64_t c0_ref = c->refreshed, c0_intros = c->offers + c->offers_full, c0_unk = c->intro_unknown,
		 c0_nreg = c->not_registered, c0_bad = c->bad;
	double h = hash_only((const uint8_t(*)[KONCE_WIRE_KEY])keys, rnd, m);
	double t_lookup = lookup_only(r, (const uint8_t(*)[KONCE_WIRE_KEY])keys, rnd, m);
	double touch = touch_only(bytes, rnd, m);
	double d_reg = decode_only(reg, rnd, m), d_intro = decode_only(intro, rnd, m);
	double t_refresh = feed(r, reg, src, rnd, m, &p_ref);
	double t_intro = feed(r, intro, src, rnd, m, &p_intro);
	double t_stranger = feed(r, stranger, src, rnd, m, &p_str);
	double t_unknown = feed(r, unknown, src, rnd, m, &p_unk);
	double t_forged = feed(r, intro, wrong, rnd, m, &p_forged);
	double t_bad = feed(r, bad, src, order, n, &p_bad);
	/* every datagram did what its figure claims */
	if (c->refreshed - c0_ref != (uint64_t)m * p_ref || c->offers + c->offers_full - c0_intros != (uint64_t)m * p_intro ||
	    c->intro_unknown - c0_unk != (uint64_t)m * p_unk ||
	    c->not_registered - c0_nreg != (uint64_t)m * (p_str + p_forged) ||
	    c->bad - c0_bad != (uint64_t)n * p_bad || c->rate_limited || c->table_full != n - got ||
	    alloc_count != allocs)
		return fprintf(stderr, "unexpected counters: refreshed %llu/%llu intros %llu/%llu unknown %llu/%llu "
				       "not_registered %llu/%llu bad %llu/%llu rate_limited %llu table_full %llu/%llu allocs %llu/%llu\n",
			       (unsigned long long)(c->refreshed - c0_ref), (unsigned long long)m * p_ref,
			       (unsigned long long)(c->offers + c->offers_full - c0_intros), (unsigned long long)m * p_intro,
			       (unsigned long long)(c->intro_unknown - c0_unk), (unsigned long long)m * p_unk,
			       (unsigned long long)(c->not_registered - c0_nreg), (unsigned long long)m * (p_str + p_forged),
			       (unsigned long long)(c->bad - c0_bad), (unsigned long long)n * p_bad,
			       (unsigned long long)c->rate_limited, (unsigned long long)c->table_full, (unsigned long long)(n - got),
			       (unsigned long long)alloc_count, (unsigned long long)allocs), 1;
	row("baseline: crypto_shorthash of a 32-byte key", h, "(the table's hash, once per lookup)");
	row("baseline: decode REGISTER alone", d_reg, "");
	row("baseline: decode INTRO_REQUEST alone", d_intro, "");
	row("baseline: a random read in as many bytes", touch, "(the cache/TLB miss of any table this size)");
	row("konce_rendezvous_lookup (hash + at most 8 slots)", t_lookup, "");
	row("REGISTER, new key (filling the table)", t_fill, "");
	row("REGISTER, refresh", t_refresh, "(1 lookup, REGISTERED sent)");
	row("INTRO_REQUEST, registered pair", t_intro, "(2 lookups, an INTRO_OFFER to the target)");
	row("INTRO_REQUEST, unregistered requester", t_stranger, "(the flood: 1 lookup, nothing sent)");
	row("INTRO_REQUEST, unregistered target", t_unknown, "(2 lookups, INTRO_FAIL sent)");
	row("INTRO_REQUEST, forged source address", t_forged, "(1 lookup, nothing sent)");
	row("malformed (truncated REGISTER)", t_bad, "(decode fails)");
	printf("  nothing allocated after konce_rendezvous_new(): %zu allocations before the traffic and after\n",
	       alloc_count);
	*lookup_ns = t_lookup - h;
	*touch_ns = touch;
	konce_rendezvous_free(r);
	free(reg), free(intro), free(stranger), free(unknown), free(bad), free(src), free(wrong), free(keys);
	free(seq), free(order), free(in), free(rnd), free(perm);
	return 0;
}

int main(int argc, char **argv)
{
	bool quick = bench_quick();
	uint32_t max = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : quick ? 4000 : 100000;
	if (sodium_init() < 0 || max < 1000 || max > (1u << 20))
		return 1;
	const uint32_t sizes[] = {1000, quick ? 2000 : 10000, max};
	double t[3], mem[3];
	for (int i = 0; i < 3; i++)
		if (run(sizes[i], &t[i], &mem[i]))
			return 1;
	printf("lookup minus its hash (the slots touched), by table size %u / %u / %u: %.1f / %.1f / %.1f ns"
	       " (x%.2f for a table x%.0f as large; a linear scan would be x%.0f)\n",
	       sizes[0], sizes[1], sizes[2], t[0], t[1], t[2], t[2] / t[0], (double)max / 1000, (double)max / 1000);
	printf("  beside one random read in as many bytes (same sizes):  %.1f / %.1f / %.1f ns"
	       " -> the lookup costs %.1f / %.1f / %.1f such reads\n",
	       mem[0], mem[1], mem[2], t[0] / mem[0], t[1] / mem[1], t[2] / mem[2]);
	return 0;
}
