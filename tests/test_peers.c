/*
 * Tests of the saved peer list (peers.c, schema/peers.md): the export of a
 * routing table checked byte for byte against the vector, which nodes are
 * saved and in what order, the cap, the vectors of schema/vectors/peers/
 * (valid ones re-encode byte for byte, bad ones are refused with nothing
 * done), every truncation and random corruptions, and a node restarted on
 * its saved list rejoining its network on the fake network of
 * tests/helpers/fake_net.c.
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
#include "helpers/vectors.h"
#include "node.h"  /* the routing table behind a dht_t */
#include "peers.h" /* the codec */

#define VECTOR_DIR  "schema/vectors/peers"
#define MAX_VECTORS 64
#define MIN_VECTORS 13
#define MINUTE      (60u * 1000u)

static vector_t vectors[MAX_VECTORS];
static size_t n_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return vectors_load(VECTOR_DIR, vectors, MAX_VECTORS, &n_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    vectors_free(vectors, &n_vectors);
    return 0;
}

static const vector_t *vector(const char *name)
{
    const vector_t *v = vectors_find(vectors, n_vectors, name);

    assert_non_null(v);
    return v;
}

/* Adds a core at hostport with seed and optional id. @return its index. */
static int add(fake_net_t *net, const char *hostport, uint64_t seed, const dht_id_t *id)
{
    dht_config_t cfg;

    fake_config(&cfg, seed, id);
    return add_cfg(net, hostport, &cfg);
}

/* Tells core i's routing table that (id, hostport) was heard from. */
static void heard(fake_net_t *net, int i, uint8_t fill, const char *hostport, uint64_t now,
                  dht__rt_event_t ev)
{
    dht_id_t id;
    dht_addr_t a = fake_addr(hostport);

    fake_id_fill(&id, fill);
    assert_true(dht__rt_update(fake_dht(net, i)->rt, &id, &a, now, ev) >= 0);
}

/* The node of the vector: id 00 01 .. 1f. */
static int vector_node(fake_net_t *net)
{
    dht_id_t self;

    for (unsigned b = 0; b < DHT_ID_LEN; b++)
        self.b[b] = (uint8_t)b;
    return add(net, "192.0.2.1:4000", 1, &self);
}

/* ------------------------------------------------------------------------ */
/* Export                                                                   */
/* ------------------------------------------------------------------------ */

/* The table of schema/peers.md, section 5: export gives peers.hex. */
static void test_export_vector(void **state)
{
    fake_net_t *net = new_net();
    int a = vector_node(net);
    dht_t *d = fake_dht(net, a);
    uint64_t later = T0 + 20 * MINUTE;
    dht_id_t bad;
    uint8_t buf[DHT_PEERS_MAX_BYTES];
    size_t len = 0;
    const vector_t *v = vector("peers.hex");

    (void)state;
    heard(net, a, 0x22, "198.51.100.2:4002", T0, DHT__RT_REPLY); /* silent since */
    heard(net, a, 0x77, "203.0.113.77:4077", T0, DHT__RT_REPLY);
    heard(net, a, 0x44, "192.0.2.4:4000", later, DHT__RT_REPLY);
    heard(net, a, 0x11, "[2001:db8::1]:4001", later, DHT__RT_REPLY);
    heard(net, a, 0x55, "192.0.2.55:4055", later, DHT__RT_LEARNED);
    heard(net, a, 0x66, "192.0.2.66:4066", later, DHT__RT_INSERT);
    fake_id_fill(&bad, 0x77);
    dht__rt_failed(d->rt, &bad, later);
    dht__rt_failed(d->rt, &bad, later);
    assert_int_equal(dht__rt_count(d->rt, later, NULL, NULL, NULL), 6);

    assert_int_equal(dht_export_peers(d, later, buf, sizeof(buf), &len), 3);
    assert_int_equal(len, v->len);
    assert_memory_equal(buf, v->buf, v->len);

    /* Too small a buffer: the size needed, nothing written. */
    memset(buf, 0xee, sizeof(buf));
    len = 0;
    assert_int_equal(dht_export_peers(d, later, buf, v->len - 1, &len), DHT_ETOOBIG);
    assert_int_equal(len, v->len);
    assert_int_equal(buf[0], 0xee);
    assert_int_equal(dht_export_peers(d, later, NULL, 0, &len), DHT_ETOOBIG);
    assert_int_equal(len, v->len);
    assert_int_equal(dht_export_peers(d, later, buf, v->len, &len), 3);

    /* Misuse. */
    assert_int_equal(dht_export_peers(NULL, later, buf, sizeof(buf), &len), DHT_EINVAL);
    assert_int_equal(dht_export_peers(d, later, buf, sizeof(buf), NULL), DHT_EINVAL);
    assert_int_equal(dht_export_peers(d, later, NULL, 10, &len), DHT_EINVAL);

    /* Exporting changes nothing, and sends nothing. */
    assert_int_equal(dht__rt_count(d->rt, later, NULL, NULL, NULL), 6);
    assert_int_equal(fake_queued(net), 0);
    fake_net_free(net);
}

