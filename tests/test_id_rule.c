/*
 * Node ids tied to addresses (issue 13 item 1; BEP 42, schema/wire.md 2.5).
 * BEP 42's own vectors give the first 21 bits of ids for five IPv4
 * addresses; every id made for an address fits it, and one bit off in
 * the prefix does not. On the simulator (whose addresses are private, so
 * DHT_ID_RULE_ALL), 1,000 honest nodes with fitting ids and 60 Sybils
 * whose made-up ids sit next to 20 keys: with the rule, no Sybil enters an
 * honest table and lookups for the keys find honest nodes only; without
 * it, the same Sybils are what the lookups find.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h> /* alarm */

#include "dht.h"
#include "rt.h" /* dht__id_rule_admits */

/* BEP 42's table: IP, r, the id's first 3 bytes (only 21 bits fixed). */
static const struct {
    const char *ip;
    uint8_t r;
    uint8_t prefix[3];
} bep42[] = {
    {"124.31.75.21:1", 1, {0x5f, 0xbf, 0xbf}},  {"21.75.31.124:1", 86, {0x5a, 0x3c, 0xe9}},
    {"65.23.51.170:1", 22, {0xa5, 0xd4, 0x32}}, {"84.124.73.14:1", 65, {0x1b, 0x03, 0x21}},
    {"43.213.53.83:1", 90, {0xe5, 0x6f, 0x6c}},
};

static void test_bep42_vectors(void **state)
{
    uint8_t random[DHT_ID_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof(bep42) / sizeof(bep42[0]); i++) {
        dht_addr_t a;
        dht_id_t id;

        memset(random, (int)(0x11 * i), sizeof(random));
        assert_int_equal(dht_addr_parse(&a, bep42[i].ip), 0);
        dht_id_for_addr(&id, &a, bep42[i].r, random);
        assert_int_equal(id.b[0], bep42[i].prefix[0]);
        assert_int_equal(id.b[1], bep42[i].prefix[1]);
        assert_int_equal(id.b[2] & 0xf8, bep42[i].prefix[2] & 0xf8);
        assert_int_equal(id.b[DHT_ID_LEN - 1], bep42[i].r);
        assert_memory_equal(id.b + 3, random + 3, DHT_ID_LEN - 4); /* the rest is free */
        assert_true(dht_id_fits_addr(&id, &a));
        for (int bit = 0; bit < 21; bit++) {
            dht_id_t off = id;
            off.b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
            assert_false(dht_id_fits_addr(&off, &a));
        }
        /* Another address, or another r, needs another prefix. */
        a.ip[3] ^= 1;
        assert_false(dht_id_fits_addr(&id, &a));
    }
}

/* IPv6: the first 64 bits count; private and loopback addresses are
 * exempt under DHT_ID_RULE_PUBLIC only. */
static void test_rule_scope(void **state)
{
    uint8_t random[DHT_ID_LEN] = {0};
    dht_addr_t pub6, other6, lan, lo;
    dht_id_t id, made_up;

    (void)state;
    assert_int_equal(dht_addr_parse(&pub6, "[2001:db8:1:2::7]:4000"), 0);
    assert_int_equal(dht_addr_parse(&other6, "[2001:db8:1:2::8]:4000"), 0);
    assert_int_equal(dht_addr_parse(&lan, "192.168.1.20:4000"), 0);
    assert_int_equal(dht_addr_parse(&lo, "127.0.0.1:4000"), 0);
    dht_id_for_addr(&id, &pub6, 5, random);
    assert_true(dht_id_fits_addr(&id, &other6)); /* same /64 */
    {
        /* An IPv4 peer on a dual-stack socket: ::ffff:124.31.75.21 is
         * 124.31.75.21 (the first BEP 42 vector). */
        dht_addr_t v4, mapped;
        dht_id_t v4id;
        assert_int_equal(dht_addr_parse(&v4, "124.31.75.21:1"), 0);
        assert_int_equal(dht_addr_parse(&mapped, "[::ffff:124.31.75.21]:1"), 0);
        dht_id_for_addr(&v4id, &mapped, 1, random);
        assert_int_equal(v4id.b[0], 0x5f);
        assert_int_equal(v4id.b[1], 0xbf);
        assert_true(dht_id_fits_addr(&v4id, &v4));
        assert_int_equal(dht_addr_is_local(&lo), 1);
        assert_int_equal(dht_addr_is_local(&v4), 0);
    }
    memset(made_up.b, 0xab, DHT_ID_LEN);
    assert_false(dht_id_fits_addr(&made_up, &pub6));
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_OFF, &made_up, &pub6), 1);
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_PUBLIC, &made_up, &pub6), 0);
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_PUBLIC, &id, &pub6), 1);
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_PUBLIC, &made_up, &lan), 1);
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_PUBLIC, &made_up, &lo), 1);
    assert_int_equal(dht__id_rule_admits(DHT_ID_RULE_ALL, &made_up, &lan), 0);
}

