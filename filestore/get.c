/*
 * fs_get: a file from the local store and the DHT. See filestore.h.
 *
 * Files next to the final path FINAL, in its directory:
 *   .emofs-HEX16.part     the file being written, at its final size
 *   .emofs-HEX16.journal  "EMOJ" 1 0 0 0, the file key, then one u32 LE
 *                         chunk index per chunk written and verified
 * (HEX16: the first 16 hex digits of the file key). A get that finds both
 * for its key resumes: the chunks the journal lists are not fetched again.
 */
#include "filestore/codec_pool.h"
#include "filestore/fetch.h"
#include "filestore/filestore.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#define JOURNAL_MAGIC  "EMOJ\x01\0\0\0"
#define JOURNAL_HEADER (8 + MF_KEY_LEN)
#define HASH_BLOCK     (1u << 20)

typedef struct get_chunk {
    uv_work_t work;
    struct fs_get *get;
    uint32_t index;
    uint8_t *enc;
    size_t enc_len;
    int status;
} get_chunk_t;

struct fs_get {
    fs_ctx_t ctx;
    uint8_t key[MF_KEY_LEN];
    char *out_path, *dir;
    fs_progress_cb progress;
    fs_get_cb done;
    void *arg;

    mf_manifest_t m;
    char *final_path, *part_path, *journal_path;
    int fd, journal_fd;
    uint64_t *offsets;
    uint8_t *state; /* per chunk: 0 missing, 1 fetching, 2 written */
    unsigned *tries;
    uint32_t next, chunks_done, in_flight, writing;
    uint32_t resumed; /* chunks an earlier get had written */
    uint64_t bytes_done;
    fs_codec_pool_t codecs;
    int have_codecs;

    uv_work_t verify_work;
    int verifying, verify_status;
    uv_timer_t defer;
    int canceled, finished;
    int status;
    char message[300];
    uint64_t last_progress;
};

static void pump(fs_get_t *get);

static void fail(fs_get_t *get, int status, const char *action, const char *object)
{
    if (get->status != 0)
        return;
    get->status = status;
    snprintf(get->message, sizeof(get->message), "%s %s: %s", action, object, fs_strerror(status));
}

