/* portmap.c - the port-mapping policy on the loop's thread, its requests on a worker thread.
 *
 * Loop thread                               worker thread
 *   drive(): konce_portmap_policy_next -> submit() ---->  one-slot queue (mutex + cond) -> konce_pmio_do()
 *   on_result() <- eventfd (libevent) <------  result slot, eventfd write
 *   konce_portmap_policy_result_in, events -> cb, timer at konce_portmap_policy_wake
 *
 * The shared block (queue, eventfd) is reference-counted: the loop side and the worker each hold
 * one reference and the last to let go frees it, so a stop that times out while the worker is
 * stuck in a library call can return without leaving the worker a dangling pointer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "node/io/evclock.h"
#include "node/io/portmap.h"
#include "node/io/portmap_io.h"

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* CLOCK_MONOTONIC: a request or a result was posted, or quit */
	konce_portmap_policy_req req;
	bool has_req;
	konce_portmap_policy_result res;
	char detail[160];
	bool has_res;
	bool quit;
	int refs;
	int efd;
	konce_pmio *io;
	unsigned natpmp_ms, discover_ms;
};

struct konce_portmap {
	konce_portmap_cfg cfg;
	konce_portmap_policy *pm;
	struct shared *sh;
	pthread_t thread;
	struct event *ev_res, *ev_timer;
};

static void shared_unref(struct shared *sh)
{
	pthread_mutex_lock(&sh->mu);
	bool last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->mu);
	if (!last)
		return;
	konce_pmio_free(sh->io);
	close(sh->efd);
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	pthread_mutex_lock(&sh->mu);
	for (;;) {
		while (!sh->has_req && !sh->quit)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (!sh->has_req)
			break;
		konce_portmap_policy_req req = sh->req;
		sh->has_req = false;
		pthread_mutex_unlock(&sh->mu);

		konce_portmap_policy_result res;
		char detail[sizeof(sh->detail)];
		konce_pmio_do(sh->io, &req, &res, detail, sizeof(detail));

		pthread_mutex_lock(&sh->mu);
		sh->res = res;
		memcpy(sh->detail, detail, sizeof(detail));
		sh->has_res = true;
		pthread_cond_broadcast(&sh->cv);
		uint64_t one = 1;
		if (write(sh->efd, &one, sizeof(one)) < 0) {
			/* only EAGAIN at a saturated counter: the loop is awake anyway */
		}
	}
	pthread_mutex_unlock(&sh->mu);
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
	trace(p, "request %u: %s %s internal %u external %u lifetime %u s", req->id, konce_portmap_policy_op_name(req->op),
	      konce_portmap_policy_proto_name(req->proto), req->internal_port, req->external_port, req->lifetime_s);
	pthread_mutex_lock(&p->sh->mu);
	p->sh->req = *req;
	p->sh->has_req = true;
	pthread_cond_broadcast(&p->sh->cv);
	pthread_mutex_unlock(&p->sh->mu);
}

/* Takes the posted result, if any.  Call with sh->mu held. */
static bool take_result(konce_portmap *p, konce_portmap_policy_result *res, char *detail)
{
	if (!p->sh->has_res)
		return false;
	*res = p->sh->res;
	memcpy(detail, p->sh->detail, sizeof(p->sh->detail));
	p->sh->has_res = false;
	return true;
}

static void consume(konce_portmap *p, const konce_portmap_policy_result *res, const char *detail)
{
	char a[KONCE_ADDR_STRLEN];
	trace(p, "result %u: %s, external %s lifetime %u s (%s)", res->id, konce_portmap_policy_err_name(res->err),
	      konce_addr_str(&res->external, a), res->lifetime_s, detail);
	if (konce_portmap_policy_result_in(p->pm, node_now_us(), res) == -ESTALE)
		trace(p, "result %u: stale, ignored", res->id);
}

static void drive(konce_portmap *p)
{
	konce_portmap_policy_req req;
	konce_portmap_policy_event ev;
	uint64_t now = node_now_us();
	if (konce_portmap_policy_next(p->pm, now, &req))
		submit(p, &req);
	while (konce_portmap_policy_event_pop(p->pm, &ev))
		p->cfg.cb(p->cfg.ctx, &ev);
	node_timer_arm(p->ev_timer, konce_portmap_policy_wake(p->pm), now);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	drive(arg);
}

static void on_result(evutil_socket_t fd, short what, void *arg)
{
	konce_portmap *p = arg;
	uint64_t n;
	konce_portmap_policy_result res;
	char detail[sizeof(p->sh->detail)];
	(void)what;
	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a result already taken by an earlier wakeup */
	}
	pthread_mutex_lock(&p->sh->mu);
	bool got = take_result(p, &res, detail);
	pthread_mutex_unlock(&p->sh->mu);
	if (got)
		consume(p, &res, detail);
	drive(p);
}

