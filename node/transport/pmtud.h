/* pmtud.h - Datagram Packetization Layer Path MTU Discovery (RFC 8899) for one session.
 *
 * The PLPMTU is the largest konce datagram (UDP payload) the session sends.  It starts at
 * KONCE_PMTU_BASE (1200 bytes), which every path must carry and which is never given up, and grows
 * by probes: a probe is a DATA packet of exactly the candidate size (a PING frame and PADDING),
 * acknowledged like any ack-eliciting packet.  A probe acknowledged means that size fits; a probe
 * of one size lost KONCE_PMTU_MAX_PROBES times means it does not.  Nothing here relies on ICMP, so
 * a path that drops large datagrams silently (a black hole) is handled like any other.
 *
 * The upper bound `max` is the I/O layer's estimate (IP_MTU of a socket connected to the peer,
 * minus IP and UDP headers), at most KONCE_PMTU_MAX.  The first candidate is max itself (the
 * estimate is usually right: one probe); after a failure the search is a binary search over
 * (plpmtu, largest size not known to fail], to the byte, so it settles at exactly the largest size
 * that gets through.
 *
 * Eager start.  A new path's search (start, reset) probes max before BASE: acknowledged, it
 * confirms BASE as well (a path that carries max carries every smaller size), and the search is
 * complete one round trip after the channel opened, so the transfer's second round already goes
 * in datagrams of max.  Probing BASE first, as RFC 8899 section 5.2 has it, kept a 16 MiB
 * transfer's first two rounds at BASE (netsim, 100 Mbit/s, 40 ms: docs/BENCH.md); the windows
 * are in bytes, so that cost packets, not goodput (the same bytes per round either way).  Lost once
 * (no retries: a path below its interface's MTU), the machine goes on as RFC 8899 does: BASE
 * confirms, then max is probed again, MAX_PROBES times, and the binary search follows; that costs
 * such a path one probe timeout.  A search restarted after a confirmed black hole or from ERROR
 * probes BASE first: max, or the size just lost, is the likely failure there; so does a resumed
 * search whose earlier channel, under the same bound, kept no size.
 *
 * Sans-I/O: the caller (ep_pmtud.c) sends the probe, tells which packet number carried it, feeds
 * acknowledgements, counts of large packets lost and acked (black-hole detection) and time.
 * Probes are not recorded by the reliability layer: their loss never reaches congestion control.
 *
 * The search state lives only while the session has a channel.  When the channel shrinks back to
 * a presence (ep_msg.c), konce_pmtud_keep() folds it into a konce_pmtud_kept of 16 bytes: a
 * completed search's PLPMTU, the bound, and the counts; the state itself is freed.  The next
 * channel's search starts with konce_pmtud_resume(): at the kept PLPMTU as a search that has just
 * completed, or from BASE if none was kept.
 *
 * States (RFC 8899 section 5.2) and transitions:
 *
 *   DISABLED --konce_pmtud_start()--> BASE
 *   DISABLED --konce_pmtud_resume()--> SEARCH_COMPLETE at the kept PLPMTU, again_at = now +
 *                                      KONCE_PMTU_RAISE_MS (as if that search had just ended),
 *                                      if one was kept under the same bound; else BASE, as start
 *   konce_pmtud_keep() keeps a PLPMTU from SEARCH_COMPLETE with no black hole suspected, none
 *   from any other state (SEARCHING holds the shrink off; BASE, ERROR and a suspected black hole
 *   resume from BASE: ERROR's retry is then the next channel's first probe)
 *   BASE, eager (entered by start, reset and a resume from no kept size under another or no
 *                 earlier bound; max > BASE): probes max, once
 *     acked: plpmtu = max ----------------------------------> SEARCH_COMPLETE
 *     lost (konce_pmtud_tick) ------------------------------> BASE, not eager
 *   BASE:            probes KONCE_PMTU_BASE once per probe timeout
 *     probe acked (konce_pmtud_on_ack) ----------------------> SEARCHING (or SEARCH_COMPLETE if
 *                                                              max == BASE)
 *     MAX_PROBES base probes lost (konce_pmtud_tick) --------> ERROR
 *   SEARCHING:       probes candidate c in (lo, hi]
 *     c acked: lo = plpmtu = c; lo == hi -----------------> SEARCH_COMPLETE
 *     c lost MAX_PROBES times: hi = c - 1; lo == hi ------> SEARCH_COMPLETE
 *   SEARCH_COMPLETE: no probes
 *     KONCE_PMTU_RAISE_MS later (konce_pmtud_probe_due) ----> SEARCHING (hi = max again)
 *   ERROR:           the base size itself went unanswered; PLPMTU stays BASE (nothing smaller
 *                    exists in konce), and KONCE_PMTU_ERROR_RETRY_MS later --> BASE
 *   any state but DISABLED:
 *     suspected black hole (konce_pmtud_on_loss: KONCE_PMTU_BLACKHOLE_LOSSES packets larger than
 *       BASE lost with none acked in between, while plpmtu > BASE): plpmtu = BASE at once (data
 *       keeps flowing), suspect = the old plpmtu, and a probe of that size decides:
 *         acked: a false alarm (a burst of congestion loss), plpmtu = suspect, same state;
 *         lost MAX_PROBES times: a black hole ------------> BASE (a new search)
 *     path change (konce_pmtud_reset) -----------------------> BASE, plpmtu = BASE, new max
 *
 * Invariants:
 *   1. KONCE_PMTU_BASE <= plpmtu <= max <= KONCE_PMTU_MAX, always (max is raised to BASE);
 *   2. plpmtu only grows through an acknowledged probe of that size (konce_pmtud_resume: one
 *      acknowledged in an earlier channel of the session, on the same path, since a path change
 *      forgets the kept size: konce_pmtud_kept_reset), and only shrinks to BASE (suspected black
 *      hole, path change);
 *   3. in SEARCHING, plpmtu < candidate <= hi <= max; at most one probe is outstanding;
 *   4. suspect != 0 only while plpmtu == BASE, and then the probe due or outstanding is suspect.
 */
