/* test_rdvclient.c - the peer side of rendezvous: registering with every rendezvous at once,
 * resends and refresh, the RTT echo, mapping classification, introductions, refusal of unknown
 * keys and relaying. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "nat/rdvclient.h"
#include "tests/unit/count_env.h"
#include "tests/unit/parse_addr.h"

#define MS 1000ULL
#define SEC 1000000ULL

static const uint8_t me[KONCE_WIRE_KEY] = {7}, friend_key[KONCE_WIRE_KEY] = {8}, stranger[KONCE_WIRE_KEY] = {9};

static bool allow_friend(void *ctx, const uint8_t key[KONCE_WIRE_KEY])
{
	return memcmp(key, friend_key, KONCE_WIRE_KEY) == 0;
}

typedef struct rig {
	count_env ce;
	konce_rdvclient *c;
	konce_addr rdv[2], host;
} rig;

static void rig_init(rig *g, bool (*allow)(void *, const uint8_t *))
{
	count_env_init(&g->ce, 2);
	g->rdv[0] = addr("192.0.2.1:3478");
	g->rdv[1] = addr("192.0.2.2:3478");
	g->host = addr("10.0.0.2:7000");
	konce_rdvclient_cfg cfg = {.env = &g->ce.env, .key = me, .rdv = g->rdv, .nrdv = 2, .host = &g->host,
			      .nhost = 1, .allow = allow};
	assert_int_equal(konce_rdvclient_new(&g->c, &cfg, 0), 0);
}

/* Pops the next datagram, which must go to `to`; returns it decoded. */
static konce_rdvwire_msg pop(rig *g, const konce_addr *to, uint8_t buf[KONCE_RDV_MAX_MSG])
{
	size_t n;
	konce_addr dst;
	assert_true(konce_rdvclient_poll(g->c, buf, &n, &dst));
	assert_true(konce_addr_eq(&dst, to));
	konce_rdvwire_msg m;
	assert_int_equal(konce_rdvwire_decode(&m, buf, n), 0);
	return m;
}

static void answer(rig *g, unsigned i, const konce_rdvwire_msg *reg, const char *refl, uint64_t stamp, uint64_t now)
{
	konce_rdvwire_msg a = {.type = KONCE_RDV_REGISTERED, .id = reg->id, .stamp = stamp, .addr = addr(refl),
			   .value = 20000};
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t n = konce_rdvwire_encode(&a, buf, sizeof(buf));
	konce_rdvclient_input(g->c, buf, n, &g->rdv[i], now);
}

/* Registers with both, the ports given; returns after draining everything. */
static void register_both(rig *g, const char *r0, const char *r1)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvclient_timer(g->c, 0);
	konce_rdvwire_msg m0 = pop(g, &g->rdv[0], buf), m1 = pop(g, &g->rdv[1], buf);
	assert_int_equal(m0.type, KONCE_RDV_REGISTER);
	assert_int_equal(m0.ncand, 1);
	assert_int_equal(m0.cand[0].type, KONCE_CAND_HOST);
	assert_int_equal(m0.nat.mapping, KONCE_NATMAP_UNKNOWN);
	answer(g, 0, &m0, r0, 1000, 30 * MS);
	konce_rdvwire_msg echo = pop(g, &g->rdv[0], buf);
	assert_int_equal(echo.stamp, 1000); /* the RTT sample for the rendezvous */
	answer(g, 1, &m1, r1, 2000, 40 * MS);
	konce_rdvwire_msg echo1 = pop(g, &g->rdv[1], buf);
	assert_int_equal(echo1.stamp, 2000);
	/* once both answered: the primary hears what the other saw */
	konce_rdvwire_msg upd = pop(g, &g->rdv[0], buf);
	assert_int_equal(upd.type, KONCE_RDV_REGISTER);
	assert_int_not_equal(upd.nat.mapping, KONCE_NATMAP_UNKNOWN);
	answer(g, 0, &upd, r0, 0, 50 * MS); /* no stamp: nothing to echo */
	answer(g, 1, &echo1, r1, 3000, 50 * MS);
	while (konce_rdvclient_poll(g->c, buf, &(size_t){0}, &(konce_addr){0}))
		;
}

