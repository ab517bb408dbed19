/*
 * fs_put_tree: a directory tree into the local store and the DHT. See
 * filestore.h.
 *
 * Depth first: a directory is listed on a worker (readdir and lstat, never
 * following a link), then its entries are handled in turn: a regular file
 * is put with fs_put (one at a time; each file's chunks go in parallel), a
 * symbolic link becomes a link entry with its target, a sub-directory is
 * done the same way first. Once all its entries are done, a directory's
 * manifest (manifests/dir_manifest.h) is encoded, stored locally (pinned),
 * and becomes an entry of its parent; its nodes go in the DHT in batches
 * with other directories' (dht_put_many), the tree done once all are. The root's key is
 * the tree's key. FIFOs, sockets and devices are skipped (and counted),
 * and so are the temporary files of unfinished gets (get_files.h).
 *
 * Every blob the tree added to the local store is remembered (the files'
 * through fs_put_take_created), so a tree that fails or is canceled
 * removes them all: the store is as it was.
 */
#include "filestore/ctx.h"
#include "filestore/filestore.h"
#include "filestore/keyset.h"
#include "filestore/get_files.h"
#include "filestore/place.h"
#include "manifests/dir_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_DEPTH_MAX 64 /* directories below the root, at most */

/* One name of a directory, as the worker found it. */
typedef struct item {
    char *name;
    mode_t mode; /* from lstat */
    uint64_t size;
    char *target; /* a link's */
} item_t;

/* A directory being stored. */
typedef struct tdir {
    struct tdir *parent;
    char *path, *name;
    uint16_t mode;
    item_t *items;
    size_t n_items, next;
    mf_dir_t d; /* the entries done so far */
    size_t cap_entries;
    unsigned depth;
} tdir_t;

struct fs_put_tree {
    fs_ctx_t ctx;
    fs_progress_cb progress;
    fs_put_tree_cb done;
    void *arg;

    tdir_t *cur;
    fs_put_t *file_put; /* the file being put */
    uint64_t file_size;
    fs_job_t work; /* listing cur on a worker */
    int working, list_err;
    char list_what[160];

    mf_blob_t *blobs; /* cur's manifest nodes, just made */
    size_t n_blobs;
    /* Manifest nodes of finished directories waiting to go in the DHT,
     * FS_BLOBS_PER_BATCH at a time (their small ones share datagrams),
     * one batch in flight at most; the walk waits while a full batch
     * waits (waiting_dht). */
    mf_blob_t *outbox;
    size_t n_out, cap_out;
    int dht_in_flight, network, waiting_dht;

    fs_keylist_t created; /* blobs the tree made, its files' too, to settle */

    uint64_t bytes_total, bytes_done, files, skipped;
    uint64_t skipped_temp; /* emofs's own files of unfinished gets (.emofs-*) */
    uint8_t key[MF_KEY_LEN];
    mf_dir_t result; /* the root's totals and name, for done */

    fs_job_t start_job, free_job; /* as in put.c: each submitted once, in order */
    int status, canceled, finished;
    char message[4400];
};

static void step(fs_put_tree_t *t);

