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

#include "manifests/le.h"
#include "manifests/manifest.h"
#include "manifests/dir_manifest.h"

/* Node layout (schema/manifest.md, section 2). */
#define MF__NODE_MAGIC     "EMOM"
#define MF__VERSION        1
#define MF__VERSION_SEALED 2 /* a sealed file's nodes (section 9): records carry secrets */
#define MF__KIND_ROOT      0x01
#define MF__KIND_INNER     0x02
#define MF__INNER_HDR      11 /* magic 4, version 1, kind 1, level 1, count 4 */
#define MF__ROOT_FIXED     52 /* the root's header without its name */
#define MF__ENTRY_LEN      36 /* key 32, size u32 */
#define MF__CHILD_LEN      44 /* key 32, bytes u64, chunks u32 */
#define MF__SENTRY_LEN     68 /* a sealed node's entry: key 32, size u32, secret 32 */
#define MF__SCHILD_LEN     76 /* a sealed node's child: key 32, bytes u64, chunks u32, secret 32 */

/* Directory node layout (schema/manifest.md, section 8). */
#define MF__DIR_MAGIC      "EMOD"
#define MF__DROOT_FIXED    36 /* the root's header without its name */
#define MF__DCHILD_LEN     60 /* key 32, bytes u64, files u64, total u64, entries u32 */
#define MF__DREC_FIXED     4  /* kind 1, mode u16, name_len 1, then the name */
#define MF__DREC_FILE_TAIL 40 /* key 32, size u64 */
#define MF__DREC_DIR_TAIL  56 /* key 32, bytes u64, files u64, total u64 */
#define MF__DREC_LINK_TAIL 2  /* target_len u16, then the target */

/* Manifest file layout (schema/manifest.md, section 5). */
#define MF__BUNDLE_MAGIC "EMOF"
#define MF__BUNDLE_HDR   9  /* magic 4, version 1, count 4 */
#define MF__BUNDLE_REC   36 /* key 32, len u32, then len bytes */

/* What a node covers, as its parent's child record states it. */
typedef struct mf__child {
    uint8_t key[MF_KEY_LEN];
    uint64_t bytes;             /* plain bytes of the file under the child */
    uint32_t chunks;            /* entries under the child */
    uint8_t secret[MF_KEY_LEN]; /* a sealed node's: opens the child; else zeros */
} mf__child_t;

/* A decoded node. Pointers point into the buffer that was decoded. */
typedef struct mf__node {
    int is_root;
    int sealed;                 /* version 2: records carry secrets */
    uint8_t level;              /* 0: lists entries; n: lists children of level n-1 */
    uint64_t size;              /* root only: the file size */
    uint8_t sha256[MF_KEY_LEN]; /* root only: SHA-256 of the file */
    const uint8_t *name;        /* root only: name_len bytes, not terminated */
    size_t name_len;
    uint32_t count;      /* records */
    const uint8_t *recs; /* count records: entries or children, of the version's length */
    uint64_t bytes;      /* sum of entry sizes or of children's bytes */
    uint64_t chunks;     /* entries covered: count, or sum of children's chunks */
} mf__node_t;

/* Decodes and checks one node (every rule of schema/manifest.md that one
 * node can be checked against on its own). @return 0 or MF_EFORMAT. */
int mf__node_decode(mf__node_t *n, const uint8_t *buf, size_t len);

/* Record i of a decoded node, level 0 / level > 0 respectively. */
void mf__node_entry(const mf__node_t *n, size_t i, mf_entry_t *e);
void mf__node_child(const mf__node_t *n, size_t i, mf__child_t *c);

/* The secret of entry i of a sealed leaf into out. */
void mf__node_entry_secret(const mf__node_t *n, size_t i, uint8_t out[MF_KEY_LEN]);

/* Writers: each returns p advanced past what it wrote. The caller has
 * checked that the room is there. */
uint8_t *mf__put_root_hdr(uint8_t *p, const mf_manifest_t *m, size_t name_len, uint8_t level,
                          uint32_t count);
