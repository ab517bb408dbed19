/*
 * Provider records (dht_provide, dht_find_providers, dht_unprovide) in
 * the simulator: the providers of a key are found with the addresses
 * their announcements came from and the ports they named; they are not
 * values of the key (a get does not see them, and a value under the same
 * key is not hidden by them); a withdrawal removes one; a provider that
 * is gone stops renewing and its record expires, while the others'
 * records are renewed and outlive their TTL; records outlive the death
 * of their holders; a STORE of a record is refused; at most 8 records
 * per key; bad arguments start nothing.
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
#define PROVIDERS 5

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

static void on_provided(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 ? (int)stored : status;
    pending--;
}

typedef struct found {
    int status;
    size_t n;
    dht_provider_t p[DHT_GET_MAX_VALUES];
} found_t;

static void on_found(int status, const dht_provider_t *p, size_t n, void *arg)
{
    found_t *f = arg;

    f->status = status;
    f->n = n;
    if (n > 0)
        memcpy(f->p, p, n * sizeof(*p));
    pending--;
}

static dht_sim_t *new_net(uint64_t seed, unsigned interval_s)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.node.k = K;
    cfg.node.replicate_interval_s = interval_s;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (size_t i = 0; i < NODES; i++)
        assert_true(dht_sim_add_node(sim) >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    return sim;
}

/* Node i announces key with port 7000 + i. */
static void provide(dht_sim_t *sim, size_t i, const dht_id_t *key, uint32_t ttl_s)
{
    int stored = 0;

    pending = 1;
    assert_int_equal(
        dht_provide(dht_sim_node(sim, i), key, (uint16_t)(7000 + i), ttl_s, on_provided, &stored),
        0);
    run(sim);
    assert_int_equal(stored, K); /* on the k closest; never on itself */
}

static void find(dht_sim_t *sim, size_t from, const dht_id_t *key, found_t *f)
{
    memset(f, 0, sizeof(*f));
    pending = 1;
    assert_int_equal(dht_find_providers(dht_sim_node(sim, from), key, on_found, f), 0);
    run(sim);
}

/* @return 1 if f lists node i's address with port 7000 + i. */
static int lists(dht_sim_t *sim, const found_t *f, size_t i)
{
    dht_addr_t a;

    assert_int_equal(dht_sim_node_addr(sim, i, &a), 0);
    a.port = (uint16_t)(7000 + i);
    for (size_t j = 0; j < f->n; j++)
        if (dht_addr_equal(&f->p[j].addr, &a))
            return 1;
    return 0;
}

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    int *out = arg;

    *out = status == 0 ? (int)n : status;
    if (status == 0 && n == 1 && memcmp(v[0].data, "the content", 11) != 0)
        *out = -100;
    pending--;
}

static void test_providers_found_not_values(void **state)
{
    dht_sim_t *sim = new_net(3, 3600);
    dht_id_t key;
    found_t f;
    int got = 0;

    (void)state;
    dht_id_from_bytes(&key, "the content", 11);
    for (size_t i = 0; i < PROVIDERS; i++)
        provide(sim, 10 + i, &key, 3600);
    find(sim, 33, &key, &f);
    assert_int_equal(f.status, 0);
    assert_int_equal(f.n, PROVIDERS);
    for (size_t i = 0; i < PROVIDERS; i++) {
        assert_true(lists(sim, &f, 10 + i));
        assert_true(f.p[i].ttl_s > 3500 && f.p[i].ttl_s <= 3600);
    }
    /* Not values: a get finds nothing... */
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, 34), &key, on_got, &got), 0);
    run(sim);
    assert_int_equal(got, DHT_ENOTFOUND);
    /* ...and the content stored under the key is what a get finds, while
     * the providers stay providers. */
    pending = 1;
    assert_int_equal(
        dht_put(dht_sim_node(sim, 2), &key, "the content", 11, 3600, on_provided, &got), 0);
    run(sim);
    assert_int_equal(got, K);
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, 35), &key, on_got, &got), 0);
    run(sim);
    assert_int_equal(got, 1);
    find(sim, 36, &key, &f);
    assert_int_equal(f.n, PROVIDERS);
    dht_sim_free(sim);
}

/* Ten providers of a key that holds a value: each holder keeps 8 records
 * at most, and the value keeps its place (a get still finds it). */
