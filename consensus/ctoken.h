/* ctoken.h - the invitation token: a capability to join one group.
 *
 * Binary layout (big-endian):
 *   magic "KGI" 3 | version u8 (1) | group id 16 | n u8 (1..KONCE_CW_MAX_MEMBERS) | n x key 32 |
 *   secret 32 | expires u64 (unix seconds; 0: never) | rdv_len u8 | rdv_len bytes of rendezvous
 *   hint (text, no NUL)
 * Text form: "konce-invite:" followed by the binary in unpadded base64url.
 * The group learns an invitation from an INVITE entry holding BLAKE2b-256(secret) (cwire.h), so a
 * member checks a JOIN's secret against the committed invitations, and the view that admits the
 * joiner marks the invitation used.  The secret is a capability: whoever holds the token may join
 * once, until it expires: the INVITE entry carries the same expiry, and the members refuse the
 * join after it (REFUSED with KONCE_CW_R_EXPIRED).  The caller keeps a parsed token (which holds
 * the secret) in locked memory and wipes it.
 */
#ifndef KONCE_CTOKEN_H
#define KONCE_CTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/cwire.h"
#include "node/base/addr.h"

enum {
	KONCE_CTOKEN_VERSION = 1,
	KONCE_CTOKEN_MAX = 3 + 1 + KONCE_CW_GROUP_ID + 1 + KONCE_CW_MAX_MEMBERS * KONCE_CW_KEY +
			   KONCE_CW_SECRET + 8 + 1 + KONCE_CW_MAX_RENDEZVOUS,
	KONCE_CTOKEN_TEXT_MAX = 13 + (KONCE_CTOKEN_MAX * 4 + 2) / 3 + 1, /* with the NUL */
};

typedef struct konce_ctoken {
	uint8_t group[KONCE_CW_GROUP_ID];
	uint8_t n;
	uint8_t keys[KONCE_CW_MAX_MEMBERS][KONCE_CW_KEY];
	uint8_t secret[KONCE_CW_SECRET];
	uint64_t expires; /* unix seconds; 0: never */
	uint8_t rdv_len;
	char rdv[KONCE_CW_MAX_RENDEZVOUS + 1]; /* NUL-terminated */
} konce_ctoken;

/* 0, or -EINVAL for a malformed token (bounds, version, duplicate keys, NUL in the hint). */
int konce_ctoken_parse(konce_ctoken *t, const uint8_t *b, size_t len);
/* The length written, or 0 if t is invalid or cap too small. */
size_t konce_ctoken_encode(const konce_ctoken *t, uint8_t *out, size_t cap);
/* Text form; out holds KONCE_CTOKEN_TEXT_MAX.  0 or -EINVAL. */
int konce_ctoken_to_text(const konce_ctoken *t, char *out, size_t cap);
int konce_ctoken_from_text(konce_ctoken *t, const char *text);
/* True if the token has expired at `now` (unix seconds): the joiner need not try, and the members
 * would refuse it. */
bool konce_ctoken_expired(const konce_ctoken *t, uint64_t now);
/* The token's address hint, as konce_node_group_invite() writes it: one "ADDR:PORT" (numeric, as
 * konce_addr_parse takes it) or "-" per key, in the token's key order, separated by single spaces.
 * Sets have[i] and addr[i] for each key i < t->n whose word parses; "-", empty, too long and
 * malformed words and words past the keys give nothing.  Reads at most t->rdv_len bytes of t->rdv
 * (and none past a NUL).  Returns how many addresses it set. */
int konce_ctoken_hint_addrs(const konce_ctoken *t, konce_addr addr[KONCE_CW_MAX_MEMBERS],
			    bool have[KONCE_CW_MAX_MEMBERS]);
/* BLAKE2b-256 of the secret: what an INVITE entry carries. */
void konce_ctoken_secret_hash(uint8_t out[KONCE_CW_SECRET], const uint8_t secret[KONCE_CW_SECRET]);

#endif
