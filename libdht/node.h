/*
 * The inside of a node: the struct behind dht_t and the internal interfaces
 * between the core's files. Nothing here does I/O or reads a clock.
 *
 *   node.c    dht_new/free, message dispatch, timers, stats
 *   rpc.c     outgoing requests: txids, adaptive timeouts, retries, reply
 *             matching
 *   server.c  incoming requests: PING, FIND_NODE, FIND_VALUE, STORE,
 *             GET_VALUE; tokens
 *   limits.c  what each request source may be sent: requests and value
 *             bytes per second, and an unproven source's byte credit
 *   lookup.c  the iterative lookup (FIND_NODE / FIND_VALUE), alpha in flight
 *   ops.c     the operations of dht.h built on the above, and their
 *             completion queue
 *   get.c     dht_get: collecting, verifying and fetching values
 *   peers.c   dht_export_peers / dht_import_peers: the saved peer list
 *             (schema/peers.md)
 *   refresh.c maintenance: liveness and verification pings, bucket
 *             refreshes, the filling of far buckets after a join
 *   stream.c  the stream framing dht.h offers shells (schema/wire.md 6)
 *   source.c  GET_VALUEs answered from the program's value source, later
 *             (dht_value_ready)
 *   route.c   key-based routing: dht_route, ROUTE served and forwarded,
 *             the application's deliver and neighbours callbacks
 *
 * Beside them: store.c (the value store, store.h; keys hashed by
 * siphash.c), rt.c (the routing table, rt.h), wire.c (the codec, wire.h),
 * rng.c (the PRNG, rng.h). The shells are uv/dht_uv.c and sim/sim.c: they
 * use dht.h only (and the simulator rng.h).
 */
#ifndef DHT_NODE_H
#define DHT_NODE_H

#include "dht.h"
#include "rng.h"
#include "rt.h"
#include "store.h"
#include "wire.h"

#define DHT__TOKEN_ROTATE_MS    (5u * 60u * 1000u)
#define DHT__TICK_MS            5000u /* liveness pings, refresh checks */
#define DHT__REFRESH_MS         (15u * 60u * 1000u)
#define DHT__RPC_MAX            65536u /* requests in flight per node */
#define DHT__RATE_SLOTS         64u    /* sources tracked by the rate limiter */
#define DHT__CACHE_SIZE         8u     /* replacement cache per bucket */
#define DHT__MAX_PER_KEY        256u   /* upper bound of cfg.store_max_per_key */
#define DHT__BOOTSTRAP_ATTEMPTS 6u     /* pings to a bootstrap address */
#define DHT__BOOTSTRAP_LOOKUPS  3u     /* self-lookups a bootstrap tries */
#define DHT__RTO_MIN_MS         10u    /* floor of the adaptive first-attempt timeout */
#define DHT__RTT_MIN_SAMPLES    16u    /* replies measured before the timeout adapts */
/* A put's lookup with enough answers, in a network too small to replace
 * its stalled candidates, waits this many adaptive timeouts more for
 * them (lookup.c). */
#define DHT__LOOKUP_GRACE_RTOS 3u
/* A node lookup (dht_find_node) that would end with at most this many of
 * its closest stalled gives them one more resend, within this many
 * adaptive timeouts (lookup.c). */
#define DHT__LOOKUP_FEW_STALLED     2u
#define DHT__LOOKUP_FIND_GRACE_RTOS 6u
#define DHT__FILL_SPACING_MS        100u  /* between the far-bucket fills after a join */
#define DHT__SPARSE_FIRST_MS        1000u /* a thin table's first look-again after a join */

typedef struct dht__op dht__op_t;
typedef struct dht__rpc dht__rpc_t;

/* Called once an rpc is over: status 0 with the reply (which may be an
 * ERROR message), DHT_ETIMEDOUT after the last attempt, DHT_ECANCELED when
 * the node is freed. Called with DHT__RPC_STALLED (and reply NULL) when an
 * attempt timed out and a retry went out: the rpc is still pending. */
#define DHT__RPC_STALLED 1
typedef void (*dht__rpc_cb)(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);

struct dht__rpc {
    uint32_t txid;
    uint8_t type;     /* request type */
    uint8_t attempts; /* sends so far */
    uint8_t max_attempts;
    uint8_t has_id;   /* id below is known (not a bootstrap ping) */
    uint8_t stream;   /* sent over a stream, once: no resend */
    uint8_t hastened; /* dht__rpc_hasten: few or no more resends, a shorter wait */
    uint8_t was_slow; /* the node was marked slow when this was sent */
    uint8_t newer;    /* it uses what nodes of older versions drop unanswered
                       * (a STORE with an owner, wire.md 5.10): its timeout
                       * marks the node slow, not failed */
    dht_id_t id;
    uint64_t end_by; /* hastened: no attempt waits past this */
    dht_addr_t to;
    uint64_t sent_at; /* first send */
    uint64_t deadline;
    uint32_t timeout_ms; /* per attempt (after the adaptive ones) */
    uint32_t rto_ms;     /* adaptive: the first two attempts' timeout; 0 = none */
    uint32_t heap_idx;
    dht__rpc_cb cb;
    dht__op_t *op;       /* referenced (op->refs) while the rpc lives */
    uintptr_t tag;       /* the caller's, e.g. an index */
    size_t len;          /* bytes kept in msg for resends; 0 = none */
    uint16_t pad;        /* bytes of padding in msg */
    uint16_t cap;        /* bytes msg has room for */
    uint8_t unpadded;    /* resent without its padding: a reply to that may be
                          * cut short, and brings the token to ask again with */
    uint8_t unreachable; /* dht__rpc_unreachable: the network said its last
                          * attempt is lost; that attempt times out now */
    uint8_t cut;         /* hastened to end before its first attempt's timeout:
                          * its node had no fair chance, so no failure counts */
    uint16_t retry_pad;  /* it carries a token the table kept as its proof: if
                          * the node answers that the proof does not check,
                          * it goes again with this padding (msg has room) */
    uint8_t msg[];
};

/* A candidate of a lookup. */
typedef struct dht__cand {
    dht_node_info_t node;
    uint8_t state; /* DHT__CAND_* */
    uint8_t hops;
    uint8_t has_token;
    uint8_t has_value;  /* a replication's: its VALUES reply listed the value */
    uint8_t hastened;   /* its request waits a short while only (lookup.c) */
    uint8_t was_slow;   /* the table marked it slow when it was asked */
    uint8_t rtt_looked; /* rtt_us below is known (proximity: lookup.c) */
    uint32_t rtt_us;    /* its round-trip time as the table measured it, or
                         * the node's mean for a contact never measured */
    uint8_t token[DHT__WIRE_TOKEN_LEN];
} dht__cand_t;

