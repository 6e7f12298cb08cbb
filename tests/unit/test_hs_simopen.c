/* test_hs_simopen.c - the simultaneous open (node/transport/hs_simopen.c) with two endpoints wired back to
 * back, every datagram delivered, dropped or replayed by hand: crossing INITIATEs, a late copy
 * after the ACCEPT, retransmissions, a lost COOKIE on either side, one side starting late, a
 * restarted peer, and derived identities (no tie-break: two sessions, as before). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "node/transport/endpoint.h"
#include "node/transport/hs_packets.h"
#include "node/transport/identity.h"
#include "testenv.h"

enum { LO = 0, HI = 1, STEP_US = 10000 };

typedef struct duo {
	test_env env[2];
	konce_identity *id[2];
	konce_ep *ep[2]; /* [LO] has the lower public key */
	konce_addr addr[2];
	uint32_t conn[2];
	uint64_t now;
	unsigned lost;
	enum konce_ep_verdict verdict[2]; /* give(): what the receiving side said of the latest datagram */
	konce_ep_rx rx[2];
} duo;

static void make_duo(duo *d, bool explicit_identity)
{
	memset(d, 0, sizeof *d);
	test_env_init(&d->env[0], 11);
	test_env_init(&d->env[1], 12);
	assert_int_equal(konce_identity_generate(&d->id[0], &d->env[0].env), 0);
	assert_int_equal(konce_identity_generate(&d->id[1], &d->env[1].env), 0);
	if (memcmp(konce_identity_public(d->id[0]), konce_identity_public(d->id[1]), KONCE_WIRE_KEY) > 0) {
		konce_identity *t = d->id[0];
		d->id[0] = d->id[1];
		d->id[1] = t;
	}
	d->now = 5000000;
	for (int i = 0; i < 2; i++) {
		konce_ep_config c = {.env = &d->env[i].env, .identity = d->id[i], .explicit_identity = explicit_identity};
		assert_int_equal(konce_ep_new(&d->ep[i], &c, d->now), 0);
	}
	assert_int_equal(konce_addr_parse(&d->addr[LO], "192.0.2.1:1000"), 0);
	assert_int_equal(konce_addr_parse(&d->addr[HI], "198.51.100.2:2000"), 0);
}

static void free_duo(duo *d)
{
	for (int i = 0; i < 2; i++) {
		konce_ep_free(d->ep[i]);
		konce_identity_free(d->id[i]);
		assert_int_equal(d->env[i].allocs, d->env[i].frees);
	}
}

static const struct konce_ep_counters *C(duo *d, int i) { return konce_ep_counters(d->ep[i]); }

/* Side i connects to the other with first message "first i" and queues "queued i" behind it. */
static void connect_side(duo *d, int i)
{
	char first[16], queued[16];
	snprintf(first, sizeof first, "first %d", i);
	snprintf(queued, sizeof queued, "queued %d", i);
	assert_int_equal(konce_ep_connect(d->ep[i], konce_identity_public(d->id[!i]), &d->addr[!i],
					  (const uint8_t *)first, strlen(first), d->now, &d->conn[i]), 0);
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(d->ep[i], d->conn[i], (const uint8_t *)queued, strlen(queued), 0, 0,
					   d->now, &id), 0);
}

/* The next datagram side i wants to send, which must be of type `type`. */
static size_t take(duo *d, int i, uint8_t type, uint8_t buf[KONCE_WIRE_MAX_DATAGRAM])
{
	size_t len;
	konce_addr to;
	assert_true(konce_ep_poll_datagram(d->ep[i], buf, &len, &to));
	assert_int_equal(buf[0], type);
	assert_true(konce_addr_eq(&to, &d->addr[!i]));
	return len;
}

static void give(duo *d, int i, const uint8_t *buf, size_t len)
{
	d->now += STEP_US;
	d->verdict[i] = konce_ep_input(d->ep[i], buf, len, &d->addr[!i], d->now, &d->rx[i]);
}

/* Both sides connect at once and their handshake packets cross, type by type, from HELLO up to
 * `upto`: each side's packet of that type is taken (b[i], n[i]) and not yet given. */
static void cross_until(duo *d, uint8_t upto, uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM], size_t n[2])
{
	connect_side(d, LO);
	connect_side(d, HI);
	for (int t = KONCE_PKT_HELLO;; t++) {
		for (int i = 0; i < 2; i++)
			n[i] = take(d, i, (uint8_t)t, b[i]);
		if (t == upto)
			break;
		for (int i = 0; i < 2; i++)
			give(d, !i, b[i], n[i]);
	}
}

