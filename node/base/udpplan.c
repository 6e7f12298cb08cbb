/* udpplan.c - the batched UDP socket's decisions (udpplan.h). */
#include "node/base/udpplan.h"

#include <errno.h>

unsigned konce_udp_train(const konce_udp_slot *q, unsigned n, unsigned max_segs)
{
	unsigned k = 1;
	while (k < n && k < max_segs && (size_t)(k + 1) * q[0].len <= KONCE_UDP_GSO_MAX_BYTES &&
	       konce_addr_eq(&q[0].to, &q[k].to) && q[k - 1].len == q[0].len && q[k].len <= q[0].len)
		k++;
	return k;
}

enum konce_udp_send_fail konce_udp_send_fail(int e, unsigned segs)
{
	if (e == EINTR)
		return KONCE_UDP_FAIL_RETRY;
	if (segs > 1 && (e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP))
		return KONCE_UDP_FAIL_NO_GSO;
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
		return KONCE_UDP_FAIL_FULL;
	return KONCE_UDP_FAIL_DEST;
}

const char *konce_udp_bind_hint(int e)
{
	return e == EADDRINUSE ? " (is another node running? choose another port with --listen)"
	       : e == EACCES   ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
			       : "";
}
