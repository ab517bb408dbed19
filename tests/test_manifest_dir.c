/*
 * Tests of directory manifests (manifests/dir_manifest.h) against
 * schema/manifest.md, section 8: the hand written dir_*.hex vectors decode
 * to the fields they describe and re-encode byte for byte, every
 * bad_dir_*.hex is refused where and as it should be; directories
 * round-trip through mf_dir_encode and the assembler, in one node and as
 * trees fetched in shuffled order (100,000 entries among them); each rule
 * of one node is checked on both sides of its limit; the assembler refuses
 * nodes that disagree with their parent, keys named twice and roots of the
 * wrong kind; a directory's whole tree survives a manifest file.
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

#include "manifests/dir_manifest.h"
#include "manifests/manifest_int.h" /* mf__dnode_decode and the writers */

#define VECTOR_DIR  "schema/vectors/manifest"
#define MIN_NODES   5  /* valid directory node vectors */
#define MIN_INVALID 30 /* bad_dir_*.hex */
#define MAX_VECTORS 128
#define DIR_KEY     "03970d1179272c6fd48c3ed77219cdb1472d4761a04d028fdc79432e862343c6"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

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

static const vector_t *find_vector(const char *name)
{
    const vector_t *v = vectors_find(vectors, n_vectors, name);

    if (v == NULL)
        fail_msg("vector %s missing", name);
    return v;
}

static int is_dir_vector(const char *name)
{
    return strncmp(name, "dir_", 4) == 0 || strncmp(name, "bad_dir_", 8) == 0;
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

static char *xstrdup(const char *s)
{
    char *c = strdup(s);
    assert_non_null(c);
    return c;
}

static char *xstrndup(const uint8_t *s, size_t n)
{
    char *c = malloc(n + 1);
    assert_non_null(c);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* Re-encodes a decoded directory node with the codec's writers into out.
 * @return the length written. */
static size_t reencode_dnode(const mf__dnode_t *n, uint8_t *out)
{
    const uint8_t *r = n->recs;
    uint8_t *p = out;

    if (n->is_root) {
        mf_dir_t d = {.bytes = n->bytes, .files = n->files, .total = n->total};
        d.name = xstrndup(n->name, n->name_len);
        p = mf__put_droot_hdr(p, &d, n->name_len, n->level, n->count);
        free(d.name);
    } else {
        p = mf__put_hdr(p, MF__DIR_MAGIC, MF__KIND_INNER, n->level);
        p = le_put32(p, n->count);
    }
    for (uint32_t i = 0; i < n->count; i++) {
        if (n->level == 0) {
            mf__drec_t rec;
            mf_dirent_t e = {0};
            size_t len = mf__drec_parse(r, (size_t)(n->recs + n->recs_len - r), &rec);
            assert_true(len > 0);
            e.kind = rec.kind;
            e.mode = rec.mode;
            e.name = xstrndup(rec.name, rec.name_len);
            if (rec.kind == MF_KIND_LINK) {
                e.target = xstrndup(rec.target, rec.target_len);
            } else {
                memcpy(e.key, rec.key, MF_KEY_LEN);
                e.bytes = rec.bytes;
                e.files = rec.files;
                e.total = rec.total;
            }
            assert_int_equal(mf__drec_len(&e), len);
            p = mf__put_drec(p, &e);
            free(e.name);
            free(e.target);
            r += len;
        } else {
            mf__dchild_t c;
            mf__dnode_child(n, i, &c);
            p = mf__put_dchild(p, &c);
        }
    }
    return (size_t)(p - out);
}

/* Decodes buf[0..len) from a heap copy of exactly len bytes: either
 * MF_EFORMAT, or a node that re-encodes to exactly these bytes.
 * @return 1 if it decoded, 0 if it was rejected. */
static int check_dnode_canonical(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1), *out;
    mf__dnode_t n;
    int rc;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    rc = mf__dnode_decode(&n, copy, len);
    if (rc != MF_OK) {
        assert_int_equal(rc, MF_EFORMAT);
        free(copy);
        return 0;
    }
    out = malloc(len);
    assert_non_null(out);
    assert_int_equal(reencode_dnode(&n, out), len);
    assert_memory_equal(out, buf, len);
    free(out);
    free(copy);
    return 1;
}

/* Assembles a manifest of one node (any kind), filed under its own hash.
 * @return what mf_asm_add or else mf_dir_asm_finish returned. */
static int assemble_one(const uint8_t *buf, size_t len, mf_dir_t *out)
{
    uint8_t key[MF_KEY_LEN];
    mf_asm_t *a;
    int rc;

    sha256(buf, len, key);
    assert_int_equal(mf_asm_new_kind(&a, key, MF_KIND_ANY), MF_OK);
    rc = mf_asm_add(a, key, buf, len);
    if (rc == MF_OK)
        rc = mf_dir_asm_finish(a, out);
    mf_asm_free(a);
    return rc;
}

/* @return the index of the blob filed under key, or n. */
static size_t find_blob(const mf_blob_t *blobs, size_t n, const uint8_t *key)
{
    size_t b = 0;

    while (b < n && memcmp(blobs[b].key, key, MF_KEY_LEN) != 0)
        b++;
    return b;
}

/* Assembles the manifest of key, of the given kind, from blobs[0..n) in
 * any order, adding each round's pending nodes shuffled.
 * @return the first error, or what finish returned. */
static int assemble_kind(const uint8_t *key, int kind, const mf_blob_t *blobs, size_t n,
                         uint64_t *rng, mf_dir_t *dir, mf_manifest_t *file)
{
    uint8_t(*keys)[MF_KEY_LEN] = malloc((n + 1) * MF_KEY_LEN);
    mf_asm_t *a;
    size_t want, rounds = 0;
    int rc = MF_OK;

    assert_non_null(keys);
    assert_int_equal(mf_asm_new_kind(&a, key, kind), MF_OK);
    while (rc == MF_OK && (want = mf_asm_pending(a, keys, n + 1)) > 0) {
        assert_true(want <= n);
        rnd_shuffle(rng, keys, want, MF_KEY_LEN);
        for (size_t i = 0; i < want && rc == MF_OK; i++) {
            size_t b = find_blob(blobs, n, keys[i]);
            rc = b < n ? mf_asm_add(a, blobs[b].key, blobs[b].data, blobs[b].len) : MF_ESTATE;
        }
        assert_true(++rounds <= MF_DEPTH_MAX + 1);
    }
    if (rc == MF_OK)
        rc = dir != NULL ? mf_dir_asm_finish(a, dir) : mf_asm_finish(a, file);
    mf_asm_free(a);
    free(keys);
    return rc;
}

/* Assembles the directory whose nodes are blobs[0..n) (root last): it must
 * succeed, and the assembler must have seen a directory. */
static void assemble_dir(const mf_blob_t *blobs, size_t n, uint64_t *rng, mf_dir_t *out)
{
    assert_int_equal(assemble_kind(blobs[n - 1].key, MF_KIND_ANY, blobs, n, rng, out, NULL), MF_OK);
}

/* A random name: 1..max_len bytes from an alphabet with bytes >= 0x80, so
 * that a signed comparison would sort wrongly. */
static char *random_name(uint64_t *rng, size_t max_len)
{
    static const char alphabet[] = "abcXYZ019._- ~\x80\xc3\xa9\xe2\xff";
    size_t len = 1 + rnd_below(rng, (uint32_t)max_len);
    char *s = malloc(len + 1);

    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = alphabet[rnd_below(rng, sizeof(alphabet) - 1)];
    s[len] = '\0';
    if (!mf_name_valid(s)) { /* "." or ".." */
        s[0] = 'x';
    }
    return s;
}

/* Fills e as a random valid entry of a random kind, named name. */
static void random_entry(mf_dirent_t *e, char *name, uint64_t *rng)
{
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->kind = (uint8_t)(1 + rnd_below(rng, 3));
    e->mode = (uint16_t)rnd_below(rng, MF_MODE_MAX + 1);
    if (e->kind == MF_KIND_LINK) {
        size_t len = 1 + rnd_below(rng, 60);
        e->target = malloc(len + 1);
        assert_non_null(e->target);
        for (size_t i = 0; i < len; i++)
            e->target[i] = (char)(1 + rnd_below(rng, 255)); /* any byte but NUL */
        e->target[len] = '\0';
        return;
    }
    rnd_bytes(rng, e->key, MF_KEY_LEN);
    if (e->kind == MF_KIND_FILE) {
        e->bytes = rnd_next(rng) % (MF_FILE_MAX + 1);
    } else {
        e->files = rnd_below(rng, 1000);
        e->total = e->files + rnd_below(rng, 1000);
        e->bytes = e->files ? rnd_next(rng) % (e->files << 30) : 0;
    }
}

/* A random consistent directory of n entries (unique names, sorted,
 * summed). Names are made unique by a prefix of their index. */
static void make_dir(mf_dir_t *d, const char *name, size_t n, uint64_t *rng)
{
    memset(d, 0, sizeof(*d));
    d->name = xstrdup(name);
    d->entries = calloc(n ? n : 1, sizeof(*d->entries));
    assert_non_null(d->entries);
    d->n_entries = n;
    for (size_t i = 0; i < n; i++) {
        char *tail = random_name(rng, 40), *full = malloc(strlen(tail) + 16);
        assert_non_null(full);
        snprintf(full, strlen(tail) + 16, "%zx:%s", i, tail); /* ':' ends the prefix */
        free(tail);
        random_entry(&d->entries[i], full, rng);
    }
    mf_dir_sort(d);
    assert_int_equal(mf_dir_sum(d), MF_OK);
}

static void assert_dir_equal(const mf_dir_t *a, const mf_dir_t *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->bytes, b->bytes);
    assert_int_equal(a->files, b->files);
    assert_int_equal(a->total, b->total);
    assert_int_equal(a->n_entries, b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const mf_dirent_t *x = &a->entries[i], *y = &b->entries[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->mode, y->mode);
        if (x->kind == MF_KIND_LINK) {
            assert_string_equal(x->target, y->target);
            continue;
        }
        assert_memory_equal(x->key, y->key, MF_KEY_LEN);
        assert_int_equal(x->bytes, y->bytes);
        if (x->kind == MF_KIND_DIR) {
            assert_int_equal(x->files, y->files);
            assert_int_equal(x->total, y->total);
        }
    }
}

