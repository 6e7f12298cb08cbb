/* test_msg_failures.c - every way a message can fail produces its MSG_FAILED event, before the
 * conn's own FAILED / CLOSED, exactly once, and leaves no memory behind (the hosts' counting
 * konce_env: live allocations return to what the idle endpoint holds).
 *   - connect timeout: a message queued on a handshake to nobody fails UNREACHABLE;
 *   - the peer vanishes mid-transfer (its link goes dead both ways): the 1 MiB message fails
 *     TIMEOUT after msg_timeout_ms without ack progress, the session closes; the receiver,
 *     holding a partial message, closes on its idle timeout and frees it;
 *   - too large: the receiver takes at most 64 KiB, a 1 MiB message fails TOO_LARGE (the peer's
 *     REFUSE), and a small message sent after it is delivered (nothing stalls);
 *   - closing a session fails what is still queued (LOCAL_CLOSE at A, nothing at all at B beyond
 *     the CLOSED).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "tests/sim/msg_pair.h"

typedef struct rec {
	unsigned failed, delivered, closed, conn_failed, messages, after_last;
	unsigned reason, close_reason;
	uint64_t failed_id, t_failed;
	bool last_seen;
	size_t last_len;
} rec;

typedef struct fx {
	mpair p;
	rec a, b;
} fx;

static void note(rec *r, const konce_ep_event *ev, uint64_t now)
{
	if (r->last_seen)
		r->after_last++; /* nothing may follow a conn's FAILED or CLOSED */
	switch (ev->type) {
	case KONCE_EV_MSG_FAILED:
		r->failed++;
		r->reason = ev->reason;
		r->failed_id = ev->msg_id;
		r->t_failed = now;
		break;
	case KONCE_EV_MSG_DELIVERED:
		r->delivered++;
		break;
	case KONCE_EV_MESSAGE:
		r->messages++;
		r->last_len = ev->len;
		break;
	case KONCE_EV_CLOSED:
		r->closed++;
		r->close_reason = ev->reason;
		r->last_seen = true;
		break;
	case KONCE_EV_FAILED:
		r->conn_failed++;
		r->close_reason = ev->reason;
		r->last_seen = true;
		break;
	default:
		break;
	}
}

static void on_event(mpair *p, tnode *n, const konce_ep_event *ev, uint64_t now)
{
	fx *f = p->user;
	if (ev->type == KONCE_EV_ESTABLISHED)
		return;
	note(n == &p->a ? &f->a : &f->b, ev, now);
}

static void a_event(tnode *n, const konce_ep_event *ev, uint64_t now) { note(n->user, ev, now); }

static bool a_pending(void *ctx) { return ((rec *)ctx)->failed == 0 || !((rec *)ctx)->last_seen; }

static void test_connect_timeout(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static tnode a;
		static rec r;
		memset(&r, 0, sizeof r);
		SIM_ASSERT_EQ(s, tnode_init(&a, s, NULL, "10.0.0.1", 40000, NULL), 0);
		sim_host *nobody = sim_host_add(s, "192.0.2.9", NULL, NULL); /* no port bound */
		SIM_ASSERT(s, nobody != NULL);
		a.user = &r;
		a.on_event = a_event;
		const konce_env *env = sim_host_env(a.h);
		uint64_t base = sim_env_live(env);
		uint8_t pk[KONCE_WIRE_KEY] = {9};
		konce_addr to = sim_host_addr(nobody, 7807);
		uint32_t conn;
		SIM_ASSERT_EQ(s, tnode_connect(&a, pk, &to, NULL, 0, &conn), 0);
		uint64_t id, eta;
		static uint8_t msg[5000];
		SIM_ASSERT_EQ(s, konce_ep_msg_send(a.ep, conn, msg, sizeof msg, 0, 0, sim_now(s), &id), 0);
		eta = konce_ep_msg_eta(a.ep, id, sim_now(s));
		SIM_ASSERT(s, eta != UINT64_MAX && eta > sim_now(s));
		tnode_flush(&a, sim_now(s));
		SIM_ASSERT_EQ(s, sim_run_while(s, a_pending, &r, sim_now(s) + 120 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, r.failed, 1);
		SIM_ASSERT_EQ(s, r.failed_id, id);
		SIM_ASSERT_EQ(s, r.reason, KONCE_MSG_FAIL_UNREACHABLE);
		SIM_ASSERT_EQ(s, r.conn_failed, 1);
		SIM_ASSERT_EQ(s, r.close_reason, KONCE_FAIL_TIMEOUT);
		SIM_ASSERT_EQ(s, r.after_last, 0);
		SIM_ASSERT_EQ(s, konce_ep_msg_eta(a.ep, id, sim_now(s)), UINT64_MAX);
		SIM_ASSERT_EQ(s, sim_env_live(env), base);
		tnode_free(&a);
		SIM_ASSERT_EQ(s, sim_env_live(env), 0);
		sim_free(s);
	}
}

