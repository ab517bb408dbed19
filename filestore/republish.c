/*
 * Republish: the pinned blobs stored again. See republish.h.
 */
#include "filestore/republish.h"

#include "filestore/chunk_store.h"
#include "filestore/counts.h"
#include "filestore/ctx.h"
#include "filestore/fetch.h"
#include "filestore/fs_error.h"
#include "filestore/keyset.h"
#include "filestore/pins.h"

#include <stdlib.h>
#include <string.h>

typedef struct item {
    fs_job_t job;
    fs_republish_t *rp;
    uint8_t key[MF_KEY_LEN];
    uint8_t *data;
    size_t len;
    unsigned copies; /* nodes to keep it (a chunk's) */
    int err;         /* of the read: FS_EBADHASH, damaged (and removed) */
} item_t;

struct fs_republish {
    fs_ctx_t ctx;
    fs_republish_cb cb;
    void *arg;
    fs_job_t list_job;
    fs_republish_root_t *roots; /* the published files */
    size_t n_roots;
    fs_keyset_t copies_of; /* blob -> the most copies a root asks for it */
    fs_keylist_t keys;     /* the store's blobs */
    fs_keylist_t damaged;  /* manifest nodes find_copies found damaged */
    size_t next;
    int list_status;
    unsigned in_flight;
    int canceled, status, reported;
    fs_counts_t copies; /* nodes that took each blob stored */
    fs_republish_result_t r;
};

static void finish(fs_republish_t *rp)
{
    if (rp->in_flight > 0 || rp->reported)
        return;
    rp->reported = 1;
    fs_counts_summary(&rp->copies, &rp->r.copies_fewest, &rp->r.copies_median);
    rp->cb(rp->canceled ? FS_ECANCELED : rp->status, &rp->r, rp->arg);
    fs_keylist_clear(&rp->keys);
    fs_keyset_clear(&rp->copies_of);
    fs_keylist_clear(&rp->damaged);
    fs_counts_clear(&rp->copies);
    free(rp->roots);
    free(rp);
}

static void pump(fs_republish_t *rp);

static void on_put(int status, unsigned stored, void *arg)
{
    item_t *it = arg;
    fs_republish_t *rp = it->rp;

    rp->in_flight--;
    if (status == 0 && stored > 0) {
        rp->r.blobs++;
        (void)fs_counts_add(&rp->copies, stored); /* a report: goes on without it */
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

    if ((it->err = fs_store_get(it->rp->ctx.store, it->key, &it->data, &it->len)) != 0) {
        it->data = NULL;
        it->len = 0;
    }
}

static void after_read(fs_job_t *job)
{
    item_t *it = job->data;
    fs_republish_t *rp = it->rp;

    if (it->err == FS_EBADHASH && !rp->canceled) /* the network still has it */
        (void)fs_fetch_repin(&rp->ctx, it->key);
    if (it->data == NULL || rp->canceled) {
        rp->in_flight--;
        rp->r.failed += it->data == NULL;
        free(it->data);
        free(it);
        pump(rp);
        return;
    }
    fs_ctx_t ctx = rp->ctx;
    ctx.copies = it->copies;
    if (fs_dht_put_blob(&ctx, it->key, it->data, it->len, on_put, it) != 0) {
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

    while (!rp->canceled && rp->in_flight < max && rp->next < rp->keys.n) {
        item_t *it = calloc(1, sizeof(*it));
        if (it == NULL) {
            rp->status = FS_ENOMEM;
            rp->next = rp->keys.n;
            break;
        }
        it->rp = rp;
        memcpy(it->key, rp->keys.keys[rp->next++], MF_KEY_LEN);
        const uint8_t *copies = fs_keyset_find(&rp->copies_of, it->key);
        it->copies = copies != NULL ? *copies : rp->ctx.copies;
        it->job.data = it;
        if (fs_exec_queue(rp->ctx.exec, &it->job, read_blob, after_read) != 0) {
            free(it);
            rp->status = FS_ENOMEM;
            rp->next = rp->keys.n;
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
    return fs_keylist_add(&rp->keys, key) == 0 ? 0 : FS_ENOMEM;
}

typedef struct mark {
    fs_keyset_t *set;
    unsigned copies;
} mark_t;

static int mark_copies(const uint8_t key[MF_KEY_LEN], void *arg)
{
    mark_t *m = arg;
    uint8_t *copies = fs_keyset_add(m->set, key);

    if (copies == NULL)
        return FS_ENOMEM;
    if (*copies < m->copies)
        *copies = (uint8_t)m->copies;
    return 0;
}

/* The copies each root's blobs are to be kept on (what of a root the
 * store lacks or holds damaged is left at the default).
 * @return 0 or FS_ENOMEM. */
static int find_copies(fs_republish_t *rp)
{
    for (size_t i = 0; i < rp->n_roots; i++) {
        mark_t m = {&rp->copies_of, rp->roots[i].copies};
        fs_pins_t *pins;
        int err;

        if (m.copies == 0)
            continue;
        if (fs_pins_new(&pins) != 0)
            return FS_ENOMEM;
        err = fs_pins_add(pins, rp->ctx.store, rp->roots[i].key,
                          rp->roots[i].sealed ? rp->roots[i].secret : NULL);
        if (err != FS_ENOMEM)
            err = fs_pins_foreach(pins, mark_copies, &m);
        for (size_t j = 0; err != FS_ENOMEM && j < fs_pins_damaged(pins)->n; j++)
            if (fs_keylist_add(&rp->damaged, fs_pins_damaged(pins)->keys[j]) != 0)
                err = FS_ENOMEM;
        fs_pins_free(pins);
        if (err == FS_ENOMEM)
            return FS_ENOMEM;
    }
    return 0;
}

/* Worker: lists the store, and the copies of the published files' blobs. */
static void list_blobs(fs_job_t *job)
{
    fs_republish_t *rp = job->data;

    rp->list_status = fs_store_foreach(rp->ctx.store, collect, rp);
    if (rp->list_status == 0)
        rp->list_status = find_copies(rp);
}

static void after_list(fs_job_t *job)
{
    fs_republish_t *rp = job->data;

    rp->in_flight--;
    for (size_t i = 0; !rp->canceled && i < rp->damaged.n; i++) /* the network still has them */
        (void)fs_fetch_repin(&rp->ctx, rp->damaged.keys[i]);
    if (rp->list_status != 0) {
        rp->status = rp->list_status;
        rp->next = rp->keys.n;
    }
    pump(rp);
}

int fs_republish_start(fs_republish_t **out, const fs_ctx_t *ctx, const fs_republish_root_t *roots,
                       size_t n, fs_republish_cb cb, void *arg)
{
    fs_republish_t *rp;

    if (out == NULL || ctx == NULL || ctx->exec == NULL || ctx->dht == NULL || ctx->store == NULL ||
        cb == NULL || (roots == NULL && n > 0))
        return FS_EINVAL;
    rp = calloc(1, sizeof(*rp));
    if (rp == NULL)
        return FS_ENOMEM;
    if (n > 0 && (rp->roots = malloc(n * sizeof(*roots))) == NULL) {
        free(rp);
        return FS_ENOMEM;
    }
    if (n > 0)
        memcpy(rp->roots, roots, n * sizeof(*roots));
    rp->n_roots = n;
    rp->ctx = *ctx;
    rp->cb = cb;
    rp->arg = arg;
    rp->list_job.data = rp;
    if (fs_exec_queue(ctx->exec, &rp->list_job, list_blobs, after_list) != 0) {
        free(rp->roots);
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