/* STALLED: the first attempt went unanswered for the adaptive timeout: no
 * longer counted against alpha nor in the window of the k closest; a late
 * reply still makes it ANSWERED. */
enum { DHT__CAND_NEW, DHT__CAND_INFLIGHT, DHT__CAND_STALLED, DHT__CAND_ANSWERED, DHT__CAND_FAILED };

#define DHT__LOOKUP_CAP_MAX (3 * DHT_MAX_K) /* candidates one lookup keeps at most */
#define DHT__LOOKUP_GONE    16              /* failed candidates a lookup let go and remembers */

typedef struct dht__lookup {
    dht_id_t target;
    uint8_t want_values; /* FIND_VALUE instead of FIND_NODE */
    uint8_t finished;
    uint8_t ask_all;     /* the table holds at most k nodes: the seeds all at once */
    uint8_t patient;     /* a put's: waits for stalled candidates (lookup.c) */
    uint8_t user;        /* a find_node, put or get (not maintenance) */
    unsigned need;       /* a put's: answers enough to stop waiting for the stalled */
    unsigned keepers;    /* a put's: live candidates enough to hold its copies */
    unsigned inflight;   /* requests counting against alpha */
    unsigned window;     /* the closest candidates it must hear from: k, or lookup_results */
    unsigned stale_stop; /* ends after this many replies in a row brought nothing nearer; 0: off */
    unsigned stale;      /* replies (and failures) in a row that brought nothing nearer */
    uint8_t table_dry;   /* the table had no contacts beyond those seeded */
    size_t seeded;       /* the table's nearest contacts taken as candidates */
    dht__cand_t *cands;  /* sorted by distance to target */
    size_t n, cap;
    dht_id_t gone[DHT__LOOKUP_GONE]; /* failed ones that left cands for room (lookup.c) */
    size_t n_gone;
    dht_lookup_stats_t stats;
    uint64_t started_at;
} dht__lookup_t;

/* Per-operation kinds. */
enum {
    DHT__OP_PING,
    DHT__OP_BOOTSTRAP,
    DHT__OP_FIND_NODE,
    DHT__OP_PUT,
    DHT__OP_GET,
    DHT__OP_REFRESH,
    DHT__OP_REPLICATE,
    DHT__OP_HOLDERS,
    DHT__OP_CHECK,  /* a batch of replication checks (check.c) */
    DHT__OP_REJOIN, /* an own-id lookup of a node whose table is thin (refresh.c) */
    DHT__OP_ROUTE,  /* dht_route: a lookup, then the ROUTE (route.c) */
    DHT__OP_UPCALL, /* a route_deliver or route_neighbours call, queued (route.c) */
    DHT__OP_DELETE  /* dht_delete: a lookup, then DELETEs (delete.c) */
};

typedef struct dht__get_state dht__get_state_t; /* get.c */
typedef struct dht__check dht__check_t;         /* check.c */
typedef struct dht__put_batch dht__put_batch_t; /* put_many.c */

struct dht__op {
    dht__op_t *next, *prev; /* all live ops, for dht_free */
    dht__op_t *next_done;   /* completion queue */
    uint8_t kind;
    uint8_t completed; /* the user callback has been queued or run */
    uint8_t upcall;    /* DHT__OP_UPCALL: which (route.c) */
    unsigned refs;     /* 1 until completed, plus one per live rpc */
    int status;
    unsigned count;      /* ping: answered; put: stored; bootstrap: answered; route: 1 when
                          * sent to a contact closer than this node, which delivers it
                          * if that one is silent */
    unsigned pending;    /* put/bootstrap: rpcs still out */
    unsigned lookup_gen; /* which lookup of this op an rpc belongs to */
    dht__lookup_t lk;
    union {
        dht_status_cb status;
        dht_ping_cb ping;
        dht_nodes_cb nodes;
        dht_put_cb put;
        dht_get_cb get;
        dht_holders_cb holders;
        dht_route_cb route;
        dht_providers_cb providers;
        dht_delete_cb del;
    } cb;
    void *arg;
    dht_id_t peer_id; /* ping: who answered; route: who took the message;
                       * upcall: the node that routed it */
    uint8_t *value;   /* put: our copy; route: the message; upcall: its bytes */
    size_t value_len;
    dht_id_t value_hash; /* put: SHA-256 of value, computed once; upcall: the key */
    uint32_t ttl;
    uint32_t age_s;      /* replication: the value's age in the network, s */
    uint32_t max_age_s;  /* get: values at most this old (dht_get_opts_t); 0: any */
    uint16_t page_first; /* get: each holder's values from this index on */
    uint8_t value_flags;
    uint8_t value_owned;                /* put: the value has an owner (wire.md 5.10) */
    dht_id_t value_owner;               /* put: SHA-256 of its delete secret; delete: the secret */
    unsigned not_held, refused, silent; /* delete: what the nodes asked said (count: deleted) */
    unsigned copies;                    /* put: nodes to keep the value (r <= k) */
    size_t next_store;                  /* put: the candidate to try when a STORE fails */
    dht__get_state_t *get;              /* get: collected values */
    dht__check_t *check;                /* a batch of replication checks */
    dht__put_batch_t *batch;            /* put: the dht_put_many it belongs to (one reference) */
    uint32_t batch_index;               /* put: its place in batch */
    uint8_t batch_ready;                /* put: its lookup ended, its STOREs wait for the batch's */
    uint8_t providers;                  /* get: provider records (FIND_PROVIDERS), not values */
    uint16_t provide_port; /* put: a PROVIDE of this port instead of a STORE (0: none) */
};

/* What one request source may do: its token buckets of requests and of
 * bytes sent to it, and while it has not proven its address, the bytes
 * it sent that no reply has used yet (schema/wire.md 2.3). */
typedef struct dht__rate_slot {
    dht_addr_t addr;
    uint64_t refilled_at;
    double tokens;
    double send_bytes;   /* bytes it may be sent now (cfg.send_rate_limit) */
    uint64_t ping_until; /* a proof ping to a sender at this address is under way */
    uint32_t credit;     /* unproven: bytes received and not yet answered */
} dht__rate_slot_t;

