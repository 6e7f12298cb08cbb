/* bench_seal.c - what sealing a DATA packet from the message's bytes costs, against libsodium's AEAD.
 *
 * A bulk sender seals each DATA packet with konce_aead_seal_sub_gather() (node/transport/gather.h):
 * the frames' headers come from the packet, each fragment's data straight from the message.  This
 * bench runs that seal alone, on one core, in the layout a bulk sender has: packets of the size
 * PMTUD reaches on loopback (8,937 bytes, bench_bulk's) and of the 1,200-byte base, each one
 * FRAGMENT whose data is the next stretch of a window of WINDOW messages of 1 MiB (as bench_bulk
 * keeps queued), sealed in place into a ring of packet slots.  Beside it, in the same run:
 *   - libsodium's XChaCha20-Poly1305 (IETF) sealing one hot buffer of the same length, over and
 *     over: bench_bulk's baseline, "the one-core seal rate" (bench_aead_seal_rate, bench/loop.c);
 *   - libsodium's AEAD reading its plaintext from the same window of messages, into the same ring:
 *     what the memory layout costs the AEAD by itself.
 * The gather seal runs under a session's HChaCha20 subkey, made once per session (keys.h), where
 * libsodium's XChaCha20 makes it again for every packet: at 1,200 bytes that one block of work per
 * packet is visible, at 8,937 it is not.  Figures are plaintext bytes per CPU second.  What it
 * answers: whether the gather seal, or the memory the message lives in, is what keeps bench_bulk's
 * figure per CPU second under the seal rate.
 *
 * The last packet of each pass of 256 is opened with libsodium's ChaCha20-Poly1305 (IETF) under
 * the same subkey and nonce and compared with the message's bytes, outside the timed CPU; a
 * mismatch fails the run.
 *
 * Usage: bench_seal [SECONDS per figure, default 1; 0.05 with BENCH_QUICK=1]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loop.h"
#include "node/base/wire.h"
#include "node/transport/gather.h"

static const char *me = "bench_seal";

enum {
	MSG_SIZE = 1 << 20,
	WINDOW = 8,                /* messages queued at once, as in bench_bulk */
	HDR = 13,                  /* a DATA header with a 3-byte packet number: the AD */
	FRAME = 10,                /* a FRAGMENT frame's header before its data */
	SLOTS = 256,               /* packet slots in the ring */
	SLOT = 9024,               /* bytes per slot: the largest packet, rounded up */
	TAG = crypto_aead_chacha20poly1305_ietf_ABYTES,
};

typedef struct layout {
	size_t dgram;   /* datagram bytes: HDR + payload + TAG */
	uint8_t *msgs;  /* WINDOW x MSG_SIZE bytes of message */
	uint8_t *slots; /* SLOTS x SLOT */
	uint8_t sub[32];
	uint8_t xkey[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
} layout;

static size_t payload_len(const layout *l) { return l->dgram - HDR - TAG; }
static size_t data_len(const layout *l) { return payload_len(l) - FRAME; }

/* Opens packet `pkt` (HDR bytes of AD, then the sealed payload) with libsodium and checks that its
 * fragment data is src.  Exits the bench on a mismatch. */
static void check_packet(const layout *l, const uint8_t *pkt, const uint8_t *src, uint64_t pn)
{
	size_t plen = payload_len(l);
	uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
	wire_put64(nonce + sizeof nonce - 8, pn);
	uint8_t *plain = malloc(plen);
	if (!plain)
		bench_die(me, "malloc");
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, pkt + HDR, plen + TAG, pkt, HDR, nonce,
						      l->sub) != 0 ||
	    memcmp(plain + FRAME, src, data_len(l)) != 0)
		bench_die(me, "a gather-sealed packet does not open to the message's bytes");
	free(plain);
}

