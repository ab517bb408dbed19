/*
 * manifests: mf_dir_encode, a directory listing into one root node or a
 * tree of nodes (schema/manifest.md, section 8.5), and the helpers that
 * make a listing ready for it (mf_dir_sort, mf_dir_sum).
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

/* Sums what entries e[0..n) cover into c (all but its key): the listing
 * entries, and for the whole tree below them the bytes, regular files and
 * entries. The entries are valid. @return 0 or -1 (a sum above 2^64 - 1). */
static int sum_range(const mf_dirent_t *e, size_t n, mf__dchild_t *c)
{
    int wrap = 0;

    c->bytes = c->files = c->total = 0;
    c->entries = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        wrap |= mf__add64(&c->total, 1);
        if (e[i].kind == MF_KIND_FILE) {
            wrap |= mf__add64(&c->files, 1);
            wrap |= mf__add64(&c->bytes, e[i].bytes);
        } else if (e[i].kind == MF_KIND_DIR) {
            wrap |= mf__add64(&c->total, e[i].total);
            wrap |= mf__add64(&c->files, e[i].files);
            wrap |= mf__add64(&c->bytes, e[i].bytes);
        }
    }
    return wrap;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const mf_dirent_t *)a)->name, ((const mf_dirent_t *)b)->name);
}

void mf_dir_sort(mf_dir_t *d)
{
    if (d != NULL && d->n_entries > 1 && d->entries != NULL)
        qsort(d->entries, d->n_entries, sizeof(*d->entries), cmp_name);
}

int mf_dir_sum(mf_dir_t *d)
{
    mf__dchild_t c;

    if (d == NULL || (d->n_entries > 0 && d->entries == NULL) || d->n_entries > MF_DIR_ENTRIES_MAX)
        return MF_EINVAL;
    for (size_t i = 0; i < d->n_entries; i++)
        if (!mf_dirent_valid(&d->entries[i]))
            return MF_EINVAL;
    if (sum_range(d->entries, d->n_entries, &c) != 0)
        return MF_EINVAL;
    d->bytes = c.bytes;
    d->files = c.files;
    d->total = c.total;
    return MF_OK;
}

/* @return 1 if d is a directory mf_dir_encode accepts. */
static int consistent(const mf_dir_t *d)
{
    mf__dchild_t c;

    if (!mf_name_valid(d->name) || d->n_entries > MF_DIR_ENTRIES_MAX)
        return 0;
    if (d->n_entries > 0 && d->entries == NULL)
        return 0;
    for (size_t i = 0; i < d->n_entries; i++) {
        if (!mf_dirent_valid(&d->entries[i]))
            return 0;
        /* strcmp compares as unsigned char: bytewise, as the format sorts. */
        if (i > 0 && strcmp(d->entries[i - 1].name, d->entries[i].name) >= 0)
            return 0;
    }
    if (sum_range(d->entries, d->n_entries, &c) != 0)
        return 0;
    return c.bytes == d->bytes && c.files == d->files && c.total == d->total;
}

/* A directory tree's child record. */
static uint8_t *put_kid(uint8_t *p, const mf__kid_t *k)
{
    mf__dchild_t c;

    memcpy(c.key, k->key, MF_KEY_LEN);
    c.bytes = k->cover.v[0];
    c.files = k->cover.v[1];
    c.total = k->cover.v[2];
    c.entries = (uint32_t)k->cover.v[3];
    return mf__put_dchild(p, &c);
}

static const mf__tree_fmt_t dir_fmt = {MF__DIR_MAGIC, MF__DCHILD_LEN, put_kid};

/* Emits the leaves: entries in order, each leaf taking as many as fit in
 * max bytes. *up gets the child record of each, *g how many.
 * @return 0, MF_EINVAL (an entry does not fit in a leaf) or MF_ENOMEM. */