static void test_register_classify(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	assert_false(konce_rdvclient_registered(g.c));
	assert_int_equal(konce_rdvclient_request_intro(g.c, friend_key, 0), -ENOTCONN);
	register_both(&g, "198.51.100.5:4000", "198.51.100.5:4001");
	assert_true(konce_rdvclient_registered(g.c));
	konce_natinfo n = konce_rdvclient_nat(g.c);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 1);
	assert_int_equal(n.last_port, 4001);
	konce_addr r;
	assert_int_equal(konce_rdvclient_reflexive(g.c, 1, &r), 0);
	assert_int_equal(r.port, 4001);
	konce_rdvclient_event e;
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_REFLEXIVE);
	/* refresh after the interval the rendezvous asked for, to both at once */
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvclient_next_timer(g.c), 50 * MS + 20 * SEC);
	konce_rdvclient_timer(g.c, 50 * MS + 20 * SEC);
	konce_rdvwire_msg m0 = pop(&g, &g.rdv[0], buf), m1 = pop(&g, &g.rdv[1], buf);
	assert_int_equal(m0.type, KONCE_RDV_REGISTER);
	assert_int_equal(m1.type, KONCE_RDV_REGISTER);
	assert_int_equal(m0.ncand, 3); /* host and both reflexive addresses */
	/* unanswered: sent again a second later; a stale answer is ignored */
	answer(&g, 0, &(konce_rdvwire_msg){.id = 1}, "198.51.100.5:4000", 0, 20 * SEC + 100 * MS);
	assert_int_equal(konce_rdvclient_counters(g.c)->ignored, 1);
	konce_rdvclient_timer(g.c, 50 * MS + 21 * SEC);
	pop(&g, &g.rdv[0], buf);
	pop(&g, &g.rdv[1], buf);
	/* from an address that is not a rendezvous: ignored */
	konce_rdvwire_msg fake = {.type = KONCE_RDV_REGISTERED, .id = m0.id, .addr = addr("6.6.6.6:6")};
	size_t n2 = konce_rdvwire_encode(&fake, buf, sizeof(buf));
	konce_addr evil = addr("192.0.2.99:3478");
	konce_rdvclient_input(g.c, buf, n2, &evil, 21 * SEC);
	assert_int_equal(konce_rdvclient_counters(g.c)->ignored, 2);
	konce_rdvclient_free(g.c);
	assert_int_equal(g.ce.live, 0);
}

/* Two REGISTERs sent before any answer (queued behind the session's handshake, they reach the
 * rendezvous together): the answer to the first counts and its stamp is echoed at once, so the
 * rendezvous's RTT sample does not include whatever held its answer to the second; the later
 * answer is then a duplicate. */
static void test_answer_to_previous_register(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvclient_timer(g.c, 0);
	konce_rdvwire_msg first = pop(&g, &g.rdv[0], buf);
	pop(&g, &g.rdv[1], buf);
	konce_rdvclient_timer(g.c, 1000 * MS); /* unanswered: sent again, with a new txid */
	konce_rdvwire_msg second = pop(&g, &g.rdv[0], buf);
	pop(&g, &g.rdv[1], buf);
	assert_int_equal(second.type, KONCE_RDV_REGISTER);
	assert_int_not_equal(first.id, second.id);
	answer(&g, 0, &first, "198.51.100.5:4000", 7777, 1100 * MS);
	assert_true(konce_rdvclient_registered(g.c));
	konce_rdvwire_msg echo = pop(&g, &g.rdv[0], buf);
	assert_int_equal(echo.type, KONCE_RDV_REGISTER);
	assert_int_equal(echo.stamp, 7777);
	uint64_t ignored = konce_rdvclient_counters(g.c)->ignored;
	answer(&g, 0, &second, "198.51.100.5:4000", 7777, 1300 * MS);
	assert_int_equal(konce_rdvclient_counters(g.c)->ignored, ignored + 1);
	/* an answer to neither (an id we never sent, or 0) is ignored too */
	answer(&g, 0, &(konce_rdvwire_msg){.id = 0}, "198.51.100.5:4000", 0, 1400 * MS);
	assert_int_equal(konce_rdvclient_counters(g.c)->ignored, ignored + 2);
	konce_rdvclient_free(g.c);
}

static void test_eim(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	assert_int_equal(konce_rdvclient_nat(g.c).mapping, KONCE_NATMAP_EIM);
	konce_rdvclient_free(g.c);
}

/* A learned keepalive sets the refresh: shorter than the rendezvous asked when the NAT forgets
 * sooner, longer up to KONCE_RDV_REFRESH_MAX_MS when it keeps mappings long. */
