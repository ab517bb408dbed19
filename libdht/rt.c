/*
 * The routing table: k-buckets split along the own id (see rt.h).
 *
 * Memory is what matters here: the simulator holds up to a million tables
 * in one process. A table is one small struct and a growable array of
 * bucket structs; a bucket's node array (k slots) and cache array
 * (cache_size slots) are allocated only when the first entry arrives, and a
 * split hands a whole array over instead of copying it when every entry
 * moves.
 *
 * A slot is 12 bytes (contact_t): the contact store's handle for the id and
 * address (contacts.h), the id's first 4 bytes (which find and order most
 * contacts without asking the store), last_seen as a 32-bit stamp, and the
 * marks. What few contacts have (a failure time, a token) lives in a
 * bucket's extra array, allocated with the first of them. Stamps count
 * milliseconds from the table's epoch, which moves forward (rebase) when
 * now gets 2^31 ms past it: a last_seen more than about 2^30 ms (12 days)
 * old then reads as that old, and the older of two such still reads as
 * the older (the rules that pick the oldest entry see no change; no rule
 * looks back further than 15 minutes otherwise).
 *
 * Whenever a rule picks one entry among several (the bad node to replace,
 * the cache entry to push out or promote, the node to ping), ties on
 * last_seen are broken by the smaller id, so the outcome never depends on
 * the order of the slots.
 */
#include "rt_int.h"

#include "id_order.h"

#include <stdlib.h>
#include <string.h>

void dht__rt_set_subnet_limit(dht__rt_t *rt, unsigned max, int local)
{
    rt->subnet_max = max;
    rt->subnet_local = local;
}

void dht__rt_set_id_rule(dht__rt_t *rt, int rule)
{
    rt->id_rule = rule;
}

uint64_t dht__rt_refused_id(const dht__rt_t *rt)
{
    return rt->refused_id;
}

void dht__rt_set_listener(dht__rt_t *rt, dht__rt_listener_fn fn, void *arg)
{
    rt->listener = fn;
    rt->listener_arg = arg;
}

/* ------------------------------------------------------------------------ */
/* Stamps                                                                   */
/* ------------------------------------------------------------------------ */

