/*
 * Key-based routing (dht_route) in the simulator: 10,000 messages in a
 * 10,000-node network each reach the node truly closest to their key
 * (found by sorting every id, not by asking the network); the
 * application's forward callback sees every node a message passes and
 * may change or drop it; a node with a stale view forwards to the closer
 * node it knows, once, however often it is asked again; a node that runs
 * no application refuses; the deliver callback may route an answer back;
 * the neighbours callback follows joins and deaths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dht.h"

/* What one node's application saw. */
typedef struct app {
    size_t idx;
    unsigned delivered, forwarded; /* route_deliver / route_forward calls */
    int drop;                      /* route_forward drops every message */
    int answer;                    /* route_deliver routes an answer to the origin */
    int mark;                      /* route_forward appends this byte (0: none) */
    uint8_t last[DHT_ROUTE_MAX];   /* the last message delivered */
    size_t last_len;
    dht_id_t last_key, last_origin;
    unsigned neighbour_calls;
    dht_node_info_t neighbours[DHT_MAX_K];
    size_t n_neighbours;
} app_t;

static dht_sim_t *the_sim;
static app_t *apps;
static size_t *delivered_at; /* message index -> node that delivered it */
static int pending;

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void run_all(dht_sim_t *sim)
{
    assert_int_equal(dht_sim_run(sim, all_done, NULL, dht_sim_now(sim) + 3600 * 1000), 1);
}

static int on_forward(void *arg, const dht_id_t *key, uint8_t *msg, size_t *len,
                      const dht_id_t *next)
{
    app_t *a = arg;

    (void)key;
    (void)next;
    a->forwarded++;
    if (a->drop)
        return 1;
    if (a->mark && *len < DHT_ROUTE_MAX)
        msg[(*len)++] = (uint8_t)a->mark;
    return 0;
}

static void on_answer_routed(int status, const dht_id_t *node, void *arg)
{
    (void)node;
    *(int *)arg = status;
    pending--;
}

static int answer_status = 1;

static void on_deliver(void *arg, const dht_id_t *key, const uint8_t *msg, size_t len,
                       const dht_id_t *origin)
{
    app_t *a = arg;

    a->delivered++;
    a->last_key = *key;
    a->last_origin = *origin;
    memcpy(a->last, msg, len);
    a->last_len = len;
    if (delivered_at != NULL && len >= 4) {
        uint32_t i;
        memcpy(&i, msg, 4);
        delivered_at[i] = a->idx;
    }
    if (a->answer) { /* from inside the callback, back to the origin */
        pending++;
        assert_int_equal(dht_route(dht_sim_node(the_sim, a->idx), origin, "pong", 4,
                                   on_answer_routed, &answer_status),
                         0);
    }
    pending--;
}

static void on_neighbours(void *arg, const dht_node_info_t *nodes, size_t n)
{
    app_t *a = arg;

    a->neighbour_calls++;
    memcpy(a->neighbours, nodes, n * sizeof(*nodes));
    a->n_neighbours = n;
}

/* A network of n nodes, each running the test's application (node
 * without_app runs none: no callbacks). */
static dht_sim_t *build(size_t n, uint64_t seed, size_t without_app)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    assert_int_equal(dht_sim_new(&sim, &cfg), 0);
    apps = calloc(n, sizeof(*apps));
    assert_non_null(apps);
    for (size_t i = 0; i < n; i++) {
        dht_config_t nc = cfg.node;
        apps[i].idx = i;
        if (i != without_app) {
            nc.route_forward = on_forward;
            nc.route_deliver = on_deliver;
            nc.route_neighbours = on_neighbours;
            nc.route_arg = &apps[i];
        }
        assert_int_equal(dht_sim_add_node_with(sim, &nc), (int)i);
    }
    the_sim = sim;
    return sim;
}

static void teardown(dht_sim_t *sim)
{
    dht_sim_free(sim);
    free(apps);
    apps = NULL;
    the_sim = NULL;
}

/* The node closest to key by XOR, from every id sorted: walking down the
 * bits, keep the half of the range that agrees with key's bit when it is
 * not empty. */
