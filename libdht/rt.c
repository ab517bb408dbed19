/*
 * The routing table: k-buckets split along the own id (see rt.h).
 *
 * Memory is what matters here: the simulator holds up to 100,000 tables in
 * one process. A table is one small struct and a growable array of bucket
 * structs; a bucket's node array (k slots) and cache array (cache_size slots)
 * are allocated only when the first entry arrives, and a split hands a whole
 * array over instead of copying it when every entry moves.
 *
 * Whenever a rule picks one entry among several (the bad node to replace,
 * the cache entry to push out or promote, the node to ping), ties on
 * last_seen are broken by the smaller id, so the outcome never depends on
 * the order of the slots.
 */
#include "rt.h"

#include "id_order.h"

#include <stdlib.h>
#include <string.h>

/* One array of a bucket: its nodes or its replacement cache. A node array
 * holds k nodes followed by k failure times (the time of the last failed()
 * call for the node in the same slot, for dht__rt_ping_candidate()); a cache
 * array holds cache_size nodes only. */
typedef struct slots {
    dht__rt_node_t *v; /* NULL until the first entry */
    unsigned n;
} slots_t;

typedef struct bucket {
    slots_t nodes;
    slots_t cache;
    uint64_t last_changed;
} bucket_t;

#define ENDPOINT_BITS 2048

struct dht__rt {
    dht_id_t self;
    unsigned k;
    unsigned cache_size;
    size_t nb;         /* buckets in use, 1..DHT__RT_MAX_BUCKETS */
    bucket_t *buckets; /* nb of them (the allocation may hold more) */
    dht__rt_listener_fn listener;
    void *listener_arg;
    unsigned subnet_max; /* dht__rt_set_subnet_limit */
    int subnet_local;
    /* The endpoints of bucket nodes, as bits of a hash: a clear bit means
     * no bucket node is there, so the address rules need no scan. Bits of
     * endpoints gone stay set (a scan finds nothing) until a quarter of
     * them is set: then they are made anew from the buckets. */
    uint64_t seen[ENDPOINT_BITS / 64];
    unsigned seen_set;
};

static void tell(const dht__rt_t *rt, const dht__rt_node_t *n, int added)
{
    if (rt->listener != NULL)
        rt->listener(rt->listener_arg, n, added);
}

void dht__rt_set_subnet_limit(dht__rt_t *rt, unsigned max, int local)
{
    rt->subnet_max = max;
    rt->subnet_local = local;
}

void dht__rt_set_listener(dht__rt_t *rt, dht__rt_listener_fn fn, void *arg)
{
    rt->listener = fn;
    rt->listener_arg = arg;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t age(uint64_t now, uint64_t t)
{
    return now > t ? now - t : 0;
}

/* Same family, port and address bytes (4 of them for IPv4). */
static int same_addr(const dht_addr_t *a, const dht_addr_t *b)
{
    size_t len = a->family == DHT_AF_INET ? 4 : sizeof a->ip;

    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, len) == 0;
}

/* @return 1 if a was seen before b (or at the same time with a smaller id). */
static int older(const dht__rt_node_t *a, const dht__rt_node_t *b)
{
    if (a->last_seen != b->last_seen)
        return a->last_seen < b->last_seen;
    return dht_id_cmp(&a->id, &b->id) < 0;
}

/* @return 1 if a was seen after b (or at the same time with a smaller id). */
static int newer(const dht__rt_node_t *a, const dht__rt_node_t *b)
{
    if (a->last_seen != b->last_seen)
        return a->last_seen > b->last_seen;
    return dht_id_cmp(&a->id, &b->id) < 0;
}

static unsigned depth_of(const dht__rt_t *rt, const dht_id_t *id)
{
    return dht_id_common_prefix(&rt->self, id);
}

static size_t bucket_index(const dht__rt_t *rt, const dht_id_t *id)
{
    size_t d = depth_of(rt, id);

    return d < rt->nb - 1 ? d : rt->nb - 1;
}

/* ------------------------------------------------------------------------ */
/* Slot arrays                                                              */
/* ------------------------------------------------------------------------ */

static size_t slots_bytes(const dht__rt_t *rt, int cache)
{
    if (cache)
        return (size_t)rt->cache_size * sizeof(dht__rt_node_t);
    return (size_t)rt->k * (sizeof(dht__rt_node_t) + sizeof(uint64_t));
}

/* @return the failure times of a node array, or NULL for a cache. */
static uint64_t *fail_times(const dht__rt_t *rt, const slots_t *s, int cache)
{
    if (cache || s->v == NULL)
        return NULL;
    return (uint64_t *)(void *)(s->v + rt->k);
}