/* konce_aead_seal_sub_gather over the window; plaintext bytes per CPU second. */
static double run_gather(layout *l, double seconds)
{
	size_t plen = payload_len(l), dlen = data_len(l), off = 0, slot = 0;
	uint64_t pn = 0, bytes = 0;
	double c0 = bench_cpu_s(), c, checking = 0;
	do {
		const uint8_t *src = NULL;
		uint8_t *pkt = NULL;
		for (int i = 0; i < 256; i++) {
			if (off + dlen > (size_t)WINDOW * MSG_SIZE)
				off = 0;
			pkt = l->slots + (slot++ % SLOTS) * SLOT;
			/* the builder's part: header and frame header in the packet, a hole for the data */
			memset(pkt, (int)(pn & 0xff), HDR + FRAME);
			konce_gather g = {0};
			src = l->msgs + off;
			if (!konce_gather_add(&g, FRAME, src, dlen) ||
			    !konce_aead_seal_sub_gather(pkt + HDR, pkt + HDR, plen, &g, pkt, HDR, pn, l->sub))
				bench_die(me, "konce_aead_seal_sub_gather refused a valid gather");
			pn++;
			off += dlen;
			bytes += plen;
		}
		double k0 = bench_cpu_s();
		check_packet(l, pkt, src, pn - 1);
		checking += bench_cpu_s() - k0;
		c = bench_cpu_s() - c0 - checking;
	} while (c < seconds);
	return (double)bytes / c;
}

/* libsodium's XChaCha20-Poly1305 with its plaintext from the window, sealed into the ring;
 * plaintext bytes per CPU second. */
static double run_libsodium(layout *l, double seconds)
{
	size_t plen = payload_len(l), off = 0, slot = 0;
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0}, ad[HDR] = {0};
	uint64_t pn = 0, bytes = 0;
	double c0 = bench_cpu_s(), c;
	do {
		for (int i = 0; i < 256; i++) {
			memcpy(n + 16, &pn, sizeof pn);
			pn++;
			if (off + plen > (size_t)WINDOW * MSG_SIZE)
				off = 0;
			uint8_t *pkt = l->slots + (slot++ % SLOTS) * SLOT;
			crypto_aead_xchacha20poly1305_ietf_encrypt(pkt + HDR, NULL, l->msgs + off, plen, ad, sizeof ad,
								   NULL, n, l->xkey);
			off += plen;
			bytes += plen;
		}
		c = bench_cpu_s() - c0;
	} while (c < seconds);
	return (double)bytes / c;
}

int main(int argc, char **argv)
{
	double secs = bench_quick() ? 0.05 : 1;
	if (argc > 1)
		secs = atof(argv[1]);
	if (sodium_init() < 0 || secs <= 0)
		return 1;
	layout l = {0};
	l.msgs = malloc((size_t)WINDOW * MSG_SIZE);
	l.slots = malloc((size_t)SLOTS * SLOT);
	if (!l.msgs || !l.slots)
		bench_die(me, "malloc");
	randombytes_buf(l.msgs, (size_t)WINDOW * MSG_SIZE);
	memset(l.slots, 0, (size_t)SLOTS * SLOT);
	randombytes_buf(l.sub, sizeof l.sub);
	randombytes_buf(l.xkey, sizeof l.xkey);

	printf("%s: one core, %g s of CPU per figure; MB/s = 10^6 plaintext bytes sealed per CPU second;\n"
	       "  data from a window of %d messages of 1 MiB, sealed in place into %d packet slots\n",
	       me, secs, WINDOW, SLOTS);
	static const size_t sizes[] = {8937, 1200};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		l.dgram = sizes[i];
		/* alternate the three so that drift in the machine's speed falls on all of them */
		double hot = 0, lib = 0, gat = 0;
		for (int rep = 0; rep < 3; rep++) {
			hot += bench_aead_seal_rate(payload_len(&l), secs / 3);
			lib += run_libsodium(&l, secs / 3);
			gat += run_gather(&l, secs / 3);
		}
		hot /= 3;
		lib /= 3;
		gat /= 3;
		printf("  %zu-byte datagrams (%zu bytes of fragment data):\n", l.dgram, data_len(&l));
		printf("    %-58s %8.1f MB/s\n", "libsodium XChaCha20-Poly1305, one hot buffer (baseline)", hot / 1e6);
		printf("    %-58s %8.1f MB/s  %.3f of the baseline\n", "libsodium XChaCha20-Poly1305, from the messages",
		       lib / 1e6, lib / hot);
		printf("    %-58s %8.1f MB/s  %.3f of the baseline\n", "konce_aead_seal_sub_gather, from the messages",
		       gat / 1e6, gat / hot);
	}
	free(l.msgs);
	free(l.slots);
	return 0;
}
