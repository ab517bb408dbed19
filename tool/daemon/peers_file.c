/*
 * DIR/peers. See peers_file.h.
 */
#include "tool/daemon/peers_file.h"

#include "filestore/fs_error.h"
#include "filestore/place.h" /* fs_path_join */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes all of buf to a new path, synced. @return 0 or an FS_* code. */
static int write_synced(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = 0;

    if (fd < 0)
        return fs_from_errno(errno);
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

int emofs_peers_save(const dht_t *dht, uint64_t now_ms, const char *dir)
{
    uint8_t *buf = malloc(DHT_PEERS_MAX_BYTES);
    char *path = fs_path_join(dir, EMOFS_PEERS_FILE);
    char *tmp = fs_path_join(dir, EMOFS_PEERS_FILE ".tmp");
    size_t len = 0;
    int n, err = FS_ENOMEM;

    if (buf == NULL || path == NULL || tmp == NULL)
        goto done;
    n = dht_export_peers(dht, now_ms, buf, DHT_PEERS_MAX_BYTES, &len);
    if (n <= 0) {
        err = n == 0 ? 0 : n == DHT_ENOMEM ? FS_ENOMEM : FS_EINVAL;
        goto done;
    }
    err = write_synced(tmp, buf, len);
    if (err == 0 && rename(tmp, path) != 0)
        err = fs_from_errno(errno);
    if (err != 0) {
        unlink(tmp);
        goto done;
    }
    err = fs_sync_dir(dir); /* the rename is on disk */
    if (err == 0)
        err = n;
done:
    free(buf);
    free(path);
    free(tmp);
    return err;
}

int emofs_peers_load(const char *dir, uint8_t **buf, size_t *len)
{
    char *path = fs_path_join(dir, EMOFS_PEERS_FILE);
    uint8_t *b = NULL;
    size_t n = 0;
    int fd, err = 0;

    *buf = NULL;
    *len = 0;
    if (path == NULL)
        return FS_ENOMEM;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (fd < 0)
        return errno == ENOENT ? FS_ENOENT : fs_from_errno(errno);
    /* One byte more than any list: a larger file is not a list. */
    b = malloc(DHT_PEERS_MAX_BYTES + 1);
    if (b == NULL)
        err = FS_ENOMEM;
    while (err == 0 && n < DHT_PEERS_MAX_BYTES + 1) {
        ssize_t r = read(fd, b + n, DHT_PEERS_MAX_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = fs_from_errno(errno);
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (err == 0 && n > DHT_PEERS_MAX_BYTES)
        err = FS_ETOOBIG;
    if (err != 0) {
        free(b);
        return err;
    }
    *buf = b;
    *len = n;
    return 0;
}
