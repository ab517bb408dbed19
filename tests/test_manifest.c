/*
 * Tests of the manifests module (manifests/manifest.h) against
 * schema/manifest.md: the hand written vectors of schema/vectors/manifest/
 * decode to the fields they describe and re-encode byte for byte, the
 * invalid ones are rejected; manifests round-trip through mf_encode and the
 * assembler, as one node and as a tree of three levels fetched in shuffled
 * order; truncated and corrupted nodes are rejected or canonical; the
 * assembler refuses nodes that disagree with their parent or were not asked
 * for; manifest files, names and key hex.
 *
 * The directory vectors (dir_*.hex, bad_dir_*.hex) are
 * tests/test_manifest_dir.c's.
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
#include <unistd.h> /* alarm */

#include <openssl/evp.h> /* EVP_Digest */

#include "manifests/manifest.h"
#include "manifests/manifest_int.h" /* mf__node_decode and the writers */

#define VECTOR_DIR  "schema/vectors/manifest"
#define MIN_NODES   5 /* valid single-node vectors */
#define MIN_INVALID 15
#define MAX_VECTORS 128
#define BUNDLE_KEY  "1ce180d0bd2ad1a4538d083a26342f30d6e4d474adb9259ca253cfd75794ce9b"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Loaded once by the group setup; read-only afterwards. */
static vector_t vectors[MAX_VECTORS];
static size_t n_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return vectors_load(VECTOR_DIR, vectors, MAX_VECTORS, &n_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    vectors_free(vectors, &n_vectors);
    return 0;
}

/* 1 for a directory manifest vector, which test_manifest_dir.c checks. */
static int is_dir_vector(const char *name)
{
    return strncmp(name, "dir_", 4) == 0 || strncmp(name, "bad_dir_", 8) == 0;
}

static const vector_t *find_vector(const char *name)
{
    const vector_t *v = vectors_find(vectors, n_vectors, name);

    if (v == NULL)
        fail_msg("vector %s missing", name);
    return v;
}

static void sha256(const void *buf, size_t len, uint8_t out[MF_KEY_LEN])
{
    assert_int_equal(EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL), 1);
}

static void key_seq(uint8_t key[MF_KEY_LEN], uint8_t start)
{
    for (unsigned i = 0; i < MF_KEY_LEN; i++)
        key[i] = (uint8_t)(start + i);
}

static void assert_key_seq(const uint8_t *key, uint8_t start)
{
    uint8_t want[MF_KEY_LEN];
    key_seq(want, start);
    assert_memory_equal(key, want, MF_KEY_LEN);
}

static void assert_key_fill(const uint8_t *key, uint8_t v)
{
    uint8_t want[MF_KEY_LEN];
    memset(want, v, MF_KEY_LEN);
    assert_memory_equal(key, want, MF_KEY_LEN);
}

/* Re-encodes a decoded node with the codec's writers into out (room for
 * len bytes). @return the length written. */
static size_t reencode_node(const mf__node_t *n, uint8_t *out)
{
    uint8_t *p = out;

    if (n->is_root) {
        mf_manifest_t m = {.size = n->size};
        char name[MF_NAME_MAX + 1];
        memcpy(name, n->name, n->name_len);
        name[n->name_len] = '\0';
        m.name = name;
        memcpy(m.sha256, n->sha256, MF_KEY_LEN);
        p = mf__put_root_hdr(p, &m, n->name_len, n->level, n->count);
    } else {
        p = mf__put_inner_hdr(p, n->level, n->count);
    }
    for (uint32_t i = 0; i < n->count; i++) {
        if (n->level == 0) {
            mf_entry_t e;
            mf__node_entry(n, i, &e);
            p = mf__put_entry(p, &e);
        } else {
            mf__child_t c;
            mf__node_child(n, i, &c);
            p = mf__put_child(p, &c);
        }
    }
    return (size_t)(p - out);
}

/* Decodes buf[0..len) from a heap copy of exactly len bytes: either
 * MF_EFORMAT, or a node that re-encodes to exactly these bytes.
 * @return 1 if it decoded, 0 if it was rejected. */
static int check_node_canonical(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1), *out;
    mf__node_t n;
    int rc;

    assert_non_null(copy);
    memcpy(copy, buf, len);
    rc = mf__node_decode(&n, copy, len);
    if (rc != MF_OK) {
        assert_int_equal(rc, MF_EFORMAT);
        free(copy);
        return 0;
    }
    out = malloc(len);
    assert_non_null(out);
    assert_int_equal(reencode_node(&n, out), len);
    assert_memory_equal(out, buf, len);
    free(out);
    free(copy);
    return 1;
}

/* Assembles a manifest of one node, filed under its own hash.
 * @return what mf_asm_add or else mf_asm_finish returned. */
