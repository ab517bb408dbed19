/*
 * Floods (issues 9 and 13): made-up nodes cannot push the contacts a node
 * has verified out of its routing table, nor enter it. Thousands of
 * requests from made-up ids and addresses, as a flood of joins would
 * send, leave the table as it was: every contact that answered the node
 * before is still there after, still good, no made-up one is there, and
 * lookups through them still work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "helpers/fake_asserts.h"
#include "helpers/vectors.h" /* rnd_next */

#define NODES 16
#define FLOOD 20000

/* 20,000 PINGs and FIND_NODEs from made-up nodes at made-up addresses:
 * every good contact stays, and none of the made-up ones is handed out. */
static void test_join_flood_keeps_verified_contacts(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    dht_config_t cfg;
    char addr[32];
    uint64_t s = 42;
    dht_stats_t before, after;
    int held[NODES] = {0}, n_held = 0;

    (void)state;
    for (int i = 0; i < NODES; i++) {
        fake_config(&cfg, (uint64_t)i + 1, NULL);
        cfg.k = 4; /* small buckets: the flood fills them at once */
        cfg.rate_limit = 0;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        add_cfg(net, addr, &cfg);
    }
    for (int i = 1; i < NODES; i++) {
        fake_result_t r = {0};
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.status, 0);
    }
    /* Node 0 asks everyone something, so that every contact it holds has
     * answered it: they are all good. */
    for (int i = 1; i < NODES; i++) {
        fake_result_t r = {0};
        assert_int_equal(dht_ping(fake_dht(net, 0), fake_addr_of(net, i), fake_ping_cb, &r), 0);
        fake_run(net, &r.calls, 10000);
    }
    before = fake_stats(net, 0);
    for (int i = 1; i < NODES; i++)
        held[i] = fake_knows(net, 0, dht_self(fake_dht(net, i)));
    assert_true(before.nodes_good >= 4);
    assert_int_equal(before.nodes_good, before.nodes);

    for (int f = 0; f < FLOOD; f++) {
        dht__msg_t q, rep;
        dht_id_t fake;
        dht_addr_t from;
        uint64_t x = rnd_next(&s);

        for (size_t b = 0; b < DHT_ID_LEN; b += 8) {
            uint64_t y = rnd_next(&s);
            memcpy(fake.b + b, &y, 8);
        }
        snprintf(addr, sizeof(addr), "10.%u.%u.%u:%u", (unsigned)(x & 0xff),
                 (unsigned)((x >> 8) & 0xff), (unsigned)((x >> 16) & 0xff),
                 (unsigned)(1024 + (x >> 24) % 60000));
        from = fake_addr(addr);
        fake_msg_init(&q, f % 2 ? DHT__FIND_NODE : DHT__PING, (uint32_t)f, &fake);
        q.target = fake;
        assert_int_equal(fake_request(net, 0, &from, &q, &rep), 0);
    }
    after = fake_stats(net, 0);
    print_message("node 0: %zu good contacts before the flood of %d made-up joins, %zu nodes "
                  "(%zu good) after\n",
                  before.nodes_good, FLOOD, after.nodes, after.nodes_good);
    /* Every contact node 0 held before is held still, and still good. */
    for (int i = 1; i < NODES; i++) {
        if (held[i])
            assert_true(fake_knows(net, 0, dht_self(fake_dht(net, i))));
        n_held += held[i];
    }
    assert_int_equal((size_t)n_held, before.nodes);
    assert_int_equal(after.nodes_good, before.nodes_good);
    /* None of the made-up nodes entered the table (issue 13): a request
     * proves nothing, a node enters only when it answers node 0's ping,
     * and they never answer. */
    assert_int_equal(after.nodes, before.nodes);
    /* So none is handed to anyone. Asked about targets
     * all over the id space (by a client, which node 0 does not learn),
     * node 0 names real nodes only. */
    for (int t = 0; t < 200; t++) {
        dht__msg_t q, rep;
        dht_id_t asker, target;
        dht_addr_t from = fake_addr("192.0.2.9:5000");

        for (size_t b = 0; b < DHT_ID_LEN; b += 8) {
            uint64_t y = rnd_next(&s), z = rnd_next(&s);
            memcpy(asker.b + b, &y, 8);
            memcpy(target.b + b, &z, 8);
        }
        fake_msg_init(&q, DHT__FIND_NODE, 900000u + (uint32_t)t, &asker);
        q.client = 1;
        q.target = target;
        assert_int_equal(fake_request(net, 0, &from, &q, &rep), 0);
        assert_int_equal(rep.type, DHT__NODES);
        assert_true(rep.n_nodes > 0);
        for (unsigned j = 0; j < rep.n_nodes; j++) {
            int real = 0;
            for (int i = 1; i < NODES; i++)
                real |= dht_id_cmp(&rep.nodes[j].id, dht_self(fake_dht(net, i))) == 0;
            assert_true(real);
        }
    }
    fake_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_flood_keeps_verified_contacts),
    };

    alarm(120);
    return cmocka_run_group_tests_name("flood", tests, NULL, NULL);
}
