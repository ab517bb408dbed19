/*
 * filestore: put and get of whole files over libdht, on an executor
 * (exec.h: libuv's loop in emofs, the simulator in tests).
 *
 * Put: the file is read and cut into chunks (chunker.h) by one sequential
 * reader; worker threads compress (chunk_codec.h), hash and store each chunk
 * in the local chunk store (chunk_store.h), where it stays pinned; the loop
 * thread stores each chunk on its replicas in the DHT, many in flight; then
 * the manifest's nodes (manifests/manifest.h), root last. The key is
 * reported only when everything is stored. A put that fails removes the
 * blobs it added, so the local store is as it was.
 *
 * Get: the manifest first (local store, else the DHT), then the chunks,
 * many in flight and out of order, each verified and written at its offset
 * into a temporary file next to the final one. A journal beside it records
 * finished chunks, so an interrupted get resumes where it stopped. The
 * temporary is renamed to the final name only when the whole-file SHA-256
 * matches the manifest.
 *
 * All functions and callbacks run on the loop's thread.
 */
#ifndef EMOFS_FILESTORE_H
#define EMOFS_FILESTORE_H

#include "dht.h"
#include "filestore/chunk_store.h"
#include "filestore/chunker.h"
#include "filestore/exec.h"
#include "filestore/fs_error.h"
#include "manifests/dir_manifest.h"
#include "manifests/manifest.h"

#include <stdint.h>

/* How many nodes keep each chunk of a put, unless the caller says otherwise.
 * Eight copies, repaired every replication interval, lose a chunk only if
 * all eight holders leave within one interval: with a 10% chance for each
 * in that time, one chunk in 10^8. That is 8x a file's size in the
 * network's disks instead of k = 20x. Manifest nodes are small and without
 * one the whole file is lost: they stay on all k closest. */
#define FS_COPIES_DEFAULT 8

/* What a put or a get shares: the executor, the node, the store, settings.
 * Fill with fs_ctx_init(), then set exec, dht and store. */
typedef struct fs_ctx {
    const fs_exec_t *exec;        /* workers, deferred callbacks, the clock */
    dht_t *dht;                   /* the node; its routing table says if peers exist */
    fs_store_t *store;            /* local blobs: pinned chunks and manifests */
    fs_store_t *replicas;         /* optional: blobs held for others (replicas.h), also read
                                     by a get before it asks the network; NULL: none */
    int need_peers;               /* 1: a put fails if no peer stores it (bootstrap given) */
    unsigned max_in_flight;       /* DHT stores or fetches at once; 32 */
    unsigned max_tries;           /* fetches of one chunk before giving up; 4 */
    fs_chunker_params_t chunking; /* 64 KiB / 256 KiB / 1 MiB */
    size_t max_node_bytes;        /* manifest node size; MF_NODE_DEFAULT */
    int level;                    /* zstd level; FS_CODEC_LEVEL_DEFAULT */
    uint32_t ttl_s;               /* TTL of values stored in the DHT; 86400 */
    unsigned copies;              /* nodes that keep each chunk (r, 1..k); FS_COPIES_DEFAULT.
                                     Manifest nodes are kept on k (dht_put_opts_t) */
    int seal;                     /* 1: a put seals (encrypts) its chunks and manifest
                                     (manifests/seal.h; fs_put_secret); 0: plain */
    /* Optional, a fault-injection point for tests: called on the loop
     * each time a get has written a chunk to its file and journal, with
     * how many this get has written (resumed ones not counted). NULL: none. */
    void (*chunk_written)(void *arg, uint32_t chunks);
    void *chunk_written_arg;
    /* Optional: told on the loop, with a get's key and the directory of
     * its temporary file and journal (get_place.c), just before the get
     * creates or reopens them (gone 0), and once it has removed them
     * again (gone 1: the file is in place, or they were dropped). A get
     * that dies or is canceled in between leaves them, to resume; the
     * node records where (`emofs gc`). NULL: none. */
    void (*get_files)(void *arg, const uint8_t key[MF_KEY_LEN], const char *dir, int gone);
    void *get_files_arg;
} fs_ctx_t;

/* Fills ctx with the defaults above and NULL exec, dht and store. */
void fs_ctx_init(fs_ctx_t *ctx);

/* A pinned blob (in ctx->store) was found damaged and removed: fetches it
 * again from the network (never from the local stores) and, once it
 * checks, stores it back in ctx->store (on one of ctx->exec's workers).
 * Nothing reports back; a blob no node has stays missing.
 * The fetch is an operation of ctx->dht: freeing the node cancels it.
 * @return 0 (started), FS_EINVAL (no node or store) or FS_ENOMEM. */
