/*
 * Control requests carried out on a node. See node_ops.h.
 */
#include "tool/node/node_ops.h"

#include "filestore/health.h"
#include "tool/node/maint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct emofs_op {
    emofs_node_t *node;
    ctl_msg_t res; /* the RESULT being built */
    emofs_op_cbs_t cbs;
    fs_put_t *put;
    fs_put_tree_t *tree; /* a PUT of a directory */
    unsigned copies;     /* a PUT's: how many nodes keep each chunk */
    fs_get_t *get;
    fs_health_t *health;
    fs_sink_t sink; /* a streamed GET's, handing bytes to cbs.data */
    fs_job_t work;  /* to answer synchronous requests from the loop */
    int sync_status;
    int is_put; /* a PUT, or a seeding GET: counted in node->puts_active until its result */
    uint8_t key[MF_KEY_LEN]; /* RM: the key to unpin */
    int seed;                /* GET --seed: publish and provide once got */
    int sealed;              /* GET --seed of a sealed file: secret opens it */
    uint8_t secret[MF_KEY_LEN];
    struct emofs_op *next_wait; /* RM, GC: in node->maint_wait */
    fs_store_t *usage_of;       /* STATUS: the store its worker counts */
};

static void run_waiting(emofs_node_t *node);

static void op_finish(emofs_op_t *op)
{
    if (op->is_put && --op->node->puts_active == 0)
        run_waiting(op->node);
    op->cbs.result(&op->res, op->cbs.arg);
    ctl_msg_clear(&op->res);
    free(op);
}

static void op_error(emofs_op_t *op, int status, const char *message)
{
    op->res.status = status;
    if (ctl_set_message(&op->res, message && message[0] ? message : fs_strerror(status)) != 0)
        op->res.message = NULL;
}

static void on_progress(const fs_progress_t *p, void *arg)
{
    emofs_op_t *op = arg;

    if (op->cbs.progress != NULL)
        op->cbs.progress(p, op->cbs.arg);
}

/* ---- PUT ------------------------------------------------------------------ */

static void on_put(int status, const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m,
                   const char *message, void *arg)
{
    emofs_op_t *op = arg;

    if (status == 0) {
        unsigned fewest, median;
        fs_put_copies(op->put, &fewest, &median);
        op->res.copies_fewest = fewest;
        op->res.copies_median = median;
        op->res.has_secret = (uint8_t)fs_put_secret(op->put, op->res.secret);
    }
    op->put = NULL;
    if (status == 0) {
        memcpy(op->res.key, key, MF_KEY_LEN);
        op->res.size = m->size; /* not sent (a PUT's RESULT has no size); for logs */
        /* The file is stored either way; a lost line in the list only
         * hides it from `emofs ls`. */
        emofs_published_add(op->node->dir, key, op->res.has_secret ? op->res.secret : NULL, m->size,
                            op->copies, m->name);
        emofs_node_provide(op->node, key);
    } else {
        op_error(op, status, message);
    }
    op_finish(op);
}

static void on_put_tree(int status, const uint8_t key[MF_KEY_LEN], const mf_dir_t *d,
                        const char *message, void *arg)
{
    emofs_op_t *op = arg;
    char name[MF_NAME_MAX + 2];

    op->tree = NULL;
    if (status == 0) {
        memcpy(op->res.key, key, MF_KEY_LEN);
        char text[300];
        op->res.size = d->bytes; /* not sent; for logs */
        snprintf(text, sizeof(text), "a directory: %llu files, %llu entries, %llu bytes%s%s",
                 (unsigned long long)d->files, (unsigned long long)d->total,
                 (unsigned long long)d->bytes, message[0] ? "; " : "", message);
        ctl_set_message(&op->res, text);
        snprintf(name, sizeof(name), "%s/", d->name); /* ls shows a directory so */
        emofs_published_add(op->node->dir, key, NULL, d->bytes, op->copies, name);
    } else {
        op_error(op, status, message);
    }
    op_finish(op);
}

