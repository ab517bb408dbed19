/*
 * Tests of manifests as one line of text: the base64url codec
 * (tool/cli/base64url.c) against RFC 4648's vectors, round trips and its
 * canonical-only decoding; the "emofs:" line (tool/cli/share_link.c) round
 * trip, its size bound, and that no truncation, no changed character and
 * no random text is ever taken for a manifest (nor crashes the decoder).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "filestore/fs_error.h"
#include "manifests/manifest.h"
#include "tool/cli/base64url.h"
#include "tool/cli/share_link.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void assert_encodes(const char *plain, const char *want)
{
    size_t n = strlen(plain), got_len;
    char out[64];
    uint8_t back[64];

    assert_int_equal(b64url_encoded_len(n), strlen(want));
    b64url_encode((const uint8_t *)plain, n, out);
    assert_string_equal(out, want);
    assert_true(b64url_decoded_max(strlen(want)) >= n);
    assert_int_equal(b64url_decode(want, strlen(want), back, &got_len), 0);
    assert_int_equal(got_len, n);
    assert_memory_equal(back, plain, n);
}

static int decodes(const char *text)
{
    uint8_t out[64];
    size_t n;

    return b64url_decode(text, strlen(text), out, &n) == 0;
}

/* RFC 4648 section 10, without the padding; the two url characters. */
static void test_b64url_vectors(void **state)
{
    const uint8_t high[] = {0xfb, 0xff, 0xbf};
    char out[8];

    (void)state;
    assert_encodes("", "");
    assert_encodes("f", "Zg");
    assert_encodes("fo", "Zm8");
    assert_encodes("foo", "Zm9v");
    assert_encodes("foob", "Zm9vYg");
    assert_encodes("fooba", "Zm9vYmE");
    assert_encodes("foobar", "Zm9vYmFy");
    b64url_encode(high, 3, out);
    assert_string_equal(out, "-_-_");
}

/* Only the canonical text decodes. */
static void test_b64url_rejects(void **state)
{
    (void)state;
    assert_true(decodes("Zm9v"));
    assert_false(decodes("Zg=="));  /* padding */
    assert_false(decodes("Zm9v+/")); /* the other alphabet */
    assert_false(decodes("Zm 9v"));  /* blank */
    assert_false(decodes("Zm9vY"));  /* 1 mod 4: half a byte */
    assert_false(decodes("Zh"));     /* stray bits after the last byte */
    assert_false(decodes("Zm9"));    /* ditto, two bytes */
    assert_false(decodes("Zm\x80v"));
}

/* Every length from 0 to 300 round-trips; random alphabet text either is
 * refused or is the encoding of what it decodes to. */
static void test_b64url_round_trip(void **state)
{
    uint8_t in[300], back[300];
    char text[420];
    size_t n;

    (void)state;
    for (size_t len = 0; len <= sizeof(in); len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)rnd();
        b64url_encode(in, len, text);
        assert_int_equal(strlen(text), b64url_encoded_len(len));
        assert_int_equal(b64url_decode(text, strlen(text), back, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(back, in, len);
    }
    for (int round = 0; round < 20000; round++) {
        size_t len = rnd() % 40;
        char again[64];
        for (size_t i = 0; i < len; i++)
            text[i] = b64_alphabet[rnd() % 64];
        text[len] = '\0';
        if (b64url_decode(text, len, back, &n) != 0)
            continue;
        assert_true(n <= b64url_decoded_max(len));
        b64url_encode(back, n, again);
        assert_string_equal(again, text);
    }
}

/* A manifest file of a made-up file of n chunks (the chunks need not
 * exist: a manifest line carries only the manifest). */
static uint8_t *make_bundle(size_t n, size_t *len)
{
    mf_manifest_t m = {0};
    mf_blob_t *blobs;
    size_t nb;
    uint8_t *out;

    m.name = (char *)"share.bin";
    m.n_entries = n;
    m.entries = calloc(n, sizeof(*m.entries));
    assert_non_null(m.entries);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < MF_KEY_LEN; j++)
            m.entries[i].key[j] = (uint8_t)rnd();
        m.entries[i].size = 1000 + (uint32_t)i;
        m.size += m.entries[i].size;
    }
    for (size_t j = 0; j < MF_KEY_LEN; j++)
        m.sha256[j] = (uint8_t)rnd();
    assert_int_equal(mf_encode(&m, MF_NODE_DEFAULT, &blobs, &nb), 0);
    assert_int_equal(mf_bundle_encode(blobs, nb, &out, len), 0);
    mf_blobs_free(blobs, nb);
    free(m.entries);
    return out;
}

static int decode_status(const char *line)
{
    uint8_t *b;
    size_t n;
    int err = share_link_decode(line, &b, &n);

    if (err == 0) {
        assert_non_null(b);
        free(b);
    } else {
        assert_null(b);
    }
    return err;
}

