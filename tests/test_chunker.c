/* Tests of the content-defined chunker (filestore/chunker.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include <openssl/evp.h> /* SHA-256 of chunk contents */

#include "filestore/chunker.h"
#include "filestore/fs_error.h"

#define MIB (1u << 20)
#define KIB (1u << 10)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
    uint8_t *b = malloc(len ? len : 1);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

    assert_non_null(b);
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)(x >> 32);
    }
    return b;
}

/* The chunks of a whole file: their lengths and the SHA-256 of each. */
typedef struct chunks {
    size_t n;
    size_t len[4096];
    uint8_t md[4096][32];
} chunks_t;

static chunks_t *chunk_all(const fs_chunker_params_t *p, const uint8_t *data, size_t len)
{
    chunks_t *c = calloc(1, sizeof(*c));
    size_t off = 0;

    assert_non_null(c);
    while (off < len) {
        size_t k = fs_chunker_cut(p, data + off, len - off, 1);

        assert_true(k >= 1 && k <= len - off);
        assert_true(c->n < 4096);
        c->len[c->n] = k;
        assert_true(EVP_Digest(data + off, k, c->md[c->n], NULL, EVP_sha256(), NULL));
        c->n++;
        off += k;
    }
    return c;
}

/* @return how many chunks of a have contents that b does not have. */
static size_t not_in(const chunks_t *a, const chunks_t *b)
{
    size_t missing = 0;

    for (size_t i = 0; i < a->n; i++) {
        size_t j = 0;

        while (j < b->n && memcmp(a->md[i], b->md[j], 32) != 0)
            j++;
        missing += j == b->n;
    }
    return missing;
}

static void check_sizes(const fs_chunker_params_t *p, const chunks_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        assert_true(c->len[i] <= p->max);
        if (i + 1 < c->n)
            assert_true(c->len[i] >= p->min);
    }
}

