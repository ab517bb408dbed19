/*
 * libdht on real sockets: 32 nodes on 127.0.0.1 in one process and one
 * libuv loop put and get values of 100 bytes (one datagram), 64 KiB and
 * 1 MiB (over TCP streams), each put through one node and got through
 * another; 200 messages routed (dht_route) each reach the node closest to
 * their key. Also a small network on [::1] when the machine has IPv6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h> /* ntohs */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "dht.h"

#define NODES 32

static int pending;

/* Runs the loop until every callback has fired; fails after 20 s. */
static void wait_all(uv_loop_t *loop)
{
    uint64_t deadline = uv_now(loop) + 20000;

    while (pending > 0 && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_equal(pending, 0);
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status;
    pending--;
}

/* Starts n nodes on host (port 0: any free port) and joins them through
 * the first. @return 0, or -1 if host cannot be bound (no IPv6). */
static int start(uv_loop_t *loop, dht_uv_t **nodes, int n, const char *host)
{
    dht_addr_t first;
    int *status = calloc((size_t)n, sizeof(int));

    for (int i = 0; i < n; i++) {
        int err = dht_uv_new(&nodes[i], loop, NULL, host);
        if ((err == DHT_EADDR || err == DHT_EADDRNOTAVAIL) && i == 0) {
            free(status);
            return -1;
        }
        assert_int_equal(err, 0);
    }
    dht_uv_addr(nodes[0], &first);
    for (int i = 1; i < n; i++) {
        pending++;
        assert_int_equal(dht_bootstrap(dht_uv_dht(nodes[i]), &first, 1, on_joined, &status[i]), 0);
    }
    wait_all(loop);
    for (int i = 1; i < n; i++)
        assert_int_equal(status[i], 0);
    free(status);
    return 0;
}

static void stop(uv_loop_t *loop, dht_uv_t **nodes, int n)
{
    for (int i = 0; i < n; i++)
        dht_uv_close(nodes[i], NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

static void on_put(int status, unsigned stored, void *arg)
{
    *(unsigned *)arg = status == 0 ? stored : 0;
    pending--;
}

typedef struct got {
    const uint8_t *want;
    size_t len;
    int ok;
} got_t;

static void on_got(int status, const dht_value_t *v, size_t n, void *arg)
{
    got_t *g = arg;

    g->ok = status == 0 && n == 1 && v[0].len == g->len && memcmp(v[0].data, g->want, g->len) == 0;
    pending--;
}

/* Puts count values of len bytes, all in flight together, each through a
 * random node; then gets each through a different node. Odd values are
 * content addressed, even ones named. */
static void put_get(uv_loop_t *loop, dht_uv_t **nodes, int n, int count, size_t len,
                    unsigned min_stored)
{
    uint8_t *vals = malloc((size_t)count * len);
    dht_id_t *keys = calloc((size_t)count, sizeof(*keys));
    unsigned *stored = calloc((size_t)count, sizeof(*stored));
    got_t *got = calloc((size_t)count, sizeof(*got));
    int *from = calloc((size_t)count, sizeof(int));

    for (int i = 0; i < count; i++) {
        uint8_t *v = vals + (size_t)i * len;
        for (size_t b = 0; b < len; b++)
            v[b] = (uint8_t)rand();
        if (i % 2) {
            dht_id_from_bytes(&keys[i], v, len);
        } else {
            uint64_t name[2] = {len, (uint64_t)i};
            dht_id_from_bytes(&keys[i], name, sizeof(name));
        }
        from[i] = rand() % n;
        pending++;
        assert_int_equal(
            dht_put(dht_uv_dht(nodes[from[i]]), &keys[i], v, len, 600, on_put, &stored[i]), 0);
    }
    wait_all(loop);
    for (int i = 0; i < count; i++) {
        int via = (from[i] + 1 + rand() % (n - 1)) % n;
        assert_true(stored[i] >= min_stored);
        got[i].want = vals + (size_t)i * len;
        got[i].len = len;
        pending++;
        assert_int_equal(dht_get(dht_uv_dht(nodes[via]), &keys[i], on_got, &got[i]), 0);
    }
    wait_all(loop);
    for (int i = 0; i < count; i++)
        assert_true(got[i].ok);
    free(vals);
    free(keys);
    free(stored);
    free(got);
    free(from);
}

static void test_loopback_32_nodes(void **state)
{
    uv_loop_t loop;
    dht_uv_t *nodes[NODES];
    uint64_t streamed_out = 0, streamed_in = 0;

    (void)state;
    srand(7);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(start(&loop, nodes, NODES, "127.0.0.1:0"), 0);
    put_get(&loop, nodes, NODES, 20, 100, 20);
    put_get(&loop, nodes, NODES, 6, 64 * 1024, 20);
    put_get(&loop, nodes, NODES, 3, 1024 * 1024, 20);
    /* Large values really went by stream, and every node knows the net. */
    for (int i = 0; i < NODES; i++) {
        dht_stats_t st;
        dht_get_stats(dht_uv_dht(nodes[i]), uv_now(&loop), &st);
        streamed_out += st.stream_msgs_sent;
        streamed_in += st.stream_msgs_received;
        assert_true(st.nodes >= 20);
        assert_int_equal(st.dropped_malformed, 0);
    }
    /* 9 large puts, each to 19 other nodes at least. */
    assert_true(streamed_out >= 9 * 19);
    assert_int_equal(streamed_in, streamed_out);
    stop(&loop, nodes, NODES);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Key-based routing on real sockets: each node's application records
 * where the messages it is given were meant to go. */
#define ROUTED 200

static int delivered_at[ROUTED]; /* message -> node that delivered it */

static void on_deliver(void *arg, const dht_id_t *key, const uint8_t *msg, size_t len,
                       const dht_id_t *origin)
{
    uint32_t i;

    (void)key;
    (void)origin;
    assert_int_equal(len, 4);
    memcpy(&i, msg, 4);
    assert_true(i < ROUTED);
    delivered_at[i] = (int)(intptr_t)arg;
    pending--;
}

static void on_routed(int status, const dht_id_t *node, void *arg)
{
    (void)node;
    *(int *)arg = status;
    pending--;
}

/* 32 nodes on 127.0.0.1, joined through the first; 200 messages routed
 * from random nodes each reach the node closest to their key. */
static void test_loopback_route(void **state)
{
    uv_loop_t loop;
    dht_uv_t *nodes[NODES];
    int status[ROUTED], joined[NODES];
    dht_id_t keys[ROUTED];
    dht_addr_t first;

    (void)state;
    srand(11);
    assert_int_equal(uv_loop_init(&loop), 0);
    for (int i = 0; i < NODES; i++) {
        dht_config_t cfg;
        dht_config_init(&cfg);
        cfg.route_deliver = on_deliver;
        cfg.route_arg = (void *)(intptr_t)i;
        assert_int_equal(dht_uv_new(&nodes[i], &loop, &cfg, "127.0.0.1:0"), 0);
    }
    dht_uv_addr(nodes[0], &first);
    for (int i = 1; i < NODES; i++) {
        pending++;
        assert_int_equal(dht_bootstrap(dht_uv_dht(nodes[i]), &first, 1, on_joined, &joined[i]), 0);
    }
    wait_all(&loop);
    for (uint32_t i = 0; i < ROUTED; i++) {
        uint64_t name[2] = {99, i};
        dht_id_from_bytes(&keys[i], name, sizeof(name));
        delivered_at[i] = -1;
        pending += 2; /* routed, and delivered */
        assert_int_equal(
            dht_route(dht_uv_dht(nodes[rand() % NODES]), &keys[i], &i, 4, on_routed, &status[i]),
            0);
    }
    wait_all(&loop);
    for (int i = 0; i < ROUTED; i++) {
        int best = 0;
        for (int j = 1; j < NODES; j++)
            if (dht_id_cmp_distance(&keys[i], dht_self(dht_uv_dht(nodes[j])),
                                    dht_self(dht_uv_dht(nodes[best]))) < 0)
                best = j;
        assert_true(status[i] == 0 || status[i] == DHT_ROUTE_FORWARDED);
        assert_int_equal(delivered_at[i], best);
    }
    stop(&loop, nodes, NODES);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_loopback_ipv6(void **state)
{
    uv_loop_t loop;
    dht_uv_t *nodes[8];

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    if (start(&loop, nodes, 8, "[::1]:0") != 0) {
        uv_loop_close(&loop);
        skip(); /* no IPv6 on this machine */
    }
    put_get(&loop, nodes, 8, 4, 100, 8);
    put_get(&loop, nodes, 8, 2, 256 * 1024, 8);
    stop(&loop, nodes, 8);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Nodes with the shell's options mixed: 4 sockets on one port
 * (SO_REUSEPORT) and batched sends, one socket and a sendto each, and
 * the defaults: they join, put and get as any. */
static void test_loopback_options(void **state)
{
    uv_loop_t loop;
    dht_uv_t *nodes[12];
    int joined[12];
    dht_addr_t first;
    dht_uv_options_t opts;

    (void)state;
    srand(3);
    assert_int_equal(uv_loop_init(&loop), 0);
    dht_uv_options_init(&opts);
    opts.sockets = DHT_UV_MAX_SOCKETS + 1;
    assert_int_equal(dht_uv_new_ex(&nodes[0], &loop, NULL, "127.0.0.1:0", &opts), DHT_EINVAL);
    opts.sockets = 0;
    assert_int_equal(dht_uv_new_ex(&nodes[0], &loop, NULL, "127.0.0.1:0", &opts), DHT_EINVAL);
    for (int i = 0; i < 12; i++) {
        dht_uv_options_init(&opts);
        if (i % 3 == 0)
            opts.sockets = 4;
        else if (i % 3 == 1)
            opts.batch_sends = 0;
        assert_int_equal(dht_uv_new_ex(&nodes[i], &loop, NULL, "127.0.0.1:0", &opts), 0);
    }
    dht_uv_addr(nodes[0], &first);
    for (int i = 1; i < 12; i++) {
        pending++;
        assert_int_equal(dht_bootstrap(dht_uv_dht(nodes[i]), &first, 1, on_joined, &joined[i]), 0);
    }
    wait_all(&loop);
    for (int i = 1; i < 12; i++)
        assert_int_equal(joined[i], 0);
    put_get(&loop, nodes, 12, 40, 100, 12);
    put_get(&loop, nodes, 12, 2, 200 * 1024, 12);
    stop(&loop, nodes, 12);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Puts a value of len bytes through `from` and gets it through `via`. */
static void cross(uv_loop_t *loop, dht_uv_t *from, dht_uv_t *via, size_t len)
{
    uint8_t *v = malloc(len);
    unsigned stored = 0;
    got_t got = {v, len, 0};
    dht_id_t key;

    for (size_t i = 0; i < len; i++)
        v[i] = (uint8_t)rand();
    dht_id_from_bytes(&key, v, len);
    pending = 1;
    assert_int_equal(dht_put(dht_uv_dht(from), &key, v, len, 600, on_put, &stored), 0);
    wait_all(loop);
    assert_true(stored >= 1);
    pending = 1;
    assert_int_equal(dht_get(dht_uv_dht(via), &key, on_got, &got), 0);
    wait_all(loop);
    assert_true(got.ok);
    free(v);
}

/* A node bound to [::] hears IPv4 and IPv6 at once (dual stack): 6 nodes
 * on 127.0.0.1 and 6 on [::1] join through it, it knows each of them
 * under its own family (the IPv4 ones not as ::ffff:a.b.c.d) and tells
 * each only of nodes of its family, and values
 * put from one family are got from the other, small and by stream,
 * through it. */
static void test_dual_stack(void **state)
{
    uv_loop_t loop;
    dht_uv_t *dual, *v4[6], *v6[6];
    dht_addr_t at4, at6;
    dht_node_info_t known[DHT_MAX_K];
    int joined[12], n4 = 0, n6 = 0;
    dht_id_t key0 = {{0}};
    size_t n;
    int err;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    err = dht_uv_new(&dual, &loop, NULL, "[::]:0");
    if (err == DHT_EADDR || err == DHT_EADDRNOTAVAIL) {
        uv_loop_close(&loop);
        skip(); /* no IPv6 on this machine */
    }
    assert_int_equal(err, 0);
    dht_uv_addr(dual, &at6);
    assert_int_equal(dht_addr_parse(&at4, "127.0.0.1:0"), 0);
    at4.port = at6.port;
    assert_int_equal(dht_addr_parse(&at6, "[::1]:0"), 0);
    at6.port = at4.port;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(dht_uv_new(&v4[i], &loop, NULL, "127.0.0.1:0"), 0);
        if (dht_uv_new(&v6[i], &loop, NULL, "[::1]:0") != 0) {
            assert_int_equal(i, 0); /* [::] without ::1: no loopback IPv6 */
            dht_uv_close(v4[0], NULL, NULL);
            dht_uv_close(dual, NULL, NULL);
            uv_run(&loop, UV_RUN_DEFAULT);
            uv_loop_close(&loop);
            skip();
        }
        pending += 2;
        assert_int_equal(dht_bootstrap(dht_uv_dht(v4[i]), &at4, 1, on_joined, &joined[i]), 0);
        assert_int_equal(dht_bootstrap(dht_uv_dht(v6[i]), &at6, 1, on_joined, &joined[6 + i]), 0);
    }
    wait_all(&loop);
    for (int i = 0; i < 12; i++)
        assert_int_equal(joined[i], 0);
    n = dht_closest_nodes(dht_uv_dht(dual), dht_self(dht_uv_dht(dual)), known, DHT_MAX_K);
    for (size_t i = 0; i < n; i++) {
        n4 += known[i].addr.family == DHT_AF_INET;
        n6 += known[i].addr.family == DHT_AF_INET6 &&
              memcmp(known[i].addr.ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0;
    }
    assert_int_equal(n4, 6);
    assert_int_equal(n6, 6);
    /* It hands each node only nodes of its own family: none it cannot
     * reach, whose requests would wait out their timeouts. */
    for (int i = 0; i < 6; i++) {
        n = dht_closest_nodes(dht_uv_dht(v4[i]), &key0, known, DHT_MAX_K);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(known[j].addr.family, DHT_AF_INET);
        n = dht_closest_nodes(dht_uv_dht(v6[i]), &key0, known, DHT_MAX_K);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(known[j].addr.family, DHT_AF_INET6);
    }
    {
        dht_uv_t *all[13] = {dual};
        for (int i = 0; i < 6; i++) {
            all[1 + i] = v4[i];
            all[7 + i] = v6[i];
        }
        /* Across the families both ways, a datagram's worth and a
         * stream's; then at random. */
        cross(&loop, v4[1], v6[2], 100);
        cross(&loop, v6[3], v4[4], 100);
        cross(&loop, v4[5], v6[0], 256 * 1024);
        cross(&loop, v6[1], v4[0], 256 * 1024);
        srand(5);
        put_get(&loop, all, 13, 8, 100, 2);
        stop(&loop, all, 13);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void on_ping(int status, const dht_id_t *peer, void *arg)
{
    (void)peer;
    *(int *)arg = status;
    pending--;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* A node whose process is gone while its host is up: the kernel reports
 * each datagram to its port (ICMP port unreachable, read from the error
 * queue), and a request to it fails after its attempts without waiting
 * out one timeout. A report also makes the socket's next send fail
 * unsent (whichever peer it is for): here a ping to a live node goes out
 * right after the reports came, and is sent again at once, not lost. */
static void test_dead_port_reported(void **state)
{
    uv_loop_t loop;
    dht_uv_t *nodes[3];
    dht_addr_t gone, live;
    dht_stats_t before, after;
    int closed = 0, st_gone = 1, st_live = 1;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    start(&loop, nodes, 3, "127.0.0.1:0");
    dht_uv_addr(nodes[1], &gone);
    dht_uv_addr(nodes[2], &live);
    dht_uv_close(nodes[1], on_closed, &closed);
    while (!closed)
        uv_run(&loop, UV_RUN_ONCE);
    dht_get_stats(dht_uv_dht(nodes[0]), uv_now(&loop), &before);
    pending += 2;
    assert_int_equal(dht_ping(dht_uv_dht(nodes[0]), &gone, on_ping, &st_gone), 0);
    usleep(20000); /* the report is in; the loop has not read it */
    assert_int_equal(dht_ping(dht_uv_dht(nodes[0]), &live, on_ping, &st_live), 0);
    wait_all(&loop);
    dht_get_stats(dht_uv_dht(nodes[0]), uv_now(&loop), &after);
    print_message("reports %llu, timeouts %llu, send errors %llu\n",
                  (unsigned long long)(after.rpc_unreachable - before.rpc_unreachable),
                  (unsigned long long)(after.rpc_timeouts - before.rpc_timeouts),
                  (unsigned long long)(after.send_errors - before.send_errors));
    assert_int_equal(st_gone, DHT_ETIMEDOUT);
    assert_int_equal(st_live, 0);
    assert_true(after.rpc_unreachable > before.rpc_unreachable);
    assert_int_equal(after.rpc_timeouts, before.rpc_timeouts); /* every attempt was reported */
    assert_int_equal(after.send_errors, before.send_errors);   /* nothing lost unsent */
    dht_uv_close(nodes[0], NULL, NULL);
    dht_uv_close(nodes[2], NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A value too large is refused at once; an unparsable bind address too. */
static void test_errors(void **state)
{
    uv_loop_t loop;
    dht_uv_t *node;
    static uint8_t big[(1 << 20) + 1];
    dht_id_t key;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(dht_uv_new(&node, &loop, NULL, "localhost:80"), DHT_EADDR);
    assert_int_equal(dht_uv_new(&node, &loop, NULL, "127.0.0.1:0"), 0);
    dht_id_from_bytes(&key, "k", 1);
    assert_int_equal(dht_put(dht_uv_dht(node), &key, big, sizeof(big), 60, on_put, NULL),
                     DHT_ETOOBIG);
    stop(&loop, &node, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A bind that fails says why: the port in use (UDP by another node, or
 * TCP only), a privileged port when not root. */
static void test_bind_errors(void **state)
{
    uv_loop_t loop;
    dht_uv_t *node, *other;
    dht_addr_t at;
    char addr[DHT_ADDRSTRLEN];
    uv_tcp_t tcp;
    struct sockaddr_in sa;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(dht_uv_new(&node, &loop, NULL, "127.0.0.1:0"), 0);
    dht_uv_addr(node, &at);
    dht_addr_format(&at, addr);
    assert_int_equal(dht_uv_new(&other, &loop, NULL, addr), DHT_EADDRINUSE);
    assert_string_equal(dht_strerror(DHT_EADDRINUSE), "address already in use");
    stop(&loop, &node, 1);

    /* Only the TCP port taken (a listening socket of someone else). */
    assert_int_equal(uv_tcp_init(&loop, &tcp), 0);
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
    assert_int_equal(uv_tcp_bind(&tcp, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&tcp, 1, NULL), 0);
    int len = sizeof(sa);
    assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&sa, &len), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    assert_int_equal(dht_uv_new(&other, &loop, NULL, addr), DHT_EADDRINUSE);
    uv_close((uv_handle_t *)&tcp, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);

    if (geteuid() != 0) {
        int err = dht_uv_new(&other, &loop, NULL, "127.0.0.1:1");
        if (err == 0)
            stop(&loop, &other, 1); /* unprivileged ports start at 0 here */
        else
            assert_int_equal(err, DHT_EACCES);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_32_nodes),
        cmocka_unit_test(test_loopback_route),
        cmocka_unit_test(test_loopback_ipv6),
        cmocka_unit_test(test_dual_stack),
        cmocka_unit_test(test_loopback_options),
        cmocka_unit_test(test_dead_port_reported),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bind_errors),
    };

    alarm(300);
    return cmocka_run_group_tests_name("uv", tests, NULL, NULL);
}
