/*
 * bench_filestore: throughput of the filestore's pieces, in memory:
 * the chunker, SHA-256 (EVP), the chunk codec on random and on
 * compressible data (each over 256 MiB, in 256 KiB chunks for the codec
 * and the hash), then fs_store_put of 64 MiB of 256 KiB blobs (one fsync
 * per blob, plus the directory's) in a temporary directory.
 *
 * For the codec it also shows what the sampling shortcut buys: plain
 * ZSTD_compress2 at the same level on the same chunks, its speed and its
 * output size.
 *
 *   bench_filestore [MIB] [TMPDIR]     (defaults: 256, /var/tmp)
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "filestore/chunk_codec.h"
#include "filestore/chunk_store.h"
#include "filestore/chunker.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h> /* SHA-256 */
#include <zstd.h>

#define CHUNK (256u << 10)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void fill_random(uint8_t *b, size_t len, uint64_t seed)
{
    uint64_t x = seed;

    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v = next(&x);
        memcpy(b + i, &v, 8);
    }
}

/* Log-like text: a few hundred line templates with varying numbers. */
static void fill_text(uint8_t *b, size_t len, uint64_t seed)
{
    static const char *const verbs[] = {"stored", "fetched", "verified", "dropped", "sent"};
    static const char *const what[] = {"chunk", "manifest", "value", "provider record"};
    uint64_t x = seed;
    size_t i = 0;
    char line[160];

    while (i < len) {
        int n = snprintf(
            line, sizeof(line), "2024-05-%02u 12:%02u:%02u node %04x %s %s %016llx (%u bytes)\n",
            (unsigned)(next(&x) % 28 + 1), (unsigned)(next(&x) % 60), (unsigned)(next(&x) % 60),
            (unsigned)(next(&x) % 64), verbs[next(&x) % 5], what[next(&x) % 4],
            (unsigned long long)(next(&x) & 0xffffff), (unsigned)(next(&x) % 300000));
        size_t k = (size_t)n < len - i ? (size_t)n : len - i;

        memcpy(b + i, line, k);
        i += k;
    }
}

static void report(const char *what, size_t bytes, double s)
{
    printf("  %-34s %8.0f MiB/s\n", what, (double)bytes / (1 << 20) / s);
}

static void bench_chunker(const uint8_t *b, size_t len)
{
    fs_chunker_params_t p;
    size_t off = 0, n = 0;
    double t;

    fs_chunker_params_default(&p);
    t = now_s();
    while (off < len) {
        off += fs_chunker_cut(&p, b + off, len - off, 1);
        n++;
    }
    t = now_s() - t;
    report("chunker (random)", len, t);
    printf("  %-34s %8zu KiB\n", "  average chunk", len / n / 1024);
}

static void bench_sha(const uint8_t *b, size_t len)
{
    uint8_t md[32];
    double t = now_s();

    for (size_t off = 0; off < len; off += CHUNK)
        EVP_Digest(b + off, CHUNK, md, NULL, EVP_sha256(), NULL);
    report("SHA-256 (EVP, 256 KiB pieces)", len, now_s() - t);
}

static void bench_codec(const char *name, const uint8_t *b, size_t len)
{
    fs_codec_t *c = NULL;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    uint8_t *out = malloc(fs_codec_bound(CHUNK));
    size_t enc = 0, zsz = 0, n, raw = 0;
    char label[64];
    double t;

    if (fs_codec_new(&c, FS_CODEC_LEVEL_DEFAULT) != 0 || z == NULL || out == NULL) {
        fprintf(stderr, "bench_filestore: out of memory\n");
        exit(1);
    }
    t = now_s();
    for (size_t off = 0; off < len; off += CHUNK) {
        fs_codec_encode(c, b + off, CHUNK, out, &n);
        enc += n;
        raw += out[0] == FS_CODEC_RAW;
    }
    t = now_s() - t;
    snprintf(label, sizeof(label), "codec encode (%s)", name);
    report(label, len, t);
    printf("  %-34s %8.3f (%zu of %zu chunks raw)\n", "  size ratio", (double)enc / (double)len,
           raw, len / CHUNK);

    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, FS_CODEC_LEVEL_DEFAULT);
    t = now_s();
    for (size_t off = 0; off < len; off += CHUNK)
        zsz += ZSTD_compress2(z, out, fs_codec_bound(CHUNK), b + off, CHUNK);
    t = now_s() - t;
    snprintf(label, sizeof(label), "  plain zstd, no sampling (%s)", name);
    report(label, len, t);
    printf("  %-34s %8.3f\n", "  size ratio", (double)zsz / (double)len);
    ZSTD_freeCCtx(z);
    fs_codec_free(c);
    free(out);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void bench_store(const uint8_t *b, size_t len, const char *tmpdir)
{
    char dir[512];
    fs_store_t *st = NULL;
    uint8_t key[MF_KEY_LEN];
    double t;
    int err = 0;

    snprintf(dir, sizeof(dir), "%s/bench-filestore-XXXXXX", tmpdir);
    if (mkdtemp(dir) == NULL || fs_store_open(&st, dir) != 0) {
        fprintf(stderr, "bench_filestore: cannot make a store in %s\n", tmpdir);
        exit(1);
    }
    t = now_s();
    for (size_t off = 0; off < len && err == 0; off += CHUNK) {
        EVP_Digest(b + off, CHUNK, key, NULL, EVP_sha256(), NULL);
        err = fs_store_put(st, key, b + off, CHUNK, 0);
    }
    t = now_s() - t;
    if (err != 0)
        fprintf(stderr, "bench_filestore: put failed (%d)\n", err);
    report("fs_store_put (256 KiB, fsync each)", len, t);
    printf("  %-34s %8.0f blobs/s\n", "", (double)(len / CHUNK) / t);
    fs_store_close(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    const char *tmpdir = argc > 2 ? argv[2] : "/var/tmp";
    size_t len = (mib ? mib : 1) << 20;
    uint8_t *rnd = malloc(len), *txt = malloc(len);

    if (rnd == NULL || txt == NULL) {
        fprintf(stderr, "bench_filestore: out of memory\n");
        return 1;
    }
    fill_random(rnd, len, 0x1234567);
    fill_text(txt, len, 0x7654321);
    printf("filestore, %zu MiB in memory\n", mib);
    bench_chunker(rnd, len);
    bench_sha(rnd, len);
    bench_codec("random", rnd, len);
    bench_codec("log text", txt, len);
    bench_store(rnd, len < (64u << 20) ? len : (64u << 20), tmpdir);
    free(rnd);
    free(txt);
    return 0;
}
