/* cmd_netcheck.c - konce netcheck: what the running node knows of its NAT and its rendezvous. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "tools/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: konce netcheck [--json] [--control PATH] [--config FILE]\n\n"
		   "Prints what the running node has learned from its rendezvous registrations: its NAT's\n"
		   "mapping behaviour (from the reflexive addresses two or more rendezvous saw), its\n"
		   "filtering behaviour (probes from a rendezvous at another IP and from another port of\n"
		   "the primary, to a fresh mapping; measured once after registering), the port\n"
		   "allocation pattern, its reflexive and host addresses, whether it holds a port mapping\n"
		   "(UPnP-IGD / NAT-PMP), and the latency to each rendezvous.  For an RFC 5780 test\n"
		   "against a probe listener or STUN server use konce probe nat.\n\n"
		   "Options:\n"
		   "      --json          print the node's JSON answer (see docs/CONTROL.md)\n"
		   "  -s, --control PATH  the node's control socket (default: as konce node)\n"
		   "  -c, --config FILE   read the control socket location from FILE\n"
		   "  -h, --help          show this help\n");
}

static void print(json_t *r)
{
	json_t *nat = json_object_get(r, "nat"), *v, *srv = json_object_get(r, "rendezvous_service");
	size_t i;
	printf("registered     %s\n", json_is_true(json_object_get(r, "registered")) ? "yes" : "no");
	printf("NAT mapping    %s", json_string_value(json_object_get(nat, "mapping")));
	if (json_integer_value(json_object_get(nat, "port_step")))
		printf(" (port step %lld)", json_integer_value(json_object_get(nat, "port_step")));
	json_t *filt = json_object_get(r, "filtering"), *fm = json_object_get(filt, "mapping");
	const char *fr = json_string_value(json_object_get(filt, "result"));
	printf("\nNAT filtering  %s", fr ? fr : "unknown (not measured)");
	if (json_is_string(fm))
		printf(" (probed on a fresh mapping %s)", json_string_value(fm));
	const char *alloc = json_string_value(json_object_get(r, "allocation"));
	printf("\nNAT allocation %s", alloc ? alloc : "unknown");
	json_t *pm = json_object_get(r, "portmap"), *ext = json_object_get(pm, "external");
	printf("\nport mapping   %s", json_string_value(json_object_get(pm, "state")));
	if (json_is_string(ext))
		printf(" by %s at %s", json_string_value(json_object_get(pm, "protocol")), json_string_value(ext));
	if (json_is_string(json_object_get(pm, "reason")))
		printf(" (%s)", json_string_value(json_object_get(pm, "reason")));
	putchar('\n');
	json_t *hosts = json_object_get(r, "host"), *rdvs = json_object_get(r, "rendezvous");
	for (i = 0; i < json_array_size(hosts); i++)
		printf("host           %s\n", json_string_value(json_array_get(hosts, i)));
	for (i = 0; i < json_array_size(rdvs); i++) {
		v = json_array_get(rdvs, i);
		json_t *refl = json_object_get(v, "reflexive"), *rtt = json_object_get(v, "register_rtt_ms");
		printf("rendezvous     %.12s.. at %s: %s, sees us at %s", json_string_value(json_object_get(v, "key")),
		       json_string_value(json_object_get(v, "address")),
		       json_is_true(json_object_get(v, "session")) ? "session up" : "no session",
		       json_is_string(refl) ? json_string_value(refl) : "-");
		if (json_is_number(rtt))
			printf(", registration round trip %.1f ms", json_number_value(rtt));
		putchar('\n');
	}
	json_t *lt = json_object_get(r, "lifetime");
	const char *lst = json_string_value(json_object_get(lt, "state"));
	json_t *lo = json_object_get(lt, "lower_bound_s");
	double ka = json_number_value(json_object_get(lt, "keepalive_s"));
	if (!lst || !strcmp(lst, "off"))
		printf("mapping lifetime: off (fixed keepalives)\n");
	else if (!strcmp(lst, "learned") && json_is_true(json_object_get(lt, "below_min")))
		printf("mapping lifetime: < %.0f s (keepalive %.1f s)\n",
		       json_number_value(json_object_get(lt, "upper_bound_s")), ka);
	else if (!strcmp(lst, "learned"))
		printf("mapping lifetime: >= %.1f s (keepalive %.1f s)\n", json_number_value(lo), ka);
	else if (!strcmp(lst, "no-answer"))
		printf("mapping lifetime: the rendezvous does not answer experiments (keepalive %.1f s)\n", ka);
	else
		printf("mapping lifetime: learning (testing %.0f s, proven >= %.1f s, keepalive %.1f s)\n",
		       json_number_value(json_object_get(lt, "testing_s")), json_is_number(lo) ? json_number_value(lo) : 0.0,
		       ka);
	if (json_is_object(srv))
		printf("serving        rendezvous: %lld registrations, %lld introductions, %lld relayed\n",
		       json_integer_value(json_object_get(srv, "registrations")),
		       json_integer_value(json_object_get(srv, "intros")),
		       json_integer_value(json_object_get(srv, "relayed")));
}

int konce_cmd_netcheck(int argc, char **argv)
{
	struct konce_ctl_opts o = {0};
	int status = konce_ctl_parse_opts(argc, argv, &o, usage);
	if (status >= 0)
		return status;
	if (argc != optind) {
		usage(stderr);
		return KONCE_EXIT_USAGE;
	}
	json_t *resp = konce_ctl_cli_request("netcheck", &o, json_pack("{s:s}", "cmd", "netcheck"), 5000, &status);
	if (!resp)
		return status;
	if (o.json)
		status = konce_ctl_print_json("netcheck", resp);
	else {
		print(resp);
		status = fflush(stdout) ? KONCE_EXIT_FAIL : KONCE_EXIT_OK;
	}
	json_decref(resp);
	return status;
}