/* Allocates the array of s if it has none yet. @return 0 or DHT_ENOMEM. */
static int slots_reserve(const dht__rt_t *rt, slots_t *s, int cache)
{
    if (s->v == NULL)
        s->v = malloc(slots_bytes(rt, cache));
    return s->v == NULL ? DHT_ENOMEM : 0;
}

/* @return the slot holding id, or -1. */
static int slots_find(const slots_t *s, const dht_id_t *id)
{
    uint64_t head, h;

    memcpy(&head, id->b, sizeof(head)); /* most slots differ here: no memcmp call */
    for (unsigned i = 0; i < s->n; i++) {
        memcpy(&h, s->v[i].id.b, sizeof(h));
        if (h == head && dht_id_cmp(&s->v[i].id, id) == 0)
            return (int)i;
    }
    return -1;
}

/* Copies slot i of from (and its failure time) to slot j of to. */
static void slot_copy(const dht__rt_t *rt, slots_t *to, unsigned j, const slots_t *from, unsigned i,
                      int cache)
{
    uint64_t *tt = fail_times(rt, to, cache);
    uint64_t *ft = fail_times(rt, from, cache);

    to->v[j] = from->v[i];
    if (tt != NULL)
        tt[j] = ft[i];
}

/* Removes slot i, moving the last entry into its place. */
static void slots_remove(const dht__rt_t *rt, slots_t *s, unsigned i, int cache)
{
    s->n--;
    if (i != s->n)
        slot_copy(rt, s, i, s, s->n, cache);
}

/* @return the slot of the entry seen longest ago, bad ones only if
 *         bad_only, or -1 if there is none. */
static int slots_oldest(const slots_t *s, int bad_only)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++) {
        if (bad_only && s->v[i].fails < DHT__RT_BAD_FAILS)
            continue;
        if (best < 0 || older(&s->v[i], &s->v[best]))
            best = (int)i;
    }
    return best;
}

/* @return the slot of the oldest unproven entry in s, or -1. */
static int slots_oldest_unproven(const slots_t *s)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++)
        if (!s->v[i].proven && (best < 0 || older(&s->v[i], &s->v[best])))
            best = (int)i;
    return best;
}

/* @return the slot of the oldest learned node in s, or -1. */
static int slots_learned(const slots_t *s)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++)
        if (s->v[i].learned && (best < 0 || older(&s->v[i], &s->v[best])))
            best = (int)i;
    return best;
}

static unsigned slots_count_deeper(const dht__rt_t *rt, const slots_t *s, unsigned depth)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->n; i++)
        n += depth_of(rt, &s->v[i].id) > depth;
    return n;
}

/* Moves the entries of from sharing more than depth bits with the own id to
 * the empty slots to. If they all move, to takes the array itself; otherwise
 * to->v must already be allocated (or nothing moves). */
static void slots_move_deeper(const dht__rt_t *rt, slots_t *from, slots_t *to, unsigned depth,
                              unsigned movers, int cache)
{
    unsigned keep = 0;

    if (movers == 0)
        return;
    if (movers == from->n) {
        *to = *from;
        from->v = NULL;
        from->n = 0;
        return;
    }
    for (unsigned i = 0; i < from->n; i++) {
        if (depth_of(rt, &from->v[i].id) > depth)
            slot_copy(rt, to, to->n++, from, i, cache);
        else
            slot_copy(rt, from, keep++, from, i, cache);
    }
    from->n = keep;
}

/* Appends every entry of from to to (which has room: they were one array
 * before a split) and frees from's array. Never allocates. */
