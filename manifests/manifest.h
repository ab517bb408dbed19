/*
 * manifests: the manifest of a stored file, its binary codec, and the tree
 * a large manifest becomes. schema/manifest.md is the normative format.
 *
 * Pure code: bytes in, structs out. No I/O, no globals, no clock; SHA-256
 * through OpenSSL's EVP. Every decoder reads with explicit bounds and
 * rejects anything the schema does not allow.
 *
 * A file is described by a manifest: its name, its total size, the
 * SHA-256 of its bytes, and the ordered list of its chunks as (chunk key,
 * plain size) entries. Encoded, the manifest is one or more "nodes":
 *   - a small manifest is a single root node that lists every entry;
 *   - a large one is a tree: the root and interior nodes list children
 *     (child key, bytes covered, chunks covered), leaves list entries.
 *     Every node fits in max_node_bytes.
 * Each node is stored under its key, SHA-256 of its encoded bytes. The
 * file's key is the root node's key, so whoever has the key can verify the
 * root, and through it every node and every chunk.
 */
#ifndef EMOFS_MANIFEST_H
#define EMOFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MF_KEY_LEN      32
#define MF_NAME_MAX     255                 /* bytes of a file name */
#define MF_CHUNK_MAX    (16u << 20)         /* largest chunk size the decoder accepts */
#define MF_NODE_MIN     256                 /* smallest max_node_bytes accepted */
#define MF_NODE_DEFAULT ((1u << 20) - 4096) /* default max_node_bytes: fits a DHT value */
#define MF_DEPTH_MAX    8                   /* most levels of nodes below the root */
#define MF_ENTRIES_MAX  (1u << 22)          /* most entries (chunks) in one manifest */
/* A file's tree may name one subtree many times (a file of repeated
 * content), so a few small nodes can describe millions of chunks, and a
 * reader flattening them would spend memory on what nobody verified. A
 * reader accepts at most MF_REPEAT_FREE chunks, or else at most
 * MF_REPEAT_MAX per chunk record held in the manifest's distinct leaves:
 * the memory a manifest costs grows with the bytes verified. A manifest
 * made with the default node size always passes (its leaves hold ~29,000
 * records, MF_ENTRIES_MAX is 145 times that); one of repeated content with
 * tiny nodes may not (MF_EREPEAT). */
#define MF_REPEAT_FREE (1u << 16)
#define MF_REPEAT_MAX  256

/* Return codes: 0 is success, the rest are negative, in -201..-299 (a
 * range of their own: filestore/fs_error.h). XX(name, value, text):
 *   EINVAL   bad argument (NULL, empty, out of range)
 *   EFORMAT  malformed bytes: bad magic, version, bounds, fields
 *   EHASH    bytes do not hash to the key they were given for
 *   ESTATE   call out of order (a node not asked for, result too early) */
#define MF_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -201, "invalid argument")                                                           \
    XX(ENOMEM, -202, "out of memory")                                                              \
    XX(EFORMAT, -203, "malformed manifest")                                                        \
    XX(EHASH, -204, "manifest node does not match its key")                                        \
    XX(ESTATE, -205, "manifest call out of order")                                                 \
    XX(EREPEAT, -206, "manifest repeats one part of itself more than a reader accepts")            \
    XX(ESEAL, -207, "cannot decrypt: wrong secret, or damaged bytes")

enum {
    MF_OK = 0,
#define MF_XX_ENUM(name, value, text) MF_##name = (value),
    MF_ERRNO_MAP(MF_XX_ENUM)
#undef MF_XX_ENUM
};

/* @return a static text for a MF_* code; never NULL. */
const char *mf_strerror(int err);

/* @return the static name of a MF_* code ("MF_EFORMAT"); never NULL. */
const char *mf_err_name(int err);

/* One chunk of the file, in file order. */
typedef struct mf_entry {
    uint8_t key[MF_KEY_LEN]; /* SHA-256 of the chunk's stored (encoded) bytes */
    uint32_t size;           /* the chunk's plain (decoded) size, 1..MF_CHUNK_MAX */
} mf_entry_t;

