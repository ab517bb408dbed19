/*
 * Republish: the pinned blobs stored again. See republish.h.
 */
#include "filestore/republish.h"

#include "filestore/chunk_store.h"
#include "filestore/fs_error.h"

#include <stdlib.h>
#include <string.h>

typedef struct item {
    fs_job_t job;
    fs_republish_t *rp;
    uint8_t key[MF_KEY_LEN];
    uint8_t *data;
    size_t len;
} item_t;

struct fs_republish {
    fs_ctx_t ctx;
    fs_republish_cb cb;
    void *arg;
    fs_job_t list_job;
    uint8_t (*keys)[MF_KEY_LEN];
    size_t n_keys, cap_keys, next;
    int list_status;
    unsigned in_flight;
    int canceled, status, reported;
    uint32_t *copies; /* per blob stored */
    fs_republish_result_t r;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void finish(fs_republish_t *rp)
{
    if (rp->in_flight > 0 || rp->reported)
        return;
    rp->reported = 1;
    if (rp->r.blobs > 0) {
        qsort(rp->copies, (size_t)rp->r.blobs, sizeof(*rp->copies), cmp_u32);
        rp->r.copies_fewest = rp->copies[0];
        rp->r.copies_median = rp->copies[rp->r.blobs / 2];
    }
    rp->cb(rp->canceled ? FS_ECANCELED : rp->status, &rp->r, rp->arg);
    free(rp->keys);
    free(rp->copies);
    free(rp);
}

static void pump(fs_republish_t *rp);

static void on_put(int status, unsigned stored, void *arg)
{
    item_t *it = arg;
    fs_republish_t *rp = it->rp;

    rp->in_flight--;
    if (status == 0 && stored > 0) {
        rp->copies[rp->r.blobs++] = stored;
        rp->r.bytes += it->len;
    } else {
        rp->r.failed++;
    }
    free(it->data);
    free(it);
    pump(rp);
}

/* Worker: reads and checks the blob (a damaged one is removed). */
static void read_blob(fs_job_t *job)
{
    item_t *it = job->data;

    if (fs_store_get(it->rp->ctx.store, it->key, &it->data, &it->len) != 0) {
        it->data = NULL;
        it->len = 0;
    }
}

static void after_read(fs_job_t *job)
{
    item_t *it = job->data;
    fs_republish_t *rp = it->rp;
    dht_id_t id;

    if (it->data == NULL || rp->canceled) {
        rp->in_flight--;
        rp->r.failed += it->data == NULL;
        free(it->data);
        free(it);
        pump(rp);
        return;
    }
    memcpy(id.b, it->key, MF_KEY_LEN);
    if (dht_put(rp->ctx.dht, &id, it->data, it->len, rp->ctx.ttl_s, on_put, it) != 0) {
        rp->in_flight--;
        rp->r.failed++;
        free(it->data);
        free(it);
        pump(rp);
    }
}

/* Starts reads while there is room; reports once all is done. */
static void pump(fs_republish_t *rp)
{
    unsigned max = rp->ctx.max_in_flight ? rp->ctx.max_in_flight : 1;

    while (!rp->canceled && rp->in_flight < max && rp->next < rp->n_keys) {
        item_t *it = calloc(1, sizeof(*it));
        if (it == NULL) {
            rp->status = FS_ENOMEM;
            rp->next = rp->n_keys;
            break;
        }
        it->rp = rp;
        memcpy(it->key, rp->keys[rp->next++], MF_KEY_LEN);
        it->job.data = it;
        if (fs_exec_queue(rp->ctx.exec, &it->job, read_blob, after_read) != 0) {
            free(it);
            rp->status = FS_ENOMEM;
            rp->next = rp->n_keys;
            break;
        }
        rp->in_flight++;
    }
    finish(rp);
}

static int collect(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg)
{
    fs_republish_t *rp = arg;

    (void)size;
    if (rp->n_keys == rp->cap_keys) {
        size_t cap = rp->cap_keys ? rp->cap_keys * 2 : 256;
        void *p = realloc(rp->keys, cap * sizeof(*rp->keys));
        if (p == NULL)
            return FS_ENOMEM;
        rp->keys = p;
        rp->cap_keys = cap;
    }
    memcpy(rp->keys[rp->n_keys++], key, MF_KEY_LEN);
    return 0;
}

/* Worker: lists the store. */
static void list_blobs(fs_job_t *job)
{
    fs_republish_t *rp = job->data;

    rp->list_status = fs_store_foreach(rp->ctx.store, collect, rp);
}

static void after_list(fs_job_t *job)
{
    fs_republish_t *rp = job->data;

    rp->in_flight--;
    if (rp->list_status != 0) {
        rp->status = rp->list_status;
        rp->n_keys = 0;
    } else if (rp->n_keys > 0 && (rp->copies = calloc(rp->n_keys, sizeof(*rp->copies))) == NULL) {
        rp->status = FS_ENOMEM;
        rp->n_keys = 0;
    }
    pump(rp);
}

int fs_republish_start(fs_republish_t **out, const fs_ctx_t *ctx, fs_republish_cb cb, void *arg)
{
    fs_republish_t *rp;

    if (out == NULL || ctx == NULL || ctx->exec == NULL || ctx->dht == NULL || ctx->store == NULL ||
        cb == NULL)
        return FS_EINVAL;
    rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        return FS_ENOMEM;
    rp->ctx = *ctx;
    rp->cb = cb;
    rp->arg = arg;
    rp->list_job.data = rp;
    if (fs_exec_queue(ctx->exec, &rp->list_job, list_blobs, after_list) != 0) {
        free(rp);
        return FS_ENOMEM;
    }
    rp->in_flight = 1; /* the listing */
    *out = rp;
    return 0;
}

void fs_republish_cancel(fs_republish_t *rp)
{
    rp->canceled = 1;
}
