/*
 * fs_get: a file from the local store and the DHT. See filestore.h.
 *
 * The manifest first, then the chunks, many in flight and out of order,
 * each verified against its key and decoded on a worker. Chunks come
 * from the holders the DHT chose and from the file's providers (nodes
 * that announced they serve it, providers.h), every other one from each. Written to a file,
 * each chunk goes to its offset in the temporary file (get_place.c says
 * where that is and how it becomes the final file). Streamed, decoded
 * chunks wait in memory until the sink takes them in order; the chunks
 * fetched ahead of the sink are bounded in bytes (STREAM_AHEAD).
 */
#include "filestore/fetch.h"
#include "filestore/get_int.h"
#include "manifests/le.h"
#include "manifests/seal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM_AHEAD (64u << 20) /* plain bytes a stream fetches past the sink */

typedef struct get_chunk {
    fs_job_t work;
    struct fs_get *get;
    uint32_t index;
    uint8_t *enc;
    size_t enc_len;
    uint8_t *plain; /* streaming: the decoded bytes, handed to held[] */
    int status;
    int store;   /* keep: this chunk stores the blob (the first of its key) */
    int created; /* ... and the store did not have it: this get owns it */
} get_chunk_t;

void fs_get_fail(fs_get_t *get, int status, const char *action, const char *object)
{
    if (get->status != 0)
        return;
    get->status = status;
    snprintf(get->message, sizeof(get->message), "%s %s: %s", action, object, fs_strerror(status));
}

static void report(fs_get_t *get, int force)
{
    fs_progress_t p;
    uint64_t now = fs_exec_now(get->ctx.exec);

    if (get->progress == NULL || (!force && now - get->last_progress < 100))
        return;
    get->last_progress = now;
    p.bytes_done = get->bytes_done;
    p.bytes_total = get->m.size;
    p.chunks_done = get->chunks_done;
    p.chunks_total = (uint32_t)get->m.n_entries;
    p.in_flight = get->in_flight;
    p.peers = fs_peer_count(&get->ctx);
    get->progress(&p, get->arg);
}

static void free_get(fs_job_t *job)
{
    fs_get_t *get = job->data;

    if (get->have_codecs)
        fs_codec_pool_destroy(&get->codecs);
    if (get->held != NULL)
        for (size_t i = 0; i < get->m.n_entries; i++)
            free(get->held[i]);
    free(get->held);
    EVP_MD_CTX_free(get->sha);
    mf_manifest_clear(&get->m);
    free(get->offsets);
    free(get->state);
    free(get->tries);
    free(get->final_path);
    free(get->part_path);
    free(get->journal_path);
    free(get->out_path);
    free(get->dir);
    fs_providers_release(get->providers);
    fs_keylist_clear(&get->kept);
    fs_keyset_clear(&get->claimed);
    free(get);
}

void fs_get_finish(fs_get_t *get)
{
    if (get->finished || get->in_flight || get->writing || get->working || get->hashing ||
        get->sink_busy || get->tree_busy)
        return;
    get->finished = 1;
    /* The blobs kept for serving stay only if the file is here. */
    for (size_t i = 0; i < get->kept.n; i++)
        fs_store_settle(get->ctx.store, get->kept.keys[i], get->status == 0);
    if (get->fd >= 0)
        close(get->fd);
    if (get->journal_fd >= 0)
        close(get->journal_fd);
    if (get->status == 0)
        get->done(0, get->final_path, get->m.size, get->message, get->arg);
    else
        get->done(get->status, NULL, 0, get->message, get->arg);
    /* Freed once done's caller has returned (as in put.c). */
    (void)fs_exec_defer(get->ctx.exec, &get->free_job, free_get);
}

/* ---- streaming: chunks to the sink, in order ------------------------------ */

