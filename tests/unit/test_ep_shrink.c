/* test_ep_shrink.c - a channel shrinks back to a presence when idle (ep_msg.c): its conn is freed
 * (the counting env of testenv.h shows every allocation the channel made returned) once nothing
 * is queued, in flight, owed or being reassembled and no message moved for the shrink interval
 * (5 s here); it grows again on the next message, and a message delivered before the shrink is
 * never delivered again after it, even when the sender, whose acks were lost, retransmits it to
 * the shrunk receiver.  It never shrinks with unacked data, with a message half reassembled, or when
 * the channel is kept (a group's).  With path MTU discovery on, a shrunk presence keeps the size
 * its search confirmed and nothing more: the next channel sends at that size with no probe, and a
 * path change while shrunk forgets it.  The path's RTT outlives a channel for 10 s: the next
 * channel's controller starts from it; which sample the session keeps, and what its channel is
 * handed, is tested apart (test_rtt_seen_choice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/ep_internal.h"
#include "node/transport/identity.h"
#include "node/transport/pmtud.h"
#include "ep_link.h"

enum { SHRINK_US = 5000000 }; /* KONCE_EP_SHRINK_MS: the 4-PTO floor is far below it here */

static void open_link(ep_link *p, unsigned keepalive_ms)
{
	/* long idle and message timeouts (the reassembler's expiry is the idle one): the tests hold
	 * messages back for tens of seconds; a 1 ms link */
	konce_ep_config cfg = {.keepalive_ms = keepalive_ms, .idle_timeout_ms = 120000, .msg_timeout_ms = 120000};
	ep_link_open(p, 5, 6, &cfg, &cfg, 1000);
	assert_int_equal(konce_ep_set_wanted(p->a, p->ca, true, p->now), 0);
	ep_link_run_until(p, p->now + 12000000); /* the handshake's deadlines and buffers (cookie lifetime) pass */
}

static uint64_t grown(const konce_ep *ep) { return konce_ep_counters(ep)->channels_grown; }
static uint64_t shrunk(const konce_ep *ep) { return konce_ep_counters(ep)->channels_shrunk; }

static void send_msg(ep_link *p, konce_ep *ep, uint32_t conn, size_t len, unsigned klass, uint8_t tag)
{
	static uint8_t buf[20000];
	memset(buf, tag, len);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(ep, conn, buf, len, klass, 0, p->now, &id), 0);
}

/* grows on a message, shrinks after the interval (not before), gives back every allocation,
 * keeps its keepalives, and grows again for the next message, in either class */
static void test_grow_shrink_regrow(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p, 1000);
	uint64_t live_a = ep_link_live(&p.tenv_a), live_b = ep_link_live(&p.tenv_b);
	assert_int_equal(grown(p.a), 0);
	assert_int_equal(grown(p.b), 0);

	send_msg(&p, p.a, p.ca, 5000, KONCE_MSG_CLASS_DEFAULT, 1);
	ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 1);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(grown(p.b), 1);
	assert_true(ep_link_live(&p.tenv_a) > live_a);
	assert_true(ep_link_live(&p.tenv_b) > live_b);

	uint64_t t0 = p.now;
	ep_link_run_until(&p, t0 + SHRINK_US - 500000);
	assert_int_equal(shrunk(p.a), 0); /* not yet: the interval runs from the last message */
	assert_int_equal(shrunk(p.b), 0);
	ep_link_run_until(&p, t0 + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 1);
	assert_int_equal(shrunk(p.b), 1);
	assert_int_equal(ep_link_live(&p.tenv_a), live_a); /* the channel's memory is all back */
	assert_int_equal(ep_link_live(&p.tenv_b), live_b);

	/* a presence again: wanted, it keeps the session with keepalives alone */
	uint64_t ka = konce_ep_counters(p.a)->keepalive_tx;
	ep_link_run_until(&p, p.now + 10000000);
	assert_true(konce_ep_counters(p.a)->keepalive_tx - ka >= 9);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(konce_ep_counters(p.a)->sessions_live, 1);
	assert_int_equal(konce_ep_counters(p.b)->sessions_live, 1);

	/* grows again, both ways and in the background class, each message delivered once */
	send_msg(&p, p.a, p.ca, 3000, KONCE_MSG_CLASS_BACKGROUND, 2);
	send_msg(&p, p.b, p.cb, 100, KONCE_MSG_CLASS_DEFAULT, 3);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 2);
	assert_int_equal(p.last_b_msg[0], 2);
	assert_int_equal(p.a_msgs, 1);
	assert_int_equal(p.a_delivered, 2);
	assert_int_equal(p.b_delivered, 1);
	assert_int_equal(grown(p.a), 2);
	assert_int_equal(grown(p.b), 2);
	ep_link_run_until(&p, p.now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 2);
	assert_int_equal(shrunk(p.b), 2);
	assert_int_equal(ep_link_live(&p.tenv_a), live_a);
	assert_int_equal(ep_link_live(&p.tenv_b), live_b);
	assert_int_equal(p.a_failed, 0);
	ep_link_close(&p);
}

