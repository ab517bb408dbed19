/*
 * Who stored what in the value store, for the fair share of a full store
 * (store.h has the rules, store_layout.h the structures).
 *
 * Each source with values has a record: its bytes and count, its place in
 * the store's load heap (most bytes on top: the next source to give up
 * room), and a max-heap of the keys it holds values of, farthest from the
 * own id on top (its next value to give up). Each key's entry lists, per
 * source among its values, how many values and where the key sits in that
 * source's heap. A source goes when its last value does, so the records
 * never outnumber the values. Sources are found by a keyed hash table
 * (SipHash of the id under the store's seed), since anyone chooses them.
 *
 * Costs: adding or removing a value is O(P + log K + log S) (P values per
 * key, K keys of the source, S sources).
 */
#include "store_layout.h"

#include "siphash.h"

#include <stdlib.h>
#include <string.h>

static uint64_t source_hash(const dht__store_t *st, const dht_source_t *id)
{
    dht_id_t wide;

    memset(&wide, 0, sizeof(wide));
    memcpy(wide.b, id->b, sizeof(id->b));
    return dht__siphash_id(st->seed, &wide);
}

static int same(const dht_source_t *a, const dht_source_t *b)
{
    return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

struct source *dht__src_find(const dht__store_t *st, const dht_source_t *id)
{
    size_t mask = st->sources.cap - 1;
    uint64_t h = source_hash(st, id);

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct source *s = (struct source *)st->sources.slot[i];
        if (s == NULL)
            return NULL;
        if (s->h.hash == h && same(&s->id, id))
            return s;
    }
}

/* ------------------------------------------------------------------------ */
/* The load heap                                                            */
/* ------------------------------------------------------------------------ */

static int heavier(const struct source *a, const struct source *b)
{
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes;
    return memcmp(a->id.b, b->id.b, sizeof(a->id.b)) > 0;
}

static void lset(dht__store_t *st, size_t i, struct source *s)
{
    st->load[i] = s;
    s->pos = i;
}

