/*
 * Fuzz target for the manifest codec (manifests/manifest.h) and directory
 * manifests (manifests/dir_manifest.h). The input is read three ways, and
 * whatever the bytes, nothing may crash, leak or read outside them:
 *
 *   - as one root node of either kind, filed under its own hash: if it
 *     assembles into a whole file or directory manifest, mf_root_kind must
 *     agree, and mf_encode or mf_dir_encode must give back exactly the input;
 *   - as a manifest file: if it decodes, it must re-encode to exactly the
 *     input, and if its nodes assemble (as a file or a directory), the
 *     manifest must survive a round trip through its encoder (small nodes,
 *     so a tree) and a new file; mf_dir_bundle_check must not pass a file
 *     whose directory does not assemble;
 *   - as the plain bytes of a sealed file's root node (schema/manifest.md
 *     section 9): sealed with its own secret, it must assemble only through
 *     mf_asm_new_sealed, and then mf_encode_sealed must give back the very
 *     sealed bytes and secret;
 *   - as a key in hex: if it parses, it prints back as the same key.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h> /* EVP_Digest */

#include "fuzz.h"
#include "manifests/dir_manifest.h"
#include "manifests/manifest.h"
#include "manifests/seal.h"

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

static int same_dir(const mf_dir_t *a, const mf_dir_t *b)
{
    if (strcmp(a->name, b->name) != 0 || a->bytes != b->bytes || a->files != b->files ||
        a->total != b->total || a->n_entries != b->n_entries)
        return 0;
    for (size_t i = 0; i < a->n_entries; i++) {
        const mf_dirent_t *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) != 0 || x->kind != y->kind || x->mode != y->mode ||
            memcmp(x->key, y->key, MF_KEY_LEN) != 0 || x->bytes != y->bytes ||
            x->files != y->files || x->total != y->total ||
            (x->target == NULL) != (y->target == NULL) ||
            (x->target != NULL && strcmp(x->target, y->target) != 0))
            return 0;
    }
    return 1;
}

/* A manifest of either kind. */
typedef struct any {
    int kind; /* MF_KIND_FILE or MF_KIND_DIR once assembled */
    mf_manifest_t m;
    mf_dir_t d;
} any_t;

static void any_clear(any_t *x)
{
    mf_manifest_clear(&x->m);
    mf_dir_clear(&x->d);
}

/* Assembles the manifest of file_key, of either kind, from blobs[0..n),
 * any extra blobs ignored. @return what the finish returned (or the first
 * error); on success x holds the manifest. */
static int assemble(const uint8_t *file_key, const mf_blob_t *blobs, size_t n, any_t *x)
{
    uint8_t keys[64][MF_KEY_LEN];
    mf_asm_t *a;
    size_t want;
    int rc, rounds = 0;

    memset(x, 0, sizeof(*x));
    if (mf_asm_new_kind(&a, file_key, MF_KIND_ANY) != MF_OK)
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
    if (rc == MF_OK) {
        x->kind = mf_asm_kind(a);
        rc = x->kind == MF_KIND_DIR ? mf_dir_asm_finish(a, &x->d) : mf_asm_finish(a, &x->m);
    }
    mf_asm_free(a);
    return rc;
}

static void as_root_node(const uint8_t *data, size_t size)
{
    mf_blob_t one, *blobs;
    any_t x;
    size_t n, max = size < MF_NODE_MIN ? MF_NODE_MIN : size;
    unsigned int klen;
    int kind = mf_root_kind(data, size);

    check(kind == MF_KIND_FILE || kind == MF_KIND_DIR || kind == MF_EFORMAT);
    check(EVP_Digest(data, size, one.key, &klen, EVP_sha256(), NULL) == 1);
    one.data = (uint8_t *)data;
    one.len = size;
    if (assemble(one.key, &one, 1, &x) != MF_OK)
        return;
    check(x.kind == kind); /* a whole manifest in one node is a valid root */
    if (x.kind == MF_KIND_DIR)
        check(mf_dir_encode(&x.d, max, &blobs, &n) == MF_OK);
    else
        check(mf_encode(&x.m, max, &blobs, &n) == MF_OK);
    check(n == 1 && blobs[0].len == size && memcmp(blobs[0].data, data, size) == 0);
    check(memcmp(blobs[0].key, one.key, MF_KEY_LEN) == 0);
    mf_blobs_free(blobs, n);
    any_clear(&x);
}

