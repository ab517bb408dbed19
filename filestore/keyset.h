/*
 * A set of 32-byte keys with one flag byte each: open addressing, linear
 * probing, tombstones; grows as needed. Not thread safe. Internal to
 * filestore.
 */
#ifndef EMOFS_KEYSET_H
#define EMOFS_KEYSET_H

#include <stddef.h>
#include <stdint.h>

#define FS_KEYSET_KEY 32

typedef struct fs_keyset {
    uint8_t (*keys)[FS_KEYSET_KEY];
    uint8_t *state; /* per slot: 0 empty, 1 used, 2 removed */
    uint8_t *flags; /* per slot: the caller's byte */
    size_t cap;     /* slots, a power of two or 0 */
    size_t used;    /* slots used or removed */
    size_t n;       /* keys in the set */
} fs_keyset_t;

/* Frees what set holds and zeroes it. */
void fs_keyset_clear(fs_keyset_t *set);

/* @return the flag byte of key (writable), or NULL if key is not in set. */
uint8_t *fs_keyset_find(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY]);

/* Adds key with flag byte 0 (if it is there already, leaves it).
 * @return its flag byte, or NULL if out of memory. */
uint8_t *fs_keyset_add(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY]);

/* Removes key. @return 1 if it was there, else 0. */
int fs_keyset_remove(fs_keyset_t *set, const uint8_t key[FS_KEYSET_KEY]);

/* A growing list of keys, in the order added (duplicates kept). */
typedef struct fs_keylist {
    uint8_t (*keys)[FS_KEYSET_KEY];
    size_t n, cap;
} fs_keylist_t;

/* Appends key. @return 0, or -1 if out of memory (list unchanged). */
int fs_keylist_add(fs_keylist_t *list, const uint8_t key[FS_KEYSET_KEY]);

/* Frees what list holds and zeroes it. */
void fs_keylist_clear(fs_keylist_t *list);

#endif /* EMOFS_KEYSET_H */