/* Side i's queued datagrams: the first of type `type` is returned, the rest are dropped (the
 * reliability layer resends them). */
static size_t take_drop_rest(duo *d, int i, uint8_t type, uint8_t out[KONCE_WIRE_MAX_DATAGRAM])
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len, found = 0;
	konce_addr to;
	while (konce_ep_poll_datagram(d->ep[i], buf, &len, &to))
		if (buf[0] == type && !found) {
			memcpy(out, buf, len);
			found = len;
		}
	assert_true(found > 0);
	return found;
}

/* Everything queued, both ways, until quiet (timers run as time passes). */
static void pump(duo *d)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	for (int moved = 1; moved;) {
		moved = 0;
		for (int i = 0; i < 2; i++) {
			if (konce_ep_next_timer(d->ep[i]) <= d->now)
				konce_ep_timer(d->ep[i], d->now);
			while (konce_ep_poll_datagram(d->ep[i], buf, &len, &to)) {
				moved = 1;
				if (konce_addr_eq(&to, &d->addr[!i]))
					give(d, !i, buf, len);
				else
					d->lost++; /* to an address nobody has */
			}
		}
	}
}

/* Runs both endpoints for dt with every datagram delivered. */
static void run_for(duo *d, uint64_t dt)
{
	uint64_t end = d->now + dt;
	while (d->now < end) {
		pump(d);
		d->now += 50000;
		for (int i = 0; i < 2; i++)
			if (konce_ep_next_timer(d->ep[i]) <= d->now)
				konce_ep_timer(d->ep[i], d->now);
	}
	pump(d);
}

/* Runs both endpoints for dt with every datagram from side `mute` dropped. */
static void run_muted(duo *d, int mute, uint64_t dt)
{
	uint8_t buf[KONCE_WIRE_MAX_DATAGRAM];
	size_t len;
	konce_addr to;
	uint64_t end = d->now + dt;
	while (d->now < end) {
		for (int i = 0; i < 2; i++) {
			if (konce_ep_next_timer(d->ep[i]) <= d->now)
				konce_ep_timer(d->ep[i], d->now);
			while (konce_ep_poll_datagram(d->ep[i], buf, &len, &to)) {
				if (i == mute)
					d->lost++;
				else
					give(d, !i, buf, len);
			}
		}
		d->now += 10000;
	}
}

typedef struct seen {
	int established, failed, closed, first, queued, delivered, first_delivered;
	bool incoming;
	uint32_t conn;
	uint64_t first_id; /* ESTABLISHED's msg_id */
} seen;

/* Drains side i's events, checking every one belongs to conn. */
static seen events(duo *d, int i, uint32_t conn)
{
	seen s = {0};
	konce_ep_event ev;
	char want_first[16], want_queued[16];
	snprintf(want_first, sizeof want_first, "first %d", !i);
	snprintf(want_queued, sizeof want_queued, "queued %d", !i);
	while (konce_ep_poll_event(d->ep[i], &ev)) {
		assert_int_equal(ev.conn, conn);
		switch (ev.type) {
		case KONCE_EV_ESTABLISHED:
			s.established++;
			s.incoming = ev.incoming;
			s.first_id = ev.msg_id;
			assert_memory_equal(ev.peer_pk, konce_identity_public(d->id[!i]), KONCE_WIRE_KEY);
			break;
		case KONCE_EV_MESSAGE:
			if (ev.len == strlen(want_first) && !memcmp(ev.data, want_first, ev.len))
				s.first++;
			else if (ev.len == strlen(want_queued) && !memcmp(ev.data, want_queued, ev.len))
				s.queued++;
			else
				fail_msg("unexpected message");
			break;
		case KONCE_EV_MSG_DELIVERED:
			s.delivered++;
			s.first_delivered += s.first_id && ev.msg_id == s.first_id;
			break;
		case KONCE_EV_FAILED:
			s.failed++;
			break;
		case KONCE_EV_CLOSED:
			s.closed++;
			break;
		default:
			break;
		}
	}
	return s;
}

