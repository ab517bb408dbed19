/*
 * libdht in the simulator: whole networks of real cores on a virtual clock.
 * 1,000 nodes join through one bootstrap node with the real protocol; then
 * every node looks up another, and 1,000 values put from random nodes are
 * got from other random nodes. The same again at 10% loss with a delay
 * range, plus large values, and a check that a seed replays exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contacts.h"
#include "dht.h"

#define NODES  1000
#define VALUES 1000

static int pending;

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

/* Runs until every callback has fired; fails the test after a virtual hour. */
static void run_all(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 3600 * 1000), 1);
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status;
    pending--;
}

/* Every node but 0 joins through node 0, one after another as people
 * would start them; a join that fails (all its datagrams lost) is retried,
 * as an application would. */
static dht_sim_t *build(double loss, unsigned dmin, unsigned dmax, uint64_t seed, unsigned retries)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_addr_t first;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.loss = loss;
    cfg.delay_min_ms = dmin;
    cfg.delay_max_ms = dmax;
    cfg.node.retries = retries;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    dht_sim_node_addr(sim, 0, &first);
    for (int i = 1; i < NODES; i++) {
        int status = -1;
        for (int attempt = 0; attempt < 5 && status != 0; attempt++) {
            pending = 1;
            assert_int_equal(dht_bootstrap(dht_sim_node(sim, i), &first, 1, on_joined, &status), 0);
            run_all(sim);
        }
        assert_int_equal(status, 0);
    }
    return sim;
}

typedef struct find_ctx {
    dht_id_t target;
    int found;
} find_ctx_t;

static void on_found(int status, const dht_node_info_t *nodes, size_t n,
                     const dht_lookup_stats_t *st, void *arg)
{
    find_ctx_t *c = arg;

    (void)st;
    c->found = status == 0 && n > 0 && dht_id_cmp(&nodes[0].id, &c->target) == 0;
    pending--;
}

/* Every node looks up another node's id and must find that node first. */
/* Every node looks up another node's id; at least min_found of the NODES
 * lookups must report that node. */
static void some_nodes_find_another(dht_sim_t *sim, uint64_t seed, int min_found)
{
    find_ctx_t *ctx = calloc(NODES, sizeof(*ctx));
    int found = 0;

    srand((unsigned)seed);
    for (int i = 0; i < NODES; i++) {
        int j = (i + 1 + rand() % (NODES - 1)) % NODES;
        ctx[i].target = *dht_self(dht_sim_node(sim, (size_t)j));
        pending++;
        assert_int_equal(
            dht_find_node(dht_sim_node(sim, (size_t)i), &ctx[i].target, on_found, &ctx[i]), 0);
    }
    run_all(sim);
    for (int i = 0; i < NODES; i++)
        found += ctx[i].found;
    assert_true(found >= min_found);
    free(ctx);
}

static void every_node_finds_another(dht_sim_t *sim, uint64_t seed)
{
    some_nodes_find_another(sim, seed, NODES);
}

static void on_put(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 && stored >= 1 ? 1 : -1;
    pending--;
}

typedef struct get_ctx {
    const uint8_t *want;
    size_t len;
    int ok;
} get_ctx_t;

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    get_ctx_t *c = arg;

    c->ok = status == 0 && n == 1 && v[0].len == c->len && memcmp(v[0].data, c->want, c->len) == 0;
    pending--;
}

/* Puts `count` values of `len` bytes from random nodes, all in flight at
 * once, then gets each from another random node. */
