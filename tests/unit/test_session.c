/* test_session.c - DATA seal/open, replay, truncation, tampering, rekey (with stragglers under
 * the old key), and path validation with its 1x amplification limit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/frame.h"
#include "node/transport/keys.h"
#include "node/transport/keyslab.h"
#include "node/transport/path.h"
#include "node/transport/session.h"

typedef struct duo {
	konce_keyslab *slab;
	konce_session a, b; /* a sends with k1, b receives with k1 (and the other way with k2) */
	uint64_t now;
} duo;

static void make_duo(duo *d)
{
	uint8_t k1[32], k2[32], cid_a[8] = {1, 1, 1, 1, 1, 1, 1, 1}, cid_b[8] = {2, 2, 2, 2, 2, 2, 2, 2};
	memset(k1, 0x11, sizeof k1);
	memset(k2, 0x22, sizeof k2);
	assert_int_equal(konce_keyslab_new(&d->slab, 2), 0);
	d->now = 5000000;
	konce_session_init(&d->a, konce_keyslab_slot(d->slab, 0), k1, k2, cid_b, d->now);
	konce_session_init(&d->b, konce_keyslab_slot(d->slab, 1), k2, k1, cid_a, d->now);
}

static size_t seal(duo *d, uint8_t *pkt, const char *msg)
{
	size_t n = konce_session_seal(&d->a, pkt, (const uint8_t *)msg, strlen(msg), d->now);
	assert_true(n > 0);
	return n;
}

static enum konce_session_open_result open_b(duo *d, const uint8_t *pkt, size_t len, char *out)
{
	uint8_t plain[KONCE_PMTU_MAX];
	size_t plen = 0;
	uint64_t pn;
	enum konce_session_open_result r = konce_session_open(&d->b, plain, &plen, &pn, pkt, len, d->now);
	if (r == KONCE_SESS_OK && out) {
		memcpy(out, plain, plen);
		out[plen] = 0;
	}
	return r;
}

static void test_seal_open_replay(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t p1[KONCE_WIRE_MAX_DATAGRAM], p2[KONCE_WIRE_MAX_DATAGRAM];
	char out[KONCE_WIRE_MAX_DATAGRAM];
	size_t n1 = seal(&d, p1, "first");
	size_t n2 = seal(&d, p2, "second");
	assert_int_equal(p1[0], KONCE_PKT_DATA);
	assert_memory_equal(p1 + KONCE_DATA_DCID, "\2\2\2\2\2\2\2\2", 8);
	/* out of order is fine, each once */
	assert_int_equal(open_b(&d, p2, n2, out), KONCE_SESS_OK);
	assert_string_equal(out, "second");
	assert_int_equal(open_b(&d, p1, n1, out), KONCE_SESS_OK);
	assert_string_equal(out, "first");
	assert_int_equal(open_b(&d, p1, n1, NULL), KONCE_SESS_REPLAY);
	assert_int_equal(open_b(&d, p2, n2, NULL), KONCE_SESS_REPLAY);
	/* too large a payload is refused by the sealer; the largest fits KONCE_PMTU_MAX */
	static uint8_t big[KONCE_WIRE_MAX_SESSION_PAYLOAD + 1], pkt[KONCE_PMTU_MAX];
	assert_int_equal(konce_session_seal(&d.a, pkt, big, sizeof big, d.now), 0);
	size_t n = konce_session_seal(&d.a, pkt, big, KONCE_PMTU_MAX - konce_session_overhead(&d.a), d.now);
	assert_int_equal(n, KONCE_PMTU_MAX);
	assert_int_equal(open_b(&d, pkt, n, NULL), KONCE_SESS_OK);
	konce_keyslab_free(d.slab);
}

/* A payload built where it goes (out + konce_session_header_len()) is sealed in place, to the same
 * bytes as sealed from elsewhere; a payload that the header would overwrite is refused, and
 * refusing costs no packet number. */
