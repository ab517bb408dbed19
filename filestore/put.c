/*
 * fs_put: a file into the local store and the DHT. See filestore.h.
 *
 * One reader job at a time reads a window of the file, hashes it into the
 * whole-file SHA-256 and cuts it into chunks; each chunk then goes to a
 * worker that encodes, hashes and stores it locally; the loop thread then
 * stores it in the DHT. The reader stays at most PUT_BACKLOG chunks ahead
 * of the DHT stores, which bounds memory.
 *
 * A chunk is a view into its window (a slab), not a copy: each window is
 * a slab of its own, which lives until the reader and every chunk cut
 * from it are done with it (its encoding), and then serves as a later
 * window. Only the tail after a window's last cut is copied, to the start
 * of the next window.
 *
 * The local blobs go into a batch (chunk_store.h): written unsynced as
 * they come, then made durable together, on a worker, once everything
 * else is done and before done reports the key.
 */
#include "filestore/codec_pool.h"
#include "manifests/seal.h"
#include "filestore/fetch.h"
#include "filestore/filestore.h"
#include "filestore/counts.h"
#include "filestore/ctx.h"
#include "filestore/keyset.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUT_WINDOW  (8u << 20) /* bytes read per reader job, besides the carry */
#define PUT_BACKLOG 64         /* chunks read but not yet stored, at most */
#define PUT_SPARES  2          /* slabs kept for later windows, at most */

/* A window's bytes. Its refs (the reader's, one per chunk cut from it)
 * change on the loop thread only, and in the reader's job for the slab it
 * reads into, which no chunk of the loop's can point into yet. */
typedef struct put_slab {
    uint8_t *data;
    unsigned refs;
    struct put_slab *next; /* in the put's spares */
} put_slab_t;

typedef struct put_chunk {
    fs_job_t work;
    struct fs_put *put;
    struct put_chunk *next; /* in the reader's batch or the DHT queue */
    uint32_t index;
    const uint8_t *plain; /* in slab; NULL once encoded */
    put_slab_t *slab;
    size_t plain_len;
    uint8_t *enc;
    size_t enc_len;
    uint8_t key[MF_KEY_LEN];
    uint8_t secret[MF_KEY_LEN]; /* a sealed put's: opens the chunk */
    int created;                /* this put made the local blob: it settles it (chunk_store.h) */
    int status;
    unsigned tries;
} put_chunk_t;

struct fs_put {
    fs_ctx_t ctx;
    char *path;
    char *name;
    int fd;
    fs_progress_cb progress;
    fs_put_cb done;
    void *arg;
    int network; /* store in the DHT too (the node has peers) */

    /* A streamed put: the caller feeds the window (fs_put_feed). */
    int streaming, stream_ended, job_eof, want_more_pending;
    size_t win_new; /* bytes fed at the window's end, not hashed yet */
    void (*want_more)(void *arg);

    /* The reader: touched by one job at a time, then by the loop thread. */
    fs_job_t read_work;
    int reading, eof;                  /* eof: the loop's copy of eof_seen, made in after_read */
    int eof_seen;                      /* the reader's: the input's end was read */
    uint64_t size_seen;                /* the reader's: the file's size at open */
    put_slab_t *slab;                  /* the window: win is its data */
    put_slab_t *read_slab, *next_slab; /* a reader job's window and the next one */
    put_slab_t *spares;
    unsigned n_spares;
    uint8_t *win;
    size_t win_len;
    uint64_t file_size, bytes_read;
    EVP_MD_CTX *sha;
    put_chunk_t *batch, **batch_tail;
    int read_err;

    fs_codec_pool_t codecs; /* shared by the workers */

    /* Chunks, indexed in file order (and a sealed put's secrets). */
    mf_entry_t *entries;
    uint8_t (*secrets)[MF_KEY_LEN];
    size_t cap_entries;
    uint8_t root_secret[MF_KEY_LEN]; /* a sealed put's, once its manifest is encoded */
    uint32_t chunks_made, chunks_encoding, chunks_stored;
    put_chunk_t *queue, **queue_tail; /* encoded, waiting for a DHT store */
    uint32_t queued, dht_in_flight;
    uint64_t bytes_done;