static void put_get(dht_sim_t *sim, int count, size_t len, uint64_t seed)
{
    uint8_t *vals = malloc((size_t)count * len);
    dht_id_t *keys = malloc((size_t)count * sizeof(*keys));
    int *put_ok = calloc((size_t)count, sizeof(int));
    get_ctx_t *got = calloc((size_t)count, sizeof(*got));
    int stored = 0, found = 0;

    srand((unsigned)seed);
    for (int i = 0; i < count; i++) {
        uint8_t *v = vals + (size_t)i * len;
        for (size_t b = 0; b < len; b++)
            v[b] = (uint8_t)rand();
        /* Half content addressed, half under a name unique to this round. */
        if (i % 2) {
            dht_id_from_bytes(&keys[i], v, len);
        } else {
            uint64_t name[2] = {seed, (uint64_t)i};
            dht_id_from_bytes(&keys[i], name, sizeof(name));
        }
        pending++;
        assert_int_equal(dht_put(dht_sim_node(sim, (size_t)(rand() % NODES)), &keys[i], v, len,
                                 3600, on_put, &put_ok[i]),
                         0);
    }
    run_all(sim);
    for (int i = 0; i < count; i++)
        stored += put_ok[i] == 1;
    assert_int_equal(stored, count);
    for (int i = 0; i < count; i++) {
        got[i].want = vals + (size_t)i * len;
        got[i].len = len;
        pending++;
        assert_int_equal(
            dht_get(dht_sim_node(sim, (size_t)(rand() % NODES)), &keys[i], on_got, &got[i]), 0);
    }
    run_all(sim);
    for (int i = 0; i < count; i++)
        found += got[i].ok;
    assert_int_equal(found, count);
    free(vals);
    free(keys);
    free(put_ok);
    free(got);
}

static void test_lossless_network(void **state)
{
    dht_sim_t *sim = build(0.0, 5, 50, 11, 2);

    (void)state;
    every_node_finds_another(sim, 1);
    put_get(sim, VALUES, 100, 2);
    dht_sim_free(sim);
}

static void test_lossy_network(void **state)
{
    /* At 10% loss a request and its reply both arrive 81% of the time, so
     * a request tried 3 times (the default) still fails 0.7% of the time.
     * A deployment on so lossy a network turns retries up, as this one
     * does: 6 tries fail 0.005% of the time, so joins and stores go
     * through. A lookup, though, stops waiting for a node after one
     * adaptive timeout once others have answered, as it must for a dead
     * node, unless at most 2 of its closest are so late (then they get
     * one more resend, lookup.c); a later reply counts only if the
     * lookup still runs. So the target is missed when its requests or
     * replies are lost more often than that; at least 98% must find it. */
    dht_sim_t *sim = build(0.10, 10, 120, 12, 5);
    dht_sim_stats_t st;

    (void)state;
    some_nodes_find_another(sim, 3, NODES * 98 / 100);
    put_get(sim, VALUES, 100, 4);
    /* Values larger than a datagram travel by stream; their requests and
     * the rest of the protocol still cross the lossy datagram network. */
    put_get(sim, 8, 64 * 1024, 5);
    put_get(sim, 4, 1024 * 1024, 6);
    dht_sim_get_stats(sim, &st);
    assert_true(st.datagrams_lost > st.datagrams_sent / 20); /* the loss was real */
    /* Every datagram has at least its 40-byte header, none more than 1400. */
    assert_true(st.datagram_bytes >= st.datagrams_sent * 40);
    assert_true(st.datagram_bytes <= st.datagrams_sent * DHT_MAX_DATAGRAM);
    assert_true(st.stream_bytes > 8 * 64 * 1024); /* the large values went by stream */
    dht_sim_free(sim);
}

/* Fast initialisation from the global view also routes: every lookup finds
 * its target. */
static void test_fast_fill(void **state)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 99;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < NODES; i++)
        dht_sim_add_node(sim);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    every_node_finds_another(sim, 7);
    dht_sim_free(sim);
}

static void on_put_count(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 ? (int)stored : -1;
    pending--;
}

static dht_id_t sort_key;

static int by_distance(const void *a, const void *b)
{
    return dht_id_cmp_distance(&sort_key, (const dht_id_t *)a, (const dht_id_t *)b);
}

/* @return node j's rank among the first k of ids (sorted by distance), or -1. */
static int rank_of(dht_sim_t *sim, const dht_id_t *ids, size_t j, int k)
{
    const dht_id_t *id = dht_self(dht_sim_node(sim, j));

    for (int i = 0; i < k; i++)
        if (dht_id_cmp(id, &ids[i]) == 0)
            return i;
    return -1;
}