#define DHT__CREDIT_MAX (8u * DHT_MAX_DATAGRAM) /* an unproven source's unused bytes */

/* Largest PONG: an IPv6 address record. The ping that proves a sender's
 * address (dht__verify_sender) is padded to it, and a node's requests leave
 * room for one such ping after their answer: the receiver may ping a
 * sender it does not know yet, once it has answered. */
#define DHT__PONG_MAX (DHT__WIRE_HEADER + 1 + 16 + 2)

typedef struct dht__net_rtt dht__net_rtt_t;

struct dht {
    dht_config_t cfg;
    dht_id_t self;
    dht_io_t io;
    uint64_t now;
    uint64_t reported_deadline; /* last deadline told to io.wake */
    dht__rng_t rng;
    dht__rt_t *rt;
    dht__store_t *store;

    /* rpc.c: slots indexed by the low 16 bits of a txid, a heap by deadline */
    dht__rpc_t **rpc_slots;
    uint16_t *rpc_free;
    uint32_t rpc_cap, rpc_nfree, rpc_count;
    dht__rpc_t **rpc_heap;
    uint32_t heap_len, heap_cap;

    /* ops.c */
    dht__op_t *ops;
    dht__op_t *done_head, *done_tail;
    unsigned n_ops;
    int in_callback; /* completion queue is being drained */

    /* server.c */
    /* A private network's key (netkey.c): its HMAC, keyed, copied for
     * each message; NULL for an open network. tag_len is what each
     * message carries: DHT_NETWORK_TAG_LEN or 0. */
    struct evp_mac_ctx_st *net_mac;
    size_t tag_len;
    uint8_t master_secret[32];
    uint8_t secret[32], prev_secret[32];
    uint64_t secret_epoch;
    uint64_t secret_rotated_at;
    dht__rate_slot_t *rate; /* DHT__RATE_SLOTS, allocated on first request */

    /* rpc.c: round-trip times of first attempts (Jacobson/Karels, RFC 6298) */
    double srtt_ms, rttvar_ms; /* 0 until the first sample */
    double rtt_high_ms;        /* the slowest recent reply (rpc.c) */
    unsigned rtt_samples;      /* up to DHT__RTT_MIN_SAMPLES */
    dht__net_rtt_t *net_rtt;   /* round trips by network (net_rtt.c); NULL
                                * until the first sample */

    /* source.c: reads and writes waiting on the program */
    struct dht__source_req *src_reqs;
    size_t n_src_reqs, cap_src_reqs;

    /* providers.c: the keys this node announces, and when next */
    struct dht__provided *provided;
    size_t n_provided, cap_provided;

    /* advert.c: the regions and global addresses contacts announced */
    struct dht__advert *adverts;
    size_t n_adverts, cap_adverts;

    /* delete.c: values deleted here, refused if stored again */
    struct dht__tomb *tombs;
    size_t n_tombs, cap_tombs;

    /* store_in.c: STORE_MANYs whose reply waits on the storage's writes */
    struct dht__store_group *groups;
    size_t n_groups, cap_groups;
    uint64_t next_group;

    /* store_out.c: while held (dht__stores_hold), STOREs of small values
     * wait here to go together, per node, in STORE_MANYs */
    struct dht__store_out *outq;
    size_t n_outq, cap_outq;
    unsigned outq_holds;
    uint64_t next_src_req; /* the next req id handed to value_read */

    /* replicate.c: value checks under way */
    unsigned replicating;
    /* replicate.c: a graceful leave (dht_leave): the values to hand over */
    struct {
        dht_status_cb cb;
        void *arg;
        uint64_t deadline;
        dht_id_t *keys, *hashes;
        size_t n, next;
        int active;
    } leave;

    /* node.c */
    int closing; /* dht_free was called: start nothing new; the node goes
                  * once the completion queue is drained */
    uint64_t next_tick;
    dht_stats_t st;

    /* refresh.c: far buckets to fill after a join, one every
     * DHT__FILL_SPACING_MS: buckets fill_next..fill_end-1, the next at
     * fill_at (UINT64_MAX: none) */
    uint64_t fill_at;
    size_t fill_next, fill_end;
    /* refresh.c: while fewer than k nodes are good, the own id is looked
     * up again at sparse_at (UINT64_MAX: not due), sparse_gap apart,
     * doubling */
    uint64_t sparse_at;
    uint32_t sparse_gap;

    /* route.c: the ROUTEs answered lately (a ring, allocated on the first),
     * and a digest of the neighbours last told (route_neighbours) */
    struct dht__route_seen *route_seen;
    size_t route_seen_next;
    dht_id_t neighbours_told;
};

/* ---- source.c: requests waiting on the program ---- */

#define DHT__SOURCE_MAX 256 /* requests waiting on the program at once */

enum { DHT__PENDING_READ, DHT__PENDING_WRITE };

/* A read (GET_VALUE) or write (STORE, or an own put) waiting on the
 * program. */
typedef struct dht__source_req {
    uint64_t id;     /* handed to the program: value_read's or the storage's req */
    uint8_t kind;    /* DHT__PENDING_* */
    uint8_t reply;   /* a peer waits for the answer (txid, from) */
    uint8_t held;    /* a read of an indexed value through the storage */
    uint8_t flags;   /* a write: the value's DHT__VALUE_* */
    uint8_t dropped; /* a write: the value was dropped meanwhile (its bytes may be gone) */
    uint32_t txid;
    dht_addr_t from;
    dht_id_t key, hash;
    uint32_t len;        /* a write */
    uint64_t expires_at; /* a write */
    uint32_t age_in;     /* a write: the value's age then, s (wire.md 5.5) */
    dht_source_t source; /* a write: who stored it */
    uint8_t owned;       /* a write: the value has an owner (wire.md 5.10) */
    dht_id_t owner;      /* ... this one */
    uint64_t asked_at;
    struct dht__op *op; /* a replication's read: the op waiting (one reference) */
    uint64_t group;     /* a write for a STORE_MANY: its group (store_in.c); 0: none */
    uint8_t index;      /* ... and the value's place in it */
} dht__pending_t;

/* A GET_VALUE for a value whose bytes the program keeps: v, an indexed
 * value without data (read through the storage), or NULL for a
 * content-addressed one the store lacks (read through value_read). Keeps
 * the request until dht_value_ready(). Answers "not found" at once when
 * there is no such value or the program refuses, "busy" when too many
 * wait. @return what sending said (0 when it waits). */
