/*
 * Fetching one content-addressed blob (a chunk or a manifest node) by key:
 * from the local store when it is there, else from the DHT, verified, with
 * retries. Internal to filestore.
 */
#ifndef EMOFS_FETCH_H
#define EMOFS_FETCH_H

#include "filestore/ctx.h"

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

#endif /* EMOFS_FETCH_H */
