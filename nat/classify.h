/* classify.h - NAT behaviour discovery (RFC 5780) as a sans-I/O state machine.
 *
 * The machine decides which test to run next and what the answers mean; the caller owns the sockets
 * and the clock.  It works the same against a konce probe listener and an RFC 5780 STUN server: both
 * offer a primary address A1:P1 and an alternate A2:P2 (probe F_OTHER / STUN OTHER-ADDRESS), can
 * answer from the other port or the other address (probe command / STUN CHANGE-REQUEST), and, for the
 * lifetime test, to another port of the sender (REPLY_TO_PORT / RESPONSE-PORT).
 *
 * Local socket 0 runs the mapping tests; socket 1 the filtering tests (a fresh mapping, so that the
 * mapping tests have not already opened the filter to A2); socket 2 sends the hairpin packet; sockets
 * 3.. give fresh mappings for the port-allocation sample and the lifetime test.  The caller opens
 * socket i, bound to the same local address, the first time a probe names it.
 *
 *   konce_classify_poll()        konce_classify_input() / konce_classify_timer() move the machine along
 *
 *   BASIC  --timeout--> DONE (blocked)
 *     | answer X1, other A2:P2
 *     v
 *   MAP_ALT_ADDR  (to A2:P1)  --X2 == X1--> EIM --------------------------+
 *     | X2 != X1                                                          |
 *   MAP_ALT_BOTH  (to A2:P2)  --X3 == X2--> ADM, else APDM ---------------+
 *   MAP_ALT_PORT  (to A1:P2, only when there is no A2): same X --> port-independent, else APDM
 *     |                                                                   |
 *   FILT_BOTH (socket 1 to A1:P1, "answer from A2:P2") --answer--> EIF ---+
 *     | timeout                                                           |
 *   FILT_PORT (socket 1 to A1:P1, "answer from A1:P2") --answer--> ADF, timeout --> APDF
 *     |
 *   HAIRPIN (socket 2 to X1, watched on socket 0; only behind a NAT)
 *     |
 *   PORTS (sockets 3..3+KONCE_CLASSIFY_PORT_SAMPLES-1 to A1:P1: allocation pattern)
 *     |
 *   LIFE_MAP (fresh socket k to A1:P1: mapping Xk)  <----------------------+
 *     |                                                                    |
 *   LIFE_CHECK (after T idle: socket k+1 asks A1:P1 to answer to Xk.port,  |
 *               watched on socket k): alive/dead at T, choose the next T --+   (only when asked)
 *     |
 *   DONE
 *
 * Invariants:
 *  1. Exactly one probe is outstanding between konce_classify_poll() and its answer or timeout; answers
 *     and timeouts arriving when none is outstanding are ignored (counted in result.ignored).
 *  2. A test the server cannot support (no alternate address, no alternate port, no reply-to-port) is
 *     skipped and its result stays UNKNOWN (or the weaker "port-independent"); it is never guessed.
 *  3. The lifetime search never schedules an idle period longer than cfg.lifetime_max_s, and runs at
 *     most KONCE_CLASSIFY_LIFE_MAX_STEPS checks.
 */
#ifndef KONCE_NAT_CLASSIFY_H
#define KONCE_NAT_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "nat/nat.h"
#include "node/base/addr.h"

enum {
	KONCE_CLASSIFY_PORT_SAMPLES = 4,     /* fresh sockets in the allocation test */
	KONCE_CLASSIFY_MAX_SAMPLES = 12,     /* mappings remembered for the allocation verdict */
	KONCE_CLASSIFY_SEQ_MAX_STEP = 32,    /* a step in (0, this] between new mappings counts as sequential */
	KONCE_CLASSIFY_LIFE_MAX_STEPS = 12,
};

enum konce_classify_test {
	KONCE_CLASSIFY_T_BASIC,
	KONCE_CLASSIFY_T_MAP_ALT_ADDR,
	KONCE_CLASSIFY_T_MAP_ALT_BOTH,
	KONCE_CLASSIFY_T_MAP_ALT_PORT,
	KONCE_CLASSIFY_T_FILT_BOTH,
	KONCE_CLASSIFY_T_FILT_PORT,
	KONCE_CLASSIFY_T_HAIRPIN,
	KONCE_CLASSIFY_T_PORTS,
	KONCE_CLASSIFY_T_LIFE_MAP,
	KONCE_CLASSIFY_T_LIFE_CHECK,
	KONCE_CLASSIFY_T_DONE,
};

/* What the server is asked to do (the same codes as the probe commands, which STUN maps to
 * CHANGE-REQUEST and RESPONSE-PORT). */
enum konce_classify_ask {
	KONCE_CLASSIFY_ASK_SAME = 1,
	KONCE_CLASSIFY_ASK_OTHER_PORT = 2,
	KONCE_CLASSIFY_ASK_OTHER_BOTH = 3,
	KONCE_CLASSIFY_ASK_TO_PORT = 5,
};

