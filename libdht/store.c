/*
 * The local value store; store.h is the contract.
 *
 * Layout. One `struct entry` per key holds that key's values in a small
 * array sorted by stored_at, oldest first (values per key are capped by
 * max_per_key, 16 by default, so the array grows by doubling up to the cap
 * and per-key work is a scan of at most max_per_key values). Every entry is
 * reachable three ways:
 *
 *   - a hash table (open addressing, linear probing, backward-shift
 *     deletion, load at most 1/2, doubling) from key to entry: O(1) lookups;
 *   - a max-heap on the XOR distance from the own id, farthest key on top
 *     (its order is the order of foreach and of replication's walks);
 *   - a min-heap on each entry's earliest expires_at: next_expiry() is O(1)
 *     and expire() costs O(log keys + max_per_key) per key that has an
 *     expired value, nothing for the others.
 *
 * Both heaps share one index space (the number of keys), and each entry
 * records its position in each so it can be removed or re-sifted in
 * O(log keys). foreach() walks the distance heap, not the hash table, so its
 * order depends only on the sequence of calls and never on the hash seed
 * (the simulator stays deterministic).
 *
 * Sources (store_source.c): each source with values keeps its bytes, its
 * place in a heap of sources by bytes, and a max-heap by distance of the
 * keys it holds values of; each entry lists its sources. The fair share
 * needs nothing else: rule a takes from the source's own heap, rule b
 * from the heaviest source's.
 *
 * Hashing. A node stores keys chosen by anyone, so the table hashes keys
 * with SipHash-2-4 (siphash.c) under a per-store seed rather than taking their first
 * bytes: with a public hash an attacker could pile thousands of keys into
 * one probe run. The seed is only "random-ish": the store has no source of
 * randomness, so it mixes the own id with the store's and a stack address
 * (ASLR). That is enough to stop precomputed collisions; it changes probe
 * lengths only, never results.
 *
 * Eviction rules, choosing where store.h is open:
 *
 *   - A put that fits under both caps evicts nothing, not even expired
 *     values. One that does not removes every expired value first, even
 *     if it then fails (they are dead; any call may remove them), so that
 *     the fair share is decided on live values only.
 *   - Rule a never takes a key as close as the new value's or closer: the
 *     key being stored to never gives up its own values for the byte cap
 *     (only for the per-key cap), and an eviction only ever trades a
 *     farther key for a closer one. Rule b may take any key of a source
 *     above its share, the farthest first.
 *   - Feasibility is decided before anything changes (but the removal of
 *     expired values), so DHT_EBUSY and DHT_ENOMEM leave every live value
 *     as it was; memory is reserved after the decision, before any change.
 *   - The share counts the new value's source among the sources, whether
 *     it holds values yet or not, and the per-key victim's bytes are its
 *     source's no more when the share is applied.
 *   - Storing (key, hash) again sets the flags and extends expires_at; it
 *     never shortens it, since another publisher of the same value may
 *     have asked for a longer life. It needs no room and cannot fail, and
 *     the value stays its first source's.
 *   - A new value that is already expired (expires_at <= now) is accepted
 *     and dropped at once, as if stored and expired: it must not evict live
 *     values.
 *   - len above UINT32_MAX does not fit dht__value_t and is DHT_ETOOBIG.
 *   - max_per_key 0 is taken as 1.
 *   - Several values of a key with the same stored_at keep the order in
 *     which they were stored.
 *
 * Cost of a put (P = max_per_key, K = keys, S = sources). With room under
 * both caps: one hash lookup, O(P) for the key's values, O(log K + log S)
 * heap updates and a copy of the value. At a cap, rule a's decision walks
 * the source's heap over its keys farther than the new one, stopping as
 * soon as it has counted the bytes needed (need <= len); every key that
 * adds to the count adds at least a byte, so it visits O(min(len, keys in
 * range) + keys whose values are all empty) keys at O(P) each. Rule b
 * decides in O(1). Each eviction or expiry costs O(P + log K + log S).
 */
#include "store_layout.h"

#include "siphash.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The hash table                                                           */
/* ------------------------------------------------------------------------ */

static struct entry *lookup(const dht__store_t *st, const dht_id_t *key)
{
    size_t mask = st->keys.cap - 1;
    uint64_t h = dht__siphash_id(st->seed, key);

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct entry *e = (struct entry *)st->keys.slot[i];
        if (e == NULL)
            return NULL;
        if (e->h.hash == h && memcmp(e->key.b, key->b, DHT_ID_LEN) == 0)
            return e;
    }
}

