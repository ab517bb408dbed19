/*
 * Sybils next to a key (issue 13 item 3), on the simulator: 1,000 nodes of
 * which 100 are hostile, 3 of them given the ids closest to each of 30
 * keys (the rest anywhere). Honest nodes put a 5,000-byte content-
 * addressed value under each key (large enough to be announced by hash
 * and fetched with GET_VALUE), then other honest nodes get each value.
 * The hostile nodes are of two kinds:
 *   - black holes: they say they hold every value (a summary for any key,
 *     through a value source), accept every STORE and keep nothing, and
 *     never answer a GET_VALUE;
 *   - liars: they store and serve like anyone, but the bytes of every
 *     value they send are damaged on the way (dht_sim_set_liar).
 * Every get must come back with the right bytes, from the honest holders
 * among the k closest: a few bad holders cannot deny a value. A liar is
 * banned by the get it lied to (dht_stats_t.bad_servers), and a black hole
 * costs a get one GET_VALUE timeout (4 s for this size) before the next
 * holder is asked beside it.
 *
 * Until the simulator honoured dht_config_t.has_id (it drew every id, so
 * the "Sybils next to each key" were anywhere), this test saw the slowest
 * get take 16 s of virtual time. With the three truly next to each key,
 * every get was still right, but the slowest took 24.1 s (p99 20.2 s): a
 * get met the black holes one after the other, 4 s each, and then waited
 * for their last resends to time out though the value was there. Now a
 * stall asks the next two holders, and a get ends once it has its value:
 * the slowest takes 8.2 s (p99 8.2 s, p50 0.1 s).
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

#define NODES     1000
#define HOSTILE   100
#define KEYS      30
#define NEAR      3  /* hostile nodes next to each key */
#define GETS      10 /* gets of each value, from as many honest nodes */
#define VALUE_LEN 5000

static dht_sim_t *sim;
static int pending;        /* puts and gets not answered yet */
static unsigned calls_out; /* black holes' STORE answers still to come */
static uint8_t values[KEYS][VALUE_LEN];
static dht_id_t keys[KEYS];
static uint8_t hostile[NODES]; /* 0 honest, 1 black hole, 2 liar */

/* ---- a black hole: claims everything, keeps nothing, never serves ---- */

typedef struct written {
    size_t node;
    uint64_t req;
} written_t;

static void say_written(void *arg)
{
    written_t *w = arg;
    dht_t *dht = dht_sim_node(sim, w->node);

    if (dht != NULL)
        dht_held_written(dht, w->req, 0); /* "stored": the bytes are gone */
    calls_out--;
    free(w);
}

static int bh_write(void *arg, const dht_held_t *v, const uint8_t *data, uint64_t req)
{
    written_t *w = malloc(sizeof(*w));

    (void)v;
    (void)data;
    if (w == NULL)
        return -1;
    w->node = (size_t)(uintptr_t)arg;
    w->req = req;
    if (dht_sim_call(sim, 1, say_written, w) != 0) {
        free(w);
        return -1;
    }
    calls_out++;
    return 0;
}

static int bh_read(void *arg, const dht_held_t *v, uint64_t req)
{
    (void)arg;
    (void)v;
    (void)req;
    return 0; /* and never a word again */
}

static void bh_drop(void *arg, const dht_held_t *v)
{
    (void)arg;
    (void)v;
}

static int bh_value_size(void *arg, const dht_id_t *key, size_t *len)
{
    (void)arg;
    (void)key;
    *len = VALUE_LEN; /* "I have it", whatever it is */
    return 0;
}

static int bh_value_read(void *arg, const dht_id_t *key, uint64_t req)
{
    (void)arg;
    (void)key;
    (void)req;
    return 0;
}

/* ---- the network ---------------------------------------------------------- */

/* An id next to key: its first 240 bits, then r. */
static void near_id(const dht_id_t *key, uint64_t r, dht_id_t *out)
{
    *out = *key;
    for (int i = 0; i < 2; i++)
        out->b[30 + i] ^= (uint8_t)(r >> (8 * i)) | (i == 1 ? 1 : 0);
}

