/*
 * A set of 32-byte keys. See keyset.h.
 */
#include "filestore/keyset.h"

#include <stdlib.h>
#include <string.h>

enum { EMPTY = 0, USED = 1, REMOVED = 2 };

void fs_keyset_clear(fs_keyset_t *set)
{
    free(set->keys);
    free(set->state);
    free(set->flags);
    memset(set, 0, sizeof(*set));
}

/* The keys are SHA-256 values: their first bytes are already uniform. */
static size_t slot_of(const fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY])
{
    uint64_t h;

    memcpy(&h, key, sizeof(h));
    return (size_t)h & (set->cap - 1);
}

/* @return the slot of key, or the slot it would take (SIZE_MAX if full). */
static size_t probe(const fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY], int *found)
{
    size_t i = slot_of(set, key), free_slot = SIZE_MAX;

    *found = 0;
    for (size_t step = 0; step < set->cap; step++, i = (i + 1) & (set->cap - 1)) {
        if (set->state[i] == EMPTY)
            return free_slot != SIZE_MAX ? free_slot : i;
        if (set->state[i] == REMOVED) {
            if (free_slot == SIZE_MAX)
                free_slot = i;
        } else if (memcmp(set->keys[i], key, FS_KEYSET_KEY) == 0) {
            *found = 1;
            return i;
        }
    }
    return free_slot;
}

uint8_t *fs_keyset_find(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY])
{
    int found;
    size_t i;

    if (set->cap == 0)
        return NULL;
    i = probe(set, key, &found);
    return found ? &set->flags[i] : NULL;
}

/* Rehashes into cap slots (tombstones dropped). @return 0 or -1. */
static int resize(fs_keyset_t *set, size_t cap)
{
    fs_keyset_t bigger = {0};

    bigger.keys = malloc(cap * sizeof(*bigger.keys));
    bigger.state = calloc(cap, 1);
    bigger.flags = malloc(cap);
    bigger.cap = cap;
    if (bigger.keys == NULL || bigger.state == NULL || bigger.flags == NULL) {
        fs_keyset_clear(&bigger);
        return -1;
    }
    for (size_t i = 0; i < set->cap; i++) {
        int found;
        size_t j;
        if (set->state[i] != USED)
            continue;
        j = probe(&bigger, set->keys[i], &found);
        memcpy(bigger.keys[j], set->keys[i], FS_KEYSET_KEY);
        bigger.state[j] = USED;
        bigger.flags[j] = set->flags[i];
        bigger.used++;
        bigger.n++;
    }
    fs_keyset_clear(set);
    *set = bigger;
    return 0;
}

uint8_t *fs_keyset_add(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY])
{
    int found;
    size_t i;

    if ((set->used + 1) * 4 > set->cap * 3) { /* keep it at most 3/4 full */
        size_t cap = set->cap ? set->cap : 16;
        while ((set->n + 1) * 2 > cap)
            cap *= 2;
        if (resize(set, cap) != 0)
            return NULL;
    }
    i = probe(set, key, &found);
    if (found)
        return &set->flags[i];
    if (set->state[i] == EMPTY)
        set->used++;
    memcpy(set->keys[i], key, FS_KEYSET_KEY);
    set->state[i] = USED;
    set->flags[i] = 0;
    set->n++;
    return &set->flags[i];
}

int fs_keylist_add(fs_keylist_t *list, const uint8_t key[FS_KEYSET_KEY])
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        void *p = realloc(list->keys, cap * sizeof(*list->keys));
        if (p == NULL)
            return -1;
        list->keys = p;
        list->cap = cap;
    }
    memcpy(list->keys[list->n++], key, FS_KEYSET_KEY);
    return 0;
}

void fs_keylist_clear(fs_keylist_t *list)
{
    free(list->keys);
    memset(list, 0, sizeof(*list));
}

int fs_keyset_remove(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY])
{
    int found;
    size_t i;

    if (set->cap == 0)
        return 0;
    i = probe(set, key, &found);
    if (!found)
        return 0;
    set->state[i] = REMOVED;
    set->n--;
    return 1;
}
