/* frame.h - the frames inside a session packet's plaintext (INITIATE box2, ACCEPT, DATA).
 *
 * A payload is a sequence of frames, each a type byte and a body whose length the type implies
 * (wire.h konce_frame_type).  PADDING runs to the end of the payload.  Types 0x10..0x14 are the
 * reliability frames (ACK, ACK_OWD, TIMESTAMP, FRAGMENT, REFUSE): their bodies are checked in full
 * here by the decoders of ackframe.h and frag.h, and the body handed out is the whole frame minus
 * the type byte.  Types 0x20..0x3f are an extension: a konce_frame_ext says how long such a body
 * is; without one they are unknown.  An unknown type or a body that
 * runs past the end makes the whole payload malformed: callers validate a payload with
 * konce_frame_validate() before acting on any frame of it, so a malformed packet has no effect.
 */
#ifndef KONCE_FRAME_H
#define KONCE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/wire.h"

/* 0x10..0x1f: the reliability frames (ACK, ACK_OWD, TIMESTAMP, FRAGMENT, REFUSE), parsed here;
 * 0x20..0x3f: left to a konce_frame_ext. */
enum {
	KONCE_FRAME_PATH_DATA = 8,
	KONCE_FRAME_REL_FIRST = 0x10,
	KONCE_FRAME_REL_LAST = 0x1f,
	KONCE_FRAME_EXT_FIRST = 0x20,
	KONCE_FRAME_EXT_LAST = 0x3f,
};

typedef struct konce_frame {
	uint8_t type;
	const uint8_t *body; /* MESSAGE: the message; PATH_*: 8 bytes; CLOSE: u16 reason; ext: body */
	size_t len;
	uint16_t reason; /* CLOSE */
} konce_frame;

/* Extension point for frame types 0x20..0x3f: returns the body length of the frame of `type`
 * whose body starts at p (avail bytes left), or a negative value if it is malformed. */
typedef struct konce_frame_ext {
	long (*body_len)(void *ctx, uint8_t type, const uint8_t *p, size_t avail);
	void *ctx;
} konce_frame_ext;

/* Reads the frame at p[*off]; advances *off.  1 = a frame, 0 = end of payload, -EINVAL = malformed.
 * ext may be NULL. */
int konce_frame_next(const uint8_t *p, size_t len, size_t *off, konce_frame *f, const konce_frame_ext *ext);
/* 0 if every frame in p[0, len) parses, else -EINVAL. */
int konce_frame_validate(const uint8_t *p, size_t len, const konce_frame_ext *ext);

/* Builders: write one frame at out (cap bytes free); return its length or 0 if it does not fit. */
size_t konce_frame_put_message(uint8_t *out, size_t cap, const uint8_t *msg, size_t len);
size_t konce_frame_put_path(uint8_t *out, size_t cap, uint8_t type, const uint8_t data[KONCE_FRAME_PATH_DATA]);
size_t konce_frame_put_close(uint8_t *out, size_t cap, uint16_t reason);
size_t konce_frame_put_ping(uint8_t *out, size_t cap);
size_t konce_frame_put_refuse(uint8_t *out, size_t cap, uint64_t msg_id, uint8_t reason);
/* REFUSE body (after the type byte): bytes consumed, 0 if malformed (truncated, id 0, reason 0). */
size_t konce_frame_get_refuse(const uint8_t *b, size_t avail, uint64_t *msg_id, uint8_t *reason);

#endif