static void add(const dht_config_t *base, int kind, const dht_id_t *id)
{
    dht_config_t cfg = *base;
    size_t i = dht_sim_node_count(sim);

    if (id != NULL) {
        cfg.id = *id;
        cfg.has_id = 1;
    }
    if (kind == 1) {
        cfg.storage.write = bh_write;
        cfg.storage.read = bh_read;
        cfg.storage.drop = bh_drop;
        cfg.storage.arg = (void *)(uintptr_t)i;
        cfg.value_size = bh_value_size;
        cfg.value_read = bh_value_read;
    }
    assert_int_equal(dht_sim_add_node_with(sim, &cfg), (int)i);
    hostile[i] = (uint8_t)kind;
    if (kind == 2)
        assert_int_equal(dht_sim_set_liar(sim, i, 1), 0);
}

static void net_new(uint64_t seed)
{
    dht_sim_config_t cfg;
    uint64_t r = seed * 7919;
    size_t placed = 0;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t j = 0; j < KEYS; j++) {
        for (size_t b = 0; b < VALUE_LEN; b++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            values[j][b] = (uint8_t)(r >> 33);
        }
        dht_id_from_bytes(&keys[j], values[j], VALUE_LEN);
    }
    /* Next to key j: three black holes, three liars, or both kinds. */
    for (size_t j = 0; j < KEYS; j++)
        for (size_t n = 0; n < NEAR; n++, placed++) {
            dht_id_t id;
            int kind = j % 3 == 0 ? 1 : j % 3 == 1 ? 2 : 1 + (int)(n % 2);
            near_id(&keys[j], j * 16 + n + 1, &id);
            add(&cfg.node, kind, &id);
        }
    for (; placed < HOSTILE; placed++)
        add(&cfg.node, 1 + (int)(placed % 2), NULL);
    while (dht_sim_node_count(sim) < NODES)
        add(&cfg.node, 0, NULL);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
}

static int calls_done(void *arg)
{
    (void)arg;
    return calls_out == 0;
}

static void net_free(void)
{
    if (calls_out > 0)
        dht_sim_run(sim, calls_done, NULL, dht_sim_now(sim) + 60 * 1000);
    assert_int_equal(calls_out, 0);
    dht_sim_free(sim);
    sim = NULL;
}

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

/* @return a random honest node. */
static size_t honest(uint64_t *r)
{
    for (;;) {
        size_t i;
        *r = *r * 6364136223846793005ULL + 1442695040888963407ULL;
        i = (size_t)((*r >> 33) % NODES);
        if (!hostile[i])
            return i;
    }
}

/* ---- puts and gets --------------------------------------------------------- */

static void on_put(int status, unsigned stored, void *arg)
{
    int *out = arg;

    *out = status == 0 ? (int)stored : status;
    pending--;
}

typedef struct got {
    size_t key;
    int ok;
    uint64_t started, ms;
} got_t;