int konce_portmap_start(konce_portmap **out, struct event_base *base, const konce_portmap_cfg *cfg)
{
	if (!base || !cfg || !cfg->cb || !cfg->internal_port)
		return -EINVAL;
	konce_portmap_policy_cfg pc;
	memset(&pc, 0, sizeof(pc));
	pc.internal_port = cfg->internal_port;
	pc.external_port = cfg->external_port;
	pc.lifetime_s = cfg->lifetime_s;
	memcpy(pc.protos, cfg->protos, sizeof(pc.protos));
	pc.retry_min_us = cfg->retry_min_us;
	pc.retry_max_us = cfg->retry_max_us;

	konce_portmap *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	int rc = konce_portmap_policy_new(&p->pm, &pc);
	if (rc) {
		free(p);
		return rc;
	}
	struct shared *sh = calloc(1, sizeof(*sh));
	pthread_condattr_t ca;
	rc = -ENOMEM;
	if (!sh)
		goto fail_pm;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->efd < 0) {
		rc = -errno;
		free(sh);
		goto fail_pm;
	}
	sh->io = konce_pmio_new(cfg->natpmp_timeout_ms, cfg->upnp_discover_ms);
	p->ev_res = event_new(base, sh->efd, EV_READ | EV_PERSIST, on_result, p);
	p->ev_timer = evtimer_new(base, on_timer, p);
	if (!sh->io || !p->ev_res || !p->ev_timer || event_add(p->ev_res, NULL))
		goto fail_sh;
	pthread_mutex_init(&sh->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sh->cv, &ca);
	pthread_condattr_destroy(&ca);
	sh->refs = 2;
	p->sh = sh;
	rc = -pthread_create(&p->thread, NULL, worker, sh);
	if (rc) {
		pthread_cond_destroy(&sh->cv);
		pthread_mutex_destroy(&sh->mu);
		goto fail_sh;
	}
	konce_portmap_policy_start(p->pm, node_now_us());
	drive(p); /* submits the first discovery; no event can be due yet */
	*out = p;
	return 0;

fail_sh:
	if (p->ev_res)
		event_free(p->ev_res);
	if (p->ev_timer)
		event_free(p->ev_timer);
	konce_pmio_free(sh->io);
	close(sh->efd);
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
	struct timespec dl;
	konce_portmap_policy_req req;
	konce_portmap_policy_result res;
	char detail[sizeof(sh->detail)];

	event_free(p->ev_res);
	event_free(p->ev_timer);
	konce_portmap_policy_stop(p->pm, node_now_us());
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(timeout_ms / 1000);
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000)
		dl.tv_sec++, dl.tv_nsec -= 1000000000;
	/* Run the policy here until the delete is answered: the loop may not be running any more. */
	while (konce_portmap_policy_state_of(p->pm) != KONCE_PM_STOPPED && node_now_us() < deadline) {
		if (konce_portmap_policy_next(p->pm, node_now_us(), &req))
			submit(p, &req);
		pthread_mutex_lock(&sh->mu);
		int w = 0;
		while (!sh->has_res && w != ETIMEDOUT)
			w = pthread_cond_timedwait(&sh->cv, &sh->mu, &dl);
		bool got = take_result(p, &res, detail);
		pthread_mutex_unlock(&sh->mu);
		if (got)
			consume(p, &res, detail);
	}
	int rc = konce_portmap_policy_state_of(p->pm) == KONCE_PM_STOPPED ? 0 : -ETIMEDOUT;
	if (rc)
		trace(p, "stop: the lease was not confirmed deleted within %u ms", timeout_ms);

	pthread_mutex_lock(&sh->mu);
	sh->quit = true;
	sh->has_req = false; /* a request not yet started is not worth waiting for */
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t left = deadline > node_now_us() ? deadline - node_now_us() : 0;
	rt.tv_sec += (time_t)(left / 1000000);
	rt.tv_nsec += (long)(left % 1000000) * 1000;
	if (rt.tv_nsec >= 1000000000)
		rt.tv_sec++, rt.tv_nsec -= 1000000000;
	if (pthread_timedjoin_np(p->thread, NULL, &rt)) {
		pthread_detach(p->thread); /* stuck in a library call: it frees the shared block when done */
		rc = -ETIMEDOUT;
	}
	shared_unref(sh);
	konce_portmap_policy_free(p->pm);
	free(p);
	return rc;
}

bool konce_portmap_mapping(const konce_portmap *p, konce_addr *external, enum konce_portmap_policy_proto *proto)
{
	return konce_portmap_policy_mapping(p->pm, external, proto);
}