/* The one slot of every empty table, never written (an insert reserves
 * first): a node that holds nothing allocates nothing here (the simulator
 * runs a million of them). */
static dht__hashed_t *no_slots[1];

#define PTABLE_FIRST_CAP 16

int dht__ptable_init(dht__ptable_t *t)
{
    t->cap = 1;
    t->slot = no_slots;
    return 0;
}

void dht__ptable_free(dht__ptable_t *t)
{
    if (t->slot != no_slots)
        free(t->slot);
    dht__ptable_init(t);
}

static void slot_insert(dht__hashed_t **slot, size_t cap, dht__hashed_t *x)
{
    size_t i = (size_t)x->hash & (cap - 1);

    while (slot[i] != NULL)
        i = (i + 1) & (cap - 1);
    slot[i] = x;
}

void dht__ptable_insert(dht__ptable_t *t, dht__hashed_t *x)
{
    slot_insert(t->slot, t->cap, x);
}

/* Shifts later members of the probe run back into the hole, so lookups
 * never need tombstones. */
void dht__ptable_remove(dht__ptable_t *t, const dht__hashed_t *x)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)x->hash & mask;

    while (t->slot[i] != x)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; t->slot[j] != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)t->slot[j]->hash & mask;
        /* Move j into the hole unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slot[i] = t->slot[j];
            i = j;
        }
    }
    t->slot[i] = NULL;
}

int dht__ptable_reserve(dht__ptable_t *t, size_t n)
{
    size_t cap = t->slot == no_slots ? PTABLE_FIRST_CAP : t->cap;
    dht__hashed_t **slot;

    while (n > cap / 2)
        cap *= 2;
    if (cap == t->cap)
        return 0;
    slot = calloc(cap, sizeof(*slot));
    if (slot == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i] != NULL)
            slot_insert(slot, cap, t->slot[i]);
    dht__ptable_free(t);
    t->slot = slot;
    t->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The two heaps                                                            */
/* ------------------------------------------------------------------------ */

/* @return nonzero if a belongs above b in heap h. */
static int above(int h, const struct entry *a, const struct entry *b)
{
    if (h == FAR)
        return memcmp(a->dist.b, b->dist.b, DHT_ID_LEN) > 0;
    return a->min_exp < b->min_exp;
}

static void hset(dht__store_t *st, int h, size_t i, struct entry *e)
{
    st->heap[h][i] = e;
    e->pos[h] = i;
}