/* Records the first failure and its one-line message. */
static void fail(fs_put_tree_t *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(fs_put_tree_t *t, int status, const char *fmt, ...)
{
    va_list ap;

    if (t->status != 0)
        return;
    t->status = status;
    va_start(ap, fmt);
    vsnprintf(t->message, sizeof(t->message), fmt, ap);
    va_end(ap);
}

static void free_items(tdir_t *d)
{
    for (size_t i = 0; i < d->n_items; i++) {
        free(d->items[i].name);
        free(d->items[i].target);
    }
    free(d->items);
    d->items = NULL;
    d->n_items = 0;
}

static void free_tdir(tdir_t *d)
{
    free_items(d);
    mf_dir_clear(&d->d);
    free(d->path);
    free(d->name);
    free(d);
}

static int note_created(fs_put_tree_t *t, const uint8_t key[MF_KEY_LEN])
{
    return fs_keylist_add(&t->created, key) == 0 ? 0 : FS_ENOMEM;
}

/* ---- the end -------------------------------------------------------------- */

static void free_tree(fs_job_t *job)
{
    fs_put_tree_t *t = job->data;

    fs_keylist_clear(&t->created);
    mf_dir_clear(&t->result);
    free(t);
}

/* Reports once nothing is in flight; a failed tree removes what it added. */
static void maybe_finish(fs_put_tree_t *t)
{
    if (t->finished || t->working || t->file_put != NULL || t->dht_in_flight)
        return;
    if (t->status == 0 && (t->cur != NULL || t->n_out > 0))
        return;
    t->finished = 1;
    /* Every blob the tree made, its files' too: kept, or taken back. */
    for (size_t i = 0; i < t->created.n; i++)
        fs_store_settle(t->ctx.store, t->created.keys[i], t->status == 0);
    while (t->cur != NULL) {
        tdir_t *up = t->cur->parent;
        free_tdir(t->cur);
        t->cur = up;
    }
    mf_blobs_free(t->blobs, t->n_blobs);
    t->blobs = NULL;
    mf_blobs_free(t->outbox, t->n_out);
    t->outbox = NULL;
    t->n_out = 0;
    if (t->status == 0)
        t->done(0, t->key, &t->result, t->message, t->arg);
    else
        t->done(t->status, NULL, NULL, t->message, t->arg);
    /* Freed once done's caller has returned (as in put.c). */
    (void)fs_exec_defer(t->ctx.exec, &t->free_job, free_tree);
}

static void report(fs_put_tree_t *t, const fs_progress_t *file)
{
    fs_progress_t p = {0};

    if (t->progress == NULL)
        return;
    if (file != NULL)
        p = *file;
    p.bytes_done = t->bytes_done + (file ? file->bytes_done : 0);
    p.bytes_total = t->bytes_total;
    t->progress(&p, t->arg);
}

/* ---- listing a directory on a worker --------------------------------------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const item_t *)a)->name, ((const item_t *)b)->name);
}

/* Reads one entry's kind, size and link target. @return 0 or an errno. */
static int read_item(const char *dir, item_t *it)
{
    struct stat st;
    char *path = fs_path_join(dir, it->name);
    int e = 0;

    if (path == NULL)
        return ENOMEM;
    if (lstat(path, &st) != 0) {
        e = errno;
    } else {
        it->mode = st.st_mode;
        it->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        if (S_ISLNK(st.st_mode)) {
            char buf[MF_LINK_MAX + 2];
            ssize_t n = readlink(path, buf, sizeof(buf));
            if (n < 0)
                e = errno;
            else if (n == 0 || n > MF_LINK_MAX)
                e = ENAMETOOLONG;
            else if ((it->target = strndup(buf, (size_t)n)) == NULL)
                e = ENOMEM;
        }
    }
    free(path);
    return e;
}

static void list_dir(fs_job_t *w)
{
    fs_put_tree_t *t = w->data;
    tdir_t *d = t->cur;
    DIR *dh = opendir(d->path);
    struct dirent *de;
    size_t cap = 0;

    t->list_err = 0;
    if (dh == NULL) {
        t->list_err = errno;
        snprintf(t->list_what, sizeof(t->list_what), "%s", "");
        return;
    }
    while (t->list_err == 0 && (errno = 0, de = readdir(dh)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (d->n_items == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            void *p = realloc(d->items, ncap * sizeof(*d->items));
            if (p == NULL) {
                t->list_err = ENOMEM;
                break;
            }
            d->items = p;
            cap = ncap;
        }
        item_t *it = &d->items[d->n_items];
        memset(it, 0, sizeof(*it));
        if ((it->name = strdup(de->d_name)) == NULL) {
            t->list_err = ENOMEM;
            break;
        }
        d->n_items++;
        t->list_err = read_item(d->path, it);
        if (t->list_err != 0)
            snprintf(t->list_what, sizeof(t->list_what), "%s", it->name);
    }
    if (t->list_err == 0 && errno != 0)
        t->list_err = errno;
    closedir(dh);
    if (t->list_err == 0 && d->n_items > 1)
        qsort(d->items, d->n_items, sizeof(*d->items), by_name);
}

static void after_list(fs_job_t *w)
{
    fs_put_tree_t *t = w->data;

    t->working = 0;
    if (t->canceled) {
        fail(t, FS_ECANCELED, "canceled");
    } else if (t->list_err != 0) {
        char where[4200];
        snprintf(where, sizeof(where), "%s%s%s", t->cur->path, t->list_what[0] ? "/" : "",
                 t->list_what);
        fail(t, fs_from_errno(t->list_err), "cannot read %s: %s", where, strerror(t->list_err));
    } else if (t->cur->n_items > MF_DIR_ENTRIES_MAX) {
        fail(t, FS_ETOOBIG, "cannot store %s: %s", t->cur->path,
             "more entries than a directory manifest holds");
    }
    if (t->status != 0) {
        maybe_finish(t);
        return;
    }
    step(t);
}

/* Starts storing the directory at path (name: its entry's name). */
static void enter_dir(fs_put_tree_t *t, char *path, char *name, uint16_t mode)
{
    tdir_t *d = calloc(1, sizeof(*d));

    if (d == NULL || path == NULL || name == NULL) {
        free(d);
        free(path);
        free(name);
        fail(t, FS_ENOMEM, "cannot store %s: %s", "a directory", fs_strerror(FS_ENOMEM));
        maybe_finish(t);
        return;
    }
    d->path = path;
    d->name = name;
    d->mode = mode;
    d->parent = t->cur;
    d->depth = t->cur ? t->cur->depth + 1 : 0;
    t->cur = d;
    if (d->depth > TREE_DEPTH_MAX) {
        fail(t, FS_ETOOBIG, "cannot store %s: %s", path, "directories nested too deep");
        maybe_finish(t);
        return;
    }
    t->working = 1;
    t->work.data = t;
    if (fs_exec_queue(t->ctx.exec, &t->work, list_dir, after_list) != 0) {
        t->working = 0;
        fail(t, FS_ENOMEM, "cannot read %s: %s", path, fs_strerror(FS_ENOMEM));
        maybe_finish(t);
    }
}

/* ---- entries ------------------------------------------------------------- */

/* @return a new entry at the end of d's listing (zeroed), or NULL. */
static mf_dirent_t *add_entry(tdir_t *d, const char *name, uint8_t kind, mode_t mode)
{
    mf_dirent_t *e;

    if (d->d.n_entries == d->cap_entries) {
        size_t cap = d->cap_entries ? d->cap_entries * 2 : 16;
        void *p = realloc(d->d.entries, cap * sizeof(*d->d.entries));
        if (p == NULL)
            return NULL;
        d->d.entries = p;
        d->cap_entries = cap;
    }
    e = &d->d.entries[d->d.n_entries];
    memset(e, 0, sizeof(*e));
    if ((e->name = strdup(name)) == NULL)
        return NULL;
    e->kind = kind;
    e->mode = (uint16_t)(mode & MF_MODE_MAX);
    d->d.n_entries++;
    return e;
}

static void on_file_progress(const fs_progress_t *p, void *arg)
{
    report(arg, p);
}

static void on_file_put(int status, const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m,
                        const char *message, void *arg)
{
    fs_put_tree_t *t = arg;
    item_t *it = &t->cur->items[t->cur->next - 1];
    uint8_t(*keys)[MF_KEY_LEN] = NULL;
    size_t n = 0;

    if (status == 0)
        n = fs_put_take_created(t->file_put, &keys);
    t->file_put = NULL;
    for (size_t i = 0; i < n; i++) {
        if (note_created(t, keys[i]) != 0) {
            fs_store_settle(t->ctx.store, keys[i], 0);
            status = FS_ENOMEM;
        }
    }
    free(keys);
    if (status != 0) {
        fail(t, status, "%s", message);
    } else {
        mf_dirent_t *e = add_entry(t->cur, it->name, MF_KIND_FILE, it->mode);
        if (e == NULL) {
            fail(t, FS_ENOMEM, "cannot store %s: %s", it->name, fs_strerror(FS_ENOMEM));
        } else {
            memcpy(e->key, key, MF_KEY_LEN);
            e->bytes = m->size;
            t->bytes_done += m->size;
            t->files++;
            report(t, NULL);
        }
    }
    if (t->status != 0 || t->canceled) {
        fail(t, FS_ECANCELED, "canceled");
        maybe_finish(t);
        return;
    }
    step(t);
}

/* ---- a finished directory: its manifest, stored ----------------------------- */

static void dir_stored(fs_put_tree_t *t);

static void on_blob_stored(int status, unsigned stored, void *arg);

/* Sends the outbox's first nodes as one batch, unless one is in flight:
 * a full batch, or, once the walk is over, what is left. */
static void send_outbox(fs_put_tree_t *t)
{
    size_t n;
    int err;

    if (t->dht_in_flight > 0 || t->n_out == 0 || t->status != 0 || t->canceled)
        return;
    n = fs_blobs_batch_len(&t->ctx, t->outbox, t->n_out);
    if (n == t->n_out && n < FS_BLOBS_PER_BATCH && t->cur != NULL)
        return; /* not a full batch yet, and more to come */
    err = fs_dht_put_blobs(&t->ctx, t->outbox, n, on_blob_stored, t);
    if (err) {
        fail(t, fs_from_dht(err), "cannot store the directories' manifests in the network: %s",
             fs_strerror(fs_from_dht(err)));
        return;
    }
    t->dht_in_flight += (int)n;
    for (size_t i = 0; i < n; i++) /* the DHT has its copies */
        free(t->outbox[i].data);
    t->n_out -= n;
    memmove(t->outbox, t->outbox + n, t->n_out * sizeof(t->outbox[0]));
}

static void on_blob_stored(int status, unsigned stored, void *arg)
{
    fs_put_tree_t *t = arg;

    (void)stored;
    t->dht_in_flight--;
    if (status != 0)
        fail(t, fs_from_dht(status), "cannot store the directories' manifests in the network: %s",
             fs_strerror(fs_from_dht(status)));
    if (t->dht_in_flight > 0)
        return;
    if (t->status != 0 || t->canceled) {
        fail(t, FS_ECANCELED, "canceled");
        maybe_finish(t);
        return;
    }
    send_outbox(t);
    if (t->waiting_dht && t->n_out < FS_BLOBS_PER_BATCH) {
        t->waiting_dht = 0;
        dir_stored(t);
        return;
    }
    maybe_finish(t);
}

/* Moves cur's manifest nodes (t->blobs: their bytes, the keys stay) to
 * the outbox. @return 0 or FS_ENOMEM. */
static int to_outbox(fs_put_tree_t *t)
{
    if (t->n_out + t->n_blobs > t->cap_out) {
        size_t cap = t->cap_out ? t->cap_out : FS_BLOBS_PER_BATCH;
        void *p;
        while (cap < t->n_out + t->n_blobs)
            cap *= 2;
        p = realloc(t->outbox, cap * sizeof(*t->outbox));
        if (p == NULL)
            return FS_ENOMEM;
        t->outbox = p;
        t->cap_out = cap;
    }
    for (size_t i = 0; i < t->n_blobs; i++) {
        t->outbox[t->n_out++] = t->blobs[i];
        t->blobs[i].data = NULL;
    }
    return 0;
}

/* The directory's manifest is stored: it becomes its parent's entry. */
static void dir_stored(fs_put_tree_t *t)
{
    tdir_t *d = t->cur, *up = d->parent;
    const mf_blob_t *root = &t->blobs[t->n_blobs - 1];

    if (up == NULL) {
        memcpy(t->key, root->key, MF_KEY_LEN);
        t->result.name = d->name;
        d->name = NULL;
        t->result.bytes = d->d.bytes;
        t->result.files = d->d.files;
        t->result.total = d->d.total;
        if (t->skipped > 0 && t->skipped_temp > 0)
            snprintf(t->message, sizeof(t->message),
                     "skipped %llu special files (FIFOs, sockets, devices) and %llu temporary "
                     "files of unfinished gets (.emofs-*)",
                     (unsigned long long)t->skipped, (unsigned long long)t->skipped_temp);
        else if (t->skipped > 0)
            snprintf(t->message, sizeof(t->message),
                     "skipped %llu special files (FIFOs, sockets, devices)",
                     (unsigned long long)t->skipped);
        else if (t->skipped_temp > 0)
            snprintf(t->message, sizeof(t->message),
                     "skipped %llu temporary files of unfinished gets (.emofs-*)",
                     (unsigned long long)t->skipped_temp);
    } else {
        mf_dirent_t *e = add_entry(up, d->name, MF_KIND_DIR, d->mode);
        if (e == NULL) {
            fail(t, FS_ENOMEM, "cannot store %s: %s", d->path, fs_strerror(FS_ENOMEM));
        } else {
            memcpy(e->key, root->key, MF_KEY_LEN);
            e->bytes = d->d.bytes;
            e->files = d->d.files;
            e->total = d->d.total;
        }
    }
    mf_blobs_free(t->blobs, t->n_blobs);
    t->blobs = NULL;
    t->n_blobs = 0;
    t->cur = up;
    free_tdir(d);
    if (up == NULL || t->status != 0) {
        send_outbox(t); /* the walk is over: what is left goes */
        maybe_finish(t);
        return;
    }
    step(t);
}

static void finish_dir(fs_put_tree_t *t)
{
    tdir_t *d = t->cur;
    int err;

    d->d.name = strdup(d->name);
    if (d->d.name == NULL) {
        fail(t, FS_ENOMEM, "cannot store %s: %s", d->path, fs_strerror(FS_ENOMEM));
        maybe_finish(t);
        return;
    }
    mf_dir_sort(&d->d);
    err = mf_dir_sum(&d->d);
    if (err == 0)
        err = mf_dir_encode(&d->d, t->ctx.max_node_bytes, &t->blobs, &t->n_blobs);
    if (err) {
        fail(t, err == MF_ENOMEM ? FS_ENOMEM : FS_EINVAL, "cannot store %s: %s", d->path,
             err == MF_ENOMEM ? fs_strerror(FS_ENOMEM) : "its listing does not fit a manifest");
        maybe_finish(t);
        return;
    }
    for (size_t i = 0; i < t->n_blobs && t->status == 0; i++) {
        int created;
        err = fs_store_put_new(t->ctx.store, t->blobs[i].key, t->blobs[i].data, t->blobs[i].len, 0,
                               &created);
        if (err == 0 && created && (err = note_created(t, t->blobs[i].key)) != 0)
            fs_store_settle(t->ctx.store, t->blobs[i].key, 0);
        if (err)
            fail(t, err, "cannot store locally the manifest of %s: %s", d->path, fs_strerror(err));
    }
    if (t->status == 0 && t->network && to_outbox(t) != 0)
        fail(t, FS_ENOMEM, "cannot store %s: %s", d->path, fs_strerror(FS_ENOMEM));
    if (t->status != 0) {
        maybe_finish(t);
        return;
    }
    send_outbox(t);
    if (t->status != 0) {
        maybe_finish(t);
        return;
    }
    if (t->n_out >= FS_BLOBS_PER_BATCH) { /* a batch in flight, a full one waiting */
        t->waiting_dht = 1;
        return;
    }
    dir_stored(t);
}

/* ---- walking ---------------------------------------------------------------- */

/* Handles cur's entries in turn, until one needs to wait. */
static void step(fs_put_tree_t *t)
{
    while (t->status == 0 && !t->canceled) {
        tdir_t *d = t->cur;
        item_t *it;
        char *path;
        int err;

        if (d->next == d->n_items) {
            finish_dir(t);
            return;
        }
        it = &d->items[d->next++];
        if (!mf_name_valid(it->name)) {
            fail(t, FS_EINVAL,
                 "cannot store %s/%s: a name a manifest cannot hold (control "
                 "characters)",
                 d->path, it->name);
            break;
        }
        if (fs_name_reserved(it->name)) {
            /* A get's .part, .journal or .dir: not the user's file, and a
             * name no manifest may hold (get_files.h). */
            t->skipped_temp++;
            continue;
        }
        if (S_ISLNK(it->mode)) {
            mf_dirent_t *e = add_entry(d, it->name, MF_KIND_LINK, 0777);
            if (e == NULL || (e->target = strdup(it->target)) == NULL)
                fail(t, FS_ENOMEM, "cannot store %s: %s", it->name, fs_strerror(FS_ENOMEM));
            continue;
        }
        if (!S_ISREG(it->mode) && !S_ISDIR(it->mode)) {
            t->skipped++;
            continue;
        }
        path = fs_path_join(d->path, it->name);
        if (S_ISDIR(it->mode)) {
            enter_dir(t, path, strdup(it->name), (uint16_t)(it->mode & MF_MODE_MAX));
            return;
        }
        err = path ? fs_put_start(&t->file_put, &t->ctx, path, on_file_progress, on_file_put, t)
                   : FS_ENOMEM;
        if (err)
            fail(t, err, "cannot store %s: %s", path ? path : it->name, fs_strerror(err));
        free(path);
        if (err == 0)
            return;
    }
    maybe_finish(t);
}

/* ---- start and cancel ------------------------------------------------------- */

/* Adds up the sizes of the regular files below path, for progress. */
static uint64_t tree_bytes(const char *path, unsigned depth)
{
    DIR *dh = depth <= TREE_DEPTH_MAX ? opendir(path) : NULL;
    struct dirent *de;
    uint64_t sum = 0;

    if (dh == NULL)
        return 0;
    while ((de = readdir(dh)) != NULL) {
        struct stat st;
        char *p;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fs_name_reserved(de->d_name)) /* skipped by step() too */
            continue;
        p = fs_path_join(path, de->d_name);
        if (p != NULL && lstat(p, &st) == 0)
            sum += S_ISREG(st.st_mode)   ? (uint64_t)st.st_size
                   : S_ISDIR(st.st_mode) ? tree_bytes(p, depth + 1)
                                         : 0;
        free(p);
    }
    closedir(dh);
    return sum;
}

static void measure(fs_job_t *w)
{
    fs_put_tree_t *t = w->data;

    t->bytes_total = tree_bytes(t->cur->path, 0);
}

static void after_measure(fs_job_t *w)
{
    fs_put_tree_t *t = w->data;
    tdir_t *root = t->cur;

    t->working = 0;
    t->cur = NULL; /* enter_dir pushes it again */
    report(t, NULL);
    if (t->canceled) {
        fail(t, FS_ECANCELED, "canceled");
        free_tdir(root);
        maybe_finish(t);
        return;
    }
    enter_dir(t, root->path, root->name, root->mode);
    root->path = root->name = NULL;
    free_tdir(root);
}

/* The root's name in its manifest: its last component, or "dir". */
static char *root_name(const char *path)
{
    size_t len = strlen(path);
    const char *base;
    char *name;

    while (len > 1 && path[len - 1] == '/')
        len--;
    base = path + len;
    while (base > path && base[-1] != '/')
        base--;
    name = strndup(base, (size_t)(path + len - base));
    if (name != NULL && !mf_name_valid(name)) {
        free(name);
        name = strdup("dir");
    }
    return name;
}

static void on_start(fs_job_t *job)
{
    fs_put_tree_t *t = job->data;

    if (t->finished) /* canceled before it started: done was called */
        return;
    if (t->ctx.need_peers && !t->network)
        fail(t, FS_ENOPEERS, "cannot store %s: %s", t->cur->path, fs_strerror(FS_ENOPEERS));
    if (t->status != 0 || t->canceled) {
        fail(t, FS_ECANCELED, "canceled");
        free_tdir(t->cur);
        t->cur = NULL;
        maybe_finish(t);
        return;
    }
    t->working = 1;
    t->work.data = t;
    if (fs_exec_queue(t->ctx.exec, &t->work, measure, after_measure) != 0) {
        t->working = 0;
        after_measure(&t->work);
    }
}

int fs_put_tree_start(fs_put_tree_t **out, const fs_ctx_t *ctx, const char *path,
                      fs_progress_cb progress, fs_put_tree_cb done, void *arg)
{
    fs_put_tree_t *t;
    struct stat st;

    /* ctx->seal: a directory's manifest is not sealed yet (schema/manifest.md
     * 9.2), and sealed files in a plain listing could not be read. */
    if (out == NULL || ctx == NULL || ctx->exec == NULL || ctx->store == NULL || path == NULL ||
        done == NULL || ctx->seal)
        return FS_EINVAL;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return FS_EINVAL;
    t = calloc(1, sizeof(*t));
    if (t == NULL || (t->cur = calloc(1, sizeof(*t->cur))) == NULL ||
        (t->cur->path = strdup(path)) == NULL || (t->cur->name = root_name(path)) == NULL) {
        if (t != NULL && t->cur != NULL)
            free_tdir(t->cur);
        free(t);
        return FS_ENOMEM;
    }
    t->cur->mode = (uint16_t)(st.st_mode & MF_MODE_MAX);
    t->ctx = *ctx;
    t->progress = progress;
    t->done = done;
    t->arg = arg;
    t->network = ctx->dht != NULL && fs_peer_count(ctx) > 0;
    t->start_job.data = t;
    t->free_job.data = t;
    if (fs_exec_defer(ctx->exec, &t->start_job, on_start) != 0) {
        free_tdir(t->cur);
        free(t);
        return FS_ENOMEM;
    }
    *out = t;
    return 0;
}

void fs_put_tree_cancel(fs_put_tree_t *t)
{
    if (t == NULL || t->finished || t->canceled)
        return;
    t->canceled = 1;
    fail(t, FS_ECANCELED, "canceled");
    if (t->file_put != NULL)
        fs_put_cancel(t->file_put);
    maybe_finish(t);
}
