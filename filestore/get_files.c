/* The files a get keeps beside its output. See get_files.h. */
#include "filestore/get_files.h"

#include "filestore/fs_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fs_temp_name(char name[FS_TEMP_NAME_MAX], const uint8_t key[MF_KEY_LEN], const char *kind)
{
    char hex[65];

    mf_key_to_hex(key, hex);
    snprintf(name, FS_TEMP_NAME_MAX, ".emofs-%.16s.%s", hex, kind);
}

int fs_name_reserved(const char *name)
{
    const char *tail = name + 7 + 16;

    if (strncmp(name, ".emofs-", 7) != 0 || strlen(name) < 7 + 16)
        return 0;
    for (int i = 7; i < 7 + 16; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return strcmp(tail, ".part") == 0 || strcmp(tail, ".journal") == 0 || strcmp(tail, ".dir") == 0;
}

const char *fs_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

void fs_journal_header(uint8_t header[FS_JOURNAL_HEADER], const uint8_t key[MF_KEY_LEN])
{
    memcpy(header, FS_JOURNAL_MAGIC, 8);
    memcpy(header + 8, key, MF_KEY_LEN);
}

int fs_journal_kind(int fd, const uint8_t key[MF_KEY_LEN])
{
    uint8_t want[FS_JOURNAL_HEADER], head[FS_JOURNAL_HEADER];
    ssize_t n = pread(fd, head, sizeof(head), 0);

    if (n < 0)
        return FS_JOURNAL_FOREIGN;
    fs_journal_header(want, key);
    if (memcmp(head, want, (size_t)n) != 0)
        return FS_JOURNAL_FOREIGN;
    return n == (ssize_t)sizeof(head) ? FS_JOURNAL_VALID : FS_JOURNAL_PARTIAL;
}

int fs_file_ours(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_nlink == 1;
}

int fs_file_still_named(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_nlink > 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int fs_temp_open(const char *path, int may_reuse, unsigned mode, int *created, int *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

    *created = fd >= 0;
    if (fd >= 0)
        return fd;
    if (errno != EEXIST) {
        *err = errno == ELOOP || errno == EISDIR ? FS_EEXIST : fs_from_errno(errno);
        return -1;
    }
    if (!may_reuse) {
        *err = FS_EEXIST;
        return -1;
    }
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        *err =
            errno == ELOOP || errno == ENXIO || errno == EISDIR ? FS_EEXIST : fs_from_errno(errno);
        return -1;
    }
    if (!fs_file_ours(fd)) {
        close(fd);
        *err = FS_EEXIST;
        return -1;
    }
    return fd;
}
