/* pmresult.c - the port-mapping protocols' answers as the policy's outcomes (pmresult.h). */
#include "nat/pmresult.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

/* libnatpmp's codes (natpmp.h) */
enum {
	NATPMP_CANNOTGETGATEWAY = -3,
	NATPMP_NOGATEWAYSUPPORT = -7, /* ICMP port unreachable from the gateway */
	NATPMP_UNSUPPORTEDVERSION = -14,
	NATPMP_UNSUPPORTEDOPCODE = -15,
	NATPMP_NOTAUTHORIZED = -51,
	NATPMP_NETWORKFAILURE = -52,
	NATPMP_OUTOFRESOURCES = -53,
	NATPMP_RESPTYPE_UDP = 1,
};

/* UPNP_GetValidIGD()'s results (miniupnpc.h) */
enum { IGD_NONE = 0, IGD_CONNECTED = 1, IGD_NOT_CONNECTED = 2 };

enum konce_portmap_policy_err konce_pmres_natpmp_err(int r)
{
	switch (r) {
	case NATPMP_CANNOTGETGATEWAY:
	case NATPMP_NOGATEWAYSUPPORT:
	case KONCE_PMRES_NATPMP_TRYAGAIN: return KONCE_PM_ERR_NO_GATEWAY;
	case NATPMP_NOTAUTHORIZED:
	case NATPMP_NETWORKFAILURE:
	case NATPMP_OUTOFRESOURCES:
	case NATPMP_UNSUPPORTEDVERSION:
	case NATPMP_UNSUPPORTEDOPCODE: return KONCE_PM_ERR_REFUSED;
	default: return KONCE_PM_ERR_IO;
	}
}

const char *konce_pmres_natpmp_why(int r)
{
	return r == KONCE_PMRES_NATPMP_TRYAGAIN ? "no answer" : "public address request failed";
}

void konce_pmres_natpmp_lease(const konce_portmap_policy_req *req, uint16_t *external_port, uint32_t *lifetime_s)
{
	bool del = req->op == KONCE_PM_OP_DELETE;
	*external_port = del ? 0 : req->external_port;
	*lifetime_s = del ? 0 : req->lifetime_s ? req->lifetime_s : KONCE_PMRES_NATPMP_LIFETIME;
}

uint64_t konce_pmres_natpmp_wait_ms(int64_t lib_ms, uint64_t now_ms, uint64_t deadline_ms)
{
	uint64_t left = deadline_ms > now_ms ? deadline_ms - now_ms : 0;
	return lib_ms < 0 ? 0 : (uint64_t)lib_ms < left ? (uint64_t)lib_ms : left;
}

bool konce_pmres_natpmp_answers(const konce_portmap_policy_req *req, unsigned resp_type, uint16_t private_port)
{
	return resp_type == NATPMP_RESPTYPE_UDP && private_port == req->internal_port;
}

enum konce_portmap_policy_err konce_pmres_upnp_err(int r)
{
	if (r == 0)
		return KONCE_PM_OK;
	if (r == KONCE_PMRES_UPNP_CONFLICT)
		return KONCE_PM_ERR_CONFLICT;
	if (r == KONCE_PMRES_UPNP_PERMANENT_ONLY)
		return KONCE_PM_ERR_PERMANENT_ONLY;
	if (r >= 400) /* any other UPnP error code: the IGD answered and said no */
		return KONCE_PM_ERR_REFUSED;
	return KONCE_PM_ERR_IO; /* miniupnpc's own (negative) codes: HTTP, parse, memory */
}

bool konce_pmres_upnp_igd(int r, enum konce_portmap_policy_err *err, const char **why)
{
	if (r == IGD_CONNECTED)
		return true;
	*err = r == IGD_NONE ? KONCE_PM_ERR_NO_GATEWAY : KONCE_PM_ERR_REFUSED;
	*why = r == IGD_NOT_CONNECTED ? "the IGD reports it is not connected"
	       : r != IGD_NONE	      ? "a UPnP device answered, but it is not an IGD"
				      : "no IGD found";
	return false;
}

enum konce_portmap_policy_err konce_pmres_upnp_delete(int r)
{
	return r == KONCE_PMRES_UPNP_NO_SUCH_ENTRY ? KONCE_PM_OK : konce_pmres_upnp_err(r);
}

uint32_t konce_pmres_upnp_lease(uint32_t requested_s, const char *reported)
{
	char *end;
	if (!reported)
		return requested_s;
	unsigned long granted = strtoul(reported, &end, 10);
	if (end != reported && granted && granted <= UINT32_MAX && (!requested_s || granted < requested_s))
		return (uint32_t)granted;
	return requested_s;
}

int konce_pmres_upnp_extip(const char *text, konce_addr *out)
{
	uint8_t v4[4];
	if (!text || inet_pton(AF_INET, text, v4) != 1)
		return KONCE_PMRES_UPNP_INVALID_RESPONSE;
	konce_addr_from_v4(out, v4, 0);
	return 0;
}

void konce_pmres_upnp_mapped(const konce_portmap_policy_req *req, const konce_addr *queried,
			     const konce_addr *discovered, const char *lease, konce_portmap_policy_result *res)
{
	res->err = KONCE_PM_OK;
	res->external = queried ? *queried : *discovered;
	res->external.port = req->external_port;
	res->lifetime_s = konce_pmres_upnp_lease(req->lifetime_s, lease);
}

void konce_pmres_req_line(const konce_portmap_policy_req *req, char *buf, size_t len)
{
	snprintf(buf, len, "request %u: %s %s internal %u external %u lifetime %u s", req->id,
		 konce_portmap_policy_op_name(req->op), konce_portmap_policy_proto_name(req->proto), req->internal_port,
		 req->external_port, req->lifetime_s);
}

void konce_pmres_result_line(const konce_portmap_policy_result *res, const char *detail, char *buf, size_t len)
{
	char a[KONCE_ADDR_STRLEN];
	snprintf(buf, len, "result %u: %s, external %s lifetime %u s (%s)", res->id,
		 konce_portmap_policy_err_name(res->err), konce_addr_str(&res->external, a), res->lifetime_s, detail);
}
