/*
 * Model-based test of the request timers and retries (libdht/rpc.c), the
 * way the Erlang DHT seed's QuickCheck models test its parts (issue 14
 * item 8): random sequences of pings, several in flight at once, whose
 * every attempt the test answers after a random delay (in half the
 * sequences mostly within 20 ms, so that the adaptive timeout comes into
 * play) or loses, on a
 * mocked clock that moves exactly to the next thing due.
 *
 * The model, from rpc.c's contract (node.h): a request is sent at once
 * and resent when unanswered, 1 + retries sends in all; the first two
 * wait the adaptive timeout R (dht__rpc_rto() when it was sent: the
 * configured timeout until enough round trips were measured), later ones
 * the configured timeout T. A reply to any of its sends that arrives
 * before the last wait ends completes it then, with status 0 and no send
 * after; at the end of the last wait it fails with DHT_ETIMEDOUT. A reply
 * after that is dropped as unsolicited, and nothing else happens. Checked
 * for every ping: each send's time, the callback's time and status, and
 * that it ran once; and the node's count of unsolicited replies.
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

#include "helpers/fake_net.h"
#include "node.h"

#define SEQUENCES 300
#define PINGS     60
#define MAX_SENDS 8
#define MAX_DUE   (PINGS * MAX_SENDS)

typedef struct ping {
    dht_addr_t addr;
    dht_id_t id;
    uint64_t start, rto;        /* when it was asked for; R then */
    uint64_t sent[MAX_SENDS];   /* when each send went */
    uint64_t arrive[MAX_SENDS]; /* when the answer to each comes; 0: lost */
    unsigned n_sent;
    int calls, status;
    uint64_t done_at;
} ping_t;

typedef struct due {
    uint64_t at;
    size_t ping;
    uint32_t txid;
} due_t;

static fake_net_t *net;
static ping_t pings[PINGS];
static due_t dues[MAX_DUE];
static size_t n_dues;
static uint64_t rng;
static int fast;          /* this sequence's peers mostly answer within 20 ms */
static unsigned adaptive; /* pings sent with R below T: the estimator at work */

