/*
 * Pins: the blobs of the local store that a published file uses, read from
 * the store alone (never the network), for `emofs rm` and `emofs gc`.
 *
 * A file's blobs are its manifest nodes (the root and, for a large file,
 * the interior and leaf nodes of its manifest tree) and every chunk they
 * list; a directory's are its directory manifest's nodes and, below it,
 * every file's and sub-directory's blobs (links have none). Every read is
 * checked against its key (fs_store_get), so what a damaged blob would
 * have listed is never trusted.
 *
 * Synchronous and blocking (it reads manifest nodes from the disk); not
 * thread safe: one set per caller.
 */
#ifndef EMOFS_PINS_H
#define EMOFS_PINS_H

#include "filestore/chunk_store.h"
#include "filestore/keyset.h"

#include <stdint.h>

typedef struct fs_pins fs_pins_t;

/* @return 0 and an empty set in *out, or FS_ENOMEM. */
int fs_pins_new(fs_pins_t **out);

/* Frees the set. Accepts NULL. */
void fs_pins_free(fs_pins_t *p);

/* Adds the keys of every blob the file or directory with key uses, as far
 * as st holds them: a manifest node that is missing or damaged is left
 * out, and so is what it would have listed. secret: a sealed file's root
 * secret (MF_KEY_LEN bytes; without it its manifest cannot be read:
 * FS_ECORRUPT), or NULL.
 * @return 0 when the whole tree was read, FS_ENOENT when a manifest node
 * was missing or damaged (what could be read was added), FS_ECORRUPT when
 * a node is not a manifest node of the kind its parent says, or FS_ENOMEM
 * (the set then holds part of the tree). */
int fs_pins_add(fs_pins_t *p, fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *secret);

/* @return 1 if key is in the set, else 0. */
int fs_pins_has(const fs_pins_t *p, const uint8_t key[MF_KEY_LEN]);

/* @return the manifest nodes fs_pins_add found damaged (and the store
 * removed), to fetch again (filestore.h, fs_fetch_repin). */
const fs_keylist_t *fs_pins_damaged(const fs_pins_t *p);

/* @return how many keys the set holds. */
size_t fs_pins_count(const fs_pins_t *p);

/* Calls fn(key, arg) for each key of the set, in no particular order, until
 * fn returns nonzero. fn must not change the set.
 * @return 0 or fn's nonzero result. */
int fs_pins_foreach(const fs_pins_t *p, int (*fn)(const uint8_t key[MF_KEY_LEN], void *arg),
                    void *arg);

#endif /* EMOFS_PINS_H */