static int assemble_one(const uint8_t *buf, size_t len, mf_manifest_t *out)
{
    uint8_t key[MF_KEY_LEN];
    mf_asm_t *a;
    int rc;

    sha256(buf, len, key);
    assert_int_equal(mf_asm_new(&a, key), MF_OK);
    rc = mf_asm_add(a, key, buf, len);
    if (rc == MF_OK)
        rc = mf_asm_finish(a, out);
    mf_asm_free(a);
    return rc;
}

/* Assembles the manifest whose nodes are blobs[0..n) (root last), adding
 * the pending nodes of each round in a shuffled order.
 * @return what mf_asm_finish said. */
static int assemble_blobs_rc(const mf_blob_t *blobs, size_t n, uint64_t *rng, mf_manifest_t *out)
{
    const mf_blob_t *root = &blobs[n - 1];
    uint8_t(*keys)[MF_KEY_LEN] = malloc((n + 1) * MF_KEY_LEN);
    mf_asm_t *a;
    size_t want, rounds = 0;
    int rc;

    assert_non_null(keys);
    assert_int_equal(mf_asm_new(&a, root->key), MF_OK);
    assert_int_equal(mf_asm_pending(a, keys, n), 1);
    assert_memory_equal(keys[0], root->key, MF_KEY_LEN);
    assert_int_equal(mf_asm_add(a, root->key, root->data, root->len), MF_OK);
    while ((want = mf_asm_pending(a, keys, n + 1)) > 0) {
        assert_true(want <= n);
        rnd_shuffle(rng, keys, want, MF_KEY_LEN);
        for (size_t i = 0; i < want; i++) {
            size_t b = 0;
            while (b < n && memcmp(blobs[b].key, keys[i], MF_KEY_LEN) != 0)
                b++;
            assert_true(b < n);
            assert_int_equal(mf_asm_add(a, blobs[b].key, blobs[b].data, blobs[b].len), MF_OK);
        }
        assert_true(++rounds <= MF_DEPTH_MAX);
    }
    rc = mf_asm_finish(a, out);
    mf_asm_free(a);
    free(keys);
    return rc;
}

static void assemble_blobs(const mf_blob_t *blobs, size_t n, uint64_t *rng, mf_manifest_t *out)
{
    assert_int_equal(assemble_blobs_rc(blobs, n, rng, out), MF_OK);
}

/* A random consistent manifest of n entries named name. */
static void make_manifest(mf_manifest_t *m, const char *name, size_t n, uint64_t *rng)
{
    memset(m, 0, sizeof(*m));
    m->name = strdup(name);
    m->entries = calloc(n ? n : 1, sizeof(*m->entries));
    assert_non_null(m->name);
    assert_non_null(m->entries);
    m->n_entries = n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < MF_KEY_LEN; j++)
            m->entries[i].key[j] = (uint8_t)rnd_next(rng);
        m->entries[i].size = 1 + rnd_below(rng, 1u << 20);
        m->size += m->entries[i].size;
    }
    for (size_t j = 0; j < MF_KEY_LEN; j++)
        m->sha256[j] = (uint8_t)rnd_next(rng);
    if (n == 0)
        sha256("", 0, m->sha256);
}

static void assert_manifest_equal(const mf_manifest_t *a, const mf_manifest_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->size, b->size);
    assert_memory_equal(a->sha256, b->sha256, MF_KEY_LEN);
    assert_int_equal(a->n_entries, b->n_entries);
    if (a->n_entries > 0)
        assert_memory_equal(a->entries, b->entries, a->n_entries * sizeof(*a->entries));
}

/* The root level of an encoded manifest. */
static unsigned root_level(const mf_blob_t *blobs, size_t n)
{
    mf__node_t root;

    assert_int_equal(mf__node_decode(&root, blobs[n - 1].data, blobs[n - 1].len), MF_OK);
    assert_true(root.is_root);
    return root.level;
}

/* ------------------------------------------------------------------------ */
/* Vectors                                                                  */
/* ------------------------------------------------------------------------ */

static void want_single(const mf_manifest_t *m)
{
    assert_string_equal(m->name, "hello.txt");
    assert_int_equal(m->size, 66536);
    assert_key_seq(m->sha256, 0x00);
    assert_int_equal(m->n_entries, 2);
    assert_key_seq(m->entries[0].key, 0xa0);
    assert_int_equal(m->entries[0].size, 65536);
    assert_key_seq(m->entries[1].key, 0xc0);
    assert_int_equal(m->entries[1].size, 1000);
}

static void want_empty(const mf_manifest_t *m)
{
    uint8_t h[MF_KEY_LEN];

    sha256("", 0, h);
    assert_string_equal(m->name, "empty");
    assert_int_equal(m->size, 0);
    assert_memory_equal(m->sha256, h, MF_KEY_LEN);
    assert_int_equal(m->n_entries, 0);
}

