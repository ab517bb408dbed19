/*
 * DIR/partials: the temporary files of gets, for gc. See partials.h.
 */
#include "tool/node/partials.h"

#include "filestore/fs_error.h"
#include "filestore/get_files.h"
#include "filestore/place.h" /* fs_path_join */
#include "tool/node/linefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The line of key and dir, in line[cap]. @return 0, or -1 if dir cannot
 * be recorded (relative, a line feed, too long). */
static int format_line(char *line, size_t cap, const uint8_t key[MF_KEY_LEN], const char *dir)
{
    char hex[65];

    if (dir == NULL || dir[0] != '/' || strchr(dir, '\n') != NULL)
        return -1;
    mf_key_to_hex(key, hex);
    return (size_t)snprintf(line, cap, "%s %s", hex, dir) < cap ? 0 : -1;
}

/* @return 1 if DIR/partials already holds line. */
static int recorded(const char *data_dir, const char *want)
{
    char *path = fs_path_join(data_dir, EMOFS_PARTIALS_NAME);
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int found = 0;

    free(path);
    if (f == NULL)
        return 0;
    while (!found && (n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        found = strcmp(line, want) == 0;
    }
    free(line);
    fclose(f);
    return found;
}

static int keep_unequal(const char *line, void *arg)
{
    return strcmp(line, arg) != 0;
}

void emofs_partials_hook(void *arg, const uint8_t key[MF_KEY_LEN], const char *dir, int gone)
{
    const char *data_dir = arg;
    char line[4200];

    if (format_line(line, sizeof(line), key, dir) != 0)
        return;
    if (gone)
        (void)emofs_line_rewrite(data_dir, EMOFS_PARTIALS_NAME, keep_unequal, line);
    else if (!recorded(data_dir, line))
        (void)emofs_line_append(data_dir, EMOFS_PARTIALS_NAME, line);
}

/* ---- gc ------------------------------------------------------------------- */

/* Removes name in dfd if it is a file a get may take over (a regular
 * file of ours with one link: filestore/get_files.h), counting it. */
static void remove_ours(int dfd, const char *name, emofs_partials_result_t *r)
{
    struct stat st;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return;
    if (fs_file_ours(fd) && fstat(fd, &st) == 0 && unlinkat(dfd, name, 0) == 0) {
        r->removed++;
        r->bytes += (uint64_t)st.st_size;
    }
    close(fd);
}

/* Collects the files of one recorded get in dfd.
 * @return 1 to keep its line, 0 to drop it. */
static int collect_one(int dfd, const uint8_t key[MF_KEY_LEN], emofs_partials_result_t *r)
{
    char part[FS_TEMP_NAME_MAX], journal[FS_TEMP_NAME_MAX];
    struct stat st;
    int fd, keep = 1;

    fs_temp_name(part, key, "part");
    fs_temp_name(journal, key, "journal");
    fd = openat(dfd, journal, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        /* No journal: no get runs there (a get makes its journal first).
         * A part left alone is not known to be ours any more. */
        return errno == ENOENT && fstatat(dfd, part, &st, AT_SYMLINK_NOFOLLOW) != 0;
    }
    if (fstat(fd, &st) != 0 || !fs_file_ours(fd)) {
        close(fd);
        return 1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        r->busy += errno == EWOULDBLOCK;
        close(fd);
        return 1;
    }
    if (fs_journal_kind(fd, key) != FS_JOURNAL_FOREIGN) {
        remove_ours(dfd, part, r);
        /* Emptied first: a get that opened it before the unlink and locks
         * it after us finds nothing to resume from. */
        if (ftruncate(fd, 0) == 0 && unlinkat(dfd, journal, 0) == 0) {
            r->removed++;
            r->bytes += (uint64_t)st.st_size;
            keep = 0;
        }
    }
    close(fd); /* the lock goes with it */
    return keep;
}

/* The rewrite's judge: collects the line's get, keeps the line if
 * something of it stays. */
static int collect_line(const char *line, void *arg)
{
    emofs_partials_result_t *r = arg;
    uint8_t key[MF_KEY_LEN];
    char hex[65];
    int dfd, keep;

    if (strlen(line) < 66 || line[64] != ' ' || line[65] != '/')
        return 0; /* not a line of ours: nothing to find from it */
    memcpy(hex, line, 64);
    hex[64] = '\0';
    if (mf_key_from_hex(key, hex) != 0)
        return 0;
    dfd = open(line + 65, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno != ENOENT && errno != ENOTDIR; /* gone with its directory */
    keep = collect_one(dfd, key, r);
    close(dfd);
    return keep;
}

int emofs_partials_collect(const char *data_dir, emofs_partials_result_t *r)
{
    int n;

    memset(r, 0, sizeof(*r));
    n = emofs_line_rewrite(data_dir, EMOFS_PARTIALS_NAME, collect_line, r);
    return n < 0 ? n : 0;
}
