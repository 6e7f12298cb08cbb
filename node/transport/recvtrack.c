/* recvtrack.c - received packet numbers and ack timing (see recvtrack.h). */
#include "node/transport/recvtrack.h"

#include <errno.h>
#include <string.h>

#include "node/base/varint.h"

void konce_recvtrack_init(konce_recvtrack *rt, uint64_t max_ack_delay_us)
{
	memset(rt, 0, sizeof(*rt));
	rt->floor = 1;
	rt->max_ack_delay_us = max_ack_delay_us ? max_ack_delay_us : (uint64_t)KONCE_ACK_MAX_DELAY_MS * 1000;
	rt->ack_at = KONCE_RECVTRACK_NEVER;
}

static void remove_range(konce_recvtrack *rt, size_t i)
{
	memmove(&rt->ranges[i], &rt->ranges[i + 1], (rt->nranges - i - 1) * sizeof(rt->ranges[0]));
	rt->nranges--;
}

/* Inserts pn; returns false if it is already there.  The caller has checked pn >= floor. */
static bool insert(konce_recvtrack *rt, uint64_t pn)
{
	size_t pos = 0;
	while (pos < rt->nranges && pn < rt->ranges[pos].lo)
		pos++;
	if (pos < rt->nranges && pn <= rt->ranges[pos].hi)
		return false;
	konce_ack_range *above = pos > 0 ? &rt->ranges[pos - 1] : NULL;
	konce_ack_range *below = pos < rt->nranges ? &rt->ranges[pos] : NULL;
	bool join_above = above && above->lo == pn + 1, join_below = below && below->hi + 1 == pn;

	if (join_above && join_below) {
		above->lo = below->lo;
		remove_range(rt, pos);
	} else if (join_above) {
		above->lo = pn;
	} else if (join_below) {
		below->hi = pn;
	} else {
		if (rt->nranges == KONCE_RECVTRACK_MAX_RANGES) {
			/* Forget the oldest range; pn itself is newer (on_packet checked). */
			rt->floor = rt->ranges[rt->nranges - 1].hi + 1;
			rt->nranges--;
			if (pos > rt->nranges)
				pos = rt->nranges;
		}
		memmove(&rt->ranges[pos + 1], &rt->ranges[pos], (rt->nranges - pos) * sizeof(rt->ranges[0]));
		rt->ranges[pos].lo = rt->ranges[pos].hi = pn;
		rt->nranges++;
	}
	return true;
}

konce_recv_result konce_recvtrack_on_packet(konce_recvtrack *rt, uint64_t pn, bool ack_eliciting,
					    uint64_t now, bool has_ts, uint32_t ts)
{
	if (pn < rt->floor || pn > KONCE_VARINT_MAX)
		return KONCE_RECV_TOO_OLD;
	/* Full and older than the oldest range, not adjacent to it: it would push out itself. */
	if (rt->nranges == KONCE_RECVTRACK_MAX_RANGES && pn + 1 < rt->ranges[rt->nranges - 1].lo)
		return KONCE_RECV_TOO_OLD;

	uint64_t old_largest = rt->nranges ? rt->ranges[0].hi : 0;
	if (!insert(rt, pn))
		return KONCE_RECV_DUPLICATE;
	if (pn > old_largest) {
		rt->largest_time = now;
		rt->largest_has_owd = has_ts;
		rt->largest_owd = has_ts ? (uint32_t)now - ts : 0;
	}
	if (!ack_eliciting)
		return KONCE_RECV_NEW;

	bool out_of_order = old_largest != 0 && (pn < old_largest || pn > old_largest + 1);
	if (++rt->unacked_eliciting >= KONCE_ACK_ELICITING_THRESHOLD || out_of_order)
		rt->ack_at = 0;
	else if (rt->ack_at == KONCE_RECVTRACK_NEVER)
		rt->ack_at = now + rt->max_ack_delay_us;
	return KONCE_RECV_NEW;
}

int konce_recvtrack_build_ack(const konce_recvtrack *rt, uint64_t now, uint64_t credit, konce_ack *a)
{
	if (rt->nranges == 0)
		return -ENODATA;
	a->nranges = rt->nranges < KONCE_ACK_MAX_RANGES ? rt->nranges : KONCE_ACK_MAX_RANGES;
	memcpy(a->ranges, rt->ranges, a->nranges * sizeof(a->ranges[0]));
	a->ack_delay_us = now > rt->largest_time ? now - rt->largest_time : 0;
	a->credit = credit;
	a->has_owd = rt->largest_has_owd;
	a->owd = rt->largest_owd;
	return 0;
}

void konce_recvtrack_on_ack_sent(konce_recvtrack *rt)
{
	rt->unacked_eliciting = 0;
	rt->ack_at = KONCE_RECVTRACK_NEVER;
}

void konce_recvtrack_forget_below(konce_recvtrack *rt, uint64_t pn)
{
	if (pn <= rt->floor)
		return;
	rt->floor = pn;
	while (rt->nranges > 0 && rt->ranges[rt->nranges - 1].hi < pn)
		rt->nranges--;
	if (rt->nranges > 0 && rt->ranges[rt->nranges - 1].lo < pn)
		rt->ranges[rt->nranges - 1].lo = pn;
}
