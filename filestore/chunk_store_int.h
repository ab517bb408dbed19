/*
 * The chunk store's insides, shared by its two files: chunk_store.c (one
 * blob at a time, each durable on return) and chunk_batch.c (a batch of
 * blobs made durable together). Internal to the store; chunk_store.h is
 * the contract everyone else uses.
 */
#ifndef EMOFS_CHUNK_STORE_INT_H
#define EMOFS_CHUNK_STORE_INT_H

#include "filestore/chunk_store.h"
#include "filestore/keyset.h"

#include <pthread.h>
#include <stdatomic.h>

#define FS_STORE_HEX_LEN (2 * MF_KEY_LEN)
#define FS_STORE_TMP     "tmp" /* DIR/blobs/tmp: writes in progress */

struct fs_store {
    char *root; /* DIR/blobs */
    /* Bit b set: fan-out directory b exists and its entry in blobs/ has
     * been fsynced since, by this process. */
    _Atomic uint64_t durable[4];
    /* Provisional blobs (fs_store_put_new): made by an operation that has
     * not settled yet. Flag bit FS_STORE_SHARED: another operation stored
     * it too. */
    pthread_mutex_t lock;
    fs_keyset_t provisional;
    /* Keys whose blob a batch holds, whole but not committed, in
     * DIR/blobs/tmp/<hex> (fs__store_pending_path): fs_store_has and
     * fs_store_get find it there, so a put's blobs are served while it
     * runs, as before batches. Guarded by lock, like provisional. */
    fs_keyset_t pending;
    _Atomic uint64_t syncs; /* fsync and syncfs calls (fs_store_syncs) */
};

#define FS_STORE_SHARED 1u

/* A path under the store: root + "/xx/" + 64 hex + NUL, or root +
 * "/tmp/" + a mkstemp name. */
typedef struct fs_store_path {
    char s[4096];
} fs_store_path_t;

/* Sets dir to DIR/blobs/xx (the fan-out directory) and, if blob != NULL,
 * blob to DIR/blobs/xx/<hex>. */
void fs__store_key_paths(const fs_store_t *st, const uint8_t key[MF_KEY_LEN], fs_store_path_t *dir,
                         fs_store_path_t *blob);

/* Creates directory path (mode 0700) unless it exists; another thread or
 * process creating it at the same time is fine. *created tells whether
 * this call made it. @return 0 or an FS_* code (FS_EIO: not a directory). */
int fs__store_make_dir(const char *path, int *created);

/* Writes data to a new temporary under DIR/blobs/tmp, fsynced if sync is
 * nonzero. On success tmp names it; on failure nothing is left behind.
 * @return 0 or an FS_* code. */
int fs__store_write_tmp(fs_store_t *st, const uint8_t *data, size_t len, fs_store_path_t *tmp,
                        int sync);

/* fsyncs the open file or directory fd, counting the call. @return 0 or an
 * FS_* code. */
int fs__store_fsync(fs_store_t *st, int fd);

/* fsyncs the directory at path, counting the call. @return 0 or an FS_*
 * code. */
int fs__store_sync_dir(fs_store_t *st, const char *path);

/* Checks key == SHA-256(data). @return 0, FS_EBADHASH or FS_ENOMEM. */
int fs__store_check_hash(const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len);

/* @return 1 if the blob is under key itself (not a batch's temporary),
 * *len its size if len != NULL; else 0. */
int fs__store_has_final(fs_store_t *st, const uint8_t key[MF_KEY_LEN], size_t *len);

/* Sets p to DIR/blobs/tmp/<hex>: where a batch keeps key's blob while it
 * is pending (in st->pending). */
void fs__store_pending_path(const fs_store_t *st, const uint8_t key[MF_KEY_LEN],
                            fs_store_path_t *p);

/* Marks key as stored by an operation that may take it back: if another
 * operation has it provisional, that one's is marked shared (*created =
 * 0); else, if no blob is under key, key becomes provisional, this
 * operation's (*created = 1). @return 0 or FS_ENOMEM. */
int fs__store_claim(fs_store_t *st, const uint8_t key[MF_KEY_LEN], int *created);

/* Undoes a claim that made key provisional (*created was 1) when the
 * blob could not be written after all. */
void fs__store_unclaim(fs_store_t *st, const uint8_t key[MF_KEY_LEN]);

#endif /* EMOFS_CHUNK_STORE_INT_H */