static void test_records_capped_per_key(void **state)
{
    dht_sim_t *sim = new_net(7, 3600);
    dht_id_t key;
    found_t f;
    int got = 0;

    (void)state;
    dht_id_from_bytes(&key, "the content", 11);
    pending = 1;
    assert_int_equal(
        dht_put(dht_sim_node(sim, 2), &key, "the content", 11, 3600, on_provided, &got), 0);
    run(sim);
    assert_int_equal(got, K);
    for (size_t i = 0; i < 10; i++) {
        int stored = 0;
        pending = 1;
        assert_int_equal(dht_provide(dht_sim_node(sim, 10 + i), &key, (uint16_t)(7010 + i), 3600,
                                     on_provided, &stored),
                         0);
        run(sim);
        if (i < 8)
            assert_int_equal(stored, K);
        else /* the k closest are full: at most the few next closest take it */
            assert_true(stored < K); /* or refused by all: an error */
    }
    /* No node holds more than the value and 8 records under the key. */
    for (size_t i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        assert_true(st.values <= 1 && st.provider_records <= 8);
    }
    find(sim, 33, &key, &f);
    assert_int_equal(f.status, 0);
    assert_true(f.n >= 8);
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, 34), &key, on_got, &got), 0);
    run(sim);
    assert_int_equal(got, 1);
    dht_sim_free(sim);
}

static void test_unprovide_and_expiry(void **state)
{
    dht_sim_t *sim = new_net(5, 60); /* renewed every 60 s */
    dht_id_t key;
    found_t f;
    int done = 0;

    (void)state;
    dht_id_from_bytes(&key, "key", 3);
    for (size_t i = 0; i < PROVIDERS; i++)
        provide(sim, 20 + i, &key, 300);
    /* A withdrawal: the record goes from the holders at once. */
    pending = 1;
    assert_int_equal(dht_unprovide(dht_sim_node(sim, 21), &key, on_provided, &done), 0);
    run(sim);
    assert_int_equal(done, K);
    assert_int_equal(dht_unprovide(dht_sim_node(sim, 21), &key, NULL, NULL), DHT_ENOTFOUND);
    find(sim, 3, &key, &f);
    assert_int_equal(f.n, PROVIDERS - 1);
    assert_false(lists(sim, &f, 21));
    /* Provider 22 goes away: its record expires (300 s), while the others
     * renew theirs and are still found after twice their TTL. */
    assert_int_equal(dht_sim_remove_node(sim, 22), 0);
    assert_int_equal(dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 700 * 1000), 0);
    find(sim, 3, &key, &f);
    assert_int_equal(f.status, 0);
    assert_int_equal(f.n, PROVIDERS - 2);
    assert_true(lists(sim, &f, 20) && lists(sim, &f, 23) && lists(sim, &f, 24));
    assert_false(lists(sim, &f, 22));
    dht_sim_free(sim);
}

/* Half the holders of the records die; the providers' renewals put the
 * records on the k closest live nodes again (holders do not replicate
 * records). */
static void test_records_outlive_holders(void **state)
{
    dht_sim_t *sim = new_net(9, 120);
    dht_node_info_t closest[K];
    dht_id_t key;
    found_t f;
    size_t n, killed = 0;

    (void)state;
    dht_id_from_bytes(&key, "survivor", 8);
    for (size_t i = 0; i < 3; i++)
        provide(sim, i, &key, 7200);
    n = dht_closest_nodes(dht_sim_node(sim, 39), &key, closest, K);
    assert_int_equal(n, K);
    for (size_t i = 0; i < NODES && killed < K / 2; i++) {
        dht_addr_t a;
        assert_int_equal(dht_sim_node_addr(sim, i, &a), 0);
        for (size_t j = 0; j < K / 2; j++)
            if (i >= 3 && i != 39 && dht_addr_equal(&a, &closest[j].addr)) {
                assert_int_equal(dht_sim_remove_node(sim, i), 0);
                killed++;
            }
    }
    assert_true(killed >= 2);
    assert_int_equal(dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 600 * 1000), 0);
    find(sim, 39, &key, &f);
    assert_int_equal(f.status, 0);
    assert_int_equal(f.n, 3);
    dht_sim_free(sim);
}

typedef struct one {
    int status;
    size_t n, len;
    uint8_t data[4096];
} one_t;

static void on_one(int status, const dht_value_t *v, size_t n, void *arg)
{
    one_t *o = arg;

    o->status = status;
    o->n = n;
    if (n == 1 && v[0].len <= sizeof(o->data)) {
        o->len = v[0].len;
        memcpy(o->data, v[0].data, v[0].len);
    }
    pending--;
}

static void get_from(dht_sim_t *sim, size_t asker, size_t node, const dht_id_t *key, one_t *o)
{
    dht_addr_t a;

    memset(o, 0, sizeof(*o));
    assert_int_equal(dht_sim_node_addr(sim, node, &a), 0);
    pending = 1;
    assert_int_equal(dht_get_from(dht_sim_node(sim, asker), &a, key, NULL, on_one, o), 0);
    run(sim);
}

