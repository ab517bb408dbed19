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
#include "node.h"            /* the routing table's buckets */

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

/* Six nodes on 127.0.0.1 from port, seeds from seed, all joined through
 * node 0. @return how many contacts node 0 holds. */
static size_t small_net(fake_net_t *net, uint64_t seed, int port)
{
    dht_config_t cfg;
    char addr[32];

    for (int i = 0; i < 6; i++) {
        fake_config(&cfg, seed + (uint64_t)i, NULL);
        cfg.rate_limit = 0;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", port + i);
        add_cfg(net, addr, &cfg);
    }
    for (int i = 1; i < 6; i++) {
        fake_result_t r = {0};
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
    }
    return fake_stats(net, 0).nodes;
}

/* An attacker at `from` sends node 0 request f (a PING or a FIND_NODE)
 * under a made-up id from *s, and answers node 0's ping, if one came, as
 * that id. @return how many pings it answered. */
static unsigned request_and_answer(fake_net_t *net, const dht_addr_t *from, int f, uint64_t *s)
{
    dht__msg_t q, rep, ping;
    dht_id_t fake;
    unsigned answered = 0;
    int at;

    for (size_t b = 0; b < DHT_ID_LEN; b += 8) {
        uint64_t y = rnd_next(s);
        memcpy(fake.b + b, &y, 8);
    }
    fake_msg_init(&q, f % 2 ? DHT__FIND_NODE : DHT__PING, (uint32_t)f + 1, &fake);
    q.target = fake;
    assert_int_equal(fake_request(net, 0, from, &q, &rep), 0);
    while ((at = fake_find_msg(net, from, DHT__PING, &ping)) >= 0) {
        dht__msg_t pong;
        uint32_t txid = ping.txid;
        fake_drop(net, (size_t)at);
        fake_msg_init(&pong, DHT__PONG, txid, &fake);
        pong.addr = *fake_addr_of(net, 0);
        assert_int_equal(fake_inject(net, 0, from, &pong, DHT_TRANSPORT_DATAGRAM), 0);
        answered++;
    }
    fake_clear(net);
    return answered;
}

/* Fails unless node 0 still holds every other node of small_net(). */
static void assert_kept_contacts(fake_net_t *net)
{
    for (int i = 1; i < 6; i++)
        if (fake_knows(net, 0, dht_self(fake_dht(net, i))) == 0)
            fail_msg("node 0 lost contact %d", i);
}

/* 10,000 PINGs and FIND_NODEs with made-up ids from one address and
 * port whose owner answers node 0's verification pings, each time with
 * the id it last used (issue 13 item 1): at most one of its ids is in
 * node 0's table at any time, and the verified contacts all stay. */
static void test_one_port_flood_one_slot(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    dht_addr_t attacker = fake_addr("192.0.2.66:6881");
    uint64_t s = 7;
    size_t before, most = 0;
    unsigned answered = 0;

    (void)state;
    before = small_net(net, 100, 4101);
    assert_true(before >= 5);
    for (int f = 0; f < 10000; f++) {
        answered += request_and_answer(net, &attacker, f, &s);
        if (f % 100 == 99) {
            size_t n = fake_stats(net, 0).nodes - before;
            most = n > most ? n : most;
        }
        fake_advance(net, 50);
    }
    print_message("node 0: %zu contacts before; %u pings answered by one port with made-up ids; "
                  "at most %zu of its ids in the table at a time\n",
                  before, answered, most);
    assert_true(answered > 100); /* its answers were taken as replies */
    assert_true(most <= 1);
    assert_kept_contacts(net);
    fake_net_free(net);
}

/* The most nodes of the /24 of addr that any bucket of node i holds. */
static unsigned most_per_bucket(fake_net_t *net, int i, const dht_addr_t *addr)
{
    const dht__rt_t *rt = fake_dht(net, i)->rt;
    unsigned most = 0;

    for (size_t b = 0; b < dht__rt_bucket_count(rt); b++) {
        dht__rt_bucket_view_t v;
        unsigned n = 0;
        assert_int_equal(dht__rt_bucket(rt, b, &v, 1), 0);
        for (size_t j = 0; j < v.n_nodes; j++)
            n += dht__addr_same_subnet(&v.nodes[j].addr, addr);
        most = n > most ? n : most;
    }
    return most;
}

/* The same from one public address and 5,000 ports, every one answering
 * node 0's pings: at most 2 of them in any bucket (a /24's share). */
static void test_many_ports_two_per_bucket(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    dht_addr_t attacker = fake_addr("203.0.113.66:1");
    uint64_t s = 11;
    unsigned answered = 0, most;
    size_t before;

    (void)state;
    before = small_net(net, 200, 4201);
    for (int f = 0; f < 5000; f++) {
        attacker.port = (uint16_t)(1000 + f);
        answered += request_and_answer(net, &attacker, f, &s);
        fake_advance(net, 5);
    }
    most = most_per_bucket(net, 0, &attacker);
    print_message("node 0: %zu contacts before; %u pings answered from 5,000 ports of one "
                  "address; %zu contacts after, at most %u of that /24 in a bucket\n",
                  before, answered, fake_stats(net, 0).nodes, most);
    assert_true(answered > 1000);
    assert_true(most >= 1 && most <= 2);
    assert_kept_contacts(net);
    fake_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_flood_keeps_verified_contacts),
        cmocka_unit_test(test_one_port_flood_one_slot),
        cmocka_unit_test(test_many_ports_two_per_bucket),
    };

    alarm(120);
    return cmocka_run_group_tests_name("flood", tests, NULL, NULL);
}