int dht__source_ask(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from,
                    const dht__value_t *v);

/* Sets *out to the source a STORE from a counts for in the value store
 * (dht_source_t): a's IPv4 address mapped into IPv6 (as a dual-stack
 * socket sees it, the same), or a's IPv6 /64 (the whole address within
 * ::/64, so that no peer is ever all zero, the node itself). */
void dht__source_of(dht_source_t *out, const dht_addr_t *a);

/* @return 1 if a request from (txid, from) already waits: a resend. */
int dht__pending_waits(const dht_t *dht, uint32_t txid, const dht_addr_t *from);

/* @return a new zeroed request of kind with its id and time set, or NULL
 * (DHT__SOURCE_MAX wait, or out of memory). Valid until the next call
 * that adds or removes one. */
dht__pending_t *dht__pending_new(dht_t *dht, uint8_t kind);

/* Removes r, just made with dht__pending_new. */
void dht__pending_cancel(dht_t *dht, const dht__pending_t *r);

/* Removes the request id of kind and copies it to *out.
 * @return 0 or DHT_ENOTFOUND. */
int dht__pending_take(dht_t *dht, uint64_t id, uint8_t kind, dht__pending_t *out);

/* Forgets requests older than DHT_SOURCE_WAIT_MS. */
void dht__source_expire(dht_t *dht, uint64_t now);

/* Frees what source.c holds (dht_free). */
void dht__source_free(dht_t *dht);

/* ---- replicate.c: the held values stay on the k closest ---- */

#define DHT__REPLICATE_MAX 8  /* value checks under way at once */
#define DHT__LEAVE_MAX     32 /* during a graceful leave */

/* Ends a leave under way (dht_leave) with status: its callback runs. */
void dht__leave_finish(dht_t *dht, int status);

/* Ends a leave under way once every value was checked (0) or its time ran
 * out (DHT_ETIMEDOUT). Every periodic call, and as checks end. */
void dht__leave_check(dht_t *dht);

/* Starts the checks that are due (dht_config_t.replicate_interval_s), as
 * many as DHT__REPLICATE_MAX allows (a batch of check.c counts as one).
 * Every tick. */
void dht__replicate_tick(dht_t *dht, uint64_t now);

/* A node joins (it looked up its own id through this one): it is offered at once (dht__check_offer)
 * the values it should keep (it is among their r closest) of which this node is among the
 * DHT__OFFER_RANK keepers nearest to the newcomer, so that it gets them now (hand-over), not at
 * their next check, and from a few holders, not all. */
void dht__replicate_newcomer(dht_t *dht, const dht_node_info_t *newcomer);

#define DHT__OFFER_RANK 3   /* the keepers of a value nearest to a newcomer offer it */
#define DHT__OFFER_SCAN 512 /* values near a newcomer looked at (32 offered at most) */

/* Stores the value (key, hash) this node holds on the n nodes of to[]
 * (each with the token it handed us), as a check that found them lacking
 * it does. @return 0 or a negative code (nothing started). */
int dht__replicate_store(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                         const dht__cand_t *to, size_t n);

/* ---- check.c: replication checks in batches ---- */

#define DHT__CHECK_BATCH 32 /* values a batch checks */

/* Checks up to DHT__CHECK_BATCH held values (keys[i], hashes[i]): those
 * whose keepers the table knows by one HAVE per keeper, the others by a
 * lookup each (dht__replicate_start). The batch is an operation of its own
 * (DHT__OP_CHECK), counted in dht->replicating until it ends.
 * @return 0 or a negative code (what could not start is checked again the
 *         next interval). */
int dht__check_start(dht_t *dht, const dht_id_t *keys, const dht_id_t *hashes, size_t n);

/* Offers up to DHT__CHECK_BATCH held values to one node (a newcomer):
 * one HAVE asks which it lacks, and those are stored on it. Nothing else
 * follows if it does not answer. @return 0 or a negative code. */
int dht__check_offer(dht_t *dht, const dht_node_info_t *to, const dht_id_t *keys,
                     const dht_id_t *hashes, size_t n);

/* Frees a batch's state (the op's). Accepts NULL. */
void dht__check_free(dht__check_t *c);

/* A check's lookup ended: stores the value on those of the k closest
 * that lack it (after reading it from the storage, if it is there). */
void dht__replicate_lookup_done(dht_t *dht, dht__op_t *op);

/* Marks candidate c as holding the value if its VALUES reply m lists it. */
void dht__replicate_on_values(dht__op_t *op, dht__cand_t *c, const dht__msg_t *m);

/* The storage's read for a check came (data NULL: it failed). */
void dht__replicate_read(dht_t *dht, dht__op_t *op, const uint8_t *data, size_t len);

/* A check is over (its op reported). */
void dht__replicate_done(dht_t *dht);

/* Starts the check of the value (key, hash) now, due or not.
 * @return 0 or a negative code (DHT_EBUSY: too many ops). */
int dht__replicate_start(dht_t *dht, const dht_id_t *key, const dht_id_t *hash);

/* ---- leave.c ---- */

/* A leave under way (dht_leave) starts checks while there is room. */
void dht__leave_pump(dht_t *dht);

/* A holder count's lookup ended: counts, and completes the op. */
void dht__holders_lookup_done(dht_t *dht, dht__op_t *op);

/* ---- held.c: values whose bytes the program's storage keeps ---- */

/* @return 1 if the node has a storage (dht_config_t.storage). */
int dht__held_external(const dht_t *dht);

/* Makes the store report what leaves it to the storage (dht_new). */
void dht__held_init(dht_t *dht);

/* Fills *out with v as the storage sees it. */
void dht__held_describe(const dht_t *dht, const dht__value_t *v, dht_held_t *out);

/* Who waits for a held write: the sender of a STORE (txid, from; group
 * 0), or a STORE_MANY's group (store_in.c), whose value `index` it is. */
typedef struct dht__held_wait {
    uint32_t txid;
    dht_addr_t from;
    uint64_t group;
    uint8_t index;
} dht__held_wait_t;

