/* probe_show.c - decoded probes and STUN messages, for people (one line) and for scripts (JSON). */
#include <inttypes.h>

#include "nat/probewire.h"
#include "nat/stun.h"
#include "tools/probe.h"

static const char *type_str(uint8_t t) { return t == KONCE_PROBE_T_REQUEST ? "request" : "reply"; }

static const char *transport_str(uint8_t t)
{
	return t == KONCE_PROBE_TR_UDP ? "udp" : t == KONCE_PROBE_TR_ICMP ? "icmp" : t == KONCE_PROBE_TR_TCP ? "tcp" : "?";
}

void probe_show_probe(FILE *f, const konce_probewire_msg *p)
{
	char a[KONCE_ADDR_STRLEN], b[KONCE_ADDR_STRLEN], c[KONCE_ADDR_STRLEN];
	fprintf(f, "probe %s seq %" PRIu32 " nonce %016" PRIx64 " command %s", type_str(p->type), p->seq, p->nonce,
		konce_probewire_command_name(p->command));
	if (p->command == KONCE_PROBE_CMD_REPLY_TO_PORT)
		fprintf(f, " (to port %u)", p->reply_port);
	if (p->flags & KONCE_PROBE_F_SEEN)
		fprintf(f, "; listener saw %s arrive on %s over %s, replied from %s", konce_addr_str(&p->seen_src, a),
			konce_addr_str(&p->seen_dst, b), transport_str(p->transport), konce_addr_str(&p->from, c));
	if (p->flags & KONCE_PROBE_F_TTL)
		fprintf(f, ", ttl %u", p->ttl);
	if (p->flags & KONCE_PROBE_F_OTHER)
		fprintf(f, "; listener's other address %s", konce_addr_str(&p->other, a));
}

json_t *probe_json_probe(const konce_probewire_msg *p)
{
	char nonce[17];
	snprintf(nonce, sizeof(nonce), "%016" PRIx64, p->nonce);
	json_t *j = json_pack("{s:s, s:s, s:I, s:s}", "type", type_str(p->type), "command",
			      konce_probewire_command_name(p->command), "seq", (json_int_t)p->seq, "nonce", nonce);
	if (p->command == KONCE_PROBE_CMD_REPLY_TO_PORT)
		json_object_set_new(j, "reply_port", json_integer(p->reply_port));
	if (p->flags & KONCE_PROBE_F_SEEN) {
		json_object_set_new(j, "seen_src", probe_json_addr(&p->seen_src));
		json_object_set_new(j, "seen_dst", probe_json_addr(&p->seen_dst));
		json_object_set_new(j, "from", probe_json_addr(&p->from));
		json_object_set_new(j, "transport", json_string(transport_str(p->transport)));
	}
	if (p->flags & KONCE_PROBE_F_TTL)
		json_object_set_new(j, "ttl", json_integer(p->ttl));
	if (p->flags & KONCE_PROBE_F_OTHER)
		json_object_set_new(j, "other", probe_json_addr(&p->other));
	return j;
}

const char *probe_stun_type_str(uint16_t type)
{
	switch (type) {
	case KONCE_STUN_BINDING_REQUEST: return "Binding request";
	case KONCE_STUN_BINDING_INDICATION: return "Binding indication";
	case KONCE_STUN_BINDING_SUCCESS: return "Binding success response";
	case KONCE_STUN_BINDING_ERROR: return "Binding error response";
	}
	return "non-Binding message";
}

void probe_show_stun(FILE *f, const konce_stun_msg *m)
{
	char a[KONCE_ADDR_STRLEN];
	fprintf(f, "STUN %s (0x%04x)%s txid ", probe_stun_type_str(m->type), m->type,
		m->cookie == KONCE_STUN_MAGIC_COOKIE ? "" : " RFC 3489 (no magic cookie)");
	if (m->cookie != KONCE_STUN_MAGIC_COOKIE)
		fprintf(f, "%08x", m->cookie); /* RFC 3489: a 128-bit id */
	for (int i = 0; i < KONCE_STUN_TXID; i++)
		fprintf(f, "%02x", m->txid[i]);
	if (m->has_xor_mapped)
		fprintf(f, " xor-mapped %s", konce_addr_str(&m->xor_mapped, a));
	if (m->has_mapped)
		fprintf(f, " mapped %s", konce_addr_str(&m->mapped, a));
	if (m->has_origin)
		fprintf(f, " %s %s", m->origin_is_source_address ? "source-address" : "response-origin",
			konce_addr_str(&m->origin, a));
	if (m->has_other)
		fprintf(f, " %s %s", m->other_is_changed_address ? "changed-address" : "other-address",
			konce_addr_str(&m->other, a));
	if (m->has_change)
		fprintf(f, " change-request%s%s", m->change & KONCE_STUN_CHANGE_IP ? " ip" : "",
			m->change & KONCE_STUN_CHANGE_PORT ? " port" : "");
	if (m->has_response_port)
		fprintf(f, " response-port %u", m->response_port);
	if (m->has_error)
		fprintf(f, " error %u", m->error_code);
	if (m->has_software) {
		fputs(" software \"", f);
		for (const char *c = m->software; *c; c++)
			fputc(*c >= 0x20 && *c < 0x7f && *c != '"' ? *c : '.', f);
		fputc('"', f);
	}
	if (m->n_unknown_required)
		fprintf(f, " (%u unknown comprehension-required attributes, first 0x%04x)", m->n_unknown_required,
			m->unknown_required[0]);
	if (m->has_fingerprint)
		fprintf(f, " fingerprint ok");
}

json_t *probe_json_stun(const konce_stun_msg *m)
{
	char txid[2 * KONCE_STUN_TXID + 1];
	for (int i = 0; i < KONCE_STUN_TXID; i++)
		snprintf(txid + 2 * i, 3, "%02x", m->txid[i]);
	json_t *j = json_pack("{s:s, s:i, s:b, s:s, s:b}", "type", probe_stun_type_str(m->type), "type_code", m->type,
			      "rfc3489", m->cookie != KONCE_STUN_MAGIC_COOKIE, "txid", txid, "fingerprint",
			      m->has_fingerprint);
	if (m->has_xor_mapped)
		json_object_set_new(j, "xor_mapped", probe_json_addr(&m->xor_mapped));
	if (m->has_mapped)
		json_object_set_new(j, "mapped", probe_json_addr(&m->mapped));
	if (m->has_origin)
		json_object_set_new(j, "origin", probe_json_addr(&m->origin));
	if (m->has_other)
		json_object_set_new(j, "other", probe_json_addr(&m->other));
	if (m->has_change)
		json_object_set_new(j, "change", json_pack("{s:b, s:b}", "ip", (m->change & KONCE_STUN_CHANGE_IP) != 0,
							   "port", (m->change & KONCE_STUN_CHANGE_PORT) != 0));
	if (m->has_response_port)
		json_object_set_new(j, "response_port", json_integer(m->response_port));
	if (m->has_error)
		json_object_set_new(j, "error_code", json_integer(m->error_code));
	if (m->has_software)
		json_object_set_new(j, "software", json_string(m->software)); /* NULL (dropped) if not UTF-8 */
	if (m->n_unknown_required) {
		json_t *u = json_array();
		for (unsigned i = 0; i < m->n_unknown_required && i < KONCE_STUN_MAX_UNKNOWN; i++)
			json_array_append_new(u, json_integer(m->unknown_required[i]));
		json_object_set_new(j, "unknown_required", u);
	}
	return j;
}
