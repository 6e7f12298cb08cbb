/* fuzz_peerspec.c - PEER[+GROUP][@HOST:PORT] on the command line (tools/args.c
 * konce_args_split_peer).
 *
 * Invariants: no read past the text; PEER, "+" GROUP and "@" HOST:PORT put back together give the
 * input exactly; GROUP is empty or the canonical text of a key; PEER fits its buffer; an input
 * longer than any PEER is refused, never truncated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/args.c"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1), peer[KONCE_ARGS_PEER_MAX], group[KONCE_KEY_TEXT_LEN + 1];
	const char *hp;
	if (!s)
		return 0;
	memcpy(s, d, n);
	s[n] = '\0';
	size_t len = strlen(s); /* the text as argv would give it: up to the first NUL */
	int r = konce_args_split_peer(s, peer, group, &hp);
	if (r) {
		const char *at = strchr(s, '@');
		if (r != -EINVAL || (size_t)(at ? at - s : (ptrdiff_t)len) < KONCE_ARGS_PEER_MAX)
			abort();
		free(s);
		return 0;
	}
	if (strlen(peer) >= KONCE_ARGS_PEER_MAX)
		abort();
	uint8_t k[KONCE_KEY_BYTES];
	if (*group && (strlen(group) != KONCE_KEY_TEXT_LEN || konce_key_from_text(k, group)))
		abort();
	char *back = malloc(len + 2);
	if (!back)
		abort();
	snprintf(back, len + 2, "%s%s%s%s%s", peer, *group ? "+" : "", group, hp ? "@" : "", hp ? hp : "");
	if (strcmp(back, s))
		abort();
	free(back);
	free(s);
	return 0;
}