static void load_fix(dht__store_t *st, size_t i)
{
    struct source *s = st->load[i];

    while (i > 0 && heavier(s, st->load[(i - 1) / 2])) {
        lset(st, i, st->load[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= st->nsrc)
            break;
        if (c + 1 < st->nsrc && heavier(st->load[c + 1], st->load[c]))
            c++;
        if (!heavier(st->load[c], s))
            break;
        lset(st, i, st->load[c]);
        i = c;
    }
    lset(st, i, s);
}

struct source *dht__src_heaviest(const dht__store_t *st)
{
    return st->nsrc > 0 ? st->load[0] : NULL;
}

/* ------------------------------------------------------------------------ */
/* A source's heap of keys                                                  */
/* ------------------------------------------------------------------------ */

static struct member *member_of(const struct entry *e, const struct source *s)
{
    for (unsigned i = 0; i < e->nmem; i++)
        if (e->mem[i].src == s)
            return &e->mem[i];
    return NULL;
}

static int farther(const struct entry *a, const struct entry *b)
{
    return memcmp(a->dist.b, b->dist.b, DHT_ID_LEN) > 0;
}

static void kset(struct source *s, size_t i, struct entry *e)
{
    s->heap[i] = e;
    member_of(e, s)->pos = i;
}

static void keys_fix(struct source *s, size_t i)
{
    struct entry *e = s->heap[i];

    while (i > 0 && farther(e, s->heap[(i - 1) / 2])) {
        kset(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n)
            break;
        if (c + 1 < s->n && farther(s->heap[c + 1], s->heap[c]))
            c++;
        if (!farther(s->heap[c], e))
            break;
        kset(s, i, s->heap[c]);
        i = c;
    }
    kset(s, i, e);
}

/* ------------------------------------------------------------------------ */
/* Adding and removing                                                      */
/* ------------------------------------------------------------------------ */

static int grow(void **arr, size_t *cap, size_t want, size_t size)
{
    size_t c = *cap ? *cap : 4;
    void *p;

    while (c < want)
        c *= 2;
    if (c == *cap)
        return 0;
    p = realloc(*arr, c * size);
    if (p == NULL)
        return DHT_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

static void source_drop(dht__store_t *st, struct source *s)
{
    size_t last = --st->nsrc;

    dht__ptable_remove(&st->sources, &s->h);
    if (s->pos != last) {
        lset(st, s->pos, st->load[last]);
        load_fix(st, s->pos);
    }
    free(s->heap);
    free(s);
}

int dht__src_prepare(dht__store_t *st, const dht_source_t *id, struct entry *e)
{
    struct source *s = dht__src_find(st, id);
    size_t cap;

    if (s == NULL) {
        if (dht__ptable_reserve(&st->sources, st->nsrc + 1) ||
            grow((void **)&st->load, &st->lcap, st->nsrc + 1, sizeof(*st->load)) ||
            (s = calloc(1, sizeof(*s))) == NULL)
            return DHT_ENOMEM;
        s->id = *id;
        s->oldest = UINT64_MAX;
        s->h.hash = source_hash(st, id);
        dht__ptable_insert(&st->sources, &s->h);
        lset(st, st->nsrc++, s);
        load_fix(st, s->pos);
    }
    st->pinned = s;
    if (member_of(e, s) != NULL)
        return 0;
    cap = e->memcap;
    if (grow((void **)&e->mem, &cap, e->nmem + 1, sizeof(*e->mem)))
        return DHT_ENOMEM;
    e->memcap = (unsigned)cap;
    return grow((void **)&s->heap, &s->cap, s->n + 1, sizeof(*s->heap));
}

void dht__src_release(dht__store_t *st)
{
    struct source *s = st->pinned;

    st->pinned = NULL;
    if (s != NULL && s->count == 0)
        source_drop(st, s);
}

void dht__src_add(dht__store_t *st, struct entry *e, const dht__value_t *v)
{
    struct source *s = dht__src_find(st, &v->source);
    struct member *m = member_of(e, s);

    if (m == NULL) { /* room made by dht__src_prepare */
        m = &e->mem[e->nmem++];
        *m = (struct member){.src = s, .pos = s->n, .n = 0};
        s->heap[s->n++] = e;
        keys_fix(s, s->n - 1);
    }
    m->n++;
    if (v->stored_at < s->oldest)
        s->oldest = v->stored_at;
    s->bytes += dht__charge(st, v->len);
    s->count++;
    load_fix(st, s->pos);
}

void dht__src_remove(dht__store_t *st, struct entry *e, const dht__value_t *v)
{
    struct source *s = dht__src_find(st, &v->source);
    struct member *m = member_of(e, s);

    s->bytes -= dht__charge(st, v->len);
    s->count--;
    if (--m->n == 0) {
        size_t at = m->pos, last = --s->n;
        *m = e->mem[--e->nmem];
        if (at != last) {
            kset(s, at, s->heap[last]);
            keys_fix(s, at);
        }
    }
    if (s->count == 0 && s != st->pinned)
        source_drop(st, s);
    else
        load_fix(st, s->pos);
}

void dht__src_free_all(dht__store_t *st)
{
    for (size_t i = 0; i < st->nsrc; i++) {
        free(st->load[i]->heap);
        free(st->load[i]);
    }
    free(st->load);
    dht__ptable_free(&st->sources);
}

/* ------------------------------------------------------------------------ */
/* What eviction asks                                                       */
/* ------------------------------------------------------------------------ */

size_t dht__src_oldest_in(const struct entry *e, const struct source *s)
{
    for (size_t i = 0; i < e->n; i++)
        if (same(&e->vals[i].source, &s->id))
            return i;
    return SIZE_MAX;
}

static size_t bytes_in(const dht__store_t *st, const struct entry *e, const struct source *s,
                       uint64_t now)
{
    size_t sum = 0;

    for (size_t i = 0; i < e->n; i++)
        if (same(&e->vals[i].source, &s->id) && dht__value_settled(st, &e->vals[i], now))
            sum += dht__charge(st, e->vals[i].len);
    return sum;
}

/* Walks the keys of s's heap farther than dist in pre-order (the children
 * of a key that is not are not either, as heap_sum in store.c), from *i;
 * @return the next one's index, or s->n at the end. Start with *i = 0 and
 * first = 1. */
static size_t far_next(const struct source *s, const dht_id_t *dist, size_t i, int first)
{
    for (;;) {
        if (!first) {
            if (2 * i + 1 < s->n && memcmp(s->heap[i]->dist.b, dist->b, DHT_ID_LEN) > 0) {
                i = 2 * i + 1;
            } else {
                while (i > 0 && !((i & 1) && i + 1 < s->n))
                    i = (i - 1) / 2;
                if (i == 0)
                    return s->n;
                i++;
            }
        }
        first = 0;
        if (i >= s->n)
            return s->n;
        if (memcmp(s->heap[i]->dist.b, dist->b, DHT_ID_LEN) > 0)
            return i;
    }
}

/* @return 0 if no value of s can be settled at now (a flood of young
 * values is refused without a walk of its keys), else 1. */
static int may_have_settled(const dht__store_t *st, const struct source *s, uint64_t now)
{
    return s->oldest != UINT64_MAX && now >= s->oldest && now - s->oldest >= st->settle_ms;
}

size_t dht__src_far_bytes(const dht__store_t *st, const struct source *s, const dht_id_t *dist,
                          size_t need, uint64_t now)
{
    size_t sum = 0;

    if (!may_have_settled(st, s, now))
        return 0;
    for (size_t i = far_next(s, dist, 0, 1); i < s->n; i = far_next(s, dist, i, 0)) {
        sum += bytes_in(st, s->heap[i], s, now);
        if (sum >= need)
            break;
    }
    return sum;
}

struct entry *dht__src_far_victim(const dht__store_t *st, const struct source *s,
                                  const dht_id_t *dist, uint64_t now, size_t *idx)
{
    if (!may_have_settled(st, s, now))
        return NULL;
    for (size_t i = far_next(s, dist, 0, 1); i < s->n; i = far_next(s, dist, i, 0)) {
        struct entry *e = s->heap[i];
        size_t v = dht__src_oldest_in(e, s);

        if (v != SIZE_MAX && dht__value_settled(st, &e->vals[v], now)) {
            *idx = v;
            return e;
        }
    }
    return NULL;
}

size_t dht__src_per_key_victim(const struct entry *e, const struct source *s)
{
    unsigned most = 0;

    for (unsigned i = 0; i < e->nmem; i++) {
        unsigned n = e->mem[i].n + (e->mem[i].src == s); /* the new value counts */
        most = n > most ? n : most;
    }
    for (size_t i = 0; i < e->n; i++) {
        for (unsigned j = 0; j < e->nmem; j++)
            if (e->mem[j].n + (e->mem[j].src == s) == most &&
                same(&e->vals[i].source, &e->mem[j].src->id))
                return i;
    }
    return 0;
}