/* Asks the storage to keep v (key, hash, len, flags, expires_at; data
 * NULL) with bytes data: for a peer's STORE or STORE_MANY (wait: answered
 * once written), or for this node's own put (wait NULL, op set).
 * @return 0 (writing, or a resend of a STORE being written: the answer
 * comes with dht_held_written), DHT__HELD_IN_MEMORY (the storage left it
 * to the node: stored in memory, done), or DHT_ETOOBIG / DHT_EBUSY (no
 * room, or too many waiting) / DHT_EREJECTED (the storage refused). */
#define DHT__HELD_IN_MEMORY 1
int dht__held_write(dht_t *dht, const dht__held_wait_t *wait, const dht__value_t *v,
                    const uint8_t *data, dht__op_t *op);
/* An own put's write to the storage ended (kept: held). */
void dht__put_self_written(dht_t *dht, dht__op_t *op, int kept);

/* ---- store_in.c: values peers store here (STORE, STORE_MANY) ---- */

#define DHT__TAKE_LATER      (-1) /* dht__take_value: answered once the storage wrote it */
#define DHT__RECORDS_PER_KEY 8    /* provider records a node keeps per key, at most */

/* Checks and keeps one value a peer at `from` stores here (b: its key,
 * ttl, flags, len, value and age, as a STORE or a STORE_MANY carries
 * them; a provider record is refused: those come by PROVIDE only); a
 * write to the program's storage answers `wait` when done.
 * @return 0 (kept), a DHT__WERR_* code (refused, counted in the stats),
 *         or DHT__TAKE_LATER. */
int dht__take_value(dht_t *dht, const dht_addr_t *from, const dht__wire_batch_t *b,
                    const dht__held_wait_t *wait);

/* Keeps (or, with ttl 0, removes) the provider record PROVIDE req from
 * `from` announces: `from`'s address with req's port, under req's key
 * (its token checked by the caller), at most DHT__RECORDS_PER_KEY per
 * key and never in a value's place. @return 0 or a DHT__WERR_* code. */
int dht__take_provide(dht_t *dht, const dht_addr_t *from, const dht__msg_t *req);

/* Makes room for one more element in the array v of n elements of size
 * bytes, whose capacity is *cap (doubling, from first).
 * @return the array, maybe moved (*cap updated), or NULL if out of
 * memory (v and *cap as they were). */
void *dht__room_for_one(void *v, size_t n, size_t *cap, size_t size, size_t first);

/* ---- advert.c (wire.md 5.11) ---- */

#define DHT__ADVERTS_MAX 1024 /* contacts' announcements kept at most */

/* Contact id answered a ping of ours from `from` with pong: keeps the
 * region and global address it announced, and pings that address to
 * check it (a probe); an answer at the global address checks it. */
void dht__advert_heard(dht_t *dht, const dht_id_t *id, const dht_addr_t *from,
                       const dht__msg_t *pong);

/* Rewrites the node records of reply m for the asker (id who, at addr):
 * a contact that announced a global address is handed out at it, unless
 * the asker is in its region (the same region id, or both in the same
 * local network, a /24 or /64 of loopback or private addresses). */
void dht__advert_localize(const dht_t *dht, dht__msg_t *m, const dht_id_t *who,
                          const dht_addr_t *addr);

/* @return 1 if rpc is a probe of a global address: its answer enters
 * no routing table, and its silence marks no contact failed. */
int dht__advert_is_probe(const dht__rpc_t *rpc);

void dht__adverts_free(dht_t *dht);

/* ---- delete.c (wire.md 5.10) ---- */

#define DHT__TOMBS_MAX 256 /* tombstones a node keeps at most */

/* @return 1 if a STORE from `from` of the value (key, hash) under owner
 * must be refused (ERROR 9): its owner deleted it here. Then `from` is
 * sent the DELETE too. Else 0. */
int dht__tomb_refuses(dht_t *dht, const dht_addr_t *from, const dht_id_t *key, const dht_id_t *hash,
                      const dht_id_t *owner);

/* Carries out DELETE req here. @return its DHT__DELETE_* outcome. */
int dht__serve_delete_outcome(dht_t *dht, const dht__msg_t *req);

/* @return the tombstones kept that have not expired at now. */
size_t dht__tombs_live(const dht_t *dht, uint64_t now);

void dht__tombs_free(dht_t *dht);

/* A dht_delete's lookup ended: delete here, and DELETE every node that
 * answered it; op completes once they all have answered or timed out. */
void dht__delete_lookup_done(dht_t *dht, dht__op_t *op);

/* Calls a completed dht_delete's callback. */
void dht__delete_report(const dht__op_t *op);

/* Keeps the values of STORE_MANY req from `from` (its token checked),
 * and answers with one STORED_MANY once all are kept or refused: now,
 * or when the last write to the storage ends. A resend of one whose
 * writes are under way gets no second answer. @return 0 or what sending
 * said. */
int dht__take_many(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from);

/* A write for a STORE_MANY's group ended (kept, or not): its reply goes
 * once the last one has. */
void dht__group_written(dht_t *dht, uint64_t group, uint8_t index, int kept);

/* Forgets groups older than DHT_SOURCE_WAIT_MS (their sender gave up). */
void dht__groups_expire(dht_t *dht, uint64_t now);

/* Frees what store_in.c holds (dht_free). */
void dht__groups_free(dht_t *dht);

/* ---- store_out.c: STOREs sent, alone or in STORE_MANYs ---- */

/* Who gets a STORE's outcome: status 0 (stored), DHT_EBADVALUE (the
 * value does not hash to its key), DHT_EREJECTED (refused), or the rpc's
 * failure (DHT_ETIMEDOUT, DHT_ECANCELED...). */
enum { DHT__STORE_FOR_PUT, DHT__STORE_FOR_REPLICA };

/* Sends op's PROVIDE (op->provide_port, op->ttl) of key to node `to`
 * with its token; its outcome reaches dht__put_stored, as a STORE's.
 * @return 0, or a negative code (nothing sent, no outcome). */
int dht__provide_send(dht_t *dht, dht__op_t *op, const dht_node_info_t *to,
                      const uint8_t token[DHT__WIRE_TOKEN_LEN]);

/* Sends op's value v to node `to` with its token: a STORE now, or, while
 * the queue is held and v fits a batch, queued to go with others to the
 * same node. The outcome reaches dht__put_stored or dht__replica_stored
 * (by `kind`) exactly once, unless this fails. @return 0, or a negative
 * code (nothing sent or queued, no outcome). */
int dht__store_send(dht_t *dht, dht__op_t *op, int kind, const dht_node_info_t *to,
                    const uint8_t token[DHT__WIRE_TOKEN_LEN], const dht__wire_batch_t *v);