static void on_want_more(void *arg)
{
    emofs_op_t *op = arg;

    op->cbs.want(op, op->cbs.arg);
}

static int start_put(emofs_op_t *op, const ctl_msg_t *req)
{
    fs_progress_cb progress = (req->flags & CTL_FLAG_PROGRESS) ? on_progress : NULL;
    unsigned copies = (req->flags & CTL_FLAG_COPIES_MASK) >> CTL_FLAG_COPIES_SHIFT;
    fs_ctx_t ctx = op->node->ctx; /* the put takes its own copy */
    struct stat st;

    if (copies > EMOFS_COPIES_MAX)
        return FS_EINVAL;
    if (copies > 0)
        ctx.copies = copies;
    op->copies = ctx.copies; /* for DIR/published: the republish keeps to it */
    ctx.seal = (req->flags & CTL_FLAG_SEAL) != 0;
    if (!(req->flags & CTL_FLAG_STREAM) && lstat(req->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (ctx.seal)
            return FS_EINVAL; /* directories are not sealed yet (schema/manifest.md 9.2) */
        return fs_put_tree_start(&op->tree, &ctx, req->path, progress, on_put_tree, op);
    }
    if (!(req->flags & CTL_FLAG_STREAM))
        return fs_put_start(&op->put, &ctx, req->path, progress, on_put, op);
    if (op->cbs.want == NULL)
        return FS_EINVAL;
    return fs_put_start_stream(&op->put, &ctx, req->path, progress, on_want_more, on_put, op);
}

size_t emofs_op_feed(emofs_op_t *op, const uint8_t *data, size_t len)
{
    return op != NULL && op->put != NULL ? fs_put_feed(op->put, data, len) : len;
}

void emofs_op_feed_end(emofs_op_t *op)
{
    if (op != NULL && op->put != NULL)
        fs_put_feed_end(op->put);
}

/* ---- GET ------------------------------------------------------------------ */

/* @return 1 if key is in the node's published list. */
static int published_here(emofs_node_t *node, const uint8_t key[MF_KEY_LEN])
{
    emofs_published_t *list;
    size_t n = 0;
    int found = 0;

    if (emofs_published_list(node->dir, &list, &n) != 0)
        return 0;
    for (size_t i = 0; i < n && !found; i++)
        found = memcmp(list[i].key, key, MF_KEY_LEN) == 0;
    free(list);
    return found;
}

/* A seeded file is got, its blobs kept: it is published here (listed,
 * republished, removed with emofs rm), and this node announces it. */
static void seed(emofs_op_t *op, const char *path, uint64_t size)
{
    const char *name = path != NULL && strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int err = 0;

    /* Published here already (put, or seeded before): listed once. */
    if (!published_here(op->node, op->res.key))
        err = emofs_published_add(op->node->dir, op->res.key, op->sealed ? op->secret : NULL, size,
                                  op->node->copies, name != NULL && name[0] ? name : "-");
    if (err != 0) {
        op_error(op, err, "got, but cannot list it as seeded here");
        return;
    }
    emofs_node_provide(op->node, op->res.key);
}

static void on_get(int status, const char *path, uint64_t size, const char *message, void *arg)
{
    emofs_op_t *op = arg;

    op->get = NULL;
    if (status == 0) {
        op->res.path = strdup(path != NULL ? path : "");
        op->res.size = size;
        if (op->res.path == NULL)
            op_error(op, FS_ENOMEM, NULL);
        else
            ctl_set_message(&op->res, message);
        if (op->seed)
            seed(op, path, size);
    } else {
        op_error(op, status, message);
    }
    op_finish(op);
}

static void on_sink_write(void *arg, fs_get_t *get, const uint8_t *data, size_t len)
{
    emofs_op_t *op = arg;

    (void)get;
    op->cbs.data(op, data, len, op->cbs.arg);
}

void emofs_op_data_done(emofs_op_t *op, int status)
{
    if (op != NULL && op->get != NULL)
        fs_get_sink_ready(op->get, status);
}

static int start_get(emofs_op_t *op, const ctl_msg_t *req)
{
    fs_get_opts_t opts = {0};
    char *out = NULL;
    int err;

    if (req->out != NULL && req->out[0] != '\0' && req->out[0] != '/') {
        size_t n = strlen(req->cwd) + strlen(req->out) + 2;
        out = malloc(n);
        if (out == NULL)
            return FS_ENOMEM;
        snprintf(out, n, "%s/%s", req->cwd, req->out);
    }
    memcpy(op->res.key, req->key, MF_KEY_LEN);
    if (req->flags & CTL_FLAG_SEED) {
        op->seed = opts.keep = 1;
        op->sealed = req->has_secret;
        if (req->has_secret)
            memcpy(op->secret, req->secret, MF_KEY_LEN);
    }
    opts.out_path = out ? out : req->out;
    opts.dir = req->cwd;
    opts.force = (req->flags & CTL_FLAG_FORCE) != 0;
    opts.progress = (req->flags & CTL_FLAG_PROGRESS) ? on_progress : NULL;
    opts.secret = req->has_secret ? req->secret : NULL;
    if (req->flags & CTL_FLAG_STREAM) {
        if (op->cbs.data == NULL) {
            free(out);
            return FS_EINVAL;
        }
        op->sink.write = on_sink_write;
        op->sink.arg = op;
        opts.sink = &op->sink;
    }
    err = fs_get_start(&op->get, &op->node->ctx, req->key, &opts, on_get, op);
    free(out);
    return err;
}

/* ---- MANIFEST ------------------------------------------------------------- */

static void on_manifest(int status, const mf_blob_t *blobs, size_t n, const char *message,
                        void *arg)
{
    emofs_op_t *op = arg;
    int err;

    if (status != 0) {
        op_error(op, status, message);
    } else {
        /* mf_bundle_encode speaks MF_* codes; the result carries FS_* ones:
         * each cause is converted here, none passed through. */
        err = mf_bundle_encode(blobs, n, &op->res.blob, &op->res.blob_len);
        if (err == MF_ENOMEM)
            op_error(op, FS_ENOMEM, NULL);
        else if (err != 0)
            op_error(op, FS_ECORRUPT, "the manifest's nodes do not make a manifest file");
        else if (op->res.blob_len > CTL_MAX_BLOB)
            op_error(op, FS_ETOOBIG, "the manifest is too large to hand over");
    }
    op_finish(op);
}

/* ---- HEALTH --------------------------------------------------------------- */

static void on_health(int status, const fs_health_result_t *r, const char *message, void *arg)
{
    emofs_op_t *op = arg;

    op->health = NULL;
    if (status != 0) {
        op_error(op, status, message);
    } else {
        op->res.health.pieces = r->pieces;
        op->res.health.missing = r->missing;
        op->res.health.fewest = r->fewest;
        op->res.health.median = r->median;
        op->res.health.is_dir = (uint8_t)(r->is_dir != 0);
    }
    op_finish(op);
}

/* ---- synchronous requests: IMPORT, STATUS, LS ----------------------------- */

static void do_import(emofs_op_t *op, const ctl_msg_t *req)
{
    mf_blob_t *blobs = NULL;
    mf_manifest_t m = {0};
    size_t n = 0;
    int err = mf_bundle_decode(req->blob, req->blob_len, op->res.key, &blobs, &n);

    if (err) {
        op_error(op, FS_ECORRUPT, "not a valid manifest file");
        return;
    }
    err = fs_manifest_import(op->node->store, op->res.key, blobs, n, &m);
    mf_blobs_free(blobs, n);
    mf_manifest_clear(&m);
    if (err)
        op_error(op, err,
                 err == FS_ECORRUPT || err == FS_EBADHASH ? "not a valid manifest file" : NULL);
}

/* On a worker: STATUS counts the local store's blobs there, a stat per
 * blob, which on a store of many thousands would otherwise hold the loop
 * (and every peer's request) as long. A running total would answer at
 * once but must stay right through every path that adds or removes blobs
 * (puts, their roll-backs, damaged blobs dropped on read, removals), and
 * would still need this walk at start; a status is rare, so it walks. */
static void status_usage(fs_job_t *job)
{
    emofs_op_t *op = job->data;

    if (fs_store_usage(op->usage_of, &op->res.st.blobs, &op->res.st.blob_bytes) != 0)
        op->res.st.blobs = op->res.st.blob_bytes = 0;
}

/* What a STATUS answers that the loop knows: the rest (the local store's
 * blobs) is counted by status_usage. */
static void do_status(emofs_op_t *op)
{
    char addr[DHT_ADDRSTRLEN];
    emofs_published_t *list;
    dht_stats_t st;
    size_t n = 0;

    /* The node's clock is the loop's: a peer is live (good) when it
     * answered within the last 15 minutes of it. */
    dht_get_stats(op->node->dht, fs_exec_now(&op->node->exec.exec), &st);
    memcpy(op->res.st.node_id, dht_self(op->node->dht)->b, CTL_KEY_LEN);
    op->res.st.addr = strdup(dht_addr_format(&op->node->addr, addr));
    op->res.st.peers = (uint32_t)st.nodes;
    op->res.st.peers_live = (uint32_t)st.nodes_good;
    /* What it holds for others: libdht's index of them (a daemon's
     * replicas, on disk, and any value kept in memory), within the quota
     * libdht enforces. An embedded node is a client: it holds none. */
    op->res.st.values = st.values;
    op->res.st.value_bytes = st.value_bytes;
    op->res.st.has_store_max = 1;
    op->res.st.store_max = op->node->has_replicas ? op->node->store_max : 0;
    op->usage_of = op->node->store;
    if (emofs_published_list(op->node->dir, &list, &n) == 0) {
        op->res.st.published = (uint32_t)n;
        free(list);
    }
    if (op->res.st.addr == NULL)
        op_error(op, FS_ENOMEM, NULL);
}

static void do_ls(emofs_op_t *op)
{
    emofs_published_t *list;
    size_t n = 0;

    if (emofs_published_list(op->node->dir, &list, &n) != 0) {
        op_error(op, FS_ENOMEM, NULL);
        return;
    }
    if (n > CTL_MAX_LS)
        n = CTL_MAX_LS;
    op->res.ls = calloc(n ? n : 1, sizeof(*op->res.ls));
    if (op->res.ls == NULL) {
        free(list);
        op_error(op, FS_ENOMEM, NULL);
        return;
    }
    op->res.ls_count = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        memcpy(op->res.ls[i].key, list[i].key, MF_KEY_LEN);
        op->res.ls[i].size = list[i].size;
        op->res.ls[i].name = strdup(list[i].name);
        if (op->res.ls[i].name == NULL) {
            op->res.ls_count = (uint32_t)i;
            op_error(op, FS_ENOMEM, NULL);
            break;
        }
    }
    free(list);
}

