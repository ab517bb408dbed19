/*
 * Time-filtered and paged gets (dht_get_opts_t.max_age_s and first) in the
 * simulator: a value put two hours before another under the same key is
 * left out of a get for the last hour, and is the first of every holder's
 * list; a node that joins next to the key later gets both by hand-over
 * and counts their ages from when they were first stored, not from when
 * it got them (replication's STOREs carry the age).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "dht.h"

#define NODES 100
#define HOUR  (3600u * 1000u)

static int pending;

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void run_all(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 3600 * 1000), 1);
}

static void on_put(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 && stored > 0;
    pending--;
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status;
    pending--;
}

typedef struct got {
    int status;
    size_t n;
    int has_old, has_new;
} got_t;

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    got_t *g = arg;

    g->status = status;
    g->n = n;
    g->has_old = g->has_new = 0;
    for (size_t i = 0; i < n; i++) {
        g->has_old |= v[i].len == 3 && memcmp(v[i].data, "old", 3) == 0;
        g->has_new |= v[i].len == 3 && memcmp(v[i].data, "new", 3) == 0;
    }
    pending--;
}

static got_t get(dht_sim_t *sim, size_t via, const dht_id_t *key, uint32_t max_age_s,
                 uint16_t first)
{
    dht_get_opts_t opts = {.max_age_s = max_age_s, .first = first};
    got_t g = {1, 0, 0, 0};

    pending = 1;
    assert_int_equal(dht_get_ex(dht_sim_node(sim, via), key, &opts, on_got, &g), 0);
    run_all(sim);
    return g;
}

typedef struct ages {
    const dht_id_t *key;
    uint32_t old_age, new_age;
    int n;
} ages_t;

static int note_age(const dht_held_t *v, void *arg)
{
    ages_t *a = arg;
    dht_id_t old_hash;

    if (dht_id_cmp(&v->key, a->key) != 0)
        return 0;
    dht_id_from_bytes(&old_hash, "old", 3);
    if (dht_id_cmp(&v->hash, &old_hash) == 0)
        a->old_age = v->age_s;
    else
        a->new_age = v->age_s;
    a->n++;
    return 0;
}

static void test_recent_values(void **state)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_id_t key;
    dht_config_t near;
    dht_addr_t boot;
    got_t g;
    ages_t ages;
    int ok = 0, idx, joined = 1;

    (void)state;
    dht_sim_config_init(&cfg);
    cfg.seed = 31;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int i = 0; i < NODES; i++)
        assert_int_equal(dht_sim_add_node(sim), i);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    dht_id_from_bytes(&key, "a key with a history", 20);

    pending = 1;
    assert_int_equal(dht_put(dht_sim_node(sim, 5), &key, "old", 3, 86400, on_put, &ok), 0);
    run_all(sim);
    assert_true(ok);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 2 * HOUR);
    pending = 1;
    assert_int_equal(dht_put(dht_sim_node(sim, 6), &key, "new", 3, 86400, on_put, &ok), 0);
    run_all(sim);
    assert_true(ok);

    g = get(sim, 50, &key, 0, 0);
    assert_int_equal(g.status, 0);
    assert_true(g.has_old && g.has_new);
    g = get(sim, 50, &key, 3600, 0); /* the last hour: the new one only */
    assert_int_equal(g.status, 0);
    assert_int_equal(g.n, 1);
    assert_true(g.has_new);
    g = get(sim, 50, &key, 3 * 3600, 0); /* the last three: both */
    assert_int_equal(g.n, 2);
    g = get(sim, 50, &key, 0, 1); /* each holder's list from its second value */
    assert_int_equal(g.status, 0);
    assert_int_equal(g.n, 1);
    assert_true(g.has_new);
    g = get(sim, 50, &key, 3600, 1); /* past the one recent value */
    assert_int_equal(g.status, DHT_ENOTFOUND);

    /* A node joins next to the key: the holders hand both values over. */
    near = cfg.node;
    near.has_id = 1;
    near.id = key;
    near.id.b[DHT_ID_LEN - 1] ^= 1;
    idx = dht_sim_add_node_with(sim, &near);
    assert_true(idx >= 0);
    dht_sim_node_addr(sim, 0, &boot);
    pending = 1;
    assert_int_equal(dht_bootstrap(dht_sim_node(sim, (size_t)idx), &boot, 1, on_joined, &joined),
                     0);
    run_all(sim);
    assert_int_equal(joined, 0);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 60000);
    ages = (ages_t){&key, 0, 0, 0};
    dht_held_foreach(dht_sim_node(sim, (size_t)idx), note_age, &ages);
    print_message("the newcomer holds %d of them, aged %u s and %u s\n", ages.n, ages.old_age,
                  ages.new_age);
    assert_int_equal(ages.n, 2);
    assert_true(ages.old_age >= 2 * 3600 && ages.old_age < 2 * 3600 + 300);
    assert_true(ages.new_age < 300);
    dht_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recent_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
