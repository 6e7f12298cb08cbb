/* rdvwire.c - the rendezvous and traversal codec (layouts in node/base/wire.h). */
#include "nat/rdvwire.h"

#include <errno.h>
#include <string.h>

static bool cand_type_ok(uint8_t t) { return t == KONCE_CAND_HOST || t == KONCE_CAND_REFLEXIVE || t == KONCE_CAND_MAPPED; }

static bool nat_ok(const konce_natinfo *n) { return n->mapping <= KONCE_NATMAP_EDM_RANDOM; }

static void put_nat(uint8_t *p, const konce_natinfo *n)
{
	p[0] = n->mapping;
	p[1] = n->step;
	wire_put16(p + 2, n->last_port);
}

static void get_nat(konce_natinfo *n, const uint8_t *p)
{
	n->mapping = p[0];
	n->step = p[1];
	n->last_port = wire_get16(p + 2);
}

static size_t put_cands(uint8_t *p, const konce_rdvwire_msg *m)
{
	for (unsigned i = 0; i < m->ncand; i++) {
		p[i * KONCE_RDV_CAND_SIZE] = m->cand[i].type;
		konce_addr_encode(p + i * KONCE_RDV_CAND_SIZE + 1, &m->cand[i].addr);
	}
	return (size_t)m->ncand * KONCE_RDV_CAND_SIZE;
}

static bool get_cands(konce_rdvwire_msg *m, const uint8_t *p)
{
	for (unsigned i = 0; i < m->ncand; i++) {
		m->cand[i].type = p[i * KONCE_RDV_CAND_SIZE];
		if (!cand_type_ok(m->cand[i].type))
			return false;
		konce_addr_decode(&m->cand[i].addr, p + i * KONCE_RDV_CAND_SIZE + 1);
	}
	return true;
}

/* REQ: no flags; ACK: only BUSY; PROBE: a copy number. */
static bool life_flags_ok(uint8_t type, uint8_t flags)
{
	if (type == KONCE_RDV_LIFE_REQ)
		return flags == 0;
	if (type == KONCE_RDV_LIFE_ACK)
		return !(flags & ~KONCE_LIFE_F_BUSY);
	return flags < KONCE_LIFE_COPIES;
}

