/*
 * Hex test vectors and a seeded PRNG for the codec tests. See vectors.h.
 */
#include "vectors.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* @return a uniform-enough number in [0, n); n > 0. */
uint32_t rnd_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd_next(s) % n);
}

void rnd_bytes(uint64_t *s, void *out, size_t n)
{
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd_next(s);
}

void rnd_shuffle(uint64_t *s, void *base, size_t n, size_t size)
{
    uint8_t *p = base, tmp[64];

    for (size_t i = n; size <= sizeof(tmp) && i > 1; i--) {
        size_t j = rnd_below(s, (uint32_t)i);
        memcpy(tmp, p + (i - 1) * size, size);
        memcpy(p + (i - 1) * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses one line of a .hex file (schema/vectors/README.md), appending its
 * bytes to buf[*len..cap). @return 0, or -1 if the line is broken. */
int parse_hex_line(const char *line, uint8_t *buf, size_t cap, size_t *len)
{
    const char *p = line;

    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '#')
        return 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '\0')
            return 0;
        int hi = hexval((unsigned char)p[0]);
        int lo = hi < 0 ? -1 : hexval((unsigned char)p[1]);
        if (lo < 0 || *len >= cap)
            return -1;
        buf[(*len)++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
}

/* Reads a .hex vector into a malloc'ed buffer of exactly its length.
 * @return 0, or -1 (unreadable or broken file). */
static int load_hex(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "r");
    uint8_t *buf = malloc(VECTOR_MAX_LEN);
    char line[4096];
    size_t len = 0;
    int rc = 0;

    if (f == NULL || buf == NULL)
        rc = -1;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strchr(line, '\n') == NULL && !feof(f))
            rc = -1; /* a line too long for the buffer */
        else
            rc = parse_hex_line(line, buf, VECTOR_MAX_LEN, &len);
    }
    if (f != NULL)
        fclose(f);
    if (rc != 0 || len == 0) {
        free(buf);
        return -1;
    }
    /* Exactly len bytes, so that AddressSanitizer sees any over-read. */
    *out = malloc(len);
    if (*out == NULL) {
        free(buf);
        return -1;
    }
    memcpy(*out, buf, len);
    free(buf);
    *out_len = len;
    return 0;
}

static int cmp_vector_name(const void *a, const void *b)
{
    return strcmp(((const vector_t *)a)->name, ((const vector_t *)b)->name);
}

int vectors_load(const char *dir, vector_t *out, size_t max, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    *n = 0;
    if (d == NULL) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", dir);
        return 0;
    }
    while ((de = readdir(d)) != NULL && *n < max) {
        size_t nl = strlen(de->d_name);
        char path[512];
        vector_t *v = &out[*n];

        if (nl < 5 || nl >= sizeof(v->name) || strcmp(de->d_name + nl - 4, ".hex") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (load_hex(path, &v->buf, &v->len) != 0) {
            fprintf(stderr, "broken vector %s\n", path);
            closedir(d);
            return -1;
        }
        memcpy(v->name, de->d_name, nl + 1);
        (*n)++;
    }
    closedir(d);
    qsort(out, *n, sizeof(out[0]), cmp_vector_name);
    return 0;
}

void vectors_free(vector_t *v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(v[i].buf);
    *n = 0;
}

const vector_t *vectors_find(const vector_t *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}