typedef struct ranked {
    dht_id_t id;
    size_t idx;
} ranked_t;

static int by_id(const void *a, const void *b)
{
    return dht_id_cmp(&((const ranked_t *)a)->id, &((const ranked_t *)b)->id);
}

static int bit(const dht_id_t *id, unsigned b)
{
    return (id->b[b / 8] >> (7 - b % 8)) & 1;
}

static size_t true_closest(const ranked_t *sorted, size_t n, const dht_id_t *key)
{
    size_t lo = 0, hi = n;

    for (unsigned b = 0; b < 8 * DHT_ID_LEN && hi - lo > 1; b++) {
        size_t mid = lo; /* first of the range with bit b set */
        while (mid < hi && !bit(&sorted[mid].id, b))
            mid++;
        if (bit(key, b) ? mid < hi : mid > lo) {
            if (bit(key, b))
                lo = mid;
            else
                hi = mid;
        }
    }
    return sorted[lo].idx;
}

typedef struct route_ctx {
    int status;
    dht_id_t node;
} route_ctx_t;

static void on_routed(int status, const dht_id_t *node, void *arg)
{
    route_ctx_t *c = arg;

    c->status = status;
    if (node)
        c->node = *node;
    pending--;
}

#define BIG_NODES 10000
#define BIG_MSGS  10000

/* Every message reaches the node truly closest to its key, is delivered
 * there once, and the routing node is told so. */
static void test_route_reaches_closest(void **state)
{
    dht_sim_t *sim = build(BIG_NODES, 2026, SIZE_MAX);
    ranked_t *sorted = malloc(BIG_NODES * sizeof(*sorted));
    route_ctx_t *ctx = calloc(BIG_MSGS, sizeof(*ctx));
    dht_id_t *keys = malloc(BIG_MSGS * sizeof(*keys));
    unsigned right = 0, delivered = 0, told = 0, forwarded = 0;
    dht_stats_t st;

    (void)state;
    assert_non_null(sorted);
    delivered_at = malloc(BIG_MSGS * sizeof(*delivered_at));
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    for (size_t i = 0; i < BIG_NODES; i++) {
        sorted[i].id = *dht_self(dht_sim_node(sim, i));
        sorted[i].idx = i;
    }
    qsort(sorted, BIG_NODES, sizeof(*sorted), by_id);
    srand(7);
    for (uint32_t i = 0; i < BIG_MSGS; i++) {
        uint8_t msg[16];
        size_t from = (size_t)rand() % BIG_NODES;
        uint64_t name[2] = {77, i};
        dht_id_from_bytes(&keys[i], name, sizeof(name));
        memcpy(msg, &i, 4);
        memcpy(msg + 4, &from, sizeof(from) < 12 ? sizeof(from) : 12);
        delivered_at[i] = SIZE_MAX;
        pending += 2; /* the route's callback and the deliver */
        assert_int_equal(
            dht_route(dht_sim_node(sim, from), &keys[i], msg, sizeof(msg), on_routed, &ctx[i]), 0);
    }
    run_all(sim);
    for (uint32_t i = 0; i < BIG_MSGS; i++) {
        size_t want = true_closest(sorted, BIG_NODES, &keys[i]);
        right += delivered_at[i] == want;
        told +=
            ctx[i].status == 0 && dht_id_cmp(&ctx[i].node, dht_self(dht_sim_node(sim, want))) == 0;
        forwarded += ctx[i].status == DHT_ROUTE_FORWARDED;
    }
    for (size_t i = 0; i < BIG_NODES; i++) {
        delivered += apps[i].delivered;
        dht_get_stats(dht_sim_node(sim, i), dht_sim_now(sim), &st);
        assert_int_equal(st.routes_refused, 0);
    }
    print_message("%u of %u messages at the true closest node; %u forwarded on the way\n", right,
                  BIG_MSGS, forwarded);
    assert_int_equal(right, BIG_MSGS);
    assert_int_equal(delivered, BIG_MSGS);
    assert_int_equal(told + forwarded, BIG_MSGS);
    free(delivered_at);
    delivered_at = NULL;
    free(sorted);
    free(ctx);
    free(keys);
    teardown(sim);
}

