/*
 * The local store's blobs served to peers: libdht's value source
 * (dht_config_t.value_size, value_read) over a chunk store, with each blob
 * read and checked on a worker of the executor, then handed to the node
 * with dht_value_ready(). The node's loop never waits on the disk for it.
 * A blob found damaged is removed, refused, and fetched again from the
 * network to be pinned anew (fs_fetch_repin).
 */
#ifndef EMOFS_SOURCE_H
#define EMOFS_SOURCE_H

#include "dht.h"
#include "filestore/chunk_store.h"
#include "filestore/exec.h"

typedef struct fs_source {
    const fs_exec_t *exec; /* NULL until attached */
    fs_store_t *store;
    dht_t *dht;       /* NULL until attached, and once detached */
    unsigned reading; /* reads on workers */
    uint64_t served;  /* blobs handed to the node, which took them */
    uint64_t repins;  /* damaged blobs being fetched again (fs_fetch_repin) */
} fs_source_t;

/* Sets src up over store and points cfg's value_size, value_read and
 * value_source_arg at it; create the node with cfg, then attach it. */
void fs_source_init(fs_source_t *src, fs_store_t *store, dht_config_t *cfg);

/* The node src answers to, and the executor whose workers read the blobs
 * (until then, every read is refused). src must outlive the reads in
 * flight (the executor's jobs). */
void fs_source_attach(fs_source_t *src, dht_t *dht, const fs_exec_t *exec);

/* Before the node is freed (dht_free, dht_uv_close, dht_sim_remove_node):
 * reads still in flight then end without calling it. */
void fs_source_detach(fs_source_t *src);

#endif /* EMOFS_SOURCE_H */