/* One session on each side, on the conn each connected with, client = the lower key; every
 * message (first and queued) delivered once each way.  The lower key's first message rode in its
 * INITIATE (the ACCEPT proves it arrived); the higher key's became a reliable message riding in
 * its ACCEPT, named by its ESTABLISHED event and DELIVERED once acked. */
static void assert_one_session(duo *d)
{
	for (int i = 0; i < 2; i++) {
		seen s = events(d, i, d->conn[i]);
		assert_int_equal(s.established, 1);
		assert_int_equal(s.incoming, i == HI);
		assert_int_equal(s.failed + s.closed, 0);
		assert_int_equal(s.first, 1);
		assert_int_equal(s.queued, 1);
		assert_int_equal(s.delivered, i == HI ? 2 : 1);
		assert_int_equal(s.first_delivered, i == HI);
		assert_int_equal(s.first_id != 0, i == HI);
		assert_int_equal(C(d, i)->sessions_opened, 1);
		assert_int_equal(C(d, i)->sessions_live, 1);
	}
}

/* HELLOs cross, COOKIEs cross, INITIATEs cross: the lower key drops the higher's INITIATE, the
 * higher key's attempt becomes the server session of the lower's. */
static void test_crossing(void **state)
{
	(void)state;
	duo d;
	uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM];
	size_t n[2];
	make_duo(&d, true);
	cross_until(&d, KONCE_PKT_INITIATE, b, n);
	uint64_t allocs = d.env[LO].allocs;
	give(&d, LO, b[HI], n[HI]);
	assert_int_equal(C(&d, LO)->simopen_yielded, 1);
	assert_int_equal(d.verdict[LO], KONCE_EP_SIMOPEN_YIELDED); /* names LO's own attempt */
	assert_int_equal(d.rx[LO].conn, d.conn[LO]);
	assert_int_equal(d.env[LO].allocs, allocs); /* nothing kept */
	give(&d, HI, b[LO], n[LO]);
	assert_int_equal(C(&d, HI)->simopen_merged, 1);
	assert_int_equal(d.verdict[HI], KONCE_EP_SIMOPEN_MERGED);
	assert_int_equal(d.rx[HI].conn, d.conn[HI]);
	assert_int_equal(C(&d, HI)->sessions_opened, 1); /* the attempt's struct is reused */
	assert_int_equal(C(&d, HI)->sessions_live, 1);
	/* the merged session's ACCEPT leaves at once, carrying HI's first message (packet 1) */
	n[HI] = take(&d, HI, KONCE_PKT_ACCEPT, b[HI]);
	give(&d, LO, b[HI], n[HI]);
	assert_int_equal(d.verdict[LO], KONCE_EP_ESTABLISHED);
	assert_int_equal(d.rx[LO].conn, d.conn[LO]);
	run_for(&d, 1000000);
	assert_one_session(&d);
	/* the abandoned attempt sends nothing more: no HELLO, no INITIATE, for 10 s */
	uint64_t hs = C(&d, HI)->hs_retransmits + C(&d, HI)->hs_restarts;
	run_for(&d, 10000000);
	assert_int_equal(C(&d, HI)->hs_retransmits + C(&d, HI)->hs_restarts, hs);
	assert_int_equal(C(&d, LO)->sessions_live, 1);
	assert_int_equal(C(&d, HI)->sessions_live, 1);
	free_duo(&d);
}

/* The higher key's INITIATE reaches the lower one only after its ACCEPT did (a late copy), and both
 * INITIATEs are retransmitted: nothing changes, the duplicate is answered with the same ACCEPT. */
static void test_late_copy_and_retransmits(void **state)
{
	(void)state;
	duo d;
	uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM], acc[KONCE_WIRE_MAX_DATAGRAM], acc2[KONCE_WIRE_MAX_DATAGRAM];
	size_t n[2];
	make_duo(&d, true);
	cross_until(&d, KONCE_PKT_INITIATE, b, n);
	give(&d, HI, b[LO], n[LO]);
	size_t na = take_drop_rest(&d, HI, KONCE_PKT_ACCEPT, acc);
	/* LO's INITIATE again (a retransmission): answered from the session, byte for byte */
	give(&d, HI, b[LO], n[LO]);
	assert_int_equal(C(&d, HI)->init_dup_resent, 1);
	assert_int_equal(take_drop_rest(&d, HI, KONCE_PKT_ACCEPT, acc2), na);
	assert_memory_equal(acc, acc2, na);
	give(&d, LO, acc, na);
	/* now the late copy of HI's INITIATE, twice */
	give(&d, LO, b[HI], n[HI]);
	give(&d, LO, b[HI], n[HI]);
	assert_int_equal(C(&d, LO)->simopen_yielded, 1);
	assert_int_equal(C(&d, LO)->init_dup_dropped, 1); /* the second copy stops before the DH */
	run_for(&d, 2000000);
	assert_one_session(&d);
	free_duo(&d);
}

