/*
 * The local chunk store: one file per blob under DIR/blobs. See
 * chunk_store.h for the layout and the durability it promises.
 *
 * Threads need no lock: every operation works on paths, and the only
 * state in memory is an atomic bitmap of the fan-out directories known to
 * be durable. Concurrent puts of one key each write their own temporary
 * (mkstemp) and rename it into place; rename is atomic and the contents
 * are identical, so the last one wins harmlessly.
 */
#include "filestore/chunk_store_int.h"

#include "filestore/fs_error.h"
#include "filestore/place.h" /* fs_sync_dir */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEX_LEN  FS_STORE_HEX_LEN
#define TMP_NAME FS_STORE_TMP
#define SHARED   FS_STORE_SHARED

typedef fs_store_path_t path_t;

static int sha256(const uint8_t *data, size_t len, uint8_t md[MF_KEY_LEN])
{
    return mf_sha256(data, len, md) == 0 ? 0 : FS_ENOMEM;
}

int fs__store_check_hash(const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len)
{
    uint8_t md[MF_KEY_LEN];
    int err = sha256(data, len, md);

    if (err != 0)
        return err;
    return memcmp(md, key, MF_KEY_LEN) == 0 ? 0 : FS_EBADHASH;
}

int fs__store_fsync(fs_store_t *st, int fd)
{
    atomic_fetch_add(&st->syncs, 1);
    return fsync(fd) == 0 ? 0 : fs_from_errno(errno);
}

int fs__store_sync_dir(fs_store_t *st, const char *path)
{
    atomic_fetch_add(&st->syncs, 1);
    return fs_sync_dir(path);
}

uint64_t fs_store_syncs(const fs_store_t *st)
{
    return st == NULL ? 0 : atomic_load(&st->syncs);
}

void fs__store_key_paths(const fs_store_t *st, const uint8_t key[MF_KEY_LEN], path_t *dir,
                         path_t *blob)
{
    char hex[HEX_LEN + 1];

    mf_key_to_hex(key, hex);
    snprintf(dir->s, sizeof(dir->s), "%s/%.2s", st->root, hex);
    if (blob != NULL)
        snprintf(blob->s, sizeof(blob->s), "%s/%.2s/%s", st->root, hex, hex);
}

int fs__store_make_dir(const char *path, int *created)
{
    struct stat sb;

    *created = 0;
    if (mkdir(path, 0700) == 0) {
        *created = 1;
        return 0;
    }
    if (errno != EEXIST)
        return fs_from_errno(errno);
    if (stat(path, &sb) != 0)
        return fs_from_errno(errno);
    return S_ISDIR(sb.st_mode) ? 0 : FS_EIO;
}

/* Removes every entry of DIR/blobs/tmp: writes a crash interrupted. */
static int clean_tmp(const fs_store_t *st)
{
    path_t tmp;
    struct dirent *de;
    DIR *d;
    int err = 0;

    snprintf(tmp.s, sizeof(tmp.s), "%s/" TMP_NAME, st->root);
    d = opendir(tmp.s);
    if (d == NULL)
        return fs_from_errno(errno);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT)
            err = fs_from_errno(errno);
    }
    closedir(d);
    return err;
}

int fs_store_open(fs_store_t **out, const char *dir)
{
    fs_store_t *st;
    size_t root_len;
    path_t p;
    int created, err;

    if (out == NULL)
        return FS_EINVAL;
    *out = NULL;
    /* Room for the longest path: root + "/xx/" + hex. */
    if (dir == NULL || dir[0] == '\0' || strlen(dir) + 16 + HEX_LEN >= sizeof(p.s))
        return FS_EINVAL;
    st = calloc(1, sizeof(*st));
    if (st != NULL && pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        st = NULL;
    }
    if (st == NULL)
        return FS_ENOMEM;
    root_len = strlen(dir) + strlen("/blobs");
    st->root = malloc(root_len + 1);
    if (st->root == NULL) {
        err = FS_ENOMEM;
        goto fail;
    }
    snprintf(st->root, root_len + 1, "%s/blobs", dir);
    snprintf(p.s, sizeof(p.s), "%s/" TMP_NAME, st->root);
    if ((err = fs__store_make_dir(dir, &created)) != 0 ||
        (err = fs__store_make_dir(st->root, &created)) != 0 ||
        (err = fs__store_make_dir(p.s, &created)) != 0 || (err = clean_tmp(st)) != 0)
        goto fail;
    *out = st;
    return 0;

fail:
    fs_store_close(st);
    return err;
}

