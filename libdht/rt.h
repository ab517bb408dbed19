/*
 * The routing table: k-buckets split along the own id, with a replacement
 * cache per bucket and good / questionable / bad node states.
 *
 * Pure code: no I/O, no clock (times are passed in, milliseconds). The core
 * (node.c) tells the table what it saw; the table never sends anything.
 *
 * Buckets. With nb buckets, bucket i < nb-1 holds the nodes whose common
 * prefix with the own id is exactly i bits; the last bucket holds every node
 * sharing at least nb-1 bits (it is the one that contains the own id). So the
 * buckets tile the whole id space. Only the last bucket splits: when it is
 * full and a node that falls in it is added, it becomes buckets nb-1 and nb.
 * At most 256 buckets; the own id is never in the table.
 *
 * States, as in BitTorrent's BEP 5:
 *   bad          fails >= DHT__RT_BAD_FAILS consecutive requests unanswered;
 *   good         answered one of our requests (at any time), and was heard
 *                from (any message) within DHT__RT_GOOD_MS;
 *   questionable otherwise (never answered us, or silent for too long).
 */
#ifndef DHT_RT_H
#define DHT_RT_H

#include "dht.h"

#define DHT__RT_BAD_FAILS   2
#define DHT__RT_MAX_FAILS   3 /* fails counts no further */
#define DHT__RT_GOOD_MS     (15u * 60u * 1000u)
#define DHT__RT_MAX_BUCKETS 256
#define DHT__RT_MAX_CACHE   DHT_MAX_K /* replacement entries per bucket, at most */
/* How long a contact's token is used as our proof (schema/wire.md 2.3):
 * a node accepts its tokens for at least 5 minutes (one rotation of its
 * secret); the margin covers clocks that run at different speeds. */
#define DHT__RT_TOKEN_MS (4u * 60u * 1000u)

/* A contact as the table's queries hand it out: a copy, unpacked from the
 * table's compact slots (rt.c). */
typedef struct dht__rt_node {
    dht_id_t id;
    dht_addr_t addr;
    uint64_t last_seen; /* last message of any kind from it */
    uint8_t replied;    /* it answered one of our requests at some time */
    uint8_t fails;      /* consecutive requests it left unanswered, up to
                         * DHT__RT_MAX_FAILS */
    uint8_t learned;    /* named in others' replies, never heard from itself */
    uint8_t proven;     /* answered a request of ours at some time, or was
                         * inserted by the application: a request alone
                         * proves nothing (its source address may be forged) */
    uint8_t probing;    /* unproven or bad, and a request of ours (a verification
                         * ping, or any) is on its way: no other ping meanwhile */
    uint8_t slow;       /* left a request unanswered for an adaptive timeout
                         * since it was last heard from: lookups ask it but
                         * do not wait for it */
} dht__rt_node_t;

typedef enum dht__rt_state {
    DHT__RT_GOOD = 0,
    DHT__RT_QUESTIONABLE = 1,
    DHT__RT_BAD = 2,
} dht__rt_state_t;

/* How a node was heard from. */
typedef enum dht__rt_event {
    DHT__RT_QUERY = 0,   /* it sent us a request */
    DHT__RT_REPLY = 1,   /* it answered a request of ours */
    DHT__RT_INSERT = 2,  /* inserted by the application (dht_insert_node) */
    DHT__RT_LEARNED = 3, /* named in another node's reply, never heard from */
} dht__rt_event_t;

/* What dht__rt_update() did. */
typedef enum dht__rt_result {
    DHT__RT_ADDED = 0,   /* new node, now in a bucket */
    DHT__RT_UPDATED = 1, /* already in a bucket; times refreshed */
    DHT__RT_CACHED = 2,  /* bucket full: kept in the replacement cache */
    DHT__RT_IGNORED = 3, /* own id; a good node's address would change; bucket
                          * full and no cache; LEARNED of a known node or with
                          * no free slot */
} dht__rt_result_t;

typedef struct dht__rt dht__rt_t;

/* Address helpers (addr.c). @return 1 if a is of a loopback or private
 * network (127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10, 0/8,
 * ::1, fc00::/7, fe80::/10; IPv4 mapped into IPv6 too), else 0. */
int dht__addr_local(const dht_addr_t *a);

/* @return 1 if a contact with id at addr may enter a table under rule (a
 * DHT_ID_RULE_*: dht.h), else 0. id_rule.c. */
int dht__id_rule_admits(int rule, const dht_id_t *id, const dht_addr_t *addr);

