/*
 * base64url without padding (RFC 4648, section 5): A-Z a-z 0-9 - _, no '='.
 * The decoder takes only the canonical encoding: no padding, no blanks, no
 * other character, no length of 1 mod 4, no stray bits in the last
 * character; so every text decodes to one byte string and back.
 */
#ifndef EMOFS_BASE64URL_H
#define EMOFS_BASE64URL_H

#include <stddef.h>
#include <stdint.h>

/* @return the length of the encoding of n bytes (no terminator). */
size_t b64url_encoded_len(size_t n);

/* Encodes in[0..n) into out, which must hold b64url_encoded_len(n) + 1
 * bytes, and NUL-terminates it. */
void b64url_encode(const uint8_t *in, size_t n, char *out);

/* @return the most bytes text of len characters decodes to (a buffer of
 * that size is enough for b64url_decode). */
size_t b64url_decoded_max(size_t len);

/* Decodes text[0..len) into out (b64url_decoded_max(len) bytes).
 * @return 0 and *out_len, or -1 if text is not a canonical encoding. */
int b64url_decode(const char *text, size_t len, uint8_t *out, size_t *out_len);

#endif /* EMOFS_BASE64URL_H */
