/* portmap.c - the port-mapping policy on the loop's thread, its requests on a worker thread.
 *
 * Loop thread                               worker thread
 *   drive(): konce_portmap_policy_next -> submit() ---->  one-slot queue (mutex + cond) -> konce_pmio_do()
 *   on_result() <- eventfd (libevent) <------  result slot, eventfd write
 *   konce_portmap_policy_result_in, events -> cb, timer (evclock.h) at konce_portmap_policy_wake
 *
 * The shared block (queue, eventfd) is reference-counted: the loop side and the worker each hold
 * one reference and the last to let go frees it, so a stop that times out while the worker is
 * stuck in a library call can return without leaving the worker a dangling pointer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "nat/pmresult.h"
#include "node/io/evclock.h"
#include "node/io/portmap.h"
#include "node/io/portmap_io.h"
#include "node/io/wthread.h"

/* A request's result and the worker's note on it (the gateway, the library's error). */
struct answer {
	konce_portmap_policy_result res;
	char detail[160];
};

struct shared {
	node_wthread t;           /* t.cv: a request or a result was posted, or quit; t.ev: on_result */
	konce_portmap_policy_req req;
	bool has_req;
	struct answer ans;
	bool has_res;
	bool quit, exited;
	int refs;
	konce_pmio *io;
};

struct konce_portmap {
	konce_portmap_cfg cfg;
	konce_portmap_policy *pm;
	struct shared *sh;
	node_ptimer timer; /* at the policy's next deadline */
};

static void shared_unref(struct shared *sh)
{
	pthread_mutex_lock(&sh->t.mu);
	bool last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->t.mu);
	if (!last)
		return;
	konce_pmio_free(sh->io);
	node_wthread_release(&sh->t);
	free(sh);
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	pthread_mutex_lock(&sh->t.mu);
	for (;;) {
		while (!sh->has_req && !sh->quit)
			pthread_cond_wait(&sh->t.cv, &sh->t.mu);
		if (!sh->has_req)
			break;
		konce_portmap_policy_req req = sh->req;
		sh->has_req = false;
		pthread_mutex_unlock(&sh->t.mu);

		struct answer a;
		konce_pmio_do(sh->io, &req, &a.res, a.detail, sizeof(a.detail));

		pthread_mutex_lock(&sh->t.mu);
		sh->ans = a;
		sh->has_res = true;
		pthread_cond_broadcast(&sh->t.cv);
		node_wthread_wake_loop(&sh->t);
	}
	sh->exited = true;
	pthread_cond_broadcast(&sh->t.cv);
	pthread_mutex_unlock(&sh->t.mu);
	shared_unref(sh);
	return NULL;
}