/* A failure time or token time (0: none) after the epoch moved shift ms. */
static uint32_t restamp_some(uint32_t s, uint64_t shift)
{
    if (s == 0)
        return 0;
    return s > shift ? (uint32_t)(s - shift) : 1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* The last_seen stamps at or before the new epoch (all of them <= keep),
 * sorted, without repeats, into *out (malloc()ed; NULL if there are none
 * or no memory). @return how many. */
static size_t stamps_to_rank(const dht__rt_t *rt, uint64_t keep, uint32_t **out)
{
    size_t n = 0, m = 0;
    uint32_t *v;

    *out = NULL;
    for (size_t bi = 0; bi < rt->nb; bi++)
        n += rt->buckets[bi].nodes.n + rt->buckets[bi].cache.n;
    if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
        return 0;
    for (size_t bi = 0; bi < rt->nb; bi++) {
        const bucket_t *b = &rt->buckets[bi];
        for (unsigned i = 0; i < b->nodes.n; i++)
            if (b->nodes.v[i].seen <= keep)
                v[m++] = b->nodes.v[i].seen;
        for (unsigned i = 0; i < b->cache.n; i++)
            if (b->cache.v[i].seen <= keep)
                v[m++] = b->cache.v[i].seen;
    }
    qsort(v, m, sizeof(*v), cmp_u32);
    n = 0;
    for (size_t i = 0; i < m; i++)
        if (n == 0 || v[i] != v[n - 1])
            v[n++] = v[i];
    *out = v;
    return n;
}

/* The new last_seen stamp of s, the epoch having moved keep - r ms: its
 * rank among the r stamps at or before keep (ranked), or the same time as
 * from the new epoch. */
static uint32_t restamp_seen(uint32_t s, uint64_t keep, const uint32_t *ranked, size_t r)
{
    size_t lo = 0, hi = r;

    if (s > keep)
        return (uint32_t)(s - keep + r);
    while (lo < hi) { /* s is among ranked[], unless they could not be kept */
        size_t mid = lo + (hi - lo) / 2;
        if (ranked[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

/* Moves the epoch forward if now is too far past it to stamp. Every call
 * that stores a time makes it first. The last_seen times it would put
 * before the new epoch become their ranks among themselves (0, 1, ...)
 * and the new epoch lies that many ms earlier: they read as 2^30 ms old
 * or more, in the order they had (out of memory: all the same). */
static void keep_stampable(dht__rt_t *rt, uint64_t now)
{
    uint64_t keep, shift;
    uint32_t *ranked;
    size_t r;

    if (now < rt->epoch || now - rt->epoch < STAMP_REBASE)
        return;
    keep = now - STAMP_KEEP - rt->epoch;
    r = stamps_to_rank(rt, keep, &ranked);
    shift = keep - r; /* r is a few thousand at most, keep about 2^30 */
    rt->epoch += shift;
    for (size_t bi = 0; bi < rt->nb; bi++) {
        bucket_t *b = &rt->buckets[bi];
        for (unsigned i = 0; i < b->nodes.n; i++) {
            b->nodes.v[i].seen = restamp_seen(b->nodes.v[i].seen, keep, ranked, r);
            if (b->extra != NULL) {
                b->extra[i].failed_at = restamp_some(b->extra[i].failed_at, shift);
                b->extra[i].token_at = restamp_some(b->extra[i].token_at, shift);
            }
        }
        for (unsigned i = 0; i < b->cache.n; i++)
            b->cache.v[i].seen = restamp_seen(b->cache.v[i].seen, keep, ranked, r);
    }
    free(ranked);
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static void tell(const dht__rt_t *rt, const contact_t *c, int added)
{
    dht__rt_node_t n;

    if (rt->listener == NULL)
        return;
    unpack(rt, c, &n);
    rt->listener(rt->listener_arg, &n, added);
}

/* Gives back the handle of a contact that leaves the table. */
static void let_go(dht__rt_t *rt, const contact_t *c)
{
    rt->cs.release(rt->cs.arg, c->who);
}

/* ------------------------------------------------------------------------ */
/* Slot arrays                                                              */
/* ------------------------------------------------------------------------ */

/* Allocates the array of s (k slots for nodes, cache_size for a cache) if
 * it has none yet. @return 0 or DHT_ENOMEM. */
static int slots_reserve(const dht__rt_t *rt, slots_t *s, int cache)
{
    if (s->v == NULL)
        s->v = malloc((cache ? rt->cache_size : rt->k) * sizeof(contact_t));
    return s->v == NULL ? DHT_ENOMEM : 0;
}

/* Allocates b's extra array (zeroed) if it has none. @return 0 or DHT_ENOMEM. */
static int extra_reserve(const dht__rt_t *rt, bucket_t *b)
{
    if (b->extra == NULL)
        b->extra = calloc(rt->k, sizeof(extra_t));
    return b->extra == NULL ? DHT_ENOMEM : 0;
}

/* Copies node i of bucket from (with its extra) to node slot j of to. */
static void node_copy(bucket_t *to, unsigned j, const bucket_t *from, unsigned i)
{
    to->nodes.v[j] = from->nodes.v[i];
    if (to->extra != NULL) {
        if (from->extra != NULL)
            to->extra[j] = from->extra[i];
        else
            memset(&to->extra[j], 0, sizeof(extra_t));
    }
}

/* Removes node slot i of b, moving the last node into its place. */
static void nodes_remove(bucket_t *b, unsigned i)
{
    b->nodes.n--;
    if (i != b->nodes.n)
        node_copy(b, i, b, b->nodes.n);
}

/* Removes cache slot i, moving the last entry into its place. */
static void cache_remove(slots_t *s, unsigned i)
{
    s->n--;
    if (i != s->n)
        s->v[i] = s->v[s->n];
}

/* @return the slot of the entry seen longest ago, bad ones only if
 *         bad_only, or -1 if there is none. */
static int slots_oldest(const dht__rt_t *rt, const slots_t *s, int bad_only)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++) {
        if (bad_only && s->v[i].fails < DHT__RT_BAD_FAILS)
            continue;
        if (best < 0 || older(rt, &s->v[i], &s->v[best]))
            best = (int)i;
    }
    return best;
}

/* A bad node's round-trip time as bucket_worst_bad ranks it: one never
 * measured counts as the slowest. */
static uint32_t rtt_rank(const bucket_t *b, int i)
{
    uint16_t rtt = b->extra != NULL ? b->extra[i].rtt : 0;

    return rtt != 0 ? rtt : UINT32_MAX;
}

/* @return the bad node of b a newcomer replaces: of the bad ones, equally
 * worthless, the one with the longest round-trip time (proximity: a full
 * bucket keeps the nearer contacts; one never measured first), the one
 * seen longest ago among equals; -1 if none is bad. */
static int bucket_worst_bad(const dht__rt_t *rt, const bucket_t *b)
{
    int best = -1;

    for (unsigned i = 0; i < b->nodes.n; i++) {
        uint32_t rtt = rtt_rank(b, (int)i), best_rtt;
        if (b->nodes.v[i].fails < DHT__RT_BAD_FAILS)
            continue;
        best_rtt = best >= 0 ? rtt_rank(b, best) : 0;
        if (best < 0 || rtt > best_rtt ||
            (rtt == best_rtt && older(rt, &b->nodes.v[i], &b->nodes.v[best])))
            best = (int)i;
    }
    return best;
}

/* @return the slot of the oldest unproven entry in s, or -1. */
static int slots_oldest_unproven(const dht__rt_t *rt, const slots_t *s)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++)
        if (!s->v[i].proven && (best < 0 || older(rt, &s->v[i], &s->v[best])))
            best = (int)i;
    return best;
}

/* @return the slot of the oldest learned node in s, or -1. */
static int slots_learned(const dht__rt_t *rt, const slots_t *s)
{
    int best = -1;

    for (unsigned i = 0; i < s->n; i++)
        if (s->v[i].learned && (best < 0 || older(rt, &s->v[i], &s->v[best])))
            best = (int)i;
    return best;
}

static unsigned slots_count_deeper(const dht__rt_t *rt, const slots_t *s, unsigned depth)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->n; i++)
        n += contact_depth(rt, &s->v[i]) > depth;
    return n;
}

