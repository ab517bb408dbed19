/* A private network's key file. See network_key.h. */
#include "tool/node/network_key.h"

#include "dht.h"
#include "filestore/fs_error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int emofs_network_key_load(const char *path, uint8_t *key, FILE *warn, char *err, size_t err_cap)
{
    uint8_t buf[EMOFS_NETWORK_KEY_FILE_MAX + 1];
    size_t len = 0;
    struct stat st;
    dht_id_t digest;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang us */

    if (fd < 0) {
        snprintf(err, err_cap, "network key %s: %s", path, strerror(errno));
        return FS_EINVAL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, err_cap, "network key %s: not a regular file", path);
        return FS_EINVAL;
    }
    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_cap, "network key %s: %s", path, strerror(errno));
            close(fd);
            return FS_EINVAL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len < EMOFS_NETWORK_KEY_FILE_MIN || len > EMOFS_NETWORK_KEY_FILE_MAX) {
        snprintf(err, err_cap,
                 "network key %s: %s (want %d to %d bytes; make one with "
                 "'head -c 32 /dev/urandom > %s')",
                 path, len < EMOFS_NETWORK_KEY_FILE_MIN ? "too short" : "too long",
                 EMOFS_NETWORK_KEY_FILE_MIN, EMOFS_NETWORK_KEY_FILE_MAX, path);
        return FS_EINVAL;
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0 && warn != NULL)
        fprintf(warn, "emofs: network key %s is readable by other users (chmod 600 %s)\n", path,
                path);
    dht_id_from_bytes(&digest, buf, len); /* SHA-256 */
    memcpy(key, digest.b, EMOFS_NETWORK_KEY_LEN);
    memset(buf, 0, sizeof(buf));
    memset(&digest, 0, sizeof(digest));
    return 0;
}