static void test_vector_nodes(void **state)
{
    const vector_t *v;
    mf__node_t n;
    mf__child_t c;
    mf_entry_t e;

    (void)state;
    v = find_vector("leaf.hex");
    assert_int_equal(mf__node_decode(&n, v->buf, v->len), MF_OK);
    assert_false(n.is_root);
    assert_int_equal(n.level, 0);
    assert_int_equal(n.count, 2);
    assert_int_equal(n.bytes, 65537);
    mf__node_entry(&n, 1, &e);
    assert_key_fill(e.key, 0x22);
    assert_int_equal(e.size, 1);

    v = find_vector("interior.hex");
    assert_int_equal(mf__node_decode(&n, v->buf, v->len), MF_OK);
    assert_false(n.is_root);
    assert_int_equal(n.level, 1);
    assert_int_equal(n.count, 2);
    assert_int_equal(n.bytes, 131073);
    assert_int_equal(n.chunks, 3);
    mf__node_child(&n, 0, &c);
    assert_key_seq(c.key, 0xa0);
    assert_int_equal(c.bytes, 131072);
    assert_int_equal(c.chunks, 2);

    v = find_vector("root_tree.hex");
    assert_int_equal(mf__node_decode(&n, v->buf, v->len), MF_OK);
    assert_true(n.is_root);
    assert_int_equal(n.level, 2);
    assert_int_equal(n.size, 3ull * (1u << 30) + 5);
    assert_int_equal(n.chunks, 12289);
    assert_int_equal(n.name_len, 7);
    assert_memory_equal(n.name, "big.iso", 7);
    assert_key_fill(n.sha256, 0x5a);
}

/* Every valid node vector re-encodes byte for byte; a root of level 0 is
 * also a whole manifest that mf_encode gives back exactly. */
static void test_vectors_roundtrip(void **state)
{
    size_t valid = 0;

    (void)state;
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        mf_manifest_t m;
        mf_blob_t *blobs;
        size_t nb;
        mf__node_t node;

        if (strncmp(v->name, "bad_", 4) == 0 || mf_is_bundle(v->buf, v->len) ||
            is_dir_vector(v->name))
            continue;
        valid++;
        if (!check_node_canonical(v->buf, v->len))
            fail_msg("valid vector %s rejected", v->name);
        assert_int_equal(mf__node_decode(&node, v->buf, v->len), MF_OK);
        if (!node.is_root || node.level != 0)
            continue;
        assert_int_equal(assemble_one(v->buf, v->len, &m), MF_OK);
        if (strcmp(v->name, "single.hex") == 0)
            want_single(&m);
        if (strcmp(v->name, "empty.hex") == 0)
            want_empty(&m);
        assert_int_equal(mf_encode(&m, v->len < MF_NODE_MIN ? MF_NODE_MIN : v->len, &blobs, &nb),
                         MF_OK);
        assert_int_equal(nb, 1);
        assert_int_equal(blobs[0].len, v->len);
        assert_memory_equal(blobs[0].data, v->buf, v->len);
        mf_blobs_free(blobs, nb);
        mf_manifest_clear(&m);
    }
    assert_true(valid >= MIN_NODES);
}

/* bundle.hex: decodes, names the root as file key, re-encodes exactly, and
 * is what mf_encode makes of its manifest at MF_NODE_MIN. */
static void test_vector_bundle(void **state)
{
    const vector_t *v = find_vector("bundle.hex");
    uint8_t key[MF_KEY_LEN], want[MF_KEY_LEN], *out;
    mf_blob_t *blobs, *again;
    size_t nb, nagain, out_len;
    mf_manifest_t m;
    uint64_t rng = 1;

    (void)state;
    assert_true(mf_is_bundle(v->buf, v->len));
    assert_int_equal(mf_bundle_decode(v->buf, v->len, key, &blobs, &nb), MF_OK);
    assert_int_equal(mf_key_from_hex(want, BUNDLE_KEY), MF_OK);
    assert_memory_equal(key, want, MF_KEY_LEN);
    assert_int_equal(nb, 2);
    assert_int_equal(mf_bundle_encode(blobs, nb, &out, &out_len), MF_OK);
    assert_int_equal(out_len, v->len);
    assert_memory_equal(out, v->buf, v->len);
    free(out);

    assemble_blobs(blobs, nb, &rng, &m);
    assert_string_equal(m.name, "b");
    assert_int_equal(m.size, 327780);
    assert_int_equal(m.n_entries, 6);
    assert_key_fill(m.entries[5].key, 0x66);
    assert_int_equal(m.entries[5].size, 100);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &again, &nagain), MF_OK);
    assert_int_equal(nagain, nb);
    for (size_t i = 0; i < nb; i++) {
        assert_memory_equal(again[i].key, blobs[i].key, MF_KEY_LEN);
        assert_int_equal(again[i].len, blobs[i].len);
        assert_memory_equal(again[i].data, blobs[i].data, blobs[i].len);
    }
    mf_blobs_free(again, nagain);
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

