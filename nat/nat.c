/* nat.c - names of the RFC 4787 NAT behaviours (nat/nat.h). */
#include "nat/nat.h"

const char *konce_nat_mapping_name(enum konce_nat_mapping m)
{
	switch (m) {
	case KONCE_NAT_MAP_UNKNOWN: return "unknown";
	case KONCE_NAT_MAP_NONE: return "no NAT (mapped address is the local address)";
	case KONCE_NAT_MAP_EIM: return "endpoint-independent";
	case KONCE_NAT_MAP_ADM: return "address-dependent";
	case KONCE_NAT_MAP_APDM: return "address-and-port-dependent";
	case KONCE_NAT_MAP_PORT_INDEPENDENT:
		return "port-independent (endpoint- or address-dependent; server has one address)";
	}
	return "unknown";
}

const char *konce_nat_mapping_abbrev(enum konce_nat_mapping m)
{
	switch (m) {
	case KONCE_NAT_MAP_UNKNOWN: return "unknown";
	case KONCE_NAT_MAP_NONE: return "none";
	case KONCE_NAT_MAP_EIM: return "EIM";
	case KONCE_NAT_MAP_ADM: return "ADM";
	case KONCE_NAT_MAP_APDM: return "APDM";
	case KONCE_NAT_MAP_PORT_INDEPENDENT: return "EIM|ADM";
	}
	return "unknown";
}

const char *konce_nat_filtering_name(enum konce_nat_filtering f)
{
	switch (f) {
	case KONCE_NAT_FILT_UNKNOWN: return "unknown";
	case KONCE_NAT_FILT_EIF: return "endpoint-independent";
	case KONCE_NAT_FILT_ADF: return "address-dependent";
	case KONCE_NAT_FILT_APDF: return "address-and-port-dependent";
	case KONCE_NAT_FILT_PORT_INDEPENDENT: return "address-dependent or endpoint-independent";
	}
	return "unknown";
}

const char *konce_nat_filtering_abbrev(enum konce_nat_filtering f)
{
	switch (f) {
	case KONCE_NAT_FILT_UNKNOWN: return "unknown";
	case KONCE_NAT_FILT_EIF: return "EIF";
	case KONCE_NAT_FILT_ADF: return "ADF";
	case KONCE_NAT_FILT_APDF: return "APDF";
	case KONCE_NAT_FILT_PORT_INDEPENDENT: return "EIF|ADF";
	}
	return "unknown";
}

const char *konce_nat_ports_name(enum konce_nat_ports p)
{
	switch (p) {
	case KONCE_NAT_PORTS_UNKNOWN: return "unknown";
	case KONCE_NAT_PORTS_PRESERVING: return "preserving";
	case KONCE_NAT_PORTS_SEQUENTIAL: return "sequential";
	case KONCE_NAT_PORTS_RANDOM: return "random";
	}
	return "unknown";
}

const char *konce_nat_tri_name(enum konce_nat_tri t)
{
	return t == KONCE_NAT_YES ? "yes" : t == KONCE_NAT_NO ? "no" : "unknown";
}