static size_t life_size(uint8_t type)
{
	return type == KONCE_RDV_LIFE_REQ ? KONCE_LIFE_REQ_SIZE
	       : type == KONCE_RDV_LIFE_ACK ? KONCE_LIFE_ACK_SIZE
					    : KONCE_LIFE_SHORT_SIZE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

size_t konce_rdvwire_encode(const konce_rdvwire_msg *m, uint8_t *buf, size_t cap)
{
	size_t need;
	switch (m->type) {
	case KONCE_RDV_REGISTER:
		if (m->ncand > KONCE_RDV_MAX_REG_CANDS || !nat_ok(&m->nat))
			return 0;
		need = KONCE_REG_CANDS + (size_t)m->ncand * KONCE_RDV_CAND_SIZE;
		break;
	case KONCE_RDV_REGISTERED: need = KONCE_REGD_SIZE; break;
	case KONCE_RDV_INTRO_REQUEST:
	case KONCE_RDV_INTRO_OFFER:
	case KONCE_RDV_INTRO_ACCEPT:
	case KONCE_RDV_INTRO_REFUSE: need = KONCE_IREQ_SIZE; break;
	case KONCE_RDV_INTRO:
		if (m->ncand < 1 || m->ncand > KONCE_RDV_MAX_INTRO_CANDS || !nat_ok(&m->nat) ||
		    (m->flags & ~KONCE_INTRO_F_INITIATOR))
			return 0;
		need = KONCE_INTRO_CANDS + (size_t)m->ncand * KONCE_RDV_CAND_SIZE;
		break;
	case KONCE_RDV_INTRO_FAIL:
		if (m->flags < KONCE_IFAIL_UNKNOWN || m->flags > KONCE_IFAIL_DECLINED)
			return 0;
		need = KONCE_IFAIL_SIZE;
		break;
	case KONCE_RDV_RELAY:
	case KONCE_RDV_RELAYED:
		if (m->len > KONCE_RDV_MAX_RELAY || (m->len && !m->payload))
			return 0;
		need = (m->type == KONCE_RDV_RELAY ? KONCE_RELAY_PAYLOAD : KONCE_RELAYED_PAYLOAD) + m->len;
		break;
	case KONCE_RDV_PUNCH:
		if (m->flags & ~KONCE_PUNCH_F_ACK)
			return 0;
		need = KONCE_PUNCH_SIZE;
		break;
	case KONCE_RDV_LIFE_REQ:
	case KONCE_RDV_LIFE_ACK:
	case KONCE_RDV_LIFE_PROBE:
		if (!life_flags_ok(m->type, m->flags))
			return 0;
		need = life_size(m->type);
		break;
	case KONCE_RDV_FILTER:
		if (m->flags < KONCE_FILT_OP_ECHO_REQ || m->flags > KONCE_FILT_OP_SENT)
			return 0;
		need = KONCE_FILT_SIZE;
		break;
	default:
		return 0;
	}
	if (need > cap)
		return 0;
	if (m->type == KONCE_RDV_REGISTER || m->type == KONCE_RDV_INTRO) {
		for (unsigned i = 0; i < m->ncand; i++)
			if (!cand_type_ok(m->cand[i].type))
				return 0;
	}
	memset(buf, 0, need);
	buf[0] = m->type;
	switch (m->type) {
	case KONCE_RDV_REGISTER:
		buf[KONCE_REG_NCAND] = (uint8_t)m->ncand;
		memcpy(buf + KONCE_REG_KEY, m->key, KONCE_WIRE_KEY);
		wire_put64(buf + KONCE_REG_TXID, m->id);
		wire_put64(buf + KONCE_REG_ECHO, m->stamp);
		put_nat(buf + KONCE_REG_NAT, &m->nat);
		put_cands(buf + KONCE_REG_CANDS, m);
		break;
	case KONCE_RDV_REGISTERED:
		wire_put64(buf + KONCE_REGD_TXID, m->id);
		wire_put64(buf + KONCE_REGD_STAMP, m->stamp);
		konce_addr_encode(buf + KONCE_REGD_ADDR, &m->addr);
		wire_put32(buf + KONCE_REGD_REFRESH, m->value);
		break;
	case KONCE_RDV_INTRO_REQUEST:
	case KONCE_RDV_INTRO_OFFER:
	case KONCE_RDV_INTRO_ACCEPT:
	case KONCE_RDV_INTRO_REFUSE:
		memcpy(buf + KONCE_IREQ_KEY, m->key, KONCE_WIRE_KEY);
		memcpy(buf + KONCE_IREQ_TARGET, m->target, KONCE_WIRE_KEY);
		wire_put64(buf + KONCE_IREQ_TXID, m->id);
		break;
	case KONCE_RDV_INTRO:
		buf[KONCE_INTRO_FLAGS] = m->flags;
		buf[KONCE_INTRO_NCAND] = (uint8_t)m->ncand;
		memcpy(buf + KONCE_INTRO_PEER, m->key, KONCE_WIRE_KEY);
		wire_put64(buf + KONCE_INTRO_ID, m->id);
		wire_put32(buf + KONCE_INTRO_DELAY, m->value);
		put_nat(buf + KONCE_INTRO_NAT, &m->nat);
		memcpy(buf + KONCE_INTRO_SECRET, m->secret, KONCE_INTRO_SECRET_BYTES);
		put_cands(buf + KONCE_INTRO_CANDS, m);
		break;
	case KONCE_RDV_INTRO_FAIL:
		buf[KONCE_IFAIL_REASON] = m->flags;
		memcpy(buf + KONCE_IFAIL_TARGET, m->key, KONCE_WIRE_KEY);
		wire_put64(buf + KONCE_IFAIL_TXID, m->id);
		break;
	case KONCE_RDV_RELAY:
	case KONCE_RDV_RELAYED:
		wire_put16(buf + KONCE_RELAY_LEN, (uint16_t)m->len);
		memcpy(buf + KONCE_RELAY_FROM, m->key, KONCE_WIRE_KEY);
		if (m->type == KONCE_RDV_RELAY)
			memcpy(buf + KONCE_RELAY_TO, m->target, KONCE_WIRE_KEY);
		if (m->len)
			memcpy(buf + need - m->len, m->payload, m->len);
		break;
	case KONCE_RDV_PUNCH:
		buf[KONCE_PUNCH_FLAGS] = m->flags;
		wire_put16(buf + KONCE_PUNCH_SEQ, m->seq);
		wire_put64(buf + KONCE_PUNCH_INTRO, m->id);
		memcpy(buf + KONCE_PUNCH_KEY, m->key, KONCE_WIRE_KEY);
		if (m->flags & KONCE_PUNCH_F_ACK)
			konce_addr_encode(buf + KONCE_PUNCH_SEEN, &m->addr);
		memcpy(buf + KONCE_PUNCH_MAC, m->mac, KONCE_PUNCH_MAC_BYTES);
		break;
	case KONCE_RDV_LIFE_REQ:
	case KONCE_RDV_LIFE_ACK:
	case KONCE_RDV_LIFE_PROBE:
		buf[KONCE_LIFE_FLAGS] = m->flags;
		wire_put64(buf + KONCE_LIFE_NONCE, m->id);
		wire_put32(buf + KONCE_LIFE_DELAY, m->value);
		if (m->type == KONCE_RDV_LIFE_ACK)
			konce_addr_encode(buf + KONCE_LIFE_ADDR, &m->addr);
		break;
	case KONCE_RDV_FILTER:
		buf[KONCE_FILT_OP] = m->flags;
		wire_put64(buf + KONCE_FILT_TOKEN, m->id);
		if (konce_rdvwire_filt_has_addr(m->flags))
			konce_addr_encode(buf + KONCE_FILT_ADDR, &m->addr);
		break;
	}
	return need;
}

int konce_rdvwire_decode(konce_rdvwire_msg *m, const uint8_t *b, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len < 1)
		return -EINVAL;
	m->type = b[0];
	switch (m->type) {
	case KONCE_RDV_REGISTER:
		if (len < KONCE_REG_CANDS || b[KONCE_REG_FLAGS] || b[KONCE_REG_RESERVED])
			return -EINVAL;
		m->ncand = b[KONCE_REG_NCAND];
		if (m->ncand > KONCE_RDV_MAX_REG_CANDS ||
		    len != KONCE_REG_CANDS + (size_t)m->ncand * KONCE_RDV_CAND_SIZE)
			return -EINVAL;
		memcpy(m->key, b + KONCE_REG_KEY, KONCE_WIRE_KEY);
		m->id = wire_get64(b + KONCE_REG_TXID);
		m->stamp = wire_get64(b + KONCE_REG_ECHO);
		get_nat(&m->nat, b + KONCE_REG_NAT);
		if (!nat_ok(&m->nat) || !get_cands(m, b + KONCE_REG_CANDS))
			return -EINVAL;
		return 0;
	case KONCE_RDV_REGISTERED:
		if (len != KONCE_REGD_SIZE || !all_zero(b + 1, 3))
			return -EINVAL;
		m->id = wire_get64(b + KONCE_REGD_TXID);
		m->stamp = wire_get64(b + KONCE_REGD_STAMP);
		konce_addr_decode(&m->addr, b + KONCE_REGD_ADDR);
		m->value = wire_get32(b + KONCE_REGD_REFRESH);
		return 0;
	case KONCE_RDV_INTRO_REQUEST:
	case KONCE_RDV_INTRO_OFFER:
	case KONCE_RDV_INTRO_ACCEPT:
	case KONCE_RDV_INTRO_REFUSE:
		if (len != KONCE_IREQ_SIZE || !all_zero(b + 1, 3))
			return -EINVAL;
		memcpy(m->key, b + KONCE_IREQ_KEY, KONCE_WIRE_KEY);
		memcpy(m->target, b + KONCE_IREQ_TARGET, KONCE_WIRE_KEY);
		m->id = wire_get64(b + KONCE_IREQ_TXID);
		return 0;
	case KONCE_RDV_INTRO:
		if (len < KONCE_INTRO_CANDS || b[KONCE_INTRO_RESERVED])
			return -EINVAL;
		m->flags = b[KONCE_INTRO_FLAGS];
		m->ncand = b[KONCE_INTRO_NCAND];
		if ((m->flags & ~KONCE_INTRO_F_INITIATOR) || m->ncand < 1 ||
		    m->ncand > KONCE_RDV_MAX_INTRO_CANDS ||
		    len != KONCE_INTRO_CANDS + (size_t)m->ncand * KONCE_RDV_CAND_SIZE)
			return -EINVAL;
		memcpy(m->key, b + KONCE_INTRO_PEER, KONCE_WIRE_KEY);
		m->id = wire_get64(b + KONCE_INTRO_ID);
		m->value = wire_get32(b + KONCE_INTRO_DELAY);
		get_nat(&m->nat, b + KONCE_INTRO_NAT);
		memcpy(m->secret, b + KONCE_INTRO_SECRET, KONCE_INTRO_SECRET_BYTES);
		if (!nat_ok(&m->nat) || !get_cands(m, b + KONCE_INTRO_CANDS))
			return -EINVAL;
		return 0;
	case KONCE_RDV_INTRO_FAIL:
		if (len != KONCE_IFAIL_SIZE || !all_zero(b + KONCE_IFAIL_RESERVED, 2))
			return -EINVAL;
		m->flags = b[KONCE_IFAIL_REASON];
		if (m->flags < KONCE_IFAIL_UNKNOWN || m->flags > KONCE_IFAIL_DECLINED)
			return -EINVAL;
		memcpy(m->key, b + KONCE_IFAIL_TARGET, KONCE_WIRE_KEY);
		m->id = wire_get64(b + KONCE_IFAIL_TXID);
		return 0;
	case KONCE_RDV_RELAY:
	case KONCE_RDV_RELAYED: {
		size_t hdr = m->type == KONCE_RDV_RELAY ? KONCE_RELAY_PAYLOAD : KONCE_RELAYED_PAYLOAD;
		if (len < hdr || b[KONCE_RELAY_FLAGS])
			return -EINVAL;
		m->len = wire_get16(b + KONCE_RELAY_LEN);
		if (m->len > KONCE_RDV_MAX_RELAY || len != hdr + m->len)
			return -EINVAL;
		memcpy(m->key, b + KONCE_RELAY_FROM, KONCE_WIRE_KEY);
		if (m->type == KONCE_RDV_RELAY)
			memcpy(m->target, b + KONCE_RELAY_TO, KONCE_WIRE_KEY);
		m->payload = m->len ? b + hdr : NULL;
		return 0;
	}
	case KONCE_RDV_PUNCH:
		if (len != KONCE_PUNCH_SIZE)
			return -EINVAL;
		m->flags = b[KONCE_PUNCH_FLAGS];
		if (m->flags & ~KONCE_PUNCH_F_ACK)
			return -EINVAL;
		if (!(m->flags & KONCE_PUNCH_F_ACK) && !all_zero(b + KONCE_PUNCH_SEEN, 18))
			return -EINVAL;
		m->seq = wire_get16(b + KONCE_PUNCH_SEQ);
		m->id = wire_get64(b + KONCE_PUNCH_INTRO);
		memcpy(m->key, b + KONCE_PUNCH_KEY, KONCE_WIRE_KEY);
		konce_addr_decode(&m->addr, b + KONCE_PUNCH_SEEN);
		memcpy(m->mac, b + KONCE_PUNCH_MAC, KONCE_PUNCH_MAC_BYTES);
		return 0;
	case KONCE_RDV_LIFE_REQ:
	case KONCE_RDV_LIFE_ACK:
	case KONCE_RDV_LIFE_PROBE:
		if (len != life_size(m->type) || !all_zero(b + KONCE_LIFE_RESERVED, 2) ||
		    (m->type == KONCE_RDV_LIFE_REQ && !all_zero(b + KONCE_LIFE_SHORT_SIZE, len - KONCE_LIFE_SHORT_SIZE)))
			return -EINVAL;
		m->flags = b[KONCE_LIFE_FLAGS];
		if (!life_flags_ok(m->type, m->flags))
			return -EINVAL;
		m->id = wire_get64(b + KONCE_LIFE_NONCE);
		m->value = wire_get32(b + KONCE_LIFE_DELAY);
		if (m->type == KONCE_RDV_LIFE_ACK)
			konce_addr_decode(&m->addr, b + KONCE_LIFE_ADDR);
		return 0;
	case KONCE_RDV_FILTER:
		if (len != KONCE_FILT_SIZE || !all_zero(b + KONCE_FILT_RESERVED, 2))
			return -EINVAL;
		m->flags = b[KONCE_FILT_OP];
		if (m->flags < KONCE_FILT_OP_ECHO_REQ || m->flags > KONCE_FILT_OP_SENT ||
		    (!konce_rdvwire_filt_has_addr(m->flags) && !all_zero(b + KONCE_FILT_ADDR, 18)))
			return -EINVAL;
		m->id = wire_get64(b + KONCE_FILT_TOKEN);
		konce_addr_decode(&m->addr, b + KONCE_FILT_ADDR);
		return 0;
	}
	return -EINVAL;
}