    fs_keylist_t created;      /* blobs this put made, to settle (chunk_store.h) */
    fs_store_batch_t *durable; /* the local blobs, synced together at the end */
    fs_job_t commit_job;
    int committing, committed, commit_status;
    int rolled_back; /* a failed put's local blobs are gone (roll_back) */

    /* Nodes that took each value this put stored in the DHT (chunks, then
     * manifest nodes), for fs_put_copies. */
    fs_counts_t copies;

    /* The manifest, stored last. */
    mf_manifest_t manifest;
    mf_blob_t *blobs;
    size_t n_blobs, next_blob;
    int manifest_phase;
    /* Two jobs, each submitted once: the start, then (after done) the
     * free. The executor runs them in order, so a put canceled before
     * its start is freed only after that start has run, and done nothing. */
    fs_job_t start_job, free_job;
    int finished;

    int status;
    char message[256];
    uint64_t last_progress;
};

static void pump(fs_put_t *put);

static _Atomic uint64_t hashed_bytes; /* fs_put_hashed_bytes */
static _Atomic uint64_t copied_bytes; /* fs_put_copied_bytes */
static _Atomic uint64_t chunk_alloc;  /* fs_put_allocated_bytes: per-chunk buffers */
static _Atomic uint64_t window_alloc; /* and read windows */

uint64_t fs_put_hashed_bytes(void)
{
    return atomic_load(&hashed_bytes);
}

uint64_t fs_put_copied_bytes(void)
{
    return atomic_load(&copied_bytes);
}

uint64_t fs_put_allocated_bytes(uint64_t *windows)
{
    if (windows != NULL)
        *windows = atomic_load(&window_alloc);
    return atomic_load(&chunk_alloc);
}

/* The whole-file SHA-256 over len more bytes. */
static void hash_file_bytes(fs_put_t *put, const uint8_t *data, size_t len)
{
    EVP_DigestUpdate(put->sha, data, len);
    atomic_fetch_add(&hashed_bytes, len);
}

/* Records the first failure: "ACTION OBJECT: reason". */
static void fail(fs_put_t *put, int status, const char *action, const char *object)
{
    if (put->status != 0)
        return;
    put->status = status;
    snprintf(put->message, sizeof(put->message), "%s %s: %s", action, object,
             status == FS_EINVAL ? "not a regular file" : fs_strerror(status));
}

static void report(fs_put_t *put, int force)
{
    fs_progress_t p;
    uint64_t now = fs_exec_now(put->ctx.exec);

    if (put->progress == NULL || (!force && now - put->last_progress < 100))
        return;
    put->last_progress = now;
    p.bytes_done = put->bytes_done;
    p.bytes_total = put->file_size;
    p.chunks_done = put->chunks_stored;
    p.chunks_total = put->eof ? put->chunks_made : 0;
    p.in_flight = put->dht_in_flight;
    p.peers = fs_peer_count(&put->ctx);
    put->progress(&p, put->arg);
}

/* @return a slab for a window (a spare, else a new one), with one ref,
 *         or NULL if out of memory. */
static put_slab_t *slab_take(fs_put_t *put)
{
    put_slab_t *s = put->spares;

    if (s != NULL) {
        put->spares = s->next;
        put->n_spares--;
    } else if ((s = malloc(sizeof(*s))) != NULL &&
               (s->data = malloc(PUT_WINDOW + put->ctx.chunking.max)) == NULL) {
        free(s);
        s = NULL;
    } else if (s != NULL) {
        atomic_fetch_add(&window_alloc, PUT_WINDOW + put->ctx.chunking.max);
    }
    if (s != NULL) {
        s->refs = 1;
        s->next = NULL;
    }
    return s;
}

static void slab_free(put_slab_t *s)
{
    if (s != NULL)
        free(s->data);
    free(s);
}

/* Drops a ref of s (NULL: none); the last one makes it a spare, or frees it. */
static void slab_drop(fs_put_t *put, put_slab_t *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    if (put->n_spares < PUT_SPARES) {
        s->next = put->spares;
        put->spares = s;
        put->n_spares++;
    } else {
        slab_free(s);
    }
}

static void free_chunk(put_chunk_t *c)
{
    slab_drop(c->put, c->slab);
    free(c->enc);
    free(c);
}