int fs_fetch_repin(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN]);

/* Where a put or get stands, for progress bars. */
typedef struct fs_progress {
    uint64_t bytes_done, bytes_total;
    uint32_t chunks_done, chunks_total; /* chunks_total is 0 while a put still reads */
    uint32_t in_flight;                 /* DHT stores or fetches under way */
    uint32_t peers;                     /* nodes in the routing table */
} fs_progress_t;

typedef void (*fs_progress_cb)(const fs_progress_t *p, void *arg);

/* Result of a put: status 0 and the file's key and manifest, or a negative
 * FS_* code and a one-line message saying what failed. */
typedef void (*fs_put_cb)(int status, const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m,
                          const char *message, void *arg);

typedef struct fs_put fs_put_t;

/* Starts putting the file at path. progress may be NULL; it is called at
 * most about every 100 ms. done is called exactly once, never inside this
 * call. @return 0 and *out (valid until done returns), or FS_EINVAL,
 * FS_ENOMEM; for a file that cannot be opened the error comes through done. */
int fs_put_start(fs_put_t **out, const fs_ctx_t *ctx, const char *path, fs_progress_cb progress,
                 fs_put_cb done, void *arg);

/* Starts a streamed put: a file named name (mf_name_valid) whose bytes the
 * caller hands over with fs_put_feed, then fs_put_feed_end; standard input,
 * say. Nothing is copied whole: the bytes are chunked as they come.
 * want_more(arg) is called, on the loop, when the put can take bytes again
 * after fs_put_feed took fewer than it was offered. done as for
 * fs_put_start. @return 0 and *out (valid until done returns), or
 * FS_EINVAL, FS_ENOMEM. */
int fs_put_start_stream(fs_put_t **out, const fs_ctx_t *ctx, const char *name,
                        fs_progress_cb progress, void (*want_more)(void *arg), fs_put_cb done,
                        void *arg);

/* Offers the next len bytes of a streamed put. @return how many it took
 * (all of them once the put is failing); when fewer than len, offer the
 * rest after want_more. Only before done. */
size_t fs_put_feed(fs_put_t *put, const uint8_t *data, size_t len);

/* The streamed put's bytes are all fed. Only before done. */
void fs_put_feed_end(fs_put_t *put);

/* A directory tree: status 0, the tree's key and its root's manifest
 * fields (name, bytes, files, total; no entries), or an error. On success
 * message says what was skipped ("" if nothing). */
typedef void (*fs_put_tree_cb)(int status, const uint8_t key[MF_KEY_LEN], const mf_dir_t *d,
                               const char *message, void *arg);

typedef struct fs_put_tree fs_put_tree_t;

/* Starts putting the directory tree at path: every regular file (as
 * fs_put), every symbolic link as a link (its target; never followed),
 * every directory as a directory manifest (manifests/dir_manifest.h),
 * permission bits kept. FIFOs, sockets and devices are skipped. done is
 * called exactly once, never inside this call; a tree that fails or is
 * canceled leaves the local store as it was.
 * @return 0 and *out (valid until done returns), FS_EINVAL (path is not a
 * directory, or ctx->seal: directories are not sealed yet) or FS_ENOMEM. */
int fs_put_tree_start(fs_put_tree_t **out, const fs_ctx_t *ctx, const char *path,
                      fs_progress_cb progress, fs_put_tree_cb done, void *arg);

/* Stops a tree's put: done gets FS_ECANCELED once the work in flight has
 * drained, and everything it added to the local store is removed. */
void fs_put_tree_cancel(fs_put_tree_t *t);

/* Inside a successful put's done: hands over the keys of the blobs the put
 * added to the local store (a malloc()ed array, NULL if none) with their
 * ownership: the caller, a larger operation (a directory's put), must
 * fs_store_settle each of them, keeping them or taking them back.
 * @return how many. */
size_t fs_put_take_created(fs_put_t *put, uint8_t (**keys)[MF_KEY_LEN]);

/* Inside a successful put's done: when the put sealed the file (ctx.seal),
 * copies the secret that opens its root into secret (with the key, the
 * file's capability) and returns 1; else returns 0. */
int fs_put_secret(const fs_put_t *put, uint8_t secret[MF_KEY_LEN]);

/* How many nodes of the network took the values a put stored there (its
 * chunks and manifest nodes, each counted once per store): the fewest and
 * the median; both 0 when it stored nothing in the network (no peers).
 * Call from the put's done callback, when it succeeded. */
void fs_put_copies(fs_put_t *put, unsigned *fewest, unsigned *median);

