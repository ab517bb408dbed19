/*
 * Values held for others in the program's storage (dht_config_t.storage),
 * on the simulator. Each node's storage is a table in this test; it
 * answers writes and reads later, through dht_sim_call, as a disk would.
 * A put lands in the storages of the k closest (and in no node's memory),
 * a STORE is answered only once the write is done, a refused write makes
 * the storer count one copy less, a value loaded with dht_held_add is
 * served, damaged bytes are refused and got from another holder, and what
 * expires or is evicted is dropped from the storage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "dht.h"

#define NODES 40
#define K     8
#define SLOTS 64

/* One node's storage. */
typedef struct slot {
    int used;
    dht_held_t v;
    uint8_t *data;
} slot_t;

typedef struct storage {
    dht_sim_t *sim;
    size_t node;
    slot_t slots[SLOTS];
    int fail_writes; /* answer every write with an error */
    int damage;      /* answer reads with flipped bytes */
    unsigned writes, reads, drops;
} storage_t;

static storage_t stores[NODES];
static unsigned jobs_out;    /* writes and reads not answered yet */
static int slow_reads;       /* reads take 100 s */
static unsigned slow_writes; /* writes take this many ms (0: 3) */

/* A write or read the storage answers later. */
typedef struct job {
    storage_t *s;
    uint64_t req;
    int slot; /* -1: failed write */
} job_t;

static slot_t *find_slot(storage_t *s, const dht_id_t *key, const dht_id_t *hash)
{
    for (int i = 0; i < SLOTS; i++)
        if (s->slots[i].used && dht_id_cmp(&s->slots[i].v.key, key) == 0 &&
            dht_id_cmp(&s->slots[i].v.hash, hash) == 0)
            return &s->slots[i];
    return NULL;
}

static void write_done(void *arg)
{
    job_t *j = arg;
    dht_t *dht = dht_sim_node(j->s->sim, j->s->node);

    if (dht != NULL)
        dht_held_written(dht, j->req, j->slot < 0 ? DHT_EIO : 0);
    jobs_out--;
    free(j);
}

static int st_write(void *arg, const dht_held_t *v, const uint8_t *data, uint64_t req)
{
    storage_t *s = arg;
    slot_t *sl = find_slot(s, &v->key, &v->hash);
    job_t *j = calloc(1, sizeof(*j));

    assert_non_null(j);
    if (!v->content) { /* as emofs's does: only content-addressed ones */
        free(j);
        return DHT_STORAGE_IN_MEMORY;
    }
    s->writes++;
    j->s = s;
    j->req = req;
    j->slot = -1;
    for (int i = 0; sl == NULL && !s->fail_writes && i < SLOTS; i++)
        if (!s->slots[i].used)
            sl = &s->slots[i];
    if (sl != NULL && !s->fail_writes) {
        if (!sl->used) {
            sl->data = malloc(v->len);
            assert_non_null(sl->data);
            memcpy(sl->data, data, v->len);
        }
        sl->used = 1;
        sl->v = *v;
        j->slot = (int)(sl - s->slots);
    }
    assert_int_equal(dht_sim_call(s->sim, slow_writes ? slow_writes : 3, write_done, j),
                     0); /* a disk's latency */
    jobs_out++;
    return 0;
}

static void read_done(void *arg)
{
    job_t *j = arg;
    slot_t *sl = &j->s->slots[j->slot];
    dht_t *dht = dht_sim_node(j->s->sim, j->s->node);
    uint8_t *copy = malloc(sl->v.len);

    assert_non_null(copy);
    memcpy(copy, sl->data, sl->v.len);
    if (j->s->damage)
        copy[0] ^= 0xff;
    if (dht != NULL)
        dht_value_ready(dht, j->req, copy, sl->v.len);
    jobs_out--;
    free(copy);
    free(j);
}

static int st_read(void *arg, const dht_held_t *v, uint64_t req)
{
    storage_t *s = arg;
    slot_t *sl = find_slot(s, &v->key, &v->hash);
    job_t *j;

    if (sl == NULL)
        return -1;
    j = calloc(1, sizeof(*j));
    assert_non_null(j);
    s->reads++;
    j->s = s;
    j->req = req;
    j->slot = (int)(sl - s->slots);
    assert_int_equal(dht_sim_call(s->sim, slow_reads ? 100000 : 2, read_done, j), 0);
    jobs_out++;
    return 0;
}

static void st_drop(void *arg, const dht_held_t *v)
{
    storage_t *s = arg;
    slot_t *sl = find_slot(s, &v->key, &v->hash);

    s->drops++;
    if (sl != NULL) {
        free(sl->data);
        memset(sl, 0, sizeof(*sl));
    }
}

static int held_here(const storage_t *s)
{
    int n = 0;
    for (int i = 0; i < SLOTS; i++)
        n += s->slots[i].used;
    return n;
}

/* NODES nodes with k K, tables filled, each with the storage above (or
 * none: values in memory) and replication every interval_s (0: none). */
/* Adds node i (the next index) with the storage above, or none. */
static void add_node(dht_sim_t *sim, const dht_config_t *node, size_t i, int storage)
{
    dht_config_t nc = *node;

    stores[i].sim = sim;
    stores[i].node = i;
    if (storage) {
        nc.storage.write = st_write;
        nc.storage.read = st_read;
        nc.storage.drop = st_drop;
        nc.storage.arg = &stores[i];
    }
    assert_int_equal(dht_sim_add_node_with(sim, &nc), (int)i);
}

/* n of the NODES nodes (the others may join later: add_node), with k K,
 * tables filled, each with the storage above (or none: values in memory)
 * and replication every interval_s (0: none). */
static dht_sim_t *net_new_n(uint64_t seed, size_t store_max, unsigned interval_s, int storage,
                            size_t n, dht_config_t *node)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    memset(stores, 0, sizeof(stores));
    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.node.k = K;
    cfg.node.store_max_bytes = store_max;
    if (store_max < cfg.node.store_value_cost) {
        cfg.node.store_value_cost = 0; /* a tiny store: values count for their bytes */
        cfg.node.store_settle_ms = 0;  /* and may be evicted at once, in seconds of virtual time */
    }
    cfg.node.replicate_interval_s = interval_s;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < n; i++)
        add_node(sim, &cfg.node, i, storage);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    if (node != NULL)
        *node = cfg.node;
    return sim;
}

/* NODES nodes, as net_new_n. */
static dht_sim_t *net_new_ex(uint64_t seed, size_t store_max, unsigned interval_s, int storage)
{
    return net_new_n(seed, store_max, interval_s, storage, NODES, NULL);
}