/* What mf_dir_asm_finish promises of fields that do not apply to a kind. */
static void assert_unused_zero(const mf_dir_t *d)
{
    static const uint8_t zero[MF_KEY_LEN];

    for (size_t i = 0; i < d->n_entries; i++) {
        const mf_dirent_t *e = &d->entries[i];
        if (e->kind == MF_KIND_LINK) {
            assert_memory_equal(e->key, zero, MF_KEY_LEN);
            assert_int_equal(e->bytes + e->files + e->total, 0);
        } else {
            assert_null(e->target);
            if (e->kind == MF_KIND_FILE)
                assert_int_equal(e->files + e->total, 0);
        }
    }
}

/* The shape mf_dir_encode promises: every node within max, keys are
 * hashes, directory nodes, the root last, every child before the node
 * that lists it, no node twice; and section 8.5's shape: the nodes of a
 * level one after the other, leaves as full as they can be (the next
 * leaf's first entry would not fit), the nodes of each upper level listing
 * as many children as each other or one fewer, the first ones more.
 * @return the root's level. */
static unsigned check_dblobs(const mf_blob_t *blobs, size_t n, size_t max)
{
    uint32_t first[MF_DEPTH_MAX + 1] = {0}, last = 0;
    size_t prev_leaf_len = 0;
    int level = -1;
    mf__dnode_t node;

    memset(&node, 0, sizeof(node));
    for (size_t i = 0; i < n; i++) {
        uint8_t h[MF_KEY_LEN];

        assert_true(blobs[i].len <= max);
        sha256(blobs[i].data, blobs[i].len, h);
        assert_memory_equal(h, blobs[i].key, MF_KEY_LEN);
        assert_true(find_blob(blobs, i, blobs[i].key) == i);
        assert_int_equal(mf__dnode_decode(&node, blobs[i].data, blobs[i].len), MF_OK);
        assert_int_equal(node.is_root, i == n - 1);
        assert_int_equal(mf_root_kind(blobs[i].data, blobs[i].len),
                         i == n - 1 ? MF_KIND_DIR : MF_EFORMAT);
        for (uint32_t c = 0; node.level > 0 && c < node.count; c++) {
            mf__dchild_t ch;
            mf__dnode_child(&node, c, &ch);
            assert_true(find_blob(blobs, i, ch.key) < i);
        }
        if (node.is_root)
            break;
        assert_true(node.level >= level); /* level after level */
        if (node.level == 0) {
            mf__drec_t r;
            size_t rec = mf__drec_parse(node.recs, node.recs_len, &r);
            assert_true(rec > 0);
            if (level == 0)
                assert_true(prev_leaf_len + rec > max); /* it did not fit before */
            prev_leaf_len = blobs[i].len;
        } else if (node.level != level) {
            first[node.level] = last = node.count;
        } else {
            assert_true(node.count <= last && node.count + 1 >= first[node.level]);
            last = node.count;
        }
        level = node.level;
    }
    return node.level;
}

/* ------------------------------------------------------------------------ */
/* Vectors                                                                  */
/* ------------------------------------------------------------------------ */

static void want_small(const mf_dir_t *d)
{
    assert_string_equal(d->name, "project");
    assert_int_equal(d->bytes, 67536);
    assert_int_equal(d->files, 3);
    assert_int_equal(d->total, 6);
    assert_int_equal(d->n_entries, 3);
    assert_string_equal(d->entries[0].name, "docs");
    assert_int_equal(d->entries[0].kind, MF_KIND_DIR);
    assert_int_equal(d->entries[0].mode, 0755);
    assert_key_seq(d->entries[0].key, 0xc0);
    assert_int_equal(d->entries[0].bytes, 1000);
    assert_int_equal(d->entries[0].files, 2);
    assert_int_equal(d->entries[0].total, 3);
    assert_string_equal(d->entries[1].name, "hello.txt");
    assert_int_equal(d->entries[1].kind, MF_KIND_FILE);
    assert_int_equal(d->entries[1].mode, 0644);
    assert_key_seq(d->entries[1].key, 0xa0);
    assert_int_equal(d->entries[1].bytes, 66536);
    assert_string_equal(d->entries[2].name, "latest");
    assert_int_equal(d->entries[2].kind, MF_KIND_LINK);
    assert_int_equal(d->entries[2].mode, 0777);
    assert_string_equal(d->entries[2].target, "hello.txt");
    assert_unused_zero(d);
}

static void test_vector_dir_nodes(void **state)
{
    const vector_t *v;
    mf__dnode_t n;
    mf__dchild_t c;

    (void)state;
    v = find_vector("dir_leaf.hex");
    assert_int_equal(mf__dnode_decode(&n, v->buf, v->len), MF_OK);
    assert_false(n.is_root);
    assert_int_equal(n.level, 0);
    assert_int_equal(n.count, 2);
    assert_int_equal(n.entries, 2);
    assert_int_equal(n.bytes, 131073);
    assert_int_equal(n.files, 3);
    assert_int_equal(n.total, 4);

    v = find_vector("dir_interior.hex");
    assert_int_equal(mf__dnode_decode(&n, v->buf, v->len), MF_OK);
    assert_false(n.is_root);
    assert_int_equal(n.level, 1);
    assert_int_equal(n.count, 2);
    assert_int_equal(n.entries, 3);
    assert_int_equal(n.bytes, 131073);
    assert_int_equal(n.files, 3);
    assert_int_equal(n.total, 5);
    mf__dnode_child(&n, 1, &c);
    assert_key_seq(c.key, 0xc0);
    assert_int_equal(c.entries, 1);
    assert_int_equal(c.total, 1);

    v = find_vector("dir_root_tree.hex");
    assert_int_equal(mf__dnode_decode(&n, v->buf, v->len), MF_OK);
    assert_true(n.is_root);
    assert_int_equal(n.level, 2);
    assert_int_equal(n.name_len, 3);
    assert_memory_equal(n.name, "big", 3);
    assert_int_equal(n.entries, 100000);
    assert_int_equal(n.bytes, (UINT64_C(1) << 33) + 5);
    assert_int_equal(n.files, 100001);
    assert_int_equal(n.total, 190001);
    assert_int_equal(mf_root_kind(v->buf, v->len), MF_KIND_DIR);
}

