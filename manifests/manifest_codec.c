/*
 * manifests: the codec of one manifest node (schema/manifest.md, section 2).
 * The decoder checks everything a node can be checked against on its own;
 * what ties a node to its parent is the assembler's (manifest_asm.c).
 */
#include <string.h>

#include "manifests/manifest_int.h"

static size_t entry_len(const mf__node_t *n)
{
    return n->sealed ? MF__SENTRY_LEN : MF__ENTRY_LEN;
}

static size_t child_len(const mf__node_t *n)
{
    return n->sealed ? MF__SCHILD_LEN : MF__CHILD_LEN;
}

/* Decodes the records of n (n->level, n->recs, n->count are set) and sums
 * what they cover. @return 0 or MF_EFORMAT. */
static int sum_records(mf__node_t *n)
{
    n->bytes = 0;
    n->chunks = 0;
    for (uint32_t i = 0; i < n->count; i++) {
        if (n->level == 0) {
            uint32_t size = le_get32(n->recs + (size_t)i * entry_len(n) + MF_KEY_LEN);
            if (size == 0 || size > MF_CHUNK_MAX)
                return MF_EFORMAT;
            n->bytes += size;
            n->chunks++;
        } else {
            mf__child_t c;
            mf__node_child(n, i, &c);
            /* Every entry holds 1..MF_CHUNK_MAX bytes; chunks <= 2^32 so
             * the product fits in 64 bits. */
            if (c.chunks == 0 || c.bytes < c.chunks || c.bytes > (uint64_t)c.chunks * MF_CHUNK_MAX)
                return MF_EFORMAT;
            n->bytes += c.bytes; /* at most 2^32 * 2^56: no wrap */
            n->chunks += c.chunks;
        }
        if (n->chunks > MF_ENTRIES_MAX)
            return MF_EFORMAT;
    }
    return MF_OK;
}

int mf__node_decode(mf__node_t *n, const uint8_t *buf, size_t len)
{
    size_t off = 7, rec_len;

    memset(n, 0, sizeof(*n));
    if (mf__hdr_decode(buf, len, MF__NODE_MAGIC, &n->is_root, &n->level) != MF_OK)
        return MF_EFORMAT;
    n->sealed = buf[4] == MF__VERSION_SEALED;
    if (n->is_root) {
        if (len < MF__ROOT_FIXED)
            return MF_EFORMAT;
        n->size = le_get64(buf + 7);
        memcpy(n->sha256, buf + 15, MF_KEY_LEN);
        n->name_len = buf[47];
        n->name = buf + 48;
        if (len - MF__ROOT_FIXED < n->name_len || !mf__name_valid_n(n->name, n->name_len))
            return MF_EFORMAT;
        off = 48 + n->name_len;
    }
    n->count = le_get32(buf + off);
    n->recs = buf + off + 4;
    rec_len = n->level == 0 ? entry_len(n) : child_len(n);
    if ((len - off - 4) % rec_len != 0 || (len - off - 4) / rec_len != n->count)
        return MF_EFORMAT;
    /* Only an empty file's root lists nothing. */
    if (n->count == 0 && !(n->is_root && n->level == 0))
        return MF_EFORMAT;
    if (sum_records(n) != MF_OK)
        return MF_EFORMAT;
    if (n->is_root && n->bytes != n->size)
        return MF_EFORMAT;
    if (n->is_root && n->size == 0 && memcmp(n->sha256, mf__sha256_empty, MF_KEY_LEN) != 0)
        return MF_EFORMAT;
    return MF_OK;
}

void mf__node_entry(const mf__node_t *n, size_t i, mf_entry_t *e)
{
    const uint8_t *p = n->recs + i * entry_len(n);

    memcpy(e->key, p, MF_KEY_LEN);
    e->size = le_get32(p + MF_KEY_LEN);
}

void mf__node_entry_secret(const mf__node_t *n, size_t i, uint8_t out[MF_KEY_LEN])
{
    memcpy(out, n->recs + i * MF__SENTRY_LEN + MF__ENTRY_LEN, MF_KEY_LEN);
}

void mf__node_child(const mf__node_t *n, size_t i, mf__child_t *c)
{
    const uint8_t *p = n->recs + i * child_len(n);

    memcpy(c->key, p, MF_KEY_LEN);
    c->bytes = le_get64(p + MF_KEY_LEN);
    c->chunks = le_get32(p + MF_KEY_LEN + 8);
    if (n->sealed)
        memcpy(c->secret, p + MF__CHILD_LEN, MF_KEY_LEN);
    else
        memset(c->secret, 0, MF_KEY_LEN);
}

uint8_t *mf__put_root_hdr(uint8_t *p, const mf_manifest_t *m, size_t name_len, uint8_t level,
                          uint32_t count)
{
    p = mf__put_hdr(p, MF__NODE_MAGIC, MF__KIND_ROOT, level);
    p = le_put64(p, m->size);
    memcpy(p, m->sha256, MF_KEY_LEN);
    p += MF_KEY_LEN;
    *p++ = (uint8_t)name_len;
    memcpy(p, m->name, name_len);
    return le_put32(p + name_len, count);
}

uint8_t *mf__put_hdr(uint8_t *p, const char *magic, uint8_t kind, uint8_t level)
{
    memcpy(p, magic, 4);
    p[4] = MF__VERSION;
    p[5] = kind;
    p[6] = level;
    return p + 7;
}

int mf__hdr_decode(const uint8_t *buf, size_t len, const char *magic, int *is_root, uint8_t *level)
{
    int file = memcmp(magic, MF__NODE_MAGIC, 4) == 0;

    if (len < MF__INNER_HDR || memcmp(buf, magic, 4) != 0)
        return MF_EFORMAT;
    if (buf[4] != MF__VERSION && !(file && buf[4] == MF__VERSION_SEALED))
        return MF_EFORMAT;
    if (buf[5] != MF__KIND_ROOT && buf[5] != MF__KIND_INNER)
        return MF_EFORMAT;
    *is_root = buf[5] == MF__KIND_ROOT;
    *level = buf[6];
    /* A node below the root sits at least one level under it. */
    return *level > (*is_root ? MF_DEPTH_MAX : MF_DEPTH_MAX - 1) ? MF_EFORMAT : MF_OK;
}

uint8_t *mf__put_inner_hdr(uint8_t *p, uint8_t level, uint32_t count)
{
    return le_put32(mf__put_hdr(p, MF__NODE_MAGIC, MF__KIND_INNER, level), count);
}

uint8_t *mf__put_entry(uint8_t *p, const mf_entry_t *e)
{
    memcpy(p, e->key, MF_KEY_LEN);
    return le_put32(p + MF_KEY_LEN, e->size);
}

uint8_t *mf__put_child(uint8_t *p, const mf__child_t *c)
{
    memcpy(p, c->key, MF_KEY_LEN);
    p = le_put64(p + MF_KEY_LEN, c->bytes);
    return le_put32(p, c->chunks);
}