typedef struct slow_run {
    int stored;       /* what the put said */
    int in_closest;   /* holders among the K + slow closest */
    int slow_holders; /* of them, slow ones */
    uint64_t took_ms; /* virtual time the put took */
} slow_run_t;

static uint64_t put_done_at;
static dht_sim_t *timed_sim;

static void on_put_timed(int status, unsigned stored, void *arg)
{
    put_done_at = dht_sim_now(timed_sim);
    on_put_count(status, stored, arg);
}

/* Node 0 learns the round-trip time of the network of n nodes: 30
 * lookups of other nodes' ids. */
static void learn_rtt(dht_sim_t *sim, int n)
{
    for (int i = 0; i < 30; i++) {
        find_ctx_t f = {*dht_self(dht_sim_node(sim, (size_t)(1 + i % (n - 1)))), 0};
        pending = 1;
        assert_int_equal(dht_find_node(dht_sim_node(sim, 0), &f.target, on_found, &f), 0);
        run_all(sim);
    }
}

/* n nodes with k K; slow of the K closest to a value's key answer 300 ms
 * late (long after the putter's adaptive timeout, about 30 ms here, well
 * before its last resend gives up, 1 s); node 0 puts the value. */
static slow_run_t put_with_slow_closest(int n, int slow)
{
    enum { N_MAX = 300, K = 8 };
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_id_t ids[N_MAX];
    dht_stats_t st;
    uint8_t value[64] = "a value some of whose holders answer late";
    int slowed = 0, is_slow[N_MAX] = {0};
    slow_run_t r = {-1, 0, 0, 0};
    uint64_t t0;

    dht_sim_config_init(&cfg);
    cfg.seed = 42;
    cfg.delay_min_ms = 5;
    cfg.delay_max_ms = 10;
    cfg.node.k = K;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    learn_rtt(sim, n); /* the putter, node 0 */
    dht_id_from_bytes(&sort_key, value, sizeof(value));
    for (int i = 0; i < n; i++)
        ids[i] = *dht_self(dht_sim_node(sim, (size_t)i));
    qsort(ids, (size_t)n, sizeof(ids[0]), by_distance);
    for (int j = 1; j < n && slowed < slow; j++) {
        is_slow[j] = rank_of(sim, ids, (size_t)j, K) >= 0;
        if (is_slow[j])
            assert_int_equal(dht_sim_set_extra_delay(sim, (size_t)j, 300), 0);
        slowed += is_slow[j];
    }
    assert_int_equal(slowed, slow);
    pending = 1;
    timed_sim = sim;
    t0 = dht_sim_now(sim);
    assert_int_equal(dht_put(dht_sim_node(sim, 0), &sort_key, value, sizeof(value), 3600,
                             on_put_timed, &r.stored),
                     0);
    run_all(sim);
    r.took_ms = put_done_at - t0;
    for (int j = 0; j < n; j++) {
        dht_get_stats(dht_sim_node(sim, (size_t)j), dht_sim_now(sim), &st);
        if (rank_of(sim, ids, (size_t)j, K + slow) >= 0 && st.values == 1) {
            r.in_closest++;
            r.slow_holders += is_slow[j];
        }
    }
    dht_sim_free(sim);
    return r;
}

/* The first of bytes 0x00.. that, written into value[0], makes node 0 not
 * among the `copies` nodes closest to the value's key (n nodes). */
static void value_not_near_node0(dht_sim_t *sim, int n, uint8_t *value, size_t len, int copies)
{
    enum { N_MAX = 64 };
    dht_id_t ids[N_MAX];

    assert_true(n <= N_MAX);
    for (int b = 0; b < 256; b++) {
        value[0] = (uint8_t)b;
        dht_id_from_bytes(&sort_key, value, len);
        for (int i = 0; i < n; i++)
            ids[i] = *dht_self(dht_sim_node(sim, (size_t)i));
        qsort(ids, (size_t)n, sizeof(ids[0]), by_distance);
        if (rank_of(sim, ids, 0, copies) < 0)
            return;
    }
    fail_msg("no value keeps node 0 out of its closest");
}