/* The path's RTT outlives the channel: the client takes one from its handshake (INITIATE to
 * ACCEPT), a shrinking channel leaves its controller's min_rtt in the presence, and the next
 * channel's BBR starts from it (its standing-queue reference, cc_bbr.c) while it is younger than
 * 10 s. */
static void test_rtt_kept_for_next_channel(void **state)
{
	(void)state;
	ep_link p;
	konce_ep_config cfg = {.keepalive_ms = 1000, .idle_timeout_ms = 120000, .msg_timeout_ms = 120000};
	ep_link_open(&p, 5, 6, &cfg, &cfg, 1000);
	konce_sess *sa = konce_ep_sess_by_conn(p.a, p.ca), *sb = konce_ep_sess_by_conn(p.b, p.cb);
	assert_non_null(sa);
	assert_non_null(sb);
	uint64_t hs = sa->rtt_min & 0xffffff;
	assert_true(hs >= 1000 && hs <= 10000); /* a round or a few of the 1 ms link */
	assert_int_equal(sb->rtt_min, 0);       /* a server has no sample of its own handshake */

	send_msg(&p, p.a, p.ca, 5000, KONCE_MSG_CLASS_DEFAULT, 1);
	assert_non_null(sa->rel);
	assert_int_equal(sa->rel->cc.u.bbr.path_rtt, hs);
	ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 1);
	ep_link_run_until(&p, p.now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p.a), 1);
	assert_null(sa->rel);
	uint64_t kept_a = sa->rtt_min & 0xffffff;
	assert_true(kept_a >= 1000 && kept_a <= hs); /* the channel's own min_rtt, if lower */

	/* within 10 s of it, the next channel starts from it */
	send_msg(&p, p.a, p.ca, 100, KONCE_MSG_CLASS_DEFAULT, 2);
	assert_int_equal(sa->rel->cc.u.bbr.path_rtt, kept_a);
	ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 2);
	assert_true(sb->rel && sb->rel->cc.u.bbr.min_rtt == 0); /* b only acked: no sample of its own */

	/* 11 s of keepalives later it is too old */
	ep_link_run_until(&p, p.now + 11000000);
	assert_null(sa->rel);
	send_msg(&p, p.a, p.ca, 100, KONCE_MSG_CLASS_DEFAULT, 3);
	assert_int_equal(sa->rel->cc.u.bbr.path_rtt, 0);
	ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 3);
	assert_int_equal(p.a_failed, 0);
	ep_link_close(&p);
}

/* What a presence accounts for in konce_ep_mem(), per live session, in bytes: every row of what
 * sessions hold (their struct, slot and timer entries, connection-id buckets, table nodes,
 * reassembly charges, path MTU searches, channels), without the "of it" rows (parts of the
 * struct), the session key slots (locked and resident for max_sessions from the endpoint's
 * creation: bench_sessions' baseline has them), the accepted-challenge entries (the server's
 * replay cache of recent handshakes, hs_server.c: an entry outlives or predates any session and
 * is overwritten by later handshakes, not freed with one) and the two fixed rings (a cost of the
 * endpoint, whatever the number of sessions). */