uint8_t *mf__put_inner_hdr(uint8_t *p, uint8_t level, uint32_t count);
uint8_t *mf__put_entry(uint8_t *p, const mf_entry_t *e);
uint8_t *mf__put_child(uint8_t *p, const mf__child_t *c);

/* Writes the 7 bytes every node starts with: magic (MF__NODE_MAGIC or
 * MF__DIR_MAGIC), version, kind, level. @return p + 7. */
uint8_t *mf__put_hdr(uint8_t *p, const char *magic, uint8_t kind, uint8_t level);

/* Reads and checks those 7 bytes (and that len holds an inner node's
 * header): the magic given, version 1 (or 2 for a file node: sealed),
 * kind root or inner, a level of at most MF_DEPTH_MAX for a root, one
 * less below it. @return 0 or MF_EFORMAT. */
int mf__hdr_decode(const uint8_t *buf, size_t len, const char *magic, int *is_root, uint8_t *level);

/* What a node covers, as its parent's child record says it and as the
 * node sums itself: a file node's (bytes, chunks, 0, 0), a directory
 * node's (bytes, files, total, entries). */
typedef struct mf__cover {
    uint64_t v[4];
} mf__cover_t;

/* A child record of either format: the child's key and what it covers. */
typedef struct mf__kid {
    uint8_t key[MF_KEY_LEN];
    mf__cover_t cover;
    uint8_t secret[MF_KEY_LEN]; /* in a sealed tree: what opens the child */
} mf__kid_t;

/* What the code building the levels above the leaves needs to know of a
 * format. */
typedef struct mf__tree_fmt {
    const char *magic;                                   /* MF__NODE_MAGIC or MF__DIR_MAGIC */
    size_t child_len;                                    /* bytes of one child record */
    uint8_t *(*put_kid)(uint8_t *p, const mf__kid_t *k); /* writes one */
} mf__tree_fmt_t;

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

/* The nodes an encoder outputs, without duplicates (a file of repeated
 * content has identical leaves, which are stored once). manifest_encode.c. */
typedef struct mf__out {
    mf_blob_t *blobs;
    size_t n, cap;
    mf__map_t seen;
    int sealed; /* a sealed file's tree: nodes are version 2 and sealed */
} mf__out_t;

void mf__out_init(mf__out_t *o);

/* Takes data (malloc'ed, len bytes, a whole node): in a sealed tree, marks
 * it version 2 and seals it (secret gets what opens it); then hashes what
 * is stored into key and appends it unless a blob with the same key is
 * already there, then frees data. secret may be NULL unless o->sealed.
 * @return 0 or MF_ENOMEM (data freed either way). */
int mf__out_emit(mf__out_t *o, uint8_t *data, size_t len, uint8_t key[MF_KEY_LEN],
                 uint8_t secret[MF_KEY_LEN]);

/* Ends o: when rc is 0 moves the blobs to *blobs and *n, else frees them.
 * @return rc. */
int mf__out_done(mf__out_t *o, int rc, mf_blob_t **blobs, size_t *n);

/* Emits the interior levels of a tree whose *g leaves (child records in
 * the malloc'ed *kids) are out: while there are more than per_root, they
 * are grouped into nodes of at most (max - 11) / child_len children, as
 * evenly as can be (section 4.1). *kids and *g become the top level's, the
 * one the root lists, and *level its level. *kids stays the caller's to
 * free, whatever the result.
 * @return 0, MF_EINVAL (more than MF_DEPTH_MAX levels) or MF_ENOMEM. */
int mf__emit_levels(mf__out_t *o, const mf__tree_fmt_t *f, size_t max, size_t per_root,
                    mf__kid_t **kids, size_t *g, uint8_t *level);

/* ---- directory nodes (dir_codec.c) ---------------------------------- */

/* One directory entry record as read from a node (schema section 8.3).
 * Pointers point into the node's buffer. */
typedef struct mf__drec {
    uint8_t kind; /* MF_KIND_FILE, MF_KIND_DIR or MF_KIND_LINK */
    uint16_t mode;
    const uint8_t *name;
    size_t name_len;
    const uint8_t *key;    /* file and directory entries, else NULL */
    uint64_t bytes;        /* file: its size; directory: bytes below it */
    uint64_t files;        /* directory: regular files below it */
    uint64_t total;        /* directory: entries below it */
    const uint8_t *target; /* symlink: target_len bytes, else NULL */
    size_t target_len;
} mf__drec_t;

