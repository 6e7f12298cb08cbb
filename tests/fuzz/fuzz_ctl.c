/* fuzz_ctl.c - the CLI's side of the control socket: konce_ctl_take_line(), the parser
 * konce_ctl_call() reads every received line through, fed what a node (or anything listening on
 * the socket) might send.
 *
 * Input: byte 0 picks the size of the pieces the rest arrives in (1 to 255 bytes, as recv() might
 * hand them over) or, with its top bit, that the rest repeats until 70,000 bytes have arrived in
 * pieces of 512 to 16,768 bytes (so small inputs reach the KONCE_CTL_LINE_MAX limit); after each piece, lines are taken until none is complete, as konce_ctl_call()
 * does (it returns on a reply or an error: here the next piece continues, to cover more lines).
 * Invariants (abort on violation): the buffer never holds more than KONCE_CTL_LINE_MAX bytes; a
 * line is consumed with its newline and nothing else; a reply is a JSON object that is not a
 * progress line; a progress line reaches on_progress exactly once, as an object; -EMSGSIZE only
 * with a full buffer and no line end; MORE only with no line end; nothing leaks (LeakSanitizer). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static unsigned progress_calls;
static void on_progress(void *ctx, json_t *progress)
{
	(void)ctx;
	if (!json_is_object(progress))
		abort();
	progress_calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 2)
		return 0;
	static char *buf;
	if (!buf && !(buf = malloc(KONCE_CTL_LINE_MAX + 1)))
		abort();
	struct konce_ctl c = {.fd = -1, .buf = buf, .on_progress = on_progress};
	/* long inputs come in big pieces: byte-sized ones would make the run quadratic */
	size_t piece = (d[0] & 0x80) ? (size_t)(d[0] & 0x7f) * 128 + 512 : (size_t)d[0] * 2 + 1;
	size_t total = (d[0] & 0x80) ? 70000 : n - 1;
	char err[512];
	for (size_t i = 0; i < total;) {
		size_t room = KONCE_CTL_LINE_MAX - c.len, k = total - i < piece ? total - i : piece;
		if (k > room)
			k = room;
		for (size_t j = 0; j < k; j++)
			c.buf[c.len + j] = (char)d[1 + (i + j) % (n - 1)];
		c.len += k;
		i += k;
		for (;;) {
			size_t before = c.len;
			char *nl = memchr(c.buf, '\n', c.len);
			size_t want = nl ? before - (size_t)(nl - c.buf) - 1 : before;
			unsigned calls = progress_calls;
			json_t *resp = (json_t *)1;
			err[0] = 0;
			int t = konce_ctl_take_line(&c, &resp, err, sizeof err);
			if (c.len > KONCE_CTL_LINE_MAX || c.len != want)
				abort();
			if (t != KONCE_CTL_PROGRESS && progress_calls != calls)
				abort();
			if (t == KONCE_CTL_MORE) {
				if (nl || resp || before >= KONCE_CTL_LINE_MAX)
					abort();
				break;
			}
			if (t == -EMSGSIZE) {
				if (nl || resp || before < KONCE_CTL_LINE_MAX || !err[0])
					abort();
				c.len = 0; /* the call gives up; start over as a new connection would */
				break;
			}
			if (!nl)
				abort();
			if (t == -EPROTO) {
				if (resp || !err[0])
					abort();
			} else if (t == KONCE_CTL_PROGRESS) {
				if (resp || progress_calls != calls + 1)
					abort();
			} else if (t == KONCE_CTL_REPLY) {
				if (!json_is_object(resp) ||
				    (json_is_object(json_object_get(resp, "progress")) && !json_object_get(resp, "ok")))
					abort();
				json_decref(resp);
			} else {
				abort();
			}
		}
	}
	return 0;
}
