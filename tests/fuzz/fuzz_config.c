/*
 * Fuzz target for a data directory's config file (tool/node/config.h).
 * Whatever the bytes, emofs_config_parse must not crash, leak or read
 * outside them; it returns 0 or FS_EINVAL (with a "NAME line N: ..."
 * message), and a text it accepts sets only values within their
 * documented ranges. listen, bootstrap and advertise are skipped (their
 * values neither checked nor resolved): a host name would be looked up,
 * and a fuzzer must send nothing anywhere. The input is read from memory
 * (fmemopen), as emofs_config_read reads a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filestore/fs_error.h"
#include "fuzz.h"
#include "tool/node/config.h"
#include "tool/node/emofs_node.h" /* the ranges */

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char name[] = "config";
    const unsigned skip = CONFIG_LISTEN | CONFIG_BOOTSTRAP | CONFIG_ADVERTISE;
    emofs_config_t cfg;
    char err[512], empty = '\0';
    /* fmemopen of a zero-length buffer fails (EINVAL) on older glibc. */
    FILE *f = fmemopen(size ? (void *)data : &empty, size ? size : 1, "r");
    int rc;

    check(f != NULL);
    if (size == 0)
        check(fgetc(f) == '\0'); /* past the stand-in byte: the text is empty */
    err[0] = '\0';
    rc = emofs_config_parse(f, name, skip, &cfg, NULL, err, sizeof(err));
    fclose(f);
    if (rc == FS_EINVAL) {
        check(strncmp(err, name, strlen(name)) == 0 && strstr(err, " line ") != NULL);
        return 0;
    }
    check(rc == 0);
    check(!cfg.has_listen && cfg.n_bootstrap == 0 && cfg.advertise.family == 0);
    check(cfg.store_max == 0 || cfg.store_max >= EMOFS_STORE_MAX_MIN);
    check(cfg.ttl_s <= EMOFS_TTL_MAX_S);
    check(cfg.copies <= EMOFS_COPIES_MAX);
    check(cfg.region <= 65535);
    check(memchr(cfg.network_key, '\0', sizeof(cfg.network_key)) != NULL);
    return 0;
}