void fs_store_close(fs_store_t *st)
{
    if (st == NULL)
        return;
    pthread_mutex_destroy(&st->lock);
    fs_keyset_clear(&st->provisional);
    fs_keyset_clear(&st->pending);
    free(st->root);
    free(st);
}

/* Writes all of data to fd, retrying short writes and EINTR. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fs_from_errno(errno);
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs__store_write_tmp(fs_store_t *st, const uint8_t *data, size_t len, path_t *tmp, int sync)
{
    int fd, err;

    snprintf(tmp->s, sizeof(tmp->s), "%s/" TMP_NAME "/blob-XXXXXX", st->root);
    fd = mkstemp(tmp->s);
    if (fd < 0)
        return fs_from_errno(errno);
    err = write_all(fd, data, len);
    if (err == 0 && sync)
        err = fs__store_fsync(st, fd);
    if (close(fd) != 0 && err == 0)
        err = fs_from_errno(errno);
    if (err != 0)
        unlink(tmp->s);
    return err;
}

/* The common start of fs_store_put and its crash test: checks the key
 * and whether the blob is there already (*done = 1), else writes the
 * temporary. */
static int put_start(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len,
                     int verify, path_t *tmp, int *done)
{
    int err;

    *done = 0;
    if (st == NULL || key == NULL || (data == NULL && len > 0))
        return FS_EINVAL;
    if (verify && (err = fs__store_check_hash(key, data, len)) != 0)
        return err;
    if (fs__store_has_final(st, key, NULL)) {
        *done = 1;
        return 0;
    }
    return fs__store_write_tmp(st, data, len, tmp, 1);
}

/* Makes sure the fan-out directory dir (for keys starting with byte b)
 * exists and is durable. The first put into it in this process creates it
 * if needed and fsyncs blobs/; a thread that finds it made by another one
 * fsyncs too, rather than trust an entry that may not be on disk yet. */
static int fanout_ready(fs_store_t *st, uint8_t b, const char *dir)
{
    uint64_t bit = UINT64_C(1) << (b & 63);
    int created, err;

    if (atomic_load(&st->durable[b >> 6]) & bit)
        return 0;
    if ((err = fs__store_make_dir(dir, &created)) != 0 ||
        (err = fs__store_sync_dir(st, st->root)) != 0)
        return err;
    atomic_fetch_or(&st->durable[b >> 6], bit);
    return 0;
}

static int store_blob(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                      size_t len, int verify);

/* Notes that key was stored by one more operation: if another made it
 * and has not settled yet, that one must not take it back. */
static void note_shared(fs_store_t *st, const uint8_t key[MF_KEY_LEN])
{
    uint8_t *flags;

    pthread_mutex_lock(&st->lock);
    flags = fs_keyset_find(&st->provisional, key);
    if (flags != NULL)
        *flags |= SHARED;
    pthread_mutex_unlock(&st->lock);
}

int fs_store_put(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len,
                 int verify)
{
    int err;

    note_shared(st, key);
    err = store_blob(st, key, data, len, verify);
    /* Again: an operation may have claimed key while this one stored it
     * (it found no blob, then ours appeared); it must not take ours back. */
    if (err == 0)
        note_shared(st, key);
    return err;
}

