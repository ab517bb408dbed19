/*
 * Private networks (issue 14 item 6; schema/wire.md 2.4): nodes given a
 * network key tag every message with HMAC-SHA256 under it and drop, and
 * count, every message without a valid tag. Two networks with different
 * keys, or a keyed and an open one, never hear each other; inside one,
 * everything works as in an open network, streams included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/fake_asserts.h"

static const uint8_t KEY_A[32] = "network A: 32 bytes of secret..";
static const uint8_t KEY_B[32] = "network B: 32 bytes of secret..";

/* Adds a node at 127.0.0.1:port with key (NULL: an open node). */
static int add_keyed(fake_net_t *net, int port, uint64_t seed, const uint8_t *key)
{
    dht_config_t cfg;
    char addr[32];

    fake_config(&cfg, seed, NULL);
    cfg.network_key = key;
    cfg.network_key_len = key ? 32 : 0;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    return add_cfg(net, addr, &cfg);
}

/* @return the status of node i's bootstrap through node j. */
static int bootstrap(fake_net_t *net, int i, int j)
{
    fake_result_t r = {0};

    assert_int_equal(dht_bootstrap(fake_dht(net, i), fake_addr_of(net, j), 1, fake_status_cb, &r),
                     0);
    fake_run(net, &r.calls, 60000);
    assert_int_equal(r.calls, 1);
    return r.status;
}

/* Every queued message of a keyed node ends with the first 16 bytes of
 * HMAC-SHA256(key, the rest), computed here by OpenSSL's one-shot HMAC,
 * and the rest is a message of schema/wire.md. */
static void assert_tagged(const fake_net_t *net, const uint8_t *key)
{
    size_t checked = 0;

    for (size_t i = 0; i < fake_queued(net); i++) {
        const fake_msg_t *m = fake_peek(net, i);
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        dht__msg_t d;

        assert_true(m->len > DHT_NETWORK_TAG_LEN);
        assert_non_null(
            HMAC(EVP_sha256(), key, 32, m->buf, m->len - DHT_NETWORK_TAG_LEN, mac, &mac_len));
        assert_memory_equal(mac, m->buf + m->len - DHT_NETWORK_TAG_LEN, DHT_NETWORK_TAG_LEN);
        assert_int_equal(dht__wire_decode(&d, m->buf, m->len - DHT_NETWORK_TAG_LEN), 0);
        checked++;
    }
    assert_true(checked > 0);
}

static void test_same_key_works(void **state)
{
    fake_net_t *net = new_net();
    int a = add_keyed(net, 4001, 1, KEY_A);
    int b = add_keyed(net, 4002, 2, KEY_A);
    fake_result_t r = {0};

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, b), fake_addr_of(net, a), fake_ping_cb, &r), 0);
    assert_tagged(net, KEY_A); /* b's ping */
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.status, 0);
    assert_int_equal(bootstrap(net, b, a), 0);
    assert_true(fake_knows(net, a, dht_self(fake_dht(net, b))));
    assert_int_equal(fake_stats(net, a).dropped_unauthenticated, 0);
    assert_int_equal(fake_stats(net, b).dropped_unauthenticated, 0);
    fake_net_free(net);
}

/* A value larger than a datagram goes by stream, tagged too. */
static void test_stream_value(void **state)
{
    fake_net_t *net = new_net();
    int a = add_keyed(net, 4001, 1, KEY_A);
    int b = add_keyed(net, 4002, 2, KEY_A);
    size_t len = 100 * 1024;
    uint8_t *value = malloc(len);
    fake_result_t p = {0}, g = {0};
    dht_id_t key;

    (void)state;
    assert_non_null(value);
    for (size_t i = 0; i < len; i++)
        value[i] = (uint8_t)(i * 7 + (i >> 8));
    dht_id_from_bytes(&key, value, len);
    assert_int_equal(bootstrap(net, b, a), 0);
    assert_int_equal(dht_put(fake_dht(net, a), &key, value, len, 3600, fake_put_cb, &p), 0);
    fake_run(net, &p.calls, 60000);
    assert_int_equal(p.status, 0);
    assert_true(net->stream_msgs > 0);
    assert_int_equal(net->oversize_datagrams, 0);
    assert_int_equal(fake_stats(net, b).values, 1); /* b holds it: it came by stream */
    assert_int_equal(dht_get(fake_dht(net, b), &key, fake_get_cb, &g), 0);
    fake_run(net, &g.calls, 60000);
    assert_int_equal(g.status, 0);
    assert_true(fake_result_has(&g, value, len));
    fake_result_clear(&g);
    free(value);
    fake_net_free(net);
}

