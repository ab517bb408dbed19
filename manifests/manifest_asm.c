/*
 * manifests: the assembler, a manifest rebuilt from its nodes fetched in
 * any order (schema/manifest.md, sections 4 and 8.4). One machine serves
 * both kinds: a file manifest's tree ("EMOM" nodes) and a directory
 * manifest's ("EMOD"); they differ only in how a node decodes and what a
 * child record says it covers (mf__cover_t).
 *
 * Every node the tree names gets a slot, filed by key: what its parent
 * says it covers (level and cover), and once it arrived, its bytes. In a
 * file's tree a key named twice (identical subtrees) is one slot, and both
 * parents must agree on it; in a directory's, a key named twice is
 * malformed (it would list names twice). The slots still missing form the
 * pending list.
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"
#include "manifests/seal.h"

/* One decoded node, of either kind, as the tree code sees it. */
typedef struct tnode {
    int is_root;
    uint8_t level;
    uint32_t count;    /* records */
    mf__cover_t cover; /* what its records add up to */
    union {
        mf__node_t f;
        mf__dnode_t d;
    } u;
} tnode_t;

typedef struct slot {
    uint8_t key[MF_KEY_LEN];
    uint8_t level;              /* as the parent says (the root: as it says itself) */
    mf__cover_t cover;          /* as the parent says */
    uint8_t secret[MF_KEY_LEN]; /* a sealed tree's: opens the node, as the parent says */
    size_t pend_pos;            /* index in pend while missing */
    uint8_t *data;              /* the node's bytes once it arrived, else NULL */
    size_t len;
} slot_t;

struct mf_asm {
    slot_t *slots; /* slots[0] is the root */
    size_t n_slots, cap_slots;
    size_t *pend; /* indices of the slots still missing */
    size_t n_pend;
    mf__map_t map; /* key -> slot index */
    int failed;    /* the error that failed the assembler, or 0 */
    int want;      /* the root kinds accepted: MF_KIND_ANY, _FILE or _DIR */
    int kind;      /* MF_KIND_FILE or MF_KIND_DIR once the root arrived, else 0 */
    int sealed;    /* a sealed file's tree: nodes are opened with their slot's secret */
};

/* Decodes a node of a tree of kind into t. @return 0 or MF_EFORMAT. */
static int tnode_decode(int kind, tnode_t *t, const uint8_t *buf, size_t len)
{
    memset(&t->cover, 0, sizeof(t->cover));
    if (kind == MF_KIND_DIR) {
        mf__dnode_t *d = &t->u.d;
        if (mf__dnode_decode(d, buf, len) != MF_OK)
            return MF_EFORMAT;
        t->is_root = d->is_root;
        t->level = d->level;
        t->count = d->count;
        t->cover.v[0] = d->bytes;
        t->cover.v[1] = d->files;
        t->cover.v[2] = d->total;
        t->cover.v[3] = d->entries;
    } else {
        mf__node_t *f = &t->u.f;
        if (mf__node_decode(f, buf, len) != MF_OK)
            return MF_EFORMAT;
        t->is_root = f->is_root;
        t->level = f->level;
        t->count = f->count;
        t->cover.v[0] = f->bytes;
        t->cover.v[1] = f->chunks;
    }
    return MF_OK;
}

/* Child record i of t (level > 0): its key and what it says it covers. */
static void tnode_child(int kind, const tnode_t *t, uint32_t i, mf__kid_t *k)
{
    memset(&k->cover, 0, sizeof(k->cover));
    memset(k->secret, 0, MF_KEY_LEN);
    if (kind == MF_KIND_DIR) {
        mf__dchild_t c;
        mf__dnode_child(&t->u.d, i, &c);
        memcpy(k->key, c.key, MF_KEY_LEN);
        k->cover.v[0] = c.bytes;
        k->cover.v[1] = c.files;
        k->cover.v[2] = c.total;
        k->cover.v[3] = c.entries;
    } else {
        mf__child_t c;
        mf__node_child(&t->u.f, i, &c);
        memcpy(k->key, c.key, MF_KEY_LEN);
        memcpy(k->secret, c.secret, MF_KEY_LEN);
        k->cover.v[0] = c.bytes;
        k->cover.v[1] = c.chunks;
    }
}

