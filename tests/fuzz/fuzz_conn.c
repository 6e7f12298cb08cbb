/* fuzz_conn.c - the reliability layer's receive path: arbitrary payloads (as a session would
 * hand them over after authentication) fed to a konce_conn that has a message of its own in
 * flight, interleaved with the packets it builds.  Invariants (abort on violation): frame
 * validation terminates in bounds; a REFUSE frame re-encodes to the same bytes; congestion
 * control and recovery agree on bytes in flight; reassembly never exceeds its budget; a message
 * handed out is exactly as long as announced; built payloads always validate; nothing leaks (LeakSanitizer).
 * Input: a sequence of [u8 len][len bytes payload], each taken as the next packet number. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/conn.h"
#include "node/transport/frame.h"
#include "node/base/varint.h"
#include "tests/fuzz/fuzz_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static unsigned delivered, refused, messages;
static void fz_delivered(void *ctx, const konce_smsg *m)
{
	(void)ctx;
	(void)m;
	delivered++;
}
static void fz_refused(void *ctx, const konce_smsg *m, uint8_t why)
{
	(void)ctx;
	(void)m;
	(void)why;
	refused++;
}
static void fz_message(void *ctx, konce_reasm_msg *m)
{
	konce_conn *c = *(konce_conn **)ctx;
	messages++;
	konce_conn_release(c, m);
}

static void check(const konce_conn *c)
{
	if (c->cc.bytes_in_flight != c->rec.bytes_in_flight || c->ra.used > c->cfg.budget)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static konce_conn *c;
	const konce_env *env = &fz_env;
	konce_conn_cfg cfg = {.budget = 200000, .max_message = 100000, .ring = 64, .keepalive_us = 25000000,
			      .msg_timeout_us = 30000000, .reasm_idle_us = 60000000, .overhead = 40};
	konce_conn_ops ops = {fz_delivered, fz_refused, fz_message, &c};
	if (konce_conn_new(&c, env, &cfg, &ops, 1000))
		abort();
	static uint8_t msg[5000];
	if (konce_conn_send(c, msg, sizeof msg, n & 1, 1, 1000))
		abort();
	uint64_t now = 1000, pn_in = 1, pn_out = 1;
	size_t off = 0;
	while (off < n) {
		size_t len = d[off++];
		if (len > n - off)
			len = n - off;
		const uint8_t *p = d + off;
		off += len;
		now += 1000;
		if (konce_frame_validate(p, len, NULL) == 0) {
			size_t fo = 0;
			konce_frame f;
			while (konce_frame_next(p, len, &fo, &f, NULL) == 1)
				if (f.type == KONCE_FRAME_REFUSE) {
					uint64_t id;
					uint8_t why, out[16];
					if (konce_frame_get_refuse(f.body, f.len, &id, &why) != f.len)
						abort();
					size_t w = konce_frame_put_refuse(out, sizeof out, id, why);
					/* the same bytes when the id was written in its shortest form */
					bool shortest = konce_varint_len(id) == f.len - 1;
					if (shortest ? w != f.len + 1 || memcmp(out + 1, f.body, f.len) : w >= f.len + 1)
						abort();
				}
			konce_conn_on_packet(c, pn_in++, p, len, now);
			check(c);
		}
		konce_conn_tick(c, now);
		uint8_t out[KONCE_WIRE_MAX_PAYLOAD];
		konce_sent_packet sp;
		size_t w = konce_conn_build(c, out, sizeof out, pn_out, now, &sp);
		if (w) {
			if (konce_frame_validate(out, w, NULL))
				abort();
			konce_conn_on_sent(c, &sp, w + cfg.overhead, now);
			pn_out++;
			check(c);
		}
	}
	konce_conn_free(c);
	c = NULL;
	return 0;
}
