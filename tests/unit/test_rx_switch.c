/* test_rx_switch.c - the node's one receive switch on the type byte (node/core/rx_switch.h): each
 * type goes to its kind, a HELLO with the traversal tag's magic is a tagged HELLO, and the input
 * queue priority puts bare traversal datagrams beside a fresh handshake only when traversal runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "node/base/wire.h"
#include "node/core/inq.h"
#include "node/core/rx_switch.h"
#include "node/transport/endpoint.h"
#include "node/transport/identity.h"
#include "testenv.h"

static void test_kinds(void **state)
{
	(void)state;
	uint8_t p[KONCE_PMTU_MAX + 1];
	memset(p, 0, sizeof p);
	assert_int_equal(konce_rx_classify(p, 0), KONCE_RX_JUNK);
	/* only DATA outgrows 1,200 bytes (a session's PLPMTU), up to KONCE_PMTU_MAX */
	p[0] = KONCE_PKT_DATA;
	assert_int_equal(konce_rx_classify(p, KONCE_PMTU_MAX), KONCE_RX_TRANSPORT);
	assert_int_equal(konce_rx_classify(p, KONCE_PMTU_MAX + 1), KONCE_RX_JUNK);
	p[0] = KONCE_PKT_HELLO;
	assert_int_equal(konce_rx_classify(p, KONCE_WIRE_MAX_DATAGRAM + 1), KONCE_RX_JUNK);
	p[0] = KONCE_RDV_PUNCH;
	assert_int_equal(konce_rx_classify(p, KONCE_WIRE_MAX_DATAGRAM + 1), KONCE_RX_JUNK);
	const uint8_t transport[] = {KONCE_PKT_HELLO,  KONCE_PKT_COOKIE, KONCE_PKT_INITIATE,
				     KONCE_PKT_ACCEPT, KONCE_PKT_DATA,   KONCE_PKT_VERSION};
	for (size_t i = 0; i < sizeof transport; i++) {
		p[0] = transport[i];
		assert_int_equal(konce_rx_classify(p, 64), KONCE_RX_TRANSPORT);
	}
	p[0] = KONCE_RDV_PUNCH;
	assert_int_equal(konce_rx_classify(p, 64), KONCE_RX_PUNCH);
	p[0] = KONCE_RDV_LIFE_REQ;
	assert_int_equal(konce_rx_classify(p, 64), KONCE_RX_LIFE_REQ);
	p[0] = KONCE_RDV_FILTER;
	assert_int_equal(konce_rx_classify(p, 64), KONCE_RX_FILTER);
	/* rendezvous messages ride in sessions only; the lifetime answers go to their own socket */
	const uint8_t bare_junk[] = {KONCE_RDV_REGISTER, KONCE_RDV_INTRO,     KONCE_RDV_RELAYED,
				     KONCE_RDV_LIFE_ACK, KONCE_RDV_LIFE_PROBE, 0x00, 0x07, 0xff};
	for (size_t i = 0; i < sizeof bare_junk; i++) {
		p[0] = bare_junk[i];
		assert_int_equal(konce_rx_classify(p, 64), KONCE_RX_JUNK);
	}
	/* the tag's magic in a full HELLO's padding; not in a short one, nor in another type */
	p[0] = KONCE_PKT_HELLO;
	memcpy(p + KONCE_HELLO_TRAV_MAGIC, KONCE_HELLO_TRAV_MAGIC_BYTES, 4);
	assert_int_equal(konce_rx_classify(p, KONCE_HELLO_SIZE), KONCE_RX_TAGGED_HELLO);
	assert_int_equal(konce_rx_classify(p, KONCE_HELLO_SIZE - 1), KONCE_RX_TRANSPORT);
	p[0] = KONCE_PKT_DATA;
	assert_int_equal(konce_rx_classify(p, KONCE_HELLO_SIZE), KONCE_RX_TRANSPORT);
}

static void test_priority(void **state)
{
	(void)state;
	test_env te;
	test_env_init(&te, 3);
	konce_identity *id;
	konce_ep *ep;
	assert_int_equal(konce_identity_generate(&id, &te.env), 0);
	konce_ep_config c = {.env = &te.env, .identity = id};
	assert_int_equal(konce_ep_new(&ep, &c, 1000000), 0);
	konce_addr from;
	assert_int_equal(konce_addr_parse(&from, "192.0.2.1:9"), 0);
	uint8_t p[KONCE_HELLO_SIZE];
	memset(p, 0, sizeof p);
	p[0] = KONCE_RDV_PUNCH;
	assert_int_equal(konce_rx_priority(ep, true, p, 78, &from, 1000000), KONCE_RX_PRIO_TRAVERSAL);
	assert_int_equal(konce_rx_priority(ep, false, p, 78, &from, 1000000), KONCE_INQ_PRIOS - 1);
	p[0] = KONCE_RDV_REGISTER; /* bare: junk, last */
	assert_int_equal(konce_rx_priority(ep, true, p, 78, &from, 1000000), KONCE_INQ_PRIOS - 1);
	p[0] = KONCE_PKT_HELLO; /* the endpoint's own: a fresh source's handshake */
	assert_int_equal(konce_rx_priority(ep, true, p, sizeof p, &from, 1000000),
			 konce_ep_priority(ep, p, sizeof p, &from, 1000000));
	assert_int_equal(konce_rx_priority(ep, true, p, sizeof p, &from, 1000000), 1);
	konce_ep_free(ep);
	konce_identity_free(id);
	assert_int_equal(te.allocs, te.frees);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_priority),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
