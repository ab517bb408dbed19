/*
 * dht_free() from inside the node's own callbacks (dht.h: the node goes
 * once the callback has returned): from a ping, a bootstrap, a put and a
 * get callback run by dht_receive(), and from a timeout callback run by
 * dht_periodic(). Each time another operation is in flight: it reports
 * DHT_ECANCELED once, only after the freeing callback has returned; from
 * there, starting an operation fails with DHT_ECLOSED and a second
 * dht_free() does nothing. The cores talk through tests/helpers/fake_net.c.
 * Without the deferred free, ASan (make check) reports a use after free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <unistd.h> /* alarm */

#include "helpers/fake_asserts.h"

/* One test's state, passed as every callback's arg. */
typedef struct closer {
    fake_net_t *net;
    int node;          /* the core the callbacks free */
    dht_t *dht;        /* that core, kept for the calls after the free */
    fake_result_t r;   /* what the freeing callback got */
    int returned;      /* the freeing callback has returned */
    int other_calls;   /* the operation in flight when the node is freed */
    int other_status;
    int other_after;   /* it reported after the freeing callback returned */
    int restart;       /* dht_ping() from inside that report */
} closer_t;

static void free_node(closer_t *c)
{
    fake_remove(c->net, c->node); /* dht_free() */
}

static void on_ping_free(int status, const dht_id_t *peer, void *arg)
{
    closer_t *c = arg;

    fake_ping_cb(status, peer, &c->r);
    free_node(c);
    c->returned = 1;
}

static void on_status_free(int status, void *arg)
{
    closer_t *c = arg;

    fake_status_cb(status, &c->r);
    free_node(c);
    c->returned = 1;
}

static void on_put_free(int status, unsigned stored, void *arg)
{
    closer_t *c = arg;

    fake_put_cb(status, stored, &c->r);
    free_node(c);
    c->returned = 1;
}

static void on_get_free(int status, const dht_value_t *v, size_t n, void *arg)
{
    closer_t *c = arg;

    free_node(c);
    fake_get_cb(status, v, n, &c->r); /* the values outlive the free */
    c->returned = 1;
}

static void on_other(int status, const dht_id_t *peer, void *arg)
{
    closer_t *c = arg;
    dht_addr_t to = fake_addr("10.9.9.9:9");

    (void)peer;
    c->other_calls++;
    c->other_status = status;
    c->other_after = c->returned;
    c->restart = dht_ping(c->dht, &to, on_other, c);
    dht_free(c->dht); /* freed already: nothing happens */
}

/* A net with cores a (index 0, the one freed) and b that know each other;
 * with other set, a ping from a to an address nobody is at, in flight. */
static fake_net_t *setup(closer_t *c, int other)
{
    fake_net_t *net = new_net();
    dht_addr_t nobody = fake_addr("10.9.9.9:9");
    int a = add_cfg(net, "127.0.0.1:4001", NULL);
    int b = add_cfg(net, "127.0.0.1:4002", NULL);

    memset(c, 0, sizeof(*c));
    c->net = net;
    c->node = a;
    c->dht = fake_dht(net, a);
    assert_int_equal(dht_insert_node(c->dht, dht_self(fake_dht(net, b)), fake_addr_of(net, b),
                                     net->now),
                     0);
    if (other)
        assert_int_equal(dht_ping(c->dht, &nobody, on_other, c), 0);
    return net;
}

/* The node is gone, the freeing callback ran once, and the operation in
 * flight was cancelled after it returned. */
static void check_freed(closer_t *c)
{
    assert_null(fake_dht(c->net, c->node));
    assert_int_equal(c->r.calls, 1);
    assert_int_equal(c->other_calls, 1);
    assert_int_equal(c->other_status, DHT_ECANCELED);
    assert_true(c->other_after);
    assert_int_equal(c->restart, DHT_ECLOSED);
    fake_result_clear(&c->r);
    fake_net_free(c->net);
}

