/* fuzz_ncgapp.c - what the application side of the hosted groups (node/core/ncgapp.c) parses:
 * a group log entry read back for konce_node_group_log(), and a join's token text and name.  The
 * first byte picks which.  Aborts when an accepted entry's data reaches past the input, or an
 * accepted join leaves a name that is not a valid name, or a token naming this node. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/core/ncgapp.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const uint8_t SELF[KONCE_CW_KEY] = {7};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!n)
		return 0;
	uint8_t op = d[0];
	d++, n--;
	if (op & 1) {
		uint8_t *e = malloc(n ? n : 1);
		const uint8_t *origin, *data;
		size_t dl;
		if (!e)
			return 0;
		memcpy(e, d, n);
		if (konce_ncgapp_log_entry(e, n, &origin, &data, &dl) &&
		    (origin != e + 1 || data < e || data + dl > e + n || dl > n))
			abort();
		free(e);
		return 0;
	}
	/* "TEXT\0NAME": NAME absent (no NUL) means the default name */
	char *buf = malloc(n + 1);
	if (!buf)
		return 0;
	memcpy(buf, d, n);
	buf[n] = '\0';
	size_t tl = strlen(buf);
	const char *name = tl < n ? buf + tl + 1 : NULL;
	static konce_ncgapp t;
	static konce_ctoken tok;
	char nm[KONCE_GROUP_NAME_MAX + 1];
	if (konce_ncgapp_join_check(&t, SELF, buf, name, (uint64_t)(op >> 1) << 24, &tok, nm) == 0) {
		if (!konce_ncgapp_name_ok(nm))
			abort();
		for (unsigned i = 0; i < tok.n; i++)
			if (!memcmp(tok.keys[i], SELF, KONCE_CW_KEY))
				abort();
	}
	free(buf);
	return 0;
}