#ifndef KONCE_PMTUD_H
#define KONCE_PMTUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/transport/ackframe.h"

enum konce_pmtud_state {
	KONCE_PMTUD_DISABLED = 0,
	KONCE_PMTUD_BASE,
	KONCE_PMTUD_SEARCHING,
	KONCE_PMTUD_SEARCH_COMPLETE,
	KONCE_PMTUD_ERROR,
};

typedef struct konce_pmtud {
	enum konce_pmtud_state state;
	uint16_t plpmtu;         /* DATA packets may be this large */
	uint16_t max;            /* upper bound */
	uint16_t hi;             /* SEARCHING: largest size not known to fail */
	uint16_t probed;         /* size of the outstanding probe; 0 = none */
	uint16_t retry;          /* a size lost fewer than MAX_PROBES times, to probe again; 0 = none */
	uint16_t suspect;        /* a black hole is suspected at this PLPMTU: probing it; 0 = none */
	bool tried_max;          /* SEARCHING: max was probed first */
	bool eager;              /* BASE: the next probe is max, before BASE (a new path's search) */
	uint8_t probe_losses;    /* of the current candidate size */
	uint8_t big_lost;        /* black-hole run: large packets lost, none acked since */
	uint64_t probe_pn;
	uint64_t probe_deadline; /* the outstanding probe counts as lost at this time */
	uint64_t again_at;       /* SEARCH_COMPLETE, ERROR: when to probe again */
	/* statistics of this search (earlier channels' are in their konce_pmtud_kept) */
	uint32_t probes_sent, probes_lost, blackholes;
} konce_pmtud;

/* What a presence keeps of its earlier channels' searches (ep_msg.c shrink, ep_pmtud.c): all
 * zero for a session that never searched. */
typedef struct konce_pmtud_kept {
	uint16_t plpmtu; /* a completed search's PLPMTU, to resume at; 0 = none (resume from BASE) */
	uint16_t max;    /* the bound of the last search; 0 = none ran */
	uint32_t probes_sent, probes_lost, blackholes; /* summed over the searches */
} konce_pmtud_kept;

/* DISABLED, plpmtu = BASE. */
void konce_pmtud_init(konce_pmtud *p);
/* DISABLED -> BASE with upper bound max (clamped to [BASE, KONCE_PMTU_MAX]). */
void konce_pmtud_start(konce_pmtud *p, size_t max, uint64_t now);
/* The path changed: BASE (if started), plpmtu = BASE, upper bound max. */
void konce_pmtud_reset(konce_pmtud *p, size_t max, uint64_t now);
/* The search ends (its channel shrinks): its result and counts go to k (see the diagram); p may
 * be freed after. */
void konce_pmtud_keep(const konce_pmtud *p, konce_pmtud_kept *k);
/* DISABLED -> SEARCH_COMPLETE at k's PLPMTU if it has one and max (clamped as by start) is the
 * bound it was found under, else BASE as konce_pmtud_start().  The counts stay in k. */
void konce_pmtud_resume(konce_pmtud *p, const konce_pmtud_kept *k, size_t max, uint64_t now);
/* The path of a session without search state changed: k keeps no PLPMTU, and max is the new
 * bound (if a search ran).  Returns true if k had a search to forget. */
bool konce_pmtud_kept_reset(konce_pmtud_kept *k, size_t max);
/* The state a presence reports for k: SEARCH_COMPLETE (a PLPMTU kept), BASE (the next search
 * starts there) or DISABLED (none ran). */
enum konce_pmtud_state konce_pmtud_kept_state(const konce_pmtud_kept *k);
/* The size to probe now, or 0 (none due; one is already outstanding; DISABLED). */
size_t konce_pmtud_probe_due(konce_pmtud *p, uint64_t now);
/* The probe of `size` left as packet number pn; it is lost if not acked by now + timeout_us
 * (at least KONCE_PMTU_PROBE_MIN_MS). */
void konce_pmtud_probe_sent(konce_pmtud *p, size_t size, uint64_t pn, uint64_t now, uint64_t timeout_us);
/* An ACK frame arrived.  Returns true if the PLPMTU grew. */
bool konce_pmtud_on_ack(konce_pmtud *p, const konce_ack *a, uint64_t now);
/* Of the packets the reliability layer just settled, nlost_big larger than BASE were declared
 * lost and nacked_big acknowledged.  Returns true if this made it suspect a black hole (plpmtu
 * fell to BASE until a probe decides). */
bool konce_pmtud_on_loss(konce_pmtud *p, size_t nlost_big, size_t nacked_big, uint64_t now);
/* The probe timeout.  Returns true if the state changed. */
bool konce_pmtud_tick(konce_pmtud *p, uint64_t now);
/* When konce_pmtud_tick() or konce_pmtud_probe_due() has something to do (UINT64_MAX: never). */
uint64_t konce_pmtud_next_timer(const konce_pmtud *p, uint64_t now);

#endif