static void test_keepalive_refresh(void **state)
{
	(void)state;
	rig g;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	rig_init(&g, NULL);
	konce_rdvclient_set_keepalive(g.c, 8 * SEC);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	assert_int_equal(konce_rdvclient_next_timer(g.c), 50 * MS + 8 * SEC);
	konce_rdvclient_set_keepalive(g.c, 200 * SEC);
	konce_rdvclient_timer(g.c, 50 * MS + 8 * SEC);
	konce_rdvwire_msg m0 = pop(&g, &g.rdv[0], buf), m1 = pop(&g, &g.rdv[1], buf);
	answer(&g, 0, &m0, "198.51.100.5:7000", 0, 9 * SEC);
	answer(&g, 1, &m1, "198.51.100.5:7000", 0, 9 * SEC);
	assert_int_equal(konce_rdvclient_next_timer(g.c), 9 * SEC + KONCE_RDV_REFRESH_MAX_MS * MS);
	konce_rdvclient_set_keepalive(g.c, 0); /* back to what the rendezvous asks */
	konce_rdvclient_timer(g.c, 9 * SEC + KONCE_RDV_REFRESH_MAX_MS * MS);
	m0 = pop(&g, &g.rdv[0], buf), m1 = pop(&g, &g.rdv[1], buf);
	answer(&g, 0, &m0, "198.51.100.5:7000", 0, 70 * SEC);
	answer(&g, 1, &m1, "198.51.100.5:7000", 0, 70 * SEC);
	assert_int_equal(konce_rdvclient_next_timer(g.c), 90 * SEC);
	konce_rdvclient_free(g.c);
	assert_int_equal(g.ce.live, 0);
}

/* A lease from the I/O layer is registered at once, as a MAPPED candidate; the same again sends
 * nothing; losing it registers without it. */
static void test_set_mapped(void **state)
{
	(void)state;
	rig g;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	rig_init(&g, NULL);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	konce_addr m = addr("198.51.100.5:7807");
	assert_int_equal(konce_rdvclient_set_mapped(g.c, &m, 1, 60 * MS), 0);
	konce_rdvwire_msg r0 = pop(&g, &g.rdv[0], buf);
	pop(&g, &g.rdv[1], buf);
	assert_int_equal(r0.type, KONCE_RDV_REGISTER);
	bool found = false;
	for (unsigned i = 0; i < r0.ncand; i++)
		found |= r0.cand[i].type == KONCE_CAND_MAPPED && konce_addr_eq(&r0.cand[i].addr, &m);
	assert_true(found);
	assert_int_equal(konce_rdvclient_set_mapped(g.c, &m, 1, 70 * MS), 0);
	assert_false(konce_rdvclient_poll(g.c, buf, &(size_t){0}, &(konce_addr){0}));
	assert_int_equal(konce_rdvclient_set_mapped(g.c, NULL, 0, 80 * MS), 0);
	r0 = pop(&g, &g.rdv[0], buf);
	for (unsigned i = 0; i < r0.ncand; i++)
		assert_int_not_equal(r0.cand[i].type, KONCE_CAND_MAPPED);
	assert_int_equal(konce_rdvclient_set_mapped(g.c, &m, 3, 90 * MS), -EINVAL);
	konce_rdvclient_free(g.c);
}

/* A foreign mapping between the two registrations (ports 2 apart): the filtering socket's mapping
 * right after them refines the step to 1, and the rendezvous hear it at once; the same mapping told
 * again, or one that proves nothing, sends nothing.  Later registrations keep the refined step. */