/* HI's COOKIE to LO is lost: LO is still in HELLO_SENT when HI's INITIATE comes, and drops it,
 * but sends its HELLO again at once (not after its 1 s timer); LO's INITIATE then meets HI's
 * attempt. */
static void test_cookie_lost_low(void **state)
{
	(void)state;
	duo d;
	uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM];
	size_t n[2];
	make_duo(&d, true);
	cross_until(&d, KONCE_PKT_COOKIE, b, n); /* HI's COOKIE is lost */
	give(&d, HI, b[LO], n[LO]);
	n[HI] = take(&d, HI, KONCE_PKT_INITIATE, b[HI]);
	give(&d, LO, b[HI], n[HI]);
	assert_int_equal(C(&d, LO)->simopen_yielded, 1);
	assert_int_equal(C(&d, LO)->sessions_live, 1);
	(void)take(&d, LO, KONCE_PKT_HELLO, b[LO]); /* at once, not after the retransmission timer */
	give(&d, HI, b[LO], KONCE_HELLO_SIZE);
	pump(&d);
	assert_int_equal(C(&d, HI)->simopen_merged, 1);
	assert_int_equal(C(&d, LO)->hs_retransmits, 0);
	run_for(&d, 500000);
	assert_one_session(&d);
	free_duo(&d);
}

/* LO's COOKIE to HI is lost: HI is still in HELLO_SENT when LO's INITIATE comes; its attempt
 * becomes the session all the same. */
static void test_cookie_lost_high(void **state)
{
	(void)state;
	duo d;
	uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM];
	size_t n[2];
	make_duo(&d, true);
	cross_until(&d, KONCE_PKT_COOKIE, b, n); /* LO's COOKIE is lost */
	give(&d, LO, b[HI], n[HI]);
	n[LO] = take(&d, LO, KONCE_PKT_INITIATE, b[LO]);
	give(&d, HI, b[LO], n[LO]);
	assert_int_equal(C(&d, HI)->simopen_merged, 1);
	run_for(&d, 3000000);
	assert_int_equal(C(&d, LO)->simopen_yielded, 0);
	assert_one_session(&d);
	free_duo(&d);
}

/* Only one side connects (the other starts late, after it is served): the ordinary handshake,
 * whichever side it is. */
static void test_one_side_late(void **state)
{
	(void)state;
	for (int first = 0; first < 2; first++) {
		duo d;
		make_duo(&d, true);
		connect_side(&d, first);
		pump(&d);
		konce_ep_event ev;
		assert_true(konce_ep_poll_event(d.ep[!first], &ev));
		assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
		assert_true(ev.incoming);
		assert_true(konce_ep_poll_event(d.ep[first], &ev));
		assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
		assert_false(ev.incoming);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(C(&d, i)->simopen_yielded + C(&d, i)->simopen_merged, 0);
			assert_int_equal(C(&d, i)->sessions_live, 1);
		}
		free_duo(&d);
	}
}

/* LO's session to HI is up; much later HI (restarted, say) opens a new one to LO: its cookie is
 * newer than LO's session, so it is served as a new handshake, not dropped as a stale half. */
static void test_new_handshake_after_established(void **state)
{
	(void)state;
	duo d;
	make_duo(&d, true);
	connect_side(&d, LO);
	pump(&d);
	assert_int_equal(C(&d, LO)->sessions_live, 1);
	d.now += 2000000;
	uint32_t c;
	assert_int_equal(konce_ep_connect(d.ep[HI], konce_identity_public(d.id[LO]), &d.addr[LO], NULL, 0, d.now, &c), 0);
	pump(&d);
	assert_int_equal(C(&d, LO)->simopen_yielded, 0);
	assert_int_equal(C(&d, LO)->sessions_live, 2);
	assert_int_equal(C(&d, HI)->sessions_live, 2);
	free_duo(&d);
}

