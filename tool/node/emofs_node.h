/*
 * The node a data directory runs: the lock on the directory, the local
 * store, the list of published files, and one libdht node on a libuv loop
 * serving the store's blobs to peers. `emofs daemon` keeps one running;
 * the other commands start one in-process when no daemon holds the
 * directory.
 *
 * Data directory layout (DIR):
 *   DIR/lock        held (flock) by the process running DIR's node; holds its pid
 *   DIR/emofs.sock  the daemon's control socket (schema/control.md)
 *   DIR/config      optional settings: "listen HOST:PORT", "bootstrap HOST:PORT"
 * (tool/node/config.h) DIR/node.id     the node id, 64 hex digits, made at the first start
 *   DIR/peers       the daemon's saved peers (tool/daemon/peers_file.h, schema/peers.md)
 *   DIR/published   the files this node published: "KEY SIZE NAME" lines
 *   DIR/republished when the daemon last stored them again (tool/daemon/republisher.h)
 *   DIR/partials    where gets left their temporary files, for gc (tool/node/partials.h)
 *   DIR/blobs/      the local chunk store (filestore/chunk_store.h)
 *   DIR/replicas/   a daemon's copies of values it holds for others
 *                   (filestore/replicas.h), within its quota (store_max)
 */
#ifndef EMOFS_NODE_H
#define EMOFS_NODE_H

#include "dht.h"
#include "filestore/exec_uv.h"
#include "filestore/filestore.h"
#include "filestore/replicas.h"
#include "filestore/source.h"

#include <uv.h>

#define EMOFS_MAX_BOOTSTRAP 16
#define EMOFS_LOCK_NAME     "lock" /* DIR/lock, see above */
/* A daemon's quota for the values it holds for others, on disk, unless
 * --store-max or store_max says otherwise: room for a good share of a
 * small network's files that a laptop can spare. */
#define EMOFS_STORE_MAX_DEFAULT (10ull << 30)
#define EMOFS_STORE_MAX_MIN     (16ull << 20) /* a few of the largest chunks */
#define EMOFS_REPLICATE_MAX_S   2592000u      /* 30 days, libdht's bound */
/* How often a daemon checks that what it holds is on the k closest live
 * nodes, unless --replicate-interval or replicate_interval says otherwise:
 * hourly, as Kademlia's holders republish (libdht's default too). */
#define EMOFS_REPLICATE_DEFAULT_S 3600u
/* How long the copies of a put live (its TTL), and how often a daemon
 * stores the files it published again: every half TTL, so that a copy
 * never runs out while its publisher runs. */
#define EMOFS_TTL_DEFAULT_S       86400u
#define EMOFS_TTL_MAX_S           86400u /* libdht's max_ttl_s */
#define EMOFS_REPUBLISH_DEFAULT_S (EMOFS_TTL_DEFAULT_S / 2)
/* How many nodes keep each chunk of a put (config copies, put --copies):
 * FS_COPIES_DEFAULT (filestore.h says why), at most the nodes' k. */
#define EMOFS_COPIES_MAX 20 /* libdht's default k, which emofs nodes run with */

/* How to start a node. */
typedef struct emofs_node_opts {
    const char *dir;    /* data directory */
    const char *listen; /* HOST:PORT (HOST may be a name), or NULL: the config file's,
                           else a default */
    dht_addr_t bootstrap[EMOFS_MAX_BOOTSTRAP];
    size_t n_bootstrap; /* 0: the config file's */
    int daemon;         /* 1: a daemon (default listen 0.0.0.0:4100, else an ephemeral port) */
    int log_level_set;  /* 1: --log-level was given; the config file's log_level is not used */
    uint64_t store_max; /* a daemon's quota of replicas; 0: the config file's, else
                           EMOFS_STORE_MAX_DEFAULT */
    int replicate_set;  /* 1: replicate_interval_s was given (--replicate-interval) */
    int republish_set;  /* 1: republish_interval_s was given (--republish-interval) */
    unsigned republish_interval_s; /* a daemon's: how often it stores its published files
                                      again; else the config file's, else half the TTL */
    unsigned replicate_interval_s; /* how often a daemon checks the copies of what it
                                      holds (dht_config_t); else the config file's, else
                                      libdht's default (3600) */
    const char *network_key;       /* --network-key FILE (tool/node/network_key.h), or NULL:
                                      the config file's network_key, else an open network */
    dht_addr_t advertise;          /* --advertise: the global address announced (wire.md
                                      5.11); family 0: the config file's, else none */
    unsigned region;               /* --region, 1..65535; 0: the config file's, else none */
    /* Optional: peers entering and leaving the routing table (dht_config_t). */
    void (*peer_event)(void *arg, const dht_id_t *id, const dht_addr_t *addr, int joined);
    void *peer_event_arg;
} emofs_node_opts_t;