static bool a_not_failed(void *ctx) { return ((fx *)ctx)->a.failed == 0 || !((fx *)ctx)->a.last_seen; }
static bool b_open(void *ctx) { return !((fx *)ctx)->b.last_seen; }

static void vanish(void *ctx, uint64_t now)
{
	fx *f = ctx;
	(void)now;
	sim_link_cfg dead = {.delay_us = 20 * SIM_MS, .loss = 1.0};
	sim_link_set_both(f->p.s, f->p.a.h, f->p.b.h, &dead);
}

static void test_peer_vanishes(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static fx f;
		memset(&f, 0, sizeof f);
		f.p.on_event = on_event;
		f.p.user = &f;
		konce_ep_config ca = {.msg_timeout_ms = 5000}, cb = {.idle_timeout_ms = 20000};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .rate = 1000000, .queue_bytes = 100000};
		SIM_ASSERT_EQ(s, mpair_init(&f.p, s, &link, &ca, &cb), 0);
		const konce_env *ea = sim_host_env(f.p.a.h), *eb = sim_host_env(f.p.b.h);
		uint64_t base_a = sim_env_live(ea), base_b = sim_env_live(eb);
		static uint8_t big[1 << 20];
		uint64_t id;
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, big, sizeof big, 0, &id), 0);
		uint64_t t_vanish = sim_now(s) + 300 * SIM_MS;
		sim_at(s, t_vanish, vanish, &f);
		SIM_ASSERT_EQ(s, sim_run_while(s, a_not_failed, &f, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.a.failed, 1);
		SIM_ASSERT_EQ(s, f.a.failed_id, id);
		SIM_ASSERT_EQ(s, f.a.reason, KONCE_MSG_FAIL_TIMEOUT);
		SIM_ASSERT_EQ(s, f.a.delivered, 0);
		SIM_ASSERT(s, f.a.t_failed >= t_vanish + 5 * SIM_SEC && f.a.t_failed <= t_vanish + 7 * SIM_SEC);
		SIM_ASSERT_EQ(s, f.a.closed, 1);
		SIM_ASSERT_EQ(s, f.a.after_last, 0);
		SIM_ASSERT_EQ(s, sim_env_live(ea), base_a - 1); /* all but the session itself */
		/* B held part of the message: its session idles out and frees it */
		SIM_ASSERT(s, sim_env_live(eb) > base_b);
		SIM_ASSERT_EQ(s, sim_run_while(s, b_open, &f, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.b.messages, 0);
		SIM_ASSERT_EQ(s, f.b.close_reason, KONCE_FAIL_IDLE);
		SIM_ASSERT_EQ(s, sim_env_live(eb), base_b - 1);
		mpair_free(&f.p);
		SIM_ASSERT_EQ(s, sim_env_live(ea), 0);
		SIM_ASSERT_EQ(s, sim_env_live(eb), 0);
		sim_free(s);
	}
}

static bool a_waiting1(void *ctx) { return ((fx *)ctx)->a.delivered < 1; }
static bool a_waiting(void *ctx) { return ((fx *)ctx)->a.failed + ((fx *)ctx)->a.delivered < 2; }

