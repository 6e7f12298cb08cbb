/* ctoken.c - invitation token codec (layout in ctoken.h). */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "consensus/ctoken.h"

static const char PREFIX[] = "konce-invite:";

int konce_ctoken_parse(konce_ctoken *t, const uint8_t *b, size_t len)
{
	size_t fixed = 3 + 1 + KONCE_CW_GROUP_ID + 1;
	memset(t, 0, sizeof(*t));
	if (len < fixed || memcmp(b, "KGI", 3) || b[3] != KONCE_CTOKEN_VERSION)
		return -EINVAL;
	memcpy(t->group, b + 4, KONCE_CW_GROUP_ID);
	t->n = b[4 + KONCE_CW_GROUP_ID];
	if (t->n == 0 || t->n > KONCE_CW_MAX_MEMBERS)
		return -EINVAL;
	size_t off = fixed;
	size_t need = (size_t)t->n * KONCE_CW_KEY + KONCE_CW_SECRET + 8 + 1;
	if (len - off < need)
		return -EINVAL;
	for (unsigned i = 0; i < t->n; i++, off += KONCE_CW_KEY) {
		memcpy(t->keys[i], b + off, KONCE_CW_KEY);
		for (unsigned j = 0; j < i; j++)
			if (!memcmp(t->keys[i], t->keys[j], KONCE_CW_KEY))
				goto bad;
	}
	memcpy(t->secret, b + off, KONCE_CW_SECRET);
	off += KONCE_CW_SECRET;
	for (unsigned i = 0; i < 8; i++)
		t->expires = t->expires << 8 | b[off++];
	t->rdv_len = b[off++];
	if (len - off != t->rdv_len || memchr(b + off, 0, t->rdv_len))
		goto bad;
	memcpy(t->rdv, b + off, t->rdv_len);
	t->rdv[t->rdv_len] = 0;
	return 0;
bad:
	sodium_memzero(t, sizeof(*t));
	return -EINVAL;
}

size_t konce_ctoken_encode(const konce_ctoken *t, uint8_t *out, size_t cap)
{
	if (t->n == 0 || t->n > KONCE_CW_MAX_MEMBERS || memchr(t->rdv, 0, t->rdv_len))
		return 0;
	size_t len = 3 + 1 + KONCE_CW_GROUP_ID + 1 + (size_t)t->n * KONCE_CW_KEY + KONCE_CW_SECRET + 8 + 1 + t->rdv_len;
	if (cap < len)
		return 0;
	uint8_t *p = out;
	memcpy(p, "KGI", 3);
	p[3] = KONCE_CTOKEN_VERSION;
	memcpy(p + 4, t->group, KONCE_CW_GROUP_ID);
	p[4 + KONCE_CW_GROUP_ID] = t->n;
	p += 5 + KONCE_CW_GROUP_ID;
	for (unsigned i = 0; i < t->n; i++, p += KONCE_CW_KEY)
		memcpy(p, t->keys[i], KONCE_CW_KEY);
	memcpy(p, t->secret, KONCE_CW_SECRET);
	p += KONCE_CW_SECRET;
	for (unsigned i = 0; i < 8; i++)
		*p++ = (uint8_t)(t->expires >> (56 - 8 * i));
	*p++ = t->rdv_len;
	memcpy(p, t->rdv, t->rdv_len);
	return len;
}

int konce_ctoken_to_text(const konce_ctoken *t, char *out, size_t cap)
{
	uint8_t bin[KONCE_CTOKEN_MAX];
	size_t n = konce_ctoken_encode(t, bin, sizeof(bin));
	int rc = -EINVAL;
	size_t need = sizeof(PREFIX) - 1 + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (n && cap >= need) {
		memcpy(out, PREFIX, sizeof(PREFIX) - 1);
		sodium_bin2base64(out + sizeof(PREFIX) - 1, cap - (sizeof(PREFIX) - 1), bin, n,
				  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		rc = 0;
	}
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

int konce_ctoken_from_text(konce_ctoken *t, const char *text)
{
	uint8_t bin[KONCE_CTOKEN_MAX];
	size_t n = 0;
	if (strncmp(text, PREFIX, sizeof(PREFIX) - 1))
		return -EINVAL;
	text += sizeof(PREFIX) - 1;
	if (sodium_base642bin(bin, sizeof(bin), text, strlen(text), NULL, &n, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return -EINVAL;
	int rc = konce_ctoken_parse(t, bin, n);
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

bool konce_ctoken_expired(const konce_ctoken *t, uint64_t now) { return t->expires && now >= t->expires; }

void konce_ctoken_secret_hash(uint8_t out[KONCE_CW_SECRET], const uint8_t secret[KONCE_CW_SECRET])
{
	crypto_generichash(out, KONCE_CW_SECRET, secret, KONCE_CW_SECRET, NULL, 0);
}

int konce_ctoken_hint_addrs(const konce_ctoken *t, konce_addr addr[KONCE_CW_MAX_MEMBERS],
			    bool have[KONCE_CW_MAX_MEMBERS])
{
	char word[KONCE_ADDR_STRLEN];
	size_t len = t->rdv_len < KONCE_CW_MAX_RENDEZVOUS ? t->rdv_len : KONCE_CW_MAX_RENDEZVOUS;
	unsigned n = t->n < KONCE_CW_MAX_MEMBERS ? t->n : KONCE_CW_MAX_MEMBERS, i = 0;
	int count = 0;
	memset(have, 0, KONCE_CW_MAX_MEMBERS * sizeof(bool));
	size_t p = 0;
	while (p < len && t->rdv[p] && i < n) {
		size_t w = 0;
		bool fits = true;
		for (; p < len && t->rdv[p] && t->rdv[p] != ' '; p++) {
			if (w + 1 < sizeof(word))
				word[w++] = t->rdv[p];
			else
				fits = false;
		}
		word[w] = '\0';
		if (fits && w && strcmp(word, "-") && konce_addr_parse(&addr[i], word) == 0) {
			have[i] = true;
			count++;
		}
		i++;
		if (p < len && t->rdv[p] == ' ')
			p++;
	}
	return count;
}