/* Every bad_*.hex is refused: a node by the decoder and by the assembler,
 * a manifest file by mf_bundle_decode. */
static void test_vectors_invalid(void **state)
{
    size_t invalid = 0;

    (void)state;
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        mf__node_t n;
        mf_manifest_t m;
        uint8_t key[MF_KEY_LEN];
        mf_blob_t *blobs;
        size_t nb;

        if (strncmp(v->name, "bad_", 4) != 0 || is_dir_vector(v->name))
            continue;
        invalid++;
        if (mf_is_bundle(v->buf, v->len)) {
            int want = strcmp(v->name, "bad_bundle_hash.hex") == 0 ? MF_EHASH : MF_EFORMAT;
            if (mf_bundle_decode(v->buf, v->len, key, &blobs, &nb) != want)
                fail_msg("%s: not refused as it should be", v->name);
            continue;
        }
        if (mf__node_decode(&n, v->buf, v->len) != MF_EFORMAT)
            fail_msg("%s: decoded", v->name);
        assert_int_equal(assemble_one(v->buf, v->len, &m), MF_EFORMAT);
    }
    assert_true(invalid >= MIN_INVALID);
}

/* ------------------------------------------------------------------------ */
/* Round trips and trees                                                    */
/* ------------------------------------------------------------------------ */

static void test_roundtrip_small(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 7, 100, 1000};
    uint64_t rng = 42;

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        mf_manifest_t m, back;
        mf_blob_t *blobs, *again;
        size_t nb, nagain;

        make_manifest(&m, "report (final).pdf", sizes[s], &rng);
        assert_int_equal(mf_encode(&m, MF_NODE_DEFAULT, &blobs, &nb), MF_OK);
        assert_int_equal(nb, 1); /* all fit in one node */
        assert_int_equal(root_level(blobs, nb), 0);
        assert_int_equal(blobs[0].len, 52 + strlen(m.name) + 36 * sizes[s]);
        assert_int_equal(assemble_one(blobs[0].data, blobs[0].len, &back), MF_OK);
        assert_manifest_equal(&m, &back);
        /* Deterministic: same manifest, same bytes. */
        assert_int_equal(mf_encode(&back, MF_NODE_DEFAULT, &again, &nagain), MF_OK);
        assert_int_equal(nagain, 1);
        assert_memory_equal(again[0].key, blobs[0].key, MF_KEY_LEN);
        mf_blobs_free(again, nagain);
        mf_blobs_free(blobs, nb);
        mf_manifest_clear(&back);
        mf_manifest_clear(&m);
    }
}

/* Checks the shape mf_encode promises: every node within max, the root
 * last, every child before the node that lists it, keys are hashes. */
static void check_blobs(const mf_blob_t *blobs, size_t n, size_t max)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[MF_KEY_LEN];
        mf__node_t node;

        assert_true(blobs[i].len <= max);
        sha256(blobs[i].data, blobs[i].len, h);
        assert_memory_equal(h, blobs[i].key, MF_KEY_LEN);
        assert_int_equal(mf__node_decode(&node, blobs[i].data, blobs[i].len), MF_OK);
        assert_int_equal(node.is_root, i == n - 1);
        for (uint32_t c = 0; node.level > 0 && c < node.count; c++) {
            mf__child_t ch;
            size_t j = 0;
            mf__node_child(&node, c, &ch);
            while (j < i && memcmp(blobs[j].key, ch.key, MF_KEY_LEN) != 0)
                j++;
            assert_true(j < i);
        }
    }
}

static void test_tree_shuffled(void **state)
{
    uint64_t rng = 7;
    mf_manifest_t m, back;
    mf_blob_t *blobs, *again;
    size_t nb, nagain;

    (void)state;
    make_manifest(&m, "tree.bin", 3000, &rng);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    /* 500 leaves of 6, 100 then 20 then 4 interior nodes, and the root. */
    assert_int_equal(nb, 500 + 100 + 20 + 4 + 1);
    assert_int_equal(root_level(blobs, nb), 4);
    check_blobs(blobs, nb, MF_NODE_MIN);
    for (int round = 0; round < 3; round++) {
        assemble_blobs(blobs, nb, &rng, &back);
        assert_manifest_equal(&m, &back);
        mf_manifest_clear(&back);
    }
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &again, &nagain), MF_OK);
    assert_int_equal(nagain, nb);
    for (size_t i = 0; i < nb; i++)
        assert_memory_equal(again[i].key, blobs[i].key, MF_KEY_LEN);
    mf_blobs_free(again, nagain);
    mf_blobs_free(blobs, nb);

    /* A larger node size makes a shallower tree of the same manifest. */
    assert_int_equal(mf_encode(&m, 4096, &blobs, &nb), MF_OK);
    assert_int_equal(root_level(blobs, nb), 1);
    check_blobs(blobs, nb, 4096);
    assemble_blobs(blobs, nb, &rng, &back);
    assert_manifest_equal(&m, &back);
    mf_manifest_clear(&back);
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