int fs__store_claim(fs_store_t *st, const uint8_t key[MF_KEY_LEN], int *created)
{
    uint8_t *flags;
    int err = 0;

    *created = 0;
    pthread_mutex_lock(&st->lock);
    flags = fs_keyset_find(&st->provisional, key);
    if (flags != NULL) {
        *flags |= SHARED; /* another operation is making it */
    } else if (!fs__store_has_final(st, key, NULL)) {
        if (fs_keyset_add(&st->provisional, key) == NULL)
            err = FS_ENOMEM;
        else
            *created = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return err;
}

void fs__store_unclaim(fs_store_t *st, const uint8_t key[MF_KEY_LEN])
{
    pthread_mutex_lock(&st->lock);
    fs_keyset_remove(&st->provisional, key);
    pthread_mutex_unlock(&st->lock);
}

int fs_store_put_new(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len,
                     int verify, int *created)
{
    int err = fs__store_claim(st, key, created);

    if (err != 0)
        return err;
    err = store_blob(st, key, data, len, verify);
    if (err != 0 && *created) {
        fs__store_unclaim(st, key);
        *created = 0;
    }
    return err;
}

void fs_store_settle(fs_store_t *st, const uint8_t key[MF_KEY_LEN], int keep)
{
    uint8_t *flags;
    int shared;

    pthread_mutex_lock(&st->lock);
    flags = fs_keyset_find(&st->provisional, key);
    shared = flags != NULL && (*flags & SHARED);
    if (flags != NULL)
        fs_keyset_remove(&st->provisional, key);
    /* Removed under the lock: nobody can find it provisional, or claim it,
     * between the decision and the unlink. */
    if (flags != NULL && !keep && !shared)
        fs_store_remove(st, key);
    pthread_mutex_unlock(&st->lock);
}

/* Stores data under key (see fs_store_put), without the bookkeeping. */
static int store_blob(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                      size_t len, int verify)
{
    path_t tmp, dir, blob;
    int done, err;

    err = put_start(st, key, data, len, verify, &tmp, &done);
    if (err != 0 || done)
        return err;
    fs__store_key_paths(st, key, &dir, &blob);
    for (int attempt = 0;; attempt++) {
        if ((err = fanout_ready(st, key[0], dir.s)) != 0)
            goto fail_tmp;
        if (rename(tmp.s, blob.s) == 0)
            break;
        err = fs_from_errno(errno);
        if (errno != ENOENT || attempt > 0)
            goto fail_tmp;
        /* The fan-out directory was removed behind our back: forget it
         * was there and make it again. */
        atomic_fetch_and(&st->durable[key[0] >> 6], ~(UINT64_C(1) << (key[0] & 63)));
    }
    if ((err = fs__store_sync_dir(st, dir.s)) != 0) {
        /* Not durable: take the blob back out, as the contract promises
         * nothing under key on failure. */
        unlink(blob.s);
        return err;
    }
    return 0;

fail_tmp:
    unlink(tmp.s);
    return err;
}

int fs_store_put_crash_before_rename(fs_store_t *st, const uint8_t key[MF_KEY_LEN],
                                     const uint8_t *data, size_t len)
{
    path_t tmp;
    int done;

    return put_start(st, key, data, len, 0, &tmp, &done);
}

/* Reads the whole regular file at path into a malloc()ed buffer. */
static int read_file(const char *path, uint8_t **data, size_t *len)
{
    struct stat sb;
    uint8_t *buf = NULL;
    size_t got = 0;
    int fd, err = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fs_from_errno(errno);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err = FS_EIO;
        goto out;
    }
    /* malloc(0) may return NULL: always ask for at least one byte. */
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        err = FS_ENOMEM;
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? fs_from_errno(errno) : FS_EIO; /* shrank under us */
            goto out;
        }
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return err;
}

