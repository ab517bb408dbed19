/*
 * Tests of storing and finding values through the core (server.c, ops.c,
 * get.c), on the fake network of tests/helpers/fake_net.c: STORE tokens and
 * their rotation, content-addressed values on both sides, dht_put and
 * dht_get across a few cores (several values, a large value on a stream,
 * expiry), FIND_VALUE paging, and values served from a program's
 * value source (value_size, value_read: verified before they are sent).
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
#include "node.h" /* the store, for holder() */

#define MINUTE (60u * 1000u)

static dht_id_t sha(const char *s)
{
    dht_id_t id;

    dht_id_from_bytes(&id, s, strlen(s));
    return id;
}

static int add(fake_net_t *net, const char *hostport, uint64_t seed)
{
    dht_config_t cfg;

    fake_config(&cfg, seed, NULL);
    return add_cfg(net, hostport, &cfg);
}

/* ------------------------------------------------------------------------ */
/* Playing a peer against one core                                          */
/* ------------------------------------------------------------------------ */

static const dht_id_t *peer_id(void)
{
    static dht_id_t id;

    id = fake_id_b0(0x70);
    return &id;
}

/* Asks core b for a token with FIND_NODE (or FIND_VALUE) from `from`. */
static void get_token(fake_net_t *net, int b, const dht_addr_t *from, int find_value,
                      uint8_t token[DHT__WIRE_TOKEN_LEN])
{
    dht__msg_t q, r;

    fake_msg_init(&q, find_value ? DHT__FIND_VALUE : DHT__FIND_NODE, 77, peer_id());
    q.target = fake_id_b0(0x01);
    assert_int_equal(fake_request(net, b, from, &q, &r), 0);
    assert_int_equal(r.type, find_value ? DHT__VALUES : DHT__NODES);
    memcpy(token, r.token, DHT__WIRE_TOKEN_LEN);
}

/* Sends STORE to core b from `from`. @return the reply's type; *err_code
 * gets the ERROR code if it is one. */
static int store(fake_net_t *net, int b, const dht_addr_t *from, const uint8_t *token,
                 const dht_id_t *key, const char *value, uint8_t flags, uint32_t ttl,
                 unsigned *err_code)
{
    dht__msg_t q, r;

    fake_msg_init(&q, DHT__STORE, 78, peer_id());
    memcpy(q.token, token, DHT__WIRE_TOKEN_LEN);
    q.target = *key;
    q.ttl = ttl;
    q.flags = flags;
    q.value = (const uint8_t *)value;
    q.value_len = (uint32_t)strlen(value);
    assert_int_equal(fake_request(net, b, from, &q, &r), 0);
    *err_code = r.type == DHT__ERROR ? r.err_code : 0;
    return r.type;
}

static void test_store_token(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_addr_t p_port = fake_addr("10.0.0.2:5001"), p_ip = fake_addr("10.0.0.3:5000");
    dht_addr_t p6 = fake_addr("[2001:db8::2]:5000");
    dht_id_t key = fake_id_b0(0x42);
    uint8_t tok[8], tok_fv[8], tok6[8];
    unsigned code;
    int b = add(net, "127.0.0.1:4002", 2);

    (void)state;
    get_token(net, b, &p, 0, tok);
    get_token(net, b, &p, 1, tok_fv);
    assert_memory_equal(tok, tok_fv, 8); /* the same for NODES and VALUES */
    assert_int_equal(store(net, b, &p, tok, &key, "v1", 0, 60, &code), DHT__STORED);
    assert_int_equal(fake_stats(net, b).values, 1);

    /* A wrong token. */
    tok[3] ^= 1;
    assert_int_equal(store(net, b, &p, tok, &key, "v2", 0, 60, &code), DHT__ERROR);
    assert_int_equal(code, DHT__WERR_BAD_TOKEN);
    tok[3] ^= 1;
    /* The right token from another port, another address. */
    assert_int_equal(store(net, b, &p_port, tok, &key, "v3", 0, 60, &code), DHT__ERROR);
    assert_int_equal(code, DHT__WERR_BAD_TOKEN);
    assert_int_equal(store(net, b, &p_ip, tok, &key, "v4", 0, 60, &code), DHT__ERROR);
    assert_int_equal(code, DHT__WERR_BAD_TOKEN);
    assert_int_equal(fake_stats(net, b).dropped_bad_token, 3);
    assert_int_equal(fake_stats(net, b).values, 1);

    /* IPv6 sources get their own tokens. */
    get_token(net, b, &p6, 0, tok6);
    assert_memory_not_equal(tok, tok6, 8);
    assert_int_equal(store(net, b, &p6, tok, &key, "v5", 0, 60, &code), DHT__ERROR);
    assert_int_equal(store(net, b, &p6, tok6, &key, "v5", 0, 60, &code), DHT__STORED);
    assert_int_equal(fake_stats(net, b).values, 2);
    fake_net_free(net);
}

/* A full node shares its store among the addresses that stored in it
 * (store.h): one source storing without end never crowds the others out,
 * from whatever port it stores, and is refused (counted) at its share. */