static void test_link_round_trip(void **state)
{
    size_t len, n, back_len;
    uint8_t *bundle = make_bundle(3, &len), *back;
    char *line, *spaced;

    (void)state;
    assert_int_equal(share_link_encode(bundle, len, &line, &n), 0);
    assert_int_equal(strlen(line), n);
    assert_int_equal(strncmp(line, "emofs:", 6), 0);
    assert_int_equal(strcspn(line + 6, b64_alphabet), 0); /* all base64url */
    assert_true(share_link_is(line));
    assert_false(share_link_is("emofs"));
    assert_false(share_link_is("0123abcd"));
    assert_int_equal(share_link_decode(line, &back, &back_len), 0);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, bundle, len);
    free(back);

    /* Pasted with a line break every 60 characters and around it. */
    spaced = malloc(2 * n + 8);
    assert_non_null(spaced);
    size_t k = 0;
    spaced[k++] = ' ';
    for (size_t i = 0; i < n; i++) {
        if (i > 6 && i % 60 == 0)
            spaced[k++] = '\n';
        spaced[k++] = line[i];
    }
    strcpy(spaced + k, "\r\n");
    assert_true(share_link_is(spaced));
    assert_int_equal(share_link_decode(spaced, &back, &back_len), 0);
    assert_int_equal(back_len, len);
    assert_memory_equal(back, bundle, len);
    free(back);
    free(spaced);
    free(line);
    free(bundle);
}

/* Every truncation, and every single changed character, is refused. */
static void test_link_damage(void **state)
{
    size_t len, n;
    uint8_t *bundle = make_bundle(5, &len);
    char *line, *copy;

    (void)state;
    assert_int_equal(share_link_encode(bundle, len, &line, &n), 0);
    copy = malloc(n + 1);
    assert_non_null(copy);
    for (size_t cut = 0; cut < n; cut++) {
        memcpy(copy, line, cut);
        copy[cut] = '\0';
        assert_int_equal(decode_status(copy), FS_ECORRUPT);
    }
    for (size_t i = 6; i < n; i++) {
        const char *at = strchr(b64_alphabet, line[i]);
        strcpy(copy, line);
        copy[i] = b64_alphabet[(at - b64_alphabet + 1 + rnd() % 63) % 64];
        assert_int_equal(decode_status(copy), FS_ECORRUPT);
    }
    strcpy(copy, line);
    memcpy(copy, "emofz:", 6);
    assert_int_equal(decode_status(copy), FS_ECORRUPT);
    free(copy);
    free(line);
    free(bundle);
}

/* Random text after the prefix, of the alphabet or any byte: refused,
 * never a crash (run under ASan by make check). */
static void test_link_random(void **state)
{
    char *text = malloc(6 + 4096 + 1);

    (void)state;
    assert_non_null(text);
    memcpy(text, "emofs:", 6);
    for (int round = 0; round < 3000; round++) {
        size_t len = rnd() % 4096;
        int any_byte = round % 2;
        for (size_t i = 0; i < len; i++) {
            char c = any_byte ? (char)(1 + rnd() % 255) : b64_alphabet[rnd() % 64];
            text[6 + i] = c;
        }
        text[6 + len] = '\0';
        /* Start like a manifest file ("EMOF" 01 = RU1PRgE) half the time. */
        if (round % 4 < 2 && len >= 7)
            memcpy(text + 6, "RU1PRgE", 7);
        assert_int_equal(decode_status(text), FS_ECORRUPT);
    }
    free(text);
}

/* The size bound: a manifest whose line would pass SHARE_LINK_MAX is
 * refused with the line's length; one that fits round-trips; a longer
 * text is refused by the decoder. */
static void test_link_size(void **state)
{
    size_t len, n;
    uint8_t *bundle;
    char *line, *big;
    int fits = 0, refused = 0;

    (void)state;
    for (size_t chunks = 1300; chunks <= 1400; chunks += 20) {
        bundle = make_bundle(chunks, &len);
        int err = share_link_encode(bundle, len, &line, &n);
        assert_int_equal(n, 6 + b64url_encoded_len(len));
        if (n <= SHARE_LINK_MAX) {
            assert_int_equal(err, 0);
            assert_int_equal(decode_status(line), 0);
            free(line);
            fits++;
        } else {
            assert_int_equal(err, FS_ETOOBIG);
            assert_null(line);
            refused++;
        }
        free(bundle);
    }
    assert_true(fits > 0 && refused > 0);
    big = malloc(SHARE_LINK_MAX + 16);
    assert_non_null(big);
    memcpy(big, "emofs:", 6);
    memset(big + 6, 'A', SHARE_LINK_MAX + 4);
    big[SHARE_LINK_MAX + 10] = '\0';
    assert_int_equal(decode_status(big), FS_ETOOBIG);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),  cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64url_round_trip), cmocka_unit_test(test_link_round_trip),
        cmocka_unit_test(test_link_damage),     cmocka_unit_test(test_link_random),
        cmocka_unit_test(test_link_size),
    };

    alarm(120);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
