/* addr.h - network addresses as the sans-I/O cores see them.
 *
 * A konce_addr is a plain value: IPv4 is stored as an IPv4-mapped IPv6 address (::ffff:a.b.c.d),
 * so one 16-byte form covers both families and can be hashed and compared with memcmp.  Only the
 * I/O layer converts to and from struct sockaddr.
 *
 * Beside the address it carries a path handle.  Path 0 is the address itself, on the node's
 * socket.  A non-zero path names a route the caller keeps for itself, which the cores treat as one
 * opaque peer address: the node's traversal gives each peer it reaches by key one (the datagrams
 * go direct or through a relay, as the traversal core decides), with ip and port zero.  The
 * endpoint sees such a peer as its own source (rate-limit bucket, session caps), and nothing that
 * arrives from the network ever has a non-zero path, so no real address can pose as a traversal
 * path.
 */
#ifndef KONCE_ADDR_H
#define KONCE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sockaddr;
struct sockaddr_storage;

typedef struct konce_addr {
	uint8_t ip[16]; /* network order; IPv4 as ::ffff:a.b.c.d */
	uint16_t port;  /* host order */
	uint16_t path;  /* 0: ip and port on the node's socket; else a caller's path handle (above) */
} konce_addr;

enum {
	KONCE_ADDR_STRLEN = 64,   /* "[ffff:...:ffff]:65535" and NUL fit */
	KONCE_ADDR_WIRE_SIZE = 18 /* on the wire: ip 16 (IPv4-mapped) | port u16 big-endian */
};

/* The wire form, as every konce message that carries an address writes it.  Callers check bounds. */
static inline void konce_addr_encode(uint8_t out[KONCE_ADDR_WIRE_SIZE], const konce_addr *a)
{
	memcpy(out, a->ip, 16);
	out[16] = (uint8_t)(a->port >> 8);
	out[17] = (uint8_t)a->port;
}
static inline void konce_addr_decode(konce_addr *a, const uint8_t in[KONCE_ADDR_WIRE_SIZE])
{
	memcpy(a->ip, in, 16);
	a->port = (uint16_t)(in[16] << 8 | in[17]);
	a->path = 0; /* a path handle never comes from the wire */
}

static inline bool konce_addr_eq(const konce_addr *a, const konce_addr *b)
{
	return a->port == b->port && a->path == b->path && memcmp(a->ip, b->ip, 16) == 0;
}
/* A path handle with no address: what the node's traversal names a peer by. */
static inline konce_addr konce_addr_path(uint16_t path)
{
	konce_addr a;
	memset(&a, 0, sizeof a);
	a.path = path;
	return a;
}
bool konce_addr_is_v4(const konce_addr *a);
/* The handshake's notion of one source (rate-limit buckets, session caps), as 16 bytes: an IPv4
 * address, an IPv6 /64 (the rest zero), or a path handle (each its own source; bytes 8..9 are
 * ff fe, which neither of the others has). */
void konce_addr_source(uint8_t key[16], const konce_addr *a);
void konce_addr_from_v4(konce_addr *a, const uint8_t ip4[4], uint16_t port);
void konce_addr_from_v6(konce_addr *a, const uint8_t ip6[16], uint16_t port);
/* 0, or -EAFNOSUPPORT for a family other than AF_INET / AF_INET6. */
int konce_addr_from_sockaddr(konce_addr *a, const struct sockaddr *sa);
/* Fills ss as AF_INET for IPv4-mapped addresses unless want_v6; returns the sockaddr length. */
size_t konce_addr_to_sockaddr(const konce_addr *a, struct sockaddr_storage *ss, bool want_v6);
/* "1.2.3.4:5", "[::1]:5", or "path:7" for a path handle.  Returns buf. */
char *konce_addr_str(const konce_addr *a, char buf[KONCE_ADDR_STRLEN]);
/* Parses "1.2.3.4:5", "[::1]:5" (numeric only).  0 or -EINVAL. */
int konce_addr_parse(konce_addr *a, const char *text);

#endif
