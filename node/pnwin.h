/* pnwin.h - windowed packet numbers.
 *
 * Every session packet has a sequential 64-bit number (the AEAD nonce), starting at 1.  On the wire
 * only its low 7k bits travel, as k bytes, most significant group first; the high bit of each byte
 * says another byte follows (so the last byte has it clear).  The sender picks the smallest k with
 *   2^(7k) >= KONCE_WIRE_PN_SPAN_FACTOR * (pn - largest_acked)
 * and the receiver rebuilds the full value as the candidate nearest to largest_received + 1
 * (RFC 9000 appendix A.3, with a 32x span instead of 2x, so late stragglers still decode right).
 */
#ifndef KONCE_PNWIN_H
#define KONCE_PNWIN_H

#include <stddef.h>
#include <stdint.h>

/* Window length in bytes (1..KONCE_WIRE_PN_MAX) for sending pn while largest_acked (0 = none) is
 * the newest number the peer has acknowledged. */
size_t konce_pnwin_len(uint64_t pn, uint64_t largest_acked);
/* Writes the window; returns its length, or 0 if cap is too small or pn is 0 or >= 2^63. */
size_t konce_pnwin_encode(uint8_t *out, size_t cap, uint64_t pn, uint64_t largest_acked);
/* Reads a window from p[0, avail); sets *pn to the rebuilt value.  Returns the bytes consumed, or 0
 * if malformed (runs past avail, longer than KONCE_WIRE_PN_MAX, or rebuilds to 0). */
size_t konce_pnwin_decode(const uint8_t *p, size_t avail, uint64_t largest_received, uint64_t *pn);

#endif