/* Stops a put: done gets FS_ECANCELED once the work in flight has drained,
 * and every blob the put added to the local store is removed again. */
void fs_put_cancel(fs_put_t *put);

/* Result of a get: status 0 with the final path (NULL when streaming) and
 * size, or an error. On success message says how many chunks an earlier,
 * interrupted get had already written, or that the file was there already
 * ("" if neither). */
typedef void (*fs_get_cb)(int status, const char *path, uint64_t size, const char *message,
                          void *arg);

typedef struct fs_get fs_get_t;

/* Where a streaming get sends the file's bytes: write gets them in file
 * order, on the loop, one piece at a time. For each write the sink calls
 * fs_get_sink_ready() exactly once, inside the call or later, even when it
 * failed; the bytes stay valid until then. */
typedef struct fs_sink {
    void (*write)(void *arg, fs_get_t *get, const uint8_t *data, size_t len);
    void *arg;
} fs_sink_t;

/* How to get a file. Zero it, then set what you need. */
typedef struct fs_get_opts {
    const char *out_path;    /* the file to write; NULL or "": dir/NAME, NAME from the manifest */
    const char *dir;         /* with no out_path, the directory; NULL: "." */
    int force;               /* 1: an existing regular file at out_path is replaced (never one
                                under the manifest's name) */
    const fs_sink_t *sink;   /* not NULL: stream the bytes to it; nothing is written to disk */
    fs_progress_cb progress; /* may be NULL */
    int kind;                /* MF_KIND_FILE: the key must name a file; 0 (MF_KIND_ANY): a file or a
                                directory, whose tree is written (not streamed) */
    const uint8_t *secret;   /* a sealed file's: the secret that opens its root (32 bytes, the
                                capability's second half); NULL: a plain file or directory */
    int keep;                /* 1: the file's blobs (manifest nodes and chunks, as fetched) stay
                                in ctx->store once the get succeeds, so that this node can serve
                                them (emofs get --seed); a file only (a directory fails with
                                FS_EINVAL); nothing resumes (every chunk is fetched); the file
                                already at the final path with its bytes is done only if the
                                store holds every chunk (else FS_EEXIST); a failed get leaves
                                the store as it was */
} fs_get_opts_t;

/* Starts getting the file with key (or a directory's tree: see
 * get_tree.c; then done's path is the directory and size the bytes of
 * its files). Unless streaming, it is written to a
 * temporary file beside the final path, which it replaces only when every
 * byte is verified: a get never leaves a partial file under the final name.
 * What is already at the final path is never replaced, except a regular
 * file at opts->out_path when opts->force is set: a symlink, directory, FIFO, device or other
 * file there fails the get with FS_EEXIST before anything is fetched (an
 * existing regular file with the very bytes of the file counts as done).
 * A previous interrupted get of the same key into the same directory
 * resumes. done is called exactly once, never inside this call.
 * @return 0 and *out (valid until done returns), FS_EINVAL or FS_ENOMEM. */
int fs_get_start(fs_get_t **out, const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                 const fs_get_opts_t *opts, fs_get_cb done, void *arg);

/* Stops a get: done gets FS_ECANCELED, and nothing appears under the final
 * name; the temporary file and journal stay for a later resume. A get whose
 * file was already renamed into place reports success. */
void fs_get_cancel(fs_get_t *get);

/* A streaming get's sink is ready for more: status 0, or a negative FS_*
 * code that stops the get with it (the reader went away, say). */
void fs_get_sink_ready(fs_get_t *get, int status);

/* Bytes the whole-file checks of gets written to files hashed once their
 * last chunk was written, in this process so far (what they hashed while
 * chunks were still arriving is not counted): a regression guard for
 * tests, since the check once read the whole file again at the end. */
uint64_t fs_get_tail_hashed(void);

/* Bytes puts in this process hashed so far: the whole-file SHA-256 and the
 * chunk keys (one pass over a chunk's encoded bytes). A regression guard
 * for tests: each byte of a put is hashed twice at most. */
uint64_t fs_put_hashed_bytes(void);

/* Bytes of file data puts in this process copied in memory so far: a
 * window's tail to the start of the next, a chunk stored raw into its
 * encoding, a streamed put's input into its window. Chunks are views into
 * their window, not copies: a regression guard for tests. */
uint64_t fs_put_copied_bytes(void);

/* Bytes puts in this process allocated so far for file data: the result
 * counts the per-chunk buffers (each chunk's encoding, and a sealed put's
 * sealed copy of it), *windows (may be NULL) the read windows, which a put
 * reuses, so a put of any size takes a few. A regression guard for tests:
 * a put allocates about one encoding's worth per byte, not a buffer per
 * chunk per step. */