static void test_too_large(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 10) {
		sim *s = sim_new(seed);
		static fx f;
		memset(&f, 0, sizeof f);
		f.p.on_event = on_event;
		f.p.user = &f;
		konce_ep_config cb = {.max_message = 64 * 1024};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .jitter_us = 2 * SIM_MS, .loss = 0.02};
		SIM_ASSERT_EQ(s, mpair_init(&f.p, s, &link, NULL, &cb), 0);
		const konce_env *ea = sim_host_env(f.p.a.h), *eb = sim_host_env(f.p.b.h);
		static uint8_t big[1 << 20];
		uint64_t id_big, id_small, id_warm;
		/* a first message makes both sides' reliability state, so B's baseline includes it */
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, "warm", 4, 0, &id_warm), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, a_waiting1, &f, sim_now(s) + 10 * SIM_SEC), 0);
		memset(&f.a, 0, sizeof f.a);
		memset(&f.b, 0, sizeof f.b);
		uint64_t base_b = sim_env_live(eb);
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, big, sizeof big, 0, &id_big), 0);
		SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, "still here", 10, 0, &id_small), 0);
		SIM_ASSERT_EQ(s, sim_run_while(s, a_waiting, &f, sim_now(s) + 60 * SIM_SEC), 0);
		SIM_ASSERT_EQ(s, f.a.failed, 1);
		SIM_ASSERT_EQ(s, f.a.failed_id, id_big);
		SIM_ASSERT_EQ(s, f.a.reason, KONCE_MSG_FAIL_TOO_LARGE);
		SIM_ASSERT_EQ(s, f.a.delivered, 1);
		SIM_ASSERT_EQ(s, f.b.messages, 1);
		SIM_ASSERT_EQ(s, f.b.last_len, 10);
		/* let stray fragments of the refused message drain: B holds none of it */
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, sim_env_live(eb), base_b);
		mpair_free(&f.p);
		SIM_ASSERT_EQ(s, sim_env_live(ea), 0);
		SIM_ASSERT_EQ(s, sim_env_live(eb), 0);
		sim_free(s);
	}
}

static void test_local_close(void **state)
{
	(void)state;
	SIM_FOR_EACH_SEED(seed, 5) {
		sim *s = sim_new(seed);
		static fx f;
		memset(&f, 0, sizeof f);
		f.p.on_event = on_event;
		f.p.user = &f;
		konce_ep_config ca = {.max_message = 100000};
		sim_link_cfg link = {.delay_us = 20 * SIM_MS, .rate = 100000};
		SIM_ASSERT_EQ(s, mpair_init(&f.p, s, &link, &ca, NULL), 0);
		const konce_env *ea = sim_host_env(f.p.a.h);
		uint64_t base_a = sim_env_live(ea);
		static uint8_t m[90000];
		uint64_t id[3];
		for (int i = 0; i < 3; i++)
			SIM_ASSERT_EQ(s, mpair_send(&f.p, &f.p.a, m, sizeof m, 0, &id[i]), 0);
		uint64_t dummy;
		SIM_ASSERT_EQ(s, konce_ep_msg_send(f.p.a.ep, f.p.ca, m, 100001, 0, 0, sim_now(s), &dummy), -EMSGSIZE);
		SIM_ASSERT_EQ(s, konce_ep_msg_send(f.p.a.ep, f.p.ca, m, 1, 2, 0, sim_now(s), &dummy), -EINVAL);
		SIM_ASSERT_EQ(s, konce_ep_msg_send(f.p.a.ep, 12345, m, 1, 0, 0, sim_now(s), &dummy), -ENOENT);
		sim_run_for(s, 200 * SIM_MS);
		SIM_ASSERT_EQ(s, konce_ep_close(f.p.a.ep, f.p.ca, sim_now(s)), 0);
		tnode_flush(&f.p.a, sim_now(s));
		SIM_ASSERT_EQ(s, f.a.failed, 3);
		SIM_ASSERT_EQ(s, f.a.reason, KONCE_MSG_FAIL_LOCAL_CLOSE);
		SIM_ASSERT_EQ(s, sim_env_live(ea), base_a - 1); /* all but the session itself */
		sim_run_for(s, 2 * SIM_SEC);
		SIM_ASSERT_EQ(s, f.b.closed, 1); /* B got the CLOSE */
		SIM_ASSERT_EQ(s, f.b.after_last, 0);
		mpair_free(&f.p);
		sim_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_peer_vanishes),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_local_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
