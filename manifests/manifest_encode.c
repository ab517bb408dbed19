/*
 * manifests: mf_encode, a manifest into one root node or a balanced tree
 * of nodes (schema/manifest.md, section 4).
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"
#include "manifests/seal.h"

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

/* Seals the node *data (len bytes) in place of itself: *data becomes the
 * sealed bytes, *len their length, secret what opens them.
 * @return 0 or MF_ENOMEM (*data freed). */
static int seal_node(uint8_t **data, size_t *len, uint8_t secret[MF_KEY_LEN])
{
    uint8_t *sealed = malloc(*len + MF_SEAL_TAG_LEN);

    (*data)[4] = MF__VERSION_SEALED;
    if (sealed == NULL || mf_seal_secret(*data, *len, secret) != MF_OK ||
        mf_seal(secret, *data, *len, sealed) != MF_OK) {
        free(sealed);
        free(*data);
        return MF_ENOMEM;
    }
    free(*data);
    *data = sealed;
    *len += MF_SEAL_TAG_LEN;
    return MF_OK;
}

int mf__out_emit(mf__out_t *o, uint8_t *data, size_t len, uint8_t key[MF_KEY_LEN],
                 uint8_t secret[MF_KEY_LEN])
{
    if (o->sealed && seal_node(&data, &len, secret) != MF_OK)
        return MF_ENOMEM;
    if (mf_sha256(data, len, key) != MF_OK)
        goto fail;
    if (mf__map_get(&o->seen, key) != SIZE_MAX) {
        free(data);
        return MF_OK;
    }
    if (mf__reserve((void **)&o->blobs, &o->cap, o->n + 1, sizeof(*o->blobs)) != MF_OK)
        goto fail;
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

/* Emits the levels above the leaves (section 4.1, and 8.5 for
 * directories): nodes of at most per_node children, as many per node as
 * evenly as can be (the first k % g take one more), level after level,
 * until the root can list them all. */
int mf__emit_levels(mf__out_t *o, const mf__tree_fmt_t *f, size_t max, size_t per_root,
                    mf__kid_t **kids, size_t *g, uint8_t *level)
{
    size_t per_node = (max - MF__INNER_HDR) / f->child_len;

    *level = 0;
    while (*g > per_root) {
        size_t k = *g, at = 0, n = (k + per_node - 1) / per_node;
        mf__kid_t *down = *kids, *up;

        if (++*level >= MF_DEPTH_MAX)
            return MF_EINVAL;
        up = calloc(n, sizeof(*up));
        if (up == NULL)
            return MF_ENOMEM;
        *kids = up;
        *g = n;
        for (size_t i = 0; i < n; i++) {
            size_t cnt = k / n + (i < k % n ? 1 : 0);
            uint8_t *data = malloc(MF__INNER_HDR + cnt * f->child_len), *p;

            if (data == NULL) {
                free(down);
                return MF_ENOMEM;
            }
            p = le_put32(mf__put_hdr(data, f->magic, MF__KIND_INNER, *level), (uint32_t)cnt);
            for (size_t j = at; j < at + cnt; j++) {
                p = f->put_kid(p, &down[j]);
                /* Parts of sums the encoder checked, or bounded by limits:
                 * no wrap. */
                for (size_t v = 0; v < 4; v++)
                    up[i].cover.v[v] += down[j].cover.v[v];
            }
            at += cnt;
            if (mf__out_emit(o, data, (size_t)(p - data), up[i].key, up[i].secret) != MF_OK) {
                free(down);
                return MF_ENOMEM;
            }
        }
        free(down);
    }
    return MF_OK;
}

/* A file tree's child record. */
static uint8_t *put_kid(uint8_t *p, const mf__kid_t *k)
{
    mf__child_t c;

    memcpy(c.key, k->key, MF_KEY_LEN);
    c.bytes = k->cover.v[0];
    c.chunks = (uint32_t)k->cover.v[1];
    return mf__put_child(p, &c);
}

/* A sealed file tree's child record: the same, then the child's secret. */
static uint8_t *put_sealed_kid(uint8_t *p, const mf__kid_t *k)
{
    p = put_kid(p, k);
    memcpy(p, k->secret, MF_KEY_LEN);
    return p + MF_KEY_LEN;
}

static const mf__tree_fmt_t file_fmt = {MF__NODE_MAGIC, MF__CHILD_LEN, put_kid};
static const mf__tree_fmt_t sealed_fmt = {MF__NODE_MAGIC, MF__SCHILD_LEN, put_sealed_kid};

/* Writes entry i of m (and its secret, in a sealed tree). */
static uint8_t *put_entry(uint8_t *p, const mf_manifest_t *m, size_t i, int sealed)
{
    p = mf__put_entry(p, &m->entries[i]);
    if (!sealed)
        return p;
    memcpy(p, m->secrets[i], MF_KEY_LEN);
    return p + MF_KEY_LEN;
}

static size_t entry_len(int sealed)
{
    return sealed ? MF__SENTRY_LEN : MF__ENTRY_LEN;
}

static size_t child_len(int sealed)
{
    return sealed ? MF__SCHILD_LEN : MF__CHILD_LEN;
}

/* Emits the leaves: g of up to per_leaf entries, as evenly as can be (the
 * first k % g take one more); *up gets their child records. */
static int emit_leaves(mf__out_t *o, const mf_manifest_t *m, size_t g, mf__kid_t **up)
{
    size_t k = m->n_entries, at = 0;

    *up = calloc(g, sizeof(**up));
    if (*up == NULL)
        return MF_ENOMEM;
    for (size_t i = 0; i < g; i++) {
        size_t cnt = k / g + (i < k % g ? 1 : 0);
        uint8_t *data = malloc(MF__INNER_HDR + cnt * entry_len(o->sealed)), *p;

        if (data == NULL)
            return MF_ENOMEM;
        p = mf__put_inner_hdr(data, 0, (uint32_t)cnt);
        for (size_t j = at; j < at + cnt; j++) {
            p = put_entry(p, m, j, o->sealed);
            (*up)[i].cover.v[0] += m->entries[j].size;
        }
        (*up)[i].cover.v[1] = cnt;
        at += cnt;
        if (mf__out_emit(o, data, (size_t)(p - data), (*up)[i].key, (*up)[i].secret) != MF_OK)
            return MF_ENOMEM;
    }
    return MF_OK;
}

/* Emits the root: listing m's entries (level 0) or kids[0..k). In a
 * sealed tree, root_secret gets what opens it. */
static int emit_root(mf__out_t *o, const mf_manifest_t *m, const mf__kid_t *kids, size_t k,
                     uint8_t level, uint8_t root_secret[MF_KEY_LEN])
{
    size_t name_len = strlen(m->name);
    size_t rec = level == 0 ? entry_len(o->sealed) : child_len(o->sealed);
    uint8_t key[MF_KEY_LEN], *data = malloc(MF__ROOT_FIXED + name_len + k * rec), *p;

    if (data == NULL)
        return MF_ENOMEM;
    p = mf__put_root_hdr(data, m, name_len, level, (uint32_t)k);
    for (size_t i = 0; i < k; i++) {
        if (level == 0)
            p = put_entry(p, m, i, o->sealed);
        else
            p = o->sealed ? put_sealed_kid(p, &kids[i]) : put_kid(p, &kids[i]);
    }
    return mf__out_emit(o, data, (size_t)(p - data), key, root_secret);
}

/* Builds the tree bottom up: leaves of up to per_leaf entries, then levels
 * of up to per_node children, until the root can list them all. */
static int emit_tree(mf__out_t *o, const mf_manifest_t *m, size_t max,
                     uint8_t root_secret[MF_KEY_LEN])
{
    size_t per_leaf = (max - MF__INNER_HDR) / entry_len(o->sealed);
    size_t per_root = (max - MF__ROOT_FIXED - strlen(m->name)) / child_len(o->sealed);
    size_t g = (m->n_entries + per_leaf - 1) / per_leaf;
    mf__kid_t *kids = NULL;
    uint8_t level = 0;
    int rc = emit_leaves(o, m, g, &kids);

    if (rc == MF_OK)
        rc = mf__emit_levels(o, o->sealed ? &sealed_fmt : &file_fmt, max, per_root, &kids, &g,
                             &level);
    if (rc == MF_OK)
        rc = emit_root(o, m, kids, g, (uint8_t)(level + 1), root_secret);
    free(kids);
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

/* mf_encode and mf_encode_sealed: a sealed tree's nodes leave room for
 * the tag, so what is stored still fits in max_node_bytes. */
static int encode(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n,
                  uint8_t root_secret[MF_KEY_LEN])
{
    int sealed = root_secret != NULL;
    size_t root_hdr, max = max_node_bytes - (sealed ? MF_SEAL_TAG_LEN : 0);
    mf__out_t o;
    int rc;

    if (m == NULL || blobs == NULL || n == NULL || max_node_bytes < MF_NODE_MIN || !consistent(m))
        return MF_EINVAL;
    if ((!sealed && m->secrets != NULL) || (sealed && m->n_entries > 0 && m->secrets == NULL))
        return MF_EINVAL;
    mf__out_init(&o);
    o.sealed = sealed;
    root_hdr = MF__ROOT_FIXED + strlen(m->name);
    if (root_hdr <= max && m->n_entries <= (max - root_hdr) / entry_len(sealed))
        rc = emit_root(&o, m, NULL, m->n_entries, 0, root_secret);
    else if (root_hdr + child_len(sealed) > max)
        rc = MF_EINVAL; /* no room for a single child next to the name */
    else
        rc = emit_tree(&o, m, max, root_secret);
    return mf__out_done(&o, rc, blobs, n);
}

int mf_encode(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n)
{
    return encode(m, max_node_bytes, blobs, n, NULL);
}

int mf_encode_sealed(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n,
                     uint8_t root_secret[MF_KEY_LEN])
{
    if (root_secret == NULL)
        return MF_EINVAL;
    return encode(m, max_node_bytes, blobs, n, root_secret);
}