typedef struct konce_classify_config {
	konce_addr server;        /* A1:P1, where the basic test goes */
	bool reply_to_port;       /* the server can answer to another port of ours (lifetime test) */
	bool lifetime;            /* run the lifetime test */
	uint32_t lifetime_first_s; /* first idle period tried (default 5) */
	uint32_t lifetime_max_s;  /* longest idle period tried (default 120) */
	uint64_t timeout_us;      /* per test, default 1.5 s */
	uint64_t resend_us;       /* default 300 ms */
} konce_classify_config;

/* The next thing the caller must do. */
typedef struct konce_classify_probe {
	enum konce_classify_test test;
	unsigned sock;            /* local socket to send from */
	unsigned expect_sock;     /* where the answer (or the hairpinned probe itself) must arrive */
	konce_addr to;
	enum konce_classify_ask ask;
	uint16_t reply_port;      /* KONCE_CLASSIFY_ASK_TO_PORT */
	bool hairpin;             /* to is our own mapping; the "answer" is this very packet arriving */
	uint64_t not_before;      /* send first at this time (lifetime waits) */
	uint64_t deadline;        /* call konce_classify_timer() at this time if nothing came */
	uint64_t resend_us;       /* resend this often until the deadline */
} konce_classify_probe;

/* What came back for the outstanding probe. */
typedef struct konce_classify_obs {
	konce_addr local;         /* the local address of the socket it arrived on (not wildcard) */
	bool has_mapped;
	konce_addr mapped;        /* our source as the server saw it */
	bool has_other;
	konce_addr other;         /* the server's alternate address, if it said */
} konce_classify_obs;

typedef struct konce_classify_sample {
	uint16_t local_port, mapped_port;
	bool first_for_socket;    /* this socket's first mapping (port preservation is judged on these) */
} konce_classify_sample;

typedef struct konce_classify_result {
	bool blocked;             /* no answer at all to the basic test: UDP blocked (or server down) */
	bool nat;                 /* mapped address differs from the local address */
	bool done;
	konce_addr local, mapped; /* socket 0 and its first mapping X1 */
	bool has_alt_addr, has_alt_port;
	konce_addr other;         /* the server's alternate A2:P2 */
	konce_addr map_alt_addr, map_alt_both; /* X2, X3 when measured (port zero otherwise) */
	enum konce_nat_mapping mapping;
	enum konce_nat_filtering filtering;
	enum konce_nat_ports ports;
	enum konce_nat_tri hairpin;
	unsigned n_samples;
	konce_classify_sample samples[KONCE_CLASSIFY_MAX_SAMPLES];
	uint16_t port_stride;     /* KONCE_NAT_PORTS_SEQUENTIAL: the smallest step between new mappings */
	/* lifetime: alive after lifetime_alive_s of idleness, gone after lifetime_dead_s (0: never seen
	 * gone up to cfg.lifetime_max_s) */
	bool lifetime_measured;
	uint32_t lifetime_alive_s, lifetime_dead_s;
	unsigned tests_run, timeouts, ignored;
} konce_classify_result;

typedef struct konce_classify {
	konce_classify_config cfg;
	konce_classify_result r;
	enum konce_classify_test state;
	bool outstanding;
	konce_classify_probe cur;
	unsigned port_i;          /* next port-sample socket */
	unsigned next_sock;       /* next fresh socket index for the lifetime test */
	uint32_t life_t, life_lo, life_hi; /* current idle period; alive-at / dead-at bounds */
	unsigned life_steps;
	uint64_t life_mapped_at;
	konce_addr life_mapping;
	unsigned life_sock;
} konce_classify;

/* Starts the machine; the caller owns c.  Zero fields of cfg take their defaults. */
void konce_classify_init(konce_classify *c, const konce_classify_config *cfg);
/* The next probe to run, or false when classification is finished (result.done). */
bool konce_classify_poll(konce_classify *c, uint64_t now, konce_classify_probe *p);
void konce_classify_input(konce_classify *c, uint64_t now, const konce_classify_obs *a);
/* Whether the server can answer to another port of ours, once the basic answer has told the caller
 * what kind of server it is (an RFC 3489 STUN server cannot); read when the lifetime test starts. */
void konce_classify_set_reply_to_port(konce_classify *c, bool can);
/* The outstanding probe's deadline passed with no answer: call it at konce_classify_next_timer(). */
void konce_classify_timer(konce_classify *c, uint64_t now);
/* The outstanding probe's deadline, or UINT64_MAX when none is outstanding. */
uint64_t konce_classify_next_timer(const konce_classify *c);
const konce_classify_result *konce_classify_result_get(const konce_classify *c);

/* The test's name for output; the behaviours' names are in nat/nat.h. */
const char *konce_classify_test_str(enum konce_classify_test t);
/* The classic name when the behaviours match one: "open", "firewalled" (no NAT, filtered), "no-nat"
 * (filtering not measured), "full-cone", "restricted-cone", "port-restricted-cone", "symmetric",
 * "symmetric-sequential", "blocked"; else "other". */
const char *konce_classify_classic_str(const konce_classify_result *r);

#endif