/* Every valid directory node vector re-encodes byte for byte and is a
 * root exactly when mf_root_kind says so; a root of level 0 is a whole
 * directory that mf_dir_encode gives back exactly. The file vectors are
 * told apart by mf_root_kind as well. */
static void test_vectors_dir_roundtrip(void **state)
{
    size_t valid = 0, whole = 0;

    (void)state;
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        mf__dnode_t node;
        mf__node_t fnode;
        mf_dir_t d;
        mf_blob_t *blobs;
        size_t nb;

        if (strncmp(v->name, "bad_", 4) == 0 || mf_is_bundle(v->buf, v->len))
            continue;
        if (!is_dir_vector(v->name)) { /* a file manifest node */
            assert_int_equal(mf__node_decode(&fnode, v->buf, v->len), MF_OK);
            assert_int_equal(mf_root_kind(v->buf, v->len),
                             fnode.is_root ? MF_KIND_FILE : MF_EFORMAT);
            continue;
        }
        valid++;
        if (!check_dnode_canonical(v->buf, v->len))
            fail_msg("valid vector %s rejected", v->name);
        assert_int_equal(mf__dnode_decode(&node, v->buf, v->len), MF_OK);
        assert_int_equal(mf_root_kind(v->buf, v->len), node.is_root ? MF_KIND_DIR : MF_EFORMAT);
        if (!node.is_root || node.level != 0)
            continue;
        whole++;
        assert_int_equal(assemble_one(v->buf, v->len, &d), MF_OK);
        if (strcmp(v->name, "dir_small.hex") == 0)
            want_small(&d);
        if (strcmp(v->name, "dir_empty.hex") == 0) {
            assert_string_equal(d.name, "void");
            assert_int_equal(d.n_entries + d.bytes + d.files + d.total, 0);
        }
        assert_int_equal(
            mf_dir_encode(&d, v->len < MF_NODE_MIN ? MF_NODE_MIN : v->len, &blobs, &nb), MF_OK);
        assert_int_equal(nb, 1);
        assert_int_equal(blobs[0].len, v->len);
        assert_memory_equal(blobs[0].data, v->buf, v->len);
        mf_blobs_free(blobs, nb);
        mf_dir_clear(&d);
    }
    assert_true(valid >= MIN_NODES);
    assert_int_equal(whole, 2);
}

/* dir_bundle.hex: a directory's whole tree. It decodes, names the
 * directory's root as key, re-encodes exactly, passes mf_dir_bundle_check;
 * the directory assembles (in any order) into what its comments say and is
 * what mf_dir_encode makes of it at MF_NODE_MIN; every entry agrees with
 * the manifest it names, found in the same file. */
static void test_vector_dir_bundle(void **state)
{
    const vector_t *v = find_vector("dir_bundle.hex");
    uint8_t key[MF_KEY_LEN], want[MF_KEY_LEN], *out;
    mf_blob_t *blobs, *again;
    size_t nb, nagain, out_len;
    mf_dir_t d, sub;
    mf_manifest_t m;
    uint64_t rng = 1;

    (void)state;
    assert_int_equal(mf_bundle_decode(v->buf, v->len, key, &blobs, &nb), MF_OK);
    assert_int_equal(mf_key_from_hex(want, DIR_KEY), MF_OK);
    assert_memory_equal(key, want, MF_KEY_LEN);
    assert_int_equal(nb, 6);
    assert_int_equal(mf_root_kind(blobs[nb - 1].data, blobs[nb - 1].len), MF_KIND_DIR);
    assert_int_equal(mf_bundle_encode(blobs, nb, &out, &out_len), MF_OK);
    assert_int_equal(out_len, v->len);
    assert_memory_equal(out, v->buf, v->len);
    free(out);
    assert_int_equal(mf_dir_bundle_check(key, blobs, nb), MF_OK);

    for (int round = 0; round < 4; round++) {
        assemble_dir(blobs, nb, &rng, &d);
        assert_string_equal(d.name, "d");
        assert_int_equal(d.n_entries, 6);
        assert_int_equal(d.bytes, 66536);
        assert_int_equal(d.files, 2);
        assert_int_equal(d.total, 6);
        assert_string_equal(d.entries[4].name, "up");
        assert_string_equal(d.entries[4].target, "../../shared/reference/manual.pdf");
        if (round < 3)
            mf_dir_clear(&d);
    }
    /* The directory's own nodes are the last three, as the encoder makes them. */
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &again, &nagain), MF_OK);
    assert_int_equal(nagain, 3);
    for (size_t i = 0; i < nagain; i++) {
        assert_int_equal(again[i].len, blobs[3 + i].len);
        assert_memory_equal(again[i].data, blobs[3 + i].data, again[i].len);
    }
    mf_blobs_free(again, nagain);

    /* What the entries name. */
    for (size_t i = 0; i < d.n_entries; i++) {
        const mf_dirent_t *e = &d.entries[i];
        if (e->kind == MF_KIND_FILE) {
            assert_int_equal(assemble_kind(e->key, MF_KIND_FILE, blobs, nb, &rng, NULL, &m), MF_OK);
            assert_string_equal(m.name, e->name); /* as emofs writes them */
            assert_int_equal(mf_dirent_check_file(e, &m), MF_OK);
            mf_manifest_clear(&m);
        } else if (e->kind == MF_KIND_DIR) {
            assert_int_equal(assemble_kind(e->key, MF_KIND_DIR, blobs, nb, &rng, &sub, NULL),
                             MF_OK);
            assert_string_equal(sub.name, e->name);
            assert_int_equal(mf_dirent_check_dir(e, &sub), MF_OK);
            mf_dir_clear(&sub);
            /* A directory's key is no file's. */
            assert_int_equal(assemble_kind(e->key, MF_KIND_FILE, blobs, nb, &rng, NULL, &m),
                             MF_EFORMAT);
        }
    }
    mf_dir_clear(&d);
    mf_blobs_free(blobs, nb);
}

/* Every bad_dir_*.hex is refused, where its name says:
 *   bad_dir_tree_*: a manifest file that decodes but whose directory does
 *     not assemble (the nodes disagree with each other);
 *   bad_dir_bundle_*: a manifest file whose directory assembles, but whose
 *     tree mf_dir_bundle_check refuses;
 *   any other: one directory node ("EMOD"), refused by the decoder, the
 *     assembler and mf_root_kind. */