static void test_export_empty(void **state)
{
    fake_net_t *net = new_net();
    int a = vector_node(net);
    uint8_t buf[16];
    size_t len = 0;
    const vector_t *v = vector("empty.hex");

    (void)state;
    assert_int_equal(dht_export_peers(fake_dht(net, a), T0, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, v->len);
    assert_memory_equal(buf, v->buf, v->len);
    /* Nodes never heard from themselves are not worth saving. */
    heard(net, a, 0x55, "192.0.2.55:4055", T0, DHT__RT_LEARNED);
    heard(net, a, 0x66, "192.0.2.66:4066", T0, DHT__RT_INSERT);
    assert_int_equal(dht_export_peers(fake_dht(net, a), T0, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, v->len);
    fake_net_free(net);
}

/* An id that shares exactly `prefix` bits with self, then bytes of n. */
static dht_id_t id_at(const dht_id_t *self, unsigned prefix, unsigned n)
{
    dht_id_t id = *self;

    id.b[prefix / 8] ^= (uint8_t)(0x80u >> (prefix % 8));
    id.b[30] ^= (uint8_t)(n + 1);
    id.b[31] ^= (uint8_t)((n + 1) >> 8);
    return id;
}

/* More good nodes than a list holds: the DHT_PEERS_MAX nearest, in order. */
static void test_export_cap(void **state)
{
    fake_net_t *net = new_net();
    int a = vector_node(net);
    dht_t *d = fake_dht(net, a);
    const dht_id_t *self = dht_self(d);
    uint8_t *buf = malloc(DHT_PEERS_MAX_BYTES);
    dht_node_info_t *got = malloc(DHT_PEERS_MAX * sizeof(*got));
    size_t len, n = 0, total;
    char hp[32];

    (void)state;
    assert_non_null(buf);
    assert_non_null(got);
    /* 16 buckets of 20 good nodes (k = 20): 320 nodes. */
    for (unsigned p = 0; p < 16; p++) {
        for (unsigned j = 0; j < 20; j++) {
            dht_id_t id = id_at(self, p, j);
            dht_addr_t ad;
            snprintf(hp, sizeof(hp), "10.0.%u.%u:%u", p, j + 1, 5000 + j);
            ad = fake_addr(hp);
            assert_true(dht__rt_update(d->rt, &id, &ad, T0, DHT__RT_REPLY) >= 0);
        }
    }
    total = dht__rt_count(d->rt, T0, NULL, NULL, NULL);
    assert_int_equal(total, 320);
    assert_int_equal(dht_export_peers(d, T0, buf, DHT_PEERS_MAX_BYTES, &len), DHT_PEERS_MAX);
    assert_int_equal(len, DHT__PEERS_HEADER + DHT_PEERS_MAX * 39);
    assert_int_equal(dht__peers_decode(buf, len, got, &n), 0);
    assert_int_equal(n, DHT_PEERS_MAX);
    /* Nearest first; the 64 left out are the farthest (prefixes 0..2, and
     * 4 of prefix 3). */
    for (size_t i = 1; i < n; i++)
        assert_true(dht_id_cmp_distance(self, &got[i - 1].id, &got[i].id) < 0);
    for (size_t i = 0; i < n; i++)
        assert_true(dht_id_common_prefix(self, &got[i].id) >= 3);
    free(buf);
    free(got);
    fake_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* The vectors and malformed input                                          */
/* ------------------------------------------------------------------------ */

static void test_vectors(void **state)
{
    dht_node_info_t *nodes = malloc(DHT_PEERS_MAX * sizeof(*nodes));
    uint8_t out[DHT_PEERS_MAX_BYTES];
    size_t good = 0, bad = 0;

    (void)state;
    assert_non_null(nodes);
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        size_t n = 0, len;
        int err = dht__peers_decode(v->buf, v->len, nodes, &n);
        if (strncmp(v->name, "bad_", 4) == 0) {
            if (err != DHT_EPROTO)
                fail_msg("%s decoded", v->name);
            bad++;
            continue;
        }
        if (err != 0)
            fail_msg("%s did not decode", v->name);
        len = dht__peers_encode(nodes, n, out, sizeof(out));
        assert_int_equal(len, v->len);
        assert_int_equal(dht__peers_size(nodes, n), v->len);
        assert_memory_equal(out, v->buf, len);
        good++;
    }
    assert_true(good >= 3);
    assert_true(bad >= 10);

    /* Fields of the vectors. */
    const vector_t *one = vector("one_ipv4.hex");
    size_t n = 0;
    dht_addr_t want = fake_addr("203.0.113.7:65535");
    assert_int_equal(dht__peers_decode(one->buf, one->len, nodes, &n), 0);
    assert_int_equal(n, 1);
    assert_true(dht_addr_equal(&nodes[0].addr, &want));
    assert_int_equal(nodes[0].id.b[0], 0x33);
    const vector_t *three = vector("peers.hex");
    want = fake_addr("[2001:db8::1]:4001");
    assert_int_equal(dht__peers_decode(three->buf, three->len, nodes, &n), 0);
    assert_int_equal(n, 3);
    assert_true(dht_addr_equal(&nodes[0].addr, &want));
    want = fake_addr("198.51.100.2:4002");
    assert_true(dht_addr_equal(&nodes[2].addr, &want));

    /* The encoder refuses what the format cannot say. */
    nodes[0].addr.family = 5;
    assert_int_equal(dht__peers_encode(nodes, 1, out, sizeof(out)), 0);
    assert_int_equal(dht__peers_encode(nodes, DHT_PEERS_MAX + 1, out, sizeof(out)), 0);
    free(nodes);
}

/* A malformed list starts nothing: no datagram, no operation, no callback. */
static void test_import_malformed(void **state)
{
    fake_net_t *net = new_net();
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    dht_t *d = fake_dht(net, a);
    fake_result_t r = {0};
    size_t bad = 0;

    (void)state;
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        if (strncmp(v->name, "bad_", 4) != 0)
            continue;
        if (dht_import_peers(d, v->buf, v->len, fake_status_cb, &r) != DHT_EPROTO)
            fail_msg("%s was accepted", v->name);
        bad++;
    }
    assert_true(bad >= 10);
    /* Every truncation of a valid list is malformed too. */
    const vector_t *v = vector("peers.hex");
    for (size_t len = 0; len < v->len; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exactly len: ASan sees any over-read */
        assert_non_null(cut);
        memcpy(cut, v->buf, len);
        assert_int_equal(dht_import_peers(d, cut, len, fake_status_cb, &r), DHT_EPROTO);
        free(cut);
    }
    assert_int_equal(dht_import_peers(d, NULL, 0, fake_status_cb, &r), DHT_EPROTO);
    /* Misuse. */
    assert_int_equal(dht_import_peers(NULL, v->buf, v->len, fake_status_cb, &r), DHT_EINVAL);
    assert_int_equal(dht_import_peers(d, v->buf, v->len, NULL, &r), DHT_EINVAL);
    assert_int_equal(dht_import_peers(d, NULL, 7, fake_status_cb, &r), DHT_EINVAL);

    assert_int_equal(fake_queued(net), 0);
    assert_int_equal(fake_stats(net, a).ops_in_flight, 0);
    assert_int_equal(fake_stats(net, a).msgs_sent, 0);
    fake_run(net, NULL, 10000);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fake_stats(net, a).nodes, 0);
    fake_net_free(net);
}

