/* trav_conf.h - the node's traversal configuration (include/konce/traversal.h), read and checked
 * before anything is opened, and the traversal core's configuration made from it.  Sans-I/O: the
 * host lists its interface addresses and binds the sockets (node/io/node_trav.c).
 *
 * What it checks: rendezvous_peers is a list of at most KONCE_RDVCLIENT_MAX_RDV "KEY@IP:PORT"
 * (numeric addresses), separated by commas or spaces; lifetime is what konce_travlife_parse()
 * takes; rendezvous_capacity is at most KONCE_TRAVCONF_CAPACITY_MAX.  Introductions = known and
 * the host candidates only mean something to a node that registers (nrdv > 0).
 */
#ifndef KONCE_TRAV_CONF_H
#define KONCE_TRAV_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "konce/traversal.h"
#include "nat/lifetime.h"
#include "nat/rdvclient.h"
#include "node/base/addr.h"
#include "node/base/wire.h"
#include "node/core/trav.h"

enum { KONCE_TRAVCONF_CAPACITY_MAX = 1u << 20 };

typedef struct konce_travconf {
	unsigned nrdv, nhost;
	uint8_t rdv_pk[KONCE_RDVCLIENT_MAX_RDV][KONCE_WIRE_KEY]; /* [0] = the primary */
	konce_addr rdv_addr[KONCE_RDVCLIENT_MAX_RDV];
	konce_addr host[KONCE_RDVCLIENT_MAX_HOST]; /* konce_travconf_hosts() */
	bool rendezvous, portmap, host_candidates, known_only;
	unsigned rendezvous_capacity;
	bool life_off;           /* lifetime "off" */
	konce_lifetime_cfg life; /* its bounds otherwise */
} konce_travconf;

/* Reads cfg into *out.  0, or -EINVAL with err saying which setting and why. */
int konce_travconf_parse(konce_travconf *out, const konce_traversal_config *cfg, char *err, size_t errlen);

/* One address of the host's interfaces, as the host lists them. */
typedef struct konce_travconf_iface {
	konce_addr addr;
	bool up, loopback;
} konce_travconf_iface;

/* The host candidates of a node that registers them (nrdv and host_candidates; none otherwise):
 * its bound address when that is a specific one, else every up, non-loopback IPv4 interface
 * address with the bound port, at most KONCE_RDVCLIENT_MAX_HOST. */
void konce_travconf_hosts(konce_travconf *c, const konce_addr *bound, const konce_travconf_iface *ifs, size_t nifs);
/* True when konce_travconf_hosts() would read the interfaces (the bound address is a wildcard). */
bool konce_travconf_wants_ifaces(const konce_travconf *c, const konce_addr *bound);

/* The traversal core's configuration (the node's parts: env, ep, pk, ops, local, are the
 * caller's); it points into c, which must outlive the konce_trav_new() call. */
void konce_travconf_trav_cfg(const konce_travconf *c, konce_trav_cfg *out);

#endif
