/*
 * Where a fetched file goes, and that nothing of the user's is lost on the
 * way. See filestore.h (fs_get_start) and get_int.h.
 *
 * Files next to the final path FINAL, in its directory (get_files.h): the
 * .part being written and its .journal. A get that finds both for its key
 * resumes: the chunks the journal lists are not fetched again.
 *
 * The rules: whatever is at FINAL stays unless it is a regular file, the
 * get was forced and the user named FINAL (-o): a name the manifest chose
 * never replaces anything, forced or not, for whoever published the
 * manifest chose it (".bashrc"); the last step is a rename that cannot
 * replace a file that appeared meanwhile (place.h), done on the loop
 * thread so a cancel that came first always wins. The temporary file and
 * the journal are never opened through a symlink, and never taken over
 * unless they are ours. The journal comes first: created (O_EXCL) with its
 * whole header in one write, or reopened when it is a regular file of
 * ours with one link holding this key's header, or a part of it (a get
 * that died writing it). Only then the .part: created, or, when the
 * journal was there already, reopened if it is ours likewise. Anything
 * else under those names is left alone and the get refused; a failed
 * start removes only what it created. No output goes under a reserved
 * name (get_files.h).
 */
#include "filestore/get_files.h"
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

#define JOURNAL_HEADER FS_JOURNAL_HEADER

/* ---- paths ---------------------------------------------------------------- */