static size_t presence_bytes(const konce_ep *ep)
{
	struct konce_ep_mem_row rows[32];
	unsigned n = konce_ep_mem(ep, rows, 32);
	assert_true(n <= 32);
	size_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!strncmp(rows[i].name, "  of it", 7) || strstr(rows[i].name, "(locked)") || strstr(rows[i].name, "(fixed") ||
		    !strncmp(rows[i].name, "accepted-challenge", 18))
			continue;
		sum += rows[i].each * rows[i].used;
	}
	uint64_t live = konce_ep_counters(ep)->sessions_live;
	assert_true(live > 0);
	return sum / live;
}

/* A channel that shrank back holds what it held as a presence before it grew, at most 1 KiB on
 * either side, the target for a presence: 896 bytes on the dialler, 1,024 on the server
 * (its two table index nodes and buckets, ep_table.c).  Its reassembly charge on the source is let
 * go; with path MTU discovery on (max_datagram above the base, as the daemon has it) the search
 * state goes back to its slab, and what it found and counted stays in the session's struct
 * (konce_sess.pmk, ep_pmtud.c), which every presence carries. */
static void run_shrunk_bytes(size_t max_datagram)
{
	ep_link p;
	konce_ep_config cfg = {.keepalive_ms = 1000, .idle_timeout_ms = 120000, .msg_timeout_ms = 120000,
			       .max_datagram = max_datagram};
	ep_link_open(&p, 5, 6, &cfg, &cfg, 1000);
	assert_int_equal(konce_ep_set_wanted(p.a, p.ca, true, p.now), 0);
	ep_link_run_until(&p, p.now + 12000000);
	size_t a0 = presence_bytes(p.a), b0 = presence_bytes(p.b);
	send_msg(&p, p.a, p.ca, 15000, KONCE_MSG_CLASS_DEFAULT, 1);
	send_msg(&p, p.b, p.cb, 3000, KONCE_MSG_CLASS_DEFAULT, 2);
	ep_link_run_until(&p, p.now + 2000000);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_msgs, 1);
	assert_true(presence_bytes(p.a) > a0 + sizeof(konce_pmtud));
	ep_link_run_until(&p, p.now + SHRINK_US + 10000000);
	assert_int_equal(shrunk(p.a), 1);
	assert_int_equal(shrunk(p.b), 1);
	size_t a1 = presence_bytes(p.a), b1 = presence_bytes(p.b);
	if (a1 != a0 || b1 != b0)
		fail_msg("max_datagram %zu: presence %zu / %zu bytes before the channel, %zu / %zu after", max_datagram, a0,
			 b0, a1, b1);
	if (a1 > 1024 || b1 > 1024)
		fail_msg("max_datagram %zu: a shrunk presence accounts %zu / %zu bytes", max_datagram, a1, b1);
	print_message("max_datagram %zu: presence %zu (dialler) / %zu (server) bytes, after the channel %zu / %zu\n",
		      max_datagram, a0, b0, a1, b1);
	ep_link_close(&p);
}

/* Which sample the session keeps (konce_ep_rtt_seen): the first; a lower one; a higher one only
 * once the kept one is KONCE_CC_MIN_RTT_WINDOW_US old; never 0 or one past 24 bits.  A channel's
 * conn is handed what the session kept, not the sample that came in. */
static uint64_t rtt_of(const konce_sess *s) { return s->rtt_min & 0xffffff; }
static uint64_t at_of(const konce_sess *s) { return (s->rtt_min >> 24) * 1000; }

