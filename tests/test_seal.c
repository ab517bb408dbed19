/*
 * Tests of sealing (manifests/seal.h) and sealed manifests
 * (mf_encode_sealed, mf_asm_new_sealed) against schema/manifest.md,
 * section 9: the vectors of schema/vectors/seal/ (made with another
 * AES-GCM implementation, Python's cryptography) seal and open byte for
 * byte; a wrong secret or a changed byte never opens; sealed manifests of
 * one node and of a tree round-trip, carry no plain byte of what they
 * describe, and refuse a wrong secret or a plain node.
 *
 * Run from the repository root: the vectors are read at run time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest.h"
#include "manifests/seal.h"

#define VECTOR_DIR "schema/vectors/seal"

static vector_t vectors[16];
static size_t n_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return vectors_load(VECTOR_DIR, vectors, 16, &n_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    vectors_free(vectors, &n_vectors);
    return 0;
}

static const vector_t *vec(const char *name)
{
    const vector_t *v = vectors_find(vectors, n_vectors, name);

    if (v == NULL)
        fail_msg("vector %s missing", name);
    return v;
}

/* Seals plain vector <what>.plain and checks secret, sealed bytes and key
 * against the vectors; opens them again. */
static void check_vector(const char *what)
{
    char name[64];
    const vector_t *plain, *secret, *sealed, *key;
    uint8_t s[MF_KEY_LEN], k[MF_KEY_LEN], *out, *back;

    snprintf(name, sizeof(name), "%s.plain.hex", what);
    plain = vec(name);
    snprintf(name, sizeof(name), "%s.secret.hex", what);
    secret = vec(name);
    snprintf(name, sizeof(name), "%s.sealed.hex", what);
    sealed = vec(name);
    snprintf(name, sizeof(name), "%s.key.hex", what);
    key = vec(name);
    assert_int_equal(sealed->len, plain->len + MF_SEAL_TAG_LEN);
    assert_int_equal(mf_seal_secret(plain->buf, plain->len, s), MF_OK);
    assert_memory_equal(s, secret->buf, MF_KEY_LEN);
    out = malloc(sealed->len);
    back = malloc(plain->len);
    assert_non_null(out);
    assert_non_null(back);
    assert_int_equal(mf_seal(s, plain->buf, plain->len, out), MF_OK);
    assert_memory_equal(out, sealed->buf, sealed->len);
    assert_int_equal(mf_sha256(out, sealed->len, k), MF_OK);
    assert_memory_equal(k, key->buf, MF_KEY_LEN);
    assert_int_equal(mf_unseal(s, sealed->buf, sealed->len, back), MF_OK);
    assert_memory_equal(back, plain->buf, plain->len);
    /* In place, as the file engines do it: the same bytes, both ways. */
    memcpy(out, plain->buf, plain->len);
    assert_int_equal(mf_seal(s, out, plain->len, out), MF_OK);
    assert_memory_equal(out, sealed->buf, sealed->len);
    assert_int_equal(mf_unseal(s, out, sealed->len, out), MF_OK);
    assert_memory_equal(out, plain->buf, plain->len);
    free(out);
    free(back);
}

static void test_vectors(void **state)
{
    (void)state;
    check_vector("chunk");
    check_vector("root");
}

/* The root vector opens into a manifest naming the chunk vector. */
static void test_vector_manifest(void **state)
{
    const vector_t *root = vec("root.sealed.hex");
    mf_manifest_t m;
    mf_asm_t *a;

    (void)state;
    assert_int_equal(mf_asm_new_sealed(&a, vec("root.key.hex")->buf, vec("root.secret.hex")->buf),
                     MF_OK);
    assert_int_equal(mf_asm_add(a, vec("root.key.hex")->buf, root->buf, root->len), MF_OK);
    assert_int_equal(mf_asm_pending(a, NULL, 0), 0);
    assert_int_equal(mf_asm_finish(a, &m), MF_OK);
    mf_asm_free(a);
    assert_string_equal(m.name, "hello.txt");
    assert_int_equal(m.size, 13);
    assert_int_equal(m.n_entries, 1);
    assert_non_null(m.secrets);
    assert_memory_equal(m.entries[0].key, vec("chunk.key.hex")->buf, MF_KEY_LEN);
    assert_memory_equal(m.secrets[0], vec("chunk.secret.hex")->buf, MF_KEY_LEN);
    mf_manifest_clear(&m);
}

