/* test_ncnote_punch.c - what the node core notes to the store of a session with a key it reaches
 * through a rendezvous, when the other's handshake wins the race to it (docs/STORE.md, the peers
 * table: such a session is noted without an address).
 *
 * Two node cores, a hand-moved clock, datagrams carried by this file.  Side B asks for A by key:
 * its traversal hooks (played here: resolve, outgoing, is_virtual, traversed) give its dial a path
 * handle and hold its datagrams, as the traversal core does while it waits for the introduction.
 * A, introduced first, reaches B's NAT mapping (its real address here) and its handshake crosses
 * B's own attempt there: the endpoint's simultaneous open leaves one session, at A's real
 * address (the mapping A's NAT opened towards B), before B's traversal core knows that path.
 *
 *   - the race: B's session with A runs at A's real address (so the race is reproduced), yet no
 *     note B makes for A carries an address, and B's known-keys cache holds none for A; with both
 *     key orders (either side wins the tie-break);
 *   - the same race with no traversal entry for A (traversed says no): the address is noted, so
 *     the rule is traversal's, not the race's;
 *   - B dials A at a real address itself while traversal holds an entry for A: that address is
 *     noted (only a path reached by rendezvous goes unnoted);
 *   - a message of B's own reaching A over such a session (TRUSTED, for a key that only dialled
 *     B) carries no address either;
 *   - the mirrored race: A's handshake starts with a tagged HELLO (traversal's probe, trav_hs.c)
 *     that reaches B before B's own introduction, so B has no traversal entry for A yet: the
 *     session is noted without its address, as one that grew out of a probe; a probe whose tag
 *     claims another key keeps nothing from A's own session, which is noted with its address.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/wire.h"
#include "node/core/nodecore.h"
#include "node/transport/identity.h"
#include "tests/unit/nc_fixture.h"

enum { APP = 300, MS = 1000 };

struct side {
	int i;            /* which core: w->f.c[i], at w->f.addr[i] */
	bool traversed;   /* the traversal hook: an entry for the other's key */
	const uint8_t *tag; /* non-NULL: our HELLOs to a real address go out tagged with this key */
	unsigned resolved, held, tagged;
	int up;
	konce_addr up_at; /* PEER_UP's address */
	unsigned notes_other, addr_notes_other, trusted_other;
	konce_addr noted; /* the last address noted for the other */
	struct world *w;
};

struct world {
	nc_fix f;         /* first: the hooks cast it back */
	struct side s[2]; /* 0: A, 1: B */
};

static const uint8_t *pk_of(struct world *w, int i) { return nc_fix_pk(&w->f, i); }

static bool h_is_virtual(void *ctx, const konce_addr *a)
{
	(void)ctx;
	return a->path != 0;
}

/* A HELLO made traversal's probe, as trav_hs.c tags one (its MAC left zero: B holds no
 * introduction to check it against) and carried to the other side. */
static void send_tagged(struct side *sd, const uint8_t *pkt, size_t len)
{
	nc_fix *f = &sd->w->f;
	uint8_t copy[KONCE_WIRE_MAX_DATAGRAM];
	memcpy(copy, pkt, len);
	memcpy(copy + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4);
	memcpy(copy + KONCE_HELLO_TRAV_KEY, sd->tag, KONCE_WIRE_KEY);
	wire_put64(copy + KONCE_HELLO_TRAV_INTRO, 7);
	memset(copy + KONCE_HELLO_TRAV_MAC, 0, KONCE_HELLO_TRAV_END - KONCE_HELLO_TRAV_MAC);
	konce_nodecore_input(f->c[!sd->i], 0, copy, len, &f->addr[sd->i], f->now);
}

static bool h_outgoing(void *ctx, const uint8_t *pkt, size_t len, const konce_addr *to)
{
	struct side *sd = ctx;
	if (!to->path) {
		if (!sd->tag || pkt[0] != KONCE_PKT_HELLO || len != KONCE_HELLO_SIZE)
			return false;
		send_tagged(sd, pkt, len);
		sd->tagged++;
		return true;
	}
	sd->held++; /* the introduction has not come: the traversal core holds it */
	return true;
}