static void test_rtt_seen_choice(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p, 1000);
	konce_sess *s = konce_ep_sess_by_conn(p.a, p.ca);
	assert_non_null(s);
	assert_null(s->rel);
	const uint64_t t = 100000000; /* 100 s: a whole millisecond, as the session stores times */
	s->rtt_min = 0;
	konce_ep_rtt_seen(s, 30000, t, t);
	assert_int_equal(rtt_of(s), 30000);
	assert_int_equal(at_of(s), t);
	konce_ep_rtt_seen(s, 50000, t + 1000000, t + 1000000); /* higher and the kept one fresh */
	assert_int_equal(rtt_of(s), 30000);
	assert_int_equal(at_of(s), t);
	konce_ep_rtt_seen(s, 20000, t + 2000000, t + 2000000); /* lower */
	assert_int_equal(rtt_of(s), 20000);
	assert_int_equal(at_of(s), t + 2000000);
	konce_ep_rtt_seen(s, 20000, t + 3000000, t + 3000000); /* as low: the newer time */
	assert_int_equal(at_of(s), t + 3000000);
	konce_ep_rtt_seen(s, 0, t + 4000000, t + 4000000);
	konce_ep_rtt_seen(s, 1u << 24, t + 4000000, t + 40000000);
	assert_int_equal(rtt_of(s), 20000);
	assert_int_equal(at_of(s), t + 3000000);
	/* higher: refused until the kept one is the window old, then kept */
	uint64_t stale = t + 3000000 + KONCE_CC_MIN_RTT_WINDOW_US;
	konce_ep_rtt_seen(s, 45000, stale - 1000, stale - 1000);
	assert_int_equal(rtt_of(s), 20000);
	konce_ep_rtt_seen(s, 45000, stale, stale);
	assert_int_equal(rtt_of(s), 45000);
	assert_int_equal(at_of(s), stale);

	/* a channel: the conn is handed the kept sample at its growth, keeps it when a higher
	 * sample comes while it is fresh, and takes a lower one */
	s->rtt_min = 0;
	konce_ep_rtt_seen(s, 40000, p.now, p.now);
	uint64_t kept_at = at_of(s);
	send_msg(&p, p.a, p.ca, 5000, KONCE_MSG_CLASS_DEFAULT, 1);
	assert_non_null(s->rel);
	assert_int_equal(s->rel->seed_rtt, 40000);
	assert_int_equal(s->rel->seed_at, kept_at);
	ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 1);
	assert_non_null(s->rel);
	konce_ep_rtt_seen(s, 90000, p.now, p.now);
	assert_int_equal(rtt_of(s), 40000);
	assert_int_equal(s->rel->seed_rtt, 40000);
	assert_int_equal(s->rel->seed_at, kept_at);
	konce_ep_rtt_seen(s, 30000, p.now, p.now);
	assert_int_equal(s->rel->seed_rtt, 30000);
	assert_int_equal(s->rel->seed_at, at_of(s));
	assert_int_equal(s->rel->cc.u.bbr.path_rtt, 30000);
	ep_link_close(&p);
}

static void test_shrunk_presence_bytes(void **state)
{
	(void)state;
	run_shrunk_bytes(0);
	run_shrunk_bytes(KONCE_PMTU_MAX);
}

static konce_ep_pmtu_info pmtu_of(konce_ep *ep, uint32_t conn)
{
	konce_ep_pmtu_info i;
	assert_int_equal(konce_ep_conn_pmtu(ep, conn, &i), 0);
	return i;
}

static uint64_t probes_tx(const konce_ep *ep) { return konce_ep_counters(ep)->pmtu_probes_tx; }

enum { LINK_MTU = 1400 }; /* below max_datagram (KONCE_PMTU_MAX): the search ends under its bound */

/* A session with path MTU discovery on, over a link that drops datagrams above LINK_MTU, whose
 * first channel searched (a's found LINK_MTU) and shrank back to a presence. */
