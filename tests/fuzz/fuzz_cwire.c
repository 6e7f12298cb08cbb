/* fuzz_cwire.c - libFuzzer target for the consensus message, view value and invitation token
 * parsers, and for a consensus member's input path.
 *
 * The first byte picks the target:
 *   0: konce_cw_parse (every type, JOIN_WITHDRAW too); a message that parses re-encodes to the same
 *      bytes (the codec is canonical);
 *   1: konce_ctoken_parse; a token that parses re-encodes to the same bytes;
 *   2: konce_cw_value_parse, the same rule;
 *   4: konce_cw_snapcore_parse (a snapshot's core section), the same rule;
 *   3: the rest is a sequence of (sender u8 % 4, len u16, bytes) fed to member A of {A, B, C}
 *      (sender 3 is a stranger), with the timer run between inputs: no crash, no leak (ASan), and
 *      the member's commit index never passes its log.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cgroup.h"
#include "consensus/ctoken.h"
#include "consensus/cwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static uint8_t out[KONCE_CW_MAX_MSG];

static void member_input(const uint8_t *d, size_t n)
{
	static uint8_t keys[4][32];
	static const uint8_t zero[32];
	for (unsigned i = 0; i < 4; i++)
		memset(keys[i], 0xa0 + 0x10 * (int)i, 32);
	konce_group_config cfg = {0};
	memset(cfg.group, 0x67, sizeof(cfg.group));
	memcpy(cfg.self, keys[0], 32);
	konce_group *g = konce_group_new(&cfg);
	if (!g)
		abort();
	konce_cw_value v = {.epoch = 1, .n = 3, .keys = &keys[0][0], .used_invite = zero, .commit = 0, .first_seq = 1};
	size_t vl = konce_cw_value_encode(&v, out, sizeof(out));
	if (konce_group_restore(g, out, vl, 0, 0, 0, NULL, 0, 0, 0))
		abort();
	uint64_t now = 1000;
	while (n >= 3) {
		unsigned from = d[0] % 4;
		size_t len = (size_t)d[1] << 8 | d[2];
		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		konce_group_input(g, keys[from], d, len, now);
		d += len;
		n -= len;
		now += 50000;
		konce_group_timer(g, now);
		konce_group_out o;
		while (konce_group_poll(g, &o))
			if (konce_cw_parse((konce_cw_msg[]){{0}}, o.bytes, o.len) != KONCE_CW_OK)
				abort(); /* everything the core sends parses */
		konce_group_event ev;
		while (konce_group_poll_event(g, &ev))
			;
	}
	konce_group_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static konce_cw_msg m;
	static konce_cw_value v;
	if (n < 1)
		return 0;
	uint8_t mode = d[0];
	d++;
	n--;
	switch (mode) {
	case 0:
		if (konce_cw_parse(&m, d, n) == KONCE_CW_OK &&
		    (konce_cw_encode(&m, out, sizeof(out)) != n || memcmp(out, d, n) || konce_cw_msg_size(&m) != n))
			abort();
		break;
	case 1: {
		konce_ctoken t;
		if (konce_ctoken_parse(&t, d, n) == 0 && (konce_ctoken_encode(&t, out, sizeof(out)) != n || memcmp(out, d, n)))
			abort();
		break;
	}
	case 2:
		if (konce_cw_value_parse(&v, d, n, NULL) == KONCE_CW_OK &&
		    (konce_cw_value_encode(&v, out, sizeof(out)) != n || memcmp(out, d, n)))
			abort();
		break;
	case 3:
		member_input(d, n);
		break;
	case 4: {
		konce_cw_invite inv[KONCE_CW_SNAP_INVITES];
		unsigned count = 0;
		if (konce_cw_snapcore_parse(inv, &count, d, n, NULL) == KONCE_CW_OK &&
		    (konce_cw_snapcore_encode(inv, count, out, sizeof(out)) != n || memcmp(out, d, n)))
			abort();
		break;
	}
	}
	return 0;
}