/* Adds a missing slot for key. @return its index, or SIZE_MAX (no memory). */
static size_t add_slot(mf_asm_t *a, const uint8_t key[MF_KEY_LEN])
{
    slot_t *s;

    if (a->n_slots == a->cap_slots) {
        size_t cap = a->cap_slots ? 2 * a->cap_slots : 16;
        slot_t *ns = realloc(a->slots, cap * sizeof(*ns));
        size_t *np = realloc(a->pend, cap * sizeof(*np));
        if (ns != NULL)
            a->slots = ns;
        if (np != NULL)
            a->pend = np;
        if (ns == NULL || np == NULL)
            return SIZE_MAX;
        a->cap_slots = cap;
    }
    if (mf__map_put(&a->map, key, a->n_slots) != MF_OK)
        return SIZE_MAX;
    s = &a->slots[a->n_slots];
    memset(s, 0, sizeof(*s));
    memcpy(s->key, key, MF_KEY_LEN);
    s->pend_pos = a->n_pend;
    a->pend[a->n_pend++] = a->n_slots;
    return a->n_slots++;
}

int mf_asm_new_kind(mf_asm_t **out, const uint8_t key[MF_KEY_LEN], int kind)
{
    mf_asm_t *a;

    if (out == NULL || key == NULL ||
        (kind != MF_KIND_ANY && kind != MF_KIND_FILE && kind != MF_KIND_DIR))
        return MF_EINVAL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return MF_ENOMEM;
    mf__map_init(&a->map);
    a->want = kind;
    if (add_slot(a, key) == SIZE_MAX) {
        mf_asm_free(a);
        return MF_ENOMEM;
    }
    *out = a;
    return MF_OK;
}

int mf_asm_new(mf_asm_t **out, const uint8_t file_key[MF_KEY_LEN])
{
    return mf_asm_new_kind(out, file_key, MF_KIND_FILE);
}

int mf_asm_new_sealed(mf_asm_t **out, const uint8_t file_key[MF_KEY_LEN],
                      const uint8_t root_secret[MF_KEY_LEN])
{
    int rc;

    if (root_secret == NULL)
        return MF_EINVAL;
    rc = mf_asm_new_kind(out, file_key, MF_KIND_FILE);
    if (rc == MF_OK) {
        (*out)->sealed = 1;
        memcpy((*out)->slots[0].secret, root_secret, MF_KEY_LEN);
    }
    return rc;
}

int mf_asm_kind(const mf_asm_t *a)
{
    return a != NULL ? a->kind : 0;
}

void mf_asm_free(mf_asm_t *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n_slots; i++)
        free(a->slots[i].data);
    free(a->slots);
    free(a->pend);
    mf__map_free(&a->map);
    free(a);
}

/* Files the children of a node that just arrived: a new key becomes a
 * missing slot; a known one (never the root) must, in a file's tree, be
 * described the same way, and is malformed in a directory's.
 * @return 0, MF_EFORMAT or MF_ENOMEM. */
static int add_children(mf_asm_t *a, const tnode_t *n)
{
    for (uint32_t i = 0; i < n->count; i++) {
        mf__kid_t k;
        size_t at;

        tnode_child(a->kind, n, i, &k);
        at = mf__map_get(&a->map, k.key);
        if (at == 0 || (at != SIZE_MAX && a->kind == MF_KIND_DIR))
            return MF_EFORMAT;
        if (at == SIZE_MAX) {
            at = add_slot(a, k.key);
            if (at == SIZE_MAX)
                return MF_ENOMEM;
            a->slots[at].level = (uint8_t)(n->level - 1);
            a->slots[at].cover = k.cover;
            memcpy(a->slots[at].secret, k.secret, MF_KEY_LEN);
        } else if (a->slots[at].level != n->level - 1 ||
                   memcmp(&a->slots[at].cover, &k.cover, sizeof(k.cover)) != 0 ||
                   memcmp(a->slots[at].secret, k.secret, MF_KEY_LEN) != 0) {
            return MF_EFORMAT;
        }
    }
    return MF_OK;
}

/* Checks a node that arrived for slot s against what was said of it (and
 * that its format is the tree's: sealed or not).
 * @return 0 or MF_EFORMAT. */
static int check_node(const mf_asm_t *a, const slot_t *s, int is_root_slot, const tnode_t *n)
{
    int sealed = a->kind == MF_KIND_FILE && n->u.f.sealed;

    if (n->is_root != is_root_slot || sealed != a->sealed)
        return MF_EFORMAT;
    if (is_root_slot)
        return MF_OK; /* the root vouches for itself: its key is the file key */
    if (n->level != s->level || memcmp(&n->cover, &s->cover, sizeof(s->cover)) != 0)
        return MF_EFORMAT;
    return MF_OK;
}