static int no_jobs_out(void *arg)
{
    (void)arg;
    return jobs_out == 0;
}

static dht_sim_t *net_new(uint64_t seed, size_t store_max)
{
    return net_new_ex(seed, store_max, 0, 1);
}

static void net_free(dht_sim_t *sim)
{
    /* The storages' answers still due run first (they own memory). */
    slow_reads = 0;
    if (jobs_out > 0)
        dht_sim_run(sim, no_jobs_out, NULL, dht_sim_now(sim) + 200 * 1000);
    assert_int_equal(jobs_out, 0);
    dht_sim_free(sim);
    for (size_t i = 0; i < NODES; i++)
        for (int j = 0; j < SLOTS; j++)
            free(stores[i].slots[j].data);
}

static int pending;

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void run_all(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
}

static void on_put(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 ? (int)stored : status;
    pending--;
}

typedef struct got {
    const uint8_t *want;
    size_t len;
    int ok;
} got_t;

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    got_t *g = arg;

    g->ok = status == 0 && n == 1 && v[0].len == g->len && memcmp(v[0].data, g->want, g->len) == 0;
    pending--;
}

static int put_from(dht_sim_t *sim, size_t node, const uint8_t *value, size_t len)
{
    dht_id_t key;
    int stored = 0;

    dht_id_from_bytes(&key, value, len);
    pending = 1;
    assert_int_equal(dht_put(dht_sim_node(sim, node), &key, value, len, 3600, on_put, &stored), 0);
    run_all(sim);
    return stored;
}

static int get_from(dht_sim_t *sim, size_t node, const uint8_t *value, size_t len)
{
    dht_id_t key;
    got_t g = {value, len, 0};

    dht_id_from_bytes(&key, value, len);
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, node), &key, on_got, &g), 0);
    run_all(sim);
    return g.ok;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
}

/* Small (sent inline when in memory) and large values both land in the
 * storages of the K closest, none in memory, and are served from there. */
/* @return the dht_source_t of sim node i's address, as its peers see it;
 * all zero for the node itself. */
static dht_source_t source_of_node(dht_sim_t *sim, size_t i, size_t seen_by)
{
    dht_source_t src;
    dht_addr_t a;

    memset(&src, 0, sizeof(src));
    assert_int_equal(dht_sim_node_addr(sim, i, &a), 0);
    if (i == seen_by)
        return src;
    if (a.family == DHT_AF_INET6) {
        memcpy(src.b, a.ip, 8);
    } else {
        src.b[10] = src.b[11] = 0xff;
        memcpy(src.b + 12, a.ip, 4);
    }
    return src;
}

static void test_put_lands_in_storage(void **state)
{
    static uint8_t small[100], large[3000];
    dht_sim_t *sim = net_new(11, 1 << 20);
    dht_stats_t st;
    dht_id_t small_key;
    unsigned holders = 0, reads = 0;

    (void)state;
    fill(small, sizeof(small), 1);
    fill(large, sizeof(large), 2);
    dht_id_from_bytes(&small_key, small, sizeof(small));
    assert_int_equal(put_from(sim, 0, small, sizeof(small)), K);
    assert_int_equal(put_from(sim, 1, large, sizeof(large)), K);
    for (size_t i = 0; i < NODES; i++) {
        /* The storage is told who stored each value: the putter's address. */
        for (int j = 0; j < SLOTS; j++) {
            const slot_t *sl = &stores[i].slots[j];
            if (sl->used) {
                dht_source_t want =
                    source_of_node(sim, dht_id_cmp(&sl->v.key, &small_key) == 0 ? 0 : 1, i);
                assert_memory_equal(sl->v.source.b, want.b, sizeof(want.b));
            }
        }
        holders += (unsigned)held_here(&stores[i]);
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        assert_int_equal(st.values, (size_t)held_here(&stores[i])); /* the index */
    }
    assert_int_equal(holders, 2 * K);
    assert_true(get_from(sim, 5, small, sizeof(small)));
    assert_true(get_from(sim, 6, large, sizeof(large)));
    for (size_t i = 0; i < NODES; i++)
        reads += stores[i].reads;
    assert_true(reads >= 2); /* the bytes came out of the storages */
    net_free(sim);
}

/* dht_put_many's STORE_MANYs to nodes that keep values in a storage: each
 * node answers a batch once every write of it is done (the puts end no
 * sooner than a write takes), every value lands in K storages, and a
 * node whose writes all fail keeps none of them and is not counted. */
static void test_put_many_waits_for_writes(void **state)
{
    enum { N = 12 };
    static uint8_t vals[N][100];
    dht_put_item_t items[N];
    int stored[N];
    dht_sim_t *sim = net_new(13, 1 << 20);
    dht_stats_t st;
    uint64_t t0;
    unsigned held = 0, counted = 0;

    (void)state;
    stores[7].fail_writes = 1;
    for (size_t i = 0; i < N; i++) {
        fill(vals[i], sizeof(vals[i]), 40 + (unsigned)i);
        dht_id_from_bytes(&items[i].key, vals[i], sizeof(vals[i]));
        items[i].value = vals[i];
        items[i].len = sizeof(vals[i]);
        items[i].arg = &stored[i];
    }
    slow_writes = 400;
    t0 = dht_sim_now(sim);
    pending = N;
    assert_int_equal(dht_put_many(dht_sim_node(sim, 0), items, N, 3600, NULL, on_put), 0);
    run_all(sim);
    assert_true(dht_sim_now(sim) - t0 >= 400);
    slow_writes = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(stored[i] >= K - 1); /* node 7's copy, if it was to hold one, went elsewhere */
        counted += (unsigned)stored[i];
    }
    for (size_t i = 0; i < NODES; i++)
        held += (unsigned)held_here(&stores[i]);
    assert_true(stores[7].writes > 0); /* it was asked, and refused */
    assert_int_equal(held_here(&stores[7]), 0);
    assert_int_equal(held, counted); /* every copy counted is in a storage */
    dht_get_stats(dht_sim_node(sim, 0), dht_sim_now(sim), &st);
    assert_true(st.store_batches_sent > 0);
    assert_true(get_from(sim, 9, vals[3], sizeof(vals[3])));
    stores[7].fail_writes = 0;
    net_free(sim);
}

static void on_providers(int status, const dht_provider_t *p, size_t n, void *arg)
{
    (void)p;
    *(int *)arg = status == 0 ? (int)n : status;
    pending--;
}

/* Provider records stay in the holders' memory: the storages neither
 * write them nor are told when they go. */