/* dht_get_from asks one node, no lookup: a holder gives the value (a
 * small one inline, a large one by GET_VALUE and stream), a node that
 * does not hold it says so, a node that is gone does not answer. */
static void test_get_from_one_node(void **state)
{
    dht_sim_t *sim = new_net(13, 3600);
    static uint8_t big[3000];
    dht_node_info_t closest[K];
    dht_id_t small_key, big_key;
    size_t holder = NODES, other = NODES;
    int stored = 0;
    one_t o;

    (void)state;
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    dht_id_from_bytes(&small_key, "small", 5);
    dht_id_from_bytes(&big_key, big, sizeof(big));
    pending = 2;
    assert_int_equal(
        dht_put(dht_sim_node(sim, 0), &small_key, "small", 5, 3600, on_provided, &stored), 0);
    assert_int_equal(
        dht_put(dht_sim_node(sim, 0), &big_key, big, sizeof(big), 3600, on_provided, &stored), 0);
    run(sim);
    /* The node closest to each key holds it; a far one does not. */
    assert_int_equal(dht_closest_nodes(dht_sim_node(sim, 1), &small_key, closest, K), K);
    for (size_t i = 1; i < NODES; i++) {
        dht_addr_t a;
        assert_int_equal(dht_sim_node_addr(sim, i, &a), 0);
        if (dht_addr_equal(&a, &closest[0].addr))
            holder = i;
    }
    assert_true(holder < NODES);
    get_from(sim, 5, holder, &small_key, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.n, 1);
    assert_int_equal(o.len, 5);
    assert_memory_equal(o.data, "small", 5);
    assert_int_equal(dht_closest_nodes(dht_sim_node(sim, 1), &big_key, closest, K), K);
    for (size_t i = 1; i < NODES; i++) {
        dht_addr_t a;
        assert_int_equal(dht_sim_node_addr(sim, i, &a), 0);
        if (dht_addr_equal(&a, &closest[0].addr))
            holder = i;
        int far = 1;
        for (size_t j = 0; j < K; j++)
            far = far && !dht_addr_equal(&a, &closest[j].addr);
        if (far && i != 0 && other == NODES)
            other = i;
    }
    get_from(sim, 5, holder, &big_key, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.len, sizeof(big));
    assert_memory_equal(o.data, big, sizeof(big));
    get_from(sim, 5, other, &big_key, &o);
    assert_int_equal(o.status, DHT_ENOTFOUND);
    assert_int_equal(dht_sim_set_online(sim, holder, 0), 0);
    get_from(sim, 5, holder, &big_key, &o);
    assert_int_equal(o.status, DHT_ENOPEERS);
    dht_sim_free(sim);
}

static void never(int status, unsigned stored, void *arg)
{
    (void)status;
    (void)stored;
    (void)arg;
    fail_msg("a callback ran for a call that was refused");
}

static void never_found(int status, const dht_provider_t *p, size_t n, void *arg)
{
    (void)status;
    (void)p;
    (void)n;
    (void)arg;
    fail_msg("a callback ran for a call that was refused");
}

static void test_bad_arguments(void **state)
{
    dht_sim_t *sim = new_net(2, 3600);
    dht_t *d = dht_sim_node(sim, 0);
    dht_id_t key;
    found_t f;

    (void)state;
    dht_id_from_bytes(&key, "k", 1);
    assert_int_equal(dht_provide(NULL, &key, 80, 60, never, NULL), DHT_EINVAL);
    assert_int_equal(dht_provide(d, NULL, 80, 60, never, NULL), DHT_EINVAL);
    assert_int_equal(dht_provide(d, &key, 0, 60, never, NULL), DHT_EINVAL);
    assert_int_equal(dht_provide(d, &key, 80, 0, never, NULL), DHT_EINVAL);
    assert_int_equal(dht_provide(d, &key, 80, 60, NULL, NULL), DHT_EINVAL);
    assert_int_equal(dht_find_providers(d, NULL, never_found, NULL), DHT_EINVAL);
    assert_int_equal(dht_find_providers(d, &key, NULL, NULL), DHT_EINVAL);
    assert_int_equal(dht_unprovide(d, &key, never, NULL), DHT_ENOTFOUND);
    /* Nobody provides it: not found. */
    find(sim, 1, &key, &f);
    assert_int_equal(f.status, DHT_ENOTFOUND);
    assert_int_equal(f.n, 0);
    dht_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_providers_found_not_values),
        cmocka_unit_test(test_records_capped_per_key),
        cmocka_unit_test(test_unprovide_and_expiry),
        cmocka_unit_test(test_records_outlive_holders),
        cmocka_unit_test(test_get_from_one_node),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
