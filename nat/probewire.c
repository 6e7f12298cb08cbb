/* probewire.c - encode and parse the konce probe packet (see probewire.h). */
#include "nat/probewire.h"

#include <errno.h>
#include <string.h>

static const char *const command_names[KONCE_PROBE_CMD_MAX + 1] = {
	[KONCE_PROBE_CMD_SAME] = "same",
	[KONCE_PROBE_CMD_OTHER_PORT] = "other-port",
	[KONCE_PROBE_CMD_OTHER_ADDR] = "other-addr",
	[KONCE_PROBE_CMD_DISPLAY] = "display",
	[KONCE_PROBE_CMD_REPLY_TO_PORT] = "reply-to-port",
};

const char *konce_probe_command_name(uint8_t command)
{
	return command >= 1 && command <= KONCE_PROBE_CMD_MAX ? command_names[command] : NULL;
}

int konce_probe_command_parse(const char *name)
{
	for (int i = 1; i <= KONCE_PROBE_CMD_MAX; i++)
		if (!strcmp(name, command_names[i]))
			return i;
	return -EINVAL;
}

const char *konce_probe_result_str(enum konce_probe_result r)
{
	switch (r) {
	case KONCE_PROBE_OK: return "ok";
	case KONCE_PROBE_SHORT: return "wrong size for a probe";
	case KONCE_PROBE_BAD_MAGIC: return "not a konce probe";
	case KONCE_PROBE_BAD_VERSION: return "unknown probe version";
	case KONCE_PROBE_BAD_TYPE: return "unknown probe type";
	case KONCE_PROBE_BAD_COMMAND: return "unknown probe command";
	case KONCE_PROBE_BAD_FIELD: return "malformed probe field";
	}
	return "unknown result";
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void get_addr(konce_addr *a, const uint8_t *p)
{
	memcpy(a->ip, p, 16);
	a->port = wire_get16(p + 16);
	a->path = 0;
}

static void put_addr(uint8_t *p, const konce_addr *a)
{
	memcpy(p, a->ip, 16);
	wire_put16(p + 16, a->port);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

bool konce_probe_is_candidate(const uint8_t *buf, size_t len)
{
	return len >= 4 && get32(buf) == KONCE_PROBE_MAGIC;
}

static enum konce_probe_result check(const konce_probe *p)
{
	if (p->type != KONCE_PROBE_T_REQUEST && p->type != KONCE_PROBE_T_REPLY)
		return KONCE_PROBE_BAD_TYPE;
	if (!konce_probe_command_name(p->command))
		return KONCE_PROBE_BAD_COMMAND;
	if (p->flags & ~KONCE_PROBE_F_ALL)
		return KONCE_PROBE_BAD_FIELD;
	if (p->transport > KONCE_PROBE_TR_TCP)
		return KONCE_PROBE_BAD_FIELD;
	/* a request carries no observations; REPLY_TO_PORT needs a port and only it has one */
	if (p->type == KONCE_PROBE_T_REQUEST && (p->flags || p->ttl))
		return KONCE_PROBE_BAD_FIELD;
	if ((p->command == KONCE_PROBE_CMD_REPLY_TO_PORT) != (p->reply_port != 0))
		return KONCE_PROBE_BAD_FIELD;
	if (!(p->flags & KONCE_PROBE_F_TTL) && p->ttl)
		return KONCE_PROBE_BAD_FIELD;
	return KONCE_PROBE_OK;
}

enum konce_probe_result konce_probe_parse(konce_probe *p, const uint8_t *buf, size_t len)
{
	memset(p, 0, sizeof(*p));
	if (!konce_probe_is_candidate(buf, len))
		return KONCE_PROBE_BAD_MAGIC;
	if (len != KONCE_PROBE_SIZE)
		return KONCE_PROBE_SHORT;
	if (buf[KONCE_PROBE_VERSION_OFF] != KONCE_PROBE_VERSION)
		return KONCE_PROBE_BAD_VERSION;
	p->type = buf[KONCE_PROBE_TYPE_OFF];
	p->command = buf[KONCE_PROBE_COMMAND_OFF];
	p->flags = buf[KONCE_PROBE_FLAGS_OFF];
	p->nonce = wire_get64(buf + KONCE_PROBE_NONCE_OFF);
	p->seq = get32(buf + KONCE_PROBE_SEQ_OFF);
	p->reply_port = wire_get16(buf + KONCE_PROBE_REPLY_PORT_OFF);
	p->transport = buf[KONCE_PROBE_TRANSPORT_OFF];
	p->ttl = buf[KONCE_PROBE_TTL_OFF];
	get_addr(&p->seen_src, buf + KONCE_PROBE_SEEN_SRC_OFF);
	get_addr(&p->seen_dst, buf + KONCE_PROBE_SEEN_DST_OFF);
	get_addr(&p->from, buf + KONCE_PROBE_FROM_OFF);
	get_addr(&p->other, buf + KONCE_PROBE_OTHER_OFF);
	enum konce_probe_result r = check(p);
	if (r != KONCE_PROBE_OK)
		return r;
	/* observation fields are all zero unless the flags say they are filled */
	if (!(p->flags & KONCE_PROBE_F_SEEN) &&
	    !all_zero(buf + KONCE_PROBE_SEEN_SRC_OFF, KONCE_PROBE_OTHER_OFF - KONCE_PROBE_SEEN_SRC_OFF))
		return KONCE_PROBE_BAD_FIELD;
	if (!(p->flags & KONCE_PROBE_F_OTHER) && !all_zero(buf + KONCE_PROBE_OTHER_OFF, KONCE_PROBE_ADDR_LEN))
		return KONCE_PROBE_BAD_FIELD;
	if (!all_zero(buf + KONCE_PROBE_RESERVED_OFF, KONCE_PROBE_SIZE - KONCE_PROBE_RESERVED_OFF))
		return KONCE_PROBE_BAD_FIELD;
	return KONCE_PROBE_OK;
}

int konce_probe_encode(const konce_probe *p, uint8_t out[KONCE_PROBE_SIZE])
{
	if (check(p) != KONCE_PROBE_OK)
		return -EINVAL;
	memset(out, 0, KONCE_PROBE_SIZE);
	put32(out + KONCE_PROBE_MAGIC_OFF, KONCE_PROBE_MAGIC);
	out[KONCE_PROBE_VERSION_OFF] = KONCE_PROBE_VERSION;
	out[KONCE_PROBE_TYPE_OFF] = p->type;
	out[KONCE_PROBE_COMMAND_OFF] = p->command;
	out[KONCE_PROBE_FLAGS_OFF] = p->flags;
	wire_put64(out + KONCE_PROBE_NONCE_OFF, p->nonce);
	put32(out + KONCE_PROBE_SEQ_OFF, p->seq);
	wire_put16(out + KONCE_PROBE_REPLY_PORT_OFF, p->reply_port);
	out[KONCE_PROBE_TRANSPORT_OFF] = p->transport;
	out[KONCE_PROBE_TTL_OFF] = p->ttl;
	if (p->flags & KONCE_PROBE_F_SEEN) {
		put_addr(out + KONCE_PROBE_SEEN_SRC_OFF, &p->seen_src);
		put_addr(out + KONCE_PROBE_SEEN_DST_OFF, &p->seen_dst);
		put_addr(out + KONCE_PROBE_FROM_OFF, &p->from);
	}
	if (p->flags & KONCE_PROBE_F_OTHER)
		put_addr(out + KONCE_PROBE_OTHER_OFF, &p->other);
	return KONCE_PROBE_SIZE;
}

void konce_probe_make_reply(konce_probe *reply, const konce_probe *req, const konce_addr *seen_src,
			    const konce_addr *seen_dst, const konce_addr *from, const konce_addr *other,
			    uint8_t transport, int ttl)
{
	memset(reply, 0, sizeof(*reply));
	reply->type = KONCE_PROBE_T_REPLY;
	reply->command = req->command;
	reply->nonce = req->nonce;
	reply->seq = req->seq;
	reply->reply_port = req->reply_port;
	reply->transport = transport;
	reply->flags = KONCE_PROBE_F_SEEN;
	reply->seen_src = *seen_src;
	reply->seen_dst = *seen_dst;
	reply->from = *from;
	if (ttl > 0 && ttl <= 255) {
		reply->flags |= KONCE_PROBE_F_TTL;
		reply->ttl = (uint8_t)ttl;
	}
	if (other) {
		reply->flags |= KONCE_PROBE_F_OTHER;
		reply->other = *other;
	}
}
