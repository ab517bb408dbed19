/*
 * The value store's layout, shared by its two files: store.c (keys,
 * values, caps and eviction) and store_source.c (who stored what, for the
 * fair share of a full store). Internal to the store; store.h is the
 * contract everyone else uses.
 */
#ifndef DHT_STORE_LAYOUT_H
#define DHT_STORE_LAYOUT_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

enum { FAR, EXP, NHEAPS }; /* the two heaps of keys */

/* The first member of everything a pointer table holds: its keyed hash. */
typedef struct dht__hashed {
    uint64_t hash;
} dht__hashed_t;

/* A hash table of pointers (open addressing, linear probing,
 * backward-shift deletion, load at most 1/2, doubling). Lookups are the
 * owner's: walk slot[] from hash & (cap - 1) to the first NULL. */
typedef struct dht__ptable {
    dht__hashed_t **slot; /* cap slots, NULL when empty */
    size_t cap;           /* power of two */
} dht__ptable_t;

/* Makes t an empty table, which allocates nothing until the first
 * dht__ptable_reserve (16 slots then). @return 0. */
int dht__ptable_init(dht__ptable_t *t);

/* Frees t's slots; t is then empty, as after dht__ptable_init. */
void dht__ptable_free(dht__ptable_t *t);

/* Puts x in the first free slot of its probe run (room reserved). */
void dht__ptable_insert(dht__ptable_t *t, dht__hashed_t *x);

/* Removes x, which is in t. */
void dht__ptable_remove(dht__ptable_t *t, const dht__hashed_t *x);

/* Makes room for n members. @return 0, or DHT_ENOMEM with t unchanged. */
int dht__ptable_reserve(dht__ptable_t *t, size_t n);

struct source;

/* The values under one key that came from one source. */
struct member {
    struct source *src;
    size_t pos; /* of the key in src->heap */
    unsigned n; /* values */
};

struct entry {
    dht__hashed_t h; /* SipHash of key, for probing and rehashing */
    dht_id_t key;
    dht_id_t dist;      /* key XOR own id: memcmp order is distance order */
    uint64_t min_exp;   /* earliest expires_at of vals, UINT64_MAX if none */
    size_t pos[NHEAPS]; /* position in each heap */
    dht__value_t *vals; /* oldest first */
    unsigned n, cap;
    struct member *mem; /* one per source among vals */
    unsigned nmem, memcap;
};

/* A source and what it holds. */
struct source {
    dht__hashed_t h; /* SipHash of id */
    dht_source_t id;
    size_t bytes, count; /* bytes: what its values count for (dht__charge) */
    uint64_t oldest;     /* no value of it now held was stored before: a
                            lower bound, lowered on each add, never raised */
    size_t pos;          /* in the store's load heap */
    struct entry **heap; /* the keys it holds values of, farthest on top */
    size_t n, cap;
};

struct dht__store {
    dht_id_t self;
    /* Bytes kept by the program (dht__store_set_external): no copies here,
     * and every value that leaves is reported to drop first. */
    void (*drop)(const dht__value_t *v, void *arg);
    void *drop_arg;
    size_t max_bytes;
    unsigned max_per_key;
    size_t value_cost;  /* what a value counts for at least (dht__store_set_value_cost) */
    uint64_t settle_ms; /* dht__store_set_settle */
    size_t count, bytes;
    size_t records, record_bytes; /* of them, provider records (DHT__VALUE_PROVIDER) */
    size_t charged;               /* what the values count for against max_bytes */
    uint64_t seed[2];
    dht__ptable_t keys; /* of struct entry */
    struct entry **heap[NHEAPS];
    size_t nkeys, hcap;
    size_t due_next;  /* dht__store_take_due goes on from this key (of heap[FAR]) */
    uint64_t due_min; /* no value is due by due_min_fn before this (0: unknown) */
    uint64_t (*due_min_fn)(const void *arg, const dht_id_t *key, uint64_t touched_at);
    /* Sources (store_source.c). */
    dht__ptable_t sources; /* of struct source */
    struct source **load;  /* heap, the most bytes on top */
    size_t nsrc, lcap;
    struct source *pinned; /* a put's source: stays while it holds nothing */
};

/* @return what a value of len bytes counts for against the cap and in
 * its source's share: len, or the store's value cost if more. */
static inline size_t dht__charge(const dht__store_t *st, size_t len)
{
    return len > st->value_cost ? len : st->value_cost;
}

/* ---- store_source.c ---- */

/* @return the source id names, or NULL if it holds nothing. */
struct source *dht__src_find(const dht__store_t *st, const dht_source_t *id);

/* Readies a put from id under e: the source exists (it is created if new,
 * and pinned: it stays while it holds nothing, until dht__src_release),
 * and e and the source have room to take each other in.
 * @return 0, or DHT_ENOMEM (then call dht__src_release too). */
int dht__src_prepare(dht__store_t *st, const dht_source_t *id, struct entry *e);

/* Ends what dht__src_prepare began: the pinned source goes if it holds nothing. */
void dht__src_release(dht__store_t *st);

/* Counts v, just added to e, to its source (readied by dht__src_prepare). */
void dht__src_add(dht__store_t *st, struct entry *e, const dht__value_t *v);

/* Counts v, about to leave e, off its source (which goes if then empty,
 * unless pinned). */
void dht__src_remove(dht__store_t *st, struct entry *e, const dht__value_t *v);

/* @return the source with the most bytes (ties: the larger id), or NULL. */
struct source *dht__src_heaviest(const dht__store_t *st);

/* @return the index in e of the oldest value from s, which e holds. */
size_t dht__src_oldest_in(const struct entry *e, const struct source *s);

/* @return 1 if v may be evicted at now for its own source's new value
 * (rule a): it has been held the store's settle time. */
static inline int dht__value_settled(const dht__store_t *st, const dht__value_t *v, uint64_t now)
{
    return now >= v->stored_at && now - v->stored_at >= st->settle_ms;
}

/* @return what s's settled values (dht__value_settled) under keys
 * farther than dist count for, counted until it reaches need. */
size_t dht__src_far_bytes(const dht__store_t *st, const struct source *s, const dht_id_t *dist,
                          size_t need, uint64_t now);

/* @return the entry whose value rule a evicts next for a new value of s
 * at distance dist, its index in *idx: the oldest value of s in the
 * farthest key (the top of s's heap) if it is settled, else in the first
 * key farther than dist, in a walk of s's heap from its top, whose oldest
 * value of s is. NULL if none. */
struct entry *dht__src_far_victim(const dht__store_t *st, const struct source *s,
                                  const dht_id_t *dist, uint64_t now, size_t *idx);

/* @return the index in e of the value the per-key cap evicts for a new
 * value from s (NULL: a source that holds nothing): the oldest value of
 * the source holding the most of e's values, the new one counted (ties:
 * the oldest of theirs). */
size_t dht__src_per_key_victim(const struct entry *e, const struct source *s);

/* Frees every source (the store is being freed). */
void dht__src_free_all(dht__store_t *st);

#endif /* DHT_STORE_LAYOUT_H */