/* A wrong secret, a changed byte anywhere, a cut tag: never opens. */
static void test_open_refuses(void **state)
{
    const vector_t *sealed = vec("chunk.sealed.hex");
    uint8_t s[MF_KEY_LEN], buf[64], out[64];

    (void)state;
    memcpy(s, vec("chunk.secret.hex")->buf, MF_KEY_LEN);
    s[7] ^= 1;
    assert_int_equal(mf_unseal(s, sealed->buf, sealed->len, out), MF_ESEAL);
    s[7] ^= 1;
    for (size_t i = 0; i < sealed->len; i++) {
        memcpy(buf, sealed->buf, sealed->len);
        buf[i] ^= 0x40;
        assert_int_equal(mf_unseal(s, buf, sealed->len, out), MF_ESEAL);
    }
    assert_int_equal(mf_unseal(s, sealed->buf, sealed->len - 1, out), MF_ESEAL);
    assert_int_equal(mf_unseal(s, sealed->buf, MF_SEAL_TAG_LEN - 1, out), MF_EINVAL);
}

/* A random manifest of n sealed entries (keys and secrets random). */
static void make_sealed(mf_manifest_t *m, size_t n, uint64_t *rng)
{
    memset(m, 0, sizeof(*m));
    m->name = strdup("secret plans.txt");
    m->entries = calloc(n ? n : 1, sizeof(*m->entries));
    m->secrets = calloc(n ? n : 1, sizeof(*m->secrets));
    assert_non_null(m->name);
    assert_non_null(m->entries);
    assert_non_null(m->secrets);
    m->n_entries = n;
    for (size_t i = 0; i < n; i++) {
        rnd_bytes(rng, m->entries[i].key, MF_KEY_LEN);
        rnd_bytes(rng, m->secrets[i], MF_KEY_LEN);
        m->entries[i].size = 1 + rnd_below(rng, 1u << 20);
        m->size += m->entries[i].size;
    }
    rnd_bytes(rng, m->sha256, MF_KEY_LEN);
    if (n == 0)
        mf_sha256((const uint8_t *)"", 0, m->sha256);
}

/* 1 if needle[0..len) occurs in hay[0..n). */
static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t len)
{
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(hay + i, needle, len) == 0)
            return 1;
    return 0;
}

/* Adds the nodes the assembler asks for, round by round, from blobs. */
static int assemble(mf_asm_t *a, const mf_blob_t *blobs, size_t n)
{
    uint8_t(*keys)[MF_KEY_LEN] = malloc((n + 1) * MF_KEY_LEN);
    size_t want;
    int rc = mf_asm_add(a, blobs[n - 1].key, blobs[n - 1].data, blobs[n - 1].len);

    assert_non_null(keys);
    while (rc == MF_OK && (want = mf_asm_pending(a, keys, n + 1)) > 0)
        for (size_t i = 0; rc == MF_OK && i < want; i++) {
            size_t b = 0;
            while (b < n && memcmp(blobs[b].key, keys[i], MF_KEY_LEN) != 0)
                b++;
            assert_true(b < n);
            rc = mf_asm_add(a, blobs[b].key, blobs[b].data, blobs[b].len);
        }
    free(keys);
    return rc;
}

/* One node and a tree of several levels: what went in comes out, every
 * node fits, holds no key, secret or name in the clear, and opens only with
 * the right secret. */
