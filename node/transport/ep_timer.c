/* ep_timer.c - the endpoint's timers: every session's next deadline in a binary min-heap, so that
 * konce_ep_timer() visits the sessions that are due and konce_ep_next_timer() reads the earliest
 * one, whatever the number of sessions that exist.
 *
 * A session's deadline (its heap key, heap_due) is the earliest of everything its timers wait
 * for: handshake resends and proof-of-work slices (hs_client.c), idle close, ACCEPT resends, the
 * old key, path probes (ep_session.c), the reliability layer's loss, probe, ack, pacing and keepalive timers
 * (ep_msg.c) and path MTU probes (ep_pmtud.c).  Those functions compute it when they run; between
 * runs, code that makes a session's work due earlier calls konce_ep_arm(ep, s, at), which lowers
 * it (decrease-key).  A deadline may be early (the session is visited and finds nothing to
 * do), never later than what its timers returned (which, for the recurring ones, is a point of
 * their grid: "Coalescing" below).
 *
 * States of a session here:
 *   HEAPED  an entry of the heap at ep->tpos[s->slot]: (ep->heap_due, ep->heap_slot) there;
 *   BATCH   popped by the running konce_ep_timer() into ep->batch at ep->tpos[s->slot], to be
 *           visited in this call (arms are ignored: the visit computes the deadline afresh, as
 *           the walk over every session did before the heap);
 *   (gone)  freed: konce_ep_sess_free() takes it out of either.
 *   new session --konce_ep_timer_add (due now)--> HEAPED --due <= now: popped--> BATCH
 *   BATCH --visited, still live: pushed with the deadline its timers returned--> HEAPED
 *
 * Invariants:
 *   1. every live session is in exactly one of the heap and ep->batch, at index ep->tpos[s->slot]
 *      (s->tbatch says which), and ep->heap_slot[i] / ep->batch[i] is its slot there; the batch
 *      holds at most out_cap sessions (invariant 5), with the deadlines they were popped with;
 *   2. heap order: heap_due[i] <= heap_due[2i+1] and heap_due[2i+2];
 *   3. konce_ep_next_timer() <= the earliest deadline of any session and of the endpoint's own
 *      timers (cookie key rotation, ACCEPTs to flush: ep->timer_extra_us);
 *   4. one konce_ep_timer() call runs the timers of sessions due at its start (all of them while
 *      the out ring has room, invariant 5), each at most once, and of no other (counted in
 *      timer_visits): O(d log n) for d due of n sessions;
 *   5. no timer-driven datagram (keepalive, ack, probe, path challenge) is lost to a full out
 *      ring: a call takes at most as many due sessions as the ring has free slots; once the ring
 *      is full, the sessions of the batch not yet visited go back to the heap unvisited with
 *      their deadlines (<= now); and a visit that finds its keepalive or path retry due and no
 *      room leaves it due (ep_msg.c, ep_session.c).  Either way konce_ep_next_timer() is now, so
 *      the host flushes the ring and calls again; d sessions due at once cost O(d log n) in all,
 *      however many calls the ring's size makes them take.
 *
 * Coalescing (timer slack, as the kernel's round_jiffies; slack.h): deadlines that recur for
 * every session (a presence's keepalive, ep_msg.c, and a channel's, conn.c; the idle close and the
 * wipe of the peer's previous key after a key update, ep_session.c) sit on a coarse grid, so that
 * the sessions due within one grid step are due at the same instant and one call serves them
 * all: the host wakes at most once per step for them, however many sessions exist and however
 * their rhythms are spread (a channel that shrinks keeps its conn's).  The step is
 * konce_ep_slack(interval): the largest power of two microseconds at most 1/64 of the timer's
 * interval and at most KONCE_EP_SLACK_MAX_US (16,384 us: 16 ms of a 25 s keepalive, and 61 grid
 * points a second at most); powers of two nest, so timers of different intervals share the
 * coarser points.  Which way a deadline moves depends on what it promises:
 *   - a keepalive must leave before the NAT binding under it expires: the deadline is an upper
 *     bound and moves earlier (konce_ep_due_early: in (at - step, at]), so a PING may leave up to
 *     one step early, never late; the next one is due an interval after it was sent, so the
 *     interval between two PINGs is more than interval - step, never more than interval;
 *   - an idle close must not come before idle_timeout: the deadline moves later
 *     (konce_ep_due_late: in [at, at + step)), so a session closes up to one step late, never
 *     early; so does the old key's wipe (stragglers are refused from the exact time on,
 *     session.c).
 * Timers that answer the network (loss, probe and ack timers, handshake resends, path probes)
 * keep their exact deadlines.  tests/unit/test_ep_timer.c's test_keepalives_coalesce asserts both
 * bounds and the number of calls, for presences and for channels.
 */
