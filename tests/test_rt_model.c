/*
 * Model-based test of the routing table's node states (libdht/rt.c against
 * its contract in libdht/rt.h), the way the Erlang DHT seed's QuickCheck
 * models test its routing table: random command sequences, a small
 * reference model, a mocked clock, and a comparison after every command.
 *
 * The model is written from rt.h alone, as plainly as possible. Each
 * sequence draws a small universe of ids (40..200 of them, most sharing
 * long prefixes with the own id) and the model keeps one flat record per
 * universe id: where it is (nowhere, in a bucket, in a replacement cache),
 * its address, last_seen, replied, fails, learned, proven, and when a request to
 * it last failed. Buckets are not stored: an id's bucket is
 * min(common prefix with the own id, nb - 1) for the model's bucket count
 * nb, and a split is nb + 1. The expected state is rt.h's definition over
 * these fields and the mocked clock, written against DHT__RT_BAD_FAILS and
 * DHT__RT_GOOD_MS ("within" read as age < DHT__RT_GOOD_MS). Where rt.h
 * leaves a choice open, the model follows rt.c's stated rules: the bad
 * node, learned node or cache entry that goes is the one with the oldest
 * last_seen (a promotion on failure takes the newest proven entry, else the
 * newest, as rt.h says), the smaller id on a tie; room for a new node is a
 * free slot, a bad node's, a split of the last bucket, a learned node's
 * (not for hearsay), then the cache, where the oldest unproven entry goes
 * (a proven one only for a REPLY or INSERT). A cache entry that comes into a bucket keeps its
 * record: through dht__rt_update() it then hears the message, through dht__rt_failed() it comes as
 * it was.
 *
 * The commands: a reply from X, a request seen from X (QUERY), insert X,
 * X learned from another node's reply, a request to X failed (X drawn from
 * the universe or from the nodes in the buckets), the clock advancing
 * (whole seconds, up to a minute, up to 20 minutes, or to just before, at
 * or after a node's DHT__RT_GOOD_MS edge), X moving to a new address, and
 * messages from the own id. One message in seven comes from an address
 * variant drawn at random rather than X's current one. k is 1..8 and the
 * cache 0..4 entries, so full buckets, caches, replacements and splits
 * happen all the time; one sequence in four also has ids sharing 200+ bits
 * with the own id, so the table splits towards 256 buckets. The clock
 * starts at 0, 1, 1000 or 10^12 ms.
 *
 * The checks, after every command: the return value; the bucket count; the
 * placement (bucket or cache, which bucket) and every field of every entry;
 * the state rt.c computes equals the model's; the counts by state; no id
 * twice, in a bucket and a cache, or the own id; at most k nodes and
 * cache_size entries per bucket, each in the bucket its prefix says;
 * dht__rt_find; dht__rt_closest and _closest_verified (no bad nodes, no
 * unproven ones for _verified, sorted by XOR distance, none nearer left
 * out); dht__rt_ping_candidate. Besides the model, invariants checked on
 * the table itself: the listener's added/removed events replayed into a
 * set equal the bucket contents; only a bad node, or a learned one for a
 * node heard from, is ever removed (so a LEARNED command never removes
 * anything and a good node is never evicted); a good node's address does
 * not change; a learned node never enters a cache; and no bucket keeps a
 * bad node while its cache holds a replacement.
 *
 * `make test` runs sequences 1..5000 of 300 commands each (1,500,000
 * commands, every one followed by all the checks): about 8 s, under a
 * minute under `make check`. The run prints how often each rule fired and fails if one
 * never did, so a generator that stops reaching a rule is noticed.
 *
 * Reproducing a failure. A failing sequence is reported with its seed,
 * the step that failed, what was wrong, the last steps of the trace, and a
 * shrunk sequence: the commands made concrete (the node a FAILED_NTH hit,
 * the time an EDGE jumped), then deleted while it still fails. To rerun:
 *   RT_MODEL_SEED=<seed> build/tests/test_rt_model     that sequence, traced
 * Other knobs: RT_MODEL_SEQS=<n> (sequences, from RT_MODEL_SEED or 1 on),
 * RT_MODEL_STEPS=<n> (commands per sequence, default 300, at most 5000).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "rt.h"

#define MIN_IDS    40
#define MAX_IDS    200
#define MAX_STEPS  5000
#define DEF_SEQS   5000
#define DEF_STEPS  300
#define N_VARIANTS 5    /* addresses a node can have */
#define HOME       0xff /* a command's variant: the node's current address */
#define MAX_OUT    (MAX_IDS + 8)
#define HASH_SLOTS 512 /* id -> universe index */

/* ------------------------------------------------------------------------ */
/* Random numbers, ids, addresses                                           */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* @return a number in [0, n), 0 if n == 0. */
static uint64_t rnd(uint64_t *s, uint64_t n)
{
    return n == 0 ? 0 : splitmix64(s) % n;
}

static int id_eq(const dht_id_t *a, const dht_id_t *b)
{
    return memcmp(a->b, b->b, DHT_ID_LEN) == 0;
}

static int id_order(const void *a, const void *b)
{
    return memcmp(((const dht_id_t *)a)->b, ((const dht_id_t *)b)->b, DHT_ID_LEN);
}

/* @return the number of leading bits a and b share, 0..256. */
static unsigned prefix_len(const dht_id_t *a, const dht_id_t *b)
{
    for (unsigned i = 0; i < DHT_ID_LEN; i++) {
        uint8_t x = a->b[i] ^ b->b[i];
        if (x != 0) {
            unsigned n = i * 8;
            while (!(x & 0x80)) {
                x = (uint8_t)(x << 1);
                n++;
            }
            return n;
        }
    }
    return 256;
}

/* @return 1 if a is strictly nearer to t than b by XOR distance. */
static int nearer(const dht_id_t *t, const dht_id_t *a, const dht_id_t *b)
{
    for (unsigned i = 0; i < DHT_ID_LEN; i++) {
        uint8_t da = a->b[i] ^ t->b[i], db = b->b[i] ^ t->b[i];
        if (da != db)
            return da < db;
    }
    return 0;
}

/* @return a random id sharing exactly p < 256 bits with self. */
static dht_id_t id_at_depth(const dht_id_t *self, unsigned p, uint64_t *rng)
{
    dht_id_t id;

    for (unsigned i = 0; i < DHT_ID_LEN; i++)
        id.b[i] = (uint8_t)splitmix64(rng);
    for (unsigned q = 0; q <= p; q++) {
        uint8_t bit = (uint8_t)(0x80u >> (q % 8));
        uint8_t want = q < p ? (self->b[q / 8] & bit) : (~self->b[q / 8] & bit);
        id.b[q / 8] = (uint8_t)((id.b[q / 8] & ~bit) | want);
    }
    return id;
}

/* Address variant v of universe id i. Variant 4 is variant 0 with junk in
 * the unused bytes of the IPv4 address: the same address (dht.h). */
