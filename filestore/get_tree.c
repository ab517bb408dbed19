/*
 * A get whose key names a directory: the tree is recreated under a
 * temporary directory beside the final one, then renamed into place. See
 * filestore.h (fs_get_start) and get_int.h.
 *
 *   PARENT/.emofs-HEX16.dir/   the tree being written (HEX16: the key's
 *                              first 16 hex digits); kept when the get
 *                              stops, so the next one resumes: files
 *                              already there with their bytes count as done,
 *                              half-fetched ones resume from their journal
 *
 * Depth first: each directory's manifest is fetched as a directory's and
 * checked against its entry; each file is got by a child fs_get (as a
 * file's, never a directory's), checked against its entry's size; each
 * link is made with its target, never followed. Every name comes from a
 * manifest, where it is a single safe path component (mf_name_valid), and
 * every directory on the way is one this get made (lstat, not a link), so
 * nothing is ever written outside the temporary directory. Permission
 * bits are set once a file or directory is complete.
 */
#include "filestore/get_int.h"
#include "filestore/get_files.h"
#include "filestore/place.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_DEPTH_MAX 64 /* directories below the root, at most */

/* A directory being written. */
typedef struct gdir {
    struct gdir *up;
    mf_dir_t d;
    char *path; /* under the temporary directory */
    uint16_t mode;
    size_t next;
    unsigned depth;
} gdir_t;

struct fs_get_tree {
    fs_get_t *get;
    char *temp_path;
    gdir_t *cur;
    fs_get_t *child; /* a file being got */
    uint64_t child_size;
    int fetching; /* a sub-directory's manifest is on its way */
    int lock_fd;  /* the temporary directory, locked against a second get */
    uint64_t bytes_done, bytes_total, files;
};

static void tree_step(fs_get_tree_t *t);

static void tree_fail(fs_get_tree_t *t, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tree_fail(fs_get_tree_t *t, int status, const char *fmt, ...)
{
    fs_get_t *get = t->get;
    va_list ap;

    if (get->status != 0)
        return;
    get->status = status;
    va_start(ap, fmt);
    vsnprintf(get->message, sizeof(get->message), fmt, ap);
    va_end(ap);
}

/* A deep copy of a directory listing. @return 0, or FS_ENOMEM (out zeroed). */
static int dir_copy(mf_dir_t *out, const mf_dir_t *d)
{
    int ok;

    *out = *d;
    out->name = strdup(d->name);
    out->entries = calloc(d->n_entries ? d->n_entries : 1, sizeof(*out->entries));
    ok = out->name != NULL && out->entries != NULL;
    if (out->entries == NULL)
        out->n_entries = 0;
    for (size_t i = 0; ok && i < d->n_entries; i++) {
        out->entries[i] = d->entries[i];
        out->entries[i].name = strdup(d->entries[i].name);
        out->entries[i].target = d->entries[i].target ? strdup(d->entries[i].target) : NULL;
        ok = out->entries[i].name != NULL &&
             (d->entries[i].target == NULL || out->entries[i].target != NULL);
    }
    if (!ok) {
        mf_dir_clear(out); /* frees what was copied; the rest is NULL (calloc) */
        return FS_ENOMEM;
    }
    return 0;
}

static void free_gdir(gdir_t *g)
{
    mf_dir_clear(&g->d);
    free(g->path);
    free(g);
}

/* Ends the tree once nothing is in flight, and the get with it. */
static void tree_end(fs_get_tree_t *t)
{
    fs_get_t *get = t->get;

    if (t->child != NULL || t->fetching)
        return;
    while (t->cur != NULL) {
        gdir_t *up = t->cur->up;
        free_gdir(t->cur);
        t->cur = up;
    }
    if (t->lock_fd >= 0)
        close(t->lock_fd);
    free(t->temp_path);
    get->tree = NULL;
    free(t);
    get->tree_busy = 0;
    fs_get_finish(get);
}

static void report(fs_get_tree_t *t, const fs_progress_t *file)
{
    fs_get_t *get = t->get;
    fs_progress_t p = {0};

    if (get->progress == NULL)
        return;
    if (file != NULL)
        p = *file;
    p.bytes_done = t->bytes_done + (file ? file->bytes_done : 0);
    p.bytes_total = t->bytes_total;
    get->progress(&p, get->arg);
}

/* Makes the directory path (or takes the one an earlier get made).
 * @return 0 or an errno. */
static int make_dir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return errno;
    if (lstat(path, &st) != 0)
        return errno;
    if (!S_ISDIR(st.st_mode))
        return EEXIST;
    return chmod(path, 0700) == 0 ? 0 : errno; /* writable until it is complete */
}

