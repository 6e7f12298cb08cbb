/* portmap.c - the port-mapping policy on the loop's thread, its requests on a worker (worker.h).
 *
 * Loop thread                                     worker thread
 *   drive(): konce_portmap_policy_next -> submit() ---> the request job: konce_pmio_do()
 *   on_answer() <- the worker's report <-------------- its result
 *   konce_portmap_policy_result_in, events -> cb, timer (evclock.h) at konce_portmap_policy_wake
 *
 * The policy keeps at most one request outstanding, so one job, allocated at start, carries every
 * request in turn.  The job and the library state (konce_pmio) are the worker's to free if a stop
 * abandons it inside a library call (the job's drop, the worker's fini), so a stuck gateway never
 * leaves the thread a dangling pointer.
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
#include "node/io/worker.h"

/* One request, its result and the worker's note on it (the gateway, the library's error). */
struct request {
	node_job job; /* first: the job is its request */
	konce_portmap *p;
	konce_pmio *io;
	konce_portmap_policy_req req;
	konce_portmap_policy_result res;
	char detail[160];
};

struct konce_portmap {
	konce_portmap_cfg cfg;
	konce_portmap_policy *pm;
	node_worker *wk;
	struct request *rq;
	bool busy;         /* rq is posted, not yet reported */
	bool stopping;     /* konce_portmap_stop runs: no events, no timer */
	node_ptimer timer; /* at the policy's next deadline */
};

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

static void run_request(node_job *j)
{
	struct request *q = (struct request *)j;
	konce_pmio_do(q->io, &q->req, &q->res, q->detail, sizeof q->detail);
}

static void drop_request(node_job *j) { free(j); }
static void fini_io(void *io) { konce_pmio_free(io); }

/* The request the policy wants next, if any, handed to the worker: whether one was. */
static bool submit(konce_portmap *p)
{
	char line[256];
	if (p->busy || !konce_portmap_policy_next(p->pm, node_now_us(), &p->rq->req))
		return false;
	konce_pmres_req_line(&p->rq->req, line, sizeof line);
	trace(p, "%s", line);
	p->busy = node_worker_post(p->wk, &p->rq->job) == 0; /* fails only once stopping */
	return p->busy;
}

static void drive(konce_portmap *p)
{
	konce_portmap_policy_event ev;
	submit(p);
	while (konce_portmap_policy_event_pop(p->pm, &ev))
		p->cfg.cb(p->cfg.ctx, &ev);
	node_ptimer_arm(&p->timer, konce_portmap_policy_wake(p->pm));
}

/* The worker's report of the request: its result into the policy, then (unless stopping) a turn. */
static void on_answer(node_job *j)
{
	struct request *q = (struct request *)j;
	konce_portmap *p = q->p;
	char line[256];
	p->busy = false;
	konce_pmres_result_line(&q->res, q->detail, line, sizeof line);
	trace(p, "%s", line);
	if (konce_portmap_policy_result_in(p->pm, node_now_us(), &q->res) == -ESTALE)
		trace(p, "result %u: stale, ignored", q->res.id);
	if (!p->stopping)
		drive(p);
}

/* The policy's deadline. */
static void on_timer(void *arg) { drive(arg); }

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
	rc = -ENOMEM;
	konce_pmio *io = konce_pmio_new(cfg->natpmp_timeout_ms, cfg->upnp_discover_ms);
	if (!io || !(p->rq = calloc(1, sizeof *p->rq)))
		goto fail;
	*p->rq = (struct request){.job = {.run = run_request, .done = on_answer, .drop = drop_request}, .p = p, .io = io};
	if ((rc = node_ptimer_init(&p->timer, base, on_timer, p)))
		goto fail;
	if ((rc = node_worker_start(&p->wk, base, fini_io, io))) {
		node_ptimer_free(&p->timer);
		goto fail;
	}
	konce_portmap_policy_start(p->pm, node_now_us());
	drive(p); /* submits the first discovery; no event can be due yet */
	*out = p;
	return 0;

fail:
	konce_pmio_free(io);
	free(p->rq);
	konce_portmap_policy_free(p->pm);
	free(p);
	return rc;
}

int konce_portmap_stop(konce_portmap *p, unsigned timeout_ms)
{
	uint64_t deadline = node_now_us() + (uint64_t)timeout_ms * 1000;
	p->stopping = true;
	node_ptimer_free(&p->timer);
	konce_portmap_policy_stop(p->pm, node_now_us());
	/* Run the policy here until the delete is answered: the loop may not be running any more. */
	while (konce_portmap_policy_state_of(p->pm) != KONCE_PM_STOPPED && node_now_us() < deadline &&
	       (p->busy || submit(p)))
		node_worker_wait(p->wk, &p->rq->job, deadline);
	int rc = konce_portmap_policy_state_of(p->pm) == KONCE_PM_STOPPED ? 0 : -ETIMEDOUT;
	if (rc)
		trace(p, "stop: the lease was not confirmed deleted within %u ms", timeout_ms);
	/* a request not yet started is not worth waiting for; one in a library call until the deadline */
	if (node_worker_stop(p->wk, deadline))
		rc = -ETIMEDOUT; /* abandoned: the worker frees the request and the library state */
	else
		free(p->rq);
	konce_portmap_policy_free(p->pm);
	free(p);
	return rc;
}
