/* args.h - command-line arguments that name peers and addresses, checked before they reach the node. */
#ifndef KONCE_TOOLS_ARGS_H
#define KONCE_TOOLS_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "konce/konce.h"

/* PEER on the command line: a public key (canonical key text) or a petname.  Text that looks like an
 * attempt at a key (43 characters) but is not one, or that cannot be a petname, is refused with
 * "bad key text" and KONCE_EXIT_USAGE.  0 if it may be sent to the node. */
int konce_args_check_peer(const char *cmd, const char *peer);
/* A petname: 1 to 64 bytes of UTF-8 with no whitespace, control characters or '@', and not 43
 * characters long (so no petname can be mistaken for a key). */
bool konce_args_petname_ok(const char *name);

/* PEER[+GROUP][@HOST:PORT] (konce connect, send, ping): peer gets PEER, group the key text of the
 * server's limited-circulation group ("" = none), *hostport points into arg after the '@' (NULL =
 * none).  "+GROUP" is a '+' and 43 characters that are a key's text, at the end of the part before
 * '@'; anything else stays part of PEER (and is checked as PEER).  0, or -EINVAL when PEER is
 * longer than any key or petname. */
enum { KONCE_ARGS_PEER_MAX = 256 }; /* a petname is at most 64 bytes, a key 43 */
int konce_args_split_peer(const char *arg, char peer[KONCE_ARGS_PEER_MAX], char group[KONCE_KEY_TEXT_LEN + 1],
			  const char **hostport);

/* Command cmd's PEER[+GROUP] argument arg (no @HOST:PORT) split into peer and group and checked,
 * and its --addr value addr_arg (or NULL: addr is left alone) resolved into addr: 0, or the exit
 * status after saying on stderr what is wrong. */
int konce_args_peer_addr(const char *cmd, const char *arg, char peer[KONCE_ARGS_PEER_MAX],
			 char group[KONCE_KEY_TEXT_LEN + 1], const char *addr_arg, char *addr, size_t addrlen);

/* "HOST:PORT" or "[IPv6]:PORT" -> numeric "IP:PORT" / "[IP]:PORT" via getaddrinfo.  HOST may be a
 * name.  0, or -EINVAL (malformed), -EHOSTUNREACH (name does not resolve) with err set. */
int konce_args_resolve(const char *text, char *out, size_t outlen, char *err, size_t errlen);

/* SECONDS as a decimal number ("2", "0.2") in [min_s, max_s] -> milliseconds, rounded.  0 or -EINVAL. */
int konce_args_seconds(const char *text, double min_s, double max_s, unsigned *ms);

/* Key text is base64url, so one key in 64 starts with '-', and getopt would take KEY (or
 * KEY@HOST:PORT) for a cluster of short options.  Before getopt, konce_args_hide_keys marks every
 * argument before "--" that is such a key by overwriting its '-' (argv strings are writable);
 * after getopt (which only permutes the pointers), konce_args_unhide_keys puts every '-' back. */
void konce_args_hide_keys(int argc, char **argv);
void konce_args_unhide_keys(int argc, char **argv);

#endif