/* Random corruptions of a valid list: the reader never reads outside the
 * bytes, and whatever it accepts re-encodes to the same bytes. */
static void test_corruptions(void **state)
{
    const vector_t *v = vector("peers.hex");
    dht_node_info_t *nodes = malloc(DHT_PEERS_MAX * sizeof(*nodes));
    uint8_t out[DHT_PEERS_MAX_BYTES];
    uint64_t seed = 9;
    size_t accepted = 0;

    (void)state;
    assert_non_null(nodes);
    for (int round = 0; round < 200000; round++) {
        size_t len = v->len - 8 + rnd_below(&seed, 16);
        uint8_t *buf = malloc(len);
        size_t n = 0;
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = i < v->len ? v->buf[i] : (uint8_t)rnd_next(&seed);
        for (unsigned flips = 1 + rnd_below(&seed, 3); flips > 0; flips--)
            buf[rnd_below(&seed, (uint32_t)len)] = (uint8_t)rnd_next(&seed);
        if (dht__peers_decode(buf, len, nodes, &n) == 0) {
            assert_int_equal(dht__peers_encode(nodes, n, out, sizeof(out)), len);
            assert_memory_equal(out, buf, len);
            accepted++;
        }
        free(buf);
    }
    assert_true(accepted > 0); /* ids and addresses may change freely */
    free(nodes);
}

/* ------------------------------------------------------------------------ */
/* Import: rejoining                                                        */
/* ------------------------------------------------------------------------ */

/* Five nodes; node 2 puts a value, saves its peers, stops, and starts
 * again (same id, same address, empty table and store) with no bootstrap
 * address: through its saved list it rejoins, and finds the value. */