static int h_resolve(void *ctx, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	struct side *sd = ctx;
	(void)pk;
	sd->resolved++;
	*a = konce_addr_path(1);
	return 0;
}

static bool h_traversed(void *ctx, const uint8_t pk[KONCE_KEY_BYTES])
{
	struct side *sd = ctx;
	return sd->traversed && !memcmp(pk, pk_of(sd->w, !sd->i), KONCE_KEY_BYTES);
}

static void on_app(void *ctx, konce_node *node, const konce_message *m)
{
	(void)ctx;
	(void)node;
	(void)m;
}

static void on_outcome(void *ctx, int outcome, int reason, const uint8_t *data, size_t len)
{
	int *o = ctx;
	(void)reason;
	(void)data;
	(void)len;
	*o = outcome;
}

static void on_event(nc_fix *f, int i, const konce_nc_event *ev)
{
	struct side *sd = &((struct world *)f)->s[i];
	if (ev->type == KONCE_NC_EV_PEER && ev->peer_event == KONCE_PEER_UP) {
		sd->up++;
		sd->up_at = ev->addr;
	}
}

/* The notes side i makes for the other's key. */
static void on_note(nc_fix *f, int i, const konce_nc_note *no)
{
	struct side *sd = &((struct world *)f)->s[i];
	if (memcmp(no->pk, nc_fix_pk(f, !i), KONCE_KEY_BYTES))
		return;
	sd->notes_other++;
	sd->trusted_other += no->type == KONCE_NC_NOTE_TRUSTED;
	if (no->has_addr) {
		sd->addr_notes_other++;
		sd->noted = no->addr;
	}
}

static void side_init(struct world *w, int i, uint8_t seed, const char *addr)
{
	struct side *sd = &w->s[i];
	uint8_t secret[32];
	memset(secret, seed, sizeof secret);
	sd->w = w;
	sd->i = i;
	assert_int_equal(konce_identity_from_secret(&w->f.id[i], secret), 0);
	konce_nodecore_config cfg = {
		.ep = {.identity = w->f.id[i], .explicit_identity = true},
		.notes = true,
		.hooks = {.ctx = sd, .outgoing = h_outgoing, .resolve = h_resolve, .is_virtual = h_is_virtual,
			  .traversed = h_traversed},
	};
	nc_fix_core(&w->f, i, &cfg, addr, APP, on_app, sd);
}

/* A's secret byte and B's: the order of the keys decides which attempt the tie-break keeps. */
static void world_init(struct world *w, uint8_t seed_a, uint8_t seed_b)
{
	memset(w, 0, sizeof *w);
	w->f = (nc_fix){.now = NC_FIX_START, .steps = 100000, .event = on_event, .note = on_note};
	side_init(w, 0, seed_a, "198.51.100.10:7000"); /* A's NAT mapping towards B */
	side_init(w, 1, seed_b, "198.51.100.20:7000"); /* B's, which the rendezvous told A */
}

static void world_free(struct world *w) { nc_fix_free(&w->f); }

/* Side i sends the other a one-byte message, hinted at the other's real address or not, and the
 * cores run for 3 s: it is delivered. */
static void deliver(struct world *w, int i, bool hinted)
{
	int outcome = 0;
	char hint[KONCE_ADDR_STRLEN];
	konce_send_opts o = {.addr_hint = konce_addr_str(&w->f.addr[!i], hint)};
	assert_int_equal(konce_nodecore_send(w->f.c[i], pk_of(w, !i), APP, (const uint8_t *)(i ? "b" : "a"), 1,
					     hinted ? &o : NULL, on_outcome, &outcome, w->f.now, NULL),
			 0);
	nc_fix_run(&w->f, w->f.now + 3000 * MS);
	assert_int_equal(outcome, KONCE_OUTCOME_DELIVERED);
}

/* The race: B asks for A by key (a path handle; its HELLO held), then A's handshake reaches B's
 * real address.  A sends a message of its own over the session, which B answers. */
