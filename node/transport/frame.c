/* frame.c - frame parsing and building (see frame.h). */
#include "node/transport/frame.h"

#include <errno.h>
#include <string.h>

#include "node/transport/ackframe.h"
#include "node/transport/frag.h"
#include "node/base/varint.h"

int konce_frame_next(const uint8_t *p, size_t len, size_t *off, konce_frame *f, const konce_frame_ext *ext)
{
	size_t o = *off;
	if (o >= len)
		return 0;
	size_t avail = len - o - 1;
	const uint8_t *b = p + o + 1;
	memset(f, 0, sizeof *f);
	f->type = p[o];
	f->body = b;
	switch (f->type) {
	case KONCE_FRAME_PADDING:
		f->len = avail;
		break;
	case KONCE_FRAME_PING:
		f->len = 0;
		break;
	case KONCE_FRAME_MESSAGE:
		if (avail < 2 || (size_t)wire_get16(b) > avail - 2)
			return -EINVAL;
		f->len = wire_get16(b);
		f->body = b + 2;
		*off = o + 3 + f->len;
		return 1;
	case KONCE_FRAME_PATH_CHALLENGE:
	case KONCE_FRAME_PATH_RESPONSE:
		if (avail < KONCE_FRAME_PATH_DATA)
			return -EINVAL;
		f->len = KONCE_FRAME_PATH_DATA;
		break;
	case KONCE_FRAME_CLOSE:
		if (avail < 2)
			return -EINVAL;
		f->len = 2;
		f->reason = wire_get16(b);
		break;
	case KONCE_FRAME_ACK:
	case KONCE_FRAME_ACK_OWD: {
		konce_ack a;
		size_t n = konce_ackframe_decode(b - 1, avail + 1, &a);
		if (n == 0)
			return -EINVAL;
		f->len = n - 1;
		break;
	}
	case KONCE_FRAME_TIMESTAMP: {
		uint32_t ts;
		if (konce_timestamp_decode(b - 1, avail + 1, &ts) == 0)
			return -EINVAL;
		f->len = KONCE_TIMESTAMP_SIZE - 1;
		break;
	}
	case KONCE_FRAME_FRAGMENT: {
		konce_fragment fr;
		size_t n = konce_frag_decode(b - 1, avail + 1, &fr);
		if (n == 0)
			return -EINVAL;
		f->len = n - 1;
		break;
	}
	case KONCE_FRAME_REFUSE: {
		uint64_t id;
		uint8_t why;
		size_t n = konce_frame_get_refuse(b, avail, &id, &why);
		if (n == 0)
			return -EINVAL;
		f->len = n;
		break;
	}
	default:
		if (f->type < KONCE_FRAME_EXT_FIRST || f->type > KONCE_FRAME_EXT_LAST || !ext || !ext->body_len)
			return -EINVAL;
		long n = ext->body_len(ext->ctx, f->type, b, avail);
		if (n < 0 || (size_t)n > avail)
			return -EINVAL;
		f->len = (size_t)n;
		break;
	}
	*off = o + 1 + f->len;
	return 1;
}

int konce_frame_validate(const uint8_t *p, size_t len, const konce_frame_ext *ext)
{
	size_t off = 0;
	konce_frame f;
	int r;
	while ((r = konce_frame_next(p, len, &off, &f, ext)) == 1)
		;
	return r;
}

size_t konce_frame_put_message(uint8_t *out, size_t cap, const uint8_t *msg, size_t len)
{
	if (len > 0xffff || cap < 3 || len > cap - 3)
		return 0;
	out[0] = KONCE_FRAME_MESSAGE;
	wire_put16(out + 1, (uint16_t)len);
	if (len)
		memcpy(out + 3, msg, len);
	return 3 + len;
}

size_t konce_frame_put_path(uint8_t *out, size_t cap, uint8_t type, const uint8_t data[KONCE_FRAME_PATH_DATA])
{
	if (cap < 1 + KONCE_FRAME_PATH_DATA)
		return 0;
	out[0] = type;
	memcpy(out + 1, data, KONCE_FRAME_PATH_DATA);
	return 1 + KONCE_FRAME_PATH_DATA;
}

size_t konce_frame_put_close(uint8_t *out, size_t cap, uint16_t reason)
{
	if (cap < 3)
		return 0;
	out[0] = KONCE_FRAME_CLOSE;
	wire_put16(out + 1, reason);
	return 3;
}

size_t konce_frame_put_ping(uint8_t *out, size_t cap)
{
	if (cap < 1)
		return 0;
	out[0] = KONCE_FRAME_PING;
	return 1;
}

size_t konce_frame_put_refuse(uint8_t *out, size_t cap, uint64_t msg_id, uint8_t reason)
{
	if (cap < 2 || msg_id == 0 || reason == 0)
		return 0;
	out[0] = KONCE_FRAME_REFUSE;
	size_t n = konce_varint_put(out + 1, cap - 2, msg_id);
	if (n == 0)
		return 0;
	out[1 + n] = reason;
	return 2 + n;
}

size_t konce_frame_get_refuse(const uint8_t *b, size_t avail, uint64_t *msg_id, uint8_t *reason)
{
	size_t n = konce_varint_get(b, avail, msg_id);
	if (n == 0 || n >= avail || *msg_id == 0 || b[n] == 0)
		return 0;
	*reason = b[n];
	return n + 1;
}