#define HONEST 1000
#define KEYS   20
#define NEAR   3

static int pending;
static int sybils_found;

static void on_found(int status, const dht_node_info_t *nodes, size_t n,
                     const dht_lookup_stats_t *st, void *arg)
{
    const dht_id_t *sybil = arg; /* the first Sybil's id of the key */

    (void)st;
    assert_int_equal(status, 0);
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < NEAR; s++)
            sybils_found += dht_id_cmp(&nodes[i].id, &sybil[s]) == 0;
    pending--;
}

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

/* Builds the network under rule, looks up every key from an honest node.
 * @return how many Sybils the lookups found; *refused the contacts the
 * honest nodes kept out. */
static int sybils_next_to_keys(int rule, uint64_t *refused)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;
    dht_id_t keys[KEYS], sybils[KEYS][NEAR];
    uint8_t seed[8] = {0};

    dht_sim_config_init(&cfg);
    cfg.seed = 5;
    cfg.node.id_rule = rule;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    for (int j = 0; j < KEYS; j++) {
        seed[0] = (uint8_t)j;
        dht_id_from_bytes(&keys[j], seed, sizeof(seed));
        for (int s = 0; s < NEAR; s++) {
            dht_config_t c = cfg.node;
            sybils[j][s] = keys[j];
            sybils[j][s].b[DHT_ID_LEN - 1] ^= (uint8_t)(s + 1);
            c.id = sybils[j][s];
            c.has_id = 1;
            assert_true(dht_sim_add_node_with(sim, &c) >= 0);
        }
    }
    while (dht_sim_node_count(sim) < HONEST + KEYS * NEAR)
        assert_true(dht_sim_add_node_with(sim, &cfg.node) >= 0);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    /* An hour of the network's own upkeep: refreshes, pings, lookups. */
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 3600 * 1000);
    sybils_found = 0;
    pending = KEYS;
    for (int j = 0; j < KEYS; j++) {
        size_t from = KEYS * NEAR + (size_t)j * 37 % HONEST;
        assert_int_equal(dht_find_node(dht_sim_node(sim, from), &keys[j], on_found, sybils[j]), 0);
    }
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 600 * 1000), 1);
    *refused = 0;
    for (size_t i = KEYS * NEAR; i < dht_sim_node_count(sim); i++) {
        dht_stats_t st;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        *refused += st.contacts_refused_id;
    }
    dht_sim_free(sim);
    return sybils_found;
}

static void test_sybils_kept_out(void **state)
{
    uint64_t refused_on, refused_off;
    int with_rule, without;

    (void)state;
    with_rule = sybils_next_to_keys(DHT_ID_RULE_ALL, &refused_on);
    without = sybils_next_to_keys(DHT_ID_RULE_OFF, &refused_off);
    print_message("Sybils among the %d closest found for %d keys: %d with the rule (%llu "
                  "contacts refused), %d without\n",
                  20, KEYS, with_rule, (unsigned long long)refused_on, without);
    assert_int_equal(with_rule, 0);
    assert_true(refused_on > 0);
    assert_int_equal(refused_off, 0);
    assert_true(without >= KEYS * NEAR / 2); /* the test can see them */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bep42_vectors),
        cmocka_unit_test(test_rule_scope),
        cmocka_unit_test(test_sybils_kept_out),
    };
    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
