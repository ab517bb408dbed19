/*
 * dht_uv_close() from inside the node's own callbacks, as uv_close() may be
 * called from a handle's callbacks: from a join, a put, a get and a ping
 * timeout callback, and again from the DHT_ECANCELED callbacks that the
 * close itself fires. Two nodes on 127.0.0.1 in one loop. The node's
 * memory must outlive the callbacks (under ASan a use after free aborts),
 * every callback fires exactly once, close_cb fires once, and the loop
 * ends with every handle released (uv_loop_close() returns 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <uv.h>

#include "dht.h"

/* What one test saw. */
typedef struct seen {
    dht_uv_t *close_me; /* the node the callbacks close */
    int calls, status;
    unsigned stored;
    char value[32];
    int ping_calls, ping_status; /* a ping still in flight when the node closes */
    int closed;                  /* close_cb calls */
    int silent_fd;               /* the socket of silent_port(), or 0 */
} seen_t;

static void on_closed(void *arg)
{
    ((seen_t *)arg)->closed++;
}

static void close_node(seen_t *s)
{
    dht_uv_close(s->close_me, on_closed, s);
}

static void on_joined_close(int status, void *arg)
{
    seen_t *s = arg;

    s->calls++;
    s->status = status;
    close_node(s);
}

static void on_put_close(int status, unsigned stored, void *arg)
{
    seen_t *s = arg;

    s->calls++;
    s->status = status;
    s->stored = stored;
    close_node(s);
}

static void on_get_close(int status, const dht_value_t *v, size_t n, void *arg)
{
    seen_t *s = arg;

    s->calls++;
    s->status = status;
    close_node(s);
    /* The values stay valid until this callback returns, close or not. */
    if (status == 0 && n == 1 && v[0].len < sizeof(s->value))
        memcpy(s->value, v[0].data, v[0].len);
}

/* Closes again from the DHT_ECANCELED callback that closing fires: a
 * second close of a closing node does nothing. */
static void on_ping_close_again(int status, const dht_id_t *peer, void *arg)
{
    seen_t *s = arg;

    (void)peer;
    s->ping_calls++;
    s->ping_status = status;
    dht_uv_close(s->close_me, on_closed, s);
}

static void on_ping_timeout_close(int status, const dht_id_t *peer, void *arg)
{
    seen_t *s = arg;

    (void)peer;
    s->calls++;
    s->status = status;
    close_node(s);
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status + 1000; /* nonzero: called */
}

static void on_put(int status, unsigned stored, void *arg)
{
    (void)stored;
    *(int *)arg = status + 1000;
}