#include <limits.h>

#include "node/transport/ep_internal.h"

/* ep->batch's mark for a session freed by an earlier visit of the running call */
#define FREED UINT32_MAX

/* Entry i of the heap is (heap_due[i], heap_slot[i]), and tpos[slot] is i: the sifts read and
 * move these arrays only.  With the key in the session struct, every comparison of a sift was a
 * cache miss on a session, two per level of a 17-level heap at 100,000 sessions (BENCH.md). */
static void place(konce_ep *ep, uint64_t due, uint32_t slot, unsigned i)
{
	ep->heap_due[i] = due;
	ep->heap_slot[i] = slot;
	ep->tpos[slot] = i;
}

static void sift_up(konce_ep *ep, unsigned i)
{
	uint64_t due = ep->heap_due[i];
	uint32_t slot = ep->heap_slot[i];
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (due >= ep->heap_due[p])
			break;
		place(ep, ep->heap_due[p], ep->heap_slot[p], i);
		i = p;
	}
	place(ep, due, slot, i);
}

static void sift_down(konce_ep *ep, unsigned i)
{
	uint64_t due = ep->heap_due[i];
	uint32_t slot = ep->heap_slot[i];
	for (;;) {
		unsigned l = 2 * i + 1, m = l;
		if (l >= ep->heap_n)
			break;
		if (l + 1 < ep->heap_n && ep->heap_due[l + 1] < ep->heap_due[l])
			m = l + 1;
		if (ep->heap_due[m] >= due)
			break;
		place(ep, ep->heap_due[m], ep->heap_slot[m], i);
		i = m;
	}
	place(ep, due, slot, i);
}

static void heap_push(konce_ep *ep, konce_sess *s, uint64_t due)
{
	s->tbatch = false;
	unsigned i = ep->heap_n++;
	place(ep, due, s->slot, i);
	sift_up(ep, i);
}

static void heap_remove(konce_ep *ep, konce_sess *s)
{
	unsigned i = ep->tpos[s->slot], last = --ep->heap_n;
	if (i == last)
		return;
	uint32_t moved = ep->heap_slot[last];
	place(ep, ep->heap_due[last], moved, i);
	sift_down(ep, i);
	sift_up(ep, ep->tpos[moved]);
}

void konce_ep_timer_add(konce_ep *ep, konce_sess *s, uint64_t now_us)
{
	heap_push(ep, s, now_us);
}

void konce_ep_timer_remove(konce_ep *ep, konce_sess *s)
{
	if (s->tbatch)
		ep->batch[ep->tpos[s->slot]] = FREED; /* freed by an earlier visit of this call: skipped */
	else
		heap_remove(ep, s);
}

void konce_ep_arm(konce_ep *ep, konce_sess *s, uint64_t at_us)
{
	if (!s) {
		if (at_us < ep->timer_extra_us)
			ep->timer_extra_us = at_us;
		return;
	}
	if (s->tbatch || at_us == UINT64_MAX)
		return; /* nothing due (the input path arms so for each packet): no heap entry to read */
	unsigned i = ep->tpos[s->slot];
	if (at_us >= ep->heap_due[i])
		return;
	ep->heap_due[i] = at_us;
	sift_up(ep, i);
}

