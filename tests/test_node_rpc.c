/*
 * Tests of the core's request layer (rpc.c) and input checks (node.c,
 * server.c), driven through the fake network of tests/helpers/fake_net.c:
 * reply matching, timeouts and resends, malformed and self-sent messages,
 * the per-source rate limit, and node states after failed requests.
 * A peer is often played by hand: its messages are crafted with the wire
 * codec and handed to dht_receive().
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
#include "node.h" /* dht__rpc_rto, the adaptive timeout */

static int add(fake_net_t *net, const char *hostport, uint64_t seed)
{
    dht_config_t cfg;

    fake_config(&cfg, seed, NULL);
    return add_cfg(net, hostport, &cfg);
}

/* Encodes m into a fresh buffer. @return its length. */
static size_t encode(const dht__msg_t *m, uint8_t **out)
{
    size_t size = dht__wire_size(m);
    size_t len;

    *out = malloc(size);
    assert_non_null(*out);
    len = dht__wire_encode(m, *out, size);
    assert_int_equal(len, size);
    return len;
}

/* ------------------------------------------------------------------------ */
/* Reply matching                                                           */
/* ------------------------------------------------------------------------ */

static void test_reply_matching(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid = fake_id_b0(0x70);
    dht_addr_t p = fake_addr("10.0.0.2:5000"), p_port = fake_addr("10.0.0.2:5001");
    dht_addr_t p_ip = fake_addr("10.0.0.3:5000");
    int a = add(net, "127.0.0.1:4001", 1);
    dht__msg_t q, rep;
    uint32_t txid;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, &p, DHT__PING, &q), 0);
    txid = q.txid;
    fake_clear(net);

    fake_msg_init(&rep, DHT__PONG, txid ^ 0x10000u, &pid); /* same slot, wrong txid */
    rep.addr = *fake_addr_of(net, a);
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    rep.txid = txid ^ 1u; /* another slot */
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    rep.txid = 0xffffffffu; /* a slot that does not exist */
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    rep.txid = txid; /* right txid, wrong port, then wrong ip */
    assert_int_equal(fake_inject(net, a, &p_port, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    assert_int_equal(fake_inject(net, a, &p_ip, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    fake_msg_init(&rep, DHT__NODES, txid, &pid); /* right txid, wrong type */
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    fake_msg_init(&rep, DHT__STORED, txid, &pid);
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    assert_int_equal(fake_stats(net, a).dropped_unsolicited, 7);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fake_stats(net, a).rpcs_in_flight, 1);
    assert_int_equal(fake_stats(net, a).nodes, 0); /* learned nothing from them */
    assert_int_equal(fake_queued(net), 0);         /* a reply never gets a reply */

    fake_msg_init(&rep, DHT__PONG, txid, &pid);
    rep.addr = *fake_addr_of(net, a);
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_memory_equal(&r.peer, &pid, sizeof(pid));
    assert_int_equal(fake_stats(net, a).nodes, 1);
    /* The same reply again matches nothing. */
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    assert_int_equal(fake_stats(net, a).dropped_unsolicited, 8);
    assert_int_equal(r.calls, 1);
    assert_int_equal(fake_stats(net, a).dropped_malformed, 0);
    fake_net_free(net);
}

static void test_reply_without_request(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t pid = fake_id_b0(0x70);
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int b = add(net, "127.0.0.1:4002", 2);
    dht__msg_t rep;

    (void)state;
    fake_msg_init(&rep, DHT__PONG, 0, &pid);
    rep.addr = p;
    assert_int_equal(fake_inject(net, b, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    fake_msg_init(&rep, DHT__ERROR, 17, &pid);
    assert_int_equal(fake_inject(net, b, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    assert_int_equal(fake_stats(net, b).dropped_unsolicited, 2);
    assert_int_equal(fake_queued(net), 0);
    fake_net_free(net);
}

/* An ERROR answers any request: the ping is refused, with any code. */
static void test_error_reply(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r1 = {0}, r2 = {0};
    dht_id_t pid = fake_id_b0(0x70);
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int a = add(net, "127.0.0.1:4001", 1);
    uint16_t codes[2] = {7, 999};
    fake_result_t *rs[2] = {&r1, &r2};
    dht__msg_t q, rep;

    (void)state;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, rs[i]), 0);
        assert_int_equal(fake_find_msg(net, &p, DHT__PING, &q), 0);
        fake_msg_init(&rep, DHT__ERROR, q.txid, &pid);
        fake_clear(net);
        rep.err_code = codes[i];
        rep.err_len = 4;
        rep.err_msg = (const uint8_t *)"nope";
        assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
        assert_int_equal(rs[i]->calls, 1);
        assert_int_equal(rs[i]->status, DHT_EREJECTED);
        assert_false(rs[i]->has_peer);
    }
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Timeouts and resends                                                     */
/* ------------------------------------------------------------------------ */

static void test_timeout_resends(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_config_t cfg;
    fake_msg_t first, again;
    dht__msg_t m1, m2;
    int a;

    (void)state;
    fake_config(&cfg, 1, NULL);
    cfg.timeout_ms = 500;
    cfg.retries = 2;
    a = add_cfg(net, "127.0.0.1:4001", &cfg);
    assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, &r), 0);
    assert_true(fake_pop(net, &first));
    assert_true(dht_addr_equal(&first.to, &p));

    for (int attempt = 2; attempt <= 3; attempt++) {
        fake_set_time(net, T0 + 500u * (unsigned)(attempt - 1) - 1);
        assert_int_equal(fake_queued(net), 0); /* not yet */
        fake_set_time(net, T0 + 500u * (unsigned)(attempt - 1));
        assert_int_equal(fake_queued(net), 1);
        assert_true(fake_pop(net, &again));
        /* The same request, same txid, to the same address, without the
         * padding of the first (schema/wire.md 2.3: a node that is gone
         * costs little a resend). */
        assert_true(dht_addr_equal(&again.to, &p));
        assert_int_equal(again.transport, DHT_TRANSPORT_DATAGRAM);
        assert_int_equal(dht__wire_decode(&m1, first.buf, first.len), 0);
        assert_int_equal(dht__wire_decode(&m2, again.buf, again.len), 0);
        assert_int_equal(m2.type, DHT__PING);
        assert_int_equal(m2.txid, m1.txid);
        assert_true(m1.pad > 0);
        assert_int_equal(m2.pad, 0);
        assert_int_equal(again.len, first.len - m1.pad);
        assert_memory_equal(again.buf + 4, first.buf + 4, again.len - 4); /* after the type */
        fake_msg_free(&again);
        assert_int_equal(r.calls, 0);
        assert_int_equal(fake_stats(net, a).rpc_timeouts, (uint64_t)attempt - 1);
    }
    fake_set_time(net, T0 + 1499);
    assert_int_equal(r.calls, 0);
    fake_set_time(net, T0 + 1500);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ETIMEDOUT);
    assert_false(r.has_peer);
    assert_int_equal(fake_queued(net), 0); /* retries + 1 sends in all */
    assert_int_equal(net->nodes[a].sends, 3);
    assert_int_equal(fake_stats(net, a).rpc_timeouts, 3);
    assert_int_equal(fake_stats(net, a).rpcs_in_flight, 0);
    assert_int_equal(fake_stats(net, a).ops_in_flight, 0);
    fake_msg_free(&first);
    fake_net_free(net);
}

static void test_timeout_no_retries(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_config_t cfg;
    int a;

    (void)state;
    fake_config(&cfg, 1, NULL);
    cfg.timeout_ms = 200;
    cfg.retries = 0;
    a = add_cfg(net, "127.0.0.1:4001", &cfg);
    assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, &r), 0);
    fake_clear(net);
    fake_set_time(net, T0 + 200);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ETIMEDOUT);
    assert_int_equal(fake_queued(net), 0);
    assert_int_equal(net->nodes[a].sends, 1);
    assert_int_equal(fake_stats(net, a).rpc_timeouts, 1);
    fake_net_free(net);
}

