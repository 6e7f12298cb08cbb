/* ep_mem.c - where an endpoint's memory goes, structure by structure (konce_ep_mem, endpoint.h).
 *
 * A presence (a session holding keepalives only) costs its konce_sess in the session slab, its
 * entries in the arrays sized for max_sessions (slot, generation, timer heap, key slot) and the
 * buckets its connection ids hash to; a channel adds its conn (ep_msg.c) and its path MTU search.
 *
 * A channel's conn (about 10 KB with its rings) comes from malloc.  When channels shrink back,
 * glibc keeps their pages in its heap (it gives back only the free top of the heap, and the
 * conns freed are anywhere in it), so resident memory would stay at the peak number of channels.
 * Every KONCE_EP_TRIM_SHRINKS shrinks, the env's trim hook (konce_env_trim, env.h; glibc's
 * malloc_trim(0) in konce_env_default) hands the free pages back (madvise); the
 * sessions and their handshake buffers are in slabs of their own (slab.h), not in that heap.
 */
#include "node/transport/ep_internal.h"

#include <stddef.h>

static unsigned row(struct konce_ep_mem_row *rows, unsigned max, unsigned i, const char *name, size_t each, size_t n,
		    size_t used)
{
	if (i < max)
		rows[i] = (struct konce_ep_mem_row){name, each, n, used};
	return i + 1;
}

static size_t slab_objs(const konce_slab *sl) { return (size_t)sl->n * sl->per; }

unsigned konce_ep_mem(const konce_ep *ep, struct konce_ep_mem_row *rows, unsigned max)
{
	size_t live = 0, ids = 0, pm = 0, rel = 0, hb[2] = {0, 0};
	for (const konce_sess *s = ep->live; s; s = s->next) {
		live++;
		for (unsigned i = 0; i < KONCE_EP_CIDS; i++)
			ids += s->cids[i].used;
		pm += s->pm != NULL;
		rel += s->rel != NULL;
		if (s->hb)
			hb[s->hb_full]++;
	}
	size_t acc = 0, acc_n = (size_t)(ep->acc_mask + 1) * KONCE_EP_ACC_WAYS;
	for (size_t i = 0; i < acc_n; i++)
		acc += ep->acc[i].expires_us != 0;
	size_t tb = 0, rs = 0;
	for (size_t i = 0; i <= ep->tmask; i++)
		tb += (ep->src_buckets[i] != NULL) + (ep->key_buckets[i] != NULL);
	for (size_t i = 0; i < ep->rsrc_used; i++)
		rs += ep->rsrc[i].refs != 0;
	size_t hs = offsetof(konce_sess, next_msg) - offsetof(konce_sess, as);
	unsigned i = 0;
	i = row(rows, max, i, "konce_sess (session slab)", sizeof(konce_sess), slab_objs(&ep->sess_slab), live);
	i = row(rows, max, i, "  of it: 5 connection-id entries", sizeof(((konce_sess *)0)->cids), live, live);
	i = row(rows, max, i, "  of it: path validation (konce_path)", sizeof(konce_path), live, live);
	i = row(rows, max, i, "  of it: encrypted session (konce_session)", sizeof(konce_session), live, live);
	i = row(rows, max, i, "  of it: client handshake fields", hs, live, live);
	i = row(rows, max, i, "handshake buffers, server", ep->hb_slab[0].size, slab_objs(&ep->hb_slab[0]), hb[0]);
	i = row(rows, max, i, "handshake buffers, client", ep->hb_slab[1].size, slab_objs(&ep->hb_slab[1]), hb[1]);
	i = row(rows, max, i, "slot pointer, generation, free stack", sizeof *ep->slots + sizeof *ep->gen + sizeof *ep->free_slots,
		ep->max_sessions, live);
	i = row(rows, max, i, "timer heap entries", sizeof *ep->heap_due + sizeof *ep->heap_slot + sizeof *ep->tpos,
		ep->max_sessions, ep->heap_n);
	i = row(rows, max, i, "connection-id table buckets", sizeof *ep->cid_buckets, (size_t)ep->cid_mask + 1, ids);
	i = row(rows, max, i, "session key slots (locked)", sizeof(konce_keyslot), ep->max_sessions, live);
	i = row(rows, max, i, "accepted-challenge entries", sizeof *ep->acc, acc_n, acc);
	i = row(rows, max, i, "table index nodes (ep_table.c)", sizeof *ep->tnodes, (size_t)ep->max_sessions * 2, ep->tnode_used);
	i = row(rows, max, i, "table index buckets (sources, keys)", sizeof *ep->src_buckets, 2 * ((size_t)ep->tmask + 1), tb);
	i = row(rows, max, i, "reassembly charges per source", sizeof *ep->rsrc, ep->max_sessions, rs);
	i = row(rows, max, i, "reassembly charge buckets", sizeof *ep->rsrc_buckets, (size_t)ep->rsrc_mask + 1, rs);
	i = row(rows, max, i, "path MTU searches (channels)", sizeof(konce_pmtud), pm, pm);
	i = row(rows, max, i, "channels (konce_conn, without rings)", sizeof(konce_conn), rel, rel);
	/* fixed sizes, whatever the number of sessions: each slot is resident once the ring has
	 * cycled through it (a handshake or a keepalive per datagram, an event per session) */
	/* the out ring's reserve for control datagrams (ep_internal.h invariant 6) is allocated and
	 * resident only once a control datagram found the rest full */
	i = row(rows, max, i, "out ring slots (fixed, out_ring + reserve)", ep->max_datagram + sizeof *ep->out, ep->out_slots, ep->out_cap);
	i = row(rows, max, i, "event ring slots (fixed, event_ring)", sizeof *ep->ev, ep->ev_cap, ep->ev_cap);
	i = row(rows, max, i, "timer batch entries (fixed, out_ring)", sizeof *ep->batch + sizeof *ep->batch_due,
		ep->out_cap, ep->batch_n);
	return i;
}

void konce_ep_mem_shrunk(konce_ep *ep)
{
	if (++ep->untrimmed < KONCE_EP_TRIM_SHRINKS)
		return;
	ep->untrimmed = 0;
	konce_env_trim(ep->env);
}
