/*
 * manifests: sealing, the convergent encryption of one blob (a chunk's
 * encoded bytes, or a node of a sealed manifest). schema/manifest.md,
 * section 9, is the normative text.
 *
 * A blob's plain bytes P are sealed under a secret derived from P itself:
 *   secret = SHA-256("emofs seal v1" || P)
 *   sealed = AES-256-GCM(key = secret, nonce = 12 zero bytes, P) || tag (16 bytes)
 * and stored, like any blob, under SHA-256(sealed). The same plain bytes
 * always seal to the same bytes, so identical chunks of different files
 * (and different people's) are still stored once. A key never encrypts
 * two different messages, so a fixed nonce is safe. Whoever stores the
 * sealed bytes sees neither P nor the secret; whoever has the secret (a
 * record of the sealed manifest, or the file's capability) opens them.
 *
 * Pure code: OpenSSL's EVP, no I/O, no globals; safe from any thread.
 */
#ifndef EMOFS_SEAL_H
#define EMOFS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "manifests/manifest.h"

#define MF_SEAL_TAG_LEN 16 /* sealed bytes are the plain bytes plus this */

/* Derives plain[0..len)'s secret (above) into secret. @return 0 or MF_ENOMEM. */
int mf_seal_secret(const uint8_t *plain, size_t len, uint8_t secret[MF_KEY_LEN]);

/* Seals plain[0..len) under secret (as mf_seal_secret derived it) into
 * out, which has room for len + MF_SEAL_TAG_LEN bytes. out may be plain
 * itself (sealed in place); otherwise the two may not overlap.
 * @return 0, MF_EINVAL or MF_ENOMEM. */
int mf_seal(const uint8_t secret[MF_KEY_LEN], const uint8_t *plain, size_t len, uint8_t *out);

/* Opens sealed[0..len) (len >= MF_SEAL_TAG_LEN) with secret into out,
 * which has room for len - MF_SEAL_TAG_LEN bytes; out may be sealed itself
 * (opened in place), otherwise the two may not overlap.
 * @return 0, MF_ESEAL (the tag does not verify: a wrong secret, or bytes
 * that are not what was sealed; out holds nothing to use), MF_EINVAL or
 * MF_ENOMEM. */
int mf_unseal(const uint8_t secret[MF_KEY_LEN], const uint8_t *sealed, size_t len, uint8_t *out);

#endif /* EMOFS_SEAL_H */
