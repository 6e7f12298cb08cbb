/* fuzz_travconf.c - the traversal configuration reader (node/core/trav_conf.c) on hostile text.
 * The input is split at its first two NUL bytes into rendezvous_peers, lifetime and four bytes of
 * rendezvous_capacity.  Aborts when a refusal leaves no reason, or an accepted configuration breaks
 * trav_conf.h: more rendezvous than KONCE_RDVCLIENT_MAX_RDV, a capacity above the maximum, lifetime
 * bounds out of order. */
#include <stdlib.h>
#include <string.h>

#include "node/core/trav_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *buf = malloc(n + 3);
	if (!buf)
		return 0;
	memcpy(buf, d, n);
	buf[n] = buf[n + 1] = buf[n + 2] = '\0';
	const char *peers = buf, *life = buf + strlen(buf) + 1;
	const char *rest = life + strlen(life) + 1;
	unsigned cap = 0;
	if (rest < buf + n)
		for (size_t i = 0; i < 4 && rest + i < buf + n; i++)
			cap = cap << 8 | (uint8_t)rest[i];
	konce_traversal_config cfg = {.rendezvous_peers = peers, .lifetime = life < buf + n ? life : NULL,
				      .rendezvous_capacity = cap, .host_candidates = 1, .introductions_known = 1};
	konce_travconf c;
	char err[256];
	err[0] = '\0';
	int e = konce_travconf_parse(&c, &cfg, err, sizeof(err));
	if (e && (!err[0] || strnlen(err, sizeof(err)) == sizeof(err)))
		abort();
	if (!e) {
		if (c.nrdv > KONCE_RDVCLIENT_MAX_RDV || c.rendezvous_capacity > KONCE_TRAVCONF_CAPACITY_MAX ||
		    c.known_only != (c.nrdv > 0))
			abort();
		if (!c.life_off && c.life.max_us && c.life.min_us >= c.life.max_us)
			abort();
		konce_addr any = {{0}, 7000, 0};
		konce_travconf_hosts(&c, &any, NULL, 0);
		if (c.nhost)
			abort();
	}
	free(buf);
	return 0;
}