static void on_get(int status, const dht_value_t *v, size_t n, void *arg)
{
    got_t *g = arg;

    for (size_t i = 0; status == 0 && i < n; i++)
        if (v[i].len == VALUE_LEN && memcmp(v[i].data, values[g->key], VALUE_LEN) == 0)
            g->ok = 1;
    g->ms = dht_sim_now(sim) - g->started;
    pending--;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static void test_gets_survive_sybils_next_to_keys(void **state)
{
    static got_t gets[KEYS * GETS];
    uint64_t ms[KEYS * GETS];
    int stored[KEYS];
    uint64_t r = 99;
    unsigned ok = 0;
    dht_stats_t st;
    uint64_t bad = 0, banned = 0;

    (void)state;
    net_new(5);
    for (size_t j = 0; j < KEYS; j++) {
        dht_t *pub = dht_sim_node(sim, honest(&r));
        assert_int_equal(dht_put(pub, &keys[j], values[j], VALUE_LEN, 3600, on_put, &stored[j]), 0);
        pending++;
    }
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
    for (size_t j = 0; j < KEYS; j++)
        assert_true(stored[j] >= 10); /* the honest ones among the k closest, at least */
    for (size_t i = 0; i < KEYS * GETS; i++) {
        gets[i].key = i / GETS;
        gets[i].started = dht_sim_now(sim);
        assert_int_equal(
            dht_get(dht_sim_node(sim, honest(&r)), &keys[gets[i].key], on_get, &gets[i]), 0);
        pending++;
    }
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
    for (size_t i = 0; i < KEYS * GETS; i++) {
        ok += (unsigned)gets[i].ok;
        ms[i] = gets[i].ms;
    }
    qsort(ms, KEYS * GETS, sizeof(ms[0]), cmp_u64);
    for (size_t i = 0; i < NODES; i++) {
        if (hostile[i])
            continue;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        bad += st.dropped_bad_value;
        banned += st.bad_servers;
    }
    printf("sybils: %u/%u gets right, virtual ms p50 %llu, p99 %llu, max %llu; "
           "%llu damaged values dropped, %llu liars banned\n",
           ok, KEYS * GETS, (unsigned long long)ms[KEYS * GETS / 2],
           (unsigned long long)ms[KEYS * GETS * 99 / 100], (unsigned long long)ms[KEYS * GETS - 1],
           (unsigned long long)bad, (unsigned long long)banned);
    assert_true(ok * 100 >= 99u * KEYS * GETS);
    assert_true(bad > 0 && banned > 0);       /* the liars were asked, caught and banned */
    assert_true(ms[KEYS * GETS - 1] < 10000); /* virtual time: deterministic */
    net_free();
}

typedef struct found {
    int pending;
} found_t;

static void on_found(int status, const dht_node_info_t *nodes, size_t n,
                     const dht_lookup_stats_t *st, void *arg)
{
    (void)status;
    (void)nodes;
    (void)n;
    (void)st;
    (void)arg;
    pending--;
}

/* A black hole next to a key answers a get at once with a summary (and
 * never serves it) while every honest holder answers late, busy: the get
 * still waits for the late ones, as it does while it holds no verified
 * value, and gets the value from them. It once stopped waiting as soon as
 * it had heard of a value at all, and ended "not found" after the black
 * hole's GET_VALUE timed out. 30 nodes, the value on the 8 closest (the
 * black hole and 7 honest, answering 300 ms late), the getter's adaptive
 * timeout a few ms. (The get takes 12.1 s of virtual time, the failing one
 * as long: more than the one GET_VALUE timeout, 4 s, that the test above
 * says a black hole costs. Not looked into yet.) */
static void test_summary_alone_does_not_end_the_wait(void **state)
{
    enum { N = 30, COPIES = 8 };
    dht_sim_config_t cfg;
    dht_put_opts_t opts = {.copies = COPIES};
    dht_id_t id;
    size_t getter = N;
    int stored = 0, slowed = 0;
    got_t g = {0, 0, 0, 0};

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 3;
    cfg.delay_min_ms = 1;
    cfg.delay_max_ms = 2;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t b = 0; b < VALUE_LEN; b++)
        values[0][b] = (uint8_t)(b * 131 + 7);
    dht_id_from_bytes(&keys[0], values[0], VALUE_LEN);
    near_id(&keys[0], 1, &id);
    add(&cfg.node, 1, &id);
    while (dht_sim_node_count(sim) < N)
        add(&cfg.node, 0, NULL);
    assert_int_equal(dht_sim_fill_tables(sim), 0);

    assert_int_equal(dht_put_ex(dht_sim_node(sim, 1), &keys[0], values[0], VALUE_LEN, 3600, &opts,
                                on_put, &stored),
                     0);
    pending = 1;
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 60 * 1000), 1);
    assert_int_equal(stored, COPIES);
    for (size_t i = 1; i < N; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        if (st.values == 0 && getter == N && i != 1)
            getter = i;
        else if (st.values > 0 && i != 1)
            slowed += dht_sim_set_extra_delay(sim, i, 300) == 0;
    }
    assert_int_not_equal(getter, N);
    assert_int_equal(dht_sim_set_extra_delay(sim, 1, 300), 0); /* the publisher too */
    assert_true(slowed >= COPIES - 2);
    /* The getter learns the round-trip time (a few ms): its adaptive
     * timeout then stalls the late holders' requests. */
    for (size_t i = 0; i < 40; i++) {
        dht_id_t target = *dht_self(dht_sim_node(sim, i % N));
        assert_int_equal(dht_find_node(dht_sim_node(sim, getter), &target, on_found, NULL), 0);
        pending = 1;
        assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 60 * 1000), 1);
    }
    g.started = dht_sim_now(sim);
    assert_int_equal(dht_get(dht_sim_node(sim, getter), &keys[0], on_get, &g), 0);
    pending = 1;
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 60 * 1000), 1);
    printf("a black hole's summary first, %d honest holders 300 ms late: %s in %llu ms\n", slowed,
           g.ok ? "got" : "not found", (unsigned long long)g.ms);
    assert_true(g.ok);
    net_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gets_survive_sybils_next_to_keys),
        cmocka_unit_test(test_summary_alone_does_not_end_the_wait),
    };

    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
