/* fuzz_rawpkt.c - libFuzzer target for the raw ICMP echo / TCP segment parser (nat/rawpkt.c).
 *
 * Invariants (abort on violation): the payload lies inside the input; re-building what was parsed and
 * parsing that again (behind the same IPv4 header) gives the same addresses, sequence numbers, shape
 * and payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nat/rawpkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	for (int proto = KONCE_RAWPKT_ICMP; proto <= KONCE_RAWPKT_TCP; proto++) {
		konce_rawpkt p, q;
		if (konce_rawpkt_parse((enum konce_rawpkt_proto)proto, d, n, &p))
			continue;
		if (p.payload < d || p.payload + p.len > d + n)
			abort();
		size_t ihl = (size_t)(d[0] & 15) * 4;
		static uint8_t out[70000];
		memcpy(out, d, ihl);
		int l4 = konce_rawpkt_build((enum konce_rawpkt_proto)proto, &p, out + ihl, sizeof(out) - ihl);
		if (l4 < 0) {
			if (ihl + (size_t)KONCE_RAWPKT_TCP_HDR + p.len <= 0xffff)
				abort(); /* anything that parsed and fits an IPv4 packet can be rebuilt */
			continue;
		}
		size_t total = ihl + (size_t)l4;
		out[2] = (uint8_t)(total >> 8);
		out[3] = (uint8_t)total;
		if (konce_rawpkt_parse((enum konce_rawpkt_proto)proto, out, total, &q))
			abort();
		if (!konce_addr_eq(&p.src, &q.src) || p.is_reply != q.is_reply || p.len != q.len ||
		    memcmp(p.payload, q.payload, p.len))
			abort();
		if (proto == KONCE_RAWPKT_TCP && (!konce_addr_eq(&p.dst, &q.dst) || p.seq != q.seq ||
						  (p.is_reply && p.ack != q.ack)))
			abort();
		if (proto == KONCE_RAWPKT_ICMP && p.seq != q.seq)
			abort();
	}
	return 0;
}
