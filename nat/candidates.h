/* candidates.h - gathering, classifying and ordering traversal candidates.
 *
 * A peer's candidates are the addresses it may be reached at: host (its interfaces: peers on one
 * LAN meet there without hairpinning), reflexive (what each rendezvous saw), port-mapped (leased
 * by the I/O layer through NAT-PMP / UPnP-IGD; only a type here) and, computed by the other side,
 * predicted (the next ports of a sequential allocator).
 *
 * Mapping behaviour: two rendezvous at different addresses see the same reflexive address only if
 * the NAT maps endpoint-independently (EIM).  Different ports mean endpoint-dependent mapping
 * (EDM); if the two ports are at most KONCE_RDV_SEQ_MAX_STEP apart the allocator is taken to be
 * sequential, with that step, and the peer can predict the next mappings: last + step x k.
 *
 * Pairs: a node punches from one socket (sock 0) and, only for birthday probing (punch.h), from
 * extra sockets 1..KONCE_PUNCH_BIRTHDAY; a pair is (local socket, remote target).  The remote
 * targets of sock 0 are tried in this order, each address once:
 *   1. host       - cheapest path, and the only one between two hosts behind one NAT without
 *                   hairpinning;
 *   2. mapped     - a port forward accepts anyone;
 *   3. predicted  - only for an EDM_SEQ peer, KONCE_PREDICT_WINDOW ports after its last observed
 *                   mapping, in increasing order;
 *   4. reflexive  - last, so that probing them (each a new mapping on an EDM NAT) does not shift
 *                   the ports predicted above.
 * Except when both sides map endpoint-dependently and the peer allocates sequentially: then the
 * predicted window comes first (predicted, host, mapped, reflexive).  Every new destination costs
 * an EDM NAT a port, even one that is never reached (a private host candidate of another LAN: a
 * real sequential NAT translates that probe too), and the peer predicts our ports as our last
 * observed one + step x k.  So the first KONCE_PREDICT_WINDOW new destinations of each side must
 * be the other's predicted ports, in increasing order: then both NATs allocate their k-th new
 * mappings for each other, and the k-th probes of the two sides match (docs/TRAVERSAL.md).
 * If our sequential NAT made d new mappings since the registration saw its last port (the node's
 * filtering test opens one), our k-th probe leaves from last + step x (d + k); we then skip the
 * peer's first d ports too, probing its last + step x (d + k).  Each side shifting by its own d
 * keeps a matching pair for any dA, dB with |dA - dB| < KONCE_PREDICT_WINDOW: A's i-th probe and
 * B's j-th match when i + dA = j + dB (the peer need not know our d).
 */
#ifndef KONCE_CANDIDATES_H
#define KONCE_CANDIDATES_H

#include "nat/rdvwire.h"

enum { KONCE_PREDICT_WINDOW = 16, KONCE_CAND_MAX_TARGETS = 40 };

typedef struct konce_target {
	unsigned sock;   /* local socket: 0, or 1..KONCE_PUNCH_BIRTHDAY */
	konce_addr addr; /* remote address */
	uint8_t type;    /* KONCE_CAND_* of the remote side */
} konce_target;

/* The mapping behaviour from the reflexive addresses that n >= 0 distinct rendezvous saw. */
konce_natinfo konce_candidates_classify(const konce_addr *refl, unsigned n);

/* The step of a sequential NAT, read off the rendezvous alone, is too large when the NAT made
 * another mapping between the registrations (the mapping-lifetime test's socket, which starts at
 * the same time, or another host behind the NAT): ports 2 apart read as step 2, the peer then
 * predicts every second port and no probe pair meets.  x is a later mapping of the same NAT (the
 * filtering test's fresh socket).  Every allocation since the registrations lies a multiple of the
 * true step above ni.last_port, so the step becomes gcd(step, x.port - last_port).  Returns ni
 * unchanged unless it is EDM_SEQ, x has ip's address, and 0 < x.port - last_port <=
 * KONCE_PREDICT_WINDOW x KONCE_RDV_SEQ_MAX_STEP (an older or unrelated x proves nothing). */
