/*
 * Putting a finished file in place. See place.h.
 */
#define _GNU_SOURCE /* renameat2 */

#include "filestore/place.h"

#include "filestore/fs_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *fs_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p != NULL)
        snprintf(p, a + b + 2, "%s%s%s", dir, a && dir[a - 1] == '/' ? "" : "/", name);
    return p;
}

const char *fs_place_kind(unsigned mode)
{
    return S_ISLNK(mode)    ? "a symbolic link"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

static int rename_noreplace(const char *from, const char *to)
{
    int e;

    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    e = errno;
    if (e != EINVAL && e != ENOSYS)
        return e;
    /* No RENAME_NOREPLACE on this file system (NFS, say). A file: link
     * fails if to exists. A directory cannot be linked: claim the name
     * with an empty directory (mkdir fails if anything is there), then
     * rename over that, which only replaces an empty directory. */
    struct stat st;
    if (lstat(from, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (mkdir(to, 0700) != 0)
            return errno;
        return rename(from, to) == 0 ? 0 : errno;
    }
    if (link(from, to) != 0)
        return errno;
    unlink(from);
    return 0;
}

int fs_place_file(const char *from, const char *to, int force, char *why, size_t why_cap)
{
    struct stat st;
    int e;

    if (lstat(to, &st) == 0 && (!force || !S_ISREG(st.st_mode))) {
        if (S_ISREG(st.st_mode))
            snprintf(why, why_cap, "already exists (--force replaces it)");
        else
            snprintf(why, why_cap, "is %s; emofs never replaces one", fs_place_kind(st.st_mode));
        return FS_EEXIST;
    }
    if (force)
        e = rename(from, to) == 0 ? 0 : errno;
    else
        e = rename_noreplace(from, to);
    if (e == EEXIST) {
        snprintf(why, why_cap, "appeared meanwhile; not replacing it (--force does)");
        return FS_EEXIST;
    }
    return e == 0 ? 0 : fs_from_errno(e);
}

int fs_sync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = 0;

    if (fd < 0)
        return fs_from_errno(errno);
    if (fsync(fd) != 0)
        err = fs_from_errno(errno);
    close(fd);
    return err;
}

/* Writes all of buf to a new path, synced. @return 0 or an FS_* code. */
static int write_synced(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int err = 0;

    if (fd < 0)
        return fs_from_errno(errno);
    if (fchmod(fd, 0600) != 0) /* a .tmp left over keeps its mode otherwise */
        err = fs_from_errno(errno);
    for (size_t off = 0; err == 0 && off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = fs_from_errno(w < 0 ? errno : EIO);
        else
            off += (size_t)w;
    }
    if (err == 0 && fsync(fd) != 0)
        err = fs_from_errno(errno);
    if (close(fd) != 0 && err == 0)
        err = fs_from_errno(errno);
    return err;
}

int fs_replace_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char *path = fs_path_join(dir, name);
    char *tmp = NULL;
    int err = FS_ENOMEM;

    if (path != NULL && (tmp = malloc(strlen(path) + 5)) != NULL) {
        snprintf(tmp, strlen(path) + 5, "%s.tmp", path);
        err = write_synced(tmp, buf, len);
        if (err == 0 && rename(tmp, path) != 0)
            err = fs_from_errno(errno);
        if (err != 0)
            unlink(tmp);
        else
            err = fs_sync_dir(dir); /* the rename is on disk */
    }
    free(path);
    free(tmp);
    return err;
}