static void test_seal_in_place(void **state)
{
	(void)state;
	duo d1, d2;
	make_duo(&d1);
	make_duo(&d2);
	static const char msg[] = "built in the out ring's slot";
	uint8_t apart[KONCE_WIRE_MAX_DATAGRAM], slot[KONCE_WIRE_MAX_DATAGRAM];
	size_t n1 = konce_session_seal(&d1.a, apart, (const uint8_t *)msg, sizeof msg, d1.now);
	size_t hdr = konce_session_header_len(&d2.a);
	assert_int_equal(hdr + KONCE_WIRE_TAG, konce_session_overhead(&d2.a));
	memcpy(slot + hdr, msg, sizeof msg);
	size_t n2 = konce_session_seal(&d2.a, slot, slot + hdr, sizeof msg, d2.now);
	assert_int_equal(n2, n1);
	assert_memory_equal(slot, apart, n1);
	char out[KONCE_WIRE_MAX_DATAGRAM];
	assert_int_equal(open_b(&d2, slot, n2, out), KONCE_SESS_OK);
	assert_memory_equal(out, msg, sizeof msg);
	/* overlapping at any other offset: refused, and the next packet number is still unused */
	uint64_t pn = d2.a.tx_pn;
	assert_int_equal(konce_session_seal(&d2.a, slot, slot + hdr - 1, sizeof msg, d2.now), 0);
	assert_int_equal(konce_session_seal(&d2.a, slot, slot, sizeof msg, d2.now), 0);
	assert_int_equal(konce_session_seal(&d2.a, slot + 4, slot, sizeof msg, d2.now), 0);
	assert_int_equal(d2.a.tx_pn, pn);
	konce_keyslab_free(d1.slab);
	konce_keyslab_free(d2.slab);
}

/* A DATA packet is XChaCha20-Poly1305 under the direction's key with the nonce 16 zero bytes || pn,
 * as docs/PROTOCOL.md says, although the session seals with the cached subkey: the plain XChaCha
 * construction opens it, before and after a rekey, and the subkey path gives the same bytes. */
static void test_wire_is_xchacha(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t k1[32], pkt[KONCE_WIRE_MAX_DATAGRAM], plain[KONCE_WIRE_MAX_DATAGRAM];
	memset(k1, 0x11, sizeof k1);
	for (int round = 0; round < 2; round++) {
		uint64_t pn = d.a.tx_pn;
		size_t n = seal(&d, pkt, "over the wire");
		size_t hdr = n - strlen("over the wire") - KONCE_WIRE_TAG;
		assert_int_equal(konce_aead_open(plain, pkt + hdr, n - hdr, pkt, hdr, pn, k1), 0);
		assert_memory_equal(plain, "over the wire", strlen("over the wire"));
		/* the same plaintext through both constructions: the same bytes */
		uint8_t a[64], b[64], sub[32];
		konce_aead_subkey(sub, k1);
		konce_aead_seal(a, plain, 13, pkt, hdr, pn, k1);
		konce_aead_seal_sub(b, plain, 13, pkt, hdr, pn, sub);
		assert_memory_equal(a, b, 13 + KONCE_WIRE_TAG);
		assert_int_equal(konce_aead_open_sub(plain, a, 13 + KONCE_WIRE_TAG, pkt, hdr, pn, sub), 0);
		a[3] ^= 1;
		assert_int_equal(konce_aead_open_sub(plain, a, 13 + KONCE_WIRE_TAG, pkt, hdr, pn, sub), -EBADMSG);
		assert_int_equal(open_b(&d, pkt, n, NULL), KONCE_SESS_OK);
		/* next round: after a time rekey, under the next key */
		d.now += (uint64_t)KONCE_REKEY_AFTER_MS * 1000;
		konce_keys_rekey(k1, k1);
	}
	konce_keyslab_free(d.slab);
}

