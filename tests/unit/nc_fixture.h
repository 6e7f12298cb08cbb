/* nc_fixture.h - two node cores back to back over a zero-latency link the test carries, with a
 * hand-moved clock and the application played by nc_event.h, for the unit tests that drive the
 * node core's call set directly (test_nodecore.c, test_ncidentity.c, test_ncnote_punch.c).
 *
 * The test's world holds an nc_fix as its first member (so a hook may cast f back to it), makes
 * each side's identity (id[i]) and calls nc_fix_core() for it.  nc_fix_drain() takes one side's
 * output as node_io_kick() does: its events (the application's to nc_app_event(), the rest to the
 * event hook), its datagrams (fed to the other side when the carry hook lets them; side 0's lent by
 * reference in batches when by_ref0 is set), its store notes (to the note hook).  nc_fix_run()
 * drains both, stops once the done hook says so, else moves the clock to the next timer and runs
 * it, until the clock reaches `until`.  Include it after <cmocka.h>: a run that never goes idle
 * fails. */
#ifndef KONCE_TEST_NC_FIXTURE_H
#define KONCE_TEST_NC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "node/core/nodecore.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_event.h"

enum { NC_FIX_START = 1000000, NC_FIX_STEPS = 1000000, NC_FIX_BATCH = 4 };

typedef struct nc_fix nc_fix;
struct nc_fix {
	konce_nodecore *c[2];
	konce_identity *id[2];
	konce_addr addr[2]; /* where side i's datagrams come from and go to */
	uint64_t now;
	bool by_ref0;    /* side 0's datagrams go by konce_nodecore_poll_ref, NC_FIX_BATCH at a time */
	unsigned steps;  /* the most steps nc_fix_run() takes before it fails; 0: NC_FIX_STEPS */
	/* the test's hooks, each optional */
	void (*event)(nc_fix *f, int i, const konce_nc_event *ev); /* what nc_app_event() leaves */
	bool (*carry)(nc_fix *f, int i, const konce_addr *to);     /* NULL: to is the other's address */
	void (*note)(nc_fix *f, int i, const konce_nc_note *no);
	bool (*done)(nc_fix *f);
};

static inline const uint8_t *nc_fix_pk(const nc_fix *f, int i) { return konce_nodecore_public_key(f->c[i]); }

/* Side i's core, from cfg (whose endpoint identity is the test's id[i]), at addr, with on_app
 * (ctx) handling class klass. */
static inline void nc_fix_core(nc_fix *f, int i, const konce_nodecore_config *cfg, const char *addr, uint16_t klass,
			       konce_handler_fn on_app, void *ctx)
{
	assert_int_equal(konce_nodecore_new(&f->c[i], cfg, f->now), 0);
	assert_int_equal(konce_addr_parse(&f->addr[i], addr), 0);
	assert_int_equal(konce_nodecore_handle(f->c[i], klass, on_app, ctx), 0);
}

static inline void nc_fix_free(nc_fix *f)
{
	for (int i = 0; i < 2; i++) {
		konce_nodecore_free(f->c[i]);
		konce_identity_free(f->id[i]);
	}
}

static inline void nc_fix_carry(nc_fix *f, int i, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	if (f->carry ? f->carry(f, i, to) : konce_addr_eq(to, &f->addr[!i]))
		konce_nodecore_input(f->c[!i], 0, pkt, len, &f->addr[i], f->now);
}

static inline void nc_fix_drain(nc_fix *f, int i)
{
	konce_nc_event ev;
	konce_nc_datagram dg;
	konce_nc_note no;
	while (konce_nodecore_poll_event(f->c[i], &ev))
		if (!nc_app_event(&ev) && f->event)
			f->event(f, i, &ev);
	if (i == 0 && f->by_ref0) { /* a batch lent before any is carried, then released */
		konce_nc_dgref ref[NC_FIX_BATCH];
		unsigned k;
		do {
			for (k = 0; k < NC_FIX_BATCH && konce_nodecore_poll_ref(f->c[i], &ref[k]); k++)
				;
			for (unsigned j = 0; j < k; j++)
				nc_fix_carry(f, i, ref[j].pkt, ref[j].len, &ref[j].to);
			konce_nodecore_sent(f->c[i]);
		} while (k == NC_FIX_BATCH);
	}
	while (konce_nodecore_poll(f->c[i], &dg))
		nc_fix_carry(f, i, dg.buf, dg.len, &dg.to);
	while (konce_nodecore_poll_note(f->c[i], &no))
		if (f->note)
			f->note(f, i, &no);
}

/* Runs both cores until the done hook says so or the clock reaches until. */
static inline void nc_fix_run(nc_fix *f, uint64_t until)
{
	for (unsigned step = 0; step < (f->steps ? f->steps : NC_FIX_STEPS); step++) {
		for (int i = 0; i < 2; i++)
			nc_fix_drain(f, i);
		if (f->done && f->done(f))
			return;
		uint64_t t = konce_nodecore_next_timer(f->c[0]), t1 = konce_nodecore_next_timer(f->c[1]);
		t = t1 < t ? t1 : t;
		if (t > until) {
			f->now = until > f->now ? until : f->now;
			return;
		}
		f->now = t > f->now ? t : f->now;
		for (int i = 0; i < 2; i++)
			if (konce_nodecore_next_timer(f->c[i]) <= f->now)
				konce_nodecore_timer(f->c[i], f->now);
	}
	fail_msg("the cores did not go idle");
}

#endif