/* @return 1 if a and b are in one /24 (IPv4, mapped or not) or /64 (IPv6;
 * within ::/64, the same address). */
int dht__addr_same_subnet(const dht_addr_t *a, const dht_addr_t *b);

/* @return 1 if a and b are one endpoint: the same port and address, an
 * IPv4 one mapped into IPv6 or not. */
int dht__addr_same_endpoint(const dht_addr_t *a, const dht_addr_t *b);

/* Creates an empty table (one bucket) for own id self, k nodes per bucket
 * (1..DHT_MAX_K) and cache_size replacement entries per bucket
 * (0..DHT__RT_MAX_CACHE). Contacts' ids and addresses go to the table's
 * own store (contacts.h: an arena) until dht__rt_set_contacts.
 * @return the table, or NULL if out of memory or k or cache_size is out
 *         of range. */
dht__rt_t *dht__rt_new(const dht_id_t *self, unsigned k, unsigned cache_size);

/* Keeps contacts' ids and addresses in store cs (copied; it must outlive
 * the table) instead of the table's own. No rule of the table changes.
 * @return 0, or DHT_EINVAL if the table is not as new (it holds a
 *         contact, or has split). */
struct dht__contacts;
int dht__rt_set_contacts(dht__rt_t *rt, const struct dht__contacts *cs);

/* Who hears of nodes entering (added = 1) and leaving (0) the buckets
 * (the replacement caches do not count). Called inside the update. */
typedef void (*dht__rt_listener_fn)(void *arg, const dht__rt_node_t *node, int added);

/* At most max nodes of one /24 (IPv4) or /64 (IPv6) per bucket (0: no
 * limit; the default), for addresses of loopback and private networks
 * too if local is set (else they are exempt). A new node about to enter a
 * bucket where its subnet has max nodes (one it replaces not counted) is
 * IGNORED; INSERT is not checked. Set it on an empty table. */
void dht__rt_set_subnet_limit(dht__rt_t *rt, unsigned max, int local);

/* Sets the id rule (DHT_ID_RULE_*): a contact it does not admit
 * (dht__id_rule_admits) is IGNORED by every update, INSERT included, and
 * counted (dht__rt_refused_id). Set it on an empty table. */
void dht__rt_set_id_rule(dht__rt_t *rt, int rule);

/* @return the contacts the id rule kept out so far. */
uint64_t dht__rt_refused_id(const dht__rt_t *rt);

/* Sets the table's listener (NULL: none). */
void dht__rt_set_listener(dht__rt_t *rt, dht__rt_listener_fn fn, void *arg);

/* Frees the table. Accepts NULL. */
void dht__rt_free(dht__rt_t *rt);

/* @return the state of n at time now. */
dht__rt_state_t dht__rt_state(const dht__rt_node_t *n, uint64_t now);

/* Records that node (id, addr) was heard from at time now.
 * - Known node: last_seen = now; on a REPLY also replied = 1 and
 *   fails = 0. If addr differs, the address is updated unless the node is
 *   good (then the message is IGNORED: a good node does not move), and
 *   the node is no longer proven unless the message is a REPLY or INSERT
 *   (a request from a new address proves nothing).
 * - New node, bucket not full: ADDED.
 * - New node, bucket full: a bad node in it is replaced (ADDED); otherwise,
 *   if it is the last bucket and fewer than 256 buckets exist, the bucket
 *   splits and the insertion is retried; otherwise a learned node (below)
 *   is replaced (ADDED); otherwise the node goes to (or is refreshed in)
 *   the bucket's replacement cache (CACHED; IGNORED when the cache size
 *   is 0). A full cache makes room by pushing out its unproven entry with
 *   the oldest last_seen; when every entry is proven, only a REPLY or
 *   INSERT pushes out the oldest of them, and a QUERY is IGNORED: a flood
 *   of requests from made-up nodes never pushes out a node that answered.
 * A new node starts with fails = 0, last_seen = now and replied = 1
 * for a REPLY, 0 otherwise, proven for a REPLY or INSERT (a known node
 * becomes proven on one); one that comes from the bucket's cache keeps
 * the record it had there (its replied mark, say), then hears this message.
 * Own id: IGNORED.
 * One id per address and port (an IPv4 address mapped into IPv6 or not):
 * a new node about to enter a bucket slot whose address and port another
 * id in a bucket has is IGNORED on a QUERY or LEARNED (unless that one is
 * bad, and goes), and takes its place on a REPLY (the node there answered
 * with a new id: a restart). A known node heard at a new address obeys
 * the same rule and the subnet limit below (IGNORED: it stays where it
 * was). The cache keeps one entry per address and port (a new id there
 * replaces the old one, but an unproven one never a proven one), and a
 * cache entry replaces a bad node (dht__rt_failed) only within the rules.
 * INSERT is not checked (the application knows what it inserts).
 * LEARNED (hearsay: another node named it) is weaker: a node already in the
 * bucket or its cache is left as it is (IGNORED, address and times
 * unchanged); a new one is ADDED only into a free slot of its bucket or a
 * bad node's slot (splitting the last bucket as above), questionable and
 * marked learned, and never replaces a good or questionable node nor
 * enters the cache (IGNORED). A learned node serves our own lookups but is
 * not handed to others (dht__rt_closest_verified) until it is proven
 * (a QUERY, REPLY or INSERT clears the mark, and a QUERY alone leaves the
 * node unproven, so not handed out either), and any node so heard
 * from takes a learned node's slot in a full bucket that cannot split. So
 * hearsay fills empty room only, and what the node has verified always
 * wins.
 * @return what happened, or DHT_ENOMEM (negative) if a split or a slot
 *         could not allocate, or the contact store could not hold the
 *         node's id and address; the table's entries are then unchanged
 *         (its epoch may have moved: rt.c). */
