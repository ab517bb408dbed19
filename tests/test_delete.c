/*
 * Deletes (dht_delete, schema/wire.md 5.10) in the simulator: the
 * publisher's secret removes every copy; a wrong secret, or none at the
 * put, removes nothing; two publishers of the same bytes cannot delete
 * each other's; a holder that was away during the delete has its stale
 * copy refused by the others when replication brings it back, and is
 * sent the DELETE in turn; the same bytes put again with a new secret
 * are kept; bad arguments start nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dht.h"

#define NODES     40
#define K         8
#define PUBLISHER 5
#define INTERVAL  60 /* s: replication checks */

static int pending;

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void run(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
}

static void run_for(dht_sim_t *sim, uint64_t ms)
{
    (void)dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + ms);
}

static dht_sim_t *new_net(uint64_t seed)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.node.k = K;
    cfg.node.replicate_interval_s = INTERVAL;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < NODES; i++)
        assert_true(dht_sim_add_node(sim) >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    return sim;
}

static void on_put(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 ? (int)stored : status;
    pending--;
}

/* Node `from` puts value under key with secret (NULL: none).
 * @return the copies stored. */
static int put(dht_sim_t *sim, size_t from, const dht_id_t *key, const char *value,
               const uint8_t *secret)
{
    dht_put_opts_t opts = {.delete_secret = secret};
    int stored = 0;

    pending = 1;
    assert_int_equal(dht_put_ex(dht_sim_node(sim, from), key, value, strlen(value), 3600, &opts,
                                on_put, &stored),
                     0);
    run(sim);
    return stored;
}

typedef struct deleted {
    int status;
    dht_delete_result_t r;
} deleted_t;

static void on_deleted(int status, const dht_delete_result_t *r, void *arg)
{
    deleted_t *d = arg;

    d->status = status;
    d->r = *r;
    pending--;
}

static deleted_t delete_value(dht_sim_t *sim, size_t from, const dht_id_t *key, const char *value,
                              const uint8_t *secret)
{
    deleted_t d = {.status = 1};
    dht_id_t hash;

    dht_id_from_bytes(&hash, value, strlen(value));
    pending = 1;
    assert_int_equal(dht_delete(dht_sim_node(sim, from), key, &hash, secret, on_deleted, &d), 0);
    run(sim);
    return d;
}

/* @return the copies of values held in the whole network. */
static size_t copies(dht_sim_t *sim)
{
    size_t n = 0;

    for (size_t i = 0; i < dht_sim_node_count(sim); i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        n += st.values;
    }
    return n;
}

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    (void)v;
    *(int *)arg = status == 0 ? (int)n : status;
    pending--;
}

/* @return the values a get of key from node `from` finds, or its error. */
static int get(dht_sim_t *sim, size_t from, const dht_id_t *key)
{
    int got = 0;

    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, from), key, on_got, &got), 0);
    run(sim);
    return got;
}

static void fill_secret(uint8_t *s, uint8_t seed)
{
    for (unsigned i = 0; i < DHT_DELETE_SECRET_LEN; i++)
        s[i] = (uint8_t)(seed + 7 * i);
}

static void test_delete_removes_every_copy(void **state)
{
    dht_sim_t *sim = new_net(11);
    uint8_t secret[DHT_DELETE_SECRET_LEN];
    dht_id_t key;
    deleted_t d;
    uint64_t tombs = 0, deleted = 0;

    (void)state;
    fill_secret(secret, 1);
    dht_id_from_bytes(&key, "a key", 5);
    assert_int_equal(put(sim, PUBLISHER, &key, "a value", secret), K);
    assert_int_equal(copies(sim), K);
    d = delete_value(sim, PUBLISHER, &key, "a value", secret);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.r.deleted, K);
    assert_int_equal(d.r.refused, 0);
    assert_int_equal(d.r.silent, 0);
    assert_int_equal(copies(sim), 0);
    assert_int_equal(get(sim, 30, &key), DHT_ENOTFOUND);
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        tombs += st.tombstones;
        deleted += st.values_deleted;
    }
    assert_int_equal(deleted, K);
    assert_int_equal(tombs, K);
    /* Replication has nothing to bring back. */
    run_for(sim, 3 * INTERVAL * 1000);
    assert_int_equal(copies(sim), 0);
    dht_sim_free(sim);
}

static void test_wrong_secret_or_none_deletes_nothing(void **state)
{
    dht_sim_t *sim = new_net(12);
    uint8_t secret[DHT_DELETE_SECRET_LEN], other[DHT_DELETE_SECRET_LEN];
    dht_id_t key, open_key;
    deleted_t d;

    (void)state;
    fill_secret(secret, 1);
    fill_secret(other, 2);
    dht_id_from_bytes(&key, "owned", 5);
    dht_id_from_bytes(&open_key, "open", 4);
    assert_int_equal(put(sim, PUBLISHER, &key, "v1", secret), K);
    assert_int_equal(put(sim, PUBLISHER, &open_key, "v2", NULL), K);
    d = delete_value(sim, 20, &key, "v1", other);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.r.deleted, 0);
    assert_int_equal(d.r.refused, K);
    /* Put without a secret: nobody deletes it, not even its publisher
     * with the secret it used elsewhere. */
    d = delete_value(sim, PUBLISHER, &open_key, "v2", secret);
    assert_int_equal(d.r.deleted, 0);
    assert_int_equal(d.r.refused, K);
    assert_int_equal(copies(sim), 2 * K);
    assert_int_equal(get(sim, 30, &key), 1);
    assert_int_equal(get(sim, 30, &open_key), 1);
    dht_sim_free(sim);
}

