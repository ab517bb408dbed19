/*
 * A batch of blobs made durable together (chunk_store.h): a put writes
 * its blobs to temporaries without a sync, then commits them all at once,
 * so that a gibibyte costs a handful of syncs instead of two per blob.
 *
 * Until the commit no blob of the batch is under its key, so a crash
 * leaves only temporaries (removed when the store is next opened), never
 * a blob whose bytes had not reached the disk. The commit syncs the data
 * first and only then renames: a name under blobs/ always holds whole
 * bytes. Meanwhile the blob is readable: once written, its temporary is
 * renamed to tmp/<hex> and the key marked pending in the store (unless
 * another batch has it pending: then this one keeps its own copy under
 * its mkstemp name), where fs_store_has and fs_store_get find it. A
 * pending name is made, renamed into place and removed under the store's
 * lock, so no batch ever renames or unlinks another's.
 */
#define _GNU_SOURCE /* syncfs */

#include "filestore/chunk_store_int.h"

#include "filestore/fs_error.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One blob of the batch: its key and its temporary's name in blobs/tmp
 * (empty once renamed into place). */
typedef struct batch_blob {
    uint8_t key[MF_KEY_LEN];
    char tmp[FS_STORE_HEX_LEN + 1];
    int pending; /* tmp is tmp/<hex>, and the key pending in the store */
} batch_blob_t;

struct fs_store_batch {
    fs_store_t *st;
    int root_fd; /* blobs/, opened first: syncfs through it reports every
                    write error since (Linux), or -1 */
    pthread_mutex_t lock;
    fs_keyset_t keys;    /* every key put in the batch */
    batch_blob_t *blobs; /* those written, not yet committed */
    size_t n, cap;
    int saw_key;         /* a key was put: the commit syncs names at least */
    atomic_int canceled; /* fs_store_batch_cancel: no more renames */
};

int fs_store_batch_new(fs_store_t *st, fs_store_batch_t **out)
{
    fs_store_batch_t *b;

    if (out == NULL)
        return FS_EINVAL;
    *out = NULL;
    if (st == NULL)
        return FS_EINVAL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return FS_ENOMEM;
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b);
        return FS_ENOMEM;
    }
    b->st = st;
    atomic_init(&b->canceled, 0);
    b->root_fd = open(st->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *out = b;
    return 0;
}

/* The path of a temporary of the batch, from its name. */
static void tmp_path(const fs_store_batch_t *b, const char *name, fs_store_path_t *p)
{
    snprintf(p->s, sizeof(p->s), "%s/" FS_STORE_TMP "/%s", b->st->root, name);
}

/* Takes key into the batch's set. @return 1 if it was new, 0 if it was
 * there already, or FS_ENOMEM. */
static int take_key(fs_store_batch_t *b, const uint8_t key[MF_KEY_LEN])
{
    int r = 1;

    pthread_mutex_lock(&b->lock);
    if (fs_keyset_find(&b->keys, key) != NULL)
        r = 0;
    else if (fs_keyset_add(&b->keys, key) == NULL)
        r = FS_ENOMEM;
    pthread_mutex_unlock(&b->lock);
    return r;
}

static void drop_key(fs_store_batch_t *b, const uint8_t key[MF_KEY_LEN])
{
    pthread_mutex_lock(&b->lock);
    fs_keyset_remove(&b->keys, key);
    pthread_mutex_unlock(&b->lock);
}

/* Adds a written temporary (path tmp) to the batch. @return 0 or
 * FS_ENOMEM. */
static int add_blob(fs_store_batch_t *b, const uint8_t key[MF_KEY_LEN], const char *tmp,
                    int is_pending)
{
    const char *name = strrchr(tmp, '/') + 1;
    int err = 0;

    pthread_mutex_lock(&b->lock);
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        batch_blob_t *nb = realloc(b->blobs, cap * sizeof(*nb));

        if (nb == NULL) {
            err = FS_ENOMEM;
            goto out;
        }
        b->blobs = nb;
        b->cap = cap;
    }
    memcpy(b->blobs[b->n].key, key, MF_KEY_LEN);
    snprintf(b->blobs[b->n].tmp, sizeof(b->blobs[b->n].tmp), "%s", name);
    b->blobs[b->n].pending = is_pending;
    b->n++;
