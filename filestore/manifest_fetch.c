/*
 * Fetching a manifest (the root node, then its children level by level)
 * and importing one from a manifest file. See filestore.h.
 */
#include "filestore/fetch.h"
#include "filestore/filestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEVEL_MAX 256 /* nodes of one tree level fetched at once, at most */

/* Bytes of nodes one manifest may take: the largest file manifest
 * (MF_ENTRIES_MAX entries of 36 bytes, with its tree) fits; a hostile
 * directory listing (a million entries with 4 KiB link targets) does not. */
#define MANIFEST_BYTES_MAX (256u << 20)

typedef struct mfetch {
    fs_ctx_t ctx;
    uint8_t key[MF_KEY_LEN];
    int sealed; /* a sealed file's manifest, opened with its root secret */
    mf_asm_t *asm_;
    mf_blob_t *blobs; /* in the order fetched: root first */
    size_t n_blobs, cap_blobs;
    uint64_t bytes; /* of the nodes, up to MANIFEST_BYTES_MAX */
    unsigned in_flight;
    int status;
    char message[320];
    fs_manifest_cb done;         /* a file manifest's (fs_manifest_fetch) */
    fs_any_manifest_cb done_any; /* either kind's (fs_manifest_fetch_kind) */
    void *arg;
} mfetch_t;

typedef struct mfetch_one {
    mfetch_t *mf;
    uint8_t key[MF_KEY_LEN];
} mfetch_one_t;

static void mfetch_fail(mfetch_t *mf, int status, const char *what)
{
    char hex[65];

    if (mf->status != 0)
        return;
    mf->status = status;
    mf_key_to_hex(mf->key, hex);
    snprintf(mf->message, sizeof(mf->message), "cannot get the manifest %s: %s", hex, what);
}

static void mfetch_finish(mfetch_t *mf)
{
    mf_manifest_t m = {0};
    mf_dir_t d = {0};
    int is_dir = mf_asm_kind(mf->asm_) == MF_KIND_DIR;

    if (mf->status == 0) {
        int err = is_dir ? mf_dir_asm_finish(mf->asm_, &d) : mf_asm_finish(mf->asm_, &m);
        if (err)
            mfetch_fail(mf, err == MF_ENOMEM ? FS_ENOMEM : FS_ECORRUPT, mf_strerror(err));
    }
    if (mf->status == 0) {
        /* Root last, children before the nodes that list them. */
        for (size_t i = 0; i < mf->n_blobs / 2; i++) {
            mf_blob_t t = mf->blobs[i];
            mf->blobs[i] = mf->blobs[mf->n_blobs - 1 - i];
            mf->blobs[mf->n_blobs - 1 - i] = t;
        }
        if (mf->done_any != NULL)
            mf->done_any(0, is_dir ? NULL : &m, is_dir ? &d : NULL, mf->blobs, mf->n_blobs, "",
                         mf->arg);
        else
            mf->done(0, &m, mf->blobs, mf->n_blobs, "", mf->arg);
    } else if (mf->done_any != NULL) {
        mf->done_any(mf->status, NULL, NULL, NULL, 0, mf->message, mf->arg);
    } else {
        mf->done(mf->status, NULL, NULL, 0, mf->message, mf->arg);
    }
    mf_manifest_clear(&m);
    mf_dir_clear(&d);
    mf_asm_free(mf->asm_);
    mf_blobs_free(mf->blobs, mf->n_blobs);
    free(mf);
}

static int keep_blob(mfetch_t *mf, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len)
{
    mf_blob_t *b;

    mf->bytes += len;
    if (mf->bytes > MANIFEST_BYTES_MAX)
        return FS_ETOOBIG;
    if (mf->n_blobs == mf->cap_blobs) {
        size_t cap = mf->cap_blobs ? mf->cap_blobs * 2 : 8;
        void *p = realloc(mf->blobs, cap * sizeof(*mf->blobs));
        if (p == NULL)
            return FS_ENOMEM;
        mf->blobs = p;
        mf->cap_blobs = cap;
    }
    b = &mf->blobs[mf->n_blobs];
    b->data = malloc(len ? len : 1);
    if (b->data == NULL)
        return FS_ENOMEM;
    memcpy(b->data, data, len);
    memcpy(b->key, key, MF_KEY_LEN);
    b->len = len;
    mf->n_blobs++;
    return 0;
}