static void small_params(fs_chunker_params_t *p)
{
    p->min = 256;
    p->avg = 1024;
    p->max = 4096;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

static void test_params(void **state)
{
    fs_chunker_params_t p;

    (void)state;
    fs_chunker_params_default(&p);
    assert_int_equal(p.min, 64 * KIB);
    assert_int_equal(p.avg, 256 * KIB);
    assert_int_equal(p.max, MIB);
    assert_int_equal(fs_chunker_params_check(&p), 0);
    small_params(&p);
    assert_int_equal(fs_chunker_params_check(&p), 0);

    const fs_chunker_params_t bad[] = {
        {63, 1024, 4096},             /* min too small */
        {1024, 1024, 4096},           /* min == avg */
        {256, 1000, 4096},            /* avg not a power of two */
        {256, 4096, 4096},            /* avg == max */
        {256, 1024, 512},             /* max < avg */
        {1 * MIB, 8 * MIB, 17 * MIB}, /* max over 16 MiB */
        {0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fs_chunker_params_check(&bad[i]), FS_EINVAL);
    assert_int_equal(fs_chunker_params_check(NULL), FS_EINVAL);
    p = (fs_chunker_params_t){64, 128, 16 * MIB};
    assert_int_equal(fs_chunker_params_check(&p), 0);
}

static void test_min_max_respected(void **state)
{
    fs_chunker_params_t p;
    size_t len = 8 * MIB;
    uint8_t *data = random_bytes(len, 1);
    chunks_t *c;

    (void)state;
    fs_chunker_params_default(&p);
    c = chunk_all(&p, data, len);
    assert_true(c->n > 8);
    check_sizes(&p, c);
    free(c);

    /* Zeros never match the masks: every chunk is max long. */
    memset(data, 0, len);
    c = chunk_all(&p, data, len);
    assert_int_equal(c->n, len / p.max);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(c->len[i], p.max);
    free(c);
    free(data);
}

static void test_deterministic(void **state)
{
    fs_chunker_params_t p;
    size_t len = 4 * MIB;
    uint8_t *data = random_bytes(len, 2);
    chunks_t *a, *b;

    (void)state;
    fs_chunker_params_default(&p);
    a = chunk_all(&p, data, len);
    b = chunk_all(&p, data, len);
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->len, b->len, a->n * sizeof(a->len[0]));
    assert_memory_equal(a->md, b->md, a->n * 32);
    free(a);
    free(b);
    free(data);
}

static void test_final_and_need_more(void **state)
{
    fs_chunker_params_t p;
    uint8_t *data = random_bytes(2 * MIB, 3);
    size_t cut;

    (void)state;
    fs_chunker_params_default(&p);
    assert_int_equal(fs_chunker_cut(&p, data, 0, 0), 0);
    assert_int_equal(fs_chunker_cut(&p, data, 0, 1), 0);
    /* Shorter than min: the end of the file is the chunk, else wait. */
    assert_int_equal(fs_chunker_cut(&p, data, 1, 1), 1);
    assert_int_equal(fs_chunker_cut(&p, data, 1, 0), 0);
    assert_int_equal(fs_chunker_cut(&p, data, p.min, 1), p.min);
    assert_int_equal(fs_chunker_cut(&p, data, p.min, 0), 0);
    assert_int_equal(fs_chunker_cut(&p, data, p.min - 1, 0), 0);

    /* The cut found in a long buffer; a shorter one that stops before it
     * needs more, one that reaches it gives the same answer. */
    cut = fs_chunker_cut(&p, data, 2 * MIB, 0);
    assert_true(cut >= p.min && cut <= p.max);
    if (cut < p.max) {
        assert_int_equal(fs_chunker_cut(&p, data, cut - 1, 0), 0);
        assert_int_equal(fs_chunker_cut(&p, data, cut - 1, 1), cut - 1);
        assert_int_equal(fs_chunker_cut(&p, data, cut, 0), cut);
    }
    /* max bytes always decide, final or not, and never exceed max. */
    memset(data, 0, 2 * MIB);
    assert_int_equal(fs_chunker_cut(&p, data, p.max, 0), p.max);
    assert_int_equal(fs_chunker_cut(&p, data, 2 * MIB, 0), p.max);
    assert_int_equal(fs_chunker_cut(&p, data, p.max - 1, 0), 0);
    assert_int_equal(fs_chunker_cut(&p, data, p.max - 1, 1), p.max - 1);
    assert_int_equal(fs_chunker_cut(&p, data, p.max + 1, 1), p.max);
    free(data);
}

/* Feeds the file in pieces of pseudo-random sizes, as a reader would, and
 * checks the cuts equal those of the whole. */
static void check_pieces(const fs_chunker_params_t *p, size_t len, size_t piece_max, uint64_t seed)
{
    uint8_t *data = random_bytes(len, seed);
    chunks_t *whole = chunk_all(p, data, len);
    size_t start = 0, avail = 0, n = 0;
    uint64_t x = seed + 7;

    while (start < len) {
        int final = avail == len;
        size_t k = fs_chunker_cut(p, data + start, avail - start, final);

        if (k == 0) {
            assert_false(final && avail > start);
            assert_true(avail - start < p->max);
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            avail += 1 + (size_t)((x >> 33) % piece_max);
            if (avail > len)
                avail = len;
            continue;
        }
        assert_true(n < whole->n);
        assert_int_equal(k, whole->len[n]);
        n++;
        start += k;
    }
    assert_int_equal(n, whole->n);
    free(whole);
    free(data);
}

static void test_pieces_same_as_whole(void **state)
{
    fs_chunker_params_t p;

    (void)state;
    fs_chunker_params_default(&p);
    check_pieces(&p, 6 * MIB + 12345, 200 * KIB, 4);
    check_pieces(&p, 3 * MIB, 3 * MIB, 5);
    small_params(&p);
    check_pieces(&p, 256 * KIB + 7, 700, 6);
}

/* Edits an 8 MiB random file (insert, delete or overwrite one byte at
 * off) and checks that at most two chunks differ either way. */
static void check_edit(const fs_chunker_params_t *p, size_t off, int kind, uint64_t seed)
{
    size_t len = 8 * MIB;
    uint8_t *a = random_bytes(len, seed);
    uint8_t *b = malloc(len + 1);
    size_t blen = len;
    chunks_t *ca, *cb;

    assert_non_null(b);
    if (kind == 0) { /* insert */
        memcpy(b, a, off);
        b[off] = 0x5a;
        memcpy(b + off + 1, a + off, len - off);
        blen = len + 1;
    } else if (kind == 1) { /* delete */
        memcpy(b, a, off);
        memcpy(b + off, a + off + 1, len - off - 1);
        blen = len - 1;
    } else { /* overwrite */
        memcpy(b, a, len);
        b[off] ^= 0xff;
    }
    ca = chunk_all(p, a, len);
    cb = chunk_all(p, b, blen);
    assert_true(ca->n > 4);
    assert_true(not_in(cb, ca) <= 2);
    assert_true(not_in(ca, cb) <= 2);
    assert_true(not_in(cb, ca) >= 1); /* the edited chunk is new */
    free(ca);
    free(cb);
    free(a);
    free(b);
}

static void test_edit_changes_few_chunks(void **state)
{
    fs_chunker_params_t p;
    const size_t offs[] = {100, 70 * KIB, 300 * KIB, 4 * MIB, 4 * MIB + 333};

    (void)state;
    fs_chunker_params_default(&p);
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
        for (int kind = 0; kind < 3; kind++)
            check_edit(&p, offs[i], kind, 10 + i);
}

static void test_small_params_edit(void **state)
{
    fs_chunker_params_t p;
    size_t len = 2 * MIB; /* about 1,500 chunks: chunks_t holds 4,096 */
    uint8_t *a = random_bytes(len, 20);
    uint8_t *b = malloc(len + 1);
    chunks_t *ca, *cb;

    (void)state;
    assert_non_null(b);
    small_params(&p);
    memcpy(b, a, 1000);
    b[1000] = 1;
    memcpy(b + 1001, a + 1000, len - 1000);
    ca = chunk_all(&p, a, len);
    cb = chunk_all(&p, b, len + 1);
    check_sizes(&p, ca);
    check_sizes(&p, cb);
    assert_true(ca->n > 1000);
    assert_true(not_in(cb, ca) <= 2);
    assert_true(not_in(ca, cb) <= 2);
    free(ca);
    free(cb);
    free(a);
    free(b);
}

static void test_average_size(void **state)
{
    fs_chunker_params_t p;
    size_t len = 32 * MIB, off = 0, n = 0;
    uint8_t *data = random_bytes(len, 30);

    (void)state;
    fs_chunker_params_default(&p);
    while (off < len) {
        off += fs_chunker_cut(&p, data + off, len - off, 1);
        n++;
    }
    assert_in_range(len / n, 150 * KIB, 400 * KIB);

    /* Small parameters: the same shape, scaled down. */
    small_params(&p);
    len = 4 * MIB;
    for (off = 0, n = 0; off < len; n++) {
        size_t k = fs_chunker_cut(&p, data + off, len - off, 1);

        assert_true(k <= p.max && (k >= p.min || off + k == len));
        off += k;
    }
    assert_in_range(len / n, 600, 1600);
    free(data);
}

int main(void)
{
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_min_max_respected),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_final_and_need_more),
        cmocka_unit_test(test_pieces_same_as_whole),
        cmocka_unit_test(test_edit_changes_few_chunks),
        cmocka_unit_test(test_small_params_edit),
        cmocka_unit_test(test_average_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
