/*
 * manifests: the manifest file of a directory holds its whole tree
 * (schema/manifest.md, section 8.7); mf_dir_bundle_check checks that it
 * holds exactly that, by assembling every manifest of the tree from it.
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

#define PEND_BATCH 64 /* pending keys asked of an assembler at once */

/* A manifest the tree names: its key, the kind and totals the entry gives
 * (a file: size; a directory: bytes, files, total). */
typedef struct want {
    uint8_t key[MF_KEY_LEN];
    int kind;
    int check; /* 0 for the top directory, which no entry names */
    uint64_t v[3];
} want_t;

/* A manifest assembled: its kind and totals, filed by key in seen. */
typedef struct got {
    int kind;
    uint64_t v[3];
} got_t;

typedef struct tree {
    const mf_blob_t *blobs;
    size_t n;
    mf__map_t nodes; /* node key -> blob index */
    uint8_t *used;   /* used[i]: blob i is a node of the tree */
    want_t *queue;   /* manifests to check, in the order found */
    size_t q_head, q_len, q_cap;
    mf__map_t seen; /* manifest key -> index in done */
    got_t *done;
    size_t n_done, cap_done;
} tree_t;

static int push_want(tree_t *t, const want_t *w)
{
    if (mf__reserve((void **)&t->queue, &t->q_cap, t->q_len + 1, sizeof(*t->queue)) != MF_OK)
        return MF_ENOMEM;
    t->queue[t->q_len++] = *w;
    return MF_OK;
}

static int push_got(tree_t *t, const uint8_t key[MF_KEY_LEN], const got_t *g)
{
    if (mf__reserve((void **)&t->done, &t->cap_done, t->n_done + 1, sizeof(*t->done)) != MF_OK)
        return MF_ENOMEM;
    t->done[t->n_done] = *g;
    return mf__map_put(&t->seen, key, t->n_done++);
}

/* Feeds a the nodes it asks for, from the blobs, until it is whole.
 * @return 0, MF_EFORMAT (a node missing or malformed), MF_EHASH, MF_ENOMEM. */
static int feed(tree_t *t, mf_asm_t *a)
{
    uint8_t keys[PEND_BATCH][MF_KEY_LEN];
    size_t want;

    while ((want = mf_asm_pending(a, keys, PEND_BATCH)) > 0) {
        for (size_t i = 0; i < want && i < PEND_BATCH; i++) {
            size_t at = mf__map_get(&t->nodes, keys[i]);
            int rc;
            if (at == SIZE_MAX)
                return MF_EFORMAT; /* a node of the tree is missing */
            t->used[at] = 1;
            rc = mf_asm_add(a, keys[i], t->blobs[at].data, t->blobs[at].len);
            if (rc != MF_OK)
                return rc;
        }
    }
    return MF_OK;
}

/* Queues what the entries of d name. @return 0 or MF_ENOMEM. */
static int queue_entries(tree_t *t, const mf_dir_t *d)
{
    for (size_t i = 0; i < d->n_entries; i++) {
        const mf_dirent_t *e = &d->entries[i];
        want_t w = {.kind = e->kind, .check = 1, .v = {e->bytes, e->files, e->total}};

        if (e->kind == MF_KIND_LINK)
            continue;
        if (e->kind == MF_KIND_FILE)
            w.v[1] = w.v[2] = 0;
        memcpy(w.key, e->key, MF_KEY_LEN);
        if (push_want(t, &w) != MF_OK)
            return MF_ENOMEM;
    }
    return MF_OK;
}

/* Assembles the manifest w names, checks it against w and queues what it
 * names. @return 0, MF_EFORMAT, MF_EHASH or MF_ENOMEM. */
static int check_one(tree_t *t, const want_t *w)
{
    got_t g = {.kind = w->kind};
    mf_manifest_t m = {0};
    mf_dir_t d = {0};
    mf_asm_t *a;
    int rc = mf_asm_new_kind(&a, w->key, w->kind);

    if (rc != MF_OK)
        return rc;
    rc = feed(t, a);
    if (rc == MF_OK && w->kind == MF_KIND_FILE) {
        rc = mf_asm_finish(a, &m);
        g.v[0] = m.size;
    } else if (rc == MF_OK) {
        rc = mf_dir_asm_finish(a, &d);
        g.v[0] = d.bytes;
        g.v[1] = d.files;
        g.v[2] = d.total;
    }
    mf_asm_free(a);
    if (rc == MF_OK && w->check && memcmp(g.v, w->v, sizeof(g.v)) != 0)
        rc = MF_EFORMAT; /* the entry and what it names disagree */
    if (rc == MF_OK)
        rc = push_got(t, w->key, &g);
    if (rc == MF_OK)
        rc = queue_entries(t, &d);
    mf_manifest_clear(&m);
    mf_dir_clear(&d);
    return rc;
}

static int check_tree(tree_t *t, const uint8_t key[MF_KEY_LEN])
{
    want_t top = {.kind = MF_KIND_DIR};
    int rc;

    for (size_t i = 0; i < t->n; i++) {
        if (mf__map_get(&t->nodes, t->blobs[i].key) != SIZE_MAX)
            return MF_EFORMAT; /* a node filed twice */
        if (mf__map_put(&t->nodes, t->blobs[i].key, i) != MF_OK)
            return MF_ENOMEM;
    }
    memcpy(top.key, key, MF_KEY_LEN);
    if ((rc = push_want(t, &top)) != MF_OK)
        return rc;
    while (t->q_head < t->q_len) {
        want_t w = t->queue[t->q_head++];
        size_t at = mf__map_get(&t->seen, w.key);

        if (at == SIZE_MAX)
            rc = check_one(t, &w);
        else if (t->done[at].kind != w.kind || memcmp(t->done[at].v, w.v, sizeof(w.v)) != 0)
            rc = MF_EFORMAT; /* met again, described otherwise */
        if (rc != MF_OK)
            return rc;
    }
    for (size_t i = 0; i < t->n; i++)
        if (!t->used[i])
            return MF_EFORMAT; /* a node the tree does not name */
    return MF_OK;
}

int mf_dir_bundle_check(const uint8_t key[MF_KEY_LEN], const mf_blob_t *blobs, size_t n)
{
    tree_t t;
    int rc;

    if (key == NULL || (blobs == NULL && n > 0))
        return MF_EINVAL;
    memset(&t, 0, sizeof(t));
    t.blobs = blobs;
    t.n = n;
    mf__map_init(&t.nodes);
    mf__map_init(&t.seen);
    t.used = calloc(n ? n : 1, 1);
    rc = t.used == NULL ? MF_ENOMEM : check_tree(&t, key);
    mf__map_free(&t.nodes);
    mf__map_free(&t.seen);
    free(t.used);
    free(t.queue);
    free(t.done);
    return rc;
}
