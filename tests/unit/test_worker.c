/* test_worker.c - the I/O layer's worker thread (node/io/worker.h).  Jobs run on the thread and are
 * reported on the loop, both in the order posted; a wait reports the jobs before it first and
 * honours its deadline; a stop without a deadline runs and reports everything posted, and refuses
 * posts from the dones it reports; a stop with a deadline hands the jobs not yet taken back unrun
 * (their cancel, on the loop), and when the job in progress outlasts it, abandons the thread,
 * which then drops that job, runs fini and frees itself, never calling done. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "node/io/evclock.h"
#include "node/io/worker.h"

enum { N = 64 };

struct tjob {
	node_job job; /* first */
	unsigned id;
	atomic_bool *gate; /* run() spins until it is true; NULL: returns at once */
};

static struct event_base *base;
static node_worker *wk;
static pthread_t loop_thread;
static unsigned run_order[N], nrun; /* written on the worker thread, read after a report */
static unsigned done_order[N], ndone;
static atomic_uint ndropped, nfini, nstarted;
static atomic_bool wrong_thread;
static int repost_result;

static void t_run(node_job *j)
{
	struct tjob *t = (struct tjob *)j;
	if (pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	nstarted++;
	while (t->gate && !atomic_load(t->gate))
		usleep(1000);
	run_order[nrun++] = t->id;
}

static void t_done(node_job *j)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	done_order[ndone++] = ((struct tjob *)j)->id;
}

