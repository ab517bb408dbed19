/* Tests of what emofs rm and gc build on: the blobs a published file uses
 * (filestore/pins.c), a blob removed only when no put owns it
 * (fs_store_drop), DIR/published rewritten without a key
 * (tool/node/published.c, linefile.c) and the files of abandoned gets
 * (tool/node/partials.c). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h> /* alarm */

#include "filestore/chunk_store.h"
#include "filestore/fs_error.h"
#include "filestore/pins.h"
#include "manifests/dir_manifest.h"
#include "tool/node/emofs_node.h"
#include "tool/node/partials.h"

typedef struct fixture {
    char dir[64];
    fs_store_t *st;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    strcpy(f->dir, "/tmp/emofs-test-pins-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(fs_store_open(&f->st, f->dir), 0);
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    fs_store_close(f->st);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        p[i] = (uint8_t)rnd_state;
    }
}

/* Encodes a file manifest of n random chunk keys into nodes of at most
 * node_max bytes, stores them, and returns them (root last). */
static mf_blob_t *store_file(fs_store_t *st, const char *name, size_t n, size_t node_max,
                             size_t *n_blobs, mf_manifest_t *m)
{
    mf_blob_t *blobs;

    memset(m, 0, sizeof(*m));
    m->name = strdup(name);
    m->n_entries = n;
    m->entries = calloc(n, sizeof(*m->entries));
    assert_non_null(m->entries);
    for (size_t i = 0; i < n; i++) {
        rnd_bytes(m->entries[i].key, MF_KEY_LEN);
        m->entries[i].size = 1000;
        m->size += 1000;
    }
    rnd_bytes(m->sha256, MF_KEY_LEN);
    assert_int_equal(mf_encode(m, node_max, &blobs, n_blobs), 0);
    for (size_t i = 0; i < *n_blobs; i++)
        assert_int_equal(fs_store_put(st, blobs[i].key, blobs[i].data, blobs[i].len, 1), 0);
    return blobs;
}

/* A large file's manifest tree: every node and every chunk; with a node
 * missing, what could be read, and FS_ENOENT. */
static void test_file_tree(void **state)
{
    fixture_t *f = *state;
    mf_manifest_t m;
    size_t nb;
    mf_blob_t *blobs = store_file(f->st, "big.bin", 300, MF_NODE_MIN, &nb, &m);
    const uint8_t *root = blobs[nb - 1].key;
    fs_pins_t *p;

    assert_true(nb > 3); /* a tree, not one node */
    assert_int_equal(fs_pins_new(&p), 0);
    assert_int_equal(fs_pins_add(p, f->st, root, NULL), 0);
    assert_int_equal(fs_pins_count(p), nb + 300);
    for (size_t i = 0; i < nb; i++)
        assert_true(fs_pins_has(p, blobs[i].key));
    for (size_t i = 0; i < 300; i++)
        assert_true(fs_pins_has(p, m.entries[i].key));
    /* Added again: nothing new. */
    assert_int_equal(fs_pins_add(p, f->st, root, NULL), 0);
    assert_int_equal(fs_pins_count(p), nb + 300);
    fs_pins_free(p);

    /* A node below the root missing: the rest is read, what it listed is not. */
    assert_int_equal(fs_store_remove(f->st, blobs[0].key), 0);
    assert_int_equal(fs_pins_new(&p), 0);
    assert_int_equal(fs_pins_add(p, f->st, root, NULL), FS_ENOENT);
    assert_true(fs_pins_has(p, root));
    assert_false(fs_pins_has(p, blobs[0].key));
    assert_true(fs_pins_count(p) < nb + 300);
    fs_pins_free(p);

    /* A key with nothing stored. */
    uint8_t none[MF_KEY_LEN];
    rnd_bytes(none, sizeof(none));
    assert_int_equal(fs_pins_new(&p), 0);
    assert_int_equal(fs_pins_add(p, f->st, none, NULL), FS_ENOENT);
    assert_int_equal(fs_pins_count(p), 0);
    fs_pins_free(p);
    mf_blobs_free(blobs, nb);
    mf_manifest_clear(&m);
}