static void test_fresh_mapping_refines(void **state)
{
	(void)state;
	rig g;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	rig_init(&g, NULL);
	register_both(&g, "198.51.100.5:36182", "198.51.100.5:36184");
	assert_int_equal(konce_rdvclient_nat(g.c).step, 2);
	konce_addr x = addr("198.51.100.5:36185");
	konce_rdvclient_set_fresh_mapping(g.c, &x, 60 * MS);
	konce_natinfo n = konce_rdvclient_nat(g.c);
	assert_int_equal(n.mapping, KONCE_NATMAP_EDM_SEQ);
	assert_int_equal(n.step, 1);
	assert_int_equal(n.last_port, 36184);
	konce_rdvwire_msg r0 = pop(&g, &g.rdv[0], buf), r1 = pop(&g, &g.rdv[1], buf);
	assert_int_equal(r0.type, KONCE_RDV_REGISTER);
	assert_int_equal(r0.nat.step, 1);
	assert_int_equal(r1.nat.step, 1);
	konce_rdvclient_set_fresh_mapping(g.c, &x, 70 * MS);
	assert_false(konce_rdvclient_poll(g.c, buf, &(size_t){0}, &(konce_addr){0}));
	/* the answers (the same reflexive addresses) classify again: the step stays refined */
	answer(&g, 0, &r0, "198.51.100.5:36182", 0, 80 * MS);
	answer(&g, 1, &r1, "198.51.100.5:36184", 0, 80 * MS);
	assert_int_equal(konce_rdvclient_nat(g.c).step, 1);
	assert_false(konce_rdvclient_poll(g.c, buf, &(size_t){0}, &(konce_addr){0}));
	konce_rdvclient_free(g.c);

	/* a step-2 NAT stays step 2; before every rendezvous answered, the mapping is kept for later */
	rig_init(&g, NULL);
	x.port = 36188;
	konce_rdvclient_set_fresh_mapping(g.c, &x, 0);
	assert_false(konce_rdvclient_poll(g.c, buf, &(size_t){0}, &(konce_addr){0}));
	register_both(&g, "198.51.100.5:36182", "198.51.100.5:36184");
	assert_int_equal(konce_rdvclient_nat(g.c).step, 2);
	konce_rdvclient_free(g.c);
	rig_init(&g, NULL);
	x.port = 36185;
	konce_rdvclient_set_fresh_mapping(g.c, &x, 0);
	register_both(&g, "198.51.100.5:36182", "198.51.100.5:36184");
	assert_int_equal(konce_rdvclient_nat(g.c).step, 1);
	konce_rdvclient_free(g.c);

	/* two samples: the fresh socket's alone (2 past the last registration) keeps step 2, the
	 * earlier one between them (1 past) refines to 1; a true step of 2 keeps 2 with both */
	rig_init(&g, NULL);
	register_both(&g, "198.51.100.5:36182", "198.51.100.5:36184");
	x.port = 36186;
	konce_rdvclient_set_fresh_mapping(g.c, &x, 60 * MS);
	assert_int_equal(konce_rdvclient_nat(g.c).step, 2);
	assert_false(konce_rdvclient_poll(g.c, buf, &(size_t){0}, &(konce_addr){0}));
	x.port = 36188;
	konce_rdvclient_set_fresh_mapping(g.c, &x, 65 * MS);
	assert_int_equal(konce_rdvclient_nat(g.c).step, 2);
	x.port = 36185;
	konce_rdvclient_set_fresh_mapping(g.c, &x, 70 * MS);
	assert_int_equal(konce_rdvclient_nat(g.c).step, 1);
	assert_int_equal(pop(&g, &g.rdv[0], buf).nat.step, 1);
	konce_rdvclient_free(g.c);
}

static void deliver(rig *g, const konce_rdvwire_msg *m, uint64_t now)
{
	uint8_t buf[KONCE_RDV_MAX_MSG];
	size_t n = konce_rdvwire_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	konce_rdvclient_input(g->c, buf, n, &g->rdv[0], now);
}

