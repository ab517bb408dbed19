/*
 * manifests: internal declarations shared by the files of manifests/.
 * Not part of the public API (manifest.h); names carry mf__.
 *
 * The byte layouts are those of schema/manifest.md.
 */
#ifndef EMOFS_MANIFEST_INT_H
#define EMOFS_MANIFEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "manifests/manifest.h"

/* Node layout (schema/manifest.md, section 2). */
#define MF__NODE_MAGIC "EMOM"
#define MF__VERSION    1
#define MF__KIND_ROOT  0x01
#define MF__KIND_INNER 0x02
#define MF__INNER_HDR  11 /* magic 4, version 1, kind 1, level 1, count 4 */
#define MF__ROOT_FIXED 52 /* the root's header without its name */
#define MF__ENTRY_LEN  36 /* key 32, size u32 */
#define MF__CHILD_LEN  44 /* key 32, bytes u64, chunks u32 */

/* Manifest file layout (schema/manifest.md, section 5). */
#define MF__BUNDLE_MAGIC "EMOF"
#define MF__BUNDLE_HDR   9  /* magic 4, version 1, count 4 */
#define MF__BUNDLE_REC   36 /* key 32, len u32, then len bytes */

static inline uint32_t mf__get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t mf__get64(const uint8_t *p)
{
    return (uint64_t)mf__get32(p) | (uint64_t)mf__get32(p + 4) << 32;
}

static inline uint8_t *mf__put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static inline uint8_t *mf__put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* What a node covers, as its parent's child record states it. */
typedef struct mf__child {
    uint8_t key[MF_KEY_LEN];
    uint64_t bytes;  /* plain bytes of the file under the child */
    uint32_t chunks; /* entries under the child */
} mf__child_t;

/* A decoded node. Pointers point into the buffer that was decoded. */
typedef struct mf__node {
    int is_root;
    uint8_t level;              /* 0: lists entries; n: lists children of level n-1 */
    uint64_t size;              /* root only: the file size */
    uint8_t sha256[MF_KEY_LEN]; /* root only: SHA-256 of the file */
    const uint8_t *name;        /* root only: name_len bytes, not terminated */
    size_t name_len;
    uint32_t count;      /* records */
    const uint8_t *recs; /* count records of MF__ENTRY_LEN or MF__CHILD_LEN bytes */
    uint64_t bytes;      /* sum of entry sizes or of children's bytes */
    uint64_t chunks;     /* entries covered: count, or sum of children's chunks */
} mf__node_t;

/* Decodes and checks one node (every rule of schema/manifest.md that one
 * node can be checked against on its own). @return 0 or MF_EFORMAT. */
int mf__node_decode(mf__node_t *n, const uint8_t *buf, size_t len);

/* Record i of a decoded node, level 0 / level > 0 respectively. */
void mf__node_entry(const mf__node_t *n, size_t i, mf_entry_t *e);
void mf__node_child(const mf__node_t *n, size_t i, mf__child_t *c);

/* Writers: each returns p advanced past what it wrote. The caller has
 * checked that the room is there. */
uint8_t *mf__put_root_hdr(uint8_t *p, const mf_manifest_t *m, size_t name_len, uint8_t level,
                          uint32_t count);
uint8_t *mf__put_inner_hdr(uint8_t *p, uint8_t level, uint32_t count);
uint8_t *mf__put_entry(uint8_t *p, const mf_entry_t *e);
uint8_t *mf__put_child(uint8_t *p, const mf__child_t *c);

/* 1 if s[0..len) is a valid file name (the rules of mf_name_valid). */
int mf__name_valid_n(const uint8_t *s, size_t len);

/* SHA-256 of buf[0..len) into out. @return 0 or MF_ENOMEM. */
int mf__sha256(const uint8_t *buf, size_t len, uint8_t out[MF_KEY_LEN]);

/* SHA-256 of no bytes, which an empty file's manifest carries. */
extern const uint8_t mf__sha256_empty[MF_KEY_LEN];

/* A map from keys to indices: open addressing, grows itself. */
typedef struct mf__map {
    uint8_t (*keys)[MF_KEY_LEN];
    size_t *vals; /* SIZE_MAX marks an empty slot */
    size_t cap;   /* a power of two, or 0 */
    size_t n;
} mf__map_t;

void mf__map_init(mf__map_t *m);
void mf__map_free(mf__map_t *m);

/* @return the value filed under key, or SIZE_MAX if none. */
size_t mf__map_get(const mf__map_t *m, const uint8_t key[MF_KEY_LEN]);

/* Files val (not SIZE_MAX) under key, which must not be there yet.
 * @return 0 or MF_ENOMEM. */
int mf__map_put(mf__map_t *m, const uint8_t key[MF_KEY_LEN], size_t val);

#endif /* EMOFS_MANIFEST_INT_H */
