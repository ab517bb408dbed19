/*
 * The routing table's insides (rt.c: updates; rt_query.c: queries), shared
 * by its two files and by nothing else: see rt.c for the layout.
 */
#ifndef DHT_RT_INT_H
#define DHT_RT_INT_H

#include "contacts.h"
#include "rt.h"

#include <string.h>

typedef struct contact {
    uint32_t head;                    /* the id's first 4 bytes, big-endian */
    uint32_t seen;                    /* last_seen, a stamp */
    uint32_t who : DHT__CONTACT_BITS; /* the store's handle: id and address */
    uint32_t fails : 2;               /* up to DHT__RT_MAX_FAILS */
    uint32_t replied : 1;
    uint32_t learned : 1;
    uint32_t proven : 1;
    uint32_t probing : 1;
    uint32_t slow : 1;
} contact_t;

_Static_assert(sizeof(contact_t) == 12, "a slot is 12 bytes");
_Static_assert(DHT__RT_MAX_FAILS < 4, "fails has 2 bits");

/* What a bucket node seldom has, in the slot of the same index. */
typedef struct extra {
    uint32_t failed_at; /* stamp of its last failed request; 0: none */
    uint32_t token_at;  /* stamp of its token; 0: none */
    uint8_t token[8];   /* the token it handed us in its last NODES, VALUES
                         * or HELD: our requests carry it as their proof */
    uint16_t rtt;       /* its smoothed round-trip time, DHT__RT_RTT_UNIT_US
                         * units, at least 1; 0: not measured (rt_rtt.c) */
} extra_t;

/* One array of a bucket: its nodes or its replacement cache. */
typedef struct slots {
    contact_t *v; /* NULL until the first entry */
    unsigned n;
} slots_t;

typedef struct bucket {
    slots_t nodes;
    slots_t cache;
    extra_t *extra; /* k of them for the nodes; NULL until one is needed */
    uint64_t last_changed;
} bucket_t;

#define ENDPOINT_BITS 2048
#define STAMP_REBASE  ((uint64_t)1 << 31) /* rebase once now is this far past epoch */
#define STAMP_KEEP    ((uint64_t)1 << 30) /* the new epoch is this far before now */

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
    int id_rule;              /* dht__rt_set_id_rule */
    uint64_t refused_id;      /* contacts it kept out */
    uint64_t epoch;           /* stamps count milliseconds from here */
    dht__contacts_t cs;       /* where ids and addresses are */
    dht__contact_arena_t own; /* the default store's entries */
    /* The endpoints of bucket nodes, as bits of a hash: a clear bit means
     * no bucket node is there, so the address rules need no scan. Bits of
     * endpoints gone stay set (a scan finds nothing) until a quarter of
     * them is set: then they are made anew from the buckets. NULL until
     * the address rules first run (a table the simulator fills never
     * needs it until its node hears from others). */
    uint64_t *seen; /* ENDPOINT_BITS bits */
    unsigned seen_set;
};

static inline uint32_t stamp(const dht__rt_t *rt, uint64_t t)
{
    return t > rt->epoch ? (uint32_t)(t - rt->epoch) : 0;
}

/* A stamp where 0 means none: time t, never 0. */
static inline uint32_t stamp_some(const dht__rt_t *rt, uint64_t t)
{
    uint32_t s = stamp(rt, t);

    return s ? s : 1;
}

static inline uint64_t seen_at(const dht__rt_t *rt, const contact_t *c)
{
    return rt->epoch + c->seen;
}

/* The time of a stamp where 0 means none (then 0). */
static inline uint64_t some_at(const dht__rt_t *rt, uint32_t s)
{
    return s ? rt->epoch + s : 0;
}

static inline uint64_t age(uint64_t now, uint64_t t)
{
    return now > t ? now - t : 0;
}

static inline uint32_t head_of(const dht_id_t *id)
{
    return (uint32_t)id->b[0] << 24 | (uint32_t)id->b[1] << 16 | (uint32_t)id->b[2] << 8 | id->b[3];
}

static inline const dht_id_t *cid(const dht__rt_t *rt, const contact_t *c)
{
    return rt->cs.id(rt->cs.arg, c->who);
}