static void test_two_publishers_keep_each_others(void **state)
{
    dht_sim_t *sim = new_net(13);
    uint8_t a[DHT_DELETE_SECRET_LEN], b[DHT_DELETE_SECRET_LEN];
    dht_id_t key;
    deleted_t d;

    (void)state;
    fill_secret(a, 3);
    fill_secret(b, 4);
    dht_id_from_bytes(&key, "shared bytes", 12);
    assert_int_equal(put(sim, PUBLISHER, &key, "the same", a), K);
    assert_int_equal(put(sim, 21, &key, "the same", b), K);
    d = delete_value(sim, PUBLISHER, &key, "the same", a);
    assert_int_equal(d.r.deleted, 0);
    assert_int_equal(d.r.refused, K);
    d = delete_value(sim, 21, &key, "the same", b);
    assert_int_equal(d.r.deleted, 0);
    assert_int_equal(get(sim, 30, &key), 1);
    dht_sim_free(sim);
}

/* A publisher that puts without a secret wants its copy kept: the same
 * bytes put before with a secret are no longer deletable with it. And
 * the other way: a value deleted (tombstones on its holders) and then
 * put by someone without a secret is a new publication, kept. */
static void test_unowned_put_wins(void **state)
{
    dht_sim_t *sim = new_net(16);
    uint8_t a[DHT_DELETE_SECRET_LEN];
    dht_id_t key, key2;
    deleted_t d;

    (void)state;
    fill_secret(a, 7);
    dht_id_from_bytes(&key, "downgraded", 10);
    assert_int_equal(put(sim, PUBLISHER, &key, "bytes", a), K);
    assert_int_equal(put(sim, 22, &key, "bytes", NULL), K);
    d = delete_value(sim, PUBLISHER, &key, "bytes", a);
    assert_int_equal(d.r.deleted, 0);
    assert_int_equal(d.r.refused, K);
    assert_int_equal(get(sim, 30, &key), 1);

    dht_id_from_bytes(&key2, "deleted, then put by another", 28);
    assert_int_equal(put(sim, PUBLISHER, &key2, "more bytes", a), K);
    d = delete_value(sim, PUBLISHER, &key2, "more bytes", a);
    assert_int_equal(d.r.deleted, K);
    assert_int_equal(get(sim, 30, &key2), DHT_ENOTFOUND);
    assert_int_equal(put(sim, 22, &key2, "more bytes", NULL), K);
    assert_int_equal(get(sim, 30, &key2), 1);
    dht_sim_free(sim);
}

/* @return the first node other than skip that holds a value, or -1. */
static int a_holder(dht_sim_t *sim, int skip)
{
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        if ((int)i != skip && i != PUBLISHER && st.values > 0)
            return (int)i;
    }
    return -1;
}

static void test_stale_copy_deleted_when_it_returns(void **state)
{
    dht_sim_t *sim = new_net(14);
    uint8_t secret[DHT_DELETE_SECRET_LEN], again[DHT_DELETE_SECRET_LEN];
    dht_id_t key;
    deleted_t d;
    uint64_t refused = 0;
    int away;

    (void)state;
    fill_secret(secret, 5);
    fill_secret(again, 6);
    dht_id_from_bytes(&key, "stale", 5);
    assert_int_equal(put(sim, PUBLISHER, &key, "kept away", secret), K);
    away = a_holder(sim, -1);
    assert_true(away >= 0);
    assert_int_equal(dht_sim_set_online(sim, (size_t)away, 0), 0);
    d = delete_value(sim, PUBLISHER, &key, "kept away", secret);
    assert_int_equal(d.r.deleted, K - 1); /* the lookup passed the silent one by */
    assert_int_equal(copies(sim), 1);     /* the one away */
    /* Back, it finds the others lacking the value and sends it to them:
     * they refuse it and send it the DELETE. */
    assert_int_equal(dht_sim_set_online(sim, (size_t)away, 1), 0);
    run_for(sim, 3 * INTERVAL * 1000);
    assert_int_equal(copies(sim), 0);
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        refused += st.refused_deleted;
    }
    assert_true(refused >= 1);
    assert_int_equal(get(sim, 30, &key), DHT_ENOTFOUND);
    /* The same bytes put again, with a new secret, are kept. */
    assert_int_equal(put(sim, PUBLISHER, &key, "kept away", again), K);
    assert_int_equal(get(sim, 30, &key), 1);
    dht_sim_free(sim);
}

static void on_never(int status, const dht_delete_result_t *r, void *arg)
{
    (void)status;
    (void)r;
    (void)arg;
    fail_msg("a refused dht_delete called back");
}

static void test_bad_arguments(void **state)
{
    dht_sim_t *sim = new_net(15);
    uint8_t secret[DHT_DELETE_SECRET_LEN] = {0};
    dht_id_t key = {{1}};
    dht_t *d = dht_sim_node(sim, 0);

    (void)state;
    assert_int_equal(dht_delete(NULL, &key, &key, secret, on_never, NULL), DHT_EINVAL);
    assert_int_equal(dht_delete(d, NULL, &key, secret, on_never, NULL), DHT_EINVAL);
    assert_int_equal(dht_delete(d, &key, NULL, secret, on_never, NULL), DHT_EINVAL);
    assert_int_equal(dht_delete(d, &key, &key, NULL, on_never, NULL), DHT_EINVAL);
    assert_int_equal(dht_delete(d, &key, &key, secret, NULL, NULL), DHT_EINVAL);
    run_for(sim, 1000);
    dht_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_removes_every_copy),
        cmocka_unit_test(test_wrong_secret_or_none_deletes_nothing),
        cmocka_unit_test(test_two_publishers_keep_each_others),
        cmocka_unit_test(test_unowned_put_wins),
        cmocka_unit_test(test_stale_copy_deleted_when_it_returns),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
