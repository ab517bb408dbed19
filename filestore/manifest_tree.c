/*
 * Every manifest node a key needs: a file's manifest, or a directory's
 * whole tree (its manifest, every sub-directory's and every file's below),
 * for a manifest file (schema/manifest.md, section 8.7). See filestore.h.
 *
 * The manifests are fetched one at a time, breadth first, each as the kind
 * its entry says and checked against the entry; the nodes are collected in
 * the order a manifest file wants them (the top root last).
 */
#include "filestore/filestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A manifest still to fetch: its key, the kind its entry says, and the
 * entry to check it against (NULL for the top). */
typedef struct pending {
    uint8_t key[MF_KEY_LEN];
    int kind;
    mf_dirent_t entry; /* name and target not kept */
    int has_entry;
} pending_t;

typedef struct tfetch {
    fs_ctx_t ctx;
    uint8_t key[MF_KEY_LEN];
    pending_t *queue;
    size_t n_queue, next, cap_queue;
    mf_blob_t *blobs; /* every node, the top manifest's last */
    size_t n_blobs, cap_blobs, top_blobs;
    uint64_t bytes; /* of the nodes, against FS_TREE_BUNDLE_MAX */
    fs_tree_manifest_cb done;
    void *arg;
} tfetch_t;

static void tfetch_end(tfetch_t *t, int status, const char *message)
{
    if (status == 0) {
        /* The top manifest's nodes were collected first: move them last. */
        mf_blob_t *sorted = malloc((t->n_blobs ? t->n_blobs : 1) * sizeof(*sorted));
        if (sorted == NULL) {
            status = FS_ENOMEM;
            message = "out of memory";
        } else {
            size_t rest = t->n_blobs - t->top_blobs;
            memcpy(sorted, t->blobs + t->top_blobs, rest * sizeof(*sorted));
            memcpy(sorted + rest, t->blobs, t->top_blobs * sizeof(*sorted));
            free(t->blobs);
            t->blobs = sorted;
        }
    }
    if (status == 0)
        t->done(0, t->blobs, t->n_blobs, "", t->arg);
    else
        t->done(status, NULL, 0, message, t->arg);
    mf_blobs_free(t->blobs, t->n_blobs);
    free(t->queue);
    free(t);
}

static int enqueue(tfetch_t *t, const uint8_t key[MF_KEY_LEN], int kind, const mf_dirent_t *e)
{
    pending_t *p;

    if (t->n_queue == t->cap_queue) {
        size_t cap = t->cap_queue ? t->cap_queue * 2 : 16;
        void *q = realloc(t->queue, cap * sizeof(*t->queue));
        if (q == NULL)
            return FS_ENOMEM;
        t->queue = q;
        t->cap_queue = cap;
    }
    p = &t->queue[t->n_queue++];
    memset(p, 0, sizeof(*p));
    memcpy(p->key, key, MF_KEY_LEN);
    p->kind = kind;
    if (e != NULL) {
        p->entry = *e;
        p->entry.name = NULL;
        p->entry.target = NULL;
        p->has_entry = 1;
    }
    return 0;
}

static int keep(tfetch_t *t, const mf_blob_t *blobs, size_t n)
{
    if (t->n_blobs + n > t->cap_blobs) {
        size_t cap = t->cap_blobs ? t->cap_blobs : 16;
        while (cap < t->n_blobs + n)
            cap *= 2;
        void *p = realloc(t->blobs, cap * sizeof(*t->blobs));
        if (p == NULL)
            return FS_ENOMEM;
        t->blobs = p;
        t->cap_blobs = cap;
    }
    for (size_t i = 0; i < n; i++) {
        mf_blob_t *b = &t->blobs[t->n_blobs];
        t->bytes += blobs[i].len + MF_KEY_LEN + 4;
        if (t->bytes > FS_TREE_BUNDLE_MAX)
            return FS_ETOOBIG;
        b->data = malloc(blobs[i].len ? blobs[i].len : 1);
        if (b->data == NULL)
            return FS_ENOMEM;
        memcpy(b->data, blobs[i].data, blobs[i].len);
        memcpy(b->key, blobs[i].key, MF_KEY_LEN);
        b->len = blobs[i].len;
        t->n_blobs++;
    }
    return 0;
}

static void fetch_next(tfetch_t *t);

static void on_one(int status, const mf_manifest_t *m, const mf_dir_t *d, const mf_blob_t *blobs,
                   size_t n, const char *message, void *arg)
{
    tfetch_t *t = arg;
    const pending_t *p = &t->queue[t->next - 1];
    int err = status;

    if (err != 0) {
        tfetch_end(t, err, message);
        return;
    }
    if (p->has_entry &&
        (m ? mf_dirent_check_file(&p->entry, m) : mf_dirent_check_dir(&p->entry, d)))
        err = FS_ECORRUPT;
    if (err == 0)
        err = keep(t, blobs, n);
    if (err == 0 && t->next == 1)
        t->top_blobs = t->n_blobs;
    for (size_t i = 0; err == 0 && d != NULL && i < d->n_entries; i++) {
        const mf_dirent_t *e = &d->entries[i];
        if (e->kind != MF_KIND_LINK)
            err = enqueue(t, e->key, e->kind == MF_KIND_DIR ? MF_KIND_DIR : MF_KIND_FILE, e);
    }
    if (err != 0) {
        tfetch_end(t, err,
                   err == FS_ETOOBIG    ? "the tree's manifests are too large for one manifest file"
                   : err == FS_ECORRUPT ? "a manifest does not match its directory entry"
                                        : fs_strerror(err));
        return;
    }
    fetch_next(t);
}

static void fetch_next(tfetch_t *t)
{
    pending_t *p;

    if (t->next == t->n_queue) {
        tfetch_end(t, 0, "");
        return;
    }
    p = &t->queue[t->next++];
    if (fs_manifest_fetch_kind(&t->ctx, p->key, p->kind, on_one, t) != 0)
        tfetch_end(t, FS_ENOMEM, "out of memory");
}

int fs_manifest_fetch_tree(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                           const uint8_t *secret, fs_tree_manifest_cb done, void *arg)
{
    int err;

    tfetch_t *t;

    if (ctx == NULL || ctx->exec == NULL || key == NULL || done == NULL)
        return FS_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return FS_ENOMEM;
    t->ctx = *ctx;
    memcpy(t->key, key, MF_KEY_LEN);
    t->done = done;
    t->arg = arg;
    if (enqueue(t, key, MF_KIND_ANY, NULL) != 0) {
        free(t);
        return FS_ENOMEM;
    }
    t->next = 1;
    err = secret != NULL ? fs_manifest_fetch_sealed(ctx, key, secret, on_one, t)
                         : fs_manifest_fetch_kind(ctx, key, MF_KIND_ANY, on_one, t);
    if (err != 0) {
        free(t->queue);
        free(t);
        return FS_ENOMEM;
    }
    return 0;
}