static void t_drop(node_job *j)
{
	(void)j;
	if (pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	ndropped++;
}

static void t_fini(void *ctx)
{
	(void)ctx;
	if (pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	nfini++;
}

static unsigned cancel_order[N], ncancel;

static void t_cancel(node_job *j)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		wrong_thread = true;
	cancel_order[ncancel++] = ((struct tjob *)j)->id;
}

static struct tjob mk(unsigned id, atomic_bool *gate)
{
	return (struct tjob){.job = {.run = t_run, .done = t_done, .drop = t_drop, .cancel = t_cancel},
			     .id = id, .gate = gate};
}

static int setup(void **state)
{
	(void)state;
	nrun = ndone = ncancel = 0;
	ndropped = nfini = nstarted = 0;
	wrong_thread = false;
	loop_thread = pthread_self();
	if (!(base = event_base_new()))
		return -1;
	return node_worker_start(&wk, base, t_fini, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (wk)
		node_worker_stop(wk, 0);
	wk = NULL;
	event_base_free(base);
	return 0;
}

static void test_order_run_and_report(void **state)
{
	struct tjob j[N];
	(void)state;
	for (unsigned i = 0; i < N; i++) {
		j[i] = mk(i, NULL);
		assert_int_equal(node_worker_post(wk, &j[i].job), 0);
	}
	uint64_t end = node_now_us() + 10000000;
	while (ndone < N && node_now_us() < end)
		event_base_loop(base, EVLOOP_ONCE); /* the eventfd's wake reports */
	assert_int_equal(ndone, N);
	assert_int_equal(nrun, N);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(run_order[i], i);
		assert_int_equal(done_order[i], i);
		assert_true(j[i].job.ran);
	}
	assert_false(wrong_thread);
}

static void test_wait_reports_the_jobs_before(void **state)
{
	struct tjob a = mk(1, NULL), b = mk(2, NULL), c = mk(3, NULL);
	atomic_bool gate = false;
	struct tjob slow = mk(4, &gate);
	(void)state;
	node_worker_post(wk, &a.job);
	node_worker_post(wk, &b.job);
	node_worker_post(wk, &c.job);
	assert_true(node_worker_wait(wk, &b.job, 0));
	assert_true(ndone >= 2); /* a, then b; c if it ran meanwhile */
	assert_int_equal(done_order[0], 1);
	assert_int_equal(done_order[1], 2);
	/* a deadline: the slow job does not run by it, and is not reported */
	node_worker_post(wk, &slow.job);
	unsigned before = ndone;
	assert_false(node_worker_wait(wk, &slow.job, node_now_us() + 30000));
	assert_true(ndone <= 3 && ndone >= before);
	atomic_store(&gate, true);
	assert_true(node_worker_wait(wk, &slow.job, 0));
	assert_int_equal(ndone, 4);
	assert_int_equal(done_order[3], 4);
	assert_false(wrong_thread);
}

static void t_done_repost(node_job *j)
{
	static struct tjob again;
	t_done(j);
	again = mk(99, NULL);
	repost_result = node_worker_post(wk, &again.job);
}

static void test_stop_runs_everything_posted(void **state)
{
	atomic_bool gate = false;
	struct tjob first = mk(0, &gate), j[8];
	(void)state;
	node_worker_post(wk, &first.job);
	for (unsigned i = 0; i < 8; i++) {
		j[i] = mk(i + 1, NULL);
		node_worker_post(wk, &j[i].job);
	}
	j[7].job.done = t_done_repost;
	atomic_store(&gate, true);
	assert_int_equal(node_worker_stop(wk, 0), 0);
	wk = NULL;
	assert_int_equal(nrun, 9);
	assert_int_equal(ndone, 9);
	for (unsigned i = 0; i < 9; i++)
		assert_int_equal(done_order[i], i);
	assert_int_equal(repost_result, -ESHUTDOWN); /* a done reported by the stop cannot post */
	assert_int_equal(nfini, 1);
	assert_int_equal(ndropped, 0);
	assert_false(wrong_thread);
}

static void *open_gate_later(void *arg)
{
	usleep(50000);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

static void test_stop_deadline_hands_back_unrun(void **state)
{
	atomic_bool gate = false;
	struct tjob a = mk(1, &gate), b = mk(2, NULL), c = mk(3, NULL);
	pthread_t opener;
	(void)state;
	node_worker_post(wk, &a.job);
	while (!atomic_load(&nstarted)) /* a is in progress (it cannot finish: the gate is shut) */
		usleep(1000);
	node_worker_post(wk, &b.job);
	node_worker_post(wk, &c.job);
	assert_int_equal(pthread_create(&opener, NULL, open_gate_later, &gate), 0);
	assert_int_equal(node_worker_stop(wk, node_now_us() + 10000000), 0);
	wk = NULL;
	pthread_join(opener, NULL);
	assert_int_equal(ndone, 1); /* a finished within the deadline and was reported */
	assert_int_equal(done_order[0], 1);
	assert_false(b.job.ran); /* b and c were handed back unrun: cancel, in order, on the loop */
	assert_false(c.job.ran);
	assert_int_equal(ncancel, 2);
	assert_int_equal(cancel_order[0], 2);
	assert_int_equal(cancel_order[1], 3);
	assert_int_equal(nrun, 1);
	assert_int_equal(nfini, 1);
	assert_int_equal(ndropped, 0);
	assert_false(wrong_thread);
}

static void test_stop_abandons_a_stuck_job(void **state)
{
	static atomic_bool gate = false;
	static struct tjob stuck; /* outlives the test's frame: the abandoned thread drops it later */
	(void)state;
	atomic_store(&gate, false);
	stuck = mk(7, &gate);
	node_worker_post(wk, &stuck.job);
	while (!atomic_load(&nstarted))
		usleep(1000);
	assert_int_equal(node_worker_stop(wk, node_now_us() + 30000), -ETIMEDOUT);
	wk = NULL;
	assert_int_equal(ndone, 0);
	atomic_store(&gate, true); /* the library call returns: the thread drops the job, then fini */
	for (int i = 0; i < 5000 && atomic_load(&nfini) == 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&nfini), 1);
	assert_int_equal(atomic_load(&ndropped), 1);
	assert_int_equal(ndone, 0); /* done is never called for an abandoned job */
	assert_false(wrong_thread);
	usleep(10000); /* the thread's last act after fini: freeing the worker */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_run_and_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_reports_the_jobs_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_runs_everything_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_deadline_hands_back_unrun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_abandons_a_stuck_job, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