/* A file of one repeated chunk: identical leaves are output once, and the
 * assembler fills every place the shared key stands. */
static void test_tree_shared_leaves(void **state)
{
    uint64_t rng = 9;
    mf_manifest_t m, back;
    mf_blob_t *blobs;
    size_t nb;

    (void)state;
    make_manifest(&m, "zeros", 600, &rng);
    m.size = 0;
    for (size_t i = 0; i < m.n_entries; i++) {
        m.entries[i] = m.entries[0];
        m.size += m.entries[i].size;
    }
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    /* 100 equal leaves, 20 equal nodes of 5, 4 equal nodes of 5, root. */
    assert_int_equal(nb, 4);
    check_blobs(blobs, nb, MF_NODE_MIN);
    assemble_blobs(blobs, nb, &rng, &back);
    assert_manifest_equal(&m, &back);
    mf_manifest_clear(&back);
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

/* A file of n copies of one chunk, encoded with nodes of node_bytes, then
 * assembled: @return what mf_asm_finish said (the manifest is checked
 * whole when it is MF_OK). */
static int repeated_file(size_t n, size_t node_bytes)
{
    uint64_t rng = 11;
    mf_manifest_t m, back;
    mf_blob_t *blobs;
    size_t nb;
    int rc;

    make_manifest(&m, "repeated", 1, &rng);
    m.entries = realloc(m.entries, n * sizeof(*m.entries));
    assert_non_null(m.entries);
    m.entries[0].size = 4096;
    for (size_t i = 1; i < n; i++)
        m.entries[i] = m.entries[0];
    m.n_entries = n;
    m.size = (uint64_t)n * 4096;
    assert_int_equal(mf_encode(&m, node_bytes, &blobs, &nb), MF_OK);
    memset(&back, 0, sizeof(back));
    rc = assemble_blobs_rc(blobs, nb, &rng, &back);
    if (rc == MF_OK)
        assert_manifest_equal(&m, &back);
    mf_manifest_clear(&back);
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
    return rc;
}

/* A few small nodes naming one another over and over may claim millions
 * of chunks: refused before the reader spends memory on them (a 180 KB
 * manifest of 64 TiB once made a getter take 339 MB). Repetition within
 * MF_REPEAT_MAX per record of the distinct leaves, or few chunks, pass. */
static void test_tree_repeats_bounded(void **state)
{
    (void)state;
    /* Leaves of 6 records (tiny nodes), 100,000 chunks: ~16,700 times. */
    assert_int_equal(repeated_file(100000, MF_NODE_MIN), MF_EREPEAT);
    /* The same file in default nodes: leaves of ~29,000 records. */
    assert_int_equal(repeated_file(100000, MF_NODE_DEFAULT), MF_OK);
    /* Up to MF_REPEAT_FREE chunks, any repetition. */
    assert_int_equal(repeated_file(MF_REPEAT_FREE, MF_NODE_MIN), MF_OK);
    assert_int_equal(repeated_file(MF_REPEAT_FREE + 1, MF_NODE_MIN), MF_EREPEAT);
}

/* ------------------------------------------------------------------------ */
/* Hostile bytes                                                            */
/* ------------------------------------------------------------------------ */

static void test_truncations(void **state)
{
    uint64_t rng = 3;
    mf_manifest_t m, back;
    mf_blob_t *blobs;
    size_t nb;

    (void)state;
    make_manifest(&m, "cut", 40, &rng);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    assert_true(nb > 2);
    for (size_t i = 0; i < nb; i++) {
        for (size_t len = 0; len < blobs[i].len; len++) {
            if (check_node_canonical(blobs[i].data, len))
                fail_msg("blob %zu cut to %zu bytes decoded", i, len);
            if (i == nb - 1)
                assert_int_equal(assemble_one(blobs[i].data, len, &back), MF_EFORMAT);
        }
        assert_true(check_node_canonical(blobs[i].data, blobs[i].len));
    }
    for (size_t v = 0; v < n_vectors; v++) {
        if (strncmp(vectors[v].name, "bad_", 4) == 0 ||
            mf_is_bundle(vectors[v].buf, vectors[v].len) || is_dir_vector(vectors[v].name))
            continue;
        for (size_t len = 0; len < vectors[v].len; len++)
            assert_false(check_node_canonical(vectors[v].buf, len));
    }
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

/* Random single-byte changes: each node is rejected or canonical; a root
 * of level 0 that still assembles encodes back to exactly itself. */
static void test_corruptions(void **state)
{
    const vector_t *vs[] = {find_vector("single.hex"), find_vector("leaf.hex"),
                            find_vector("interior.hex"), find_vector("root_tree.hex"),
                            find_vector("empty.hex")};
    uint64_t rng = 5;
    size_t accepted = 0, rejected = 0;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        const vector_t *v = vs[rnd_below(&rng, sizeof(vs) / sizeof(vs[0]))];
        uint8_t *buf = malloc(v->len);
        mf_manifest_t m;
        mf_blob_t *blobs;
        size_t nb;

        assert_non_null(buf);
        memcpy(buf, v->buf, v->len);
        buf[rnd_below(&rng, (uint32_t)v->len)] ^= (uint8_t)(1 + rnd_below(&rng, 255));
        if (!check_node_canonical(buf, v->len)) {
            rejected++;
        } else {
            accepted++;
            if (assemble_one(buf, v->len, &m) == MF_OK) {
                size_t max = v->len < MF_NODE_MIN ? MF_NODE_MIN : v->len;
                assert_int_equal(mf_encode(&m, max, &blobs, &nb), MF_OK);
                assert_int_equal(nb, 1);
                assert_memory_equal(blobs[0].data, buf, v->len);
                mf_blobs_free(blobs, nb);
                mf_manifest_clear(&m);
            }
        }
        free(buf);
    }
    /* Keys and hashes take any value, so both outcomes are common. */
    assert_true(accepted > 1000);
    assert_true(rejected > 1000);
}

/* ------------------------------------------------------------------------ */
/* The assembler                                                            */
/* ------------------------------------------------------------------------ */

/* A leaf of two entries (10 and 20 bytes) and a root listing it with the
 * given level, bytes and chunks; the root's size is bytes. */
static void forge_pair(uint8_t level, uint64_t bytes, uint32_t chunks, uint8_t *leaf,
                       size_t *leaf_len, uint8_t *root, size_t *root_len, uint8_t root_key[32])
{
    mf_entry_t e[2];
    mf__child_t c;
    mf_manifest_t m = {.name = "forged", .size = bytes};
    uint8_t *p;

    key_seq(e[0].key, 0x10);
    e[0].size = 10;
    key_seq(e[1].key, 0x30);
    e[1].size = 20;
    p = mf__put_inner_hdr(leaf, 0, 2);
    p = mf__put_entry(p, &e[0]);
    p = mf__put_entry(p, &e[1]);
    *leaf_len = (size_t)(p - leaf);
    sha256(leaf, *leaf_len, c.key);
    c.bytes = bytes;
    c.chunks = chunks;
    p = mf__put_root_hdr(root, &m, strlen(m.name), level, 1);
    p = mf__put_child(p, &c);
    *root_len = (size_t)(p - root);
    sha256(root, *root_len, root_key);
}

/* @return what mf_asm_add said of the leaf of a forged pair. */
static int add_forged(uint8_t level, uint64_t bytes, uint32_t chunks, int *finish_rc)
{
    uint8_t leaf[256], root[256], root_key[32], leaf_key[32];
    size_t leaf_len, root_len;
    mf_manifest_t m;
    mf_asm_t *a;
    int rc;

    forge_pair(level, bytes, chunks, leaf, &leaf_len, root, &root_len, root_key);
    sha256(leaf, leaf_len, leaf_key);
    assert_int_equal(mf_asm_new(&a, root_key), MF_OK);
    assert_int_equal(mf_asm_add(a, root_key, root, root_len), MF_OK);
    assert_int_equal(mf_asm_pending(a, NULL, 0), 1);
    rc = mf_asm_add(a, leaf_key, leaf, leaf_len);
    *finish_rc = mf_asm_finish(a, &m);
    if (*finish_rc == MF_OK) {
        assert_int_equal(m.n_entries, 2);
        assert_int_equal(m.size, 30);
        mf_manifest_clear(&m);
    }
    mf_asm_free(a);
    return rc;
}

static void test_asm_parent_mismatch(void **state)
{
    int fin;

    (void)state;
    assert_int_equal(add_forged(1, 30, 2, &fin), MF_OK); /* the honest pair */
    assert_int_equal(fin, MF_OK);
    assert_int_equal(add_forged(1, 31, 2, &fin), MF_EFORMAT); /* bytes disagree */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(1, 30, 3, &fin), MF_EFORMAT); /* chunks disagree */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(2, 30, 2, &fin), MF_EFORMAT); /* level disagrees */
    assert_int_equal(fin, MF_EFORMAT);
}