/* A get finds a value whose live holders all answer late: 20 nodes, the
 * value put on 8 (the getter, node 0, not among them), 5 of those gone
 * (offline: silent, no ICMP), the others (besides the putter, gone too)
 * answering 300 ms late, long after the getter's adaptive timeout, while
 * the rest of the network answers at once. A get that has found nothing
 * waits for the late rather than end with "not found" once the quick ones
 * answered, and so does a second get. Before, the get ended "not found"
 * as soon as the quick non-holders had answered (the first version of
 * this test passed only because its getter held the value itself). A get
 * through a survivor right after kills in test_durability.sh failed so
 * now and then ("no node of the network has it") while its holders were
 * busy with repair. */
static void test_get_with_slow_holders(void **state)
{
    enum { N = 20, COPIES = 8 };
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_put_opts_t opts = {.copies = COPIES};
    uint8_t value[64] = "?a value whose live holders answer late";
    get_ctx_t g = {value, sizeof(value), 0};
    dht_id_t key;
    int stored = 0, gone = 0, slowed = 0;

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 7;
    cfg.delay_min_ms = 1;
    cfg.delay_max_ms = 2;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    learn_rtt(sim, N); /* the getter, node 0 */
    value_not_near_node0(sim, N, value, sizeof(value), COPIES);
    dht_id_from_bytes(&key, value, sizeof(value));
    pending = 1;
    assert_int_equal(dht_put_ex(dht_sim_node(sim, N - 1), &key, value, sizeof(value), 3600, &opts,
                                on_put_count, &stored),
                     0);
    run_all(sim);
    assert_int_equal(stored, COPIES);
    for (int i = 0; i < N; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, (size_t)i), dht_sim_now(sim), &st);
        if (st.values == 0)
            continue;
        assert_true(i != 0);
        if (gone < 5 || i == N - 1) {
            assert_int_equal(dht_sim_set_online(sim, (size_t)i, 0), 0);
            gone++;
        } else {
            assert_int_equal(dht_sim_set_extra_delay(sim, (size_t)i, 300), 0);
            slowed++;
        }
    }
    assert_true(gone >= 5);
    assert_true(slowed >= 1);
    for (int round = 0; round < 2; round++) {
        g.ok = 0;
        pending = 1;
        assert_int_equal(dht_get(dht_sim_node(sim, 0), &key, on_got, &g), 0);
        run_all(sim);
        print_message("get %d of a value whose %d live holders answer 300 ms late: %s\n", round + 1,
                      slowed, g.ok ? "found" : "not found");
        assert_true(g.ok);
    }
    dht_sim_free(sim);
}

/* A put keeps its k copies when some of the closest nodes answer late (a
 * daemon loaded by the same put, or dead): once k/2 have answered, the
 * late ones are replaced by the next closest, so the put does not wait out
 * their resends; and in a network too small to replace them, it waits for
 * them (else the value would land on too few nodes). */
static void test_put_with_slow_closest(void **state)
{
    slow_run_t big, small;

    (void)state;
    big = put_with_slow_closest(300, 3);
    print_message("300 nodes, 3 of the 8 closest slow: stored %d, %d slow, %llu ms\n", big.stored,
                  big.slow_holders, (unsigned long long)big.took_ms);
    assert_int_equal(big.stored, 8);
    assert_int_equal(big.in_closest, 8); /* the 11 closest: the next in place of the slow */
    assert_true(big.took_ms < 300);      /* without waiting for the slow */
    small = put_with_slow_closest(9, 5);
    print_message("9 nodes, 5 of the 8 closest slow: stored %d, %d slow, %llu ms\n", small.stored,
                  small.slow_holders, (unsigned long long)small.took_ms);
    assert_int_equal(small.stored, 8);
    assert_int_equal(small.slow_holders, 5); /* waited for: nobody could replace them */
}