/* Stores a directory manifest of entries (sorted here) and returns its key. */
static void store_dir(fs_store_t *st, const char *name, mf_dirent_t *e, size_t n,
                      uint8_t key[MF_KEY_LEN], size_t *n_nodes)
{
    mf_dir_t d = {0};
    mf_blob_t *blobs;
    size_t nb;

    d.name = (char *)name;
    d.entries = e;
    d.n_entries = n;
    mf_dir_sort(&d);
    assert_int_equal(mf_dir_sum(&d), 0);
    assert_int_equal(mf_dir_encode(&d, MF_NODE_DEFAULT, &blobs, &nb), 0);
    for (size_t i = 0; i < nb; i++)
        assert_int_equal(fs_store_put(st, blobs[i].key, blobs[i].data, blobs[i].len, 1), 0);
    memcpy(key, blobs[nb - 1].key, MF_KEY_LEN);
    *n_nodes = nb;
    mf_blobs_free(blobs, nb);
}

/* A directory: its manifest, a sub-directory's, every file's below, the
 * same file twice counted once, links nothing. */
static void test_dir_tree(void **state)
{
    fixture_t *f = *state;
    mf_manifest_t ma, mb;
    size_t na, nb, nsub, ntop;
    mf_blob_t *a = store_file(f->st, "a", 5, MF_NODE_DEFAULT, &na, &ma);
    mf_blob_t *b = store_file(f->st, "b", 7, MF_NODE_DEFAULT, &nb, &mb);
    mf_dirent_t sub[1] = {{.name = "b", .kind = MF_KIND_FILE, .mode = 0644, .bytes = mb.size}};
    mf_dirent_t top[4] = {
        {.name = "a", .kind = MF_KIND_FILE, .mode = 0644, .bytes = ma.size},
        {.name = "a2", .kind = MF_KIND_FILE, .mode = 0644, .bytes = ma.size},
        {.name = "l", .kind = MF_KIND_LINK, .mode = 0777, .target = "a"},
        {.name = "sub", .kind = MF_KIND_DIR, .mode = 0755},
    };
    uint8_t sub_key[MF_KEY_LEN], top_key[MF_KEY_LEN];
    fs_pins_t *p;

    memcpy(sub[0].key, b[nb - 1].key, MF_KEY_LEN);
    store_dir(f->st, "sub", sub, 1, sub_key, &nsub);
    memcpy(top[0].key, a[na - 1].key, MF_KEY_LEN);
    memcpy(top[1].key, a[na - 1].key, MF_KEY_LEN);
    memcpy(top[3].key, sub_key, MF_KEY_LEN);
    top[3].bytes = mb.size;
    top[3].files = 1;
    top[3].total = 1;
    store_dir(f->st, "top", top, 4, top_key, &ntop);

    assert_int_equal(fs_pins_new(&p), 0);
    assert_int_equal(fs_pins_add(p, f->st, top_key, NULL), 0);
    assert_int_equal(fs_pins_count(p), ntop + nsub + na + 5 + nb + 7);
    assert_true(fs_pins_has(p, sub_key));
    assert_true(fs_pins_has(p, mb.entries[6].key));
    assert_true(fs_pins_has(p, ma.entries[0].key));
    fs_pins_free(p);
    mf_blobs_free(a, na);
    mf_blobs_free(b, nb);
    mf_manifest_clear(&ma);
    mf_manifest_clear(&mb);
}

/* A blob a put made and has not settled is not dropped; once settled it is. */
static void test_store_drop(void **state)
{
    fixture_t *f = *state;
    uint8_t data[100], key[MF_KEY_LEN];
    int created;

    rnd_bytes(data, sizeof(data));
    assert_int_equal(mf_sha256(data, sizeof(data), key), 0);
    assert_int_equal(fs_store_put_new(f->st, key, data, sizeof(data), 1, &created), 0);
    assert_true(created);
    assert_int_equal(fs_store_drop(f->st, key), FS_EBUSY);
    assert_true(fs_store_has(f->st, key, NULL));
    fs_store_settle(f->st, key, 1);
    assert_int_equal(fs_store_drop(f->st, key), 0);
    assert_false(fs_store_has(f->st, key, NULL));
    assert_int_equal(fs_store_drop(f->st, key), FS_ENOENT);
}

