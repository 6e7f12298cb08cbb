/* ncknown.c - the node core's known keys and their newest addresses, in memory, and the store notes
 * that keep the presence store (store/, written by the I/O layer) in step with them.
 *
 * The I/O layer loads every stored key at start (konce_nodecore_known_load); from then on the core
 * applies each note it makes to this cache by the store's own rules (docs/STORE.md, "Who is
 * recorded"): a note without KONCE_NC_NOTE_IF_KNOWN makes the key known, one with it only updates a
 * key already known, and a SEEN address becomes the key's newest.  So a send to a key with no
 * session finds its address here, and nothing on the send or input path reads SQLite.
 *
 * Petnames: a key's petname rides on its entry (a separate allocation, only for a named key), loaded
 * with it and changed by konce_nodecore_known_name() after the store has taken the change, so a
 * reader of petnames on the loop (`konce group status`, `konce peers`) asks the core, not SQLite.
 * Named entries also sit on a second set of hash chains, keyed by the name, so that a command that
 * names a peer by petname finds its key (konce_nodecore_known_by_name) without a scan.  The store
 * keeps petnames unique; the core only mirrors what the store took.
 *
 * Counts: each entry keeps the store's handshakes and failures and when the key was last seen,
 * loaded with it (konce_nodecore_known_load_counts) and moved by each note as the store's flush
 * moves them (store/queue.c apply()): HANDSHAKE ok adds a handshake, HANDSHAKE failed a failure,
 * TRUSTED makes at least one handshake; SEEN, TRUSTED and a successful HANDSHAKE make the key seen
 * now (the core's clock; the store stamps the wall clock when it writes).
 *
 * Order: the entries sit on one list, most recently seen first, the order of the store's
 * `ORDER BY last_seen DESC` (store/peers.c konce_store_peers_each):
 *   - loads come in that order and join at the oldest end;
 *   - a note that makes a key seen (above) moves it to the newest end;
 *   - a key made known by anything else (a failed handshake, a petname) joins at the oldest end,
 *     as its new row's last_seen 0 sorts last in the store; a known key stays where it is.
 * konce_nodecore_known_each() walks this list, so `konce peers` lists the known keys as the store
 * would, without reading it (keys seen within the same wall second may come in another order).
 *
 * Bounded: at most known_max keys (the store's own cap); beyond, the least recently seen key
 * without a petname (the oldest on the list) goes, as the store's flush evicts it.  Hash chains are
 * keyed with the core's SipHash key.  Notes wait in a ring of KONCE_NC_NOTES_MAX for the I/O
 * layer; beyond that they are dropped and counted (the store's own queue refuses the same way).
 *
 * Invariants: every entry is on its hash chain and on the list exactly once; a named entry is on
 * its name chain; n counts the entries and is at most max.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/core/nc_int.h"

struct kentry {
	uint8_t pk[KONCE_KEY_BYTES];
	konce_addr addr;
	bool has_addr;
	char *name; /* the petname, NULL if none: a named key is never evicted */
	uint32_t handshakes, failures;
	uint32_t rtt_us;   /* as loaded: the node notes no RTT, so the store keeps this one */
	int64_t last_seen; /* wall seconds as loaded, 0 = never; superseded once seen_noted */
	uint64_t seen_us;  /* core time of the last note that made the key seen, if seen_noted */
	bool seen_noted;
	struct kentry *next, *newer, *older;
	struct kentry *name_next; /* on the name chains, while named */
};

struct ncknown {
	struct kentry **b;
	unsigned nb; /* a power of two */
	struct kentry **nbk; /* named entries by name */
	unsigned nnb;        /* a power of two */
	unsigned n, max;
	struct kentry *newest, *oldest; /* the list, most recently seen first */
};

static unsigned bucket(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, pk, KONCE_KEY_BYTES, c->hash_key);
	return (unsigned)(h[0] | h[1] << 8 | h[2] << 16) & (c->known->nb - 1);
}

static unsigned name_bucket(const konce_nodecore *c, const char *name)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, (const unsigned char *)name, strlen(name), c->hash_key);
	return (unsigned)(h[0] | h[1] << 8 | h[2] << 16) & (c->known->nnb - 1);
}