typedef struct nearest_ctx {
    int status;
    dht_id_t first; /* the nearest node found */
} nearest_ctx_t;

static void on_nearest(int status, const dht_node_info_t *nodes, size_t n,
                       const dht_lookup_stats_t *st, void *arg)
{
    nearest_ctx_t *c = arg;

    (void)st;
    c->status = status == 0 && n == 0 ? DHT_ENOTFOUND : status;
    if (status == 0 && n > 0)
        c->first = nodes[0].id;
    pending--;
}

/* A node whose k contacts nearest to a target all died since it last
 * heard from them still finds the target's live neighbours: its lookup
 * goes on with the table's next nearest contacts. Before, it ended with
 * DHT_ENOPEERS while the table held live nodes (seen under churn: a node
 * could get none of the values it looked for). */
static void test_lookup_past_dead_contacts(void **state)
{
    enum { N = 300, K = 20 };
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_node_info_t dead[K];
    dht_id_t live[N];
    size_t n_dead, n_live = 0;
    dht_id_t target;
    nearest_ctx_t r = {1, {{0}}};

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 11;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    /* A target far from node 0, so that its table holds more than k
     * contacts beyond the k nearest to the target. */
    target = *dht_self(dht_sim_node(sim, 0));
    target.b[0] ^= 0x80;
    n_dead = dht_closest_nodes(dht_sim_node(sim, 0), &target, dead, K);
    assert_int_equal(n_dead, K);
    for (size_t j = 1; j < N; j++) {
        const dht_id_t *id = dht_self(dht_sim_node(sim, j));
        int is_dead = 0;
        for (size_t d = 0; d < n_dead; d++)
            is_dead |= dht_id_cmp(id, &dead[d].id) == 0;
        if (is_dead)
            assert_int_equal(dht_sim_set_online(sim, j, 0), 0);
        else
            live[n_live++] = *id;
    }
    assert_int_equal(n_live, N - 1 - K);
    sort_key = target;
    qsort(live, n_live, sizeof(live[0]), by_distance);
    pending = 1;
    assert_int_equal(dht_find_node(dht_sim_node(sim, 0), &target, on_nearest, &r), 0);
    run_all(sim);
    assert_int_equal(r.status, 0);
    assert_int_equal(dht_id_cmp(&r.first, &live[0]), 0); /* the live node nearest to it */
    dht_sim_free(sim);
}

/* After its own-id lookup, a node that joins fills the buckets farther
 * than its nearest neighbour, which that lookup passes through without
 * stopping (issue 9: they averaged 0.5 contacts for the far half of the
 * id space). 2,000 nodes; a newcomer joins through node 0; two seconds
 * on, each of its six farthest buckets (those with at least 31 nodes on
 * the network) holds at least half of k. */
static void test_join_fills_far_buckets(void **state)
{
    enum { N = 2000, K = 20, FAR = 6 };
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_addr_t first;
    dht_node_info_t near[DHT_MAX_K];
    unsigned per_bucket[FAR] = {0};
    int status = -1, joiner;
    const dht_id_t *self;

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 21;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    joiner = dht_sim_add_node(sim);
    assert_int_equal(joiner, N);
    dht_sim_node_addr(sim, 0, &first);
    pending = 1;
    assert_int_equal(
        dht_bootstrap(dht_sim_node(sim, (size_t)joiner), &first, 1, on_joined, &status), 0);
    run_all(sim);
    assert_int_equal(status, 0);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 2000);
    /* The nodes of bucket d are the nearest to any id in its range (the
     * own id with bit d flipped): those that share exactly d bits. */
    self = dht_self(dht_sim_node(sim, (size_t)joiner));
    for (unsigned d = 0; d < FAR; d++) {
        dht_id_t in_bucket = *self;
        size_t n;
        in_bucket.b[d / 8] ^= (uint8_t)(0x80u >> (d % 8));
        n = dht_closest_nodes(dht_sim_node(sim, (size_t)joiner), &in_bucket, near, DHT_MAX_K);
        for (size_t i = 0; i < n; i++)
            per_bucket[d] += dht_id_common_prefix(self, &near[i].id) == d;
    }
    for (unsigned d = 0; d < FAR; d++) {
        print_message("bucket %u: %u contacts\n", d, per_bucket[d]);
        assert_true(per_bucket[d] >= K / 2);
    }
    dht_sim_free(sim);
}

