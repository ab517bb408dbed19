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
 *   - a max-heap on the XOR distance from the own id, farthest key on top:
 *     the next key to evict is found in O(1) and removed in O(log keys);
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
 *     values. One that does not removes every expired value first (an
 *     expired value is never kept while an unexpired one is evicted).
 *   - Per-key cap: the oldest unexpired value of the key goes.
 *   - Byte cap: only keys strictly farther from the own id than the new
 *     value's key may lose values, the farthest key first and its oldest
 *     value first, until the new value fits. The key being stored to never
 *     gives up its own values for the byte cap (only for the per-key cap),
 *     and a key closer than the new one is never touched: if the farther
 *     keys cannot make room the put fails with DHT_EBUSY. This is stricter
 *     than the letter of store.h ("farther than every key that would have
 *     to go"): read literally, a value could empty a still farther key and
 *     then go on to evict keys closer than its own. Here an eviction only
 *     ever trades a farther key for a closer one.
 *   - Feasibility is decided before anything changes, so DHT_EBUSY and
 *     DHT_ENOMEM leave the store exactly as it was (expired values
 *     included); memory is reserved after the decision, before any change.
 *   - Storing (key, hash) again sets the flags and extends expires_at; it
 *     never shortens it, since another publisher of the same value may
 *     have asked for a longer life. It needs no room and cannot fail.
 *   - A new value that is already expired (expires_at <= now) is accepted
 *     and dropped at once, as if stored and expired: it must not evict live
 *     values.
 *   - len above UINT32_MAX does not fit dht__value_t and is DHT_ETOOBIG.
 *   - max_per_key 0 is taken as 1.
 *   - Several values of a key with the same stored_at keep the order in
 *     which they were stored.
 *
 * Cost of a put (P = max_per_key, K = keys). With room under both caps:
 * one hash lookup, O(P) for the key's values, O(log K) heap updates and a
 * copy of the value. At a cap, the decision walks the expiry heap over keys
 * with expired values, then the distance heap over keys farther than the
 * new one, each walk stopping as soon as it has counted the bytes needed
 * (need <= len). Every key that adds to the count adds at least a byte, so
 * a walk visits O(min(len, keys in range) + keys whose values are all empty
 * or expired) keys at O(P) each, whether the put succeeds or fails with
 * DHT_EBUSY; expired keys are then removed once, amortized. Each eviction
 * or expiry costs O(P + log K).
 */
#include "store.h"

#include "siphash.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { FAR, EXP, NHEAPS }; /* the two heaps */

struct entry {
    dht_id_t key;
    dht_id_t dist;      /* key XOR own id: memcmp order is distance order */
    uint64_t hash;      /* SipHash of key, for probing and rehashing */
    uint64_t min_exp;   /* earliest expires_at of vals, UINT64_MAX if none */
    size_t pos[NHEAPS]; /* position in each heap */
    dht__value_t *vals; /* oldest first */
    unsigned n, cap;
};

struct dht__store {
    dht_id_t self;
    /* Bytes kept by the program (dht__store_set_external): no copies here,
     * and every value that leaves is reported to drop first. */
    void (*drop)(const dht__value_t *v, void *arg);
    void *drop_arg;
    size_t max_bytes;
    unsigned max_per_key;
    size_t count, bytes;
    uint64_t seed[2];
    struct entry **table; /* tcap slots, NULL when empty */
    size_t tcap;          /* power of two */
    struct entry **heap[NHEAPS];
    size_t nkeys, hcap;
    size_t due_next;  /* dht__store_take_due goes on from this key (of heap[FAR]) */
    uint64_t due_min; /* no value is due by due_min_fn before this (0: unknown) */
    uint64_t (*due_min_fn)(const void *arg, const dht_id_t *key, uint64_t touched_at);
};

/* ------------------------------------------------------------------------ */
/* The hash table                                                           */
/* ------------------------------------------------------------------------ */

static struct entry *lookup(const dht__store_t *st, const dht_id_t *key)
{
    size_t mask = st->tcap - 1;
    uint64_t h = dht__siphash_id(st->seed, key);

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct entry *e = st->table[i];
        if (e == NULL)
            return NULL;
        if (e->hash == h && memcmp(e->key.b, key->b, DHT_ID_LEN) == 0)
            return e;
    }
}