uint64_t fs_put_allocated_bytes(uint64_t *windows);

/* Result of fetching a manifest: status 0, the manifest and its nodes
 * (root last, valid during the call), or an error. */
typedef void (*fs_manifest_cb)(int status, const mf_manifest_t *m, const mf_blob_t *blobs, size_t n,
                               const char *message, void *arg);

/* Fetches and assembles the manifest with key, from the local store or the
 * DHT. done is called exactly once, never inside this call.
 * @return 0, FS_EINVAL or FS_ENOMEM. */
int fs_manifest_fetch(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], fs_manifest_cb done,
                      void *arg);

/* Result of fetching a manifest of either kind: status 0 and the file's
 * manifest m or the directory's d (the other NULL), its nodes (root last,
 * valid during the call), or an error. */
typedef void (*fs_any_manifest_cb)(int status, const mf_manifest_t *m, const mf_dir_t *d,
                                   const mf_blob_t *blobs, size_t n, const char *message,
                                   void *arg);

/* Fetches and assembles the manifest with key, a file's or a directory's:
 * kind is MF_KIND_FILE, MF_KIND_DIR, or MF_KIND_ANY (the root decides).
 * A root of another kind than asked is malformed (FS_ECORRUPT). done is
 * called exactly once, never inside this call. @return 0, FS_EINVAL or
 * FS_ENOMEM. */
int fs_manifest_fetch_kind(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN], int kind,
                           fs_any_manifest_cb done, void *arg);

/* Like fs_manifest_fetch_kind for a sealed file's manifest: secret opens
 * its root (mf_asm_new_sealed); a wrong one fails it with FS_ECORRUPT.
 * @return 0, FS_EINVAL or FS_ENOMEM. */
int fs_manifest_fetch_sealed(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                             const uint8_t secret[MF_KEY_LEN], fs_any_manifest_cb done, void *arg);

/* The most bytes of nodes fs_manifest_fetch_tree gathers: what fits a
 * manifest file handed over the control socket. */
#define FS_TREE_BUNDLE_MAX (15u << 20)

/* Result of gathering a key's manifest nodes: status 0 and every node
 * (the top root last, valid during the call), or an error. */
typedef void (*fs_tree_manifest_cb)(int status, const mf_blob_t *blobs, size_t n,
                                    const char *message, void *arg);

/* Gathers what a manifest file of key holds (schema/manifest.md 8.7): a
 * file's manifest nodes, or a directory's whole tree, every manifest
 * fetched as the kind its entry says and checked against it; a sealed
 * file's nodes (sealed, as stored) when secret (its root's, 32 bytes) is
 * not NULL. More than FS_TREE_BUNDLE_MAX bytes of nodes is FS_ETOOBIG.
 * done is called exactly once, never inside this call.
 * @return 0, FS_EINVAL or FS_ENOMEM. */
int fs_manifest_fetch_tree(const fs_ctx_t *ctx, const uint8_t key[MF_KEY_LEN],
                           const uint8_t *secret, fs_tree_manifest_cb done, void *arg);

/* Assembles the manifest with file_key from its nodes (any order), as read
 * from a manifest file; a sealed file's when secret (its root's) is not
 * NULL. @return 0 and *out, FS_ECORRUPT (missing or bad node, or a wrong
 * secret), FS_EBADHASH or FS_ENOMEM. */
int fs_manifest_assemble(const uint8_t file_key[MF_KEY_LEN], const uint8_t *secret,
                         const mf_blob_t *blobs, size_t n, mf_manifest_t *out);

/* The same for a directory's manifest (its listing only; the manifests
 * it names are not looked at). */
int fs_manifest_assemble_dir(const uint8_t key[MF_KEY_LEN], const mf_blob_t *blobs, size_t n,
                             mf_dir_t *out);

/* Stores the nodes of a manifest file in the local store (pinned),
 * checking each against its key and the whole against file_key: a file's
 * manifest (assembled into *out, which may be NULL), or a directory's
 * whole tree (mf_dir_bundle_check; *out is left zeroed). Synchronous.
 * @return 0, or FS_ECORRUPT, FS_EBADHASH, FS_ENOSPC, FS_EIO, FS_ENOMEM. */
int fs_manifest_import(fs_store_t *store, const uint8_t file_key[MF_KEY_LEN],
                       const mf_blob_t *blobs, size_t n, mf_manifest_t *out);

#endif /* EMOFS_FILESTORE_H */