static inline dht_addr_t caddr(const dht__rt_t *rt, const contact_t *c)
{
    dht_addr_t a;

    rt->cs.addr(rt->cs.arg, c->who, &a);
    return a;
}

/* @return 1 if contact c has this id (and its head). */
static inline int has_id(const dht__rt_t *rt, const contact_t *c, uint32_t head, const dht_id_t *id)
{
    return c->head == head && dht_id_cmp(cid(rt, c), id) == 0;
}

/* @return <0, 0 or >0 as a's id is below, equal to or above b's. */
static inline int cmp_ids(const dht__rt_t *rt, const contact_t *a, const contact_t *b)
{
    if (a->head != b->head)
        return a->head < b->head ? -1 : 1;
    return dht_id_cmp(cid(rt, a), cid(rt, b));
}

/* Same family, port and address bytes (4 of them for IPv4). */
static inline int same_addr(const dht_addr_t *a, const dht_addr_t *b)
{
    size_t len = a->family == DHT_AF_INET ? 4 : sizeof a->ip;

    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, len) == 0;
}

static inline int has_addr(const dht__rt_t *rt, const contact_t *c, const dht_addr_t *addr)
{
    dht_addr_t a = caddr(rt, c);

    return same_addr(&a, addr);
}

/* @return 1 if a was seen before b (or at the same time with a smaller id). */
static inline int older(const dht__rt_t *rt, const contact_t *a, const contact_t *b)
{
    if (a->seen != b->seen)
        return a->seen < b->seen;
    return cmp_ids(rt, a, b) < 0;
}

/* @return 1 if a was seen after b (or at the same time with a smaller id). */
static inline int newer(const dht__rt_t *rt, const contact_t *a, const contact_t *b)
{
    if (a->seen != b->seen)
        return a->seen > b->seen;
    return cmp_ids(rt, a, b) < 0;
}

static inline unsigned depth_of(const dht__rt_t *rt, const dht_id_t *id)
{
    return dht_id_common_prefix(&rt->self, id);
}

/* depth_of for a contact: its head answers unless it equals ours. */
static inline unsigned contact_depth(const dht__rt_t *rt, const contact_t *c)
{
    uint32_t x = c->head ^ head_of(&rt->self);

    if (x != 0)
        return (unsigned)__builtin_clz(x);
    return depth_of(rt, cid(rt, c));
}

static inline size_t bucket_index(const dht__rt_t *rt, const dht_id_t *id)
{
    size_t d = depth_of(rt, id);

    return d < rt->nb - 1 ? d : rt->nb - 1;
}

static inline void unpack(const dht__rt_t *rt, const contact_t *c, dht__rt_node_t *out)
{
    out->id = *cid(rt, c);
    out->addr = caddr(rt, c);
    out->last_seen = seen_at(rt, c);
    out->replied = c->replied;
    out->fails = c->fails;
    out->learned = c->learned;
    out->proven = c->proven;
    out->probing = c->probing;
    out->slow = c->slow;
}
static inline dht__rt_state_t contact_state(const dht__rt_t *rt, const contact_t *c, uint64_t now)
{
    if (c->fails >= DHT__RT_BAD_FAILS)
        return DHT__RT_BAD;
    if (c->replied && age(now, seen_at(rt, c)) < DHT__RT_GOOD_MS)
        return DHT__RT_GOOD;
    return DHT__RT_QUESTIONABLE;
}
/* @return the slot holding id, or -1. */
static inline int slots_find(const dht__rt_t *rt, const slots_t *s, const dht_id_t *id)
{
    uint32_t head = head_of(id); /* most slots differ here: no store call */

    for (unsigned i = 0; i < s->n; i++)
        if (has_id(rt, &s->v[i], head, id))
            return (int)i;
    return -1;
}
/* @return the bucket node id (not a cache entry), or NULL; *x (if x is
 *         not NULL) its extra, or NULL if its bucket has none. */
static inline contact_t *bucket_node(const dht__rt_t *rt, const dht_id_t *id, extra_t **x)
{
    bucket_t *b = &rt->buckets[bucket_index(rt, id)];
    int i = slots_find(rt, &b->nodes, id);

    if (x != NULL)
        *x = i >= 0 && b->extra != NULL ? &b->extra[i] : NULL;
    return i < 0 ? NULL : &b->nodes.v[i];
}

#endif /* DHT_RT_INT_H */
