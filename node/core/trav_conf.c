/* trav_conf.c - the traversal configuration, read and checked (trav_conf.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "konce/konce.h"
#include "node/core/trav_conf.h"
#include "node/core/trav_life.h"

/* rendezvous_peers: "KEY@IP:PORT", separated by commas or spaces. */
static int parse_peers(konce_travconf *t, const char *list, char *err, size_t errlen)
{
	const char *p = list;
	while (*p) {
		size_t skip = strspn(p, ", "), len;
		p += skip;
		if (!*p)
			break;
		len = strcspn(p, ", ");
		char tok[160];
		if (t->nrdv == KONCE_RDVCLIENT_MAX_RDV) {
			snprintf(err, errlen, "rendezvous_peers: at most %d", KONCE_RDVCLIENT_MAX_RDV);
			return -EINVAL;
		}
		const char *at = memchr(p, '@', len);
		size_t shown = len; /* what the error names: the key alone when it is the bad part */
		bool ok = len < sizeof(tok) && at;
		if (ok) {
			memcpy(tok, p, len);
			tok[len] = '\0';
			tok[at - p] = '\0';
			if (konce_key_from_text(t->rdv_pk[t->nrdv], tok)) {
				shown = (size_t)(at - p);
				ok = false;
			} else
				ok = konce_addr_parse(&t->rdv_addr[t->nrdv], tok + (at - p) + 1) >= 0;
		}
		if (!ok) {
			snprintf(err, errlen, "rendezvous_peers: '%.*s' is not KEY@IP:PORT", shown > 120 ? 120 : (int)shown,
				 p);
			return -EINVAL;
		}
		t->nrdv++;
		p += len;
	}
	return 0;
}

int konce_travconf_parse(konce_travconf *out, const konce_traversal_config *cfg, char *err, size_t errlen)
{
	int e;
	memset(out, 0, sizeof(*out));
	if (cfg->rendezvous_peers && (e = parse_peers(out, cfg->rendezvous_peers, err, errlen)))
		return e;
	if ((e = konce_travlife_parse(cfg->lifetime, &out->life_off, &out->life, err, errlen)))
		return e;
	if (cfg->rendezvous_capacity > KONCE_TRAVCONF_CAPACITY_MAX) {
		snprintf(err, errlen, "rendezvous_capacity: %u is more than %u", cfg->rendezvous_capacity,
			 (unsigned)KONCE_TRAVCONF_CAPACITY_MAX);
		return -EINVAL;
	}
	out->rendezvous = cfg->rendezvous != 0;
	out->rendezvous_capacity = cfg->rendezvous_capacity;
	out->portmap = cfg->portmap != 0;
	out->host_candidates = cfg->host_candidates != 0;
	out->known_only = out->nrdv && cfg->introductions_known;
	return 0;
}

static bool wildcard(const konce_addr *a)
{
	static const uint8_t zero[16] = {0}, v4any[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
	return !memcmp(a->ip, zero, 16) || !memcmp(a->ip, v4any, 16);
}

bool konce_travconf_wants_ifaces(const konce_travconf *c, const konce_addr *bound)
{
	return c->nrdv && c->host_candidates && bound && wildcard(bound);
}

void konce_travconf_hosts(konce_travconf *c, const konce_addr *bound, const konce_travconf_iface *ifs, size_t nifs)
{
	c->nhost = 0;
	if (!c->nrdv || !c->host_candidates || !bound)
		return;
	if (!wildcard(bound)) {
		c->host[c->nhost++] = *bound;
		return;
	}
	for (size_t i = 0; i < nifs && c->nhost < KONCE_RDVCLIENT_MAX_HOST; i++) {
		if (!ifs[i].up || ifs[i].loopback || !konce_addr_is_v4(&ifs[i].addr))
			continue;
		c->host[c->nhost] = ifs[i].addr;
		c->host[c->nhost++].port = bound->port;
	}
}

void konce_travconf_trav_cfg(const konce_travconf *c, konce_trav_cfg *out)
{
	out->rdv_pk = (const uint8_t(*)[KONCE_WIRE_KEY])c->rdv_pk;
	out->rdv_addr = c->rdv_addr;
	out->nrdv = c->nrdv;
	out->host = c->host;
	out->nhost = c->nhost;
	out->host_candidates = c->host_candidates;
	out->known_only = c->known_only;
	out->rendezvous = c->rendezvous;
	out->rendezvous_capacity = c->rendezvous_capacity;
}