static void open_searched(ep_link *p)
{
	konce_ep_config cfg = {.keepalive_ms = 1000, .idle_timeout_ms = 120000, .msg_timeout_ms = 120000,
			       .max_datagram = KONCE_PMTU_MAX};
	ep_link_open(p, 5, 6, &cfg, &cfg, 1000);
	p->mtu = LINK_MTU;
	assert_int_equal(konce_ep_set_wanted(p->a, p->ca, true, p->now), 0);
	ep_link_run_until(p, p->now + 12000000);
	send_msg(p, p->a, p->ca, 15000, KONCE_MSG_CLASS_DEFAULT, 1);
	/* the search: the bound lost 3 times, then halving to the byte, 3 losses (of at least
	 * KONCE_PMTU_PROBE_MIN_MS each) for every size above LINK_MTU */
	uint64_t t0 = p->now;
	while (pmtu_of(p->a, p->ca).state != KONCE_PMTUD_SEARCH_COMPLETE && p->now < t0 + 30000000)
		ep_link_run_until(p, p->now + 100000);
	assert_int_equal(p->b_msgs, 1);
	assert_int_equal(shrunk(p->a), 0); /* not while SEARCHING */
	konce_ep_pmtu_info i = pmtu_of(p->a, p->ca);
	assert_int_equal(i.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(i.plpmtu, LINK_MTU);
	assert_true(i.probes_lost >= KONCE_PMTU_MAX_PROBES); /* the bound's probes, at least */
	ep_link_run_until(p, p->now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p->a), 1);
	/* the presence reports what it kept: the result and the counts of the search */
	konce_ep_pmtu_info k = pmtu_of(p->a, p->ca);
	assert_int_equal(k.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(k.plpmtu, LINK_MTU);
	assert_int_equal(k.max, KONCE_PMTU_MAX);
	assert_int_equal(k.probes_sent, i.probes_sent);
	assert_int_equal(k.probes_lost, i.probes_lost);
}

/* The next channel sends its data at the kept size at once, with no probe (not from the base, and
 * not the bound again), and its search is complete with the raise timer armed as after a search:
 * one KONCE_PMTU_RAISE_MS later (the channel kept open meanwhile) it probes above the size again. */
static void test_regrow_at_kept_plpmtu(void **state)
{
	(void)state;
	ep_link p;
	open_searched(&p);
	uint64_t probes = probes_tx(p.a), t0 = p.now;
	p.largest_ab = 0;
	send_msg(&p, p.a, p.ca, 15000, KONCE_MSG_CLASS_DEFAULT, 2);
	konce_ep_pmtu_info i = pmtu_of(p.a, p.ca);
	assert_int_equal(i.state, KONCE_PMTUD_SEARCH_COMPLETE); /* resumed, before any ack */
	assert_int_equal(i.plpmtu, LINK_MTU);
	assert_int_equal(p.largest_ab, 0);
	ep_link_pump(&p);
	/* the first flight, larger than the base (data runs are whole 64-byte units: not to the
	 * byte), none dropped */
	assert_true(p.largest_ab > LINK_MTU - 64 && p.largest_ab <= LINK_MTU);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 2);
	assert_int_equal(p.a_delivered, 2);
	assert_int_equal(grown(p.a), 2);
	assert_int_equal(probes_tx(p.a), probes); /* no probe at all */
	assert_true(p.largest_ab <= LINK_MTU);
	assert_int_equal(konce_ep_counters(p.a)->pmtu_resets, 0);
	/* the raise timer: nothing until KONCE_PMTU_RAISE_MS after the resume, then a search */
	assert_int_equal(konce_ep_msg_keep_channel(p.a, p.ca), 0);
	ep_link_run_until(&p, t0 + (uint64_t)KONCE_PMTU_RAISE_MS * 1000 - 1000000);
	assert_int_equal(probes_tx(p.a), probes);
	ep_link_run_until(&p, t0 + (uint64_t)KONCE_PMTU_RAISE_MS * 1000 + 10000000);
	assert_true(probes_tx(p.a) > probes);
	i = pmtu_of(p.a, p.ca);
	assert_int_equal(i.state, KONCE_PMTUD_SEARCH_COMPLETE); /* nothing above LINK_MTU got through */
	assert_int_equal(i.plpmtu, LINK_MTU);
	assert_int_equal(p.a_failed, 0);
	ep_link_close(&p);
}