/* Moves the nodes of from sharing more than depth bits with the own id to
 * the empty bucket to. If they all move, to takes the arrays themselves;
 * otherwise to's node array (and its extra array, if from has one) must
 * already be allocated. */
static void nodes_move_deeper(const dht__rt_t *rt, bucket_t *from, bucket_t *to, unsigned depth,
                              unsigned movers)
{
    unsigned keep = 0;

    if (movers == 0)
        return;
    if (movers == from->nodes.n) {
        to->nodes = from->nodes;
        to->extra = from->extra;
        from->nodes.v = NULL;
        from->nodes.n = 0;
        from->extra = NULL;
        return;
    }
    for (unsigned i = 0; i < from->nodes.n; i++) {
        if (contact_depth(rt, &from->nodes.v[i]) > depth)
            node_copy(to, to->nodes.n++, from, i);
        else
            node_copy(from, keep++, from, i);
    }
    from->nodes.n = keep;
}

/* The same for the cache entries (no extras). */
static void cache_move_deeper(const dht__rt_t *rt, slots_t *from, slots_t *to, unsigned depth,
                              unsigned movers)
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
        if (contact_depth(rt, &from->v[i]) > depth)
            to->v[to->n++] = from->v[i];
        else
            from->v[keep++] = from->v[i];
    }
    from->n = keep;
}

/* Appends every node of from to to (which has room: they were one bucket
 * before a split) and frees from's arrays. Never allocates: the split
 * gave both an extra array or neither, unless to's went whole to from. */
static void nodes_merge(bucket_t *to, bucket_t *from)
{
    if (to->nodes.v == NULL) {
        free(to->extra);
        to->nodes = from->nodes;
        to->extra = from->extra;
    } else {
        for (unsigned i = 0; i < from->nodes.n; i++)
            node_copy(to, to->nodes.n++, from, i);
        free(from->nodes.v);
        free(from->extra);
    }
    from->nodes.v = NULL;
    from->nodes.n = 0;
    from->extra = NULL;
}

