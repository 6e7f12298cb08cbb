/* ncpeerconf.c - what our own dials to a key use: the identity we show it, and the group key of a
 * limited-circulation server.
 *
 * The identity rule (docs/KEYS.md, "Which key a node shows"), for a dial of pk to address `to`:
 *   1. the peer's own setting (konce_nodecore_peer_identity: konce.conf identity_master, or an
 *      API caller), if it has one;
 *   2. master if `to` is a traversal address (the hook's is_virtual): the rendezvous introduced us
 *      by our master key, so the peer knows it already, and a simultaneous open needs it;
 *   3. master if pk has a petname (known and named): a peer we named is one we want to recognise
 *      us, and the one that can send to us later by key;
 *   4. master if pk is a member of one of our groups, or one a joining group asks to let it in:
 *      the group knows each member by its master key (ncgroup.c);
 *   5. otherwise the node's default: cfg.per_server ? a key derived for pk : master.
 * Incoming sessions always run under the key the peer dialled, our master key.
 *
 * Entries live in one table of KONCE_NC_PEERCONF_MAX, in locked memory (a group key is a secret
 * shared by the group), allocated at the first entry and wiped when the core is freed.  A lookup
 * is a linear scan: it runs once per dial.
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "node/base/secmem.h"
#include "node/core/nc_int.h"
#include "node/core/ncgroup.h"

struct ncpeerconf {
	uint8_t pk[KONCE_KEY_BYTES];
	uint8_t group[KONCE_KEY_BYTES];
	uint8_t used, has_group, identity;
};

static struct ncpeerconf *find(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	for (unsigned i = 0; c->peerconf && i < KONCE_NC_PEERCONF_MAX; i++)
		if (c->peerconf[i].used && !sodium_memcmp(c->peerconf[i].pk, pk, KONCE_KEY_BYTES))
			return &c->peerconf[i];
	return NULL;
}

/* pk's entry, made if need be: NULL with *err when the table is full or cannot be allocated. */
static struct ncpeerconf *entry(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], int *err)
{
	struct ncpeerconf *e = find(c, pk);
	if (e)
		return e;
	if (!c->peerconf) {
		*err = -ENOMEM;
		c->peerconf = konce_secmem_alloc(sizeof(struct ncpeerconf) * KONCE_NC_PEERCONF_MAX, err);
		if (!c->peerconf)
			return NULL;
		memset(c->peerconf, 0, sizeof(struct ncpeerconf) * KONCE_NC_PEERCONF_MAX);
	}
	for (unsigned i = 0; i < KONCE_NC_PEERCONF_MAX; i++)
		if (!c->peerconf[i].used) {
			e = &c->peerconf[i];
			e->used = 1;
			memcpy(e->pk, pk, KONCE_KEY_BYTES);
			return e;
		}
	*err = -ENOSPC;
	return NULL;
}

/* An entry with nothing set goes. */
static void tidy(struct ncpeerconf *e)
{
	if (e->identity == KONCE_NC_ID_UNSET && !e->has_group)
		sodium_memzero(e, sizeof *e);
}

int konce_nodecore_peer_identity(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], int identity)
{
	if (!c || !pk || identity < KONCE_NC_ID_UNSET || identity > KONCE_NC_ID_MASTER)
		return -EINVAL;
	int err = 0;
	struct ncpeerconf *e = identity == KONCE_NC_ID_UNSET ? find(c, pk) : entry(c, pk, &err);
	if (!e)
		return err;
	e->identity = (uint8_t)identity;
	tidy(e);
	return 0;
}

int konce_nodecore_peer_group(konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES],
			      const uint8_t *group_key)
{
	if (!c || !pk)
		return -EINVAL;
	int err = 0;
	struct ncpeerconf *e = group_key ? entry(c, pk, &err) : find(c, pk);
	if (!e)
		return err;
	e->has_group = group_key != NULL;
	if (group_key)
		memcpy(e->group, group_key, KONCE_KEY_BYTES);
	else
		sodium_memzero(e->group, sizeof e->group);
	tidy(e);
	return 0;
}

int konce_nodecore_identity_for(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES], const konce_addr *to)
{
	const struct ncpeerconf *e = find(c, pk);
	if (e && e->identity != KONCE_NC_ID_UNSET)
		return e->identity;
	if (to && c->cfg.hooks.is_virtual && c->cfg.hooks.is_virtual(c->cfg.hooks.ctx, to))
		return KONCE_NC_ID_MASTER;
	if (konce_nodecore_known(c, pk) & KONCE_NC_NAMED)
		return KONCE_NC_ID_MASTER;
	if (konce_nodecore_groups_have_key(c, pk))
		return KONCE_NC_ID_MASTER;
	return c->cfg.per_server ? KONCE_NC_ID_PER_SERVER : KONCE_NC_ID_MASTER;
}

const uint8_t *ncpeerconf_group(const konce_nodecore *c, const uint8_t pk[KONCE_KEY_BYTES])
{
	const struct ncpeerconf *e = find(c, pk);
	return e && e->has_group ? e->group : NULL;
}

void ncpeerconf_free(konce_nodecore *c)
{
	konce_secmem_free(c->peerconf, sizeof(struct ncpeerconf) * KONCE_NC_PEERCONF_MAX);
	c->peerconf = NULL;
}
