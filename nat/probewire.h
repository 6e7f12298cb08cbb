/* probewire.h - the konce probe packet (layout in node/base/wire.h, explained in docs/PROBE.md).
 *
 * A request asks a listener to do one thing (reply from the same socket, from the other port, from
 * the other address, to another port of the sender, or nothing); the reply depicts what the listener
 * saw: the request's source address and port as they arrived (after every NAT on the way), the local
 * address they arrived on, and the TTL or hop limit.  Requests and replies have the same fixed size.
 */
#ifndef KONCE_NAT_PROBEWIRE_H
#define KONCE_NAT_PROBEWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/addr.h"
#include "node/base/wire.h"

typedef struct konce_probewire_msg {
	uint8_t type;      /* KONCE_PROBE_T_* */
	uint8_t command;   /* KONCE_PROBE_CMD_* */
	uint8_t flags;     /* KONCE_PROBE_F_* */
	uint8_t transport; /* KONCE_PROBE_TR_*, 0 if unknown */
	uint8_t ttl;       /* 0 unknown */
	uint64_t nonce;
	uint32_t seq;
	uint16_t reply_port;  /* KONCE_PROBE_CMD_REPLY_TO_PORT only */
	konce_addr seen_src;  /* reply: the request's source as it arrived */
	konce_addr seen_dst;  /* reply: where it arrived */
	konce_addr from;      /* reply: where this reply is sent from */
	konce_addr other;     /* reply: the listener's alternate address/port, if F_OTHER */
} konce_probewire_msg;

enum konce_probewire_result {
	KONCE_PROBE_OK = 0,
	KONCE_PROBE_SHORT,       /* not KONCE_PROBE_SIZE bytes */
	KONCE_PROBE_BAD_MAGIC,   /* not a probe at all */
	KONCE_PROBE_BAD_VERSION,
	KONCE_PROBE_BAD_TYPE,
	KONCE_PROBE_BAD_COMMAND,
	KONCE_PROBE_BAD_FIELD,   /* reserved bits or bytes set, or fields that contradict the type */
};

const char *konce_probewire_result_str(enum konce_probewire_result r);
bool konce_probewire_is_candidate(const uint8_t *buf, size_t len); /* starts with the magic */
enum konce_probewire_result konce_probewire_parse(konce_probewire_msg *p, const uint8_t *buf, size_t len);
/* Writes exactly KONCE_PROBE_SIZE bytes.  Returns KONCE_PROBE_SIZE, or -EINVAL for a probe that
 * konce_probewire_parse would refuse. */
int konce_probewire_encode(const konce_probewire_msg *p, uint8_t out[KONCE_PROBE_SIZE]);

/* The reply a listener sends to request req, seen as described; other may be NULL. */
void konce_probewire_make_reply(konce_probewire_msg *reply, const konce_probewire_msg *req, const konce_addr *seen_src,
				const konce_addr *seen_dst, const konce_addr *from, const konce_addr *other,
				uint8_t transport, int ttl);

const char *konce_probewire_command_name(uint8_t command); /* "same", "other-port", ... or NULL */
int konce_probewire_command_parse(const char *name);       /* KONCE_PROBE_CMD_* or -EINVAL */

#endif
