/* simmap.c - a small chained hash map for the simulator's tables (addresses, links, NAT
 * mappings).  The hash is fixed (FNV-1a plus a final mix): the simulator has no adversary, and a
 * fixed hash keeps behaviour identical from run to run.  Nothing depends on iteration order
 * except simmap_sweep, which only deletes. */
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_int.h"

static uint64_t hash_key(const void *key, size_t n)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 33);
}

simmap_node *simmap_get(const simmap *m, const void *key, size_t klen)
{
	if (!m->nb)
		return NULL;
	uint64_t h = hash_key(key, klen);
	for (simmap_node *x = m->b[h & (m->nb - 1)]; x; x = x->next)
		if (x->hash == h && x->klen == klen && memcmp(x->key, key, klen) == 0)
			return x;
	return NULL;
}

static int grow(simmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	simmap_node **b = calloc(nb, sizeof(*b));
	if (!b)
		return -1;
	for (size_t i = 0; i < m->nb; i++) {
		simmap_node *x = m->b[i], *next;
		for (; x; x = next) {
			next = x->next;
			x->next = b[x->hash & (nb - 1)];
			b[x->hash & (nb - 1)] = x;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

simmap_node *simmap_put(simmap *m, const void *key, size_t klen, bool *created)
{
	simmap_node *x = simmap_get(m, key, klen);
	if (created)
		*created = false;
	if (x)
		return x;
	if (klen > SIMMAP_KEY_MAX)
		abort();
	if (m->n >= m->nb && grow(m))
		return NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->hash = hash_key(key, klen);
	x->klen = (uint8_t)klen;
	memcpy(x->key, key, klen);
	x->next = m->b[x->hash & (m->nb - 1)];
	m->b[x->hash & (m->nb - 1)] = x;
	m->n++;
	if (created)
		*created = true;
	return x;
}

void simmap_del(simmap *m, simmap_node *node)
{
	simmap_node **pp = &m->b[node->hash & (m->nb - 1)];
	while (*pp && *pp != node)
		pp = &(*pp)->next;
	if (!*pp)
		abort(); /* not in this map: a simulator bug */
	*pp = node->next;
	m->n--;
	free(node);
}

void simmap_sweep(simmap *m, bool (*fn)(void *ctx, simmap_node *node), void *ctx)
{
	for (size_t i = 0; i < m->nb; i++) {
		simmap_node **pp = &m->b[i];
		while (*pp) {
			simmap_node *x = *pp;
			if (fn(ctx, x)) {
				*pp = x->next;
				m->n--;
				free(x);
			} else {
				pp = &x->next;
			}
		}
	}
}

void simmap_free(simmap *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		simmap_node *x = m->b[i], *next;
		for (; x; x = next) {
			next = x->next;
			free(x);
		}
	}
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}