static void slots_merge(const dht__rt_t *rt, slots_t *to, slots_t *from, int cache)
{
    if (to->v == NULL) {
        *to = *from;
    } else {
        for (unsigned i = 0; i < from->n; i++)
            slot_copy(rt, to, to->n++, from, i, cache);
        free(from->v);
    }
    from->v = NULL;
    from->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                 */
/* ------------------------------------------------------------------------ */

dht__rt_t *dht__rt_new(const dht_id_t *self, unsigned k, unsigned cache_size)
{
    const size_t per_node = sizeof(dht__rt_node_t) + sizeof(uint64_t);
    dht__rt_t *rt;

    if (k == 0 || k > SIZE_MAX / per_node || cache_size > SIZE_MAX / per_node)
        return NULL;
    rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return NULL;
    rt->buckets = calloc(1, sizeof *rt->buckets);
    if (rt->buckets == NULL) {
        free(rt);
        return NULL;
    }
    rt->self = *self;
    rt->k = k;
    rt->cache_size = cache_size;
    rt->nb = 1;
    return rt;
}

void dht__rt_free(dht__rt_t *rt)
{
    if (rt == NULL)
        return;
    for (size_t i = 0; i < rt->nb; i++) {
        free(rt->buckets[i].nodes.v);
        free(rt->buckets[i].cache.v);
    }
    free(rt->buckets);
    free(rt);
}

dht__rt_state_t dht__rt_state(const dht__rt_node_t *n, uint64_t now)
{
    if (n->fails >= DHT__RT_BAD_FAILS)
        return DHT__RT_BAD;
    if (n->last_reply != 0 && age(now, n->last_seen) < DHT__RT_GOOD_MS)
        return DHT__RT_GOOD;
    return DHT__RT_QUESTIONABLE;
}

/* ------------------------------------------------------------------------ */
/* Splitting                                                                */
/* ------------------------------------------------------------------------ */

/* Splits the last bucket in two: entries sharing exactly nb-1 bits with the
 * own id stay, deeper ones go to a new last bucket.
 * @return 0, or DHT_ENOMEM with the table unchanged. */
static int split(dht__rt_t *rt)
{
    unsigned depth = (unsigned)rt->nb - 1;
    bucket_t *grown, *old, *neu;
    unsigned mn, mc;

    grown = realloc(rt->buckets, (rt->nb + 1) * sizeof *grown);
    if (grown == NULL)
        return DHT_ENOMEM;
    rt->buckets = grown;
    old = &grown[depth];
    neu = &grown[depth + 1];
    memset(neu, 0, sizeof *neu);

    /* Allocate everything first, so that a failure leaves no trace. */
    mn = slots_count_deeper(rt, &old->nodes, depth);
    mc = slots_count_deeper(rt, &old->cache, depth);
    if (mn > 0 && mn < old->nodes.n && slots_reserve(rt, &neu->nodes, 0) < 0)
        return DHT_ENOMEM;
    if (mc > 0 && mc < old->cache.n && slots_reserve(rt, &neu->cache, 1) < 0) {
        free(neu->nodes.v);
        return DHT_ENOMEM;
    }
    slots_move_deeper(rt, &old->nodes, &neu->nodes, depth, mn, 0);
    slots_move_deeper(rt, &old->cache, &neu->cache, depth, mc, 1);
    neu->last_changed = old->last_changed;
    rt->nb++;
    return 0;
}

/* Undoes split(): merges the last bucket back into the one before. */
static void unsplit(dht__rt_t *rt)
{
    bucket_t *prev = &rt->buckets[rt->nb - 2];
    bucket_t *last = &rt->buckets[rt->nb - 1];

    slots_merge(rt, &prev->nodes, &last->nodes, 0);
    slots_merge(rt, &prev->cache, &last->cache, 1);
    rt->nb--;
}

/* ------------------------------------------------------------------------ */
/* Updates                                                                  */
/* ------------------------------------------------------------------------ */

/* @return 1 if a message from addr must be ignored because n is good and
 *         lives elsewhere. */
static int would_move_good(const dht__rt_node_t *n, const dht_addr_t *addr, uint64_t now)
{
    return !same_addr(&n->addr, addr) && dht__rt_state(n, now) == DHT__RT_GOOD;
}

/* Applies a message from a known node (bucket or cache) to n. */
static void heard(dht__rt_node_t *n, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    if (!same_addr(&n->addr, addr)) {
        n->addr = *addr;
        n->proven = 0; /* the new address has proved nothing yet (a forged request?) */
        n->token_at = 0;
    }
    n->last_seen = now;
    n->learned = 0; /* heard from itself */
    n->slow = 0;
    if (ev == DHT__RT_REPLY || ev == DHT__RT_INSERT)
        n->proven = 1;
    if (ev == DHT__RT_REPLY) {
        n->last_reply = now;
        n->fails = 0;
        n->probing = 0; /* a request is no answer to the ping in flight */
    }
}

static void fresh(dht__rt_node_t *n, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                  dht__rt_event_t ev)
{
    memset(n, 0, sizeof *n);
    n->id = *id;
    n->addr = *addr;
    n->last_seen = now;
    n->last_reply = ev == DHT__RT_REPLY ? now : 0;
    n->learned = ev == DHT__RT_LEARNED;
    n->proven = ev == DHT__RT_REPLY || ev == DHT__RT_INSERT;
}

/* @return addr's endpoint's bit in rt->seen (IPv4 mapped or not alike). */
static unsigned endpoint_bit(const dht_addr_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *ip = addr->ip;
    size_t n = 4;
    uint32_t h = 2166136261u;

    if (addr->family == DHT_AF_INET6 && memcmp(ip, mapped, sizeof(mapped)) != 0)
        n = 16;
    else if (addr->family == DHT_AF_INET6)
        ip += 12;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ip[i]) * 16777619u;
    h = (h ^ (addr->port & 0xff)) * 16777619u;
    h = (h ^ (addr->port >> 8)) * 16777619u;
    return (h ^ (h >> 16)) % ENDPOINT_BITS;
}