static void deliver(fs_get_t *get)
{
    if (get->delivering)
        return;
    get->delivering = 1;
    while (get->status == 0 && !get->canceled && !get->sink_busy &&
           get->deliver < get->m.n_entries && get->held[get->deliver] != NULL) {
        uint32_t i = get->deliver;
        get->sink_busy = 1;
        EVP_DigestUpdate(get->sha, get->held[i], get->m.entries[i].size);
        get->sink.write(get->sink.arg, get, get->held[i], get->m.entries[i].size);
    }
    get->delivering = 0;
}

void fs_get_sink_ready(fs_get_t *get, int status)
{
    uint32_t i;

    if (get == NULL || !get->sink_busy)
        return;
    i = get->deliver;
    get->sink_busy = 0;
    free(get->held[i]);
    get->held[i] = NULL;
    get->held_bytes -= get->m.entries[i].size;
    get->deliver++;
    get->chunks_done++;
    get->bytes_done += get->m.entries[i].size;
    if (status != 0)
        fs_get_fail(get, status, "cannot write", "the output");
    else
        report(get, 0);
    if (!get->delivering)
        fs_get_pump(get);
}

/* Every byte went to the sink: the whole must match the manifest. */
static void stream_end(fs_get_t *get)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    EVP_DigestFinal_ex(get->sha, md, &md_len);
    if (memcmp(md, get->m.sha256, MF_KEY_LEN) != 0)
        fs_get_fail(get, FS_EBADHASH, "file does not match its manifest:", get->m.name);
    else
        report(get, 1);
    get->stream_ended = 1;
    fs_get_finish(get);
}

/* ---- chunks: fetch, then decode (and write) on a worker ------------------- */

/* A sealed file's chunk: its fetched (and checked) bytes opened in place
 * with the manifest's secret. @return 0, FS_ECORRUPT (they do not open:
 * the manifest lied) or FS_ENOMEM. */
static int open_chunk(get_chunk_t *c, const uint8_t secret[MF_KEY_LEN])
{
    int err;

    if (c->enc_len < MF_SEAL_TAG_LEN)
        return FS_ECORRUPT;
    err = mf_unseal(secret, c->enc, c->enc_len, c->enc);
    if (err != 0)
        return err == MF_ENOMEM ? FS_ENOMEM : FS_ECORRUPT;
    c->enc_len -= MF_SEAL_TAG_LEN;
    return 0;
}