/* LO dials a stale address of HI while HI dials LO where it is: LO drops HI's INITIATE (its key is
 * lower) but, having had no COOKIE, starts over toward the address the INITIATE proved; one
 * session, long before LO's attempt would have timed out. */
static void test_stale_address_redirect(void **state)
{
	(void)state;
	duo d;
	make_duo(&d, true);
	konce_addr dead;
	assert_int_equal(konce_addr_parse(&dead, "203.0.113.99:9"), 0);
	uint64_t id;
	assert_int_equal(konce_ep_connect(d.ep[LO], konce_identity_public(d.id[HI]), &dead, (const uint8_t *)"first 0",
					  7, d.now, &d.conn[LO]), 0);
	assert_int_equal(konce_ep_msg_send(d.ep[LO], d.conn[LO], (const uint8_t *)"queued 0", 8, 0, 0, d.now, &id), 0);
	connect_side(&d, HI);
	uint64_t start = d.now;
	run_for(&d, 1000000);
	assert_true(d.lost >= 1); /* LO's first HELLO went to the dead address */
	assert_int_equal(C(&d, LO)->simopen_yielded, 1);
	assert_int_equal(C(&d, HI)->simopen_merged, 1);
	assert_true(d.now - start < 2000000);
	assert_one_session(&d);
	free_duo(&d);
}

/* Clients that show derived per-server keys (no explicit identity) are not dialed by the key they
 * show: no tie-break applies, and the crossing handshakes make two sessions, as before. */
static void test_derived_identities_two_sessions(void **state)
{
	(void)state;
	duo d;
	make_duo(&d, false);
	connect_side(&d, LO);
	connect_side(&d, HI);
	pump(&d);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(C(&d, i)->simopen_yielded + C(&d, i)->simopen_merged, 0);
		assert_int_equal(C(&d, i)->sessions_live, 2);
	}
	free_duo(&d);
}

/* Crossing handshakes up to HI's session: HI has LO's INITIATE, its ACCEPT (carrying HI's first
 * message as packet 1) is queued; returns the id ESTABLISHED gave that message. */
static uint64_t cross_to_accept(duo *d)
{
	uint8_t b[2][KONCE_WIRE_MAX_DATAGRAM];
	size_t n[2];
	cross_until(d, KONCE_PKT_INITIATE, b, n);
	give(d, HI, b[LO], n[LO]);
	assert_int_equal(C(d, HI)->simopen_merged, 1);
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(d->ep[HI], &ev));
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_true(ev.incoming);
	assert_true(ev.msg_id != 0);
	return ev.msg_id;
}

/* Drains side i's events: how many MSG_DELIVERED for id, and how many messages with text want. */
static void count_events(duo *d, int i, uint64_t id, const char *want, int *delivered, int *got)
{
	konce_ep_event ev;
	while (konce_ep_poll_event(d->ep[i], &ev)) {
		if (ev.type == KONCE_EV_MSG_DELIVERED && ev.msg_id == id)
			++*delivered;
		if (ev.type == KONCE_EV_MESSAGE && ev.len == strlen(want) && !memcmp(ev.data, want, ev.len))
			++*got;
		assert_true(ev.type != KONCE_EV_FAILED && ev.type != KONCE_EV_CLOSED && ev.type != KONCE_EV_MSG_FAILED);
	}
}

/* HI's ACCEPT (with its first message) arrives, but everything LO sends afterwards is lost: HI
 * must not call the message delivered until an ack from LO really comes. */
static void test_accept_ack_lost(void **state)
{
	(void)state;
	duo d;
	uint8_t acc[KONCE_WIRE_MAX_DATAGRAM];
	make_duo(&d, true);
	uint64_t fid = cross_to_accept(&d);
	size_t na = take_drop_rest(&d, HI, KONCE_PKT_ACCEPT, acc);
	give(&d, LO, acc, na);
	int delivered = 0, got = 0;
	count_events(&d, LO, 0, "first 1", &delivered, &got);
	assert_int_equal(got, 1); /* it was in the ACCEPT */
	run_muted(&d, LO, 800000);
	assert_true(d.lost > 0);
	count_events(&d, HI, fid, "", &delivered, &got);
	assert_int_equal(delivered, 0); /* no ack came */
	assert_true(konce_ep_msg_eta(d.ep[HI], fid, d.now) != UINT64_MAX); /* still pending */
	count_events(&d, LO, 0, "first 1", &delivered, &got);
	assert_int_equal(got, 1); /* HI's retransmissions are not delivered twice */
	run_for(&d, 2000000);
	count_events(&d, HI, fid, "", &delivered, &got);
	assert_int_equal(delivered, 1);
	count_events(&d, LO, 0, "first 1", &delivered, &got);
	assert_int_equal(got, 1);
	free_duo(&d);
}