static void free_put(fs_job_t *job)
{
    fs_put_t *put = job->data;

    fs_codec_pool_destroy(&put->codecs);
    EVP_MD_CTX_free(put->sha);
    mf_manifest_clear(&put->manifest);
    mf_blobs_free(put->blobs, put->n_blobs);
    free(put->entries);
    free(put->secrets);
    fs_keylist_clear(&put->created);
    fs_store_batch_free(put->durable);
    fs_counts_clear(&put->copies);
    slab_free(put->slab);
    slab_free(put->next_slab);
    while (put->spares != NULL) {
        put_slab_t *s = put->spares;
        put->spares = s->next;
        slab_free(s);
    }
    free(put->path);
    free(put->name);
    free(put);
}

/* Settles the blobs the put made (chunk_store.h): kept, or taken back. */
static void settle_created(fs_put_t *put, int keep)
{
    for (size_t i = 0; i < put->created.n; i++)
        fs_store_settle(put->ctx.store, put->created.keys[i], keep);
    put->created.n = 0;
}

static void maybe_finish(fs_put_t *put);

static void commit_blobs(fs_job_t *w)
{
    fs_put_t *put = w->data;

    put->commit_status = fs_store_batch_commit(put->durable);
}

static void after_commit(fs_job_t *w)
{
    fs_put_t *put = w->data;

    put->committing = 0;
    put->committed = 1;
    if (put->commit_status != 0)
        fail(put, put->commit_status, "cannot store locally", "the file's blobs");
    maybe_finish(put);
}

/* Makes the local blobs durable, on a worker; maybe_finish again after.
 * @return 0, or nonzero if it could not start (the put has failed). */
static int start_commit(fs_put_t *put)
{
    put->commit_job.data = put;
    if (fs_exec_queue(put->ctx.exec, &put->commit_job, commit_blobs, after_commit) != 0) {
        fail(put, FS_ENOMEM, "cannot store locally", "the file's blobs");
        return -1;
    }
    put->committing = 1;
    return 0;
}

/* A failed or canceled put takes its local blobs back: the temporaries of
 * the batch, and the blobs it made. Once, as soon as no worker writes
 * them: its values in flight in the DHT do not need them (libdht holds
 * its own copies), so a put canceled while its STOREs wait on a slow
 * peer leaves the store as it was at once, not when they end (a daemon
 * whose client was killed took 5 s and more so, now and then). */
static void roll_back(fs_put_t *put)
{
    if (put->rolled_back)
        return;
    put->rolled_back = 1;
    fs_store_batch_free(put->durable);
    put->durable = NULL;
    settle_created(put, 0);
}

/* Ends the put once nothing is in flight: rolls back on failure (that part
 * without waiting for the DHT), makes the blobs durable on success,
 * reports. */
static void maybe_finish(fs_put_t *put)
{
    if (put->finished || put->reading || put->chunks_encoding || put->committing)
        return;
    if (put->status != 0)
        roll_back(put);
    if (put->dht_in_flight)
        return;
    if (put->status == 0 && !put->manifest_phase)
        return;
    if (put->status == 0 && put->next_blob < put->n_blobs)
        return;
    if (put->status == 0 && !put->committed && start_commit(put) == 0)
        return;
    put->finished = 1;
    /* Temporaries of blobs never committed go (a failure, a cancel). */
    fs_store_batch_free(put->durable);
    put->durable = NULL;
    while (put->queue != NULL) {
        put_chunk_t *c = put->queue;
        put->queue = c->next;
        free_chunk(c);
    }
    if (put->fd >= 0)
        close(put->fd);
    put->fd = -1;
    if (put->status == 0) {
        report(put, 1);
        put->done(0, put->blobs[put->n_blobs - 1].key, &put->manifest, "", put->arg);
        /* The blobs are the stored file's now, unless done took them over
         * (fs_put_take_created) to settle them itself. */
        settle_created(put, 1);
    } else {
        put->done(put->status, NULL, NULL, put->message, put->arg);
    }
    /* Freed once done's caller has returned. The defer cannot fail while
     * the executor lives; if it did, the put is left, not freed in use. */
    (void)fs_exec_defer(put->ctx.exec, &put->free_job, free_put);
}

static int note_created(fs_put_t *put, const uint8_t key[MF_KEY_LEN])
{
    return fs_keylist_add(&put->created, key) == 0 ? 0 : FS_ENOMEM;
}

/* ---- the manifest, stored once every chunk is ---------------------------- */

static void on_blob_stored(int status, unsigned stored, void *arg);