static void trace(konce_portmap *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(konce_portmap *p, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	if (!p->cfg.trace)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	p->cfg.trace(p->cfg.ctx, line);
}

static void submit(konce_portmap *p, const konce_portmap_policy_req *req)
{
	char line[256];
	konce_pmres_req_line(req, line, sizeof line);
	trace(p, "%s", line);
	pthread_mutex_lock(&p->sh->t.mu);
	p->sh->req = *req;
	p->sh->has_req = true;
	pthread_cond_broadcast(&p->sh->t.cv);
	pthread_mutex_unlock(&p->sh->t.mu);
}

/* One turn of the policy, from the loop or from a stop: the worker's posted result (if any) fed
 * in, then the request the policy wants next handed to the worker. */
static void step(konce_portmap *p)
{
	konce_portmap_policy_req req;
	char line[256];
	pthread_mutex_lock(&p->sh->t.mu);
	bool got = p->sh->has_res;
	struct answer a = p->sh->ans;
	p->sh->has_res = false;
	pthread_mutex_unlock(&p->sh->t.mu);
	if (got) {
		konce_pmres_result_line(&a.res, a.detail, line, sizeof line);
		trace(p, "%s", line);
		if (konce_portmap_policy_result_in(p->pm, node_now_us(), &a.res) == -ESTALE)
			trace(p, "result %u: stale, ignored", a.res.id);
	}
	if (konce_portmap_policy_next(p->pm, node_now_us(), &req))
		submit(p, &req);
}

static void drive(konce_portmap *p)
{
	konce_portmap_policy_event ev;
	step(p);
	while (konce_portmap_policy_event_pop(p->pm, &ev))
		p->cfg.cb(p->cfg.ctx, &ev);
	node_ptimer_arm(&p->timer, konce_portmap_policy_wake(p->pm));
}

/* The policy's deadline, or the worker's wake (a result posted; an earlier wake may have taken it
 * already). */
static void on_wake(void *arg) { drive(arg); }

int konce_portmap_start(konce_portmap **out, struct event_base *base, const konce_portmap_cfg *cfg)
{
	if (!base || !cfg || !cfg->cb || !cfg->policy.internal_port)
		return -EINVAL;
	konce_portmap *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	int rc = konce_portmap_policy_new(&p->pm, &cfg->policy);
	if (rc) {
		free(p);
		return rc;
	}
	struct shared *sh = calloc(1, sizeof(*sh));
	rc = -ENOMEM;
	if (!sh)
		goto fail_pm;
	sh->io = konce_pmio_new(cfg->natpmp_timeout_ms, cfg->upnp_discover_ms);
	sh->refs = 2;
	p->sh = sh;
	if (!sh->io || (rc = node_ptimer_init(&p->timer, base, on_wake, p)) ||
	    (rc = node_wthread_start(&sh->t, worker, sh, base, on_wake, p)))
		goto fail_sh;
	konce_portmap_policy_start(p->pm, node_now_us());
	drive(p); /* submits the first discovery; no event can be due yet */
	*out = p;
	return 0;

fail_sh:
	node_ptimer_free(&p->timer);
	konce_pmio_free(sh->io);
	free(sh);
fail_pm:
	konce_portmap_policy_free(p->pm);
	free(p);
	return rc;
}

int konce_portmap_stop(konce_portmap *p, unsigned timeout_ms)
{
	struct shared *sh = p->sh;
	uint64_t deadline = node_now_us() + (uint64_t)timeout_ms * 1000;
	struct timespec dl = node_wthread_deadline(timeout_ms);

	node_wthread_unwatch(&sh->t);
	node_ptimer_free(&p->timer);
	konce_portmap_policy_stop(p->pm, node_now_us());
	/* Run the policy here until the delete is answered: the loop may not be running any more. */
	for (step(p); konce_portmap_policy_state_of(p->pm) != KONCE_PM_STOPPED && node_now_us() < deadline; step(p)) {
		pthread_mutex_lock(&sh->t.mu);
		for (int w = 0; !sh->has_res && w != ETIMEDOUT;)
			w = pthread_cond_timedwait(&sh->t.cv, &sh->t.mu, &dl);
		pthread_mutex_unlock(&sh->t.mu);
	}
	int rc = konce_portmap_policy_state_of(p->pm) == KONCE_PM_STOPPED ? 0 : -ETIMEDOUT;
	if (rc)
		trace(p, "stop: the lease was not confirmed deleted within %u ms", timeout_ms);

	pthread_mutex_lock(&sh->t.mu);
	sh->quit = true;
	sh->has_req = false; /* a request not yet started is not worth waiting for */
	pthread_cond_broadcast(&sh->t.cv);
	for (int w = 0; !sh->exited && w != ETIMEDOUT;)
		w = pthread_cond_timedwait(&sh->t.cv, &sh->t.mu, &dl);
	bool exited = sh->exited;
	pthread_mutex_unlock(&sh->t.mu);
	if (exited)
		pthread_join(sh->t.thread, NULL); /* it is past its last use of the block but for its unref */
	else
		pthread_detach(sh->t.thread), rc = -ETIMEDOUT; /* stuck in a library call: it frees the block */
	shared_unref(sh);
	konce_portmap_policy_free(p->pm);
	free(p);
	return rc;
}