static void sift_up(dht__store_t *st, int h, size_t i)
{
    struct entry *e = st->heap[h][i];

    while (i > 0 && above(h, e, st->heap[h][(i - 1) / 2])) {
        hset(st, h, i, st->heap[h][(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    hset(st, h, i, e);
}

static void sift_down(dht__store_t *st, int h, size_t i)
{
    struct entry *e = st->heap[h][i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= st->nkeys)
            break;
        if (c + 1 < st->nkeys && above(h, st->heap[h][c + 1], st->heap[h][c]))
            c++;
        if (!above(h, st->heap[h][c], e))
            break;
        hset(st, h, i, st->heap[h][c]);
        i = c;
    }
    hset(st, h, i, e);
}

static void heap_fix(dht__store_t *st, int h, size_t i)
{
    if (i > 0 && above(h, st->heap[h][i], st->heap[h][(i - 1) / 2]))
        sift_up(st, h, i);
    else
        sift_down(st, h, i);
}

/* Makes room for `keys` entries in both heaps.
 * @return 0, or DHT_ENOMEM with the contents unchanged. */
static int heap_reserve(dht__store_t *st, size_t keys)
{
    size_t cap = st->hcap ? st->hcap : 16;

    while (cap < keys)
        cap *= 2;
    if (cap == st->hcap)
        return 0;
    for (int h = 0; h < NHEAPS; h++) {
        struct entry **a = realloc(st->heap[h], cap * sizeof(*a));
        if (a == NULL)
            return DHT_ENOMEM; /* hcap stays; a grown array is harmless */
        st->heap[h] = a;
    }
    st->hcap = cap;
    return 0;
}

static void heap_push(dht__store_t *st, struct entry *e)
{
    size_t i = st->nkeys++;

    for (int h = 0; h < NHEAPS; h++) {
        hset(st, h, i, e);
        sift_up(st, h, i);
    }
}

static void heap_remove(dht__store_t *st, const struct entry *e)
{
    size_t last = --st->nkeys;

    for (int h = 0; h < NHEAPS; h++) {
        size_t i = e->pos[h];
        if (i == last)
            continue;
        hset(st, h, i, st->heap[h][last]);
        heap_fix(st, h, i);
    }
}

/* ------------------------------------------------------------------------ */
/* Entries                                                                  */
/* ------------------------------------------------------------------------ */

static size_t find_hash(const struct entry *e, const dht_id_t *hash)
{
    for (size_t i = 0; i < e->n; i++)
        if (memcmp(e->vals[i].hash.b, hash->b, DHT_ID_LEN) == 0)
            return i;
    return SIZE_MAX;
}

/* Recomputes e's earliest expiry and restores the expiry heap. */
static void entry_update(dht__store_t *st, struct entry *e)
{
    uint64_t m = UINT64_MAX;

    for (size_t i = 0; i < e->n; i++)
        if (e->vals[i].expires_at < m)
            m = e->vals[i].expires_at;
    e->min_exp = m;
    heap_fix(st, EXP, e->pos[EXP]);
}

static void entry_free(struct entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->vals[i].data);
    free(e->vals);
    free(e->mem);
    free(e);
}

/* Frees value i of e and closes the gap; the caller restores the heaps. */
static void value_remove(dht__store_t *st, struct entry *e, size_t i)
{
    if (st->drop != NULL && e->vals[i].data == NULL)
        st->drop(&e->vals[i], st->drop_arg);
    dht__src_remove(st, e, &e->vals[i]);
    st->bytes -= e->vals[i].len;
    st->charged -= dht__charge(st, e->vals[i].len);
    st->count--;
    if (e->vals[i].flags & DHT__VALUE_PROVIDER) {
        st->records--;
        st->record_bytes -= e->vals[i].len;
    }
    free(e->vals[i].data);
    memmove(&e->vals[i], &e->vals[i + 1], (e->n - i - 1) * sizeof(e->vals[0]));
    e->n--;
}

/* After values of e went: drops e if it is empty (unless it is keep, the
 * entry a put is about to add to), else restores the expiry heap. */
static void entry_tidy(dht__store_t *st, struct entry *e, const struct entry *keep)
{
    if (e->n > 0 || e == keep) {
        entry_update(st, e);
        return;
    }
    dht__ptable_remove(&st->keys, &e->h);
    heap_remove(st, e);
    entry_free(e);
}

/* ------------------------------------------------------------------------ */
/* Expiry and eviction                                                      */
/* ------------------------------------------------------------------------ */

static size_t expire_but(dht__store_t *st, uint64_t now, const struct entry *keep)
{
    size_t gone = 0;

    while (st->nkeys > 0 && st->heap[EXP][0]->min_exp <= now) {
        struct entry *e = st->heap[EXP][0];
        for (size_t i = e->n; i-- > 0;) {
            if (e->vals[i].expires_at <= now) {
                value_remove(st, e, i);
                gone++;
            }
        }
        entry_tidy(st, e, keep);
    }
    return gone;
}

/* What a put that needs room will evict (store.h has the rules). */
typedef struct plan {
    size_t victim; /* index in e of the per-key cap's victim, or SIZE_MAX */
    size_t share;  /* max_bytes / sources */
    int own;       /* 1: only the source's own values go (rule a) */
} plan_t;

/* Decides, without changing anything, whether a new value counting for len
 * from source id (src, or NULL if it holds nothing) under the key at
 * distance dist (entry e, or NULL if new) can be stored, in a store
 * without expired values, and how. @return 0 or DHT_EBUSY. */
static int plan(const dht__store_t *st, const struct source *src, const struct entry *e,
                const dht_id_t *dist, size_t len, uint64_t now, plan_t *p)
{
    size_t kept = st->charged, room = st->max_bytes - len, need, mine;

    p->victim = SIZE_MAX;
    p->share = st->max_bytes / (st->nsrc + (src == NULL));
    mine = src != NULL ? src->bytes : 0;
    if (e != NULL && e->n >= st->max_per_key) {
        const dht__value_t *v;
        p->victim = dht__src_per_key_victim(e, src);
        v = &e->vals[p->victim];
        kept -= dht__charge(st, v->len);
        if (src != NULL && memcmp(v->source.b, src->id.b, sizeof(src->id.b)) == 0)
            mine -= dht__charge(st, v->len);
    }
    p->own = mine + len > p->share;
    if (kept <= room || !p->own)
        return 0; /* rule b always finds the room: see make_room */
    need = kept - room;
    return src != NULL && dht__src_far_bytes(st, src, dist, need, now) >= need ? 0 : DHT_EBUSY;
}

/* Evicts what the caps demand before a value counting for len from src joins
 * e (NULL for a new key at distance dist), as plan() has found possible. */
static void make_room(dht__store_t *st, struct source *src, struct entry *e, const dht_id_t *dist,
                      size_t len, uint64_t now, const plan_t *p)
{
    if (p->victim != SIZE_MAX) {
        value_remove(st, e, p->victim);
        entry_update(st, e);
    }
    while (p->own && st->charged > st->max_bytes - len) {
        size_t i = SIZE_MAX;
        struct entry *far = dht__src_far_victim(st, src, dist, now, &i);
        assert(far != NULL && memcmp(far->dist.b, dist->b, DHT_ID_LEN) > 0);
        value_remove(st, far, i);
        entry_tidy(st, far, e);
    }
    /* Rule b: with S holding s (charged) bytes of the store's b, n
     * sources and the share F (n F <= max_bytes), the others hold, beyond
     * F, at least b - s - (n - 1) F >= b - s - max_bytes + F: more than
     * the room needed, b + len - max_bytes, by F - s - len >= 0. Taking
     * each source that holds more than F down to F always makes the room. */
    while (st->charged > st->max_bytes - len) {
        struct source *heavy = dht__src_heaviest(st);
        struct entry *far = heavy->heap[0];
        assert(heavy->bytes > p->share && heavy != src);
        value_remove(st, far, dht__src_oldest_in(far, heavy));
        entry_tidy(st, far, e);
    }
}

/* ------------------------------------------------------------------------ */
/* Put                                                                      */
/* ------------------------------------------------------------------------ */

static struct entry *entry_new(const dht__store_t *st, const dht_id_t *key)
{
    struct entry *e = calloc(1, sizeof(*e));

    if (e == NULL)
        return NULL;
    e->vals = malloc(sizeof(*e->vals));
    if (e->vals == NULL) {
        free(e);
        return NULL;
    }
    e->cap = 1;
    e->key = *key;
    dht_id_distance(&e->dist, key, &st->self);
    e->h.hash = dht__siphash_id(st->seed, key);
    e->min_exp = UINT64_MAX;
    return e;
}

/* Makes sure e can take one more value. @return 0 or DHT_ENOMEM. */
static int vals_reserve(const dht__store_t *st, struct entry *e)
{
    unsigned cap = e->cap;
    dht__value_t *v;

    if (e->n < e->cap || e->cap >= st->max_per_key)
        return 0; /* at the cap a per-key eviction makes the room */
    cap = cap > st->max_per_key / 2 ? st->max_per_key : cap * 2;
    v = realloc(e->vals, cap * sizeof(*v));
    if (v == NULL)
        return DHT_ENOMEM;
    e->vals = v;
    e->cap = cap;
    return 0;
}

/* Adds the value, whose data the store now owns, to e in stored_at order. */
static void insert(dht__store_t *st, struct entry *e, const dht__value_t *v)
{
    size_t i = e->n;

    while (i > 0 && e->vals[i - 1].stored_at > v->stored_at)
        i--;
    memmove(&e->vals[i + 1], &e->vals[i], (e->n - i) * sizeof(*v));
    e->vals[i] = *v;
    e->n++;
    st->count++;
    st->bytes += v->len;
    st->charged += dht__charge(st, v->len);
    if (v->flags & DHT__VALUE_PROVIDER) {
        st->records++;
        st->record_bytes += v->len;
    }
    entry_update(st, e);
    dht__src_add(st, e, v);
}

/* A put (of a value counting for len) that would pass a cap first
 * removes every expired value; *e (NULL for a new key) goes too if that
 * empties it. */
static void expire_for_room(dht__store_t *st, struct entry **e, size_t len, uint64_t now)
{
    if ((*e == NULL || (*e)->n < st->max_per_key) && st->charged <= st->max_bytes - len)
        return;
    expire_but(st, now, *e);
    if (*e != NULL && (*e)->n == 0) {
        entry_tidy(st, *e, NULL);
        *e = NULL;
    }
}

/* Stores v (its source set), with a copy of data, under a key (entry e,
 * NULL if new) that does not hold its hash yet. */
static int put_new(dht__store_t *st, struct entry *e, dht__value_t *v, const uint8_t *data,
                   uint64_t now)
{
    struct entry *fresh = NULL;
    dht_id_t dist;
    plan_t p;
    int err;

    dht_id_distance(&dist, &v->key, &st->self);
    expire_for_room(st, &e, dht__charge(st, v->len), now);
    err = plan(st, dht__src_find(st, &v->source), e, &dist, dht__charge(st, v->len), now, &p);
    if (err)
        return err;
    if (data != NULL || st->drop == NULL) { /* else the bytes are kept outside */
        v->data = malloc(v->len ? v->len : 1);
        if (v->data == NULL)
            return DHT_ENOMEM;
        if (v->len > 0)
            memcpy(v->data, data, v->len);
    }
    if (e == NULL) {
        fresh = entry_new(st, &v->key);
        if (fresh == NULL || dht__ptable_reserve(&st->keys, st->nkeys + 1) ||
            heap_reserve(st, st->nkeys + 1))
            goto fail;
    } else if (vals_reserve(st, e)) {
        goto fail;
    }
    if (dht__src_prepare(st, &v->source, fresh != NULL ? fresh : e))
        goto fail;
    /* Nothing can fail from here on. */
    make_room(st, st->pinned, e, &dist, dht__charge(st, v->len), now, &p);
    if (fresh != NULL) {
        e = fresh;
        dht__ptable_insert(&st->keys, &e->h);
        heap_push(st, e);
    }
    insert(st, e, v);
    dht__src_release(st);
    return 0;
fail:
    dht__src_release(st);
    if (fresh != NULL)
        entry_free(fresh);
    free(v->data);
    return DHT_ENOMEM;
}

/* @return src, or the all-zero source (the node itself) for NULL. */
static const dht_source_t *source_or_self(const dht_source_t *src)
{
    static const dht_source_t self;

    return src != NULL ? src : &self;
}

int dht__store_put_from(dht__store_t *st, const dht_source_t *src, const dht_id_t *key,
                        const dht_id_t *hash, const uint8_t *data, size_t len, uint8_t flags,
                        uint64_t now, uint64_t stored_at, uint32_t age_in, uint64_t expires_at)
{
    struct entry *e;
    size_t i;

    if (dht__charge(st, len) > st->max_bytes || len > UINT32_MAX)
        return DHT_ETOOBIG;
    e = lookup(st, key);
    i = e != NULL ? find_hash(e, hash) : SIZE_MAX;
    if (i != SIZE_MAX) { /* a refresh */
        dht__value_t *v = &e->vals[i];
        if (((v->flags ^ flags) & DHT__VALUE_PROVIDER) != 0) { /* same bytes, other kind */
            int record = (flags & DHT__VALUE_PROVIDER) != 0;
            st->records = record ? st->records + 1 : st->records - 1;
            st->record_bytes = record ? st->record_bytes + v->len : st->record_bytes - v->len;
        }
        v->flags = flags;
        v->touched_at = now;
        if (expires_at > v->expires_at) {
            v->expires_at = expires_at;
            entry_update(st, e);
            st->due_min = 0; /* it may have been expired, left out of due_min */
        }
        return 0;
    }
    if (expires_at <= now)
        return 0; /* dead on arrival: stored and expired at once */
    dht__value_t v = {.key = *key,
                      .hash = *hash,
                      .len = (uint32_t)len,
                      .flags = flags,
                      .stored_at = stored_at,
                      .age_in = age_in,
                      .expires_at = expires_at,
                      .touched_at = now,
                      .source = *source_or_self(src)};
    st->due_min = 0; /* the new value may be due before the others */
    return put_new(st, e, &v, data, now);
}

int dht__store_put_value(dht__store_t *st, const dht__value_t *v, const uint8_t *data, uint64_t now)
{
    struct entry *e = lookup(st, &v->key);
    size_t i = e != NULL ? find_hash(e, &v->hash) : SIZE_MAX, j;
    dht__value_t before;
    int err;

    if (i != SIZE_MAX)
        before = e->vals[i];
    err = dht__store_put_from(st, &v->source, &v->key, &v->hash, data, v->len, v->flags, now,
                              v->stored_at, v->age_in, v->expires_at);
    if (err != 0 || (e = lookup(st, &v->key)) == NULL || (j = find_hash(e, &v->hash)) == SIZE_MAX)
        return err; /* refused, or dead on arrival */
    dht__owner_after(i != SIZE_MAX ? &before : NULL, v, now, &e->vals[j].owned, &e->vals[j].owner);
    return 0;
}

int dht__store_put_at(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash,
                      const uint8_t *data, size_t len, uint8_t flags, uint64_t now,
                      uint64_t stored_at, uint64_t expires_at)
{
    return dht__store_put_from(st, NULL, key, hash, data, len, flags, now, stored_at, 0,
                               expires_at);
}

int dht__store_put(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash, const uint8_t *data,
                   size_t len, uint8_t flags, uint64_t now, uint64_t expires_at)
{
    return dht__store_put_from(st, NULL, key, hash, data, len, flags, now, now, 0, expires_at);
}

int dht__store_fits(dht__store_t *st, const dht_source_t *src, const dht_id_t *key,
                    const dht_id_t *hash, size_t len, uint64_t now)
{
    struct entry *e = lookup(st, key);
    dht_id_t dist;
    plan_t p;

    if (dht__charge(st, len) > st->max_bytes || len > UINT32_MAX)
        return DHT_ETOOBIG;
    if (e != NULL && find_hash(e, hash) != SIZE_MAX)
        return 0;
    expire_for_room(st, &e, dht__charge(st, len), now);
    dht_id_distance(&dist, key, &st->self);
    return plan(st, dht__src_find(st, source_or_self(src)), e, &dist, dht__charge(st, len), now,
                &p);
}

int dht__store_over_share(const dht__store_t *st, const dht_source_t *src, size_t len)
{
    const struct source *s = dht__src_find(st, source_or_self(src));

    return (s != NULL ? s->bytes : 0) + dht__charge(st, len) >
           st->max_bytes / (st->nsrc + (s == NULL));
}

size_t dht__store_source_bytes(const dht__store_t *st, const dht_source_t *src)
{
    const struct source *s = dht__src_find(st, source_or_self(src));

    return s != NULL ? s->bytes : 0;
}

size_t dht__store_sources(const dht__store_t *st)
{
    return st->nsrc;
}

void dht__store_set_value_cost(dht__store_t *st, size_t cost)
{
    st->value_cost = cost;
}

void dht__store_set_settle(dht__store_t *st, uint64_t ms)
{
    st->settle_ms = ms;
}

size_t dht__store_near(const dht__store_t *st, const dht_id_t *id, unsigned slack, uint64_t now,
                       dht_id_t *keys, dht_id_t *hashes, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < st->nkeys && n < max; i++) {
        const struct entry *e = st->heap[FAR][i];
        if (e->n == 0 || dht_id_common_prefix(&e->vals[0].key, id) + slack <
                             dht_id_common_prefix(&e->vals[0].key, &st->self))
            continue;
        for (size_t j = 0; j < e->n && n < max; j++) {
            if (e->vals[j].expires_at <= now)
                continue;
            keys[n] = e->vals[j].key;
            hashes[n] = e->vals[j].hash;
            n++;
        }
    }
    return n;
}

size_t dht__store_take_due(dht__store_t *st, uint64_t now,
                           uint64_t (*due_at)(const void *arg, const dht_id_t *key,
                                              uint64_t touched_at),
                           const void *arg, dht_id_t *keys, dht_id_t *hashes, size_t max)
{
    size_t n = 0, seen = 0, i = st->due_next < st->nkeys ? st->due_next : 0;
    uint64_t soonest = UINT64_MAX;

    if (due_at == st->due_min_fn && now < st->due_min)
        return 0; /* nothing due yet: no walk */
    /* From where the last call stopped, so that a caller taking a few at a
     * time walks the store once, not once per call. A key whose values do
     * not all fit is taken again from its start: those taken are not due
     * any more. */
    for (; seen < st->nkeys && n < max; seen++, i = i + 1 < st->nkeys ? i + 1 : 0) {
        struct entry *e = st->heap[FAR][i];
        for (size_t j = 0; j < e->n && n < max; j++) {
            dht__value_t *v = &e->vals[j];
            uint64_t due;
            if (v->expires_at <= now)
                continue;
            if ((due = due_at(arg, &v->key, v->touched_at)) > now) {
                soonest = due < soonest ? due : soonest;
                continue;
            }
            v->touched_at = now;
            keys[n] = v->key;
            hashes[n] = v->hash;
            n++;
        }
        if (n == max)
            break; /* this key again next time: it may have more */
    }
    st->due_next = i;
    /* A whole walk that took nothing knows when the next value is due (a
     * refresh only makes a value due later; a new value resets this). */
    st->due_min = n == 0 ? soonest : 0;
    st->due_min_fn = due_at;
    return n;
}

int dht__store_remove(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash)
{
    struct entry *e = lookup(st, key);
    size_t i = e != NULL ? find_hash(e, hash) : SIZE_MAX;

    if (i == SIZE_MAX)
        return DHT_ENOTFOUND;
    value_remove(st, e, i);
    entry_tidy(st, e, NULL);
    return 0;
}

void dht__store_set_external(dht__store_t *st, void (*drop)(const dht__value_t *v, void *arg),
                             void *arg)
{
    st->drop = drop;
    st->drop_arg = arg;
}

/* ------------------------------------------------------------------------ */
/* The rest of the API                                                      */
/* ------------------------------------------------------------------------ */

dht__store_t *dht__store_new(const dht_id_t *self, size_t max_bytes, unsigned max_per_key)
{
    dht__store_t *st = calloc(1, sizeof(*st));
    int local = 0;

    if (st == NULL)
        return NULL;
    if (dht__ptable_init(&st->keys) || dht__ptable_init(&st->sources)) {
        dht__ptable_free(&st->keys);
        free(st);
        return NULL;
    }
    st->self = *self;
    st->max_bytes = max_bytes;
    st->max_per_key = max_per_key ? max_per_key : 1;
    /* Random-ish, see the top of the file: ASLR places st and the stack.
     * (The id's bytes in host order: only their randomness matters.) */
    memcpy(st->seed, self->b, sizeof(st->seed));
    st->seed[0] ^= (uint64_t)(uintptr_t)st * 0x9e3779b97f4a7c15ULL;
    st->seed[1] ^= (uint64_t)(uintptr_t)&local * 0xc2b2ae3d27d4eb4fULL;
    return st;
}

void dht__store_free(dht__store_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->nkeys; i++)
        entry_free(st->heap[FAR][i]);
    for (int h = 0; h < NHEAPS; h++)
        free(st->heap[h]);
    dht__ptable_free(&st->keys);
    dht__src_free_all(st);
    free(st);
}

