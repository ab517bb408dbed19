/* Tests of the local chunk store (filestore/chunk_store.c). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h> /* nftw, to remove the test directory */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h> /* alarm */

#include <openssl/evp.h> /* SHA-256 */

#include "filestore/chunk_store.h"
#include "filestore/fs_error.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct fixture {
    char dir[64];
    fs_store_t *st;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/emofs-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(fs_store_open(&f->st, f->dir), 0);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    fs_store_close(f->st);
    chmod(f->dir, 0700);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void sha256(const uint8_t *data, size_t len, uint8_t key[MF_KEY_LEN])
{
    assert_true(EVP_Digest(data, len, key, NULL, EVP_sha256(), NULL));
}

/* A blob of len pseudo-random bytes from seed, and its key. */
static uint8_t *make_blob(size_t len, uint32_t seed, uint8_t key[MF_KEY_LEN])
{
    uint8_t *b = malloc(len ? len : 1);
    uint32_t x = seed * 2654435761u + 1;

    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (uint8_t)(x >> 24);
    }
    sha256(b, len, key);
    return b;
}

static void blob_path(const fixture_t *f, const uint8_t key[MF_KEY_LEN], char *path, size_t cap)
{
    char hex[2 * MF_KEY_LEN + 1];

    for (size_t i = 0; i < MF_KEY_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(path, cap, "%s/blobs/%.2s/%s", f->dir, hex, hex);
}

/* @return the number of entries in DIR/blobs/tmp. */
static int count_tmp(const fixture_t *f)
{
    char path[128];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/blobs/tmp", f->dir);
    d = opendir(path);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void check_get(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                      size_t len)
{
    uint8_t *got = NULL;
    size_t n = 0;

    assert_int_equal(fs_store_get(st, key, &got, &n), 0);
    assert_non_null(got);
    assert_int_equal(n, len);
    if (len > 0)
        assert_memory_equal(got, data, len);
    free(got);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_put_get_has_remove_usage(void **state)
{
    fixture_t *f = *state;
    const size_t sizes[] = {0, 1, 100, 4096, 300000};
    uint8_t keys[5][MF_KEY_LEN], *blobs[5];
    uint64_t n = 1, bytes = 1, total = 0;
    char path[256];
    struct stat sb;
    size_t len = 0;

    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bytes, 0);
    for (int i = 0; i < 5; i++) {
        blobs[i] = make_blob(sizes[i], (uint32_t)i, keys[i]);
        assert_int_equal(fs_store_has(f->st, keys[i], NULL), 0);
        assert_int_equal(fs_store_put(f->st, keys[i], blobs[i], sizes[i], 1), 0);
        assert_int_equal(fs_store_has(f->st, keys[i], &len), 1);
        assert_int_equal(len, sizes[i]);
        check_get(f->st, keys[i], blobs[i], sizes[i]);
        /* The layout the header promises. */
        blob_path(f, keys[i], path, sizeof(path));
        assert_int_equal(stat(path, &sb), 0);
        assert_true(S_ISREG(sb.st_mode));
        assert_int_equal((size_t)sb.st_size, sizes[i]);
        *strrchr(path, '/') = '\0';
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0700);
        total += sizes[i];
    }
    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, 5);
    assert_int_equal(bytes, total);
    assert_int_equal(count_tmp(f), 0);

    assert_int_equal(fs_store_remove(f->st, keys[4]), 0);
    assert_int_equal(fs_store_has(f->st, keys[4], NULL), 0);
    assert_int_equal(fs_store_remove(f->st, keys[4]), FS_ENOENT);
    uint8_t *got = NULL;
    assert_int_equal(fs_store_get(f->st, keys[4], &got, &len), FS_ENOENT);
    assert_null(got);
    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, 4);
    assert_int_equal(bytes, total - sizes[4]);
    for (int i = 0; i < 4; i++)
        check_get(f->st, keys[i], blobs[i], sizes[i]);
    for (int i = 0; i < 5; i++)
        free(blobs[i]);
}

static void test_put_existing_is_noop(void **state)
{
    fixture_t *f = *state;
    uint8_t key[MF_KEY_LEN], other[MF_KEY_LEN];
    uint8_t *b = make_blob(5000, 7, key), *o = make_blob(5000, 8, other);
    struct stat before, after;
    char path[256];

    assert_int_equal(fs_store_put(f->st, key, b, 5000, 0), 0);
    blob_path(f, key, path, sizeof(path));
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(fs_store_put(f->st, key, b, 5000, 1), 0);
    /* Even other bytes claimed under that key do not replace it. */
    assert_int_equal(fs_store_put(f->st, key, o, 5000, 0), 0);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    check_get(f->st, key, b, 5000);
    assert_int_equal(count_tmp(f), 0);
    free(b);
    free(o);
}