static void test_provider_records_in_memory(void **state)
{
    dht_sim_t *sim = net_new(17, 1 << 20);
    unsigned writes = 0, drops = 0;
    dht_id_t key;
    int n = 0;

    (void)state;
    dht_id_from_bytes(&key, "provided", 8);
    pending = 1;
    assert_int_equal(dht_provide(dht_sim_node(sim, 3), &key, 4100, 600, on_put, &n), 0);
    run_all(sim);
    assert_int_equal(n, K);
    pending = 1;
    assert_int_equal(dht_find_providers(dht_sim_node(sim, 9), &key, on_providers, &n), 0);
    run_all(sim);
    assert_int_equal(n, 1);
    pending = 1;
    assert_int_equal(dht_unprovide(dht_sim_node(sim, 3), &key, on_put, &n), 0);
    run_all(sim);
    assert_int_equal(n, K);
    pending = 1;
    assert_int_equal(dht_find_providers(dht_sim_node(sim, 9), &key, on_providers, &n), 0);
    run_all(sim);
    assert_int_equal(n, DHT_ENOTFOUND);
    for (size_t i = 0; i < NODES; i++) {
        writes += stores[i].writes;
        drops += stores[i].drops;
    }
    assert_int_equal(writes, 0);
    assert_int_equal(drops, 0);
    net_free(sim);
}

/* A value stored again by another node stays its first storer's, in the
 * storage too (what a restarted node gets back). */
static void test_refresh_keeps_source(void **state)
{
    static uint8_t value[200];
    dht_sim_t *sim = net_new(12, 1 << 20);
    dht_id_t key;
    unsigned seen = 0;

    (void)state;
    fill(value, sizeof(value), 7);
    dht_id_from_bytes(&key, value, sizeof(value));
    assert_int_equal(put_from(sim, 0, value, sizeof(value)), K);
    assert_int_equal(put_from(sim, 1, value, sizeof(value)), K);
    for (size_t i = 0; i < NODES; i++) {
        for (int j = 0; j < SLOTS; j++) {
            const slot_t *sl = &stores[i].slots[j];
            if (sl->used && dht_id_cmp(&sl->v.key, &key) == 0) {
                dht_source_t want = source_of_node(sim, 0, i);
                assert_memory_equal(sl->v.source.b, want.b, sizeof(want.b));
                seen++;
            }
        }
    }
    assert_true(seen >= K);
    net_free(sim);
}

/* A value the storage leaves to the node (DHT_STORAGE_IN_MEMORY: a named
 * one, here) is stored and served from memory, and never dropped from the
 * storage. */
static void test_named_value_in_memory(void **state)
{
    static const uint8_t value[] = "a value under a name, not its hash";
    dht_sim_t *sim = net_new(16, 1 << 20);
    dht_id_t key;
    got_t g = {value, sizeof(value), 0};
    int stored = 0;
    unsigned slots = 0, drops = 0;

    (void)state;
    dht_id_from_bytes(&key, "a name", 6);
    pending = 1;
    assert_int_equal(dht_put(dht_sim_node(sim, 2), &key, value, sizeof(value), 60, on_put, &stored),
                     0);
    run_all(sim);
    assert_int_equal(stored, K);
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, 30), &key, on_got, &g), 0);
    run_all(sim);
    assert_true(g.ok);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 120 * 1000); /* it expires */
    for (size_t i = 0; i < NODES; i++) {
        slots += (unsigned)held_here(&stores[i]);
        drops += stores[i].drops;
    }
    assert_int_equal(slots, 0);
    assert_int_equal(drops, 0);
    net_free(sim);
}

/* A storage that cannot write: its node answers "full" and is not counted
 * (nor indexed). */
static void test_failed_write_not_counted(void **state)
{
    static uint8_t value[2000];
    dht_sim_t *sim = net_new(12, 1 << 20);
    dht_stats_t st;
    unsigned failing = 0;

    (void)state;
    fill(value, sizeof(value), 3);
    for (size_t i = 2; i < NODES; i += 2) {
        stores[i].fail_writes = 1;
        failing++;
    }
    int stored = put_from(sim, 1, value, sizeof(value));
    assert_true(stored >= 1); /* the refusals went on to the next closest */
    for (size_t i = 0; i < NODES; i++) {
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        if (stores[i].fail_writes)
            assert_int_equal(st.values, 0);
    }
    assert_true(failing > 0);
    assert_true(get_from(sim, 3, value, sizeof(value)));
    net_free(sim);
}

/* Damaged bytes are refused (dropped_bad_value), the damaged copy is
 * held no more (dropped from its storage), and the value is got from
 * another holder. */
static void test_damaged_read_refused(void **state)
{
    static uint8_t value[2500];
    dht_sim_t *sim = net_new(13, 1 << 20);
    dht_stats_t st;
    uint64_t refused = 0;
    unsigned damaged = 0, dropped = 0;

    (void)state;
    fill(value, sizeof(value), 4);
    assert_int_equal(put_from(sim, 0, value, sizeof(value)), K);
    for (size_t i = 0; i < NODES && damaged < 3; i++) {
        if (held_here(&stores[i])) {
            stores[i].damage = 1;
            damaged++;
        }
    }
    for (size_t i = 0; i < NODES; i++)
        if (!held_here(&stores[i]))
            assert_true(get_from(sim, i, value, sizeof(value)));
    for (size_t i = 0; i < NODES; i++) {
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        refused += st.dropped_bad_value;
        if (stores[i].damage) {
            assert_int_equal(st.values, (size_t)held_here(&stores[i]));
            dropped += stores[i].drops;
        }
    }
    assert_true(refused >= 1);
    assert_int_equal(refused, dropped); /* each damaged copy refused once, then gone */
    net_free(sim);
}

static int count_cb(const dht_held_t *v, void *arg)
{
    (void)v;
    ++*(int *)arg;
    return 0;
}

static int source_cb(const dht_held_t *v, void *arg)
{
    *(dht_source_t *)arg = v->source;
    return 0;
}

static int age_cb(const dht_held_t *v, void *arg)
{
    *(uint32_t *)arg = v->age_s;
    return 0;
}

/* A value the storage already keeps (found on disk at start) is announced
 * with dht_held_add, keeps its age, is served, and goes (drop) when it
 * expires. Bad adds are refused. */