int ncknown_new(konce_nodecore *c)
{
	struct ncknown *k = nc_alloc(c, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->max = c->cfg.known_max ? c->cfg.known_max : KONCE_NC_KNOWN_MAX;
	for (k->nb = 16; k->nb < k->max / 2 && k->nb < (1u << 20); k->nb <<= 1)
		;
	k->nnb = k->nb / 16 > 16 ? k->nb / 16 : 16; /* few keys have petnames */
	k->b = nc_alloc(c, (size_t)k->nb * sizeof(*k->b));
	k->nbk = k->b ? nc_alloc(c, (size_t)k->nnb * sizeof(*k->nbk)) : NULL;
	if (!k->nbk) {
		nc_free(c, k->b);
		nc_free(c, k);
		return -ENOMEM;
	}
	c->known = k;
	return 0;
}

void ncknown_free(konce_nodecore *c)
{
	struct ncknown *k = c->known;
	if (!k)
		return;
	for (struct kentry *e = k->newest, *next; e; e = next) {
		next = e->older;
		nc_free(c, e->name);
		nc_free(c, e);
	}
	nc_free(c, k->b);
	nc_free(c, k->nbk);
	nc_free(c, k);
	c->known = NULL;
	nc_free(c, c->notes);
	c->notes = NULL;
}

static struct kentry *find(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	for (struct kentry *e = c->known->b[bucket(c, pk)]; e; e = e->next)
		if (!memcmp(e->pk, pk, KONCE_KEY_BYTES))
			return e;
	return NULL;
}

static void lru_unlink(struct ncknown *k, struct kentry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		k->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		k->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_front(struct ncknown *k, struct kentry *e)
{
	e->older = k->newest;
	e->newer = NULL;
	if (k->newest)
		k->newest->newer = e;
	k->newest = e;
	if (!k->oldest)
		k->oldest = e;
}

static void name_unlink(konce_nodecore *c, struct kentry *e)
{
	if (!e->name)
		return;
	for (struct kentry **pp = &c->known->nbk[name_bucket(c, e->name)]; *pp; pp = &(*pp)->name_next)
		if (*pp == e) {
			*pp = e->name_next;
			break;
		}
	e->name_next = NULL;
}

static void drop(konce_nodecore *c, struct kentry *e)
{
	struct ncknown *k = c->known;
	for (struct kentry **pp = &k->b[bucket(c, e->pk)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	lru_unlink(k, e);
	k->n--;
	name_unlink(c, e);
	nc_free(c, e->name);
	nc_free(c, e);
}

static void lru_back(struct ncknown *k, struct kentry *e)
{
	e->newer = k->oldest;
	e->older = NULL;
	if (k->oldest)
		k->oldest->older = e;
	k->oldest = e;
	if (!k->newest)
		k->newest = e;
}

/* The entry for pk, made (evicting the least recently seen unnamed key if full) if absent.  seen:
 * the caller makes pk seen now, so it goes to the newest end; else a new entry joins at the oldest
 * end and a known one stays where it is. */
static struct kentry *get(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], bool seen)
{
	struct ncknown *k = c->known;
	struct kentry *e = find(c, pk);
	if (e) {
		if (seen) {
			lru_unlink(k, e);
			lru_front(k, e);
		}
		return e;
	}
	if (k->n >= k->max) {
		struct kentry *v = k->oldest;
		while (v && v->name)
			v = v->newer;
		if (!v)
			return NULL; /* every key has a petname: keep them */
		drop(c, v);
	}
	if (!(e = nc_alloc(c, sizeof(*e))))
		return NULL;
	memcpy(e->pk, pk, KONCE_KEY_BYTES);
	unsigned b = bucket(c, pk);
	e->next = k->b[b];
	k->b[b] = e;
	if (seen)
		lru_front(k, e);
	else
		lru_back(k, e);
	k->n++;
	return e;
}

/* Sets e's petname (NULL or "": none).  0, -EINVAL (too long), -ENOMEM (e unchanged). */
static int set_name(konce_nodecore *c, struct kentry *e, const char *name)
{
	size_t l = name ? strlen(name) : 0;
	char *v = NULL;
	if (l > KONCE_NC_PETNAME_MAX)
		return -EINVAL;
	if (l && !(v = nc_alloc(c, l + 1)))
		return -ENOMEM;
	if (l)
		memcpy(v, name, l + 1);
	name_unlink(c, e);
	nc_free(c, e->name);
	e->name = v;
	if (v) {
		unsigned b = name_bucket(c, v);
		e->name_next = c->known->nbk[b];
		c->known->nbk[b] = e;
	}
	return 0;
}

int konce_nodecore_known_load(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr,
			      const char *petname)
{
	if (petname && strlen(petname) > KONCE_NC_PETNAME_MAX)
		return -EINVAL;
	struct kentry *e = get(c, pk, false); /* loads come most recently seen first: to the oldest end */
	if (!e)
		return -ENOMEM;
	if (addr && !e->has_addr) { /* loads come newest first: keep the first address */
		e->addr = *addr;
		e->has_addr = true;
	}
	return petname && *petname ? set_name(c, e, petname) : 0;
}

int konce_nodecore_known_name(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const char *name)
{
	if (!c || !pk || (name && strlen(name) > KONCE_NC_PETNAME_MAX))
		return -EINVAL;
	/* the store's row exists once it took the change, even for a name cleared on a key it did
	 * not hold (store/peers.c konce_store_set_petname): so does the entry; a cleared key may be
	 * evicted again */
	struct kentry *e = get(c, pk, false);
	return e ? set_name(c, e, name) : -ENOMEM;
}

int konce_nodecore_known_petname(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES],
				 char name[KONCE_NC_PETNAME_MAX + 1])
{
	const struct kentry *e = c && pk ? find(c, pk) : NULL;
	if (!e || !e->name)
		return -ENOENT;
	memcpy(name, e->name, strlen(e->name) + 1);
	return 0;
}

int konce_nodecore_known(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	const struct kentry *e = find(c, pk);
	return !e ? 0 : e->name ? KONCE_NC_KNOWN | KONCE_NC_NAMED : KONCE_NC_KNOWN;
}

int konce_nodecore_known_by_name(const konce_nodecore *c, const char *name, uint8_t pk[KONCE_KEY_BYTES])
{
	if (!c || !name || !*name || strlen(name) > KONCE_NC_PETNAME_MAX)
		return -ENOENT;
	for (const struct kentry *e = c->known->nbk[name_bucket(c, name)]; e; e = e->name_next)
		if (!strcmp(e->name, name)) {
			memcpy(pk, e->pk, KONCE_KEY_BYTES);
			return 0;
		}
	return -ENOENT;
}

int konce_nodecore_known_load_counts(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], uint32_t handshakes,
				     uint32_t failures, int64_t last_seen, uint32_t rtt_us)
{
	struct kentry *e = c && pk ? find(c, pk) : NULL;
	if (!e)
		return -ENOENT;
	e->handshakes = handshakes;
	e->failures = failures;
	e->last_seen = last_seen;
	e->rtt_us = rtt_us;
	return 0;
}

static void fill(const struct kentry *e, konce_nc_known_info *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->pk, e->pk, KONCE_KEY_BYTES);
	if (e->name)
		memcpy(out->petname, e->name, strlen(e->name) + 1);
	out->has_addr = e->has_addr;
	if (e->has_addr)
		out->addr = e->addr;
	out->handshakes = e->handshakes;
	out->failures = e->failures;
	out->rtt_us = e->rtt_us;
	out->last_seen = e->last_seen;
	out->seen_noted = e->seen_noted;
	out->seen_us = e->seen_us;
}