static void race(struct world *w, bool b_traversed)
{
	struct side *b = &w->s[1];
	int ob = 0;
	b->traversed = b_traversed;
	assert_int_equal(konce_nodecore_send(w->f.c[1], pk_of(w, 0), APP, (const uint8_t *)"b", 1, NULL, on_outcome, &ob,
					     w->f.now, NULL),
			 0);
	nc_fix_drain(&w->f, 1);
	assert_int_equal(b->resolved, 1);
	assert_true(b->held >= 1); /* B's HELLO waits for the introduction */
	w->f.now += 50 * MS;
	deliver(w, 0, true);
	assert_int_equal(b->up, 1);
	/* the race happened: B's session runs at A's real address, not at the path handle */
	assert_true(konce_addr_eq(&b->up_at, &w->f.addr[0]));
	assert_true(b->notes_other >= 2); /* SEEN and HANDSHAKE at least */
}

static void test_race_not_noted(void **state)
{
	(void)state;
	for (int order = 0; order < 2; order++) {
		struct world w;
		world_init(&w, order ? 0x11 : 0x77, order ? 0x77 : 0x11);
		race(&w, true);
		assert_int_equal(w.s[1].addr_notes_other, 0);
		konce_addr x;
		assert_int_equal(konce_nodecore_known_addr(w.f.c[1], pk_of(&w, 0), &x), -ENOENT);
		/* A dialled B's real address itself: that one it notes */
		assert_true(w.s[0].addr_notes_other >= 1);
		assert_true(konce_addr_eq(&w.s[0].noted, &w.f.addr[1]));
		world_free(&w);
	}
}

static void test_race_without_traversal_noted(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 0x77, 0x11);
	race(&w, false);
	assert_true(w.s[1].addr_notes_other >= 1);
	assert_true(konce_addr_eq(&w.s[1].noted, &w.f.addr[0]));
	world_free(&w);
}

/* B dials A at A's real address itself, while its traversal core holds an entry for A: noted. */
static void test_own_dial_noted(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 0x77, 0x11);
	struct side *b = &w.s[1];
	b->traversed = true;
	deliver(&w, 1, true);
	assert_int_equal(b->resolved, 0);
	assert_true(b->addr_notes_other >= 1);
	assert_true(konce_addr_eq(&b->noted, &w.f.addr[0]));
	world_free(&w);
}

/* A dials B; B, whose traversal core holds an entry for A, sends A a message over that incoming
 * session: the trust signal records A, still without the session's address. */
static void test_trusted_not_noted(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 0x77, 0x11);
	struct side *b = &w.s[1];
	b->traversed = true;
	deliver(&w, 0, true);
	assert_true(konce_addr_eq(&b->up_at, &w.f.addr[0]));
	deliver(&w, 1, false);
	assert_int_equal(b->trusted_other, 1);
	assert_int_equal(b->addr_notes_other, 0);
	world_free(&w);
}

/* The mirrored race: A's handshake, tagged as traversal's probe, reaches B before B's
 * introduction (no traversal entry, no dial of B's own).  B answers it and the session runs at A's
 * real address; tag: the key A's probe claims. */
static void mirrored(struct world *w, bool claim_own)
{
	struct side *a = &w->s[0], *b = &w->s[1];
	static const uint8_t other_key[KONCE_KEY_BYTES] = {9, 9, 9};
	a->tag = claim_own ? pk_of(w, 0) : other_key;
	deliver(w, 0, true);
	assert_true(a->tagged >= 1);
	assert_int_equal(b->up, 1);
	assert_true(konce_addr_eq(&b->up_at, &w->f.addr[0]));
	assert_true(b->notes_other >= 2);
}

static void test_mirrored_race_not_noted(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 0x77, 0x11);
	mirrored(&w, true);
	assert_int_equal(w.s[1].addr_notes_other, 0);
	world_free(&w);
}

static void test_probe_for_another_key_noted(void **state)
{
	(void)state;
	struct world w;
	world_init(&w, 0x77, 0x11);
	mirrored(&w, false);
	assert_true(w.s[1].addr_notes_other >= 1);
	assert_true(konce_addr_eq(&w.s[1].noted, &w.f.addr[0]));
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_race_not_noted),
		cmocka_unit_test(test_race_without_traversal_noted),
		cmocka_unit_test(test_own_dial_noted),
		cmocka_unit_test(test_trusted_not_noted),
		cmocka_unit_test(test_mirrored_race_not_noted),
		cmocka_unit_test(test_probe_for_another_key_noted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