static void test_vectors_dir_invalid(void **state)
{
    size_t invalid = 0, trees = 0, bundles = 0;
    uint64_t rng = 2;

    (void)state;
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        int is_tree = strncmp(v->name, "bad_dir_tree_", 13) == 0;
        int is_bundle = strncmp(v->name, "bad_dir_bundle_", 15) == 0;
        uint8_t key[MF_KEY_LEN];
        mf__dnode_t n;
        mf_blob_t *blobs;
        size_t nb;
        mf_dir_t d;

        if (strncmp(v->name, "bad_dir_", 8) != 0)
            continue;
        invalid++;
        if (is_tree || is_bundle) {
            trees += (size_t)is_tree;
            bundles += (size_t)is_bundle;
            assert_int_equal(mf_bundle_decode(v->buf, v->len, key, &blobs, &nb), MF_OK);
            assert_int_equal(mf_root_kind(blobs[nb - 1].data, blobs[nb - 1].len), MF_KIND_DIR);
            if (is_tree) {
                if (assemble_kind(key, MF_KIND_ANY, blobs, nb, &rng, &d, NULL) != MF_EFORMAT)
                    fail_msg("%s: assembled", v->name);
            } else {
                assemble_dir(blobs, nb, &rng, &d);
                mf_dir_clear(&d);
            }
            if (mf_dir_bundle_check(key, blobs, nb) != MF_EFORMAT)
                fail_msg("%s: passed mf_dir_bundle_check", v->name);
            mf_blobs_free(blobs, nb);
            continue;
        }
        /* A node that gets past the magic: the rule it breaks is a
         * directory rule. */
        assert_true(v->len >= 4 && memcmp(v->buf, "EMOD", 4) == 0);
        if (mf__dnode_decode(&n, v->buf, v->len) != MF_EFORMAT)
            fail_msg("%s: decoded", v->name);
        assert_int_equal(assemble_one(v->buf, v->len, &d), MF_EFORMAT);
        assert_int_equal(mf_root_kind(v->buf, v->len), MF_EFORMAT);
    }
    assert_true(invalid >= MIN_INVALID);
    assert_true(trees >= 4);
    assert_true(bundles >= 4);
}

/* ------------------------------------------------------------------------ */
/* Round trips and trees                                                    */
/* ------------------------------------------------------------------------ */

static void test_dir_roundtrip_small(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 3, 50, 500};
    uint64_t rng = 42;

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        mf_dir_t d, back;
        mf_blob_t *blobs, *again;
        size_t nb, nagain;

        make_dir(&d, "photos (2024)", sizes[s], &rng);
        assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_OK);
        assert_int_equal(nb, 1); /* all fit in one node */
        assert_int_equal(check_dblobs(blobs, nb, MF_NODE_DEFAULT), 0);
        assert_int_equal(assemble_one(blobs[0].data, blobs[0].len, &back), MF_OK);
        assert_dir_equal(&d, &back);
        assert_unused_zero(&back);
        /* Deterministic: same directory, same bytes. */
        assert_int_equal(mf_dir_encode(&back, MF_NODE_DEFAULT, &again, &nagain), MF_OK);
        assert_int_equal(nagain, 1);
        assert_memory_equal(again[0].key, blobs[0].key, MF_KEY_LEN);
        mf_blobs_free(again, nagain);
        mf_blobs_free(blobs, nb);
        mf_dir_clear(&back);
        mf_dir_clear(&d);
    }
}

/* Random directories at several node sizes: as many trees, each within
 * max, each assembling back in shuffled order. */
static void test_dir_random_trees(void **state)
{
    static const size_t maxes[] = {MF_NODE_MIN, 300, 1024, 4096};
    uint64_t rng = 7;
    unsigned deepest = 0;

    (void)state;
    for (int round = 0; round < 40; round++) {
        size_t max = maxes[round % 4], n = rnd_below(&rng, 400), nb;
        mf_dir_t d, back;
        mf_blob_t *blobs;

        make_dir(&d, "t", n, &rng);
        assert_int_equal(mf_dir_encode(&d, max, &blobs, &nb), MF_OK);
        unsigned level = check_dblobs(blobs, nb, max);
        deepest = level > deepest ? level : deepest;
        assemble_dir(blobs, nb, &rng, &back);
        assert_dir_equal(&d, &back);
        mf_dir_clear(&back);
        mf_blobs_free(blobs, nb);
        mf_dir_clear(&d);
    }
    assert_true(deepest >= 3);
}

/* 100,000 entries: several nodes of the default size, reassembled from a
 * shuffled fetch; and a deeper tree of small nodes. */
static void test_dir_large(void **state)
{
    uint64_t rng = 100000;
    mf_dir_t d, back;
    mf_blob_t *blobs;
    size_t nb;

    (void)state;
    make_dir(&d, "big", 100000, &rng);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_OK);
    assert_true(nb > 5);
    assert_int_equal(check_dblobs(blobs, nb, MF_NODE_DEFAULT), 1);
    assemble_dir(blobs, nb, &rng, &back);
    assert_dir_equal(&d, &back);
    mf_dir_clear(&back);
    mf_blobs_free(blobs, nb);

    assert_int_equal(mf_dir_encode(&d, 4096, &blobs, &nb), MF_OK);
    assert_int_equal(check_dblobs(blobs, nb, 4096), 2);
    assemble_dir(blobs, nb, &rng, &back);
    assert_dir_equal(&d, &back);
    mf_dir_clear(&back);
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);
}

/* Directories that cannot be encoded at a size, or at all. */
static void test_dir_encode_invalid(void **state)
{
    uint64_t rng = 13;
    mf_dir_t d;
    mf_dirent_t *e;
    mf_blob_t *blobs;
    size_t nb;
    char *s, c0;

    (void)state;
    make_dir(&d, "ok", 10, &rng);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN - 1, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_dir_encode(NULL, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, NULL, &nb), MF_EINVAL);
    d.total++; /* totals that disagree with the entries */
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    d.total--;
    d.bytes++;
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    d.bytes--;
    /* Out of order (names 3 and 4 swapped), then a name twice. */
    e = &d.entries[3];
    s = d.entries[4].name;
    d.entries[4].name = e->name;
    e->name = s;
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    d.entries[3].name = d.entries[4].name;
    d.entries[4].name = s;
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_OK); /* restored */
    mf_blobs_free(blobs, nb);
    d.entries[4].name = d.entries[3].name;
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    d.entries[4].name = s;
    /* An entry that breaks a rule of its own. */
    e->mode = 01000;
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    e->mode = 0;
    c0 = e->name[0];
    e->name[0] = '/';
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    e->name[0] = c0;
    d.name[0] = '\0';
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    d.name[0] = 'o';
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);

    /* A sub-directory entry named with 200 bytes takes 260 bytes: it does
     * not fit in a leaf of 256, so a tree of 256-byte nodes is impossible,
     * while 1024 is fine. */
    make_dir(&d, "wide", 3, &rng);
    e = &d.entries[2];
    free(e->name);
    free(e->target);
    e->target = NULL;
    e->name = malloc(201);
    assert_non_null(e->name);
    memset(e->name, 'z', 200);
    e->name[200] = '\0';
    e->kind = MF_KIND_DIR;
    e->files = e->total = 1;
    e->bytes = 5;
    assert_int_equal(mf_dir_sum(&d), MF_OK);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_dir_encode(&d, 1024, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);

    /* A 255-byte directory name leaves no room for a child in the root. */
    make_dir(&d, "x", 40, &rng);
    free(d.name);
    d.name = malloc(MF_NAME_MAX + 1);
    assert_non_null(d.name);
    memset(d.name, 'n', MF_NAME_MAX);
    d.name[MF_NAME_MAX] = '\0';
    assert_int_equal(mf_dir_encode(&d, 300, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_dir_encode(&d, 4096, &blobs, &nb), MF_OK);
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);

    /* Too many entries: refused before the entries are read. */
    memset(&d, 0, sizeof(d));
    d.name = "many";
    d.n_entries = MF_DIR_ENTRIES_MAX + 1;
    d.entries = calloc(1, sizeof(*d.entries));
    assert_non_null(d.entries);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), MF_EINVAL);
    assert_int_equal(mf_dir_sum(&d), MF_EINVAL);
    free(d.entries);
}

/* ------------------------------------------------------------------------ */
/* Hostile bytes                                                            */
/* ------------------------------------------------------------------------ */

/* A root of level 0 listing e[0..n) as they are (whatever the rules say),
 * with the totals the schema's sums give. @return its length in buf. */