/* The index of the node closest to key among n, and the second. */
static void two_closest(dht_sim_t *sim, size_t n, const dht_id_t *key, size_t *first,
                        size_t *second)
{
    *first = *second = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const dht_id_t *id = dht_self(dht_sim_node(sim, i));
        if (*first == SIZE_MAX ||
            dht_id_cmp_distance(key, id, dht_self(dht_sim_node(sim, *first))) < 0) {
            *second = *first;
            *first = i;
        } else if (*second == SIZE_MAX ||
                   dht_id_cmp_distance(key, id, dht_self(dht_sim_node(sim, *second))) < 0) {
            *second = i;
        }
    }
}

/* route_forward runs at every node the message passes, the routing one
 * included and the delivering one last, and what it changes arrives. */
static void test_forward_changes_message(void **state)
{
    dht_sim_t *sim = build(200, 5, SIZE_MAX);
    route_ctx_t c = {1, {{0}}};
    dht_id_t key;
    size_t dest, second;

    (void)state;
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    dht_id_from_bytes(&key, "forward", 7);
    two_closest(sim, 200, &key, &dest, &second);
    for (size_t i = 0; i < 200; i++)
        apps[i].mark = 'A' + (int)(i % 26);
    pending = 2;
    assert_int_equal(dht_route(dht_sim_node(sim, dest == 3 ? 4 : 3), &key, "hi", 2, on_routed, &c),
                     0);
    run_all(sim);
    assert_int_equal(c.status, 0);
    assert_memory_equal(&c.node, dht_self(dht_sim_node(sim, dest)), sizeof(c.node));
    assert_int_equal(apps[dest].delivered, 1);
    /* "hi", the routing node's mark, the destination's mark */
    assert_int_equal(apps[dest].last_len, 4);
    assert_memory_equal(apps[dest].last, "hi", 2);
    assert_int_equal(apps[dest].last[2], 'A' + (dest == 3 ? 4 : 3) % 26);
    assert_int_equal(apps[dest].last[3], 'A' + (int)(dest % 26));
    assert_memory_equal(&apps[dest].last_key, &key, sizeof(key));
    assert_memory_equal(&apps[dest].last_origin, dht_self(dht_sim_node(sim, dest == 3 ? 4 : 3)),
                        sizeof(key));
    teardown(sim);
}

/* A forward callback that drops: at the routing node, nothing is sent;
 * at the destination, nothing is delivered; either way the router hears
 * DHT_EREJECTED. */
