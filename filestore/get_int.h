/*
 * The inside of fs_get, shared by get.c (fetching, decoding, streaming) and
 * get_place.c (where the file goes: the final name, the temporary file and
 * journal beside it, the check of what is there already, the last rename).
 * Internal to filestore.
 */
#ifndef EMOFS_GET_INT_H
#define EMOFS_GET_INT_H

#include "filestore/codec_pool.h"
#include "filestore/filestore.h"
#include "filestore/keyset.h"
#include "filestore/providers.h"

#include <openssl/evp.h>
#include "filestore/exec.h"

/* A message names a path or two (up to 4096 bytes each) and a reason. */
#define FS_GET_MSG_MAX 4400

struct fs_get {
    fs_ctx_t ctx;
    uint8_t key[MF_KEY_LEN];
    fs_providers_t *providers; /* nodes that announced they serve the file; may be NULL */
    int keep;                  /* fs_get_opts_t.keep */
    int keep_missing;          /* keep, the file there: a chunk is not in the store */
    fs_keylist_t kept;         /* blobs this get added to ctx.store: settled at the end */
    fs_keyset_t claimed;       /* keys whose blob one chunk of this get stores (once per key) */
    int sealed;                /* a sealed file: secret opens its manifest's root */
    uint8_t secret[MF_KEY_LEN];
    char *out_path, *dir;
    int force;   /* asked for (fs_get_opts_t.force) */
    int replace; /* force, and the user named the final path: it may be replaced */
    fs_sink_t sink;
    int streaming; /* 1: bytes go to sink in order; no file, no journal */
    fs_progress_cb progress;
    fs_get_cb done;
    void *arg;

    mf_manifest_t m;
    char *final_path, *part_path, *journal_path;
    int fd, journal_fd;
    uint64_t *offsets;
    uint8_t *state; /* per chunk: 0 missing, 1 fetching, 2 written (or held) */
    unsigned *tries;
    uint32_t next, chunks_done, in_flight, writing;
    uint32_t resumed; /* chunks an earlier get had written */
    uint64_t bytes_done;
    fs_codec_pool_t codecs;
    int have_codecs;

    /* Streaming: decoded chunks wait in held[] until their turn. */
    uint8_t **held;
    uint32_t deliver;    /* the next chunk the sink gets */
    uint64_t held_bytes; /* plain bytes fetched or held past deliver */
    int sink_busy, delivering, stream_ended;
    /* SHA-256 of the bytes so far: those the sink took, in a stream; in a
     * file, its first hashed_bytes (hashed_chunks chunks), hashed while
     * the rest arrives (get_hash.c). */
    EVP_MD_CTX *sha;
    uint64_t hashed_bytes, hash_to;
    uint32_t hashed_chunks, hash_chunks_to;
    fs_job_t hash_job; /* hashes up to hash_to (hash_chunks_to chunks) */
    int hashing, hash_status;

    int kind;                 /* MF_KIND_FILE or MF_KIND_ANY: what the key may name */
    struct fs_get_tree *tree; /* a directory's get (get_tree.c) */
    int tree_busy;

    fs_job_t work; /* the whole-file check, or the check of an existing file */
    int working, work_status;
    fs_job_t start_job, free_job; /* as in put.c: each submitted once, in order */
    int canceled, finished;
    int status;
    char message[FS_GET_MSG_MAX];
    uint64_t last_progress;
};

typedef struct fs_get_tree fs_get_tree_t;

/* The key names a directory with listing d (valid during the call): gets
 * the whole tree (get_tree.c), then ends the get. */
void fs_get_tree(fs_get_t *get, const mf_dir_t *d);

/* Stops a directory's get: its file in flight is canceled; the tree ends
 * the get once nothing is in flight. */
void fs_get_tree_cancel(fs_get_tree_t *t);

/* Records the first failure: "ACTION OBJECT: reason". */
void fs_get_fail(fs_get_t *get, int status, const char *action, const char *object);

/* Reports the end once nothing is in flight. */
void fs_get_finish(fs_get_t *get);

/* Fetches what is missing; starts the end when all is there. */
void fs_get_pump(fs_get_t *get);

/* Chooses the final path and looks at what is there: a free name, or an
 * existing file that may be replaced (force) or already holds the file.
 * Goes on with fs_get_pump (or ends the get) when done, perhaps later,
 * from a worker's callback. */
void fs_get_place(fs_get_t *get);

/* The whole file is written: checks it against the manifest on a worker,
 * then renames it into place on the loop unless the get was canceled. */
void fs_get_start_verify(fs_get_t *get);

/* ---- get_hash.c: the whole-file check ---- */

/* Feeds bytes from..to of fd to sha. @return 0 or an FS_* code. */
int fs_hash_fd_range(EVP_MD_CTX *sha, int fd, uint64_t from, uint64_t to);

/* @return 0 if the first size bytes of fd hash to want, FS_EBADHASH if not,
 * or another FS_* code. */
int fs_hash_fd_matches(int fd, uint64_t size, const uint8_t want[MF_KEY_LEN]);

/* Starts hashing, on a worker, the written chunks that extend the hashed
 * prefix of the file (one job at a time, up to 64 MiB each); its end calls
 * fs_get_pump. Does nothing for a stream, while a job or the final check
 * runs, or once the get failed or was canceled. */
void fs_get_hash_prefix(fs_get_t *get);

/* On a worker, once every chunk is written and no prefix job runs: hashes
 * what the prefix has not reached and checks the whole against the
 * manifest. @return 0, FS_EBADHASH or another FS_* code. */
int fs_get_hash_rest(fs_get_t *get);

#endif /* EMOFS_GET_INT_H */