static char *read_text(const char *dir, const char *name)
{
    char path[256], *buf = calloc(1, 4096);
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(buf);
    (void)!fread(buf, 1, 4095, fp);
    fclose(fp);
    return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Every line of the key goes, the latest is reported, the others stay as
 * they were; an unknown key changes nothing. */
static void test_published_remove(void **state)
{
    fixture_t *f = *state;
    static const char *ka = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char *kb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    char text[1024], *got;
    uint8_t key[MF_KEY_LEN];
    emofs_published_t e;

    snprintf(text, sizeof(text), "%s 10 old name\n%s 20 b.bin\nnot a line\n%s 30 a name\n", ka, kb,
             ka);
    write_text(f->dir, "published", text);
    assert_int_equal(mf_key_from_hex(key, ka), 0);
    assert_int_equal(emofs_published_remove(f->dir, key, &e), 0);
    assert_int_equal(e.size, 30);
    assert_string_equal(e.name, "a name");
    got = read_text(f->dir, "published");
    snprintf(text, sizeof(text), "%s 20 b.bin\nnot a line\n", kb);
    assert_string_equal(got, text);
    free(got);
    assert_int_equal(emofs_published_remove(f->dir, key, &e), FS_ENOENT);
    got = read_text(f->dir, "published");
    assert_string_equal(got, text);
    free(got);
    snprintf(text, sizeof(text), "%s/published.tmp", f->dir);
    assert_int_equal(access(text, F_OK), -1);
    snprintf(text, sizeof(text), "%s 20 b.bin\nnot a line\n", kb);
    assert_int_equal(mf_key_from_hex(key, kb), 0);
    assert_int_equal(emofs_published_remove(f->dir, key, &e), 0);
    got = read_text(f->dir, "published");
    assert_string_equal(got, "not a line\n");
    free(got);
}

/* DIR/published keeps each file's copies ("SIZE/COPIES") for the
 * republish; older lines without them still read, as copies 0 (the
 * node's); a line with copies out of 1..20 or a bad size is skipped. */
static void test_published_copies(void **state)
{
    fixture_t *f = *state;
    static const char *ka = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char *kb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    static const char *kc = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    char text[1024];
    uint8_t key[MF_KEY_LEN];
    emofs_published_t *list, e;
    size_t n;

    snprintf(text, sizeof(text),
             "%s 10 12 monkeys.avi\n%s 20/0 zero\n%s 20/21 too many\n"
             "%s 20/ none\n%s x/3 no size\n",
             ka, kb, kb, kb, kb);
    write_text(f->dir, "published", text);
    assert_int_equal(mf_key_from_hex(key, kb), 0);
    assert_int_equal(emofs_published_add(f->dir, key, NULL, 20, 3, "b 1/2.bin"), 0);
    assert_int_equal(mf_key_from_hex(key, kc), 0);
    assert_int_equal(emofs_published_add(f->dir, key, NULL, 30, 0, "c.bin"), 0);
    assert_int_equal(emofs_published_list(f->dir, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].size, 10);
    assert_int_equal(list[0].copies, 0);
    assert_string_equal(list[0].name, "12 monkeys.avi");
    assert_int_equal(list[1].size, 20);
    assert_int_equal(list[1].copies, 3);
    assert_string_equal(list[1].name, "b 1/2.bin");
    assert_int_equal(list[2].copies, 0);
    assert_string_equal(list[2].name, "c.bin");
    free(list);
    snprintf(text, sizeof(text), "%s 20/20 x", ka);
    assert_int_equal(emofs_published_parse(text, &e), 1);
    assert_int_equal(e.copies, 20);
    snprintf(text, sizeof(text), "%s 20/3x y", ka);
    assert_int_equal(emofs_published_parse(text, &e), 0);
    snprintf(text, sizeof(text), "%s 184467440737095516160 y", ka);
    assert_int_equal(emofs_published_parse(text, &e), 0);
}

/* A get's part and journal in dir/out: journal of key unless other. */
static void make_get_files(const char *out, const uint8_t key[MF_KEY_LEN], int other)
{
    char hex[65], path[256];
    uint8_t head[8 + MF_KEY_LEN] = "EMOJ\x01\0\0\0";
    FILE *fp;

    mf_key_to_hex(key, hex);
    memcpy(head + 8, key, MF_KEY_LEN);
    head[8] ^= (uint8_t)(other != 0);
    snprintf(path, sizeof(path), "%s/.emofs-%.16s.journal", out, hex);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fwrite(head, 1, sizeof(head), fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/.emofs-%.16s.part", out, hex);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("0123456789", fp);
    fclose(fp);
}

static int exists(const char *out, const uint8_t key[MF_KEY_LEN], const char *ext)
{
    char hex[65], path[256];

    mf_key_to_hex(key, hex);
    snprintf(path, sizeof(path), "%s/.emofs-%.16s.%s", out, hex, ext);
    return access(path, F_OK) == 0;
}

/* Recorded gets: a running one (journal locked) is left alone, an
 * abandoned one removed, a journal of another key left, a line whose
 * directory is gone dropped; a get that ends takes its line out. */
static void test_partials(void **state)
{
    fixture_t *f = *state;
    emofs_partials_result_t r;
    uint8_t k1[MF_KEY_LEN], k2[MF_KEY_LEN], k3[MF_KEY_LEN];
    char out[128], gone[128], hex[65], path[256], *got;
    int fd;

    rnd_bytes(k1, sizeof(k1));
    rnd_bytes(k2, sizeof(k2));
    rnd_bytes(k3, sizeof(k3));
    snprintf(out, sizeof(out), "%s/out", f->dir);
    snprintf(gone, sizeof(gone), "%s/gone", f->dir);
    assert_int_equal(mkdir(out, 0700), 0);
    make_get_files(out, k1, 0);
    make_get_files(out, k2, 1);
    emofs_partials_hook(f->dir, k1, out, 0);
    emofs_partials_hook(f->dir, k1, out, 0); /* once */
    emofs_partials_hook(f->dir, k2, out, 0);
    emofs_partials_hook(f->dir, k3, gone, 0);
    emofs_partials_hook(f->dir, k3, "relative/dir", 0); /* not recorded */
    got = read_text(f->dir, "partials");
    int lines = 0;
    for (const char *c = got; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 3); /* k1 once, k2, k3; not the relative one */
    free(got);

    mf_key_to_hex(k1, hex);
    snprintf(path, sizeof(path), "%s/.emofs-%.16s.journal", out, hex);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* as a running get holds it */
    assert_int_equal(emofs_partials_collect(f->dir, &r), 0);
    assert_int_equal(r.busy, 1);
    assert_int_equal(r.removed, 0);
    assert_true(exists(out, k1, "part") && exists(out, k1, "journal"));
    close(fd);

    assert_int_equal(emofs_partials_collect(f->dir, &r), 0);
    assert_int_equal(r.busy, 0);
    assert_int_equal(r.removed, 2);
    assert_int_equal(r.bytes, 10 + 8 + MF_KEY_LEN);
    assert_false(exists(out, k1, "part") || exists(out, k1, "journal"));
    assert_true(exists(out, k2, "part") && exists(out, k2, "journal")); /* not k2's journal */
    got = read_text(f->dir, "partials");
    mf_key_to_hex(k2, hex);
    snprintf(path, sizeof(path), "%s %s\n", hex, out);
    assert_string_equal(got, path); /* k1 collected, k3's directory gone */
    free(got);
    emofs_partials_hook(f->dir, k2, out, 1); /* its get ended */
    got = read_text(f->dir, "partials");
    assert_string_equal(got, "");
    free(got);
}

int main(void)
{
    alarm(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_published_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_published_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
