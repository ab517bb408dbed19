/*
 * manifests: the manifest of a stored directory, its codec and assembler.
 * schema/manifest.md, section 8, is the normative format.
 *
 * Pure code, as manifest.h: bytes in, structs out; no I/O, no globals.
 *
 * A directory is described by a directory manifest: its name, totals of
 * the whole tree below it, and its listing, one entry per name, sorted
 * bytewise, names unique:
 *   - a regular file: the key of its file manifest and its size;
 *   - a sub-directory: the key of its own directory manifest and the
 *     totals of the tree below it (bytes, regular files, entries);
 *   - a symbolic link: its target, carried as bytes, never interpreted.
 * Each entry has permission bits (0..0777). Encoded, the manifest is one
 * or more nodes like a file manifest's ("EMOD" instead of "EMOM"), stored
 * under their SHA-256; the root's key is the directory's key. The root
 * alone says whether a key names a file or a directory (mf_root_kind).
 *
 * Putting a tree: put each file (mf_encode) and, depth first, each
 * sub-directory; fill an mf_dir_t, mf_dir_sort() it, mf_dir_sum() it,
 * mf_dir_encode() it; store the nodes in order, root last; the root's key
 * and the totals go into the parent's entry.
 *
 * Getting one: fetch the key with an assembler made by
 * mf_asm_new_kind(.., MF_KIND_ANY), as for a file (mf_asm_add,
 * mf_asm_pending); mf_asm_kind() then says which finish to call. Each
 * entry's name is a safe single path component; an entry's key MUST be
 * fetched as the kind the entry says (mf_asm_new_kind with MF_KIND_FILE
 * or MF_KIND_DIR) and checked against the entry (mf_dirent_check_file,
 * mf_dirent_check_dir).
 */
#ifndef EMOFS_DIR_MANIFEST_H
#define EMOFS_DIR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "manifests/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MF_DIR_ENTRIES_MAX (1u << 20) /* most entries in one directory's listing */
#define MF_LINK_MAX        4095       /* longest symlink target, bytes (PATH_MAX - 1) */
#define MF_MODE_MAX        0777       /* permission bits only: no setuid, setgid, sticky */
/* Largest regular file a file manifest can describe: MF_ENTRIES_MAX chunks
 * of MF_CHUNK_MAX bytes, 2^46 bytes. */
#define MF_FILE_MAX ((uint64_t)MF_ENTRIES_MAX * MF_CHUNK_MAX)

/* Kinds: of a manifest (MF_KIND_FILE, MF_KIND_DIR) and of a directory
 * entry (all three); the values are the entry's kind byte. */
enum {
    MF_KIND_ANY = 0,  /* mf_asm_new_kind: a root of either kind */
    MF_KIND_FILE = 1, /* a regular file: a file manifest */
    MF_KIND_DIR = 2,  /* a directory: a directory manifest */
    MF_KIND_LINK = 3, /* a symbolic link (directory entries only) */
};

/* One entry of a directory's listing. Fields that do not apply to the
 * kind are ignored by the encoder and zero (NULL) in what the assembler
 * returns. */
typedef struct mf_dirent {
    char *name;              /* NUL-terminated; mf_name_valid */
    uint8_t kind;            /* MF_KIND_FILE, MF_KIND_DIR or MF_KIND_LINK */
    uint16_t mode;           /* permission bits, 0..MF_MODE_MAX */
    uint8_t key[MF_KEY_LEN]; /* file: its file manifest's key; dir: its dir manifest's */
    uint64_t bytes;          /* file: its size, <= MF_FILE_MAX; directory: sum of the
                                sizes of every regular file below it */
    uint64_t files;          /* directory: regular files below it, at any depth */
    uint64_t total;          /* directory: entries below it, of any kind, at any depth */
    char *target;            /* link: NUL-terminated, 1..MF_LINK_MAX bytes */
} mf_dirent_t;

/* A whole directory manifest, as the program sees it. */
typedef struct mf_dir {
    char *name;           /* NUL-terminated; mf_name_valid */
    uint64_t bytes;       /* sizes of every regular file below, at any depth */
    uint64_t files;       /* regular files below, at any depth */
    uint64_t total;       /* entries below, of any kind, at any depth */
    size_t n_entries;     /* 0..MF_DIR_ENTRIES_MAX */
    mf_dirent_t *entries; /* sorted by name, bytewise (mf_dir_sort), names unique */
} mf_dir_t;

/* Frees what d owns (its name, every entry's name and target, the
 * entries) and zeroes it. Accepts NULL. */
void mf_dir_clear(mf_dir_t *d);

/* Sorts d's entries by name, bytewise (strcmp's order), as the format
 * wants them. Duplicate names stay (mf_dir_encode refuses them). */
void mf_dir_sort(mf_dir_t *d);

