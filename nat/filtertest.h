/* filtertest.h - measuring the NAT's filtering behaviour through rendezvous nodes.  Sans-I/O.
 *
 * RFC 4787 filtering: which outside sources may send to a mapping.  Endpoint-independent (EIF):
 * anyone; address-dependent (ADF): any port of an IP the mapping has sent to; address-and-port-
 * dependent (APDF): only the exact IP:port it has sent to.  The test needs senders the mapping has
 * NOT sent to, and the node's own socket has sent to every rendezvous.  So the caller opens a fresh
 * socket S used for nothing else (the messages are in node/base/wire.h, FILTER):
 *
 *   ECHO    S --ECHO_REQ--> R0 (bare), R0 --ECHO(X)--> S: X is S's mapping, and S has now sent
 *           to R0:port only.  Resent every 300 ms, 5 tries, else the result is UNKNOWN.
 *   PROBING on the sessions: ASK(X) to R1 (a rendezvous whose IP differs from R0's), ASK_ALT(X) to
 *           R0.  Each sends PROBE to X and says SENT(source) on the session.  The asks are repeated
 *           at +500 ms and +1000 ms (a lost probe); the verdict comes at +1500 ms, or at once when
 *           R1's probe arrives:
 *             R1's probe arrived                            EIF
 *             else R0's other-port probe arrived            ADF  (needs R1's SENT: its probe left)
 *             neither, both SENT heard                      APDF
 *             R0's probe arrived, no R1 configured          PORT_INDEPENDENT (one IP cannot tell)
 *             anything else (no SENT: an old rendezvous?)   UNKNOWN, never guessed
 *   DONE
 *
 * Invariants: probes count only with the token of this run and only from the rendezvous IPs;
 * a verdict below EIF needs the SENT of every probe that did not arrive; nothing is allocated
 * after konce_filtertest_new().
 */
#ifndef KONCE_FILTERTEST_H
#define KONCE_FILTERTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nat/nat.h"
#include "nat/rdvwire.h"
#include "node/base/env.h"

typedef struct konce_filtertest konce_filtertest;

enum konce_filtertest_state { KONCE_FILTERTEST_ECHO = 1, KONCE_FILTERTEST_PROBING, KONCE_FILTERTEST_DONE };

/* Where a datagram goes: bare from the fresh socket, or as a message on the session to rdv i. */
typedef struct konce_filtertest_out {
	bool session;
	unsigned rdv;
	konce_addr to; /* bare only */
	size_t len;
	uint8_t buf[KONCE_FILT_SIZE];
} konce_filtertest_out;

/* rdv: the rendezvous addresses (1..4, rdv[0] the primary); copied.  0, -EINVAL, -ENOMEM. */
int konce_filtertest_new(konce_filtertest **out, const konce_env *env, const konce_addr *rdv, unsigned nrdv, uint64_t now);
void konce_filtertest_free(konce_filtertest *f);
/* A datagram that arrived on the fresh socket. */
void konce_filtertest_input_bare(konce_filtertest *f, const uint8_t *pkt, size_t len, const konce_addr *from, uint64_t now);
/* A FILTER message on the session with rdv i. */
void konce_filtertest_input_session(konce_filtertest *f, unsigned i, const uint8_t *pkt, size_t len, uint64_t now);
bool konce_filtertest_poll(konce_filtertest *f, konce_filtertest_out *out);
uint64_t konce_filtertest_next_timer(const konce_filtertest *f);
void konce_filtertest_timer(konce_filtertest *f, uint64_t now);

enum konce_filtertest_state konce_filtertest_state(const konce_filtertest *f);
enum konce_nat_filtering konce_filtertest_result(const konce_filtertest *f);
/* What was seen: S's mapping (0 or -ENOENT), which probes arrived and which were reported sent. */
int konce_filtertest_mapping(const konce_filtertest *f, konce_addr *x);
void konce_filtertest_seen(const konce_filtertest *f, bool *other_rx, bool *alt_rx, bool *other_sent, bool *alt_sent);

#endif