static void test_sealed_roundtrip(void **state)
{
    static const struct {
        size_t entries, max;
    } cases[] = {{0, MF_NODE_DEFAULT}, {3, MF_NODE_DEFAULT}, {2000, MF_NODE_MIN}, {2000, 4096}};
    uint64_t rng = 11;

    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        mf_manifest_t m, back;
        mf_blob_t *blobs, *again;
        size_t nb, nagain;
        uint8_t secret[MF_KEY_LEN], secret2[MF_KEY_LEN];
        mf_asm_t *a;

        make_sealed(&m, cases[c].entries, &rng);
        assert_int_equal(mf_encode_sealed(&m, cases[c].max, &blobs, &nb, secret), MF_OK);
        assert_true(cases[c].entries < 2000 ? nb == 1 : nb > 10);
        for (size_t i = 0; i < nb; i++) {
            uint8_t h[MF_KEY_LEN];
            assert_true(blobs[i].len <= cases[c].max);
            assert_int_equal(mf_sha256(blobs[i].data, blobs[i].len, h), MF_OK);
            assert_memory_equal(h, blobs[i].key, MF_KEY_LEN);
            assert_false(contains(blobs[i].data, blobs[i].len, (const uint8_t *)"EMOM", 4));
            assert_false(contains(blobs[i].data, blobs[i].len, (const uint8_t *)m.name, 6));
            for (size_t e = 0; e < m.n_entries; e++) {
                assert_false(contains(blobs[i].data, blobs[i].len, m.entries[e].key, 8));
                assert_false(contains(blobs[i].data, blobs[i].len, m.secrets[e], 8));
            }
        }
        assert_int_equal(mf_asm_new_sealed(&a, blobs[nb - 1].key, secret), MF_OK);
        assert_int_equal(assemble(a, blobs, nb), MF_OK);
        assert_int_equal(mf_asm_finish(a, &back), MF_OK);
        mf_asm_free(a);
        assert_string_equal(back.name, m.name);
        assert_int_equal(back.size, m.size);
        assert_int_equal(back.n_entries, m.n_entries);
        if (m.n_entries > 0) {
            assert_memory_equal(back.entries, m.entries, m.n_entries * sizeof(*m.entries));
            assert_memory_equal(back.secrets, m.secrets, m.n_entries * MF_KEY_LEN);
        }
        /* Deterministic: the same manifest seals to the same nodes. */
        assert_int_equal(mf_encode_sealed(&back, cases[c].max, &again, &nagain, secret2), MF_OK);
        assert_int_equal(nagain, nb);
        assert_memory_equal(secret2, secret, MF_KEY_LEN);
        assert_memory_equal(again[nb - 1].key, blobs[nb - 1].key, MF_KEY_LEN);
        mf_blobs_free(again, nagain);
        mf_manifest_clear(&back);

        /* A wrong secret, or the plain assembler: refused, nothing given. */
        secret[0] ^= 1;
        assert_int_equal(mf_asm_new_sealed(&a, blobs[nb - 1].key, secret), MF_OK);
        assert_int_equal(assemble(a, blobs, nb), MF_ESEAL);
        assert_int_equal(mf_asm_finish(a, &back), MF_ESEAL);
        mf_asm_free(a);
        assert_int_equal(mf_asm_new(&a, blobs[nb - 1].key), MF_OK);
        assert_int_equal(assemble(a, blobs, nb), MF_EFORMAT);
        mf_asm_free(a);
        mf_blobs_free(blobs, nb);
        mf_manifest_clear(&m);
    }
}

/* A plain manifest's root under a sealed assembler does not open; a
 * sealed encode wants secrets, a plain one refuses them. */
static void test_plain_and_sealed_apart(void **state)
{
    uint64_t rng = 5;
    mf_manifest_t m;
    mf_blob_t *blobs;
    size_t nb;
    uint8_t secret[MF_KEY_LEN] = {0};
    uint8_t(*secrets)[MF_KEY_LEN];
    mf_asm_t *a;

    (void)state;
    make_sealed(&m, 4, &rng);
    assert_int_equal(mf_encode(&m, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    secrets = m.secrets;
    m.secrets = NULL;
    assert_int_equal(mf_encode_sealed(&m, MF_NODE_DEFAULT, &blobs, &nb, secret), MF_EINVAL);
    assert_int_equal(mf_encode(&m, MF_NODE_DEFAULT, &blobs, &nb), MF_OK);
    assert_int_equal(mf_asm_new_sealed(&a, blobs[nb - 1].key, secret), MF_OK);
    assert_int_equal(assemble(a, blobs, nb), MF_ESEAL);
    mf_asm_free(a);
    mf_blobs_free(blobs, nb);
    m.secrets = secrets;
    mf_manifest_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_vector_manifest),
        cmocka_unit_test(test_open_refuses),
        cmocka_unit_test(test_sealed_roundtrip),
        cmocka_unit_test(test_plain_and_sealed_apart),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