/* HI's ACCEPT is lost (and with it the first message): LO's INITIATE retransmission brings the
 * stored ACCEPT again, while HI's recovery resends the message as DATA; it arrives exactly once,
 * and is delivered once. */
static void test_accept_lost(void **state)
{
	(void)state;
	duo d;
	uint8_t acc[KONCE_WIRE_MAX_DATAGRAM];
	make_duo(&d, true);
	uint64_t fid = cross_to_accept(&d);
	(void)take_drop_rest(&d, HI, KONCE_PKT_ACCEPT, acc); /* lost, with whatever followed it */
	int delivered = 0, got = 0;
	run_muted(&d, HI, 300000); /* HI's first retransmissions lost too */
	count_events(&d, HI, fid, "", &delivered, &got);
	assert_int_equal(delivered, 0);
	run_for(&d, 3000000);
	assert_true(C(&d, HI)->init_dup_resent >= 1);
	count_events(&d, HI, fid, "", &delivered, &got);
	assert_int_equal(delivered, 1);
	count_events(&d, LO, 0, "first 1", &delivered, &got);
	assert_int_equal(got, 1);
	assert_int_equal(C(&d, LO)->sessions_live, 1);
	assert_int_equal(C(&d, HI)->sessions_live, 1);
	free_duo(&d);
}

/* The ordinary handshake: a server's reliable reply queued before its ACCEPT left rides in the
 * ACCEPT as packet 1 and is recorded like any packet: with the client's acks lost it is not
 * delivered, then it is, once. */
static void test_ordinary_accept_reply_acked(void **state)
{
	(void)state;
	duo d;
	uint8_t b[KONCE_WIRE_MAX_DATAGRAM];
	size_t n;
	konce_addr to;
	make_duo(&d, true);
	connect_side(&d, LO);
	for (int t = KONCE_PKT_HELLO; t <= KONCE_PKT_INITIATE; t++) {
		int from = t == KONCE_PKT_COOKIE ? HI : LO;
		n = take(&d, from, (uint8_t)t, b);
		give(&d, !from, b, n);
	}
	konce_ep_event ev;
	assert_true(konce_ep_poll_event(d.ep[HI], &ev));
	assert_int_equal(ev.type, KONCE_EV_ESTABLISHED);
	assert_int_equal(ev.msg_id, 0); /* nothing of ours became reliable */
	uint64_t id;
	assert_int_equal(konce_ep_msg_send(d.ep[HI], ev.conn, (const uint8_t *)"queued 1", 8, 0, 0, d.now, &id), 0);
	n = take(&d, HI, KONCE_PKT_ACCEPT, b);
	uint8_t more[KONCE_WIRE_MAX_DATAGRAM];
	size_t mlen;
	assert_false(konce_ep_poll_datagram(d.ep[HI], more, &mlen, &to)); /* the reply left in it */
	give(&d, LO, b, n);
	int delivered = 0, got = 0;
	run_muted(&d, LO, 800000);
	count_events(&d, HI, id, "", &delivered, &got);
	assert_int_equal(delivered, 0);
	count_events(&d, LO, 0, "queued 1", &delivered, &got);
	assert_int_equal(got, 1);
	run_for(&d, 2000000);
	count_events(&d, HI, id, "", &delivered, &got);
	assert_int_equal(delivered, 1);
	count_events(&d, LO, 0, "queued 1", &delivered, &got);
	assert_int_equal(got, 1);
	free_duo(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crossing),
		cmocka_unit_test(test_late_copy_and_retransmits),
		cmocka_unit_test(test_cookie_lost_low),
		cmocka_unit_test(test_cookie_lost_high),
		cmocka_unit_test(test_one_side_late),
		cmocka_unit_test(test_new_handshake_after_established),
		cmocka_unit_test(test_stale_address_redirect),
		cmocka_unit_test(test_derived_identities_two_sessions),
		cmocka_unit_test(test_accept_ack_lost),
		cmocka_unit_test(test_accept_lost),
		cmocka_unit_test(test_ordinary_accept_reply_acked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
