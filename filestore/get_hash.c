/*
 * The whole-file check of a get written to a file: the SHA-256 of the
 * file against the manifest's. It runs on the contiguous prefix while the
 * chunks arrive: one job at a time on a worker reads back what was just
 * written (from the page cache) and hashes it, so that once the last
 * chunk is in, only what the prefix had not reached yet is hashed (issue
 * 12: no full re-read after the last chunk). A resumed get hashes the
 * chunks an earlier one wrote the same way. See get_int.h.
 */
#include "filestore/get_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HASH_BLOCK     (1u << 20)
#define PREFIX_JOB_MAX (64u << 20) /* bytes one prefix job hashes: a cancel waits for no more */

static _Atomic uint64_t tail_hashed; /* fs_get_tail_hashed */

uint64_t fs_get_tail_hashed(void)
{
    return atomic_load(&tail_hashed);
}

int fs_hash_fd_range(EVP_MD_CTX *sha, int fd, uint64_t from, uint64_t to)
{
    uint8_t *buf = malloc(HASH_BLOCK);
    uint64_t off = from;
    int err = buf == NULL ? FS_ENOMEM : 0;

    while (err == 0 && off < to) {
        size_t want = to - off < HASH_BLOCK ? (size_t)(to - off) : HASH_BLOCK;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? fs_from_errno(errno) : FS_EIO;
            break;
        }
        if (!EVP_DigestUpdate(sha, buf, (size_t)n))
            err = FS_ENOMEM;
        off += (uint64_t)n;
    }
    free(buf);
    return err;
}

/* Ends sha and compares. @return 0 if it is want, else FS_EBADHASH. */
static int digest_is(EVP_MD_CTX *sha, const uint8_t want[MF_KEY_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;

    if (!EVP_DigestFinal_ex(sha, md, &md_len) || md_len != MF_KEY_LEN)
        return FS_ENOMEM;
    return memcmp(md, want, MF_KEY_LEN) == 0 ? 0 : FS_EBADHASH;
}

int fs_hash_fd_matches(int fd, uint64_t size, const uint8_t want[MF_KEY_LEN])
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    int err = sha == NULL || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ? FS_ENOMEM : 0;

    if (err == 0)
        err = fs_hash_fd_range(sha, fd, 0, size);
    if (err == 0)
        err = digest_is(sha, want);
    EVP_MD_CTX_free(sha);
    return err;
}

/* ---- the prefix, while chunks arrive --------------------------------------- */

static void hash_prefix_work(fs_job_t *w)
{
    fs_get_t *get = w->data;

    get->hash_status = fs_hash_fd_range(get->sha, get->fd, get->hashed_bytes, get->hash_to);
}

static void hash_prefix_done(fs_job_t *w)
{
    fs_get_t *get = w->data;

    get->hashing = 0;
    if (get->hash_status != 0) {
        fs_get_fail(get, get->hash_status, "cannot read", get->part_path);
    } else {
        get->hashed_bytes = get->hash_to;
        get->hashed_chunks = get->hash_chunks_to;
    }
    fs_get_pump(get);
}

void fs_get_hash_prefix(fs_get_t *get)
{
    uint32_t upto = get->hashed_chunks;
    size_t n = get->m.n_entries;

    if (get->hashing || get->working || get->streaming || get->fd < 0 || get->sha == NULL ||
        get->status != 0 || get->canceled)
        return; /* working: the check at the end (or of an existing file) has get->sha */
    while (upto < n && get->state[upto] == 2 &&
           (upto == get->hashed_chunks ||
            get->offsets[upto] + get->m.entries[upto].size - get->hashed_bytes <= PREFIX_JOB_MAX))
        upto++;
    if (upto == get->hashed_chunks)
        return;
    get->hash_chunks_to = upto;
    get->hash_to = upto == n ? get->m.size : get->offsets[upto];
    if (get->chunks_done == n) /* the last chunk is in: this is the tail */
        atomic_fetch_add(&tail_hashed, get->hash_to - get->hashed_bytes);
    get->hashing = 1;
    get->hash_job.data = get;
    /* Out of memory for the job: the check at the end hashes the rest. */
    if (fs_exec_queue(get->ctx.exec, &get->hash_job, hash_prefix_work, hash_prefix_done) != 0)
        get->hashing = 0;
}

/* ---- the end ---------------------------------------------------------------- */

int fs_get_hash_rest(fs_get_t *get)
{
    int err;

    if (get->sha == NULL) { /* no prefix was hashed */
        atomic_fetch_add(&tail_hashed, get->m.size);
        return fs_hash_fd_matches(get->fd, get->m.size, get->m.sha256);
    }
    atomic_fetch_add(&tail_hashed, get->m.size - get->hashed_bytes);
    err = fs_hash_fd_range(get->sha, get->fd, get->hashed_bytes, get->m.size);
    return err != 0 ? err : digest_is(get->sha, get->m.sha256);
}