static void test_intro_and_relay(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, allow_friend);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	konce_rdvclient_event e;
	while (konce_rdvclient_poll_event(g.c, &e))
		;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvclient_request_intro(g.c, friend_key, SEC), 0);
	konce_rdvwire_msg req = pop(&g, &g.rdv[0], buf);
	assert_int_equal(req.type, KONCE_RDV_INTRO_REQUEST);
	assert_memory_equal(req.key, me, 32);
	assert_memory_equal(req.target, friend_key, 32);
	/* unanswered: asked again each second, five times, then INTRO_FAIL with reason 0 */
	for (int i = 1; i < 5; i++) {
		konce_rdvclient_timer(g.c, SEC + (uint64_t)i * SEC);
		assert_int_equal(pop(&g, &g.rdv[0], buf).id, req.id);
	}
	konce_rdvclient_timer(g.c, 6 * SEC);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_INTRO_FAIL);
	assert_int_equal(e.reason, 0);
	/* asked again, answered */
	konce_rdvclient_request_intro(g.c, friend_key, 7 * SEC);
	req = pop(&g, &g.rdv[0], buf);
	konce_rdvwire_msg in = {.type = KONCE_RDV_INTRO, .flags = KONCE_INTRO_F_INITIATOR, .id = 55,
			    .value = 1234, .nat = {KONCE_NATMAP_EIM, 0, 0}, .ncand = 1};
	memcpy(in.key, friend_key, 32);
	in.cand[0] = (konce_cand){KONCE_CAND_REFLEXIVE, addr("203.0.113.9:9")};
	deliver(&g, &in, 7 * SEC + 50 * MS);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_INTRO);
	assert_true(e.initiator);
	assert_int_equal(e.intro_id, 55);
	assert_int_equal(e.delay_us, 1234);
	assert_int_equal(e.ncand, 1);
	assert_int_equal(konce_rdvclient_next_timer(g.c), 50 * MS + 20 * SEC); /* no more resends */
	/* a stranger's introduction and relayed payloads are dropped */
	memcpy(in.key, stranger, 32);
	deliver(&g, &in, 8 * SEC);
	konce_rdvwire_msg rl = {.type = KONCE_RDV_RELAYED, .payload = (const uint8_t *)"hi", .len = 2};
	memcpy(rl.key, stranger, 32);
	deliver(&g, &rl, 8 * SEC);
	assert_false(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(konce_rdvclient_counters(g.c)->refused, 2);
	/* the refused INTRO is answered with INTRO_REFUSE (the relayed payload is not) */
	konce_rdvwire_msg rf = pop(&g, &g.rdv[0], buf);
	assert_int_equal(rf.type, KONCE_RDV_INTRO_REFUSE);
	assert_memory_equal(rf.key, me, 32);
	assert_memory_equal(rf.target, stranger, 32);
	assert_int_equal(rf.id, 55);
	memcpy(rl.key, friend_key, 32);
	deliver(&g, &rl, 8 * SEC);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_RELAYED);
	assert_int_equal(e.len, 2);
	assert_memory_equal(e.data, "hi", 2);
	/* sending through the relay */
	assert_int_equal(konce_rdvclient_relay(g.c, friend_key, (const uint8_t *)"yo", 2, 9 * SEC), 0);
	konce_rdvwire_msg r = pop(&g, &g.rdv[0], buf);
	assert_int_equal(r.type, KONCE_RDV_RELAY);
	assert_memory_equal(r.target, friend_key, 32);
	assert_int_equal(r.len, 2);
	uint8_t big[KONCE_RDV_MAX_RELAY + 1] = {0};
	assert_int_equal(konce_rdvclient_relay(g.c, friend_key, big, sizeof(big), 9 * SEC), -EMSGSIZE);
	/* re-registering after a lost path goes to every rendezvous at once */
	konce_rdvclient_reregister(g.c, 10 * SEC);
	assert_int_equal(pop(&g, &g.rdv[0], buf).type, KONCE_RDV_REGISTER);
	assert_int_equal(pop(&g, &g.rdv[1], buf).type, KONCE_RDV_REGISTER);
	konce_rdvclient_free(g.c);
}

/* The target declined our introduction: one event, only for the id of an INTRO we initiated. */
static void test_declined(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, NULL);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	konce_rdvclient_event e;
	while (konce_rdvclient_poll_event(g.c, &e))
		;
	uint8_t buf[KONCE_RDV_MAX_MSG];
	assert_int_equal(konce_rdvclient_request_intro(g.c, stranger, SEC), 0);
	pop(&g, &g.rdv[0], buf);
	konce_rdvwire_msg in = {.type = KONCE_RDV_INTRO, .flags = KONCE_INTRO_F_INITIATOR, .id = 77,
			    .value = 1000, .nat = {KONCE_NATMAP_EIM, 0, 0}, .ncand = 1};
	memcpy(in.key, stranger, 32);
	in.cand[0] = (konce_cand){KONCE_CAND_REFLEXIVE, addr("203.0.113.9:9")};
	deliver(&g, &in, SEC + 10 * MS);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_INTRO);
	/* a DECLINED with another id, or about another key, is ignored */
	konce_rdvwire_msg f = {.type = KONCE_RDV_INTRO_FAIL, .flags = KONCE_IFAIL_DECLINED, .id = 78};
	memcpy(f.key, stranger, 32);
	deliver(&g, &f, SEC + 20 * MS);
	f.id = 77;
	memcpy(f.key, friend_key, 32);
	deliver(&g, &f, SEC + 20 * MS);
	assert_false(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(konce_rdvclient_counters(g.c)->ignored, 2);
	memcpy(f.key, stranger, 32);
	deliver(&g, &f, SEC + 30 * MS);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_INTRO_FAIL);
	assert_int_equal(e.reason, KONCE_IFAIL_DECLINED);
	assert_memory_equal(e.peer, stranger, 32);
	assert_int_equal(konce_rdvclient_counters(g.c)->declined, 1);
	/* once only */
	deliver(&g, &f, SEC + 40 * MS);
	assert_false(konce_rdvclient_poll_event(g.c, &e));
	/* an INTRO where we are not the initiator cannot be declined to us */
	in.flags = 0;
	in.id = 90;
	deliver(&g, &in, 2 * SEC);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	f.id = 90;
	deliver(&g, &f, 2 * SEC);
	assert_false(konce_rdvclient_poll_event(g.c, &e));
	konce_rdvclient_free(g.c);
}