static size_t forge_root(const mf_dirent_t *e, size_t n, uint8_t *buf)
{
    mf_dir_t d = {.name = "f"};
    uint8_t *p;

    for (size_t i = 0; i < n; i++) {
        d.total += 1;
        if (e[i].kind == MF_KIND_FILE) {
            d.files += 1;
            d.bytes += e[i].bytes;
        } else if (e[i].kind == MF_KIND_DIR) {
            d.total += e[i].total;
            d.files += e[i].files;
            d.bytes += e[i].bytes;
        }
    }
    p = mf__put_droot_hdr(buf, &d, 1, 0, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        p = mf__put_drec(p, &e[i]);
    return (size_t)(p - buf);
}

/* @return 1 if the forged root of e[0..n) decodes, and then it also
 * assembles; 0 if it is refused by both the decoder and the assembler. */
static int forged_ok(const mf_dirent_t *e, size_t n)
{
    static uint8_t buf[2 * 8192];
    size_t len = forge_root(e, n, buf);
    int ok = check_dnode_canonical(buf, len);
    mf_dir_t d;

    assert_int_equal(assemble_one(buf, len, &d), ok ? MF_OK : MF_EFORMAT);
    if (ok)
        mf_dir_clear(&d);
    return ok;
}

/* Each rule of one entry, on both sides of its limit. */
static void test_dir_entry_rules(void **state)
{
    static char target[MF_LINK_MAX + 2];
    char name[MF_NAME_MAX + 1];
    mf_dirent_t e[2] = {{.name = "a", .kind = MF_KIND_FILE, .mode = 0644},
                        {.name = "b", .kind = MF_KIND_LINK, .mode = 0777, .target = "a"}};

    (void)state;
    assert_true(forged_ok(e, 2));
    /* mode */
    e[0].mode = MF_MODE_MAX;
    assert_true(forged_ok(e, 2));
    e[0].mode = MF_MODE_MAX + 1;
    assert_false(forged_ok(e, 2));
    e[0].mode = 04000; /* setuid */
    assert_false(forged_ok(e, 2));
    e[0].mode = 0;
    assert_true(forged_ok(e, 2));
    /* kind */
    e[0].kind = 0;
    assert_false(forged_ok(e, 2));
    e[0].kind = 4;
    assert_false(forged_ok(e, 2));
    e[0].kind = MF_KIND_FILE;
    /* a file's size */
    e[0].bytes = MF_FILE_MAX;
    assert_true(forged_ok(e, 2));
    e[0].bytes = MF_FILE_MAX + 1;
    assert_false(forged_ok(e, 2));
    e[0].bytes = 0;
    /* a directory's totals */
    e[0].kind = MF_KIND_DIR;
    e[0].files = 3;
    e[0].total = 3;
    e[0].bytes = 3 * MF_FILE_MAX;
    assert_true(forged_ok(e, 2));
    e[0].bytes++;
    assert_false(forged_ok(e, 2));
    e[0].bytes = 0;
    e[0].total = 2; /* fewer entries than files */
    assert_false(forged_ok(e, 2));
    e[0].files = 0;
    e[0].total = 0; /* an empty sub-directory */
    assert_true(forged_ok(e, 2));
    e[0].kind = MF_KIND_FILE;
    /* a link's target */
    memset(target, 'x', MF_LINK_MAX);
    target[MF_LINK_MAX] = '\0';
    e[1].target = target;
    assert_true(forged_ok(e, 2));
    target[MF_LINK_MAX] = 'x';
    target[MF_LINK_MAX + 1] = '\0';
    assert_false(forged_ok(e, 2));
    e[1].target = "";
    assert_false(forged_ok(e, 2));
    e[1].target = "\x01/..//\xff"; /* any other byte is data */
    assert_true(forged_ok(e, 2));
    /* names: as mf_name_valid, and strictly increasing bytewise */
    memset(name, 'b', MF_NAME_MAX);
    name[MF_NAME_MAX] = '\0';
    e[1].name = name;
    assert_true(forged_ok(e, 2));
    e[1].name = "b\x7f";
    assert_false(forged_ok(e, 2));
    e[1].name = "b\x1f";
    assert_false(forged_ok(e, 2));
    e[1].name = "b";
    e[0].name = "."; /* sorted, but not a name */
    assert_false(forged_ok(e, 2));
    e[0].name = "..";
    assert_false(forged_ok(e, 2));
    e[0].name = "...";
    assert_true(forged_ok(e, 2));
    e[0].name = "a";
    e[1].name = "ab"; /* "a" is its prefix: after it */
    assert_true(forged_ok(e, 2));
    e[0].name = "ab";
    e[1].name = "a";
    assert_false(forged_ok(e, 2));
    e[0].name = "z";
    e[1].name = "\xc3\xa9"; /* 0xc3 > 'z' as unsigned bytes */
    assert_true(forged_ok(e, 2));
    e[0].name = "\xc3\xa9";
    e[1].name = "z";
    assert_false(forged_ok(e, 2));
    e[1].name = "\xc3\xa9";
    assert_false(forged_ok(e, 2)); /* a name twice */
}

/* A leaf of n links named by their index in 4 ascending digits, each
 * 11 bytes (so MF_DIR_ENTRIES_MAX of them take 11.5 MB). @return its
 * length in the malloc'ed *out. */
static size_t forge_wide_leaf(size_t n, uint8_t **out)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint8_t *buf = malloc(MF__INNER_HDR + 11 * n), *p;

    assert_non_null(buf);
    p = le_put32(mf__put_hdr(buf, MF__DIR_MAGIC, MF__KIND_INNER, 0), (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        *p++ = MF_KIND_LINK;
        p = le_put16(p, 0644);
        *p++ = 4;
        for (size_t k = 0, v = i; k < 4; k++, v /= 62)
            p[3 - k] = (uint8_t)digits[v % 62];
        p = le_put16(p + 4, 1);
        *p++ = 'x';
    }
    *out = buf;
    return (size_t)(p - buf);
}

/* One node may cover MF_DIR_ENTRIES_MAX entries, not one more. */
static void test_dir_entries_max(void **state)
{
    mf__dnode_t n;
    uint8_t *buf;
    size_t len;

    (void)state;
    len = forge_wide_leaf(MF_DIR_ENTRIES_MAX, &buf);
    assert_int_equal(mf__dnode_decode(&n, buf, len), MF_OK);
    assert_int_equal(n.entries, MF_DIR_ENTRIES_MAX);
    free(buf);
    len = forge_wide_leaf(MF_DIR_ENTRIES_MAX + 1, &buf);
    assert_int_equal(mf__dnode_decode(&n, buf, len), MF_EFORMAT);
    free(buf);
}

/* Cut anywhere, a valid directory node is refused. */
static void test_dir_truncations(void **state)
{
    uint64_t rng = 3;
    mf_dir_t d, back;
    mf_blob_t *blobs;
    size_t nb;

    (void)state;
    make_dir(&d, "cut", 30, &rng);
    assert_int_equal(mf_dir_encode(&d, 512, &blobs, &nb), MF_OK);
    assert_true(nb > 2);
    for (size_t i = 0; i < nb; i++) {
        for (size_t len = 0; len < blobs[i].len; len++) {
            if (check_dnode_canonical(blobs[i].data, len))
                fail_msg("blob %zu cut to %zu bytes decoded", i, len);
            if (i == nb - 1)
                assert_int_equal(assemble_one(blobs[i].data, len, &back), MF_EFORMAT);
        }
        assert_true(check_dnode_canonical(blobs[i].data, blobs[i].len));
    }
    for (size_t v = 0; v < n_vectors; v++) {
        if (strncmp(vectors[v].name, "dir_", 4) != 0 ||
            mf_is_bundle(vectors[v].buf, vectors[v].len))
            continue;
        for (size_t len = 0; len < vectors[v].len; len++)
            assert_false(check_dnode_canonical(vectors[v].buf, len));
    }
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);
}