static void test_asm_state(void **state)
{
    const vector_t *bv = find_vector("bundle.hex");
    const vector_t *single = find_vector("single.hex");
    uint8_t key[MF_KEY_LEN], other[MF_KEY_LEN], pend[2][MF_KEY_LEN];
    mf_blob_t *blobs;
    size_t nb;
    mf_manifest_t m;
    mf_asm_t *a;

    (void)state;
    assert_int_equal(mf_bundle_decode(bv->buf, bv->len, key, &blobs, &nb), MF_OK);
    assert_int_equal(mf_asm_new(&a, key), MF_OK);
    /* The leaf before the root named it: not asked for. */
    assert_int_equal(mf_asm_add(a, blobs[0].key, blobs[0].data, blobs[0].len), MF_ESTATE);
    /* Wrong bytes under the file key: a hash error, not fatal. */
    assert_int_equal(mf_asm_add(a, key, blobs[0].data, blobs[0].len), MF_EHASH);
    assert_int_equal(mf_asm_finish(a, &m), MF_ESTATE);
    assert_int_equal(mf_asm_add(a, key, blobs[1].data, blobs[1].len), MF_OK);
    assert_int_equal(mf_asm_add(a, key, blobs[1].data, blobs[1].len), MF_OK); /* again */
    assert_int_equal(mf_asm_pending(a, pend, 2), 1);
    assert_memory_equal(pend[0], blobs[0].key, MF_KEY_LEN);
    assert_int_equal(mf_asm_finish(a, &m), MF_ESTATE);
    sha256(single->buf, single->len, other);
    assert_int_equal(mf_asm_add(a, other, single->buf, single->len), MF_ESTATE);
    assert_int_equal(mf_asm_add(a, blobs[0].key, blobs[0].data, blobs[0].len), MF_OK);
    assert_int_equal(mf_asm_pending(a, pend, 2), 0);
    assert_int_equal(mf_asm_finish(a, &m), MF_OK);
    assert_int_equal(m.n_entries, 6);
    mf_manifest_clear(&m);
    mf_asm_free(a);

    /* An inner node under the file key is malformed there: fatal. */
    assert_int_equal(mf_asm_new(&a, blobs[0].key), MF_OK);
    assert_int_equal(mf_asm_add(a, blobs[0].key, blobs[0].data, blobs[0].len), MF_EFORMAT);
    assert_int_equal(mf_asm_pending(a, pend, 2), 0);
    assert_int_equal(mf_asm_finish(a, &m), MF_EFORMAT);
    mf_asm_free(a);
    mf_blobs_free(blobs, nb);
    mf_asm_free(NULL);
    assert_int_equal(mf_asm_new(NULL, key), MF_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Manifest files, names, hex, errors                                       */
/* ------------------------------------------------------------------------ */

static void test_bundle_roundtrip(void **state)
{
    uint64_t rng = 11;
    mf_manifest_t m, back;
    mf_blob_t *blobs, *got;
    size_t nb, ngot, len;
    uint8_t *buf, key[MF_KEY_LEN];

    (void)state;
    make_manifest(&m, "bundle.dat", 200, &rng);
    assert_int_equal(mf_encode(&m, 1024, &blobs, &nb), MF_OK);
    assert_true(nb > 2);
    assert_int_equal(mf_bundle_encode(blobs, nb, &buf, &len), MF_OK);
    assert_true(mf_is_bundle(buf, len));
    assert_int_equal(mf_bundle_decode(buf, len, key, &got, &ngot), MF_OK);
    assert_memory_equal(key, blobs[nb - 1].key, MF_KEY_LEN);
    assert_int_equal(ngot, nb);
    assemble_blobs(got, ngot, &rng, &back);
    assert_manifest_equal(&m, &back);
    mf_manifest_clear(&back);
    mf_blobs_free(got, ngot);

    /* Every cut is refused. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(mf_bundle_decode(buf, cut, key, &got, &ngot), MF_EFORMAT);
    /* The first node filed under the second's key. */
    memcpy(buf + MF__BUNDLE_HDR, blobs[1].key, MF_KEY_LEN);
    assert_int_equal(mf_bundle_decode(buf, len, key, &got, &ngot), MF_EHASH);
    free(buf);

    assert_int_equal(mf_bundle_encode(blobs, 0, &buf, &len), MF_EINVAL);
    assert_false(mf_is_bundle((const uint8_t *)"EMOM", 4));
    assert_false(mf_is_bundle((const uint8_t *)"EMO", 3));
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

static void test_name_valid(void **state)
{
    char longest[MF_NAME_MAX + 2];

    (void)state;
    assert_true(mf_name_valid("a"));
    assert_true(mf_name_valid("hello world.txt"));
    assert_true(mf_name_valid("...")); /* only "." and ".." are special */
    assert_true(mf_name_valid(".hidden"));
    assert_true(mf_name_valid("caf\xc3\xa9"));
    assert_false(mf_name_valid(NULL));
    assert_false(mf_name_valid(""));
    assert_false(mf_name_valid("."));
    assert_false(mf_name_valid(".."));
    assert_false(mf_name_valid("a/b"));
    assert_false(mf_name_valid("/"));
    assert_false(mf_name_valid("tab\there"));
    assert_false(mf_name_valid("nl\n"));
    assert_false(mf_name_valid("del\x7f"));
    memset(longest, 'x', MF_NAME_MAX);
    longest[MF_NAME_MAX] = '\0';
    assert_true(mf_name_valid(longest));
    longest[MF_NAME_MAX] = 'x';
    longest[MF_NAME_MAX + 1] = '\0';
    assert_false(mf_name_valid(longest));
}

static void test_hex(void **state)
{
    uint8_t key[MF_KEY_LEN], back[MF_KEY_LEN];
    char hex[65], bad[66];

    (void)state;
    key_seq(key, 0xf0);
    mf_key_to_hex(key, hex);
    assert_string_equal(hex, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f");
    assert_int_equal(mf_key_from_hex(back, hex), MF_OK);
    assert_memory_equal(back, key, MF_KEY_LEN);
    assert_int_equal(
        mf_key_from_hex(back, "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF000102030405060708090A0B0C0D0E0F"),
        MF_OK);
    assert_memory_equal(back, key, MF_KEY_LEN);
    memcpy(bad, hex, 65);
    bad[63] = '\0'; /* 63 digits */
    assert_int_equal(mf_key_from_hex(back, bad), MF_EINVAL);
    memcpy(bad, hex, 64);
    bad[64] = '0'; /* 65 digits */
    bad[65] = '\0';
    assert_int_equal(mf_key_from_hex(back, bad), MF_EINVAL);
    memcpy(bad, hex, 65);
    bad[10] = 'g';
    assert_int_equal(mf_key_from_hex(back, bad), MF_EINVAL);
    bad[10] = ' ';
    assert_int_equal(mf_key_from_hex(back, bad), MF_EINVAL);
    assert_int_equal(mf_key_from_hex(back, ""), MF_EINVAL);
    assert_int_equal(mf_key_from_hex(back, NULL), MF_EINVAL);
    assert_memory_equal(back, key, MF_KEY_LEN); /* untouched by failures */
}

static void test_encode_invalid(void **state)
{
    uint64_t rng = 13;
    mf_manifest_t m;
    mf_blob_t *blobs;
    size_t nb;
    char *name;

    (void)state;
    make_manifest(&m, "ok", 10, &rng);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN - 1, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_encode(NULL, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    m.size++;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    m.size--;
    m.entries[3].size = 0;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    m.entries[3].size = MF_CHUNK_MAX + 1;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    m.entries[3].size = 1;
    m.size = 0;
    for (size_t i = 0; i < m.n_entries; i++)
        m.size += m.entries[i].size;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    /* A 255-byte name leaves no room for a child in a 256-byte root. */
    name = malloc(MF_NAME_MAX + 1);
    assert_non_null(name);
    memset(name, 'n', MF_NAME_MAX);
    name[MF_NAME_MAX] = '\0';
    free(m.name);
    m.name = name;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_encode(&m, 1024, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    m.name[0] = '/';
    assert_int_equal(mf_encode(&m, 1024, &blobs, &nb), MF_EINVAL);
    mf_manifest_clear(&m);

    /* An empty file carries SHA-256 of no bytes. */
    make_manifest(&m, "empty", 0, &rng);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    m.sha256[0] ^= 1;
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    mf_manifest_clear(&m);
    mf_manifest_clear(NULL);
    mf_blobs_free(NULL, 0);

    assert_string_equal(mf_strerror(MF_OK), "success");
    assert_string_equal(mf_strerror(MF_EHASH), "manifest node does not match its key");
    assert_non_null(mf_strerror(12345));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_nodes),
        cmocka_unit_test(test_vectors_roundtrip),
        cmocka_unit_test(test_vector_bundle),
        cmocka_unit_test(test_vectors_invalid),
        cmocka_unit_test(test_roundtrip_small),
        cmocka_unit_test(test_tree_shuffled),
        cmocka_unit_test(test_tree_shared_leaves),
        cmocka_unit_test(test_tree_repeats_bounded),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_asm_parent_mismatch),
        cmocka_unit_test(test_asm_state),
        cmocka_unit_test(test_bundle_roundtrip),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_encode_invalid),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
