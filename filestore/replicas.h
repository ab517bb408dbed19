/*
 * The values a daemon holds for others, kept on disk: libdht's storage
 * (dht_config_t.storage) over a chunk store of their own,
 *   DIR/replicas/blobs/ab/abcdef...   one file per value, named by its hash:
 *                                     the pinned blobs' crash-safe format
 *                                     (filestore/chunk_store.h), checked
 *                                     against the hash on every read
 *   DIR/replicas/records              when each expires: a log of 64-byte
 *                                     records (hash; expires_at, u64; then
 *                                     stored_at in 7 bytes and the copies
 *                                     the value asks for in the 8th, 0: k;
 *                                     wall-clock seconds, little-endian;
 *                                     then the 16 bytes of its source, who
 *                                     stored it here, dht_source_t; an
 *                                     expires_at of 0 marks a value gone;
 *                                     bit 7 of the copies byte: the value
 *                                     has an owner, wire.md 5.10),
 *                                     rewritten with the live ones at start
 *   DIR/replicas/owners               the owners of those: 64-byte records
 *                                     (hash, then SHA-256 of the delete
 *                                     secret), appended and synced before
 *                                     the record that says "owned" (one
 *                                     that cannot be is recorded without
 *                                     owner); two owners of a hash since
 *                                     the last start mean none; rewritten
 *                                     at start. A value whose owner is
 *                                     lost loads without one: kept to its
 *                                     TTL
 *   DIR/replicas/expiry               the same without the source, as
 *                                     emofs wrote it before: read at start
 *                                     (source unknown), then removed
 * Writes and reads run on the executor's workers; libdht tells a storer
 * "stored" only once the blob is written and synced. Deletes run at once,
 * on the loop thread (an unlink): never after a later write of the same
 * value, and a value evicted to make room is off the disk before the
 * STORE that took its place is answered. A restarted
 * daemon loads what it held from the file names, sizes and the log,
 * without reading the blobs: a replica the log does not know (a crash
 * between the blob and its record) gets a fresh TTL, one damaged on disk
 * is found when it is next read, removed, and held no more.
 *
 * Only content-addressed values are kept on disk (every value emofs
 * stores is one); others (a libdht program's named values) stay in the
 * node's memory (DHT_STORAGE_IN_MEMORY), as they would without this.
 */
#ifndef EMOFS_REPLICAS_H
#define EMOFS_REPLICAS_H

#include "dht.h"
#include "filestore/chunk_store.h"
#include "filestore/exec.h"

typedef struct fs_replicas {
    const fs_exec_t *exec; /* NULL until attached */
    fs_store_t *store;     /* DIR/replicas */
    dht_t *dht;            /* NULL until attached, and once detached */
    int log_fd;            /* DIR/replicas/records, appended to */
    char *log_path;
    int owners_fd; /* DIR/replicas/owners, appended to */
    char *owners_path;
    char *old_log_path; /* DIR/replicas/expiry, of an older emofs: read once */
    unsigned busy;      /* jobs on workers */
    uint64_t served;    /* reads handed to the node */
    uint64_t damaged;   /* blobs found damaged on read, and removed */
} fs_replicas_t;

/* Opens (creating it if needed) DIR/replicas and points cfg's storage at
 * r; create the node with cfg, then attach it.
 * @return 0, or an FS_* code (r is then closed). */
int fs_replicas_open(fs_replicas_t *r, const char *dir, dht_config_t *cfg);

/* Attaches the node and the executor, and tells the node of every
 * replica on disk that has not expired (dht_held_add; what no longer fits
 * the node's quota, and what expired, is removed), then rewrites the
 * expiry log with the live records. *count and *bytes (may be NULL) get
 * what was loaded. @return 0 or an FS_* code (the node holds what was
 * loaded so far). */
int fs_replicas_attach(fs_replicas_t *r, dht_t *dht, const fs_exec_t *exec, uint64_t *count,
                       uint64_t *bytes);

/* Before the node is freed: work still on workers then ends without
 * calling it. */
void fs_replicas_detach(fs_replicas_t *r);

/* Closes the store and the log, once the executor has run its last job.
 * Accepts a zeroed r. */
void fs_replicas_close(fs_replicas_t *r);

#endif /* EMOFS_REPLICAS_H */