/* A whole manifest, as the program sees it. */
typedef struct mf_manifest {
    char *name;                 /* NUL-terminated, 1..MF_NAME_MAX bytes, see mf_name_valid */
    uint64_t size;              /* file size, bytes == sum of entry sizes */
    uint8_t sha256[MF_KEY_LEN]; /* SHA-256 of the whole file */
    size_t n_entries;           /* 0 for an empty file */
    mf_entry_t *entries;
    /* A sealed (encrypted) file's: secrets[i] opens entries[i]'s chunk
     * (manifests/seal.h). NULL for a plain file. */
    uint8_t (*secrets)[MF_KEY_LEN];
} mf_manifest_t;

/* Frees what m owns (name, entries, secrets) and zeroes it. Accepts NULL. */
void mf_manifest_clear(mf_manifest_t *m);

/* @return 1 if name may be a manifest's file name: 1..MF_NAME_MAX bytes,
 * no '/', no NUL, no control character (< 0x20, 0x7f), not "." or "..".
 * It is then safe to use as a file name in the current directory. */
int mf_name_valid(const char *name);

/* One encoded node and its key. */
typedef struct mf_blob {
    uint8_t key[MF_KEY_LEN]; /* SHA-256 of data */
    uint8_t *data;
    size_t len;
} mf_blob_t;

/* Frees n blobs and the array. Accepts NULL. */
void mf_blobs_free(mf_blob_t *blobs, size_t n);

/* Encodes m into nodes of at most max_node_bytes each (MF_NODE_MIN or
 * more). m must be consistent (valid name, sizes summing to size, at most
 * MF_ENTRIES_MAX entries, and for an empty file sha256 == SHA-256 of no
 * bytes). When the manifest does not fit in one node, the root must still
 * hold its name and one child, and the tree at most MF_DEPTH_MAX levels
 * below the root; a name too long for a small max_node_bytes is MF_EINVAL.
 * On success *blobs is an array of *n blobs, children before the nodes
 * that list them, the root last: its key is the file's key. Storing them
 * in that order means a node is never reachable before its children.
 * Same manifest and max_node_bytes, same bytes.
 * @return 0, MF_EINVAL or MF_ENOMEM. */
int mf_encode(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n);

/* Encodes a sealed manifest (m->secrets set: every chunk sealed): as
 * mf_encode, but the nodes carry each record's secret (format version 2)
 * and are themselves sealed (seal.h), so the blobs hold ciphertext only;
 * each fits in max_node_bytes. root_secret gets the secret that opens the
 * root: with the root's key it is the file's capability, all a reader
 * needs. Same manifest, same bytes.
 * @return 0, MF_EINVAL or MF_ENOMEM. */
int mf_encode_sealed(const mf_manifest_t *m, size_t max_node_bytes, mf_blob_t **blobs, size_t *n,
                     uint8_t root_secret[MF_KEY_LEN]);

/* Reassembles a (file) manifest from its nodes, fetched in any order.
 * dir_manifest.h has the same for directories and for either kind.
 *
 *   mf_asm_t *a;
 *   mf_asm_new(&a, file_key);
 *   mf_asm_add(a, file_key, root_bytes, len);
 *   while ((n = mf_asm_pending(a, keys, max)) > 0)
 *       for each key: fetch it, then mf_asm_add(a, key, bytes, len);
 *   mf_asm_finish(a, &manifest);
 *
 * Every node is checked against its key and its parent (sizes and chunk
 * counts must add up), so a wrong or hostile node is refused, never
 * trusted. Depth and counts are bounded. */
typedef struct mf_asm mf_asm_t;

/* @return 0 and *out, MF_EINVAL or MF_ENOMEM. */
int mf_asm_new(mf_asm_t **out, const uint8_t file_key[MF_KEY_LEN]);

/* Like mf_asm_new, for a sealed file: root_secret opens the root (the
 * capability's second half). Every node added is checked against its key,
 * then opened (MF_ESEAL if it does not open: a wrong secret), and must be
 * of the sealed format; mf_asm_finish gives the secrets too.
 * @return 0 and *out, MF_EINVAL or MF_ENOMEM. */