/* The kind of tree a root of these bytes starts, for an assembler that
 * wants the kind want. */
static int root_kind(int want, const uint8_t *data, size_t len)
{
    if (want != MF_KIND_ANY)
        return want;
    return len >= 4 && memcmp(data, MF__DIR_MAGIC, 4) == 0 ? MF_KIND_DIR : MF_KIND_FILE;
}

/* The plain bytes of the node that arrived for slot at, already known to
 * hash to its key: a copy, or in a sealed tree, the node opened with the
 * slot's secret. @return 0 and *plain (malloc'ed), MF_EFORMAT, MF_ESEAL
 * or MF_ENOMEM. */
static int plain_node(const mf_asm_t *a, size_t at, const uint8_t *data, size_t len,
                      uint8_t **plain, size_t *plain_len)
{
    int rc;

    *plain_len = len;
    if (a->sealed) {
        if (len < MF_SEAL_TAG_LEN)
            return MF_EFORMAT;
        *plain_len = len - MF_SEAL_TAG_LEN;
    }
    *plain = malloc(*plain_len ? *plain_len : 1);
    if (*plain == NULL)
        return MF_ENOMEM;
    if (!a->sealed) {
        if (len > 0)
            memcpy(*plain, data, len);
        return MF_OK;
    }
    rc = mf_unseal(a->slots[at].secret, data, len, *plain);
    if (rc != MF_OK) {
        free(*plain);
        *plain = NULL;
    }
    return rc == MF_EINVAL ? MF_EFORMAT : rc;
}

/* Takes the node that arrived for slot at, already known to hash to its
 * key. @return 0, MF_EFORMAT, MF_ESEAL or MF_ENOMEM. */
static int take(mf_asm_t *a, size_t at, const uint8_t *data, size_t len)
{
    slot_t *s = &a->slots[at];
    tnode_t n;
    size_t last;
    int rc = plain_node(a, at, data, len, &s->data, &s->len);

    if (rc != MF_OK)
        return rc;
    if (at == 0)
        a->kind = root_kind(a->want, s->data, s->len);
    if (tnode_decode(a->kind, &n, s->data, s->len) != MF_OK ||
        check_node(a, s, at == 0, &n) != MF_OK) {
        if (at == 0)
            a->kind = 0; /* no root after all */
        return MF_EFORMAT;
    }
    if (at == 0) {
        s->level = n.level;
        s->cover = n.cover;
    }
    /* Off the pending list: the last pending slot takes its place. */
    last = a->pend[--a->n_pend];
    a->pend[s->pend_pos] = last;
    a->slots[last].pend_pos = s->pend_pos;
    return n.level > 0 ? add_children(a, &n) : MF_OK;
}

int mf_asm_add(mf_asm_t *a, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len)
{
    uint8_t h[MF_KEY_LEN];
    size_t at;
    int rc;

    if (a == NULL || key == NULL || (data == NULL && len > 0))
        return MF_EINVAL;
    if (a->failed)
        return a->failed;
    at = mf__map_get(&a->map, key);
    if (at == SIZE_MAX)
        return MF_ESTATE;
    if (a->slots[at].data != NULL)
        return MF_OK;
    rc = mf_sha256(data != NULL ? data : (const uint8_t *)"", len, h);
    if (rc != MF_OK)
        return rc;
    if (memcmp(h, key, MF_KEY_LEN) != 0)
        return MF_EHASH;
    rc = take(a, at, data, len);
    if (rc != MF_OK)
        a->failed = rc;
    return rc;
}

size_t mf_asm_pending(const mf_asm_t *a, uint8_t (*keys)[MF_KEY_LEN], size_t max)
{
    if (a == NULL || a->failed)
        return 0;
    for (size_t i = 0; i < max && i < a->n_pend && keys != NULL; i++)
        memcpy(keys[i], a->slots[a->pend[i]].key, MF_KEY_LEN);
    return a->n_pend;
}