/* Stores the manifest's nodes in the DHT, a batch at a time (their
 * lookups in parallel, the small ones sharing datagrams). */
static void put_next_blob(fs_put_t *put)
{
    if (!put->network)
        put->next_blob = put->n_blobs;
    if (put->status == 0 && put->dht_in_flight == 0 && put->next_blob < put->n_blobs) {
        size_t n = fs_blobs_batch_len(&put->ctx, &put->blobs[put->next_blob],
                                      put->n_blobs - put->next_blob);
        int err;

        err = fs_dht_put_blobs(&put->ctx, &put->blobs[put->next_blob], n, on_blob_stored, put);
        if (err) {
            fail(put, fs_from_dht(err), "cannot store", "the manifest");
        } else {
            put->dht_in_flight += (uint32_t)n;
            put->next_blob += n;
            return;
        }
    }
    maybe_finish(put);
}

/* Notes that a value went to `stored` nodes (the figure is a report: out
 * of memory, the put goes on without it). */
static void note_copies(fs_put_t *put, unsigned stored)
{
    (void)fs_counts_add(&put->copies, stored);
}

int fs_put_secret(const fs_put_t *put, uint8_t secret[MF_KEY_LEN])
{
    if (put == NULL || !put->ctx.seal || put->status != 0 || put->blobs == NULL)
        return 0;
    memcpy(secret, put->root_secret, MF_KEY_LEN);
    return 1;
}

void fs_put_copies(fs_put_t *put, unsigned *fewest, unsigned *median)
{
    uint32_t f, m;

    fs_counts_summary(&put->copies, &f, &m);
    *fewest = f;
    *median = m;
}

static void on_blob_stored(int status, unsigned stored, void *arg)
{
    fs_put_t *put = arg;

    put->dht_in_flight--;
    if (status != 0)
        fail(put, fs_from_dht(status), "cannot store in the network", "the manifest");
    else
        note_copies(put, stored);
    put_next_blob(put);
}

static void store_manifest(fs_put_t *put)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    mf_manifest_t *m = &put->manifest;
    int err;

    put->manifest_phase = 1;
    EVP_DigestFinal_ex(put->sha, md, &md_len);
    m->name = put->name;
    put->name = NULL;
    m->size = put->bytes_read;
    memcpy(m->sha256, md, MF_KEY_LEN);
    m->n_entries = put->chunks_made;
    m->entries = put->entries;
    put->entries = NULL;
    m->secrets = put->secrets;
    put->secrets = NULL;
    if (put->ctx.seal)
        err = mf_encode_sealed(m, put->ctx.max_node_bytes, &put->blobs, &put->n_blobs,
                               put->root_secret);
    else
        err = mf_encode(m, put->ctx.max_node_bytes, &put->blobs, &put->n_blobs);
    if (err) {
        fail(put, err == MF_ENOMEM ? FS_ENOMEM : FS_EINVAL, "cannot encode", "the manifest");
        maybe_finish(put);
        return;
    }
    for (size_t i = 0; i < put->n_blobs && put->status == 0; i++) {
        int created;
        err = fs_store_put_batched(put->durable, put->blobs[i].key, put->blobs[i].data,
                                   put->blobs[i].len, 0, &created);
        if (err) {
            fail(put, err, "cannot store locally", "the manifest");
        } else if (created && note_created(put, put->blobs[i].key) != 0) {
            fs_store_settle(put->ctx.store, put->blobs[i].key, 0);
            fail(put, FS_ENOMEM, "cannot track", "the manifest");
        }
    }
    put_next_blob(put);
}

/* ---- chunks in the DHT --------------------------------------------------- */

static void chunk_stored(fs_put_t *put, put_chunk_t *c)
{
    put->chunks_stored++;
    put->bytes_done += c->plain_len;
    free_chunk(c);
    report(put, 0);
}

static void on_chunk_stored(int status, unsigned stored, void *arg)
{
    put_chunk_t *c = arg;
    fs_put_t *put = c->put;

    put->dht_in_flight--;
    if (status != 0 && put->status == 0 && c->tries < put->ctx.max_tries) {
        /* Requeue at the head: another lookup may reach other nodes. */
        c->next = put->queue;
        if (put->queue == NULL)
            put->queue_tail = &c->next;
        put->queue = c;
        put->queued++;
    } else if (status != 0) {
        char what[32];
        snprintf(what, sizeof(what), "chunk %u", (unsigned)c->index);
        fail(put, fs_from_dht(status), "cannot store in the network", what);
        free_chunk(c);
    } else {
        note_copies(put, stored);
        chunk_stored(put, c);
    }
    pump(put);
}

