/*
 * dht_put_many and STORE_MANY, in the simulator: a batch of small values
 * lands on the k closest nodes of each, as dht_put_ex puts would, in
 * fewer datagrams; a value that does not fit a batch goes alone; one
 * value refused in a batch (it does not hash to its key) fails alone,
 * the others of its datagrams are stored; a node whose store is full
 * refuses its values and the next closest take them; bad arguments
 * start nothing; a node freed mid-batch reports every value cancelled;
 * replication's checks send what a keeper lacks in batches too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht.h"

#define NODES  60
#define K      8
#define VALUES 64

typedef struct outcome {
    int status, done;
    unsigned stored;
} outcome_t;

static int pending;
static outcome_t outcomes[VALUES + 1];
static uint8_t values[VALUES + 1][4096];
static size_t lens[VALUES + 1];

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void on_put(int status, unsigned stored, void *arg)
{
    outcome_t *o = arg;

    assert_int_equal(o->done, 0); /* once per value */
    o->done = 1;
    o->status = status;
    o->stored = stored;
    pending--;
}

static dht_sim_t *new_net(size_t nodes, uint64_t seed)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.node.k = K;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < nodes; i++)
        assert_true(dht_sim_add_node(sim) >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    return sim;
}

/* n content-addressed values of len bytes each (value i: bytes from i). */
static void make_items(dht_put_item_t *items, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        lens[i] = len;
        for (size_t j = 0; j < len; j++)
            values[i][j] = (uint8_t)(i * 31 + j * 7 + 1);
        dht_id_from_bytes(&items[i].key, values[i], len);
        items[i].value = values[i];
        items[i].len = len;
        items[i].arg = &outcomes[i];
        memset(&outcomes[i], 0, sizeof(outcomes[i]));
    }
}

typedef struct fetch {
    const uint8_t *want;
    size_t len;
    int found;
} fetch_t;

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    fetch_t *f = arg;

    for (size_t i = 0; status == 0 && i < n; i++)
        if (v[i].len == f->len && memcmp(v[i].data, f->want, f->len) == 0)
            f->found = 1;
    pending--;
}

/* @return 1 if node `from` gets value i (its bytes) with dht_get. */
static int fetched(dht_sim_t *sim, size_t from, const dht_id_t *key, size_t i)
{
    fetch_t f = {values[i], lens[i], 0};

    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, from), key, on_got, &f), 0);
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
    return f.found;
}

/* @return the values all nodes of sim hold. */
static size_t values_held(dht_sim_t *sim)
{
    size_t n = 0;

    for (size_t i = 0; i < dht_sim_node_count(sim); i++) {
        dht_stats_t st;
        if (dht_sim_node(sim, i) == NULL)
            continue;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        n += st.values;
    }
    return n;
}

static uint64_t datagrams(dht_sim_t *sim)
{
    dht_sim_stats_t st;

    dht_sim_get_stats(sim, &st);
    return st.datagrams_sent;
}

static void run(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
}

/* The same 64 values put one by one (dht_put_ex) on one network and as a
 * batch on a twin: each lands on its k closest nodes either way, the
 * batch in fewer datagrams. */
static void test_batch_stores_like_single_puts(void **state)
{
    dht_put_item_t items[VALUES];
    dht_sim_t *single = new_net(NODES, 7), *batch = new_net(NODES, 7);
    uint64_t d0, d_single, d_batch;
    dht_stats_t st;

    (void)state;
    make_items(items, VALUES, 200);
    d0 = datagrams(single);
    pending = VALUES;
    for (size_t i = 0; i < VALUES; i++)
        assert_int_equal(dht_put_ex(dht_sim_node(single, 0), &items[i].key, items[i].value,
                                    items[i].len, 3600, NULL, on_put, &outcomes[i]),
                         0);
    run(single);
    d_single = datagrams(single) - d0;
    for (size_t i = 0; i < VALUES; i++) {
        assert_int_equal(outcomes[i].status, 0);
        assert_int_equal(outcomes[i].stored, K);
    }

    make_items(items, VALUES, 200);
    d0 = datagrams(batch);
    pending = VALUES;
    assert_int_equal(dht_put_many(dht_sim_node(batch, 0), items, VALUES, 3600, NULL, on_put), 0);
    assert_int_equal(pending, VALUES); /* no callback inside the call */
    run(batch);
    d_batch = datagrams(batch) - d0;
    for (size_t i = 0; i < VALUES; i++) {
        assert_int_equal(outcomes[i].status, 0);
        assert_int_equal(outcomes[i].stored, K);
        assert_true(fetched(batch, (i * 7 + 1) % NODES, &items[i].key, i));
    }
    assert_int_equal(values_held(batch), VALUES * K);
    assert_int_equal(values_held(single), VALUES * K);
    dht_get_stats(dht_sim_node(batch, 0), dht_sim_now(batch), &st);
    assert_true(st.store_batches_sent > 0);
    assert_true(st.batched_values_sent >= 2 * st.store_batches_sent);
    print_message("64 values of 200 B on 8 of 60 nodes: %llu datagrams one by one, %llu as a "
                  "batch (%llu STORE_MANYs carried %llu values)\n",
                  (unsigned long long)d_single, (unsigned long long)d_batch,
                  (unsigned long long)st.store_batches_sent,
                  (unsigned long long)st.batched_values_sent);
    assert_true(d_batch < d_single);
    dht_sim_free(single);
    dht_sim_free(batch);
}

