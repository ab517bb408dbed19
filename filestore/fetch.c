/*
 * Fetching one blob: the local stores first, then the DHT (and a
 * provider of it, before or after); and fetching a damaged pinned blob
 * again (repin). See fetch.h.
 */
#include "filestore/fetch.h"

#include "filestore/chunk_store.h"

#include <stdlib.h>
#include <string.h>

typedef struct fetch {
    fs_job_t work;
    fs_ctx_t ctx;
    uint8_t key[MF_KEY_LEN];
    fs_fetch_cb cb;
    void *arg;
    const int *abort_flag;
    uint8_t *local; /* blob read from the local store, if any */
    size_t local_len;
    unsigned tries;
    fs_store_t *repin;         /* not NULL: the pinned store a damaged copy went from */
    fs_providers_t *providers; /* the file's providers (a reference), or NULL */
    uint32_t index;            /* which of them: the set's pick for this chunk */
    uint8_t provider_first, provider_asked;
    dht_addr_t asked; /* the provider asked */
    int dht_err;      /* what the DHT said, when the provider is asked after it */
} fetch_t;

/* A blob fetched again, on its way into the pinned store (on a worker:
 * the executor runs it before the node closes the store). */
typedef struct repin_write {
    fs_job_t job;
    fs_store_t *store;
    uint8_t key[MF_KEY_LEN];
    uint8_t *data;
    size_t len;
} repin_write_t;

static void repin_work(fs_job_t *job)
{
    repin_write_t *w = job->data;

    (void)fs_store_put(w->store, w->key, w->data, w->len, 1); /* best effort, checked again */
}

static void repin_done(fs_job_t *job)
{
    repin_write_t *w = job->data;

    free(w->data);
    free(w);
}

/* Stores a blob fetched again into the pinned store it was damaged in. */
static void repin(fetch_t *f, const uint8_t *data, size_t len)
{
    repin_write_t *w;

    if (f->repin == NULL || f->ctx.exec == NULL || (w = calloc(1, sizeof(*w))) == NULL)
        return;
    w->data = malloc(len ? len : 1);
    if (w->data == NULL) {
        free(w);
        return;
    }
    memcpy(w->data, data, len);
    w->len = len;
    w->store = f->repin;
    memcpy(w->key, f->key, MF_KEY_LEN);
    w->job.data = w;
    if (fs_exec_queue(f->ctx.exec, &w->job, repin_work, repin_done) != 0)
        repin_done(&w->job);
}

static void finish(fetch_t *f, int status, const uint8_t *data, size_t len)
{
    f->cb(status, data, len, f->arg);
    fs_providers_release(f->providers);
    free(f->local);
    free(f);
}

static int start_dht_get(fetch_t *f);
static int ask_provider(fetch_t *f);

static void ignore_result(int status, const uint8_t *data, size_t len, void *arg)
{
    (void)status;
    (void)data;
    (void)len;
    (void)arg;
}

static void on_dht_value(int status, const dht_value_t *values, size_t n, void *arg)
{
    fetch_t *f = arg;
    int err = fs_from_dht(status);

    /* A node that was never told of peers works alone: what is not in
     * its store is simply not found. */
    if (err == FS_ENOPEERS && !f->ctx.need_peers)
        err = FS_ENOENT;

    if (status == 0) {
        /* libdht checks content-addressed values; a value under our key
         * that is not the blob itself is of no use here. */
        for (size_t i = 0; i < n; i++)
            if (memcmp(values[i].hash.b, f->key, MF_KEY_LEN) == 0) {
                repin(f, values[i].data, values[i].len);
                finish(f, 0, values[i].data, values[i].len);
                return;
            }
        err = FS_ENOENT;
    }
    if (err != FS_ECANCELED && err != FS_ENOMEM && f->tries < f->ctx.max_tries &&
        (f->abort_flag == NULL || *f->abort_flag == 0) && start_dht_get(f) == 0)
        return;
    /* The holders do not have it: a provider may. */
    f->dht_err = err;
    if (err != FS_ECANCELED && err != FS_ENOMEM && (f->abort_flag == NULL || *f->abort_flag == 0) &&
        ask_provider(f) == 0)
        return;
    finish(f, err, NULL, 0);
}