static unsigned below(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void on_ping(int status, const dht_id_t *peer, void *arg)
{
    ping_t *p = arg;

    (void)peer;
    p->calls++;
    p->status = status;
    p->done_at = net->now;
}

/* Takes the node's sends off the queue: each ping's attempt is noted and
 * answered after a random delay (sometimes beyond every timeout), or lost. */
static void take_sends(unsigned timeout)
{
    fake_msg_t m;

    while (fake_pop(net, &m)) {
        dht__msg_t q;
        for (size_t i = 0; i < PINGS; i++) {
            ping_t *p = &pings[i];
            if (!dht_addr_equal(&p->addr, &m.to) || dht__wire_decode(&q, m.buf, m.len) != 0 ||
                q.type != DHT__PING)
                continue;
            assert_true(p->n_sent < MAX_SENDS);
            p->sent[p->n_sent] = net->now;
            if (below(3) != 0 && n_dues < MAX_DUE) {
                unsigned kind = fast && below(5) != 0 ? 0 : below(4);
                uint64_t d = kind == 0   ? below(20)
                             : kind == 1 ? below(timeout)
                                         : below(3 * timeout);
                p->arrive[p->n_sent] = net->now + d + 1;
                dues[n_dues].at = p->arrive[p->n_sent];
                dues[n_dues].ping = i;
                dues[n_dues].txid = q.txid;
                n_dues++;
            }
            p->n_sent++;
        }
        fake_msg_free(&m);
    }
}

/* The model's verdict on ping p: its sends' times, its end. */
static void check_ping(const ping_t *p, uint64_t seq, size_t i, unsigned timeout, unsigned retries)
{
    uint64_t send_at[MAX_SENDS], end, first = UINT64_MAX;
    unsigned n = 1 + retries, want_sent = n;

    send_at[0] = p->start;
    for (unsigned a = 1; a < n; a++)
        send_at[a] = send_at[a - 1] + (a <= 2 ? p->rto : timeout);
    end = send_at[n - 1] + (n <= 2 ? p->rto : timeout);
    for (unsigned a = 0; a < p->n_sent; a++)
        if (p->arrive[a] != 0 && p->arrive[a] < end && p->arrive[a] < first)
            first = p->arrive[a];
    if (first != UINT64_MAX) {
        want_sent = 0;
        while (want_sent < n && send_at[want_sent] <= first)
            want_sent++;
    }
    if (getenv("RPC_MODEL_TELL") != NULL) {
        printf("ping %zu: start %llu rto %llu; sends:", i, (unsigned long long)p->start,
               (unsigned long long)p->rto);
        for (unsigned a = 0; a < p->n_sent; a++)
            printf(" %llu(->%llu)", (unsigned long long)p->sent[a],
                   (unsigned long long)p->arrive[a]);
        printf("; end %llu; status %d at %llu\n", (unsigned long long)end, p->status,
               (unsigned long long)p->done_at);
    }
    if (p->calls != 1)
        fail_msg("sequence %llu ping %zu: the callback ran %d times", (unsigned long long)seq, i,
                 p->calls);
    if (p->n_sent != want_sent)
        fail_msg("sequence %llu ping %zu: %u sends, the model says %u (R %llu, T %u, retries %u)",
                 (unsigned long long)seq, i, p->n_sent, want_sent, (unsigned long long)p->rto,
                 timeout, retries);
    for (unsigned a = 0; a < p->n_sent; a++)
        if (p->sent[a] != send_at[a])
            fail_msg("sequence %llu ping %zu: send %u at %llu, the model says %llu",
                     (unsigned long long)seq, i, a, (unsigned long long)p->sent[a],
                     (unsigned long long)send_at[a]);
    if (first != UINT64_MAX) {
        if (p->status != 0 || p->done_at != first)
            fail_msg("sequence %llu ping %zu: status %d at %llu, the model says 0 at %llu",
                     (unsigned long long)seq, i, p->status, (unsigned long long)p->done_at,
                     (unsigned long long)first);
    } else if (p->status != DHT_ETIMEDOUT || p->done_at != end) {
        fail_msg("sequence %llu ping %zu: status %d at %llu, the model says a timeout at %llu",
                 (unsigned long long)seq, i, p->status, (unsigned long long)p->done_at,
                 (unsigned long long)end);
    }
}

static void run_sequence(uint64_t seq, unsigned *ok, unsigned *timeouts)
{
    static const unsigned timeouts_ms[] = {100, 1000, 2500};
    unsigned timeout, retries, late = 0;
    uint64_t next_start;
    size_t started = 0;
    dht_config_t cfg;
    dht_t *a;

    rng = seq * 0x9E3779B97F4A7C15ULL + 1;
    fast = seq % 2 == 0;
    net = fake_net_new(1000 + seq);
    fake_config(&cfg, seq, NULL);
    cfg.timeout_ms = timeout = timeouts_ms[below(3)];
    cfg.retries = retries = below(4);
    assert_int_equal(fake_add(net, "10.9.9.9:4000", &cfg), 0);
    a = fake_dht(net, 0);
    memset(pings, 0, sizeof(pings));
    n_dues = 0;
    for (size_t i = 0; i < PINGS; i++) {
        char hp[32];
        snprintf(hp, sizeof(hp), "10.1.%u.%u:5000", (unsigned)(i / 200), (unsigned)(i % 200 + 1));
        pings[i].addr = fake_addr(hp);
        pings[i].id = fake_id_b0((uint8_t)(i + 1));
    }
    next_start = net->now;
    for (;;) {
        uint64_t t = dht_next_deadline(a);
        size_t first = SIZE_MAX;
        int all_done = started == PINGS;
        for (size_t i = 0; i < started; i++)
            all_done &= pings[i].calls > 0;
        for (size_t d = 0; d < n_dues; d++)
            if (first == SIZE_MAX || dues[d].at < dues[first].at)
                first = d;
        if (all_done && first == SIZE_MAX)
            break;
        if (first != SIZE_MAX && dues[first].at < t)
            t = dues[first].at;
        if (started < PINGS && next_start < t)
            t = next_start;
        assert_true(t != UINT64_MAX);
        fake_set_time(net, t); /* the node's timers due by then run first */
        take_sends(timeout);
        if (started < PINGS && next_start <= net->now) {
            ping_t *p = &pings[started];
            p->start = net->now;
            p->rto = dht__rpc_rto(a);
            assert_int_equal(dht_ping(a, &p->addr, on_ping, p), 0);
            started++;
            next_start = net->now + below(4) * below(timeout);
            take_sends(timeout);
        }
        for (size_t d = 0; d < n_dues;) {
            if (dues[d].at > net->now) {
                d++;
                continue;
            }
            {
                ping_t *p = &pings[dues[d].ping];
                dht__msg_t rep;
                fake_msg_init(&rep, DHT__PONG, dues[d].txid, &p->id);
                rep.addr = *fake_addr_of(net, 0); /* the address it saw us at */
                late += p->calls > 0;
                assert_int_equal(fake_inject(net, 0, &p->addr, &rep, DHT_TRANSPORT_DATAGRAM),
                                 p->calls > 0 ? DHT_ENOTFOUND : 0);
                dues[d] = dues[--n_dues];
                take_sends(timeout);
            }
        }
    }
    for (size_t i = 0; i < PINGS; i++) {
        check_ping(&pings[i], seq, i, timeout, retries);
        *ok += pings[i].status == 0;
        *timeouts += pings[i].status == DHT_ETIMEDOUT;
        adaptive += pings[i].rto < timeout;
    }
    /* Every answer that came after its ping ended was dropped, no more. */
    assert_int_equal(fake_stats(net, 0).dropped_unsolicited, late);
    fake_net_free(net);
}

static void test_rpc_against_model(void **state)
{
    unsigned ok = 0, timeouts = 0;

    (void)state;
    for (uint64_t seq = 1; seq <= SEQUENCES; seq++)
        run_sequence(seq, &ok, &timeouts);
    printf("rpc model: %u sequences of %u pings: %u answered, %u timed out, %u with an adaptive "
           "timeout\n",
           SEQUENCES, PINGS, ok, timeouts, adaptive);
    assert_true(ok > 1000 && timeouts > 100 && adaptive > 1000); /* all exercised */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rpc_against_model),
    };

    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
