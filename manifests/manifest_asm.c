/*
 * manifests: the assembler, a manifest rebuilt from its nodes fetched in
 * any order (schema/manifest.md, section 4).
 *
 * Every node the tree names gets a slot, filed by key: what its parent
 * says it covers (level, bytes, chunks), and once it arrived, its bytes.
 * A key named twice (identical subtrees) is one slot, and both parents
 * must agree on it. The slots still missing form the pending list.
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

typedef struct slot {
    uint8_t key[MF_KEY_LEN];
    uint8_t level;  /* as the parent says (the root: as it says itself) */
    uint64_t bytes; /* as the parent says */
    uint32_t chunks;
    size_t pend_pos; /* index in pend while missing */
    uint8_t *data;   /* the node's bytes once it arrived, else NULL */
    size_t len;
} slot_t;

struct mf_asm {
    slot_t *slots; /* slots[0] is the root */
    size_t n_slots, cap_slots;
    size_t *pend; /* indices of the slots still missing */
    size_t n_pend;
    mf__map_t map; /* key -> slot index */
    int failed;    /* the error that failed the assembler, or 0 */
};

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

int mf_asm_new(mf_asm_t **out, const uint8_t file_key[MF_KEY_LEN])
{
    mf_asm_t *a;

    if (out == NULL || file_key == NULL)
        return MF_EINVAL;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return MF_ENOMEM;
    mf__map_init(&a->map);
    if (add_slot(a, file_key) == SIZE_MAX) {
        mf_asm_free(a);
        return MF_ENOMEM;
    }
    *out = a;
    return MF_OK;
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
 * missing slot, a known one must be described the same way (and cannot be
 * the root). @return 0, MF_EFORMAT or MF_ENOMEM. */
static int add_children(mf_asm_t *a, const mf__node_t *n)
{
    for (uint32_t i = 0; i < n->count; i++) {
        mf__child_t c;
        size_t at;

        mf__node_child(n, i, &c);
        at = mf__map_get(&a->map, c.key);
        if (at == 0)
            return MF_EFORMAT;
        if (at == SIZE_MAX) {
            at = add_slot(a, c.key);
            if (at == SIZE_MAX)
                return MF_ENOMEM;
            a->slots[at].level = (uint8_t)(n->level - 1);
            a->slots[at].bytes = c.bytes;
            a->slots[at].chunks = c.chunks;
        } else if (a->slots[at].level != n->level - 1 || a->slots[at].bytes != c.bytes ||
                   a->slots[at].chunks != c.chunks) {
            return MF_EFORMAT;
        }
    }
    return MF_OK;
}

/* Checks a node that arrived for slot s against what was said of it.
 * @return 0 or MF_EFORMAT. */
static int check_node(const slot_t *s, int is_root_slot, const mf__node_t *n)
{
    if (n->is_root != is_root_slot)
        return MF_EFORMAT;
    if (is_root_slot)
        return MF_OK; /* the root vouches for itself: its key is the file key */
    if (n->level != s->level || n->bytes != s->bytes || n->chunks != s->chunks)
        return MF_EFORMAT;
    return MF_OK;
}

/* Takes the node that arrived for slot at, already known to hash to its
 * key. @return 0, MF_EFORMAT or MF_ENOMEM. */
static int take(mf_asm_t *a, size_t at, const uint8_t *data, size_t len)
{
    slot_t *s = &a->slots[at];
    mf__node_t n;
    size_t last;

    s->data = malloc(len);
    if (s->data == NULL)
        return MF_ENOMEM;
    memcpy(s->data, data, len);
    s->len = len;
    if (mf__node_decode(&n, s->data, len) != MF_OK || check_node(s, at == 0, &n) != MF_OK)
        return MF_EFORMAT;
    if (at == 0) {
        s->level = n.level;
        s->bytes = n.bytes;
        s->chunks = (uint32_t)n.chunks;
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
    rc = mf__sha256(data != NULL ? data : (const uint8_t *)"", len, h);
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

/* Appends the entries under slot at to m->entries[*k..), checking the
 * total each subtree adds up to. @return 0 or MF_EFORMAT. */
static int flatten(const mf_asm_t *a, size_t at, mf_manifest_t *m, size_t *k)
{
    const slot_t *s = &a->slots[at];
    mf__node_t n;

    if (mf__node_decode(&n, s->data, s->len) != MF_OK || *k + n.chunks > m->n_entries)
        return MF_EFORMAT;
    for (uint32_t i = 0; i < n.count; i++) {
        if (n.level == 0) {
            mf__node_entry(&n, i, &m->entries[(*k)++]);
        } else {
            mf__child_t c;
            mf__node_child(&n, i, &c);
            if (flatten(a, mf__map_get(&a->map, c.key), m, k) != MF_OK)
                return MF_EFORMAT;
        }
    }
    return MF_OK;
}

int mf_asm_finish(mf_asm_t *a, mf_manifest_t *out)
{
    mf_manifest_t m;
    mf__node_t root;
    uint64_t sum = 0;
    size_t k = 0;

    if (a == NULL || out == NULL)
        return MF_EINVAL;
    if (a->failed)
        return a->failed;
    if (a->n_pend > 0)
        return MF_ESTATE;
    if (mf__node_decode(&root, a->slots[0].data, a->slots[0].len) != MF_OK)
        return MF_EFORMAT;
    memset(&m, 0, sizeof(m));
    m.size = root.size;
    memcpy(m.sha256, root.sha256, MF_KEY_LEN);
    m.n_entries = (size_t)root.chunks;
    m.name = malloc(root.name_len + 1);
    m.entries = malloc((m.n_entries ? m.n_entries : 1) * sizeof(*m.entries));
    if (m.name == NULL || m.entries == NULL) {
        mf_manifest_clear(&m);
        return MF_ENOMEM;
    }
    memcpy(m.name, root.name, root.name_len);
    m.name[root.name_len] = '\0';
    if (flatten(a, 0, &m, &k) != MF_OK || k != m.n_entries)
        goto bad;
    for (size_t i = 0; i < k; i++)
        sum += m.entries[i].size;
    if (sum != m.size)
        goto bad;
    *out = m;
    return MF_OK;
bad:
    mf_manifest_clear(&m);
    return MF_EFORMAT;
}