konce_natinfo konce_candidates_refine(konce_natinfo ni, const konce_addr *ip, const konce_addr *x);
/* konce_candidates_refine over n later mappings x[0..n-1] (the filtering test's fresh socket, the
 * mapping-lifetime probe socket as its rendezvous saw it): the step becomes the gcd of the step and
 * every sample's distance above ni.last_port.  One sample alone can sit an even distance away when
 * another mapping came between (registrations p, p+2 read step 2; the probe socket at p+3 and the
 * fresh socket at p+4: p+4 alone keeps 2, p+3 shows 1).  Each x must be a mapping of this host
 * through the same NAT, so that a true step of 2 stays 2. */
konce_natinfo konce_candidates_refine_all(konce_natinfo ni, const konce_addr *ip, const konce_addr *x, unsigned n);

/* The candidates a node registers: hosts (up to n_host), then the distinct reflexive and mapped
 * addresses.  Returns how many were written to out (at most cap). */
unsigned konce_candidates_gather(konce_cand *out, unsigned cap, const konce_addr *host, unsigned n_host,
				 const konce_addr *refl, unsigned n_refl, const konce_addr *mapped, unsigned n_mapped);

/* Predicted addresses for an EDM_SEQ peer whose reflexive IP is ip: n ports after nat->last_port.
 * Returns how many were written (0 if nat is not EDM_SEQ). */
unsigned konce_candidates_predict(konce_addr *out, unsigned n, const konce_natinfo *nat, const konce_addr *ip);

/* The ordered, de-duplicated sock-0 targets for a peer with candidates c[0, n) and NAT info nat,
 * our own NAT being self (NULL: unknown), which has made self_spent new mappings since the port
 * in self->last_port (see above).  Returns the count (at most cap). */
unsigned konce_candidates_targets(konce_target *out, unsigned cap, const konce_cand *c, unsigned n,
				  const konce_natinfo *nat, const konce_natinfo *self, unsigned self_spent);

/* What the INTRO says of a direct path between two sides (docs/TRAVERSAL.md "What happens for
 * each NAT pair"), a pure and symmetric function of what both sides see (f(a, b) == f(b, a)), so
 * that both choose the same start state (punch.h):
 *   EXPECTED   - either side has a port-mapped candidate (a forward accepts anyone), or neither
 *                side allocates at random: hold traffic, punch;
 *   UNKNOWN    - no port mapping, and a side's mapping is unknown (it registered with one
 *                rendezvous, which sees one mapping only), or both sides' reflexive addresses
 *                share one public IP and neither offers a host candidate (a shared CGNAT: only
 *                its hairpin, unknown, can carry a direct path): no claim either way, so the
 *                relay at once (the first answer must not wait for a give-up) while the punch
 *                runs;
 *   BIRTHDAY   - one side EIM, the other EDM random: direct only by birthday probing (the INTRO
 *                carries no filtering, so an EIF/ADF side, direct at once, counts here too);
 *   IMPOSSIBLE - both EDM, at least one random: relay.
 * The candidates may be NULL (n = 0). */
enum konce_candidates_expect {
	KONCE_CAND_DIRECT_EXPECTED = 0,
	KONCE_CAND_DIRECT_BIRTHDAY,
	KONCE_CAND_DIRECT_IMPOSSIBLE,
	KONCE_CAND_DIRECT_UNKNOWN,
};
/* Both sides behind one public address (a shared CGNAT, or one NAT: a reflexive candidate of each
 * on one IP), neither offering a host candidate: only that NAT's hairpin can carry a direct path,
 * and nothing says whether it hairpins. */
bool konce_candidates_shared_public(const konce_cand *a, unsigned na, const konce_cand *b, unsigned nb);
enum konce_candidates_expect konce_candidates_direct_expectation(const konce_natinfo *self, const konce_cand *self_c,
								 unsigned nself, const konce_natinfo *peer,
								 const konce_cand *peer_c, unsigned npeer);

/* Appends t unless (sock, addr) is already there; false if it was there or no room. */
bool konce_candidates_add_target(konce_target *list, unsigned *n, unsigned cap, const konce_target *t);

#endif