static void test_store_fair_share(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t flood = fake_addr("10.0.0.66:5000"), flood2 = fake_addr("10.0.0.66:5001");
    dht_addr_t honest = fake_addr("10.0.0.2:5000");
    dht_source_t src_flood, src_honest;
    uint8_t tok[8], tok2[8], tok_h[8];
    unsigned code, stored = 0, refused = 0;
    dht_config_t cfg;
    char value[32];
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.store_max_bytes = 200; /* ten values of 20 bytes */
    cfg.store_value_cost = 0;  /* each counts for its bytes */
    cfg.store_settle_ms = 0;   /* a source's values may give way to its own at once */
    b = add_cfg(net, "127.0.0.1:4002", &cfg);
    dht__source_of(&src_flood, &flood);
    dht__source_of(&src_honest, &honest);
    get_token(net, b, &flood, 0, tok);
    get_token(net, b, &flood2, 0, tok2);
    get_token(net, b, &honest, 0, tok_h);
    for (int i = 0; i < 40; i++) { /* the flood fills the store */
        dht_id_t key = fake_id_b0((uint8_t)(0x80 + i));
        snprintf(value, sizeof(value), "flood value %08d", i);
        stored += store(net, b, &flood, tok, &key, value, 0, 600, &code) == DHT__STORED;
    }
    assert_int_equal(dht__store_source_bytes(fake_dht(net, b)->store, &src_flood), 200);
    assert_true(stored >= 10);
    for (int i = 0; i < 5; i++) { /* an honest peer still stores, up to its share */
        dht_id_t key = fake_id_b0((uint8_t)(0x10 + i));
        snprintf(value, sizeof(value), "honest value %07d", i);
        assert_int_equal(store(net, b, &honest, tok_h, &key, value, 0, 600, &code), DHT__STORED);
    }
    assert_int_equal(dht__store_source_bytes(fake_dht(net, b)->store, &src_honest), 100);
    assert_int_equal(dht__store_source_bytes(fake_dht(net, b)->store, &src_flood), 100);
    /* The flood goes on from both ports, with keys next to the node's own
     * id: it only ever replaces its own values, or is refused. */
    for (int i = 0; i < 40; i++) {
        dht_id_t key = fake_id_b0((uint8_t)i);
        key.b[1] = 0xee;
        snprintf(value, sizeof(value), "flood again %08d", i);
        if (store(net, b, i % 2 ? &flood2 : &flood, i % 2 ? tok2 : tok, &key, value, 0, 600,
                  &code) != DHT__STORED) {
            assert_int_equal(code, DHT__WERR_FULL);
            refused++;
        }
    }
    assert_int_equal(dht__store_source_bytes(fake_dht(net, b)->store, &src_honest), 100);
    assert_int_equal(dht__store_source_bytes(fake_dht(net, b)->store, &src_flood), 100);
    assert_true(refused > 0 && refused < 40);
    /* Alone, the flood's share was the whole store: its first refusals count too. */
    assert_int_equal(fake_stats(net, b).refused_over_share, 40 - stored + refused);
    assert_int_equal(fake_stats(net, b).values, 10);
    fake_net_free(net);
}

/* A flood of tiny values holds store_max_bytes / store_value_cost of them
 * at most (each counts for 4096 bytes by default), and still leaves room
 * for another source's. */
static void test_store_tiny_flood(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t flood = fake_addr("10.0.0.66:5000"), honest = fake_addr("10.0.0.2:5000");
    uint8_t tok[8], tok_h[8];
    unsigned code;
    dht_config_t cfg;
    char value[16];
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.store_max_bytes = 64u << 10; /* sixteen values of 4096 */
    b = add_cfg(net, "127.0.0.1:4002", &cfg);
    get_token(net, b, &flood, 0, tok);
    get_token(net, b, &honest, 0, tok_h);
    for (int i = 0; i < 200; i++) {
        dht_id_t key = fake_id_b0((uint8_t)i);
        snprintf(value, sizeof(value), "t%d", i);
        store(net, b, &flood, tok, &key, value, 0, 600, &code);
    }
    assert_int_equal(fake_stats(net, b).values, 16);
    for (int i = 0; i < 8; i++) { /* its share: half of 16 */
        dht_id_t key = fake_id_b0((uint8_t)i);
        key.b[1] = 0x5a;
        snprintf(value, sizeof(value), "h%d", i);
        assert_int_equal(store(net, b, &honest, tok_h, &key, value, 0, 600, &code), DHT__STORED);
    }
    assert_int_equal(fake_stats(net, b).values, 16);
    fake_net_free(net);
}

/* Who counts as one source: an IPv4 address (whatever its port, and
 * however a dual-stack socket shows it), an IPv6 /64; never all zero
 * (the node itself) for a peer. */
static void test_source_of(void **state)
{
    static const dht_source_t zero;
    const char *same[][2] = {{"10.0.0.66:5000", "10.0.0.66:6000"},
                             {"10.0.0.66:5000", "[::ffff:10.0.0.66]:5000"},
                             {"[2001:db8::2]:5000", "[2001:db8::3]:6000"}};
    const char *differ[][2] = {{"10.0.0.66:5000", "10.0.0.67:5000"},
                               {"[2001:db8::2]:5000", "[2001:db8:0:1::2]:5000"},
                               {"[::1]:5000", "[::2]:5000"}};
    const char *peers[] = {"0.0.0.0:1", "[::1]:1", "[::ffff:0.0.0.0]:1", "[::2]:1"};
    dht_source_t a, b;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        dht_addr_t x = fake_addr(same[i][0]), y = fake_addr(same[i][1]);
        dht__source_of(&a, &x);
        dht__source_of(&b, &y);
        assert_memory_equal(a.b, b.b, sizeof(a.b));
        x = fake_addr(differ[i][0]);
        y = fake_addr(differ[i][1]);
        dht__source_of(&a, &x);
        dht__source_of(&b, &y);
        assert_memory_not_equal(a.b, b.b, sizeof(a.b));
    }
    for (size_t i = 0; i < 4; i++) {
        dht_addr_t x = fake_addr(peers[i]);
        dht__source_of(&a, &x);
        assert_memory_not_equal(a.b, zero.b, sizeof(a.b));
    }
}

/* Tokens live through one secret rotation (5 minutes), not two. */
static void test_token_rotation(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_id_t key = fake_id_b0(0x42);
    uint8_t tok[8], tok2[8];
    unsigned code;
    int b = add(net, "127.0.0.1:4002", 2);

    (void)state;
    get_token(net, b, &p, 0, tok);
    fake_advance(net, 5 * MINUTE - 1);
    get_token(net, b, &p, 0, tok2);
    assert_memory_equal(tok, tok2, 8); /* not rotated yet */
    fake_advance(net, 1);
    get_token(net, b, &p, 0, tok2);
    assert_memory_not_equal(tok, tok2, 8); /* rotated */
    assert_int_equal(store(net, b, &p, tok, &key, "old", 0, 3600, &code), DHT__STORED);
    assert_int_equal(store(net, b, &p, tok2, &key, "new", 0, 3600, &code), DHT__STORED);

    fake_advance(net, 5 * MINUTE); /* the second rotation */
    assert_int_equal(store(net, b, &p, tok, &key, "older", 0, 3600, &code), DHT__ERROR);
    assert_int_equal(code, DHT__WERR_BAD_TOKEN);
    assert_int_equal(store(net, b, &p, tok2, &key, "newer", 0, 3600, &code), DHT__STORED);
    fake_advance(net, 5 * MINUTE);
    assert_int_equal(store(net, b, &p, tok2, &key, "newest", 0, 3600, &code), DHT__ERROR);
    assert_int_equal(fake_stats(net, b).dropped_bad_token, 2);
    assert_int_equal(fake_stats(net, b).values, 3);
    fake_net_free(net);
}

