/*
 * Model-based test of the iterative lookup (libdht/lookup.c), the way the
 * Erlang DHT seed's QuickCheck models test its parts (issue 14 item 8):
 * random worlds, random interleavings of replies, losses and time, and a
 * small reference model judged after every lookup.
 *
 * One real core (A) looks up a target among 20..150 peers the test plays
 * by hand. Each world draws k (2..8), alpha (1..4), retries (0..2), the
 * peers' ids (a third of them sharing 8..40 bits with the target, so that
 * many are close), which peers are dead (up to a third), which others each
 * peer knows (30..100% of them, the dead included: stale tables), how
 * late each peer answers (0..2.5 s, beyond A's timeouts at times) and how
 * often a datagram of its is lost (up to 20%), and which peers A's table
 * holds at the start (1..30). A live peer answers a FIND_NODE with the k
 * nodes it knows closest to the target. The test records what A learned
 * (the nodes named in every reply A accepted before the lookup ended: its
 * table is only where it starts, the k nearest of it, as Kademlia's
 * lookup does), whom A asked, and who answered (a reply A accepted).
 *
 * The model: "a lookup ends with the k closest nodes that answered, and
 * every node it learned of nearer than the last of those was asked":
 *   - the callback runs exactly once, within a bound of virtual time;
 *   - status 0 with at least one node if any peer answered, else
 *     DHT_ENOPEERS;
 *   - the nodes are distinct, sorted by distance, each one that answered;
 *   - they are the min(k, answered) closest of those that answered;
 *   - every learned node nearer than the farthest of them was asked.
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
#include "id_order.h"

#define MAX_PEERS 150
#define MAX_WAIT  64 /* replies on their way at once */
#define WORLDS    20000

typedef struct peer {
    dht_id_t id;
    dht_addr_t addr;
    int dead;
    unsigned delay_ms; /* how late its replies come */
    unsigned loss_pct; /* its datagrams lost, in percent */
    uint8_t knows[MAX_PEERS];
    int learned, asked, answered;
} peer_t;

typedef struct waiting {
    uint64_t at;
    size_t peer;
    uint32_t txid;
} waiting_t;

typedef struct world {
    uint64_t rng;
    fake_net_t *net;
    dht_t *a;
    dht_id_t target;
    unsigned k;
    peer_t peers[MAX_PEERS];
    size_t n;
    waiting_t wait[MAX_WAIT];
    size_t n_wait;
} world_t;