/* A path change while shrunk (konce_ep_path_reset on a session without search state) forgets the
 * kept size: the next channel starts again from the base, probes, and finds the size anew. */
static void test_reset_while_shrunk_forgets(void **state)
{
	(void)state;
	ep_link p;
	open_searched(&p);
	konce_ep_path_reset(p.a, &p.addr_b, p.now);
	assert_int_equal(konce_ep_counters(p.a)->pmtu_resets, 1);
	konce_ep_pmtu_info i = pmtu_of(p.a, p.ca);
	assert_int_equal(i.state, KONCE_PMTUD_BASE);
	assert_int_equal(i.plpmtu, KONCE_PMTU_BASE);
	assert_int_equal(grown(p.a), 1); /* still a presence */
	uint64_t probes = probes_tx(p.a);
	p.largest_ab = 0;
	send_msg(&p, p.a, p.ca, 15000, KONCE_MSG_CLASS_DEFAULT, 2);
	i = pmtu_of(p.a, p.ca);
	assert_int_equal(i.plpmtu, KONCE_PMTU_BASE); /* from the base */
	assert_true(probes_tx(p.a) > probes);        /* probing it */
	uint64_t t0 = p.now;
	while (pmtu_of(p.a, p.ca).state != KONCE_PMTUD_SEARCH_COMPLETE && p.now < t0 + 30000000)
		ep_link_run_until(&p, p.now + 100000);
	assert_int_equal(p.b_msgs, 2);
	assert_true(probes_tx(p.a) >= probes + 1 + KONCE_PMTU_MAX_PROBES); /* base, bound x 3, ... */
	assert_int_equal(p.largest_ab, KONCE_PMTU_MAX);                   /* the bound's probe again */
	i = pmtu_of(p.a, p.ca);
	assert_int_equal(i.state, KONCE_PMTUD_SEARCH_COMPLETE);
	assert_int_equal(i.plpmtu, LINK_MTU);
	ep_link_close(&p);
}

/* b delivers a message but every ack it sends is lost; a retransmits; b shrinks meanwhile; a's
 * next retransmission grows b again, which takes it as a duplicate: delivered exactly once, and a
 * hears of the delivery once the link heals. */
static void test_exactly_once_across_shrink(void **state)
{
	(void)state;
	ep_link p;
	/* the default keepalive (25 s): one every second would stand in for a's probes (each PING
	 * re-arms the probe timer), and a would not send the message's data again */
	open_link(&p, 0);
	p.drop_ba = true;
	send_msg(&p, p.a, p.ca, 2500, KONCE_MSG_CLASS_DEFAULT, 7);
	ep_link_pump(&p);
	assert_int_equal(p.b_msgs, 1);
	assert_int_equal(p.a_delivered, 0);
	uint64_t t0 = p.now;
	uint64_t rtx0 = konce_ep_counters(p.a)->data_tx;
	/* a probes with the message's data 1, 2, 4 and 8 s later (the probe timeout doubling); b
	 * shrinks 5 s after the one at 4 s, and the one at 8 s finds a presence */
	ep_link_run_until(&p, t0 + 20000000);
	assert_true(konce_ep_counters(p.a)->data_tx > rtx0 + 3); /* a kept retransmitting */
	assert_int_equal(shrunk(p.a), 0);                         /* a: unacked data */
	assert_true(shrunk(p.b) >= 1);                            /* b: nothing owed, shrank */
	assert_true(grown(p.b) >= 2);                             /* ...and grew for a's retransmission */
	assert_int_equal(p.b_msgs, 1);                            /* which was a duplicate */
	/* the link heals: b acks a's next probe (16 s after the last), and a hears of the delivery */
	p.drop_ba = false;
	ep_link_run_until(&p, p.now + 20000000);
	assert_int_equal(p.a_delivered, 1);
	assert_int_equal(p.a_failed, 0);
	assert_int_equal(p.b_msgs, 1);
	/* and the ids go on: the next message is new */
	send_msg(&p, p.a, p.ca, 2500, KONCE_MSG_CLASS_DEFAULT, 8);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(p.b_msgs, 2);
	assert_int_equal(p.last_b_msg[0], 8);
	assert_int_equal(p.a_delivered, 2);
	ep_link_close(&p);
}