/* Puts e in the first free slot of its probe run; there is always one. */
static void table_insert(struct entry **table, size_t tcap, struct entry *e)
{
    size_t i = (size_t)e->hash & (tcap - 1);

    while (table[i] != NULL)
        i = (i + 1) & (tcap - 1);
    table[i] = e;
}

/* Removes e and shifts later members of the probe run back into the hole,
 * so lookups never need tombstones. */
static void table_remove(dht__store_t *st, const struct entry *e)
{
    size_t mask = st->tcap - 1;
    size_t i = (size_t)e->hash & mask;

    while (st->table[i] != e)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; st->table[j] != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)st->table[j]->hash & mask;
        /* Move j into the hole unless its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            st->table[i] = st->table[j];
            i = j;
        }
    }
    st->table[i] = NULL;
}

/* Makes room for `keys` entries at a load of at most 1/2.
 * @return 0, or DHT_ENOMEM with the table unchanged. */
static int table_reserve(dht__store_t *st, size_t keys)
{
    size_t cap = st->tcap;
    struct entry **t;

    while (keys > cap / 2)
        cap *= 2;
    if (cap == st->tcap)
        return 0;
    t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < st->tcap; i++)
        if (st->table[i] != NULL)
            table_insert(t, cap, st->table[i]);
    free(st->table);
    st->table = t;
    st->tcap = cap;
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
    free(e);
}

/* Frees value i of e and closes the gap; the caller restores the heaps. */
static void value_remove(dht__store_t *st, struct entry *e, size_t i)
{
    if (st->drop != NULL && e->vals[i].data == NULL)
        st->drop(&e->vals[i], st->drop_arg);
    st->bytes -= e->vals[i].len;
    st->count--;
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
    table_remove(st, e);
    heap_remove(st, e);
    entry_free(e);
}