/* Random single-byte changes: each node is rejected or canonical; a root
 * of level 0 that still assembles encodes back to exactly itself. */
static void test_dir_corruptions(void **state)
{
    const vector_t *vs[] = {find_vector("dir_small.hex"), find_vector("dir_leaf.hex"),
                            find_vector("dir_interior.hex"), find_vector("dir_root_tree.hex"),
                            find_vector("dir_empty.hex")};
    uint64_t rng = 5;
    size_t accepted = 0, rejected = 0, whole = 0;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        const vector_t *v = vs[rnd_below(&rng, sizeof(vs) / sizeof(vs[0]))];
        uint8_t *buf = malloc(v->len);
        mf_dir_t d;
        mf_blob_t *blobs;
        size_t nb;

        assert_non_null(buf);
        memcpy(buf, v->buf, v->len);
        buf[rnd_below(&rng, (uint32_t)v->len)] ^= (uint8_t)(1 + rnd_below(&rng, 255));
        if (!check_dnode_canonical(buf, v->len)) {
            rejected++;
        } else {
            accepted++;
            if (assemble_one(buf, v->len, &d) == MF_OK) {
                size_t max = v->len < MF_NODE_MIN ? MF_NODE_MIN : v->len;
                whole++;
                assert_int_equal(mf_dir_encode(&d, max, &blobs, &nb), MF_OK);
                assert_int_equal(nb, 1);
                assert_memory_equal(blobs[0].data, buf, v->len);
                mf_blobs_free(blobs, nb);
                mf_dir_clear(&d);
            }
        }
        free(buf);
    }
    /* Keys and names take many values, totals few: both outcomes are common. */
    assert_true(accepted > 1000);
    assert_true(rejected > 1000);
    assert_true(whole > 100);
}

/* ------------------------------------------------------------------------ */
/* The assembler                                                            */
/* ------------------------------------------------------------------------ */

/* The leaf of dir_leaf.hex's entries, and a root of the given level that
 * lists it count times (1 or 2) with the given child record fields; the
 * root's totals are what its records say. */
static void forge_tree(uint8_t level, uint64_t bytes, uint64_t files, uint64_t total,
                       uint32_t entries, uint32_t count, uint8_t *root, size_t *root_len,
                       uint8_t root_key[MF_KEY_LEN])
{
    const vector_t *leaf = find_vector("dir_leaf.hex");
    mf_dir_t d = {
        .name = "forged", .bytes = bytes * count, .files = files * count, .total = total * count};
    mf__dchild_t c = {.bytes = bytes, .files = files, .total = total, .entries = entries};
    uint8_t *p;

    sha256(leaf->buf, leaf->len, c.key);
    p = mf__put_droot_hdr(root, &d, strlen(d.name), level, count);
    for (uint32_t i = 0; i < count; i++)
        p = mf__put_dchild(p, &c);
    *root_len = (size_t)(p - root);
    sha256(root, *root_len, root_key);
}

/* @return what mf_asm_add said of the leaf under a forged root; *fin gets
 * what mf_dir_asm_finish said after. */
static int add_forged(uint8_t level, uint64_t bytes, uint64_t files, uint64_t total,
                      uint32_t entries, uint32_t count, int *fin)
{
    const vector_t *leaf = find_vector("dir_leaf.hex");
    uint8_t root[256], root_key[MF_KEY_LEN], leaf_key[MF_KEY_LEN];
    size_t root_len;
    mf_asm_t *a;
    mf_dir_t d;
    int rc;

    forge_tree(level, bytes, files, total, entries, count, root, &root_len, root_key);
    sha256(leaf->buf, leaf->len, leaf_key);
    assert_int_equal(mf_asm_new_kind(&a, root_key, MF_KIND_DIR), MF_OK);
    rc = mf_asm_add(a, root_key, root, root_len);
    if (rc == MF_OK) {
        assert_int_equal(mf_asm_kind(a), MF_KIND_DIR);
        assert_int_equal(mf_asm_pending(a, NULL, 0), 1);
        rc = mf_asm_add(a, leaf_key, leaf->buf, leaf->len);
    }
    *fin = mf_dir_asm_finish(a, &d);
    if (*fin == MF_OK) {
        assert_int_equal(d.n_entries, 2);
        assert_string_equal(d.entries[0].name, "bin");
        assert_int_equal(d.total, 4);
        mf_dir_clear(&d);
    }
    mf_asm_free(a);
    return rc;
}

static void test_dir_asm_parent_mismatch(void **state)
{
    int fin;

    (void)state;
    /* dir_leaf.hex covers bytes 131073, files 3, total 4, entries 2. */
    assert_int_equal(add_forged(1, 131073, 3, 4, 2, 1, &fin), MF_OK); /* the honest pair */
    assert_int_equal(fin, MF_OK);
    assert_int_equal(add_forged(1, 131074, 3, 4, 2, 1, &fin), MF_EFORMAT); /* bytes */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(1, 131073, 2, 4, 2, 1, &fin), MF_EFORMAT); /* files */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(1, 131073, 3, 5, 2, 1, &fin), MF_EFORMAT); /* total */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(1, 131073, 3, 4, 1, 1, &fin), MF_EFORMAT); /* entries */
    assert_int_equal(fin, MF_EFORMAT);
    assert_int_equal(add_forged(2, 131073, 3, 4, 2, 1, &fin), MF_EFORMAT); /* level */
    assert_int_equal(fin, MF_EFORMAT);
    /* The same leaf twice: refused as soon as the root names it twice. */
    assert_int_equal(add_forged(1, 131073, 3, 4, 2, 2, &fin), MF_EFORMAT);
    assert_int_equal(fin, MF_EFORMAT);
}

/* Roots of either kind, under assemblers of each kind; a file's tree and
 * a directory's never mix. */