/* Encodes x at max_node_bytes. @return what the encoder returned. */
static int encode(const any_t *x, size_t max, mf_blob_t **blobs, size_t *n)
{
    return x->kind == MF_KIND_DIR ? mf_dir_encode(&x->d, max, blobs, n)
                                  : mf_encode(&x->m, max, blobs, n);
}

/* A manifest that assembled: through a tree of small nodes, a file, and
 * back. Names or entries too long for MF_NODE_MIN use bigger node sizes
 * (any directory entry fits in MF_NODE_DEFAULT). */
static void roundtrip(const any_t *x)
{
    static const size_t sizes[] = {MF_NODE_MIN, 4096, MF_NODE_DEFAULT};
    mf_blob_t *blobs, *again;
    size_t n, nagain, len;
    uint8_t *buf, key[MF_KEY_LEN];
    any_t back;
    int rc = MF_EINVAL;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && rc == MF_EINVAL; i++)
        rc = encode(x, sizes[i], &blobs, &n);
    if (rc == MF_EINVAL)
        return; /* a tree deeper than MF_DEPTH_MAX at every size */
    check(rc == MF_OK);
    check(mf_bundle_encode(blobs, n, &buf, &len) == MF_OK);
    check(mf_bundle_decode(buf, len, key, &again, &nagain) == MF_OK);
    check(nagain == n && memcmp(key, blobs[n - 1].key, MF_KEY_LEN) == 0);
    check(assemble(key, again, nagain, &back) == MF_OK);
    check(back.kind == x->kind);
    check(x->kind == MF_KIND_DIR ? same_dir(&x->d, &back.d) : same_manifest(&x->m, &back.m));
    any_clear(&back);
    mf_blobs_free(again, nagain);
    mf_blobs_free(blobs, n);
    free(buf);
}

static void as_bundle(const uint8_t *data, size_t size)
{
    mf_blob_t *blobs;
    any_t x;
    uint8_t key[MF_KEY_LEN], *out;
    size_t n, len;
    int whole, asm_rc;

    if (mf_bundle_decode(data, size, key, &blobs, &n) != MF_OK)
        return;
    check(mf_is_bundle(data, size));
    check(mf_bundle_encode(blobs, n, &out, &len) == MF_OK);
    check(len == size && memcmp(out, data, size) == 0);
    free(out);
    whole = mf_dir_bundle_check(key, blobs, n);
    check(whole == MF_OK || whole == MF_EFORMAT); /* the nodes hash right */
    asm_rc = assemble(key, blobs, n, &x);
    /* A directory's whole tree is first of all a directory. */
    check(whole != MF_OK || (asm_rc == MF_OK && x.kind == MF_KIND_DIR));
    if (asm_rc == MF_OK) {
        roundtrip(&x);
        any_clear(&x);
    }
    mf_blobs_free(blobs, n);
}

static void as_sealed_root(const uint8_t *data, size_t size)
{
    uint8_t secret[MF_KEY_LEN], again_secret[MF_KEY_LEN], key[MF_KEY_LEN];
    uint8_t *sealed = malloc(size + MF_SEAL_TAG_LEN);
    mf_blob_t *blobs;
    mf_manifest_t m;
    mf_asm_t *a;
    size_t n, max = size + MF_SEAL_TAG_LEN < MF_NODE_MIN ? MF_NODE_MIN : size + MF_SEAL_TAG_LEN;
    int rc;

    check(sealed != NULL);
    check(mf_seal_secret(data, size, secret) == MF_OK);
    check(mf_seal(secret, data, size, sealed) == MF_OK);
    check(mf_sha256(sealed, size + MF_SEAL_TAG_LEN, key) == MF_OK);
    check(mf_asm_new_sealed(&a, key, secret) == MF_OK);
    rc = mf_asm_add(a, key, sealed, size + MF_SEAL_TAG_LEN);
    if (rc == MF_OK)
        rc = mf_asm_finish(a, &m);
    mf_asm_free(a);
    if (rc == MF_OK) {
        check(m.n_entries == 0 || m.secrets != NULL);
        check(mf_encode_sealed(&m, max, &blobs, &n, again_secret) == MF_OK);
        check(n == 1 && blobs[0].len == size + MF_SEAL_TAG_LEN);
        check(memcmp(blobs[0].data, sealed, size + MF_SEAL_TAG_LEN) == 0);
        check(memcmp(again_secret, secret, MF_KEY_LEN) == 0);
        mf_blobs_free(blobs, n);
        mf_manifest_clear(&m);
    }
    free(sealed);
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
    as_sealed_root(data, size);
    as_hex(data, size);
    return 0;
}