static uint64_t next(world_t *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static unsigned below(world_t *w, unsigned n)
{
    return (unsigned)(next(w) % n);
}

static size_t peer_at(const world_t *w, const dht_addr_t *a)
{
    for (size_t i = 0; i < w->n; i++)
        if (dht_addr_equal(&w->peers[i].addr, a))
            return i;
    return SIZE_MAX;
}

static size_t peer_with(const world_t *w, const dht_id_t *id)
{
    for (size_t i = 0; i < w->n; i++)
        if (dht_id_cmp(&w->peers[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

/* Peer i's answer to a FIND_NODE: the k nodes it knows closest to the
 * target, into m. */
static void answer(world_t *w, size_t i, uint32_t txid, dht__msg_t *m)
{
    size_t pick[DHT_MAX_K], n = 0;

    fake_msg_init(m, DHT__NODES, txid, &w->peers[i].id);
    for (size_t j = 0; j < w->n; j++) {
        size_t pos = 0;
        if (j == i || !w->peers[i].knows[j])
            continue;
        while (pos < n &&
               dht__id_cmp_distance(&w->target, &w->peers[pick[pos]].id, &w->peers[j].id) < 0)
            pos++;
        if (pos >= w->k)
            continue; /* farther than the k nearest so far */
        if (n < w->k)
            n++;
        memmove(&pick[pos + 1], &pick[pos], (n - 1 - pos) * sizeof(pick[0]));
        pick[pos] = j;
    }
    for (size_t j = 0; j < n; j++) {
        m->nodes[j].id = w->peers[pick[j]].id;
        m->nodes[j].addr = w->peers[pick[j]].addr;
    }
    m->n_nodes = (uint8_t)n;
}

static void build(world_t *w, uint64_t seed)
{
    dht_config_t cfg;
    dht_id_t a_id;
    unsigned seeds;
    char hp[32];

    memset(w, 0, sizeof(*w));
    w->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int b = 0; b < 32; b++) {
        w->target.b[b] = (uint8_t)next(w);
        a_id.b[b] = (uint8_t)next(w);
    }
    w->k = 2 + below(w, 7);
    w->n = 20 + below(w, MAX_PEERS - 20 + 1);
    for (size_t i = 0; i < w->n; i++) {
        peer_t *p = &w->peers[i];
        unsigned share = below(w, 3) == 0 ? 8 + below(w, 33) : 0; /* bits shared */
        unsigned knows_pct = 30 + below(w, 71);
        for (int b = 0; b < 32; b++)
            p->id.b[b] = (uint8_t)next(w);
        for (unsigned bit = 0; bit < share; bit++) {
            uint8_t mask = (uint8_t)(0x80 >> (bit % 8));
            p->id.b[bit / 8] =
                (uint8_t)((p->id.b[bit / 8] & ~mask) | (w->target.b[bit / 8] & mask));
        }
        snprintf(hp, sizeof(hp), "10.%u.%u.1:4000", (unsigned)(i / 200), (unsigned)(i % 200 + 1));
        p->addr = fake_addr(hp);
        p->dead = below(w, 100) < 20;
        p->delay_ms = below(w, 4) == 0 ? below(w, 2500) : below(w, 200);
        p->loss_pct = below(w, 3) == 0 ? below(w, 21) : 0;
        for (size_t j = 0; j < w->n; j++)
            p->knows[j] = below(w, 100) < knows_pct;
    }
    w->net = fake_net_new(1000);
    assert_non_null(w->net);
    fake_config(&cfg, seed + 1, &a_id);
    cfg.k = w->k;
    cfg.alpha = 1 + below(w, 4);
    cfg.retries = below(w, 3);
    assert_int_equal(fake_add(w->net, "10.250.0.1:4000", &cfg), 0);
    w->a = fake_dht(w->net, 0);
    seeds = 1 + below(w, 30);
    for (unsigned s = 0; s < seeds; s++) {
        size_t i = below(w, (unsigned)w->n);
        dht_insert_node(w->a, &w->peers[i].id, &w->peers[i].addr, w->net->now);
    }
}

/* Takes A's requests off the queue: a FIND_NODE to a live peer gets its
 * answer scheduled (unless lost); anything else is never answered. */
static void take_requests(world_t *w)
{
    fake_msg_t m;

    while (fake_pop(w->net, &m)) {
        dht__msg_t q;
        size_t i = peer_at(w, &m.to);
        if (i != SIZE_MAX && dht__wire_decode(&q, m.buf, m.len) == 0 && q.type == DHT__FIND_NODE &&
            dht_id_cmp(&q.target, &w->target) == 0) {
            peer_t *p = &w->peers[i];
            p->asked = 1;
            if (!p->dead && below(w, 100) >= p->loss_pct && w->n_wait < MAX_WAIT) {
                waiting_t *x = &w->wait[w->n_wait++];
                x->at = w->net->now + p->delay_ms;
                x->peer = i;
                x->txid = q.txid;
            }
        }
        fake_msg_free(&m);
    }
}

/* Delivers the answer x to A, noting what A learned, if A took it. */
static void deliver(world_t *w, const waiting_t *x)
{
    dht__msg_t rep;
    uint64_t before = fake_stats(w->net, 0).dropped_unsolicited;

    answer(w, x->peer, x->txid, &rep);
    fake_inject(w->net, 0, &w->peers[x->peer].addr, &rep, DHT_TRANSPORT_DATAGRAM);
    if (fake_stats(w->net, 0).dropped_unsolicited != before)
        return; /* its request had ended: A did not take it */
    w->peers[x->peer].answered = 1;
    for (unsigned j = 0; j < rep.n_nodes; j++)
        w->peers[peer_with(w, &rep.nodes[j].id)].learned = 1;
}

/* Runs the lookup to its end: replies come when due, A's timers fire when
 * theirs are. @return 1 if the callback ran within the bound. */
static int run(world_t *w, const fake_result_t *r)
{
    uint64_t end = w->net->now + 30 * 60 * 1000;

    take_requests(w);
    while (r->calls == 0 && w->net->now < end) {
        uint64_t t = dht_next_deadline(w->a);
        size_t first = SIZE_MAX;
        for (size_t i = 0; i < w->n_wait; i++)
            if (first == SIZE_MAX || w->wait[i].at < w->wait[first].at)
                first = i;
        if (first != SIZE_MAX && w->wait[first].at <= t) {
            waiting_t x = w->wait[first];
            w->wait[first] = w->wait[--w->n_wait];
            fake_set_time(w->net, x.at); /* A's timers due by then fire first */
            if (r->calls == 0)
                deliver(w, &x);
        } else if (t != UINT64_MAX) {
            fake_set_time(w->net, t > w->net->now ? t : w->net->now + 1);
        } else {
            break;
        }
        take_requests(w);
    }
    return r->calls == 1;
}

static unsigned worlds_empty, worlds_found, asked_total, answered_total;
static int verbose; /* LOOKUP_MODEL_WORLD=N: that world alone, told in full */

/* Prints the world's peers nearest the target first: what the model saw
 * of each, and whether the lookup returned it. */
static void tell(const world_t *w, const fake_result_t *r)
{
    size_t order[MAX_PEERS];

    for (size_t i = 0; i < w->n; i++)
        order[i] = i;
    for (size_t i = 1; i < w->n; i++)
        for (size_t j = i; j > 0 && dht__id_cmp_distance(&w->target, &w->peers[order[j]].id,
                                                         &w->peers[order[j - 1]].id) < 0;
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    printf("k %u, %zu peers, status %d, %zu nodes, %u requests, %u replies, %u timeouts\n", w->k,
           w->n, r->status, r->n_nodes, r->stats.requests, r->stats.replies, r->stats.timeouts);
    for (size_t o = 0; o < w->n && o < 40; o++) {
        const peer_t *p = &w->peers[order[o]];
        int in = 0;
        for (size_t i = 0; i < r->n_nodes; i++)
            in |= dht_id_cmp(&r->nodes[i].id, &p->id) == 0;
        printf("  #%-3zu peer %-3zu %s%s%s%s%s delay %u loss %u\n", o, order[o],
               p->dead ? "dead " : "", p->learned ? "learned " : "", p->asked ? "asked " : "",
               p->answered ? "answered " : "", in ? "RESULT" : "", p->delay_ms, p->loss_pct);
    }
}

static void check_world(uint64_t seed)
{
    static world_t w;
    fake_result_t r = {0};
    size_t answered = 0, got[DHT_MAX_K];
    const dht_id_t *last = NULL;
    char what[64];

    build(&w, seed);
    snprintf(what, sizeof(what), "world %llu", (unsigned long long)seed);
    assert_int_equal(dht_find_node(w.a, &w.target, fake_nodes_cb, &r), 0);
    if (!run(&w, &r))
        fail_msg("%s: the lookup did not end within 30 virtual minutes", what);
    if (verbose)
        tell(&w, &r);
    for (size_t i = 0; i < w.n; i++) {
        answered += (size_t)w.peers[i].answered;
        asked_total += (unsigned)w.peers[i].asked;
    }
    answered_total += (unsigned)answered;
    worlds_empty += answered == 0;
    worlds_found += answered > 0;
    if (answered == 0) {
        if (r.status != DHT_ENOPEERS)
            fail_msg("%s: nobody answered, status %d", what, r.status);
        fake_net_free(w.net);
        return;
    }
    if (r.status != 0 || r.n_nodes == 0)
        fail_msg("%s: %zu answered, status %d, %zu nodes", what, answered, r.status, r.n_nodes);
    /* Distinct, sorted, each one that answered. */
    for (size_t i = 0; i < r.n_nodes; i++) {
        got[i] = peer_with(&w, &r.nodes[i].id);
        if (got[i] == SIZE_MAX || !w.peers[got[i]].answered)
            fail_msg("%s: node %zu of the result did not answer", what, i);
        if (i > 0 && dht__id_cmp_distance(&w.target, &r.nodes[i - 1].id, &r.nodes[i].id) >= 0)
            fail_msg("%s: the result is not sorted by distance (at %zu)", what, i);
    }
    /* The min(k, answered) closest of those that answered. */
    if (r.n_nodes != (answered < w.k ? answered : w.k))
        fail_msg("%s: %zu nodes for k %u and %zu that answered", what, r.n_nodes, w.k, answered);
    last = &r.nodes[r.n_nodes - 1].id;
    for (size_t j = 0; j < w.n; j++) {
        const peer_t *p = &w.peers[j];
        int in = 0;
        for (size_t i = 0; i < r.n_nodes; i++)
            in |= got[i] == j;
        if (p->answered && !in && dht__id_cmp_distance(&w.target, &p->id, last) < 0)
            fail_msg("%s: peer %zu answered, is nearer than the last result, left out", what, j);
        /* Every learned node nearer than the last result was asked. */
        if (p->learned && !p->asked && dht__id_cmp_distance(&w.target, &p->id, last) < 0)
            fail_msg("%s: peer %zu was learned, is nearer than the last result, never asked", what,
                     j);
    }
    fake_net_free(w.net);
}

static void test_lookup_against_model(void **state)
{
    (void)state;
    if (getenv("LOOKUP_MODEL_WORLD") != NULL) {
        verbose = 1;
        check_world(strtoull(getenv("LOOKUP_MODEL_WORLD"), NULL, 10));
        return;
    }
    for (uint64_t seed = 1; seed <= WORLDS; seed++)
        check_world(seed);
    /* Among many dead and slow nodes, failed candidates once held the
     * candidate list's places and pushed out nodes that had answered: this
     * lookup ended with 6 nodes for k 7 while 8 had answered. */
    check_world(57743);
    printf("lookup model: %u worlds, %u where nobody answered; %u peers asked, %u answered\n",
           WORLDS, worlds_empty, asked_total, answered_total);
    /* The worlds must exercise the lookup, not end at once. */
    assert_true(worlds_found > WORLDS / 2);
    assert_true(answered_total > 5 * WORLDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_against_model),
    };

    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