static void test_store_content_addressed(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_id_t good = sha("hello"), other = sha("other");
    uint8_t tok[8];
    unsigned code;
    int b = add(net, "127.0.0.1:4002", 2);
    dht__msg_t q, r;

    (void)state;
    get_token(net, b, &p, 0, tok);
    assert_int_equal(store(net, b, &p, tok, &other, "hello", 0x01, 60, &code), DHT__ERROR);
    assert_int_equal(code, DHT__WERR_BAD_VALUE);
    assert_int_equal(fake_stats(net, b).dropped_bad_value, 1);
    assert_int_equal(fake_stats(net, b).values, 0);
    assert_int_equal(store(net, b, &p, tok, &good, "hello", 0x01, 60, &code), DHT__STORED);
    /* Without the flag there is no claim to check. */
    assert_int_equal(store(net, b, &p, tok, &other, "hello", 0x00, 60, &code), DHT__STORED);
    assert_int_equal(fake_stats(net, b).values, 2);
    assert_int_equal(fake_stats(net, b).dropped_bad_value, 1);

    /* GET_VALUE hands it back with its flag; a hash it lacks is refused. */
    fake_msg_init(&q, DHT__GET_VALUE, 5, peer_id());
    q.target = good;
    q.hash = good;
    assert_int_equal(fake_request(net, b, &p, &q, &r), 0);
    assert_int_equal(r.type, DHT__VALUE);
    assert_int_equal(r.flags, 0x01);
    assert_int_equal(r.value_len, 5);
    assert_memory_equal(r.value, "hello", 5);
    assert_true(r.ttl >= 59 && r.ttl <= 60);
    q.hash = other;
    assert_int_equal(fake_request(net, b, &p, &q, &r), 0);
    assert_int_equal(r.type, DHT__ERROR);
    assert_int_equal(r.err_code, DHT__WERR_NOT_FOUND);
    fake_net_free(net);
}

/* A STORE's ttl is cut to max_ttl_s; ttl 0 becomes one second. */
static void test_store_ttl(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("10.0.0.2:5000");
    dht_id_t k1 = fake_id_b0(0x42), k2 = fake_id_b0(0x43);
    dht_config_t cfg;
    uint8_t tok[8];
    unsigned code;
    dht__msg_t q, r;
    int b;

    (void)state;
    fake_config(&cfg, 2, NULL);
    cfg.max_ttl_s = 100;
    b = add_cfg(net, "127.0.0.1:4002", &cfg);
    get_token(net, b, &p, 0, tok);
    assert_int_equal(store(net, b, &p, tok, &k1, "long", 0, 1000000, &code), DHT__STORED);
    assert_int_equal(store(net, b, &p, tok, &k2, "zero", 0, 0, &code), DHT__STORED);
    fake_msg_init(&q, DHT__FIND_VALUE, 9, peer_id());
    q.target = k1;
    assert_int_equal(fake_request(net, b, &p, &q, &r), 0);
    assert_int_equal(r.n_entries, 1);
    assert_int_equal(r.entries[0].ttl, 100);
    fake_advance(net, 1000);
    assert_int_equal(fake_stats(net, b).values, 1); /* k2's went after 1 s */
    fake_advance(net, 99 * 1000);
    assert_int_equal(fake_stats(net, b).values, 0);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* The getter's checks, against a peer played by hand                        */
/* ------------------------------------------------------------------------ */

/* A core G that knows one peer P, which is not on the net. */
static int getter(fake_net_t *net, dht_addr_t *paddr)
{
    int g = add(net, "127.0.0.1:4001", 1);

    *paddr = fake_addr("10.0.0.2:5000");
    assert_int_equal(dht_insert_node(fake_dht(net, g), peer_id(), paddr, net->now), 0);
    return g;
}

/* Takes G's FIND_VALUE to paddr off the queue and starts a VALUES reply
 * from sender (NULL: peer_id()). */
static void values_reply_from(fake_net_t *net, const dht_addr_t *paddr, const dht_id_t *sender,
                              dht__msg_t *rep)
{
    dht__msg_t q;
    int at = fake_find_msg(net, paddr, DHT__FIND_VALUE, &q);

    assert_true(at >= 0);
    assert_int_equal(q.first, 0);
    fake_msg_init(rep, DHT__VALUES, q.txid, sender ? sender : peer_id());
    fake_drop(net, (size_t)at);
}

static void values_reply(fake_net_t *net, const dht_addr_t *paddr, dht__msg_t *rep)
{
    values_reply_from(net, paddr, NULL, rep);
}

static void set_inline(dht__wire_entry_t *e, const char *data, uint8_t flags)
{
    e->is_summary = 0;
    e->flags = flags;
    e->ttl = 60;
    e->len = (uint32_t)strlen(data);
    e->data = (const uint8_t *)data;
}

static void test_values_bad_content(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0}, r2 = {0};
    dht_id_t key = fake_id_b0(0x33);
    dht_addr_t p;
    dht__msg_t rep;
    int g = getter(net, &p);

    (void)state;
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
    values_reply(net, &p, &rep);
    rep.total = 3;
    rep.n_entries = 3;
    set_inline(&rep.entries[0], "bogus", 0x01); /* claims key == SHA-256 */
    set_inline(&rep.entries[1], "plain", 0x00);
    rep.entries[2].is_summary = 1; /* a summary making the same false claim */
    rep.entries[2].flags = 0x01;
    rep.entries[2].len = 3000;
    rep.entries[2].hash = sha("x");
    assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_values, 1);
    assert_true(fake_result_has(&r, "plain", 5));
    assert_int_equal(fake_stats(net, g).dropped_bad_value, 2);
    assert_int_equal(fake_count(net, NULL, DHT__GET_VALUE), 0); /* nothing fetched */

    /* Only a false claim: nothing found. */
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r2), 0);
    values_reply(net, &p, &rep);
    rep.total = 1;
    rep.n_entries = 1;
    set_inline(&rep.entries[0], "bogus", 0x01);
    assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    fake_run(net, &r2.calls, 10000);
    assert_int_equal(r2.status, DHT_ENOTFOUND);
    assert_int_equal(r2.n_values, 0);
    assert_int_equal(fake_stats(net, g).dropped_bad_value, 3);
    fake_result_clear(&r);
    fake_result_clear(&r2);
    fake_net_free(net);
}

