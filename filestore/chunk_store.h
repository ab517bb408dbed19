/*
 * The local chunk store: content-addressed blobs (encoded chunks and
 * manifest nodes) in the data directory, one file per blob:
 *   DIR/blobs/ab/abcdef...  (64 hex digits of the key, first two as a
 *                            fan-out directory)
 *   DIR/blobs/tmp/          (writes in progress)
 * A blob is written to a temporary file, fsynced, renamed into place and
 * its directory fsynced, so a crash never leaves half a blob under its key.
 * A batch (fs_store_batch_new, for a put's many blobs) does the same for
 * all its blobs at once, with a handful of syncs in all: temporaries
 * written unsynced, one sync of their data, the renames, one sync of the
 * names.
 * Reads check SHA-256 against the key. Opening the store removes leftover
 * temporaries, so one process at a time should have a store open.
 * Removal is not fsynced: a removed blob may come back after a crash,
 * which is harmless for content-addressed data.
 *
 * Every function may be called from several threads at once on one store.
 * Errors from the system map through fs_from_errno() (so FS_EACCES and
 * FS_ENOENT can come from any call touching the disk).
 */
#ifndef EMOFS_CHUNK_STORE_H
#define EMOFS_CHUNK_STORE_H

#include "manifests/manifest.h" /* MF_KEY_LEN, the one key length */

#include <stddef.h>
#include <stdint.h>

typedef struct fs_store fs_store_t;

/* Opens (creating dir, dir/blobs and dir/blobs/tmp if needed, mode 0700)
 * the store under dir/blobs and removes leftover temporaries.
 * @return 0 and *out, or FS_EIO (e.g. dir is a file), FS_EACCES,
 * FS_ENOSPC, FS_ENOMEM, FS_EINVAL (NULL, empty or too long a dir);
 * *out is NULL on failure. */
int fs_store_open(fs_store_t **out, const char *dir);

/* Closes the store. Accepts NULL. */
void fs_store_close(fs_store_t *st);

/* Stores data under key, durably (see above). Does nothing if a blob is
 * already there (its content is not compared). The caller vouches that
 * key == SHA-256(data); with verify != 0 the store checks it (FS_EBADHASH).
 * @return 0, FS_EBADHASH, FS_ENOSPC, FS_EIO, FS_EACCES, FS_EINVAL. On
 * failure nothing is left under key and no temporary remains. */
int fs_store_put(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len,
                 int verify);

/* Like fs_store_put, for an operation that may have to take its blobs back
 * (a put that fails or is canceled). *created says whether this call made
 * the blob: then the caller owns it until it calls fs_store_settle(key).
 * Every other store of the same key meanwhile (fs_store_put, or
 * fs_store_put_new by another operation) marks it shared.
 * @return as fs_store_put (on failure *created is 0). */
int fs_store_put_new(fs_store_t *st, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len,
                     int verify, int *created);

/* Ends the ownership fs_store_put_new gave: keep != 0, the blob stays (the
 * operation succeeded); keep == 0, it is removed, unless it was shared
 * (another operation stored it too and may rely on it). Once per created
 * key. */
void fs_store_settle(fs_store_t *st, const uint8_t key[MF_KEY_LEN], int keep);

/* Reads the blob under key into a malloc()ed *data of *len bytes (the
 * caller frees it), checking its hash. A blob that does not match is
 * removed (it is damaged). *data and *len are untouched on failure.
 * @return 0, FS_ENOENT, FS_EBADHASH, FS_EIO, FS_EACCES or FS_ENOMEM. */
int fs_store_get(fs_store_t *st, const uint8_t key[MF_KEY_LEN], uint8_t **data, size_t *len);

/* @return 1 if a blob is stored under key (*len set if len != NULL), else 0.
 * Does not read or verify it. */
int fs_store_has(fs_store_t *st, const uint8_t key[MF_KEY_LEN], size_t *len);

/* Removes the blob under key. @return 0 or FS_ENOENT / FS_EIO / FS_EACCES. */
int fs_store_remove(fs_store_t *st, const uint8_t key[MF_KEY_LEN]);

