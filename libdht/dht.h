/*
 * libdht: a Kademlia distributed hash table in C11.
 *
 * This header is the manual. Programs include it as <libdht/dht.h> (what
 * `make install` puts there; `pkg-config --cflags --libs libdht`). After
 * the version (part 0), it has four parts:
 *
 *   1. ids, keys, addresses and errors;
 *   2. the sans-I/O core (dht_t): it never touches a socket or a clock. The
 *      caller feeds it received messages and the current time, and it hands
 *      outgoing messages to a send callback and says when it wants to be
 *      called again. Every protocol rule lives here;
 *   3. the libuv shell (dht_uv_t): the core on real UDP and TCP sockets;
 *   4. the simulator (dht_sim_t): thousands of cores in one process on a
 *      virtual clock, with loss and delay, deterministic for a seed.
 *
 * Conventions, as in libuv and zstd:
 *   - functions that can fail return int: 0 on success, a negative DHT_E*
 *     code otherwise; dht_strerror() turns a code into text;
 *   - handles are opaque, made by *_new() and released by *_free(), which
 *     accepts NULL;
 *   - every operation is asynchronous: its callback receives a status first
 *     and the caller's `void *arg` last, and never fires inside the call that
 *     started the operation. A call that returns an error has not started
 *     anything and its callback will not fire;
 *   - pointers handed to a callback are valid for the duration of the
 *     callback only: copy what you keep;
 *   - a node may be closed (dht_free, dht_uv_close) from inside any of its
 *     own operation callbacks, as a libuv handle may be uv_close()d from
 *     its callbacks: its memory goes only once that callback has returned;
 *   - no global state: two handles never share anything.
 */
#ifndef DHT_H
#define DHT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* 0. Version and exports                                                   */
/* ------------------------------------------------------------------------ */

/* The version of this header: the one place the project's version is
 * written. The Makefile reads these three lines for libdht.pc and the
 * shared library's name and soname; emofs --version prints them. */
#define DHT_VERSION_MAJOR 0
#define DHT_VERSION_MINOR 12
#define DHT_VERSION_PATCH 0