int konce_nodecore_known_info(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], konce_nc_known_info *out)
{
	const struct kentry *e = c && pk ? find(c, pk) : NULL;
	if (!e)
		return -ENOENT;
	fill(e, out);
	return 0;
}

size_t konce_nodecore_known_each(const konce_nodecore *c, size_t limit, konce_nc_known_fn fn, void *ctx)
{
	konce_nc_known_info in;
	size_t n = 0;
	for (const struct kentry *e = c->known->newest; e && (!limit || n < limit); e = e->older) {
		fill(e, &in);
		n++;
		if (fn(ctx, &in))
			break;
	}
	return n;
}

unsigned konce_nodecore_known_count(const konce_nodecore *c) { return c->known->n; }

int konce_nodecore_known_addr(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], konce_addr *a)
{
	const struct kentry *e = find(c, pk);
	if (!e || !e->has_addr)
		return -ENOENT;
	*a = e->addr;
	return 0;
}

static void push_note(konce_nodecore *c, const konce_nc_note *n)
{
	if (c->notes_len == c->notes_cap) {
		size_t cap = c->notes_cap ? c->notes_cap * 2 : 64;
		konce_nc_note *v = cap <= KONCE_NC_NOTES_MAX ? nc_alloc(c, cap * sizeof(*v)) : NULL;
		if (!v) {
			c->notes_dropped++;
			return;
		}
		for (size_t i = 0; i < c->notes_len; i++)
			v[i] = c->notes[(c->notes_head + i) % c->notes_cap];
		nc_free(c, c->notes);
		c->notes = v;
		c->notes_cap = cap;
		c->notes_head = 0;
	}
	c->notes[(c->notes_head + c->notes_len++) % c->notes_cap] = *n;
}