static void test_held_add_serves_and_expires(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new(14, 1 << 20);
    dht_t *owner;
    dht_held_t v;
    int n = 0;

    (void)state;
    fill(value, sizeof(value), 5);
    owner = dht_sim_node(sim, 9);
    memset(&v, 0, sizeof(v));
    /* Under the owner's own id, so it is the closest node to the key. */
    v.key = *dht_self(owner);
    dht_id_from_bytes(&v.hash, value, sizeof(value));
    v.len = sizeof(value);
    v.ttl_left_s = 120;
    v.age_s = 3000;
    v.source.b[15] = 0x42; /* who stored it before the restart */
    stores[9].slots[0].used = 1;
    stores[9].slots[0].v = v;
    stores[9].slots[0].data = malloc(sizeof(value));
    memcpy(stores[9].slots[0].data, value, sizeof(value));
    assert_int_equal(dht_held_add(owner, &v), 0);
    assert_int_equal(dht_held_foreach(owner, count_cb, &n), 0);
    assert_int_equal(n, 1);
    {
        dht_source_t src;
        memset(&src, 0, sizeof(src));
        assert_int_equal(dht_held_foreach(owner, source_cb, &src), 0);
        assert_memory_equal(src.b, v.source.b, sizeof(src.b)); /* it keeps its source */
    }
    {
        /* And its age, though older than the node's clock (found in
         * review: it was cut to the time since the clock's origin). */
        uint32_t age = 0;
        assert_true(dht_sim_now(sim) < 3000u * 1000u);
        assert_int_equal(dht_held_foreach(owner, age_cb, &age), 0);
        assert_true(age >= 3000 && age < 3060);
    }

    /* Served: a get from another node fetches it from the owner's storage. */
    {
        got_t g = {value, sizeof(value), 0};
        pending = 1;
        assert_int_equal(dht_get(dht_sim_node(sim, 20), &v.key, on_got, &g), 0);
        run_all(sim);
        assert_true(g.ok);
        assert_true(stores[9].reads >= 1);
    }
    /* Refused: expired, content claim that does not hold, no storage. */
    {
        dht_held_t bad = v;
        bad.ttl_left_s = 0;
        assert_int_equal(dht_held_add(owner, &bad), DHT_EINVAL);
        bad = v;
        bad.content = 1;
        assert_int_equal(dht_held_add(owner, &bad), DHT_EINVAL);
    }
    /* Expires within 120 s and is dropped from the storage. */
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 200 * 1000);
    n = 0;
    dht_held_foreach(owner, count_cb, &n);
    assert_int_equal(n, 0);
    assert_int_equal(held_here(&stores[9]), 0);
    assert_true(stores[9].drops >= 1);
    net_free(sim);
}

static void on_deleted(int status, const dht_delete_result_t *r, void *arg)
{
    *(dht_delete_result_t *)arg = *r;
    assert_int_equal(status, 0);
    pending--;
}

/* A value put with a delete secret reaches the storages with its owner
 * (so a program can keep it across restarts); a delete drops it from
 * every storage; one reloaded with dht_held_add keeps its owner and is
 * deleted too, one reloaded without (a storage that lost it) is not. */
static void test_delete_drops_from_storage(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new(17, 1 << 20);
    uint8_t secret[DHT_DELETE_SECRET_LEN];
    dht_put_opts_t opts = {.content = 1, .delete_secret = secret};
    dht_delete_result_t r;
    dht_id_t key, owner;
    unsigned holding = 0, drops = 0;
    size_t holder = 0;
    int stored = 0;

    (void)state;
    memset(secret, 0x5c, sizeof(secret));
    dht_id_from_bytes(&owner, secret, sizeof(secret));
    fill(value, sizeof(value), 9);
    dht_id_from_bytes(&key, value, sizeof(value));
    pending = 1;
    assert_int_equal(dht_put_ex(dht_sim_node(sim, 2), &key, value, sizeof(value), 3600, &opts,
                                on_put, &stored),
                     0);
    run_all(sim);
    assert_int_equal(stored, K);
    for (size_t i = 0; i < NODES; i++) {
        slot_t *sl = find_slot(&stores[i], &key, &key);
        if (sl == NULL)
            continue;
        holding++;
        holder = i; /* one of the closest, which a delete reaches */
        assert_int_equal(sl->v.owned, 1);
        assert_memory_equal(sl->v.owner.b, owner.b, DHT_ID_LEN);
        drops += stores[i].drops;
    }
    assert_int_equal(holding, K);
    pending = 1;
    assert_int_equal(dht_delete(dht_sim_node(sim, 2), &key, &key, secret, on_deleted, &r), 0);
    run_all(sim);
    assert_int_equal(r.deleted, K);
    for (size_t i = 0; i < NODES; i++) {
        assert_null(find_slot(&stores[i], &key, &key));
        drops -= stores[i].drops;
    }
    assert_int_equal((unsigned)-drops, K);

    /* Reloaded after a restart, with its owner and without. */
    {
        dht_t *node = dht_sim_node(sim, holder);
        dht_held_t v;
        memset(&v, 0, sizeof(v));
        v.key = key;
        v.hash = key;
        v.len = sizeof(value);
        v.content = 1;
        v.ttl_left_s = 600;
        v.owned = 1;
        v.owner = owner;
        stores[holder].slots[0] = (slot_t){1, v, malloc(1)};
        assert_int_equal(dht_held_add(node, &v), 0);
        pending = 1;
        assert_int_equal(dht_delete(dht_sim_node(sim, 2), &key, &key, secret, on_deleted, &r), 0);
        run_all(sim);
        assert_null(find_slot(&stores[holder], &key, &key));
        assert_int_equal(r.deleted, 1);
        v.owned = 0;
        stores[holder].slots[0] = (slot_t){1, v, malloc(1)};
        assert_int_equal(dht_held_add(node, &v), 0);
        pending = 1;
        assert_int_equal(dht_delete(dht_sim_node(sim, 2), &key, &key, secret, on_deleted, &r), 0);
        run_all(sim);
        assert_non_null(find_slot(&stores[holder], &key, &key));
        assert_int_equal(r.deleted, 0);
        assert_int_equal(r.refused, 1);
    }
    net_free(sim);
}

/* A full node evicts the value farthest from its id to hold a closer one,
 * and the evicted value's bytes are dropped; dht_held_remove drops too. */