static void test_truncation_and_tamper(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM], t[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = seal(&d, p, "payload to protect");
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(open_b(&d, p, i, NULL), KONCE_SESS_OK);
	/* every bit of every byte, header and body */
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(t, p, n);
		t[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(open_b(&d, t, n, NULL), KONCE_SESS_OK);
	}
	/* each header byte replaced by every other value */
	for (size_t i = 0; i < KONCE_DATA_PN + 1; i++)
		for (unsigned v = 0; v < 256; v++) {
			if (v == p[i])
				continue;
			memcpy(t, p, n);
			t[i] = (uint8_t)v;
			assert_int_not_equal(open_b(&d, t, n, NULL), KONCE_SESS_OK);
		}
	/* an extra byte appended */
	memcpy(t, p, n);
	t[n] = 0;
	assert_int_not_equal(open_b(&d, t, n + 1, NULL), KONCE_SESS_OK);
	/* nothing above changed the session: the genuine packet still opens, once */
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_OK);
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_REPLAY);
	konce_keyslab_free(d.slab);
}

static void test_rekey_time_and_stragglers(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t old[4][KONCE_WIRE_MAX_DATAGRAM], p[KONCE_WIRE_MAX_DATAGRAM];
	size_t oldn[4];
	char out[KONCE_WIRE_MAX_DATAGRAM];
	uint8_t k_before[32];
	memcpy(k_before, d.a.keys->tx, 32);
	for (int i = 0; i < 4; i++)
		oldn[i] = seal(&d, old[i], "old");
	assert_int_equal(open_b(&d, old[0], oldn[0], NULL), KONCE_SESS_OK);
	/* time passes: the next packet goes out under the next key, phase flipped */
	d.now += (uint64_t)KONCE_REKEY_AFTER_MS * 1000;
	size_t n = seal(&d, p, "new key");
	assert_int_equal(p[KONCE_DATA_FLAGS] & KONCE_DATA_F_KEY_PHASE, KONCE_DATA_F_KEY_PHASE);
	assert_memory_not_equal(d.a.keys->tx, k_before, 32); /* old send key is gone */
	assert_int_equal(open_b(&d, p, n, out), KONCE_SESS_OK);
	assert_string_equal(out, "new key");
	assert_int_equal(d.b.rx_phase, KONCE_DATA_F_KEY_PHASE);
	/* stragglers under the old key still open within KONCE_REKEY_OLD_KEY_MS */
	assert_int_equal(open_b(&d, old[1], oldn[1], out), KONCE_SESS_OK);
	assert_string_equal(out, "old");
	assert_int_equal(open_b(&d, old[1], oldn[1], NULL), KONCE_SESS_REPLAY);
	/* after it the old key is wiped and they do not */
	d.now += (uint64_t)KONCE_REKEY_OLD_KEY_MS * 1000;
	assert_int_equal(konce_session_tick(&d.b, d.now), UINT64_MAX);
	uint8_t zero[32] = {0};
	assert_memory_equal(d.b.keys->rx_prev, zero, 32);
	assert_int_equal(open_b(&d, old[2], oldn[2], NULL), KONCE_SESS_AUTH);
	/* and a second rekey (phase back to 0) works too */
	d.now += (uint64_t)KONCE_REKEY_AFTER_MS * 1000;
	n = seal(&d, p, "third key");
	assert_int_equal(p[KONCE_DATA_FLAGS] & KONCE_DATA_F_KEY_PHASE, 0);
	assert_int_equal(open_b(&d, p, n, out), KONCE_SESS_OK);
	assert_string_equal(out, "third key");
	konce_keyslab_free(d.slab);
}

static void test_rekey_forged_phase(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	size_t n = seal(&d, p, "x");
	p[KONCE_DATA_FLAGS] ^= KONCE_DATA_F_KEY_PHASE; /* forged phase flip: tries next key, fails */
	uint8_t rx[32];
	memcpy(rx, d.b.keys->rx, 32);
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_AUTH);
	assert_memory_equal(d.b.keys->rx, rx, 32);
	assert_int_equal(d.b.rx_phase, 0);
	p[KONCE_DATA_FLAGS] ^= KONCE_DATA_F_KEY_PHASE;
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_OK);
	konce_keyslab_free(d.slab);
}