/* A blob made by an operation that has not settled: dropped, it goes;
 * kept, it stays; stored meanwhile by anyone else, a drop keeps it. */
static void test_put_new_settle(void **state)
{
    fixture_t *f = *state;
    uint8_t a[MF_KEY_LEN], b[MF_KEY_LEN], c[MF_KEY_LEN];
    uint8_t *da = make_blob(3000, 11, a), *db = make_blob(3000, 12, b),
            *dc = make_blob(3000, 13, c);
    int created;

    /* made, then taken back: gone */
    assert_int_equal(fs_store_put_new(f->st, a, da, 3000, 1, &created), 0);
    assert_int_equal(created, 1);
    assert_true(fs_store_has(f->st, a, NULL));
    fs_store_settle(f->st, a, 0);
    assert_false(fs_store_has(f->st, a, NULL));

    /* made, then kept: stays; a later drop of it is not ours to make */
    assert_int_equal(fs_store_put_new(f->st, a, da, 3000, 0, &created), 0);
    assert_int_equal(created, 1);
    fs_store_settle(f->st, a, 1);
    fs_store_settle(f->st, a, 0);
    assert_true(fs_store_has(f->st, a, NULL));
    /* already there: not made, so not owned */
    assert_int_equal(fs_store_put_new(f->st, a, da, 3000, 0, &created), 0);
    assert_int_equal(created, 0);

    /* made by one, stored by another operation meanwhile: a drop keeps it */
    assert_int_equal(fs_store_put_new(f->st, b, db, 3000, 0, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(fs_store_put(f->st, b, db, 3000, 0), 0);
    fs_store_settle(f->st, b, 0);
    assert_true(fs_store_has(f->st, b, NULL));

    /* made by one, made again by another (not created, shared): kept */
    assert_int_equal(fs_store_put_new(f->st, c, dc, 3000, 0, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(fs_store_put_new(f->st, c, dc, 3000, 0, &created), 0);
    assert_int_equal(created, 0);
    fs_store_settle(f->st, c, 0);
    check_get(f->st, c, dc, 3000);

    /* a failed put_new owns nothing */
    assert_int_equal(fs_store_put_new(f->st, c, db, 3000, 1, &created), FS_EBADHASH);
    assert_int_equal(created, 0);
    free(da);
    free(db);
    free(dc);
}

static void test_verify_catches_wrong_key(void **state)
{
    fixture_t *f = *state;
    uint8_t key[MF_KEY_LEN], other[MF_KEY_LEN];
    uint8_t *b = make_blob(1000, 9, key), *o = make_blob(1000, 10, other);
    uint8_t *got = NULL;
    uint64_t n, bytes;
    size_t len;

    assert_int_equal(fs_store_put(f->st, other, b, 1000, 1), FS_EBADHASH);
    assert_int_equal(fs_store_has(f->st, other, NULL), 0);
    assert_int_equal(count_tmp(f), 0);
    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, 0);
    /* Unverified, the lie is stored, and the read catches it. */
    assert_int_equal(fs_store_put(f->st, other, b, 1000, 0), 0);
    assert_int_equal(fs_store_get(f->st, other, &got, &len), FS_EBADHASH);
    assert_null(got);
    assert_int_equal(fs_store_has(f->st, other, NULL), 0);
    free(b);
    free(o);
}

static void test_damaged_blob_removed(void **state)
{
    fixture_t *f = *state;
    uint8_t key[MF_KEY_LEN], key2[MF_KEY_LEN];
    uint8_t *b = make_blob(20000, 11, key), *b2 = make_blob(3000, 12, key2);
    uint8_t *got = NULL;
    char path[256];
    size_t len;
    FILE *fp;

    assert_int_equal(fs_store_put(f->st, key, b, 20000, 1), 0);
    assert_int_equal(fs_store_put(f->st, key2, b2, 3000, 1), 0);
    /* One flipped bit in the middle. */
    blob_path(f, key, path, sizeof(path));
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 10000, SEEK_SET), 0);
    assert_int_equal(fputc(b[10000] ^ 1, fp), b[10000] ^ 1);
    fclose(fp);
    assert_int_equal(fs_store_has(f->st, key, NULL), 1);
    assert_int_equal(fs_store_get(f->st, key, &got, &len), FS_EBADHASH);
    assert_null(got);
    assert_int_equal(fs_store_has(f->st, key, NULL), 0);
    assert_int_equal(fs_store_get(f->st, key, &got, &len), FS_ENOENT);
    /* Truncated. */
    blob_path(f, key2, path, sizeof(path));
    assert_int_equal(truncate(path, 2999), 0);
    assert_int_equal(fs_store_get(f->st, key2, &got, &len), FS_EBADHASH);
    assert_int_equal(fs_store_has(f->st, key2, NULL), 0);
    /* A good copy can be put again. */
    assert_int_equal(fs_store_put(f->st, key, b, 20000, 1), 0);
    check_get(f->st, key, b, 20000);
    free(b);
    free(b2);
}

static void test_crash_before_rename(void **state)
{
    fixture_t *f = *state;
    uint8_t key[MF_KEY_LEN], *got = NULL;
    uint8_t *b = make_blob(70000, 13, key);
    uint64_t n, bytes;
    size_t len;

    assert_int_equal(fs_store_put_crash_before_rename(f->st, key, b, 70000), 0);
    assert_int_equal(fs_store_has(f->st, key, NULL), 0);
    assert_int_equal(fs_store_get(f->st, key, &got, &len), FS_ENOENT);
    assert_int_equal(count_tmp(f), 1);
    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bytes, 0);
    /* The restart after the crash. */
    fs_store_close(f->st);
    f->st = NULL;
    assert_int_equal(fs_store_open(&f->st, f->dir), 0);
    assert_int_equal(count_tmp(f), 0);
    assert_int_equal(fs_store_has(f->st, key, NULL), 0);
    assert_int_equal(fs_store_put(f->st, key, b, 70000, 1), 0);
    check_get(f->st, key, b, 70000);
    free(b);
}

