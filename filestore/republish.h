/*
 * Republish: a publisher stores its pinned blobs (the chunks and manifest
 * nodes of the files it put, in its local store) in the network again, so
 * that their copies outlive their TTL for as long as it runs. Each blob is
 * read on a worker and checked (a damaged one is removed and counted
 * failed), then stored with dht_put and the context's TTL, at most
 * ctx->max_in_flight at a time. Replication (libdht) keeps the copies on
 * the closest nodes in between; republish renews their time.
 *
 * Each chunk goes on as many nodes as the put that stored it asked for:
 * the caller names the files it published with their copies (roots), and
 * a chunk that several of them use takes the largest. A chunk no root
 * reaches takes ctx->copies; manifest nodes always go on k (ctx.h).
 */
#ifndef EMOFS_REPUBLISH_H
#define EMOFS_REPUBLISH_H

#include "filestore/filestore.h"

/* What a republish did. */
typedef struct fs_republish_result {
    uint64_t blobs;         /* stored again on at least one node */
    uint64_t bytes;         /* their size */
    uint64_t failed;        /* could not be read, or stored nowhere */
    uint32_t copies_fewest; /* nodes that took a blob: the fewest, */
    uint32_t copies_median; /* and the median (0 when no blob) */
} fs_republish_result_t;

/* status: 0, FS_ECANCELED, or the error that stopped it (FS_ENOMEM, the
 * store could not be listed). r is valid during the call. */
typedef void (*fs_republish_cb)(int status, const fs_republish_result_t *r, void *arg);

typedef struct fs_republish fs_republish_t;

/* A file (or directory) published with its copies (1..k). */
typedef struct fs_republish_root {
    uint8_t key[MF_KEY_LEN];
    unsigned copies;
    int sealed; /* a sealed file: secret opens its manifest's root */
    uint8_t secret[MF_KEY_LEN];
} fs_republish_root_t;

/* Starts republishing every blob of ctx->store through ctx->dht on
 * ctx->exec, each chunk on the copies of the roots (n of them, copied; may
 * be 0) that use it. cb runs once, on the loop thread, never inside this
 * call; the republish frees itself after it.
 * @return 0 and *out (for fs_republish_cancel), or FS_EINVAL / FS_ENOMEM. */
int fs_republish_start(fs_republish_t **out, const fs_ctx_t *ctx, const fs_republish_root_t *roots,
                       size_t n, fs_republish_cb cb, void *arg);

/* Stops a republish: nothing more is stored, and cb gets FS_ECANCELED
 * once the work under way is over. Not after cb has run. */
void fs_republish_cancel(fs_republish_t *rp);

#endif /* EMOFS_REPUBLISH_H */