/* Sets addr's bit. @return 1 if it was clear. */
static int set_seen(dht__rt_t *rt, const dht_addr_t *addr)
{
    unsigned bit = endpoint_bit(addr);
    uint64_t m = (uint64_t)1 << (bit % 64);
    int was_clear = !(rt->seen[bit / 64] & m);

    rt->seen[bit / 64] |= m;
    rt->seen_set += (unsigned)was_clear;
    return was_clear;
}

static void mark_endpoint(dht__rt_t *rt, const dht_addr_t *addr)
{
    if (!set_seen(rt, addr) || rt->seen_set <= ENDPOINT_BITS / 4)
        return;
    memset(rt->seen, 0, sizeof(rt->seen)); /* made anew from what is there */
    rt->seen_set = 0;
    for (size_t bi = 0; bi < rt->nb; bi++)
        for (unsigned i = 0; i < rt->buckets[bi].nodes.n; i++)
            set_seen(rt, &rt->buckets[bi].nodes.v[i].addr);
}

/* Puts a new node into slot i of b's nodes (a free one or a bad or
 * learned node's). A node that was in b's cache moves over with its record
 * (so a reply it gave while cached still counts), then hears this message.
 * The array must exist. */
static void put_node(dht__rt_t *rt, bucket_t *b, unsigned i, const dht_id_t *id,
                     const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    int c = slots_find(&b->cache, id);
    dht__rt_node_t n;

    if (c >= 0) {
        n = b->cache.v[c];
        heard(&n, addr, now, ev);
        slots_remove(rt, &b->cache, (unsigned)c, 1);
    } else {
        fresh(&n, id, addr, now, ev);
    }
    if (i < b->nodes.n)
        tell(rt, &b->nodes.v[i], 0);
    b->nodes.v[i] = n;
    fail_times(rt, &b->nodes, 0)[i] = 0;
    if (i == b->nodes.n)
        b->nodes.n++;
    b->last_changed = now;
    mark_endpoint(rt, &b->nodes.v[i].addr);
    tell(rt, &b->nodes.v[i], 1);
}

/* Keeps a node that found its bucket full in the bucket's cache.
 * @return CACHED, IGNORED if there is no cache, or DHT_ENOMEM. */
static int to_cache(dht__rt_t *rt, bucket_t *b, const dht_id_t *id, const dht_addr_t *addr,
                    uint64_t now, dht__rt_event_t ev)
{
    int c = slots_find(&b->cache, id);
    unsigned i;

    if (c >= 0) {
        heard(&b->cache.v[c], addr, now, ev);
        return DHT__RT_CACHED;
    }
    if (rt->cache_size == 0)
        return DHT__RT_IGNORED;
    /* One entry per endpoint in the cache too: a new id there replaces
     * the old one (rt.h: the address rules). */
    for (unsigned j = 0; j < b->cache.n; j++) {
        if (dht__addr_same_endpoint(&b->cache.v[j].addr, addr)) {
            if (b->cache.v[j].proven && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT)
                return DHT__RT_IGNORED; /* an unproven node never pushes out a proven one */
            fresh(&b->cache.v[j], id, addr, now, ev);
            return DHT__RT_CACHED;
        }
    }
    if (slots_reserve(rt, &b->cache, 1) < 0)
        return DHT_ENOMEM;
    if (b->cache.n < rt->cache_size) {
        i = b->cache.n++;
    } else {
        int victim = slots_oldest_unproven(&b->cache);
        if (victim < 0 && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT)
            return DHT__RT_IGNORED; /* an unproven node never pushes out a proven one */
        i = (unsigned)(victim >= 0 ? victim : slots_oldest(&b->cache, 0));
    }
    fresh(&b->cache.v[i], id, addr, now, ev);
    return DHT__RT_CACHED;
}

/* ---- The address rules (schema/wire.md 2.5) ---- */

/* A bucket node: where it is. */
typedef struct holder {
    bucket_t *b;
    unsigned i;
} holder_t;

/* One node id per address and port (issue 13): finds a bucket node other
 * than id and than `except` (NULL: none) at addr's endpoint. Scans every
 * bucket: it runs only when a node is about to take a slot or move.
 * @return 1 and *h, or 0. */
static int find_holder(const dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr,
                       const dht__rt_node_t *except, holder_t *h)
{
    unsigned bit = endpoint_bit(addr);

    if (!(rt->seen[bit / 64] >> (bit % 64) & 1))
        return 0; /* no bucket node is there */
    for (size_t bi = 0; bi < rt->nb; bi++) {
        bucket_t *b = &rt->buckets[bi];
        for (unsigned i = 0; i < b->nodes.n; i++) {
            const dht__rt_node_t *x = &b->nodes.v[i];
            if (x != except && dht__addr_same_endpoint(&x->addr, addr) &&
                dht_id_cmp(&x->id, id) != 0) {
                *h = (holder_t){b, i};
                return 1;
            }
        }
    }
    return 0;
}