static void cache_merge(slots_t *to, slots_t *from)
{
    if (to->v == NULL) {
        *to = *from;
    } else {
        for (unsigned i = 0; i < from->n; i++)
            to->v[to->n++] = from->v[i];
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
    dht__rt_t *rt;

    if (k == 0 || k > DHT_MAX_K || cache_size > DHT__RT_MAX_CACHE)
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
    dht__arena_init(&rt->own, 0);
    dht__arena_contacts(&rt->own, &rt->cs);
    return rt;
}

int dht__rt_set_contacts(dht__rt_t *rt, const dht__contacts_t *cs)
{
    if (rt->nb != 1 || rt->buckets[0].nodes.n != 0 || rt->buckets[0].cache.n != 0)
        return DHT_EINVAL;
    rt->cs = *cs;
    return 0;
}

void dht__rt_free(dht__rt_t *rt)
{
    if (rt == NULL)
        return;
    for (size_t i = 0; i < rt->nb; i++) {
        bucket_t *b = &rt->buckets[i];
        for (unsigned j = 0; j < b->nodes.n; j++)
            let_go(rt, &b->nodes.v[j]);
        for (unsigned j = 0; j < b->cache.n; j++)
            let_go(rt, &b->cache.v[j]);
        free(b->nodes.v);
        free(b->cache.v);
        free(b->extra);
    }
    free(rt->buckets);
    free(rt->seen);
    dht__arena_free(&rt->own);
    free(rt);
}

dht__rt_state_t dht__rt_state(const dht__rt_node_t *n, uint64_t now)
{
    if (n->fails >= DHT__RT_BAD_FAILS)
        return DHT__RT_BAD;
    if (n->replied && age(now, n->last_seen) < DHT__RT_GOOD_MS)
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
    if (mn > 0 && mn < old->nodes.n &&
        (slots_reserve(rt, &neu->nodes, 0) < 0 ||
         (old->extra != NULL && extra_reserve(rt, neu) < 0))) {
        free(neu->nodes.v);
        return DHT_ENOMEM;
    }
    if (mc > 0 && mc < old->cache.n && slots_reserve(rt, &neu->cache, 1) < 0) {
        free(neu->nodes.v);
        free(neu->extra);
        return DHT_ENOMEM;
    }
    nodes_move_deeper(rt, old, neu, depth, mn);
    cache_move_deeper(rt, &old->cache, &neu->cache, depth, mc);
    neu->last_changed = old->last_changed;
    rt->nb++;
    return 0;
}

/* Undoes split(): merges the last bucket back into the one before. */
static void unsplit(dht__rt_t *rt)
{
    bucket_t *prev = &rt->buckets[rt->nb - 2];
    bucket_t *last = &rt->buckets[rt->nb - 1];

    nodes_merge(prev, last);
    cache_merge(&prev->cache, &last->cache);
    rt->nb--;
}

/* ------------------------------------------------------------------------ */
/* Updates                                                                  */
/* ------------------------------------------------------------------------ */

/* Sets *who to a new handle for c's id at addr if c is elsewhere, else to
 * DHT__CONTACT_NONE (no change). @return 0, or DHT_ENOMEM. */
static int rehold(dht__rt_t *rt, const contact_t *c, const dht_addr_t *addr, uint32_t *who)
{
    dht_id_t id;

    *who = DHT__CONTACT_NONE;
    if (has_addr(rt, c, addr))
        return 0;
    id = *cid(rt, c); /* the hold may move what cid points into */
    *who = rt->cs.hold(rt->cs.arg, &id, addr);
    return *who == DHT__CONTACT_NONE ? DHT_ENOMEM : 0;
}

/* Applies a message from a known node (bucket or cache) to c. A new
 * address comes as its handle who (held; c's old one is given back; NONE:
 * the same address); x is c's extra, or NULL. */
static void heard(dht__rt_t *rt, contact_t *c, extra_t *x, uint32_t who, uint64_t now,
                  dht__rt_event_t ev)
{
    if (who != DHT__CONTACT_NONE) {
        let_go(rt, c);
        c->who = who;
        c->proven = 0; /* the new address has proved nothing yet (a forged request?) */
        if (x != NULL)
            x->token_at = 0;
    }
    c->seen = stamp(rt, now);
    c->learned = 0; /* heard from itself */
    c->slow = 0;
    if (ev == DHT__RT_REPLY || ev == DHT__RT_INSERT)
        c->proven = 1;
    if (ev == DHT__RT_REPLY) {
        c->replied = 1;
        c->fails = 0;
        c->probing = 0; /* a request is no answer to the ping in flight */
    }
}

static void fresh(const dht__rt_t *rt, contact_t *c, uint32_t head, uint32_t who, uint64_t now,
                  dht__rt_event_t ev)
{
    memset(c, 0, sizeof *c);
    c->head = head;
    c->who = who;
    c->seen = stamp(rt, now);
    c->replied = ev == DHT__RT_REPLY;
    c->learned = ev == DHT__RT_LEARNED;
    c->proven = ev == DHT__RT_REPLY || ev == DHT__RT_INSERT;
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

/* Sets the bits of every bucket node's endpoint, and no other. */
static void seen_anew(dht__rt_t *rt)
{
    memset(rt->seen, 0, ENDPOINT_BITS / 8);
    rt->seen_set = 0;
    for (size_t bi = 0; bi < rt->nb; bi++)
        for (unsigned i = 0; i < rt->buckets[bi].nodes.n; i++) {
            dht_addr_t a = caddr(rt, &rt->buckets[bi].nodes.v[i]);
            set_seen(rt, &a);
        }
}

static void mark_endpoint(dht__rt_t *rt, const dht_addr_t *addr)
{
    if (rt->seen == NULL || !set_seen(rt, addr) || rt->seen_set <= ENDPOINT_BITS / 4)
        return;
    seen_anew(rt); /* made anew from what is there */
}

/* Sets *who to the handle a new bucket node (id, addr) will have: that of
 * its entry in b's cache if it is there at addr, else a new one.
 * @return 0, or DHT_ENOMEM. */
static int take_handle(dht__rt_t *rt, const bucket_t *b, const dht_id_t *id, const dht_addr_t *addr,
                       uint32_t *who)
{
    int c = slots_find(rt, &b->cache, id);

    if (c >= 0 && has_addr(rt, &b->cache.v[c], addr)) {
        *who = b->cache.v[c].who;
        return 0;
    }
    *who = rt->cs.hold(rt->cs.arg, id, addr);
    return *who == DHT__CONTACT_NONE ? DHT_ENOMEM : 0;
}

/* Puts a new node into slot i of b's nodes (a free one or a bad or
 * learned node's), with handle who from take_handle(). A node that was in
 * b's cache moves over with its record (so a reply it gave while cached
 * still counts), then hears this message. The array must exist. */
static void put_node(dht__rt_t *rt, bucket_t *b, unsigned i, const dht_id_t *id,
                     const dht_addr_t *addr, uint32_t who, uint64_t now, dht__rt_event_t ev)
{
    int c = slots_find(rt, &b->cache, id);
    contact_t n;

    if (c >= 0) {
        n = b->cache.v[c];
        heard(rt, &n, NULL, n.who == who ? DHT__CONTACT_NONE : who, now, ev);
        cache_remove(&b->cache, (unsigned)c);
    } else {
        fresh(rt, &n, head_of(id), who, now, ev);
    }
    if (i < b->nodes.n) {
        tell(rt, &b->nodes.v[i], 0);
        let_go(rt, &b->nodes.v[i]);
    }
    b->nodes.v[i] = n;
    if (b->extra != NULL)
        memset(&b->extra[i], 0, sizeof(extra_t));
    if (i == b->nodes.n)
        b->nodes.n++;
    b->last_changed = now;
    mark_endpoint(rt, addr);
    tell(rt, &b->nodes.v[i], 1);
}

/* Keeps a node that found its bucket full in the bucket's cache.
 * @return CACHED, IGNORED if there is no cache, or DHT_ENOMEM. */
static int to_cache(dht__rt_t *rt, bucket_t *b, const dht_id_t *id, const dht_addr_t *addr,
                    uint64_t now, dht__rt_event_t ev)
{
    int c = slots_find(rt, &b->cache, id);
    uint32_t who;
    unsigned i;

    if (c >= 0) {
        if (rehold(rt, &b->cache.v[c], addr, &who) < 0)
            return DHT_ENOMEM;
        heard(rt, &b->cache.v[c], NULL, who, now, ev);
        return DHT__RT_CACHED;
    }
    if (rt->cache_size == 0)
        return DHT__RT_IGNORED;
    /* One entry per endpoint in the cache too: a new id there replaces
     * the old one (rt.h: the address rules). */
    for (unsigned j = 0; j < b->cache.n; j++) {
        dht_addr_t a = caddr(rt, &b->cache.v[j]);
        if (dht__addr_same_endpoint(&a, addr)) {
            if (b->cache.v[j].proven && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT)
                return DHT__RT_IGNORED; /* an unproven node never pushes out a proven one */
            who = rt->cs.hold(rt->cs.arg, id, addr);
            if (who == DHT__CONTACT_NONE)
                return DHT_ENOMEM;
            let_go(rt, &b->cache.v[j]);
            fresh(rt, &b->cache.v[j], head_of(id), who, now, ev);
            return DHT__RT_CACHED;
        }
    }
    if (slots_reserve(rt, &b->cache, 1) < 0)
        return DHT_ENOMEM;
    if (b->cache.n < rt->cache_size) {
        i = b->cache.n;
    } else {
        int victim = slots_oldest_unproven(rt, &b->cache);
        if (victim < 0 && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT)
            return DHT__RT_IGNORED; /* an unproven node never pushes out a proven one */
        i = (unsigned)(victim >= 0 ? victim : slots_oldest(rt, &b->cache, 0));
    }
    who = rt->cs.hold(rt->cs.arg, id, addr);
    if (who == DHT__CONTACT_NONE)
        return DHT_ENOMEM;
    if (i == b->cache.n)
        b->cache.n++;
    else
        let_go(rt, &b->cache.v[i]);
    fresh(rt, &b->cache.v[i], head_of(id), who, now, ev);
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
static int find_holder(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr,
                       const contact_t *except, holder_t *h)
{
    unsigned bit = endpoint_bit(addr);
    uint32_t head = head_of(id);

    if (rt->seen == NULL && (rt->seen = malloc(ENDPOINT_BITS / 8)) != NULL)
        seen_anew(rt);
    if (rt->seen != NULL && !(rt->seen[bit / 64] >> (bit % 64) & 1))
        return 0; /* no bucket node is there (out of memory: scan) */
    for (size_t bi = 0; bi < rt->nb; bi++) {
        bucket_t *b = &rt->buckets[bi];
        for (unsigned i = 0; i < b->nodes.n; i++) {
            const contact_t *x = &b->nodes.v[i];
            dht_addr_t a;
            if (x == except)
                continue;
            a = caddr(rt, x);
            if (dht__addr_same_endpoint(&a, addr) && !has_id(rt, x, head, id)) {
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
                       const contact_t *except, dht__rt_event_t ev)
{
    unsigned n = 0;

    if (rt->subnet_max == 0 || ev == DHT__RT_INSERT || (!rt->subnet_local && dht__addr_local(addr)))
        return 0;
    for (unsigned i = 0; i < b->nodes.n; i++) {
        const contact_t *x = &b->nodes.v[i];
        dht_addr_t a;
        if ((int)i == skip || x == except || x->fails >= DHT__RT_BAD_FAILS)
            continue;
        a = caddr(rt, x);
        if (dht__addr_same_subnet(&a, addr) && ++n >= rt->subnet_max)
            return 1;
    }
    return 0;
}

/* Removes node i of b from the table. */
static void drop_node(dht__rt_t *rt, bucket_t *b, unsigned i, uint64_t now)
{
    tell(rt, &b->nodes.v[i], 0);
    let_go(rt, &b->nodes.v[i]);
    nodes_remove(b, i);
    b->last_changed = now;
}

/* The address rules for a new node (id, addr, heard through ev) about to
 * take *slot of b (b->nodes.n: a free one). A node at its endpoint keeps
 * it (IGNORED) unless it gives way (holder_stays): in b, the new node
 * takes its slot; elsewhere, *gone is set (remove it once nothing can
 * fail). INSERT is not checked. @return 0, or DHT__RT_IGNORED. */
static int address_rules(dht__rt_t *rt, const bucket_t *b, const dht_id_t *id,
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
        holder_t gone = {NULL, 0};
        uint32_t who;
        int slot = -1;

        if (b->nodes.n < rt->k)
            slot = (int)b->nodes.n;
        else if ((slot = bucket_worst_bad(rt, b)) < 0) { /* a bad node: any node beats it */
            if (bi + 1 == rt->nb && rt->nb < DHT__RT_MAX_BUCKETS) {
                rc = split(rt);
                if (rc < 0)
                    break;
                splits++;
                continue;
            }
            if (ev != DHT__RT_LEARNED) /* a node heard from beats hearsay */
                slot = slots_learned(rt, &b->nodes);
        }
        if (slot < 0) {
            rc = ev == DHT__RT_LEARNED ? DHT__RT_IGNORED : to_cache(rt, b, id, addr, now, ev);
            break;
        }
        rc = address_rules(rt, b, id, addr, ev, &slot, &gone);
        if (rc == 0 && slot == (int)b->nodes.n)
            rc = slots_reserve(rt, &b->nodes, 0);
        if (rc == 0)
            rc = take_handle(rt, b, id, addr, &who);
        if (rc != 0)
            break;
        if (gone.b != NULL) /* in another bucket: b's slots stay where they are */
            drop_node(rt, gone.b, gone.i, now);
        put_node(rt, b, (unsigned)slot, id, addr, who, now, ev);
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
    const contact_t *n = &b->nodes.v[*i];
    holder_t h;
    int held;

    if (ev == DHT__RT_INSERT)
        return 0;
    held = find_holder(rt, cid(rt, n), addr, n, &h);
    if (held && holder_stays(&h, ev))
        return DHT__RT_IGNORED;
    if (subnet_full(rt, b, addr, *i, held && h.b == b ? &h.b->nodes.v[h.i] : NULL, ev))
        return DHT__RT_IGNORED;
    if (held) {
        dht_id_t id = *cid(rt, n);
        drop_node(rt, h.b, h.i, now);
        *i = slots_find(rt, &b->nodes, &id); /* the removal may have moved it */
    }
    return 0;
}

int dht__rt_update(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                   dht__rt_event_t ev)
{
    bucket_t *b;
    uint32_t who;
    int i;

    if (dht_id_cmp(id, &rt->self) == 0)
        return DHT__RT_IGNORED;
    if (rt->id_rule != DHT_ID_RULE_OFF && !dht__id_rule_admits(rt->id_rule, id, addr)) {
        rt->refused_id++;
        return DHT__RT_IGNORED;
    }
    keep_stampable(rt, now);
    b = &rt->buckets[bucket_index(rt, id)];
    i = slots_find(rt, &b->nodes, id);
    if (ev == DHT__RT_LEARNED) /* hearsay never touches a known entry */
        return i >= 0 || slots_find(rt, &b->cache, id) >= 0 ? DHT__RT_IGNORED
                                                            : insert(rt, id, addr, now, ev);
    if (i >= 0) {
        if (!has_addr(rt, &b->nodes.v[i], addr)) {
            /* A good node does not move. */
            if (contact_state(rt, &b->nodes.v[i], now) == DHT__RT_GOOD)
                return DHT__RT_IGNORED;
            if (rehold(rt, &b->nodes.v[i], addr, &who) < 0)
                return DHT_ENOMEM;
            if (move_rules(rt, b, &i, addr, now, ev) != 0) {
                rt->cs.release(rt->cs.arg, who);
                return DHT__RT_IGNORED;
            }
        } else {
            who = DHT__CONTACT_NONE;
        }
        heard(rt, &b->nodes.v[i], b->extra != NULL ? &b->extra[i] : NULL, who, now, ev);
        mark_endpoint(rt, addr);
        if (ev == DHT__RT_REPLY)
            b->last_changed = now;
        return DHT__RT_UPDATED;
    }
    /* A good cache entry does not move either, even into the bucket. */
    i = slots_find(rt, &b->cache, id);
    if (i >= 0 && !has_addr(rt, &b->cache.v[i], addr) &&
        contact_state(rt, &b->cache.v[i], now) == DHT__RT_GOOD)
        return DHT__RT_IGNORED;
    return insert(rt, id, addr, now, ev);
}

int dht__rt_failed(dht__rt_t *rt, const dht_id_t *id, uint64_t now)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(rt, &b->nodes, id);
    contact_t *n;
    int c;

    if (i < 0)
        return -1;
    keep_stampable(rt, now);
    n = &b->nodes.v[i];
    if (n->fails < DHT__RT_MAX_FAILS)
        n->fails++;
    n->probing = 0;
    if (extra_reserve(rt, b) == 0) /* out of memory: only the time is not kept */
        b->extra[i].failed_at = stamp(rt, now);
    if (n->fails < DHT__RT_BAD_FAILS || b->cache.n == 0)
        return 0;

    /* Bad, and a replacement is waiting: the newest proven cache entry, or
     * the newest when none is proven, of those the address rules let in
     * (as an answer would: a holder of its endpoint stays unless bad). */
    c = -1;
    for (unsigned j = 0; j < b->cache.n; j++) {
        const contact_t *x = &b->cache.v[j];
        dht_addr_t xa;
        holder_t h;
        if (c >= 0 &&
            !(x->proven != b->cache.v[c].proven ? x->proven : newer(rt, x, &b->cache.v[c])))
            continue;
        xa = caddr(rt, x);
        if ((find_holder(rt, cid(rt, x), &xa, n, &h) && holder_stays(&h, DHT__RT_QUERY)) ||
            subnet_full(rt, b, &xa, i, NULL, DHT__RT_QUERY))
            continue;
        c = (int)j;
    }
    if (c < 0)
        return 0;
    tell(rt, n, 0);
    let_go(rt, n);
    *n = b->cache.v[c];
    if (b->extra != NULL)
        memset(&b->extra[i], 0, sizeof(extra_t));
    cache_remove(&b->cache, (unsigned)c);
    b->last_changed = now;
    {
        dht_addr_t a = caddr(rt, n);
        mark_endpoint(rt, &a);
    }
    tell(rt, n, 1);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

int dht__rt_has_room(const dht__rt_t *rt, const dht_id_t *id)
{
    size_t bi;
    const bucket_t *b;

    if (dht_id_cmp(id, &rt->self) == 0)
        return 0;
    bi = bucket_index(rt, id);
    b = &rt->buckets[bi];
    return b->nodes.n < rt->k || slots_oldest(rt, &b->nodes, 1) >= 0 ||
           (bi + 1 == rt->nb && rt->nb < DHT__RT_MAX_BUCKETS) || slots_learned(rt, &b->nodes) >= 0;
}

void dht__rt_slow(dht__rt_t *rt, const dht_id_t *id)
{
    contact_t *n = bucket_node(rt, id, NULL);

    if (n != NULL)
        n->slow = 1;
}

void dht__rt_unprobe(dht__rt_t *rt, const dht_id_t *id)
{
    contact_t *n = bucket_node(rt, id, NULL);

    if (n != NULL)
        n->probing = 0;
}

int dht__rt_asking(dht__rt_t *rt, const dht_id_t *id)
{
    contact_t *n = bucket_node(rt, id, NULL);

    if (n == NULL)
        return 0;
    if (!n->proven)
        n->probing = 1;
    return n->slow;
}

int dht__rt_mark_probing(dht__rt_t *rt, const dht_id_t *id)
{
    contact_t *n = bucket_node(rt, id, NULL);

    if (n == NULL || n->probing || (n->proven && n->fails < DHT__RT_BAD_FAILS))
        return 0;
    n->probing = 1;
    return 1;
}

void dht__rt_set_token(dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr,
                       const uint8_t *token, uint64_t now)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(rt, &b->nodes, id);

    if (i < 0 || !has_addr(rt, &b->nodes.v[i], addr) || extra_reserve(rt, b) < 0)
        return; /* out of memory: no token kept, requests go padded */
    keep_stampable(rt, now);
    memcpy(b->extra[i].token, token, sizeof(b->extra[i].token));
    b->extra[i].token_at = stamp_some(rt, now); /* 0 means none */
}

int dht__rt_token(const dht__rt_t *rt, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                  uint8_t *out)
{
    extra_t *x;
    const contact_t *n = bucket_node(rt, id, &x);

    if (n == NULL || x == NULL || x->token_at == 0 ||
        age(now, some_at(rt, x->token_at)) >= DHT__RT_TOKEN_MS || !has_addr(rt, n, addr))
        return 0;
    memcpy(out, x->token, sizeof(x->token));
    return 1;
}

void dht__rt_drop_token(dht__rt_t *rt, const dht_id_t *id)
{
    extra_t *x;

    if (bucket_node(rt, id, &x) != NULL && x != NULL)
        x->token_at = 0;
}
