/* keytext.h - the key text codec for parsers that hold a length-bounded, unterminated buffer. */
#ifndef KONCE_KEYTEXT_H
#define KONCE_KEYTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "konce/konce.h"

/* As konce_key_from_text, over text[0..len).  Used by keyfile.c to decode a secret in place,
 * without copying it into a NUL-terminated buffer. */
int konce_key_decode_(uint8_t key[KONCE_KEY_BYTES], const char *text, size_t len);

/* A list of key texts separated by commas, no spaces ("KEY,KEY"), into keys[0..max).  The count
 * (>= 1), -EINVAL (empty, an empty item, or an item that is not a key's text), -E2BIG (more than
 * max keys).  konce.conf identity_master uses it. */
int konce_key_list_(const char *text, uint8_t (*keys)[KONCE_KEY_BYTES], size_t max);

#endif