static void test_eviction_and_remove_drop(void **state)
{
    dht_sim_t *sim = net_new(15, 2000);
    dht_t *node = dht_sim_node(sim, 3);
    dht_held_t near, far;

    (void)state;
    memset(&near, 0, sizeof(near));
    near.key = *dht_self(node);
    near.key.b[DHT_ID_LEN - 1] ^= 1; /* as close as can be */
    near.hash.b[0] = 1;
    near.len = 1500;
    near.ttl_left_s = 3600;
    far = near;
    for (int i = 0; i < DHT_ID_LEN; i++)
        far.key.b[i] = (uint8_t)~dht_self(node)->b[i]; /* as far as can be */
    far.hash.b[0] = 2;
    stores[3].slots[0] = (slot_t){1, far, malloc(1)};
    assert_int_equal(dht_held_add(node, &far), 0);
    assert_int_equal(dht_held_add(node, &near), 0); /* 3000 > 2000: far goes */
    assert_int_equal(stores[3].drops, 1);
    assert_int_equal(held_here(&stores[3]), 0);
    /* A farther one does not push out a closer one. */
    assert_int_equal(dht_held_add(node, &far), DHT_EBUSY);
    stores[3].slots[1] = (slot_t){1, near, malloc(1)};
    assert_int_equal(dht_held_remove(node, &near.key, &near.hash), 0);
    assert_int_equal(stores[3].drops, 2);
    assert_int_equal(dht_held_remove(node, &near.key, &near.hash), DHT_ENOTFOUND);
    net_free(sim);
}

typedef struct find_held {
    const dht_id_t *key;
    int found;
} find_held_t;

static int find_cb(const dht_held_t *v, void *arg)
{
    find_held_t *f = arg;

    if (dht_id_cmp(&v->key, f->key) == 0)
        f->found = 1;
    return f->found;
}

static dht_id_t sort_target;
static dht_sim_t *sorting_sim;

/* qsort's order of node indexes: nearest to sort_target first. */
static int by_distance(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return dht_id_cmp_distance(&sort_target, dht_self(dht_sim_node(sorting_sim, *x)),
                               dht_self(dht_sim_node(sorting_sim, *y)));
}

/* @return how many of the r live nodes closest to key hold it. */
static int closest_r_holding(dht_sim_t *sim, const dht_id_t *key, size_t r)
{
    size_t live[NODES], n = 0;
    int holding = 0;

    for (size_t i = 0; i < NODES; i++)
        if (dht_sim_node(sim, i) != NULL)
            live[n++] = i;
    sort_target = *key;
    sorting_sim = sim;
    qsort(live, n, sizeof(live[0]), by_distance);
    for (size_t i = 0; i < n && i < r; i++) {
        find_held_t f = {key, 0};
        dht_held_foreach(dht_sim_node(sim, live[i]), find_cb, &f);
        holding += f.found;
    }
    return holding;
}

/* @return how many of the K live nodes closest to key hold it. */
static int closest_live_holding(dht_sim_t *sim, const dht_id_t *key)
{
    return closest_r_holding(sim, key, K);
}

/* @return how many live nodes hold the value under key. */
static int live_holding(dht_sim_t *sim, const dht_id_t *key)
{
    int holding = 0;

    for (size_t i = 0; i < NODES; i++) {
        find_held_t f = {key, 0};
        if (dht_sim_node(sim, i) == NULL)
            continue;
        dht_held_foreach(dht_sim_node(sim, i), find_cb, &f);
        holding += f.found;
    }
    return holding;
}

/* A third of the nodes die; within one replication interval every value
 * is on each of the K closest live nodes again, from memory or from the
 * storage. Without replication (the control) some value is not. */
static void replication_run(int storage, unsigned interval_s, int *min_holding)
{
    enum { VALUES = 12 };
    static uint8_t vals[VALUES][900];
    dht_id_t keys[VALUES];
    dht_sim_t *sim = net_new_ex(17, 1 << 20, interval_s, storage);
    uint64_t seed = 12345;

    for (int v = 0; v < VALUES; v++) {
        fill(vals[v], sizeof(vals[v]), (unsigned)(100 + v));
        dht_id_from_bytes(&keys[v], vals[v], sizeof(vals[v]));
        assert_int_equal(put_from(sim, (size_t)v, vals[v], sizeof(vals[v])), K);
    }
    for (int dead = 0; dead < NODES / 3;) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t)(seed >> 33) % NODES;
        if (i >= VALUES && dht_sim_node(sim, i) != NULL) { /* the publishers stay */
            assert_int_equal(dht_sim_remove_node(sim, i), 0);
            dead++;
        }
    }
    dht_sim_run(sim, NULL, NULL,
                dht_sim_now(sim) + (uint64_t)(interval_s ? interval_s : 600) * 1000 + 60000);
    *min_holding = K;
    for (int v = 0; v < VALUES; v++) {
        int h = closest_live_holding(sim, &keys[v]);
        if (h < *min_holding)
            *min_holding = h;
    }
    net_free(sim);
}

static void test_replication_repairs(void **state)
{
    int in_memory, in_storage, control;

    (void)state;
    replication_run(0, 600, &in_memory);
    replication_run(1, 600, &in_storage);
    replication_run(1, 0, &control);
    print_message("min holding: memory %d storage %d control %d\n", in_memory, in_storage, control);
    assert_int_equal(in_memory, K);
    assert_int_equal(in_storage, K);
    assert_true(control < K); /* the dead took copies with them */
}

/* Datagrams sent in the simulated network over `seconds` after 100 values
 * were put, and the value checks made meanwhile. */
static void idle_run(unsigned interval_s, unsigned seconds, uint64_t *datagrams, uint64_t *checks)
{
    enum { VALUES = 100 };
    static uint8_t vals[VALUES][300];
    dht_sim_t *sim = net_new_ex(23, 1 << 20, interval_s, 1);
    dht_sim_stats_t before, after;

    for (int v = 0; v < VALUES; v++) {
        fill(vals[v], sizeof(vals[v]), (unsigned)(500 + v));
        assert_int_equal(put_from(sim, (size_t)v % NODES, vals[v], sizeof(vals[v])), K);
    }
    dht_sim_get_stats(sim, &before);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + (uint64_t)seconds * 1000);
    dht_sim_get_stats(sim, &after);
    *datagrams = after.datagrams_sent - before.datagrams_sent;
    *checks = 0;
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        *checks += st.replications;
    }
    for (int v = 0; v < VALUES; v++) { /* and every value stays on its K closest */
        dht_id_t key;
        dht_id_from_bytes(&key, vals[v], sizeof(vals[v]));
        assert_int_equal(closest_live_holding(sim, &key), K);
    }
    net_free(sim);
}

/* Replication checks go in batches (check.c): a holder asks each keeper
 * with one HAVE about many values, instead of a lookup per value. Over
 * two idle intervals each of the 800 copies is checked at least twice,
 * for less than one datagram per check beyond what the network sends
 * without replication (a lookup per check costs tens). */
