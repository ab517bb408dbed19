/*
 * manifests: the codec of one directory node (schema/manifest.md, section
 * 8). As for file nodes (manifest_codec.c), the decoder checks everything
 * a node can be checked against on its own; what ties a node to its
 * parent, and the order of names across nodes, is the assembler's.
 */
#include <string.h>

#include "manifests/manifest_int.h"

int mf__name_before(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c < 0 || (c == 0 && alen < blen);
}

/* @return 1 if files regular files can hold bytes bytes. */
static int bytes_fit(uint64_t bytes, uint64_t files)
{
    /* MF_FILE_MAX is 2^46: files * 2^46 overflows from files = 2^18 on,
     * and then any u64 fits. */
    return files >= (UINT64_C(1) << 18) || bytes <= files * MF_FILE_MAX;
}

/* The rules of one record once its fields are read (section 8.3). */
static int drec_ok(const mf__drec_t *r)
{
    if (r->mode > MF_MODE_MAX || !mf__name_valid_n(r->name, r->name_len))
        return 0;
    switch (r->kind) {
    case MF_KIND_FILE:
        return r->bytes <= MF_FILE_MAX;
    case MF_KIND_DIR:
        return r->files <= r->total && bytes_fit(r->bytes, r->files);
    case MF_KIND_LINK:
        return r->target_len >= 1 && r->target_len <= MF_LINK_MAX &&
               memchr(r->target, 0, r->target_len) == NULL;
    default:
        return 0;
    }
}

size_t mf__drec_parse(const uint8_t *p, size_t avail, mf__drec_t *r)
{
    size_t head, tail;

    memset(r, 0, sizeof(*r));
    if (avail < MF__DREC_FIXED)
        return 0;
    r->kind = p[0];
    r->mode = le_get16(p + 1);
    r->name_len = p[3];
    r->name = p + MF__DREC_FIXED;
    head = MF__DREC_FIXED + r->name_len;
    if (avail < head)
        return 0;
    p += head;
    avail -= head;
    switch (r->kind) {
    case MF_KIND_FILE:
        tail = MF__DREC_FILE_TAIL;
        if (avail < tail)
            return 0;
        r->key = p;
        r->bytes = le_get64(p + MF_KEY_LEN);
        break;
    case MF_KIND_DIR:
        tail = MF__DREC_DIR_TAIL;
        if (avail < tail)
            return 0;
        r->key = p;
        r->bytes = le_get64(p + MF_KEY_LEN);
        r->files = le_get64(p + MF_KEY_LEN + 8);
        r->total = le_get64(p + MF_KEY_LEN + 16);
        break;
    case MF_KIND_LINK:
        if (avail < MF__DREC_LINK_TAIL)
            return 0;
        r->target_len = le_get16(p);
        r->target = p + MF__DREC_LINK_TAIL;
        tail = MF__DREC_LINK_TAIL + r->target_len;
        if (avail < tail)
            return 0;
        break;
    default:
        return 0;
    }
    return drec_ok(r) ? head + tail : 0;
}

/* What one entry adds to its directory's totals. @return 0 or -1 (wrap). */
static int add_entry(mf__dnode_t *n, const mf__drec_t *r)
{
    n->entries++;
    if (mf__add64(&n->total, 1) != 0)
        return -1;
    if (r->kind == MF_KIND_FILE)
        return mf__add64(&n->files, 1) | mf__add64(&n->bytes, r->bytes);
    if (r->kind == MF_KIND_DIR)
        return mf__add64(&n->total, r->total) | mf__add64(&n->files, r->files) |
               mf__add64(&n->bytes, r->bytes);
    return 0;
}

/* Checks and sums the entries of a leaf (or a root of level 0): records
 * that end exactly at the end of the node, names strictly increasing.
 * @return 0 or MF_EFORMAT. */
static int sum_entries(mf__dnode_t *n)
{
    const uint8_t *p = n->recs, *end = n->recs + n->recs_len;
    mf__drec_t r, prev;

    for (uint32_t i = 0; i < n->count; i++) {
        size_t len = mf__drec_parse(p, (size_t)(end - p), &r);
        if (len == 0)
            return MF_EFORMAT;
        if (i > 0 && !mf__name_before(prev.name, prev.name_len, r.name, r.name_len))
            return MF_EFORMAT;
        if (add_entry(n, &r) != 0 || n->entries > MF_DIR_ENTRIES_MAX)
            return MF_EFORMAT;
        prev = r;
        p += len;
    }
    return p == end ? MF_OK : MF_EFORMAT;
}

/* Checks and sums the children of a node of level > 0. @return 0 or MF_EFORMAT. */
static int sum_children(mf__dnode_t *n)
{
    if (n->recs_len % MF__DCHILD_LEN != 0 || n->recs_len / MF__DCHILD_LEN != n->count)
        return MF_EFORMAT;
    for (uint32_t i = 0; i < n->count; i++) {
        mf__dchild_t c;
        mf__dnode_child(n, i, &c);
        /* Every listing entry below the child counts in its total. */
        if (c.entries == 0 || c.entries > c.total || c.files > c.total ||
            !bytes_fit(c.bytes, c.files))
            return MF_EFORMAT;
        n->entries += c.entries; /* at most 2^32 * 2^32: no wrap */
        if (n->entries > MF_DIR_ENTRIES_MAX || mf__add64(&n->bytes, c.bytes) != 0 ||
            mf__add64(&n->files, c.files) != 0 || mf__add64(&n->total, c.total) != 0)
            return MF_EFORMAT;
    }
    return MF_OK;
}