static void decode_chunk(fs_job_t *w)
{
    get_chunk_t *c = w->data;
    fs_get_t *get = c->get;
    size_t plain_len = get->m.entries[c->index].size;
    uint8_t *plain = malloc(plain_len);
    fs_codec_t *codec = fs_codec_pool_take(&get->codecs);
    size_t off = 0;

    c->status = FS_ENOMEM;
    /* Kept as fetched (sealed, encoded): what this node serves. */
    if (c->store && plain != NULL &&
        (c->status = fs_store_put_new(get->ctx.store, get->m.entries[c->index].key, c->enc,
                                      c->enc_len, 0, &c->created)) != 0) {
        free(plain);
        fs_codec_pool_give(&get->codecs, codec);
        return;
    }
    c->status = FS_ENOMEM;
    if (plain != NULL && codec != NULL) {
        c->status = get->m.secrets ? open_chunk(c, get->m.secrets[c->index]) : 0;
        if (c->status == 0)
            c->status = fs_codec_decode(codec, c->enc, c->enc_len, plain, plain_len);
    }
    fs_codec_pool_give(&get->codecs, codec);
    if (get->streaming) {
        if (c->status == 0)
            c->plain = plain;
        else
            free(plain);
        return;
    }
    while (c->status == 0 && off < plain_len) {
        ssize_t n =
            pwrite(get->fd, plain + off, plain_len - off, (off_t)(get->offsets[c->index] + off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            c->status = fs_from_errno(errno);
        else
            off += (size_t)n;
    }
    free(plain);
}

/* A chunk is in the file: note it in the journal. */
static void chunk_written(fs_get_t *get, uint32_t i)
{
    uint8_t rec[4];

    le_put32(rec, i);
    if (get->journal_fd >= 0 && write(get->journal_fd, rec, 4) != 4)
        fs_get_fail(get, fs_from_errno(errno), "cannot write", get->journal_path);
    get->state[i] = 2;
    get->chunks_done++;
    if (get->ctx.chunk_written != NULL)
        get->ctx.chunk_written(get->ctx.chunk_written_arg, get->chunks_done - get->resumed);
    get->bytes_done += get->m.entries[i].size;
    report(get, 0);
}

static void after_decode(fs_job_t *w)
{
    get_chunk_t *c = w->data;
    fs_get_t *get = c->get;

    get->writing--;
    if (c->created && fs_keylist_add(&get->kept, get->m.entries[c->index].key) != 0) {
        fs_store_settle(get->ctx.store, get->m.entries[c->index].key, 0);
        fs_get_fail(get, FS_ENOMEM, "cannot keep", "a chunk");
    }
    if (c->status == FS_ECORRUPT && get->tries[c->index] < get->ctx.max_tries) {
        get->state[c->index] = 0; /* a bad holder: fetch it again */
        if (c->index < get->next)
            get->next = c->index;
        if (get->streaming)
            get->held_bytes -= get->m.entries[c->index].size;
    } else if (c->status != 0) {
        fs_get_fail(get, c->status, "cannot write", get->final_path ? get->final_path : "output");
    } else if (get->streaming) {
        get->state[c->index] = 2;
        get->held[c->index] = c->plain;
        c->plain = NULL;
    } else {
        chunk_written(get, c->index);
    }
    free(c->plain);
    free(c->enc);
    free(c);
    fs_get_pump(get);
}

static void on_chunk(int status, const uint8_t *data, size_t len, void *arg)
{
    get_chunk_t *c = arg;
    fs_get_t *get = c->get;
    char what[64];

    get->in_flight--;
    /* Kept once per key: a second claim by the same get (a repeated
     * chunk, a refetch) would mark the blob shared, and a failed get
     * could not take it back. */
    if (status == 0 && get->keep &&
        fs_keyset_find(&get->claimed, get->m.entries[c->index].key) == NULL) {
        if (fs_keyset_add(&get->claimed, get->m.entries[c->index].key) == NULL)
            status = FS_ENOMEM;
        else
            c->store = 1;
    }
    if (status == 0 && get->status == 0) {
        c->enc = malloc(len ? len : 1);
        if (c->enc != NULL) {
            memcpy(c->enc, data, len);
            c->enc_len = len;
            c->work.data = c;
            get->writing++;
            if (fs_exec_queue(get->ctx.exec, &c->work, decode_chunk, after_decode) == 0)
                return;
            get->writing--;
            free(c->enc);
        }
        status = FS_ENOMEM;
    }
    if (status != 0 && get->status == 0) {
        snprintf(what, sizeof(what), "chunk %u of %s", (unsigned)c->index, get->m.name);
        fs_get_fail(get, status, "cannot fetch", what);
        if (status == FS_ENOENT)
            snprintf(get->message, sizeof(get->message),
                     "cannot fetch chunk %u of %s: no node of the network has it",
                     (unsigned)c->index, get->m.name);
    }
    free(c);
    fs_get_pump(get);
}

/* A stream fetches only so far ahead of its sink. */
static int stream_room(const fs_get_t *get, uint32_t i)
{
    return !get->streaming || get->held_bytes == 0 ||
           get->held_bytes + get->m.entries[i].size <= STREAM_AHEAD;
}

void fs_get_pump(fs_get_t *get)
{
    while (get->status == 0 && !get->canceled && get->in_flight < get->ctx.max_in_flight &&
           get->next < get->m.n_entries && stream_room(get, get->next)) {
        uint32_t i = get->next++;
        get_chunk_t *c;

        if (get->state[i] != 0)
            continue;
        c = calloc(1, sizeof(*c));
        /* Odd chunks from a provider first, even ones from the holders
         * (and from a provider when they lack it). */
        if (c == NULL || fs_fetch_blob_from(&get->ctx, get->m.entries[i].key, get->providers, i,
                                            i % 2 == 1, &get->canceled, on_chunk, c) != 0) {
            free(c);
            fs_get_fail(get, FS_ENOMEM, "cannot fetch", get->m.name);
            break;
        }
        c->get = get;
        c->index = i;
        get->state[i] = 1;
        get->tries[i]++;
        get->in_flight++;
        if (get->streaming)
            get->held_bytes += get->m.entries[i].size;
    }
    if (get->canceled)
        fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
    if (get->status != 0) {
        fs_get_finish(get);
        return;
    }
    if (get->streaming) {
        deliver(get);
        if (get->status != 0) { /* the sink failed inside its write */
            fs_get_finish(get);
            return;
        }
        if (get->deliver == get->m.n_entries && !get->sink_busy && !get->stream_ended)
            stream_end(get);
        return;
    }
    report(get, 0);
    fs_get_hash_prefix(get);
    if (get->chunks_done == get->m.n_entries && !get->working && !get->hashing &&
        get->in_flight == 0 && get->writing == 0)
        fs_get_start_verify(get);
}

/* ---- the manifest --------------------------------------------------------- */

/* Takes a copy of m (it lives only during the callback) and the per-chunk
 * tables. @return 0 or FS_ENOMEM. */
static int take_manifest(fs_get_t *get, const mf_manifest_t *m)
{
    size_t n = m->n_entries ? m->n_entries : 1;
    uint64_t off = 0;

    get->m = *m;
    get->m.secrets = NULL;
    get->m.name = strdup(m->name);
    get->m.entries = malloc(n * sizeof(*m->entries));
    get->offsets = malloc(n * sizeof(*get->offsets));
    get->state = calloc(n, 1);
    get->tries = calloc(n, sizeof(*get->tries));
    if (get->streaming)
        get->held = calloc(n, sizeof(*get->held));
    get->sha = EVP_MD_CTX_new();
    if (get->m.name == NULL || get->m.entries == NULL || get->offsets == NULL ||
        get->state == NULL || get->tries == NULL || (get->streaming && get->held == NULL) ||
        get->sha == NULL || !EVP_DigestInit_ex(get->sha, EVP_sha256(), NULL))
        return FS_ENOMEM;
    memcpy(get->m.entries, m->entries, m->n_entries * sizeof(*m->entries));
    if (m->secrets != NULL) {
        get->m.secrets = malloc(n * sizeof(*m->secrets));
        if (get->m.secrets == NULL)
            return FS_ENOMEM;
        memcpy(get->m.secrets, m->secrets, m->n_entries * sizeof(*m->secrets));
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        get->offsets[i] = off;
        off += m->entries[i].size;
    }
    return 0;
}

/* Keeps the manifest's nodes in the store (fs_get_opts_t.keep).
 * @return 0, or the get failed. */
static int keep_blobs(fs_get_t *get, const mf_blob_t *blobs, size_t n)
{
    for (size_t i = 0; i < n && get->status == 0; i++) {
        int created = 0;
        int err = fs_store_put_new(get->ctx.store, blobs[i].key, blobs[i].data, blobs[i].len, 0,
                                   &created);
        if (err == 0 && created && fs_keylist_add(&get->kept, blobs[i].key) != 0) {
            fs_store_settle(get->ctx.store, blobs[i].key, 0);
            err = FS_ENOMEM;
        }
        if (err)
            fs_get_fail(get, err, "cannot keep", "the manifest");
    }
    return get->status;
}

static void on_manifest(int status, const mf_manifest_t *m, const mf_dir_t *d,
                        const mf_blob_t *blobs, size_t n, const char *message, void *arg)
{
    fs_get_t *get = arg;

    get->in_flight--;
    if (status == 0 && d != NULL && get->streaming) {
        status = FS_EINVAL;
        message = "the key names a directory: get it into a directory (-o DIR), not a stream";
    }
    if (status == 0 && d != NULL && get->keep) {
        status = FS_EINVAL;
        message = "the key names a directory: only a file can be seeded";
    }
    if (status == 0 && get->keep && keep_blobs(get, blobs, n) != 0) {
        status = get->status;
        message = get->message;
    }
    if (status != 0) {
        get->status = status;
        snprintf(get->message, sizeof(get->message), "%s", message);
        fs_get_finish(get);
        return;
    }
    if (d != NULL) {
        if (get->canceled)
            fs_get_pump(get);
        else
            fs_get_tree(get, d);
        return;
    }
    if (take_manifest(get, m) != 0) {
        fs_get_fail(get, FS_ENOMEM, "cannot get", "the file");
        fs_get_finish(get);
        return;
    }
    if (get->canceled) {
        fs_get_pump(get);
        return;
    }
    if (get->streaming) {
        report(get, 1);
        fs_get_pump(get);
        return;
    }
    fs_get_place(get);
}

static void on_start(fs_job_t *job)
{
    fs_get_t *get = job->data;

    if (get->finished) /* canceled before it started: done was called */
        return;
    if (get->canceled) {
        fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
        fs_get_finish(get);
        return;
    }
    /* Who provides the file, found while the manifest comes. */
    if (get->ctx.dht != NULL)
        get->providers = fs_providers_find(&get->ctx, get->key);
    get->in_flight++;
    if ((get->sealed
             ? fs_manifest_fetch_sealed(&get->ctx, get->key, get->secret, on_manifest, get)
             : fs_manifest_fetch_kind(&get->ctx, get->key, get->kind, on_manifest, get)) != 0) {
        get->in_flight--;
        fs_get_fail(get, FS_ENOMEM, "cannot fetch", "the manifest");
        fs_get_finish(get);
    }
}

int fs_get_start(fs_get_t **out, const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                 const fs_get_opts_t *opts, fs_get_cb done, void *arg)
{
    fs_get_t *get;

    if (out == NULL || ctx == NULL || ctx->exec == NULL || key == NULL || opts == NULL ||
        done == NULL || (opts->sink != NULL && opts->sink->write == NULL))
        return FS_EINVAL;
    get = calloc(1, sizeof(*get));
    if (get == NULL)
        return FS_ENOMEM;
    get->ctx = *ctx;
    memcpy(get->key, key, MF_KEY_LEN);
    get->fd = -1;
    get->journal_fd = -1;
    get->force = opts->force;
    get->keep = opts->keep != 0 && ctx->store != NULL;
    get->kind = opts->kind == MF_KIND_FILE ? MF_KIND_FILE : MF_KIND_ANY;
    if (opts->secret != NULL) {
        get->sealed = 1;
        memcpy(get->secret, opts->secret, MF_KEY_LEN);
    }
    if (opts->sink != NULL) {
        get->sink = *opts->sink;
        get->streaming = 1;
    }
    get->progress = opts->progress;
    get->done = done;
    get->arg = arg;
    get->out_path = opts->out_path ? strdup(opts->out_path) : NULL;
    get->dir = strdup(opts->dir && opts->dir[0] ? opts->dir : ".");
    if ((opts->out_path && get->out_path == NULL) || get->dir == NULL ||
        fs_codec_pool_init(&get->codecs, ctx->level) != 0) {
        free(get->out_path);
        free(get->dir);
        free(get);
        return FS_ENOMEM;
    }
    get->have_codecs = 1;
    get->start_job.data = get;
    get->free_job.data = get;
    if (fs_exec_defer(ctx->exec, &get->start_job, on_start) != 0) {
        free_get(&get->free_job);
        return FS_ENOMEM;
    }
    *out = get;
    return 0;
}

void fs_get_cancel(fs_get_t *get)
{
    if (get == NULL || get->finished || get->canceled)
        return;
    get->canceled = 1;
    fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
    /* Let go of the journal (and its lock) now, not when the fetches in
     * flight have drained, so the next get of this file can resume at
     * once; chunks still landing are rewritten by it, byte for byte. */
    if (get->journal_fd >= 0) {
        close(get->journal_fd);
        get->journal_fd = -1;
    }
    fs_get_tree_cancel(get->tree);
    fs_get_finish(get);
}