static void test_checks_in_batches(void **state)
{
    uint64_t with, without, checks, none;

    (void)state;
    idle_run(600, 1200, &with, &checks);
    idle_run(0, 1200, &without, &none);
    print_message("%llu checks, %llu datagrams for them (%.2f per check)\n",
                  (unsigned long long)checks, (unsigned long long)(with - without),
                  (double)(with - without) / (double)(checks ? checks : 1));
    assert_int_equal(none, 0);
    assert_true(checks >= 2 * 100 * K);
    assert_true(with > without);
    assert_true(with - without < checks);
}

static void on_joined(int status, void *arg)
{
    (void)arg;
    assert_int_equal(status, 0);
    pending--;
}

/* Hand-over: nodes that join after the puts get, at once (long before the
 * next check, 600 s away), the values they are among the K closest to:
 * the keepers nearest to a newcomer offer them as it looks up its own id.
 * Without that, about half the values lack a copy on some newcomer.
 * (Nodes that join at the same moment may each count the other as a
 * keeper nearer to it; what an offer misses then, the next check does.) */
static void test_newcomers_get_values_at_once(void **state)
{
    enum { VALUES = 30, FIRST = NODES * 3 / 4 };
    static uint8_t vals[VALUES][300];
    dht_config_t node;
    dht_sim_t *sim = net_new_n(29, 1 << 20, 600, 1, FIRST, &node);
    dht_addr_t via;
    int min = K;

    (void)state;
    for (int v = 0; v < VALUES; v++) {
        fill(vals[v], sizeof(vals[v]), (unsigned)(900 + v));
        assert_int_equal(put_from(sim, (size_t)v % FIRST, vals[v], sizeof(vals[v])), K);
    }
    assert_int_equal(dht_sim_node_addr(sim, 0, &via), 0);
    for (size_t i = FIRST; i < NODES; i++) { /* one after another, 3 s apart */
        add_node(sim, &node, i, 1);
        pending = 1;
        assert_int_equal(dht_bootstrap(dht_sim_node(sim, i), &via, 1, on_joined, NULL), 0);
        run_all(sim);
        dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 3 * 1000);
    }
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 30 * 1000);
    for (int v = 0; v < VALUES; v++) {
        dht_id_t key;
        int h;
        dht_id_from_bytes(&key, vals[v], sizeof(vals[v]));
        if ((h = closest_live_holding(sim, &key)) < min)
            min = h;
    }
    print_message("30 s after %d nodes joined: every value on at least %d of its %d closest\n",
                  NODES - FIRST, min, K);
    assert_int_equal(min, K);
    net_free(sim);
}

typedef struct count {
    int status;
    unsigned holders, answered;
} count_t;

static void on_count(int status, unsigned holders, unsigned answered, void *arg)
{
    count_t *c = arg;

    c->status = status;
    c->holders = holders;
    c->answered = answered;
    pending--;
}

static count_t count_from(dht_sim_t *sim, size_t node, const dht_id_t *key)
{
    count_t c = {-1, 0, 0};

    pending = 1;
    assert_int_equal(dht_count_holders(dht_sim_node(sim, node), key, NULL, on_count, &c), 0);
    run_all(sim);
    return c;
}

/* dht_count_holders: the K holders of a put, counted from a node that is
 * not one and from one that is; three fewer once three of them are gone;
 * none for a key nobody stored. */
static void test_count_holders(void **state)
{
    static uint8_t value[1200];
    dht_sim_t *sim = net_new(18, 1 << 20);
    dht_id_t key, absent;
    count_t c;
    size_t outsider = NODES, holder = NODES;
    int removed = 0;

    (void)state;
    fill(value, sizeof(value), 9);
    dht_id_from_bytes(&key, value, sizeof(value));
    assert_int_equal(put_from(sim, 0, value, sizeof(value)), K);
    for (size_t i = 1; i < NODES; i++) {
        if (held_here(&stores[i]) && holder == NODES)
            holder = i;
        else if (!held_here(&stores[i]) && outsider == NODES)
            outsider = i;
    }
    c = count_from(sim, outsider, &key);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.holders, K);
    c = count_from(sim, holder, &key);
    assert_int_equal(c.holders, K);
    for (size_t i = 1; i < NODES && removed < 3; i++) {
        if (i != holder && held_here(&stores[i])) {
            assert_int_equal(dht_sim_remove_node(sim, i), 0);
            removed++;
        }
    }
    c = count_from(sim, outsider, &key);
    assert_int_equal(c.holders, K - 3);
    assert_true(c.answered >= c.holders);
    dht_id_from_bytes(&absent, "nobody stored this", 18);
    c = count_from(sim, outsider, &absent);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.holders, 0);
    net_free(sim);
}

static void on_left(int status, void *arg)
{
    *(int *)arg = status;
    pending--;
}

/* A node that leaves gracefully (dht_leave) first hands what it holds to
 * the next closest: once it is gone, every value it held is still on each
 * of the K closest live nodes (one fewer without the leave). With
 * interval_s 0 no replication runs, so the hand-over is the leave's alone;
 * with replication on, the leave comes 10 s after the puts, while no value
 * is due (a leave once took nothing then: the store's "nothing due before"
 * shortcut, meant for replication, skipped the leave's walk). */
static void leave_run(int leave, unsigned interval_s, int *min_holding)
{
    enum { VALUES = 6 };
    static uint8_t vals[VALUES][700];
    dht_id_t keys[VALUES];
    dht_sim_t *sim = net_new_ex(19, 1 << 20, interval_s, 1);
    size_t leaver = NODES;
    int status = -1;

    for (int v = 0; v < VALUES; v++) {
        fill(vals[v], sizeof(vals[v]), (unsigned)(300 + v));
        dht_id_from_bytes(&keys[v], vals[v], sizeof(vals[v]));
        assert_int_equal(put_from(sim, 0, vals[v], sizeof(vals[v])), K);
    }
    for (size_t i = NODES; i-- > 1 && leaver == NODES;) /* the holder of the most */
        if (held_here(&stores[i]) >= 2)
            leaver = i;
    assert_true(leaver < NODES);
    if (interval_s > 0)
        dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 10 * 1000);
    if (leave) {
        pending = 1;
        assert_int_equal(dht_leave(dht_sim_node(sim, leaver), 30000, on_left, &status), 0);
        run_all(sim);
        assert_int_equal(status, 0);
    }
    assert_int_equal(dht_sim_remove_node(sim, leaver), 0);
    *min_holding = K;
    for (int v = 0; v < VALUES; v++) {
        int h = closest_live_holding(sim, &keys[v]);
        if (h < *min_holding)
            *min_holding = h;
    }
    net_free(sim);
}