static int all_chunks_stored(const fs_put_t *put)
{
    return put->eof && !put->reading && put->chunks_encoding == 0 && put->queue == NULL &&
           put->dht_in_flight == 0 && put->chunks_stored == put->chunks_made;
}

static void start_read(fs_put_t *put);

static void pump(fs_put_t *put)
{
    while (put->status == 0 && put->queue != NULL && put->dht_in_flight < put->ctx.max_in_flight) {
        put_chunk_t *c = put->queue;
        int err;

        put->queue = c->next;
        if (put->queue == NULL)
            put->queue_tail = &put->queue;
        put->queued--;
        c->tries++;
        err = fs_dht_put_blob(&put->ctx, c->key, c->enc, c->enc_len, on_chunk_stored, c);
        if (err) {
            fail(put, fs_from_dht(err), "cannot store in the network", "a chunk");
            free_chunk(c);
            break;
        }
        put->dht_in_flight++;
    }
    if (put->status != 0) {
        maybe_finish(put);
        return;
    }
    if (all_chunks_stored(put)) {
        if (!put->manifest_phase)
            store_manifest(put);
        return;
    }
    start_read(put);
}

/* ---- encoding workers ---------------------------------------------------- */

/* A sealed put's chunk: its encoded bytes are sealed in place, into the
 * room encode_chunk left for the tag (manifests/seal.h).
 * @return 0 or FS_ENOMEM. */
static int seal_chunk(put_chunk_t *c)
{
    atomic_fetch_add(&hashed_bytes, c->enc_len);
    if (mf_seal_secret(c->enc, c->enc_len, c->secret) != 0 ||
        mf_seal(c->secret, c->enc, c->enc_len, c->enc) != 0)
        return FS_ENOMEM;
    c->enc_len += MF_SEAL_TAG_LEN;
    return 0;
}

static void encode_chunk(fs_job_t *w)
{
    put_chunk_t *c = w->data;
    fs_put_t *put = c->put;
    fs_codec_t *codec = fs_codec_pool_take(&put->codecs);

    c->status = FS_ENOMEM;
    if (codec == NULL)
        return;
    /* A sealed chunk's tag follows its encoding in the same buffer. */
    size_t room = fs_codec_bound(c->plain_len) + (put->ctx.seal ? MF_SEAL_TAG_LEN : 0);
    c->enc = malloc(room);
    atomic_fetch_add(&chunk_alloc, room);
    if (c->enc != NULL)
        c->status = fs_codec_encode(codec, c->plain, c->plain_len, c->enc, &c->enc_len);
    fs_codec_pool_give(&put->codecs, codec);
    if (c->status != 0)
        return;
    if (c->enc[0] == FS_CODEC_RAW)
        atomic_fetch_add(&copied_bytes, c->plain_len);
    if (put->ctx.seal && (c->status = seal_chunk(c)) != 0)
        return;
    atomic_fetch_add(&hashed_bytes, c->enc_len);
    if (mf_sha256(c->enc, c->enc_len, c->key) != 0) {
        c->status = FS_ENOMEM;
        return;
    }
    c->status = fs_store_put_batched(put->durable, c->key, c->enc, c->enc_len, 0, &c->created);
}

static void after_encode(fs_job_t *w)
{
    put_chunk_t *c = w->data;
    fs_put_t *put = c->put;

    put->chunks_encoding--;
    /* The plain bytes are no longer needed; keep only their length. */
    slab_drop(put, c->slab);
    c->slab = NULL;
    c->plain = NULL;
    if (c->status == 0 && c->created && note_created(put, c->key) != 0) {
        fs_store_settle(put->ctx.store, c->key, 0);
        c->status = FS_ENOMEM;
    }
    if (c->status != 0) {
        char what[32];
        snprintf(what, sizeof(what), "chunk %u", (unsigned)c->index);
        fail(put, c->status, "cannot store locally", what);
        free_chunk(c);
        pump(put);
        return;
    }
    memcpy(put->entries[c->index].key, c->key, MF_KEY_LEN);
    put->entries[c->index].size = (uint32_t)c->plain_len;
    if (put->secrets != NULL)
        memcpy(put->secrets[c->index], c->secret, MF_KEY_LEN);
    if (!put->network) {
        chunk_stored(put, c);
    } else {
        c->next = NULL;
        *put->queue_tail = c;
        put->queue_tail = &c->next;
        put->queued++;
    }
    pump(put);
}