void nc_note(konce_nodecore *c, enum konce_nc_note_type type, const uint8_t pk[KONCE_KEY_BYTES],
	     const konce_addr *addr, bool ok, unsigned flags)
{
	if (c->cfg.notes) {
		konce_nc_note n = {.type = type, .has_addr = addr != NULL, .ok = ok, .flags = flags};
		memcpy(n.pk, pk, KONCE_KEY_BYTES);
		if (addr)
			n.addr = *addr;
		push_note(c, &n);
	}
	if ((flags & KONCE_NC_NOTE_IF_KNOWN) && !find(c, pk))
		return; /* a stranger that only dialled us: the store gets no row, nor does the cache */
	bool seen = type != KONCE_NC_NOTE_HANDSHAKE || ok; /* as the store stamps last_seen */
	struct kentry *e = get(c, pk, seen);
	if (!e)
		return;
	if (addr && (type == KONCE_NC_NOTE_SEEN || type == KONCE_NC_NOTE_TRUSTED)) {
		e->addr = *addr;
		e->has_addr = true;
	}
	/* the counts, as the store's flush moves them (store/queue.c apply()) */
	if (type == KONCE_NC_NOTE_HANDSHAKE && !ok)
		e->failures++;
	else if (type == KONCE_NC_NOTE_HANDSHAKE)
		e->handshakes++;
	else if (type == KONCE_NC_NOTE_TRUSTED && !e->handshakes)
		e->handshakes = 1;
	if (seen) {
		e->seen_us = c->now;
		e->seen_noted = true;
	}
}

void nc_probe_seen(konce_nodecore *c, const uint8_t *pkt, size_t len, const konce_addr *from)
{
	if (len != KONCE_HELLO_SIZE)
		return;
	const uint8_t *pk = pkt + KONCE_HELLO_TRAV_KEY;
	for (unsigned i = 0; i < c->nprobes; i++)
		if (!memcmp(c->probes[i].pk, pk, KONCE_KEY_BYTES) && konce_addr_eq(&c->probes[i].from, from))
			return;
	struct ncprobe *p = &c->probes[c->probes_next];
	c->probes_next = (c->probes_next + 1) % KONCE_NC_PROBES;
	if (c->nprobes < KONCE_NC_PROBES)
		c->nprobes++;
	memcpy(p->pk, pk, KONCE_KEY_BYTES);
	p->from = *from;
}

static bool probed_from(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr)
{
	for (unsigned i = 0; i < c->nprobes; i++)
		if (!memcmp(c->probes[i].pk, pk, KONCE_KEY_BYTES) && konce_addr_eq(&c->probes[i].from, addr))
			return true;
	return false;
}

const konce_addr *nc_note_addr(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *addr,
			       const konce_addr *dialled)
{
	const konce_nodecore_hooks *h = &c->cfg.hooks;
	if (h->is_virtual && h->is_virtual(h->ctx, addr))
		return NULL;
	if (dialled && konce_addr_eq(dialled, addr))
		return addr;
	if (probed_from(c, pk, addr))
		return NULL;
	return h->traversed && h->traversed(h->ctx, pk) ? NULL : addr;
}

bool konce_nodecore_poll_note(konce_nodecore *c, konce_nc_note *note)
{
	if (!c->notes_len)
		return false;
	*note = c->notes[c->notes_head];
	c->notes_head = (c->notes_head + 1) % c->notes_cap;
	c->notes_len--;
	return true;
}