static void after_sync(fs_job_t *job)
{
    op_finish(job->data);
}

/* ---- RM, GC: run with no put in flight (maint.h) ---------------------------- */

static void do_maint(emofs_op_t *op)
{
    char msg[1024], name[MF_NAME_MAX + 2] = "";
    int err;

    if (op->res.req_type == CTL_RM)
        err =
            emofs_maint_rm(op->node, op->key, &op->res.freed, name, sizeof(name), msg, sizeof(msg));
    else
        err = emofs_maint_gc(op->node, &op->res.freed, msg, sizeof(msg));
    if (err != 0) {
        op_error(op, err, msg);
        return;
    }
    ctl_set_message(&op->res, msg);
    if (op->res.req_type == CTL_RM && (op->res.name = strdup(name)) == NULL)
        op_error(op, FS_ENOMEM, NULL);
}

/* Runs one RM or GC now, on the loop, and answers it from the loop (the
 * result never comes inside emofs_op_start). */
static int run_maint(emofs_op_t *op)
{
    do_maint(op);
    return fs_exec_defer(&op->node->exec.exec, &op->work, after_sync);
}

/* The last put in flight ended: the RM and GC that waited run, in order. */
static void run_waiting(emofs_node_t *node)
{
    emofs_op_t *op = node->maint_wait, *last = NULL, *next;

    node->maint_wait = NULL;
    for (; op != NULL; op = next) { /* queued newest first: reverse */
        next = op->next_wait;
        op->next_wait = last;
        last = op;
    }
    for (op = last; op != NULL; op = next) {
        next = op->next_wait;
        if (run_maint(op) != 0) {
            op_error(op, FS_ENOMEM, NULL);
            op_finish(op);
        }
    }
}