/* Another key, or none: nothing gets through either way, and what was
 * dropped is counted. */
static void test_other_networks_never_meet(void **state)
{
    fake_net_t *net = new_net();
    int a = add_keyed(net, 4001, 1, KEY_A);
    int b = add_keyed(net, 4002, 2, KEY_A);
    int c = add_keyed(net, 4003, 3, KEY_B);
    int d = add_keyed(net, 4004, 4, NULL);
    dht_stats_t sa;

    (void)state;
    assert_int_equal(bootstrap(net, b, a), 0);
    assert_int_equal(bootstrap(net, c, a), DHT_ENOPEERS);
    assert_int_equal(bootstrap(net, d, a), DHT_ENOPEERS);
    assert_int_equal(bootstrap(net, a, c), DHT_ENOPEERS);
    assert_int_equal(bootstrap(net, a, d), DHT_ENOPEERS);
    sa = fake_stats(net, a);
    assert_true(sa.dropped_unauthenticated >= 2); /* c's and d's pings at least */
    assert_true(fake_stats(net, c).dropped_unauthenticated >= 1);
    assert_true(fake_stats(net, d).dropped_malformed >= 1); /* a tag is 16 bytes too many */
    assert_false(fake_knows(net, a, dht_self(fake_dht(net, c))));
    assert_false(fake_knows(net, a, dht_self(fake_dht(net, d))));
    assert_false(fake_knows(net, c, dht_self(fake_dht(net, a))));
    assert_int_equal(fake_stats(net, c).nodes, 0);
    assert_int_equal(fake_stats(net, d).nodes, 0);
    fake_net_free(net);
}

/* A tagged message changed on the way (one bit of its body, or its tag)
 * is dropped unanswered; the original goes through. */
static void test_tampered_dropped(void **state)
{
    fake_net_t *net = new_net();
    int a = add_keyed(net, 4001, 1, KEY_A);
    int b = add_keyed(net, 4002, 2, KEY_A);
    fake_result_t r = {0};
    fake_msg_t ping;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, b), fake_addr_of(net, a), fake_ping_cb, &r), 0);
    assert_int_equal(fake_pop(net, &ping), 1);
    for (size_t at = 0; at < ping.len; at += ping.len - 1) { /* the first byte, the tag's last */
        ping.buf[at] ^= 0x01;
        assert_int_equal(fake_deliver(net, &ping), DHT_EPROTO);
        assert_int_equal(fake_queued(net), 0); /* no answer */
        ping.buf[at] ^= 0x01;
    }
    assert_int_equal(fake_stats(net, a).dropped_unauthenticated, 2);
    assert_int_equal(fake_deliver(net, &ping), 0);
    assert_true(fake_queued(net) > 0);
    fake_msg_free(&ping);
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.status, 0);
    fake_net_free(net);
}

static int send_nothing(void *arg, const dht_addr_t *to, dht_transport_t transport,
                        const uint8_t *buf, size_t len)
{
    (void)arg, (void)to, (void)transport, (void)buf, (void)len;
    return 0;
}

static void test_bad_keys_refused(void **state)
{
    dht_config_t cfg;
    dht_io_t io = {.send = send_nothing};
    dht_t *dht = NULL;
    uint8_t key[DHT_NETWORK_KEY_MAX + 1] = {0};

    (void)state;
    fake_config(&cfg, 1, NULL);
    cfg.network_key = key;
    cfg.network_key_len = DHT_NETWORK_KEY_MIN - 1;
    assert_int_equal(dht_new(&dht, &cfg, &io, T0), DHT_EINVAL);
    cfg.network_key_len = DHT_NETWORK_KEY_MAX + 1;
    assert_int_equal(dht_new(&dht, &cfg, &io, T0), DHT_EINVAL);
    cfg.network_key = NULL;
    cfg.network_key_len = 32;
    assert_int_equal(dht_new(&dht, &cfg, &io, T0), DHT_EINVAL);
    assert_null(dht);
    cfg.network_key = key;
    cfg.network_key_len = DHT_NETWORK_KEY_MIN;
    assert_int_equal(dht_new(&dht, &cfg, &io, T0), 0);
    dht_free(dht);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_key_works),
        cmocka_unit_test(test_stream_value),
        cmocka_unit_test(test_other_networks_never_meet),
        cmocka_unit_test(test_tampered_dropped),
        cmocka_unit_test(test_bad_keys_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