static int set_paths(fs_get_t *get)
{
    char name[FS_TEMP_NAME_MAX];
    const char *slash;

    if (get->out_path != NULL && get->out_path[0] != '\0') {
        get->final_path = strdup(get->out_path);
        get->replace = get->force;
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
    fs_temp_name(name, get->key, "part");
    get->part_path = fs_path_join(get->dir, name);
    fs_temp_name(name, get->key, "journal");
    get->journal_path = fs_path_join(get->dir, name);
    return get->part_path && get->journal_path ? 0 : FS_ENOMEM;
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

    /* A get that keeps the blobs fetches them all: none resumes. */
    if (!get->keep && pread(get->journal_fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
        memcmp(head, FS_JOURNAL_MAGIC, 8) == 0 && memcmp(head + 8, get->key, MF_KEY_LEN) == 0) {
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

/* Says which file is in the way, and why the get stops. */
static int not_ours(fs_get_t *get, const char *path)
{
    snprintf(get->message, sizeof(get->message),
             "%s is in the way: emofs writes this get there, and that file is not one it "
             "left (move it away)",
             path);
    return FS_EEXIST;
}

/* Opens the journal, locked, as the rules at the top say: the file still
 * under its name once locked (a gc, or a get finishing elsewhere, may
 * have removed it meanwhile: then again, a few times). *made says whether
 * this call created it. @return 0 (journal_fd set) or an FS_* code. */
static int open_journal(fs_get_t *get, int *made)
{
    int err = 0;

    for (int attempt = 0; attempt < 4; attempt++) {
        get->journal_fd = fs_temp_open(get->journal_path, 1, 0600, made, &err);
        if (get->journal_fd < 0)
            return err == FS_EEXIST ? not_ours(get, get->journal_path) : err;
        if (flock(get->journal_fd, LOCK_EX | LOCK_NB) != 0) {
            err = errno == EWOULDBLOCK ? FS_EBUSY : fs_from_errno(errno);
            close(get->journal_fd);
            get->journal_fd = -1;
            return err;
        }
        if (fs_file_still_named(get->journal_fd, get->journal_path))
            return 0;
        close(get->journal_fd);
        get->journal_fd = -1;
    }
    return FS_EBUSY;
}

/* Opens (or reopens, to resume) the journal, then the temporary file, as
 * the rules at the top say. A second get of the same key into the same
 * directory finds the journal locked and stops (FS_EBUSY) before touching
 * anything. On failure nothing this call created is left, and nothing it
 * did not create is touched (but a journal of ours it restarted). */
static int open_files(fs_get_t *get)
{
    uint8_t header[FS_JOURNAL_HEADER];
    int resume = 0, made_journal = 0, made_part = 0, err;
    struct stat st;

    if ((err = open_journal(get, &made_journal)) != 0)
        return err;
    if (!made_journal) {
        int kind = fs_journal_kind(get->journal_fd, get->key);
        if (kind == FS_JOURNAL_FOREIGN) {
            close(get->journal_fd);
            get->journal_fd = -1;
            return not_ours(get, get->journal_path);
        }
        resume = kind == FS_JOURNAL_VALID && read_journal(get);
    }
    tell_files(get, 0); /* ours now: gc may collect them if this get dies */
    /* The header before the .part, whole, in one write: a get that dies
     * anywhere after leaves a journal the next one takes as its own. */
    fs_journal_header(header, get->key);
    if (!resume && (pwrite(get->journal_fd, header, sizeof(header), 0) != (ssize_t)sizeof(header) ||
                    ftruncate(get->journal_fd, (off_t)sizeof(header)) != 0))
        err = fs_from_errno(errno);
    /* A .part is ours to reopen only beside a journal of ours it found. */
    if (err == 0)
        get->fd = fs_temp_open(get->part_path, !made_journal, 0644, &made_part, &err);
    if (err == FS_EEXIST)
        err = not_ours(get, get->part_path);
    if (err == 0 && resume && (fstat(get->fd, &st) != 0 || (uint64_t)st.st_size != get->m.size)) {
        /* The .part is not what the journal says: start again. */
        memset(get->state, 0, get->m.n_entries);
        get->chunks_done = 0;
        get->bytes_done = 0;
        resume = 0;
        if (ftruncate(get->journal_fd, (off_t)sizeof(header)) != 0)
            err = fs_from_errno(errno);
    }
    /* Restarting over a .part of ours: its old bytes go (the file is
     * sparse again, and nothing is reserved before a chunk is verified). */
    if (err == 0 && !resume && !made_part && ftruncate(get->fd, 0) != 0)
        err = fs_from_errno(errno);
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
    if (err == 0 && lseek(get->journal_fd, 0, SEEK_END) < 0)
        err = fs_from_errno(errno);
    if (err != 0) {
        if (made_part)
            unlink(get->part_path);
        if (made_journal) {
            unlink(get->journal_path);
            tell_files(get, 1);
        }
    }
    return err;
}

/* Opens the files and starts fetching. */
static void begin(fs_get_t *get)
{
    int err = open_files(get);

    if (err == FS_EEXIST) { /* open_files said what is in the way */
        get->status = err;
        fs_get_finish(get);
        return;
    }
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

/* Why an existing regular file at the final path stays. */
static const char *exists_why(const fs_get_t *get)
{
    if (get->out_path != NULL && get->out_path[0] != '\0')
        return "already exists (--force replaces it)";
    return "already exists; a name the manifest gives never replaces a file, forced or not "
           "(-o PATH --force replaces one you name)";
}

/* Worker: does the existing regular file hold the very bytes we fetch? */
static void compare_existing(fs_job_t *w)
{
    fs_get_t *get = w->data;
    int fd = open(get->final_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    get->work_status =
        fd < 0 ? fs_from_errno(errno) : fs_hash_fd_matches(fd, get->m.size, get->m.sha256);
    if (fd >= 0)
        close(fd);
    /* Seeding a file that is there: done only if the store has kept
     * every chunk already (a seeding get run again). */
    get->keep_missing = 0;
    for (size_t i = 0; get->keep && get->work_status == 0 && i < get->m.n_entries; i++)
        if (fs_store_has(get->ctx.store, get->m.entries[i].key, NULL) != 1) {
            get->keep_missing = 1;
            break;
        }
}

static void after_compare(fs_job_t *w)
{
    fs_get_t *get = w->data;

    get->working = 0;
    if (get->canceled) {
        fs_get_fail(get, FS_ECANCELED, "canceled:", "get");
        fs_get_finish(get);
    } else if (get->work_status == 0 && get->keep_missing) {
        /* Nothing would be fetched, so nothing kept to serve. */
        fs_get_fail(get, FS_EEXIST, "cannot seed", get->final_path);
        snprintf(get->message, sizeof(get->message),
                 "%s is already there, with the same bytes: a seeding get fetches every chunk; "
                 "get it under another name (-o), or remove it first",
                 get->final_path);
        fs_get_finish(get);
    } else if (get->work_status == 0) {
        snprintf(get->message, sizeof(get->message), "%s is already there, with the same bytes",
                 get->final_path);
        get->chunks_done = (uint32_t)get->m.n_entries;
        get->bytes_done = get->m.size;
        fs_get_finish(get);
    } else if (get->replace) {
        begin(get);
    } else {
        refuse(get, exists_why(get));
    }
}

void fs_get_place(fs_get_t *get)
{
    struct stat st;
    int err;

    err = set_paths(get);
    if (err) {
        fs_get_fail(get, err, "cannot write", get->m.name);
        fs_get_finish(get);
        return;
    }
    if (fs_name_reserved(fs_path_base(get->final_path))) {
        get->status = FS_EINVAL;
        snprintf(get->message, sizeof(get->message),
                 "%s is a name emofs keeps for its own temporary files; %s", get->final_path,
                 get->out_path && get->out_path[0] ? "choose another"
                                                   : "the manifest chose it: get it with -o PATH");
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
        if (get->replace)
            begin(get);
        else
            refuse(get, exists_why(get));
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
        get->work_status = fs_get_hash_rest(get);
}

/* Moves the verified temporary file to the final name without replacing
 * anything that is not ours to replace. @return 0 or an FS_* code (for
 * FS_EEXIST the message says why). */
static int rename_into_place(fs_get_t *get)
{
    char why[128];
    int err = fs_place_file(get->part_path, get->final_path, get->replace, why, sizeof(why));

    if (err == FS_EEXIST) /* a name the manifest chose: --force would not help */
        snprintf(get->message, sizeof(get->message), "%s %s", get->final_path,
                 strstr(why, "--force") != NULL ? exists_why(get) : why);
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
    if (err == FS_EBADHASH && get->journal_fd >= 0) {
        /* Every chunk matched its key, yet the whole does not match: the
         * manifest lies, and nothing here is worth resuming. Removed here,
         * while the journal's lock is held: a cancel lets it go, and a get
         * that resumed from these files meanwhile keeps them. */
        unlink(get->part_path);
        unlink(get->journal_path);
        tell_files(get, 1);
    }
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