typedef struct emofs_node {
    uv_loop_t *loop;
    char *dir;
    int lock_fd;
    fs_store_t *store;
    dht_uv_t *uv;
    dht_t *dht;
    dht_addr_t addr;
    dht_addr_t bootstrap[EMOFS_MAX_BOOTSTRAP];
    size_t n_bootstrap;
    fs_exec_uv_t exec;      /* the file engines' workers and deferred callbacks */
    fs_source_t source;     /* the store's blobs, served to peers (read on exec's workers) */
    fs_replicas_t replicas; /* a daemon's: values held for others, on disk */
    int has_replicas;
    uint64_t store_max;            /* the quota of replicas in force (a daemon) */
    unsigned replicate_interval_s; /* in force: 0 never */
    unsigned republish_interval_s; /* in force (a daemon's timer reads it): 0 never */
    unsigned ttl_s;                /* of the values a put stores (config ttl) */
    unsigned copies;               /* nodes that keep each chunk a put stores (config copies) */
    int id_rule;                   /* config id_rule: DHT_ID_RULE_OFF or _PUBLIC */
    dht_addr_t advertise;          /* the global address it announces; family 0: none */
    unsigned region;               /* the region it announces; 0: none */
    int private_network;           /* 1: network_key below tags every message */
    uint8_t network_key[32];       /* tool/node/network_key.h */
    uint64_t replicas_loaded;      /* replicas found on disk at start, and their bytes */
    uint64_t replicas_loaded_bytes;
    fs_ctx_t ctx; /* for fs_put/fs_get; need_peers set when bootstrap peers are given */
    fs_job_t close_job;
    unsigned test_crash_at; /* EMOFS_TEST_CRASH_AFTER_CHUNKS (emofs_node.c); 0: none */
    /* rm and gc wait until no put is in flight (tool/node/maint.h):
     * node_ops.c counts the puts and queues them. */
    unsigned puts_active;
    struct emofs_op *maint_wait;
    int closing;
} emofs_node_t;

/* Creates the data directory if needed (mode 0700) and takes its lock.
 * @return 0 and the lock's fd, FS_EBUSY when another process holds it
 * (its pid in *holder, 0 if unknown), or another FS_* code. */
int emofs_dir_lock(const char *dir, int *lock_fd, long *holder);

/* Opens the directory's node: lock (FS_EBUSY if held; *holder as above),
 * store, config, and the libdht node on loop. Does not bootstrap yet.
 * Warnings about the config file go to stderr. On failure err_text says
 * what failed, in one line ("cannot listen on 127.0.0.1:4100: address
 * already in use").
 * @return 0 or a negative FS_* code: FS_EBUSY (directory in use), FS_EINVAL
 * (a bad config entry or listen address), others (cannot start). */
int emofs_node_open(emofs_node_t *node, uv_loop_t *loop, const emofs_node_opts_t *opts,
                    long *holder, char *err_text, size_t err_cap);

/* Joins the network through the bootstrap peers (none: cb gets 0 at once
 * from the loop). cb gets 0 or FS_ENOPEERS. */
void emofs_node_bootstrap(emofs_node_t *node, void (*cb)(int status, void *arg), void *arg);

/* Closes the libdht node (operations in flight end with DHT_ECANCELED) and
 * the store, releases the lock: soon after, from the loop, so it may be
 * called from inside the node's own callbacks. The loop then ends once
 * other handles are closed; node must live until then. */
void emofs_node_close(emofs_node_t *node);

#define EMOFS_PROVIDE_TTL_S 7200 /* a provider record's TTL (renewed hourly) */

/* A daemon (not an embedded node, which leaves when its command ends)
 * announces itself as a provider of the file key (libdht's dht_provide:
 * nodes looking for the file's chunks may ask it directly), on its listen
 * port, for EMOFS_PROVIDE_TTL_S, renewed while it runs. An announcement
 * that finds nobody is tried again at the next renewal. */
void emofs_node_provide(emofs_node_t *node, const uint8_t key[MF_KEY_LEN]);

/* A daemon withdraws emofs_node_provide(key) (emofs rm). */
void emofs_node_unprovide(emofs_node_t *node, const uint8_t key[MF_KEY_LEN]);

/* A daemon announces every file of DIR/published (at start).
 * @return how many. */
size_t emofs_node_provide_published(emofs_node_t *node);

/* Appends a published file to DIR/published: a line "KEY SIZE/COPIES
 * NAME", where COPIES is how many nodes keep each of its chunks (the put's
 * --copies, or the node's copies setting), so that the republish stores
 * them on as many again. A sealed file's (secret not NULL) starts
 * "KEY:SECRET", so that this node can still read its manifest (republish,
 * rm, gc); the file is private to its owner. Lines of older versions,
 * "KEY SIZE NAME", are still read (their copies: the node's setting).
 * @return 0 or FS_EIO. */
int emofs_published_add(const char *dir, const uint8_t key[MF_KEY_LEN], const uint8_t *secret,
                        uint64_t size, unsigned copies, const char *name);

/* One published file. */
typedef struct emofs_published {
    uint8_t key[MF_KEY_LEN];
    uint64_t size;
    unsigned copies; /* 1..EMOFS_COPIES_MAX, or 0: not recorded */
    int sealed;      /* a sealed file: secret opens its manifest's root */
    uint8_t secret[MF_KEY_LEN];
    char name[MF_NAME_MAX + 2]; /* a directory's ends with '/' */
} emofs_published_t;

/* Parses a line of DIR/published (without its newline).
 * @return 1 and *e, or 0 for a line that is not one (skipped by readers). */
int emofs_published_parse(const char *line, emofs_published_t *e);

/* Reads DIR/published, latest entry per key, in the order first published.
 * @return 0 and a malloc()ed *out of *n entries (NULL, 0 if none), or FS_ENOMEM. */
int emofs_published_list(const char *dir, emofs_published_t **out, size_t *n);

/* Unpins key: takes every line of it out of DIR/published, rewriting the
 * file atomically (tool/node/linefile.h); *removed gets its entry. Its
 * blobs are not touched (tool/node/maint.h does that).
 * @return 0, FS_ENOENT (key is not published here: the file is as it was)
 * or another FS_* code (the file is as it was). */
int emofs_published_remove(const char *dir, const uint8_t key[MF_KEY_LEN],
                           emofs_published_t *removed);

#endif /* EMOFS_NODE_H */
