/*
 * manifests: a directory manifest out of a whole assembler (the tree
 * machinery is manifest_asm.c's, shared with file manifests), the checks
 * of an entry against what it names, and freeing (schema/manifest.md,
 * section 8.4).
 */
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest_int.h"

void mf_dir_clear(mf_dir_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; d->entries != NULL && i < d->n_entries; i++) {
        free(d->entries[i].name);
        free(d->entries[i].target);
    }
    free(d->entries);
    free(d->name);
    memset(d, 0, sizeof(*d));
}

/* @return a malloc'ed, NUL-terminated copy of s[0..n), or NULL. */
static char *dup_n(const uint8_t *s, size_t n)
{
    char *c = malloc(n + 1);

    if (c != NULL) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* The listing being rebuilt, leaf after leaf. */
typedef struct listing {
    mf_dir_t *d;
    size_t k;            /* entries filled */
    const uint8_t *prev; /* the last name so far (in a node the assembler holds) */
    size_t prev_len;
} listing_t;

/* Fills e from record r. @return 0 or MF_ENOMEM. */
static int fill(mf_dirent_t *e, const mf__drec_t *r)
{
    e->kind = r->kind;
    e->mode = r->mode;
    e->name = dup_n(r->name, r->name_len);
    if (r->kind == MF_KIND_LINK) {
        e->target = dup_n(r->target, r->target_len);
        if (e->target == NULL)
            return MF_ENOMEM;
    } else {
        memcpy(e->key, r->key, MF_KEY_LEN);
        e->bytes = r->bytes;
        e->files = r->files;
        e->total = r->total;
    }
    return e->name == NULL ? MF_ENOMEM : MF_OK;
}

/* Appends the entries of one leaf, checking that names keep increasing
 * from the leaf before. @return 0, MF_EFORMAT or MF_ENOMEM. */
static int take_leaf(void *ctx, const uint8_t *data, size_t len)
{
    listing_t *l = ctx;
    mf__dnode_t n;
    const uint8_t *p;

    if (mf__dnode_decode(&n, data, len) != MF_OK || n.count > l->d->n_entries - l->k)
        return MF_EFORMAT;
    p = n.recs;
    for (uint32_t i = 0; i < n.count; i++) {
        mf__drec_t r;
        size_t rec = mf__drec_parse(p, (size_t)(n.recs + n.recs_len - p), &r);

        if (rec == 0 ||
            (l->prev != NULL && !mf__name_before(l->prev, l->prev_len, r.name, r.name_len)))
            return MF_EFORMAT;
        if (fill(&l->d->entries[l->k++], &r) != MF_OK)
            return MF_ENOMEM;
        l->prev = r.name;
        l->prev_len = r.name_len;
        p += rec;
    }
    return MF_OK;
}

int mf_dir_asm_finish(mf_asm_t *a, mf_dir_t *out)
{
    mf_dir_t d, sums;
    mf__dnode_t root;
    listing_t l;
    const uint8_t *data;
    size_t len;
    int rc;

    if (a == NULL || out == NULL)
        return MF_EINVAL;
    rc = mf__asm_root(a, MF_KIND_DIR, &data, &len);
    if (rc != MF_OK)
        return rc;
    if (mf__dnode_decode(&root, data, len) != MF_OK)
        return MF_EFORMAT;
    memset(&d, 0, sizeof(d));
    d.bytes = root.bytes;
    d.files = root.files;
    d.total = root.total;
    d.n_entries = (size_t)root.entries;
    d.name = dup_n(root.name, root.name_len);
    d.entries = calloc(d.n_entries ? d.n_entries : 1, sizeof(*d.entries));
    if (d.name == NULL || d.entries == NULL) {
        mf_dir_clear(&d);
        return MF_ENOMEM;
    }
    memset(&l, 0, sizeof(l));
    l.d = &d;
    rc = mf__asm_walk(a, take_leaf, &l);
    if (rc == MF_OK && l.k != d.n_entries)
        rc = MF_EFORMAT;
    /* Every node was checked against its parent; check the sums once more
     * over the whole listing. */
    sums = d;
    if (rc == MF_OK && (mf_dir_sum(&sums) != MF_OK || sums.bytes != d.bytes ||
                        sums.files != d.files || sums.total != d.total))
        rc = MF_EFORMAT;
    if (rc != MF_OK) {
        mf_dir_clear(&d);
        return rc;
    }
    *out = d;
    return MF_OK;
}

int mf_dirent_check_file(const mf_dirent_t *e, const mf_manifest_t *m)
{
    if (e == NULL || m == NULL || e->kind != MF_KIND_FILE)
        return MF_EINVAL;
    return e->bytes == m->size ? MF_OK : MF_EFORMAT;
}

int mf_dirent_check_dir(const mf_dirent_t *e, const mf_dir_t *d)
{
    if (e == NULL || d == NULL || e->kind != MF_KIND_DIR)
        return MF_EINVAL;
    return e->bytes == d->bytes && e->files == d->files && e->total == d->total ? MF_OK
                                                                                : MF_EFORMAT;
}