static void test_asm_kinds(void **state)
{
    const vector_t *file = find_vector("single.hex"), *dir = find_vector("dir_small.hex");
    const vector_t *file_leaf = find_vector("leaf.hex"), *dir_leaf = find_vector("dir_leaf.hex");
    uint8_t fkey[MF_KEY_LEN], dkey[MF_KEY_LEN], root[256], key[MF_KEY_LEN], leaf_key[MF_KEY_LEN];
    mf_manifest_t m;
    mf_dir_t d;
    mf_asm_t *a;
    size_t len;
    uint8_t *p;

    (void)state;
    sha256(file->buf, file->len, fkey);
    sha256(dir->buf, dir->len, dkey);
    assert_int_equal(mf_asm_new_kind(&a, fkey, 7), MF_EINVAL);
    assert_int_equal(mf_asm_new_kind(NULL, fkey, MF_KIND_ANY), MF_EINVAL);
    assert_int_equal(mf_asm_kind(NULL), 0);

    /* Any kind: the root decides. */
    assert_int_equal(mf_asm_new_kind(&a, dkey, MF_KIND_ANY), MF_OK);
    assert_int_equal(mf_asm_kind(a), 0);
    assert_int_equal(mf_dir_asm_finish(a, &d), MF_ESTATE);
    assert_int_equal(mf_asm_add(a, dkey, dir->buf, dir->len), MF_OK);
    assert_int_equal(mf_asm_kind(a), MF_KIND_DIR);
    assert_int_equal(mf_asm_finish(a, &m), MF_EINVAL); /* not a file */
    assert_int_equal(mf_dir_asm_finish(a, &d), MF_OK);
    want_small(&d);
    mf_dir_clear(&d);
    mf_asm_free(a);
    assert_int_equal(mf_asm_new_kind(&a, fkey, MF_KIND_ANY), MF_OK);
    assert_int_equal(mf_asm_add(a, fkey, file->buf, file->len), MF_OK);
    assert_int_equal(mf_asm_kind(a), MF_KIND_FILE);
    assert_int_equal(mf_dir_asm_finish(a, &d), MF_EINVAL); /* not a directory */
    assert_int_equal(mf_asm_finish(a, &m), MF_OK);
    assert_string_equal(m.name, "hello.txt");
    mf_manifest_clear(&m);
    mf_asm_free(a);

    /* One kind: the other's root is malformed there, and fatal. */
    assert_int_equal(mf_asm_new(&a, dkey), MF_OK);
    assert_int_equal(mf_asm_add(a, dkey, dir->buf, dir->len), MF_EFORMAT);
    assert_int_equal(mf_asm_kind(a), 0);
    assert_int_equal(mf_asm_finish(a, &m), MF_EFORMAT);
    mf_asm_free(a);
    assert_int_equal(mf_asm_new_kind(&a, fkey, MF_KIND_DIR), MF_OK);
    assert_int_equal(mf_asm_add(a, fkey, file->buf, file->len), MF_EFORMAT);
    assert_int_equal(mf_dir_asm_finish(a, &d), MF_EFORMAT);
    mf_asm_free(a);

    /* A directory root whose child is a file's leaf: the leaf is refused. */
    {
        mf_dir_t fd = {.name = "mix", .bytes = 65537, .files = 2, .total = 2};
        mf__dchild_t c = {.bytes = 65537, .files = 2, .total = 2, .entries = 2};
        sha256(file_leaf->buf, file_leaf->len, c.key);
        memcpy(leaf_key, c.key, MF_KEY_LEN);
        p = mf__put_droot_hdr(root, &fd, 3, 1, 1);
        p = mf__put_dchild(p, &c);
        len = (size_t)(p - root);
        sha256(root, len, key);
        assert_int_equal(mf_asm_new_kind(&a, key, MF_KIND_ANY), MF_OK);
        assert_int_equal(mf_asm_add(a, key, root, len), MF_OK);
        assert_int_equal(mf_asm_add(a, leaf_key, file_leaf->buf, file_leaf->len), MF_EFORMAT);
        mf_asm_free(a);
    }
    /* A file root whose child is a directory leaf: refused too. */
    {
        mf_manifest_t fm = {.name = "mix", .size = 100};
        mf__child_t c = {.bytes = 100, .chunks = 2};
        sha256(dir_leaf->buf, dir_leaf->len, c.key);
        memcpy(leaf_key, c.key, MF_KEY_LEN);
        p = mf__put_root_hdr(root, &fm, 3, 1, 1);
        p = mf__put_child(p, &c);
        len = (size_t)(p - root);
        sha256(root, len, key);
        assert_int_equal(mf_asm_new_kind(&a, key, MF_KIND_ANY), MF_OK);
        assert_int_equal(mf_asm_add(a, key, root, len), MF_OK);
        assert_int_equal(mf_asm_kind(a), MF_KIND_FILE);
        assert_int_equal(mf_asm_add(a, leaf_key, dir_leaf->buf, dir_leaf->len), MF_EFORMAT);
        mf_asm_free(a);
    }
}

/* ------------------------------------------------------------------------ */
/* Helpers of the API and manifest files                                    */
/* ------------------------------------------------------------------------ */

static void test_dir_helpers(void **state)
{
    mf_dirent_t e[3] = {
        {.name = "\xc3\xa9t\xc3\xa9", .kind = MF_KIND_FILE, .bytes = 10},
        {.name = "zebra", .kind = MF_KIND_DIR, .bytes = 5, .files = 2, .total = 7},
        {.name = "Apple", .kind = MF_KIND_LINK, .target = "zebra"},
    };
    mf_dir_t d = {.name = "h", .n_entries = 3, .entries = e};
    mf_manifest_t m = {.size = 10};
    mf_dir_t sub = {.bytes = 5, .files = 2, .total = 7};

    (void)state;
    mf_dir_sort(&d);
    assert_string_equal(e[0].name, "Apple");
    assert_string_equal(e[1].name, "zebra");
    assert_string_equal(e[2].name, "\xc3\xa9t\xc3\xa9"); /* bytes >= 0x80 sort last */
    assert_int_equal(mf_dir_sum(&d), MF_OK);
    assert_int_equal(d.bytes, 15);
    assert_int_equal(d.files, 3);
    assert_int_equal(d.total, 10);
    mf_dir_sort(NULL);
    assert_int_equal(mf_dir_sum(NULL), MF_EINVAL);

    /* Sums that do not fit in 64 bits. */
    e[1].files = 0;
    e[1].bytes = 0;
    e[1].total = UINT64_MAX - 2;
    assert_int_equal(mf_dir_sum(&d), MF_EINVAL); /* 3 + 2^64 - 3 */
    e[1].total = UINT64_MAX - 3;
    assert_int_equal(mf_dir_sum(&d), MF_OK);
    assert_int_equal(d.total, UINT64_MAX);
    e[1].total = 7;
    e[1].files = 2;
    e[1].bytes = 5;

    assert_true(mf_dirent_valid(&e[0]));
    assert_false(mf_dirent_valid(NULL));
    e[0].target = NULL; /* the link "Apple" */
    assert_false(mf_dirent_valid(&e[0]));
    assert_int_equal(mf_dir_sum(&d), MF_EINVAL);
    e[0].target = "zebra";
    assert_int_equal(mf_dir_sum(&d), MF_OK);

    /* An entry against what it names. */
    assert_int_equal(mf_dirent_check_file(&e[2], &m), MF_OK);
    m.size = 11;
    assert_int_equal(mf_dirent_check_file(&e[2], &m), MF_EFORMAT);
    assert_int_equal(mf_dirent_check_file(&e[1], &m), MF_EINVAL); /* not a file */
    assert_int_equal(mf_dirent_check_file(NULL, &m), MF_EINVAL);
    assert_int_equal(mf_dirent_check_dir(&e[1], &sub), MF_OK);
    sub.total = 8;
    assert_int_equal(mf_dirent_check_dir(&e[1], &sub), MF_EFORMAT);
    sub.total = 7;
    sub.files = 1;
    assert_int_equal(mf_dirent_check_dir(&e[1], &sub), MF_EFORMAT);
    sub.files = 2;
    sub.bytes = 6;
    assert_int_equal(mf_dirent_check_dir(&e[1], &sub), MF_EFORMAT);
    assert_int_equal(mf_dirent_check_dir(&e[2], &sub), MF_EINVAL); /* not a directory */
    mf_dir_clear(NULL);
}

/* A random tree of directories and files, put as emofs would (files and
 * sub-directories first), collected into one manifest file with repeated
 * manifests given again; it passes mf_dir_bundle_check, and fails it
 * without one of its nodes or with one more. */
typedef struct collect {
    mf_blob_t *blobs;
    size_t n, cap;
} collect_t;

static void collect(collect_t *c, const mf_blob_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 64;
            c->blobs = realloc(c->blobs, c->cap * sizeof(*c->blobs));
            assert_non_null(c->blobs);
        }
        c->blobs[c->n] = b[i];
        c->blobs[c->n].data = malloc(b[i].len);
        assert_non_null(c->blobs[c->n].data);
        memcpy(c->blobs[c->n].data, b[i].data, b[i].len);
        c->n++;
    }
}

/* Puts a file of 0, 5 or 10 chunks into c (a manifest the same for the
 * same count, as identical files have) and fills x, its entry. */
static void put_file(collect_t *c, uint64_t *rng, mf_dirent_t *x)
{
    mf_manifest_t m = {.name = "data"};
    mf_entry_t chunks[10];
    mf_blob_t *blobs;
    size_t nb;

    m.n_entries = 5 * rnd_below(rng, 3);
    m.entries = chunks;
    for (size_t j = 0; j < m.n_entries; j++) {
        memset(chunks[j].key, (int)j, MF_KEY_LEN);
        chunks[j].size = 1000;
        m.size += 1000;
    }
    if (m.n_entries == 0)
        sha256("", 0, m.sha256);
    else
        memset(m.sha256, 0x77, MF_KEY_LEN);
    assert_int_equal(mf_encode(&m, MF_NODE_MIN, &blobs, &nb), MF_OK);
    collect(c, blobs, nb);
    x->kind = MF_KIND_FILE;
    x->bytes = m.size;
    memcpy(x->key, blobs[nb - 1].key, MF_KEY_LEN);
    mf_blobs_free(blobs, nb);
}