/* A batch: its blobs are readable at once but go under their keys only
 * once committed, all made durable with a handful of syncs where one at a
 * time costs at least one each; a blob already stored or already in the
 * batch is not written again. */
static void test_batch_commit(void **state)
{
    enum { N = 40 };
    fixture_t *f = *state;
    uint8_t keys[N][MF_KEY_LEN], *data[N];
    fs_store_batch_t *b;
    uint64_t syncs;
    int created;

    for (int i = 0; i < N; i++)
        data[i] = make_blob(1000 + 100 * (size_t)i, 100 + (uint32_t)i, keys[i]);
    /* One at a time, for the reference: each blob synced. */
    syncs = fs_store_syncs(f->st);
    assert_int_equal(fs_store_put(f->st, keys[0], data[0], 1000, 1), 0);
    assert_true(fs_store_syncs(f->st) - syncs >= 1);

    assert_int_equal(fs_store_batch_new(f->st, &b), 0);
    syncs = fs_store_syncs(f->st);
    for (int i = 0; i < N; i++) {
        assert_int_equal(
            fs_store_put_batched(b, keys[i], data[i], 1000 + 100 * (size_t)i, 1, &created), 0);
        assert_int_equal(created, i != 0); /* blob 0 was stored already */
    }
    /* Again: in the batch already, not written twice. */
    assert_int_equal(fs_store_put_batched(b, keys[5], data[5], 1500, 0, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(count_tmp(f), N - 1);
    for (int i = 1; i < N; i++) {
        char path[256];
        struct stat sb;
        size_t len = 0;

        blob_path(f, keys[i], path, sizeof(path));
        assert_int_not_equal(stat(path, &sb), 0);        /* not in place */
        assert_true(fs_store_has(f->st, keys[i], &len)); /* but served */
        assert_int_equal(len, 1000 + 100 * (size_t)i);
        check_get(f->st, keys[i], data[i], len);
    }
    /* A wrong key is refused and leaves nothing. */
    assert_int_equal(fs_store_put_batched(b, keys[1], data[2], 1200, 1, &created), FS_EBADHASH);
    assert_int_equal(created, 0);
    assert_int_equal(fs_store_syncs(f->st), syncs); /* nothing synced yet */

    assert_int_equal(fs_store_batch_commit(b), 0);
    assert_int_equal(count_tmp(f), 0);
    assert_true(fs_store_syncs(f->st) - syncs <= 4);
    for (int i = 0; i < N; i++) {
        check_get(f->st, keys[i], data[i], 1000 + 100 * (size_t)i);
        if (i != 0)
            fs_store_settle(f->st, keys[i], 1);
    }
    /* A second commit with nothing new syncs nothing. */
    syncs = fs_store_syncs(f->st);
    assert_int_equal(fs_store_batch_commit(b), 0);
    assert_int_equal(fs_store_syncs(f->st), syncs);
    fs_store_batch_free(b);
    for (int i = 0; i < N; i++)
        free(data[i]);
}

/* A batch never committed (a put that fails, is canceled, or crashes)
 * leaves nothing under its keys: freed, its temporaries go; crashed, the
 * store's next open removes them. Its provisional blobs settle to
 * nothing. */
static void test_batch_abandoned(void **state)
{
    fixture_t *f = *state;
    uint8_t a[MF_KEY_LEN], c[MF_KEY_LEN];
    uint8_t *da = make_blob(5000, 21, a), *dc = make_blob(7000, 22, c);
    fs_store_batch_t *b;
    fs_store_t *after_crash;
    int created;

    assert_int_equal(fs_store_batch_new(f->st, &b), 0);
    assert_int_equal(fs_store_put_batched(b, a, da, 5000, 0, &created), 0);
    assert_int_equal(created, 1);
    fs_store_settle(f->st, a, 0);
    fs_store_batch_free(b);
    assert_int_equal(count_tmp(f), 0);
    assert_false(fs_store_has(f->st, a, NULL));

    /* The crash: the process is gone before the commit; the next open
     * (here a second handle on the same directory) cleans up. */
    assert_int_equal(fs_store_batch_new(f->st, &b), 0);
    assert_int_equal(fs_store_put_batched(b, c, dc, 7000, 0, &created), 0);
    assert_int_equal(count_tmp(f), 1);
    assert_int_equal(fs_store_open(&after_crash, f->dir), 0);
    assert_int_equal(count_tmp(f), 0);
    assert_false(fs_store_has(after_crash, c, NULL));
    fs_store_close(after_crash);
    /* Its commit now fails (the temporary is gone) and puts nothing in
     * place; the put that owned it would fail and settle it. */
    assert_int_not_equal(fs_store_batch_commit(b), 0);
    assert_false(fs_store_has(f->st, c, NULL));
    fs_store_settle(f->st, c, 0);
    fs_store_batch_free(b);
    free(da);
    free(dc);
}

/* A commit canceled (fs_store_batch_cancel: the put was, while its data
 * synced) renames nothing: FS_ECANCELED, no blob under its key, and the
 * temporaries go with the batch. A daemon whose client was killed -9
 * during a put's commit left its blobs in place until the commit's syncs
 * ended (seconds, now and then: syncfs syncs the whole file system), then
 * took them back; test_interrupt.sh's check of the store failed so. */
static void test_batch_canceled(void **state)
{
    fixture_t *f = *state;
    uint8_t a[MF_KEY_LEN], c[MF_KEY_LEN];
    uint8_t *da = make_blob(5000, 31, a), *dc = make_blob(7000, 32, c);
    fs_store_batch_t *b;
    char path[256];
    struct stat sb;
    int created;

    assert_int_equal(fs_store_batch_new(f->st, &b), 0);
    assert_int_equal(fs_store_put_batched(b, a, da, 5000, 0, &created), 0);
    assert_int_equal(fs_store_put_batched(b, c, dc, 7000, 0, &created), 0);
    fs_store_batch_cancel(b);
    assert_int_equal(fs_store_batch_commit(b), FS_ECANCELED);
    blob_path(f, a, path, sizeof(path));
    assert_int_not_equal(stat(path, &sb), 0);
    blob_path(f, c, path, sizeof(path));
    assert_int_not_equal(stat(path, &sb), 0);
    fs_store_settle(f->st, a, 0);
    fs_store_settle(f->st, c, 0);
    fs_store_batch_free(b);
    assert_int_equal(count_tmp(f), 0);
    assert_false(fs_store_has(f->st, a, NULL));
    assert_false(fs_store_has(f->st, c, NULL));
    free(da);
    free(dc);
}

static void test_fanout_dir_removed(void **state)
{
    fixture_t *f = *state;
    uint8_t key[MF_KEY_LEN], *b = make_blob(2000, 14, key);
    char path[256];

    assert_int_equal(fs_store_put(f->st, key, b, 2000, 1), 0);
    blob_path(f, key, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    *strrchr(path, '/') = '\0';
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(fs_store_put(f->st, key, b, 2000, 1), 0);
    check_get(f->st, key, b, 2000);
    assert_int_equal(count_tmp(f), 0);
    free(b);
}

#define THREADS       6
#define THREAD_KEYS   48
#define THREAD_ROUNDS 4

typedef struct shared {
    fs_store_t *st;
    uint8_t keys[THREAD_KEYS][MF_KEY_LEN];
    uint8_t *blobs[THREAD_KEYS];
    size_t lens[THREAD_KEYS];
} shared_t;

typedef struct worker {
    shared_t *sh;
    unsigned id;
    int failures;
} worker_t;

/* Puts every key (in an order of its own) and reads it back; any error
 * or wrong content counts as a failure. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    shared_t *sh = w->sh;

    for (unsigned r = 0; r < THREAD_ROUNDS; r++) {
        for (unsigned j = 0; j < THREAD_KEYS; j++) {
            unsigned k = (j * 7 + w->id * 5 + r) % THREAD_KEYS;
            uint8_t *got = NULL;
            size_t len = 0;

            if (fs_store_put(sh->st, sh->keys[k], sh->blobs[k], sh->lens[k], 1) != 0 ||
                fs_store_get(sh->st, sh->keys[k], &got, &len) != 0 || len != sh->lens[k] ||
                memcmp(got, sh->blobs[k], len) != 0)
                w->failures++;
            free(got);
        }
    }
    return NULL;
}

static void test_concurrent_put_get(void **state)
{
    fixture_t *f = *state;
    shared_t sh = {.st = f->st};
    worker_t w[THREADS];
    pthread_t t[THREADS];
    uint64_t n, bytes, total = 0;

    for (unsigned k = 0; k < THREAD_KEYS; k++) {
        sh.lens[k] = 1000 + 997 * k;
        sh.blobs[k] = make_blob(sh.lens[k], 100 + k, sh.keys[k]);
        total += sh.lens[k];
    }
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.sh = &sh, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(fs_store_usage(f->st, &n, &bytes), 0);
    assert_int_equal(n, THREAD_KEYS);
    assert_int_equal(bytes, total);
    assert_int_equal(count_tmp(f), 0);
    for (unsigned k = 0; k < THREAD_KEYS; k++)
        free(sh.blobs[k]);
}

/* In a child that cannot write the store's directories: put must fail
 * with FS_EACCES and leave nothing behind. @return the exit status. */
static int read_only_child(fixture_t *f)
{
    uint8_t key[MF_KEY_LEN], *b = make_blob(1000, 77, key);
    fs_store_t *st = NULL;
    int ok;

    if (fs_store_open(&st, f->dir) != 0)
        return 2;
    ok = fs_store_put(st, key, b, 1000, 1) == FS_EACCES && !fs_store_has(st, key, NULL);
    fs_store_close(st);
    free(b);
    return ok ? 0 : 1;
}

static void test_read_only_dir(void **state)
{
    fixture_t *f = *state;
    char path[128];
    pid_t pid;
    int status;

    snprintf(path, sizeof(path), "%s/blobs/tmp", f->dir);
    assert_int_equal(chmod(path, 0555), 0);
    snprintf(path, sizeof(path), "%s/blobs", f->dir);
    assert_int_equal(chmod(path, 0555), 0);
    assert_int_equal(chmod(f->dir, 0555), 0);
    if (geteuid() != 0) {
        assert_int_equal(read_only_child(f), 0);
    } else {
        /* root ignores permissions: drop to nobody in a child. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(77);
            _exit(read_only_child(f));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
            skip();
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(chmod(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/blobs/tmp", f->dir);
    assert_int_equal(chmod(path, 0700), 0);
    assert_int_equal(count_tmp(f), 0);
}

static void test_open_errors(void **state)
{
    fixture_t *f = *state;
    fs_store_t *st = (fs_store_t *)f;
    char path[128];
    FILE *fp;

    assert_int_equal(fs_store_open(&st, NULL), FS_EINVAL);
    assert_null(st);
    assert_int_equal(fs_store_open(&st, ""), FS_EINVAL);
    snprintf(path, sizeof(path), "%s/file", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_true(fs_store_open(&st, path) < 0);
    assert_null(st);
    fs_store_close(NULL);
}

int main(void)
{
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_has_remove_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_existing_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_new_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches_wrong_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_blob_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_before_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_abandoned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_canceled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_dir_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
