/* fuzz_frag.c - FRAGMENT decoder and reassembler.
 *
 * The input is a run of FRAGMENT frames (bytes that do not decode are skipped one at a time).  Each
 * decoded frame must re-encode and decode to the same fragment.  Its data is then replaced by a
 * pattern computed from (message id, byte offset) -- so that any two copies of a byte agree, as they
 * do on a real connection -- and fed to a reassembler with a small budget.  Invariants (abort() on
 * violation): used and lazy never exceed the budget; a message is delivered at most once, with the length
 * its fragments announced and the pattern bytes; every allocation is freed at the end.  The low bit
 * of each frame's length byte decides whether a delivered message is released at once or held
 * (held messages keep their charge, which exercises budget refusal).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/frag.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static long live;
static void *f_alloc(void *ctx, size_t sz)
{
	(void)ctx;
	live++;
	return calloc(1, sz);
}
/* not zeroed, as malloc's: a byte delivered unwritten is then a pattern mismatch or an MSan report */
static void *f_alloc_lazy(void *ctx, size_t sz)
{
	(void)ctx;
	live++;
	return malloc(sz);
}
static void f_free(void *ctx, void *p)
{
	(void)ctx;
	live--;
	free(p);
}
static void f_random(void *ctx, uint8_t *b, size_t sz)
{
	(void)ctx;
	memset(b, 0, sz);
}

static uint8_t pattern(uint64_t id, uint64_t k) { return (uint8_t)(id * 131 + k * 7 + (k >> 9)); }

enum { MAX_DELIVERED = 512, MAX_HELD = 8 };

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const konce_env env = {f_alloc, f_free, f_random, NULL, NULL, f_alloc_lazy};
	konce_reasm r;
	/* messages up to 40000 bytes: the chunked paths (KONCE_REASM_CHUNK) too, under a pool; one
	 * such message in progress at a time is built in place, a second one in chunks */
	konce_reasm_pool pool = {.budget = 50000};
	konce_reasm_config cfg = {.budget = 60000, .max_message = 40000, .max_messages = 3, .pool = &pool};
	uint64_t delivered[MAX_DELIVERED];
	size_t ndelivered = 0, nheld = 0;
	konce_reasm_msg *held[MAX_HELD];
	static uint8_t data[KONCE_WIRE_MAX_SESSION_PAYLOAD], enc[KONCE_FRAG_HEADER_MAX + KONCE_WIRE_MAX_SESSION_PAYLOAD];
	uint64_t now = 0;

	live = 0;
	if (konce_reasm_init(&r, &env, &cfg) != 0)
		abort();
	for (size_t at = 0; at < n;) {
		konce_fragment f, g;
		size_t used = konce_frag_decode(d + at, n - at, &f);
		if (used == 0) {
			at++;
			continue;
		}
		size_t m = konce_frag_encode(enc, sizeof(enc), &f);
		if (m == 0 || m > used || konce_frag_decode(enc, m, &g) != m || g.msg_id != f.msg_id ||
		    g.offset != f.offset || g.total != f.total || g.len != f.len || memcmp(g.data, f.data, f.len))
			abort();
		bool hold = d[at + used - f.len - 1] & 1;
		at += used;
		for (size_t i = 0; i < f.len; i++)
			data[i] = pattern(f.msg_id, f.offset + i);
		f.data = data;
		now += 1000;
		konce_reasm_msg *msg;
		konce_reasm_result res = konce_reasm_on_fragment(&r, &f, now, &msg);
		if (r.used > cfg.budget || pool.used > pool.budget || pool.used != r.used || r.lazy > cfg.budget ||
		    pool.lazy > pool.budget || pool.lazy != r.lazy)
			abort();
		if (res != KONCE_REASM_COMPLETE) {
			if (msg)
				abort();
			continue;
		}
		if (!msg || msg->id != f.msg_id || msg->len != f.total)
			abort();
		for (uint64_t k = 0; k < msg->len; k++)
			if (msg->data[k] != pattern(msg->id, k))
				abort();
		for (size_t i = 0; i < ndelivered; i++)
			if (delivered[i] == msg->id)
				abort();
		if (ndelivered < MAX_DELIVERED)
			delivered[ndelivered++] = msg->id;
		if (hold && nheld < MAX_HELD)
			held[nheld++] = msg;
		else
			konce_reasm_release(&r, msg);
		if (konce_reasm_expire(&r, now, 20000) && r.used > cfg.budget)
			abort();
	}
	for (size_t i = 0; i < nheld; i++)
		konce_reasm_release(&r, held[i]);
	konce_reasm_free(&r);
	if (live != 0 || pool.used != 0 || pool.holders != 0 || pool.lazy != 0)
		abort();
	return 0;
}