static void on_provider_value(int status, const dht_value_t *values, size_t n, void *arg)
{
    fetch_t *f = arg;

    /* libdht checked the bytes against the key (content addressed). */
    if (status == 0 && n == 1 && memcmp(values[0].hash.b, f->key, MF_KEY_LEN) == 0) {
        finish(f, 0, values[0].data, values[0].len);
        return;
    }
    if (status == DHT_ECANCELED) {
        finish(f, FS_ECANCELED, NULL, 0);
        return;
    }
    /* A provider that does not answer is asked no more by this get. */
    if (status == DHT_ENOPEERS)
        fs_providers_failed(f->providers, &f->asked);
    /* Not there, or gone: the holders, unless they were asked already. */
    if (f->tries > 0 || (f->abort_flag != NULL && *f->abort_flag != 0)) {
        finish(f, f->tries > 0 ? f->dht_err : FS_ECANCELED, NULL, 0);
        return;
    }
    status = start_dht_get(f);
    if (status)
        finish(f, status, NULL, 0);
}

/* Asks the provider, once. @return 0 if asked, else nonzero. */
static int ask_provider(fetch_t *f)
{
    const dht_addr_t *to = fs_providers_pick(f->providers, f->index);
    dht_id_t id;

    if (to == NULL || f->provider_asked || f->ctx.dht == NULL)
        return FS_ENOENT;
    f->provider_asked = 1;
    f->asked = *to;
    memcpy(id.b, f->key, MF_KEY_LEN);
    return dht_get_from(f->ctx.dht, &f->asked, &id, NULL, on_provider_value, f) == 0 ? 0
                                                                                     : FS_ENOENT;
}

static int start_dht_get(fetch_t *f)
{
    dht_get_opts_t opts = {.max_values = 1};
    dht_id_t id;
    int err;

    if (f->ctx.dht == NULL)
        return FS_ENOENT;
    memcpy(id.b, f->key, MF_KEY_LEN);
    f->tries++;
    err = dht_get_ex(f->ctx.dht, &id, &opts, on_dht_value, f);
    return err ? fs_from_dht(err) : 0;
}

static void read_local(fs_job_t *w)
{
    fetch_t *f = w->data;

    int err = f->ctx.store != NULL ? fs_store_get(f->ctx.store, f->key, &f->local, &f->local_len)
                                   : FS_ENOENT;

    if (err == 0)
        return;
    if (err == FS_EBADHASH) /* damaged, and removed: pinned again once fetched */
        f->repin = f->ctx.store;
    /* Held for others here: as good (the read checks its hash; a damaged
     * one is removed, and the node forgets it when it next serves it). */
    if (f->ctx.replicas != NULL &&
        fs_store_get(f->ctx.replicas, f->key, &f->local, &f->local_len) == 0)
        return;
    f->local = NULL;
    f->local_len = 0;
}

static void after_read_local(fs_job_t *w)
{
    fetch_t *f = w->data;
    int err;

    if (f->local != NULL) {
        finish(f, 0, f->local, f->local_len);
        return;
    }
    if (f->provider_first && ask_provider(f) == 0)
        return;
    err = start_dht_get(f);
    if (err)
        finish(f, err, NULL, 0);
}

int fs_fetch_blob(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], const int *abort_flag,
                  fs_fetch_cb cb, void *arg)
{
    return fs_fetch_blob_from(ctx, key, NULL, 0, 0, abort_flag, cb, arg);
}

int fs_fetch_blob_from(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                       fs_providers_t *providers, uint32_t index, int provider_first,
                       const int *abort_flag, fs_fetch_cb cb, void *arg)
{
    fetch_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return FS_ENOMEM;
    f->index = index;
    f->provider_first = (uint8_t)(provider_first != 0);
    f->ctx = *ctx;
    memcpy(f->key, key, MF_KEY_LEN);
    f->cb = cb;
    f->arg = arg;
    f->abort_flag = abort_flag;
    f->work.data = f;
    f->providers = fs_providers_hold(providers);
    if (fs_exec_queue(ctx->exec, &f->work, read_local, after_read_local) != 0) {
        fs_providers_release(f->providers);
        free(f);
        return FS_ENOMEM;
    }
    return 0;
}

int fs_fetch_repin(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN])
{
    fetch_t *f;
    int err;

    if (ctx->dht == NULL || ctx->store == NULL)
        return FS_EINVAL;
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return FS_ENOMEM;
    f->ctx = *ctx;
    f->ctx.store = NULL; /* the network only */
    f->ctx.replicas = NULL;
    if (f->ctx.max_tries == 0)
        f->ctx.max_tries = 1;
    f->repin = ctx->store;
    memcpy(f->key, key, MF_KEY_LEN);
    f->cb = ignore_result;
    err = start_dht_get(f);
    if (err)
        free(f);
    return err;
}
