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
    char *tmp;
    int code, ok, e;
    FILE *f;

    if (holds(path, buf, len))
        return 0;
    if ((f = output_open(path, &tmp, &code)) == NULL)
        return code;
    errno = 0;
    ok = fwrite(buf, 1, len, f) == len;
    e = errno;
    code = output_close(f, tmp, path, force, ok);
    if (!ok && code == 0)
        code = cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(e ? e : EIO));
    return code;
}

/* @return 1 if path names a stream (output_open_stream's), without
 * opening it (a FIFO would wait for its reader). */
static int names_stream(const char *path)
{
    struct stat st;

    return strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0 ||
           (stat(path, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)));
}

int output_check(const char *path, int force)
{
    struct stat st;

    if (names_stream(path) || lstat(path, &st) != 0 || (force && S_ISREG(st.st_mode)))
        return 0;
    if (S_ISREG(st.st_mode))
        return cli_fail(EXIT_EXISTS, "%s already exists (--force replaces it)", path);
    return cli_fail(EXIT_EXISTS, "%s is %s; emofs never replaces one", path,
                    fs_place_kind(st.st_mode));
}

FILE *output_open(const char *path, char **tmp, int *code)
{
    size_t n = strlen(path) + 32;
    int fd, r = output_open_stream(path, &fd);
    FILE *f;

    *tmp = NULL;
    if (r < 0) {
        *code = -r;
        return NULL;
    }
    if (r == 0) {
        if ((*tmp = malloc(n)) == NULL) {
            *code = cli_fail(EXIT_FAIL, "out of memory");
            return NULL;
        }
        snprintf(*tmp, n, "%s.emofs-tmp%ld", path, (long)getpid());
        fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            *code = cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(errno));
            free(*tmp);
            *tmp = NULL;
            return NULL;
        }
    }
    f = fdopen(fd == STDOUT_FILENO ? dup(fd) : fd, "w");
    if (f == NULL) {
        *code = cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(errno));
        if (fd != STDOUT_FILENO)
            close(fd);
        if (*tmp != NULL)
            unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

int output_close(FILE *f, char *tmp, const char *path, int force, int ok)
{
    char why[128];
    int e = 0, err, code = 0;

    if (fflush(f) != 0 || (tmp != NULL && fsync(fileno(f)) != 0))
        e = errno;
    if (fclose(f) != 0 && e == 0)
        e = errno;
    if (e != 0 && ok)
        code = cli_fail(EXIT_OUTPUT, "cannot write %s: %s", path, strerror(e));
    if (tmp == NULL)
        return code;
    if (!ok || code != 0) {
        unlink(tmp);
        free(tmp);
        return code;
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
