/*
 * manifests: small helpers: error texts, file names, key hex, freeing,
 * SHA-256.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h> /* EVP_Digest */

#include "manifests/manifest_int.h"

#include "dht.h" /* keys are libdht ids: dht_id_to_hex, dht_id_from_hex */

const uint8_t mf__sha256_empty[MF_KEY_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

const char *mf_strerror(int err)
{
    switch (err) {
    case MF_OK:
        return "success";
#define MF_XX_TEXT(name, value, text)                                                              \
    case MF_##name:                                                                                \
        return text;
        MF_ERRNO_MAP(MF_XX_TEXT)
#undef MF_XX_TEXT
    default:
        return "unknown manifest error";
    }
}

const char *mf_err_name(int err)
{
    switch (err) {
    case MF_OK:
        return "MF_OK";
#define MF_XX_NAME(name, value, text)                                                              \
    case MF_##name:                                                                                \
        return "MF_" #name;
        MF_ERRNO_MAP(MF_XX_NAME)
#undef MF_XX_NAME
    default:
        return "MF_UNKNOWN";
    }
}

int mf_sha256(const uint8_t *buf, size_t len, uint8_t out[MF_KEY_LEN])
{
    unsigned int olen = 0;

    if (EVP_Digest(buf, len, out, &olen, EVP_sha256(), NULL) != 1 || olen != MF_KEY_LEN)
        return MF_ENOMEM;
    return MF_OK;
}

int mf__reserve(void **arr, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;
    void *p;

    if (need <= *cap)
        return MF_OK;
    while (n < need)
        n *= 2;
    p = realloc(*arr, n * size);
    if (p == NULL)
        return MF_ENOMEM;
    *arr = p;
    *cap = n;
    return MF_OK;
}

int mf__name_valid_n(const uint8_t *s, size_t len)
{
    if (len == 0 || len > MF_NAME_MAX)
        return 0;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
            return 0;
    return 1;
}

int mf_name_valid(const char *name)
{
    size_t len;

    if (name == NULL)
        return 0;
    len = strnlen(name, MF_NAME_MAX + 1);
    return mf__name_valid_n((const uint8_t *)name, len);
}

void mf_manifest_clear(mf_manifest_t *m)
{
    if (m == NULL)
        return;
    free(m->name);
    free(m->entries);
    free(m->secrets);
    memset(m, 0, sizeof(*m));
}

void mf_blobs_free(mf_blob_t *blobs, size_t n)
{
    if (blobs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(blobs[i].data);
    free(blobs);
}

/* Keys are libdht ids: the same 32 bytes, the same text form. */
void mf_key_to_hex(const uint8_t key[MF_KEY_LEN], char out[65])
{
    dht_id_t id;

    memcpy(id.b, key, MF_KEY_LEN);
    dht_id_to_hex(&id, out);
}

int mf_key_from_hex(uint8_t key[MF_KEY_LEN], const char *hex)
{
    dht_id_t id;

    if (key == NULL || hex == NULL || dht_id_from_hex(&id, hex) != 0)
        return MF_EINVAL;
    memcpy(key, id.b, MF_KEY_LEN);
    return MF_OK;
}

void mf_capability_to_text(const uint8_t key[MF_KEY_LEN], const uint8_t secret[MF_KEY_LEN],
                           char out[130])
{
    mf_key_to_hex(key, out);
    out[64] = ':';
    mf_key_to_hex(secret, out + 65);
}

int mf_capability_from_text(const char *text, uint8_t key[MF_KEY_LEN], uint8_t secret[MF_KEY_LEN])
{
    char hex[65];

    if (text == NULL || strlen(text) != 129 || text[64] != ':')
        return MF_EINVAL;
    memcpy(hex, text, 64);
    hex[64] = '\0';
    if (mf_key_from_hex(key, hex) != MF_OK || mf_key_from_hex(secret, text + 65) != MF_OK)
        return MF_EINVAL;
    return MF_OK;
}