/* Starts an RM or GC: now if no put is in flight, else once they are done. */
static int start_maint(emofs_op_t *op, const ctl_msg_t *req)
{
    memcpy(op->key, req->key, MF_KEY_LEN);
    if (op->node->puts_active == 0)
        return run_maint(op);
    op->next_wait = op->node->maint_wait;
    op->node->maint_wait = op;
    return 0;
}

int emofs_op_start(emofs_op_t **out, emofs_node_t *node, const ctl_msg_t *req,
                   const emofs_op_cbs_t *cbs)
{
    emofs_op_t *op;
    int err = 0;

    if (out != NULL)
        *out = NULL;
    if (!ctl_is_request(req->type) || req->type == CTL_STOP || cbs == NULL || cbs->result == NULL)
        return FS_EINVAL;
    op = calloc(1, sizeof(*op));
    if (op == NULL)
        return FS_ENOMEM;
    op->node = node;
    op->cbs = *cbs;
    op->res.type = CTL_RESULT;
    op->res.req_type = req->type;
    op->work.data = op;
    switch (req->type) {
    case CTL_PUT:
        err = start_put(op, req);
        if (err == 0) {
            op->is_put = 1;
            node->puts_active++;
        }
        break;
    case CTL_RM:
    case CTL_GC:
        err = start_maint(op, req);
        break;
    case CTL_GET:
        if ((req->flags & CTL_FLAG_SEED) && !node->has_replicas) {
            /* Answered as the synchronous requests are, from the loop. */
            op_error(op, FS_EINVAL,
                     "--seed needs a running daemon (emofs daemon): the node that serves the file "
                     "must stay up after the command");
            err = fs_exec_defer(&node->exec.exec, &op->work, after_sync);
            break;
        }
        err = start_get(op, req);
        if (err == 0 && op->seed) { /* it adds to the store: gc and rm wait for it */
            op->is_put = 1;
            node->puts_active++;
        }
        break;
    case CTL_MANIFEST:
        err = fs_manifest_fetch_tree(&node->ctx, req->key, req->has_secret ? req->secret : NULL,
                                     on_manifest, op);
        break;
    case CTL_HEALTH:
        err = fs_health_start(&op->health, &node->ctx, req->key,
                              req->has_secret ? req->secret : NULL, NULL, on_health, op);
        break;
    default:
        if (req->type == CTL_IMPORT)
            do_import(op, req);
        else if (req->type == CTL_STATUS)
            do_status(op);
        else
            do_ls(op);
        if (op->usage_of != NULL && op->res.status == 0)
            err = fs_exec_queue(&node->exec.exec, &op->work, status_usage, after_sync);
        else
            err = fs_exec_defer(&node->exec.exec, &op->work, after_sync);
        break;
    }
    if (err) {
        ctl_msg_clear(&op->res);
        free(op);
        return err;
    }
    if (out != NULL)
        *out = op;
    return 0;
}

void emofs_op_cancel(emofs_op_t *op)
{
    if (op == NULL)
        return;
    /* One of them at most; the op may be freed inside the call (its result
     * comes at once when nothing is in flight), so touch it no more. */
    if (op->put != NULL)
        fs_put_cancel(op->put);
    else if (op->tree != NULL)
        fs_put_tree_cancel(op->tree);
    else if (op->get != NULL)
        fs_get_cancel(op->get);
    else if (op->health != NULL)
        fs_health_cancel(op->health);
}
