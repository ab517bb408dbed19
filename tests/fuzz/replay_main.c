/*
 * Replays a saved fuzz corpus without libFuzzer: calls the target's
 * LLVMFuzzerTestOneInput() on every regular file of a directory, in name
 * order, so that `make test` catches regressions with any C compiler.
 *
 * Usage: replay_TARGET DIR. Exits 0 after replaying at least one input,
 * 1 if DIR is missing, unreadable or holds no regular file.
 */
#include <dirent.h> /* scandir */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h> /* stat */

#include "fuzz.h"

/* Reads the whole file at path. @return 0 and *out, *len (free *out), or -1. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return -1;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            uint8_t *nbuf = realloc(buf, ncap);
            if (nbuf == NULL)
                goto fail;
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    fclose(f);
    return -1;
}

int main(int argc, char **argv)
{
    struct dirent **names;
    int n, replayed = 0, failed = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    n = scandir(argv[1], &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: cannot read directory %s\n", argv[0], argv[1]);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        uint8_t *data;
        size_t len;

        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name);
        free(names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (read_file(path, &data, &len) != 0) {
            fprintf(stderr, "%s: cannot read %s\n", argv[0], path);
            failed = 1;
            continue;
        }
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        replayed++;
    }
    free(names);
    printf("replayed %d inputs from %s\n", replayed, argv[1]);
    if (replayed == 0) {
        fprintf(stderr, "%s: no input in %s\n", argv[0], argv[1]);
        return 1;
    }
    return failed;
}
