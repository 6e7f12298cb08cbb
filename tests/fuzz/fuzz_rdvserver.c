/* fuzz_rdvserver.c - the rendezvous server and the registration client fed arbitrary datagrams.
 *
 * Input: a sequence of records  len u8 | source u8 | dt u8 | bytes[len].  Each record goes to a
 * small rendezvous (16 slots) from one of 8 source addresses, dt milliseconds after the last, and
 * the same bytes to a client as if from its rendezvous.  Checked after every record: the table
 * holds at most its slots, nothing was allocated after construction, and every datagram either
 * side sends parses.  Aborts on any violation. */
#include <stdlib.h>
#include <string.h>

#include "nat/rdvclient.h"
#include "nat/rendezvous.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static unsigned long allocs;

static void *fz_alloc(void *ctx, size_t size)
{
	allocs++;
	return calloc(1, size);
}

static void fz_free(void *ctx, void *p) { free(p); }

static void fz_random(void *ctx, uint8_t *buf, size_t len)
{
	uint64_t *s = ctx;
	for (size_t i = 0; i < len; i++) {
		*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
		buf[i] = (uint8_t)(*s >> 56);
	}
}

static void check_out(const uint8_t *buf, size_t len)
{
	konce_rdvwire_msg m;
	if (konce_rdvwire_decode(&m, buf, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint64_t seed = 1;
	konce_env env = {fz_alloc, fz_free, fz_random, &seed, NULL, NULL};
	konce_rendezvous_cfg cfg = {.env = &env, .slots = 16, .rl_rate = 1000, .rl_burst = 1000};
	konce_rendezvous *r;
	if (konce_rendezvous_new(&r, &cfg))
		abort();
	konce_addr rdv[1], host;
	konce_addr_parse(&rdv[0], "192.0.2.1:3478");
	konce_addr_parse(&host, "10.0.0.2:7000");
	const uint8_t key[KONCE_WIRE_KEY] = {1};
	konce_rdvclient_cfg ccfg = {.env = &env, .key = key, .rdv = rdv, .nrdv = 1, .host = &host, .nhost = 1};
	konce_rdvclient *c;
	if (konce_rdvclient_new(&c, &ccfg, 0))
		abort();
	unsigned long base = allocs;
	uint64_t now = 1000;
	uint8_t out[KONCE_RDV_MAX_MSG];
	size_t len;
	konce_addr to;
	konce_rdvclient_timer(c, now);
	for (size_t i = 0; i + 3 <= n;) {
		size_t l = d[i];
		konce_addr from;
		uint8_t ip[4] = {198, 51, 100, (uint8_t)(d[i + 1] & 7)};
		konce_addr_from_v4(&from, ip, 4000);
		now += (uint64_t)d[i + 2] * 1000;
		i += 3;
		if (l > n - i)
			l = n - i;
		konce_rendezvous_input(r, d + i, l, &from, now);
		konce_rdvclient_input(c, d + i, l, &rdv[0], now);
		if (konce_rdvclient_next_timer(c) <= now)
			konce_rdvclient_timer(c, now);
		if (l >= 2 && d[i] == KONCE_RDV_INTRO_REQUEST)
			konce_rdvclient_request_intro(c, key, now);
		i += l;
		while (konce_rendezvous_poll(r, out, &len, &to))
			check_out(out, len);
		while (konce_rdvclient_poll(c, out, &len, &to))
			check_out(out, len);
		konce_rdvclient_event ev;
		while (konce_rdvclient_poll_event(c, &ev))
			;
		if (konce_rendezvous_count(r, now) > 16 || allocs != base)
			abort();
	}
	konce_rdvclient_free(c);
	konce_rendezvous_free(r);
	return 0;
}
