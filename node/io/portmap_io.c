/* portmap_io.c - NAT-PMP (libnatpmp) and UPnP-IGD (miniupnpc) requests, each with a bounded wait.
 *
 * NAT-PMP: initnatpmp() finds the default gateway and connects a UDP socket to it; the request is
 * retransmitted by readnatpmpresponseorretry() on libnatpmp's schedule (250 ms, doubling), but we
 * give up at natpmp_timeout_ms instead of libnatpmp's ~2 minutes.  Renewal is the same request for
 * the port already granted; deletion is a request with lifetime 0 (RFC 6886 section 3.4).
 *
 * UPnP-IGD: upnpDiscover() waits upnp_discover_ms for SSDP answers, UPNP_GetValidIGD() picks a
 * connected IGD and tells us our LAN address as the IGD sees it (the internal client of the
 * mapping).  The granted lease is read back with GetSpecificPortMappingEntry, since AddPortMapping
 * does not return it and IGDs may shorten it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <natpmp.h>

#include "nat/pmresult.h"
#include "node/io/evclock.h"
#include "node/io/portmap_io.h"

struct konce_pmio {
	unsigned natpmp_ms, discover_ms;
	natpmp_t natpmp;
	bool natpmp_open;
	struct in_addr natpmp_ext;
	struct UPNPUrls urls;
	struct IGDdatas data;
	bool upnp_ok;
	konce_addr upnp_ext; /* from discovery: the fallback if a later query fails */
	char lanaddr[64];
};

konce_pmio *konce_pmio_new(unsigned natpmp_timeout_ms, unsigned upnp_discover_ms)
{
	konce_pmio *io = calloc(1, sizeof(*io));
	if (!io)
		return NULL;
	io->natpmp_ms = natpmp_timeout_ms ? natpmp_timeout_ms : 2000;
	io->discover_ms = upnp_discover_ms ? upnp_discover_ms : 2000;
	return io;
}

static void upnp_forget(konce_pmio *io)
{
	if (io->upnp_ok)
		FreeUPNPUrls(&io->urls);
	io->upnp_ok = false;
}

static void natpmp_forget(konce_pmio *io)
{
	if (io->natpmp_open)
		closenatpmp(&io->natpmp);
	io->natpmp_open = false;
}

void konce_pmio_free(konce_pmio *io)
{
	if (!io)
		return;
	upnp_forget(io);
	natpmp_forget(io);
	free(io);
}

static const char *gw_str(const konce_pmio *io, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a;
	a.s_addr = io->natpmp.gateway;
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN) ? buf : "?";
}