/* A true content-addressed value ends the get and is kept. */
static void test_values_content_ok(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = sha("the value");
    dht_addr_t p;
    dht__msg_t rep;
    int g = getter(net, &p);

    (void)state;
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
    values_reply(net, &p, &rep);
    rep.total = 1;
    rep.n_entries = 1;
    set_inline(&rep.entries[0], "the value", 0x01);
    assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_values, 1);
    assert_memory_equal(&r.values[0].hash, &key, sizeof(key));
    assert_int_equal(r.values[0].ttl_s, 60);
    fake_result_clear(&r);
    fake_net_free(net);
}

/* A fetched value must hash to the summary's hash. */
static void test_fetch_checks_hash(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = fake_id_b0(0x33), h = sha("real");
    const char *answers[2] = {"fake", "real"};
    dht_addr_t p;
    dht__msg_t rep, q;
    int g = getter(net, &p);

    (void)state;
    for (int i = 0; i < 2; i++) {
        fake_result_clear(&r);
        assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
        values_reply(net, &p, &rep);
        rep.total = 1;
        rep.n_entries = 1;
        rep.entries[0].is_summary = 1;
        rep.entries[0].ttl = 60;
        rep.entries[0].len = 4;
        rep.entries[0].hash = h;
        assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
        int at = fake_find_msg(net, &p, DHT__GET_VALUE, &q);
        assert_true(at >= 0);
        assert_memory_equal(&q.hash, &h, sizeof(h));
        assert_memory_equal(&q.target, &key, sizeof(key));
        fake_msg_init(&rep, DHT__VALUE, q.txid, peer_id());
        fake_drop(net, (size_t)at);
        rep.ttl = 30;
        rep.value = (const uint8_t *)answers[i];
        rep.value_len = 4;
        assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
        fake_run(net, &r.calls, 10000);
        assert_int_equal(r.calls, 1);
        if (i == 0) {
            assert_int_equal(r.status, DHT_ENOTFOUND);
            assert_int_equal(fake_stats(net, g).dropped_bad_value, 1);
        } else {
            assert_int_equal(r.status, 0);
            assert_true(fake_result_has(&r, "real", 4));
            assert_int_equal(r.values[0].ttl_s, 30);
        }
    }
    fake_result_clear(&r);
    fake_net_free(net);
}

/* Regression: a summary whose hash equals the key must not end a get's
 * lookup before the value has been fetched and checked: if that holder
 * then fails, a value another node carries must still be found. */