static int emit_leaves(mf__out_t *o, const mf_dir_t *d, size_t max, mf__kid_t **up, size_t *g)
{
    size_t n = 0, len = MF__INNER_HDR, at = 0;

    /* First count them, so that one array holds their records. */
    for (size_t i = 0; i < d->n_entries; i++) {
        size_t rec = mf__drec_len(&d->entries[i]);
        if (MF__INNER_HDR + rec > max)
            return MF_EINVAL;
        if (i == 0 || len + rec > max) {
            n++;
            len = MF__INNER_HDR;
        }
        len += rec;
    }
    *g = n;
    *up = malloc(n * sizeof(**up));
    if (*up == NULL)
        return MF_ENOMEM;
    for (size_t leaf = 0; leaf < n; leaf++) {
        size_t end = at;
        mf__dchild_t c;
        uint8_t *data, *p;

        for (len = MF__INNER_HDR; end < d->n_entries; end++) {
            size_t rec = mf__drec_len(&d->entries[end]);
            if (len + rec > max)
                break;
            len += rec;
        }
        data = malloc(len);
        if (data == NULL)
            return MF_ENOMEM;
        p = mf__put_hdr(data, MF__DIR_MAGIC, MF__KIND_INNER, 0);
        p = le_put32(p, (uint32_t)(end - at));
        for (size_t i = at; i < end; i++)
            p = mf__put_drec(p, &d->entries[i]);
        sum_range(d->entries + at, end - at, &c); /* parts of d's sums: no wrap */
        (*up)[leaf].cover = (mf__cover_t){{c.bytes, c.files, c.total, c.entries}};
        if (mf__out_emit(o, data, len, (*up)[leaf].key, NULL) != MF_OK)
            return MF_ENOMEM;
        at = end;
    }
    return MF_OK;
}

/* Emits the root: listing d's entries (level 0) or kids[0..k). */
static int emit_root(mf__out_t *o, const mf_dir_t *d, const mf__kid_t *kids, size_t k,
                     uint8_t level)
{
    size_t name_len = strlen(d->name), len = MF__DROOT_FIXED + name_len;
    uint8_t key[MF_KEY_LEN], *data, *p;

    for (size_t i = 0; i < k; i++)
        len += level == 0 ? mf__drec_len(&d->entries[i]) : MF__DCHILD_LEN;
    data = malloc(len);
    if (data == NULL)
        return MF_ENOMEM;
    p = mf__put_droot_hdr(data, d, name_len, level, (uint32_t)k);
    for (size_t i = 0; i < k; i++)
        p = level == 0 ? mf__put_drec(p, &d->entries[i]) : put_kid(p, &kids[i]);
    return mf__out_emit(o, data, len, key, NULL);
}

/* Builds the tree bottom up: leaves as full as they can be, then levels
 * of children until the root can list them all. */
static int emit_tree(mf__out_t *o, const mf_dir_t *d, size_t max)
{
    size_t per_root = (max - MF__DROOT_FIXED - strlen(d->name)) / MF__DCHILD_LEN, g = 0;
    mf__kid_t *kids = NULL;
    uint8_t level = 0;
    int rc = emit_leaves(o, d, max, &kids, &g);

    if (rc == MF_OK)
        rc = mf__emit_levels(o, &dir_fmt, max, per_root, &kids, &g, &level);
    if (rc == MF_OK)
        rc = emit_root(o, d, kids, g, (uint8_t)(level + 1));
    free(kids);
    return rc;
}

int mf_dir_encode(const mf_dir_t *d, size_t max_node_bytes, mf_blob_t **blobs, size_t *n)
{
    mf__out_t o;
    size_t root_len;
    int rc;

    if (d == NULL || blobs == NULL || n == NULL || max_node_bytes < MF_NODE_MIN || !consistent(d))
        return MF_EINVAL;
    root_len = MF__DROOT_FIXED + strlen(d->name);
    for (size_t i = 0; i < d->n_entries && root_len <= max_node_bytes; i++)
        root_len += mf__drec_len(&d->entries[i]);
    mf__out_init(&o);
    if (root_len <= max_node_bytes)
        rc = emit_root(&o, d, NULL, d->n_entries, 0);
    else if (MF__DROOT_FIXED + strlen(d->name) + MF__DCHILD_LEN > max_node_bytes)
        rc = MF_EINVAL; /* no room for a single child next to the name */
    else
        rc = emit_tree(&o, d, max_node_bytes);
    return mf__out_done(&o, rc, blobs, n);
}
