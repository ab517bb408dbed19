/*
 * manifests: a map from 32-byte keys to indices (open addressing, linear
 * probing), used to find a node by its key and to skip duplicate nodes.
 *
 * The keys are SHA-256 values, but child keys come from untrusted nodes
 * before they are verified, so the slot is chosen by a hash of all 32
 * bytes rather than by the first few.
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

void mf__map_init(mf__map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void mf__map_free(mf__map_t *m)
{
    free(m->keys);
    free(m->vals);
    mf__map_init(m);
}

static size_t slot_of(const uint8_t key[MF_KEY_LEN], size_t cap)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; i < MF_KEY_LEN; i += 8) {
        h ^= le_get64(key + i);
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return (size_t)h & (cap - 1);
}

size_t mf__map_get(const mf__map_t *m, const uint8_t key[MF_KEY_LEN])
{
    if (m->cap == 0)
        return SIZE_MAX;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == SIZE_MAX)
            return SIZE_MAX;
        if (memcmp(m->keys[i], key, MF_KEY_LEN) == 0)
            return m->vals[i];
    }
}

static void insert(mf__map_t *m, const uint8_t key[MF_KEY_LEN], size_t val)
{
    size_t i = slot_of(key, m->cap);

    while (m->vals[i] != SIZE_MAX)
        i = (i + 1) & (m->cap - 1);
    memcpy(m->keys[i], key, MF_KEY_LEN);
    m->vals[i] = val;
    m->n++;
}

/* Doubles the table (16 slots at first), keeping it at most half full. */
static int grow(mf__map_t *m)
{
    mf__map_t bigger;
    size_t cap = m->cap ? m->cap * 2 : 16;

    mf__map_init(&bigger);
    bigger.keys = malloc(cap * sizeof(*bigger.keys));
    bigger.vals = malloc(cap * sizeof(*bigger.vals));
    if (bigger.keys == NULL || bigger.vals == NULL) {
        mf__map_free(&bigger);
        return MF_ENOMEM;
    }
    bigger.cap = cap;
    for (size_t i = 0; i < cap; i++)
        bigger.vals[i] = SIZE_MAX;
    for (size_t i = 0; i < m->cap; i++)
        if (m->vals[i] != SIZE_MAX)
            insert(&bigger, m->keys[i], m->vals[i]);
    mf__map_free(m);
    *m = bigger;
    return MF_OK;
}

int mf__map_put(mf__map_t *m, const uint8_t key[MF_KEY_LEN], size_t val)
{
    if (2 * (m->n + 1) > m->cap && grow(m) != MF_OK)
        return MF_ENOMEM;
    insert(m, key, val);
    return MF_OK;
}