static void test_free_in_ping_cb(void **state)
{
    closer_t c;
    fake_net_t *net = setup(&c, 1);

    (void)state;
    assert_int_equal(dht_ping(c.dht, fake_addr_of(net, 1), on_ping_free, &c), 0);
    fake_run(net, &c.r.calls, 10000);
    assert_int_equal(c.r.status, 0);
    check_freed(&c);
}

static void test_free_in_bootstrap_cb(void **state)
{
    closer_t c;
    fake_net_t *net = setup(&c, 1);

    (void)state;
    assert_int_equal(dht_bootstrap(c.dht, fake_addr_of(net, 1), 1, on_status_free, &c), 0);
    fake_run(net, &c.r.calls, 10000);
    assert_int_equal(c.r.status, 0);
    check_freed(&c);
}

static void test_free_in_put_cb(void **state)
{
    closer_t c;
    fake_net_t *net = setup(&c, 1);
    dht_id_t key = fake_id_b0(0x33);

    (void)state;
    assert_int_equal(dht_put(c.dht, &key, "v", 1, 60, on_put_free, &c), 0);
    fake_run(net, &c.r.calls, 10000);
    assert_int_equal(c.r.status, 0);
    assert_true(c.r.stored >= 1);
    check_freed(&c);
}

static void test_free_in_get_cb(void **state)
{
    closer_t c;
    fake_net_t *net = setup(&c, 1);
    fake_result_t p = {0};
    dht_id_t key = fake_id_b0(0x44);

    (void)state;
    /* b stores the value (a is in b's table once a has pinged b). */
    assert_int_equal(dht_insert_node(fake_dht(net, 1), dht_self(c.dht), fake_addr_of(net, 0),
                                     net->now),
                     0);
    assert_int_equal(dht_put(fake_dht(net, 1), &key, "hello", 5, 60, fake_put_cb, &p), 0);
    fake_run(net, &p.calls, 10000);
    assert_int_equal(p.status, 0);
    assert_int_equal(dht_get(c.dht, &key, on_get_free, &c), 0);
    fake_run(net, &c.r.calls, 10000);
    assert_int_equal(c.r.status, 0);
    assert_true(fake_result_has(&c.r, "hello", 5));
    check_freed(&c);
}

/* A callback run by dht_periodic() (a ping that timed out) frees the node:
 * dht_periodic() then returns UINT64_MAX and touches the node no more. */
static void test_free_in_timeout_cb(void **state)
{
    closer_t c;
    fake_net_t *net = setup(&c, 0);
    dht_addr_t nobody = fake_addr("10.9.9.8:8");
    dht_addr_t nobody2 = fake_addr("10.9.9.9:9");
    uint64_t t = net->now, next = 0;

    (void)state;
    /* Each ping is sent three times, 1 s apart: the first ends at t + 3 s,
     * while the second, 0.5 s younger, is still in flight. */
    assert_int_equal(dht_ping(c.dht, &nobody, on_ping_free, &c), 0);
    assert_int_equal(dht_periodic(c.dht, t + 500), t + 1000);
    assert_int_equal(dht_ping(c.dht, &nobody2, on_other, &c), 0);
    for (uint64_t ms = 1000; c.r.calls == 0 && ms <= 5000; ms += 500)
        next = dht_periodic(c.dht, t + ms);
    assert_int_equal(next, UINT64_MAX);
    assert_int_equal(c.r.status, DHT_ETIMEDOUT);
    check_freed(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_in_ping_cb),
        cmocka_unit_test(test_free_in_bootstrap_cb),
        cmocka_unit_test(test_free_in_put_cb),
        cmocka_unit_test(test_free_in_get_cb),
        cmocka_unit_test(test_free_in_timeout_cb),
    };

    alarm(60);
    return cmocka_run_group_tests_name("node_free_cb", tests, NULL, NULL);
}
