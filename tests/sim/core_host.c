/* core_host.c - what the simulator's hosts of a konce core share (see core_host.h). */
#include "tests/sim/core_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/nc_event.h"

int core_host_add(sim *s, sim_nat *nat, const char *ip, uint16_t port, const sim_host_ops *ops, void *ctx,
		  sim_host **h, konce_identity **id)
{
	*h = sim_host_add_behind(s, nat, ip, ops, ctx);
	if (!*h)
		return -EINVAL;
	int r = sim_host_bind(*h, port);
	if (r)
		return r;
	return konce_identity_generate(id, sim_host_env(*h));
}

void core_host_rearm(sim *s, sim_host *h, uint64_t next_timer, uint64_t busy_until)
{
	if (next_timer == UINT64_MAX) {
		sim_timer_cancel(s, h);
		return;
	}
	sim_timer_set(s, h, next_timer < busy_until ? busy_until : next_timer);
}

uint64_t core_host_pow_cost(const konce_ep *ep, uint64_t *seen, uint64_t us_per_hash)
{
	uint64_t tries = konce_ep_counters(ep)->pow_tries, d = tries - *seen;
	*seen = tries;
	return d * us_per_hash;
}

bool core_host_app_event(const konce_nc_event *ev) { return nc_app_event(ev); }

bool core_host_drain(konce_nodecore *core, const core_host_sink *sink, uint64_t now)
{
	konce_nc_event ev;
	konce_nc_datagram dg;
	konce_nc_note note;
	bool sent = false;
	while (konce_nodecore_poll_event(core, &ev))
		if (!core_host_app_event(&ev) && sink->event)
			sink->event(sink->ctx, &ev, now);
	while (konce_nodecore_poll(core, &dg)) {
		sink->datagram(sink->ctx, &dg, now);
		sent = true;
	}
	while (konce_nodecore_poll_note(core, &note))
		if (sink->note)
			sink->note(sink->ctx, &note, now);
	return sent;
}

void core_host_notes_keep(core_host_notes *k, const konce_nc_note *note)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		konce_nc_note *v = realloc(k->v, cap * sizeof(*v));
		if (!v) {
			k->oom = true;
			return;
		}
		k->v = v;
		k->cap = cap;
	}
	k->v[k->n++] = *note;
}

size_t core_host_notes_count(const core_host_notes *k, const uint8_t *pk, const konce_addr *addr)
{
	size_t c = 0;
	for (size_t i = 0; i < k->n; i++) {
		const konce_nc_note *e = &k->v[i];
		if (pk && memcmp(e->pk, pk, KONCE_KEY_BYTES))
			continue;
		if (addr && (!e->has_addr || !konce_addr_eq(&e->addr, addr)))
			continue;
		c++;
	}
	return c;
}

void core_host_notes_free(core_host_notes *k)
{
	free(k->v);
	*k = (core_host_notes){0};
}