/* Visits the leaves under slot at, in order. */
static int walk(const mf_asm_t *a, size_t at, int (*leaf)(void *, const uint8_t *, size_t),
                void *ctx)
{
    const slot_t *s = &a->slots[at];
    tnode_t n;

    if (tnode_decode(a->kind, &n, s->data, s->len) != MF_OK)
        return MF_EFORMAT;
    if (n.level == 0)
        return leaf(ctx, s->data, s->len);
    for (uint32_t i = 0; i < n.count; i++) {
        mf__kid_t k;
        int rc;

        tnode_child(a->kind, &n, i, &k);
        rc = walk(a, mf__map_get(&a->map, k.key), leaf, ctx);
        if (rc != MF_OK)
            return rc;
    }
    return MF_OK;
}

int mf__asm_walk(const mf_asm_t *a, int (*leaf)(void *ctx, const uint8_t *data, size_t len),
                 void *ctx)
{
    return walk(a, 0, leaf, ctx);
}

int mf__asm_root(const mf_asm_t *a, int kind, const uint8_t **data, size_t *len)
{
    if (a->failed)
        return a->failed;
    if (a->n_pend > 0)
        return MF_ESTATE;
    if (a->kind != kind)
        return MF_EINVAL;
    *data = a->slots[0].data;
    *len = a->slots[0].len;
    return MF_OK;
}

/* The entries of one leaf of a file's tree, appended to m->entries[*k..)
 * (and their secrets to m->secrets, in a sealed tree). */
typedef struct flat {
    mf_manifest_t *m;
    size_t k;
} flat_t;

static int flatten_leaf(void *ctx, const uint8_t *data, size_t len)
{
    flat_t *f = ctx;
    mf__node_t n;

    if (mf__node_decode(&n, data, len) != MF_OK || f->k + n.count > f->m->n_entries)
        return MF_EFORMAT;
    for (uint32_t i = 0; i < n.count; i++) {
        if (f->m->secrets != NULL)
            mf__node_entry_secret(&n, i, f->m->secrets[f->k]);
        mf__node_entry(&n, i, &f->m->entries[f->k++]);
    }
    return MF_OK;
}

/* @return the chunk records the distinct leaves of a's file tree hold
 * (each leaf counted once, however often the tree names it). */
static uint64_t leaf_records(const mf_asm_t *a)
{
    uint64_t n = 0;
    mf__node_t node;

    for (size_t i = 0; i < a->n_slots; i++)
        if (a->slots[i].data != NULL && a->slots[i].level == 0 &&
            mf__node_decode(&node, a->slots[i].data, a->slots[i].len) == MF_OK)
            n += node.count;
    return n;
}

int mf_asm_finish(mf_asm_t *a, mf_manifest_t *out)
{
    mf_manifest_t m;
    mf__node_t root;
    const uint8_t *data;
    uint64_t sum = 0;
    size_t len;
    flat_t flat;
    int rc;

    if (a == NULL || out == NULL)
        return MF_EINVAL;
    rc = mf__asm_root(a, MF_KIND_FILE, &data, &len);
    if (rc != MF_OK)
        return rc;
    if (mf__node_decode(&root, data, len) != MF_OK)
        return MF_EFORMAT;
    /* Before any memory goes to the chunks it claims (manifest.h). */
    if (root.chunks > MF_REPEAT_FREE && root.chunks > leaf_records(a) * MF_REPEAT_MAX)
        return MF_EREPEAT;
    memset(&m, 0, sizeof(m));
    m.size = root.size;
    memcpy(m.sha256, root.sha256, MF_KEY_LEN);
    m.n_entries = (size_t)root.chunks;
    m.name = malloc(root.name_len + 1);
    m.entries = malloc((m.n_entries ? m.n_entries : 1) * sizeof(*m.entries));
    if (a->sealed)
        m.secrets = malloc((m.n_entries ? m.n_entries : 1) * sizeof(*m.secrets));
    if (m.name == NULL || m.entries == NULL || (a->sealed && m.secrets == NULL)) {
        mf_manifest_clear(&m);
        return MF_ENOMEM;
    }
    memcpy(m.name, root.name, root.name_len);
    m.name[root.name_len] = '\0';
    flat.m = &m;
    flat.k = 0;
    if (mf__asm_walk(a, flatten_leaf, &flat) != MF_OK || flat.k != m.n_entries)
        goto bad;
    for (size_t i = 0; i < flat.k; i++)
        sum += m.entries[i].size;
    if (sum != m.size)
        goto bad;
    *out = m;
    return MF_OK;
bad:
    mf_manifest_clear(&m);
    return MF_EFORMAT;
}
