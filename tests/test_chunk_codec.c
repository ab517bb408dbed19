/* Tests of the chunk codec (filestore/chunk_codec.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include <zstd.h>

#include "filestore/chunk_codec.h"
#include "filestore/fs_error.h"

#define KIB (1u << 10)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
    uint8_t *b = malloc(len ? len : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(next(&x) >> 32);
    return b;
}

/* Text-like bytes: words from a small vocabulary, spaces and newlines. */
static uint8_t *text_bytes(size_t len, uint64_t seed)
{
    static const char *const words[] = {"the",   "chunk", "store",    "peer", "file",
                                        "hash",  "zstd",  "manifest", "of",   "and",
                                        "bytes", "a",     "network",  "key",  "value"};
    uint8_t *b = malloc(len ? len : 1);
    uint64_t x = seed + 99;
    size_t i = 0;

    assert_non_null(b);
    while (i < len) {
        const char *w = words[next(&x) % (sizeof(words) / sizeof(words[0]))];

        for (size_t j = 0; w[j] != '\0' && i < len; j++)
            b[i++] = (uint8_t)w[j];
        if (i < len)
            b[i++] = next(&x) % 12 == 0 ? '\n' : ' ';
    }
    return b;
}

static fs_codec_t *new_codec(void)
{
    fs_codec_t *c = NULL;

    assert_int_equal(fs_codec_new(&c, FS_CODEC_LEVEL_DEFAULT), 0);
    assert_non_null(c);
    return c;
}

/* Encodes plain into a malloc()ed buffer; *enc_len its size. */
static uint8_t *encode(fs_codec_t *c, const uint8_t *plain, size_t len, size_t *enc_len)
{
    uint8_t *enc = malloc(fs_codec_bound(len));

    assert_non_null(enc);
    assert_int_equal(fs_codec_encode(c, plain, len, enc, enc_len), 0);
    assert_true(*enc_len >= 1 && *enc_len <= fs_codec_bound(len));
    assert_true(*enc_len <= len + 1);
    return enc;
}

/* Encodes, decodes, compares; @return the header byte used. */
static int round_trip(fs_codec_t *c, const uint8_t *plain, size_t len)
{
    size_t enc_len;
    uint8_t *enc = encode(c, plain, len, &enc_len);
    uint8_t *out = malloc(len ? len : 1);
    int hdr = enc[0];

    assert_non_null(out);
    assert_int_equal(fs_codec_decode(c, enc, enc_len, out, len), 0);
    if (len > 0)
        assert_memory_equal(out, plain, len);
    if (hdr == FS_CODEC_ZSTD)
        assert_true(enc_len < len + 1);
    free(enc);
    free(out);
    return hdr;
}

static int decode(fs_codec_t *c, const uint8_t *enc, size_t len, size_t plain_len)
{
    uint8_t *out = malloc(plain_len ? plain_len : 1);
    int err;

    assert_non_null(out);
    err = fs_codec_decode(c, enc, len, out, plain_len);
    free(out);
    return err;
}

/* Compresses plain with its own context; content size in the header iff
 * with_size. @return a malloc()ed [FS_CODEC_ZSTD, frame...]. */
static uint8_t *zstd_chunk(const uint8_t *plain, size_t len, int with_size, size_t *out_len)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(len), n;
    uint8_t *out = malloc(1 + cap);

    assert_non_null(z);
    assert_non_null(out);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, with_size)));
    assert_false(
        ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, FS_CODEC_LEVEL_DEFAULT)));
    if (with_size) {
        n = ZSTD_compress2(z, out + 1, cap, plain, len);
    } else {
        /* The streaming API with no pledged size leaves the size out. */
        ZSTD_outBuffer ob = {out + 1, cap, 0};
        ZSTD_inBuffer ib = {plain, len, 0};

        n = ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_end);
        assert_int_equal(n, 0);
        n = ob.pos;
    }
    assert_false(ZSTD_isError(n));
    ZSTD_freeCCtx(z);
    out[0] = FS_CODEC_ZSTD;
    *out_len = 1 + n;
    return out;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_round_trips(void **state)
{
    fs_codec_t *c = new_codec();
    const size_t sizes[] = {0, 1, 2, 17, 1000, 64 * KIB - 1, 64 * KIB, 256 * KIB, 1u << 20};

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *r = random_bytes(n, i + 1), *t = text_bytes(n, i), *z = calloc(1, n + 1);

        assert_non_null(z);
        assert_int_equal(round_trip(c, r, n), FS_CODEC_RAW);
        round_trip(c, t, n);
        round_trip(c, z, n);
        if (n >= 1000) {
            assert_int_equal(round_trip(c, t, n), FS_CODEC_ZSTD);
            assert_int_equal(round_trip(c, z, n), FS_CODEC_ZSTD);
        }
        free(r);
        free(t);
        free(z);
    }
    fs_codec_free(c);
    fs_codec_free(NULL);
}

