/* pmresult.h - what the port-mapping protocols' answers mean for the policy (nat/portmap_policy.h):
 * pure functions that the port-mapping worker (node/io/portmap_io.c) calls after each libnatpmp or
 * miniupnpc call, so that the worker only makes the calls.
 *
 * The library codes are numbers here (libnatpmp's NATPMP_ERR_*, miniupnpc's UPNPCOMMAND_* and
 * UPNP_GetValidIGD() results, UPnP-gw-WANIPConnection-v2 2.4.16 error codes): nat/ may not include
 * the libraries' headers.  tests/unit/test_pmresult.c checks them against the headers.
 */
#ifndef KONCE_NAT_PMRESULT_H
#define KONCE_NAT_PMRESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/portmap_policy.h"

enum {
	KONCE_PMRES_NATPMP_TRYAGAIN = -100, /* NATPMP_TRYAGAIN: no answer (yet) */
	KONCE_PMRES_NATPMP_LIFETIME = 7200, /* what a NAT-PMP lease asks for when the policy says permanent */
	KONCE_PMRES_UPNP_INVALID_RESPONSE = -4, /* UPNPCOMMAND_INVALID_RESPONSE */
	KONCE_PMRES_UPNP_NO_SUCH_ENTRY = 714,
	KONCE_PMRES_UPNP_CONFLICT = 718,
	KONCE_PMRES_UPNP_PERMANENT_ONLY = 725,
};

/* A libnatpmp return code (negative) as the policy's reason. */
enum konce_portmap_policy_err konce_pmres_natpmp_err(int r);
/* Why the public-address request of a NAT-PMP discovery failed, for the log. */
const char *konce_pmres_natpmp_why(int r);
/* The NAT-PMP mapping request for req: the external port asked for and the lifetime (a delete asks
 * for port 0 with lifetime 0, RFC 6886 3.4; NAT-PMP has no permanent lease, so 0 asks for
 * KONCE_PMRES_NATPMP_LIFETIME). */
void konce_pmres_natpmp_lease(const konce_portmap_policy_req *req, uint16_t *external_port, uint32_t *lifetime_s);
/* How long the worker waits for a NAT-PMP answer now (ms): libnatpmp's time to its next
 * retransmission (lib_ms; negative: due already, 0), but never past the request's deadline
 * (now_ms < deadline_ms). */
uint64_t konce_pmres_natpmp_wait_ms(int64_t lib_ms, uint64_t now_ms, uint64_t deadline_ms);
/* Whether a NAT-PMP answer (its type and private port) answers req's UDP mapping request. */
bool konce_pmres_natpmp_answers(const konce_portmap_policy_req *req, unsigned resp_type, uint16_t private_port);

/* A miniupnpc command's result (UPNPCOMMAND_* or a UPnP error code) as the policy's reason. */
enum konce_portmap_policy_err konce_pmres_upnp_err(int r);
/* UPNP_GetValidIGD()'s result r: true when a connected IGD was found; otherwise *err and *why say
 * what failed. */
bool konce_pmres_upnp_igd(int r, enum konce_portmap_policy_err *err, const char **why);
/* A DeletePortMapping result r: the reason it failed, or KONCE_PM_OK (the entry is gone,
 * also when it was gone before). */
enum konce_portmap_policy_err konce_pmres_upnp_delete(int r);
/* The lease granted for a request of requested_s (0: permanent), given the IGD's reported lease
 * text (NULL when GetSpecificPortMappingEntry failed): an IGD may shorten the lease, so a shorter
 * one is believed and a longer one or an unreadable one is not. */
uint32_t konce_pmres_upnp_lease(uint32_t requested_s, const char *reported);

/* The external address text of GetExternalIPAddress (an IGD's answer; miniupnpc hands it
 * NUL-terminated): 0 and *out (a dotted IPv4 address, port 0), or KONCE_PMRES_UPNP_INVALID_RESPONSE
 * for anything else (empty, IPv6, garbage). */
int konce_pmres_upnp_extip(const char *text, konce_addr *out);
/* What an AddPortMapping that succeeded yields, in res: the external address the IGD reports now
 * (queried; NULL when that query failed, and then discovered, the one from discovery, stands:
 * the mapping exists, so the request must not fail, or the policy would never delete it), req's
 * external port, and the lease (konce_pmres_upnp_lease() of the reported text, NULL: unknown). */
void konce_pmres_upnp_mapped(const konce_portmap_policy_req *req, const konce_addr *queried,
			     const konce_addr *discovered, const char *lease, konce_portmap_policy_result *res);

/* The worker's trace lines (node/io/portmap.c; `konce portmap -v`): a request as it is sent, and a
 * result as it comes back with the worker's detail text. */
void konce_pmres_req_line(const konce_portmap_policy_req *req, char *buf, size_t len);
void konce_pmres_result_line(const konce_portmap_policy_result *res, const char *detail, char *buf, size_t len);

#endif
