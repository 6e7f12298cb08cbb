/* candidates.c - candidate gathering, mapping classification, prediction and ordering. */
#include "nat/candidates.h"

#include <string.h>

konce_natinfo konce_candidates_classify(const konce_addr *refl, unsigned n)
{
	konce_natinfo ni = {KONCE_NATMAP_UNKNOWN, 0, 0};
	if (n == 0)
		return ni;
	uint16_t lo = refl[0].port;
	uint16_t hi = lo;
	bool same = true;
	for (unsigned i = 1; i < n; i++) {
		same &= konce_addr_eq(&refl[i], &refl[0]);
		lo = refl[i].port < lo ? refl[i].port : lo;
		hi = refl[i].port > hi ? refl[i].port : hi;
	}
	ni.last_port = hi;
	if (n < 2)
		return ni;
	if (same) {
		ni.mapping = KONCE_NATMAP_EIM;
		return ni;
	}
	/* n mappings made one after the other by a sequential allocator span (n - 1) x step */
	unsigned span = (unsigned)(hi - lo), step = span / (n - 1);
	if (step >= 1 && step <= KONCE_RDV_SEQ_MAX_STEP && step * (n - 1) == span) {
		ni.mapping = KONCE_NATMAP_EDM_SEQ;
		ni.step = (uint8_t)step;
	} else {
		ni.mapping = KONCE_NATMAP_EDM_RANDOM;
	}
	return ni;
}

static bool have_addr(const konce_cand *c, unsigned n, const konce_addr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (konce_addr_eq(&c[i].addr, a))
			return true;
	return false;
}

unsigned konce_candidates_gather(konce_cand *out, unsigned cap, const konce_addr *host, unsigned n_host,
				 const konce_addr *refl, unsigned n_refl, const konce_addr *mapped, unsigned n_mapped)
{
	unsigned n = 0;
	struct {
		const konce_addr *a;
		unsigned n;
		uint8_t type;
	} src[3] = {{host, n_host, KONCE_CAND_HOST}, {mapped, n_mapped, KONCE_CAND_MAPPED},
		    {refl, n_refl, KONCE_CAND_REFLEXIVE}};
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < src[s].n && n < cap; i++) {
			if (have_addr(out, n, &src[s].a[i]))
				continue;
			out[n].type = src[s].type;
			out[n++].addr = src[s].a[i];
		}
	return n;
}

konce_natinfo konce_candidates_refine(konce_natinfo ni, const konce_addr *ip, const konce_addr *x)
{
	if (ni.mapping != KONCE_NATMAP_EDM_SEQ || !ni.step || memcmp(ip->ip, x->ip, sizeof(x->ip)) ||
	    x->port <= ni.last_port || x->port - ni.last_port > KONCE_PREDICT_WINDOW * KONCE_RDV_SEQ_MAX_STEP)
		return ni;
	unsigned a = ni.step, b = (unsigned)(x->port - ni.last_port);
	while (b) {
		unsigned r = a % b;
		a = b;
		b = r;
	}
	ni.step = (uint8_t)a;
	return ni;
}

konce_natinfo konce_candidates_refine_all(konce_natinfo ni, const konce_addr *ip, const konce_addr *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		ni = konce_candidates_refine(ni, ip, &x[i]);
	return ni;
}

unsigned konce_candidates_predict(konce_addr *out, unsigned n, const konce_natinfo *nat, const konce_addr *ip)
{
	if (nat->mapping != KONCE_NATMAP_EDM_SEQ || nat->step == 0)
		return 0;
	unsigned k = 0;
	for (unsigned i = 1; i <= n; i++) {
		uint32_t port = (uint32_t)nat->last_port + (uint32_t)nat->step * i;
		if (port > 65535)
			break; /* allocators wrap to the bottom of their range, which is unknown here */
		out[k] = *ip;
		out[k++].port = (uint16_t)port;
	}
	return k;
}

bool konce_candidates_add_target(konce_target *list, unsigned *n, unsigned cap, const konce_target *t)
{
	for (unsigned i = 0; i < *n; i++)
		if (list[i].sock == t->sock && konce_addr_eq(&list[i].addr, &t->addr))
			return false;
	if (*n >= cap)
		return false;
	list[(*n)++] = *t;
	return true;
}

static bool edm(const konce_natinfo *n)
{
	return n->mapping == KONCE_NATMAP_EDM_SEQ || n->mapping == KONCE_NATMAP_EDM_RANDOM;
}