/* @return 1 if the holder h may keep its address against a node heard
 * through ev: against anything but an answer (a restart), unless bad. */
static int holder_stays(const holder_t *h, dht__rt_event_t ev)
{
    return ev != DHT__RT_REPLY && h->b->nodes.v[h->i].fails < DHT__RT_BAD_FAILS;
}

/* @return 1 if a node at addr may not join b's nodes: its /24 or /64
 * holds subnet_max of them already, bad ones, slot `skip` and node
 * `except` (NULL: none) not counted (issue 13: one party's many addresses
 * take few slots). */
static int subnet_full(const dht__rt_t *rt, const bucket_t *b, const dht_addr_t *addr, int skip,
                       const dht__rt_node_t *except, dht__rt_event_t ev)
{
    unsigned n = 0;

    if (rt->subnet_max == 0 || ev == DHT__RT_INSERT || (!rt->subnet_local && dht__addr_local(addr)))
        return 0;
    for (unsigned i = 0; i < b->nodes.n; i++) {
        const dht__rt_node_t *x = &b->nodes.v[i];
        if ((int)i != skip && x != except && x->fails < DHT__RT_BAD_FAILS &&
            dht__addr_same_subnet(&x->addr, addr) && ++n >= rt->subnet_max)
            return 1;
    }
    return 0;
}

/* Removes node i of b from the table. */
static void drop_node(dht__rt_t *rt, bucket_t *b, unsigned i, uint64_t now)
{
    tell(rt, &b->nodes.v[i], 0);
    slots_remove(rt, &b->nodes, i, 0);
    b->last_changed = now;
}

/* The address rules for a new node (id, addr, heard through ev) about to
 * take *slot of b (b->nodes.n: a free one). A node at its endpoint keeps
 * it (IGNORED) unless it gives way (holder_stays): in b, the new node
 * takes its slot; elsewhere, *gone is set (remove it once nothing can
 * fail). INSERT is not checked. @return 0, or DHT__RT_IGNORED. */
static int address_rules(const dht__rt_t *rt, const bucket_t *b, const dht_id_t *id,
                         const dht_addr_t *addr, dht__rt_event_t ev, int *slot, holder_t *gone)
{
    holder_t h;

    gone->b = NULL;
    if (ev == DHT__RT_INSERT)
        return 0;
    if (find_holder(rt, id, addr, NULL, &h)) {
        if (holder_stays(&h, ev))
            return DHT__RT_IGNORED;
        if (h.b == b) {
            *slot = (int)h.i; /* its own subnet's slot: the count stays */
            return 0;
        }
        *gone = h;
    }
    return subnet_full(rt, b, addr, *slot, NULL, ev) ? DHT__RT_IGNORED : 0;
}

/* Inserts a node that is in no bucket, splitting as needed. Room is found,
 * in this order: a free slot; a bad node's slot; a split of the last
 * bucket; a learned node's slot (not for a LEARNED node: hearsay never
 * pushes out hearsay); the cache (not for a LEARNED node). A slot is
 * taken only within the address rules (address_rules).
 * @return ADDED, CACHED, IGNORED, or DHT_ENOMEM with the table unchanged. */
static int insert(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                  dht__rt_event_t ev)
{
    size_t splits = 0;
    int rc;

    for (;;) {
        size_t bi = bucket_index(rt, id);
        bucket_t *b = &rt->buckets[bi];
        holder_t gone;
        int slot = -1;

        if (b->nodes.n < rt->k)
            slot = (int)b->nodes.n;
        else if ((slot = slots_oldest(&b->nodes, 1)) < 0) { /* a bad node: any node beats it */
            if (bi + 1 == rt->nb && rt->nb < DHT__RT_MAX_BUCKETS) {
                rc = split(rt);
                if (rc < 0)
                    break;
                splits++;
                continue;
            }
            if (ev != DHT__RT_LEARNED) /* a node heard from beats hearsay */
                slot = slots_learned(&b->nodes);
        }
        if (slot < 0) {
            rc = ev == DHT__RT_LEARNED ? DHT__RT_IGNORED : to_cache(rt, b, id, addr, now, ev);
            break;
        }
        rc = address_rules(rt, b, id, addr, ev, &slot, &gone);
        if (rc == 0 && slot == (int)b->nodes.n)
            rc = slots_reserve(rt, &b->nodes, 0);
        if (rc != 0)
            break;
        if (gone.b != NULL) /* in another bucket: b's slots stay where they are */
            drop_node(rt, gone.b, gone.i, now);
        put_node(rt, b, (unsigned)slot, id, addr, now, ev);
        rc = DHT__RT_ADDED;
        break;
    }
    if (rc < 0)
        while (splits-- > 0)
            unsplit(rt);
    return rc;
}