/* Starts writing the directory listing d (taken over) at path. */
static void push_dir(fs_get_tree_t *t, mf_dir_t *d, char *path, uint16_t mode)
{
    gdir_t *g = calloc(1, sizeof(*g));
    int e;

    if (g == NULL || path == NULL) {
        free(g);
        free(path);
        mf_dir_clear(d);
        tree_fail(t, FS_ENOMEM, "cannot get %s: %s", t->get->m.name, fs_strerror(FS_ENOMEM));
        return;
    }
    g->d = *d;
    memset(d, 0, sizeof(*d));
    g->path = path;
    g->mode = mode;
    g->up = t->cur;
    g->depth = t->cur ? t->cur->depth + 1 : 0;
    t->cur = g;
    if (g->depth > TREE_DEPTH_MAX) {
        tree_fail(t, FS_ECORRUPT, "cannot get %s: directories nested too deep", path);
        return;
    }
    e = make_dir(path);
    if (e != 0)
        tree_fail(t, e == EEXIST ? FS_EEXIST : fs_from_errno(e), "cannot write %s: %s", path,
                  e == EEXIST ? "something else is there" : strerror(e));
}

/* ---- entries ---------------------------------------------------------------- */

static void on_child_progress(const fs_progress_t *p, void *arg)
{
    report(arg, p);
}

static void on_child(int status, const char *path, uint64_t size, const char *message, void *arg)
{
    fs_get_tree_t *t = arg;
    const mf_dirent_t *e = &t->cur->d.entries[t->cur->next - 1];

    t->child = NULL;
    if (status != 0) {
        tree_fail(t, status, "%s", message);
    } else if (size != e->bytes) {
        tree_fail(t, FS_ECORRUPT,
                  "%s does not match its directory's manifest (%llu bytes, the "
                  "entry says %llu)",
                  path, (unsigned long long)size, (unsigned long long)e->bytes);
    } else if (chmod(path, e->mode) != 0) {
        tree_fail(t, fs_from_errno(errno), "cannot write %s: %s", path, strerror(errno));
    } else {
        t->bytes_done += size;
        t->files++;
        report(t, NULL);
    }
    tree_step(t);
}

static void on_sub_manifest(int status, const mf_manifest_t *m, const mf_dir_t *d,
                            const mf_blob_t *blobs, size_t n, const char *message, void *arg)
{
    fs_get_tree_t *t = arg;
    const mf_dirent_t *e = &t->cur->d.entries[t->cur->next - 1];
    mf_dir_t copy = {0};

    (void)m;
    (void)blobs;
    (void)n;
    t->fetching = 0;
    if (status != 0) {
        tree_fail(t, status, "%s", message);
    } else if (t->get->canceled) {
        tree_fail(t, FS_ECANCELED, "canceled: get");
    } else if (mf_dirent_check_dir(e, d) != 0) {
        tree_fail(t, FS_ECORRUPT, "the directory %s does not match its entry in %s", e->name,
                  t->cur->path);
    } else {
        /* d lives only during this call: take a deep copy. */
        if (dir_copy(&copy, d) != 0) {
            tree_fail(t, FS_ENOMEM, "cannot get %s: %s", e->name, fs_strerror(FS_ENOMEM));
        } else {
            push_dir(t, &copy, fs_path_join(t->cur->path, e->name), e->mode);
        }
    }
    tree_step(t);
}

/* A link: made with its target, or found there from an earlier get. */
static void make_link(fs_get_tree_t *t, const mf_dirent_t *e, const char *path)
{
    char buf[MF_LINK_MAX + 2];
    ssize_t n;

    if (symlink(e->target, path) == 0)
        return;
    if (errno != EEXIST) {
        tree_fail(t, fs_from_errno(errno), "cannot write %s: %s", path, strerror(errno));
        return;
    }
    n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0 || (size_t)n != strlen(e->target) || memcmp(buf, e->target, (size_t)n) != 0)
        tree_fail(t, FS_EEXIST, "cannot write %s: something else is there", path);
}

/* The root is complete: into place, under its final name. */
static void tree_done(fs_get_tree_t *t)
{
    fs_get_t *get = t->get;
    char why[128];
    int err = fs_place_file(t->temp_path, get->final_path, 0, why, sizeof(why));

    if (err == FS_EEXIST)
        tree_fail(t, FS_EEXIST, "%s %s", get->final_path, why);
    else if (err != 0)
        tree_fail(t, err, "cannot write %s: %s", get->final_path, fs_strerror(err));
    else
        snprintf(get->message, sizeof(get->message), "a directory: %llu files",
                 (unsigned long long)t->files);
}

