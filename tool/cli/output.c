/*
 * Output by the rule of output.h.
 */
#include "tool/cli/output.h"

#include "filestore/fs_error.h"
#include "filestore/place.h"
#include "tool/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int output_open_stream(const char *path, int *fd)
{
    struct stat st;

    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
        *fd = STDOUT_FILENO;
        return 1;
    }
    if (stat(path, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
        return 0;
    *fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (*fd < 0)
        return -cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(errno));
    return 1;
}

int output_write_all(int fd, const uint8_t *buf, size_t len, const char *what)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return cli_fail(EXIT_OUTPUT, "cannot write %s: %s", what,
                            w < 0 ? strerror(errno) : "nothing written");
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* @return 1 if path is a regular file holding exactly buf. */
static int holds(const char *path, const uint8_t *buf, size_t len)
{
    struct stat st;
    uint8_t *have;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), same = 0;

    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len &&
        (have = malloc(len ? len : 1)) != NULL) {
        same = pread(fd, have, len, 0) == (ssize_t)len && memcmp(have, buf, len) == 0;
        free(have);
    }
    close(fd);
    return same;
}

int output_write_file(const char *path, const uint8_t *buf, size_t len, int force)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n), why[128];
    int fd, ok, e = 0, err;

    if (tmp == NULL)
        return cli_fail(EXIT_FAIL, "out of memory");
    if (holds(path, buf, len)) {
        free(tmp);
        return 0;
    }
    snprintf(tmp, n, "%s.emofs-tmp%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ok = fd >= 0;
    for (size_t off = 0; ok && off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    ok = ok && fsync(fd) == 0;
    if (!ok)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        free(tmp);
        return cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(e ? e : EIO));
    }
    err = fs_place_file(tmp, path, force, why, sizeof(why));
    if (err != 0)
        unlink(tmp);
    free(tmp);
    if (err == FS_EEXIST)
        return cli_fail(EXIT_EXISTS, "%s %s", path, why);
    if (err != 0)
        return cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, fs_strerror(err));
    return 0;
}