static void test_graceful_leave(void **state)
{
    int with, without, replicating, status = -1;
    dht_sim_t *sim;

    (void)state;
    leave_run(1, 0, &with);
    leave_run(0, 0, &without);
    leave_run(1, 600, &replicating);
    sim = net_new(20, 1 << 20); /* after: the storages are one global table */
    assert_int_equal(with, K);
    assert_int_equal(without, K - 1);
    assert_int_equal(replicating, K);
    /* A node holding nothing leaves at once; a second leave is refused
     * while one is under way; freeing the node ends it (canceled). */
    pending = 1;
    assert_int_equal(dht_leave(dht_sim_node(sim, 5), 1000, on_left, &status), 0);
    assert_int_equal(dht_leave(dht_sim_node(sim, 5), 1000, on_left, &status), DHT_EBUSY);
    run_all(sim);
    assert_int_equal(status, 0);
    assert_int_equal(dht_leave(dht_sim_node(sim, 6), 1000, on_left, &status), 0);
    status = -1;
    pending = 1;
    assert_int_equal(dht_sim_remove_node(sim, 6), 0);
    assert_int_equal(status, DHT_ECANCELED);
    net_free(sim);
}

static int writes_grew(void *arg)
{
    unsigned *w = arg; /* w[0]: node, w[1]: writes before */
    return stores[w[0]].writes > w[1];
}

/* A refresh STORE's write is pending when the value is dropped (evicted,
 * expired, or removed as damaged): the storage deletes the bytes, then the
 * write completes and the node indexes the value again with no bytes. */
static void test_refresh_then_drop(void **state)
{
    static uint8_t value[1200];
    dht_sim_t *sim = net_new(31, 1 << 20);
    dht_id_t key;
    size_t h = NODES;
    unsigned w[2];
    int stored = 0, n;
    count_t c;
    find_held_t f;

    (void)state;
    fill(value, sizeof(value), 42);
    dht_id_from_bytes(&key, value, sizeof(value));
    assert_int_equal(put_from(sim, 0, value, sizeof(value)), K);
    for (size_t i = 1; i < NODES && h == NODES; i++)
        if (held_here(&stores[i]))
            h = i;
    w[0] = (unsigned)h;
    w[1] = stores[h].writes;
    pending = 1;
    assert_int_equal(
        dht_put(dht_sim_node(sim, 0), &key, value, sizeof(value), 3600, on_put, &stored), 0);
    assert_int_equal(dht_sim_run(sim, writes_grew, w, dht_sim_now(sim) + 60000), 1);
    /* the refresh write is under way on h: the value goes now */
    assert_int_equal(dht_held_remove(dht_sim_node(sim, h), &key, &key), 0);
    assert_int_equal(held_here(&stores[h]), 0);
    run_all(sim);
    f.key = &key;
    f.found = 0;
    dht_held_foreach(dht_sim_node(sim, h), find_cb, &f);
    c = count_from(sim, 0, &key);
    n = 0;
    for (size_t i = 0; i < NODES; i++)
        n += held_here(&stores[i]);
    assert_false(f.found && !held_here(&stores[h])); /* indexed without bytes */
    assert_int_equal(c.holders, (unsigned)n);        /* the count is of real copies */
    assert_false(held_here(&stores[h]));             /* h's copy was not kept, */
    assert_int_equal(stored, n); /* nor counted: the put went on to the next closest */
    net_free(sim);
}

static int reads_started(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < NODES; i++)
        if (stores[i].reads > 0)
            return 1;
    return 0;
}

/* A replication op waiting on a storage read when the node is freed. */
static void test_free_during_replication_read(void **state)
{
    static uint8_t value[900];
    dht_sim_t *sim = net_new_ex(33, 1 << 20, 20, 1);

    (void)state;
    fill(value, sizeof(value), 7);
    assert_int_equal(put_from(sim, 0, value, sizeof(value)), K);
    for (size_t i = 0; i < NODES; i++) /* holders die: the rest must repair */
        if (i != 0 && held_here(&stores[i]) && i % 2)
            assert_int_equal(dht_sim_remove_node(sim, i), 0);
    slow_reads = 1;
    assert_int_equal(dht_sim_run(sim, reads_started, NULL, dht_sim_now(sim) + 60000), 1);
    for (size_t i = 0; i < NODES; i++)
        if (stores[i].reads > 0 && dht_sim_node(sim, i) != NULL)
            assert_int_equal(dht_sim_remove_node(sim, i), 0);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 200000);
    slow_reads = 0;
    net_free(sim);
}

static int ttl_stored;
static void on_put_ttl(int status, unsigned stored, void *arg)
{
    (void)arg;
    ttl_stored = status == 0 ? (int)stored : status;
    pending--;
}

/* A 1 s TTL STORE whose write takes 2 s: "stored", bytes kept, not indexed, never dropped. */
static void test_expired_on_written(void **state)
{
    static uint8_t value[700];
    dht_sim_t *sim = net_new(35, 1 << 20);
    dht_id_t key;
    unsigned slots = 0, drops = 0;
    size_t values = 0;

    (void)state;
    fill(value, sizeof(value), 77);
    dht_id_from_bytes(&key, value, sizeof(value));
    slow_writes = 2000;
    pending = 1;
    assert_int_equal(dht_put(dht_sim_node(sim, 0), &key, value, sizeof(value), 1, on_put_ttl, NULL),
                     0);
    run_all(sim);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 600 * 1000);
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        values += st.values;
        slots += (unsigned)held_here(&stores[i]);
        drops += stores[i].drops;
    }
    slow_writes = 0;
    assert_true(drops > 0);
    assert_int_equal(slots, values); /* every byte kept is indexed (and dropped at expiry) */
    net_free(sim);
}

/* Fills order[0..NODES) with the node indexes, nearest to key first. */
static void order_by_distance(dht_sim_t *sim, const dht_id_t *key, size_t *order)
{
    for (size_t i = 0; i < NODES; i++)
        order[i] = i;
    sort_target = *key;
    sorting_sim = sim;
    qsort(order, NODES, sizeof(order[0]), by_distance);
}

static int put_copies_from(dht_sim_t *sim, size_t node, const uint8_t *value, size_t len,
                           unsigned copies)
{
    dht_put_opts_t opts = {.copies = copies};
    dht_id_t key;
    int stored = 0;

    dht_id_from_bytes(&key, value, len);
    pending = 1;
    assert_int_equal(
        dht_put_ex(dht_sim_node(sim, node), &key, value, len, 3600, &opts, on_put, &stored), 0);
    run_all(sim);
    return stored;
}