/* A late reply, after the request timed out, matches nothing. */
static void test_late_reply(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid = fake_id_b0(0x70);
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int a = add(net, "127.0.0.1:4001", 1);
    dht__msg_t q, rep;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, &p, DHT__PING, &q), 0);
    fake_msg_init(&rep, DHT__PONG, q.txid, &pid);
    rep.addr = *fake_addr_of(net, a);
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.status, DHT_ETIMEDOUT);
    assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), DHT_ENOTFOUND);
    assert_int_equal(r.calls, 1);
    assert_int_equal(fake_stats(net, a).dropped_unsolicited, 1);
    fake_net_free(net);
}

/* A lookup's costs: retries count as requests, a silent node as a timeout. */
static void test_lookup_timeout_stats(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t pid = fake_id_b0(0x70), target = fake_id_b0(0x71);
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int a = add(net, "127.0.0.1:4001", 1);

    (void)state;
    assert_int_equal(dht_insert_node(fake_dht(net, a), &pid, &p, net->now), 0);
    assert_int_equal(dht_find_node(fake_dht(net, a), &target, fake_nodes_cb, &r), 0);
    assert_int_equal(fake_run(net, &r.calls, 60000), 1);
    assert_int_equal(r.status, DHT_ENOPEERS);
    assert_int_equal(r.n_nodes, 0);
    assert_int_equal(r.stats.requests, 3);
    assert_int_equal(r.stats.replies, 0);
    assert_int_equal(r.stats.timeouts, 1);
    assert_int_equal(r.stats.duration_ms, 3000);
    assert_int_equal(fake_stats(net, a).lookups_done, 1);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Malformed and self-sent messages                                         */
/* ------------------------------------------------------------------------ */

/* Hands buf to core b from p; it must be dropped as malformed, unanswered. */
static void expect_malformed(fake_net_t *net, int b, const uint8_t *buf, size_t len,
                             dht_transport_t tr)
{
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    uint64_t before = fake_stats(net, b).dropped_malformed;

    assert_int_equal(dht_receive(fake_dht(net, b), net->now, buf, len, &p, tr), DHT_EPROTO);
    assert_int_equal(fake_stats(net, b).dropped_malformed, before + 1);
    assert_int_equal(fake_queued(net), 0);
}

static void test_malformed(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t pid = fake_id_b0(0x70);
    int b = add(net, "127.0.0.1:4002", 2);
    uint8_t *ping, *find, *store, *buf = malloc(4096);
    size_t lping, lfind, lstore;
    dht__msg_t m;
    uint64_t x = 12345;

    (void)state;
    assert_non_null(buf);
    fake_msg_init(&m, DHT__PING, 1, &pid);
    lping = encode(&m, &ping);
    fake_msg_init(&m, DHT__FIND_NODE, 2, &pid);
    lfind = encode(&m, &find);
    fake_msg_init(&m, DHT__STORE, 3, &pid);
    m.value = (const uint8_t *)"0123456789";
    m.value_len = 10;
    lstore = encode(&m, &store);

    /* Garbage, empty, tiny. */
    for (size_t i = 0; i < 200; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    buf[0] = 0x00;
    expect_malformed(net, b, buf, 200, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, buf, 0, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, (const uint8_t *)"E", 1, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, (const uint8_t *)"EM\x01\x01", 4, DHT_TRANSPORT_DATAGRAM);

    /* Truncated valid messages, on either transport. */
    for (size_t n = 0; n < lping; n += 7)
        expect_malformed(net, b, ping, n, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, ping, lping - 1, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, find, lfind - 1, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, store, lstore - 1, DHT_TRANSPORT_DATAGRAM);
    expect_malformed(net, b, store, lstore - 1, DHT_TRANSPORT_STREAM);

    /* Wrong magic, wrong version, unknown types. */
    const struct {
        size_t at;
        uint8_t v;
    } patch[] = {{0, 'F'},  {1, 'X'},  {2, 0},    {2, 2},    {2, 0xff},
                 {3, 0x00}, {3, 0x06}, {3, 0x80}, {3, 0x86}, {3, 0xfe}};
    for (size_t i = 0; i < sizeof(patch) / sizeof(patch[0]); i++) {
        memcpy(buf, ping, lping);
        buf[patch[i].at] = patch[i].v;
        expect_malformed(net, b, buf, lping, DHT_TRANSPORT_DATAGRAM);
    }

    /* A trailing byte. */
    memcpy(buf, ping, lping);
    buf[lping] = 0;
    expect_malformed(net, b, buf, lping + 1, DHT_TRANSPORT_DATAGRAM);
    memcpy(buf, find, lfind);
    buf[lfind] = 0;
    expect_malformed(net, b, buf, lfind + 1, DHT_TRANSPORT_DATAGRAM);
    memcpy(buf, store, lstore);
    buf[lstore] = 0;
    expect_malformed(net, b, buf, lstore + 1, DHT_TRANSPORT_STREAM);

    /* A STORE whose length field claims more than the datagram holds. */
    memcpy(buf, store, lstore);
    buf[85] = 0xff; /* len, u32 at offset 85 */
    buf[86] = 0xff;
    expect_malformed(net, b, buf, lstore, DHT_TRANSPORT_DATAGRAM);

    /* Nothing was answered, nobody was learned, the valid ones still work
     * (a PING padded to its PONG's size: wire.md 2.3). */
    assert_int_equal(fake_stats(net, b).nodes, 0);
    assert_int_equal(fake_stats(net, b).msgs_sent, 0);
    free(ping);
    fake_msg_init(&m, DHT__PING, 1, &pid);
    m.pad = 19;
    lping = encode(&m, &ping);
    assert_int_equal(dht_receive(fake_dht(net, b), net->now, ping, lping,
                                 &(dht_addr_t){DHT_AF_INET, {10, 0, 0, 2}, 5000},
                                 DHT_TRANSPORT_DATAGRAM),
                     0);
    assert_int_equal(fake_count(net, NULL, DHT__PONG), 1);
    free(ping);
    free(find);
    free(store);
    free(buf);
    fake_net_free(net);
}

/* A datagram over 1400 bytes is malformed; the same bytes on a stream are
 * a valid message (here a STORE with a bad token, refused as such). */
static void test_oversize_datagram(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t pid = fake_id_b0(0x70);
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int b = add(net, "127.0.0.1:4002", 2);
    static uint8_t value[2000];
    uint8_t *buf;
    size_t len;
    dht__msg_t m;

    (void)state;
    fake_msg_init(&m, DHT__STORE, 3, &pid);
    m.ttl = 60;
    m.value = value;
    m.value_len = DHT_MAX_DATAGRAM + 1 - 89;
    len = encode(&m, &buf);
    assert_int_equal(len, DHT_MAX_DATAGRAM + 1);
    expect_malformed(net, b, buf, len, DHT_TRANSPORT_DATAGRAM);
    assert_int_equal(fake_stats(net, b).dropped_bad_token, 0);
    assert_int_equal(dht_receive(fake_dht(net, b), net->now, buf, len, &p, DHT_TRANSPORT_STREAM),
                     0);
    assert_int_equal(fake_stats(net, b).dropped_bad_token, 1);
    assert_int_equal(fake_count(net, &p, DHT__ERROR), 1);
    fake_clear(net);
    free(buf);

    /* Exactly 1400 bytes is a datagram like any other. */
    m.value_len = DHT_MAX_DATAGRAM - 89;
    len = encode(&m, &buf);
    assert_int_equal(dht_receive(fake_dht(net, b), net->now, buf, len, &p, DHT_TRANSPORT_DATAGRAM),
                     0);
    assert_int_equal(fake_stats(net, b).dropped_bad_token, 2);
    assert_int_equal(fake_stats(net, b).dropped_malformed, 1);
    free(buf);
    fake_net_free(net);
}

/* A value over the receiver's max_value_size is dropped before anything. */
static void test_value_over_max(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t pid = fake_id_b0(0x70);
    dht_config_t cfg;
    static uint8_t value[3000];
    uint8_t *buf;
    size_t len;
    dht__msg_t m;
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.max_value_size = 2000;
    b = add_cfg(net, "127.0.0.1:4002", &cfg);
    fake_msg_init(&m, DHT__STORE, 3, &pid);
    m.ttl = 60;
    m.value = value;
    m.value_len = 2001;
    len = encode(&m, &buf);
    expect_malformed(net, b, buf, len, DHT_TRANSPORT_STREAM);
    assert_int_equal(fake_stats(net, b).values, 0);
    free(buf);
    fake_net_free(net);
}

static void test_own_id_dropped(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    int b = add(net, "127.0.0.1:4002", 2);
    const dht_id_t *self = dht_self(fake_dht(net, b));
    uint8_t *buf;
    size_t len;
    dht__msg_t m;

    (void)state;
    fake_msg_init(&m, DHT__PING, 1, self);
    len = encode(&m, &buf);
    expect_malformed(net, b, buf, len, DHT_TRANSPORT_DATAGRAM);
    free(buf);
    fake_msg_init(&m, DHT__FIND_NODE, 2, self);
    len = encode(&m, &buf);
    expect_malformed(net, b, buf, len, DHT_TRANSPORT_DATAGRAM);
    free(buf);
    fake_msg_init(&m, DHT__PONG, 3, self);
    m.addr = p;
    len = encode(&m, &buf);
    expect_malformed(net, b, buf, len, DHT_TRANSPORT_DATAGRAM);
    free(buf);
    assert_int_equal(fake_stats(net, b).nodes, 0);
    assert_int_equal(fake_stats(net, b).dropped_unsolicited, 0);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Rate limiting                                                            */
/* ------------------------------------------------------------------------ */

/* Sends n PINGs from `from` to core b. @return how many got a PONG. */
static size_t ping_burst(fake_net_t *net, int b, const dht_addr_t *from, unsigned n)
{
    dht_id_t pid = fake_id_b0(0x70);
    size_t before = fake_count(net, from, DHT__PONG);
    dht__msg_t m;

    pid.b[1] = from->ip[3];
    for (unsigned i = 0; i < n; i++) {
        fake_msg_init(&m, DHT__PING, 1000 + i, &pid);
        int rc = fake_inject(net, b, from, &m, DHT_TRANSPORT_DATAGRAM);
        assert_true(rc == 0 || rc == DHT_EBUSY);
    }
    return fake_count(net, from, DHT__PONG) - before;
}

static void test_rate_limit(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000"), p2 = fake_addr("10.0.0.3:5000");
    dht_config_t cfg;
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.rate_limit = 10;
    b = add_cfg(net, "127.0.0.1:4002", &cfg);

    assert_int_equal(ping_burst(net, b, &p, 100), 10);
    assert_int_equal(fake_stats(net, b).dropped_rate_limited, 90);
    /* Another source is not held back by the first. */
    assert_int_equal(ping_burst(net, b, &p2, 1), 1);
    /* Half a second refills half the rate, a second the whole of it (and
     * no more: the bucket holds one second's worth). */
    fake_advance(net, 500);
    assert_int_equal(ping_burst(net, b, &p, 100), 5);
    fake_advance(net, 5000);
    assert_int_equal(ping_burst(net, b, &p, 100), 10);
    assert_int_equal(fake_stats(net, b).dropped_rate_limited, 90 + 95 + 90);
    assert_int_equal(fake_stats(net, b).dropped_malformed, 0);
    fake_net_free(net);
}

static void test_rate_limit_off(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_config_t cfg;
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.rate_limit = 0;
    b = add_cfg(net, "127.0.0.1:4002", &cfg);
    assert_int_equal(ping_burst(net, b, &p, 500), 500);
    assert_int_equal(fake_stats(net, b).dropped_rate_limited, 0);
    fake_net_free(net);
}

/* Replies are not requests: the limit does not apply to them. */
static void test_rate_limit_spares_replies(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r[20] = {{0}};
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_id_t pid = fake_id_b0(0x70);
    dht_config_t cfg;
    dht__msg_t q, rep;
    int a;

    (void)state;
    fake_config(&cfg, 1, NULL);
    cfg.rate_limit = 5;
    a = add_cfg(net, "127.0.0.1:4001", &cfg);
    for (int i = 0; i < 20; i++)
        assert_int_equal(dht_ping(fake_dht(net, a), &p, fake_ping_cb, &r[i]), 0);
    for (int i = 0; i < 20; i++) {
        int at = fake_find_msg(net, &p, DHT__PING, &q);
        assert_true(at >= 0);
        fake_msg_init(&rep, DHT__PONG, q.txid, &pid);
        rep.addr = *fake_addr_of(net, a);
        fake_drop(net, (size_t)at);
        assert_int_equal(fake_inject(net, a, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    }
    for (int i = 0; i < 20; i++)
        assert_int_equal(r[i].status, 0);
    assert_int_equal(fake_stats(net, a).dropped_rate_limited, 0);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Node states                                                              */
/* ------------------------------------------------------------------------ */

static void test_node_goes_bad(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t target = fake_id_b0(0x99);
    dht_node_info_t out[4];
    int a = add(net, "127.0.0.1:4001", 1);
    int b = add(net, "127.0.0.1:4002", 2);

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.status, 0);
    assert_int_equal(fake_stats(net, a).nodes_good, 1);

    /* B stops answering; each lookup is one failed request for it. */
    net->nodes[b].online = 0;
    for (int round = 1; round <= 2; round++) {
        fake_result_clear(&r);
        assert_int_equal(dht_find_node(fake_dht(net, a), &target, fake_nodes_cb, &r), 0);
        assert_int_equal(fake_run(net, &r.calls, 60000), 1);
        assert_int_equal(r.status, DHT_ENOPEERS);
        assert_int_equal(fake_stats(net, a).nodes_bad, round == 2 ? 1 : 0);
    }
    assert_int_equal(fake_stats(net, a).nodes, 1);
    assert_int_equal(dht_closest_nodes(fake_dht(net, a), &target, out, 4), 0);

    /* A request from it is no proof it is back, but A pings it: once,
     * however many requests B sends meanwhile... */
    net->nodes[b].online = 1;
    fake_result_clear(&r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dht_ping(fake_dht(net, b), fake_addr_of(net, a), fake_ping_cb, &r), 0);
    for (int i = 0; i < 3; i++) {
        fake_msg_t m;
        assert_int_equal(fake_pop(net, &m), 1); /* B's pings, in order */
        fake_deliver(net, &m);
        fake_msg_free(&m);
    }
    assert_int_equal(fake_count(net, fake_addr_of(net, b), DHT__PING), 1);
    assert_int_equal(fake_stats(net, a).nodes_bad, 1);
    /* ...and B's answer makes it good again. */
    fake_pump(net);
    assert_int_equal(r.calls, 3);
    assert_int_equal(r.status, 0);
    assert_int_equal(fake_stats(net, a).nodes_bad, 0);
    assert_int_equal(fake_stats(net, a).nodes_good, 1);
    assert_int_equal(dht_closest_nodes(fake_dht(net, a), &target, out, 4), 1);
    assert_memory_equal(&out[0].id, dht_self(fake_dht(net, b)), sizeof(dht_id_t));
    fake_net_free(net);
}

/* Virtual milliseconds a dht_put_ex of `copies` copies from node 0 takes. */
static uint64_t timed_put(fake_net_t *net, uint8_t key_byte, unsigned copies)
{
    fake_result_t r = {0};
    dht_put_opts_t opts = {.copies = copies};
    dht_id_t key = fake_id_b0(key_byte);
    uint64_t t0 = net->now;

    assert_int_equal(dht_put_ex(fake_dht(net, 0), &key, "v", 1, 3600, &opts, fake_put_cb, &r), 0);
    assert_int_equal(fake_run(net, &r.calls, 60000), 1);
    assert_int_equal(r.status, 0);
    return net->now - t0;
}

/* A file's put on a network smaller than k right after a quarter of it
 * died: its chunk's put waits one adaptive timeout for the dead, and its
 * manifest's put (20 copies: more than the live nodes) must not wait
 * another for the same nodes, marked slow by then. Found with bench_dead:
 * the first put after 5 of 20 daemons were killed took 2.4 to 3 times a
 * healthy one, two timeouts where one was due. */
static void test_dead_cost_one_timeout(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t target = fake_id_b0(0x42);
    uint32_t rto;
    uint64_t first, second;

    (void)state;
    for (int i = 0; i < 20; i++) {
        char addr[32];
        fake_result_t b = {0};
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        assert_int_equal(add(net, addr, (uint64_t)i + 1), i);
        if (i == 0)
            continue;
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &b), 0);
        fake_run(net, &b.calls, 60000);
        assert_int_equal(b.status, 0);
    }
    for (int round = 0; round < 4; round++) { /* enough replies for the adaptive timeout */
        fake_result_t r = {0};
        assert_int_equal(dht_find_node(fake_dht(net, 0), &target, fake_nodes_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.n_nodes, 19);
    }
    rto = dht__rpc_rto(fake_dht(net, 0));
    assert_true(rto < fake_dht(net, 0)->cfg.timeout_ms);
    for (int i = 15; i < 20; i++)
        net->nodes[i].online = 0;
    first = timed_put(net, 0x10, 8);   /* a chunk: 8 copies */
    second = timed_put(net, 0x11, 20); /* its manifest: 20 */
    print_message("rto %u ms; chunk put %llu ms, manifest put %llu ms\n", rto,
                  (unsigned long long)first, (unsigned long long)second);
    assert_true(first >= rto); /* the dead met: one timeout */
    assert_true(second < rto); /* known slow: no second one */
    fake_net_free(net);
}

/* The same network, where the dead are processes that died on hosts that
 * are up: each datagram to them comes back as an ICMP port unreachable
 * (fake_net's icmp, the libuv shell's error queue), and neither put waits
 * for them: both take less than one adaptive timeout (the chunk's took at
 * least one before dht_unreachable). */
static void test_dead_port_costs_no_timeout(void **state)
{
    fake_net_t *net = new_net();
    dht_id_t target = fake_id_b0(0x42);
    uint32_t rto;
    uint64_t first, second;
    dht_stats_t st;

    (void)state;
    for (int i = 0; i < 20; i++) {
        char addr[32];
        fake_result_t b = {0};
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        assert_int_equal(add(net, addr, (uint64_t)i + 1), i);
        if (i == 0)
            continue;
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &b), 0);
        fake_run(net, &b.calls, 60000);
        assert_int_equal(b.status, 0);
    }
    for (int round = 0; round < 4; round++) {
        fake_result_t r = {0};
        assert_int_equal(dht_find_node(fake_dht(net, 0), &target, fake_nodes_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.n_nodes, 19);
    }
    rto = dht__rpc_rto(fake_dht(net, 0));
    for (int i = 15; i < 20; i++)
        net->nodes[i].online = 0;
    net->icmp = 1;
    first = timed_put(net, 0x10, 8);
    second = timed_put(net, 0x11, 20);
    dht_get_stats(fake_dht(net, 0), net->now, &st);
    print_message("rto %u ms; chunk put %llu ms, manifest put %llu ms; %llu reports\n", rto,
                  (unsigned long long)first, (unsigned long long)second,
                  (unsigned long long)st.rpc_unreachable);
    assert_true(first < rto);
    assert_true(second < rto);
    assert_true(st.rpc_unreachable > 0);
    assert_true(net->icmp_reports >= st.rpc_unreachable);
    fake_net_free(net);
}

/* A report is no more than the loss of the attempt it names: a live node
 * reported unreachable (a forged ICMP, or one about an earlier process on
 * its port) gets the request again at once and its answer counts; a
 * closed port that answers every attempt so fails the request within its
 * attempts, long before its timeouts, and the node is bad at the second
 * such request (DHT__RT_BAD_FAILS failures). */
static void test_unreachable_is_a_lost_attempt(void **state)
{
    fake_net_t *net = new_net();
    int a = add(net, "127.0.0.1:4001", 1);
    int b = add(net, "127.0.0.1:4002", 2);
    fake_result_t r = {0};
    dht_stats_t st;

    (void)state;
    assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
    /* Forged: the ping is in flight to a live node. */
    assert_int_equal(dht_unreachable(fake_dht(net, a), net->now, fake_addr_of(net, b)), 1);
    assert_int_equal(fake_count(net, fake_addr_of(net, b), DHT__PING), 2); /* sent again */
    fake_run(net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    dht_get_stats(fake_dht(net, a), net->now, &st);
    assert_int_equal(st.rpc_unreachable, 1);
    assert_int_equal(st.nodes_bad, 0);
    /* Nothing in flight there: nothing to cut. */
    assert_int_equal(dht_unreachable(fake_dht(net, a), net->now, fake_addr_of(net, b)), 0);
    assert_int_equal(dht_unreachable(NULL, net->now, fake_addr_of(net, b)), DHT_EINVAL);
    assert_int_equal(dht_unreachable(fake_dht(net, a), net->now, NULL), DHT_EINVAL);

    /* b's process dies; its host reports every datagram. */
    net->nodes[b].online = 0;
    net->icmp = 1;
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = net->now;
        fake_result_t p = {0};
        dht_id_t bid = *dht_self(fake_dht(net, b));
        assert_int_equal(dht_find_node(fake_dht(net, a), &bid, fake_nodes_cb, &p), 0);
        fake_run(net, &p.calls, 60000);
        print_message("round %d: %llu ms\n", round, (unsigned long long)(net->now - t0));
        assert_true(net->now - t0 < dht__rpc_rto(fake_dht(net, a)));
    }
    dht_get_stats(fake_dht(net, a), net->now, &st);
    assert_int_equal(st.nodes_bad, 1);
    assert_int_equal(st.rpc_timeouts, 0);
    fake_net_free(net);
}

/* A sender that asks and asks but never answers (a forged address, say)
 * gets one verification ping at a time: its resends, then a new ping only
 * once that one has failed. Found in review: the ping's first-attempt
 * timeout cleared the one-at-a-time mark, and with a 10 ms adaptive
 * timeout a request every millisecond drew 299 pings in a second. */
static void test_one_proof_ping_at_a_time(void **state)
{
    fake_net_t *net = new_net();
    int a = add(net, "127.0.0.1:4001", 1);
    int b = add(net, "127.0.0.1:4002", 2);
    dht_addr_t p = fake_addr("192.0.2.50:6000");
    dht_id_t silent = fake_id_b0(0x5a);

    (void)state;
    /* A measures round trips (zero here): its adaptive timeout, 10 ms. */
    for (int i = 0; i < 20; i++) {
        fake_result_t r = {0};
        assert_int_equal(dht_ping(fake_dht(net, a), fake_addr_of(net, b), fake_ping_cb, &r), 0);
        fake_run(net, &r.calls, 10000);
        assert_int_equal(r.status, 0);
    }
    fake_clear(net);
    for (uint32_t t = 0; t < 900; t++) {
        dht__msg_t q;
        fake_msg_init(&q, DHT__FIND_NODE, 7000 + t, &silent);
        q.target = silent;
        assert_int_equal(fake_inject(net, a, &p, &q, DHT_TRANSPORT_DATAGRAM), 0);
        fake_advance(net, 1);
    }
    /* One ping, sent up to 3 times; it has not failed yet (its last wait
     * is the full timeout, 1 s). */
    print_message("pings to the silent sender: %zu\n", fake_count(net, &p, DHT__PING));
    assert_true(fake_count(net, &p, DHT__PING) >= 1);
    assert_true(fake_count(net, &p, DHT__PING) <= 3);
    assert_true(fake_stats(net, a).rpcs_in_flight <= 1);
    fake_net_free(net);
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_matching),
        cmocka_unit_test(test_reply_without_request),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_timeout_resends),
        cmocka_unit_test(test_timeout_no_retries),
        cmocka_unit_test(test_late_reply),
        cmocka_unit_test(test_lookup_timeout_stats),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversize_datagram),
        cmocka_unit_test(test_value_over_max),
        cmocka_unit_test(test_own_id_dropped),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limit_off),
        cmocka_unit_test(test_rate_limit_spares_replies),
        cmocka_unit_test(test_node_goes_bad),
        cmocka_unit_test(test_one_proof_ping_at_a_time),
        cmocka_unit_test(test_dead_cost_one_timeout),
        cmocka_unit_test(test_dead_port_costs_no_timeout),
        cmocka_unit_test(test_unreachable_is_a_lost_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
