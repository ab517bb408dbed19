/*
 * DIR/peers. See peers_file.h.
 */
#include "tool/daemon/peers_file.h"

#include "filestore/fs_error.h"
#include "filestore/place.h" /* fs_path_join, fs_replace_file */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int emofs_peers_save(const dht_t *dht, uint64_t now_ms, const char *dir)
{
    uint8_t *buf = malloc(DHT_PEERS_MAX_BYTES);
    size_t len = 0;
    int n, err = FS_ENOMEM;

    if (buf == NULL)
        goto done;
    n = dht_export_peers(dht, now_ms, buf, DHT_PEERS_MAX_BYTES, &len);
    if (n <= 0) {
        err = n == 0 ? 0 : n == DHT_ENOMEM ? FS_ENOMEM : FS_EINVAL;
        goto done;
    }
    err = fs_replace_file(dir, EMOFS_PEERS_FILE, buf, len);
    if (err == 0)
        err = n;
done:
    free(buf);
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
