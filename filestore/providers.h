/*
 * The providers of a file: nodes that announced (dht_provide) that they
 * serve its blobs. A get finds them while it fetches the manifest, then
 * asks them for every other chunk (the others go to the holders the DHT
 * chose), so that a file is fetched from both at once, and from the
 * providers alone when its holders are gone. Internal to filestore.
 */
#ifndef EMOFS_PROVIDERS_H
#define EMOFS_PROVIDERS_H

#include "filestore/ctx.h"

#define FS_PROVIDERS_MAX 16 /* providers a get asks, at most */

typedef struct fs_providers fs_providers_t;

/* Starts finding the providers of key with ctx's node. @return the set,
 * empty until they are found (the caller holds one reference), or NULL:
 * no node, or out of memory (the get then does without). */
fs_providers_t *fs_providers_find(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN]);

/* @return the provider for chunk i (the providers found so far, in
 * turn), or NULL (none found, or p NULL). A get asks it first for odd
 * chunks, and for even ones when the holders do not have them. */
const dht_addr_t *fs_providers_pick(const fs_providers_t *p, uint32_t i);

/* The provider at addr did not answer: it is picked no more. Accepts
 * NULL. */
void fs_providers_failed(fs_providers_t *p, const dht_addr_t *addr);

/* @return how many providers were found so far. Accepts NULL. */
size_t fs_providers_count(const fs_providers_t *p);

/* Takes one more reference. @return p (NULL stays NULL). */
fs_providers_t *fs_providers_hold(fs_providers_t *p);

/* Lets go of the caller's reference. Accepts NULL. */
void fs_providers_release(fs_providers_t *p);

#endif /* EMOFS_PROVIDERS_H */
