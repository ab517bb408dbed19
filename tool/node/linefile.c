/*
 * One-record-a-line files of the data directory. See linefile.h.
 */
#include "tool/node/linefile.h"

#include "filestore/fs_error.h"
#include "filestore/place.h" /* fs_path_join, fs_replace_file */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int emofs_line_append(const char *dir, const char *name, const char *line)
{
    char *path = fs_path_join(dir, name);
    FILE *f;
    int fd, ok;

    if (path == NULL)
        return FS_ENOMEM;
    /* Private to its owner, whatever the umask or the data directory's
     * own mode (one the user made may be readable by others); never
     * through a symlink someone planted. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    if (fd < 0)
        return fs_from_errno(errno);
    (void)fchmod(fd, 0600); /* a list made by an older emofs was 0644 */
    f = fdopen(fd, "a");
    if (f == NULL) {
        int err = fs_from_errno(errno);
        close(fd);
        return err;
    }
    ok = fprintf(f, "%s\n", line) > 0;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : FS_EIO;
}

/* A growing buffer of the lines kept. */
typedef struct text {
    char *s;
    size_t len, cap;
} text_t;

static int text_add(text_t *t, const char *line, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (s == NULL)
            return FS_ENOMEM;
        t->s = s;
        t->cap = cap;
    }
    memcpy(t->s + t->len, line, n);
    t->s[t->len + n] = '\n';
    t->len += n + 1;
    return 0;
}

/* Reads path's lines through keep into t. @return lines dropped, or an
 * FS_* code. */
static int filter(const char *path, emofs_line_keep_fn keep, void *arg, text_t *t)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int dropped = 0, err = 0;

    if (f == NULL)
        return errno == ENOENT ? 0 : fs_from_errno(errno);
    while (err == 0 && (n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (keep(line, arg))
            err = text_add(t, line, (size_t)n);
        else
            dropped++;
    }
    if (err == 0 && ferror(f))
        err = FS_EIO;
    free(line);
    fclose(f);
    return err != 0 ? err : dropped;
}

int emofs_line_rewrite(const char *dir, const char *name, emofs_line_keep_fn keep, void *arg)
{
    char *path = fs_path_join(dir, name);
    text_t t = {NULL, 0, 0};
    int dropped, err;

    if (path == NULL)
        return FS_ENOMEM;
    dropped = filter(path, keep, arg, &t);
    err = dropped;
    if (dropped > 0) {
        err = fs_replace_file(dir, name, t.s != NULL ? t.s : "", t.len);
        if (err == 0)
            err = dropped;
    }
    free(t.s);
    free(path);
    return err;
}
