/*
 * Tests of the sans-I/O core (node.c, ops.c): creation and configuration,
 * API misuse, when callbacks fire, PING/PONG, bootstrap, find_node, the
 * routing table through the API, dht_free with work in flight, and IPv6.
 * The cores talk through the fake network of tests/helpers/fake_net.c: no
 * sockets, a clock the test moves. See test_node_rpc.c for the request
 * layer and malformed input, test_node_store.c for tokens, put and get.
 *
 * Tests that expose a known libdht bug are skipped unless the environment
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

#include "helpers/fake_asserts.h"

/* Adds a core with seed and optional id, asserting it worked. */
static int add(fake_net_t *net, const char *hostport, uint64_t seed, const dht_id_t *id)
{
    dht_config_t cfg;
    int i;

    fake_config(&cfg, seed, id);
    i = fake_add(net, hostport, &cfg);
    assert_true(i >= 0);
    return i;
}

static int dummy_send(void *arg, const dht_addr_t *to, dht_transport_t tr, const uint8_t *buf,
                      size_t len)
{
    (void)arg;
    (void)to;
    (void)tr;
    (void)buf;
    (void)len;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* dht_new / dht_free                                                       */
/* ------------------------------------------------------------------------ */

static void test_new_bad_config(void **state)
{
    enum { NBAD = 14 };
    dht_io_t io = {dummy_send, NULL, NULL, NULL};
    dht_config_t cfg, bad[NBAD];
    dht_t *d;

    (void)state;
    for (size_t c = 0; c < NBAD; c++)
        fake_config(&bad[c], 7, NULL);
    bad[0].k = 0;
    bad[1].k = DHT_MAX_K + 1;
    bad[2].alpha = 0;
    bad[3].alpha = 17;
    bad[4].retries = 6;
    bad[5].store_max_per_key = 0;
    bad[6].store_max_per_key = 257;
    bad[7].timeout_ms = 0;
    bad[8].timeout_ms = 600001;
    bad[9].max_value_size = 0;
    bad[10].max_value_size = (64u << 20) + 1;
    bad[11].max_ttl_s = 0;
    bad[12].max_ops = 0;
    bad[13].store_max_bytes = 4095; /* below the value cost, 4096 */
    for (size_t c = 0; c < NBAD; c++) {
        d = NULL;
        assert_int_equal(dht_new(&d, &bad[c], &io, T0), DHT_EINVAL);
        assert_null(d);
    }
    /* The bounds themselves are fine. */
    fake_config(&cfg, 7, NULL);
    cfg.k = DHT_MAX_K;
    cfg.alpha = 16;
    cfg.retries = 5;
    cfg.store_max_per_key = 256;
    assert_int_equal(dht_new(&d, &cfg, &io, T0), 0);
    dht_free(d);
    cfg.k = 1;
    cfg.alpha = 1;
    cfg.retries = 0;
    cfg.store_max_per_key = 1;
    assert_int_equal(dht_new(&d, &cfg, &io, T0), 0);
    dht_free(d);
}

static void test_new_null_args(void **state)
{
    dht_io_t io = {dummy_send, NULL, NULL, NULL};
    dht_io_t no_send = {NULL, NULL, NULL, NULL};
    dht_t *d = NULL;

    (void)state;
    assert_int_equal(dht_new(&d, NULL, NULL, T0), DHT_EINVAL);
    assert_int_equal(dht_new(&d, NULL, &no_send, T0), DHT_EINVAL);
    assert_int_equal(dht_new(NULL, NULL, &io, T0), DHT_EINVAL);
    assert_null(d);
    /* cfg NULL: the defaults, seeded from the OS. */
    assert_int_equal(dht_new(&d, NULL, &io, T0), 0);
    assert_non_null(d);
    dht_free(d);
    dht_free(NULL);
}

static void test_new_ids(void **state)
{
    dht_io_t io = {dummy_send, NULL, NULL, NULL};
    dht_config_t cfg;
    dht_t *a, *b, *c;
    dht_id_t id = fake_id_b0(0x42);

    (void)state;
    fake_config(&cfg, 5, &id);
    assert_int_equal(dht_new(&a, &cfg, &io, T0), 0);
    assert_memory_equal(dht_self(a), &id, sizeof(id));
    /* No id: derived from the seed, so the same seed gives the same id. */
    fake_config(&cfg, 99, NULL);
    assert_int_equal(dht_new(&b, &cfg, &io, T0), 0);
    assert_int_equal(dht_new(&c, &cfg, &io, T0), 0);
    assert_memory_equal(dht_self(b), dht_self(c), sizeof(dht_id_t));
    dht_free(c);
    cfg.seed = 100;
    assert_int_equal(dht_new(&c, &cfg, &io, T0), 0);
    assert_memory_not_equal(dht_self(b), dht_self(c), sizeof(dht_id_t));
    dht_free(a);
    dht_free(b);
    dht_free(c);
}

/* ------------------------------------------------------------------------ */
/* API misuse                                                               */
/* ------------------------------------------------------------------------ */

static void test_api_misuse(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_config_t cfg;
    dht_id_t key = fake_id_b0(1), peer = fake_id_b0(0x80);
    dht_addr_t a = fake_addr("10.0.0.1:4000"), bad = a;
    uint8_t big[101] = {0};
    dht_t *d;
    int i;

    (void)state;
    fake_config(&cfg, 3, NULL);
    cfg.max_value_size = 100;
    i = fake_add(net, "127.0.0.1:4001", &cfg);
    assert_true(i >= 0);
    d = fake_dht(net, i);
    bad.family = 0;

    assert_int_equal(dht_put(NULL, &key, "x", 1, 60, fake_put_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_put(d, NULL, "x", 1, 60, fake_put_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_put(d, &key, "x", 1, 60, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_put(d, &key, "x", 1, 0, fake_put_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_put(d, &key, NULL, 5, 60, fake_put_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_put(d, &key, big, sizeof(big), 60, fake_put_cb, &r), DHT_ETOOBIG);
    assert_int_equal(dht_get(NULL, &key, fake_get_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_get(d, NULL, fake_get_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_get(d, &key, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_get_ex(d, NULL, NULL, fake_get_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_ping(d, NULL, fake_ping_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_ping(d, &a, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_find_node(d, NULL, fake_nodes_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_find_node(d, &key, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_bootstrap(d, &a, 0, fake_status_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_bootstrap(d, NULL, 1, fake_status_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_bootstrap(d, &a, 1, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_insert_node(d, NULL, &a, net->now), DHT_EINVAL);
    assert_int_equal(dht_insert_node(d, &peer, NULL, net->now), DHT_EINVAL);
    assert_int_equal(dht_insert_node(d, &peer, &bad, net->now), DHT_EINVAL);
    assert_int_equal(dht_receive(d, net->now, NULL, 0, &a, DHT_TRANSPORT_DATAGRAM), DHT_EINVAL);
    assert_int_equal(dht_receive(d, net->now, big, 10, NULL, DHT_TRANSPORT_DATAGRAM), DHT_EINVAL);

    /* Nothing started: nothing sent, nothing in flight, no callback ever. */
    assert_int_equal(fake_queued(net), 0);
    assert_int_equal(fake_stats(net, i).ops_in_flight, 0);
    fake_run(net, NULL, 10000);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fake_stats(net, i).nodes, 0);
    fake_net_free(net);
    assert_int_equal(r.calls, 0);
}

static void test_value_size_bound(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_config_t cfg;
    dht_id_t key = fake_id_b0(1);
    uint8_t v[100] = {1};
    int i;

    (void)state;
    fake_config(&cfg, 3, NULL);
    cfg.max_value_size = 100;
    i = fake_add(net, "127.0.0.1:4001", &cfg);
    assert_int_equal(dht_put(fake_dht(net, i), &key, v, 100, 60, fake_put_cb, &r), 0);
    assert_int_equal(dht_put(fake_dht(net, i), &key, v, 0, 60, fake_put_cb, &r), 0);
    fake_run(net, NULL, 1000);
    assert_int_equal(r.calls, 2);
    fake_net_free(net);
}

static void test_max_ops(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r1 = {0}, r2 = {0};
    dht_addr_t nowhere = fake_addr("10.9.9.9:9");
    dht_config_t cfg;
    int i;

    (void)state;
    fake_config(&cfg, 3, NULL);
    cfg.max_ops = 1;
    i = fake_add(net, "127.0.0.1:4001", &cfg);
    assert_int_equal(dht_ping(fake_dht(net, i), &nowhere, fake_ping_cb, &r1), 0);
    assert_int_equal(dht_ping(fake_dht(net, i), &nowhere, fake_ping_cb, &r2), DHT_EBUSY);
    fake_run(net, &r1.calls, 60000);
    assert_int_equal(r1.status, DHT_ETIMEDOUT);
    assert_int_equal(r2.calls, 0);
    /* The slot is free again. */
    assert_int_equal(dht_ping(fake_dht(net, i), &nowhere, fake_ping_cb, &r2), 0);
    fake_net_free(net);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.status, DHT_ECANCELED);
}

/* ------------------------------------------------------------------------ */
/* Callbacks never fire inside the call that started the operation          */
/* ------------------------------------------------------------------------ */

/* dht.h (dht_io_t.send): "A shell that cannot send returns a negative
 * code; the core then treats the message as lost (a request times out)". */
static void test_ping_send_fails_is_loss(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    int b = add(net, "127.0.0.1:4002", 2, NULL);

    (void)state;
    net->nodes[a].fail_send = 1;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    fake_run(net, &r.calls, 30000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ETIMEDOUT);
    assert_true(fake_stats(net, a).send_errors >= 1);
    fake_net_free(net);
}

/* Regression: every case below completes its operation at once; the
 * callback must still wait for dht_periodic(), never fire inside the call
 * that started the operation (dht.h's convention). */
static void test_cb_not_inside_bootstrap(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_addr_t peers[2] = {fake_addr("10.0.0.1:1"), fake_addr("10.0.0.2:2")};
    int a = add(net, "127.0.0.1:4001", 1, NULL);

    (void)state;
    net->nodes[a].fail_send = 1; /* every ping is lost on the way out */
    assert_int_equal(dht_bootstrap(fake_dht(net, a), peers, 2, fake_status_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    fake_run(net, &r.calls, 60000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ENOPEERS);
    fake_net_free(net);
}

static void test_cb_not_inside_get_local(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t p = {0}, r = {0};
    const char *v = "content addressed";
    dht_id_t key;
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    int b = add(net, "127.0.0.1:4002", 2, NULL);

    (void)state;
    dht_id_from_bytes(&key, v, strlen(v));
    /* With one peer, a is among the k closest and keeps a copy. */
    assert_int_equal(dht_insert_node(fake_dht(net, a), dht_self(fake_dht(net, b)),
                                     fake_addr_of(net, b), net->now),
                     0);
    assert_int_equal(dht_put(fake_dht(net, a), &key, v, strlen(v), 60, fake_put_cb, &p), 0);
    fake_run(net, &p.calls, 10000);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.status, 0);
    /* The node holds the content-addressed value: the get needs nobody. */
    assert_int_equal(dht_get(fake_dht(net, a), &key, fake_get_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    fake_advance(net, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(fake_result_has(&r, v, strlen(v)));
    fake_result_clear(&r);
    fake_net_free(net);
}

static void test_cb_not_inside_find_node_empty(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t target = fake_id_b0(7);
    int a = add(net, "127.0.0.1:4001", 1, NULL);

    (void)state;
    assert_int_equal(dht_find_node(fake_dht(net, a), &target, fake_nodes_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    fake_advance(net, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ENOPEERS);
    fake_net_free(net);
}

static void test_cb_not_inside_put_alone(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = fake_id_b0(9);
    int a = add(net, "127.0.0.1:4001", 1, NULL);

    (void)state;
    assert_int_equal(dht_put(fake_dht(net, a), &key, "v", 1, 60, fake_put_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    fake_advance(net, 0);
    assert_int_equal(r.calls, 1);
    /* Nobody to store on: nothing is stored, not even here. */
    assert_int_equal(r.status, DHT_ENOPEERS);
    assert_int_equal(fake_stats(net, a).values, 0);
    fake_net_free(net);
}

/* The ordinary case: a ping's callback runs from dht_receive(). */
static void test_cb_from_receive(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    int b = add(net, "127.0.0.1:4002", 2, NULL);
    fake_msg_t m;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    assert_true(fake_pop(net, &m)); /* the PING */
    assert_int_equal(fake_deliver(net, &m), 0);
    fake_msg_free(&m);
    assert_int_equal(r.calls, 0);
    assert_true(fake_pop(net, &m)); /* the PONG */
    assert_int_equal(fake_deliver(net, &m), 0);
    fake_msg_free(&m);
    assert_int_equal(r.calls, 1);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* PING / PONG, bootstrap, find_node                                        */
/* ------------------------------------------------------------------------ */

static void test_ping_pong(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t ida = fake_id_b0(0x11), idb = fake_id_b0(0x22);
    int a = add(net, "127.0.0.1:4001", 1, &ida);
    int b = add(net, "127.0.0.1:4002", 2, &idb);
    dht__msg_t m;
    fake_msg_t raw;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    assert_int_equal(fake_queued(net), 1);
    assert_int_equal(fake_find_msg(net, fake_addr_of(net, b), DHT__PING, &m), 0);
    assert_memory_equal(&m.sender, &ida, sizeof(ida));
    assert_int_equal(fake_peek(net, 0)->transport, DHT_TRANSPORT_DATAGRAM);
    assert_int_equal(fake_stats(net, a).rpcs_in_flight, 1);

    assert_true(fake_pop(net, &raw));
    fake_deliver(net, &raw);
    fake_msg_free(&raw);
    /* The PONG: B's id, and A's address as B saw it. */
    assert_int_equal(fake_find_msg(net, fake_addr_of(net, a), DHT__PONG, &m), 0);
    assert_memory_equal(&m.sender, &idb, sizeof(idb));
    assert_true(dht_addr_equal(&m.addr, fake_addr_of(net, a)));
    fake_pump(net);

    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(r.has_peer);
    assert_memory_equal(&r.peer, &idb, sizeof(idb));
    assert_int_equal(fake_stats(net, a).nodes, 1);
    assert_int_equal(fake_stats(net, a).nodes_good, 1); /* it answered us */
    /* B pinged A back after its PONG: a request proves nothing (its
     * source could be forged), A's answer does. */
    assert_int_equal(fake_stats(net, b).nodes, 1);
    assert_int_equal(fake_stats(net, b).nodes_good, 1);
    assert_int_equal(fake_stats(net, a).rpcs_in_flight, 0);
    assert_int_equal(fake_stats(net, b).rpcs_in_flight, 0);
    assert_int_equal(fake_stats(net, a).ops_in_flight, 0);
    assert_int_equal(fake_stats(net, a).msgs_sent, 2); /* PING, PONG */
    assert_int_equal(fake_stats(net, a).msgs_received, 2);
    assert_int_equal(fake_stats(net, b).msgs_sent, 2); /* PONG, PING */
    fake_net_free(net);
}

/* A stranger whose bucket in B's table is full of live nodes is not pinged
 * back (its answer could not enter; only hand-over to a joining node, its
 * own-id lookup, still draws the ping): with room, it is. This took joins
 * in `emofs sim` from 175 to 158 datagrams each (10,000 nodes). */
static void test_no_ping_without_room(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t idb = fake_id_b0(0x22), idc = fake_id_b0(0x91), idd = fake_id_b0(0x23);
    dht_id_t ida = fake_id_b0(0xa1);
    dht_config_t cfg;
    int a, b, c, d;
    fake_msg_t raw;

    (void)state;
    fake_config(&cfg, 2, &idb);
    cfg.k = 1;
    b = fake_add(net, "127.0.0.1:4002", &cfg);
    c = add(net, "127.0.0.1:4003", 3, &idc);
    d = add(net, "127.0.0.1:4004", 4, &idd);
    a = add(net, "127.0.0.1:4001", 1, &ida);
    assert_true(b >= 0);
    /* C (far from B) answers B; D (near B) pings B and answers B's ping:
     * B's table splits, its far bucket holding C alone, full at k 1. */
    assert_int_equal(dht_ping(fake_dht(net, b), fake_addr_of(net, c), fake_ping_cb, &r), 0);
    fake_pump(net);
    assert_int_equal(dht_ping(fake_dht(net, d), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    fake_pump(net);
    assert_int_equal(fake_stats(net, b).nodes, 2);
    assert_int_equal(fake_stats(net, b).buckets, 2);
    /* A, far from B like C, pings B: a PONG, and no ping back. */
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    assert_true(fake_pop(net, &raw));
    fake_deliver(net, &raw);
    fake_msg_free(&raw);
    assert_int_equal(fake_count(net, fake_addr_of(net, a), DHT__PONG), 1);
    assert_int_equal(fake_count(net, fake_addr_of(net, a), DHT__PING), 0);
    fake_pump(net);
    assert_int_equal(fake_stats(net, b).nodes, 2);
    fake_net_free(net);
}

static void test_ping_wakes_shell(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_addr_t nowhere = fake_addr("10.9.9.9:9");
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    uint64_t w0;

    (void)state;
    w0 = net->nodes[a].wakes;
    assert_int_equal(dht_ping(fake_dht(net, a), &nowhere, fake_ping_cb, &r), 0);
    /* The shell learns the core wants to run when the ping times out. */
    assert_true(net->nodes[a].wakes > w0);
    assert_int_equal(net->nodes[a].last_wake, T0 + 1000);
    assert_int_equal(dht_next_deadline(fake_dht(net, a)), T0 + 1000);
    assert_int_equal(dht_periodic(fake_dht(net, a), T0 + 10), T0 + 1000);
    fake_net_free(net);
}

static void test_bootstrap(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r[5] = {{0}};
    char addr[32];

    (void)state;
    for (int i = 0; i < 6; i++) {
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        add(net, addr, (uint64_t)i + 1, NULL);
    }
    for (int i = 1; i < 6; i++) {
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r[i - 1]), 0);
        fake_run(net, &r[i - 1].calls, 60000);
        assert_int_equal(r[i - 1].calls, 1);
        assert_int_equal(r[i - 1].status, 0);
    }
    fake_run(net, NULL, 1000);
    /* Node 0 heard from everyone; the last one learned the others. */
    assert_int_equal(fake_stats(net, 0).nodes, 5);
    assert_int_equal(fake_stats(net, 5).nodes, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(r[i].calls, 1);
    fake_net_free(net);
}

static void test_bootstrap_unreachable(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_addr_t nowhere = fake_addr("10.9.9.9:9");
    int a = add(net, "127.0.0.1:4001", 1, NULL);

    (void)state;
    assert_int_equal(dht_bootstrap(fake_dht(net, a), &nowhere, 1, fake_status_cb, &r), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fake_run(net, &r.calls, 60000), 1);
    assert_int_equal(r.status, DHT_ENOPEERS);
    /* A bootstrap ping is tried six times (DHT__BOOTSTRAP_ATTEMPTS). */
    assert_int_equal(net->nodes[a].sends, 6);
    fake_net_free(net);
}

/* find_node over a small network returns the k closest nodes, nearest
 * first, as a brute-force sort of every id says. */
static dht_id_t by_distance_key;
static int cmp_dist(const void *x, const void *y)
{
    return dht_id_cmp_distance(&by_distance_key, x, y);
}

static void test_find_node(void **state)
{
    enum { N = 12, K = 4 };
    fake_net_t *net = new_net();
    fake_result_t r = {0}, b = {0};
    dht_id_t ids[N], target = fake_id_b0(0x5a);
    dht_config_t cfg;
    char addr[32];

    (void)state;
    for (int i = 0; i < N; i++) {
        fake_config(&cfg, (uint64_t)i + 100, NULL);
        cfg.k = K;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 5001 + i);
        assert_int_equal(fake_add(net, addr, &cfg), i);
        ids[i] = *dht_self(fake_dht(net, i));
    }
    for (int i = 1; i < N; i++) {
        memset(&b, 0, sizeof(b));
        dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &b);
        fake_run(net, &b.calls, 60000);
        assert_int_equal(b.status, 0);
    }
    assert_int_equal(dht_find_node(fake_dht(net, 3), &target, fake_nodes_cb, &r), 0);
    assert_int_equal(fake_run(net, &r.calls, 60000), 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_nodes, K);
    assert_true(r.stats.replies >= 1);
    assert_true(r.stats.requests >= r.stats.replies);
    assert_int_equal(r.stats.timeouts, 0);

    /* Node 3 itself is not reported; the others are, in XOR order. */
    by_distance_key = target;
    {
        dht_id_t others[N - 1];
        int n = 0;
        for (int i = 0; i < N; i++)
            if (i != 3)
                others[n++] = ids[i];
        qsort(others, (size_t)n, sizeof(others[0]), cmp_dist);
        for (int i = 0; i < K; i++) {
            int at = fake_find(net, &r.nodes[i].addr);
            assert_memory_equal(&r.nodes[i].id, &others[i], sizeof(dht_id_t));
            assert_true(at >= 0);
            assert_memory_equal(&ids[at], &r.nodes[i].id, sizeof(dht_id_t));
        }
    }
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* dht_insert_node / dht_closest_nodes                                      */
/* ------------------------------------------------------------------------ */

static void test_insert_and_closest(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t self = fake_id_b0(0x00), target = fake_id_b0(0x00);
    dht_node_info_t out[DHT_MAX_K];
    uint8_t firsts[] = {0xf0, 0x01, 0x80, 0x10, 0x03, 0x40, 0x02};
    uint8_t order[] = {0x01, 0x02, 0x03, 0x10, 0x40, 0x80, 0xf0};
    char s[32];
    int a = add(net, "127.0.0.1:4001", 1, &self);
    dht_t *d = fake_dht(net, a);

    (void)state;
    for (size_t i = 0; i < sizeof(firsts); i++) {
        dht_id_t id = fake_id_b0(firsts[i]);
        dht_addr_t addr;
        snprintf(s, sizeof(s), "10.0.0.%u:%u", firsts[i], 1000u + firsts[i]);
        addr = fake_addr(s);
        assert_int_equal(dht_insert_node(d, &id, &addr, net->now), 0);
    }
    /* Its own id is refused. */
    assert_int_equal(dht_insert_node(d, &self, fake_addr_of(net, a), net->now), DHT_EINVAL);
    assert_int_equal(fake_stats(net, a).nodes, sizeof(firsts));
    assert_int_equal(fake_stats(net, a).nodes_questionable, sizeof(firsts));

    assert_int_equal(dht_closest_nodes(d, &target, out, DHT_MAX_K), sizeof(order));
    for (size_t i = 0; i < sizeof(order); i++) {
        assert_int_equal(out[i].id.b[0], order[i]);
        snprintf(s, sizeof(s), "10.0.0.%u:%u", order[i], 1000u + order[i]);
        {
            dht_addr_t want = fake_addr(s);
            assert_true(dht_addr_equal(&out[i].addr, &want));
        }
    }
    /* Another target, another order: 0x12 ^ 0x10 = 0x02 < 0x12 ^ 0x02 = 0x10
     * < 0x12 ^ 0x03 = 0x11 < 0x12 ^ 0x01 = 0x13. */
    target = fake_id_b0(0x12);
    assert_int_equal(dht_closest_nodes(d, &target, out, 4), 4);
    assert_int_equal(out[0].id.b[0], 0x10);
    assert_int_equal(out[1].id.b[0], 0x02);
    assert_int_equal(out[2].id.b[0], 0x03);
    assert_int_equal(out[3].id.b[0], 0x01);
    assert_int_equal(dht_closest_nodes(d, &target, out, 0), 0);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* dht_free with operations in flight                                       */
/* ------------------------------------------------------------------------ */

/* A core that knows one peer, P, which is not on the net: every request to
 * it stays unanswered unless the test answers by hand. */
static int lonely(fake_net_t *net, dht_id_t *pid, dht_addr_t *paddr)
{
    int a = add(net, "127.0.0.1:4001", 1, NULL);

    *pid = fake_id_b0(0xa5);
    *paddr = fake_addr("10.0.0.2:5000");
    assert_int_equal(dht_insert_node(fake_dht(net, a), pid, paddr, net->now), 0);
    return a;
}

/* A node whose every contact left its last requests unanswered (an
 * overload, a network blip: each is bad) still asks them in its next
 * lookup, rather than end it at once with no peers; the one that answers
 * ends it well. (A big put through 20 daemons under the sanitizers failed
 * "no peers reachable" so, with 19 of them alive.) */
static void test_lookup_asks_bad_contacts_when_all_are(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid, target = fake_id_b0(0x33);
    dht_addr_t paddr;
    dht__msg_t q, rep;
    int a = lonely(net, &pid, &paddr);
    dht_t *d = fake_dht(net, a);

    (void)state;
    /* Two lookups whose requests are all lost: the contact goes bad. */
    for (int i = 0; i < 2; i++) {
        fake_result_t lost = {0};
        assert_int_equal(dht_find_node(d, &target, fake_nodes_cb, &lost), 0);
        while (lost.calls == 0) {
            fake_clear(net);
            fake_set_time(net, dht_next_deadline(d));
        }
        assert_int_equal(lost.status, DHT_ENOPEERS);
    }
    assert_false(fake_knows(net, a, &pid)); /* bad: not a usable node */
    /* The third lookup asks it all the same, and its answer counts. */
    fake_clear(net);
    assert_int_equal(dht_find_node(d, &target, fake_nodes_cb, &r), 0);
    assert_true(fake_find_msg(net, &paddr, DHT__FIND_NODE, &q) >= 0);
    fake_msg_init(&rep, DHT__NODES, q.txid, &pid);
    fake_clear(net);
    assert_int_equal(fake_inject(net, a, &paddr, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_nodes, 1);
    assert_true(fake_knows(net, a, &pid)); /* good again */
    fake_net_free(net);
}

static void test_free_cancels(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t rp = {0}, rf = {0}, rg = {0}, ru = {0}, rq = {0};
    dht_id_t pid, key = fake_id_b0(0x33);
    dht_addr_t paddr;
    int a = lonely(net, &pid, &paddr);
    dht_t *d = fake_dht(net, a);

    (void)state;
    assert_int_equal(dht_ping(d, &paddr, fake_ping_cb, &rp), 0);
    assert_int_equal(dht_find_node(d, &key, fake_nodes_cb, &rf), 0);
    assert_int_equal(dht_get(d, &key, fake_get_cb, &rg), 0);
    assert_int_equal(dht_put(d, &key, "v", 1, 60, fake_put_cb, &ru), 0);
    fake_advance(net, 1500); /* some resent, still in flight */
    assert_int_equal(dht_ping(d, &paddr, fake_ping_cb, &rq), 0);
    assert_int_equal(fake_stats(net, a).ops_in_flight, 5);
    assert_int_equal(rp.calls + rf.calls + rg.calls + ru.calls + rq.calls, 0);

    fake_remove(net, a);
    assert_int_equal(rp.calls, 1);
    assert_int_equal(rp.status, DHT_ECANCELED);
    assert_false(rp.has_peer);
    assert_int_equal(rq.calls, 1);
    assert_int_equal(rq.status, DHT_ECANCELED);
    assert_int_equal(rf.calls, 1);
    assert_int_equal(rf.status, DHT_ECANCELED);
    assert_int_equal(rf.n_nodes, 0);
    assert_int_equal(rg.calls, 1);
    assert_int_equal(rg.status, DHT_ECANCELED);
    assert_int_equal(rg.n_values, 0);
    assert_int_equal(ru.calls, 1);
    assert_int_equal(ru.status, DHT_ECANCELED);
    assert_int_equal(ru.stored, 0);
    fake_net_free(net);
}

/* Regression: a bootstrap still pinging when dht_free() runs reports
 * DHT_ECANCELED (not DHT_ENOPEERS from its cancelled pings). */
static void test_free_cancels_bootstrap(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid;
    dht_addr_t paddr;
    int a = lonely(net, &pid, &paddr);

    (void)state;
    assert_int_equal(dht_bootstrap(fake_dht(net, a), &paddr, 1, fake_status_cb, &r), 0);
    fake_remove(net, a);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ECANCELED);
    fake_net_free(net);
}

/* Regression: a put whose STOREs are in flight when dht_free() runs
 * reports DHT_ECANCELED (not success from its local copy). */
static void test_free_cancels_put_storing(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid, key = fake_id_b0(0x33);
    dht_addr_t paddr;
    dht__msg_t q, rep;
    int a = lonely(net, &pid, &paddr);

    (void)state;
    assert_int_equal(dht_put(fake_dht(net, a), &key, "v", 1, 60, fake_put_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, &paddr, DHT__FIND_NODE, &q), 0);
    fake_msg_init(&rep, DHT__NODES, q.txid, &pid);
    fake_clear(net);
    assert_int_equal(fake_inject(net, a, &paddr, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(fake_count(net, &paddr, DHT__STORE), 1); /* now storing */
    assert_int_equal(r.calls, 0);
    fake_remove(net, a);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ECANCELED);
    fake_net_free(net);
}

/* Regression: a get fetching a summarized value when dht_free() runs
 * reports DHT_ECANCELED (not DHT_ENOTFOUND from its cancelled fetch). */
static void test_free_cancels_get_fetching(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid, key = fake_id_b0(0x33);
    dht_addr_t paddr;
    dht__msg_t q, rep;
    int a = lonely(net, &pid, &paddr);

    (void)state;
    assert_int_equal(dht_get(fake_dht(net, a), &key, fake_get_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, &paddr, DHT__FIND_VALUE, &q), 0);
    fake_msg_init(&rep, DHT__VALUES, q.txid, &pid);
    rep.total = 1;
    rep.n_entries = 1;
    rep.entries[0].is_summary = 1;
    rep.entries[0].ttl = 60;
    rep.entries[0].len = 5000;
    rep.entries[0].hash = fake_id_b0(0x77);
    fake_clear(net);
    assert_int_equal(fake_inject(net, a, &paddr, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(fake_count(net, &paddr, DHT__GET_VALUE), 1); /* now fetching */
    fake_remove(net, a);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ECANCELED);
    fake_result_clear(&r);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* IPv6                                                                     */
/* ------------------------------------------------------------------------ */

static void test_ipv6(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t rp = {0}, ru = {0}, rg = {0};
    dht_id_t key = fake_id_b0(0x6b);
    const char *v = "over IPv6";
    int a = add(net, "[::1]:4001", 1, NULL);
    int b = add(net, "[::1]:4002", 2, NULL);
    int c = add(net, "[fe80::1:2]:4003", 3, NULL);
    dht__msg_t m;
    fake_msg_t raw;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &rp), 0);
    assert_true(fake_pop(net, &raw));
    fake_deliver(net, &raw);
    fake_msg_free(&raw);
    assert_int_equal(fake_find_msg(net, fake_addr_of(net, a), DHT__PONG, &m), 0);
    assert_int_equal(m.addr.family, DHT_AF_INET6);
    assert_true(dht_addr_equal(&m.addr, fake_addr_of(net, a)));
    fake_pump(net);
    assert_int_equal(rp.status, 0);
    assert_memory_equal(&rp.peer, dht_self(fake_dht(net, b)), sizeof(dht_id_t));
    assert_int_equal(fake_stats(net, b).nodes, 1);

    /* Put from A stores on B (token for an IPv6 address) and on A. */
    assert_int_equal(dht_put(fake_dht(net, a), &key, v, strlen(v), 60, fake_put_cb, &ru), 0);
    fake_run(net, &ru.calls, 60000);
    assert_int_equal(ru.status, 0);
    assert_int_equal(ru.stored, 2);
    assert_int_equal(fake_stats(net, b).values, 1);

    /* C knows only B. */
    assert_int_equal(dht_insert_node(fake_dht(net, c), dht_self(fake_dht(net, b)),
                                     fake_addr_of(net, b), net->now),
                     0);
    assert_int_equal(dht_get(fake_dht(net, c), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    assert_true(fake_result_has(&rg, v, strlen(v)));
    fake_result_clear(&rg);
    fake_net_free(net);
}

/* A node whose table mixes families (a dual-stack one) answers a
 * FIND_NODE with k records of the asker's family, though the nearest of
 * its contacts are of the other (found in review: it took its k + 1
 * nearest of both families and then kept the asker's, 0 of 4 here). */
static void test_nodes_of_the_askers_family(void **state)
{
    fake_net_t *net = new_net();
    dht_config_t cfg;
    dht_addr_t v4 = fake_addr("192.0.2.200:7000");
    dht_id_t target, asker = fake_id_b0(0x77);
    dht__msg_t req, reply;

    (void)state;
    fake_config(&cfg, 5, NULL);
    cfg.k = 4;
    assert_int_equal(add_cfg(net, "[2001:db8::1]:4000", &cfg), 0);
    memset(target.b, 0x42, DHT_ID_LEN);
    /* 12 IPv6 contacts nearest the target, then 6 IPv4 ones farther off. */
    for (int i = 0; i < 18; i++) {
        dht_id_t id = target;
        char addr[48];
        id.b[0] ^= (uint8_t)(i < 12 ? 0x01 : 0x80);
        id.b[DHT_ID_LEN - 1] = (uint8_t)i;
        id.b[DHT_ID_LEN - 2] = (uint8_t)(i * 7);
        if (i < 12)
            snprintf(addr, sizeof(addr), "[2001:db8:%d::9]:5000", i + 10);
        else
            snprintf(addr, sizeof(addr), "198.51.%d.9:5000", i);
        dht_addr_t a = fake_addr(addr);
        assert_int_equal(dht_insert_node(fake_dht(net, 0), &id, &a, 0), 0);
    }
    fake_msg_init(&req, DHT__FIND_NODE, 99, &asker);
    req.target = target;
    assert_int_equal(fake_request(net, 0, &v4, &req, &reply), 0);
    assert_int_equal(reply.type, DHT__NODES);
    assert_int_equal(reply.n_nodes, 4);
    for (unsigned i = 0; i < reply.n_nodes; i++)
        assert_int_equal(reply.nodes[i].addr.family, DHT_AF_INET);
    fake_net_free(net);
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_bad_config),
        cmocka_unit_test(test_new_null_args),
        cmocka_unit_test(test_new_ids),
        cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_value_size_bound),
        cmocka_unit_test(test_max_ops),
        cmocka_unit_test(test_ping_send_fails_is_loss),
        cmocka_unit_test(test_cb_not_inside_bootstrap),
        cmocka_unit_test(test_cb_not_inside_get_local),
        cmocka_unit_test(test_cb_not_inside_find_node_empty),
        cmocka_unit_test(test_cb_not_inside_put_alone),
        cmocka_unit_test(test_cb_from_receive),
        cmocka_unit_test(test_ping_pong),
        cmocka_unit_test(test_no_ping_without_room),
        cmocka_unit_test(test_ping_wakes_shell),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_bootstrap_unreachable),
        cmocka_unit_test(test_find_node),
        cmocka_unit_test(test_insert_and_closest),
        cmocka_unit_test(test_free_cancels),
        cmocka_unit_test(test_free_cancels_bootstrap),
        cmocka_unit_test(test_free_cancels_put_storing),
        cmocka_unit_test(test_free_cancels_get_fetching),
        cmocka_unit_test(test_lookup_asks_bad_contacts_when_all_are),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_nodes_of_the_askers_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