int dht__rt_update(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                   dht__rt_event_t ev);

/* Records that a request to node id went unanswered. When the node thereby
 * becomes bad and its bucket's replacement cache is not empty, the node is
 * replaced at once by the proven cache entry with the newest last_seen, or
 * by the newest entry when none is proven.
 * @return 1 if the node was replaced, 0 if it stays, -1 if id is unknown
 *         (nodes in a cache only are not tracked for failures). */
int dht__rt_failed(dht__rt_t *rt, const dht_id_t *id, uint64_t now);

/* Marks the bucket node id, unproven or bad, as being verified (a ping is
 * on its way); the mark goes when it answers a request or fails one. One
 * ping at a time, however often the node asks us things meanwhile.
 * @return 1 if it was marked now (the caller sends the ping), 0 if id is
 *         not an unproven or bad bucket node, or is marked already. */
int dht__rt_mark_probing(dht__rt_t *rt, const dht_id_t *id);

/* Records that a request of ours to node id is on its way: if id is an
 * unproven bucket node, its reply will prove it, so it takes the mark of
 * dht__rt_mark_probing and no verification ping goes meanwhile.
 * @return 1 if id is a bucket node marked slow (dht__rt_slow), else 0. */
int dht__rt_asking(dht__rt_t *rt, const dht_id_t *id);

/* Clears the mark of dht__rt_mark_probing / dht__rt_asking: a request to
 * id ended without a reply and without counting as a failure (a reply or
 * dht__rt_failed clears it too). */
void dht__rt_unprobe(dht__rt_t *rt, const dht_id_t *id);

/* Records that a request to node id went unanswered for the adaptive
 * timeout (it may be dead): sets its slow mark until it is heard from.
 * Nodes in a cache only are not tracked. */
void dht__rt_slow(dht__rt_t *rt, const dht_id_t *id);

/* Copies the node with this id in a bucket (not the cache) into *out
 * (NULL: not copied). @return 1 if there is one, else 0. */
int dht__rt_find(const dht__rt_t *rt, const dht_id_t *id, dht__rt_node_t *out);

/* @return 1 if a reply from the new node id could enter its bucket (a free
 * slot, a bad or learned node to replace, or the last bucket, which
 * splits), 0 if it would only go to the replacement cache (or id is our
 * own). The address and subnet rules are not consulted. */
int dht__rt_has_room(const dht__rt_t *rt, const dht_id_t *id);

/* Keeps token (8 bytes), which the bucket node id at addr handed us at
 * time now, as the proof our next requests to it carry. Does nothing if id
 * is not a bucket node or is known at another address. */
void dht__rt_set_token(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr,
                       const uint8_t *token, uint64_t now);

/* Copies into out (8 bytes) the token the bucket node id at addr handed us
 * less than DHT__RT_TOKEN_MS before now.
 * @return 1 if it did, 0 if there is none (unknown node, other address,
 *         no token, or too old). */
int dht__rt_token(const dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                  uint8_t *out);

/* Forgets the token of bucket node id (it no longer checks). */
void dht__rt_drop_token(dht__rt_t *rt, const dht_id_t *id);