static void test_rekey_volume(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	d.a.tx_key_packets = KONCE_REKEY_AFTER_PACKETS - 1;
	size_t n = seal(&d, p, "last on key 0");
	assert_int_equal(p[KONCE_DATA_FLAGS], 0);
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_OK);
	n = seal(&d, p, "first on key 1");
	assert_int_equal(p[KONCE_DATA_FLAGS], KONCE_DATA_F_KEY_PHASE);
	assert_int_equal(open_b(&d, p, n, NULL), KONCE_SESS_OK);
	konce_keyslab_free(d.slab);
}

static void test_long_run_pn_window(void **state)
{
	(void)state;
	duo d;
	make_duo(&d);
	uint8_t p[KONCE_WIRE_MAX_DATAGRAM];
	uint8_t plain[KONCE_WIRE_MAX_DATAGRAM];
	size_t plen;
	uint64_t pn;
	for (uint64_t i = 2; i < 20000; i++) {
		size_t n = seal(&d, p, "");
		if (i % 7 == 0)
			continue; /* lost */
		assert_int_equal(konce_session_open(&d.b, plain, &plen, &pn, p, n, d.now), KONCE_SESS_OK);
		assert_int_equal(pn, i);
	}
	konce_keyslab_free(d.slab);
}

static void test_path_validation(void **state)
{
	(void)state;
	konce_path p;
	konce_addr a, b, c;
	enum konce_path_change chg;
	konce_addr_parse(&a, "10.0.0.1:1");
	konce_addr_parse(&b, "10.0.0.2:2");
	konce_addr_parse(&c, "10.0.0.3:3");
	konce_path_init(&p, &a);
	assert_true(p.confirmed);
	assert_false(konce_path_on_packet(&p, &a, 100, 1, 0, &chg));
	assert_true(konce_path_may_send(&p, &a, 1200));
	assert_false(konce_path_may_send(&p, &b, 1));
	/* packet from b starts a probe with a 1x budget, and a check of the old path */
	assert_true(konce_path_on_packet(&p, &b, 50, 2, 0, &chg));
	assert_int_equal(chg, KONCE_PATH_SAME);
	memset(p.challenge, 0xab, sizeof p.challenge);
	memset(p.old_challenge, 0xcd, sizeof p.old_challenge);
	assert_true(konce_path_challenge_due(&p));
	assert_true(konce_path_old_due(&p));
	assert_true(konce_addr_eq(&p.old, &a));
	konce_path_old_sent(&p, 0);
	assert_true(konce_path_may_send(&p, &b, 50));
	assert_false(konce_path_may_send(&p, &b, 51));
	konce_path_sent(&p, &b, 40);
	konce_path_challenge_sent(&p, 0);
	assert_false(konce_path_challenge_due(&p));
	assert_false(konce_path_may_send(&p, &b, 11));
	assert_false(konce_path_on_packet(&p, &b, 30, 3, 0, &chg)); /* more received, more budget */
	assert_true(konce_path_may_send(&p, &b, 40));
	/* wrong data, or right data from elsewhere: no move */
	uint8_t wrong[8] = {0}, right[8];
	memset(right, 0xab, sizeof right);
	assert_int_equal(konce_path_on_response(&p, &b, wrong, 0), KONCE_PATH_SAME);
	assert_int_equal(konce_path_on_response(&p, &c, right, 0), KONCE_PATH_SAME);
	assert_true(konce_addr_eq(&p.cur, &a));
	/* the move happens, but is not confirmed while the old path's check runs */
	assert_int_equal(konce_path_on_response(&p, &b, right, 0), KONCE_PATH_MOVED);
	assert_true(konce_addr_eq(&p.cur, &b));
	assert_false(p.confirmed);
	assert_false(p.probing);
	assert_true(konce_path_may_send(&p, &b, 1200));
	assert_true(konce_path_may_send(&p, &a, 100)); /* the old path's challenges */
	/* the old path never answers: after KONCE_PATH_TRIES challenges the move is confirmed */
	uint64_t t = 0;
	unsigned resent = 0;
	chg = KONCE_PATH_SAME;
	while (p.checking) {
		t = konce_path_next(&p);
		assert_int_not_equal(t, UINT64_MAX);
		if (konce_path_tick(&p, t, &chg) & KONCE_PATH_SEND_OLD)
			resent++;
	}
	assert_int_equal(resent, KONCE_PATH_TRIES - 1);
	assert_int_equal(chg, KONCE_PATH_CONFIRMED);
	assert_true(p.confirmed);
	assert_false(konce_path_may_send(&p, &a, 1));
	/* a late packet from a, older than the newest: no probe */
	assert_false(konce_path_on_packet(&p, &a, 100, 2, t, &chg));
	assert_false(p.probing);
	/* a probe that is never answered ends after KONCE_PATH_TRIES challenges; so does the check */
	assert_true(konce_path_on_packet(&p, &c, 100, 10, 1000, &chg));
	konce_path_challenge_sent(&p, 1000);
	konce_path_old_sent(&p, 1000);
	resent = 0;
	while (p.probing) {
		t = konce_path_next(&p);
		if (konce_path_tick(&p, t, &chg) & KONCE_PATH_SEND_PROBE)
			resent++;
	}
	assert_int_equal(resent, KONCE_PATH_TRIES - 1);
	assert_false(p.checking);
	assert_true(konce_addr_eq(&p.cur, &b));
	assert_true(p.confirmed);
	assert_int_equal(konce_path_on_response(&p, &c, right, 0), KONCE_PATH_SAME);
}

