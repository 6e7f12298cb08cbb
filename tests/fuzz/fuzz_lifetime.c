/* fuzz_lifetime.c - the mapping lifetime cores on hostile input.  The input is a script: each
 * step is one byte of opcode and then its operands.  The client core (nat/lifetime.c) gets raw
 * datagrams, including ones forged from what it just sent, timer jumps and rebounds; the
 * rendezvous core (nat/lifesrv.c) gets raw datagrams from a few sources.  Aborts when an invariant
 * of lifetime.h breaks or the server answers with more bytes than it was sent. */
#include <stdlib.h>
#include <string.h>

#include "nat/lifesrv.h"
#include "nat/lifetime.h"
#include "nat/rdvwire.h"
#include "tests/fuzz/fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check(const konce_lifetime *l)
{
	konce_lifetime_status st;
	konce_lifetime_status_get(l, &st);
	if (!st.keepalive_us || (st.lo_us && st.hi_us && st.lo_us >= st.hi_us) || st.lo_us > 300000000ULL)
		abort();
	if (st.lo_us && st.keepalive_us > st.lo_us)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_lifetime *l;
	konce_lifesrv *s;
	konce_lifesrv_cfg sc = {.env = &fz_env, .queue = 8};
	konce_lifetime_cfg lc = {.env = &fz_env};
	uint64_t now = 0, in_bytes = 0, out_bytes = 0;
	uint8_t last[KONCE_LIFE_REQ_SIZE], buf[KONCE_LIFE_REQ_SIZE];
	size_t last_len = 0, len;
	konce_addr to, src = {{0}, 1, 0};
	if (konce_lifetime_new(&l, &lc, 0))
		return 0;
	if (konce_lifesrv_new(&s, &sc)) {
		konce_lifetime_free(l);
		return 0;
	}
	size_t i = 0;
	while (i < n) {
		uint8_t op = d[i++];
		size_t take = n - i < KONCE_LIFE_REQ_SIZE ? n - i : KONCE_LIFE_REQ_SIZE;
		switch (op & 7) {
		case 0: /* time passes: up to 2^16 x 10 ms */
			if (n - i >= 2) {
				now += ((uint64_t)d[i] << 8 | d[i + 1]) * 10000u;
				i += 2;
			}
			break;
		case 1: /* raw bytes to the client: 0..30, or an ACK's size */
			len = (op >> 3) < 31 ? (size_t)(op >> 3) : KONCE_LIFE_ACK_SIZE;
			len = len < take ? len : take;
			konce_lifetime_input(l, d + i, len, now);
			i += len;
			break;
		case 2: /* the client's last request, turned into a probe or an ack (a forger who saw it) */
			if (last_len) {
				konce_rdvwire_msg m;
				if (konce_rdvwire_decode(&m, last, last_len) == 0) {
					m.type = op & 8 ? KONCE_RDV_LIFE_PROBE : KONCE_RDV_LIFE_ACK;
					m.flags = (uint8_t)((op >> 4) & 1);
					len = konce_rdvwire_encode(&m, buf, sizeof(buf));
					konce_lifetime_input(l, buf, len, now);
				}
			}
			break;
		case 3: /* raw bytes to the server from one of 4 sources */
			src.ip[15] = (uint8_t)(op >> 6 & 1);
			len = op & 0x80 ? KONCE_LIFE_REQ_SIZE : (size_t)(op >> 3 & 7) * 9;
			len = len < take ? len : take;
			if (len == KONCE_LIFE_REQ_SIZE && d[i] == KONCE_RDV_LIFE_REQ)
				in_bytes += len; /* possibly a valid request */
			konce_lifesrv_input(s, d + i, len, &src, now);
			i += len;
			break;
		case 4: /* the client's request to the server */
			if (last_len) {
				in_bytes += last_len;
				konce_lifesrv_input(s, last, last_len, &src, now);
			}
			break;
		case 5:
			konce_lifetime_rebound(l, now);
			break;
		default:
			break;
		}
		if (konce_lifetime_next_timer(l) <= now)
			konce_lifetime_timer(l, now);
		konce_lifesrv_timer(s, now);
		while (konce_lifetime_poll(l, buf, &len)) {
			if (len != KONCE_LIFE_REQ_SIZE)
				abort();
			memcpy(last, buf, len);
			last_len = len;
		}
		while (konce_lifesrv_poll(s, buf, &len, &to))
			out_bytes += len;
		check(l);
	}
	if (out_bytes > in_bytes)
		abort(); /* more than one answer's worth per request: amplification */
	konce_lifetime_free(l);
	konce_lifesrv_free(s);
	return 0;
}
