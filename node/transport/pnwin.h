/* pnwin.h - windowed packet numbers.
 *
 * Every session packet has a sequential 64-bit number (the AEAD nonce), starting at 1.  On the wire
 * only its low 7k bits travel, as k bytes, most significant group first; the high bit of each byte
 * says another byte follows (so the last byte has it clear).  The sender picks the smallest k with
 *   2^(7k) >= KONCE_WIRE_PN_SPAN_FACTOR * (pn - largest_acked)
 * and the receiver rebuilds the full value as the candidate nearest to largest_received + 1
 * (RFC 9000 appendix A.3, with a 32x span instead of 2x, so late stragglers still decode right).
 *
 * Guarantee.  With win = 2^(7k) and hwin = win / 2 for the k bytes actually received (k < 9), the
 * decode returns the true pn exactly when
 *   largest_received + 1 - hwin  <  pn  <=  largest_received + 1 + hwin
 * and otherwise the value pn + j * win nearest to largest_received + 1 (a wrong number, which the
 * AEAD then rejects).  Nine bytes carry all 63 bits and always decode exactly.  Because the
 * receiver has seen every acked number (largest_received >= largest_acked) and the span rule gives
 * hwin >= 16 * (pn - largest_acked), the upper bound always holds; the lower one holds as long as
 * a straggler is overtaken by fewer than hwin - 1 >= max(64, 16 * (pn - largest_acked)) - 1 newer
 * numbers.  docs/PROTOCOL.md (section 7) works through examples.
 *
 * Canonical form.  The encoder always sends the shortest window the span rule allows, but the
 * decoder accepts any length 1..KONCE_WIRE_PN_MAX, because the sender alone knows its ack state;
 * the rebuild uses the length actually sent (0x05 and 0x80 0x05 are different windows, not two
 * spellings of one).  The header is AEAD-authenticated, so nobody else can change the length.
 * Valid packet numbers are 1 .. 2^63 - 1.
 */
#ifndef KONCE_PNWIN_H
#define KONCE_PNWIN_H

#include <stddef.h>
#include <stdint.h>

/* Window length in bytes (1..KONCE_WIRE_PN_MAX) for sending pn while largest_acked (0 = none) is
 * the newest number the peer has acknowledged.  largest_acked >= pn (a caller bug) gives the
 * full length, which is always safe. */
size_t konce_pnwin_len(uint64_t pn, uint64_t largest_acked);
/* Writes the window; returns its length, or 0 if cap is too small or pn is 0 or >= 2^63. */
size_t konce_pnwin_encode(uint8_t *out, size_t cap, uint64_t pn, uint64_t largest_acked);
/* Reads a window from p[0, avail); sets *pn to the rebuilt value.  Returns the bytes consumed, or 0
 * (*pn untouched) if malformed: runs past avail, longer than KONCE_WIRE_PN_MAX, or rebuilds to 0
 * or to >= 2^63.  largest_received is the newest authenticated number (0 = none); values above
 * 2^63 - 1 are treated as 2^63 - 1. */
size_t konce_pnwin_decode(const uint8_t *p, size_t avail, uint64_t largest_received, uint64_t *pn);

#endif
