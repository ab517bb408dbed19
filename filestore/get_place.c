/*
 * Where a fetched file goes, and that nothing of the user's is lost on the
 * way. See filestore.h (fs_get_start) and get_int.h.
 *
 * Files next to the final path FINAL, in its directory:
 *   .emofs-HEX16.part     the file being written, at its final size
 *   .emofs-HEX16.journal  "EMOJ" 1 0 0 0, the file key, then one u32 LE
 *                         chunk index per chunk written and verified
 * (HEX16: the first 16 hex digits of the file key). A get that finds both
 * for its key resumes: the chunks the journal lists are not fetched again.
 *
 * The rules: whatever is at FINAL stays unless it is a regular file and the
 * get was forced; the last step is a rename that cannot replace a file
 * that appeared meanwhile (place.h), done on the loop thread so a cancel
 * that came first always wins.
 */
#include "filestore/get_int.h"
#include "filestore/place.h"
#include "manifests/le.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define JOURNAL_MAGIC  "EMOJ\x01\0\0\0"
#define JOURNAL_HEADER (8 + MF_KEY_LEN)
#define HASH_BLOCK     (1u << 20)

/* ---- paths ---------------------------------------------------------------- */

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
        get->final_path = fs_path_join(get->dir, get->m.name);
    }
    if (get->final_path == NULL || get->dir == NULL)
        return FS_ENOMEM;
    mf_key_to_hex(get->key, hex);
    snprintf(name, sizeof(name), ".emofs-%.16s.part", hex);
    get->part_path = fs_path_join(get->dir, name);
    snprintf(name, sizeof(name), ".emofs-%.16s.journal", hex);
    get->journal_path = fs_path_join(get->dir, name);
    return get->part_path && get->journal_path ? 0 : FS_ENOMEM;
}

/* ---- hashing a file on a worker -------------------------------------------- */

/* @return 0 if the first size bytes of fd hash to want, FS_EBADHASH if not,
 * or another FS_* code. */
