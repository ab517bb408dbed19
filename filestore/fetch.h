/*
 * Fetching one content-addressed blob (a chunk or a manifest node) by key:
 * from the local store when it is there, else from the DHT, verified, with
 * retries. Internal to filestore.
 */
#ifndef EMOFS_FETCH_H
#define EMOFS_FETCH_H

#include "filestore/ctx.h"
#include "filestore/providers.h"

/* data (owned by the callee, valid during the call) hashes to the key
 * asked for when status is 0. */
typedef void (*fs_fetch_cb)(int status, const uint8_t *data, size_t len, void *arg);

/* Fetches the blob with key. The local store is read on a worker thread;
 * a blob it lacks is looked up in the DHT (up to ctx->max_tries tries).
 * cb is called exactly once on the loop thread, never inside this call:
 * 0, FS_ENOENT (no node has it), FS_ENOPEERS, FS_ETIMEDOUT, FS_ECANCELED.
 * abort_flag (may be NULL) is read before each retry: nonzero stops them.
 * @return 0 or FS_ENOMEM. */
int fs_fetch_blob(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], const int *abort_flag,
                  fs_fetch_cb cb, void *arg);

/* fs_fetch_blob that may also ask a provider of the blob's file (one
 * that announced it serves it, providers.h) directly: the one the set
 * names for chunk `index` when it is asked (the set may still be filling),
 * before the DHT when provider_first, else once the DHT has not found the
 * blob. providers may be NULL (then it is fs_fetch_blob); the fetch holds
 * a reference to it until cb. */
int fs_fetch_blob_from(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                       fs_providers_t *providers, uint32_t index, int provider_first,
                       const int *abort_flag, fs_fetch_cb cb, void *arg);

#endif /* EMOFS_FETCH_H */
