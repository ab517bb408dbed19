/*
 * manifests: sealing with AES-256-GCM. See seal.h.
 */
#include "manifests/seal.h"

#include <openssl/evp.h>

static const char seal_domain[] = "emofs seal v1";
static const uint8_t zero_nonce[12];

int mf_seal_secret(const uint8_t *plain, size_t len, uint8_t secret[MF_KEY_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int olen = 0;
    int ok;

    if (md == NULL)
        return MF_ENOMEM;
    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(md, seal_domain, sizeof(seal_domain) - 1) == 1 &&
         EVP_DigestUpdate(md, plain, len) == 1 && EVP_DigestFinal_ex(md, secret, &olen) == 1 &&
         olen == MF_KEY_LEN;
    EVP_MD_CTX_free(md);
    return ok ? MF_OK : MF_ENOMEM;
}

/* Runs AES-256-GCM one way over in[0..len) into out: enc 1 seals (the tag
 * written to tag), enc 0 opens (tag checked). @return 0, MF_ESEAL (the
 * tag did not verify) or MF_ENOMEM. */
static int gcm(int enc, const uint8_t secret[MF_KEY_LEN], const uint8_t *in, size_t len,
               uint8_t *out, uint8_t tag[MF_SEAL_TAG_LEN])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok, n = 0, rc = MF_ENOMEM;

    if (c == NULL)
        return MF_ENOMEM;
    ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)sizeof(zero_nonce), NULL) == 1 &&
         EVP_CipherInit_ex(c, NULL, NULL, secret, zero_nonce, enc) == 1;
    /* EVP takes int lengths: feed the bytes in pieces of at most 1 GiB. */
    for (size_t at = 0; ok && at < len;) {
        size_t piece = len - at < (1u << 30) ? len - at : (1u << 30);
        ok = EVP_CipherUpdate(c, out + at, &n, in + at, (int)piece) == 1 && (size_t)n == piece;
        at += piece;
    }
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, MF_SEAL_TAG_LEN, tag) == 1;
    if (ok) {
        /* Opening, a tag that does not verify fails here. */
        if (EVP_CipherFinal_ex(c, out + len, &n) != 1)
            rc = enc ? MF_ENOMEM : MF_ESEAL;
        else if (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, MF_SEAL_TAG_LEN, tag) == 1)
            rc = MF_OK;
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int mf_seal(const uint8_t secret[MF_KEY_LEN], const uint8_t *plain, size_t len, uint8_t *out)
{
    if (secret == NULL || out == NULL || (plain == NULL && len > 0))
        return MF_EINVAL;
    return gcm(1, secret, plain, len, out, out + len);
}

int mf_unseal(const uint8_t secret[MF_KEY_LEN], const uint8_t *sealed, size_t len, uint8_t *out)
{
    uint8_t tag[MF_SEAL_TAG_LEN];

    if (secret == NULL || sealed == NULL || out == NULL || len < MF_SEAL_TAG_LEN)
        return MF_EINVAL;
    len -= MF_SEAL_TAG_LEN;
    for (size_t i = 0; i < MF_SEAL_TAG_LEN; i++)
        tag[i] = sealed[len + i];
    return gcm(0, secret, sealed, len, out, tag);
}