/* A value too large for a STORE_MANY goes alone (by stream), among
 * small ones that go together. */
static void test_large_value_goes_alone(void **state)
{
    dht_put_item_t items[4];
    dht_sim_t *sim = new_net(30, 3);

    (void)state;
    make_items(items, 4, 100);
    lens[2] = 3000;
    for (size_t j = 0; j < lens[2]; j++)
        values[2][j] = (uint8_t)(j * 13);
    dht_id_from_bytes(&items[2].key, values[2], lens[2]);
    items[2].len = lens[2];
    pending = 4;
    assert_int_equal(dht_put_many(dht_sim_node(sim, 5), items, 4, 3600, NULL, on_put), 0);
    run(sim);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(outcomes[i].status, 0);
        assert_int_equal(outcomes[i].stored, K);
        assert_true(fetched(sim, 11, &items[i].key, i));
    }
    assert_int_equal(values_held(sim), 4 * K);
    dht_sim_free(sim);
}

/* A value whose key is not its hash, though the caller vouched it is:
 * refused by every node in its STORE_MANYs (DHT_EBADVALUE), while the
 * values it travelled with are stored. */
static void test_bad_value_fails_alone(void **state)
{
    dht_put_item_t items[16];
    dht_put_opts_t opts = {.content = 1};
    dht_sim_t *sim = new_net(12, 5); /* 12 nodes, k 8: values share nodes */
    dht_config_t c;
    dht_stats_t st;
    int client;

    (void)state;
    /* A client puts: it keeps no copy of its own, which it would not
     * check (the caller vouched). */
    dht_config_init(&c);
    c.k = K;
    c.client = 1;
    client = dht_sim_add_node_with(sim, &c);
    assert_true(client >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    make_items(items, 16, 60);
    items[9].key.b[0] ^= 1; /* vouched, and false */
    pending = 16;
    assert_int_equal(
        dht_put_many(dht_sim_node(sim, (size_t)client), items, 16, 3600, &opts, on_put), 0);
    run(sim);
    for (size_t i = 0; i < 16; i++) {
        if (i == 9) {
            assert_int_equal(outcomes[i].status, DHT_EBADVALUE);
            continue;
        }
        assert_int_equal(outcomes[i].status, 0);
        assert_int_equal(outcomes[i].stored, K);
    }
    assert_int_equal(values_held(sim), 15 * K); /* not one copy of the bad one */
    dht_get_stats(dht_sim_node(sim, (size_t)client), dht_sim_now(sim), &st);
    assert_true(st.store_batches_sent > 0);
    dht_sim_free(sim);
}

/* A network where every fifth node has no room for any value. */
static dht_sim_t *net_with_full_nodes(void)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = 11;
    cfg.node.k = K;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < 40; i++) {
        dht_config_t c = cfg.node;
        if (i % 5 == 4) {
            c.store_max_bytes = 10;
            c.store_value_cost = 10;
        }
        assert_true(dht_sim_add_node_with(sim, &c) >= 0);
    }
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    return sim;
}

/* Nodes with no room refuse their values inside the batch, and the next
 * closest that answered the lookup take them instead: each value ends on
 * as many nodes as the same put one by one gets on a twin network. */
static void test_full_nodes_replaced(void **state)
{
    dht_put_item_t items[24];
    unsigned single[24], sum = 0;
    dht_sim_t *sim = net_with_full_nodes(), *twin = net_with_full_nodes();

    (void)state;
    make_items(items, 24, 120);
    pending = 24;
    for (size_t i = 0; i < 24; i++)
        assert_int_equal(dht_put_ex(dht_sim_node(twin, 0), &items[i].key, items[i].value,
                                    items[i].len, 3600, NULL, on_put, &outcomes[i]),
                         0);
    run(twin);
    for (size_t i = 0; i < 24; i++)
        single[i] = outcomes[i].stored;
    make_items(items, 24, 120);
    pending = 24;
    assert_int_equal(dht_put_many(dht_sim_node(sim, 0), items, 24, 3600, NULL, on_put), 0);
    run(sim);
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(outcomes[i].status, 0);
        assert_int_equal(outcomes[i].stored, single[i]);
        assert_true(fetched(sim, 1, &items[i].key, i));
        sum += outcomes[i].stored;
    }
    assert_int_equal(values_held(sim), sum);
    dht_sim_free(sim);
    dht_sim_free(twin);
}

static void never(int status, unsigned stored, void *arg)
{
    (void)status;
    (void)stored;
    (void)arg;
    fail_msg("a callback ran for a batch that was refused");
}