/* Summary of a small lossy run, to compare two runs of one seed: 200
 * nodes join, the first 20 of them knowing a made-up id at another
 * node's address (a contact the simulator's store keeps apart), then
 * every node's 20 closest to its own id are summed up. table_contacts:
 * the tables keep their contacts themselves (dht__sim_table_contacts). */
static void fingerprint(uint64_t seed, int table_contacts, char *out, size_t size)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_sim_stats_t st;
    dht_addr_t first;
    uint64_t sum = 0;
    int status;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.loss = 0.1;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    dht__sim_table_contacts(sim, table_contacts);
    for (int i = 0; i < 200; i++)
        dht_sim_add_node(sim);
    for (int i = 0; i < 20; i++) {
        dht_id_t made_up = *dht_self(dht_sim_node(sim, (size_t)i));
        dht_addr_t at;
        made_up.b[31] ^= 0x5a;
        dht_sim_node_addr(sim, (size_t)(i + 100), &at);
        assert_int_equal(dht_insert_node(dht_sim_node(sim, (size_t)i), &made_up, &at, 0), 0);
    }
    dht_sim_node_addr(sim, 0, &first);
    pending = 0;
    for (int i = 1; i < 200; i++) {
        pending++;
        dht_bootstrap(dht_sim_node(sim, (size_t)i), &first, 1, on_joined, &status);
    }
    run_all(sim);
    for (size_t i = 0; i < 200; i++) {
        dht_node_info_t near[DHT_MAX_K];
        dht_t *node = dht_sim_node(sim, i);
        size_t n = dht_closest_nodes(node, dht_self(node), near, DHT_MAX_K);
        for (size_t j = 0; j < n; j++)
            sum = sum * 31 + near[j].id.b[0] * 257u + near[j].addr.ip[3];
    }
    dht_sim_get_stats(sim, &st);
    snprintf(out, size, "t=%llu sent=%llu lost=%llu events=%llu tables=%llx",
             (unsigned long long)dht_sim_now(sim), (unsigned long long)st.datagrams_sent,
             (unsigned long long)st.datagrams_lost, (unsigned long long)st.events,
             (unsigned long long)sum);
    dht_sim_free(sim);
}

static void test_same_seed_same_run(void **state)
{
    char a[128], b[128], c[128];

    (void)state;
    fingerprint(5, 0, a, sizeof(a));
    fingerprint(5, 0, b, sizeof(b));
    fingerprint(6, 0, c, sizeof(c));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
}

/* The tables' contacts in the simulator's shared store (12-byte slots)
 * or in each table's own: the same run, datagram for datagram. */
static void test_contact_stores_same_run(void **state)
{
    char shared[160], own[160];

    (void)state;
    for (uint64_t seed = 5; seed <= 7; seed++) {
        fingerprint(seed, 0, shared, sizeof(shared));
        fingerprint(seed, 1, own, sizeof(own));
        print_message("seed %llu: %s\n", (unsigned long long)seed, shared);
        assert_string_equal(shared, own);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_network),
        cmocka_unit_test(test_lossy_network),
        cmocka_unit_test(test_fast_fill),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_contact_stores_same_run),
        cmocka_unit_test(test_get_with_slow_holders),
        cmocka_unit_test(test_put_with_slow_closest),
        cmocka_unit_test(test_lookup_past_dead_contacts),
        cmocka_unit_test(test_join_fills_far_buckets),
    };

    alarm(600);
    return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