size_t dht__store_get(const dht__store_t *st, const dht_id_t *key, uint64_t now,
                      const dht__value_t **out, size_t max)
{
    const struct entry *e = lookup(st, key);
    size_t n = 0;

    if (e == NULL)
        return 0;
    for (size_t i = 0; i < e->n; i++) {
        if (e->vals[i].expires_at <= now)
            continue;
        if (n < max)
            out[n] = &e->vals[i];
        n++;
    }
    return n;
}

const dht__value_t *dht__store_find(const dht__store_t *st, const dht_id_t *key,
                                    const dht_id_t *hash, uint64_t now)
{
    const struct entry *e = lookup(st, key);
    size_t i = e != NULL ? find_hash(e, hash) : SIZE_MAX;

    if (i == SIZE_MAX || e->vals[i].expires_at <= now)
        return NULL;
    return &e->vals[i];
}

size_t dht__store_expire(dht__store_t *st, uint64_t now)
{
    return expire_but(st, now, NULL);
}

uint64_t dht__store_next_expiry(const dht__store_t *st)
{
    return st->nkeys > 0 ? st->heap[EXP][0]->min_exp : UINT64_MAX;
}

size_t dht__store_count(const dht__store_t *st)
{
    return st->count;
}

size_t dht__store_bytes(const dht__store_t *st)
{
    return st->bytes;
}

size_t dht__store_records(const dht__store_t *st, size_t *bytes)
{
    *bytes = st->record_bytes;
    return st->records;
}

int dht__store_foreach(const dht__store_t *st, int (*fn)(const dht__value_t *v, void *arg),
                       void *arg)
{
    for (size_t i = 0; i < st->nkeys; i++) {
        const struct entry *e = st->heap[FAR][i];
        for (size_t j = 0; j < e->n; j++) {
            int r = fn(&e->vals[j], arg);
            if (r != 0)
                return r;
        }
    }
    return 0;
}