/* The address rules for known node n (slot i of b) heard at a new
 * address through ev: a node that holds that endpoint keeps it unless it
 * gives way (then it goes), and the subnet's count applies.
 * @return 0 (n may move; *i may have changed), or DHT__RT_IGNORED. */
static int move_rules(dht__rt_t *rt, bucket_t *b, int *i, const dht_addr_t *addr, uint64_t now,
                      dht__rt_event_t ev)
{
    dht__rt_node_t *n = &b->nodes.v[*i];
    holder_t h;
    int held;

    if (ev == DHT__RT_INSERT)
        return 0;
    held = find_holder(rt, &n->id, addr, n, &h);
    if (held && holder_stays(&h, ev))
        return DHT__RT_IGNORED;
    if (subnet_full(rt, b, addr, *i, held && h.b == b ? &h.b->nodes.v[h.i] : NULL, ev))
        return DHT__RT_IGNORED;
    if (held) {
        dht_id_t id = n->id;
        drop_node(rt, h.b, h.i, now);
        *i = slots_find(&b->nodes, &id); /* the removal may have moved it */
    }
    return 0;
}

int dht__rt_update(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                   dht__rt_event_t ev)
{
    bucket_t *b;
    int i;

    if (dht_id_cmp(id, &rt->self) == 0)
        return DHT__RT_IGNORED;
    b = &rt->buckets[bucket_index(rt, id)];
    i = slots_find(&b->nodes, id);
    if (ev == DHT__RT_LEARNED) /* hearsay never touches a known entry */
        return i >= 0 || slots_find(&b->cache, id) >= 0 ? DHT__RT_IGNORED
                                                        : insert(rt, id, addr, now, ev);
    if (i >= 0) {
        if (would_move_good(&b->nodes.v[i], addr, now))
            return DHT__RT_IGNORED;
        if (!same_addr(&b->nodes.v[i].addr, addr) && move_rules(rt, b, &i, addr, now, ev) != 0)
            return DHT__RT_IGNORED;
        heard(&b->nodes.v[i], addr, now, ev);
        mark_endpoint(rt, addr);
        if (ev == DHT__RT_REPLY)
            b->last_changed = now;
        return DHT__RT_UPDATED;
    }
    /* A good cache entry does not move either, even into the bucket. */
    i = slots_find(&b->cache, id);
    if (i >= 0 && would_move_good(&b->cache.v[i], addr, now))
        return DHT__RT_IGNORED;
    return insert(rt, id, addr, now, ev);
}

int dht__rt_failed(dht__rt_t *rt, const dht_id_t *id, uint64_t now)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(&b->nodes, id);
    int c;

    if (i < 0)
        return -1;
    if (b->nodes.v[i].fails < UINT8_MAX)
        b->nodes.v[i].fails++;
    b->nodes.v[i].probing = 0;
    fail_times(rt, &b->nodes, 0)[i] = now;
    if (b->nodes.v[i].fails < DHT__RT_BAD_FAILS || b->cache.n == 0)
        return 0;

    /* Bad, and a replacement is waiting: the newest proven cache entry, or
     * the newest when none is proven, of those the address rules let in
     * (as an answer would: a holder of its endpoint stays unless bad). */
    c = -1;
    for (unsigned j = 0; j < b->cache.n; j++) {
        const dht__rt_node_t *x = &b->cache.v[j];
        holder_t h;
        if (c >= 0 && !(x->proven != b->cache.v[c].proven ? x->proven : newer(x, &b->cache.v[c])))
            continue;
        if ((find_holder(rt, &x->id, &x->addr, &b->nodes.v[i], &h) &&
             holder_stays(&h, DHT__RT_QUERY)) ||
            subnet_full(rt, b, &x->addr, i, NULL, DHT__RT_QUERY))
            continue;
        c = (int)j;
    }
    if (c < 0)
        return 0;
    tell(rt, &b->nodes.v[i], 0);
    b->nodes.v[i] = b->cache.v[c];
    fail_times(rt, &b->nodes, 0)[i] = 0;
    slots_remove(rt, &b->cache, (unsigned)c, 1);
    b->last_changed = now;
    mark_endpoint(rt, &b->nodes.v[i].addr);
    tell(rt, &b->nodes.v[i], 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

/* @return the bucket node id (not a cache entry), or NULL. */
static dht__rt_node_t *bucket_node(const dht__rt_t *rt, const dht_id_t *id)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(&b->nodes, id);

    return i < 0 ? NULL : &b->nodes.v[i];
}

