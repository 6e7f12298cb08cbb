/* fuzz_pmresult.c - the lease text an IGD reports (nat/pmresult.h konce_pmres_upnp_lease), and the
 * worker's result line around an arbitrary detail text.
 *
 * Input: 4 bytes of requested lease (seconds, little-endian), then the IGD's text, given as
 * miniupnpc delivers it: NUL-terminated in a 16-byte buffer.
 * Invariants (abort on violation):
 *   - a timed request (requested > 0) keeps its lease or gets a shorter, non-zero one;
 *   - a permanent request (0) stays permanent or gets the lease the text spells in decimal;
 *   - a failed query (NULL) keeps the request's lease;
 *   - the result line is terminated within its buffer whatever the detail text;
 *   - the same text read as GetExternalIPAddress's answer is an IPv4 address with port 0 that
 *     prints back as the text, or refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/pmresult.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n < 4)
		return 0;
	uint32_t req = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
	char lease[16];
	size_t l = n - 4 < sizeof lease - 1 ? n - 4 : sizeof lease - 1;
	memcpy(lease, d + 4, l);
	lease[l] = 0;

	uint32_t got = konce_pmres_upnp_lease(req, lease);
	if (req && (got == 0 || got > req))
		abort();
	if (!req && got) {
		char spelled[16];
		snprintf(spelled, sizeof spelled, "%u", got);
		if (!strstr(lease, spelled))
			abort();
	}
	if (konce_pmres_upnp_lease(req, NULL) != req)
		abort();

	konce_addr ext;
	if (konce_pmres_upnp_extip(lease, &ext) == 0) {
		char s[KONCE_ADDR_STRLEN], want[sizeof lease + 2];
		snprintf(want, sizeof want, "%s:0", lease);
		if (!konce_addr_is_v4(&ext) || ext.port || strcmp(konce_addr_str(&ext, s), want))
			abort();
	}

	konce_portmap_policy_result res = {.id = req, .err = (enum konce_portmap_policy_err)(d[0] % 8),
					   .lifetime_s = got};
	char line[64];
	memset(line, 'x', sizeof line);
	konce_pmres_result_line(&res, lease, line, sizeof line);
	if (!memchr(line, 0, sizeof line))
		abort();
	return 0;
}