unsigned konce_candidates_targets(konce_target *out, unsigned cap, const konce_cand *c, unsigned n,
				  const konce_natinfo *nat, const konce_natinfo *self, unsigned self_spent)
{
	static const uint8_t usual[] = {KONCE_CAND_HOST, KONCE_CAND_MAPPED, KONCE_CAND_PREDICTED,
					KONCE_CAND_REFLEXIVE};
	/* Both sides EDM, the peer sequential: each new destination costs us a port, so the predicted
	 * window goes first and the k-th new mappings of both NATs are made for each other (the
	 * peer applies the same rule).  A host or mapped target first would shift our ports by one
	 * and the peer's window would miss them (the sequential pair on netsim). */
	static const uint8_t seq_first[] = {KONCE_CAND_PREDICTED, KONCE_CAND_HOST, KONCE_CAND_MAPPED,
					    KONCE_CAND_REFLEXIVE};
	const uint8_t *order = self && edm(self) && nat->mapping == KONCE_NATMAP_EDM_SEQ ? seq_first : usual;
	/* our own sequential NAT moved on since its registration: skip as many of the peer's ports */
	unsigned skip = self && self->mapping == KONCE_NATMAP_EDM_SEQ ? self_spent : 0;
	skip = skip < KONCE_PREDICT_WINDOW ? skip : KONCE_PREDICT_WINDOW;
	unsigned k = 0;
	for (unsigned o = 0; o < sizeof(usual); o++) {
		if (order[o] == KONCE_CAND_PREDICTED) {
			/* predict on the IP of the first reflexive candidate */
			for (unsigned i = 0; i < n; i++) {
				if (c[i].type != KONCE_CAND_REFLEXIVE)
					continue;
				konce_addr pred[2 * KONCE_PREDICT_WINDOW];
				unsigned np = konce_candidates_predict(pred, KONCE_PREDICT_WINDOW + skip, nat, &c[i].addr);
				for (unsigned j = skip; j < np; j++) {
					konce_target t = {0, pred[j], KONCE_CAND_PREDICTED};
					konce_candidates_add_target(out, &k, cap, &t);
				}
				break;
			}
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			if (c[i].type != order[o])
				continue;
			konce_target t = {0, c[i].addr, c[i].type};
			konce_candidates_add_target(out, &k, cap, &t);
		}
	}
	return k;
}

static bool has_mapped(const konce_cand *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (c[i].type == KONCE_CAND_MAPPED)
			return true;
	return false;
}

static bool has_type(const konce_cand *c, unsigned n, uint8_t type)
{
	for (unsigned i = 0; i < n; i++)
		if (c[i].type == type)
			return true;
	return false;
}

bool konce_candidates_shared_public(const konce_cand *a, unsigned na, const konce_cand *b, unsigned nb)
{
	if (has_type(a, na, KONCE_CAND_HOST) || has_type(b, nb, KONCE_CAND_HOST))
		return false;
	for (unsigned i = 0; i < na; i++)
		for (unsigned k = 0; k < nb; k++)
			if (a[i].type == KONCE_CAND_REFLEXIVE && b[k].type == KONCE_CAND_REFLEXIVE &&
			    !memcmp(a[i].addr.ip, b[k].addr.ip, sizeof(a[i].addr.ip)))
				return true;
	return false;
}

enum konce_candidates_expect konce_candidates_direct_expectation(const konce_natinfo *self, const konce_cand *self_c,
								 unsigned nself, const konce_natinfo *peer,
								 const konce_cand *peer_c, unsigned npeer)
{
	uint8_t a = self->mapping, b = peer->mapping;
	if (has_mapped(self_c, nself) || has_mapped(peer_c, npeer))
		return KONCE_CAND_DIRECT_EXPECTED;
	if (a == KONCE_NATMAP_UNKNOWN || b == KONCE_NATMAP_UNKNOWN)
		return KONCE_CAND_DIRECT_UNKNOWN;
	if (konce_candidates_shared_public(self_c, nself, peer_c, npeer))
		return KONCE_CAND_DIRECT_UNKNOWN;
	if (a != KONCE_NATMAP_EDM_RANDOM && b != KONCE_NATMAP_EDM_RANDOM)
		return KONCE_CAND_DIRECT_EXPECTED;
	if (a == KONCE_NATMAP_EIM || b == KONCE_NATMAP_EIM)
		return KONCE_CAND_DIRECT_BIRTHDAY;
	return KONCE_CAND_DIRECT_IMPOSSIBLE;
}