int dht__rt_has_room(const dht__rt_t *rt, const dht_id_t *id)
{
    size_t bi;
    const bucket_t *b;

    if (dht_id_cmp(id, &rt->self) == 0)
        return 0;
    bi = bucket_index(rt, id);
    b = &rt->buckets[bi];
    return b->nodes.n < rt->k || slots_oldest(&b->nodes, 1) >= 0 ||
           (bi + 1 == rt->nb && rt->nb < DHT__RT_MAX_BUCKETS) || slots_learned(&b->nodes) >= 0;
}

void dht__rt_slow(dht__rt_t *rt, const dht_id_t *id)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n != NULL)
        n->slow = 1;
}

void dht__rt_unprobe(dht__rt_t *rt, const dht_id_t *id)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n != NULL)
        n->probing = 0;
}

int dht__rt_asking(dht__rt_t *rt, const dht_id_t *id)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n == NULL)
        return 0;
    if (!n->proven)
        n->probing = 1;
    return n->slow;
}

int dht__rt_mark_probing(dht__rt_t *rt, const dht_id_t *id)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n == NULL || n->probing || (n->proven && n->fails < DHT__RT_BAD_FAILS))
        return 0;
    n->probing = 1;
    return 1;
}

const dht__rt_node_t *dht__rt_find(const dht__rt_t *rt, const dht_id_t *id)
{
    return bucket_node(rt, id);
}

void dht__rt_set_token(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr,
                       const uint8_t *token, uint64_t now)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n == NULL || !same_addr(&n->addr, addr))
        return;
    memcpy(n->token, token, sizeof(n->token));
    n->token_at = now > 0 ? now : 1; /* 0 means none */
}

int dht__rt_token(const dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                  uint8_t *out)
{
    const dht__rt_node_t *n = bucket_node(rt, id);

    if (n == NULL || n->token_at == 0 || age(now, n->token_at) >= DHT__RT_TOKEN_MS ||
        !same_addr(&n->addr, addr))
        return 0;
    memcpy(out, n->token, sizeof(n->token));
    return 1;
}

void dht__rt_drop_token(dht__rt_t *rt, const dht_id_t *id)
{
    dht__rt_node_t *n = bucket_node(rt, id);

    if (n != NULL)
        n->token_at = 0;
}

/* Inserts n into out[0..*len), kept sorted by distance to target and at
 * most max long; n is dropped if max nearer ones are already there. */