/* Holds the queue: STOREs of small values wait until the matching
 * dht__stores_flush. Holds nest. */
void dht__stores_hold(dht_t *dht);

/* Ends a hold; at the last, sends what waits: per node, one STORE for a
 * lone value, STORE_MANYs (as few as fit) for several. */
void dht__stores_flush(dht_t *dht);

/* Frees the queue (dht_free; it is empty outside a hold). */
void dht__stores_free(dht_t *dht);

/* A STORE of op (a put's) ended with status (see above). */
void dht__put_stored(dht_t *dht, dht__op_t *op, int status);

/* A STORE of op (a replication's) ended with status (see above). */
void dht__replica_stored(dht_t *dht, dht__op_t *op, int status);

/* ---- providers.c ---- */

/* Announces again the keys whose time has come (from dht_periodic). */
void dht__provide_tick(dht_t *dht, uint64_t now);

/* Frees the table of announced keys (dht_free). */
void dht__provided_free(dht_t *dht);

/* ---- put_many.c ---- */

/* A put's lookup ended (op->batch set): once every put of its batch's
 * has, their STOREs go together (dht__stores_hold). */
void dht__put_batch_ready(dht_t *dht, dht__op_t *op);

/* op, a put of a batch, is being freed: the batch lets it go. */
void dht__put_batch_leave(dht_t *dht, dht__op_t *op);

/* ---- ops.c: puts ---- */

/* @return a new put op for (key, value) as dht_put_ex makes it, its
 * lookup not started, or NULL with *err set. */
dht__op_t *dht__put_op_new(dht_t *dht, const dht_id_t *key, const void *value, size_t len,
                           uint32_t ttl_s, const dht_put_opts_t *opts, dht_put_cb cb, void *arg,
                           int *err);

/* A put's lookup found the k closest: stores on the r closest of them. */
void dht__put_store_all(dht_t *dht, dht__op_t *op);

/* @return seconds left before v expires, rounded up. */
uint32_t dht__ttl_left(const dht__value_t *v, uint64_t now);

/* Sends an ERROR reply with txid to `to`. @return what sending said. */
int dht__send_error(dht_t *dht, uint32_t txid, const dht_addr_t *to, uint16_t code,
                    const char *text);

/* ---- node.c ---- */

/* Encodes m (sender and txid filled in by the caller) and sends it, by
 * datagram if it fits, else by stream. @return 0 or a negative code. */
int dht__send_msg(dht_t *dht, const dht_addr_t *to, const dht__msg_t *m);

/* The current time for API calls (io.clock, else the last time seen). */
uint64_t dht__now(dht_t *dht);

/* Time allowed for one attempt of a request whose request or reply
 * carries a value of len bytes: the plain timeout for a datagram, more for
 * a stream (room to move the bytes at 256 KiB/s or better). */
uint32_t dht__timeout_for(const dht_t *dht, size_t len);

/* Tells the shell if the next deadline moved earlier (to now, when an
 * operation completed and its callback waits for dht_periodic()). Called
 * at the end of every public entry point; runs no callback itself. */
void dht__rearm(dht_t *dht);

/* ---- refresh.c ---- */

/* Pings a node the table learned from others' replies, so that it is
 * verified (its answer) or found bad (its silence). */
void dht__verify_node(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr);

/* Pings the sender of a request, to prove its address: a ping padded to
 * its PONG only (the room DHT__PONG_MAX its request left), sent once, so
 * that a forged address gets no more than the request paid for. */
void dht__verify_sender(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr);

/* As dht__verify_sender, for a sender the table does not hold (it may
 * be joining): once it answers, the values it should keep are offered to
 * it (dht__replicate_newcomer), never before its address is proven. */
void dht__verify_newcomer(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr);

/* The maintenance of every tick (DHT__TICK_MS): a liveness ping to the
 * stalest questionable node of a full bucket with replacements waiting,
 * and a refresh lookup into the first bucket, empty or not, that saw no
 * change nor lookup for DHT__REFRESH_MS. */
void dht__maintenance_tick(dht_t *dht, uint64_t now);

/* Called when a join's own-id lookup has ended: schedules the filling of
 * every bucket farther than the nearest neighbour found (those holding
 * fewer than k nodes when their turn comes), one every
 * DHT__FILL_SPACING_MS so that a wave of joins does not flood. Filling
 * bucket i is one FIND_NODE for a random id in its range, to the known
 * node closest to that id; the nodes of the reply are learned (rt.h). */
void dht__join_fill_start(dht_t *dht);

/* Sends the fill that is due (dht->fill_at <= now) and schedules the next. */
void dht__join_fill_step(dht_t *dht, uint64_t now);

/* Called when a join has ended: while the table holds fewer than k good
 * nodes, the node looks up its own id again, DHT__SPARSE_FIRST_MS after
 * the join, then at doubling gaps while they are below DHT__REFRESH_MS
 * (ten lookups at most, over about 17 minutes), each followed by a fill
 * of far buckets (dht__join_fill_start). A node that
 * joined when the network knew little (the first of a wave of joins
 * through one node, say) is otherwise known to none of its neighbours,
 * and no lookup finds it until its buckets' refresh, 15 minutes on. */
void dht__sparse_start(dht_t *dht);

/* Runs the look-again that is due (dht->sparse_at <= now). */
void dht__sparse_step(dht_t *dht, uint64_t now);

/* Frees what is left of a node whose operations and rpcs are all gone
 * (dht_free() has run and the completion queue is drained). */
void dht__destroy(dht_t *dht);

/* ---- rpc.c ---- */

/* Sends request m (its txid is set here) to `to` and tracks it: resends
 * after timeout_ms, up to `attempts` sends in all (1 + cfg.retries if 0)
 * for a datagram; a stream request is sent once and given timeout_ms.
 * timeout_ms 0 means adaptive: the first two attempts wait dht__rpc_rto()
 * each (from the round-trip times measured so far), later ones
 * cfg.timeout_ms. The callback hears DHT__RPC_STALLED at each resend, so
 * a lookup stops waiting on a dead node early while a late reply, to any
 * send, still completes the rpc. id may be
 * NULL if unknown. op, if not NULL, is referenced until the rpc ends.
 * A send that fails counts as a lost message: the rpc times out.
 * @return 0, DHT_EBUSY (too many rpcs), DHT_ENOMEM, DHT_EPROTO or
 *         DHT_ECLOSED; on
 *         error cb is not called and op is not referenced. */
