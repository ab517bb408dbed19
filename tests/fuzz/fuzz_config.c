/*
 * Fuzz target for a data directory's config file (tool/node/config.h).
 * Whatever the bytes, emofs_config_read must not crash, leak or read
 * outside them; it returns 0 or FS_EINVAL (with a "PATH line N: ..."
 * message), and a file it accepts sets only values within their
 * documented ranges. listen and bootstrap are skipped (their values
 * neither checked nor resolved): a host name would be looked up, and a
 * fuzzer must send nothing anywhere. The input goes through a file of its
 * own, rewritten for each run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filestore/fs_error.h"
#include "fuzz.h"
#include "tool/node/config.h"
#include "tool/node/emofs_node.h" /* the ranges */

static void check(int ok)
{
    if (!ok)
        abort();
}

static char input_file[64];

static void remove_input(void)
{
    unlink(input_file);
}

/* The file the input is written to: made once per process, removed at
 * its exit. */
static const char *input_path(void)
{
    if (input_file[0] == '\0') {
        int fd;
        snprintf(input_file, sizeof(input_file), "/tmp/emofs-fuzz-config.XXXXXX");
        fd = mkstemp(input_file);
        check(fd >= 0);
        close(fd);
        atexit(remove_input);
    }
    return input_file;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = input_path();
    emofs_config_t cfg;
    char err[512];
    FILE *f = fopen(path, "wb");
    int rc;

    check(f != NULL);
    check(fwrite(data, 1, size, f) == size);
    check(fclose(f) == 0);
    err[0] = '\0';
    rc = emofs_config_read(path, CONFIG_LISTEN | CONFIG_BOOTSTRAP, &cfg, NULL, err, sizeof(err));
    if (rc == FS_EINVAL) {
        check(strncmp(err, path, strlen(path)) == 0 && strstr(err, " line ") != NULL);
        return 0;
    }
    check(rc == 0);
    check(!cfg.has_listen && cfg.n_bootstrap == 0);
    check(cfg.store_max == 0 || cfg.store_max >= EMOFS_STORE_MAX_MIN);
    check(cfg.ttl_s <= EMOFS_TTL_MAX_S);
    check(cfg.copies <= EMOFS_COPIES_MAX);
    check(memchr(cfg.network_key, '\0', sizeof(cfg.network_key)) != NULL);
    return 0;
}