static void keep_nearest(const dht_id_t *target, dht__rt_node_t *out, size_t *len, size_t max,
                         const dht__rt_node_t *n)
{
    size_t lo = 0, hi = *len, shift;

    if (*len == max && dht__id_cmp_distance(target, &n->id, &out[max - 1].id) >= 0)
        return;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dht__id_cmp_distance(target, &out[mid].id, &n->id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    shift = (*len < max ? *len : max - 1) - lo;
    memmove(&out[lo + 1], &out[lo], shift * sizeof *out);
    out[lo] = *n;
    if (*len < max)
        (*len)++;
}

/* Which nodes closest() gathers. */
enum { GATHER_NOT_BAD, GATHER_VERIFIED, GATHER_ANY };

static void gather(const bucket_t *b, const dht_id_t *target, int which, dht__rt_node_t *out,
                   size_t *len, size_t max)
{
    for (unsigned i = 0; i < b->nodes.n; i++)
        if (which == GATHER_ANY ||
            (b->nodes.v[i].fails < DHT__RT_BAD_FAILS && /* not bad (dht__rt_state) */
             (which == GATHER_NOT_BAD || dht__rt_verified(&b->nodes.v[i]))))
            keep_nearest(target, out, len, max, &b->nodes.v[i]);
}

/* @return bit i (0: the most significant) of id. */
static unsigned id_bit(const dht_id_t *id, size_t i)
{
    return (unsigned)(id->b[i / 8] >> (7 - i % 8)) & 1u;
}

/* The buckets in order of distance to target, nearest first, gathered
 * until max nodes are found: a bucket is wholly nearer to target than the
 * buckets after it, so the walk stops there, instead of walking the whole
 * table. Target's own bucket g comes first. Deeper buckets j share bit j
 * with self and the buckets past j do not: those where target's bit j
 * differs from self's come before everything deeper (ascending j), the
 * last bucket (all deeper nodes) next, then those where it is the same
 * (descending j). Shallower ones last, nearest (deepest) first. */
static size_t closest(const dht__rt_t *rt, const dht_id_t *target, uint64_t now, int which,
                      dht__rt_node_t *out, size_t max)
{
    size_t g = bucket_index(rt, target), last = rt->nb - 1;
    size_t len = 0;

    (void)now; /* bad is a matter of failures alone (dht__rt_state) */
    if (max == 0)
        return 0;
    gather(&rt->buckets[g], target, which, out, &len, max);
    if (g < last) {
        for (size_t j = g + 1; j < last && len < max; j++)
            if (id_bit(target, j) != id_bit(&rt->self, j))
                gather(&rt->buckets[j], target, which, out, &len, max);
        if (len < max)
            gather(&rt->buckets[last], target, which, out, &len, max);
        for (size_t j = last - 1; j > g && len < max; j--)
            if (id_bit(target, j) == id_bit(&rt->self, j))
                gather(&rt->buckets[j], target, which, out, &len, max);
    }
    for (size_t j = g; j-- > 0 && len < max;)
        gather(&rt->buckets[j], target, which, out, &len, max);
    return len;
}

size_t dht__rt_closest(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                       dht__rt_node_t *out, size_t max)
{
    return closest(rt, target, now, GATHER_NOT_BAD, out, max);
}

size_t dht__rt_closest_any(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                           dht__rt_node_t *out, size_t max)
{
    return closest(rt, target, now, GATHER_ANY, out, max);
}

size_t dht__rt_closest_verified(const dht__rt_t *rt, const dht_id_t *target, uint64_t now,
                                dht__rt_node_t *out, size_t max)
{
    return closest(rt, target, now, GATHER_VERIFIED, out, max);
}

size_t dht__rt_count(const dht__rt_t *rt, uint64_t now, size_t *good, size_t *questionable,
                     size_t *bad)
{
    size_t by_state[3] = {0, 0, 0};
    size_t total = 0;

    for (size_t i = 0; i < rt->nb; i++) {
        const slots_t *s = &rt->buckets[i].nodes;
        for (unsigned j = 0; j < s->n; j++)
            by_state[dht__rt_state(&s->v[j], now)]++;
        total += s->n;
    }
    if (good != NULL)
        *good = by_state[DHT__RT_GOOD];
    if (questionable != NULL)
        *questionable = by_state[DHT__RT_QUESTIONABLE];
    if (bad != NULL)
        *bad = by_state[DHT__RT_BAD];
    return total;
}

size_t dht__rt_bucket_count(const dht__rt_t *rt)
{
    return rt->nb;
}

int dht__rt_bucket(const dht__rt_t *rt, size_t i, dht__rt_bucket_view_t *out)
{
    const bucket_t *b;

    if (i >= rt->nb)
        return DHT_EINVAL;
    b = &rt->buckets[i];
    out->nodes = b->nodes.v;
    out->n_nodes = b->nodes.n;
    out->cache = b->cache.v;
    out->n_cache = b->cache.n;
    out->last_changed = b->last_changed;
    return 0;
}

int dht__rt_random_id_in_bucket(const dht__rt_t *rt, size_t i, const uint8_t *random, dht_id_t *out)
{
    size_t whole = i / 8;
    uint8_t mask = (uint8_t)(0xff00u >> (i % 8)); /* the first i % 8 bits */

    if (i >= rt->nb)
        return DHT_EINVAL;
    memcpy(out->b, random, DHT_ID_LEN);
    memcpy(out->b, rt->self.b, whole);
    out->b[whole] = (uint8_t)((rt->self.b[whole] & mask) | (out->b[whole] & ~mask));
    if (i + 1 < rt->nb) {
        uint8_t bit = (uint8_t)(0x80u >> (i % 8));
        out->b[whole] = (uint8_t)((out->b[whole] & ~bit) | (~rt->self.b[whole] & bit));
    }
    return 0;
}

void dht__rt_touch_bucket(dht__rt_t *rt, size_t i, uint64_t now)
{
    if (i < rt->nb)
        rt->buckets[i].last_changed = now;
}

int dht__rt_ping_candidate(const dht__rt_t *rt, uint64_t now, uint64_t min_age_ms,
                           dht__rt_node_t *out)
{
    const dht__rt_node_t *best = NULL;

    for (size_t i = 0; i < rt->nb; i++) {
        const bucket_t *b = &rt->buckets[i];
        const uint64_t *failed_at = fail_times(rt, &b->nodes, 0);

        if (b->nodes.n < rt->k || b->cache.n == 0)
            continue;
        for (unsigned j = 0; j < b->nodes.n; j++) {
            const dht__rt_node_t *n = &b->nodes.v[j];
            if (dht__rt_state(n, now) != DHT__RT_QUESTIONABLE ||
                age(now, n->last_seen) < min_age_ms || age(now, failed_at[j]) < min_age_ms)
                continue;
            if (best == NULL || older(n, best))
                best = n;
        }
    }
    if (best == NULL)
        return 0;
    *out = *best;
    return 1;
}
