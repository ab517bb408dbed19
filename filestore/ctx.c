/*
 * What put, get and fetch share: the context's defaults, how a blob is
 * stored in the DHT, the node's peer count, and DHT error codes as FS_*
 * codes. See filestore.h and ctx.h.
 */
#include "filestore/ctx.h"

#include "filestore/chunk_codec.h"

#include <string.h>

void fs_ctx_init(fs_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->max_in_flight = 32;
    ctx->max_tries = 4;
    fs_chunker_params_default(&ctx->chunking);
    ctx->max_node_bytes = MF_NODE_DEFAULT;
    ctx->level = FS_CODEC_LEVEL_DEFAULT;
    ctx->ttl_s = 86400;
    ctx->copies = FS_COPIES_DEFAULT;
}

/* @return 1 if data is a plain manifest node (chunks start 0x00 or
 * 0x01, plain manifest nodes "EMO"; a sealed one is ciphertext). */
static int plain_manifest(const uint8_t *data, size_t len)
{
    return len >= 3 && memcmp(data, "EMO", 3) == 0;
}

int fs_dht_put_blob(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                    size_t len, dht_put_cb cb, void *arg)
{
    int manifest = plain_manifest(data, len);
    /* A blob's key is the SHA-256 of its bytes, computed when it was made:
     * libdht need not hash it again (the nodes that store it check). */
    dht_put_opts_t opts = {.copies = manifest ? 0 : ctx->copies, .content = 1};
    dht_id_t id;

    memcpy(id.b, key, MF_KEY_LEN);
    return dht_put_ex(ctx->dht, &id, data, len, ctx->ttl_s, &opts, cb, arg);
}

size_t fs_blobs_batch_len(const fs_ctx_t *ctx, const mf_blob_t *blobs, size_t n)
{
    size_t most = ctx->max_in_flight > 0 && ctx->max_in_flight < FS_BLOBS_PER_BATCH
                      ? ctx->max_in_flight
                      : FS_BLOBS_PER_BATCH;
    size_t take = 1, bytes = blobs[0].len;

    while (take < n && take < most && bytes + blobs[take].len <= FS_BATCH_BYTES)
        bytes += blobs[take++].len;
    return take;
}

int fs_dht_put_blobs(const fs_ctx_t *ctx, const mf_blob_t *blobs, size_t n, dht_put_cb cb,
                     void *arg)
{
    dht_put_item_t items[FS_BLOBS_PER_BATCH];
    /* Keys are their SHA-256; plain manifest nodes on k, sealed ones (a
     * sealed file's: all of them) on copies, as fs_dht_put_blob. */
    dht_put_opts_t opts = {.copies = 0, .content = 1};

    if (n == 0 || n > FS_BLOBS_PER_BATCH)
        return DHT_EINVAL;
    if (!plain_manifest(blobs[0].data, blobs[0].len))
        opts.copies = ctx->copies;
    for (size_t i = 0; i < n; i++) {
        memcpy(items[i].key.b, blobs[i].key, MF_KEY_LEN);
        items[i].value = blobs[i].data;
        items[i].len = blobs[i].len;
        items[i].arg = arg;
    }
    return dht_put_many(ctx->dht, items, n, ctx->ttl_s, &opts, cb);
}

int fs_from_dht(int dht_err)
{
    switch (dht_err) {
    case DHT_OK:
        return FS_OK;
    case DHT_ENOTFOUND:
        return FS_ENOENT;
    case DHT_ENOPEERS:
        return FS_ENOPEERS;
    case DHT_ETIMEDOUT:
        return FS_ETIMEDOUT;
    case DHT_ECANCELED:
    case DHT_ECLOSED:
        return FS_ECANCELED;
    case DHT_ENOMEM:
        return FS_ENOMEM;
    case DHT_ETOOBIG:
        return FS_ETOOBIG;
    case DHT_EBADVALUE:
        return FS_EBADHASH;
    case DHT_EBUSY:
        return FS_EBUSY;
    case DHT_EREJECTED: /* every node that answered refused the value */
        return FS_EREFUSED;
    case DHT_EINVAL:
        return FS_EINVAL;
    case DHT_EACCES:
        return FS_EACCES;
    case DHT_EPROTO:
        return FS_ECORRUPT;
    default: /* DHT_EIO, and the address errors, whose text the caller shows */
        return FS_EIO;
    }
}

uint32_t fs_peer_count(const fs_ctx_t *ctx)
{
    dht_stats_t st;

    if (ctx->dht == NULL)
        return 0;
    dht_get_stats(ctx->dht, 0, &st);
    return (uint32_t)st.nodes;
}