/* An INTRO_OFFER is answered ACCEPT (allowed) or REFUSE (not), and a refusal
 * at the offer reaches the requester as DECLINED with its request's txid. */
static void test_offer(void **state)
{
	(void)state;
	rig g;
	rig_init(&g, allow_friend);
	register_both(&g, "198.51.100.5:7000", "198.51.100.5:7000");
	uint8_t buf[KONCE_RDV_MAX_MSG];
	konce_rdvwire_msg o = {.type = KONCE_RDV_INTRO_OFFER, .id = 555};
	memcpy(o.key, friend_key, 32);
	memcpy(o.target, me, 32);
	deliver(&g, &o, SEC);
	konce_rdvwire_msg a = pop(&g, &g.rdv[0], buf);
	assert_int_equal(a.type, KONCE_RDV_INTRO_ACCEPT);
	assert_int_equal(a.id, 555);
	assert_memory_equal(a.key, me, 32);
	assert_memory_equal(a.target, friend_key, 32);
	memcpy(o.key, stranger, 32);
	deliver(&g, &o, SEC);
	a = pop(&g, &g.rdv[0], buf);
	assert_int_equal(a.type, KONCE_RDV_INTRO_REFUSE);
	assert_memory_equal(a.target, stranger, 32);
	assert_int_equal(konce_rdvclient_counters(g.c)->offers, 2);
	/* the requester's side: DECLINED with our pending request's txid */
	konce_rdvclient_event e;
	while (konce_rdvclient_poll_event(g.c, &e))
		;
	assert_int_equal(konce_rdvclient_request_intro(g.c, friend_key, 2 * SEC), 0);
	konce_rdvwire_msg req = pop(&g, &g.rdv[0], buf);
	konce_rdvwire_msg f = {.type = KONCE_RDV_INTRO_FAIL, .flags = KONCE_IFAIL_DECLINED, .id = req.id + 1};
	memcpy(f.key, friend_key, 32);
	deliver(&g, &f, 2 * SEC + 10 * MS); /* another txid: ignored */
	assert_false(konce_rdvclient_poll_event(g.c, &e));
	f.id = req.id;
	deliver(&g, &f, 2 * SEC + 20 * MS);
	assert_true(konce_rdvclient_poll_event(g.c, &e));
	assert_int_equal(e.type, KONCE_RDVCLIENT_EV_INTRO_FAIL);
	assert_int_equal(e.reason, KONCE_IFAIL_DECLINED);
	/* and the request is no longer retried */
	konce_rdvclient_timer(g.c, 5 * SEC);
	size_t n;
	while (konce_rdvclient_poll(g.c, buf, &n, &(konce_addr){0}))
		assert_int_not_equal(buf[0], KONCE_RDV_INTRO_REQUEST);
	konce_rdvclient_free(g.c);
}

static void test_bad_config(void **state)
{
	(void)state;
	konce_rdvclient *c = (konce_rdvclient *)1;
	konce_addr r[5];
	memset(r, 0, sizeof(r));
	konce_rdvclient_cfg cfg = {.key = me, .rdv = r, .nrdv = 0};
	assert_int_equal(konce_rdvclient_new(&c, &cfg, 0), -EINVAL);
	assert_null(c);
	cfg.nrdv = 5;
	assert_int_equal(konce_rdvclient_new(&c, &cfg, 0), -EINVAL);
	cfg.nrdv = 1;
	cfg.key = NULL;
	assert_int_equal(konce_rdvclient_new(&c, &cfg, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_classify),
		cmocka_unit_test(test_answer_to_previous_register),
		cmocka_unit_test(test_eim),
		cmocka_unit_test(test_keepalive_refresh),
		cmocka_unit_test(test_set_mapped),
		cmocka_unit_test(test_fresh_mapping_refines),
		cmocka_unit_test(test_intro_and_relay),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
