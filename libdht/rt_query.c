/*
 * The routing table's queries (see rt.h): the nodes closest to a target,
 * counts, bucket views, the node worth pinging. Nothing here changes the
 * table (rt.c does).
 */
#include "rt_int.h"

#include "id_order.h"

#include <stdlib.h>
#include <string.h>

int dht__rt_find(const dht__rt_t *rt, const dht_id_t *id, dht__rt_node_t *out)
{
    const contact_t *n = bucket_node(rt, id, NULL);

    if (n == NULL)
        return 0;
    if (out != NULL)
        unpack(rt, n, out);
    return 1;
}

/* A target, as closest() compares contacts' distances to it. */
typedef struct target {
    const dht_id_t *id;
    uint32_t head;
} target_t;

/* @return 1 if contact a is nearer to t than contact b: their heads tell,
 *         unless they are as near by them. */
static int nearer(const dht__rt_t *rt, const target_t *t, const contact_t *a, const contact_t *b)
{
    uint32_t da = a->head ^ t->head, db = b->head ^ t->head;

    if (da != db)
        return da < db;
    return dht__id_cmp_distance(t->id, cid(rt, a), cid(rt, b)) < 0;
}

/* Inserts c into near[0..*len), kept sorted by distance to t and at most
 * max long; c is dropped if max nearer ones are already there. */
static void keep_nearest(const dht__rt_t *rt, const target_t *t, const contact_t **near,
                         size_t *len, size_t max, const contact_t *c)
{
    size_t lo = 0, hi = *len, shift;

    if (*len == max && !nearer(rt, t, c, near[max - 1]))
        return;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (nearer(rt, t, c, near[mid]))
            hi = mid;
        else
            lo = mid + 1;
    }
    shift = (*len < max ? *len : max - 1) - lo;
    memmove(&near[lo + 1], &near[lo], shift * sizeof *near);
    near[lo] = c;
    if (*len < max)
        (*len)++;
}

/* Which nodes closest() gathers. */
enum { GATHER_NOT_BAD, GATHER_VERIFIED, GATHER_ANY };

static void gather(const dht__rt_t *rt, const bucket_t *b, const target_t *t, int which,
                   const contact_t **near, size_t *len, size_t max)
{
    for (unsigned i = 0; i < b->nodes.n; i++) {
        const contact_t *c = &b->nodes.v[i];
        if (which == GATHER_ANY ||
            (c->fails < DHT__RT_BAD_FAILS && /* not bad (dht__rt_state) */
             (which == GATHER_NOT_BAD || (c->proven && c->fails == 0)))) /* dht__rt_verified */
            keep_nearest(rt, t, near, len, max, c);
    }
}

/* @return bit i (0: the most significant) of id. */
static unsigned id_bit(const dht_id_t *id, size_t i)
{
    return (unsigned)(id->b[i / 8] >> (7 - i % 8)) & 1u;
}

/* The contacts to hand out are picked as pointers (no store call for most
 * comparisons) and copied out at the end; this many on the stack. */
#define NEAR_ON_STACK 96

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
    const contact_t *on_stack[NEAR_ON_STACK], **near = on_stack;
    target_t t = {target, head_of(target)};
    size_t len = 0;

    (void)now; /* bad is a matter of failures alone (dht__rt_state) */
    if (max == 0)
        return 0;
    if (max > NEAR_ON_STACK) {
        size_t all = 0;
        for (size_t j = 0; j < rt->nb; j++)
            all += rt->buckets[j].nodes.n;
        max = max < all ? max : all;
        if (max > NEAR_ON_STACK && (near = malloc(max * sizeof *near)) == NULL)
            return 0; /* out of memory: as if empty */
        if (max == 0)
            return 0;
    }
    gather(rt, &rt->buckets[g], &t, which, near, &len, max);
    if (g < last) {
        for (size_t j = g + 1; j < last && len < max; j++)
            if (id_bit(target, j) != id_bit(&rt->self, j))
                gather(rt, &rt->buckets[j], &t, which, near, &len, max);
        if (len < max)
            gather(rt, &rt->buckets[last], &t, which, near, &len, max);
        for (size_t j = last - 1; j > g && len < max; j--)
            if (id_bit(target, j) == id_bit(&rt->self, j))
                gather(rt, &rt->buckets[j], &t, which, near, &len, max);
    }
    for (size_t j = g; j-- > 0 && len < max;)
        gather(rt, &rt->buckets[j], &t, which, near, &len, max);
    /* The ids may be far apart in the store (the simulator's): ask for all
     * before copying any, so that their cache misses overlap. */
    for (size_t i = 0; i < len; i++)
        __builtin_prefetch(cid(rt, near[i]));
    for (size_t i = 0; i < len; i++)
        unpack(rt, near[i], &out[i]);
    if (near != on_stack)
        free(near);
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
            by_state[contact_state(rt, &s->v[j], now)]++;
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

int dht__rt_bucket(const dht__rt_t *rt, size_t i, dht__rt_bucket_view_t *out, int with_nodes)
{
    const bucket_t *b;

    if (i >= rt->nb)
        return DHT_EINVAL;
    b = &rt->buckets[i];
    out->n_nodes = b->nodes.n;
    out->n_cache = b->cache.n;
    out->last_changed = b->last_changed;
    if (with_nodes) {
        for (unsigned j = 0; j < b->nodes.n; j++)
            unpack(rt, &b->nodes.v[j], &out->nodes[j]);
        for (unsigned j = 0; j < b->cache.n; j++)
            unpack(rt, &b->cache.v[j], &out->cache[j]);
    }
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
    const contact_t *best = NULL;

    for (size_t i = 0; i < rt->nb; i++) {
        const bucket_t *b = &rt->buckets[i];

        if (b->nodes.n < rt->k || b->cache.n == 0)
            continue;
        for (unsigned j = 0; j < b->nodes.n; j++) {
            const contact_t *n = &b->nodes.v[j];
            uint64_t failed_at = b->extra != NULL ? some_at(rt, b->extra[j].failed_at) : 0;
            if (contact_state(rt, n, now) != DHT__RT_QUESTIONABLE ||
                age(now, seen_at(rt, n)) < min_age_ms || age(now, failed_at) < min_age_ms)
                continue;
            if (best == NULL || older(rt, n, best))
                best = n;
        }
    }
    if (best == NULL)
        return 0;
    unpack(rt, best, out);
    return 1;
}