static void test_forward_drops(void **state)
{
    dht_sim_t *sim = build(100, 6, SIZE_MAX);
    route_ctx_t c = {1, {{0}}};
    dht_id_t key;
    size_t dest, second, from;
    unsigned delivered = 0;
    dht_stats_t st;

    (void)state;
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    dht_id_from_bytes(&key, "drop", 4);
    two_closest(sim, 100, &key, &dest, &second);
    from = dest == 0 ? 1 : 0;
    apps[from].drop = 1;
    pending = 1;
    assert_int_equal(dht_route(dht_sim_node(sim, from), &key, "x", 1, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, DHT_EREJECTED);
    apps[from].drop = 0;
    apps[dest].drop = 1;
    pending = 1;
    assert_int_equal(dht_route(dht_sim_node(sim, from), &key, "x", 1, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, DHT_EREJECTED);
    for (size_t i = 0; i < 100; i++)
        delivered += apps[i].delivered;
    assert_int_equal(delivered, 0);
    dht_get_stats(dht_sim_node(sim, dest), dht_sim_now(sim), &st);
    assert_int_equal(st.routes_refused, 1);
    teardown(sim);
}

/* The closest node runs no application: it refuses, and says so. */
static void test_no_application_refuses(void **state)
{
    dht_id_t key;
    size_t dest, second;
    dht_sim_t *sim;
    route_ctx_t c = {1, {{0}}};

    (void)state;
    /* Which node is closest does not depend on the callbacks: build once
     * to learn it, then again with that node bare. */
    dht_id_from_bytes(&key, "bare", 4);
    sim = build(100, 8, SIZE_MAX);
    two_closest(sim, 100, &key, &dest, &second);
    teardown(sim);
    sim = build(100, 8, dest);
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    pending = 1;
    assert_int_equal(dht_route(dht_sim_node(sim, second), &key, "x", 1, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, DHT_EREJECTED);
    assert_int_equal(apps[dest].delivered, 0);
    teardown(sim);
}

/* The routing node is itself the closest: delivered here, with no
 * message sent for it; the deliver callback routes an answer back to the
 * origin (a node id is a key like any other). */
static void test_deliver_here_and_answer(void **state)
{
    dht_sim_t *sim = build(150, 9, SIZE_MAX);
    route_ctx_t c = {1, {{0}}};
    dht_id_t key;
    size_t dest, second, from;

    (void)state;
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    dht_id_from_bytes(&key, "here", 4);
    two_closest(sim, 150, &key, &dest, &second);
    pending = 2;
    assert_int_equal(dht_route(dht_sim_node(sim, dest), &key, "self", 4, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, 0);
    assert_memory_equal(&c.node, dht_self(dht_sim_node(sim, dest)), sizeof(c.node));
    assert_int_equal(apps[dest].delivered, 1);
    /* Now from another node, and the destination answers. */
    from = second;
    apps[dest].answer = 1;
    answer_status = 1;
    pending = 3; /* route cb, deliver at dest, deliver of the answer (+1 in deliver: its cb) */
    assert_int_equal(dht_route(dht_sim_node(sim, from), &key, "ping", 4, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, 0);
    assert_int_equal(answer_status, 0);
    assert_int_equal(apps[from].delivered, 1);
    assert_memory_equal(apps[from].last, "pong", 4);
    assert_memory_equal(&apps[from].last_key, dht_self(dht_sim_node(sim, from)), DHT_ID_LEN);
    teardown(sim);
}

/* The closest node answers 20 s late: the router's lookup gives up on it
 * and sends the message to the second closest, whose table still holds
 * the closest as verified: it forwards the message there, once, though
 * its request is resent while the late node's answer is on its way. */
static void test_stale_view_forwards(void **state)
{
    dht_sim_t *sim = build(200, 10, SIZE_MAX);
    route_ctx_t c = {1, {{0}}};
    dht_id_t key;
    size_t dest, second, from;
    dht_stats_t st;

    (void)state;
    assert_int_equal(dht_sim_fill_tables(sim), 0);
    dht_id_from_bytes(&key, "stale", 5);
    two_closest(sim, 200, &key, &dest, &second);
    from = (dest + 7) % 200 == second ? (dest + 8) % 200 : (dest + 7) % 200;
    assert_int_equal(dht_sim_set_extra_delay(sim, dest, 20000), 0);
    pending = 2;
    assert_int_equal(dht_route(dht_sim_node(sim, from), &key, "late", 4, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, DHT_ROUTE_FORWARDED);
    assert_memory_equal(&c.node, dht_self(dht_sim_node(sim, dest)), sizeof(c.node));
    /* Let every resend and late answer play out. */
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 60000);
    assert_int_equal(apps[dest].delivered, 1);
    assert_int_equal(apps[second].delivered, 0);
    dht_get_stats(dht_sim_node(sim, second), dht_sim_now(sim), &st);
    assert_int_equal(st.routes_forwarded, 1);
    dht_get_stats(dht_sim_node(sim, dest), dht_sim_now(sim), &st);
    assert_int_equal(st.routes_delivered, 1);
    teardown(sim);
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status;
    pending--;
}

static int holds(const app_t *a, const dht_id_t *id)
{
    for (size_t i = 0; i < a->n_neighbours; i++)
        if (dht_id_cmp(&a->neighbours[i].id, id) == 0)
            return 1;
    return 0;
}

static void on_got(int status, const dht_value_t *values, size_t n, void *arg)
{
    (void)status;
    (void)values;
    (void)n;
    (void)arg;
    pending--;
}

/* Nodes join one by one through node 0; node 0 is told its neighbours,
 * nearest first; when its nearest dies (and a lookup finds it silent),
 * it is told again without it, once its table knows it failed. */
static void test_neighbours_follow_changes(void **state)
{
    dht_sim_t *sim = build(30, 11, SIZE_MAX);
    dht_addr_t first;
    size_t nearest = SIZE_MAX;
    const dht_id_t *self;
    dht_id_t gone;
    unsigned calls;

    (void)state;
    dht_sim_node_addr(sim, 0, &first);
    for (size_t i = 1; i < 30; i++) {
        int status = 1;
        pending = 1;
        assert_int_equal(dht_bootstrap(dht_sim_node(sim, i), &first, 1, on_joined, &status), 0);
        run_all(sim);
        assert_int_equal(status, 0);
    }
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 12000); /* two ticks */
    assert_true(apps[0].neighbour_calls >= 1);
    assert_int_equal(apps[0].n_neighbours, 20); /* k of the 29 others */
    self = dht_self(dht_sim_node(sim, 0));
    for (size_t i = 1; i < 30; i++)
        if (nearest == SIZE_MAX || dht_id_cmp_distance(self, dht_self(dht_sim_node(sim, i)),
                                                       dht_self(dht_sim_node(sim, nearest))) < 0)
            nearest = i;
    assert_memory_equal(&apps[0].neighbours[0].id, dht_self(dht_sim_node(sim, nearest)),
                        DHT_ID_LEN);
    for (size_t i = 1; i < apps[0].n_neighbours; i++)
        assert_true(dht_id_cmp_distance(self, &apps[0].neighbours[i - 1].id,
                                        &apps[0].neighbours[i].id) < 0);
    /* Nothing changed: nothing more is told. */
    calls = apps[0].neighbour_calls;
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 12000);
    assert_int_equal(apps[0].neighbour_calls, calls);
    gone = *dht_self(dht_sim_node(sim, nearest));
    assert_int_equal(dht_sim_remove_node(sim, nearest), 0);
    /* A get waits out the resends of a silent node among the closest (a
     * find_node's lookup would not): the table then knows it failed. */
    pending = 1;
    assert_int_equal(dht_get(dht_sim_node(sim, 0), self, on_got, NULL), 0);
    run_all(sim);
    dht_sim_run(sim, NULL, NULL, dht_sim_now(sim) + 12000);
    assert_int_equal(apps[0].neighbour_calls, calls + 1);
    assert_false(holds(&apps[0], &gone));
    assert_int_equal(apps[0].n_neighbours, 20); /* k of the 28 left */
    teardown(sim);
}

/* Bad arguments are refused before anything starts. */
static void test_bad_arguments(void **state)
{
    dht_sim_t *sim = build(2, 12, SIZE_MAX);
    static uint8_t big[DHT_ROUTE_MAX + 1];
    dht_id_t key = {{1}};
    route_ctx_t c;

    (void)state;
    assert_int_equal(dht_route(NULL, &key, "x", 1, on_routed, &c), DHT_EINVAL);
    assert_int_equal(dht_route(dht_sim_node(sim, 0), NULL, "x", 1, on_routed, &c), DHT_EINVAL);
    assert_int_equal(dht_route(dht_sim_node(sim, 0), &key, NULL, 1, on_routed, &c), DHT_EINVAL);
    assert_int_equal(dht_route(dht_sim_node(sim, 0), &key, "x", 1, NULL, &c), DHT_EINVAL);
    assert_int_equal(dht_route(dht_sim_node(sim, 0), &key, big, sizeof(big), on_routed, &c),
                     DHT_ETOOBIG);
    /* A node that knows nobody: no peers. */
    pending = 1;
    assert_int_equal(dht_route(dht_sim_node(sim, 0), &key, big, DHT_ROUTE_MAX, on_routed, &c), 0);
    run_all(sim);
    assert_int_equal(c.status, DHT_ENOPEERS);
    teardown(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_forward_changes_message),
        cmocka_unit_test(test_forward_drops),
        cmocka_unit_test(test_no_application_refuses),
        cmocka_unit_test(test_deliver_here_and_answer),
        cmocka_unit_test(test_stale_view_forwards),
        cmocka_unit_test(test_neighbours_follow_changes),
        cmocka_unit_test(test_route_reaches_closest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