static int mfetch_start(mfetch_t *mf, const uint8_t key[MF_KEY_LEN]);

static void mfetch_next_level(mfetch_t *mf)
{
    uint8_t(*keys)[MF_KEY_LEN];
    size_t n;

    if (mf->in_flight > 0)
        return;
    if (mf->status != 0) {
        mfetch_finish(mf);
        return;
    }
    keys = malloc(LEVEL_MAX * sizeof(*keys));
    if (keys == NULL) {
        mfetch_fail(mf, FS_ENOMEM, fs_strerror(FS_ENOMEM));
        mfetch_finish(mf);
        return;
    }
    n = mf_asm_pending(mf->asm_, keys, LEVEL_MAX);
    if (n > LEVEL_MAX)
        n = LEVEL_MAX;
    for (size_t i = 0; i < n && mf->status == 0; i++)
        if (mfetch_start(mf, keys[i]) != 0)
            mfetch_fail(mf, FS_ENOMEM, fs_strerror(FS_ENOMEM));
    free(keys);
    if (mf->in_flight == 0)
        mfetch_finish(mf);
}

static void on_node(int status, const uint8_t *data, size_t len, void *arg)
{
    mfetch_one_t *one = arg;
    mfetch_t *mf = one->mf;

    mf->in_flight--;
    if (status != 0) {
        mfetch_fail(mf, status,
                    status == FS_ENOENT ? "no node of the network has it" : fs_strerror(status));
    } else if (mf->status == 0) {
        int err = mf_asm_add(mf->asm_, one->key, data, len);
        if (err == MF_EFORMAT && !mf->sealed && memcmp(one->key, mf->key, MF_KEY_LEN) == 0 &&
            (len < 4 || (memcmp(data, "EMOM", 4) != 0 && memcmp(data, "EMOD", 4) != 0)))
            mfetch_fail(mf, FS_ECORRUPT,
                        "it is not a manifest (an encrypted file's? Give its whole capability, "
                        "KEY:SECRET, as emofs put --encrypt printed it)");
        else if (err)
            mfetch_fail(mf, FS_ECORRUPT, mf_strerror(err));
        else if ((err = keep_blob(mf, one->key, data, len)) != 0)
            mfetch_fail(mf, err,
                        err == FS_ETOOBIG ? "larger than any manifest emofs makes"
                                          : fs_strerror(err));
    }
    free(one);
    mfetch_next_level(mf);
}

static int mfetch_start(mfetch_t *mf, const uint8_t key[MF_KEY_LEN])
{
    mfetch_one_t *one = malloc(sizeof(*one));

    if (one == NULL)
        return FS_ENOMEM;
    one->mf = mf;
    memcpy(one->key, key, MF_KEY_LEN);
    if (fs_fetch_blob(&mf->ctx, key, NULL, on_node, one) != 0) {
        free(one);
        return FS_ENOMEM;
    }
    mf->in_flight++;
    return 0;
}

/* Starts fetching the manifest of key (a sealed file's when secret is
 * not NULL). */
static int mfetch_new(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                      const uint8_t secret[MF_KEY_LEN], int kind, fs_manifest_cb done,
                      fs_any_manifest_cb done_any, void *arg)
{
    mfetch_t *mf;
    int err;

    if (ctx == NULL || ctx->exec == NULL || key == NULL || (done == NULL && done_any == NULL))
        return FS_EINVAL;
    mf = calloc(1, sizeof(*mf));
    if (mf == NULL)
        return FS_ENOMEM;
    mf->ctx = *ctx;
    memcpy(mf->key, key, MF_KEY_LEN);
    mf->done = done;
    mf->done_any = done_any;
    mf->arg = arg;
    mf->sealed = secret != NULL;
    err = secret != NULL ? mf_asm_new_sealed(&mf->asm_, key, secret)
                         : mf_asm_new_kind(&mf->asm_, key, kind);
    if (err != 0 || mfetch_start(mf, key) != 0) {
        mf_asm_free(mf->asm_);
        free(mf);
        return FS_ENOMEM;
    }
    return 0;
}