/* Runs the loop until *flag is nonzero; fails after 10 s. */
static void run_until(uv_loop_t *loop, const int *flag)
{
    uint64_t deadline = uv_now(loop) + 10000;

    while (*flag == 0 && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    assert_int_not_equal(*flag, 0);
}

/* Starts a (listening only) and b, which joins through a when join is 1. */
static void start_pair(uv_loop_t *loop, dht_uv_t **a, dht_uv_t **b, int join)
{
    dht_addr_t first;
    int joined = 0;

    assert_int_equal(uv_loop_init(loop), 0);
    assert_int_equal(dht_uv_new(a, loop, NULL, "127.0.0.1:0"), 0);
    assert_int_equal(dht_uv_new(b, loop, NULL, "127.0.0.1:0"), 0);
    if (!join)
        return;
    dht_uv_addr(*a, &first);
    assert_int_equal(dht_bootstrap(dht_uv_dht(*b), &first, 1, on_joined, &joined), 0);
    run_until(loop, &joined);
    assert_int_equal(joined, 1000);
}

/* Binds a UDP socket on 127.0.0.1 that is never read, so that datagrams to
 * it go unanswered and, unlike those to a closed port, bring no ICMP "port
 * unreachable" that would end a request at once. Its address goes to *to,
 * its descriptor to s->silent_fd (closed by finish()). */
static void silent_port(seen_t *s, dht_addr_t *to)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    char hostport[32];
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    assert_true(fd > 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(hostport, sizeof(hostport), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    assert_int_equal(dht_addr_parse(to, hostport), 0);
    s->silent_fd = fd;
}

/* Starts a ping from s->close_me to an address nobody answers on, so that
 * it is still in flight when the node closes. */
static void ping_nobody(seen_t *s)
{
    dht_addr_t nobody;

    silent_port(s, &nobody);
    assert_int_equal(dht_ping(dht_uv_dht(s->close_me), &nobody, on_ping_close_again, s), 0);
}

/* Closes the other node, lets the loop end, and checks that everything was
 * released. */
static void finish(uv_loop_t *loop, dht_uv_t *other, seen_t *s)
{
    dht_uv_close(other, NULL, NULL);
    assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(s->calls, 1);
    assert_int_equal(s->closed, 1);
    assert_int_equal(uv_loop_close(loop), 0);
    if (s->silent_fd > 0)
        close(s->silent_fd);
}

static void test_close_in_join_cb(void **state)
{
    uv_loop_t loop;
    dht_uv_t *a, *b;
    dht_addr_t first;
    seen_t s = {0};

    (void)state;
    start_pair(&loop, &a, &b, 0);
    s.close_me = b;
    ping_nobody(&s);
    dht_uv_addr(a, &first);
    assert_int_equal(dht_bootstrap(dht_uv_dht(b), &first, 1, on_joined_close, &s), 0);
    run_until(&loop, &s.calls);
    assert_int_equal(s.status, 0);
    /* The ping in flight was cancelled as the join callback closed b,
     * and its own close from inside that cancellation did nothing. */
    assert_int_equal(s.ping_calls, 1);
    assert_int_equal(s.ping_status, DHT_ECANCELED);
    finish(&loop, a, &s);
}

static void test_close_in_put_cb(void **state)
{
    uv_loop_t loop;
    dht_uv_t *a, *b;
    dht_id_t key;
    seen_t s = {0};

    (void)state;
    start_pair(&loop, &a, &b, 1);
    s.close_me = b;
    ping_nobody(&s);
    dht_id_from_bytes(&key, "put-close", 9);
    assert_int_equal(dht_put(dht_uv_dht(b), &key, "v", 1, 60, on_put_close, &s), 0);
    run_until(&loop, &s.calls);
    assert_int_equal(s.status, 0);
    assert_true(s.stored >= 1);
    assert_int_equal(s.ping_calls, 1);
    assert_int_equal(s.ping_status, DHT_ECANCELED);
    finish(&loop, a, &s);
}

static void test_close_in_get_cb(void **state)
{
    uv_loop_t loop;
    dht_uv_t *a, *b;
    dht_id_t key;
    seen_t s = {0};
    int put = 0;

    (void)state;
    start_pair(&loop, &a, &b, 1);
    dht_id_from_bytes(&key, "get-close", 9);
    assert_int_equal(dht_put(dht_uv_dht(a), &key, "hello", 5, 60, on_put, &put), 0);
    run_until(&loop, &put);
    assert_int_equal(put, 1000);
    s.close_me = b;
    ping_nobody(&s);
    assert_int_equal(dht_get(dht_uv_dht(b), &key, on_get_close, &s), 0);
    run_until(&loop, &s.calls);
    assert_int_equal(s.status, 0);
    assert_string_equal(s.value, "hello");
    assert_int_equal(s.ping_calls, 1);
    assert_int_equal(s.ping_status, DHT_ECANCELED);
    finish(&loop, a, &s);
}

/* A callback that runs from the node's timer (a ping that timed out), not
 * from a received message, closes the node too. */
static void test_close_in_timeout_cb(void **state)
{
    uv_loop_t loop;
    dht_uv_t *a, *b;
    dht_config_t cfg;
    dht_addr_t nobody;
    seen_t s = {0};

    (void)state;
    dht_config_init(&cfg);
    cfg.timeout_ms = 50;
    cfg.retries = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(dht_uv_new(&a, &loop, NULL, "127.0.0.1:0"), 0);
    assert_int_equal(dht_uv_new(&b, &loop, &cfg, "127.0.0.1:0"), 0);
    s.close_me = b;
    silent_port(&s, &nobody);
    assert_int_equal(dht_ping(dht_uv_dht(b), &nobody, on_ping_timeout_close, &s), 0);
    run_until(&loop, &s.calls);
    assert_int_equal(s.status, DHT_ETIMEDOUT);
    finish(&loop, a, &s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_in_join_cb),
        cmocka_unit_test(test_close_in_put_cb),
        cmocka_unit_test(test_close_in_get_cb),
        cmocka_unit_test(test_close_in_timeout_cb),
    };

    alarm(120);
    return cmocka_run_group_tests_name("uv_close", tests, NULL, NULL);
}