/* Removes the blob under key unless an operation made it with
 * fs_store_put_new and has not settled yet (it may still take it back or
 * keep it: the blob is that operation's). For `emofs rm` and `emofs gc`.
 * @return 0, FS_EBUSY (provisional: left alone), FS_ENOENT, FS_EIO or
 * FS_EACCES. */
int fs_store_drop(fs_store_t *st, const uint8_t key[MF_KEY_LEN]);

/* Calls fn(key, size, arg) for each stored blob, in no particular order,
 * until fn returns nonzero; files that are not blobs are skipped. Reads
 * no blob (a stat each). fn may remove the blob it is given.
 * @return 0, fn's nonzero result, FS_EIO or FS_EINVAL. */
int fs_store_foreach(fs_store_t *st,
                     int (*fn)(const uint8_t key[MF_KEY_LEN], uint64_t size, void *arg), void *arg);

/* Counts the stored blobs and their bytes by walking the fan-out
 * directories; files that are not blobs are not counted.
 * @return 0 or FS_EIO. */
int fs_store_usage(fs_store_t *st, uint64_t *blobs, uint64_t *bytes);

/* A batch of blobs made durable together: one operation's (a put's). */
typedef struct fs_store_batch fs_store_batch_t;

/* Starts a batch on st (which must outlive it). @return 0 and *out, or
 * FS_EINVAL, FS_ENOMEM. */
int fs_store_batch_new(fs_store_t *st, fs_store_batch_t **out);

/* Like fs_store_put_new, but the blob is only written to a temporary,
 * unsynced: it is not under key until fs_store_batch_commit, and a crash
 * before leaves nothing there. fs_store_has and fs_store_get find it
 * meanwhile (so a node serves a put's blobs while the put runs). A key
 * already in the batch, or already stored, is not written again
 * (*created 0). May be called from several threads at once on one batch.
 * @return as fs_store_put_new. */
int fs_store_put_batched(fs_store_batch_t *b, const uint8_t key[MF_KEY_LEN], const uint8_t *data,
                         size_t len, int verify, int *created);

/* Makes every blob put in the batch since its last commit durable and
 * puts it under its key: one sync of the data (syncfs on Linux, else an
 * fsync per file), the renames, one sync of the names (syncfs, else an
 * fsync per directory). Blocks on the disk: call it from a worker.
 * @return 0, or FS_EIO, FS_ENOSPC, FS_EACCES: blobs not yet renamed stay
 * out of the store (fs_store_batch_free removes them); those renamed
 * before the failure may not be durable, and are settled by the caller
 * like any other (fs_store_settle). FS_ECANCELED after
 * fs_store_batch_cancel: the blobs not yet renamed stay out likewise. */
int fs_store_batch_commit(fs_store_batch_t *b);

/* Asks a commit under way on another thread (or the next one) to stop
 * before its next rename: a put canceled while its data syncs (syncfs
 * syncs the whole file system: seconds, now and then) then puts no blob
 * in place. Blobs renamed before the cancel stay, and the caller takes
 * them back as after any failure (fs_store_settle). Safe from any thread
 * while the batch lives. */
void fs_store_batch_cancel(fs_store_batch_t *b);

/* Ends the batch: temporaries of blobs not committed are removed, so a
 * put that fails or is canceled leaves none of them. Accepts NULL. */
void fs_store_batch_free(fs_store_batch_t *b);

/* @return how many fsync and syncfs calls st has made since it was
 * opened: the price of durability, which tests count (a put's blobs must
 * cost a handful, not two per blob). */
uint64_t fs_store_syncs(const fs_store_t *st);

/* For tests: the first steps of fs_store_put (temporary written and
 * fsynced), then stop as a crash would, leaving the temporary behind
 * (none if the blob is already stored). The key is not verified.
 * @return 0 or an error as fs_store_put. */
int fs_store_put_crash_before_rename(fs_store_t *st, const uint8_t key[MF_KEY_LEN],
                                     const uint8_t *data, size_t len);

#endif /* EMOFS_CHUNK_STORE_H */