/* A put whose caller vouches for the content address (dht_put_opts_t.
 * content: libdht does not hash the value again) lands like any other; a
 * false claim is refused by every node that would store it, so it is
 * stored nowhere else. */
static void test_put_content_vouched(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new_ex(29, 1 << 20, 0, 1);
    dht_put_opts_t opts = {.copies = 3, .content = 1};
    dht_id_t key, wrong;
    int stored = 0;

    (void)state;
    fill(value, sizeof(value), 4);
    dht_id_from_bytes(&key, value, sizeof(value));
    pending = 1;
    assert_int_equal(
        dht_put_ex(dht_sim_node(sim, 0), &key, value, sizeof(value), 3600, &opts, on_put, &stored),
        0);
    run_all(sim);
    assert_int_equal(stored, 3);
    assert_int_equal(closest_r_holding(sim, &key, 3), 3);
    /* The same bytes claimed under another key. */
    dht_id_from_bytes(&wrong, "not these bytes", 15);
    stored = 0;
    pending = 1;
    assert_int_equal(dht_put_ex(dht_sim_node(sim, 0), &wrong, value, sizeof(value), 3600, &opts,
                                on_put, &stored),
                     0);
    run_all(sim);
    assert_true(stored <= 0); /* refused: an error, or stored on none */
    for (size_t i = 1; i < NODES; i++) {
        find_held_t f = {&wrong, 0};
        dht_held_foreach(dht_sim_node(sim, i), find_cb, &f);
        assert_false(f.found);
    }
    net_free(sim);
}

/* A put with copies 3 lands on the 3 closest nodes only; when two of them
 * die, replication puts it back on the 3 closest live nodes, and only
 * there (the holders keep r, not k), interval after interval. */
static void test_copies_kept_on_r(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new_ex(23, 1 << 20, 600, 1);
    dht_id_t key;
    dht_put_opts_t too_many = {.copies = DHT_MAX_COPIES + 1};
    int killed = 0;

    (void)state;
    fill(value, sizeof(value), 9);
    dht_id_from_bytes(&key, value, sizeof(value));
    assert_int_equal(
        dht_put_ex(dht_sim_node(sim, 0), &key, value, sizeof(value), 3600, &too_many, on_put, NULL),
        DHT_EINVAL);
    assert_int_equal(put_copies_from(sim, 0, value, sizeof(value), 3), 3);
    assert_int_equal(live_holding(sim, &key), 3);
    assert_int_equal(closest_r_holding(sim, &key, 3), 3);
    for (size_t i = 1; i < NODES && killed < 2; i++) {
        find_held_t f = {&key, 0};
        dht_held_foreach(dht_sim_node(sim, i), find_cb, &f);
        if (f.found) {
            assert_int_equal(dht_sim_remove_node(sim, i), 0);
            killed++;
        }
    }
    assert_int_equal(killed, 2);
    assert_int_equal(live_holding(sim, &key), 1);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 2 * 600 * 1000 + 60000);
    print_message("copies 3: %d live holders, %d of the 3 closest\n", live_holding(sim, &key),
                  closest_r_holding(sim, &key, 3));
    assert_int_equal(closest_r_holding(sim, &key, 3), 3);
    assert_int_equal(live_holding(sim, &key), 3);
    assert_true(get_from(sim, 5, value, sizeof(value)));
    net_free(sim);
}

/* The closest nodes refuse (their storage fails): the put goes on to the
 * next closest until r nodes took it. */
static void test_refused_put_goes_to_next(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new(29, 1 << 20);
    size_t order[NODES];
    dht_id_t key;

    (void)state;
    fill(value, sizeof(value), 10);
    dht_id_from_bytes(&key, value, sizeof(value));
    order_by_distance(sim, &key, order);
    for (size_t i = 0; i < 3; i++)
        stores[order[i]].fail_writes = 1;
    /* From a node that is not among the 6 closest. */
    size_t from = order[NODES - 1];
    assert_int_equal(put_copies_from(sim, from, value, sizeof(value), 3), 3);
    assert_int_equal(live_holding(sim, &key), 3);
    for (size_t i = 3; i < 6; i++) {
        find_held_t f = {&key, 0};
        dht_held_foreach(dht_sim_node(sim, order[i]), find_cb, &f);
        assert_true(f.found);
    }
    net_free(sim);
}

/* The publisher is the closest node and its own storage fails the write:
 * the put does not count that copy; the next closest takes it, and the
 * count is of real copies. */
static void test_own_failed_write_not_counted(void **state)
{
    static uint8_t value[1500];
    dht_sim_t *sim = net_new(29, 1 << 20);
    size_t order[NODES];
    dht_id_t key;
    int stored;

    (void)state;
    fill(value, sizeof(value), 11);
    dht_id_from_bytes(&key, value, sizeof(value));
    order_by_distance(sim, &key, order);
    stores[order[0]].fail_writes = 1;
    stored = put_copies_from(sim, order[0], value, sizeof(value), 3);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 1000);
    print_message("reported %d, live holders %d\n", stored, live_holding(sim, &key));
    assert_int_equal(stored, live_holding(sim, &key));
    assert_int_equal(stored, 3);
    net_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_lands_in_storage),
        cmocka_unit_test(test_put_many_waits_for_writes),
        cmocka_unit_test(test_provider_records_in_memory),
        cmocka_unit_test(test_refresh_keeps_source),
        cmocka_unit_test(test_named_value_in_memory),
        cmocka_unit_test(test_failed_write_not_counted),
        cmocka_unit_test(test_damaged_read_refused),
        cmocka_unit_test(test_held_add_serves_and_expires),
        cmocka_unit_test(test_eviction_and_remove_drop),
        cmocka_unit_test(test_delete_drops_from_storage),
        cmocka_unit_test(test_replication_repairs),
        cmocka_unit_test(test_checks_in_batches),
        cmocka_unit_test(test_newcomers_get_values_at_once),
        cmocka_unit_test(test_count_holders),
        cmocka_unit_test(test_graceful_leave),
        cmocka_unit_test(test_put_content_vouched),
        cmocka_unit_test(test_copies_kept_on_r),
        cmocka_unit_test(test_refused_put_goes_to_next),
        cmocka_unit_test(test_own_failed_write_not_counted),
        cmocka_unit_test(test_refresh_then_drop),
        cmocka_unit_test(test_free_during_replication_read),
        cmocka_unit_test(test_expired_on_written),
    };

    alarm(300);
    return cmocka_run_group_tests_name("held", tests, NULL, NULL);
}