int mf__dnode_decode(mf__dnode_t *n, const uint8_t *buf, size_t len)
{
    uint64_t bytes = 0, files = 0, total = 0;
    size_t off = 7;

    memset(n, 0, sizeof(*n));
    if (mf__hdr_decode(buf, len, MF__DIR_MAGIC, &n->is_root, &n->level) != MF_OK)
        return MF_EFORMAT;
    if (n->is_root) {
        if (len < MF__DROOT_FIXED)
            return MF_EFORMAT;
        bytes = le_get64(buf + 7);
        files = le_get64(buf + 15);
        total = le_get64(buf + 23);
        n->name_len = buf[31];
        n->name = buf + 32;
        if (len - MF__DROOT_FIXED < n->name_len || !mf__name_valid_n(n->name, n->name_len))
            return MF_EFORMAT;
        off = 32 + n->name_len;
    }
    n->count = le_get32(buf + off);
    n->recs = buf + off + 4;
    n->recs_len = len - off - 4;
    /* Only an empty directory's root lists nothing. */
    if (n->count == 0 && !(n->is_root && n->level == 0))
        return MF_EFORMAT;
    if ((n->level == 0 ? sum_entries(n) : sum_children(n)) != MF_OK)
        return MF_EFORMAT;
    if (n->is_root && (n->bytes != bytes || n->files != files || n->total != total))
        return MF_EFORMAT;
    return MF_OK;
}

void mf__dnode_child(const mf__dnode_t *n, size_t i, mf__dchild_t *c)
{
    const uint8_t *p = n->recs + i * MF__DCHILD_LEN;

    memcpy(c->key, p, MF_KEY_LEN);
    c->bytes = le_get64(p + MF_KEY_LEN);
    c->files = le_get64(p + MF_KEY_LEN + 8);
    c->total = le_get64(p + MF_KEY_LEN + 16);
    c->entries = le_get32(p + MF_KEY_LEN + 24);
}

int mf_root_kind(const uint8_t *buf, size_t len)
{
    mf__dnode_t d;
    mf__node_t f;

    if (buf == NULL)
        return MF_EFORMAT;
    if (mf__dnode_decode(&d, buf, len) == MF_OK && d.is_root)
        return MF_KIND_DIR;
    if (mf__node_decode(&f, buf, len) == MF_OK && f.is_root)
        return MF_KIND_FILE;
    return MF_EFORMAT;
}

int mf_dirent_valid(const mf_dirent_t *e)
{
    mf__drec_t r;

    if (e == NULL || !mf_name_valid(e->name))
        return 0;
    memset(&r, 0, sizeof(r));
    r.kind = e->kind;
    r.mode = e->mode;
    r.name = (const uint8_t *)e->name;
    r.name_len = strlen(e->name);
    if (e->kind == MF_KIND_FILE || e->kind == MF_KIND_DIR) {
        r.bytes = e->bytes;
        r.files = e->files;
        r.total = e->total;
    } else if (e->kind == MF_KIND_LINK) {
        if (e->target == NULL)
            return 0;
        r.target = (const uint8_t *)e->target;
        r.target_len = strnlen(e->target, MF_LINK_MAX + 1);
    }
    return drec_ok(&r);
}

uint8_t *mf__put_droot_hdr(uint8_t *p, const mf_dir_t *d, size_t name_len, uint8_t level,
                           uint32_t count)
{
    p = mf__put_hdr(p, MF__DIR_MAGIC, MF__KIND_ROOT, level);
    p = le_put64(p, d->bytes);
    p = le_put64(p, d->files);
    p = le_put64(p, d->total);
    *p++ = (uint8_t)name_len;
    memcpy(p, d->name, name_len);
    return le_put32(p + name_len, count);
}

size_t mf__drec_len(const mf_dirent_t *e)
{
    size_t head = MF__DREC_FIXED + strlen(e->name);

    if (e->kind == MF_KIND_FILE)
        return head + MF__DREC_FILE_TAIL;
    if (e->kind == MF_KIND_DIR)
        return head + MF__DREC_DIR_TAIL;
    return head + MF__DREC_LINK_TAIL + strlen(e->target);
}

uint8_t *mf__put_drec(uint8_t *p, const mf_dirent_t *e)
{
    size_t name_len = strlen(e->name), target_len;

    *p++ = e->kind;
    p = le_put16(p, e->mode);
    *p++ = (uint8_t)name_len;
    memcpy(p, e->name, name_len);
    p += name_len;
    if (e->kind == MF_KIND_LINK) {
        target_len = strlen(e->target);
        p = le_put16(p, (uint16_t)target_len);
        memcpy(p, e->target, target_len);
        return p + target_len;
    }
    memcpy(p, e->key, MF_KEY_LEN);
    p = le_put64(p + MF_KEY_LEN, e->bytes);
    if (e->kind == MF_KIND_DIR) {
        p = le_put64(p, e->files);
        p = le_put64(p, e->total);
    }
    return p;
}

uint8_t *mf__put_dchild(uint8_t *p, const mf__dchild_t *c)
{
    memcpy(p, c->key, MF_KEY_LEN);
    p = le_put64(p + MF_KEY_LEN, c->bytes);
    p = le_put64(p, c->files);
    p = le_put64(p, c->total);
    return le_put32(p, c->entries);
}