#define DHT_VERSION_STRINGIFY_(x) #x
#define DHT_VERSION_STRINGIFY(x)  DHT_VERSION_STRINGIFY_(x)
/* "MAJOR.MINOR.PATCH" */
#define DHT_VERSION_STRING                                                                         \
    DHT_VERSION_STRINGIFY(DHT_VERSION_MAJOR)                                                       \
    "." DHT_VERSION_STRINGIFY(DHT_VERSION_MINOR) "." DHT_VERSION_STRINGIFY(DHT_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if */
#define DHT_VERSION_NUMBER (DHT_VERSION_MAJOR * 10000 + DHT_VERSION_MINOR * 100 + DHT_VERSION_PATCH)

/* Marks the functions of this header: the shared library is built with
 * -fvisibility=hidden and exports these alone. */
#if defined(__GNUC__) && __GNUC__ >= 4
#define DHT_API __attribute__((visibility("default")))
#else
#define DHT_API
#endif

/* @return the version of the library the program runs with, as
 * "MAJOR.MINOR.PATCH" (the DHT_VERSION_STRING it was built from, which may
 * differ from the header the program was compiled with); static storage. */
DHT_API const char *dht_version(void);

/* ------------------------------------------------------------------------ */
/* 1. Ids, keys, addresses, errors                                          */
/* ------------------------------------------------------------------------ */

#define DHT_ID_LEN     32   /* bytes: ids and keys are 256 bits */
#define DHT_MAX_K      32   /* upper bound for dht_config_t.k */
#define DHT_MAX_COPIES 31   /* upper bound for dht_put_opts_t.copies (wire.md 3.4) */
#define DHT_ROUTE_MAX  1200 /* bytes: the largest message dht_route() carries */

/* A node id or a key. Both live in the same 256-bit space. */
typedef struct dht_id {
    uint8_t b[DHT_ID_LEN];
} dht_id_t;

/* Sets *out to SHA-256(data[0..len)). data may be NULL when len is 0. */
DHT_API void dht_id_from_bytes(dht_id_t *out, const void *data, size_t len);

/* Sets *out to a XOR b, the Kademlia distance between a and b. */
DHT_API void dht_id_distance(dht_id_t *out, const dht_id_t *a, const dht_id_t *b);

/* Compares the distances of a and b to target.
 * @return <0 if a is closer to target than b, 0 if a == b, >0 otherwise. */
DHT_API int dht_id_cmp_distance(const dht_id_t *target, const dht_id_t *a, const dht_id_t *b);

/* Compares two ids as 256-bit big-endian numbers (memcmp order). */
DHT_API int dht_id_cmp(const dht_id_t *a, const dht_id_t *b);

/* Length of the common bit prefix of a and b, 0..256. */
DHT_API unsigned dht_id_common_prefix(const dht_id_t *a, const dht_id_t *b);

#define DHT_ID_HEXLEN 65 /* 64 hex digits and a terminator */

/* Writes the 64 lower-case hex digits of id and a terminator into buf,
 * which must hold DHT_ID_HEXLEN bytes. @return buf. */
DHT_API char *dht_id_to_hex(const dht_id_t *id, char *buf);

/* Parses exactly 64 hex digits (either case) from hex.
 * @return 0, or DHT_EINVAL if hex is not that; *out is then unchanged. */
DHT_API int dht_id_from_hex(dht_id_t *out, const char *hex);

/* An endpoint: IPv4 or IPv6 address and UDP/TCP port. */
typedef struct dht_addr {
    uint8_t family; /* DHT_AF_INET or DHT_AF_INET6 */
    uint8_t ip[16]; /* network byte order; IPv4 uses the first 4 bytes */
    uint16_t port;  /* host byte order */
} dht_addr_t;

#define DHT_AF_INET    4
#define DHT_AF_INET6   6
#define DHT_ADDRSTRLEN 56 /* "[" IPv6 "]:" port and a terminator */

/* Parses "1.2.3.4:5" or "[::1]:5" (numeric addresses only, no DNS).
 * @return 0, or DHT_EADDR; *out is then unchanged. */
DHT_API int dht_addr_parse(dht_addr_t *out, const char *hostport);

/* Formats addr as dht_addr_parse() reads it. buf must hold DHT_ADDRSTRLEN
 * bytes. @return buf. */
DHT_API char *dht_addr_format(const dht_addr_t *addr, char *buf);

/* @return 1 if a and b are the same family, address and port, else 0. */
DHT_API int dht_addr_equal(const dht_addr_t *a, const dht_addr_t *b);

/* Node ids tied to addresses, as BitTorrent's BEP 42 ties them
 * (schema/wire.md 2.5): the first 21 bits of an id are a CRC-32C of its
 * node's IP address (masked: the top bits of an IPv4 address, of an IPv6
 * address's first 64 bits) mixed with r, the 3 low bits of the id's last
 * byte. One address can then own ids with 8 prefixes only, so it cannot
 * place nodes next to any key it likes.
 *
 * Makes the id for addr: its first 21 bits from addr and r, its last byte
 * r, the bits between from random[0..DHT_ID_LEN) (only its low 3 bits of
 * r count for the prefix). */
DHT_API void dht_id_for_addr(dht_id_t *out, const dht_addr_t *addr, uint8_t r,
                             const uint8_t random[DHT_ID_LEN]);

/* @return 1 if id is one dht_id_for_addr could make for addr, else 0.
 * An IPv4 address mapped into IPv6 counts as the IPv4 address. */
DHT_API int dht_id_fits_addr(const dht_id_t *id, const dht_addr_t *addr);

/* @return 1 if addr is of a loopback or private network (127/8, 10/8,
 * 172.16/12, 192.168/16, 169.254/16, 100.64/10, 0/8, ::1, fc00::/7,
 * fe80::/10; mapped IPv4 too), which the id rule and the subnet limit
 * exempt, else 0. */
DHT_API int dht_addr_is_local(const dht_addr_t *addr);

/* The id rule a node applies to its contacts (dht_config_t.id_rule). */
#define DHT_ID_RULE_OFF    0 /* any id enters the routing table */
#define DHT_ID_RULE_PUBLIC 1 /* a contact at a public address whose id does not fit it, never */
#define DHT_ID_RULE_ALL    2 /* that, at any address (tests, simulations on private ones) */

/* Every error libdht returns, as XX(name, value, text). */
#define DHT_ERRNO_MAP(XX)                                                                          \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(ETIMEDOUT, -3, "timed out")                                                                 \
    XX(ENOTFOUND, -4, "not found")                                                                 \
    XX(ENOPEERS, -5, "no peers known or reachable")                                                \
    XX(ETOOBIG, -6, "value too large")                                                             \
    XX(ECANCELED, -7, "operation canceled")                                                        \
    XX(EIO, -8, "input/output error")                                                              \
    XX(EADDR, -9, "bad or unusable address")                                                       \
    XX(EPROTO, -10, "malformed message")                                                           \
    XX(EBUSY, -11, "too many operations in flight")                                                \
    XX(EREJECTED, -12, "rejected by the peer")                                                     \
    XX(EBADVALUE, -13, "value does not match its content-addressed key")                           \
    XX(ECLOSED, -14, "node is shutting down")                                                      \
    XX(EADDRINUSE, -15, "address already in use")                                                  \
    XX(EACCES, -16, "permission denied")                                                           \
    XX(EADDRNOTAVAIL, -17, "address not available on this machine")

typedef enum dht_error {
    DHT_OK = 0,
#define DHT_XX_ENUM(name, value, text) DHT_##name = (value),
    DHT_ERRNO_MAP(DHT_XX_ENUM)
#undef DHT_XX_ENUM
} dht_error_t;

/* @return a static, human-readable text for err; never NULL. */
DHT_API const char *dht_strerror(int err);

/* @return the static name of err ("DHT_ETIMEDOUT"); never NULL. */
DHT_API const char *dht_err_name(int err);

/* ------------------------------------------------------------------------ */
/* 2. The sans-I/O core                                                     */
/* ------------------------------------------------------------------------ */

typedef struct dht dht_t;

/* Who stored a value on a node: the address its STORE came from, cut to
 * what one party is taken to control (an IPv4 address; an IPv6 /64), as
 * 16 bytes (IPv4 mapped into IPv6: ::ffff:a.b.c.d). All zero: the node
 * itself (its own puts), or not known (a value loaded from an older
 * storage). A node full of values shares its room fairly among sources
 * (dht_config_t.store_max_bytes). */
typedef struct dht_source {
    uint8_t b[16];
} dht_source_t;

/* Settings of a node. Fill with dht_config_init(), then change fields. */
/* A value a node holds for others, as its storage sees it. */
typedef struct dht_held {
    dht_id_t key;
    dht_id_t hash;       /* SHA-256 of the bytes */
    uint32_t len;        /* bytes */
    int content;         /* 1: content addressed (key == hash) */
    unsigned copies;     /* nodes its publisher wants to keep it (r), 1..DHT_MAX_COPIES; 0: k */
    uint32_t ttl_left_s; /* until it expires, seconds from now */
    uint32_t age_s;      /* since it was first stored in the network, seconds: since
                            this node first stored it, less the age the STORE
                            carried (a copy made by replication: schema/wire.md 5.5) */
    dht_source_t source; /* who stored it here; a storage keeps it for dht_held_add() */
    int owned;           /* 1: owner below may delete it (dht_delete); 0: nobody may */
    dht_id_t owner;      /* SHA-256 of its publisher's delete secret; a storage keeps
                            it for dht_held_add(): lost, the value is loaded with no
                            owner, kept to its TTL, and its copies made by replication
                            can be deleted by nobody (wire.md 5.10) */
} dht_held_t;

/* Storage of the values a node holds for others, provided by the
 * program (dht_config_t.storage). The node decides what to hold (tokens,
 * checks, quota, expiry, eviction of the keys farthest from its id first)
 * and keeps the index; the storage keeps the bytes. Every callback runs
 * on the loop's thread and must not call back into the node inside the
 * call; answers come later, from the loop's thread:
 *   write: keep v's bytes (data[0..v->len), valid during the call only:
 *     copy them). Called when a peer's STORE passed every check, for the
 *     node's own puts when it is among the closest, and again, with the
 *     same bytes, when a value held is stored anew (its TTL grew: v says
 *     the new one). Start writing and return 0, then call
 *     dht_held_written(dht, req, 0) once the bytes are safe (after an
 *     fsync, for a disk), or a negative code if they could not be kept;
 *     only then does the node hold the value and answer the storer
 *     ("stored", or "full" so that it tries another node). A negative
 *     return refuses at once ("full"); DHT_STORAGE_IN_MEMORY leaves the
 *     value to the node, which keeps it in its memory like a node
 *     without storage (lost when it stops; reads of it, and its end,
 *     never reach the storage).
 *   read: a peer wants v's bytes: start reading and return 0, then answer
 *     with dht_value_ready(dht, req, data, len), or return a negative
 *     number ("not found"). The node checks that the bytes hash to
 *     v->hash; if they do not, the value is damaged: it is held no more
 *     (drop is called) and the peer is told "not found".
 *   drop: v is held no more (it expired, was evicted to make room, or was
 *     removed with dht_held_remove): delete its bytes. Not called when the
 *     node is freed: what the storage keeps then is the program's to load
 *     into the next node with dht_held_add().
 * Set all three or none. A program stops answering (written, ready)
 * before it frees the node. */
#define DHT_STORAGE_IN_MEMORY 1 /* storage.write: keep this one in memory */

typedef struct dht_storage {
    int (*write)(void *arg, const dht_held_t *v, const uint8_t *data, uint64_t req);
    int (*read)(void *arg, const dht_held_t *v, uint64_t req);
    void (*drop)(void *arg, const dht_held_t *v);
    void *arg;
} dht_storage_t;

#define DHT_NETWORK_KEY_MIN 16 /* bytes of dht_config_t.network_key */
#define DHT_NETWORK_KEY_MAX 64
#define DHT_NETWORK_TAG_LEN 16 /* what a private network's tag adds to each message */

/* A node as lookups report it. */
typedef struct dht_node_info {
    dht_id_t id;
    dht_addr_t addr;
} dht_node_info_t;

typedef struct dht_config {
    dht_id_t id;    /* this node's id, used when has_id is 1 */
    int has_id;     /* 0: derive a random id from the seed */
    unsigned k;     /* bucket size and replication, 1..DHT_MAX_K; 20 */
    unsigned alpha; /* lookup requests in flight, 1..16; 3 */
    /* py-dht's client parameters, for the lookups of dht_find_node,
     * dht_put and dht_get (maintenance lookups keep k and Kademlia's rule):
     *   lookup_results (py-dht's b): how many of the closest nodes a lookup
     *     finds and returns, and a put stores on at most; 1..k; 0: k.
     *   lookup_stale_stop (py-dht's steps-to-stop): a lookup also ends once
     *     this many replies in a row brought no node nearer than its
     *     lookup_results-th closest candidate (failed requests are no step,
     *     as in py-dht); 0: never, the lookup ends when its closest
     *     candidates have all answered. */
    unsigned lookup_results;
    unsigned lookup_stale_stop;
    /* Proximity (Emo's latency router, Pastry's proximity): the node keeps
     * a smoothed round-trip time per contact (always) and per network of
     * the contacts it measured (IPv4 /24 and /16, IPv6 /48 and /32), and
     * a get's lookup asks, among the candidates equally close to the key,
     * the one that answers soonest first: before any reply, any of the
     * table's bucket that holds the key (as Kademlia starts "with alpha
     * nodes of its closest non-empty k-bucket"), then any as close as the
     * k-th closest known (any of the k closest may hold the value). A
     * contact never measured counts as its network, else as the node's
     * mean. A get ends at the first holder that answers, so it answers
     * from a near holder. Node lookups (find_node, put, replication) and
     * lookups with lookup_stale_stop keep XOR order: the first must hear
     * from all k closest, and the order only decides which reply comes
     * last; the second would end early. A full bucket replaces its
     * slowest bad node first either way. 1 (the default) on, 0 off. */
    int proximity;
    /* Regions (Pastry's; schema/wire.md 5.11). region: the region this
     * node says it is in, 1..65535 (0: none). advertise: the global
     * address it can be reached at from outside its local network (a
     * NAT's forwarded port; family 0: none). Announced in its PONGs; a
     * node that hands this one out gives askers outside its region the
     * global address, those inside (the same region, or the same local
     * network) the address it knows this one by. */
    unsigned region;
    dht_addr_t advertise;
    unsigned timeout_ms;        /* wait for one datagram reply; 1000 */
    unsigned retries;           /* resends after a timeout, 0..5; 2 */
    size_t max_value_size;      /* largest value accepted, bytes; 1 MiB */
    size_t store_max_bytes;     /* cap on bytes of values stored; 256 MiB. Full,
                                   a node shares it fairly: a source (dht_source_t)
                                   holding more than its share (the cap divided by
                                   the number of sources) makes room for the others
                                   first, and a source at its share makes room for
                                   its own new values only from its own (libdht/
                                   store.h has the rules) */
    size_t store_value_cost;    /* what a value counts for at least against
                                   store_max_bytes and its source's share, for what
                                   holding one costs beyond its bytes (its index in
                                   memory, a file): so a flood of tiny values holds
                                   store_max_bytes / store_value_cost values at most;
                                   0..store_max_bytes; 4096 */
    uint64_t store_settle_ms;   /* how long a value is held before a newer value
                                   of its own source may push it out (when that
                                   source is at its share): the copies a put
                                   placed are not thrown out for its later ones,
                                   which go to the next node instead; 3600000 (an
                                   hour: until the holders' first repair round) */
    unsigned store_max_per_key; /* cap on values kept per key, 1..256; 16 */
    uint32_t max_ttl_s;         /* longer TTLs are cut to this; 86400 */
    unsigned max_ops;           /* operations (lookups) in flight; 4096 */
    unsigned rate_limit;        /* requests per second per source, 0 = off; 20000 */
    size_t send_rate_limit;     /* bytes of values per second to one source, 0 = off,
                                   else at least max_value_size; 128 MiB */
    uint64_t seed;              /* randomness (ids, txids, secrets); 0 = from the OS */
    /* Address diversity (schema/wire.md 2.5): a bucket of the routing table
     * holds at most this many nodes of one /24 (IPv4) or /64 (IPv6), so
     * that one party's many addresses take few slots; 0: no limit; 2.
     * Addresses of loopback and private networks are exempt (a test bed,
     * a LAN) unless bucket_subnet_local is 1 (for tests on such addresses). */
    unsigned bucket_subnet_max;
    int bucket_subnet_local;

    /* DHT_ID_RULE_*: with DHT_ID_RULE_PUBLIC, a contact whose id does not
     * fit its address (dht_id_fits_addr) never enters the routing table,
     * and is counted (dht_stats_t.contacts_refused_id); addresses of
     * loopback and private networks are exempt, as in BEP 42, unless
     * DHT_ID_RULE_ALL. Turn it on only in a network whose nodes all made
     * their ids so (dht_id_for_addr): the others are shut out. In the
     * simulator, nodes without an id of their own get fitting ids when it
     * is on. DHT_ID_RULE_OFF (0) by default. */
    int id_rule;

    /* A private network (schema/wire.md 2.4): with a key of
     * DHT_NETWORK_KEY_MIN..DHT_NETWORK_KEY_MAX bytes, every message this
     * node sends (datagram or stream) ends with a DHT_NETWORK_TAG_LEN-byte
     * tag, HMAC-SHA256 under the key, and every message that does not end
     * with a valid one is dropped and counted (dht_stats_t.dropped_unauthenticated):
     * nodes with different keys, or none, never hear each other. dht_new
     * copies the key. NULL and 0: an open network (the default). */
    const uint8_t *network_key;
    size_t network_key_len;

    /* 1: a client node, like BitTorrent's read-only nodes (BEP 43), for a
     * program that joins for a moment (a one-shot command). Its requests
     * carry the client flag (schema/wire.md 2.2): other nodes answer them
     * but never add it to their routing tables, so they never hand it to
     * others, send it requests or store values on it. It refuses STORE
     * requests and keeps no copy of its own puts; it keeps a routing table
     * of its own and does everything else a node does. 0: a full node. */
    int client;

    /* Optional: content-addressed values the embedding program keeps itself
     * (the chunks of files it published, say), served to peers as if they
     * were in the node's store, with a TTL of max_ttl_s. Two calls, both
     * on the loop's thread, neither of which may call back into the node
     * (nor free it); so that no disk read or hash runs inside
     * dht_receive(), the bytes come later:
     *   value_size: a peer wants values under key and the store holds
     *     none. Sets *len and returns 0 if the program has a value whose
     *     SHA-256 is key, else a negative number. Answer from what is at
     *     hand (memory, file metadata): never read the value here.
     *   value_read: a peer wants that value's bytes. Start reading and
     *     return 0, then answer once with dht_value_ready(dht, req, ...),
     *     from the loop's thread, never inside this call; or return a
     *     negative number (the peer is told "not found" at once).
     * Both NULL: no such values. Set both or neither. A program that frees
     * the node stops answering first (reads in flight must not call
     * dht_value_ready on a freed node). */
    int (*value_size)(void *arg, const dht_id_t *key, size_t *len);
    int (*value_read)(void *arg, const dht_id_t *key, uint64_t req);
    void *value_source_arg;

    /* Optional: where the values this node holds for others keep their
     * bytes (on disk, say; dht_storage_t below). Unset (every callback
     * NULL): in the node's memory. The node keeps, in memory, what it
     * needs to know of each value (key, hash, size, age, expiry) either
     * way; store_max_bytes caps the bytes in both cases. */
    dht_storage_t storage;

    /* How often, in seconds, this node checks that each value it holds for
     * others is on the k closest live nodes, storing it on those that lack
     * it (with what is left of its TTL): the repair after nodes die, and
     * the hand-over to nodes that joined closer to its key. A value a peer
     * stored here since it was last checked waits. 0: never. 3600. */
    unsigned replicate_interval_s;

    /* Optional: told, on the loop's thread, when a peer enters (joined = 1)
     * or leaves (joined = 0) the routing table; for logs and metrics. It
     * must not call back into the node. NULL: nobody is told. */
    void (*peer_event)(void *arg, const dht_id_t *id, const dht_addr_t *addr, int joined);
    void *peer_event_arg;

    /* Optional: key-based routing (dht_route(), Pastry's common API), the
     * application's three callbacks, all on the loop's thread, with
     * route_arg:
     *   route_forward: a routed message passes through this node, which
     *     sends it to next, or, when next is this node's own id, delivers
     *     it here. Called at the node that routes it (before it is sent),
     *     at each node that forwards it, and at the node that delivers it
     *     (before route_deliver). It may change the message in place
     *     (msg has room for DHT_ROUTE_MAX bytes; set *len) and returns 0
     *     to let it go on, nonzero to drop it. It must not call into the
     *     node. NULL: every message goes on unchanged.
     *   route_deliver: no verified contact of this node (one that answered
     *     its last request) is closer to key (or the message was forwarded
     *     8 times already): the message
     *     is for it. origin is the node that routed it (the application
     *     may answer with dht_route(origin, ...): a node id is a key, and
     *     the node with that id is the closest to it). Called from the
     *     completion queue, like an operation's callback: it may call
     *     into the node. The bytes are valid during the call only. NULL:
     *     the node delivers nothing, and refuses what would be delivered
     *     here (it still forwards what it knows a closer node for).
     *   route_neighbours: the set of this node's closest verified
     *     contacts (its k nearest to its own id, nearest first; their ids:
     *     a neighbour's new address alone changes nothing) changed: a node
     *     joined or left its neighbourhood (left: once a request to it
     *     went unanswered). Checked every
     *     maintenance tick (5 s) and called, from the completion queue,
     *     when it differs from the last set told (first when the node
     *     has any); nodes are valid during the call only. */
    int (*route_forward)(void *arg, const dht_id_t *key, uint8_t *msg, size_t *len,
                         const dht_id_t *next);
    void (*route_deliver)(void *arg, const dht_id_t *key, const uint8_t *msg, size_t len,
                          const dht_id_t *origin);
    void (*route_neighbours)(void *arg, const dht_node_info_t *nodes, size_t n);
    void *route_arg;
} dht_config_t;

/* Fills cfg with the defaults above. */
DHT_API void dht_config_init(dht_config_t *cfg);

/* How a message travels. The core picks DATAGRAM for anything up to
 * DHT_MAX_DATAGRAM bytes and STREAM (a reliable, ordered byte stream such as
 * TCP to the peer's same port) for larger ones; see schema/wire.md. */
typedef enum dht_transport {
    DHT_TRANSPORT_DATAGRAM = 0,
    DHT_TRANSPORT_STREAM = 1,
} dht_transport_t;

/* Bytes: the largest message libdht sends as a datagram (a private
 * network's tag, DHT_NETWORK_TAG_LEN, comes on top). */
#define DHT_MAX_DATAGRAM 1400

/* What the core needs from its shell. The core calls these from inside the
 * dht_* functions; they must not call back into the core. */
typedef struct dht_io {
    /* Sends one message. buf is valid only during the call. A shell that
     * cannot send returns a negative code; the core then treats the message
     * as lost (a request times out). Required. */
    int (*send)(void *arg, const dht_addr_t *to, dht_transport_t transport, const uint8_t *buf,
                size_t len);
    /* Tells the shell that the core now wants dht_periodic() at when_ms,
     * earlier than any time it reported before (after an API call started
     * work, for instance). May be NULL if the shell polls
     * dht_next_deadline() after every call it makes. */
    void (*wake)(void *arg, uint64_t when_ms);
    /* Returns the current time in ms, for API calls made between two
     * dht_receive()/dht_periodic() calls. May be NULL: the core then uses
     * the last time it was given. */
    uint64_t (*clock)(void *arg);
    void *arg; /* passed to the three functions above */
} dht_io_t;

/* Creates a node. cfg may be NULL for the defaults; io is copied; now_ms
 * is the current time on the caller's clock in milliseconds (any epoch,
 * never decreasing).
 * @return 0 and *out, or DHT_EINVAL for a bad setting or DHT_ENOMEM. */
DHT_API int dht_new(dht_t **out, const dht_config_t *cfg, const dht_io_t *io, uint64_t now_ms);

/* Destroys a node. Every operation still in flight completes with
 * DHT_ECANCELED, then the memory goes: inside this call, or, when called
 * from one of the node's own operation callbacks, once that callback has
 * returned (the dht_receive() or dht_periodic() that ran it then returns
 * without touching the node again). From the callbacks that report
 * DHT_ECANCELED, starting an operation fails with DHT_ECLOSED and calling
 * dht_free() again does nothing. Accepts NULL. */
DHT_API void dht_free(dht_t *dht);

/* Hands the core one received message. from is the sender's listening
 * address (for a stream, the shell learns it from the stream preamble).
 * A malformed, unsolicited or rate-limited message is dropped and counted
 * in dht_stats_t; nothing the bytes say can make the node crash or allocate
 * without bound.
 * @return 0 if the message was accepted, else the reason it was dropped
 *         (DHT_EPROTO, DHT_ENOTFOUND for an unmatched reply, DHT_EBUSY for
 *         rate limiting). Callers may ignore it; it is counted either way. */
DHT_API int dht_receive(dht_t *dht, uint64_t now_ms, const uint8_t *buf, size_t len,
                        const dht_addr_t *from, dht_transport_t transport);

/* Tells the core that the network reported nobody listening at addr: an
 * ICMP "port unreachable" (or host or network unreachable) came back for
 * a datagram sent there. The current attempt of every datagram request in
 * flight to addr times out at once, exactly as it would have at its
 * deadline: a resend when attempts are left (which the network will
 * report the same way), else the end, judged as any timeout, so a node
 * whose port is closed fails its requests within a few round trips
 * instead of their timeouts, and the lookups waiting on it go on: a
 * process that died on a host still up costs no wait. A forged report
 * (whoever can send us ICMP naming both ports) can do no more than a
 * lost datagram. Stream requests are not touched (their connection tells).
 * now_ms as for dht_receive().
 * @return the number of requests cut short; DHT_EINVAL if dht or addr is
 *         NULL. */
DHT_API int dht_unreachable(dht_t *dht, uint64_t now_ms, const dht_addr_t *addr);

/* Runs due timers (timeouts, retries, maintenance) and completes finished
 * operations. @return the time at which it wants to be called again, which
 * may be now_ms when work is waiting; UINT64_MAX if one of the callbacks
 * it ran freed the node (which is then gone). */
DHT_API uint64_t dht_periodic(dht_t *dht, uint64_t now_ms);

/* @return the time dht_periodic() wants to run next, without running it. */
DHT_API uint64_t dht_next_deadline(const dht_t *dht);

/* @return this node's id. */
DHT_API const dht_id_t *dht_self(const dht_t *dht);

/* What one lookup cost; reported with its result. */
typedef struct dht_lookup_stats {
    unsigned hops;     /* referrals from our table to the closest node found */
    unsigned requests; /* requests sent, retries included */
    unsigned replies;  /* replies received */
    unsigned timeouts; /* requests that got no reply after all retries */
    uint64_t duration_ms;
} dht_lookup_stats_t;

/* Adds a node to the routing table without contacting it, as if it had been
 * seen. For restoring a saved table and for building simulated networks.
 * @return 0, or DHT_EINVAL (own id, bad address). */
DHT_API int dht_insert_node(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr,
                            uint64_t now_ms);

/* Copies up to max nodes of the routing table closest to target into out,
 * nearest first, bad nodes left out. @return how many were copied. */
DHT_API size_t dht_closest_nodes(const dht_t *dht, const dht_id_t *target, dht_node_info_t *out,
                                 size_t max);

typedef void (*dht_status_cb)(int status, void *arg);
typedef void (*dht_ping_cb)(int status, const dht_id_t *peer_id, void *arg);
typedef void (*dht_nodes_cb)(int status, const dht_node_info_t *nodes, size_t n,
                             const dht_lookup_stats_t *stats, void *arg);
typedef void (*dht_put_cb)(int status, unsigned stored, void *arg);

/* One value found by dht_get(). */
typedef struct dht_value {
    const uint8_t *data;
    size_t len;
    uint32_t ttl_s; /* seconds left, as the holder reported it */
    dht_id_t hash;  /* SHA-256 of data */
} dht_value_t;

typedef void (*dht_get_cb)(int status, const dht_value_t *values, size_t n, void *arg);

/* Joins the network through one or more known addresses: pings each, then
 * looks up this node's own id so the nodes closest to it learn of it.
 * cb gets 0 when at least one address answered, else DHT_ENOPEERS.
 * @return 0, DHT_EINVAL (n == 0), DHT_EBUSY, DHT_ECLOSED (dht_free() was
 *         called) or DHT_ENOMEM. */
DHT_API int dht_bootstrap(dht_t *dht, const dht_addr_t *addrs, size_t n, dht_status_cb cb,
                          void *arg);

/* Pings addr. cb gets 0 and the peer's id, or DHT_ETIMEDOUT and NULL. */
DHT_API int dht_ping(dht_t *dht, const dht_addr_t *addr, dht_ping_cb cb, void *arg);

/* Iterative FIND_NODE lookup for target: cb gets the k closest nodes that
 * answered, nearest first (status 0), or DHT_ENOPEERS if none did. */
DHT_API int dht_find_node(dht_t *dht, const dht_id_t *target, dht_nodes_cb cb, void *arg);

/* Stores a value under key on the k nodes closest to key (dht_put_ex: on
 * the r closest, opts->copies): a lookup, then a STORE (with the token
 * each node handed out in the lookup) to each; a node that refuses it
 * (full) or does not answer is replaced by the next closest that answered
 * the lookup. The
 * lookup waits for a node among the closest that answers late (loaded,
 * say) until it answers or its last resend goes unanswered, so the value
 * lands on the closest live nodes rather than on those that were fastest;
 * but once as many answered as the put needs (r, at most k/2), a node
 * still silent gets a few adaptive timeouts more only, and the next
 * closest takes its place (a dead node costs a put milliseconds).
 * The value is copied. If key == SHA-256(value), the value is content
 * addressed and every node that stores it checks that. ttl_s is cut to
 * max_ttl_s. This node keeps a copy when it is itself one of the r
 * closest. cb gets 0 and the number of nodes that stored it (at least one),
 * or a negative code and 0: DHT_ENOPEERS when no other node could be
 * reached (then nothing is stored, not even here).
 * @return 0, DHT_EINVAL, DHT_ETOOBIG (len > max_value_size), DHT_EBUSY,
 *         DHT_ECLOSED or DHT_ENOMEM. */
DHT_API int dht_put(dht_t *dht, const dht_id_t *key, const void *value, size_t len, uint32_t ttl_s,
                    dht_put_cb cb, void *arg);

/* Options of dht_put_ex(). Zero them for the defaults. */
typedef struct dht_put_opts {
    /* How many nodes keep the value (r), 1..DHT_MAX_COPIES (above k: k); 0: k
     * (or dht_config_t.lookup_results when set, which also caps r).
     * The k closest stay the lookup's target; the r closest keep the
     * bytes. The value carries r (wire.md 3.4), so that replication keeps
     * it on the r closest live nodes, not on k. */
    unsigned copies;
    /* 1: the caller vouches that key == SHA-256(value) (it has just
     * computed it, as a file store does for its chunks): the value is
     * content addressed and libdht does not hash it again. The nodes
     * that store it still check the claim (a false one is refused there);
     * this node's own copy, if it keeps one, is not checked. 0: libdht
     * hashes the value to find out. */
    int content;
    /* NULL: nobody may delete the value before its TTL ends. Else
     * DHT_DELETE_SECRET_LEN bytes the caller draws at random and keeps:
     * the value carries their SHA-256 (its owner, schema/wire.md 5.10),
     * and dht_delete() with the same secret removes it from its holders.
     * The secret is revealed to the holders by dht_delete: use one per
     * value, or per group of values deleted together (a file's), never
     * again after a delete. */
    const uint8_t *delete_secret;
} dht_put_opts_t;

/* dht_put() with options (opts may be NULL). @return as dht_put(), and
 * DHT_EINVAL when opts->copies is above DHT_MAX_COPIES. */
DHT_API int dht_put_ex(dht_t *dht, const dht_id_t *key, const void *value, size_t len,
                       uint32_t ttl_s, const dht_put_opts_t *opts, dht_put_cb cb, void *arg);

/* One value of dht_put_many(). */
typedef struct dht_put_item {
    dht_id_t key;
    const void *value; /* len bytes, copied */
    size_t len;
    void *arg; /* handed to the callback with this value's outcome */
} dht_put_item_t;

#define DHT_PUT_MANY_MAX 256 /* values one dht_put_many() takes at most */

/* Stores n values (1..DHT_PUT_MANY_MAX), each as dht_put_ex() would, with
 * the same ttl_s and opts: their lookups run in parallel, and once every
 * lookup has ended, the STOREs go out together: the small values bound
 * for the same node travel several to a datagram (STORE_MANY, schema/
 * wire.md 4), the others (over about 1.3 KB) alone as before. Worth it
 * for many small values, a file's small manifest nodes say: fewer
 * datagrams and round trips, and on the receiver one reply per batch,
 * sent once every value of it is kept. cb runs once per item, with that
 * item's arg and outcome (as dht_put's). A value's STOREs wait for the
 * slowest lookup of the batch.
 * @return 0 (every item's cb will run), or DHT_EINVAL / DHT_ETOOBIG (an
 *         item's len over max_value_size) / DHT_EBUSY (more than max_ops
 *         allows in flight) / DHT_ECLOSED / DHT_ENOMEM, and then none runs. */
DHT_API int dht_put_many(dht_t *dht, const dht_put_item_t *items, size_t n, uint32_t ttl_s,
                         const dht_put_opts_t *opts, dht_put_cb cb);

/* Options of dht_get_ex(). Zero them for the defaults. */
typedef struct dht_get_opts {
    unsigned max_values; /* stop once this many distinct values are in; 0 = all */
    /* Only values stored after a time: at most max_age_s seconds old,
     * counted from when the value was first stored in the network (its
     * copies made by replication carry its age along, schema/wire.md
     * 5.5); values a node's program serves itself (value_size), which
     * have no age, are left out. 0: any age. */
    uint32_t max_age_s;
    /* A page: each holder's values (oldest first, those max_age_s leaves)
     * from this index on; with max_values, the page's size. Holders that
     * hold the same values page alike. 0..32767; 0: from the first. */
    uint16_t first;
} dht_get_opts_t;

#define DHT_GET_MAX_VALUES 64 /* distinct values one dht_get() collects at most */

/* Finds every value stored under key (up to DHT_GET_MAX_VALUES of them): an iterative FIND_VALUE
 * lookup that collects values from the k closest nodes, fetching large values (those announced by
 * hash) from one holder each, another one on failure. Values are deduplicated by hash. A value
 * whose hash equals key ends the lookup at once (nothing else can be stored under a content
 * address); a value that claims to be content addressed and is not is dropped. Until it holds
 * a verified value, the lookup waits for the closest nodes that answer late (past the adaptive
 * timeout) until they answer or their resends run out (unless lookup_stale_stop ends it), rather
 * than report DHT_ENOTFOUND while they may hold it; so a get of a key nobody holds waits out the
 * resends of the dead among the closest that the routing table does not know as bad yet (about
 * a second each time with the default timeout_ms and retries). cb gets 0 and the
 * values (n >= 1), or DHT_ENOTFOUND, or DHT_ENOPEERS. dht_get_ex() takes options (opts may be
 * NULL; DHT_EINVAL for opts->first above 32767). @return 0, DHT_EINVAL, DHT_EBUSY, DHT_ECLOSED or
 * DHT_ENOMEM. */
DHT_API int dht_get(dht_t *dht, const dht_id_t *key, dht_get_cb cb, void *arg);
DHT_API int dht_get_ex(dht_t *dht, const dht_id_t *key, const dht_get_opts_t *opts, dht_get_cb cb,
                       void *arg);

/* ---- delete (schema/wire.md 5.10) ---- */

#define DHT_DELETE_SECRET_LEN 32

/* What the nodes a dht_delete asked said. */
typedef struct dht_delete_result {
    unsigned deleted;  /* held the value and removed it (this node included) */
    unsigned not_held; /* hold no such value */
    unsigned refused;  /* hold it and keep it: it has another owner, or none (it
                        * was stored without a delete secret, or by two publishers) */
    unsigned silent;   /* answered the lookup, then not the DELETE (gone, or an
                        * older version, which drops DELETEs) */
} dht_delete_result_t;

typedef void (*dht_delete_cb)(int status, const dht_delete_result_t *r, void *arg);

/* Deletes the value (key, hash) that this program put with
 * dht_put_opts_t.delete_secret = secret, before its TTL ends: a lookup
 * of key, then a DELETE carrying the secret to every node that answered
 * it (the k closest and the farther ones met on the way, where stale
 * copies live), and the removal of this node's own copy. A holder
 * removes the value when SHA-256(secret) is the value's owner, and then
 * keeps a tombstone until the value would have expired, so that a copy
 * replication brings back from a node the DELETE missed is refused, and
 * that node is sent the DELETE in turn (wire.md 5.10). cb gets 0 and the
 * counts once every node asked has answered or timed out, or
 * DHT_ENOPEERS (nobody answered; r counts this node only).
 * @return 0 (cb will run), DHT_EINVAL, DHT_EBUSY, DHT_ECLOSED or
 *         DHT_ENOMEM. */
DHT_API int dht_delete(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                       const uint8_t secret[DHT_DELETE_SECRET_LEN], dht_delete_cb cb, void *arg);

/* ---- provider records (schema/wire.md 5.9) ---- */

/* A node that serves a key's content: its address as the nodes it
 * announced itself to saw it, with the port it named. */
typedef struct dht_provider {
    dht_addr_t addr;
    uint32_t ttl_s; /* seconds left before the record expires */
} dht_provider_t;

#define DHT_PROVIDES_MAX 4096 /* keys one node announces at once, at most */

/* Announces this node as a provider of key's content (BEP 5's
 * announce_peer): a lookup of key, then a PROVIDE (with the token each
 * node handed out) to the k closest that answered, which keep a provider
 * record of the address the PROVIDE came from, with `port` (1..65535),
 * for ttl_s (cut to max_ttl_s); a node that refuses or does not answer is
 * replaced by the next closest. The node then announces it again a minute
 * later (one made while the node joins reaches few nodes), then every
 * half ttl_s (at most every replicate_interval_s), until dht_unprovide:
 * holders never replicate records, so a provider that is gone is
 * forgotten once its records' TTL ends (keep ttl_s a few renewals long).
 * A node keeps 8 records per key at most, and never in a value's place
 * (DHT_EREJECTED past that). A node never keeps a record of its own. cb gets 0 and the nodes that
 * took it, or a negative code and 0 (DHT_ENOPEERS: none). Announcing a key again replaces its port
 * and ttl_s.
 * @return 0, DHT_EINVAL (port 0, ttl_s 0, NULL arguments), DHT_EBUSY (too
 *         many ops, or DHT_PROVIDES_MAX keys announced), DHT_ECLOSED or
 *         DHT_ENOMEM. */
DHT_API int dht_provide(dht_t *dht, const dht_id_t *key, uint16_t port, uint32_t ttl_s,
                        dht_put_cb cb, void *arg);

/* Withdraws dht_provide(key): no more announcements, and a PROVIDE with
 * ttl 0 to the k closest, which drop the record of this node's address
 * and port (cb as dht_provide's; cb may be NULL: then nothing is sent,
 * the records just expire). @return 0, DHT_ENOTFOUND (key not
 * announced), or DHT_EBUSY / DHT_ECLOSED / DHT_ENOMEM (nothing sent, and
 * the key stays announced). */
DHT_API int dht_unprovide(dht_t *dht, const dht_id_t *key, dht_put_cb cb, void *arg);

/* The providers of key that the k closest nodes know (each once, up to
 * DHT_GET_MAX_VALUES), as dht_get finds values: a FIND_PROVIDERS lookup.
 * Records are not checked beyond their form: a provider is a hint, what
 * it serves must be verified (a content-addressed value is). cb gets 0
 * and the providers (n >= 1), or DHT_ENOTFOUND (none), or DHT_ENOPEERS.
 * @return 0, DHT_EINVAL, DHT_EBUSY, DHT_ECLOSED or DHT_ENOMEM. */
typedef void (*dht_providers_cb)(int status, const dht_provider_t *providers, size_t n, void *arg);
DHT_API int dht_find_providers(dht_t *dht, const dht_id_t *key, dht_providers_cb cb, void *arg);

/* Fetches one value, (key, hash) (hash NULL: the content-addressed one,
 * hash == key), from the node at addr alone (a provider, say; no lookup):
 * a FIND_VALUE, then, for a value too large to come inline, a GET_VALUE
 * with the token it brought (by stream when large). The bytes are
 * checked as dht_get checks them. cb gets 0 and the value (n == 1), or
 * DHT_ENOTFOUND (the node does not have it, or served bytes that do not
 * verify), DHT_ENOPEERS (it did not answer).
 * @return 0, DHT_EINVAL, DHT_EBUSY, DHT_ECLOSED or DHT_ENOMEM. */
DHT_API int dht_get_from(dht_t *dht, const dht_addr_t *addr, const dht_id_t *key,
                         const dht_id_t *hash, dht_get_cb cb, void *arg);

/* Leaves the network gracefully: hands each value this node holds for
 * others to those of the nodes closest to its key that lack it (the check
 * replication makes, for all of them at once, 32 at a time), for at most
 * max_ms. cb gets 0 once every value was checked, DHT_ETIMEDOUT when
 * max_ms ran out first, or DHT_ECANCELED from dht_free() when the node is
 * freed first; never inside this call. The node works as usual meanwhile;
 * free it after cb (not inside it). dht_stats_t.replica_stores counts the
 * copies handed over.
 * @return 0, DHT_EINVAL (cb NULL), DHT_EBUSY (a leave is under way),
 * DHT_ECLOSED or DHT_ENOMEM. */
DHT_API int dht_leave(dht_t *dht, uint32_t max_ms, dht_status_cb cb, void *arg);

/* Counts the nodes that hold a value: of the k nodes closest to key that
 * answer a lookup (FIND_VALUE, waiting for late nodes as a put's does),
 * those whose reply lists the value hash (NULL: the content-addressed one,
 * hash == key), and this node when it holds it (in its store, or served by
 * its program's value source). cb gets 0, holders and answered (the
 * closest nodes that answered, this one included when it holds it), or
 * DHT_ENOPEERS (nobody answered) and zeros. A holder whose reply lists
 * the value among many (more than one reply carries) may not be counted.
 * @return 0, DHT_EINVAL, DHT_EBUSY, DHT_ECLOSED or DHT_ENOMEM. */
typedef void (*dht_holders_cb)(int status, unsigned holders, unsigned answered, void *arg);
DHT_API int dht_count_holders(dht_t *dht, const dht_id_t *key, const dht_id_t *hash,
                              dht_holders_cb cb, void *arg);

/* Routes msg[0..len) (len <= DHT_ROUTE_MAX) to the node closest to key,
 * whose route_deliver (dht_config_t) gets it: Pastry's route(). By lookup
 * then send (schema/wire.md 4, ROUTE): an iterative FIND_NODE lookup of
 * key (alpha in flight, past dead nodes, as dht_find_node's), then one
 * ROUTE datagram to the closest node that answered it (the next closest
 * if that one does not answer its resends); this node delivers it itself
 * when it is closer to key than every node that answered (not a client),
 * unless its table holds a verified node closer still (one slow in the
 * lookup), which gets it first (and if silent, this node delivers it).
 * A node that receives it and knows a verified node closer still (the
 * lookup's view was stale) forwards it there, hop by hop, 8 hops at most.
 * route_forward is called here first (it may change or drop it). cb gets
 * the outcome as the node the message reached answered it: 0 and that
 * node's id (delivered there; this node's own when delivered here),
 * DHT_ROUTE_FORWARDED and the next hop's id (that node passed it on
 * towards one closer; no word comes back from farther on), or a negative
 * code and NULL: DHT_EREJECTED (an application's route_forward dropped it,
 * or the node it reached delivers nothing, or has too many operations in
 * flight to queue the delivery), DHT_ENOPEERS (no node answered
 * the lookup), DHT_ETIMEDOUT (no node that answered it took the message).
 * A ROUTE whose answer was lost is sent again; the node that receives it
 * again (from the same address, with the same txid, sender, key, origin
 * and message) answers as before and neither forwards
 * nor delivers it twice (it remembers its last 64 answers). Best effort,
 * as Pastry's: a node that took a message and whose every answer was lost
 * looks dead, and the next closest gets the message too.
 * @return 0, DHT_EINVAL, DHT_ETOOBIG (len > DHT_ROUTE_MAX), DHT_EBUSY,
 *         DHT_ECLOSED or DHT_ENOMEM. */
#define DHT_ROUTE_FORWARDED 1
typedef void (*dht_route_cb)(int status, const dht_id_t *node, void *arg);
DHT_API int dht_route(dht_t *dht, const dht_id_t *key, const void *msg, size_t len, dht_route_cb cb,
                      void *arg);

/* Answers value_read's request req (dht_config_t) with the value's bytes
 * (data[0..len), read during the call only), or with data NULL when the
 * program could not read it: the peer is told "not found". The node checks
 * that the bytes hash to the key (one SHA-256, here, on the caller's
 * thread), and drops and counts them (dropped_bad_value) when they do not.
 * A resent request does not ask the program again; while 256 reads wait,
 * more are answered "busy" (schema/wire.md, error 7). An answer to a request the node
 * gave up on (it waits DHT_SOURCE_WAIT_MS) is ignored. Not after
 * dht_free().
 * @return 0, or DHT_ENOTFOUND (req unknown, or given up on). */
DHT_API int dht_value_ready(dht_t *dht, uint64_t req, const uint8_t *data, size_t len);

/* Answers the storage's write request req (dht_storage_t): status 0 once
 * the bytes are safe, negative if they could not be kept. On 0 the node
 * holds the value from now on and tells the storer it stored it, unless
 * the value was dropped while it was written (its delete may have raced
 * the write), has expired, or no longer fits: then drop() is called for it
 * (again) and the storer is told "full". A write is waited for however
 * long it takes.
 * @return 0, or DHT_ENOTFOUND: req is unknown (answered already). Not
 * after dht_free(). */
DHT_API int dht_held_written(dht_t *dht, uint64_t req, int status);

/* Tells a node whose storage already keeps v (found on disk at start, say)
 * that it holds it: v enters the index, with its age and TTL, and no
 * write is asked. Values farther from the node's id may be evicted (drop)
 * to make room.
 * @return 0, DHT_EINVAL (no storage configured, or v NULL or expired),
 *         DHT_ETOOBIG, DHT_EBUSY (no room without evicting closer keys)
 *         or DHT_ENOMEM. */
DHT_API int dht_held_add(dht_t *dht, const dht_held_t *v);

/* Forgets the value (key, hash) (its bytes were found damaged, say);
 * with a storage, drop() is called for it.
 * @return 0 or DHT_ENOTFOUND. */
DHT_API int dht_held_remove(dht_t *dht, const dht_id_t *key, const dht_id_t *hash);

/* Calls fn(v, arg) for each value the node holds (unexpired ones), in no
 * particular order, until fn returns nonzero; fn must not call into the
 * node. @return fn's nonzero result, or 0. */
DHT_API int dht_held_foreach(dht_t *dht, int (*fn)(const dht_held_t *v, void *arg), void *arg);

/* How long the node keeps a value_read request waiting for its answer. */
#define DHT_SOURCE_WAIT_MS 30000

/* Counters of one node. */
typedef struct dht_stats {
    uint64_t msgs_sent, msgs_received; /* datagrams and stream messages */
    uint64_t bytes_sent, bytes_received;
    uint64_t stream_msgs_sent, stream_msgs_received;
    uint64_t send_errors;
    uint64_t dropped_malformed;       /* failed to parse */
    uint64_t dropped_unsolicited;     /* reply matching no request */
    uint64_t dropped_unauthenticated; /* private network: no valid tag (another
                                       * network's, or an outsider's message) */
    uint64_t dropped_rate_limited;
    uint64_t dropped_bad_token;  /* STORE with a wrong or stale token */
    uint64_t dropped_bad_value;  /* content-addressed value that did not verify */
    uint64_t bad_servers;        /* nodes a get banned for the rest of it: they served
                                    or announced a value that did not verify */
    uint64_t refused_over_share; /* STOREs refused: the store was full and their source
                                    held its share of it (dht_config_t.store_max_bytes) */
    uint64_t rpc_timeouts;       /* attempts that got no reply in time */
    uint64_t rpc_unreachable;    /* attempts the network said were lost (dht_unreachable) */
    uint64_t lookups_done;
    uint64_t client_requests; /* requests served to client nodes (kept out of the table) */
    /* Replies cut short or not sent, and values refused, because their
     * source had not proven its address and had sent fewer bytes
     * (schema/wire.md 2.3); values refused over cfg.send_rate_limit. */
    uint64_t refused_unproven, refused_send_rate;
    /* Updates of the routing table refused by cfg.id_rule (a contact's id
     * did not fit its address): one contact heard from often counts often. */
    uint64_t contacts_refused_id;
    uint64_t padding_bytes_sent; /* of the requests it sent, resends included: the
                                  * price of the rule above (a token saves it) */
    size_t nodes, nodes_good, nodes_questionable, nodes_bad, buckets;
    size_t values, value_bytes; /* held for others (provider records not counted) */
    size_t provider_records, provider_record_bytes; /* held for others (wire.md 5.9) */
    uint64_t replications;                          /* values checked by replication */
    uint64_t replica_stores; /* copies replication stored on nodes that lacked them */
    /* Routed messages (dht_route): delivered to this node's application,
     * passed on to a closer node, refused (route_forward dropped it, or no
     * route_deliver). */
    uint64_t routes_delivered, routes_forwarded, routes_refused;
    /* STORE_MANYs sent (several small values for one node in a datagram,
     * dht_put_many and replication), and the values they carried. */
    uint64_t store_batches_sent, batched_values_sent;
    /* Deletes (wire.md 5.10): values this node removed at their owner's
     * DELETE, DELETEs it refused (the value has another owner, or none),
     * STOREs it refused because their value's owner deleted it here, and
     * the tombstones it keeps for those. */
    uint64_t values_deleted, deletes_refused, refused_deleted;
    size_t tombstones;
    size_t ops_in_flight, rpcs_in_flight;
} dht_stats_t;

/* Fills *out with the node's counters as of now_ms. */
DHT_API void dht_get_stats(const dht_t *dht, uint64_t now_ms, dht_stats_t *out);

/* Saved peers: a node that writes its peers to disk before it stops can
 * rejoin through them when it starts again, with no bootstrap address.
 * The bytes are the format of schema/peers.md ("EMPL", version 1): a
 * count, then per peer its id, family, address and port. */
#define DHT_PEERS_MAX       256                      /* peers one list holds at most */
#define DHT_PEERS_MAX_BYTES (7 + DHT_PEERS_MAX * 51) /* a list of DHT_PEERS_MAX IPv6 peers */

/* Writes the peers worth trying after a restart into buf[0..cap): the
 * routing table's good nodes, then its questionable nodes that answered
 * this node at some time, nearest to the own id first within each group,
 * DHT_PEERS_MAX at most. Bad nodes are left out, and so are nodes only
 * named in others' replies and never heard from themselves. now_ms is the
 * current time on the node's clock (what dht_periodic() is given). buf may
 * be NULL when cap is 0, to learn the size; DHT_PEERS_MAX_BYTES is always
 * enough. The node is not changed.
 * @return the number of peers written (0..DHT_PEERS_MAX; an empty table
 *         writes a list of 0), with *len set to the bytes written;
 *         DHT_ETOOBIG if cap is too small (then *len is the size needed and
 *         buf is untouched); DHT_EINVAL (dht or len NULL, or buf NULL with
 *         cap > 0); DHT_ENOMEM. */
DHT_API int dht_export_peers(const dht_t *dht, uint64_t now_ms, uint8_t *buf, size_t cap,
                             size_t *len);

/* Rejoins the network through a list written by dht_export_peers() (by
 * this node or another one). Checks all of buf[0..len) first: a wrong
 * magic or version, a count over DHT_PEERS_MAX or over what the bytes
 * hold, a family other than DHT_AF_INET / DHT_AF_INET6, a port 0, or bytes
 * left over make it DHT_EPROTO, and then nothing at all is done. Otherwise
 * it works as dht_bootstrap() on the saved addresses: pings each saved
 * peer (expecting the saved id: a node of the table under that id that
 * stays silent counts as failed), then looks up this node's own id through
 * those that answered. Nothing enters the routing table before it has
 * answered. Entries under this node's own id and repeats of an id are
 * skipped. buf is not kept. cb gets 0 when at least one peer answered,
 * else DHT_ENOPEERS.
 * @return 0; DHT_EPROTO (malformed: nothing started); DHT_ENOPEERS (well
 *         formed but no peer to try: nothing started); DHT_EINVAL (dht or
 *         cb NULL, or buf NULL with len > 0); DHT_EBUSY, DHT_ECLOSED or
 *         DHT_ENOMEM. */
DHT_API int dht_import_peers(dht_t *dht, const uint8_t *buf, size_t len, dht_status_cb cb,
                             void *arg);

/* Streams, for shells (schema/wire.md section 6). A message larger than
 * DHT_MAX_DATAGRAM goes to the peer's port over a reliable byte stream
 * (TCP): the connecting side first writes a preamble naming its own
 * listening port, then frames, each a 4-byte little-endian length and one
 * message. The acceptor hands each frame to dht_receive() with transport
 * DHT_TRANSPORT_STREAM and, as `from`, the connection's source address with
 * the preamble's port. A connection carries messages one way only. */
#define DHT_STREAM_PREAMBLE  8 /* bytes */
#define DHT_STREAM_FRAME_HDR 4 /* bytes: the frame's length, little-endian */

/* Writes the preamble of a connection opened by a node listening on port. */
DHT_API void dht_stream_preamble(uint8_t out[DHT_STREAM_PREAMBLE], uint16_t port);

/* Checks a received preamble. @return 0 and *port (the peer's listening
 * port), or DHT_EPROTO: the shell then closes the connection and calls
 * dht_stream_dropped(). */
DHT_API int dht_stream_preamble_parse(const uint8_t in[DHT_STREAM_PREAMBLE], uint16_t *port);

/* Writes the header of a frame of len bytes. */
DHT_API void dht_stream_frame_header(uint8_t out[DHT_STREAM_FRAME_HDR], uint32_t len);

/* Reads a frame header as this node judges it: a length of 0 or above the
 * largest message the node accepts (max_value_size + 128) breaks the
 * format. @return 0 and *len, or DHT_EPROTO: the shell then closes the
 * connection, before allocating anything, and calls dht_stream_dropped(). */
DHT_API int dht_stream_frame_len(const dht_t *dht, const uint8_t in[DHT_STREAM_FRAME_HDR],
                                 size_t *len);

/* Counts a stream the shell closed because its bytes broke the format, as
 * a malformed message (dht_stats_t.dropped_malformed). */
DHT_API void dht_stream_dropped(dht_t *dht);

/* ------------------------------------------------------------------------ */
/* 3. The libuv shell                                                       */
/* ------------------------------------------------------------------------ */

struct uv_loop_s;
typedef struct dht_uv dht_uv_t;

/* Starts a node on loop: a UDP socket and a TCP listener on the same
 * address and port (port 0 picks a free one, the same for both). The
 * shell writes to TCP sockets a peer may close: the program should ignore
 * SIGPIPE, as libuv programs do.
 * bind_addr is "HOST:PORT" (numeric); "[::]:PORT" listens on IPv4 and
 * IPv6 at once (dual stack, IPV6_V6ONLY off whatever the system's
 * default): IPv4 peers reach the core as IPv4 addresses, and it may send
 * to both families. cfg may be NULL.
 * @return 0 and *out; when the sockets cannot be bound, why:
 *         DHT_EADDRINUSE, DHT_EACCES (a privileged port, say),
 *         DHT_EADDRNOTAVAIL (not an address of this machine, or its family
 *         is not supported), else DHT_EADDR (also: unparsable); or
 *         DHT_EINVAL, DHT_ENOMEM, DHT_EIO. */
DHT_API int dht_uv_new(dht_uv_t **out, struct uv_loop_s *loop, const dht_config_t *cfg,
                       const char *bind_addr);

/* Options of dht_uv_new_ex(). */
#define DHT_UV_MAX_SOCKETS 16
typedef struct dht_uv_options {
    /* UDP sockets on the node's port, 1..DHT_UV_MAX_SOCKETS: more than
     * one are bound with SO_REUSEPORT (as Emo's listeners), the kernel
     * spreads the senders over them, and all feed the one core on the
     * loop's thread; datagrams go out through the first. 1. */
    unsigned sockets;
    /* 1: datagrams the core sends while the loop works are sent together,
     * as many as 64 per system call (sendmmsg, on Linux; elsewhere one
     * sendto each), in the check phase of the same loop iteration; 0: one
     * sendto each, at once. 1. */
    int batch_sends;
} dht_uv_options_t;

/* Fills opts with the defaults above. */
DHT_API void dht_uv_options_init(dht_uv_options_t *opts);

/* dht_uv_new() with options (NULL: the defaults). @return as dht_uv_new(),
 * and DHT_EINVAL for sockets out of range. */
DHT_API int dht_uv_new_ex(dht_uv_t **out, struct uv_loop_s *loop, const dht_config_t *cfg,
                          const char *bind_addr, const dht_uv_options_t *opts);

/* @return the core driven by this shell, for the dht_* calls above; call
 * them from the loop's thread only. */
DHT_API dht_t *dht_uv_dht(dht_uv_t *node);

/* Sets *out to the address the node listens on (the real port if 0 was
 * asked). */
DHT_API void dht_uv_addr(const dht_uv_t *node, dht_addr_t *out);

/* Closes the node, as uv_close() closes a handle: operations in flight
 * complete with DHT_ECANCELED (inside this call, or, when called from one
 * of the node's own callbacks, once that callback has returned), the
 * sockets close, and once libuv has released them the node is freed and
 * close_cb(arg) runs (close_cb may be NULL). Safe to call from any of the
 * node's callbacks. After this call, use neither node nor its dht_t; a
 * second call (from a DHT_ECANCELED callback, say) does nothing. Accepts
 * NULL. */
DHT_API void dht_uv_close(dht_uv_t *node, void (*close_cb)(void *arg), void *arg);

/* ------------------------------------------------------------------------ */
/* 4. The simulator                                                         */
/* ------------------------------------------------------------------------ */

typedef struct dht_sim dht_sim_t;

#define DHT_SIM_MAX_REGIONS 64 /* dht_sim_config_t.regions */

typedef struct dht_sim_config {
    uint64_t seed;         /* same seed, same run */
    double loss;           /* share of datagrams lost, 0..1 */
    unsigned delay_min_ms; /* one-way delay of a datagram, uniform in [min, max] */
    unsigned delay_max_ms;
    /* A latency model of regions (continents, say): node i is in region
     * i % regions, the regions sit on a ring, and a message between two
     * regions d steps apart on it takes d * region_delay_ms more, one
     * way. A region's nodes have addresses of their own, as sites do
     * (dht_sim_node_addr: a /16 of 10.0.0.0/8 holds one region's). 0 or 1
     * region: none (the default); at most DHT_SIM_MAX_REGIONS. */
    unsigned regions;
    unsigned region_delay_ms;
    double stream_mib_s; /* stream bandwidth for large messages; 100 */
    dht_config_t node;   /* settings of every node (seed, id are set per node) */
} dht_sim_config_t;

/* Fills cfg with: seed 1, no loss, delay 5..50 ms, 100 MiB/s, node defaults. */
DHT_API void dht_sim_config_init(dht_sim_config_t *cfg);

/* @return 0 and *out, DHT_EINVAL or DHT_ENOMEM. */
DHT_API int dht_sim_new(dht_sim_t **out, const dht_sim_config_t *cfg);

/* Frees the simulator and all its nodes. Accepts NULL. */
DHT_API void dht_sim_free(dht_sim_t *sim);

/* Adds a node with a random id (from the seed) and a unique simulated
 * address; a simulator holds 8,388,608 (2^23) nodes at most.
 * @return its index (0, 1, ...), or a negative code (DHT_EINVAL past
 *         that many). */
DHT_API int dht_sim_add_node(dht_sim_t *sim);

/* Adds a node as dht_sim_add_node does, with settings cfg instead of the
 * simulator's (its seed is still drawn from the simulator's seed, and its
 * id too unless cfg->has_id: then it is cfg->id, which no other node may
 * have; with cfg->id_rule on, a drawn id fits the node's address): for a
 * node with a value source of its own, or a Sybil placed next to a key.
 * @return its index, or a negative code (DHT_EINVAL for a NULL cfg). */
DHT_API int dht_sim_add_node_with(dht_sim_t *sim, const dht_config_t *cfg);

/* @return how many nodes were added, removed ones included (the indexes
 * run from 0 to this - 1). */
DHT_API size_t dht_sim_node_count(const dht_sim_t *sim);

/* @return node i's core, for dht_* calls, or NULL if i is out of range or
 * the node was removed. */
DHT_API dht_t *dht_sim_node(dht_sim_t *sim, size_t i);

/* Sets *out to node i's simulated address. @return 0 or DHT_EINVAL. */
DHT_API int dht_sim_node_addr(const dht_sim_t *sim, size_t i, dht_addr_t *out);

/* Takes node i off the network (its messages are lost) or puts it back.
 * @return 0, or DHT_EINVAL (out of range or removed). */
DHT_API int dht_sim_set_online(dht_sim_t *sim, size_t i, int online);

/* Delays every message node i sends by ms more than the network's delay
 * (0..600000; 0 by default): a node that answers late, being loaded or far
 * away, but answers. @return 0, or DHT_EINVAL (out of range, removed, or ms
 * too large). */
DHT_API int dht_sim_set_extra_delay(dht_sim_t *sim, size_t i, unsigned ms);

/* A liar, for tests of hostile networks: every VALUE and VALUES reply
 * node i sends (a value's bytes, answering GET_VALUE; the values or
 * summaries answering FIND_VALUE) reaches its receiver with its last byte
 * flipped, so that the value it ends with fails verification (or, in a
 * private network, the message fails authentication); on 0 its replies
 * go out as sent.
 * @return 0, or DHT_EINVAL (out of range or removed). */
DHT_API int dht_sim_set_liar(dht_sim_t *sim, size_t i, int on);

/* Removes node i for good, as a node that leaves: frees its core (its
 * operations in flight complete with DHT_ECANCELED inside this call),
 * messages to its address are lost, and dht_sim_node(sim, i) returns NULL
 * from now on. Indexes of the other nodes do not change; the count does
 * not drop. For churn. Not from inside a callback of node i. A program
 * whose value source answers node i later (dht_value_ready) stops doing
 * so first.
 * @return 0, or DHT_EINVAL (out of range or removed already). */
DHT_API int dht_sim_remove_node(dht_sim_t *sim, size_t i);

/* Fills every routing table (of nodes not removed) from the global view of
 * the network, as if
 * every node had learned the best node of each of its buckets: for each
 * node and bucket, up to k nodes that belong there. No message is sent. */
DHT_API int dht_sim_fill_tables(dht_sim_t *sim);

/* @return the virtual time, in milliseconds since the simulation began. */
DHT_API uint64_t dht_sim_now(const dht_sim_t *sim);

/* Runs events in time order until done(arg) returns nonzero (checked after
 * each event; done may be NULL) or the virtual clock passes until_ms.
 * @return 1 if done() said so, 0 if the time ran out. */
DHT_API int dht_sim_run(dht_sim_t *sim, int (*done)(void *arg), void *arg, uint64_t until_ms);

/* Schedules fn(arg) at virtual time now + delay_ms, among the network's
 * events (after those already due at that time): how a program running
 * on the simulator defers work, or sets a timer. Never calls fn inside
 * this call. A call still pending when the simulator is freed is dropped.
 * @return 0, DHT_EINVAL (sim or fn NULL) or DHT_ENOMEM. */
DHT_API int dht_sim_call(dht_sim_t *sim, uint64_t delay_ms, void (*fn)(void *arg), void *arg);

typedef struct dht_sim_stats {
    uint64_t datagrams_sent, datagrams_lost, datagrams_delivered;
    uint64_t stream_msgs, stream_bytes;
    uint64_t events;
    uint64_t datagram_bytes; /* of the datagrams sent */
    uint64_t padding_bytes;  /* of them, padding (dht_stats_t.padding_bytes_sent of
                              * every node, removed ones included) */
} dht_sim_stats_t;

/* Fills *out with the counters of the simulated network since it began. */
DHT_API void dht_sim_get_stats(const dht_sim_t *sim, dht_sim_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* DHT_H */