/* Puts a directory of files, links and, while depth > 0, sub-directories
 * into c, children first; fills *e as its parent's entry for it. */
static void put_tree(collect_t *c, const char *name, int depth, uint64_t *rng, mf_dirent_t *e)
{
    size_t n = 1 + rnd_below(rng, 6), nb;
    mf_blob_t *blobs;
    mf_dir_t d;

    memset(&d, 0, sizeof(d));
    d.name = xstrdup(name);
    d.entries = calloc(n, sizeof(*d.entries));
    assert_non_null(d.entries);
    d.n_entries = n;
    for (size_t i = 0; i < n; i++) {
        mf_dirent_t *x = &d.entries[i];
        unsigned kind = rnd_below(rng, depth > 0 ? 3 : 2);
        char nm[32];

        snprintf(nm, sizeof(nm), "%c%zu", "fld"[kind], i);
        if (kind == 0) {
            put_file(c, rng, x);
        } else if (kind == 1) {
            x->kind = MF_KIND_LINK;
            x->target = xstrdup("../elsewhere");
        } else {
            put_tree(c, nm, depth - 1, rng, x);
        }
        x->name = xstrdup(nm);
        x->mode = 0755;
    }
    mf_dir_sort(&d);
    assert_int_equal(mf_dir_sum(&d), MF_OK);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_MIN, &blobs, &nb), MF_OK);
    collect(c, blobs, nb);
    memset(e, 0, sizeof(*e));
    e->kind = MF_KIND_DIR;
    e->bytes = d.bytes;
    e->files = d.files;
    e->total = d.total;
    memcpy(e->key, blobs[nb - 1].key, MF_KEY_LEN);
    mf_blobs_free(blobs, nb);
    mf_dir_clear(&d);
}

static void test_dir_bundle_tree(void **state)
{
    const vector_t *leaf = find_vector("leaf.hex");
    uint64_t rng = 17;
    collect_t c = {0};
    mf_dirent_t top;
    uint8_t *buf, key[MF_KEY_LEN];
    mf_blob_t *got, *alt, root;
    size_t len, ngot;
    mf_dir_t d;

    (void)state;
    put_tree(&c, "top", 3, &rng, &top);
    /* Identical files' manifests were collected more than once. */
    assert_int_equal(mf_bundle_encode(c.blobs, c.n, &buf, &len), MF_OK);
    assert_int_equal(mf_bundle_decode(buf, len, key, &got, &ngot), MF_OK);
    free(buf);
    assert_true(ngot < c.n);
    assert_memory_equal(key, top.key, MF_KEY_LEN);
    assert_int_equal(mf_dir_bundle_check(key, got, ngot), MF_OK);
    assert_int_equal(assemble_kind(key, MF_KIND_DIR, got, ngot, &rng, &d, NULL), MF_OK);
    assert_int_equal(mf_dirent_check_dir(&top, &d), MF_OK);
    assert_true(d.total > d.n_entries); /* there is a tree below it */
    mf_dir_clear(&d);

    /* Shallow copies of got, changed: without any one node; with a node
     * the tree does not name; with a node filed twice; with a node that
     * does not hash to its key. */
    alt = malloc((ngot + 1) * sizeof(*alt));
    assert_non_null(alt);
    for (size_t skip = 0; skip < ngot; skip++) {
        size_t k = 0;
        for (size_t i = 0; i < ngot; i++)
            if (i != skip)
                alt[k++] = got[i];
        assert_int_equal(mf_dir_bundle_check(key, alt, k), MF_EFORMAT);
    }
    memcpy(alt + 1, got, ngot * sizeof(*alt));
    alt[0].data = leaf->buf;
    alt[0].len = leaf->len;
    sha256(leaf->buf, leaf->len, alt[0].key);
    assert_int_equal(mf_dir_bundle_check(key, alt, ngot + 1), MF_EFORMAT);
    alt[0] = got[ngot / 2];
    assert_int_equal(mf_dir_bundle_check(key, alt, ngot + 1), MF_EFORMAT);
    memcpy(alt, got, ngot * sizeof(*alt));
    alt[0].data = got[1].data;
    alt[0].len = got[1].len;
    assert_int_equal(mf_dir_bundle_check(key, alt, ngot), MF_EHASH);
    free(alt);
    /* The top must be a directory: a file manifest's node is not one. */
    assert_int_equal(mf_dir_bundle_check(got[0].key, got, ngot), MF_EFORMAT);
    assert_int_equal(mf_dir_bundle_check(NULL, got, ngot), MF_EINVAL);
    mf_blobs_free(got, ngot);

    /* One file manifest named by two entries: both must agree with it. */
    {
        mf_dirent_t two[2];
        mf_blob_t *b, *all;
        size_t nb, nall;
        collect_t one = {0};
        mf_dir_t pair = {.name = "pair", .n_entries = 2, .entries = two};

        memset(two, 0, sizeof(two));
        put_file(&one, &rng, &two[0]);
        two[1] = two[0];
        two[0].name = "a";
        two[1].name = "b";
        assert_int_equal(mf_dir_sum(&pair), MF_OK);
        assert_int_equal(mf_dir_encode(&pair, MF_NODE_MIN, &b, &nb), MF_OK);
        collect(&one, b, nb);
        mf_blobs_free(b, nb);
        assert_int_equal(mf_dir_bundle_check(one.blobs[one.n - 1].key, one.blobs, one.n), MF_OK);
        all = one.blobs;
        nall = one.n;
        two[1].bytes++; /* "b" says the file is one byte longer */
        assert_int_equal(mf_dir_sum(&pair), MF_OK);
        assert_int_equal(mf_dir_encode(&pair, MF_NODE_MIN, &b, &nb), MF_OK);
        one = (collect_t){0};
        collect(&one, all, nall - 1); /* the file's nodes, without the old root */
        collect(&one, b, nb);
        mf_blobs_free(b, nb);
        assert_int_equal(mf_dir_bundle_check(one.blobs[one.n - 1].key, one.blobs, one.n),
                         MF_EFORMAT);
        mf_blobs_free(all, nall);
        mf_blobs_free(one.blobs, one.n);
    }

    /* The root given earlier as well: it could not be last once. */
    root = c.blobs[0];
    c.blobs[0] = c.blobs[c.n - 1];
    assert_int_equal(mf_bundle_encode(c.blobs, c.n, &buf, &len), MF_EINVAL);
    c.blobs[0] = root;
    mf_blobs_free(c.blobs, c.n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_dir_nodes),
        cmocka_unit_test(test_vectors_dir_roundtrip),
        cmocka_unit_test(test_vector_dir_bundle),
        cmocka_unit_test(test_vectors_dir_invalid),
        cmocka_unit_test(test_dir_roundtrip_small),
        cmocka_unit_test(test_dir_random_trees),
        cmocka_unit_test(test_dir_large),
        cmocka_unit_test(test_dir_encode_invalid),
        cmocka_unit_test(test_dir_entry_rules),
        cmocka_unit_test(test_dir_entries_max),
        cmocka_unit_test(test_dir_truncations),
        cmocka_unit_test(test_dir_corruptions),
        cmocka_unit_test(test_dir_asm_parent_mismatch),
        cmocka_unit_test(test_asm_kinds),
        cmocka_unit_test(test_dir_helpers),
        cmocka_unit_test(test_dir_bundle_tree),
    };

    alarm(120);
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