int mf_asm_new_sealed(mf_asm_t **out, const uint8_t file_key[MF_KEY_LEN],
                      const uint8_t root_secret[MF_KEY_LEN]);

/* Frees the assembler. Accepts NULL. */
void mf_asm_free(mf_asm_t *a);

/* Adds the node stored under key (the file key first, then keys that
 * mf_asm_pending() returned). A node already added is ignored (0).
 * @return 0, MF_EHASH (data does not hash to key), MF_ESTATE (key not
 *         asked for), MF_EFORMAT (malformed, or inconsistent with its
 *         parent) or MF_ENOMEM. After an error other than MF_ESTATE and
 *         MF_EHASH the assembler is failed and mf_asm_finish reports it. */
int mf_asm_add(mf_asm_t *a, const uint8_t key[MF_KEY_LEN], const uint8_t *data, size_t len);

/* Copies up to max keys of nodes still wanted into keys. @return how many
 * are still wanted in all (may exceed max); 0 once the manifest is whole,
 * or once the assembler failed (mf_asm_finish then says why). */
size_t mf_asm_pending(const mf_asm_t *a, uint8_t (*keys)[MF_KEY_LEN], size_t max);

/* Moves the whole manifest into *out (which the caller clears later).
 * @return 0, MF_ESTATE (nodes still missing), MF_EINVAL (the assembler
 *         holds a directory: mf_dir_asm_finish), MF_EREPEAT (more chunks
 *         than MF_REPEAT_MAX per chunk record of its distinct leaves, and
 *         more than MF_REPEAT_FREE) or the error that failed it. */
int mf_asm_finish(mf_asm_t *a, mf_manifest_t *out);

/* A manifest file: every node of one manifest in one file, so a manifest
 * can be shared outside the network ("emofs manifest export/import").
 * Encodes the nodes (root last, as mf_encode returns them). A node given
 * again (same key) is written once, where it first appears, so the nodes
 * of several manifests can be given one after the other (a directory's
 * tree, dir_manifest.h); the last blob must appear only there.
 * @return 0 and a malloc()ed *out of *out_len bytes, MF_EINVAL or MF_ENOMEM. */
int mf_bundle_encode(const mf_blob_t *blobs, size_t n, uint8_t **out, size_t *out_len);

/* Decodes a manifest file: checks the magic, version and bounds, and that
 * every node hashes to the key it is filed under. *blobs gets the nodes
 * and *file_key the root's key; assemble them with mf_asm_*.
 * @return 0, MF_EFORMAT, MF_EHASH or MF_ENOMEM. */
int mf_bundle_decode(const uint8_t *buf, size_t len, uint8_t file_key[MF_KEY_LEN],
                     mf_blob_t **blobs, size_t *n);

/* @return 1 if buf starts like a manifest file (its magic), else 0. */
int mf_is_bundle(const uint8_t *buf, size_t len);

/* Key text: 64 lowercase hex digits. out must hold 65 bytes. */
void mf_key_to_hex(const uint8_t key[MF_KEY_LEN], char out[65]);

/* SHA-256 of buf[0..len) into out: the one helper the layers above libdht
 * hash keys with (chunks, manifest nodes, blobs of the store); safe from
 * any thread. @return 0 or MF_ENOMEM. */
int mf_sha256(const uint8_t *buf, size_t len, uint8_t out[MF_KEY_LEN]);

/* Parses 64 hex digits (either case, nothing else). @return 0 or MF_EINVAL. */
int mf_key_from_hex(uint8_t key[MF_KEY_LEN], const char *hex);

/* A sealed file's capability as text, "KEY:SECRET": both in hex, joined by
 * a colon (schema/manifest.md 9.2). out must hold 130 bytes. */
void mf_capability_to_text(const uint8_t key[MF_KEY_LEN], const uint8_t secret[MF_KEY_LEN],
                           char out[130]);

/* Parses "KEY:SECRET" (129 characters, nothing else).
 * @return 0 and key, secret; or MF_EINVAL. */
int mf_capability_from_text(const char *text, uint8_t key[MF_KEY_LEN], uint8_t secret[MF_KEY_LEN]);

#ifdef __cplusplus
}
#endif

#endif /* EMOFS_MANIFEST_H */
