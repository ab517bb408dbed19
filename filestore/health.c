/*
 * Health of a file: its pieces' holders counted. See health.h.
 */
#include "filestore/health.h"

#include "filestore/counts.h"
#include "filestore/fs_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fs_health {
    fs_ctx_t ctx;
    fs_progress_cb progress;
    fs_health_cb done;
    void *arg;
    uint8_t (*keys)[MF_KEY_LEN]; /* distinct pieces */
    uint32_t *holders;           /* per piece, once counted */
    size_t n, next, counted;
    unsigned in_flight;
    int canceled, status, reported, is_dir;
    char message[256];
};

typedef struct count {
    fs_health_t *h;
    size_t i;
} count_t;

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, MF_KEY_LEN);
}

static void report(fs_health_t *h)
{
    fs_health_result_t r;

    if (h->in_flight > 0 || h->reported || (h->next < h->n && !h->canceled && h->status == 0))
        return;
    h->reported = 1;
    memset(&r, 0, sizeof(r));
    r.pieces = (uint32_t)h->n;
    r.is_dir = h->is_dir;
    for (size_t i = 0; i < h->counted; i++)
        r.missing += h->holders[i] == 0;
    {
        fs_counts_t counts = {h->holders, h->counted, h->n};
        fs_counts_summary(&counts, &r.fewest, &r.median);
    }
    h->done(h->canceled ? FS_ECANCELED : h->status, &r, h->message, h->arg);
    free(h->keys);
    free(h->holders);
    free(h);
}

static void pump(fs_health_t *h);

static void on_count(int status, unsigned holders, unsigned answered, void *arg)
{
    count_t *c = arg;
    fs_health_t *h = c->h;

    (void)answered;
    h->in_flight--;
    if (status == 0 || status == DHT_ENOPEERS) {
        h->holders[h->counted++] = holders;
    } else if (h->status == 0 && status != DHT_ECANCELED) {
        h->status = fs_from_dht(status);
        snprintf(h->message, sizeof(h->message), "cannot count the holders of a piece: %s",
                 dht_strerror(status));
    }
    free(c);
    if (h->progress != NULL && !h->canceled) {
        fs_progress_t p;
        memset(&p, 0, sizeof(p));
        p.chunks_done = (uint32_t)h->counted;
        p.chunks_total = (uint32_t)h->n;
        p.in_flight = h->in_flight;
        h->progress(&p, h->arg);
    }
    pump(h);
}

static void pump(fs_health_t *h)
{
    unsigned max = h->ctx.max_in_flight ? h->ctx.max_in_flight : 1;

    while (!h->canceled && h->status == 0 && h->in_flight < max && h->next < h->n) {
        count_t *c = malloc(sizeof(*c));
        dht_id_t id;
        int err;
        if (c == NULL) {
            h->status = FS_ENOMEM;
            break;
        }
        c->h = h;
        c->i = h->next++;
        memcpy(id.b, h->keys[c->i], MF_KEY_LEN);
        err = dht_count_holders(h->ctx.dht, &id, NULL, on_count, c);
        if (err) {
            free(c);
            h->status = fs_from_dht(err);
            snprintf(h->message, sizeof(h->message), "cannot count the holders of a piece: %s",
                     dht_strerror(err));
            break;
        }
        h->in_flight++;
    }
    report(h);
}

static void on_manifest(int status, const mf_manifest_t *m, const mf_dir_t *d,
                        const mf_blob_t *blobs, size_t n, const char *message, void *arg)
{
    fs_health_t *h = arg;
    size_t total = n + (m != NULL ? m->n_entries : 0), k = 0;

    h->in_flight--;
    if (status != 0) {
        h->status = status;
        snprintf(h->message, sizeof(h->message), "%s", message ? message : fs_strerror(status));
        report(h);
        return;
    }
    h->is_dir = d != NULL;
    h->keys = malloc((total ? total : 1) * sizeof(*h->keys));
    h->holders = malloc((total ? total : 1) * sizeof(*h->holders));
    if (h->keys == NULL || h->holders == NULL) {
        h->status = FS_ENOMEM;
        report(h);
        return;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(h->keys[k++], blobs[i].key, MF_KEY_LEN);
    for (size_t i = 0; m != NULL && i < m->n_entries; i++)
        memcpy(h->keys[k++], m->entries[i].key, MF_KEY_LEN);
    qsort(h->keys, k, MF_KEY_LEN, cmp_key);
    h->n = 0;
    for (size_t i = 0; i < k; i++) /* distinct: a chunk may repeat */
        if (h->n == 0 || memcmp(h->keys[h->n - 1], h->keys[i], MF_KEY_LEN) != 0)
            memmove(h->keys[h->n++], h->keys[i], MF_KEY_LEN);
    pump(h);
}

int fs_health_start(fs_health_t **out, const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                    const uint8_t *secret, fs_progress_cb progress, fs_health_cb done, void *arg)
{
    fs_health_t *h;
    int err;

    if (out == NULL || ctx == NULL || ctx->dht == NULL || ctx->exec == NULL || key == NULL ||
        done == NULL)
        return FS_EINVAL;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return FS_ENOMEM;
    h->ctx = *ctx;
    h->progress = progress;
    h->done = done;
    h->arg = arg;
    h->in_flight = 1; /* the manifest */
    err = secret != NULL ? fs_manifest_fetch_sealed(ctx, key, secret, on_manifest, h)
                         : fs_manifest_fetch_kind(ctx, key, MF_KIND_ANY, on_manifest, h);
    if (err) {
        free(h);
        return err;
    }
    *out = h;
    return 0;
}

void fs_health_cancel(fs_health_t *h)
{
    h->canceled = 1;
}