/* @return 1 if e may be listed in a directory: a valid name, a known
 * kind, mode <= MF_MODE_MAX, and for a file bytes <= MF_FILE_MAX, for a
 * directory files <= total and bytes <= files * MF_FILE_MAX, for a link a
 * target of 1..MF_LINK_MAX bytes. Else 0. */
int mf_dirent_valid(const mf_dirent_t *e);

/* Sets d->bytes, d->files and d->total from d's entries (a file counts 1
 * file, 1 entry and its size; a directory 1 entry plus its totals; a link
 * 1 entry). @return 0, or MF_EINVAL (d NULL, an entry not mf_dirent_valid,
 * or a total above 2^64 - 1). */
int mf_dir_sum(mf_dir_t *d);

/* Encodes d into nodes of at most max_node_bytes each (MF_NODE_MIN or
 * more), as mf_encode does a file manifest: *blobs gets *n blobs, children
 * before the nodes that list them, the root last (its key is the
 * directory's key). d must be consistent: a valid name, at most
 * MF_DIR_ENTRIES_MAX entries, each mf_dirent_valid, names strictly
 * increasing (sorted, unique), and totals as mf_dir_sum sets them. When
 * the listing does not fit in one node, each entry must fit in a node of
 * its own (a link target of 4095 bytes needs 4367 bytes; any entry fits in
 * MF_NODE_DEFAULT), the root must hold its name and one child, and the
 * tree at most MF_DEPTH_MAX levels below the root. Same directory and
 * max_node_bytes, same bytes.
 * @return 0, MF_EINVAL (inconsistent d, or it does not fit) or MF_ENOMEM. */
int mf_dir_encode(const mf_dir_t *d, size_t max_node_bytes, mf_blob_t **blobs, size_t *n);

/* Which manifest a root node is, from its bytes alone.
 * @return MF_KIND_FILE for a valid file manifest root (magic "EMOM"),
 *         MF_KIND_DIR for a valid directory manifest root ("EMOD"),
 *         MF_EFORMAT for anything else (an inner node, malformed bytes). */
int mf_root_kind(const uint8_t *buf, size_t len);

/* Like mf_asm_new (manifest.h), for a root of the given kind:
 * MF_KIND_FILE (what mf_asm_new makes), MF_KIND_DIR, or MF_KIND_ANY (the
 * kind of the root decides: "EMOD" a directory, else a file). A root of
 * another kind is refused as malformed. mf_asm_add and mf_asm_pending
 * work the same for both kinds; in a directory's tree no key may be named
 * twice. @return 0 and *out, MF_EINVAL or MF_ENOMEM. */
int mf_asm_new_kind(mf_asm_t **out, const uint8_t key[MF_KEY_LEN], int kind);

/* @return MF_KIND_FILE or MF_KIND_DIR once the root was added, else 0. */
int mf_asm_kind(const mf_asm_t *a);

/* Moves the whole directory manifest into *out (the caller clears it).
 * Checks, beyond what mf_asm_add checked node by node, that the names of
 * the whole listing are strictly increasing.
 * @return 0, MF_ESTATE (nodes still missing), MF_EINVAL (a is not a
 *         directory's), MF_EFORMAT, MF_ENOMEM, or the error that failed a. */
int mf_dir_asm_finish(mf_asm_t *a, mf_dir_t *out);

/* The checks a reader makes when it fetched what an entry names:
 * a file entry and the file manifest assembled under its key agree when
 * the sizes are equal; a directory entry and the directory manifest
 * assembled under its key when the three totals are. (Names are not
 * compared: the entry's name is the one to use.)
 * @return 0, MF_EFORMAT (they disagree) or MF_EINVAL (NULL, wrong kind). */
int mf_dirent_check_file(const mf_dirent_t *e, const mf_manifest_t *m);
int mf_dirent_check_dir(const mf_dirent_t *e, const mf_dir_t *d);

/* The manifest file of a directory (mf_bundle_encode, mf_bundle_decode)
 * carries its whole tree: the nodes of its directory manifest, of every
 * sub-directory's and of every regular file's manifest below it, at any
 * depth (schema/manifest.md, section 8.7); mf_bundle_encode writes a node
 * given twice once, so an exporter can give it every manifest's nodes as
 * it fetches them, children first, the top root last.
 *
 * Checks that blobs[0..n) (as mf_bundle_decode returns them) hold exactly
 * the tree of the directory key: every manifest of it assembles from
 * them, every entry agrees with the manifest it names
 * (mf_dirent_check_file, mf_dirent_check_dir), and every node is one the
 * tree needs. Assemble the top directory with mf_asm_new_kind afterwards.
 * @return 0, MF_EFORMAT (a node missing, malformed, filed twice or not
 *         needed; an entry that disagrees), MF_EHASH (a node that does not
 *         hash to its key), MF_EINVAL or MF_ENOMEM. */
int mf_dir_bundle_check(const uint8_t key[MF_KEY_LEN], const mf_blob_t *blobs, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* EMOFS_DIR_MANIFEST_H */