static void test_empty_and_one_byte(void **state)
{
    fs_codec_t *c = new_codec();
    uint8_t enc[128], one = 0x42, out = 0;
    size_t n = 0;

    (void)state;
    assert_true(fs_codec_bound(0) <= sizeof(enc));
    assert_int_equal(fs_codec_encode(c, NULL, 0, enc, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(enc[0], FS_CODEC_RAW);
    assert_int_equal(fs_codec_decode(c, enc, 1, NULL, 0), 0);
    assert_int_equal(fs_codec_encode(c, &one, 1, enc, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(enc[0], FS_CODEC_RAW);
    assert_int_equal(enc[1], 0x42);
    assert_int_equal(fs_codec_decode(c, enc, 2, &out, 1), 0);
    assert_int_equal(out, 0x42);
    assert_int_equal(fs_codec_encode(c, NULL, 5, enc, &n), FS_EINVAL);
    fs_codec_free(c);
}

static void test_compressible_smaller_random_raw(void **state)
{
    fs_codec_t *c = new_codec();
    size_t len = 256 * KIB, n;
    uint8_t *t = text_bytes(len, 1), *r = random_bytes(len, 2), *enc;

    (void)state;
    enc = encode(c, t, len, &n);
    assert_int_equal(enc[0], FS_CODEC_ZSTD);
    assert_true(n < len / 2);
    free(enc);
    enc = encode(c, r, len, &n);
    assert_int_equal(enc[0], FS_CODEC_RAW);
    assert_int_equal(n, len + 1);
    assert_memory_equal(enc + 1, r, len);
    free(enc);
    free(t);
    free(r);
    fs_codec_free(c);
}

/* The sample check must not cost compression on data that compresses:
 * the codec's frame is the one plain zstd makes at the same level. */
static void test_sampling_keeps_ratio(void **state)
{
    fs_codec_t *c = new_codec();
    size_t len = 512 * KIB, n, zn;
    uint8_t *t = text_bytes(len, 3), *enc, *ref;

    (void)state;
    /* Half random, half text: the middle sample is mostly text. */
    uint8_t *r = random_bytes(len / 2, 4);
    memcpy(t, r, len / 2 - 4 * KIB);
    free(r);
    enc = encode(c, t, len, &n);
    ref = zstd_chunk(t, len, 1, &zn);
    assert_int_equal(enc[0], FS_CODEC_ZSTD);
    assert_int_equal(n, zn);
    assert_memory_equal(enc, ref, n);
    free(enc);
    free(ref);
    free(t);
    fs_codec_free(c);
}

static void test_deterministic(void **state)
{
    fs_codec_t *a = new_codec(), *b = new_codec();
    size_t len = 300 * KIB, n1, n2, n3;
    uint8_t *t = text_bytes(len, 5), *r = random_bytes(len, 6);
    uint8_t *e1, *e2, *e3;

    (void)state;
    e1 = encode(a, t, len, &n1);
    free(encode(a, r, len, &n2)); /* state left from another chunk */
    e2 = encode(a, t, len, &n2);
    e3 = encode(b, t, len, &n3);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(e1, e2, n1);
    assert_memory_equal(e1, e3, n1);
    free(e1);
    free(e2);
    free(e3);
    free(t);
    free(r);
    fs_codec_free(a);
    fs_codec_free(b);
}

static void test_corrupt_header_and_raw(void **state)
{
    fs_codec_t *c = new_codec();
    uint8_t enc[8] = {FS_CODEC_RAW, 1, 2, 3, 4, 5, 6, 7};

    (void)state;
    assert_int_equal(decode(c, enc, 0, 0), FS_ECORRUPT);
    assert_int_equal(decode(c, enc, 8, 7), 0);
    assert_int_equal(decode(c, enc, 8, 6), FS_ECORRUPT);
    assert_int_equal(decode(c, enc, 8, 8), FS_ECORRUPT);
    assert_int_equal(decode(c, enc, 1, 1), FS_ECORRUPT);
    for (int h = 2; h < 256; h++) {
        enc[0] = (uint8_t)h;
        assert_int_equal(decode(c, enc, 8, 7), FS_ECORRUPT);
    }
    enc[0] = FS_CODEC_ZSTD; /* not a frame */
    assert_int_equal(decode(c, enc, 8, 7), FS_ECORRUPT);
    assert_int_equal(decode(c, enc, 1, 0), FS_ECORRUPT);
    fs_codec_free(c);
}

/* Offset (in the chunk) and size of the frame content size field. */
static void fcs_field(const uint8_t *chunk, size_t *off, size_t *size)
{
    const uint8_t fhd = chunk[5]; /* after the header byte and magic */
    const size_t did[4] = {0, 1, 2, 4}, fcs[4] = {0, 2, 4, 8};
    int single = (fhd >> 5) & 1;

    *off = 6 + (size_t)(single ? 0 : 1) + did[fhd & 3];
    *size = fcs[fhd >> 6];
    if (*size == 0 && single)
        *size = 1;
}

static void test_corrupt_frames(void **state)
{
    fs_codec_t *c = new_codec();
    size_t len = 100 * KIB, n, off, fsz;
    uint8_t *t = text_bytes(len, 7), *good, *bad;

    (void)state;
    good = zstd_chunk(t, len, 1, &n);
    assert_int_equal(decode(c, good, n, len), 0);

    /* Content size missing from the frame header. */
    bad = zstd_chunk(t, len, 0, &off);
    assert_true(ZSTD_getFrameContentSize(bad + 1, off - 1) == ZSTD_CONTENTSIZE_UNKNOWN);
    {
        uint8_t *plain = malloc(len); /* otherwise a valid frame */

        assert_non_null(plain);
        assert_true(ZSTD_decompress(plain, len, bad + 1, off - 1) == len);
        assert_memory_equal(plain, t, len);
        free(plain);
    }
    assert_int_equal(decode(c, bad, off, len), FS_ECORRUPT);
    free(bad);
    bad = malloc(2 * n + 16);
    assert_non_null(bad);

    /* Content size not the manifest's. */
    assert_int_equal(decode(c, good, n, len - 1), FS_ECORRUPT);
    assert_int_equal(decode(c, good, n, len + 1), FS_ECORRUPT);

    /* The header claims one byte more than the frame decodes to. */
    memcpy(bad, good, n);
    fcs_field(good, &off, &fsz);
    assert_int_equal(fsz, 4);
    bad[off] = (uint8_t)(bad[off] + 1); /* len is not 255 mod 256 */
    assert_int_equal(decode(c, bad, n, len + 1), FS_ECORRUPT);

    /* Trailing bytes: one byte, a second frame, a skippable frame. */
    memcpy(bad, good, n);
    bad[n] = 0;
    assert_int_equal(decode(c, bad, n + 1, len), FS_ECORRUPT);
    memcpy(bad + n, good + 1, n - 1);
    assert_int_equal(decode(c, bad, 2 * n - 1, len), FS_ECORRUPT);
    memcpy(bad + n, "\x50\x2a\x4d\x18\x00\x00\x00\x00", 8);
    assert_int_equal(decode(c, bad, n + 8, len), FS_ECORRUPT);

    /* A skippable frame alone, claiming an empty chunk. */
    bad[0] = FS_CODEC_ZSTD;
    memcpy(bad + 1, "\x50\x2a\x4d\x18\x00\x00\x00\x00", 8);
    assert_int_equal(decode(c, bad, 9, 0), FS_ECORRUPT);

    /* Truncated anywhere. */
    for (size_t cut = 1; cut < n; cut += 1 + cut / 4)
        assert_int_equal(decode(c, good, cut, len), FS_ECORRUPT);

    /* A flipped byte: decoding fails or yields len bytes (the key, not
     * the codec, catches the rest), and never crashes. */
    for (size_t i = 1; i < n; i += 1 + i / 8) {
        int err;

        memcpy(bad, good, n);
        bad[i] ^= 0x55;
        err = decode(c, bad, n, len);
        assert_true(err == 0 || err == FS_ECORRUPT);
    }
    /* The context still works after all that. */
    assert_int_equal(decode(c, good, n, len), 0);
    free(good);
    free(bad);
    free(t);
    fs_codec_free(c);
}

int main(void)
{
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_empty_and_one_byte),
        cmocka_unit_test(test_compressible_smaller_random_raw),
        cmocka_unit_test(test_sampling_keeps_ratio),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_corrupt_header_and_raw),
        cmocka_unit_test(test_corrupt_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