uint64_t konce_ep_next_timer(const konce_ep *ep)
{
	uint64_t t = ep->cookie_rotate_us < ep->timer_extra_us ? ep->cookie_rotate_us : ep->timer_extra_us;
	if (ep->heap_n && ep->heap_due[0] < t)
		t = ep->heap_due[0];
	return t;
}

/* The sessions of a batch are far apart in memory and out of the cache (a keepalive's comes due
 * once an interval): the next one's struct, and the send key it seals with, are fetched while
 * this one is visited. */
static void prefetch_sess(konce_ep *ep, uint32_t slot)
{
	const char *p = (const char *)ep->slots[slot];
	for (size_t off = 0; off < sizeof(konce_sess); off += 64)
		__builtin_prefetch(p + off, 1);
	__builtin_prefetch(konce_keyslab_slot(ep->slab, slot)->tx_sub);
}

/* The timers of one session; its next deadline, or false if they freed it. */
static bool visit(konce_ep *ep, konce_sess *s, unsigned solving, uint64_t now_us, uint64_t *next)
{
	uint64_t t = UINT64_MAX;
	if (s->state == KONCE_HS_HELLO_SENT || s->state == KONCE_HS_SOLVING || s->state == KONCE_HS_INITIATE_SENT) {
		t = konce_hs_client_timer(ep, s, solving, now_us);
	} else {
		if (!konce_ep_sess_timer(ep, s, now_us, &t))
			return false;
		uint64_t m = UINT64_MAX;
		if (!konce_ep_msg_timer(ep, s, now_us, &m))
			return false;
		if (m < t)
			t = m;
	}
	*next = t;
	return true;
}

void konce_ep_timer(konce_ep *ep, uint64_t now_us)
{
	if (now_us >= ep->cookie_rotate_us)
		ep->cookie_rotate_us = konce_cookie_keys_tick(ep->cookie_keys, ep->env, now_us);
	ep->timer_extra_us = UINT64_MAX;
	konce_hs_server_flush_all(ep);
	/* the sessions due now, out of the heap first: a visit may arm a later one, which then waits */
	ep->batch_n = 0;
	/* invariant 5: no more than could send a datagram each (the reserve is for control only) */
	unsigned room = konce_ep_out_full(ep) ? 0 : ep->out_cap - ep->out_n;
	while (ep->heap_n && ep->heap_due[0] <= now_us && ep->batch_n < room) {
		uint32_t slot = ep->heap_slot[0];
		konce_sess *s = ep->slots[slot];
		ep->batch_due[ep->batch_n] = ep->heap_due[0];
		heap_remove(ep, s);
		s->tbatch = true;
		ep->tpos[slot] = ep->batch_n;
		ep->batch[ep->batch_n++] = slot;
	}
	if (ep->heap_n && ep->heap_due[0] <= now_us)
		ep->c.timer_deferred++; /* the rest wait for the host's flush */
	unsigned solving = 0; /* attempts that share this call's proof-of-work slice */
	for (unsigned i = 0; i < ep->batch_n; i++)
		solving += ep->slots[ep->batch[i]]->state == KONCE_HS_SOLVING;
	/* A SOLVING attempt that is not due waits for its slice (it arms now whenever it wants one). */
	for (unsigned i = 0; i < ep->batch_n; i++) {
		uint32_t slot = ep->batch[i];
		if (slot == FREED)
			continue;
		konce_sess *s = ep->slots[slot];
		if (i + 1 < ep->batch_n && ep->batch[i + 1] != FREED)
			prefetch_sess(ep, ep->batch[i + 1]);
		if (konce_ep_out_full(ep)) {
			/* the out ring is full: whatever this session has due could not leave.  It goes
			 * back to the heap unvisited and still due, so the next timer is now and the
			 * host calls again once it has flushed the ring (invariant 5). */
			ep->c.timer_deferred++;
			heap_push(ep, s, ep->batch_due[i]);
			continue;
		}
		ep->c.timer_visits++;
		uint64_t t;
		if (!visit(ep, s, solving, now_us, &t) || ep->batch[i] != slot)
			continue; /* freed (a failed handshake returns no verdict: its slot was cleared) */
		heap_push(ep, s, t);
	}
	ep->batch_n = 0;
}
