/*
 * The local store as libdht's value source. See source.h.
 */
#include "filestore/source.h"

#include "filestore/fetch.h"

#include <stdlib.h>
#include <string.h>

typedef struct source_read {
    fs_job_t job;
    fs_source_t *src;
    uint8_t key[MF_KEY_LEN];
    uint64_t req;
    uint8_t *data; /* NULL if the blob could not be read or did not check */
    size_t len;
    int err; /* of the read: FS_EBADHASH, the blob was damaged (and removed) */
} source_read_t;

static int value_size(void *arg, const dht_id_t *key, size_t *len)
{
    fs_source_t *src = arg;

    return fs_store_has(src->store, key->b, len) ? 0 : -1;
}

/* Worker: reads the blob; fs_store_get checks it against its key. */
static void read_blob(fs_job_t *job)
{
    source_read_t *r = job->data;

    if ((r->err = fs_store_get(r->src->store, r->key, &r->data, &r->len)) != 0) {
        r->data = NULL;
        r->len = 0;
    }
}

static void after_read(fs_job_t *job)
{
    source_read_t *r = job->data;
    fs_source_t *src = r->src;

    src->reading--;
    if (src->dht != NULL && dht_value_ready(src->dht, r->req, r->data, r->len) == 0)
        src->served += r->data != NULL;
    if (src->dht != NULL && r->err == FS_EBADHASH) {
        /* A pinned blob went bad on disk: the network still has it. */
        fs_ctx_t ctx;
        fs_ctx_init(&ctx);
        ctx.exec = src->exec;
        ctx.dht = src->dht;
        ctx.store = src->store;
        if (fs_fetch_repin(&ctx, r->key) == 0)
            src->repins++;
    }
    free(r->data);
    free(r);
}

static int value_read(void *arg, const dht_id_t *key, uint64_t req)
{
    fs_source_t *src = arg;
    source_read_t *r = calloc(1, sizeof(*r));

    if (r == NULL || src->exec == NULL || src->dht == NULL) {
        free(r);
        return -1;
    }
    r->src = src;
    memcpy(r->key, key->b, MF_KEY_LEN);
    r->req = req;
    r->job.data = r;
    if (fs_exec_queue(src->exec, &r->job, read_blob, after_read) != 0) {
        free(r);
        return -1;
    }
    src->reading++;
    return 0;
}

void fs_source_init(fs_source_t *src, fs_store_t *store, dht_config_t *cfg)
{
    memset(src, 0, sizeof(*src));
    src->store = store;
    cfg->value_size = value_size;
    cfg->value_read = value_read;
    cfg->value_source_arg = src;
}

void fs_source_attach(fs_source_t *src, dht_t *dht, const fs_exec_t *exec)
{
    src->dht = dht;
    src->exec = exec;
}

void fs_source_detach(fs_source_t *src)
{
    src->dht = NULL;
}