/* Parses and checks the record at p, with avail bytes left in the node
 * (every rule of one record: kind, mode, name, per-kind limits).
 * @return the record's length, or 0 if malformed. */
size_t mf__drec_parse(const uint8_t *p, size_t avail, mf__drec_t *r);

/* What a child of a directory node covers, as its parent's record says. */
typedef struct mf__dchild {
    uint8_t key[MF_KEY_LEN];
    uint64_t bytes;   /* bytes of the regular files listed under it, recursively */
    uint64_t files;   /* regular files under it, recursively */
    uint64_t total;   /* entries under it, recursively */
    uint32_t entries; /* listing entries under it (this directory's own) */
} mf__dchild_t;

/* A decoded directory node. Pointers point into the buffer decoded. */
typedef struct mf__dnode {
    int is_root;
    uint8_t level;
    const uint8_t *name; /* root only: name_len bytes, not terminated */
    size_t name_len;
    uint32_t count;      /* records */
    const uint8_t *recs; /* the records: entries (level 0) or children */
    size_t recs_len;
    uint64_t bytes; /* sums over the records (the root's header equals them) */
    uint64_t files;
    uint64_t total;
    uint64_t entries; /* listing entries covered: count, or sum of children's */
} mf__dnode_t;

/* Decodes and checks one directory node (every rule of schema section 8
 * that one node can be checked against on its own). @return 0 or MF_EFORMAT. */
int mf__dnode_decode(mf__dnode_t *n, const uint8_t *buf, size_t len);

/* Child record i of a decoded directory node of level > 0. */
void mf__dnode_child(const mf__dnode_t *n, size_t i, mf__dchild_t *c);

/* Writers, as for file nodes. mf__drec_len is what mf__put_drec writes. */
uint8_t *mf__put_droot_hdr(uint8_t *p, const mf_dir_t *d, size_t name_len, uint8_t level,
                           uint32_t count);
size_t mf__drec_len(const mf_dirent_t *e);
uint8_t *mf__put_drec(uint8_t *p, const mf_dirent_t *e);
uint8_t *mf__put_dchild(uint8_t *p, const mf__dchild_t *c);

/* 1 if a's name sorts strictly before b's: bytewise, a prefix first. */
int mf__name_before(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* acc += v. @return 0, or -1 (acc untouched) if the sum exceeds 2^64 - 1. */
static inline int mf__add64(uint64_t *acc, uint64_t v)
{
    if (v > UINT64_MAX - *acc)
        return -1;
    *acc += v;
    return 0;
}

/* ---- the assembler's tree walk (manifest_asm.c) -------------------- */

/* Checks that a is whole, holds a root of kind, and has not failed; then
 * gives the root's bytes. @return 0, the error that failed a, MF_ESTATE
 * (nodes missing) or MF_EINVAL (another kind). */
int mf__asm_root(const mf_asm_t *a, int kind, const uint8_t **data, size_t *len);

/* Calls leaf(ctx, bytes, len) on every leaf (level 0 node, the root too
 * when it lists entries) in tree order: the listing's order. A whole
 * assembler only. @return 0, MF_EFORMAT, or the first nonzero leaf(). */
int mf__asm_walk(const mf_asm_t *a, int (*leaf)(void *ctx, const uint8_t *data, size_t len),
                 void *ctx);

/* 1 if s[0..len) is a valid file name (the rules of mf_name_valid). */
int mf__name_valid_n(const uint8_t *s, size_t len);

/* Makes room in *arr (of *cap items of size bytes) for need items,
 * doubling it (16 items at first). @return 0 or MF_ENOMEM (*arr kept). */
int mf__reserve(void **arr, size_t *cap, size_t need, size_t size);

/* SHA-256 of no bytes, which an empty file's manifest carries. */
extern const uint8_t mf__sha256_empty[MF_KEY_LEN];

#endif /* EMOFS_MANIFEST_INT_H */