/* The network said nobody listens at `to`: the current attempt of every
 * datagram request in flight there times out now, as it would have at its
 * deadline (a resend if attempts are left, which the network will answer
 * the same way; else the end, judged as any timeout). Runs the due
 * timeouts. @return the number of requests whose attempt it cut short. */
int dht__rpc_unreachable(dht_t *dht, const dht_addr_t *to);

/* The request of op (its lookup tag) to id, if one is under way: it is
 * sent no more and waits at most within_ms more; then it ends with
 * DHT_ETIMEDOUT, and the node is marked slow, not failed (it may be alive,
 * only late), unless it was slow already when the request went (then it
 * failed twice running: a request's full resends are not waited for a
 * second time). @return 1 if such a request was found. */
int dht__rpc_hasten(dht_t *dht, const dht__op_t *op, uintptr_t tag, const dht_id_t *id,
                    uint32_t within_ms, unsigned more);

int dht__rpc_send(dht_t *dht, dht__msg_t *m, const dht_addr_t *to, const dht_id_t *id,
                  uint32_t timeout_ms, unsigned attempts, dht__rpc_cb cb, dht__op_t *op,
                  uintptr_t tag);

/* Starts a request of `type` in *m: the counts, pointers and request bits
 * cleared, and proof[DHT__WIRE_TOKEN_LEN] (a token the receiver handed us
 * in a reply, NULL when we hold none) as its address proof. Then set the
 * body's fields and call dht__rpc_send(), which pads a request without
 * proof so that the reply fits what an unproven requester may be sent
 * (schema/wire.md 2.3), unless the caller set m->pad itself. */
void dht__msg_request(dht__msg_t *m, uint8_t type, const uint8_t *proof);

/* Bytes of padding dht__rpc_send() gives a request m without proof to
 * the address `to` (its reply's largest size, and room for the
 * receiver's proof ping, less m's own size). */
size_t dht__request_pad(const dht_t *dht, const dht__msg_t *m, const dht_addr_t *to);

/* Matches reply m from `from` to a pending rpc and completes it.
 * @return 0, or DHT_ENOTFOUND if it matched nothing (counted). */
int dht__rpc_reply(dht_t *dht, const dht__msg_t *m, const dht_addr_t *from);

/* @return the adaptive timeout of a first attempt: srtt + 4 * rttvar of
 * the replies measured so far (first attempts only, as Karn's rule asks),
 * at least twice srtt and DHT__RTO_MIN_MS, at most cfg.timeout_ms; cfg.timeout_ms
 * until DHT__RTT_MIN_SAMPLES replies were measured (a few samples make a
 * variance far too small). */
uint32_t dht__rpc_rto(const dht_t *dht);

/* Round-trip times by network (net_rtt.c): proximity's guess for a
 * contact never measured. Feeds a reply's round trip (us) from addr to
 * the smoothed estimates of addr's networks (IPv4 /24 and /16, IPv6 /48
 * and /32). Nothing when out of memory. */
void dht__net_rtt_sample(dht_t *dht, const dht_addr_t *addr, uint64_t sample_us);

/* @return the smoothed round trip (us) of the narrowest of addr's
 * networks measured, or 0 when none was (or the estimate gave way to
 * another network's). */
uint32_t dht__net_rtt(const dht_t *dht, const dht_addr_t *addr);

/* Handles due timeouts. */
void dht__rpc_timeouts(dht_t *dht, uint64_t now);

/* @return the earliest rpc deadline, or UINT64_MAX. */
uint64_t dht__rpc_next_deadline(const dht_t *dht);

/* Cancels every rpc (DHT_ECANCELED) and frees the tables. */
void dht__rpc_shutdown(dht_t *dht);

/* ---- limits.c ---- */

/* A request being answered: its source, and what it may be sent. */
typedef struct dht__serving {
    const dht_addr_t *from;
    dht__rate_slot_t *slot; /* NULL without memory for the limiter */
    int proven;             /* the source proved its address: no byte cap */
    size_t room;            /* unproven: bytes it may still be sent */
    size_t reserve;         /* of room, kept for the ping that proves it */
} dht__serving_t;

/* Starts *sv for a request from `from`, with its source's slot refilled
 * to now. @return 0, or DHT_EBUSY (counted as rate limited) when the
 * source passed cfg.rate_limit: the request is then dropped. */
int dht__serving_start(dht_t *dht, dht__serving_t *sv, const dht_addr_t *from);

/* Records whether the source proved its address; an unproven one has the
 * request's len bytes added to what it may be sent (at most
 * DHT__CREDIT_MAX in all). */
void dht__serving_credit(dht__serving_t *sv, int proven, size_t len);

/* @return 1 if `bytes` more may go to the source (always, when proven),
 * and counts them as gone; 0 if not (nothing counted). */
int dht__serving_spend(dht__serving_t *sv, size_t bytes);

/* As dht__serving_spend, counting a refusal as refused_unproven. */
int dht__serving_may_send(dht_t *dht, dht__serving_t *sv, size_t bytes);

/* @return 1 if a value of `bytes` may go to the source within its bytes
 * per second (cfg.send_rate_limit), and takes them; 0 (counted as
 * refused_send_rate) if not. */
int dht__serving_send_rate_ok(dht_t *dht, dht__serving_t *sv, size_t bytes);

/* ---- server.c ---- */

/* Answers request m (len bytes as received) from `from`. A source that
 * has not proven its address (no valid token in the request, not a proven
 * contact at that address, not a stream) is sent no more bytes than it
 * sent (schema/wire.md 2.3). @return 0 or the reason it was dropped. */
int dht__serve(dht_t *dht, const dht__msg_t *m, size_t len, const dht_addr_t *from,
               dht_transport_t transport);

/* Private networks (netkey.c, schema/wire.md 2.4). */

/* Keys the node's HMAC with cfg.network_key (if any) and forgets the
 * caller's pointer. @return 0, or DHT_ENOMEM (OpenSSL failed). */
int dht__netkey_init(dht_t *dht);

/* Frees what dht__netkey_init made. */
void dht__netkey_free(dht_t *dht);

/* Appends the tag of buf[0..len) to it (buf has dht->tag_len more bytes
 * of room). @return the new length (len on an open network), or 0 if
 * OpenSSL failed (nothing is sent). */