/* Round-trip times per contact (rt_rtt.c), for proximity: lookups ask,
 * among candidates equally close, the one that answers soonest. */
#define DHT__RT_RTT_UNIT_US 64u /* a stored time's unit: up to 4.2 s */

/* @return srtt (DHT__RT_RTT_UNIT_US; 0: none yet) moved by a new sample
 * (us): RFC 6298's gain, 1/8, rounded; the first sample sets it; never
 * 0, at most UINT16_MAX. */
uint16_t dht__rtt_smooth(uint16_t srtt, uint64_t sample_us);

/* Feeds a reply's round-trip time (us) to table node id's smoothed
 * estimate (RFC 6298's gain, 1/8; the first sample sets it). Nothing if
 * id is not a bucket node (or its bucket's extras cannot be allocated). */
void dht__rt_rtt_sample(dht__rt_t *rt, const dht_id_t *id, uint64_t sample_us);

/* @return table node id's smoothed round-trip time, us, or 0 if it was
 * never measured (or id is not a bucket node). */
uint32_t dht__rt_rtt(const dht__rt_t *rt, const dht_id_t *id);

/* Copies up to max non-bad bucket nodes into out, sorted by XOR distance to
 * target, nearest first. Visits only the buckets it needs (the target's own
 * bucket, then the deeper ones, then the shallower ones in order).
 * @return how many were copied. */
size_t dht__rt_closest(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                       dht__rt_node_t *out, size_t max);

/* Like dht__rt_closest, bad nodes included: for a node whose every
 * contact failed lately, which tries them rather than give up. */
size_t dht__rt_closest_any(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                           dht__rt_node_t *out, size_t max);

/* Like dht__rt_closest, leaving out learned nodes and nodes that left our
 * last request unanswered (fails > 0; until they answer one): what a node
 * hands to others in its replies. A dead node that is not yet bad would
 * otherwise crowd live ones out of every reply near it, and lookups end
 * short of the k closest live nodes. */
size_t dht__rt_closest_verified(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                                dht__rt_node_t *out, size_t max);

/* @return 1 if n is one dht__rt_closest_verified hands out: proven (it
 * answered us once, or the application inserted it), and it answered our
 * last request to it. */
static inline int dht__rt_verified(const dht__rt_node_t *n)
{
    return n->proven && n->fails == 0;
}

/* Counts the bucket nodes (not cache entries) by state. Any pointer may be
 * NULL. @return the total. */
size_t dht__rt_count(const dht__rt_t *rt, uint64_t now, size_t *good, size_t *questionable,
                     size_t *bad);

/* @return the number of buckets, 1..256. */
size_t dht__rt_bucket_count(const dht__rt_t *rt);

/* Bucket i (0 <= i < bucket count) for maintenance and tests: how many
 * nodes and cache entries it holds, the last time a node in it was added
 * or answered us, and, if with_nodes, copies of them (in slot order).
 * @return 0, or DHT_EINVAL if i is out of range. */
typedef struct dht__rt_bucket_view {
    size_t n_nodes;
    size_t n_cache;
    uint64_t last_changed;
    dht__rt_node_t nodes[DHT_MAX_K];
    dht__rt_node_t cache[DHT__RT_MAX_CACHE];
} dht__rt_bucket_view_t;
int dht__rt_bucket(const dht__rt_t *rt, size_t i, dht__rt_bucket_view_t *out, int with_nodes);

/* Sets *out to an id inside bucket i's range: the own id's first i bits,
 * then (for i < count-1) the inverse of the own id's bit i, then bits taken
 * from random[] (DHT_ID_LEN random bytes the caller supplies).
 * @return 0, or DHT_EINVAL if i is out of range. */
int dht__rt_random_id_in_bucket(const dht__rt_t *rt, size_t i, const uint8_t *random,
                                dht_id_t *out);

/* Marks bucket i as refreshed at now (a lookup into it was started). */
void dht__rt_touch_bucket(dht__rt_t *rt, size_t i, uint64_t now);

/* Finds a node worth pinging: a questionable node (the one with the oldest
 * last_seen) in a full bucket whose cache is not empty, and that has not
 * been seen or failed since now - min_age_ms. Copies it to *out.
 * @return 1 if one was found, 0 otherwise. */
int dht__rt_ping_candidate(const dht__rt_t *rt, uint64_t now, uint64_t min_age_ms,
                           dht__rt_node_t *out);

#endif /* DHT_RT_H */
