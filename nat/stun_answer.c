/* stun_answer.c - what a Binding server says, and what a Binding client asks (see stun.h). */
#include "nat/stun.h"

#include <string.h>

int konce_stun_answer(uint8_t *out, size_t cap, const konce_stun_msg *req, const konce_addr *seen_src,
		      const konce_addr *origin, const konce_addr *other, const char *software)
{
	konce_stun_builder b;
	bool modern = req->cookie == KONCE_STUN_MAGIC_COOKIE;

	if (req->type != KONCE_STUN_BINDING_REQUEST)
		return 0;
	if (req->n_unknown_required) {
		uint8_t list[2 * KONCE_STUN_MAX_UNKNOWN];
		unsigned n = req->n_unknown_required < KONCE_STUN_MAX_UNKNOWN ? req->n_unknown_required
									    : KONCE_STUN_MAX_UNKNOWN;
		for (unsigned i = 0; i < n; i++)
			wire_put16(list + 2 * i, req->unknown_required[i]);
		konce_stun_build_start(&b, out, cap, KONCE_STUN_BINDING_ERROR, req->cookie, req->txid);
		konce_stun_add_error(&b, KONCE_STUN_ERR_UNKNOWN_ATTRIBUTE, "Unknown Attribute");
		konce_stun_add_bytes(&b, KONCE_STUN_A_UNKNOWN_ATTRIBUTES, list, 2 * n);
	} else if (modern) {
		konce_stun_build_start(&b, out, cap, KONCE_STUN_BINDING_SUCCESS, req->cookie, req->txid);
		konce_stun_add_addr(&b, KONCE_STUN_A_XOR_MAPPED_ADDRESS, seen_src);
		konce_stun_add_addr(&b, KONCE_STUN_A_MAPPED_ADDRESS, seen_src);
		konce_stun_add_addr(&b, KONCE_STUN_A_RESPONSE_ORIGIN, origin);
		if (other)
			konce_stun_add_addr(&b, KONCE_STUN_A_OTHER_ADDRESS, other);
	} else {
		/* RFC 3489 clients reject comprehension-required attributes they do not know, so they get
		 * only the three they do, and no FINGERPRINT or SOFTWARE. */
		konce_stun_build_start(&b, out, cap, KONCE_STUN_BINDING_SUCCESS, req->cookie, req->txid);
		konce_stun_add_addr(&b, KONCE_STUN_A_MAPPED_ADDRESS, seen_src);
		konce_stun_add_addr(&b, KONCE_STUN_A_SOURCE_ADDRESS, origin);
		if (other)
			konce_stun_add_addr(&b, KONCE_STUN_A_CHANGED_ADDRESS, other);
		return konce_stun_build_finish(&b);
	}
	if (modern && software)
		konce_stun_add_bytes(&b, KONCE_STUN_A_SOFTWARE, software, strlen(software));
	if (modern)
		konce_stun_add_fingerprint(&b);
	return konce_stun_build_finish(&b);
}

int konce_stun_request(uint8_t *out, size_t cap, const uint8_t txid[KONCE_STUN_TXID], uint32_t change,
		       uint16_t response_port, const char *software)
{
	konce_stun_builder b;
	konce_stun_build_start(&b, out, cap, KONCE_STUN_BINDING_REQUEST, KONCE_STUN_MAGIC_COOKIE, txid);
	if (software)
		konce_stun_add_bytes(&b, KONCE_STUN_A_SOFTWARE, software, strlen(software));
	if (change)
		konce_stun_add_u32(&b, KONCE_STUN_A_CHANGE_REQUEST, change);
	if (response_port)
		konce_stun_add_u32(&b, KONCE_STUN_A_RESPONSE_PORT, (uint32_t)response_port << 16);
	konce_stun_add_fingerprint(&b);
	return konce_stun_build_finish(&b);
}