static int hash_matches(int fd, uint64_t size, const uint8_t want[MF_KEY_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    uint8_t *buf = malloc(HASH_BLOCK);
    uint64_t off = 0;
    int err = FS_ENOMEM;

    if (sha == NULL || buf == NULL || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))
        goto out;
    err = 0;
    while (err == 0 && off < size) {
        ssize_t n = pread(fd, buf, HASH_BLOCK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? fs_from_errno(errno) : FS_EIO;
            break;
        }
        EVP_DigestUpdate(sha, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (err == 0) {
        EVP_DigestFinal_ex(sha, md, &md_len);
        err = memcmp(md, want, MF_KEY_LEN) == 0 ? 0 : FS_EBADHASH;
    }
out:
    free(buf);
    EVP_MD_CTX_free(sha);
    return err;
}

/* ---- the temporary file and the journal ------------------------------------ */

/* Reads the journal of an earlier get of this key (open in journal_fd),
 * marking its chunks written. @return 1 if it resumes, 0 if it starts
 * afresh. */
static int read_journal(fs_get_t *get)
{
    uint8_t head[JOURNAL_HEADER], rec[4];
    off_t off = JOURNAL_HEADER;
    int ok = 0;

    if (pread(get->journal_fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
        memcmp(head, JOURNAL_MAGIC, 8) == 0 && memcmp(head + 8, get->key, MF_KEY_LEN) == 0) {
        ok = 1;
        for (; pread(get->journal_fd, rec, 4, off) == 4; off += 4) {
            uint32_t i = le_get32(rec);
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
    if (!ok) {
        memset(get->state, 0, get->m.n_entries);
        get->chunks_done = 0;
        get->bytes_done = 0;
    }
    return ok;
}

/* Tells the context's hook about the temporary file and journal. */
static void tell_files(fs_get_t *get, int gone)
{
    if (get->ctx.get_files != NULL)
        get->ctx.get_files(get->ctx.get_files_arg, get->key, get->dir, gone);
}

/* Opens (or reopens, to resume) the journal, locked, then the temporary
 * file; never through a symlink. A second get of the same key into the
 * same directory finds the journal locked and stops (FS_EBUSY) before
 * touching anything. On failure nothing of a fresh start is left behind. */
static int open_files(fs_get_t *get)
{
    int resume, err = 0;

    tell_files(get, 0);
    get->journal_fd = open(get->journal_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (get->journal_fd < 0)
        return fs_from_errno(errno);
    if (flock(get->journal_fd, LOCK_EX | LOCK_NB) != 0) {
        err = errno == EWOULDBLOCK ? FS_EBUSY : fs_from_errno(errno);
        close(get->journal_fd);
        get->journal_fd = -1;
        return err;
    }
    resume = read_journal(get);
    get->fd = open(get->part_path,
                   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (resume ? 0 : O_TRUNC), 0644);
    if (get->fd < 0) {
        err = fs_from_errno(errno);
    } else if (resume) {
        struct stat st;
        if (fstat(get->fd, &st) != 0 || (uint64_t)st.st_size != get->m.size) {
            memset(get->state, 0, get->m.n_entries);
            get->chunks_done = 0;
            get->bytes_done = 0;
            resume = 0;
        }
    }
    if (err == 0 && ftruncate(get->fd, (off_t)get->m.size) != 0)
        err = fs_from_errno(errno);
    /* A disk without room for the rest of the file is reported before any
     * fetch; but nothing is reserved before a chunk is verified (the file
     * is sparse, and blocks come as verified chunks are written), so a
     * manifest that lies about the size costs no disk. */
    if (err == 0 && get->m.size > get->bytes_done) {
        struct statvfs vfs;
        if (fstatvfs(get->fd, &vfs) == 0 &&
            (uint64_t)vfs.f_bavail * vfs.f_frsize < get->m.size - get->bytes_done)
            err = FS_ENOSPC;
    }
    if (err == 0 && !resume &&
        (ftruncate(get->journal_fd, 0) != 0 || pwrite(get->journal_fd, JOURNAL_MAGIC, 8, 0) != 8 ||
         pwrite(get->journal_fd, get->key, MF_KEY_LEN, 8) != MF_KEY_LEN))
        err = fs_from_errno(errno);
    if (err == 0 && lseek(get->journal_fd, 0, SEEK_END) < 0)
        err = fs_from_errno(errno);
    if (err != 0 && !resume) {
        unlink(get->part_path);
        unlink(get->journal_path);
        tell_files(get, 1);
    }
    return err;
}

/* Opens the files and starts fetching. */
static void begin(fs_get_t *get)
{
    int err = open_files(get);

    if (err) {
        /* Errors here are about the output: a missing directory is not a
         * missing key. */
        fs_get_fail(get, err == FS_ENOENT ? FS_EINVAL : err, "cannot write", get->final_path);
        if (err == FS_ENOENT)
            snprintf(get->message, sizeof(get->message), "cannot write %s: no such directory",
                     get->final_path);
        else if (err == FS_EBUSY)
            snprintf(get->message, sizeof(get->message),
                     "another get of this file into %s is running; wait for it", get->dir);
        fs_get_finish(get);
        return;
    }
    get->resumed = get->chunks_done;
    if (get->resumed > 0)
        snprintf(get->message, sizeof(get->message), "resumed: %u of %zu chunks were already here",
                 (unsigned)get->resumed, get->m.n_entries);
    fs_get_pump(get);
}

/* ---- what is at the final path already ------------------------------------- */

static void refuse(fs_get_t *get, const char *why)
{
    if (get->status == 0) {
        get->status = FS_EEXIST;
        snprintf(get->message, sizeof(get->message), "%s %s", get->final_path, why);
    }
    fs_get_finish(get);
}

/* Worker: does the existing regular file hold the very bytes we fetch? */
static void compare_existing(fs_job_t *w)
{
    fs_get_t *get = w->data;
    int fd = open(get->final_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    get->work_status = fd < 0 ? fs_from_errno(errno) : hash_matches(fd, get->m.size, get->m.sha256);
    if (fd >= 0)
        close(fd);
}

static void after_compare(fs_job_t *w)
{
    fs_get_t *get = w->data;

    get->working = 0;
    if (get->canceled) {
        fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
        fs_get_finish(get);
    } else if (get->work_status == 0) {
        snprintf(get->message, sizeof(get->message), "%s is already there, with the same bytes",
                 get->final_path);
        get->chunks_done = (uint32_t)get->m.n_entries;
        get->bytes_done = get->m.size;
        fs_get_finish(get);
    } else if (get->force) {
        begin(get);
    } else {
        refuse(get, "already exists (--force replaces it)");
    }
}

void fs_get_place(fs_get_t *get)
{
    struct stat st;
    int err = set_paths(get);

    if (err) {
        fs_get_fail(get, err, "cannot write", get->m.name);
        fs_get_finish(get);
        return;
    }
    if (lstat(get->final_path, &st) != 0) {
        if (errno == ENOENT) {
            begin(get);
        } else {
            fs_get_fail(get, fs_from_errno(errno), "cannot write", get->final_path);
            fs_get_finish(get);
        }
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        char why[96];
        snprintf(why, sizeof(why), "is %s; emofs never replaces one", fs_place_kind(st.st_mode));
        refuse(get, why);
        return;
    }
    if ((uint64_t)st.st_size != get->m.size) {
        if (get->force)
            begin(get);
        else
            refuse(get, "already exists (--force replaces it)");
        return;
    }
    get->working = 1;
    get->work.data = get;
    if (fs_exec_queue(get->ctx.exec, &get->work, compare_existing, after_compare) != 0) {
        get->working = 0;
        fs_get_fail(get, FS_ENOMEM, "cannot check", get->final_path);
        fs_get_finish(get);
    }
}

/* ---- the end: whole-file check, then the rename ---------------------------- */

static void verify_file(fs_job_t *w)
{
    fs_get_t *get = w->data;

    get->work_status = fdatasync(get->fd) == 0 ? 0 : fs_from_errno(errno);
    if (get->work_status == 0)
        get->work_status = hash_matches(get->fd, get->m.size, get->m.sha256);
    if (get->work_status == FS_EBADHASH) {
        /* Every chunk matched its key, yet the whole does not match: the
         * manifest lies. Nothing here is worth resuming. */
        unlink(get->part_path);
        unlink(get->journal_path);
    }
}

/* Moves the verified temporary file to the final name without replacing
 * anything that is not ours to replace. @return 0 or an FS_* code (for
 * FS_EEXIST the message says why). */
static int rename_into_place(fs_get_t *get)
{
    char why[128];
    int err = fs_place_file(get->part_path, get->final_path, get->force, why, sizeof(why));

    if (err == FS_EEXIST)
        snprintf(get->message, sizeof(get->message), "%s %s", get->final_path, why);
    return err;
}

static void after_verify(fs_job_t *w)
{
    fs_get_t *get = w->data;
    int err = get->work_status;

    get->working = 0;
    if (err == 0 && !get->canceled) {
        err = rename_into_place(get);
        if (err == FS_EEXIST) { /* the message says what is there */
            get->status = FS_EEXIST;
            fs_get_finish(get);
            return;
        }
        if (err == 0) {
            int dfd = open(get->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            unlink(get->journal_path);
            tell_files(get, 1);
        }
    }
    if (err == FS_EBADHASH)
        tell_files(get, 1); /* verify_file dropped both */
    if (get->canceled)
        fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
    else if (err == FS_EBADHASH)
        fs_get_fail(get, FS_EBADHASH, "file does not match its manifest:", get->m.name);
    else if (err != 0)
        fs_get_fail(get, err, "cannot write", get->final_path);
    fs_get_finish(get);
}

void fs_get_start_verify(fs_get_t *get)
{
    get->working = 1;
    get->work.data = get;
    if (fs_exec_queue(get->ctx.exec, &get->work, verify_file, after_verify) != 0) {
        get->working = 0;
        fs_get_fail(get, FS_ENOMEM, "cannot check", get->final_path);
        fs_get_finish(get);
    }
}
