/* nat.h - the NAT behaviour of RFC 4787, as every part of konce names it.
 *
 * A NAT is described by how it maps (which mapping an outgoing packet gets), how it filters (which
 * outside sources may send back through a mapping), how it allocates external ports, and whether it
 * hairpins.  nat/classify.c measures all four against a probe listener or a STUN server
 * (`konce netcheck`); nat/filtertest.c measures filtering through rendezvous nodes; nat/candidates.c
 * compresses what two rendezvous saw into the one-byte summary a REGISTER carries (enum konce_natmap).
 *
 *   mapping      EIM   endpoint-independent: one mapping for every destination (a "cone")
 *                ADM   address-dependent: a new mapping per destination IP
 *                APDM  address-and-port-dependent: a new mapping per destination IP:port ("symmetric")
 *   filtering    EIF   endpoint-independent: anyone may send to the mapping
 *                ADF   address-dependent: any port of an IP the mapping has sent to
 *                APDF  address-and-port-dependent: only the exact IP:port it has sent to
 *
 * A test that has a single outside address to work with sees ports but cannot see IPs change: it can
 * tell EIM or ADM from APDM (and EIF or ADF from APDF) but not EIM from ADM.  It says so with the
 * PORT_INDEPENDENT values and never guesses.
 */
#ifndef KONCE_NAT_NAT_H
#define KONCE_NAT_NAT_H

enum konce_nat_mapping {
	KONCE_NAT_MAP_UNKNOWN,
	KONCE_NAT_MAP_NONE,             /* no NAT: the mapped address is the local address */
	KONCE_NAT_MAP_EIM,              /* endpoint-independent */
	KONCE_NAT_MAP_ADM,              /* address-dependent */
	KONCE_NAT_MAP_APDM,             /* address-and-port-dependent */
	KONCE_NAT_MAP_PORT_INDEPENDENT, /* EIM or ADM: no second outside IP to tell which */
};

enum konce_nat_filtering {
	KONCE_NAT_FILT_UNKNOWN,
	KONCE_NAT_FILT_EIF,              /* endpoint-independent */
	KONCE_NAT_FILT_ADF,              /* address-dependent */
	KONCE_NAT_FILT_APDF,             /* address-and-port-dependent */
	KONCE_NAT_FILT_PORT_INDEPENDENT, /* EIF or ADF: no second outside IP to tell which */
};

/* How the NAT picks the external port of a new mapping. */
enum konce_nat_ports {
	KONCE_NAT_PORTS_UNKNOWN,
	KONCE_NAT_PORTS_PRESERVING, /* the local port, where it is free */
	KONCE_NAT_PORTS_SEQUENTIAL, /* close to the previous mapping's */
	KONCE_NAT_PORTS_RANDOM,
};

/* Hairpinning, and any other yes/no behaviour a test may not have decided. */
enum konce_nat_tri { KONCE_NAT_UNKNOWN, KONCE_NAT_NO, KONCE_NAT_YES };

/* What two rendezvous at different IPs saw of the mapping, compressed for the wire: the mapping
 * byte of the NAT information in REGISTER and INTRO (node/base/wire.h).  The two cannot tell ADM
 * from APDM (their IPs differ, so both change the mapping); they call either one endpoint-dependent
 * (EDM) and add the port allocation, which is what hole punching needs. */
enum konce_natmap {
	KONCE_NATMAP_UNKNOWN = 0,    /* fewer than two rendezvous answered */
	KONCE_NATMAP_EIM = 1,        /* both rendezvous saw the same address: endpoint-independent */
	KONCE_NATMAP_EDM_SEQ = 2,    /* endpoint-dependent, ports close together: sequential allocator */
	KONCE_NATMAP_EDM_RANDOM = 3, /* endpoint-dependent, ports far apart */
};

/* Names for output.  _name is the RFC 4787 term ("address-dependent"), _abbrev its short form ("ADM");
 * an out-of-range value is "unknown".  The strings are static. */
const char *konce_nat_mapping_name(enum konce_nat_mapping m);
const char *konce_nat_mapping_abbrev(enum konce_nat_mapping m);
const char *konce_nat_filtering_name(enum konce_nat_filtering f);
const char *konce_nat_filtering_abbrev(enum konce_nat_filtering f);
const char *konce_nat_ports_name(enum konce_nat_ports p);
const char *konce_nat_tri_name(enum konce_nat_tri t);

#endif
