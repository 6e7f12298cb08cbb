/* rdvwire.h - encode and parse rendezvous and traversal messages (node/base/wire.h, last section).
 *
 * One struct holds any of the fifteen messages (the twelve of rendezvous and traversal, the three
 * of mapping lifetime experiments); each type uses the fields named beside it.  Parsing
 * checks every length, count, reserved byte and enum, and accepts only what konce_rdvwire_encode()
 * could have produced, so encode(decode(x)) == x for every accepted x (the fuzz target checks
 * that).  RELAY payloads are not copied: m->payload points into the parsed buffer.
 */
#ifndef KONCE_RDVWIRE_H
#define KONCE_RDVWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"
#include "node/base/addr.h"
#include "node/base/wire.h"

typedef struct konce_cand {
	uint8_t type; /* KONCE_CAND_* */
	konce_addr addr;
} konce_cand;

typedef struct konce_natinfo {
	uint8_t mapping;    /* KONCE_NATMAP_* */
	uint8_t step;       /* EDM_SEQ: port increment between two new mappings */
	uint16_t last_port; /* EDM_SEQ: the highest mapped port observed */
} konce_natinfo;

typedef struct konce_rdvwire_msg {
	uint8_t type;  /* KONCE_RDV_* */
	uint8_t flags; /* INTRO: KONCE_INTRO_F_*; PUNCH: KONCE_PUNCH_F_*; INTRO_FAIL: the reason;
			* FILTER: KONCE_FILT_OP_*; LIFE_ACK: KONCE_LIFE_F_*; LIFE_PROBE: the copy number */
	uint8_t key[KONCE_WIRE_KEY];    /* REGISTER, INTRO_REQUEST, INTRO_REFUSE, INTRO_ACCEPT: sender;
					 * INTRO_OFFER: the requester; INTRO: peer;
					 * INTRO_FAIL: target; RELAY(ED): from; PUNCH: sender */
	uint8_t target[KONCE_WIRE_KEY]; /* INTRO_REQUEST, INTRO_OFFER: target; INTRO_REFUSE, INTRO_ACCEPT:
					 * requester; RELAY: to */
	uint64_t id;       /* txid (REGISTER, REGISTERED, INTRO_REQUEST, INTRO_FAIL); intro id (INTRO, PUNCH,
			    * INTRO_REFUSE; INTRO_FAIL DECLINED); FILTER: token; LIFE_*: nonce */
	uint64_t stamp;    /* REGISTER: echo; REGISTERED: stamp */
	uint32_t value;    /* REGISTERED: refresh ms; INTRO: delay us; LIFE_*: delay ms */
	uint16_t seq;      /* PUNCH */
	konce_addr addr;   /* REGISTERED: reflexive address; PUNCH with F_ACK: where the probe came from;
			    * FILTER: see KONCE_FILT_ADDR */
	konce_natinfo nat; /* REGISTER, INTRO */
	unsigned ncand;    /* REGISTER, INTRO */
	konce_cand cand[KONCE_RDV_MAX_INTRO_CANDS];
	uint8_t secret[KONCE_INTRO_SECRET_BYTES]; /* INTRO: the probe key of this introduction */
	uint8_t mac[KONCE_PUNCH_MAC_BYTES];       /* PUNCH: encoded as given, parsed unchecked (the
						   * receiver checks it with the intro's key) */
	const uint8_t *payload; /* RELAY, RELAYED */
	size_t len;
} konce_rdvwire_msg;

enum { KONCE_RDV_MAX_MSG = KONCE_RELAY_PAYLOAD + KONCE_RDV_MAX_RELAY };

/* True if byte 0 of a datagram names a rendezvous, traversal or lifetime message. */
static inline bool konce_rdvwire_is(const uint8_t *pkt, size_t len)
{
	return len > 0 && ((pkt[0] >= KONCE_RDV_REGISTER && pkt[0] <= KONCE_RDV_INTRO_OFFER) ||
			   (pkt[0] >= KONCE_RDV_LIFE_REQ && pkt[0] <= KONCE_RDV_INTRO_ACCEPT));
}
/* True if a FILTER message with this op carries an address. */
static inline bool konce_rdvwire_filt_has_addr(uint8_t op)
{
	return op == KONCE_FILT_OP_ECHO || op == KONCE_FILT_OP_ASK || op == KONCE_FILT_OP_ASK_ALT ||
	       op == KONCE_FILT_OP_SENT;
}
/* Writes m into buf; returns the length, or 0 if m is invalid or cap too small. */
size_t konce_rdvwire_encode(const konce_rdvwire_msg *m, uint8_t *buf, size_t cap);
/* 0 and *m filled, or -EINVAL (m is then unspecified). */
int konce_rdvwire_decode(konce_rdvwire_msg *m, const uint8_t *buf, size_t len);

#endif
