/*
 * Model-based test of the STORE tokens across secret rotations (libdht/
 * server.c, BEP 5's rule), the way the Erlang DHT seed's QuickCheck models
 * test its parts (issue 14 item 8): random sequences of tokens handed out,
 * time passing (the core's timers run only when the test says, as a shell
 * that calls dht_periodic on time, late, or after a long sleep) and tokens
 * used, from their own address or another, checked against a small model.
 *
 * The model, from the rules: the core's secret rotates every
 * DHT__TOKEN_ROTATE_MS, on schedule even when its timer runs late, and
 * after a sleep of two periods or more both its secrets are new; a token
 * is the hash of a secret, the address and the port, and a STORE carrying
 * it is accepted while that secret is the current one or the one before.
 * So the model numbers the secrets (epochs) as the timer runs and accepts
 * a token if its epoch is the current or the previous one, and its
 * address is the STORE's. Beside it, the bounds a user relies on, with a
 * timer run at least once a period: a token handed out while no rotation
 * was overdue lives at least one period, and none lives three.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "helpers/fake_net.h"
#include "node.h"

#define SEQUENCES 300
#define STEPS     200
#define ADDRS     3
#define TOKENS    16

typedef struct token {
    uint8_t b[DHT__WIRE_TOKEN_LEN];
    int addr;
    int late; /* handed out while a rotation was overdue (the timer not run yet) */
    uint64_t epoch, issued_at;
} token_t;

typedef struct model {
    uint64_t epoch, rotated_at, last_tick;
    int regular; /* every tick so far came within a period of the one before */
} model_t;

static uint64_t rng;
static unsigned bound_checks; /* uses the bounds judged too */

static unsigned below(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* The timer ran at now: the secrets rotate as the rules say. */
static void model_tick(model_t *m, uint64_t now)
{
    if (now - m->last_tick > DHT__TOKEN_ROTATE_MS)
        m->regular = 0;
    m->last_tick = now;
    if (now < m->rotated_at + DHT__TOKEN_ROTATE_MS)
        return;
    if (now >= m->rotated_at + 2 * DHT__TOKEN_ROTATE_MS) {
        m->epoch += 2; /* a long sleep: both secrets are new */
        m->rotated_at = now;
    } else {
        m->epoch += 1;
        m->rotated_at += DHT__TOKEN_ROTATE_MS;
    }
}

static dht_addr_t addr_of(int i)
{
    static const char *hp[ADDRS] = {"10.0.0.2:5000", "10.0.0.2:5001", "10.0.0.3:5000"};

    return fake_addr(hp[i]);
}

static void issue(fake_net_t *net, const model_t *m, token_t *t, int addr)
{
    dht__msg_t q, r;
    dht_addr_t from = addr_of(addr);
    dht_id_t sender = fake_id_b0(0x70);

    fake_msg_init(&q, DHT__FIND_NODE, 77, &sender);
    q.target = fake_id_b0(0x01);
    assert_int_equal(fake_request(net, 0, &from, &q, &r), 0);
    assert_int_equal(r.type, DHT__NODES);
    memcpy(t->b, r.token, sizeof(t->b));
    t->addr = addr;
    t->epoch = m->epoch;
    t->issued_at = net->now;
    t->late = net->now >= m->rotated_at + DHT__TOKEN_ROTATE_MS;
}

/* @return 1 if core 0 accepted a STORE with t from address addr. */
static int use(fake_net_t *net, const token_t *t, int addr, unsigned n)
{
    dht__msg_t q, r;
    dht_addr_t from = addr_of(addr);
    dht_id_t sender = fake_id_b0(0x70);
    char value[16];

    snprintf(value, sizeof(value), "v%u", n);
    fake_msg_init(&q, DHT__STORE, 78, &sender);
    memcpy(q.token, t->b, sizeof(q.token));
    q.target = fake_id_b0((uint8_t)(0x40 + n % 64));
    q.ttl = 60;
    q.value = (const uint8_t *)value;
    q.value_len = (uint32_t)strlen(value);
    assert_int_equal(fake_request(net, 0, &from, &q, &r), 0);
    if (r.type == DHT__ERROR) {
        assert_int_equal(r.err_code, DHT__WERR_BAD_TOKEN);
        return 0;
    }
    assert_int_equal(r.type, DHT__STORED);
    return 1;
}

static void run_sequence(uint64_t seed, unsigned *accepted, unsigned *refused)
{
    fake_net_t *net = fake_net_new(1000 + seed * 7);
    dht_config_t cfg;
    model_t m = {0};
    token_t toks[TOKENS];
    size_t n_toks = 0;

    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    fake_config(&cfg, seed, NULL);
    cfg.rate_limit = 0;
    assert_int_equal(fake_add(net, "10.9.9.9:4000", &cfg), 0);
    m.epoch = 1;
    m.rotated_at = m.last_tick = net->now;
    m.regular = 1;
    for (unsigned step = 0; step < STEPS; step++) {
        unsigned what = below(10);
        if (what < 3 || n_toks == 0) { /* a token handed out */
            token_t *t = &toks[n_toks < TOKENS ? n_toks++ : below(TOKENS)];
            issue(net, &m, t, (int)below(ADDRS));
        } else if (what < 6) {                                    /* time passes, the timer runs */
            unsigned kind = seed % 3 == 0 ? below(8) : below(10); /* a third: on time */
            uint64_t ms = kind < 5   ? below(30000)
                          : kind < 8 ? 60000 + below(4 * 60000)
                          : kind < 9 ? DHT__TOKEN_ROTATE_MS + below(DHT__TOKEN_ROTATE_MS)
                                     : 2 * DHT__TOKEN_ROTATE_MS + below(30 * 60000);
            fake_advance(net, ms);
            model_tick(&m, net->now);
        } else { /* a token used, mostly from its own address */
            const token_t *t = &toks[below((unsigned)n_toks)];
            int from = below(4) == 0 ? (int)below(ADDRS) : t->addr;
            int want = from == t->addr && m.epoch - t->epoch <= 1;
            int got = use(net, t, from, step);
            uint64_t age = net->now - t->issued_at;
            if (got != want)
                fail_msg("sequence %llu step %u: a token of epoch %llu (now %llu), age %llu ms, "
                         "from %s address: %s, the model says %s",
                         (unsigned long long)seed, step, (unsigned long long)t->epoch,
                         (unsigned long long)m.epoch, (unsigned long long)age,
                         from == t->addr ? "its own" : "another", got ? "accepted" : "refused",
                         want ? "accept" : "refuse");
            /* The bounds, while the timer has run at least once a period. */
            if (m.regular && !t->late && from == t->addr && age < DHT__TOKEN_ROTATE_MS) {
                assert_true(got);
                bound_checks++;
            }
            if (m.regular && age >= 3 * (uint64_t)DHT__TOKEN_ROTATE_MS) {
                assert_false(got);
                bound_checks++;
            }
            *accepted += (unsigned)got;
            *refused += (unsigned)!got;
        }
    }
    fake_net_free(net);
}

static void test_tokens_against_model(void **state)
{
    unsigned accepted = 0, refused = 0;

    (void)state;
    for (uint64_t seed = 1; seed <= SEQUENCES; seed++)
        run_sequence(seed, &accepted, &refused);
    printf("token model: %u sequences of %u steps: %u STOREs accepted, %u refused; %u judged "
           "by the bounds too\n",
           SEQUENCES, STEPS, accepted, refused, bound_checks);
    assert_true(accepted > 1000 && refused > 1000 && bound_checks > 1000); /* all exercised */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_against_model),
    };

    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