/* The a->b link heals: a's one message gets through and is acked, and a shrinks once idle. */
static void heal_and_shrink(ep_link *p)
{
	p->drop_ab = false;
	ep_link_run_until(p, p->now + 3000000);
	assert_int_equal(p->b_msgs, 1);
	assert_int_equal(p->a_delivered, 1);
	ep_link_run_until(p, p->now + SHRINK_US + 1000000);
	assert_int_equal(shrunk(p->a), 1);
}

/* With a message unacked (the peer unreachable), the sender never shrinks. */
static void test_no_shrink_with_unacked(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p, 1000);
	p.drop_ab = true;
	send_msg(&p, p.a, p.ca, 500, KONCE_MSG_CLASS_DEFAULT, 1);
	ep_link_run_until(&p, p.now + 25000000);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(shrunk(p.a), 0);
	assert_int_equal(p.a_failed, 0);
	heal_and_shrink(&p);
	ep_link_close(&p);
}

/* With a message half reassembled, the receiver never shrinks; once it completes, it does. */
static void test_no_shrink_with_partial(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p, 1000);
	p.drop_ab = true;
	p.pass_ab = 2; /* the first two packets of a 20 kB message get through, then nothing */
	send_msg(&p, p.a, p.ca, 20000, KONCE_MSG_CLASS_DEFAULT, 4);
	ep_link_run_until(&p, p.now + 20000000);
	assert_int_equal(grown(p.b), 1);
	assert_int_equal(p.b_msgs, 0);
	assert_int_equal(shrunk(p.b), 0); /* a partial reassembly: not idle */
	assert_int_equal(shrunk(p.a), 0);
	heal_and_shrink(&p);
	assert_int_equal(shrunk(p.b), 1);
	assert_int_equal(p.b_msgs, 1);
	ep_link_close(&p);
}

/* A kept channel (konce_ep_msg_keep_channel: a consensus group's) stays a channel while idle. */
static void test_kept_channel_stays(void **state)
{
	(void)state;
	ep_link p;
	open_link(&p, 1000);
	send_msg(&p, p.a, p.ca, 10, KONCE_MSG_CLASS_DEFAULT, 1);
	ep_link_pump(&p);
	assert_int_equal(konce_ep_msg_keep_channel(p.a, p.ca), 0);
	ep_link_run_until(&p, p.now + 4 * SHRINK_US);
	assert_int_equal(shrunk(p.a), 0);
	assert_int_equal(shrunk(p.b), 1); /* b's side was not kept */
	send_msg(&p, p.a, p.ca, 10, KONCE_MSG_CLASS_DEFAULT, 2);
	ep_link_run_until(&p, p.now + 1000000);
	assert_int_equal(grown(p.a), 1);
	assert_int_equal(p.b_msgs, 2);
	ep_link_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_shrink_regrow),
		cmocka_unit_test(test_exactly_once_across_shrink),
		cmocka_unit_test(test_no_shrink_with_unacked),
		cmocka_unit_test(test_no_shrink_with_partial),
		cmocka_unit_test(test_kept_channel_stays),
		cmocka_unit_test(test_shrunk_presence_bytes),
		cmocka_unit_test(test_rtt_kept_for_next_channel),
		cmocka_unit_test(test_rtt_seen_choice),
		cmocka_unit_test(test_regrow_at_kept_plpmtu),
		cmocka_unit_test(test_reset_while_shrunk_forgets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