/* Waits for the answer to the request just sent, retransmitting, until natpmp_ms.  0 or NATPMP_*. */
static int natpmp_wait(konce_pmio *io, natpmpresp_t *resp)
{
	uint64_t deadline = node_now_us() / 1000 + io->natpmp_ms;
	for (;;) {
		int r = readnatpmpresponseorretry(&io->natpmp, resp);
		if (r != NATPMP_TRYAGAIN)
			return r;
		uint64_t now = node_now_us() / 1000;
		if (now >= deadline)
			return NATPMP_TRYAGAIN;
		struct timeval tv;
		if (getnatpmprequesttimeout(&io->natpmp, &tv) < 0)
			return NATPMP_ERR_GETTIMEOFDAYERR;
		uint64_t wait = konce_pmres_natpmp_wait_ms((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, now, deadline);
		tv.tv_sec = (time_t)(wait / 1000);
		tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
		fd_set fds;
		FD_ZERO(&fds);
		FD_SET(io->natpmp.s, &fds);
		if (select(io->natpmp.s + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return NATPMP_ERR_RECVFROM;
	}
}

static void natpmp_do(konce_pmio *io, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, char *detail, size_t dlen)
{
	natpmpresp_t resp;
	char gw[INET_ADDRSTRLEN];
	int r;
	if (req->op == KONCE_PM_OP_DISCOVER || !io->natpmp_open) {
		natpmp_forget(io);
		if ((r = initnatpmp(&io->natpmp, 0, 0)) < 0) {
			res->err = konce_pmres_natpmp_err(r), res->code = r;
			snprintf(detail, dlen, "no default gateway (libnatpmp %d)", r);
			return;
		}
		io->natpmp_open = true;
		if ((r = sendpublicaddressrequest(&io->natpmp)) < 0 || (r = natpmp_wait(io, &resp)) < 0) {
			res->err = konce_pmres_natpmp_err(r), res->code = r;
			snprintf(detail, dlen, "gateway %s: %s (libnatpmp %d)",
				 gw_str(io, gw), konce_pmres_natpmp_why(r), r);
			natpmp_forget(io);
			return;
		}
		io->natpmp_ext = resp.pnu.publicaddress.addr;
	}
	if (req->op == KONCE_PM_OP_DISCOVER) {
		konce_addr_from_v4(&res->external, (const uint8_t *)&io->natpmp_ext, 0);
		snprintf(detail, dlen, "gateway %s", gw_str(io, gw));
		return;
	}
	uint32_t life;
	uint16_t pub;
	konce_pmres_natpmp_lease(req, &pub, &life);
	r = sendnewportmappingrequest(&io->natpmp, NATPMP_PROTOCOL_UDP, req->internal_port, pub, life);
	if (r >= 0)
		r = natpmp_wait(io, &resp);
	if (r < 0) {
		res->err = konce_pmres_natpmp_err(r), res->code = r;
		snprintf(detail, dlen, "libnatpmp %d", r);
		return;
	}
	if (!konce_pmres_natpmp_answers(req, resp.type, resp.pnu.newportmapping.privateport)) {
		res->err = KONCE_PM_ERR_IO;
		snprintf(detail, dlen, "answer for another mapping");
		return;
	}
	konce_addr_from_v4(&res->external, (const uint8_t *)&io->natpmp_ext, resp.pnu.newportmapping.mappedpublicport);
	res->lifetime_s = resp.pnu.newportmapping.lifetime;
	snprintf(detail, dlen, "epoch %u", (unsigned)resp.epoch);
}

static int upnp_extip(konce_pmio *io, konce_addr *out)
{
	char ip[40] = "";
	int r = UPNP_GetExternalIPAddress(io->urls.controlURL, io->data.first.servicetype, ip);
	return r ? r : konce_pmres_upnp_extip(ip, out);
}

static void upnp_do(konce_pmio *io, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, char *detail, size_t dlen)
{
	char ext[8], in[8], life[16];
	int r;
	if (req->op == KONCE_PM_OP_DISCOVER || !io->upnp_ok) {
		upnp_forget(io);
		/* One search target: upnpDiscover() would wait the full delay for each of four, and IGDv2
		 * devices answer the IGD:1 target too (UPnP devices answer earlier versions). */
		static const char *const types[] = {"urn:schemas-upnp-org:device:InternetGatewayDevice:1", NULL};
		int err = 0;
		struct UPNPDev *devs = upnpDiscoverDevices(types, (int)io->discover_ms, NULL, NULL, UPNP_LOCAL_PORT_ANY,
							   0, 2, &err, 0);
		if (!devs) {
			res->err = KONCE_PM_ERR_NO_GATEWAY, res->code = err;
			snprintf(detail, dlen, "no UPnP device answered SSDP within %u ms", io->discover_ms);
			return;
		}
		memset(&io->urls, 0, sizeof(io->urls));
		r = UPNP_GetValidIGD(devs, &io->urls, &io->data, io->lanaddr, sizeof(io->lanaddr));
		freeUPNPDevlist(devs);
		const char *why;
		if (!konce_pmres_upnp_igd(r, &res->err, &why)) {
			if (r)
				FreeUPNPUrls(&io->urls);
			res->code = r;
			snprintf(detail, dlen, "%s", why);
			return;
		}
		io->upnp_ok = true;
	}
	if (req->op == KONCE_PM_OP_DISCOVER) {
		if ((r = upnp_extip(io, &res->external))) {
			res->err = konce_pmres_upnp_err(r), res->code = r;
			snprintf(detail, dlen, "GetExternalIPAddress: %d", r);
			upnp_forget(io);
			return;
		}
		io->upnp_ext = res->external;
		snprintf(detail, dlen, "IGD %s, we are %s", io->urls.controlURL, io->lanaddr);
		return;
	}
	snprintf(ext, sizeof(ext), "%u", (unsigned)req->external_port);
	snprintf(in, sizeof(in), "%u", (unsigned)req->internal_port);
	if (req->op == KONCE_PM_OP_DELETE) {
		r = UPNP_DeletePortMapping(io->urls.controlURL, io->data.first.servicetype, ext, "UDP", NULL);
		if ((res->err = konce_pmres_upnp_delete(r))) /* already gone is what we wanted */
			res->code = r;
		snprintf(detail, dlen, "DeletePortMapping: %d", r);
		return;
	}
	snprintf(life, sizeof(life), "%u", (unsigned)req->lifetime_s);
	r = UPNP_AddPortMapping(io->urls.controlURL, io->data.first.servicetype, ext, in, io->lanaddr, "konce",
				"UDP", NULL, life);
	if (r) {
		res->err = konce_pmres_upnp_err(r), res->code = r;
		snprintf(detail, dlen, "AddPortMapping: %d", r);
		return;
	}
	konce_addr now_ext;
	char client[40], iport[8], desc[80], enabled[8], lease[16] = "";
	bool ext_ok = upnp_extip(io, &now_ext) == 0;
	r = UPNP_GetSpecificPortMappingEntry(io->urls.controlURL, io->data.first.servicetype, ext, "UDP", NULL,
					     client, iport, desc, enabled, lease);
	konce_pmres_upnp_mapped(req, ext_ok ? &now_ext : NULL, &io->upnp_ext, r ? NULL : lease, res);
	snprintf(detail, dlen, "IGD granted lease %s s", r ? "(unknown)" : lease);
}

void konce_pmio_do(konce_pmio *io, const konce_portmap_policy_req *req, konce_portmap_policy_result *res, char *detail, size_t dlen)
{
	memset(res, 0, sizeof(*res));
	res->id = req->id;
	detail[0] = 0;
	if (req->proto == KONCE_PM_PROTO_NATPMP)
		natpmp_do(io, req, res, detail, dlen);
	else if (req->proto == KONCE_PM_PROTO_UPNP)
		upnp_do(io, req, res, detail, dlen);
	else
		res->err = KONCE_PM_ERR_IO;
}