/* RFC 9000 section 9.3.3: a copy of a genuine packet raced from elsewhere starts a probe; the old
 * path answers its challenge (or the peer's next packet comes from it), so the session stays, or
 * comes back, and is wary for a while. */
static void test_path_old_path_alive(void **state)
{
	(void)state;
	konce_path p;
	konce_addr a, b, c;
	enum konce_path_change chg;
	uint8_t probe[8], old[8];
	const uint64_t wary = (uint64_t)KONCE_PATH_WARY_MS * 1000 + 1;
	memset(probe, 0x11, sizeof probe);
	memset(old, 0x22, sizeof old);
	konce_addr_parse(&a, "10.0.0.1:1");
	konce_addr_parse(&b, "10.6.6.6:6");
	konce_addr_parse(&c, "10.7.7.7:7");
	konce_path_init(&p, &a);
	assert_false(konce_path_on_packet(&p, &a, 100, 5, 0, &chg));
	/* 1. the old path answers before the probe validates: refused */
	assert_true(konce_path_on_packet(&p, &b, 1200, 6, 0, &chg));
	memcpy(p.challenge, probe, 8);
	memcpy(p.old_challenge, old, 8);
	konce_path_challenge_sent(&p, 0);
	konce_path_old_sent(&p, 0);
	assert_int_equal(konce_path_on_response(&p, &a, old, 0), KONCE_PATH_REFUSED);
	assert_false(p.probing);
	assert_false(p.checking);
	assert_int_equal(konce_path_on_response(&p, &b, probe, 0), KONCE_PATH_SAME); /* too late */
	assert_true(konce_addr_eq(&p.cur, &a));
	assert_false(konce_path_may_send(&p, &b, 1));
	/* ... and while wary, the refused address starts no probe */
	assert_false(konce_path_on_packet(&p, &b, 1200, 7, 1000, &chg));
	assert_false(p.probing);
	/* 2. the probe validates first (the attacker relayed its challenge), then the old path
	 * answers, from wherever the copy of its response came: back */
	uint64_t t = wary;
	assert_true(konce_path_on_packet(&p, &b, 1200, 8, t, &chg));
	memcpy(p.challenge, probe, 8);
	memcpy(p.old_challenge, old, 8);
	konce_path_challenge_sent(&p, t);
	konce_path_old_sent(&p, t);
	assert_int_equal(konce_path_on_response(&p, &b, probe, t), KONCE_PATH_MOVED);
	assert_false(p.confirmed);
	assert_int_equal(konce_path_on_response(&p, &b, old, t), KONCE_PATH_BACK);
	assert_true(konce_addr_eq(&p.cur, &a));
	assert_true(p.confirmed);
	/* 3. the peer's next packet comes from the old address, newer than the copy: refused */
	assert_true(konce_path_on_packet(&p, &c, 1200, 20, t, &chg));
	assert_false(konce_path_on_packet(&p, &a, 100, 19, t, &chg)); /* older: nothing */
	assert_int_equal(chg, KONCE_PATH_SAME);
	assert_true(p.probing);
	assert_false(konce_path_on_packet(&p, &a, 100, 21, t, &chg));
	assert_int_equal(chg, KONCE_PATH_REFUSED);
	assert_false(p.probing);
	/* 4. ... or after the move: back */
	t += wary;
	assert_true(konce_path_on_packet(&p, &b, 1200, 30, t, &chg));
	memcpy(p.challenge, probe, 8);
	konce_path_challenge_sent(&p, t);
	konce_path_old_sent(&p, t);
	assert_false(konce_path_on_packet(&p, &b, 100, 31, t, &chg));
	assert_int_equal(konce_path_on_response(&p, &b, probe, t), KONCE_PATH_MOVED);
	assert_false(konce_path_on_packet(&p, &a, 100, 29, t, &chg)); /* late: stays */
	assert_int_equal(chg, KONCE_PATH_SAME);
	assert_true(konce_addr_eq(&p.cur, &b));
	assert_false(konce_path_on_packet(&p, &a, 100, 32, t, &chg));
	assert_int_equal(chg, KONCE_PATH_BACK);
	assert_true(konce_addr_eq(&p.cur, &a));
	assert_true(p.confirmed);
	/* 5. wary: a validated probe waits for the old path's check to fail, then moves, confirmed */
	assert_true(konce_path_on_packet(&p, &c, 1200, 40, t, &chg));
	memcpy(p.challenge, probe, 8);
	konce_path_challenge_sent(&p, t);
	konce_path_old_sent(&p, t);
	assert_int_equal(konce_path_on_response(&p, &c, probe, t), KONCE_PATH_SAME);
	assert_true(p.probe_ok);
	assert_true(konce_addr_eq(&p.cur, &a));
	unsigned probes = 0;
	chg = KONCE_PATH_SAME;
	while (chg == KONCE_PATH_SAME) {
		t = konce_path_next(&p);
		assert_int_not_equal(t, UINT64_MAX);
		probes += (konce_path_tick(&p, t, &chg) & KONCE_PATH_SEND_PROBE) != 0;
	}
	assert_int_equal(probes, 0); /* validated: not challenged again */
	assert_int_equal(chg, KONCE_PATH_MOVED);
	assert_true(konce_addr_eq(&p.cur, &c));
	assert_true(p.confirmed);
	assert_false(p.checking);
	/* 6. the old path's check failed before the probe validated: the move is confirmed at once */
	t += wary;
	assert_true(konce_path_on_packet(&p, &b, 1200, 50, t, &chg));
	memcpy(p.challenge, probe, 8);
	konce_path_old_sent(&p, t);
	while (!p.old_dead) {
		t = konce_path_next(&p);
		konce_path_tick(&p, t, &chg);
	}
	konce_path_challenge_sent(&p, t);
	assert_int_equal(konce_path_on_response(&p, &b, probe, t), KONCE_PATH_MOVED);
	assert_true(p.confirmed);
	assert_false(p.checking);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open_replay),
		cmocka_unit_test(test_seal_in_place),
		cmocka_unit_test(test_wire_is_xchacha),
		cmocka_unit_test(test_truncation_and_tamper),
		cmocka_unit_test(test_rekey_time_and_stragglers),
		cmocka_unit_test(test_rekey_forged_phase),
		cmocka_unit_test(test_rekey_volume),
		cmocka_unit_test(test_long_run_pn_window),
		cmocka_unit_test(test_path_validation),
		cmocka_unit_test(test_path_old_path_alive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
