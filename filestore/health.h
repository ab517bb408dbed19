/*
 * Health of a file in the network: for each of its pieces (manifest nodes
 * and chunks), how many nodes hold it (dht_count_holders), at most
 * ctx->max_in_flight counts at a time. A directory's key counts its
 * listing's manifest nodes (each file in it has a key of its own).
 */
#ifndef EMOFS_HEALTH_H
#define EMOFS_HEALTH_H

#include "filestore/filestore.h"

/* What a health check found. */
typedef struct fs_health_result {
    uint32_t pieces;  /* distinct manifest nodes and chunks */
    uint32_t missing; /* pieces no node answered to hold */
    uint32_t fewest;  /* holders of the piece held by the fewest nodes */
    uint32_t median;  /* the median piece's holders */
    int is_dir;       /* the key is a directory's */
} fs_health_result_t;

/* status 0 and r, or an error with message (one line: the manifest cannot
 * be found, say). r and message are valid during the call. */
typedef void (*fs_health_cb)(int status, const fs_health_result_t *r, const char *message,
                             void *arg);

typedef struct fs_health fs_health_t;

/* Starts checking the file (or directory) with key: its manifest comes from
 * the local store or the network; a sealed file's is opened with secret
 * (its root's, 32 bytes; NULL for a plain file). progress (may be NULL) gets chunks_done
 * and chunks_total as pieces are counted. done runs once, never inside
 * this call; the check frees itself after it.
 * @return 0 and *out, FS_EINVAL or FS_ENOMEM. */
int fs_health_start(fs_health_t **out, const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                    const uint8_t *secret, fs_progress_cb progress, fs_health_cb done, void *arg);

/* Stops a check: done gets FS_ECANCELED once the counts under way end. */
void fs_health_cancel(fs_health_t *h);

#endif /* EMOFS_HEALTH_H */
