/* trav_rig.h - the host a traversal core runs on in the unit tests (test_trav.c,
 * test_trav_info.c): a counting env, fixed identities for the node, its rendezvous and a peer
 * (from secrets {0, 1}, {0, 2}, {0, 3}), an endpoint at 1 s and the rendezvous at
 * 192.0.2.1:3478.  Each test makes its own konce_trav over it (h->t); trav_host_close() frees all
 * and proves nothing leaked.  Include it after <cmocka.h>: the helpers assert. */
#ifndef KONCE_TEST_TRAV_RIG_H
#define KONCE_TEST_TRAV_RIG_H

#include <stdbool.h>
#include <string.h>

#include "node/core/trav.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "tests/unit/count_env.h"

typedef struct host {
	count_env ce;
	konce_identity *id, *rdv_id, *peer_id;
	konce_ep *ep;
	konce_trav *t;
	konce_addr rdv, hostc;
	struct { /* test_trav.c's peer table, for its ops */
		bool used;
		uint8_t pk[KONCE_WIRE_KEY];
		uint32_t conn;
		konce_addr addr;
	} tab[4];
	unsigned dials;
} host;

static inline void trav_host_open(host *h, uint8_t seed)
{
	memset(h, 0, sizeof *h);
	count_env_init(&h->ce, seed);
	uint8_t s1[32] = {0, 1}, s2[32] = {0, 2}, s3[32] = {0, 3}; /* byte 0 loses its low bits to clamping */
	assert_int_equal(konce_identity_from_secret(&h->id, s1), 0);
	assert_int_equal(konce_identity_from_secret(&h->rdv_id, s2), 0);
	assert_int_equal(konce_identity_from_secret(&h->peer_id, s3), 0);
	konce_ep_config ec = {.env = &h->ce.env, .identity = h->id, .explicit_identity = true};
	assert_int_equal(konce_ep_new(&h->ep, &ec, 1000000), 0);
	assert_int_equal(konce_addr_parse(&h->rdv, "192.0.2.1:3478"), 0);
}

static inline void trav_host_close(host *h)
{
	konce_trav_free(h->t);
	konce_ep_free(h->ep);
	konce_identity_free(h->id);
	konce_identity_free(h->rdv_id);
	konce_identity_free(h->peer_id);
	assert_int_equal(h->ce.live, 0);
}

#endif
