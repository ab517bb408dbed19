/*
 * manifests: mf_encode, a manifest into one root node or a balanced tree
 * of nodes (schema/manifest.md, section 4).
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

void mf__out_init(mf__out_t *o)
{
    memset(o, 0, sizeof(*o));
    mf__map_init(&o->seen);
}

int mf__out_done(mf__out_t *o, int rc, mf_blob_t **blobs, size_t *n)
{
    mf__map_free(&o->seen);
    if (rc != MF_OK) {
        mf_blobs_free(o->blobs, o->n);
        return rc;
    }
    *blobs = o->blobs;
    *n = o->n;
    return MF_OK;
}

int mf__out_emit(mf__out_t *o, uint8_t *data, size_t len, uint8_t key[MF_KEY_LEN])
{
    if (mf__sha256(data, len, key) != MF_OK)
        goto fail;
    if (mf__map_get(&o->seen, key) != SIZE_MAX) {
        free(data);
        return MF_OK;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        mf_blob_t *b = realloc(o->blobs, cap * sizeof(*b));
        if (b == NULL)
            goto fail;
        o->blobs = b;
        o->cap = cap;
    }
    if (mf__map_put(&o->seen, key, o->n) != MF_OK)
        goto fail;
    memcpy(o->blobs[o->n].key, key, MF_KEY_LEN);
    o->blobs[o->n].data = data;
    o->blobs[o->n].len = len;
    o->n++;
    return MF_OK;
fail:
    free(data);
    return MF_ENOMEM;
}

/* Emits the nodes of one level, each listing group_size records or one
 * fewer (the first k % g groups take one more), and writes the child
 * record of each into up[0..g). Records are entries (level 0, from m) or
 * children (from down). @return 0 or MF_ENOMEM. */
static int emit_level(mf__out_t *o, const mf_manifest_t *m, const mf__child_t *down, size_t k,
                      size_t g, uint8_t level, mf__child_t *up)
{
    size_t rec = level == 0 ? MF__ENTRY_LEN : MF__CHILD_LEN, at = 0;

    for (size_t i = 0; i < g; i++) {
        size_t cnt = k / g + (i < k % g ? 1 : 0);
        uint8_t *data = malloc(MF__INNER_HDR + cnt * rec), *p;

        if (data == NULL)
            return MF_ENOMEM;
        p = mf__put_inner_hdr(data, level, (uint32_t)cnt);
        up[i].bytes = 0;
        up[i].chunks = 0;
        for (size_t j = at; j < at + cnt; j++) {
            if (level == 0) {
                p = mf__put_entry(p, &m->entries[j]);
                up[i].bytes += m->entries[j].size;
                up[i].chunks++;
            } else {
                p = mf__put_child(p, &down[j]);
                up[i].bytes += down[j].bytes;
                up[i].chunks += down[j].chunks;
            }
        }
        at += cnt;
        if (mf__out_emit(o, data, (size_t)(p - data), up[i].key) != MF_OK)
            return MF_ENOMEM;
    }
    return MF_OK;
}

/* Emits the root: listing m's entries (level 0) or kids[0..k). */
static int emit_root(mf__out_t *o, const mf_manifest_t *m, const mf__child_t *kids, size_t k,
                     uint8_t level)
{
    size_t name_len = strlen(m->name);
    size_t rec = level == 0 ? MF__ENTRY_LEN : MF__CHILD_LEN;
    uint8_t key[MF_KEY_LEN], *data = malloc(MF__ROOT_FIXED + name_len + k * rec), *p;

    if (data == NULL)
        return MF_ENOMEM;
    p = mf__put_root_hdr(data, m, name_len, level, (uint32_t)k);
    for (size_t i = 0; i < k; i++)
        p = level == 0 ? mf__put_entry(p, &m->entries[i]) : mf__put_child(p, &kids[i]);
    return mf__out_emit(o, data, (size_t)(p - data), key);
}

/* Builds the tree bottom up: leaves of up to per_leaf entries, then levels
 * of up to per_node children, until the root can list them all. */
static int emit_tree(mf__out_t *o, const mf_manifest_t *m, size_t max)
{
    size_t per_leaf = (max - MF__INNER_HDR) / MF__ENTRY_LEN;
    size_t per_node = (max - MF__INNER_HDR) / MF__CHILD_LEN;
    size_t per_root = (max - MF__ROOT_FIXED - strlen(m->name)) / MF__CHILD_LEN;
    size_t k = m->n_entries, g = (k + per_leaf - 1) / per_leaf;
    mf__child_t *down = NULL, *up = malloc(g * sizeof(*up));
    uint8_t level = 0;
    int rc;

    if (up == NULL)
        return MF_ENOMEM;
    rc = emit_level(o, m, NULL, k, g, 0, up);
    while (rc == MF_OK && g > per_root) {
        if (++level >= MF_DEPTH_MAX) {
            rc = MF_EINVAL;
            break;
        }
        free(down);
        down = up;
        k = g;
        g = (k + per_node - 1) / per_node;
        up = malloc(g * sizeof(*up));
        rc = up == NULL ? MF_ENOMEM : emit_level(o, m, down, k, g, level, up);
    }
    if (rc == MF_OK)
        rc = emit_root(o, m, up, g, (uint8_t)(level + 1));
    free(down);
    free(up);
    return rc;
}

/* @return 1 if m is a manifest mf_encode accepts. */
static int consistent(const mf_manifest_t *m)
{
    uint64_t sum = 0;

    if (!mf_name_valid(m->name) || m->n_entries > MF_ENTRIES_MAX)
        return 0;
    if (m->n_entries > 0 && m->entries == NULL)
        return 0;
    for (size_t i = 0; i < m->n_entries; i++) {
        if (m->entries[i].size == 0 || m->entries[i].size > MF_CHUNK_MAX)
            return 0;
        sum += m->entries[i].size;
    }
    if (sum != m->size)
        return 0;
    return m->size != 0 || memcmp(m->sha256, mf__sha256_empty, MF_KEY_LEN) == 0;
}

int mf_encode(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n)
{
    mf__out_t o;
    size_t root_hdr;
    int rc;

    if (m == NULL || blobs == NULL || n == NULL || max_node_bytes < MF_NODE_MIN || !consistent(m))
        return MF_EINVAL;
    mf__out_init(&o);
    root_hdr = MF__ROOT_FIXED + strlen(m->name);
    if (root_hdr <= max_node_bytes && m->n_entries <= (max_node_bytes - root_hdr) / MF__ENTRY_LEN)
        rc = emit_root(&o, m, NULL, m->n_entries, 0);
    else if (root_hdr + MF__CHILD_LEN > max_node_bytes)
        rc = MF_EINVAL; /* no room for a single child next to the name */
    else
        rc = emit_tree(&o, m, max_node_bytes);
    return mf__out_done(&o, rc, blobs, n);
}