static void report(fs_get_t *get, int force)
{
    fs_progress_t p;
    uint64_t now = uv_now(get->ctx.loop);

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

static void on_closed(uv_handle_t *h)
{
    fs_get_t *get = h->data;

    if (get->have_codecs)
        fs_codec_pool_destroy(&get->codecs);
    mf_manifest_clear(&get->m);
    free(get->offsets);
    free(get->state);
    free(get->tries);
    free(get->final_path);
    free(get->part_path);
    free(get->journal_path);
    free(get->out_path);
    free(get->dir);
    free(get);
}

static void finish(fs_get_t *get)
{
    if (get->finished || get->in_flight || get->writing || get->verifying)
        return;
    get->finished = 1;
    if (get->fd >= 0)
        close(get->fd);
    if (get->journal_fd >= 0)
        close(get->journal_fd);
    if (get->status == 0)
        get->done(0, get->final_path, get->m.size, get->message, get->arg);
    else
        get->done(get->status, NULL, 0, get->message, get->arg);
    uv_close((uv_handle_t *)&get->defer, on_closed);
}

/* ---- the end: whole-file check, then rename ------------------------------ */

static void verify_file(uv_work_t *w)
{
    fs_get_t *get = w->data;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    uint8_t *buf = malloc(HASH_BLOCK);
    uint64_t off = 0;

    get->verify_status = FS_ENOMEM;
    if (sha == NULL || buf == NULL || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))
        goto out;
    get->verify_status = fdatasync(get->fd) == 0 ? 0 : fs_from_errno(errno);
    while (get->verify_status == 0 && off < get->m.size) {
        ssize_t n = pread(get->fd, buf, HASH_BLOCK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            get->verify_status = n < 0 ? fs_from_errno(errno) : FS_EIO;
            break;
        }
        EVP_DigestUpdate(sha, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (get->verify_status == 0) {
        EVP_DigestFinal_ex(sha, md, &md_len);
        if (memcmp(md, get->m.sha256, MF_KEY_LEN) != 0)
            get->verify_status = FS_EBADHASH;
    }
    if (get->verify_status == 0 && rename(get->part_path, get->final_path) != 0)
        get->verify_status = fs_from_errno(errno);
    if (get->verify_status == 0) {
        int dfd = open(get->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        unlink(get->journal_path);
    } else if (get->verify_status == FS_EBADHASH) {
        /* Every chunk matched its key, yet the whole does not match: the
         * manifest lies. Nothing here is worth resuming. */
        unlink(get->part_path);
        unlink(get->journal_path);
    }
out:
    free(buf);
    EVP_MD_CTX_free(sha);
}

static void after_verify(uv_work_t *w, int status)
{
    fs_get_t *get = w->data;

    get->verifying = 0;
    if (status != 0)
        get->verify_status = FS_ECANCELED;
    if (get->verify_status == FS_EBADHASH)
        fail(get, FS_EBADHASH, "file does not match its manifest:", get->m.name);
    else if (get->verify_status != 0)
        fail(get, get->verify_status, "cannot write", get->final_path);
    else
        report(get, 1);
    finish(get);
}

static void start_verify(fs_get_t *get)
{
    get->verifying = 1;
    get->verify_work.data = get;
    if (uv_queue_work(get->ctx.loop, &get->verify_work, verify_file, after_verify) != 0) {
        get->verifying = 0;
        fail(get, FS_ENOMEM, "cannot check", get->final_path);
        finish(get);
    }
}

/* ---- chunks: fetch, then decode and write on a worker -------------------- */

static void write_chunk(uv_work_t *w)
{
    get_chunk_t *c = w->data;
    fs_get_t *get = c->get;
    size_t plain_len = get->m.entries[c->index].size;
    uint8_t *plain = malloc(plain_len);
    fs_codec_t *codec = fs_codec_pool_take(&get->codecs);
    size_t off = 0;

    c->status = FS_ENOMEM;
    if (plain != NULL && codec != NULL)
        c->status = fs_codec_decode(codec, c->enc, c->enc_len, plain, plain_len);
    fs_codec_pool_give(&get->codecs, codec);
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

static void after_write(uv_work_t *w, int status)
{
    get_chunk_t *c = w->data;
    fs_get_t *get = c->get;
    uint8_t rec[4];
    char what[48];

    get->writing--;
    if (status != 0)
        c->status = FS_ECANCELED;
    snprintf(what, sizeof(what), "chunk %u of", (unsigned)c->index);
    if (c->status == FS_ECORRUPT && get->tries[c->index] < get->ctx.max_tries) {
        get->state[c->index] = 0; /* a bad holder: fetch it again */
        if (c->index < get->next)
            get->next = c->index;
    } else if (c->status != 0) {
        fail(get, c->status, "cannot write", get->final_path);
    } else {
        rec[0] = (uint8_t)c->index;
        rec[1] = (uint8_t)(c->index >> 8);
        rec[2] = (uint8_t)(c->index >> 16);
        rec[3] = (uint8_t)(c->index >> 24);
        if (write(get->journal_fd, rec, 4) != 4)
            fail(get, fs_from_errno(errno), "cannot write", get->journal_path);
        get->state[c->index] = 2;
        get->chunks_done++;
        if (get->ctx.crash_after_chunks &&
            get->chunks_done - get->resumed >= get->ctx.crash_after_chunks)
            _exit(137);
        get->bytes_done += get->m.entries[c->index].size;
        report(get, 0);
    }
    free(c->enc);
    free(c);
    pump(get);
}

static void on_chunk(int status, const uint8_t *data, size_t len, void *arg)
{
    get_chunk_t *c = arg;
    fs_get_t *get = c->get;
    char what[64];

    get->in_flight--;
    if (status == 0 && get->status == 0) {
        c->enc = malloc(len ? len : 1);
        if (c->enc != NULL) {
            memcpy(c->enc, data, len);
            c->enc_len = len;
            c->work.data = c;
            get->writing++;
            if (uv_queue_work(get->ctx.loop, &c->work, write_chunk, after_write) == 0)
                return;
            get->writing--;
        }
        status = FS_ENOMEM;
    }
    if (status != 0 && get->status == 0) {
        snprintf(what, sizeof(what), "chunk %u of %s", (unsigned)c->index, get->m.name);
        fail(get, status, "cannot fetch", what);
        if (status == FS_ENOENT)
            snprintf(get->message, sizeof(get->message),
                     "cannot fetch chunk %u of %s: no node of the network has it",
                     (unsigned)c->index, get->m.name);
    }
    free(c);
    pump(get);
}

static void pump(fs_get_t *get)
{
    while (get->status == 0 && !get->canceled && get->in_flight < get->ctx.max_in_flight &&
           get->next < get->m.n_entries) {
        uint32_t i = get->next++;
        get_chunk_t *c;

        if (get->state[i] != 0)
            continue;
        c = calloc(1, sizeof(*c));
        if (c == NULL ||
            fs_fetch_blob(&get->ctx, get->m.entries[i].key, &get->canceled, on_chunk, c) != 0) {
            free(c);
            fail(get, FS_ENOMEM, "cannot fetch", get->m.name);
            break;
        }
        c->get = get;
        c->index = i;
        get->state[i] = 1;
        get->tries[i]++;
        get->in_flight++;
    }
    if (get->canceled && get->status == 0)
        fail(get, FS_ECANCELED, "canceled:", "get");
    if (get->status != 0) {
        finish(get);
        return;
    }
    report(get, 0);
    if (get->chunks_done == get->m.n_entries && !get->verifying && get->in_flight == 0 &&
        get->writing == 0)
        start_verify(get);
}

/* ---- setting up: paths, temporary file, journal -------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p != NULL) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static int set_paths(fs_get_t *get)
{
    char hex[65], name[64];
    const char *slash;

    if (get->out_path != NULL && get->out_path[0] != '\0') {
        get->final_path = strdup(get->out_path);
        slash = strrchr(get->out_path, '/');
        free(get->dir);
        get->dir = slash == NULL ? strdup(".")
                   : slash == get->out_path
                       ? strdup("/")
                       : strndup(get->out_path, (size_t)(slash - get->out_path));
    } else {
        get->final_path = path_join(get->dir, get->m.name);
    }
    if (get->final_path == NULL || get->dir == NULL)
        return FS_ENOMEM;
    mf_key_to_hex(get->key, hex);
    snprintf(name, sizeof(name), ".emofs-%.16s.part", hex);
    get->part_path = path_join(get->dir, name);
    snprintf(name, sizeof(name), ".emofs-%.16s.journal", hex);
    get->journal_path = path_join(get->dir, name);
    return get->part_path && get->journal_path ? 0 : FS_ENOMEM;
}

/* Reads the journal of an earlier get of this key, marking its chunks
 * written. @return 1 if it resumes, 0 if it starts afresh. */
static int read_journal(fs_get_t *get)
{
    uint8_t head[JOURNAL_HEADER], rec[4];
    int fd = open(get->journal_path, O_RDONLY | O_CLOEXEC);
    int ok = 0;

    if (fd < 0)
        return 0;
    if (read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
        memcmp(head, JOURNAL_MAGIC, 8) == 0 && memcmp(head + 8, get->key, MF_KEY_LEN) == 0) {
        ok = 1;
        while (read(fd, rec, 4) == 4) {
            uint32_t i =
                rec[0] | (uint32_t)rec[1] << 8 | (uint32_t)rec[2] << 16 | (uint32_t)rec[3] << 24;
            if (i >= get->m.n_entries) {
                ok = 0;
                break;
            }
            if (get->state[i] != 2) {
                get->state[i] = 2;
                get->chunks_done++;
                get->bytes_done += get->m.entries[i].size;
            }
        }
    }
    close(fd);
    if (!ok) {
        memset(get->state, 0, get->m.n_entries);
        get->chunks_done = 0;
        get->bytes_done = 0;
    }
    return ok;
}

/* Opens (or reopens, to resume) the temporary file and the journal. On
 * failure nothing of a fresh start is left behind. */
static int open_files(fs_get_t *get)
{
    int resume = read_journal(get);
    int err = 0;

    get->fd = open(get->part_path, O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
    if (get->fd < 0)
        return fs_from_errno(errno);
    if (resume) {
        struct stat st;
        if (fstat(get->fd, &st) != 0 || (uint64_t)st.st_size != get->m.size) {
            memset(get->state, 0, get->m.n_entries);
            get->chunks_done = 0;
            get->bytes_done = 0;
            resume = 0;
        }
    }
    if (ftruncate(get->fd, (off_t)get->m.size) != 0)
        err = fs_from_errno(errno);
    /* Reserve the space now: a full disk is reported before any fetch. */
    if (err == 0 && get->m.size > 0) {
        int e = posix_fallocate(get->fd, 0, (off_t)get->m.size);
        if (e == ENOSPC || e == EDQUOT || e == EFBIG)
            err = fs_from_errno(e);
    }
    if (err == 0) {
        get->journal_fd =
            open(get->journal_path,
                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
        if (get->journal_fd < 0)
            err = fs_from_errno(errno);
    }
    if (err == 0 && !resume &&
        (write(get->journal_fd, JOURNAL_MAGIC, 8) != 8 ||
         write(get->journal_fd, get->key, MF_KEY_LEN) != MF_KEY_LEN))
        err = fs_from_errno(errno);
    if (err != 0 && !resume) {
        unlink(get->part_path);
        unlink(get->journal_path);
    }
    return err;
}

static void on_manifest(int status, const mf_manifest_t *m, const mf_blob_t *blobs, size_t n,
                        const char *message, void *arg)
{
    fs_get_t *get = arg;
    uint64_t off = 0;
    int err;

    (void)blobs;
    (void)n;
    get->in_flight--;
    if (status != 0) {
        get->status = status;
        snprintf(get->message, sizeof(get->message), "%s", message);
        finish(get);
        return;
    }
    /* Take a copy: m lives only during this call. */
    get->m = *m;
    get->m.name = strdup(m->name);
    get->m.entries = malloc((m->n_entries ? m->n_entries : 1) * sizeof(*m->entries));
    get->offsets = malloc((m->n_entries ? m->n_entries : 1) * sizeof(*get->offsets));
    get->state = calloc(m->n_entries ? m->n_entries : 1, 1);
    get->tries = calloc(m->n_entries ? m->n_entries : 1, sizeof(*get->tries));
    if (get->m.name == NULL || get->m.entries == NULL || get->offsets == NULL ||
        get->state == NULL || get->tries == NULL) {
        fail(get, FS_ENOMEM, "cannot get", "the file");
        finish(get);
        return;
    }
    memcpy(get->m.entries, m->entries, m->n_entries * sizeof(*m->entries));
    for (size_t i = 0; i < m->n_entries; i++) {
        get->offsets[i] = off;
        off += m->entries[i].size;
    }
    err = set_paths(get);
    if (err == 0)
        err = open_files(get);
    if (err) {
        /* Errors here are about the output: a missing directory is not a
         * missing key. */
        fail(get, err == FS_ENOENT ? FS_EINVAL : err, "cannot write",
             get->final_path ? get->final_path : get->m.name);
        if (err == FS_ENOENT)
            snprintf(get->message, sizeof(get->message), "cannot write %s: no such directory",
                     get->final_path);
        finish(get);
        return;
    }
    get->resumed = get->chunks_done;
    if (get->resumed > 0)
        snprintf(get->message, sizeof(get->message), "resumed: %u of %zu chunks were already here",
                 (unsigned)get->resumed, get->m.n_entries);
    report(get, 1);
    pump(get);
}

static void on_start(uv_timer_t *t)
{
    fs_get_t *get = t->data;

    if (get->canceled) {
        fail(get, FS_ECANCELED, "canceled:", "get");
        finish(get);
        return;
    }
    get->in_flight++;
    if (fs_manifest_fetch(&get->ctx, get->key, on_manifest, get) != 0) {
        get->in_flight--;
        fail(get, FS_ENOMEM, "cannot fetch", "the manifest");
        finish(get);
    }
}

int fs_get_start(fs_get_t **out, const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                 const char *out_path, const char *dir, fs_progress_cb progress, fs_get_cb done,
                 void *arg)
{
    fs_get_t *get;

    if (out == NULL || ctx == NULL || ctx->loop == NULL || key == NULL || done == NULL)
        return FS_EINVAL;
    get = calloc(1, sizeof(*get));
    if (get == NULL)
        return FS_ENOMEM;
    get->ctx = *ctx;
    memcpy(get->key, key, MF_KEY_LEN);
    get->fd = -1;
    get->journal_fd = -1;
    get->progress = progress;
    get->done = done;
    get->arg = arg;
    get->out_path = out_path ? strdup(out_path) : NULL;
    get->dir = strdup(dir && dir[0] ? dir : ".");
    if ((out_path && get->out_path == NULL) || get->dir == NULL ||
        fs_codec_pool_init(&get->codecs, ctx->level) != 0) {
        free(get->out_path);
        free(get->dir);
        free(get);
        return FS_ENOMEM;
    }
    get->have_codecs = 1;
    uv_timer_init(ctx->loop, &get->defer);
    get->defer.data = get;
    uv_timer_start(&get->defer, on_start, 0, 0);
    *out = get;
    return 0;
}

void fs_get_cancel(fs_get_t *get)
{
    if (get == NULL || get->finished)
        return;
    get->canceled = 1;
    if (get->status == 0)
        fail(get, FS_ECANCELED, "canceled:", "get");
    finish(get);
}