static void test_summary_does_not_end_lookup(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = sha("truth"), p2id = fake_id_b0(0x71);
    dht_addr_t p, p2 = fake_addr("10.0.0.3:5000");
    dht__msg_t rep, q;
    int g = getter(net, &p), at;

    (void)state;
    assert_int_equal(dht_insert_node(fake_dht(net, g), &p2id, &p2, net->now), 0);
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
    /* P announces the value by hash... */
    values_reply(net, &p, &rep);
    rep.total = 1;
    rep.n_entries = 1;
    rep.entries[0].is_summary = 1;
    rep.entries[0].flags = 0x01;
    rep.entries[0].ttl = 60;
    rep.entries[0].len = 5;
    rep.entries[0].hash = key;
    assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    /* ...P2 carries it inline... */
    values_reply_from(net, &p2, &p2id, &rep);
    rep.total = 1;
    rep.n_entries = 1;
    set_inline(&rep.entries[0], "truth", 0x01);
    assert_int_equal(fake_inject(net, g, &p2, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    /* ...and P does not hand it over. */
    at = fake_find_msg(net, &p, DHT__GET_VALUE, &q);
    if (at >= 0) {
        fake_msg_init(&rep, DHT__ERROR, q.txid, peer_id());
        rep.err_code = DHT__WERR_NOT_FOUND;
        fake_drop(net, (size_t)at);
        assert_int_equal(fake_inject(net, g, &p, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    }
    fake_run(net, &r.calls, 10000);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_true(fake_result_has(&r, "truth", 5));
    fake_result_clear(&r);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* put and get across a few cores                                           */
/* ------------------------------------------------------------------------ */

enum { NN = 8, NK = 4 };

static dht_id_t g_key;
static int by_distance(const void *x, const void *y)
{
    const dht_id_t *a = x, *b = y;

    return dht_id_cmp_distance(&g_key, a, b);
}

/* NN cores with k = NK joined through core 0; order[] gets their indexes
 * sorted by distance to key, nearest first. */
static void build(fake_net_t *net, const dht_id_t *key, int order[NN])
{
    dht_id_t ids[NN], sorted[NN];
    dht_config_t cfg;
    char addr[32];

    for (int i = 0; i < NN; i++) {
        fake_result_t r = {0};
        fake_config(&cfg, (uint64_t)i + 1, NULL);
        cfg.k = NK;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        assert_int_equal(add_cfg(net, addr, &cfg), i);
        ids[i] = sorted[i] = *dht_self(fake_dht(net, i));
        if (i == 0)
            continue;
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.status, 0);
    }
    g_key = *key;
    qsort(sorted, NN, sizeof(sorted[0]), by_distance);
    for (int i = 0; i < NN; i++)
        for (int j = 0; j < NN; j++)
            if (dht_id_cmp(&sorted[i], &ids[j]) == 0)
                order[i] = j;
}

static void test_put_get(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t ru = {0}, rg = {0};
    dht_id_t key = fake_id_b0(0x3c), h = sha("hello");
    int order[NN];

    (void)state;
    build(net, &key, order);
    /* The farthest node puts; the nearest NK hold it afterwards. */
    assert_int_equal(dht_put(fake_dht(net, order[NN - 1]), &key, "hello", 5, 60, fake_put_cb, &ru),
                     0);
    assert_int_equal(ru.calls, 0);
    assert_int_equal(fake_run(net, &ru.calls, 60000), 1);
    assert_int_equal(ru.status, 0);
    assert_int_equal(ru.stored, NK);
    for (int i = 0; i < NN; i++)
        assert_int_equal(fake_stats(net, order[i]).values, i < NK ? 1 : 0);

    assert_int_equal(dht_get(fake_dht(net, order[NN - 2]), &key, fake_get_cb, &rg), 0);
    assert_int_equal(rg.calls, 0);
    assert_int_equal(fake_run(net, &rg.calls, 60000), 1);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    assert_int_equal(rg.values[0].len, 5);
    assert_memory_equal(rg.values[0].data, "hello", 5);
    assert_memory_equal(&rg.values[0].hash, &h, sizeof(h));
    assert_true(rg.values[0].ttl_s >= 59 && rg.values[0].ttl_s <= 60);

    /* A key nobody stored under. */
    key.b[31] ^= 1;
    fake_result_clear(&rg);
    assert_int_equal(dht_get(fake_dht(net, order[NN - 2]), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, DHT_ENOTFOUND);
    assert_int_equal(rg.n_values, 0);
    assert_int_equal(net->oversize_datagrams, 0);
    fake_result_clear(&rg);
    fake_net_free(net);
}

/* Regression: when the putting node is itself among the k closest, it
 * keeps a copy instead of the k-th closest: the value lives on exactly k
 * nodes. */
static void test_put_from_close_node(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t ru = {0};
    dht_id_t key = fake_id_b0(0x3c);
    int order[NN];

    (void)state;
    build(net, &key, order);
    assert_int_equal(dht_put(fake_dht(net, order[0]), &key, "hello", 5, 60, fake_put_cb, &ru), 0);
    fake_run(net, &ru.calls, 60000);
    assert_int_equal(ru.status, 0);
    for (int i = 0; i < NN; i++)
        assert_int_equal(fake_stats(net, order[i]).values, i < NK ? 1 : 0);
    assert_int_equal(ru.stored, NK);
    fake_net_free(net);
}

static void test_several_values(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t ru = {0}, rg = {0};
    dht_id_t key = fake_id_b0(0xc3);
    const char *vals[3] = {"one", "two", "three"};
    int order[NN];

    (void)state;
    build(net, &key, order);
    for (int i = 0; i < 3; i++) {
        memset(&ru, 0, sizeof(ru));
        assert_int_equal(dht_put(fake_dht(net, order[NN - 1 - i]), &key, vals[i], strlen(vals[i]),
                                 60, fake_put_cb, &ru),
                         0);
        fake_run(net, &ru.calls, 60000);
        assert_int_equal(ru.status, 0);
    }
    assert_int_equal(dht_get(fake_dht(net, order[NN - 1]), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 3);
    for (int i = 0; i < 3; i++) {
        dht_id_t h = sha(vals[i]);
        assert_true(fake_result_has(&rg, vals[i], strlen(vals[i])));
        for (int j = 0; j < 3; j++)
            if (rg.values[j].len == strlen(vals[i]) &&
                memcmp(rg.values[j].data, vals[i], rg.values[j].len) == 0)
                assert_memory_equal(&rg.values[j].hash, &h, sizeof(h));
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(&rg.values[i].hash, &rg.values[j].hash, sizeof(h));
    }
    fake_result_clear(&rg);
    fake_net_free(net);
}

static void test_large_value(void **state)
{
    enum { SIZE = 200 * 1024 };
    fake_net_t *net = new_net();
    fake_result_t ru = {0}, rg = {0};
    dht_id_t key = fake_id_b0(0x5e);
    uint8_t *v = malloc(SIZE);
    int order[NN], g;
    uint64_t streams;

    (void)state;
    assert_non_null(v);
    for (size_t i = 0; i < SIZE; i++)
        v[i] = (uint8_t)(i * 31 + (i >> 11));
    build(net, &key, order);
    g = order[NN - 2];
    assert_int_equal(net->stream_msgs, 0);
    assert_int_equal(dht_put(fake_dht(net, order[NN - 1]), &key, v, SIZE, 60, fake_put_cb, &ru), 0);
    fake_run(net, &ru.calls, 60000);
    assert_int_equal(ru.status, 0);
    assert_int_equal(ru.stored, NK);
    assert_int_equal(net->stream_msgs, NK); /* one STORE each, on a stream */
    assert_int_equal(fake_stats(net, order[0]).value_bytes, SIZE);

    streams = fake_stats(net, g).stream_msgs_received;
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    assert_int_equal(rg.values[0].len, SIZE);
    assert_memory_equal(rg.values[0].data, v, SIZE);
    /* Announced by hash, fetched once, on a stream. */
    assert_int_equal(fake_stats(net, g).stream_msgs_received, streams + 1);
    assert_int_equal(net->stream_msgs, NK + 1);
    assert_int_equal(net->oversize_datagrams, 0);
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

static void test_ttl_expiry(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t ru = {0}, rg = {0};
    dht_id_t key = fake_id_b0(0x77);
    int order[NN];

    (void)state;
    build(net, &key, order);
    assert_int_equal(dht_put(fake_dht(net, order[NN - 1]), &key, "brief", 5, 2, fake_put_cb, &ru),
                     0);
    fake_run(net, &ru.calls, 60000);
    assert_int_equal(ru.status, 0);
    assert_int_equal(dht_get(fake_dht(net, order[NN - 2]), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_true(rg.values[0].ttl_s <= 2);

    fake_advance(net, 2500);
    for (int i = 0; i < NN; i++)
        assert_int_equal(fake_stats(net, i).values, 0);
    fake_result_clear(&rg);
    assert_int_equal(dht_get(fake_dht(net, order[NN - 2]), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, DHT_ENOTFOUND);
    fake_result_clear(&rg);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* FIND_VALUE paging                                                        */
/* ------------------------------------------------------------------------ */

/* Core h holds n values of `size` bytes under key, put straight into its
 * store. Value i starts with its index. */
static int holder(fake_net_t *net, const dht_id_t *key, unsigned n, size_t size, unsigned per_key)
{
    dht_config_t cfg;
    uint8_t v[200];
    int h;

    fake_config(&cfg, 9, NULL);
    cfg.store_max_per_key = per_key;
    h = add_cfg(net, "127.0.0.1:4009", &cfg);
    for (unsigned i = 0; i < n; i++) {
        dht_id_t hash;
        memset(v, (int)i, size);
        v[0] = (uint8_t)i;
        v[1] = (uint8_t)(i >> 8);
        dht_id_from_bytes(&hash, v, size);
        assert_int_equal(dht__store_put(fake_dht(net, h)->store, key, &hash, v, size, 0, net->now,
                                        net->now + 600000),
                         0);
    }
    assert_int_equal(fake_stats(net, h).values, n);
    return h;
}

/* Delivers everything, counting FIND_VALUEs that ask from first > 0. */
static unsigned pump_pages(fake_net_t *net)
{
    unsigned pages = 0;
    fake_msg_t m;
    dht__msg_t *d = malloc(sizeof(*d));

    assert_non_null(d);
    while (fake_pop(net, &m)) {
        if (dht__wire_decode(d, m.buf, m.len) == 0 && d->type == DHT__FIND_VALUE && d->first > 0)
            pages++;
        fake_deliver(net, &m);
        fake_msg_free(&m);
    }
    free(d);
    return pages;
}

static void test_find_value_paging(void **state)
{
    enum { N = 40, SIZE = 100 };
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = fake_id_b0(0x21);
    int h = holder(net, &key, N, SIZE, 64);
    int g = add(net, "127.0.0.1:4001", 1);
    uint8_t seen[N] = {0};

    (void)state;
    assert_int_equal(dht_insert_node(fake_dht(net, g), dht_self(fake_dht(net, h)),
                                     fake_addr_of(net, h), net->now),
                     0);
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
    /* 110 bytes per inline entry: about 12 per reply, so 3 more pages. */
    assert_int_equal(pump_pages(net), 3);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_values, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(r.values[i].len, SIZE);
        seen[r.values[i].data[0]]++;
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(fake_count(net, NULL, DHT__GET_VALUE), 0);
    fake_result_clear(&r);
    fake_net_free(net);
}

/* dht_get() collects at most DHT_GET_MAX_VALUES distinct values (dht.h):
 * a holder of 100 pages them out until the getter has that many. */
static void test_get_caps_at_max_values(void **state)
{
    enum { N = 100 };
    fake_net_t *net = new_net();
    fake_result_t r = {0};
    dht_id_t key = fake_id_b0(0x21);
    int h, g;

    (void)state;
    h = holder(net, &key, N, 8, 128);
    g = add(net, "127.0.0.1:4001", 1);
    assert_int_equal(dht_insert_node(fake_dht(net, g), dht_self(fake_dht(net, h)),
                                     fake_addr_of(net, h), net->now),
                     0);
    assert_int_equal(dht_get(fake_dht(net, g), &key, fake_get_cb, &r), 0);
    fake_run(net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_values, DHT_GET_MAX_VALUES);
    fake_result_clear(&r);
    fake_net_free(net);
}

/* Regression: with k = 32 and IPv6 neighbours, node records alone would
 * fill a VALUES reply; the replier leaves room for at least one summary
 * when it holds values for the key. */
static void test_values_room_with_ipv6_k32(void **state)
{
    fake_net_t *net = new_net();
    dht_addr_t p = fake_addr("[2001:db8::ffff]:5000");
    dht_id_t key = fake_id_b0(0x21);
    dht_config_t cfg;
    uint8_t tok[8];
    unsigned code;
    char s[64];
    dht__msg_t q, rep;
    int h;

    (void)state;
    fake_config(&cfg, 9, NULL);
    cfg.k = 32;
    h = add_cfg(net, "[2001:db8::1]:4000", &cfg);
    for (int i = 0; i < 40; i++) {
        dht_id_t id = fake_id_b0((uint8_t)(i + 1));
        dht_addr_t a;
        id.b[1] = (uint8_t)(i * 7);
        snprintf(s, sizeof(s), "[2001:db8::%x]:4000", i + 0x100);
        a = fake_addr(s);
        dht_insert_node(fake_dht(net, h), &id, &a, net->now);
    }
    get_token(net, h, &p, 0, tok);
    /* 52 bytes: too large to go inline in the 20 bytes left, and a summary
     * (42 bytes) does not fit either. */
    assert_int_equal(store(net, h, &p, tok, &key,
                           "a needle of fifty bytes in a haystack of IPv6 ......", 0, 600, &code),
                     DHT__STORED);
    fake_msg_init(&q, DHT__FIND_VALUE, 9, peer_id());
    q.target = key;
    assert_int_equal(fake_request(net, h, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__VALUES);
    assert_int_equal(rep.total, 1);
    assert_int_equal(rep.n_nodes, 25); /* one record fewer, for the summary */
    assert_int_equal(rep.n_entries, 1);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Values the program keeps itself (dht_config_t.value_size, value_read)    */
/* ------------------------------------------------------------------------ */

/* A value source holding one value under one key. Reads are answered
 * later, by run_serving(), as a program answers from a worker. */
typedef struct source {
    dht_id_t key;
    const uint8_t *data;
    size_t len;
    int corrupt;     /* 1: hand out the bytes with one of them flipped */
    int silent;      /* 1: never answer a read */
    int size_calls;  /* value_size calls (FIND_VALUE) */
    int bytes_calls; /* value_read calls (GET_VALUE) */
    uint64_t reqs[16];
    int pending; /* reads asked for and not answered yet */
} source_t;

static int source_size(void *arg, const dht_id_t *key, size_t *len)
{
    source_t *src = arg;

    if (dht_id_cmp(key, &src->key) != 0)
        return -1;
    *len = src->len;
    src->size_calls++;
    return 0;
}

static int source_read(void *arg, const dht_id_t *key, uint64_t req)
{
    source_t *src = arg;

    if (dht_id_cmp(key, &src->key) != 0 || src->pending == 16)
        return -1;
    src->bytes_calls++;
    src->reqs[src->pending++] = req;
    return 0;
}

/* Answers the reads core s's source was asked for. */
static void answer_reads(fake_net_t *net, int s, source_t *src)
{
    uint8_t *copy = malloc(src->len);

    assert_non_null(copy);
    memcpy(copy, src->data, src->len);
    if (src->corrupt)
        copy[src->len / 2] ^= 0x01;
    for (int i = 0; i < src->pending; i++)
        assert_int_equal(dht_value_ready(fake_dht(net, s), src->reqs[i], copy, src->len), 0);
    src->pending = 0;
    free(copy);
}

/* Runs the net until *done, core s's source answering its reads (unless
 * silent) once the messages of the moment are delivered. */
static void run_serving(fake_net_t *net, int s, source_t *src, const int *done)
{
    for (int slice = 0; slice < 600 && !*done; slice++) {
        fake_run(net, src->silent ? NULL : &src->pending, 100);
        if (src->pending && !src->silent)
            answer_reads(net, s, src);
    }
    assert_true(*done);
}

enum { SN = 5 };

/* SN cores joined through core 0; core `with` (if >= 0) has value source
 * src. */
static void build_sourced(fake_net_t *net, int with, source_t *src)
{
    dht_config_t cfg;
    char addr[32];

    for (int i = 0; i < SN; i++) {
        fake_result_t r = {0};
        fake_config(&cfg, (uint64_t)i + 100, NULL);
        if (i == with) {
            cfg.value_size = source_size;
            cfg.value_read = source_read;
            cfg.value_source_arg = src;
        }
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 5001 + i);
        assert_int_equal(add_cfg(net, addr, &cfg), i);
        if (i == 0)
            continue;
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r), 0);
        fake_run(net, &r.calls, 60000);
        assert_int_equal(r.status, 0);
    }
}

/* size bytes of a recognisable pattern, and src set up to serve them. */
static uint8_t *source_value(source_t *src, size_t size)
{
    uint8_t *v = malloc(size);

    assert_non_null(v);
    for (size_t i = 0; i < size; i++)
        v[i] = (uint8_t)(i * 7 + (i >> 8));
    memset(src, 0, sizeof(*src));
    dht_id_from_bytes(&src->key, v, size);
    src->data = v;
    src->len = size;
    return v;
}

/* A 5000-byte content-addressed value that only core 2's value source has
 * (no core stores it) reaches another core's dht_get(): announced by hash in
 * VALUES, fetched with GET_VALUE, on a stream since it does not fit in a
 * datagram. */
static void test_value_source_served(void **state)
{
    enum { SIZE = 5000, S = 2, G = 4 };
    fake_net_t *net = new_net();
    fake_result_t rg = {0};
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    uint64_t streams;

    (void)state;
    build_sourced(net, S, &src);
    for (int i = 0; i < SN; i++)
        assert_int_equal(fake_stats(net, i).values, 0);
    streams = fake_stats(net, G).stream_msgs_received;
    assert_int_equal(dht_get(fake_dht(net, G), &src.key, fake_get_cb, &rg), 0);
    run_serving(net, S, &src, &rg.calls);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    assert_int_equal(rg.values[0].len, SIZE);
    assert_memory_equal(rg.values[0].data, v, SIZE);
    assert_memory_equal(&rg.values[0].hash, &src.key, sizeof(src.key));
    /* "Peers see a TTL of max_ttl_s" (86400 by default). */
    assert_true(rg.values[0].ttl_s >= 86399 && rg.values[0].ttl_s <= 86400);
    assert_true(src.size_calls >= 1);
    assert_int_equal(src.bytes_calls, 1); /* fetched once */
    assert_int_equal(fake_stats(net, G).stream_msgs_received, streams + 1);
    assert_int_equal(fake_stats(net, S).dropped_bad_value, 0);
    assert_int_equal(net->oversize_datagrams, 0);
    /* Serving it stored nothing anywhere. */
    for (int i = 0; i < SN; i++)
        assert_int_equal(fake_stats(net, i).values, 0);

    /* Another key: the source has nothing, so nobody does. */
    fake_result_clear(&rg);
    {
        dht_id_t other = src.key;
        other.b[0] ^= 0x80;
        assert_int_equal(dht_get(fake_dht(net, G), &other, fake_get_cb, &rg), 0);
        assert_int_equal(fake_run(net, &rg.calls, 60000), 1);
        assert_int_equal(rg.status, DHT_ENOTFOUND);
        assert_int_equal(rg.n_values, 0);
    }
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

/* A small sourced value travels in a datagram (VALUE reply), still only
 * after being announced by hash. */
static void test_value_source_small(void **state)
{
    enum { SIZE = 100, S = 1, G = 3 };
    fake_net_t *net = new_net();
    fake_result_t rg = {0};
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    uint64_t streams;

    (void)state;
    build_sourced(net, S, &src);
    streams = net->stream_msgs;
    assert_int_equal(dht_get(fake_dht(net, G), &src.key, fake_get_cb, &rg), 0);
    run_serving(net, S, &src, &rg.calls);
    assert_int_equal(rg.status, 0);
    assert_int_equal(rg.n_values, 1);
    assert_int_equal(rg.values[0].len, SIZE);
    assert_memory_equal(rg.values[0].data, v, SIZE);
    assert_int_equal(src.bytes_calls, 1);
    assert_int_equal(net->stream_msgs, streams); /* no stream needed */
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

/* A value source whose bytes do not hash to the key: the serving core
 * checks them, sends nothing of them and counts the drop; the getter ends
 * with DHT_ENOTFOUND and no value, never the bad bytes. */
static void test_value_source_bad_bytes(void **state)
{
    enum { SIZE = 5000, S = 2, G = 4 };
    fake_net_t *net = new_net();
    fake_result_t rg = {0};
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    uint64_t streams;

    (void)state;
    src.corrupt = 1;
    build_sourced(net, S, &src);
    streams = fake_stats(net, G).stream_msgs_received;
    assert_int_equal(dht_get(fake_dht(net, G), &src.key, fake_get_cb, &rg), 0);
    run_serving(net, S, &src, &rg.calls);
    assert_int_equal(rg.status, DHT_ENOTFOUND);
    assert_int_equal(rg.n_values, 0);
    assert_true(src.bytes_calls >= 1);                                       /* it was asked ... */
    assert_int_equal(fake_stats(net, S).dropped_bad_value, src.bytes_calls); /* ... and refused */
    assert_int_equal(fake_stats(net, G).stream_msgs_received, streams); /* no VALUE on a stream */
    assert_int_equal(fake_stats(net, G).dropped_bad_value, 0);          /* nothing bad reached G */
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

/* A source that never answers: the getter gives up on that holder (not
 * found), and the serving core forgets the request after
 * DHT_SOURCE_WAIT_MS, so an answer that late is refused. Neither core
 * waits on the program inside a call. */
static void test_value_source_silent(void **state)
{
    enum { SIZE = 5000, S = 2, G = 4 };
    fake_net_t *net = new_net();
    fake_result_t rg = {0};
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    uint64_t late;

    (void)state;
    src.silent = 1;
    build_sourced(net, S, &src);
    assert_int_equal(dht_get(fake_dht(net, G), &src.key, fake_get_cb, &rg), 0);
    run_serving(net, S, &src, &rg.calls);
    assert_int_equal(rg.status, DHT_ENOTFOUND);
    assert_true(src.pending >= 1);
    late = src.reqs[0];
    fake_run(net, NULL, DHT_SOURCE_WAIT_MS + 5000);
    assert_int_equal(dht_value_ready(fake_dht(net, S), late, v, SIZE), DHT_ENOTFOUND);
    assert_int_equal(dht_value_ready(fake_dht(net, S), 999999, v, SIZE), DHT_ENOTFOUND);
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

/* A GET_VALUE resent (same txid, same source) while its read is under way
 * asks the program once and gets one reply; with 256 reads waiting, the
 * next request is answered "busy" (ERROR 7) at once, not "not found". */
static void test_value_source_resend_and_busy(void **state)
{
    enum { SIZE = 5000, S = 2 };
    fake_net_t *net = new_net();
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    dht_addr_t p = fake_addr("192.0.2.71:7000");
    uint8_t tok[DHT__WIRE_TOKEN_LEN];
    dht__msg_t q, rep;

    (void)state;
    src.silent = 1;
    build_sourced(net, S, &src);
    get_token(net, S, &p, 1, tok); /* the proof a value this large needs */
    fake_clear(net);
    fake_msg_init(&q, DHT__GET_VALUE, 41, peer_id());
    q.target = src.key;
    q.hash = src.key;
    q.has_proof = 1;
    memcpy(q.proof, tok, sizeof(tok));
    assert_int_equal(fake_inject(net, S, &p, &q, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(fake_inject(net, S, &p, &q, DHT_TRANSPORT_DATAGRAM), 0);
    assert_int_equal(src.bytes_calls, 1);
    /* Nothing: the read is under way (the ping that proves the new peer,
     * server.c, went with the token's reply). */
    assert_int_equal(fake_count(net, &p, -1), 0);
    answer_reads(net, S, &src);
    assert_int_equal(fake_count(net, &p, -1), 1); /* one VALUE (by stream: 5000 bytes) */
    fake_clear(net);

    /* 256 reads waiting (from one source, told apart by txid), then one more. */
    for (uint32_t t = 0; t < 256; t++) {
        fake_msg_init(&q, DHT__GET_VALUE, 1000 + t, peer_id());
        q.target = src.key;
        q.hash = src.key;
        q.has_proof = 1;
        memcpy(q.proof, tok, sizeof(tok));
        src.pending = 0; /* the fake source keeps 16; the core keeps them all */
        assert_int_equal(fake_inject(net, S, &p, &q, DHT_TRANSPORT_DATAGRAM), 0);
    }
    assert_int_equal(fake_count(net, &p, -1), 0);
    fake_msg_init(&q, DHT__GET_VALUE, 5000, peer_id());
    q.target = src.key;
    q.hash = src.key;
    q.has_proof = 1;
    memcpy(q.proof, tok, sizeof(tok));
    assert_int_equal(fake_request(net, S, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__ERROR);
    assert_int_equal(rep.err_code, DHT__WERR_RATE_LIMITED);
    assert_int_equal(rep.err_len, 4);
    assert_memory_equal(rep.err_msg, "busy", 4); /* not the rate limiter: it answers nothing */
    free(v);
    fake_net_free(net);
}

static int send_nothing(void *arg, const dht_addr_t *to, dht_transport_t transport,
                        const uint8_t *buf, size_t len)
{
    (void)arg;
    (void)to;
    (void)transport;
    (void)buf;
    (void)len;
    return 0;
}

/* value_size without value_read (or the reverse) is a bad config. */
static void test_value_source_half(void **state)
{
    dht_config_t cfg;
    dht_io_t io = {send_nothing, NULL, NULL, NULL};
    dht_t *d = NULL;

    (void)state;
    fake_config(&cfg, 7, NULL);
    cfg.value_size = source_size;
    assert_int_equal(dht_new(&d, &cfg, &io, T0), DHT_EINVAL);
    cfg.value_size = NULL;
    cfg.value_read = source_read;
    assert_int_equal(dht_new(&d, &cfg, &io, T0), DHT_EINVAL);
    cfg.value_size = source_size; /* both: fine */
    assert_int_equal(dht_new(&d, &cfg, &io, T0), 0);
    dht_free(d);
}

/* Without a value source, a value nobody stored is not found, and a
 * GET_VALUE for it is answered with ERROR (not found). */
static void test_value_source_none(void **state)
{
    enum { SIZE = 5000, G = 4 };
    fake_net_t *net = new_net();
    fake_result_t rg = {0};
    source_t src;
    uint8_t *v = source_value(&src, SIZE);
    dht__msg_t q, rep;
    dht_addr_t p = fake_addr("192.0.2.70:7000");

    (void)state;
    build_sourced(net, -1, NULL);
    assert_int_equal(dht_get(fake_dht(net, G), &src.key, fake_get_cb, &rg), 0);
    assert_int_equal(fake_run(net, &rg.calls, 60000), 1);
    assert_int_equal(rg.status, DHT_ENOTFOUND);
    assert_int_equal(rg.n_values, 0);
    assert_int_equal(src.size_calls + src.bytes_calls, 0);

    fake_msg_init(&q, DHT__GET_VALUE, 31, peer_id());
    q.target = src.key;
    q.hash = src.key;
    assert_int_equal(fake_request(net, 2, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__ERROR);
    fake_result_clear(&rg);
    free(v);
    fake_net_free(net);
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_token),
        cmocka_unit_test(test_token_rotation),
        cmocka_unit_test(test_store_content_addressed),
        cmocka_unit_test(test_store_ttl),
        cmocka_unit_test(test_store_fair_share),
        cmocka_unit_test(test_source_of),
        cmocka_unit_test(test_store_tiny_flood),
        cmocka_unit_test(test_values_bad_content),
        cmocka_unit_test(test_values_content_ok),
        cmocka_unit_test(test_fetch_checks_hash),
        cmocka_unit_test(test_summary_does_not_end_lookup),
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_put_from_close_node),
        cmocka_unit_test(test_several_values),
        cmocka_unit_test(test_large_value),
        cmocka_unit_test(test_ttl_expiry),
        cmocka_unit_test(test_find_value_paging),
        cmocka_unit_test(test_get_caps_at_max_values),
        cmocka_unit_test(test_values_room_with_ipv6_k32),
        cmocka_unit_test(test_value_source_served),
        cmocka_unit_test(test_value_source_silent),
        cmocka_unit_test(test_value_source_half),
        cmocka_unit_test(test_value_source_resend_and_busy),
        cmocka_unit_test(test_value_source_small),
        cmocka_unit_test(test_value_source_bad_bytes),
        cmocka_unit_test(test_value_source_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