int fs_manifest_fetch(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], fs_manifest_cb done,
                      void *arg)
{
    return done == NULL ? FS_EINVAL : mfetch_new(ctx, key, NULL, MF_KIND_FILE, done, NULL, arg);
}

int fs_manifest_fetch_kind(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], int kind,
                           fs_any_manifest_cb done, void *arg)
{
    if (done == NULL || (kind != MF_KIND_ANY && kind != MF_KIND_FILE && kind != MF_KIND_DIR))
        return FS_EINVAL;
    return mfetch_new(ctx, key, NULL, kind, NULL, done, arg);
}

int fs_manifest_fetch_sealed(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                             const uint8_t secret[MF_KEY_LEN], fs_any_manifest_cb done, void *arg)
{
    if (done == NULL || secret == NULL)
        return FS_EINVAL;
    return mfetch_new(ctx, key, secret, MF_KIND_FILE, NULL, done, arg);
}

static const mf_blob_t *find_blob(const mf_blob_t *blobs, size_t n, const uint8_t *key)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(blobs[i].key, key, MF_KEY_LEN) == 0)
            return &blobs[i];
    return NULL;
}

/* Assembles the manifest of key, of the given kind (a sealed file's when
 * secret is not NULL), from blobs. */
static int assemble(const uint8_t key[MF_KEY_LEN], const uint8_t *secret, const mf_blob_t *blobs,
                    size_t n, int kind, mf_manifest_t *m, mf_dir_t *d)
{
    uint8_t want[MF_KEY_LEN];
    const mf_blob_t *b = find_blob(blobs, n, key);
    mf_asm_t *a;
    int err;

    if (b == NULL)
        return FS_ECORRUPT;
    if ((secret != NULL ? mf_asm_new_sealed(&a, key, secret) : mf_asm_new_kind(&a, key, kind)) != 0)
        return FS_ENOMEM;
    err = mf_asm_add(a, b->key, b->data, b->len);
    while (err == 0 && mf_asm_pending(a, &want, 1) > 0) {
        b = find_blob(blobs, n, want);
        err = b ? mf_asm_add(a, b->key, b->data, b->len) : MF_EFORMAT;
    }
    if (err == 0)
        err = kind == MF_KIND_DIR ? mf_dir_asm_finish(a, d) : mf_asm_finish(a, m);
    mf_asm_free(a);
    if (err == MF_ENOMEM)
        return FS_ENOMEM;
    if (err == MF_EHASH)
        return FS_EBADHASH;
    return err ? FS_ECORRUPT : 0;
}

int fs_manifest_assemble(const uint8_t file_key[MF_KEY_LEN], const uint8_t *secret,
                         const mf_blob_t *blobs, size_t n, mf_manifest_t *out)
{
    return assemble(file_key, secret, blobs, n, MF_KIND_FILE, out, NULL);
}

int fs_manifest_assemble_dir(const uint8_t key[MF_KEY_LEN], const mf_blob_t *blobs, size_t n,
                             mf_dir_t *out)
{
    return assemble(key, NULL, blobs, n, MF_KIND_DIR, NULL, out);
}

int fs_manifest_import(fs_store_t *store, const uint8_t file_key[MF_KEY_LEN],
                       const mf_blob_t *blobs, size_t n, mf_manifest_t *out)
{
    mf_manifest_t m = {0};
    const mf_blob_t *root = find_blob(blobs, n, file_key);
    int err;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (root != NULL && mf_root_kind(root->data, root->len) == MF_KIND_DIR) {
        err = mf_dir_bundle_check(file_key, blobs, n);
        err = err == 0           ? 0
              : err == MF_ENOMEM ? FS_ENOMEM
              : err == MF_EHASH  ? FS_EBADHASH
                                 : FS_ECORRUPT;
    } else {
        err = fs_manifest_assemble(file_key, NULL, blobs, n, &m);
    }
    for (size_t i = 0; err == 0 && i < n; i++)
        err = fs_store_put(store, blobs[i].key, blobs[i].data, blobs[i].len, 1);
    if (err == 0 && out != NULL) {
        *out = m;
        return 0;
    }
    mf_manifest_clear(&m);
    return err;
}