/* Handles the current directory's entries until one needs to wait. */
static void tree_step(fs_get_tree_t *t)
{
    fs_get_t *get = t->get;

    while (get->status == 0 && !get->canceled && t->cur != NULL) {
        gdir_t *g = t->cur;
        const mf_dirent_t *e;
        char *path;

        if (g->next == g->d.n_entries) {
            if (chmod(g->path, g->mode) != 0) {
                tree_fail(t, fs_from_errno(errno), "cannot write %s: %s", g->path, strerror(errno));
                break;
            }
            t->cur = g->up;
            free_gdir(g);
            if (t->cur == NULL)
                tree_done(t);
            continue;
        }
        e = &g->d.entries[g->next++];
        if (fs_name_reserved(e->name)) {
            tree_fail(t, FS_EINVAL,
                      "cannot get %s: a name emofs keeps for its own temporary files "
                      "(the directory's manifest should not hold it)",
                      e->name);
            break;
        }
        path = fs_path_join(g->path, e->name);
        if (path == NULL) {
            tree_fail(t, FS_ENOMEM, "cannot get %s: %s", e->name, fs_strerror(FS_ENOMEM));
            break;
        }
        if (e->kind == MF_KIND_LINK) {
            make_link(t, e, path);
            free(path);
            continue;
        }
        if (e->kind == MF_KIND_DIR) {
            free(path);
            t->fetching = 1;
            if (fs_manifest_fetch_kind(&get->ctx, e->key, MF_KIND_DIR, on_sub_manifest, t) != 0) {
                t->fetching = 0;
                tree_fail(t, FS_ENOMEM, "cannot get %s: %s", e->name, fs_strerror(FS_ENOMEM));
                break;
            }
            return;
        }
        fs_get_opts_t opts = {0};
        opts.out_path = path;
        opts.kind = MF_KIND_FILE;
        opts.progress = on_child_progress;
        int err = fs_get_start(&t->child, &get->ctx, e->key, &opts, on_child, t);
        free(path);
        if (err != 0) {
            t->child = NULL;
            tree_fail(t, err, "cannot get %s: %s", e->name, fs_strerror(err));
            break;
        }
        return;
    }
    if (get->canceled)
        tree_fail(t, FS_ECANCELED, "canceled: get");
    tree_end(t);
}

/* ---- start and cancel ---------------------------------------------------------- */

/* Locks the temporary directory, so a second get of the same tree into the
 * same place stops instead of writing into it too. */
static void lock_temp(fs_get_tree_t *t)
{
    if (t->get->status != 0)
        return;
    t->lock_fd = open(t->temp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (t->lock_fd < 0)
        tree_fail(t, fs_from_errno(errno), "cannot write %s: %s", t->temp_path, strerror(errno));
    else if (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0)
        tree_fail(t, FS_EBUSY,
                  "another get of this directory into the same place is running "
                  "(%s); wait for it",
                  t->temp_path);
}

void fs_get_tree(fs_get_t *get, const mf_dir_t *d)
{
    fs_get_tree_t *t = calloc(1, sizeof(*t));
    char name[FS_TEMP_NAME_MAX], *slash;
    mf_dir_t copy = {0};
    struct stat st;

    get->tree_busy = 1;
    if (t == NULL) {
        get->tree_busy = 0;
        fs_get_fail(get, FS_ENOMEM, "cannot get", "a directory");
        fs_get_finish(get);
        return;
    }
    t->get = get;
    t->lock_fd = -1;
    get->tree = t;
    t->bytes_total = d->bytes;
    get->m.size = d->bytes;
    get->final_path =
        get->out_path && get->out_path[0] ? strdup(get->out_path) : fs_path_join(get->dir, d->name);
    fs_temp_name(name, get->key, "dir");
    if (get->final_path != NULL && (slash = strrchr(get->final_path, '/')) != NULL) {
        *slash = '\0';
        t->temp_path = fs_path_join(slash == get->final_path ? "" : get->final_path, name);
        *slash = '/';
    } else if (get->final_path != NULL) {
        t->temp_path = fs_path_join(".", name);
    }
    if (get->final_path == NULL || t->temp_path == NULL) {
        tree_fail(t, FS_ENOMEM, "cannot get %s: %s", d->name, fs_strerror(FS_ENOMEM));
    } else if (fs_name_reserved(fs_path_base(get->final_path))) {
        tree_fail(t, FS_EINVAL, "%s is a name emofs keeps for its own temporary files; %s",
                  get->final_path,
                  get->out_path && get->out_path[0] ? "choose another"
                                                    : "the manifest chose it: get it with -o PATH");
    } else if (lstat(get->final_path, &st) == 0) {
        tree_fail(t, FS_EEXIST, "%s already exists; emofs never writes a directory into %s",
                  get->final_path, S_ISDIR(st.st_mode) ? "an existing one" : "its place");
    } else if (errno != ENOENT) {
        tree_fail(t, fs_from_errno(errno), "cannot write %s: %s", get->final_path, strerror(errno));
    } else {
        /* Copy the listing (d is the fetch's): names and targets too. */
        if (dir_copy(&copy, d) != 0) {
            tree_fail(t, FS_ENOMEM, "cannot get %s: %s", d->name, fs_strerror(FS_ENOMEM));
        } else {
            push_dir(t, &copy, strdup(t->temp_path), 0755);
            lock_temp(t);
        }
    }
    report(t, NULL);
    tree_step(t);
}

void fs_get_tree_cancel(fs_get_tree_t *t)
{
    if (t == NULL)
        return;
    if (t->lock_fd >= 0) { /* the next get of the tree may resume at once */
        close(t->lock_fd);
        t->lock_fd = -1;
    }
    if (t->child != NULL)
        fs_get_cancel(t->child);
}
