/* fuzz_recovery.c - the sent-packet store and loss detection under arbitrary acks and timing.
 *
 * The input is a program: each byte picks an operation (send a packet, apply an ACK frame decoded
 * from the following bytes, apply an ack built from the following bytes around the packets really
 * sent, or an ack of numbers skipped (never recorded), or fire the timer after some time; a send
 * that finds the store full may evict the oldest packets).  Invariants (abort() on violation): no
 * packet's data is reported acked twice or lost twice, nothing is reported lost after it was acked;
 * an ack of a packet never sent is refused and changes nothing; bytes_in_flight equals the sum over
 * the store; the timer never goes backwards past now without being serviceable; after an ack of
 * unrecorded numbers nothing the packet threshold condemns is left; an eviction always makes room;
 * every allocation is freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/transport/recovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

enum { MAXPN = 8192 };
static uint8_t acked[MAXPN], lost[MAXPN];

static void on_acked(void *ctx, const konce_frame_ref *ref)
{
	(void)ctx;
	if (ref->id >= MAXPN || acked[ref->id]++)
		abort();
}

static void on_lost(void *ctx, const konce_frame_ref *ref)
{
	(void)ctx;
	if (ref->id >= MAXPN || acked[ref->id] || lost[ref->id]++)
		abort();
}

static void check(const konce_recovery *r)
{
	uint64_t sum = 0;
	size_t elicit = 0;
	for (size_t i = 0; i < r->cap; i++) {
		const konce_sent_packet *s = &r->slots[i];
		if (!s->pn)
			continue;
		if (s->pn % r->cap != i || s->pn < r->oldest || s->pn > r->largest_sent)
			abort();
		sum += s->in_flight ? s->bytes : 0;
		elicit += s->ack_eliciting;
	}
	if (sum != r->bytes_in_flight || elicit != r->eliciting_in_flight)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	konce_recovery r;
	konce_sent_packet slots[64];
	konce_recovery_ops ops = {on_acked, on_lost, NULL};
	konce_loss_result res;
	uint64_t now = 1, pn = 1;

	memset(acked, 0, sizeof(acked));
	memset(lost, 0, sizeof(lost));
	konce_recovery_init_with(&r, slots, 64, &ops, 25000);
	for (size_t i = 0; i < n;) {
		uint8_t op = d[i++];
		switch (op & 3) {
		case 0: { /* send, maybe skipping numbers */
			uint64_t next = pn + (op >> 2) % 3;
			if (next >= MAXPN)
				break;
			if (!konce_recovery_can_send(&r, next) && (op & 0x20)) {
				/* a probe that must go: the oldest packets make room */
				konce_recovery_evict(&r, next, &res);
				if (!konce_recovery_can_send(&r, next))
					abort();
			}
			if (!konce_recovery_can_send(&r, next))
				break;
			konce_sent_packet p = {.pn = next, .time_sent = now, .bytes = 100u + (op >> 4) * 60u,
					       .ack_eliciting = (op & 0x40) != 0 || (op & 0x80) == 0,
					       .in_flight = (op & 0x80) == 0, .nrefs = 1};
			p.refs[0].id = next;
			if (konce_recovery_on_sent(&r, &p) != 0)
				abort();
			pn = next + 1;
			now += (op >> 2) * 250u;
			break;
		}
		case 1: { /* an ACK frame straight from the input */
			konce_ack a;
			size_t used = konce_ackframe_decode(d + i, n - i, &a);
			if (!used)
				break;
			i += used;
			uint64_t before = r.bytes_in_flight;
			int rc = konce_recovery_on_ack(&r, &a, now, &res);
			if (rc == -EPROTO && r.bytes_in_flight != before)
				abort();
			if (rc != 0 && rc != -EPROTO)
				abort();
			break;
		}
		case 2: { /* an ack shaped around what was sent: up to 4 ranges below largest_sent */
			if (r.largest_sent == 0 || i + 4 > n)
				break;
			if (op & 0x80) {
				/* an ack of numbers the store never recorded (the skipped ones), up to l */
				uint64_t back = d[i++] % 4, l = pn - 1 > back ? pn - 1 - back : 1;
				konce_recovery_on_unrecorded_ack(&r, l, now, &res);
				for (size_t k = 0; k < r.cap; k++)
					if (r.slots[k].pn && r.slots[k].pn + r.packet_threshold <= r.largest_acked)
						abort(); /* the packet threshold declared these lost */
				break;
			}
			konce_ack a = {.ack_delay_us = d[i] * 100u, .nranges = 0};
			uint64_t hi = r.largest_sent - (r.largest_sent > d[i] % 4 ? d[i] % 4 : 0);
			for (int k = 0; k < 4 && hi >= 1; k++) {
				uint64_t len = d[i + k] % 5, lo = hi > len ? hi - len : 1;
				a.ranges[a.nranges++] = (konce_ack_range){lo, hi};
				uint64_t gap = 2 + (d[i + k] >> 5);
				if (lo <= gap)
					break;
				hi = lo - gap;
			}
			i += 4;
			now += 1000u * (op >> 2);
			if (a.nranges && konce_recovery_on_ack(&r, &a, now, &res) != 0)
				abort();
			break;
		}
		default: { /* time passes; the timer fires if due */
			now += (uint64_t)(op >> 2) * 20000u;
			uint64_t t = konce_recovery_timer(&r);
			konce_recovery_timeout to = konce_recovery_on_timeout(&r, now, &res);
			if ((t == KONCE_RECOVERY_NEVER || now < t) != (to == KONCE_RECOVERY_TIMER_NONE))
				abort();
			if (to == KONCE_RECOVERY_TIMER_PROBE) {
				konce_frame_ref refs[KONCE_RECOVERY_MAX_REFS];
				size_t k = konce_recovery_probe_refs(&r, refs, KONCE_RECOVERY_MAX_REFS, NULL, NULL);
				for (size_t j = 0; j < k; j++)
					if (refs[j].id >= MAXPN || acked[refs[j].id] || lost[refs[j].id])
						abort(); /* a probe carries only data still outstanding */
			}
			break;
		}
		}
		check(&r);
	}
	konce_recovery_free(&r);
	return 0;
}