out:
    pthread_mutex_unlock(&b->lock);
    return err;
}

/* Makes the written temporary tmp readable as key's pending blob, unless
 * another batch has key pending: renamed to tmp/<hex>, key marked pending,
 * both under the store's lock. @return 1 if so (tmp now names the pending
 * path), else 0 (tmp stays as it is). */
static int make_pending(fs_store_t *st, const uint8_t key[MF_KEY_LEN], fs_store_path_t *tmp)
{
    fs_store_path_t to;
    int made = 0;

    fs__store_pending_path(st, key, &to);
    pthread_mutex_lock(&st->lock);
    if (fs_keyset_find(&st->pending, key) == NULL && fs_keyset_add(&st->pending, key) != NULL) {
        if (rename(tmp->s, to.s) == 0) {
            *tmp = to;
            made = 1;
        } else {
            fs_keyset_remove(&st->pending, key);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return made;
}

/* Ends key's pending state (the batch's blob at tmp/<hex> was renamed into
 * place, or is to go: then remove is 1 and it is unlinked), under the
 * store's lock. */
static void end_pending(fs_store_t *st, const uint8_t key[MF_KEY_LEN], int remove)
{
    fs_store_path_t p;

    pthread_mutex_lock(&st->lock);
    if (remove) {
        fs__store_pending_path(st, key, &p);
        unlink(p.s);
    }
    fs_keyset_remove(&st->pending, key);
    pthread_mutex_unlock(&st->lock);
}

int fs_store_put_batched(fs_store_batch_t *b, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                         size_t len, int verify, int *created)
{
    fs_store_path_t tmp;
    int err, fresh, is_pending;

    *created = 0;
    if (b == NULL || key == NULL || (data == NULL && len > 0))
        return FS_EINVAL;
    if (verify && (err = fs__store_check_hash(key, data, len)) != 0)
        return err;
    fresh = take_key(b, key);
    if (fresh <= 0)
        return fresh; /* in the batch already (0), or FS_ENOMEM */
    pthread_mutex_lock(&b->lock);
    b->saw_key = 1;
    pthread_mutex_unlock(&b->lock);
    if ((err = fs__store_claim(b->st, key, created)) != 0)
        goto fail_key;
    if (fs__store_has_final(b->st, key, NULL)) {
        /* In place already (perhaps renamed a moment ago by another
         * batch, not yet synced: this one's commit syncs names anyway).
         * Not this batch's to take back. */
        if (*created)
            fs__store_unclaim(b->st, key);
        *created = 0;
        return 0;
    }
    /* Written even when another operation has key provisional: that one
     * may still fail and leave nothing under key. */
    if ((err = fs__store_write_tmp(b->st, data, len, &tmp, 0)) != 0)
        goto fail_claim;
    is_pending = make_pending(b->st, key, &tmp);
    if ((err = add_blob(b, key, tmp.s, is_pending)) != 0) {
        if (is_pending)
            end_pending(b->st, key, 1);
        else
            unlink(tmp.s);
        goto fail_claim;
    }
    return 0;

fail_claim:
    if (*created)
        fs__store_unclaim(b->st, key);
    *created = 0;
fail_key:
    drop_key(b, key);
    return err;
}

/* Syncs the whole file system that holds the store: every blob written
 * so far, and every name. @return 0, or -1 if syncfs is not to be had
 * (then *err is 0, and the caller syncs file by file), or -1 with *err
 * set if it failed. */
static int sync_all(fs_store_batch_t *b, int *err)
{
    *err = 0;
#ifdef __linux__
    if (b->root_fd < 0)
        return -1; /* could not be opened: file by file */
    atomic_fetch_add(&b->st->syncs, 1);
    if (syncfs(b->root_fd) == 0)
        return 0;
    if (errno != ENOSYS)
        *err = fs_from_errno(errno);
    return -1;
#else
    (void)b;
    return -1;
#endif
}

/* Without syncfs: fsyncs each temporary of blobs[0..n). */
static int sync_each_tmp(fs_store_batch_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fs_store_path_t p;
        int fd, err;

        tmp_path(b, b->blobs[i].tmp, &p);
        fd = open(p.s, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fs_from_errno(errno);
        err = fs__store_fsync(b->st, fd);
        close(fd);
        if (err != 0)
            return err;
    }
    return 0;
}

/* Without syncfs: fsyncs blobs/ and each fan-out directory blobs[0..n)
 * went to, once each. */
static int sync_each_dir(fs_store_batch_t *b, size_t n)
{
    uint64_t seen[4] = {0};
    int err = fs__store_sync_dir(b->st, b->st->root);

    for (size_t i = 0; i < n && err == 0; i++) {
        uint8_t first = b->blobs[i].key[0];
        fs_store_path_t dir;

        if (seen[first >> 6] & (UINT64_C(1) << (first & 63)))
            continue;
        seen[first >> 6] |= UINT64_C(1) << (first & 63);
        fs__store_key_paths(b->st, b->blobs[i].key, &dir, NULL);
        err = fs__store_sync_dir(b->st, dir.s);
    }
    return err;
}

/* Renames the temporary of blob into place, making its fan-out directory
 * if needed. @return 0 or an FS_* code. */
static int rename_into_place(fs_store_batch_t *b, batch_blob_t *blob)
{
    fs_store_path_t tmp, dir, path;
    int created, err = 0;

    tmp_path(b, blob->tmp, &tmp);
    fs__store_key_paths(b->st, blob->key, &dir, &path);
    if ((err = fs__store_make_dir(dir.s, &created)) != 0)
        return err;
    if (blob->pending)
        pthread_mutex_lock(&b->st->lock); /* its name is the store's */
    if (rename(tmp.s, path.s) != 0)
        err = fs_from_errno(errno);
    else if (blob->pending)
        fs_keyset_remove(&b->st->pending, blob->key);
    if (blob->pending)
        pthread_mutex_unlock(&b->st->lock);
    if (err == 0)
        blob->tmp[0] = '\0'; /* the name may be another writer's from now on */
    return err;
}

int fs_store_batch_commit(fs_store_batch_t *b)
{
    size_t done = 0;
    int err = 0;

    if (b == NULL)
        return FS_EINVAL;
    /* Held throughout: a put made meanwhile waits (it would move blobs). */
    pthread_mutex_lock(&b->lock);
    if (b->n == 0 && !b->saw_key)
        goto out;
    /* The data first: a name must never point at bytes still in memory. */
    if (b->n > 0 && sync_all(b, &err) != 0 && (err != 0 || (err = sync_each_tmp(b, b->n)) != 0))
        goto out;
    for (; done < b->n; done++) {
        if (atomic_load(&b->canceled)) {
            err = FS_ECANCELED;
            goto out;
        }
        if ((err = rename_into_place(b, &b->blobs[done])) != 0)
            goto out;
    }
    /* The names, the fan-out directories made for them, and the names of
     * blobs this batch found in place (another may have just put them). */
    if (sync_all(b, &err) != 0 && err == 0)
        err = sync_each_dir(b, b->n);
    if (err == 0)
        b->saw_key = 0;
out:
    /* Renamed blobs leave the list. */
    if (done > 0) {
        memmove(b->blobs, b->blobs + done, (b->n - done) * sizeof(*b->blobs));
        b->n -= done;
    }
    pthread_mutex_unlock(&b->lock);
    return err;
}

void fs_store_batch_cancel(fs_store_batch_t *b)
{
    if (b != NULL)
        atomic_store(&b->canceled, 1);
}

void fs_store_batch_free(fs_store_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        fs_store_path_t p;

        if (b->blobs[i].tmp[0] == '\0')
            continue;
        if (b->blobs[i].pending) {
            end_pending(b->st, b->blobs[i].key, 1);
            continue;
        }
        tmp_path(b, b->blobs[i].tmp, &p);
        unlink(p.s);
    }
    if (b->root_fd >= 0)
        close(b->root_fd);
    free(b->blobs);
    fs_keyset_clear(&b->keys);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