static size_t entry_bytes(const struct entry *e, uint64_t now, int expired)
{
    size_t sum = 0;

    for (size_t i = 0; i < e->n; i++)
        if ((e->vals[i].expires_at <= now) == expired)
            sum += e->vals[i].len;
    return sum;
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

/* Sums, over the keys that heap h holds above a threshold, the bytes that
 * could be freed: for EXP, expired bytes of keys whose earliest expiry is
 * <= now; for FAR, unexpired bytes of keys farther than dist. Stops once
 * the sum reaches need. The heap order bounds the walk: the children of a
 * key below the threshold are below it too, so it costs O(keys counted).
 * The walk is a stackless pre-order traversal of the implicit tree. */
static size_t heap_sum(const dht__store_t *st, int h, const dht_id_t *dist, uint64_t now,
                       size_t need)
{
    size_t i = 0, n = st->nkeys, sum = 0;

    while (i < n) {
        const struct entry *e = st->heap[h][i];
        int in = h == EXP ? e->min_exp <= now : memcmp(e->dist.b, dist->b, DHT_ID_LEN) > 0;
        if (in) {
            sum += entry_bytes(e, now, h == EXP);
            if (sum >= need)
                return sum;
            if (2 * i + 1 < n) {
                i = 2 * i + 1;
                continue;
            }
        }
        /* Subtree of i done: go to the next right sibling up the tree. */
        while (i > 0 && !((i & 1) && i + 1 < n))
            i = (i - 1) / 2;
        if (i == 0)
            break;
        i++;
    }
    return sum;
}

/* Decides, without changing anything, whether a new value of len bytes
 * under the key at distance dist (entry e, or NULL if new) can be stored.
 * @return 0 or DHT_EBUSY. */
static int plan(const dht__store_t *st, const struct entry *e, const dht_id_t *dist, size_t len,
                uint64_t now)
{
    size_t kept = st->bytes, room = st->max_bytes - len, need, got;
    unsigned live = 0;

    if (e != NULL) {
        for (size_t i = 0; i < e->n; i++)
            live += e->vals[i].expires_at > now;
        if (live >= st->max_per_key) { /* the oldest live value goes */
            for (size_t i = 0; i < e->n; i++) {
                if (e->vals[i].expires_at > now) {
                    kept -= e->vals[i].len;
                    break;
                }
            }
        }
    }
    if (kept <= room)
        return 0;
    need = kept - room;
    got = heap_sum(st, EXP, dist, now, need);
    if (got >= need)
        return 0;
    got += heap_sum(st, FAR, dist, now, need - got);
    return got >= need ? 0 : DHT_EBUSY;
}

/* Evicts what the caps demand before a value of len bytes joins e (NULL for
 * a new key at distance dist), as plan() has found possible. */
static void make_room(dht__store_t *st, struct entry *e, const dht_id_t *dist, size_t len,
                      uint64_t now)
{
    int full = e != NULL && e->n >= st->max_per_key;

    if (!full && st->bytes <= st->max_bytes - len)
        return;
    expire_but(st, now, e);
    if (e != NULL && e->n >= st->max_per_key) {
        value_remove(st, e, 0);
        entry_update(st, e);
    }
    while (st->bytes > st->max_bytes - len) {
        struct entry *far = st->heap[FAR][0];
        assert(memcmp(far->dist.b, dist->b, DHT_ID_LEN) > 0);
        (void)dist;
        value_remove(st, far, 0);
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
    e->hash = dht__siphash_id(st->seed, key);
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
    entry_update(st, e);
}

/* Stores v, with a copy of data, under a key (entry e, NULL if new) that
 * does not hold its hash yet. */
static int put_new(dht__store_t *st, struct entry *e, dht__value_t *v, const uint8_t *data,
                   uint64_t now)
{
    struct entry *fresh = NULL;
    dht_id_t dist;
    int err;

    dht_id_distance(&dist, &v->key, &st->self);
    err = plan(st, e, &dist, v->len, now);
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
        if (fresh == NULL || table_reserve(st, st->nkeys + 1) || heap_reserve(st, st->nkeys + 1))
            goto fail;
    } else if (vals_reserve(st, e)) {
        goto fail;
    }
    /* Nothing can fail from here on. */
    make_room(st, e, &dist, v->len, now);
    if (fresh != NULL) {
        e = fresh;
        table_insert(st->table, st->tcap, e);
        heap_push(st, e);
    }
    insert(st, e, v);
    return 0;
fail:
    if (fresh != NULL)
        entry_free(fresh);
    free(v->data);
    return DHT_ENOMEM;
}

int dht__store_put_at(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash,
                      const uint8_t *data, size_t len, uint8_t flags, uint64_t now,
                      uint64_t stored_at, uint64_t expires_at)
{
    struct entry *e;
    size_t i;

    if (len > st->max_bytes || len > UINT32_MAX)
        return DHT_ETOOBIG;
    e = lookup(st, key);
    i = e != NULL ? find_hash(e, hash) : SIZE_MAX;
    if (i != SIZE_MAX) { /* a refresh */
        dht__value_t *v = &e->vals[i];
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
                      .expires_at = expires_at,
                      .touched_at = now};
    st->due_min = 0; /* the new value may be due before the others */
    return put_new(st, e, &v, data, now);
}

int dht__store_put(dht__store_t *st, const dht_id_t *key, const dht_id_t *hash, const uint8_t *data,
                   size_t len, uint8_t flags, uint64_t now, uint64_t expires_at)
{
    return dht__store_put_at(st, key, hash, data, len, flags, now, now, expires_at);
}

int dht__store_fits(const dht__store_t *st, const dht_id_t *key, const dht_id_t *hash, size_t len,
                    uint64_t now)
{
    const struct entry *e = lookup(st, key);
    dht_id_t dist;

    if (len > st->max_bytes || len > UINT32_MAX)
        return DHT_ETOOBIG;
    if (e != NULL && find_hash(e, hash) != SIZE_MAX)
        return 0;
    dht_id_distance(&dist, key, &st->self);
    return plan(st, e, &dist, len, now);
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
    st->tcap = 16;
    st->table = calloc(st->tcap, sizeof(*st->table));
    if (st->table == NULL) {
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
    free(st->table);
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
