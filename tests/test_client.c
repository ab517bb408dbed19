/*
 * Client nodes (dht_config_t.client, schema/wire.md 2.2): a node that joins
 * for a moment, as the embedded node of a one-shot emofs command does. Its
 * requests carry the client bit; the nodes it asks answer but never take it
 * into their tables, so after it is gone nobody waits on it. It stores
 * nothing for others and keeps no copy of its own puts.
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
#include "store.h" /* DHT__VALUE_CONTENT */

#define FULL 6 /* full nodes */

/* A net of FULL full nodes joined through node 0, and one client node
 * (index FULL) joined the same way. */
static fake_net_t *net_with_client(void)
{
    fake_net_t *net = fake_net_new(1000);
    dht_config_t cfg;
    char addr[32];

    assert_non_null(net);
    for (int i = 0; i <= FULL; i++) {
        fake_config(&cfg, (uint64_t)i + 1, NULL);
        cfg.client = i == FULL;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        add_cfg(net, addr, &cfg);
    }
    for (int i = 1; i <= FULL; i++) {
        fake_result_t r = {0};
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.status, 0);
    }
    fake_run(net, NULL, 1000);
    return net;
}

/* The client joins, looks up, puts and gets like any node, and is in no
 * full node's table afterwards; without the flag it would be in all. */
static void test_client_stays_out_of_tables(void **state)
{
    fake_net_t *net = net_with_client();
    dht_t *client = fake_dht(net, FULL);
    const dht_id_t *cid = dht_self(client);
    fake_result_t rf = {0}, rp = {0}, rg = {0};
    dht_id_t key;
    unsigned served = 0;

    (void)state;
    dht_id_from_bytes(&key, "hello", 5);
    assert_int_equal(dht_find_node(client, cid, fake_nodes_cb, &rf), 0);
    fake_run(net, &rf.calls, 60000);
    assert_int_equal(rf.status, 0);
    assert_int_equal(rf.n_nodes, FULL);
    assert_int_equal(dht_put(client, &key, "hello", 5, 60, fake_put_cb, &rp), 0);
    fake_run(net, &rp.calls, 60000);
    assert_int_equal(rp.status, 0);
    assert_int_equal(rp.stored, FULL); /* every full node, and not itself */
    assert_int_equal(fake_stats(net, FULL).values, 0);
    assert_int_equal(dht_get(client, &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    fake_run(net, NULL, 60000); /* maintenance: pings, verifications */

    assert_int_equal(fake_stats(net, FULL).nodes, FULL);
    for (int i = 0; i < FULL; i++) {
        assert_false(fake_knows(net, i, cid));
        assert_int_equal(fake_stats(net, i).nodes, FULL - 1);
        served += (unsigned)fake_stats(net, i).client_requests;
    }
    assert_true(served >= FULL);
    fake_result_clear(&rg);
    fake_net_free(net);
}

/* Every request a client sends carries the bit; a full node's never does,
 * and no reply does. */
static void test_client_bit_on_requests_only(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    dht_config_t cfg;
    fake_result_t r = {0};
    dht__msg_t m;
    int full, client;

    (void)state;
    fake_config(&cfg, 1, NULL);
    full = add_cfg(net, "127.0.0.1:4001", &cfg);
    fake_config(&cfg, 2, NULL);
    cfg.client = 1;
    client = add_cfg(net, "127.0.0.1:4002", &cfg);
    assert_int_equal(dht_ping(fake_dht(net, client), fake_addr_of(net, full), fake_ping_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, fake_addr_of(net, full), DHT__PING, &m), 0);
    assert_int_equal(m.client, 1);
    /* Padded (its reply, a PONG, may be larger than a bare PING). */
    assert_int_equal(fake_peek(net, 0)->buf[3], DHT__PING | DHT__WIRE_CLIENT | DHT__WIRE_PADDED);
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.status, 0);
    assert_int_equal(fake_stats(net, full).nodes, 0); /* answered, not added */
    assert_int_equal(fake_stats(net, client).nodes, 1);

    memset(&r, 0, sizeof(r));
    assert_int_equal(dht_ping(fake_dht(net, full), fake_addr_of(net, client), fake_ping_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, fake_addr_of(net, client), DHT__PING, &m), 0);
    assert_int_equal(m.client, 0);
    fake_net_free(net);
}

/* A STORE that reaches a client anyway (a peer that ignores the rule) is
 * refused: a client may be gone in a moment, and a put must not count it
 * as a copy. */
static void test_client_refuses_store(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    dht_config_t cfg;
    dht_id_t peer = fake_id_b0(0x77), key;
    dht_addr_t from = fake_addr("10.0.0.9:5000");
    dht__msg_t q, rep;
    int client;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.client = 1;
    client = add_cfg(net, "127.0.0.1:4002", &cfg);
    dht_id_from_bytes(&key, "v", 1);
    fake_msg_init(&q, DHT__FIND_NODE, 1, &peer);
    q.target = key;
    assert_int_equal(fake_request(net, client, &from, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__NODES);
    fake_msg_init(&q, DHT__STORE, 2, &peer);
    memcpy(q.token, rep.token, sizeof(q.token));
    q.target = key;
    q.ttl = 60;
    q.flags = DHT__VALUE_CONTENT;
    q.value = (const uint8_t *)"v";
    q.value_len = 1;
    assert_int_equal(fake_request(net, client, &from, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__ERROR);
    assert_int_equal(rep.err_code, DHT__WERR_FULL);
    assert_int_equal(fake_stats(net, client).values, 0);
    fake_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_stays_out_of_tables),
        cmocka_unit_test(test_client_bit_on_requests_only),
        cmocka_unit_test(test_client_refuses_store),
    };

    alarm(60);
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