size_t dht__netkey_seal(const dht_t *dht, uint8_t *buf, size_t len);

/* Checks the tag at the end of buf[0..*len) and takes it off (*len
 * shrinks by dht->tag_len). @return 0, or -1 if it does not check (the
 * message is dropped); on an open network 0, *len unchanged. */
int dht__netkey_open(const dht_t *dht, const uint8_t *buf, size_t *len);

/* Computes the token this node hands to addr under the current secret. */
void dht__token_make(const dht_t *dht, const dht_addr_t *addr, int previous, uint8_t *out);

/* Rotates the token secret when it is due. */
void dht__token_tick(dht_t *dht, uint64_t now);

/* Fills m->nodes with up to k nodes of address family `family` (the
 * requester's: it may reach no other) closest to target that fit in a
 * datagram of `budget` bytes, skipping `skip` (may be NULL). @return the
 * bytes they take. */
size_t dht__fill_nodes(dht_t *dht, dht__msg_t *m, const dht_id_t *target, const dht_id_t *skip,
                       uint8_t family, size_t budget);

/* ---- lookup.c ---- */

/* Starts op's lookup for target, seeded from the routing table.
 * @return 0 or DHT_ENOMEM. The lookup then proceeds on its own and calls
 *         dht__op_lookup_done() when it ends. */
int dht__lookup_start(dht_t *dht, dht__op_t *op, const dht_id_t *target, int want_values);

/* Ends a lookup early (a get found what it needed). */
void dht__lookup_stop(dht_t *dht, dht__op_t *op);

/* Frees a lookup's memory. */
void dht__lookup_free(dht__lookup_t *lk);

/* ---- route.c ---- */

#define DHT__ROUTE_SEEN 64 /* ROUTEs a node remembers its answer to */

/* Takes the message of ROUTE req from `from`: forwards it to a closer
 * verified contact (the application's route_forward may drop it), or
 * delivers it here (route_deliver, queued). A resend of a ROUTE answered
 * lately gets the same answer and nothing else.
 * @return DHT__ROUTE_*, with *peer the next hop or this node. */
uint8_t dht__route_take(dht_t *dht, const dht__msg_t *req, const dht_addr_t *from, dht_id_t *peer);

/* A route's lookup ended: send the message to the closest that answered
 * (or deliver it here). */
void dht__route_lookup_done(dht_t *dht, dht__op_t *op);

/* Runs a queued upcall (DHT__OP_UPCALL) or a route's callback. */
void dht__route_report(dht_t *dht, dht__op_t *op);

/* Tells route_neighbours if the neighbourhood changed. Every tick. */
void dht__route_tick(dht_t *dht);

/* Frees what route.c holds (dht_free). */
void dht__route_free(dht_t *dht);

/* ---- ops.c ---- */

/* Allocates an op of kind (FIND_NODE, REPLICATE, HOLDERS) with value_hash
 * (may be NULL) and starts its lookup of target: FIND_VALUE but for
 * FIND_NODE. Set its callback next, before anything can complete it.
 * @return the op, or NULL with *err (then nothing was started). */
dht__op_t *dht__op_lookup(dht_t *dht, int kind, void *arg, const dht_id_t *target,
                          const dht_id_t *value_hash, int *err);

/* Allocates a live op of the given kind (refs = 1). @return NULL if out of
 * memory or too many ops in flight (then *err says which). */
dht__op_t *dht__op_new(dht_t *dht, int kind, void *arg, int *err);

/* Queues op's user callback with status; it runs when the current entry
 * point returns. Idempotent. */
void dht__op_complete(dht_t *dht, dht__op_t *op, int status);

/* Ends the start of op, a new operation whose first step returned err:
 * 0, and the node's timer rearmed; or op dropped unreported (the caller
 * of the API gets err). @return err. */
int dht__op_started(dht_t *dht, dht__op_t *op, int err);

/* Drops one reference; frees the op at zero. */
void dht__op_unref(dht_t *dht, dht__op_t *op);

/* Runs queued user callbacks; does nothing when called from one of them.
 * When dht_free() has been called (before or by a callback), destroys the
 * node once the queue is drained.
 * @return 1 if the node was destroyed (the caller must not touch it), else 0. */
int dht__op_run_completions(dht_t *dht);

/* Starts a bootstrap operation (dht_bootstrap's, and dht_import_peers'):
 * pings addrs[0..n), then looks up the own id through those that answered;
 * cb gets 0 if one did, else DHT_ENOPEERS. ids, if not NULL, are the ids
 * the addresses are expected to answer with (ids[i] for addrs[i]): a node
 * of the table under such an id that stays silent is counted as failed,
 * one that answers under another id is replaced, as for any request.
 * The arguments are not checked (n may be 0: cb then gets DHT_ENOPEERS).
 * @return 0, DHT_EBUSY, DHT_ECLOSED or DHT_ENOMEM. */
int dht__bootstrap_start(dht_t *dht, const dht_addr_t *addrs, const dht_id_t *ids, size_t n,
                         dht_status_cb cb, void *arg);

/* Called by lookup.c when op's lookup has ended. */
void dht__op_lookup_done(dht_t *dht, dht__op_t *op);

/* Called by lookup.c for every VALUES reply a FIND_VALUE lookup gets. */
void dht__get_on_values(dht_t *dht, dht__op_t *op, const dht__cand_t *from, const dht__msg_t *m);

/* @return 1 while a get holds no verified value (a summary alone does not
 * count: its holder may never serve it): its lookup then waits for the
 * stalled candidates (lookup.c). */
int dht__get_empty(const dht__op_t *op);

/* Called when a get's lookup ends: fetch what is missing, then complete. */
void dht__get_lookup_done(dht_t *dht, dht__op_t *op);

/* Frees a get's collected state. */
void dht__get_free(dht__get_state_t *g);

/* Starts a get (ops.c calls it) with its options (op->max_age_s and
 * page_first set). @return 0 or a negative code. */
int dht__get_start(dht_t *dht, dht__op_t *op, const dht_id_t *key, unsigned max_values);

/* @return 1 if v is at most max_age_s seconds old (first stored in the
 * network that long ago, as this node knows it; 0: any age). */
int dht__value_young(const dht__value_t *v, uint32_t max_age_s, uint64_t now);

/* Runs user callback of a completed get. */
void dht__get_report(dht_t *dht, dht__op_t *op);

#endif /* DHT_NODE_H */
