/*
 * Fuzz target for the manifest codec (manifests/manifest.h). The input is
 * read three ways, and whatever the bytes, nothing may crash, leak or read
 * outside them:
 *
 *   - as one root node, filed under its own hash: if it assembles into a
 *     whole manifest, mf_encode must give back exactly the input;
 *   - as a manifest file: if it decodes, it must re-encode to exactly the
 *     input, and if its nodes assemble, the manifest must survive a round
 *     trip through mf_encode (small nodes, so a tree) and a new file;
 *   - as a key in hex: if it parses, it prints back as the same key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h> /* EVP_Digest */

#include "fuzz.h"
#include "manifests/manifest.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same_manifest(const mf_manifest_t *a, const mf_manifest_t *b)
{
    return strcmp(a->name, b->name) == 0 && a->size == b->size &&
           memcmp(a->sha256, b->sha256, MF_KEY_LEN) == 0 && a->n_entries == b->n_entries &&
           (a->n_entries == 0 ||
            memcmp(a->entries, b->entries, a->n_entries * sizeof(*a->entries)) == 0);
}

/* Assembles the manifest of file_key from blobs[0..n), any extra blobs
 * ignored. @return what mf_asm_finish returned (or the first error). */
static int assemble(const uint8_t *file_key, const mf_blob_t *blobs, size_t n, mf_manifest_t *m)
{
    uint8_t keys[64][MF_KEY_LEN];
    mf_asm_t *a;
    size_t want;
    int rc, rounds = 0;

    if (mf_asm_new(&a, file_key) != MF_OK)
        return MF_ENOMEM;
    rc = mf_asm_add(a, blobs[n - 1].key, blobs[n - 1].data, blobs[n - 1].len);
    while (rc == MF_OK && (want = mf_asm_pending(a, keys, 64)) > 0 && rounds++ < 1000) {
        for (size_t i = 0; i < want && i < 64 && rc == MF_OK; i++) {
            size_t b = 0;
            while (b < n && memcmp(blobs[b].key, keys[i], MF_KEY_LEN) != 0)
                b++;
            rc = b < n ? mf_asm_add(a, blobs[b].key, blobs[b].data, blobs[b].len) : MF_ESTATE;
        }
    }
    if (rc == MF_OK)
        rc = mf_asm_finish(a, m);
    mf_asm_free(a);
    return rc;
}

static void as_root_node(const uint8_t *data, size_t size)
{
    mf_blob_t one, *blobs;
    mf_manifest_t m;
    size_t n;
    unsigned int klen;

    check(EVP_Digest(data, size, one.key, &klen, EVP_sha256(), NULL) == 1);
    one.data = (uint8_t *)data;
    one.len = size;
    if (assemble(one.key, &one, 1, &m) != MF_OK)
        return;
    check(mf_encode(&m, size < MF_NODE_MIN ? MF_NODE_MIN : size, &blobs, &n) == MF_OK);
    check(n == 1 && blobs[0].len == size && memcmp(blobs[0].data, data, size) == 0);
    check(memcmp(blobs[0].key, one.key, MF_KEY_LEN) == 0);
    mf_blobs_free(blobs, n);
    mf_manifest_clear(&m);
}

/* A manifest that assembled: through a tree of small nodes, a file, and
 * back. Names too long for MF_NODE_MIN use a bigger node size. */
static void roundtrip(const mf_manifest_t *m)
{
    mf_blob_t *blobs, *again;
    size_t n, nagain, len;
    uint8_t *buf, key[MF_KEY_LEN];
    mf_manifest_t back;
    int rc = mf_encode(m, MF_NODE_MIN, &blobs, &n);

    if (rc == MF_EINVAL)
        rc = mf_encode(m, 4096, &blobs, &n);
    if (rc == MF_EINVAL)
        return; /* a tree deeper than MF_DEPTH_MAX at both sizes */
    check(rc == MF_OK);
    check(mf_bundle_encode(blobs, n, &buf, &len) == MF_OK);
    check(mf_bundle_decode(buf, len, key, &again, &nagain) == MF_OK);
    check(nagain == n && memcmp(key, blobs[n - 1].key, MF_KEY_LEN) == 0);
    check(assemble(key, again, nagain, &back) == MF_OK);
    check(same_manifest(m, &back));
    mf_manifest_clear(&back);
    mf_blobs_free(again, nagain);
    mf_blobs_free(blobs, n);
    free(buf);
}

static void as_bundle(const uint8_t *data, size_t size)
{
    mf_blob_t *blobs;
    mf_manifest_t m;
    uint8_t key[MF_KEY_LEN], *out;
    size_t n, len;

    if (mf_bundle_decode(data, size, key, &blobs, &n) != MF_OK)
        return;
    check(mf_is_bundle(data, size));
    check(mf_bundle_encode(blobs, n, &out, &len) == MF_OK);
    check(len == size && memcmp(out, data, size) == 0);
    free(out);
    if (assemble(key, blobs, n, &m) == MF_OK) {
        roundtrip(&m);
        mf_manifest_clear(&m);
    }
    mf_blobs_free(blobs, n);
}

static void as_hex(const uint8_t *data, size_t size)
{
    char text[65], back[65];
    uint8_t key[MF_KEY_LEN];

    if (size > 64)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    if (mf_key_from_hex(key, text) != MF_OK)
        return;
    mf_key_to_hex(key, back);
    for (size_t i = 0; i < 64; i++)
        check(back[i] == (text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_root_node(data, size);
    as_bundle(data, size);
    as_hex(data, size);
    return 0;
}
