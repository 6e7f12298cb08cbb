/* fuzz_punch.c - PUNCH input: konce_punch_receive() and the state machine behind it.
 *
 * Two peers A and B (konce_punch) are introduced to each other (same intro id and secret, each
 * other's host and reflexive candidates) at the start of every input.  The input is then a
 * sequence of records  op u8 | arg u8 | len u8 | bytes[len]:
 *   op % 4 == 0: bytes[] as a datagram to A, on socket op/4 % 2 from one of 4 addresses (arg);
 *   op % 4 == 1: B's next output, encoded as PUNCH, bytes[] XORed onto it, delivered to A from
 *                the address B sent it to (A's side of the path is not modelled: the target);
 *   op % 4 == 2: the clock moves arg ms and both run their timers;
 *   op % 4 == 3: A's next output, encoded, delivered unchanged to B.
 * Invariants (abort on violation): konce_punch_receive() returns 0 or -EBADMSG, and -EBADMSG
 * exactly when the forged counter moves; B's genuine PUNCH is accepted by A when unchanged and
 * refused after any change; everything either side encodes is KONCE_PUNCH_SIZE bytes; nothing is
 * allocated after konce_punch_new(); the state is one of the five. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_env.h"
#include "nat/punch.h"
#include "node/base/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const uint8_t ka[KONCE_WIRE_KEY] = {1}, kb[KONCE_WIRE_KEY] = {2};
static const uint8_t secret[KONCE_INTRO_SECRET_BYTES] = {7, 7, 7};

static konce_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t e, uint16_t port)
{
	konce_addr x;
	const uint8_t ip[4] = {a, b, c, e};
	konce_addr_from_v4(&x, ip, port);
	return x;
}

static void check_state(const konce_punch *p)
{
	if ((unsigned)konce_punch_state(p) > KONCE_PUNCH_PATH_PROBING)
		abort();
}

static int receive(konce_punch *p, unsigned sock, const konce_addr *from, const uint8_t *pkt, size_t len,
		   uint64_t now)
{
	uint64_t forged = konce_punch_counters(p)->forged;
	int rc = konce_punch_receive(p, sock, from, pkt, len, now);
	if ((rc != 0 && rc != -EBADMSG) || (rc == -EBADMSG) != (konce_punch_counters(p)->forged == forged + 1) ||
	    (rc == 0 && konce_punch_counters(p)->forged != forged))
		abort();
	check_state(p);
	return rc;
}

/* The sender's next PUNCH output (session keepalives are not PUNCH and are skipped). */
static size_t next_punch(konce_punch *p, uint8_t *buf, konce_punch_out *o)
{
	while (konce_punch_poll(p, o)) {
		if (o->session)
			continue;
		size_t len = konce_punch_encode(p, o, buf, KONCE_RDV_MAX_MSG);
		if (len != KONCE_PUNCH_SIZE)
			abort();
		return len;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_punch *a, *b;
	if (konce_punch_new(&a, &fz_env, ka, kb) || konce_punch_new(&b, &fz_env, kb, ka))
		abort();
	unsigned long base = fz_allocs;
	konce_cand ca[2] = {{KONCE_CAND_HOST, v4(10, 0, 0, 1, 7000)}, {KONCE_CAND_REFLEXIVE, v4(198, 51, 100, 1, 4001)}};
	konce_cand cb[2] = {{KONCE_CAND_HOST, v4(10, 0, 0, 2, 7000)}, {KONCE_CAND_REFLEXIVE, v4(198, 51, 100, 2, 4002)}};
	konce_punch_intro ia = {.intro_id = 77, .delay_us = 1000, .peer_cands = cb, .npeer = 2,
				.peer_nat = {KONCE_NATMAP_EIM, 0, 4002}, .self_nat = {KONCE_NATMAP_EIM, 0, 0},
				.secret = secret};
	konce_punch_intro ib = ia;
	ib.peer_cands = ca;
	ib.peer_nat.last_port = 4001;
	uint64_t now = 1000000;
	if (konce_punch_start(a, &ia, now) || konce_punch_start(b, &ib, now))
		abort();
	const konce_addr from[4] = {v4(10, 0, 0, 2, 7000), v4(198, 51, 100, 2, 4002), v4(203, 0, 113, 5, 9),
				    v4(198, 51, 100, 2, 4003)};
	uint8_t pkt[KONCE_RDV_MAX_MSG];
	konce_punch_out o;
	konce_punch_event ev;
	for (size_t i = 0; i + 3 <= n;) {
		unsigned op = d[i], arg = d[i + 1];
		size_t len = d[i + 2];
		i += 3;
		if (len > n - i)
			len = n - i;
		const uint8_t *body = d + i;
		i += len;
		switch (op % 4) {
		case 0:
			receive(a, op / 4 % 2, &from[arg % 4], body, len, now);
			break;
		case 1: {
			size_t plen = next_punch(b, pkt, &o);
			if (!plen)
				break;
			bool changed = false;
			for (size_t k = 0; k < len && k < plen; k++) {
				pkt[k] ^= body[k];
				changed |= body[k] != 0;
			}
			/* B sent it from its socket to o.to; A sees it from B's candidate that maps there */
			int rc = receive(a, 0, &from[arg % 2], pkt, plen, now);
			if ((rc == 0) == changed)
				abort();
			break;
		}
		case 2:
			now += (uint64_t)arg * 1000;
			for (konce_punch *p = a, *q = b; p; p = (p == a ? q : NULL)) {
				while (konce_punch_next_timer(p) <= now)
					konce_punch_timer(p, konce_punch_next_timer(p));
				konce_punch_timer(p, now);
				check_state(p);
			}
			break;
		case 3: {
			size_t plen = next_punch(a, pkt, &o);
			if (plen && receive(b, 0, &ca[arg % 2].addr, pkt, plen, now) != 0)
				abort();
			break;
		}
		}
		while (konce_punch_poll_event(a, &ev) || konce_punch_poll_event(b, &ev))
			;
		if (fz_allocs != base)
			abort();
	}
	konce_punch_free(a);
	konce_punch_free(b);
	return 0;
}
