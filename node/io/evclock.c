/* evclock.c - the I/O layer's clock and timer arming (evclock.h). */
#include "node/io/evclock.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

uint64_t node_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t node_clock_us(void *ctx)
{
	(void)ctx;
	return node_now_us();
}

static void on_ptimer(evutil_socket_t fd, short what, void *arg)
{
	node_ptimer *t = arg;
	uint64_t n;
	(void)what;
	if (read(fd, &n, sizeof n) != (ssize_t)sizeof n)
		return; /* re-armed since it fired (the count was reset): not due */
	t->armed = UINT64_MAX;
	t->cb(t->arg);
}

int node_ptimer_init(node_ptimer *t, struct event_base *base, void (*cb)(void *arg), void *arg)
{
	t->ev = NULL;
	t->armed = UINT64_MAX;
	t->cb = cb;
	t->arg = arg;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	t->ev = event_new(base, t->fd, EV_READ | EV_PERSIST, on_ptimer, t);
	if (!t->ev || event_add(t->ev, NULL)) {
		if (t->ev)
			event_free(t->ev);
		t->ev = NULL;
		close(t->fd);
		t->fd = -1;
		return -ENOMEM;
	}
	return 0;
}

void node_ptimer_arm(node_ptimer *t, uint64_t at)
{
	if (at == 0)
		at = 1; /* a zero it_value disarms: 1 us after boot is just as past */
	if (at == t->armed)
		return;
	struct itimerspec its = {0};
	if (at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / 1000000u);
		its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	}
	if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		t->armed = at;
}

void node_ptimer_free(node_ptimer *t)
{
	if (!t->ev)
		return;
	event_free(t->ev);
	close(t->fd);
	t->ev = NULL;
	t->fd = -1;
}
