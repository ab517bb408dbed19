/*
 * Small things put, get and fetch share. Internal to filestore.
 */
#ifndef EMOFS_CTX_H
#define EMOFS_CTX_H

#include "filestore/filestore.h"

/* Stores a blob of a put (a chunk or a manifest node, told apart by its
 * first bytes: manifest nodes start with "EMO") in the DHT under key:
 * chunks on ctx->copies nodes, manifest nodes on k. As dht_put_ex(). */
int fs_dht_put_blob(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                    size_t len, dht_put_cb cb, void *arg);

#define FS_BLOBS_PER_BATCH 64         /* manifest nodes stored in the DHT in one batch, at most */
#define FS_BATCH_BYTES     (4u << 20) /* ... and their bytes, beyond the first node */

/* @return how many of blobs[0..n) (n >= 1) the next batch takes: at most
 * FS_BLOBS_PER_BATCH and ctx->max_in_flight, within FS_BATCH_BYTES, and
 * at least one. */
size_t fs_blobs_batch_len(const fs_ctx_t *ctx, const mf_blob_t *blobs, size_t n);

/* Stores manifest nodes blobs[0..n) (1..FS_BLOBS_PER_BATCH) in the DHT,
 * as fs_dht_put_blob would each (plain ones on k nodes, sealed ones on
 * ctx->copies), as one dht_put_many: the small ones bound for the same
 * node share datagrams (STORE_MANY). cb(status, stored, arg) runs once
 * per blob. @return 0, or a DHT error (then no cb runs). */
int fs_dht_put_blobs(const fs_ctx_t *ctx, const mf_blob_t *blobs, size_t n, dht_put_cb cb,
                     void *arg);

/* @return the number of nodes in the routing table of ctx's node. */
uint32_t fs_peer_count(const fs_ctx_t *ctx);

#endif /* EMOFS_CTX_H */