static void test_restart_rejoins(void **state)
{
    fake_net_t *net = new_net();
    fake_result_t r[5] = {{0}}, rp = {0}, rg = {0}, ri = {0};
    uint8_t saved[DHT_PEERS_MAX_BYTES];
    size_t len = 0;
    dht_id_t id2, key;
    const char *value = "kept across the restart";
    char hp[32];
    int back;

    (void)state;
    for (int i = 0; i < 5; i++) {
        snprintf(hp, sizeof(hp), "127.0.0.1:%d", 4001 + i);
        add(net, hp, (uint64_t)i + 1, NULL);
    }
    for (int i = 1; i < 5; i++) {
        assert_int_equal(
            dht_bootstrap(fake_dht(net, i), fake_addr_of(net, 0), 1, fake_status_cb, &r[i]), 0);
        fake_run(net, &r[i].calls, 60000);
        assert_int_equal(r[i].status, 0);
    }
    fake_run(net, NULL, 1000);
    dht_id_from_bytes(&key, value, strlen(value));
    /* The put's lookup has node 2 hear an answer from every node: all good. */
    assert_int_equal(dht_put(fake_dht(net, 2), &key, value, strlen(value), 3600, fake_put_cb, &rp),
                     0);
    fake_run(net, &rp.calls, 60000);
    assert_int_equal(rp.status, 0);

    assert_int_equal(dht_export_peers(fake_dht(net, 2), net->now, saved, sizeof(saved), &len), 4);
    id2 = *dht_self(fake_dht(net, 2));
    fake_remove(net, 2);
    back = add(net, "127.0.0.1:4003", 77, &id2);
    assert_int_equal(fake_stats(net, back).nodes, 0);

    assert_int_equal(dht_import_peers(fake_dht(net, back), saved, len, fake_status_cb, &ri), 0);
    assert_int_equal(ri.calls, 0); /* never inside the call */
    assert_int_equal(fake_run(net, &ri.calls, 60000), 1);
    assert_int_equal(ri.status, 0);
    assert_int_equal(fake_stats(net, back).nodes_good, 4);

    assert_int_equal(dht_get(fake_dht(net, back), &key, fake_get_cb, &rg), 0);
    fake_run(net, &rg.calls, 60000);
    assert_int_equal(rg.status, 0);
    assert_true(fake_result_has(&rg, value, strlen(value)));
    fake_result_clear(&rg);
    fake_net_free(net);
}

/* The saved peers are all gone: DHT_ENOPEERS once the pings time out, and
 * none of them entered the table. */
static void test_import_nobody_answers(void **state)
{
    fake_net_t *net = new_net();
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    fake_result_t r = {0};
    const vector_t *v = vector("peers.hex");

    (void)state;
    assert_int_equal(dht_import_peers(fake_dht(net, a), v->buf, v->len, fake_status_cb, &r), 0);
    assert_int_equal(fake_count(net, NULL, DHT__PING), 3);
    assert_int_equal(fake_run(net, &r.calls, 120000), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.status, DHT_ENOPEERS);
    assert_int_equal(fake_stats(net, a).nodes, 0);
    fake_net_free(net);
}

/* Its own id and repeats are skipped; a list of nothing else starts
 * nothing. */
static void test_import_skips_self_and_repeats(void **state)
{
    fake_net_t *net = new_net();
    int a = add(net, "127.0.0.1:4001", 1, NULL);
    int b = add(net, "127.0.0.1:4002", 2, NULL);
    fake_result_t r = {0};
    dht_node_info_t list[4];
    uint8_t buf[DHT_PEERS_MAX_BYTES];
    size_t len;

    (void)state;
    list[0].id = *dht_self(fake_dht(net, a));
    list[0].addr = *fake_addr_of(net, a);
    len = dht__peers_encode(list, 1, buf, sizeof(buf));
    assert_int_equal(dht_import_peers(fake_dht(net, a), buf, len, fake_status_cb, &r),
                     DHT_ENOPEERS);
    len = dht__peers_encode(list, 0, buf, sizeof(buf));
    assert_int_equal(dht_import_peers(fake_dht(net, a), buf, len, fake_status_cb, &r),
                     DHT_ENOPEERS);
    assert_int_equal(fake_queued(net), 0);

    list[1].id = *dht_self(fake_dht(net, b));
    list[1].addr = *fake_addr_of(net, b);
    list[2] = list[1];
    list[3] = list[0];
    len = dht__peers_encode(list, 4, buf, sizeof(buf));
    assert_int_equal(dht_import_peers(fake_dht(net, a), buf, len, fake_status_cb, &r), 0);
    assert_int_equal(fake_count(net, NULL, DHT__PING), 1);
    fake_run(net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(fake_stats(net, a).nodes_good, 1);
    fake_net_free(net);
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_vector),
        cmocka_unit_test(test_export_empty),
        cmocka_unit_test(test_export_cap),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_import_malformed),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_restart_rejoins),
        cmocka_unit_test(test_import_nobody_answers),
        cmocka_unit_test(test_import_skips_self_and_repeats),
    };
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