int fs__store_has_final(fs_store_t *st, const uint8_t key[MF_KEY_LEN], size_t *len)
{
    path_t dir, blob;
    struct stat sb;

    fs__store_key_paths(st, key, &dir, &blob);
    if (stat(blob.s, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    if (len != NULL)
        *len = (size_t)sb.st_size;
    return 1;
}

void fs__store_pending_path(const fs_store_t *st, const uint8_t key[MF_KEY_LEN], path_t *p)
{
    char hex[HEX_LEN + 1];

    mf_key_to_hex(key, hex);
    snprintf(p->s, sizeof(p->s), "%s/" TMP_NAME "/%s", st->root, hex);
}

/* @return 1 if a batch holds key's blob in its temporary (readable). */
static int pending(fs_store_t *st, const uint8_t key[MF_KEY_LEN])
{
    int found;

    pthread_mutex_lock(&st->lock);
    found = fs_keyset_find(&st->pending, key) != NULL;
    pthread_mutex_unlock(&st->lock);
    return found;
}

int fs_store_get(fs_store_t *st, const uint8_t key[MF_KEY_LEN], uint8_t **data, size_t *len)
{
    path_t dir, blob, tmp;
    uint8_t *buf = NULL;
    size_t n = 0;
    int err, from_tmp = 0;

    if (st == NULL || key == NULL || data == NULL || len == NULL)
        return FS_EINVAL;
    fs__store_key_paths(st, key, &dir, &blob);
    err = read_file(blob.s, &buf, &n);
    if (err == FS_ENOENT && pending(st, key)) {
        /* A batch's, not committed yet; if it just was, it is in place. */
        fs__store_pending_path(st, key, &tmp);
        from_tmp = 1;
        if ((err = read_file(tmp.s, &buf, &n)) == FS_ENOENT) {
            from_tmp = 0;
            err = read_file(blob.s, &buf, &n);
        }
    }
    if (err != 0)
        return err;
    if ((err = fs__store_check_hash(key, buf, n)) != 0) {
        free(buf);
        if (err == FS_EBADHASH && !from_tmp)
            unlink(blob.s); /* damaged; a batch's temporary is left to it */
        return err;
    }
    *data = buf;
    *len = n;
    return 0;
}

int fs_store_has(fs_store_t *st, const uint8_t key[MF_KEY_LEN], size_t *len)
{
    path_t tmp;
    struct stat sb;

    if (st == NULL || key == NULL)
        return 0;
    if (fs__store_has_final(st, key, len))
        return 1;
    if (!pending(st, key))
        return 0;
    fs__store_pending_path(st, key, &tmp);
    if (stat(tmp.s, &sb) != 0)
        return fs__store_has_final(st, key, len); /* committed meanwhile */
    if (len != NULL)
        *len = (size_t)sb.st_size;
    return 1;
}

int fs_store_remove(fs_store_t *st, const uint8_t key[MF_KEY_LEN])
{
    path_t dir, blob;

    if (st == NULL || key == NULL)
        return FS_EINVAL;
    fs__store_key_paths(st, key, &dir, &blob);
    /* The directory is not fsynced: a blob that comes back after a crash
     * is still valid content, so removal need not be durable. */
    if (unlink(blob.s) != 0)
        return fs_from_errno(errno);
    return 0;
}

int fs_store_drop(fs_store_t *st, const uint8_t key[MF_KEY_LEN])
{
    int err;

    if (st == NULL || key == NULL)
        return FS_EINVAL;
    /* Decided and done under the lock, as fs_store_settle does: a put
     * cannot make the blob provisional between the check and the unlink. */
    pthread_mutex_lock(&st->lock);
    err = fs_keyset_find(&st->provisional, key) != NULL ? FS_EBUSY : fs_store_remove(st, key);
    pthread_mutex_unlock(&st->lock);
    return err;
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

/* Calls fn for each blob in one fan-out directory (named by its two hex
 * digits, open as d); skips anything that is not a blob of that prefix.
 * @return fn's nonzero result, or 0. */
static int foreach_dir(DIR *d, const char *prefix,
                       int (*fn)(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg),
                       void *arg)
{
    struct dirent *de;
    struct stat sb;
    uint8_t key[MF_KEY_LEN];

    while ((de = readdir(d)) != NULL) {
        int r;
        if (!is_hex(de->d_name, HEX_LEN) || memcmp(de->d_name, prefix, 2) != 0)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue; /* removed meanwhile, or not ours */
        if (mf_key_from_hex(key, de->d_name) != 0)
            continue;
        if ((r = fn(key, (uint64_t)sb.st_size, arg)) != 0)
            return r;
    }
    return 0;
}

int fs_store_foreach(fs_store_t *st,
                     int (*fn)(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg), void *arg)
{
    struct dirent *de;
    DIR *root, *d;
    int fd, r = 0;

    if (st == NULL || fn == NULL)
        return FS_EINVAL;
    root = opendir(st->root);
    if (root == NULL)
        return FS_EIO;
    while (r == 0 && (de = readdir(root)) != NULL) {
        if (!is_hex(de->d_name, 2))
            continue;
        fd = openat(dirfd(root), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            continue;
        d = fdopendir(fd);
        if (d == NULL) {
            close(fd);
            continue;
        }
        r = foreach_dir(d, de->d_name, fn, arg);
        closedir(d);
    }
    closedir(root);
    return r;
}

typedef struct usage {
    uint64_t blobs, bytes;
} usage_t;

static int add_usage(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg)
{
    usage_t *u = arg;

    (void)key;
    u->blobs++;
    u->bytes += size;
    return 0;
}

int fs_store_usage(fs_store_t *st, uint64_t *blobs, uint64_t *bytes)
{
    usage_t u = {0, 0};
    int err;

    if (st == NULL || blobs == NULL || bytes == NULL)
        return FS_EINVAL;
    err = fs_store_foreach(st, add_usage, &u);
    *blobs = u.blobs;
    *bytes = u.bytes;
    return err;
}