static void test_bad_arguments(void **state)
{
    dht_put_item_t items[DHT_PUT_MANY_MAX + 1];
    dht_sim_t *sim = new_net(10, 2);
    dht_t *d = dht_sim_node(sim, 0);
    dht_stats_t st;

    (void)state;
    memset(items, 0, sizeof(items));
    make_items(items, 3, 50);
    assert_int_equal(dht_put_many(NULL, items, 3, 60, NULL, never), DHT_EINVAL);
    assert_int_equal(dht_put_many(d, NULL, 3, 60, NULL, never), DHT_EINVAL);
    assert_int_equal(dht_put_many(d, items, 0, 60, NULL, never), DHT_EINVAL);
    assert_int_equal(dht_put_many(d, items, DHT_PUT_MANY_MAX + 1, 60, NULL, never), DHT_EINVAL);
    assert_int_equal(dht_put_many(d, items, 3, 60, NULL, NULL), DHT_EINVAL);
    assert_int_equal(dht_put_many(d, items, 3, 0, NULL, never), DHT_EINVAL);
    items[1].value = NULL; /* with a length */
    assert_int_equal(dht_put_many(d, items, 3, 60, NULL, never), DHT_EINVAL);
    items[1].value = values[1];
    items[2].len = 100 * 1024 * 1024; /* over max_value_size */
    assert_int_equal(dht_put_many(d, items, 3, 60, NULL, never), DHT_ETOOBIG);
    dht_get_stats(d, dht_sim_now(sim), &st);
    assert_int_equal(st.ops_in_flight, 0); /* the ops made before the bad one are gone */
    assert_int_equal(dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 10000), 0);
    dht_sim_free(sim);
}

/* A node freed with a batch in flight reports every value cancelled,
 * once, and leaks nothing (the sanitizers' run checks). */
static void test_free_mid_batch(void **state)
{
    dht_put_item_t items[32];
    dht_sim_t *sim = new_net(40, 9);

    (void)state;
    make_items(items, 32, 80);
    pending = 32;
    assert_int_equal(dht_put_many(dht_sim_node(sim, 3), items, 32, 3600, NULL, on_put), 0);
    /* Some lookups over, their STOREs waiting for the others'. */
    assert_int_equal(dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 60), 0);
    assert_int_equal(dht_sim_remove_node(sim, 3), 0);
    assert_int_equal(pending, 0);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(outcomes[i].status, DHT_ECANCELED);
    dht_sim_free(sim);
}

/* Replication's batched checks store what a keeper lacks in
 * STORE_MANYs: a node that holds many values dies, a node with its id
 * (restarted, empty) takes its place, and the checks give it them all
 * back. */
static void test_replication_sends_batches(void **state)
{
    dht_put_item_t items[VALUES];
    dht_config_t c;
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    uint64_t batches = 0;
    size_t most = 0, held_most = 0, got_back = 0;
    int fresh;

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 21;
    cfg.node.k = K;
    cfg.node.replicate_interval_s = 60;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < 16; i++)
        assert_true(dht_sim_add_node(sim) >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    make_items(items, VALUES, 150);
    pending = VALUES;
    assert_int_equal(dht_put_many(dht_sim_node(sim, 0), items, VALUES, 7200, NULL, on_put), 0);
    run(sim);
    for (size_t i = 1; i < 16; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        if (st.values > held_most) {
            held_most = st.values;
            most = i;
        }
    }
    assert_true(held_most > 10);
    c = cfg.node;
    c.id = *dht_self(dht_sim_node(sim, most));
    c.has_id = 1;
    assert_int_equal(dht_sim_remove_node(sim, most), 0);
    fresh = dht_sim_add_node_with(sim, &c);
    assert_true(fresh >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    for (size_t i = 0; i < dht_sim_node_count(sim); i++) {
        dht_stats_t st;
        if (dht_sim_node(sim, i) == NULL)
            continue;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        batches -= st.store_batches_sent;
    }
    assert_int_equal(dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 300 * 1000), 0);
    for (size_t i = 0; i < dht_sim_node_count(sim); i++) {
        dht_stats_t st;
        if (dht_sim_node(sim, i) == NULL)
            continue;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        batches += st.store_batches_sent;
        if (i == (size_t)fresh)
            got_back = st.values;
    }
    print_message("a restarted node got %zu of its %zu values back; %llu STORE_MANYs sent\n",
                  got_back, held_most, (unsigned long long)batches);
    assert_true(batches > 0);
    assert_true(got_back * 4 >= held_most * 3);
    assert_true(values_held(sim) >= VALUES * K); /* none lost; replication may add copies */
    dht_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_stores_like_single_puts),
        cmocka_unit_test(test_large_value_goes_alone),
        cmocka_unit_test(test_bad_value_fails_alone),
        cmocka_unit_test(test_full_nodes_replaced),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_free_mid_batch),
        cmocka_unit_test(test_replication_sends_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