/* ---- the reader ---------------------------------------------------------- */

/* A chunk of len bytes at data, in the reader's window (put->slab). */
static int add_to_batch(fs_put_t *put, const uint8_t *data, size_t len)
{
    put_chunk_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return FS_ENOMEM;
    c->plain = data;
    c->plain_len = len;
    c->slab = put->slab;
    c->slab->refs++;
    c->put = put;
    *put->batch_tail = c;
    put->batch_tail = &c->next;
    return 0;
}

/* Worker: opens the file on the first call, reads one window, hashes it,
 * cuts what it can into chunks; the rest is carried to the next call. */
/* Opens the file on the reader's first job: a regular file only, and
 * without blocking on a FIFO put in its place. @return 0 or an FS_* code. */
static int open_input(fs_put_t *put)
{
    struct stat st;
    int flags;

    put->fd = open(put->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (put->fd < 0)
        return fs_from_errno(errno);
    if (fstat(put->fd, &st) != 0 || !S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? FS_EINVAL : FS_EIO;
    flags = fcntl(put->fd, F_GETFL);
    if (flags >= 0)
        fcntl(put->fd, F_SETFL, flags & ~O_NONBLOCK);
    put->size_seen = (uint64_t)st.st_size;
    return 0;
}

/* Worker: opens the file on the first call, reads one window, hashes it,
 * cuts what it can into chunks; the rest is carried to the next call, at
 * the start of the next window (next_slab) if a chunk was cut from this
 * one. It touches only the reader's fields (win, slab, next_slab, batch,
 * sha, *_seen, read_err); after_read hands the news to the loop. */
static void read_window(fs_job_t *w)
{
    fs_put_t *put = w->data;
    size_t cap = PUT_WINDOW + put->ctx.chunking.max;
    size_t pos = 0;

    if (put->streaming) {
        hash_file_bytes(put, put->win + put->win_len - put->win_new, put->win_new);
        put->win_new = 0;
        put->eof_seen = put->job_eof;
    } else if (put->fd < 0 && (put->read_err = open_input(put)) != 0) {
        return;
    }
    while (!put->streaming && put->win_len < cap && !put->eof_seen) {
        ssize_t n =
            pread(put->fd, put->win + put->win_len, cap - put->win_len, (off_t)put->bytes_read);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            put->read_err = fs_from_errno(errno);
            return;
        }
        if (n == 0) {
            put->eof_seen = 1;
            break;
        }
        hash_file_bytes(put, put->win + put->win_len, (size_t)n);
        put->win_len += (size_t)n;
        put->bytes_read += (uint64_t)n;
    }
    while (pos < put->win_len) {
        size_t cut =
            fs_chunker_cut(&put->ctx.chunking, put->win + pos, put->win_len - pos, put->eof_seen);
        if (cut == 0)
            break;
        if (add_to_batch(put, put->win + pos, cut) != 0) {
            put->read_err = FS_ENOMEM;
            return;
        }
        pos += cut;
    }
    if (pos == 0)
        return; /* nothing cut: the window stays, and fills on */
    memcpy(put->next_slab->data, put->win + pos, put->win_len - pos);
    atomic_fetch_add(&copied_bytes, put->win_len - pos);
    put->win_len -= pos;
    put->slab = put->next_slab;
    put->next_slab = NULL;
    put->win = put->slab->data;
}

static int grow_entries(fs_put_t *put, size_t need)
{
    if (need <= put->cap_entries)
        return 0;
    size_t cap = put->cap_entries ? put->cap_entries : 256;
    while (cap < need)
        cap *= 2;
    void *p = realloc(put->entries, cap * sizeof(*put->entries));
    if (p == NULL)
        return FS_ENOMEM;
    put->entries = p;
    if (put->ctx.seal) {
        p = realloc(put->secrets, cap * sizeof(*put->secrets));
        if (p == NULL)
            return FS_ENOMEM;
        put->secrets = p;
    }
    put->cap_entries = cap;
    return 0;
}

/* A streamed put with room in its window asks its feeder for more. */
static void ask_for_more(fs_put_t *put)
{
    if (put->want_more_pending && !put->reading && !put->finished &&
        (put->status != 0 || put->win_len < PUT_WINDOW + put->ctx.chunking.max)) {
        put->want_more_pending = 0;
        put->want_more(put->arg);
    }
}

static void after_read(fs_job_t *w)
{
    fs_put_t *put = w->data;
    put_chunk_t *c = put->batch;

    put->reading = 0;
    /* The window read from gives up the reader's ref if a new one took
     * its place; a next window not taken waits for the next job. */
    if (put->slab != put->read_slab)
        slab_drop(put, put->read_slab);
    put->read_slab = NULL;
    put->eof = put->eof_seen;
    if (!put->streaming)
        put->file_size = put->size_seen;
    put->batch = NULL;
    put->batch_tail = &put->batch;
    if (put->read_err != 0)
        fail(put, put->read_err, "cannot read", put->path);
    while (c != NULL) {
        put_chunk_t *next = c->next;
        c->next = NULL;
        if (put->status != 0 || grow_entries(put, (size_t)put->chunks_made + 1) != 0) {
            fail(put, FS_ENOMEM, "cannot read", put->path);
            free_chunk(c);
        } else {
            c->index = put->chunks_made++;
            c->work.data = c;
            put->chunks_encoding++;
            if (fs_exec_queue(put->ctx.exec, &c->work, encode_chunk, after_encode) != 0) {
                put->chunks_encoding--;
                fail(put, FS_ENOMEM, "cannot read", put->path);
                free_chunk(c);
            }
        }
        c = next;
    }
    if (put->streaming && put->eof)
        put->file_size = put->bytes_read;
    report(put, 0);
    pump(put);
    ask_for_more(put);
}

static void start_read(fs_put_t *put)
{
    uint32_t backlog = put->chunks_made - put->chunks_stored;

    if (put->reading || put->eof || put->status != 0 || backlog >= PUT_BACKLOG)
        return;
    if (put->streaming) {
        /* Cut when the window is full, or at the end of the stream. */
        if (put->win_len < PUT_WINDOW + put->ctx.chunking.max && !put->stream_ended)
            return;
        put->job_eof = put->stream_ended;
    }
    if (put->next_slab == NULL && (put->next_slab = slab_take(put)) == NULL) {
        fail(put, FS_ENOMEM, "cannot read", put->path);
        return;
    }
    put->reading = 1;
    put->read_slab = put->slab;
    put->read_work.data = put;
    if (fs_exec_queue(put->ctx.exec, &put->read_work, read_window, after_read) != 0) {
        put->reading = 0;
        put->read_slab = NULL;
        fail(put, FS_ENOMEM, "cannot read", put->path);
    }
}

/* ---- start and cancel ---------------------------------------------------- */

/* The manifest's name for path: its last component, with characters a
 * manifest may not carry replaced by '_'. */
static char *name_of(const char *path)
{
    const char *base = strrchr(path, '/');
    char *name;
    size_t len;

    base = base ? base + 1 : path;
    len = strlen(base);
    if (len > MF_NAME_MAX)
        len = MF_NAME_MAX;
    name = malloc(len + 2);
    if (name == NULL)
        return NULL;
    memcpy(name, base, len);
    name[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            name[i] = '_';
    if (!mf_name_valid(name))
        strcpy(name, "file");
    return name;
}

static void on_start(fs_job_t *job)
{
    fs_put_t *put = job->data;

    if (put->finished) /* canceled before it started: done was called */
        return;
    if (put->status == 0 && put->ctx.need_peers && !put->network)
        fail(put, FS_ENOPEERS, "cannot store", put->path);
    if (put->status != 0) {
        maybe_finish(put);
        return;
    }
    start_read(put);
    maybe_finish(put);
}

/* Fills in what fs_put_start and fs_put_start_stream share. */
static fs_put_t *put_new(const fs_ctx_t *ctx, fs_progress_cb progress, fs_put_cb done, void *arg)
{
    fs_put_t *put = calloc(1, sizeof(*put));

    if (put == NULL)
        return NULL;
    put->ctx = *ctx;
    put->fd = -1;
    put->progress = progress;
    put->done = done;
    put->arg = arg;
    put->batch_tail = &put->batch;
    put->queue_tail = &put->queue;
    put->network = ctx->dht != NULL && fs_peer_count(ctx) > 0;
    put->slab = slab_take(put);
    put->win = put->slab != NULL ? put->slab->data : NULL;
    put->sha = EVP_MD_CTX_new();
    if (put->win == NULL || put->sha == NULL || !EVP_DigestInit_ex(put->sha, EVP_sha256(), NULL) ||
        fs_store_batch_new(ctx->store, &put->durable) != 0 ||
        fs_codec_pool_init(&put->codecs, ctx->level) != 0) {
        fs_store_batch_free(put->durable);
        EVP_MD_CTX_free(put->sha);
        slab_free(put->slab);
        free(put);
        return NULL;
    }
    put->start_job.data = put;
    put->free_job.data = put;
    return put;
}

/* Gives put its path text and manifest name (both malloc()ed, NULL if out
 * of memory: then the put is undone) and starts it from the loop. */
static int put_launch(fs_put_t **out, fs_put_t *put, char *path, char *name)
{
    put->path = path;
    put->name = name;
    if (path == NULL || name == NULL ||
        fs_exec_defer(put->ctx.exec, &put->start_job, on_start) != 0) {
        free_put(&put->free_job);
        return FS_ENOMEM;
    }
    *out = put;
    return 0;
}

int fs_put_start_stream(fs_put_t **out, const fs_ctx_t *ctx, const char *name,
                        fs_progress_cb progress, void (*want_more)(void *arg), fs_put_cb done,
                        void *arg)
{
    fs_put_t *put;

    if (out == NULL || ctx == NULL || ctx->exec == NULL || ctx->store == NULL || name == NULL ||
        !mf_name_valid(name) || want_more == NULL || done == NULL ||
        fs_chunker_params_check(&ctx->chunking) != 0)
        return FS_EINVAL;
    put = put_new(ctx, progress, done, arg);
    if (put == NULL)
        return FS_ENOMEM;
    put->streaming = 1;
    put->want_more = want_more;
    return put_launch(out, put, strdup("standard input"), strdup(name));
}

size_t fs_put_feed(fs_put_t *put, const uint8_t *data, size_t len)
{
    size_t cap = PUT_WINDOW + put->ctx.chunking.max, n;

    if (put->finished || put->status != 0)
        return len; /* failing: the bytes are not wanted */
    if (put->reading || put->stream_ended) {
        put->want_more_pending = 1;
        return 0;
    }
    n = cap - put->win_len < len ? cap - put->win_len : len;
    memcpy(put->win + put->win_len, data, n);
    atomic_fetch_add(&copied_bytes, n);
    put->win_len += n;
    put->win_new += n;
    put->bytes_read += n;
    if (n < len)
        put->want_more_pending = 1;
    start_read(put);
    return n;
}

void fs_put_feed_end(fs_put_t *put)
{
    if (put->finished || put->stream_ended)
        return;
    put->stream_ended = 1;
    start_read(put);
}

int fs_put_start(fs_put_t **out, const fs_ctx_t *ctx, const char *path, fs_progress_cb progress,
                 fs_put_cb done, void *arg)
{
    fs_put_t *put;

    if (out == NULL || ctx == NULL || ctx->exec == NULL || ctx->store == NULL || path == NULL ||
        done == NULL || fs_chunker_params_check(&ctx->chunking) != 0)
        return FS_EINVAL;
    put = put_new(ctx, progress, done, arg);
    if (put == NULL)
        return FS_ENOMEM;
    return put_launch(out, put, strdup(path), name_of(path));
}

size_t fs_put_take_created(fs_put_t *put, uint8_t (**keys)[MF_KEY_LEN])
{
    size_t n = put->created.n;

    *keys = put->created.keys;
    memset(&put->created, 0, sizeof(put->created));
    return n;
}

void fs_put_cancel(fs_put_t *put)
{
    if (put == NULL || put->finished)
        return;
    fail(put, FS_ECANCELED, "canceled", "put");
    /* A commit under way renames nothing more: what it had not put in
     * place yet stays out, and is not taken back later. */
    if (put->committing)
        fs_store_batch_cancel(put->durable);
    maybe_finish(put);
}