static dht_addr_t addr_of(size_t i, unsigned v)
{
    dht_addr_t a;

    memset(&a, 0, sizeof a);
    a.family = DHT_AF_INET;
    a.ip[0] = 10;
    a.ip[1] = v == 2 ? 1 : 0;
    a.ip[2] = (uint8_t)(i >> 8);
    a.ip[3] = (uint8_t)i;
    a.port = v == 1 ? 7001 : 6881;
    if (v == 3) {
        a.family = DHT_AF_INET6;
        a.ip[0] = 0xfd;
        a.ip[1] = 0;
        a.ip[14] = (uint8_t)(i >> 8);
        a.ip[15] = (uint8_t)i;
    }
    if (v == 4)
        memset(a.ip + 4, 0xaa, 12);
    return a;
}

/* Same family, port and address (4 bytes of it for IPv4), as in dht.h. */
static int addr_eq(const dht_addr_t *a, const dht_addr_t *b)
{
    size_t n = a->family == DHT_AF_INET6 ? 16 : 4;

    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

/* ------------------------------------------------------------------------ */
/* A sequence: its configuration and its commands                           */
/* ------------------------------------------------------------------------ */

typedef struct config {
    uint64_t seed;
    unsigned k, cache_size;
    uint64_t t0; /* the clock's start */
    dht_id_t self;
    size_t n_ids;
    dht_id_t ids[MAX_IDS];    /* sorted: a smaller index is a smaller id */
    unsigned depth[MAX_IDS];  /* bits shared with self */
    int16_t slot[HASH_SLOTS]; /* open addressing: index + 1, 0 = empty */
} config_t;

static size_t id_hash(const dht_id_t *id)
{
    uint64_t h = 0;

    for (unsigned i = 0; i < DHT_ID_LEN; i += 8) {
        uint64_t w;
        memcpy(&w, id->b + i, 8);
        h ^= w;
    }
    return (size_t)(splitmix64(&h) % HASH_SLOTS);
}

/* @return the universe index of id, or -1. */
static long idx_of(const config_t *c, const dht_id_t *id)
{
    for (size_t h = id_hash(id);; h = (h + 1) % HASH_SLOTS) {
        long i = c->slot[h] - 1;
        if (i < 0 || id_eq(&c->ids[i], id))
            return i;
    }
}

static void index_ids(config_t *c)
{
    for (size_t i = 0; i < c->n_ids; i++) {
        size_t h = id_hash(&c->ids[i]);
        while (c->slot[h] != 0)
            h = (h + 1) % HASH_SLOTS;
        c->slot[h] = (int16_t)(i + 1);
    }
}

typedef enum kind {
    C_REPLY,
    C_QUERY,
    C_INSERT,
    C_LEARNED,
    C_FAILED,     /* failed(universe id) */
    C_FAILED_NTH, /* failed(the nth node in the buckets) */
    C_ADVANCE,    /* the clock moves on by arg ms */
    C_EDGE,       /* the clock moves to a bucket node's GOOD_MS edge */
    C_MOVE,       /* the node's current address becomes variant arg */
    C_SELF,       /* a message from (or failure of) the own id */
} kind_t;

static const char *const kind_names[] = {"REPLY",      "QUERY",   "INSERT", "LEARNED", "FAILED",
                                         "FAILED_NTH", "ADVANCE", "EDGE",   "MOVE",    "SELF"};

typedef struct cmd {
    uint8_t kind;
    uint8_t variant; /* address variant, or HOME */
    uint16_t who;    /* universe index (mod n_ids), or n for the nth */
    uint32_t probe;  /* drives the queries checked after the command */
    uint64_t arg;
} cmd_t;

static void gen_config(uint64_t seed, config_t *c)
{
    uint64_t rng = seed;
    static const uint64_t t0s[4] = {0, 1, 1000, 1000000000000ull};
    size_t want, n = 0;
    int deep;

    memset(c, 0, sizeof *c);
    c->seed = seed;
    c->k = 1 + (unsigned)rnd(&rng, 8);
    c->cache_size = (unsigned)rnd(&rng, 5);
    c->t0 = t0s[rnd(&rng, 4)];
    for (unsigned i = 0; i < DHT_ID_LEN; i++)
        c->self.b[i] = (uint8_t)splitmix64(&rng);
    want = MIN_IDS + rnd(&rng, MAX_IDS - MIN_IDS + 1);
    deep = rnd(&rng, 4) == 0; /* one sequence in four splits ~250 deep */
    for (size_t i = 0; i < want; i++) {
        uint64_t r = rnd(&rng, 100);
        unsigned p;
        if (r < 15)
            p = (unsigned)rnd(&rng, 4); /* as a random id would be, mostly */
        else if (r < 75 || (r >= 90 && !deep))
            p = (unsigned)rnd(&rng, 10);
        else if (r < 90)
            p = 10 + (unsigned)rnd(&rng, 20);
        else
            p = 200 + (unsigned)rnd(&rng, 56); /* long shared prefixes */
        c->ids[n++] = id_at_depth(&c->self, p, &rng);
    }
    qsort(c->ids, n, sizeof c->ids[0], id_order);
    c->n_ids = 0;
    for (size_t i = 0; i < n; i++)
        if (c->n_ids == 0 || !id_eq(&c->ids[c->n_ids - 1], &c->ids[i]))
            c->ids[c->n_ids++] = c->ids[i];
    for (size_t i = 0; i < c->n_ids; i++)
        c->depth[i] = prefix_len(&c->self, &c->ids[i]);
    index_ids(c);
}

static uint64_t gen_advance(uint64_t *rng)
{
    uint64_t r = rnd(rng, 10);

    if (r < 4) /* whole seconds: many nodes share a last_seen */
        return 1000 * rnd(rng, 3);
    if (r < 7)
        return rnd(rng, 60 * 1000 + 1);
    return rnd(rng, 20 * 60 * 1000 + 1);
}

static cmd_t gen_cmd(uint64_t *rng)
{
    uint64_t r = rnd(rng, 1000);
    cmd_t c;

    memset(&c, 0, sizeof c);
    c.who = (uint16_t)rnd(rng, 65536);
    c.variant = rnd(rng, 7) == 0 ? (uint8_t)rnd(rng, N_VARIANTS) : HOME;
    c.probe = (uint32_t)splitmix64(rng);
    if (r < 220)
        c.kind = C_REPLY;
    else if (r < 370)
        c.kind = C_QUERY;
    else if (r < 420)
        c.kind = C_INSERT;
    else if (r < 560)
        c.kind = C_LEARNED;
    else if (r < 620)
        c.kind = C_FAILED;
    else if (r < 730)
        c.kind = C_FAILED_NTH;
    else if (r < 900)
        c.kind = C_ADVANCE;
    else if (r < 950)
        c.kind = C_EDGE;
    else if (r < 990)
        c.kind = C_MOVE;
    else
        c.kind = C_SELF;
    if (c.kind == C_ADVANCE)
        c.arg = gen_advance(rng);
    else
        c.arg = rnd(rng, 1000);
    return c;
}

/* The commands of sequence seed (after its configuration's draws). */
static void gen_cmds(uint64_t seed, cmd_t *cmds, size_t n)
{
    uint64_t rng = seed ^ 0x5eed5eed5eed5eedull;

    for (size_t i = 0; i < n; i++)
        cmds[i] = gen_cmd(&rng);
}

/* ------------------------------------------------------------------------ */
/* The reference model                                                      */
/* ------------------------------------------------------------------------ */

enum { NOWHERE = 0, IN_TABLE = 1, IN_CACHE = 2 };

typedef struct mnode {
    int where;
    dht_addr_t addr;
    uint64_t last_seen;
    int replied;
    unsigned fails;
    int learned;
    int proven;         /* answered a request of ours, or inserted */
    uint64_t failed_at; /* last failed request; 0 = none since it came in */
} mnode_t;

/* What happened, over all sequences: the generator must reach it all. */
typedef struct stats {
    size_t splits, bad_replaced, learned_replaced, cache_pushed, promoted, good_kept_addr,
        learned_added, learned_dropped, went_questionable, edge_good, edge_questionable,
        proven_kept, proven_promoted;
} stats_t;

static stats_t stats;

typedef struct model {
    const config_t *cfg;
    size_t nb;
    mnode_t n[MAX_IDS];
} model_t;

static dht__rt_state_t m_state(const mnode_t *x, uint64_t now)
{
    if (x->fails >= DHT__RT_BAD_FAILS)
        return DHT__RT_BAD;
    if (x->replied && now - x->last_seen < DHT__RT_GOOD_MS)
        return DHT__RT_GOOD;
    return DHT__RT_QUESTIONABLE;
}

static size_t m_bucket(const model_t *m, size_t i)
{
    size_t d = m->cfg->depth[i];

    return d < m->nb - 1 ? d : m->nb - 1;
}

static size_t m_count(const model_t *m, size_t b, int where)
{
    size_t c = 0;

    for (size_t i = 0; i < m->cfg->n_ids; i++)
        c += m->n[i].where == where && m_bucket(m, i) == b;
    return c;
}

static int is_bad(const mnode_t *x)
{
    return x->fails >= DHT__RT_BAD_FAILS;
}

static int is_learned(const mnode_t *x)
{
    return x->learned;
}

static int is_unproven(const mnode_t *x)
{
    return !x->proven;
}

static int is_proven(const mnode_t *x)
{
    return x->proven;
}

/* @return the entry of bucket b at where (passing ok, if given) with the
 *         oldest last_seen, or the newest if newest; the smaller id on a
 *         tie. -1 if there is none. */
static long m_pick(const model_t *m, size_t b, int where, int (*ok)(const mnode_t *), int newest)
{
    long best = -1;

    for (size_t i = 0; i < m->cfg->n_ids; i++) {
        const mnode_t *x = &m->n[i];
        if (x->where != where || m_bucket(m, i) != b || (ok != NULL && !ok(x)))
            continue;
        if (best < 0 ||
            (newest ? x->last_seen > m->n[best].last_seen : x->last_seen < m->n[best].last_seen))
            best = (long)i; /* ids ascend: a tie keeps the smaller */
    }
    return best;
}

static void m_fresh(mnode_t *x, int where, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    memset(x, 0, sizeof *x);
    x->where = where;
    x->addr = *addr;
    x->last_seen = now;
    x->replied = ev == DHT__RT_REPLY;
    x->learned = ev == DHT__RT_LEARNED;
    x->proven = ev == DHT__RT_REPLY || ev == DHT__RT_INSERT;
}

static void m_heard(mnode_t *x, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    if (!addr_eq(&x->addr, addr)) {
        x->addr = *addr;
        x->proven = 0; /* rt.h: a new address proves nothing until it answers */
    }
    x->last_seen = now;
    x->learned = 0;
    if (ev == DHT__RT_REPLY || ev == DHT__RT_INSERT)
        x->proven = 1;
    if (ev == DHT__RT_REPLY) {
        x->replied = 1;
        x->fails = 0;
    }
}

static int m_to_cache(model_t *m, size_t i, size_t b, const dht_addr_t *addr, uint64_t now,
                      dht__rt_event_t ev)
{
    mnode_t *x = &m->n[i];

    if (x->where == IN_CACHE) {
        m_heard(x, addr, now, ev);
        return DHT__RT_CACHED;
    }
    if (m->cfg->cache_size == 0)
        return DHT__RT_IGNORED;
    if (m_count(m, b, IN_CACHE) == m->cfg->cache_size) {
        /* rt.h: the oldest unproven entry goes; with none, only a node
         * that proved itself pushes out the oldest proven one. */
        long victim = m_pick(m, b, IN_CACHE, is_unproven, 0);
        if (victim < 0 && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT) {
            stats.proven_kept++;
            return DHT__RT_IGNORED;
        }
        m->n[victim >= 0 ? victim : m_pick(m, b, IN_CACHE, NULL, 0)].where = NOWHERE;
        stats.cache_pushed++;
    }
    m_fresh(x, IN_CACHE, addr, now, ev);
    return DHT__RT_CACHED;
}

/* Puts node i into bucket b: fresh, or with the record it had in b's
 * cache, hearing this message. */
static void m_enter(model_t *m, size_t i, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    mnode_t *x = &m->n[i];

    if (x->where == IN_CACHE) {
        m_heard(x, addr, now, ev);
        x->where = IN_TABLE;
        x->failed_at = 0;
    } else {
        m_fresh(x, IN_TABLE, addr, now, ev);
    }
}

/* A node in no bucket comes in (rt.h: "New node"): a free slot, a bad
 * node's, a split of the last bucket, a learned node's (not for hearsay),
 * the cache (not for hearsay). */
static int m_insert(model_t *m, size_t i, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    for (;;) {
        size_t b = m_bucket(m, i);
        long victim;

        if (m_count(m, b, IN_TABLE) < m->cfg->k) {
            stats.learned_added += ev == DHT__RT_LEARNED;
            m_enter(m, i, addr, now, ev);
            return DHT__RT_ADDED;
        }
        victim = m_pick(m, b, IN_TABLE, is_bad, 0);
        if (victim >= 0) {
            stats.bad_replaced++;
            m->n[victim].where = NOWHERE;
            m_enter(m, i, addr, now, ev);
            return DHT__RT_ADDED;
        }
        if (b + 1 == m->nb && m->nb < DHT__RT_MAX_BUCKETS) {
            m->nb++;
            stats.splits++;
            continue;
        }
        victim = ev == DHT__RT_LEARNED ? -1 : m_pick(m, b, IN_TABLE, is_learned, 0);
        if (victim >= 0) {
            stats.learned_replaced++;
            m->n[victim].where = NOWHERE;
            m_enter(m, i, addr, now, ev);
            return DHT__RT_ADDED;
        }
        stats.learned_dropped += ev == DHT__RT_LEARNED;
        return ev == DHT__RT_LEARNED ? DHT__RT_IGNORED : m_to_cache(m, i, b, addr, now, ev);
    }
}

static int m_update(model_t *m, size_t i, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    mnode_t *x = &m->n[i];

    if (ev == DHT__RT_LEARNED) /* hearsay: known entries stay as they are */
        return x->where == NOWHERE ? m_insert(m, i, addr, now, ev) : DHT__RT_IGNORED;
    if (x->where != NOWHERE && !addr_eq(&x->addr, addr) && m_state(x, now) == DHT__RT_GOOD) {
        stats.good_kept_addr++;
        return DHT__RT_IGNORED; /* a good node does not move */
    }
    if (x->where == IN_TABLE) {
        m_heard(x, addr, now, ev);
        return DHT__RT_UPDATED;
    }
    return m_insert(m, i, addr, now, ev);
}

static int m_failed(model_t *m, size_t i, uint64_t now)
{
    mnode_t *x = &m->n[i];
    long c;

    if (x->where != IN_TABLE)
        return -1;
    if (x->fails < DHT__RT_MAX_FAILS)
        x->fails++;
    x->failed_at = now;
    if (x->fails < DHT__RT_BAD_FAILS)
        return 0;
    c = m_pick(m, m_bucket(m, i), IN_CACHE, is_proven, 1);
    if (c >= 0)
        stats.proven_promoted += m_pick(m, m_bucket(m, i), IN_CACHE, NULL, 1) != c;
    else
        c = m_pick(m, m_bucket(m, i), IN_CACHE, NULL, 1);
    if (c < 0)
        return 0;
    x->where = NOWHERE;
    m->n[c].where = IN_TABLE; /* as it was in the cache */
    m->n[c].failed_at = 0;
    stats.promoted++;
    return 1;
}

/* @return the universe index of the expected ping candidate, or -1. */
static long m_ping_candidate(const model_t *m, uint64_t now, uint64_t min_age)
{
    size_t nodes[DHT__RT_MAX_BUCKETS] = {0}, cache[DHT__RT_MAX_BUCKETS] = {0};
    long best = -1;

    for (size_t i = 0; i < m->cfg->n_ids; i++) {
        if (m->n[i].where == IN_TABLE)
            nodes[m_bucket(m, i)]++;
        else if (m->n[i].where == IN_CACHE)
            cache[m_bucket(m, i)]++;
    }
    for (size_t i = 0; i < m->cfg->n_ids; i++) {
        const mnode_t *x = &m->n[i];
        size_t b = m_bucket(m, i);
        if (x->where != IN_TABLE || nodes[b] < m->cfg->k || cache[b] == 0 ||
            m_state(x, now) != DHT__RT_QUESTIONABLE)
            continue;
        if (now - x->last_seen < min_age || now - x->failed_at < min_age)
            continue;
        if (best < 0 || x->last_seen < m->n[best].last_seen)
            best = (long)i;
    }
    return best;
}

/* ------------------------------------------------------------------------ */
/* A run: the table, the model, the checks                                  */
/* ------------------------------------------------------------------------ */

typedef struct step_rec {
    cmd_t cmd;
    long idx;         /* the universe id acted on, -1 for none, -2 for the own id */
    unsigned variant; /* of its address */
    dht_addr_t addr;
    uint64_t now;
    int got, want;
} step_rec_t;

typedef struct run {
    const config_t *cfg;
    dht__rt_t *rt;
    model_t m;
    uint64_t now;
    uint8_t home[MAX_IDS];   /* each id's current address variant */
    uint8_t listed[MAX_IDS]; /* the listener's view of the buckets */
    /* Before the current command. */
    int prev_where[MAX_IDS];
    dht__rt_state_t prev_state[MAX_IDS];
    dht_addr_t prev_addr[MAX_IDS];
    /* After it: the model's states at now, for the checks. */
    dht__rt_state_t state[MAX_IDS];
    const cmd_t *cur;
    long cur_idx;
    /* The trace and the first failure. */
    step_rec_t trace[MAX_STEPS];
    size_t n_trace;
    int failed;
    int fail_line;
    char msg[300];
    dht__rt_node_t out[MAX_OUT];
} run_t;

static void flag(run_t *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first failure of the run. */
static void flag(run_t *r, int line, const char *fmt, ...)
{
    va_list ap;

    if (r->failed)
        return;
    r->failed = 1;
    r->fail_line = line;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

#define CHECK(r, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            flag((r), __LINE__, __VA_ARGS__);                                                      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static int is_update(const cmd_t *c)
{
    return c->kind == C_REPLY || c->kind == C_QUERY || c->kind == C_INSERT || c->kind == C_LEARNED;
}

/* The listener: replays the events into listed[] and checks each one. */
static void on_event(void *arg, const dht__rt_node_t *node, int added)
{
    run_t *r = arg;
    long i = idx_of(r->cfg, &node->id);
    const cmd_t *c = r->cur;

    CHECK(r, i >= 0, "listener: an id never used (or the own id)");
    if (added) {
        CHECK(r, !r->listed[i], "listener: id#%ld added twice", i);
        r->listed[i] = 1;
        if (is_update(c))
            CHECK(r, i == r->cur_idx, "listener: id#%ld added by a message from another", i);
        else
            CHECK(r,
                  (c->kind == C_FAILED || c->kind == C_FAILED_NTH) && r->prev_where[i] == IN_CACHE,
                  "listener: id#%ld added, but not from the cache after a failure", i);
        return;
    }
    CHECK(r, r->listed[i], "listener: id#%ld removed but not added", i);
    r->listed[i] = 0;
    CHECK(r, c->kind != C_LEARNED || dht__rt_state(node, r->now) == DHT__RT_BAD,
          "listener: a LEARNED node pushed out id#%ld, not bad", i);
    CHECK(r,
          dht__rt_state(node, r->now) == DHT__RT_BAD ||
              (node->learned && is_update(c) && i != r->cur_idx),
          "listener: id#%ld removed while %s and %slearned", i,
          dht__rt_state(node, r->now) == DHT__RT_GOOD ? "good" : "questionable",
          node->learned ? "" : "not ");
}

static void snapshot(run_t *r)
{
    for (size_t i = 0; i < r->cfg->n_ids; i++) {
        r->prev_where[i] = r->m.n[i].where;
        r->prev_state[i] = m_state(&r->m.n[i], r->now);
        r->prev_addr[i] = r->m.n[i].addr;
    }
}

/* @return the universe index of the nth bucket node (mod their number), or
 *         fallback if the buckets are empty. */
static long nth_in_table(const run_t *r, unsigned n, long fallback)
{
    size_t count = 0;

    for (size_t i = 0; i < r->cfg->n_ids; i++)
        count += r->m.n[i].where == IN_TABLE;
    if (count == 0)
        return fallback;
    n %= (unsigned)count;
    for (size_t i = 0; i < r->cfg->n_ids; i++)
        if (r->m.n[i].where == IN_TABLE && n-- == 0)
            return (long)i;
    return fallback;
}

static void do_update(run_t *r, const cmd_t *c, step_rec_t *s)
{
    static const dht__rt_event_t evs[] = {DHT__RT_REPLY, DHT__RT_QUERY, DHT__RT_INSERT,
                                          DHT__RT_LEARNED};
    dht__rt_event_t ev = evs[c->kind - C_REPLY];
    size_t i = (size_t)s->idx;

    s->variant = c->variant == HOME ? r->home[i] : c->variant;
    s->addr = addr_of(i, s->variant);
    s->got = dht__rt_update(r->rt, &r->cfg->ids[i], &s->addr, r->now, ev);
    s->want = m_update(&r->m, i, &s->addr, r->now, ev);
}

static void do_self(run_t *r, const cmd_t *c, step_rec_t *s)
{
    s->idx = -2;
    s->addr = addr_of(0, 0);
    if (c->arg % 5 == 4) {
        s->got = dht__rt_failed(r->rt, &r->cfg->self, r->now);
        s->want = -1;
    } else {
        s->got =
            dht__rt_update(r->rt, &r->cfg->self, &s->addr, r->now, (dht__rt_event_t)(c->arg % 4));
        s->want = DHT__RT_IGNORED;
    }
}

/* Moves the clock to just before, at or just after a bucket node's edge
 * between good and questionable (if that is not in the past). */
static void do_edge(run_t *r, const cmd_t *c, step_rec_t *s)
{
    uint64_t t;

    s->idx = nth_in_table(r, c->who, -1);
    if (s->idx < 0)
        return;
    t = r->m.n[s->idx].last_seen + DHT__RT_GOOD_MS + c->arg % 3 - 1;
    if (t > r->now) {
        r->now = t;
        stats.edge_good += m_state(&r->m.n[s->idx], t) == DHT__RT_GOOD;
        stats.edge_questionable +=
            r->m.n[s->idx].replied && m_state(&r->m.n[s->idx], t) == DHT__RT_QUESTIONABLE;
    }
}

/* Applies c to the table and to the model; records it as step s. */
static void apply(run_t *r, const cmd_t *c, step_rec_t *s)
{
    long any = (long)(c->who % r->cfg->n_ids);

    memset(s, 0, sizeof *s);
    s->cmd = *c;
    s->idx = -1;
    r->cur = c;
    r->cur_idx = -1;
    snapshot(r);
    switch ((kind_t)c->kind) {
    case C_REPLY:
    case C_QUERY:
    case C_INSERT:
    case C_LEARNED:
        s->idx = r->cur_idx = any;
        do_update(r, c, s);
        break;
    case C_FAILED:
    case C_FAILED_NTH:
        s->idx = r->cur_idx = c->kind == C_FAILED ? any : nth_in_table(r, c->who, any);
        s->got = dht__rt_failed(r->rt, &r->cfg->ids[s->idx], r->now);
        s->want = m_failed(&r->m, (size_t)s->idx, r->now);
        break;
    case C_ADVANCE:
        r->now += c->arg;
        break;
    case C_EDGE:
        do_edge(r, c, s);
        break;
    case C_MOVE:
        s->idx = any;
        r->home[any] = (uint8_t)(c->arg % N_VARIANTS);
        break;
    case C_SELF:
        r->cur_idx = -2;
        do_self(r, c, s);
        break;
    }
    s->now = r->now;
    CHECK(r, s->got == s->want, "returned %d, the model says %d", s->got, s->want);
}

static void check_node(run_t *r, const dht__rt_node_t *x, const mnode_t *y, long i)
{
    CHECK(r, addr_eq(&x->addr, &y->addr), "id#%ld: address differs from the model", i);
    CHECK(r, x->last_seen == y->last_seen, "id#%ld: last_seen %" PRIu64 ", model %" PRIu64, i,
          x->last_seen, y->last_seen);
    CHECK(r, x->replied == y->replied, "id#%ld: replied %d, model %d", i, x->replied, y->replied);
    CHECK(r, x->fails == y->fails, "id#%ld: fails %u, model %u", i, (unsigned)x->fails, y->fails);
    CHECK(r, !x->learned == !y->learned, "id#%ld: learned %d, model %d", i, x->learned, y->learned);
    CHECK(r, !x->proven == !y->proven, "id#%ld: proven %d, model %d", i, x->proven, y->proven);
    CHECK(r, dht__rt_state(x, r->now) == m_state(y, r->now), "id#%ld: state %d, model %d", i,
          (int)dht__rt_state(x, r->now), (int)m_state(y, r->now));
}

/* One entry of bucket b's view: where the model expects it, as it expects. */
static void check_entry(run_t *r, size_t b, const dht__rt_node_t *x, int where, uint8_t *seen)
{
    size_t nb = r->m.nb;
    long i;

    CHECK(r, !id_eq(&x->id, &r->cfg->self), "the own id is in bucket %zu", b);
    i = idx_of(r->cfg, &x->id);
    CHECK(r, i >= 0, "bucket %zu holds an id never used", b);
    CHECK(r, seen[i] == NOWHERE, "id#%ld twice (in bucket %zu %s)", i, b,
          where == IN_CACHE ? "cache" : "nodes");
    seen[i] = (uint8_t)where;
    CHECK(r, b + 1 < nb ? r->cfg->depth[i] == b : r->cfg->depth[i] >= b,
          "id#%ld (depth %u) in bucket %zu of %zu", i, r->cfg->depth[i], b, nb);
    CHECK(r, r->m.n[i].where == where, "id#%ld in a %s, the model has it %s", i,
          where == IN_CACHE ? "cache" : "bucket",
          r->m.n[i].where == NOWHERE    ? "nowhere"
          : r->m.n[i].where == IN_TABLE ? "in a bucket"
                                        : "in a cache");
    CHECK(r, m_bucket(&r->m, (size_t)i) == b, "id#%ld in bucket %zu, the model says %zu", i, b,
          m_bucket(&r->m, (size_t)i));
    CHECK(r, where == IN_TABLE || !x->learned, "a learned node in a cache: id#%ld", i);
    check_node(r, x, &r->m.n[i], i);
}

/* Walks every bucket: sizes, placement, fields, states, duplicates. */
static void check_table(run_t *r)
{
    size_t nb = dht__rt_bucket_count(r->rt);
    uint8_t seen[MAX_IDS] = {0};
    dht__rt_bucket_view_t v;

    CHECK(r, nb == r->m.nb, "%zu buckets, the model has %zu", nb, r->m.nb);
    CHECK(r, dht__rt_bucket(r->rt, nb, &v, 1) == DHT_EINVAL, "bucket %zu exists", nb);
    for (size_t b = 0; b < nb && !r->failed; b++) {
        int has_bad = 0;
        CHECK(r, dht__rt_bucket(r->rt, b, &v, 1) == 0, "no bucket %zu", b);
        CHECK(r, v.n_nodes <= r->cfg->k, "bucket %zu holds %zu nodes > k", b, v.n_nodes);
        CHECK(r, v.n_cache <= r->cfg->cache_size, "bucket %zu caches %zu", b, v.n_cache);
        for (size_t j = 0; j < v.n_nodes && !r->failed; j++) {
            check_entry(r, b, &v.nodes[j], IN_TABLE, seen);
            has_bad |= dht__rt_state(&v.nodes[j], r->now) == DHT__RT_BAD;
        }
        for (size_t j = 0; j < v.n_cache && !r->failed; j++)
            check_entry(r, b, &v.cache[j], IN_CACHE, seen);
        CHECK(r, !(has_bad && v.n_cache > 0), "bucket %zu keeps a bad node and a replacement", b);
    }
    for (size_t i = 0; i < r->cfg->n_ids && !r->failed; i++) {
        CHECK(r, seen[i] == r->m.n[i].where, "id#%zu missing from the table", i);
        CHECK(r, r->listed[i] == (r->m.n[i].where == IN_TABLE),
              "listener events say id#%zu is %sin a bucket", i, r->listed[i] ? "" : "not ");
    }
}

static void check_counts(run_t *r)
{
    size_t want[3] = {0, 0, 0}, got[3], total = 0;

    for (size_t i = 0; i < r->cfg->n_ids; i++)
        if (r->m.n[i].where == IN_TABLE) {
            want[r->state[i]]++;
            total++;
        }
    CHECK(r, dht__rt_count(r->rt, r->now, &got[0], &got[1], &got[2]) == total,
          "count: total differs from %zu", total);
    CHECK(r, dht__rt_count(r->rt, r->now, NULL, NULL, NULL) == total, "count(NULL...)");
    for (int s = 0; s < 3; s++)
        CHECK(r, got[s] == want[s], "count of state %d: %zu, model %zu", s, got[s], want[s]);
}

/* dht__rt_find() on the own id, the id acted on and a few others. */
static void check_find(run_t *r, uint64_t *rng)
{
    CHECK(r, !dht__rt_find(r->rt, &r->cfg->self, NULL), "find(own id) found a node");
    for (int j = 0; j < 4 && !r->failed; j++) {
        size_t i = j == 0 && r->cur_idx >= 0 ? (size_t)r->cur_idx : rnd(rng, r->cfg->n_ids);
        dht__rt_node_t copy;
        const dht__rt_node_t *x = dht__rt_find(r->rt, &r->cfg->ids[i], &copy) ? &copy : NULL;
        CHECK(r, (x != NULL) == (r->m.n[i].where == IN_TABLE), "find(id#%zu): %s", i,
              x ? "found" : "not found");
        if (x != NULL) {
            CHECK(r, id_eq(&x->id, &r->cfg->ids[i]), "find(id#%zu): another id", i);
            check_node(r, x, &r->m.n[i], (long)i);
        }
    }
}

static int eligible(const run_t *r, size_t i, int verified)
{
    const mnode_t *x = &r->m.n[i];

    return x->where == IN_TABLE && r->state[i] != DHT__RT_BAD &&
           !(verified && (!x->proven || x->fails > 0));
}

static void check_closest_one(run_t *r, const dht_id_t *t, size_t max, int verified)
{
    const char *fn = verified ? "closest_verified" : "closest";
    size_t n, total = 0, want;
    uint8_t in_out[MAX_IDS] = {0};

    for (size_t i = 0; i < r->cfg->n_ids; i++)
        total += eligible(r, i, verified);
    want = total < max ? total : max;
    n = verified ? dht__rt_closest_verified(r->rt, t, r->now, r->out, max)
                 : dht__rt_closest(r->rt, t, r->now, r->out, max);
    CHECK(r, n == want, "%s(max %zu) gave %zu, want %zu", fn, max, n, want);
    for (size_t j = 0; j < n; j++) {
        long i = idx_of(r->cfg, &r->out[j].id);
        CHECK(r, i >= 0 && r->m.n[i].where == IN_TABLE, "%s: [%zu] not a bucket node", fn, j);
        CHECK(r, r->state[i] != DHT__RT_BAD, "%s: [%zu] bad", fn, j);
        CHECK(r, !(verified && r->m.n[i].learned), "%s: [%zu] learned", fn, j);
        CHECK(r, !(verified && r->m.n[i].fails > 0), "%s: [%zu] failed lately", fn, j);
        CHECK(r, !in_out[i], "%s: id#%ld twice", fn, i);
        in_out[i] = 1;
        CHECK(r, j == 0 || nearer(t, &r->out[j - 1].id, &r->out[j].id), "%s: [%zu] unsorted", fn,
              j);
        check_node(r, &r->out[j], &r->m.n[i], i);
        if (r->failed)
            return;
    }
    for (size_t i = 0; n > 0 && i < r->cfg->n_ids; i++)
        CHECK(r,
              in_out[i] || !eligible(r, i, verified) ||
                  nearer(t, &r->out[n - 1].id, &r->cfg->ids[i]),
              "%s: id#%zu left out, nearer than [%zu]", fn, i, n - 1);
}

/* Targets: a universe id, an id at some depth, the own id, a random id. */
static dht_id_t pick_target(const run_t *r, uint64_t *rng)
{
    dht_id_t t;

    switch (rnd(rng, 4)) {
    case 0:
        return r->cfg->ids[rnd(rng, r->cfg->n_ids)];
    case 1: { /* near the deepest buckets; a table of 256 buckets has no depth 256 */
        unsigned p = (unsigned)rnd(rng, r->m.nb + 2);
        return id_at_depth(&r->cfg->self, p < 256 ? p : 255, rng);
    }
    case 2:
        return r->cfg->self;
    default:
        for (unsigned i = 0; i < DHT_ID_LEN; i++)
            t.b[i] = (uint8_t)splitmix64(rng);
        return t;
    }
}

/* One of dht__rt_closest and _closest_verified, for one target. */
static void check_closest(run_t *r, uint64_t *rng)
{
    dht_id_t t = pick_target(r, rng);
    size_t maxes[4] = {1, r->cfg->k, 1 + rnd(rng, r->cfg->n_ids + 2), MAX_OUT};

    check_closest_one(r, &t, maxes[rnd(rng, 4)], (int)rnd(rng, 2));
}

static void check_ping(run_t *r, uint64_t *rng)
{
    static const uint64_t ages[4] = {0, 1000, 60 * 1000, DHT__RT_GOOD_MS};
    uint64_t age = ages[rnd(rng, 4)];
    long want = m_ping_candidate(&r->m, r->now, age);
    dht__rt_node_t out;
    int got = dht__rt_ping_candidate(r->rt, r->now, age, &out);

    CHECK(r, got == (want >= 0), "ping_candidate(min age %" PRIu64 ") %s", age,
          got ? "found one, the model none" : "found none");
    if (got)
        CHECK(r, id_eq(&out.id, &r->cfg->ids[want]), "ping_candidate: not id#%ld", want);
}

/* What a command must not have done, whatever the model says. */
static void check_history(run_t *r, const cmd_t *c)
{
    for (size_t i = 0; i < r->cfg->n_ids; i++) {
        const mnode_t *x = &r->m.n[i];
        if (r->prev_where[i] == NOWHERE || r->prev_state[i] != DHT__RT_GOOD || x->where == NOWHERE)
            continue;
        CHECK(r, addr_eq(&x->addr, &r->prev_addr[i]), "good id#%zu changed address", i);
        stats.went_questionable += r->state[i] == DHT__RT_QUESTIONABLE;
    }
    if (c->kind == C_LEARNED && r->prev_where[r->cur_idx] == NOWHERE) {
        const mnode_t *x = &r->m.n[r->cur_idx];
        CHECK(r, x->where != IN_CACHE, "a LEARNED node entered the cache");
        CHECK(r,
              x->where == NOWHERE || (x->learned && r->state[r->cur_idx] == DHT__RT_QUESTIONABLE),
              "a LEARNED node came in neither learned nor questionable");
    }
}

static void check_all(run_t *r, const cmd_t *c)
{
    uint64_t rng = c->probe;

    for (size_t i = 0; i < r->cfg->n_ids; i++)
        r->state[i] = m_state(&r->m.n[i], r->now);
    check_table(r);
    if (!r->failed)
        check_counts(r);
    if (!r->failed)
        check_find(r, &rng);
    if (!r->failed)
        check_closest(r, &rng);
    if (!r->failed)
        check_ping(r, &rng);
    if (!r->failed)
        check_history(r, c);
}

/* Runs cmds[0..n) on a new table.
 * @return 0 if every check passed; 1 with r->failed, r->msg and the trace
 *         (its last step the failing one) otherwise. */
static int run_cmds(run_t *r, const config_t *cfg, const cmd_t *cmds, size_t n)
{
    memset(&r->m, 0, sizeof r->m);
    memset(r->home, 0, sizeof r->home);
    memset(r->listed, 0, sizeof r->listed);
    r->cfg = cfg;
    r->m.cfg = cfg;
    r->m.nb = 1;
    r->now = cfg->t0;
    r->n_trace = 0;
    r->failed = 0;
    r->msg[0] = '\0';
    r->rt = dht__rt_new(&cfg->self, cfg->k, cfg->cache_size);
    assert_non_null(r->rt);
    dht__rt_set_listener(r->rt, on_event, r);
    for (size_t s = 0; s < n && !r->failed; s++) {
        apply(r, &cmds[s], &r->trace[r->n_trace++]);
        if (!r->failed)
            check_all(r, &cmds[s]);
    }
    dht__rt_free(r->rt);
    r->rt = NULL;
    return r->failed;
}

/* ------------------------------------------------------------------------ */
/* Reporting and shrinking                                                  */
/* ------------------------------------------------------------------------ */

static const char *result_name(const step_rec_t *s, int v)
{
    static const char *const upd[] = {"ADDED", "UPDATED", "CACHED", "IGNORED"};
    static const char *const fail[] = {"unknown", "stays", "replaced"};

    if (s->cmd.kind <= C_LEARNED || (s->cmd.kind == C_SELF && s->cmd.arg % 5 != 4))
        return v >= 0 && v <= 3 ? upd[v] : "?";
    return v >= -1 && v <= 1 ? fail[v + 1] : "?";
}

static void print_step(const config_t *cfg, size_t n, const step_rec_t *s)
{
    char a[DHT_ADDRSTRLEN];
    const cmd_t *c = &s->cmd;

    printf("  #%-4zu t=%-14" PRIu64 " %-10s", n, s->now, kind_names[c->kind]);
    if (s->idx >= 0)
        printf(" id#%ld (depth %u)", s->idx, cfg->depth[s->idx]);
    else if (s->idx == -2)
        printf(" own id");
    switch ((kind_t)c->kind) {
    case C_REPLY:
    case C_QUERY:
    case C_INSERT:
    case C_LEARNED:
        printf(" from %s -> %s", dht_addr_format(&s->addr, a), result_name(s, s->got));
        if (s->got != s->want)
            printf(" (model: %s)", result_name(s, s->want));
        break;
    case C_FAILED:
    case C_FAILED_NTH:
    case C_SELF:
        printf(" -> %s", result_name(s, s->got));
        if (s->got != s->want)
            printf(" (model: %s)", result_name(s, s->want));
        break;
    case C_ADVANCE:
        printf(" +%" PRIu64 " ms", c->arg);
        break;
    case C_EDGE:
        break;
    case C_MOVE:
        printf(" to address variant %u", (unsigned)(c->arg % N_VARIANTS));
        break;
    }
    printf("\n");
}

static void print_config(const config_t *cfg)
{
    printf("  k %u, cache %u, %zu ids, clock from %" PRIu64 ", DHT__RT_BAD_FAILS %d, "
           "DHT__RT_GOOD_MS %u\n",
           cfg->k, cfg->cache_size, cfg->n_ids, cfg->t0, (int)DHT__RT_BAD_FAILS,
           (unsigned)DHT__RT_GOOD_MS);
}

static void print_trace(const run_t *r, size_t from)
{
    for (size_t s = from; s < r->n_trace; s++)
        print_step(r->cfg, s, &r->trace[s]);
}

/* Rewrites the n commands run as r's trace into ones that act the same
 * whatever ran before them: FAILED_NTH becomes FAILED of the node it hit,
 * EDGE an ADVANCE by the same amount, an address its explicit variant. */
static void concretize(const run_t *r, cmd_t *cmds, size_t n)
{
    for (size_t s = 0; s < n; s++) {
        const step_rec_t *t = &r->trace[s];
        cmd_t *c = &cmds[s];
        uint64_t before = s > 0 ? r->trace[s - 1].now : r->cfg->t0;
        if (c->kind == C_FAILED_NTH) {
            c->kind = C_FAILED;
            c->who = (uint16_t)t->idx;
        } else if (c->kind == C_EDGE) {
            c->kind = C_ADVANCE;
            c->arg = t->now - before;
        } else if (is_update(c)) {
            c->variant = (uint8_t)t->variant;
        }
    }
}

/* Deletes commands from cmds[0..n) (which fails) while it still fails.
 * @return the new length. */
static size_t shrink(run_t *r, const config_t *cfg, cmd_t *cmds, size_t n)
{
    cmd_t *tmp = malloc(n * sizeof *tmp);
    unsigned budget = 3000;

    assert_non_null(tmp);
    for (size_t chunk = n / 2 > 0 ? n / 2 : 1;; chunk /= 2) {
        for (size_t i = 0; i < n && budget > 0; budget--) {
            size_t len = chunk < n - i ? chunk : n - i;
            memcpy(tmp, cmds, i * sizeof *tmp);
            memcpy(tmp + i, cmds + i + len, (n - i - len) * sizeof *tmp);
            if (run_cmds(r, cfg, tmp, n - len)) {
                n = r->n_trace;
                memcpy(cmds, tmp, n * sizeof *tmp);
            } else {
                i += len;
            }
        }
        if (chunk <= 1 || budget == 0)
            break;
    }
    free(tmp);
    run_cmds(r, cfg, cmds, n); /* leaves its trace and failure in r */
    return n;
}

/* Runs sequence seed for steps commands; on a failure prints it all.
 * @return 0 if it passed. */
static int check_seed(run_t *r, uint64_t seed, size_t steps, int verbose)
{
    config_t *cfg = malloc(sizeof *cfg);
    cmd_t *cmds = malloc(steps * sizeof *cmds);
    size_t n;
    int failed;

    assert_true(cfg != NULL && cmds != NULL);
    gen_config(seed, cfg);
    gen_cmds(seed, cmds, steps);
    failed = run_cmds(r, cfg, cmds, steps);
    if (verbose || failed) {
        printf("rt model: seed %" PRIu64 "\n", seed);
        print_config(cfg);
    }
    if (verbose && !failed)
        print_trace(r, 0);
    if (failed) {
        size_t fail_step = r->n_trace - 1;
        printf("  FAILED at step %zu: %s (test_rt_model.c:%d)\n  the trace up to it:\n", fail_step,
               r->msg, r->fail_line);
        print_trace(r, verbose || fail_step < 40 ? 0 : fail_step - 40);
        concretize(r, cmds, fail_step + 1);
        n = shrink(r, cfg, cmds, fail_step + 1);
        printf("  shrunk to %zu commands, failing with: %s (test_rt_model.c:%d)\n", n, r->msg,
               r->fail_line);
        print_trace(r, 0);
        printf("  rerun: RT_MODEL_SEED=%" PRIu64 " RT_MODEL_STEPS=%zu build/tests/test_rt_model\n",
               seed, steps);
    }
    free(cmds);
    free(cfg);
    return failed;
}

/* ------------------------------------------------------------------------ */
/* The tests                                                                */
/* ------------------------------------------------------------------------ */

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);

    return s != NULL && *s != '\0' ? strtoull(s, NULL, 10) : def;
}

/* Many random sequences (RT_MODEL_SEQS, RT_MODEL_STEPS, RT_MODEL_SEED). */
static void test_random_sequences(void **state)
{
    int one = getenv("RT_MODEL_SEED") != NULL;
    uint64_t base = env_u64("RT_MODEL_SEED", 1);
    uint64_t seqs = env_u64("RT_MODEL_SEQS", one ? 1 : DEF_SEQS);
    uint64_t steps = env_u64("RT_MODEL_STEPS", DEF_STEPS);
    run_t *r = calloc(1, sizeof *r);

    (void)state;
    assert_non_null(r);
    assert_true(steps > 0 && steps <= MAX_STEPS);
    memset(&stats, 0, sizeof stats);
    for (uint64_t s = 0; s < seqs; s++) {
        if (check_seed(r, base + s, (size_t)steps, one && seqs == 1)) {
            free(r);
            fflush(stdout);
            fail_msg("rt model: seed %" PRIu64 " failed (see above)", base + s);
        }
    }
    printf("rt model: %" PRIu64 " sequences x %" PRIu64 " commands; splits %zu, bad replaced %zu, "
           "learned replaced %zu, cache pushed out %zu, promoted on failure %zu, good kept its "
           "address %zu, learned added %zu / dropped %zu, good turned questionable %zu, clock "
           "at an edge %zu good / %zu questionable, a full cache of proven kept %zu, a proven "
           "promoted before a newer unproven %zu\n",
           seqs, steps, stats.splits, stats.bad_replaced, stats.learned_replaced,
           stats.cache_pushed, stats.promoted, stats.good_kept_addr, stats.learned_added,
           stats.learned_dropped, stats.went_questionable, stats.edge_good, stats.edge_questionable,
           stats.proven_kept, stats.proven_promoted);
    if (seqs * steps >= 100000) { /* the generator reaches every rule */
        assert_true(stats.splits > 0 && stats.bad_replaced > 0 && stats.learned_replaced > 0);
        assert_true(stats.cache_pushed > 0 && stats.promoted > 0 && stats.good_kept_addr > 0);
        assert_true(stats.learned_added > 0 && stats.learned_dropped > 0);
        assert_true(stats.went_questionable > 0 && stats.edge_good > 0);
        assert_true(stats.edge_questionable > 0);
        assert_true(stats.proven_kept > 0 && stats.proven_promoted > 0);
    }
    free(r);
}

/* A hand-made sequence on one node, around both state edges, so that the
 * model itself is checked against rt.h's words and not only against rt.c. */
static void test_state_edges(void **state)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    run_t *r = calloc(1, sizeof *r);
    cmd_t cmds[8 + DHT__RT_BAD_FAILS];
    size_t n = 0;
    const mnode_t *x;

    (void)state;
    assert_true(cfg != NULL && r != NULL);
    gen_config(7, cfg);
    cfg->k = 4;
    cfg->t0 = 5000;
    memset(cmds, 0, sizeof cmds);
    cmds[n++] = (cmd_t){.kind = C_REPLY, .variant = HOME, .who = 0};
    cmds[n++] = (cmd_t){.kind = C_ADVANCE, .arg = DHT__RT_GOOD_MS - 1};
    assert_int_equal(run_cmds(r, cfg, cmds, n), 0);
    x = &r->m.n[0];
    assert_int_equal(x->where, IN_TABLE);
    assert_int_equal(m_state(x, r->now), DHT__RT_GOOD); /* heard 15 min - 1 ms ago */

    cmds[n++] = (cmd_t){.kind = C_ADVANCE, .arg = 1};
    assert_int_equal(run_cmds(r, cfg, cmds, n), 0);
    assert_int_equal(m_state(&r->m.n[0], r->now), DHT__RT_QUESTIONABLE);

    cmds[n++] = (cmd_t){.kind = C_QUERY, .variant = HOME, .who = 0}; /* heard, not a reply */
    assert_int_equal(run_cmds(r, cfg, cmds, n), 0);
    assert_int_equal(m_state(&r->m.n[0], r->now), DHT__RT_GOOD); /* it did answer once */

    for (int f = 0; f < DHT__RT_BAD_FAILS; f++)
        cmds[n++] = (cmd_t){.kind = C_FAILED, .who = 0};
    assert_int_equal(run_cmds(r, cfg, cmds, n), 0);
    assert_int_equal(m_state(&r->m.n[0], r->now), DHT__RT_BAD);
    assert_int_equal(r->m.n[0].where, IN_TABLE); /* no cache: it stays */

    cmds[n++] = (cmd_t){.kind = C_REPLY, .variant = HOME, .who = 0};
    assert_int_equal(run_cmds(r, cfg, cmds, n), 0);
    assert_int_equal(m_state(&r->m.n[0], r->now), DHT__RT_GOOD);
    free(r);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_edges),
        cmocka_unit_test(test_random_sequences),
    };

    if (getenv("RT_MODEL_SEQS") == NULL && getenv("RT_MODEL_STEPS") == NULL)
        alarm(300); /* the whole file's timeout, for the default run */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
