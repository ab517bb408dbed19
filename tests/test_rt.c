/*
 * Tests of the routing table (libdht/rt.c): unit tests of each rule in
 * rt.h, then a model-based test that runs thousands of random operations
 * against the table and against a flat reference model written as simply as
 * possible, comparing the two after every operation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "contacts.h"
#include "rt.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *rng, uint64_t n)
{
    return splitmix64(rng) % n;
}

static void flip_bit(dht_id_t *id, unsigned p)
{
    id->b[p / 8] ^= (uint8_t)(0x80u >> (p % 8));
}

static void random_bytes(uint64_t *rng, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)splitmix64(rng);
}

/* @return an id sharing exactly p bits with self (self itself for p == 256),
 *         its remaining bits random. */
static dht_id_t at_depth(const dht_id_t *self, unsigned p, uint64_t *rng)
{
    dht_id_t id;

    if (p >= 256)
        return *self;
    random_bytes(rng, id.b, DHT_ID_LEN);
    for (unsigned q = 0; q <= p; q++) {
        uint8_t bit = (uint8_t)(0x80u >> (q % 8));
        id.b[q / 8] = (uint8_t)((id.b[q / 8] & ~bit) | (self->b[q / 8] & bit));
    }
    flip_bit(&id, p);
    return id;
}

/* Like at_depth(), deterministic for a salt: for the unit tests. */
static dht_id_t depth_id(const dht_id_t *self, unsigned p, uint64_t salt)
{
    uint64_t rng = salt * 7919 + p;

    return at_depth(self, p, &rng);
}

static dht_id_t test_self(void)
{
    dht_id_t self;

    for (size_t i = 0; i < DHT_ID_LEN; i++)
        self.b[i] = (uint8_t)(i * 37 + 11);
    return self;
}

static dht_addr_t addr4(uint32_t ip, uint16_t port)
{
    dht_addr_t a;

    memset(&a, 0, sizeof a);
    a.family = DHT_AF_INET;
    a.ip[0] = (uint8_t)(ip >> 24);
    a.ip[1] = (uint8_t)(ip >> 16);
    a.ip[2] = (uint8_t)(ip >> 8);
    a.ip[3] = (uint8_t)ip;
    a.port = port;
    return a;
}

static int addr_same(const dht_addr_t *a, const dht_addr_t *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
}

static int id_eq(const dht_id_t *a, const dht_id_t *b)
{
    return memcmp(a->b, b->b, DHT_ID_LEN) == 0;
}

static int update(dht__rt_t *rt, const dht_id_t *id, uint64_t now, dht__rt_event_t ev)
{
    dht_addr_t a = addr4(0x0a000000u | id->b[31], 4000);

    return dht__rt_update(rt, id, &a, now, ev);
}

/* A copy of the bucket node id, or NULL. The copies go round 4 buffers,
 * so a test may hold a few at once. */
static const dht__rt_node_t *found(const dht__rt_t *rt, const dht_id_t *id)
{
    static dht__rt_node_t copies[4];
    static unsigned next;
    dht__rt_node_t *n = &copies[next++ % 4];

    return dht__rt_find(rt, id, n) ? n : NULL;
}

static dht__rt_bucket_view_t view(const dht__rt_t *rt, size_t i)
{
    dht__rt_bucket_view_t v;

    assert_int_equal(dht__rt_bucket(rt, i, &v, 1), 0);
    return v;
}

static int in_array(const dht__rt_node_t *a, size_t n, const dht_id_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (id_eq(&a[i].id, id))
            return 1;
    return 0;
}

static int in_bucket(const dht__rt_t *rt, size_t i, const dht_id_t *id)
{
    dht__rt_bucket_view_t v = view(rt, i);

    return in_array(v.nodes, v.n_nodes, id);
}

static int in_cache(const dht__rt_t *rt, size_t i, const dht_id_t *id)
{
    dht__rt_bucket_view_t v = view(rt, i);

    return in_array(v.cache, v.n_cache, id);
}

/* ------------------------------------------------------------------------ */
/* Unit tests                                                               */
/* ------------------------------------------------------------------------ */

static void test_new_free(void **state)
{
    dht_id_t self = test_self();
    dht__rt_bucket_view_t v;
    dht__rt_t *rt;

    (void)state;
    assert_null(dht__rt_new(&self, 0, 3));
    dht__rt_free(NULL);
    rt = dht__rt_new(&self, 4, 2);
    assert_non_null(rt);
    assert_int_equal(dht__rt_bucket_count(rt), 1);
    assert_int_equal(dht__rt_count(rt, 0, NULL, NULL, NULL), 0);
    v = view(rt, 0);
    assert_int_equal(v.n_nodes, 0);
    assert_int_equal(v.n_cache, 0);
    assert_int_equal(dht__rt_bucket(rt, 1, &v, 1), DHT_EINVAL);
    dht__rt_free(rt);
}

static void test_own_id_ignored(void **state)
{
    dht_id_t self = test_self();
    dht__rt_t *rt = dht__rt_new(&self, 4, 2);

    (void)state;
    assert_int_equal(update(rt, &self, 10, DHT__RT_REPLY), DHT__RT_IGNORED);
    assert_int_equal(update(rt, &self, 10, DHT__RT_INSERT), DHT__RT_IGNORED);
    assert_int_equal(dht__rt_count(rt, 10, NULL, NULL, NULL), 0);
    assert_null(found(rt, &self));
    assert_int_equal(dht__rt_failed(rt, &self, 10), -1);
    dht__rt_free(rt);
}

static void test_add_update(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 3, 1);
    dht_addr_t addr = addr4(0x01020304, 99);
    dht__rt_t *rt = dht__rt_new(&self, 4, 2);
    const dht__rt_node_t *n;

    (void)state;
    assert_int_equal(dht__rt_update(rt, &a, &addr, 100, DHT__RT_QUERY), DHT__RT_ADDED);
    n = found(rt, &a);
    assert_non_null(n);
    assert_true(id_eq(&n->id, &a));
    assert_true(addr_same(&n->addr, &addr));
    assert_int_equal(n->last_seen, 100);
    assert_int_equal(n->replied, 0);
    assert_int_equal(n->fails, 0);
    assert_int_equal(dht__rt_update(rt, &a, &addr, 200, DHT__RT_INSERT), DHT__RT_UPDATED);
    n = found(rt, &a);
    assert_int_equal(n->last_seen, 200);
    assert_int_equal(n->replied, 0);
    assert_int_equal(dht__rt_count(rt, 200, NULL, NULL, NULL), 1);
    dht__rt_free(rt);
}

static void test_reply(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 2, 1), b = depth_id(&self, 5, 2);
    dht__rt_t *rt = dht__rt_new(&self, 4, 2);
    const dht__rt_node_t *n;

    (void)state;
    assert_int_equal(update(rt, &a, 100, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_failed(rt, &a, 150), 0);
    assert_int_equal(found(rt, &a)->fails, 1);
    assert_int_equal(dht__rt_state(found(rt, &a), 150), DHT__RT_QUESTIONABLE);
    assert_int_equal(update(rt, &a, 200, DHT__RT_REPLY), DHT__RT_UPDATED);
    n = found(rt, &a);
    assert_int_equal(n->last_seen, 200);
    assert_int_equal(n->replied, 1);
    assert_int_equal(n->fails, 0);
    assert_int_equal(dht__rt_state(n, 200), DHT__RT_GOOD);
    /* A query does not clear failures; a reply does. */
    assert_int_equal(dht__rt_failed(rt, &a, 250), 0);
    assert_int_equal(update(rt, &a, 300, DHT__RT_QUERY), DHT__RT_UPDATED);
    assert_int_equal(found(rt, &a)->fails, 1);
    assert_int_equal(found(rt, &a)->replied, 1);
    /* A new node heard through a reply starts with replied set. */
    assert_int_equal(update(rt, &b, 400, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(found(rt, &b)->replied, 1);
    dht__rt_free(rt);
}

static void test_addr_change(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 1, 1), b = depth_id(&self, 4, 2);
    dht_addr_t a1 = addr4(0x0a000001, 1), a2 = addr4(0x0a000002, 1), a3 = addr4(0x0a000001, 2);
    dht__rt_t *rt = dht__rt_new(&self, 4, 2);
    uint64_t later = 1000 + DHT__RT_GOOD_MS;

    (void)state;
    /* Good node: does not move, and the message is ignored entirely. */
    assert_int_equal(dht__rt_update(rt, &a, &a1, 1000, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &a, &a2, 2000, DHT__RT_REPLY), DHT__RT_IGNORED);
    assert_int_equal(dht__rt_update(rt, &a, &a3, 2000, DHT__RT_QUERY), DHT__RT_IGNORED);
    assert_true(addr_same(&found(rt, &a)->addr, &a1));
    assert_int_equal(found(rt, &a)->last_seen, 1000);
    /* Same address: fine. */
    assert_int_equal(dht__rt_update(rt, &a, &a1, 3000, DHT__RT_QUERY), DHT__RT_UPDATED);
    /* Once silent too long it is questionable, and may move. */
    assert_int_equal(dht__rt_state(found(rt, &a), 3000 + DHT__RT_GOOD_MS), DHT__RT_QUESTIONABLE);
    assert_int_equal(dht__rt_update(rt, &a, &a2, 3000 + DHT__RT_GOOD_MS, DHT__RT_QUERY),
                     DHT__RT_UPDATED);
    assert_true(addr_same(&found(rt, &a)->addr, &a2));
    /* A node that never answered is questionable at once. */
    assert_int_equal(dht__rt_update(rt, &b, &a1, later, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &b, &a3, later + 1, DHT__RT_INSERT), DHT__RT_UPDATED);
    assert_true(addr_same(&found(rt, &b)->addr, &a3));
    assert_int_equal(found(rt, &b)->last_seen, later + 1);
    dht__rt_free(rt);
}

/* One node id per address and port: made-up ids from one port take one
 * slot; an answer with a new id from the address replaces the old one. */
static void test_one_id_per_address(void **state)
{
    dht_id_t self = test_self();
    dht_addr_t port1 = addr4(0x0a000001, 1), port2 = addr4(0x0a000001, 2);
    dht__rt_t *rt = dht__rt_new(&self, 8, 2);
    dht_id_t first = depth_id(&self, 1, 1), other = depth_id(&self, 2, 2);
    dht_id_t hearsay = depth_id(&self, 3, 3), restarted = depth_id(&self, 4, 4);

    (void)state;
    assert_int_equal(dht__rt_update(rt, &first, &port1, 100, DHT__RT_QUERY), DHT__RT_ADDED);
    for (unsigned i = 0; i < 1000; i++) { /* a flood of made-up ids from port1 */
        dht_id_t fake = depth_id(&self, i % 200, 10 + i);
        fake.b[20] ^= (uint8_t)i;
        fake.b[21] ^= (uint8_t)(i >> 8);
        assert_int_equal(dht__rt_update(rt, &fake, &port1, 200 + i, DHT__RT_QUERY),
                         DHT__RT_IGNORED);
    }
    assert_int_equal(dht__rt_count(rt, 2000, NULL, NULL, NULL), 1);
    assert_int_equal(dht__rt_update(rt, &hearsay, &port1, 2000, DHT__RT_LEARNED), DHT__RT_IGNORED);
    /* Another port is another node. */
    assert_int_equal(dht__rt_update(rt, &other, &port2, 2000, DHT__RT_QUERY), DHT__RT_ADDED);
    /* An answer from port1 with a new id: the node there restarted. */
    assert_int_equal(dht__rt_update(rt, &restarted, &port1, 3000, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_null(found(rt, &first));
    assert_non_null(found(rt, &restarted));
    assert_int_equal(dht__rt_count(rt, 3000, NULL, NULL, NULL), 2);
    /* A bad holder of the address gives way to a request too. */
    assert_int_equal(dht__rt_failed(rt, &other, 3100), 0);
    assert_int_equal(dht__rt_failed(rt, &other, 3200), 0);
    assert_int_equal(dht__rt_update(rt, &first, &port2, 3300, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_null(found(rt, &other));
    /* The application's own insert is not checked. */
    assert_int_equal(dht__rt_update(rt, &hearsay, &port1, 3400, DHT__RT_INSERT), DHT__RT_ADDED);
    assert_int_equal(dht__rt_count(rt, 3400, NULL, NULL, NULL), 3);
    dht__rt_free(rt);
}

/* At most 2 nodes of one /24 or /64 per bucket; loopback and private
 * addresses exempt unless told; a bad node of the subnet gives way. */
static void test_subnet_limit(void **state)
{
    dht_id_t self = test_self();
    dht__rt_t *rt = dht__rt_new(&self, 8, 2);
    dht_id_t id[8];
    dht_addr_t v6a, v6b, v6c;

    (void)state;
    for (int i = 0; i < 8; i++)
        id[i] = depth_id(&self, 0, 100 + (uint64_t)i); /* all in the first bucket */
    dht__rt_set_subnet_limit(rt, 2, 0);
    {
        dht_addr_t p1 = addr4(0xcb007101, 1), p2 = addr4(0xcb0071fe, 2), p3 = addr4(0xcb007103, 3);
        dht_addr_t other = addr4(0xcb007201, 1), lan = addr4(0xc0a80001, 1);
        assert_int_equal(dht__rt_update(rt, &id[0], &p1, 10, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_int_equal(dht__rt_update(rt, &id[1], &p2, 10, DHT__RT_REPLY), DHT__RT_ADDED);
        /* A third of 203.0.113.0/24 in the bucket: no. */
        assert_int_equal(dht__rt_update(rt, &id[2], &p3, 10, DHT__RT_REPLY), DHT__RT_IGNORED);
        assert_int_equal(dht__rt_update(rt, &id[2], &p3, 10, DHT__RT_LEARNED), DHT__RT_IGNORED);
        /* Another /24 is fine; so is the application's insert. */
        assert_int_equal(dht__rt_update(rt, &id[3], &other, 10, DHT__RT_QUERY), DHT__RT_ADDED);
        assert_int_equal(dht__rt_update(rt, &id[4], &p3, 10, DHT__RT_INSERT), DHT__RT_ADDED);
        /* A private network's addresses are exempt... */
        for (int i = 5; i < 8; i++) {
            lan.port = (uint16_t)i;
            assert_int_equal(dht__rt_update(rt, &id[i], &lan, 10, DHT__RT_REPLY), DHT__RT_ADDED);
        }
    }
    dht__rt_free(rt);
    /* ...unless told; and in a bucket full of bad nodes, one of the subnet
     * may replace one of the subnet. */
    rt = dht__rt_new(&self, 2, 0);
    dht__rt_set_subnet_limit(rt, 1, 1);
    {
        dht_addr_t a = addr4(0x0a000001, 1), b = addr4(0x0a000002, 1), c = addr4(0x0b000001, 1);
        assert_int_equal(dht__rt_update(rt, &id[0], &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_int_equal(dht__rt_update(rt, &id[1], &b, 10, DHT__RT_REPLY), DHT__RT_IGNORED);
        assert_int_equal(dht__rt_failed(rt, &id[0], 20), 0);
        assert_int_equal(dht__rt_failed(rt, &id[0], 30), 0); /* bad now */
        assert_int_equal(dht__rt_update(rt, &id[2], &c, 40, DHT__RT_REPLY),
                         DHT__RT_ADDED); /* the free slot */
        assert_int_equal(dht__rt_update(rt, &id[1], &b, 50, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_null(found(rt, &id[0]));
    }
    dht__rt_free(rt);
    /* IPv6: a /64. */
    rt = dht__rt_new(&self, 8, 0);
    dht__rt_set_subnet_limit(rt, 2, 0);
    assert_int_equal(dht_addr_parse(&v6a, "[2001:db8:1:2::1]:1"), 0);
    assert_int_equal(dht_addr_parse(&v6b, "[2001:db8:1:2:ffff::2]:1"), 0);
    assert_int_equal(dht_addr_parse(&v6c, "[2001:db8:1:2::3]:1"), 0);
    assert_int_equal(dht__rt_update(rt, &id[0], &v6a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &id[1], &v6b, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &id[2], &v6c, 10, DHT__RT_REPLY), DHT__RT_IGNORED);
    v6c.ip[7] ^= 1; /* another /64 */
    assert_int_equal(dht__rt_update(rt, &id[2], &v6c, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    dht__rt_free(rt);
}

/* Proximity: a round-trip time is kept per bucket node (smoothed), and a
 * full bucket whose nodes have gone bad gives the slowest one's place to a
 * newcomer, not the one heard from longest ago. */
static void test_rtt_and_slowest_bad_replaced(void **state)
{
    dht_id_t self = test_self(), a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2),
             c = depth_id(&self, 0, 3), d = depth_id(&self, 0, 4);
    dht__rt_t *rt = dht__rt_new(&self, 2, 0);

    (void)state;
    assert_non_null(rt);
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 20, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_rtt(rt, &a), 0); /* never measured */
    dht__rt_rtt_sample(rt, &a, 50000);
    dht__rt_rtt_sample(rt, &b, 200000);
    assert_true(dht__rt_rtt(rt, &a) >= 49000 && dht__rt_rtt(rt, &a) <= 51000);
    /* Smoothed: one sample of 130 ms moves b an eighth of the way. */
    dht__rt_rtt_sample(rt, &b, 130000);
    assert_true(dht__rt_rtt(rt, &b) >= 190000 && dht__rt_rtt(rt, &b) <= 193000);
    dht__rt_rtt_sample(rt, &c, 1000); /* not in the table: nothing */
    assert_int_equal(dht__rt_rtt(rt, &c), 0);
    /* Both bad; a was heard from first, so age alone would let a go. */
    for (uint64_t t = 30; t < 34; t++) {
        dht__rt_failed(rt, &a, t);
        dht__rt_failed(rt, &b, t);
    }
    assert_int_equal(update(rt, &c, 40, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_non_null(found(rt, &a));
    assert_null(found(rt, &b));
    /* A newcomer in b's old slot starts unmeasured. */
    assert_int_equal(dht__rt_rtt(rt, &c), 0);
    /* With no times known, the oldest bad one goes, as before. */
    dht__rt_free(rt);
    rt = dht__rt_new(&self, 2, 0);
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 20, DHT__RT_REPLY), DHT__RT_ADDED);
    for (uint64_t t = 30; t < 34; t++) {
        dht__rt_failed(rt, &a, t);
        dht__rt_failed(rt, &b, t);
    }
    assert_int_equal(update(rt, &d, 40, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_null(found(rt, &a));
    assert_non_null(found(rt, &b));
    dht__rt_free(rt);
}

/* The address rules on every path: the replacement cache and its
 * promotion, a known node moving, bad nodes, a holder in the same bucket. */
static void test_address_rules_paths(void **state)
{
    dht_id_t self = test_self();
    dht_id_t id[12];
    dht_addr_t p = addr4(0xcb007101, 1), x1 = addr4(0xcb007201, 1), x2 = addr4(0xcb007301, 1);
    dht_addr_t v4, v6, v6b, v6c;
    dht__rt_t *rt;
    uint64_t t = 1000;

    (void)state;
    for (int i = 0; i < 12; i++)
        id[i] = depth_id(&self, 0, 500 + (uint64_t)i); /* all in the first bucket */
    /* The cache keeps one entry per endpoint, and a promotion obeys the
     * rules: one port's answers never put two of its ids in a bucket. */
    rt = dht__rt_new(&self, 2, 4);
    assert_int_equal(dht__rt_update(rt, &id[0], &x1, t, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &id[1], &x2, t, DHT__RT_REPLY), DHT__RT_ADDED);
    for (int i = 2; i < 6; i++)
        assert_int_equal(dht__rt_update(rt, &id[i], &p, t, DHT__RT_REPLY), DHT__RT_CACHED);
    assert_int_equal(view(rt, 0).n_cache, 1);
    for (int i = 0; i < 2; i++) {
        dht__rt_failed(rt, &id[i], t + 1);
        dht__rt_failed(rt, &id[i], t + 2);
    }
    {
        dht__rt_bucket_view_t v = view(rt, 0);
        unsigned at_p = 0;
        for (size_t j = 0; j < v.n_nodes; j++)
            at_p += addr_same(&v.nodes[j].addr, &p);
        assert_int_equal(at_p, 1);
    }
    dht__rt_free(rt);

    /* A known node may not move onto another's endpoint by a request; an
     * answer from there takes it (a restart). */
    rt = dht__rt_new(&self, 8, 2);
    t = 1000;
    assert_int_equal(dht__rt_update(rt, &id[0], &x1, t, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_update(rt, &id[1], &x2, t, DHT__RT_REPLY), DHT__RT_ADDED);
    t += DHT__RT_GOOD_MS + 1; /* questionable: they may move */
    assert_int_equal(dht__rt_update(rt, &id[1], &x1, t, DHT__RT_QUERY), DHT__RT_IGNORED);
    assert_true(addr_same(&found(rt, &id[1])->addr, &x2));
    assert_int_equal(dht__rt_update(rt, &id[1], &x1, t, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_null(found(rt, &id[0]));
    assert_true(addr_same(&found(rt, &id[1])->addr, &x1));
    dht__rt_free(rt);

    /* Bad nodes do not count against their subnet; a new id answering from
     * a holder's endpoint in a full subnet takes the holder's slot. */
    rt = dht__rt_new(&self, 8, 2);
    dht__rt_set_subnet_limit(rt, 2, 1);
    t = 1000;
    {
        dht_addr_t a1 = addr4(0x0a000001, 1), a2 = addr4(0x0a000002, 1), a3 = addr4(0x0a000003, 1);
        assert_int_equal(dht__rt_update(rt, &id[0], &a1, t, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_int_equal(dht__rt_update(rt, &id[1], &a2, t, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_int_equal(dht__rt_update(rt, &id[2], &a3, t, DHT__RT_REPLY), DHT__RT_IGNORED);
        assert_int_equal(dht__rt_update(rt, &id[3], &a1, t, DHT__RT_REPLY), DHT__RT_ADDED);
        assert_null(found(rt, &id[0]));
        dht__rt_failed(rt, &id[1], t + 1);
        dht__rt_failed(rt, &id[1], t + 2); /* bad */
        assert_int_equal(dht__rt_update(rt, &id[2], &a3, t + 3, DHT__RT_REPLY), DHT__RT_ADDED);
    }
    dht__rt_free(rt);

    /* Subnets: an IPv4 address and an IPv6 one never share one; within
     * ::/64 the whole address counts; mapped and plain IPv4 are one. */
    v4 = addr4(0x08080808, 1);
    assert_int_equal(dht_addr_parse(&v6, "[::2]:1"), 0);
    assert_int_equal(dht_addr_parse(&v6b, "[::3]:1"), 0);
    assert_int_equal(dht_addr_parse(&v6c, "[::ffff:8.8.8.9]:2"), 0);
    assert_int_equal(dht__addr_same_subnet(&v6, &v4), 0);
    assert_int_equal(dht__addr_same_subnet(&v4, &v6), 0);
    assert_int_equal(dht__addr_same_subnet(&v6, &v6b), 0);
    assert_int_equal(dht__addr_same_subnet(&v4, &v6c), 1);
    assert_int_equal(dht__addr_same_subnet(&v6c, &v4), 1);
    v6c.ip[15] = 8;
    v6c.port = 1;
    assert_int_equal(dht__addr_same_endpoint(&v4, &v6c), 1);
}

static void test_states(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1);
    dht__rt_node_t n;
    dht__rt_t *rt;
    size_t good, q, bad;

    (void)state;
    memset(&n, 0, sizeof n);
    n.last_seen = 10;
    assert_int_equal(dht__rt_state(&n, 10), DHT__RT_QUESTIONABLE); /* never answered */
    n.replied = 1;
    assert_int_equal(dht__rt_state(&n, 10), DHT__RT_GOOD);
    assert_int_equal(dht__rt_state(&n, 10 + DHT__RT_GOOD_MS - 1), DHT__RT_GOOD);
    assert_int_equal(dht__rt_state(&n, 10 + DHT__RT_GOOD_MS), DHT__RT_QUESTIONABLE);
    /* Heard from later (any message) keeps it good. */
    n.last_seen = 10 + DHT__RT_GOOD_MS;
    assert_int_equal(dht__rt_state(&n, 10 + DHT__RT_GOOD_MS), DHT__RT_GOOD);
    n.fails = 1;
    assert_int_equal(dht__rt_state(&n, 10 + DHT__RT_GOOD_MS), DHT__RT_GOOD);
    n.fails = DHT__RT_BAD_FAILS;
    assert_int_equal(dht__rt_state(&n, 10 + DHT__RT_GOOD_MS), DHT__RT_BAD);
    n.fails = DHT__RT_MAX_FAILS;
    assert_int_equal(dht__rt_state(&n, 0), DHT__RT_BAD);

    /* The same through the table, with the failure counter saturating. */
    rt = dht__rt_new(&self, 4, 0);
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_count(rt, 20, &good, &q, &bad), 1);
    assert_int_equal(good, 1);
    assert_int_equal(dht__rt_count(rt, 10 + DHT__RT_GOOD_MS, &good, &q, &bad), 1);
    assert_int_equal(q, 1);
    for (int i = 0; i < 300; i++)
        assert_int_equal(dht__rt_failed(rt, &a, 30), 0);
    assert_int_equal(found(rt, &a)->fails, DHT__RT_MAX_FAILS);
    assert_int_equal(dht__rt_count(rt, 30, &good, &q, &bad), 1);
    assert_int_equal(bad, 1);
    assert_int_equal(good + q, 0);
    dht__rt_free(rt);
}

/* Fills bucket 0 of a k = 2 table with a and b and its cache with c, d, e
 * (seen at 10, 30, 20). */
static dht__rt_t *full_bucket0(const dht_id_t *self, dht_id_t ids[5])
{
    static const uint64_t when[5] = {1, 2, 10, 30, 20};
    dht__rt_t *rt = dht__rt_new(self, 2, 3);

    for (int i = 0; i < 5; i++) {
        ids[i] = depth_id(self, 0, (uint64_t)i + 100);
        assert_int_equal(update(rt, &ids[i], when[i], DHT__RT_QUERY),
                         i < 2 ? DHT__RT_ADDED : DHT__RT_CACHED);
    }
    /* The third node split the last bucket; nothing moved to bucket 1. */
    assert_int_equal(dht__rt_bucket_count(rt), 2);
    assert_int_equal(view(rt, 0).n_cache, 3);
    assert_int_equal(view(rt, 1).n_nodes, 0);
    return rt;
}

static void test_failed_replaces(void **state)
{
    dht_id_t self = test_self(), ids[5];
    dht__rt_t *rt = full_bucket0(&self, ids);
    dht_id_t unknown = depth_id(&self, 7, 9);
    const dht__rt_node_t *d;

    (void)state;
    assert_int_equal(dht__rt_failed(rt, &ids[0], 40), 0);
    assert_int_equal(dht__rt_failed(rt, &ids[0], 50), 1);
    assert_null(found(rt, &ids[0]));
    d = found(rt, &ids[3]); /* the newest cache entry */
    assert_non_null(d);
    assert_int_equal(d->last_seen, 30);
    assert_int_equal(d->fails, 0);
    assert_false(in_cache(rt, 0, &ids[3]));
    assert_int_equal(view(rt, 0).n_cache, 2);
    assert_int_equal(view(rt, 0).last_changed, 50);
    assert_int_equal(dht__rt_count(rt, 50, NULL, NULL, NULL), 2);

    assert_int_equal(dht__rt_failed(rt, &ids[1], 60), 0);
    assert_int_equal(dht__rt_failed(rt, &ids[1], 70), 1);
    assert_non_null(found(rt, &ids[4]));
    assert_true(in_cache(rt, 0, &ids[2]));
    assert_int_equal(view(rt, 0).n_cache, 1);

    /* Cache-only and unknown nodes are not tracked. */
    assert_int_equal(dht__rt_failed(rt, &ids[2], 80), -1);
    assert_int_equal(dht__rt_failed(rt, &unknown, 80), -1);
    dht__rt_free(rt);
}

/* The listener hears every node that enters or leaves the buckets. */
typedef struct heard_log {
    dht_id_t ids[16];
    int added[16];
    unsigned n;
} heard_log_t;

static void on_change(void *arg, const dht__rt_node_t *node, int added)
{
    heard_log_t *log = arg;

    assert_true(log->n < 16);
    log->ids[log->n] = node->id;
    log->added[log->n++] = added;
}

static void test_listener(void **state)
{
    dht_id_t self = test_self(), ids[5];
    dht__rt_t *rt = full_bucket0(&self, ids);
    dht_id_t more = depth_id(&self, 9, 3);
    heard_log_t log = {0};

    (void)state;
    dht__rt_set_listener(rt, on_change, &log);
    assert_int_equal(update(rt, &more, 35, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(log.n, 1);
    assert_true(id_eq(&log.ids[0], &more) && log.added[0] == 1);
    assert_int_equal(update(rt, &more, 36, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(log.n, 1); /* an update is no news */
    /* ids[0] goes bad; the newest cache entry (ids[3]) takes its place. */
    assert_int_equal(dht__rt_failed(rt, &ids[0], 40), 0);
    assert_int_equal(dht__rt_failed(rt, &ids[0], 50), 1);
    assert_int_equal(log.n, 3);
    assert_true(id_eq(&log.ids[1], &ids[0]) && log.added[1] == 0);
    assert_true(id_eq(&log.ids[2], &ids[3]) && log.added[2] == 1);
    dht__rt_set_listener(rt, NULL, NULL);
    assert_int_equal(dht__rt_failed(rt, &ids[1], 60), 0);
    assert_int_equal(dht__rt_failed(rt, &ids[1], 70), 1);
    assert_int_equal(log.n, 3);
    dht__rt_free(rt);
}

/* Hearsay (LEARNED) fills free slots and bad nodes' slots only: it never
 * touches a known entry, never replaces a live node and never enters the
 * cache. */
static void test_learned(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2);
    dht_id_t c = depth_id(&self, 0, 3), d = depth_id(&self, 0, 4);
    dht_id_t deep = depth_id(&self, 6, 5);
    dht_addr_t other = addr4(0x01020304, 99);
    dht__rt_t *rt = dht__rt_new(&self, 2, 2);
    const dht__rt_node_t *n;

    (void)state;
    assert_int_equal(update(rt, &self, 5, DHT__RT_LEARNED), DHT__RT_IGNORED);
    assert_int_equal(update(rt, &a, 10, DHT__RT_LEARNED), DHT__RT_ADDED);
    n = found(rt, &a);
    assert_int_equal(n->replied, 0);
    assert_int_equal(dht__rt_state(n, 10), DHT__RT_QUESTIONABLE);
    /* A known node: neither its address nor its times change. */
    assert_int_equal(dht__rt_update(rt, &a, &other, 20, DHT__RT_LEARNED), DHT__RT_IGNORED);
    n = found(rt, &a);
    assert_false(addr_same(&n->addr, &other));
    assert_int_equal(n->last_seen, 10);
    assert_int_equal(update(rt, &b, 30, DHT__RT_REPLY), DHT__RT_ADDED);
    /* Bucket 0 full: hearsay may split it (deep goes to a new bucket 1), but
     * a node of bucket 0 itself is turned away, not cached. */
    assert_int_equal(update(rt, &deep, 35, DHT__RT_LEARNED), DHT__RT_ADDED);
    assert_int_equal(update(rt, &c, 40, DHT__RT_LEARNED), DHT__RT_IGNORED);
    assert_int_equal(view(rt, 0).n_cache, 0);
    /* a turns bad (no replacement cached): hearsay takes its slot, so a dead
     * node goes as soon as anything else is known. */
    assert_int_equal(dht__rt_failed(rt, &a, 50), 0);
    assert_int_equal(dht__rt_failed(rt, &a, 50), 0);
    assert_int_equal(update(rt, &c, 60, DHT__RT_LEARNED), DHT__RT_ADDED);
    assert_null(found(rt, &a));
    assert_true(found(rt, &c)->learned);
    /* A node heard from takes the learned node's slot (bucket 0 cannot split). */
    assert_int_equal(update(rt, &d, 70, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_null(found(rt, &c));
    /* A cached node is known too. */
    assert_int_equal(update(rt, &c, 80, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_int_equal(update(rt, &c, 90, DHT__RT_LEARNED), DHT__RT_IGNORED);
    assert_int_equal(view(rt, 0).cache[0].last_seen, 80);
    dht__rt_free(rt);
}

/* A learned node serves our lookups but is not handed to others until it
 * has answered us; a node heard from takes a learned node's slot; a flood
 * of hearsay never pushes a node heard from out. */
static void test_learned_not_handed_out(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2), c = depth_id(&self, 0, 3);
    dht__rt_t *rt = dht__rt_new(&self, 2, 2);
    dht__rt_node_t out[4];

    (void)state;
    assert_int_equal(update(rt, &a, 10, DHT__RT_LEARNED), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_closest(rt, &a, 20, out, 4), 2);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 20, out, 4), 1);
    assert_true(id_eq(&out[0].id, &b));
    /* Bucket 0 is full (k = 2): c, heard from, takes learned a's slot. Its
     * request proves nothing (a forged source address would do), so it is
     * handed out only once it has answered us. */
    assert_int_equal(update(rt, &c, 30, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_null(found(rt, &a));
    assert_int_equal(dht__rt_closest_verified(rt, &a, 30, out, 4), 1);
    assert_int_equal(dht__rt_mark_probing(rt, &c), 1); /* the ping that proves it */
    assert_int_equal(update(rt, &c, 35, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 35, out, 4), 2);
    assert_int_equal(dht__rt_mark_probing(rt, &c), 0);
    assert_int_equal(update(rt, &c, 36, DHT__RT_QUERY), DHT__RT_UPDATED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 36, out, 4), 2); /* stays proven */
    /* Hearsay about a hundred made-up nodes changes nothing. */
    for (uint64_t i = 0; i < 100; i++) {
        dht_id_t fake = depth_id(&self, 0, 1000 + i);
        assert_int_equal(update(rt, &fake, 40, DHT__RT_LEARNED), DHT__RT_IGNORED);
    }
    assert_non_null(found(rt, &b));
    assert_non_null(found(rt, &c));
    /* Heard from itself, a learned node is handed out. */
    dht__rt_free(rt);
    rt = dht__rt_new(&self, 2, 2);
    assert_int_equal(update(rt, &a, 10, DHT__RT_LEARNED), DHT__RT_ADDED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 20, out, 4), 0);
    assert_int_equal(update(rt, &a, 20, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 20, out, 4), 1);
    dht__rt_free(rt);
}

/* A request that names a proven node from another address (forged, or the
 * node moved) makes it unproven: it is not handed out at the new address
 * until it answers there. */
static void test_new_address_unproves(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1);
    dht__rt_t *rt = dht__rt_new(&self, 2, 2);
    dht__rt_node_t out[2];
    dht_addr_t there = addr4(0xc0000202u, 2000);

    (void)state;
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 10, out, 2), 1);
    /* Not heard from for 15 minutes: questionable, so its address may
     * change. */
    assert_int_equal(dht__rt_update(rt, &a, &there, 10 + DHT__RT_GOOD_MS, DHT__RT_QUERY),
                     DHT__RT_UPDATED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 10 + DHT__RT_GOOD_MS, out, 2), 0);
    assert_int_equal(dht__rt_mark_probing(rt, &a), 1); /* pinged at the new address */
    assert_int_equal(dht__rt_update(rt, &a, &there, 20 + DHT__RT_GOOD_MS, DHT__RT_REPLY),
                     DHT__RT_UPDATED);
    assert_int_equal(dht__rt_closest_verified(rt, &a, 20 + DHT__RT_GOOD_MS, out, 2), 1);
    assert_true(addr_same(&out[0].addr, &there));
    dht__rt_free(rt);
}

/* A replacement cache full of nodes that answered us is not pushed out by
 * nodes that only sent requests (made-up ids from one forged source, say);
 * a node that answers still gets in; a bad member is replaced by the
 * newest proven entry before a newer unproven one. */
static void test_cache_keeps_proven(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2);
    dht_id_t p1 = depth_id(&self, 0, 3), p2 = depth_id(&self, 0, 4);
    dht_id_t q = depth_id(&self, 0, 5), r = depth_id(&self, 0, 6);
    dht__rt_t *rt = dht__rt_new(&self, 2, 2);

    (void)state;
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &p1, 20, DHT__RT_REPLY), DHT__RT_CACHED);
    assert_int_equal(update(rt, &p2, 30, DHT__RT_REPLY), DHT__RT_CACHED);
    for (uint64_t i = 0; i < 100; i++) {
        dht_id_t fake = depth_id(&self, 0, 1000 + i);
        assert_int_equal(update(rt, &fake, 40 + i, DHT__RT_QUERY), DHT__RT_IGNORED);
    }
    assert_int_equal(view(rt, 0).n_cache, 2);
    /* A node that answers pushes out the oldest proven entry, p1. */
    assert_int_equal(update(rt, &r, 200, DHT__RT_REPLY), DHT__RT_CACHED);
    /* An unproven entry goes before a proven one: q replaces nothing
     * proven; with r and p2 proven, q is turned away. */
    assert_int_equal(update(rt, &q, 210, DHT__RT_QUERY), DHT__RT_IGNORED);
    /* a goes bad: the newest proven entry, r, takes its place. */
    assert_int_equal(dht__rt_failed(rt, &a, 300), 0);
    assert_int_equal(dht__rt_failed(rt, &a, 300), 1);
    assert_null(found(rt, &a));
    assert_non_null(found(rt, &r));
    /* One cache slot is free again: q gets it, and is newer than p2; b
     * goes bad and p2, proven, is promoted before q. */
    assert_int_equal(update(rt, &q, 310, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_int_equal(dht__rt_failed(rt, &b, 320), 0);
    assert_int_equal(dht__rt_failed(rt, &b, 320), 1);
    assert_non_null(found(rt, &p2));
    assert_null(found(rt, &q));
    dht__rt_free(rt);
}

static void test_bad_replaced_on_update(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2);
    dht_id_t c = depth_id(&self, 0, 3), d = depth_id(&self, 0, 4), e = depth_id(&self, 0, 5);
    dht__rt_t *rt = dht__rt_new(&self, 2, 0);

    (void)state;
    assert_int_equal(update(rt, &a, 10, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 20, DHT__RT_QUERY), DHT__RT_ADDED);
    /* No cache: a full bucket turns the node away. */
    assert_int_equal(update(rt, &c, 30, DHT__RT_QUERY), DHT__RT_IGNORED);
    assert_null(found(rt, &c));
    /* Both bad; with no cache they stay. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dht__rt_failed(rt, &b, 40), 0);
        assert_int_equal(dht__rt_failed(rt, &a, 40), 0);
    }
    assert_int_equal(dht__rt_state(found(rt, &a), 40), DHT__RT_BAD);
    /* A new node replaces the bad one seen longest ago (a), then b. */
    assert_int_equal(update(rt, &d, 50, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_null(found(rt, &a));
    assert_non_null(found(rt, &b));
    assert_int_equal(found(rt, &d)->fails, 0);
    assert_int_equal(update(rt, &e, 60, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_null(found(rt, &b));
    assert_int_equal(view(rt, 0).n_nodes, 2);
    assert_int_equal(view(rt, 0).last_changed, 60);
    dht__rt_free(rt);
}

/* dht__rt_has_room says whether a reply from a new node could enter its
 * bucket (a free slot, a bad or learned node to replace, the last bucket,
 * which splits) or only the cache, as dht__rt_update then does: server.c
 * sends no verification ping to a stranger that could not enter. */
static void test_has_room(void **state)
{
    dht_id_t self = test_self(), near = depth_id(&self, 5, 1);
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2);
    dht_id_t c = depth_id(&self, 0, 3), d = depth_id(&self, 0, 4);
    dht__rt_t *rt = dht__rt_new(&self, 2, 0);

    (void)state;
    assert_false(dht__rt_has_room(rt, &self));
    assert_true(dht__rt_has_room(rt, &a)); /* a free slot */
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_true(dht__rt_has_room(rt, &c)); /* full, but the last bucket: it splits */
    assert_int_equal(update(rt, &near, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_true(view(rt, 0).n_nodes == 2 && in_bucket(rt, 0, &a) && in_bucket(rt, 0, &b));
    assert_false(dht__rt_has_room(rt, &c)); /* full of live nodes, not the last */
    assert_int_equal(update(rt, &c, 20, DHT__RT_REPLY), DHT__RT_IGNORED);
    for (int i = 0; i < DHT__RT_BAD_FAILS; i++)
        assert_int_equal(dht__rt_failed(rt, &a, 30), 0);
    assert_true(dht__rt_has_room(rt, &c)); /* a bad node to replace */
    assert_int_equal(update(rt, &c, 40, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_false(dht__rt_has_room(rt, &d));
    dht__rt_free(rt);

    rt = dht__rt_new(&self, 2, 0);
    assert_int_equal(update(rt, &a, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 10, DHT__RT_LEARNED), DHT__RT_ADDED);
    assert_int_equal(update(rt, &near, 10, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_true(dht__rt_has_room(rt, &c)); /* a learned node to replace */
    assert_int_equal(update(rt, &c, 20, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_null(found(rt, &b));
    dht__rt_free(rt);
}

static void test_cache(void **state)
{
    dht_id_t self = test_self(), id[5];
    dht_addr_t other = addr4(0x0b000001, 7);
    dht__rt_t *rt = dht__rt_new(&self, 1, 2);
    dht__rt_bucket_view_t v;

    (void)state;
    for (int i = 0; i < 5; i++)
        id[i] = depth_id(&self, 0, (uint64_t)i + 1);
    assert_int_equal(update(rt, &id[0], 5, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &id[1], 10, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_int_equal(update(rt, &id[2], 20, DHT__RT_QUERY), DHT__RT_CACHED);
    /* Full cache: the entry seen longest ago (id[1]) goes. */
    assert_int_equal(update(rt, &id[3], 30, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_false(in_cache(rt, 0, &id[1]));
    assert_true(in_cache(rt, 0, &id[2]));
    assert_true(in_cache(rt, 0, &id[3]));
    /* Refreshed in place: times, reply, and (not good yet) the address. */
    assert_int_equal(dht__rt_update(rt, &id[2], &other, 40, DHT__RT_REPLY), DHT__RT_CACHED);
    v = view(rt, 0);
    assert_int_equal(v.n_cache, 2);
    for (size_t i = 0; i < v.n_cache; i++) {
        if (!id_eq(&v.cache[i].id, &id[2]))
            continue;
        assert_int_equal(v.cache[i].last_seen, 40);
        assert_int_equal(v.cache[i].replied, 1);
        assert_true(addr_same(&v.cache[i].addr, &other));
    }
    /* Now good: a good cache entry does not move either. */
    assert_int_equal(update(rt, &id[2], 45, DHT__RT_QUERY), DHT__RT_IGNORED);
    /* Now id[3] (30) is the oldest. */
    assert_int_equal(update(rt, &id[4], 50, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_false(in_cache(rt, 0, &id[3]));
    assert_true(in_cache(rt, 0, &id[2]));
    assert_true(in_cache(rt, 0, &id[4]));
    /* Cache entries are not bucket nodes. */
    assert_null(found(rt, &id[4]));
    assert_int_equal(dht__rt_count(rt, 50, NULL, NULL, NULL), 1);
    dht__rt_free(rt);
}

static void test_split(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 1, 1), c = depth_id(&self, 3, 1);
    dht_id_t d = depth_id(&self, 5, 1), e = depth_id(&self, 7, 1);
    dht__rt_t *rt = dht__rt_new(&self, 2, 2);

    (void)state;
    assert_int_equal(update(rt, &a, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_bucket_count(rt), 1);
    /* Full last bucket: splits, b moves, c joins it. */
    assert_int_equal(update(rt, &c, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_bucket_count(rt), 2);
    assert_true(in_bucket(rt, 0, &a));
    assert_true(in_bucket(rt, 1, &b) && in_bucket(rt, 1, &c));
    assert_int_equal(update(rt, &d, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_bucket_count(rt), 3);
    assert_true(in_bucket(rt, 1, &b));
    assert_true(in_bucket(rt, 2, &c) && in_bucket(rt, 2, &d));
    /* Everything moves at depth 2, so it splits again, twice. */
    assert_int_equal(update(rt, &e, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_bucket_count(rt), 5);
    assert_int_equal(view(rt, 2).n_nodes, 0);
    assert_true(in_bucket(rt, 3, &c));
    assert_true(in_bucket(rt, 4, &d) && in_bucket(rt, 4, &e));
    assert_int_equal(dht__rt_count(rt, 1, NULL, NULL, NULL), 5);
    /* A full non-last bucket does not split. */
    assert_int_equal(update(rt, &a, 1, DHT__RT_QUERY), DHT__RT_UPDATED);
    for (uint64_t s = 2; s < 5; s++) {
        dht_id_t x = depth_id(&self, 0, s);
        assert_int_equal(update(rt, &x, 1, DHT__RT_QUERY), s == 2 ? DHT__RT_ADDED : DHT__RT_CACHED);
    }
    assert_int_equal(dht__rt_bucket_count(rt), 5);
    dht__rt_free(rt);
}

/* A k = 1 table split all the way down: 256 buckets. */
static dht__rt_t *deepest_table(const dht_id_t *self)
{
    dht__rt_t *rt = dht__rt_new(self, 1, 1);
    dht_id_t a = *self, b = *self, c;

    flip_bit(&a, 255);
    flip_bit(&b, 254);
    c = b;
    flip_bit(&c, 255);
    assert_int_equal(update(rt, &a, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 1, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_bucket_count(rt), DHT__RT_MAX_BUCKETS);
    assert_true(in_bucket(rt, 254, &b));
    assert_true(in_bucket(rt, 255, &a));
    assert_int_equal(update(rt, &c, 1, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_true(in_cache(rt, 254, &c));
    return rt;
}

static void test_split_to_256(void **state)
{
    dht_id_t self = test_self();
    dht__rt_t *rt = deepest_table(&self);
    dht__rt_bucket_view_t v;
    dht__rt_node_t out[4];

    (void)state;
    assert_int_equal(dht__rt_bucket(rt, 256, &v, 0), DHT_EINVAL);
    for (size_t i = 0; i < 254; i++)
        assert_int_equal(view(rt, i).n_nodes, 0);
    /* From self: a (distance 1), then b (distance 2). */
    assert_int_equal(dht__rt_closest(rt, &self, 0, out, 4), 2);
    assert_int_equal(out[0].id.b[31] ^ self.b[31], 1);
    assert_int_equal(out[1].id.b[31] ^ self.b[31], 2);
    dht__rt_free(rt);
}

static void check_random_ids(const dht__rt_t *rt, const dht_id_t *self, uint64_t *rng)
{
    size_t nb = dht__rt_bucket_count(rt);
    uint8_t rnd[DHT_ID_LEN];
    dht_id_t id;

    for (size_t i = 0; i < nb; i++) {
        for (int t = 0; t < 6; t++) {
            if (t < 2)
                memset(rnd, t == 0 ? 0x00 : 0xff, sizeof rnd);
            else
                random_bytes(rng, rnd, sizeof rnd);
            assert_int_equal(dht__rt_random_id_in_bucket(rt, i, rnd, &id), 0);
            if (i + 1 < nb)
                assert_int_equal(dht_id_common_prefix(self, &id), i);
            else
                assert_true(dht_id_common_prefix(self, &id) >= i);
            /* The bits after the fixed prefix come from random[]. */
            for (unsigned p = (unsigned)i + 1; p < 256; p++)
                assert_int_equal((id.b[p / 8] ^ rnd[p / 8]) & (0x80u >> (p % 8)), 0);
        }
    }
    assert_int_equal(dht__rt_random_id_in_bucket(rt, nb, rnd, &id), DHT_EINVAL);
}

static void test_random_id_in_bucket(void **state)
{
    dht_id_t self = test_self();
    dht__rt_t *deep = deepest_table(&self);
    dht__rt_t *rt = dht__rt_new(&self, 2, 0);
    uint64_t rng = 42;

    (void)state;
    check_random_ids(rt, &self, &rng); /* one bucket */
    for (unsigned p = 0; p < 12; p++) {
        dht_id_t x = depth_id(&self, p, 1), y = depth_id(&self, p + 1, 2);
        update(rt, &x, 1, DHT__RT_QUERY);
        update(rt, &y, 1, DHT__RT_QUERY);
    }
    assert_true(dht__rt_bucket_count(rt) > 8);
    check_random_ids(rt, &self, &rng);
    check_random_ids(deep, &self, &rng);
    dht__rt_free(rt);
    dht__rt_free(deep);
}

static void test_ping_candidate(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2), c = depth_id(&self, 0, 3);
    dht_id_t d = depth_id(&self, 1, 4);
    dht__rt_t *rt = dht__rt_new(&self, 2, 1);
    dht__rt_node_t out;

    (void)state;
    assert_int_equal(update(rt, &a, 100, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 0, &out), 0); /* not full */
    assert_int_equal(update(rt, &b, 200, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 0, &out), 0); /* no cache */
    assert_int_equal(update(rt, &c, 300, DHT__RT_QUERY), DHT__RT_CACHED);
    /* d: in a bucket that is not full, though seen longest ago. */
    assert_int_equal(update(rt, &d, 1, DHT__RT_QUERY), DHT__RT_ADDED);

    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 1000, &out), 1);
    assert_true(id_eq(&out.id, &a)); /* the oldest */
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 9900, &out), 1);
    assert_true(id_eq(&out.id, &a));
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 9901, &out), 0); /* seen too recently */

    /* Failed recently: skipped for min_age_ms. */
    assert_int_equal(dht__rt_failed(rt, &a, 9500), 0);
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 1000, &out), 1);
    assert_true(id_eq(&out.id, &b));
    /* Good nodes are not candidates. */
    assert_int_equal(update(rt, &b, 9600, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 1000, &out), 0);
    assert_int_equal(dht__rt_ping_candidate(rt, 10500, 1000, &out), 1);
    assert_true(id_eq(&out.id, &a));
    assert_int_equal(out.fails, 1);
    dht__rt_free(rt);
}

/* Times are kept as 32-bit stamps from an epoch that moves forward once
 * now is 2^31 ms past it (rt.c): a table that lives for months reads the
 * times of the last 12 days exactly, and older ones as old. */
static void test_times_past_32_bits(void **state)
{
    const uint64_t day = 24ull * 3600 * 1000, t0 = 1000;
    const uint64_t late = t0 + 60 * day, later = late + ((uint64_t)1 << 32) + 7;
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 1, 2), c = depth_id(&self, 0, 3);
    dht_id_t d = depth_id(&self, 0, 4);
    dht_addr_t aa = addr4(0x0a000000u | a.b[31], 4000);
    const uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t got[8];
    dht__rt_t *rt = dht__rt_new(&self, 2, 1);
    dht__rt_node_t out[2];

    (void)state;
    assert_int_equal(update(rt, &a, t0, DHT__RT_REPLY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, t0, DHT__RT_QUERY), DHT__RT_ADDED);
    dht__rt_set_token(rt, &a, &aa, token, t0);
    assert_int_equal(dht__rt_failed(rt, &a, t0 + 1), 0);

    /* 60 days on (past 2^32 ms): b is heard from. */
    assert_int_equal(update(rt, &b, late, DHT__RT_QUERY), DHT__RT_UPDATED);
    assert_int_equal(found(rt, &b)->last_seen, late);
    /* a, silent since, reads as at least 12 days old, and still replied. */
    assert_true(found(rt, &a)->last_seen <= late - 12 * day);
    assert_true(found(rt, &a)->last_seen >= t0);
    assert_int_equal(found(rt, &a)->replied, 1);
    assert_int_equal(found(rt, &a)->fails, 1);
    assert_int_equal(dht__rt_state(found(rt, &a), late), DHT__RT_QUESTIONABLE);
    assert_int_equal(dht__rt_token(rt, &a, &aa, late, got), 0); /* too old */
    /* The oldest is a: the one to ping, its failure long past. */
    assert_int_equal(update(rt, &c, late, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &d, late, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_int_equal(dht__rt_ping_candidate(rt, late, 1000, out), 1);
    assert_true(id_eq(&out[0].id, &a));

    /* Times from then on are exact again, through the next 2^32 ms too. */
    dht__rt_set_token(rt, &a, &aa, token, late);
    assert_int_equal(dht__rt_token(rt, &a, &aa, late + 1000, got), 1);
    assert_memory_equal(got, token, sizeof(got));
    assert_int_equal(dht__rt_token(rt, &a, &aa, late + DHT__RT_TOKEN_MS, got), 0);
    assert_int_equal(update(rt, &a, late + 10, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(found(rt, &a)->last_seen, late + 10);
    assert_int_equal(dht__rt_state(found(rt, &a), late + 10), DHT__RT_GOOD);
    assert_int_equal(update(rt, &b, later, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(found(rt, &b)->last_seen, later);
    assert_int_equal(dht__rt_state(found(rt, &b), later), DHT__RT_GOOD);
    assert_int_equal(dht__rt_state(found(rt, &a), later), DHT__RT_QUESTIONABLE);
    assert_int_equal(dht__rt_closest(rt, &a, later, out, 2), 2);
    assert_true(id_eq(&out[0].id, &a));
    dht__rt_free(rt);
}

/* After the epoch moves, contacts silent for more than 12 days keep the
 * order they were heard in: the oldest is still the one a rule picks (the
 * node to ping, here), where its id is the larger (clamping their times
 * to one value made the smaller id win the tie). */
static void test_rebase_keeps_order(void **state)
{
    const uint64_t day = 24ull * 3600 * 1000, late = 60 * day;
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), c = depth_id(&self, 0, 3), d = depth_id(&self, 0, 4);
    dht_id_t b = depth_id(&self, 1, 2);
    int a_larger = dht_id_cmp(&a, &c) > 0;
    const dht_id_t *first = a_larger ? &a : &c, *second = a_larger ? &c : &a;
    dht__rt_t *rt = dht__rt_new(&self, 2, 1);
    dht__rt_node_t out;

    (void)state;
    assert_int_equal(update(rt, first, 1000, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, second, 2000, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(update(rt, &b, 3000, DHT__RT_QUERY), DHT__RT_ADDED); /* a split */
    assert_int_equal(update(rt, &d, 4000, DHT__RT_QUERY), DHT__RT_CACHED);
    assert_int_equal(dht__rt_ping_candidate(rt, 10000, 1000, &out), 1);
    assert_true(id_eq(&out.id, first));
    assert_int_equal(update(rt, &b, late, DHT__RT_QUERY), DHT__RT_UPDATED); /* the epoch moves */
    assert_true(found(rt, first)->last_seen < found(rt, second)->last_seen);
    assert_true(found(rt, second)->last_seen <= late - 12 * day);
    assert_int_equal(found(rt, &b)->last_seen, late);
    assert_int_equal(dht__rt_ping_candidate(rt, late, 1000, &out), 1);
    assert_true(id_eq(&out.id, first));
    dht__rt_free(rt);
}

/* @return the contacts a table holds: bucket nodes and cache entries. */
static size_t entries(const dht__rt_t *rt)
{
    size_t n = 0;

    for (size_t i = 0; i < dht__rt_bucket_count(rt); i++) {
        dht__rt_bucket_view_t v;
        assert_int_equal(dht__rt_bucket(rt, i, &v, 0), 0);
        n += v.n_nodes + v.n_cache;
    }
    return n;
}

/* A table holds one handle of its contact store per contact, whatever
 * moves (address changes, cache entries promoted or pushed out, bad nodes
 * replaced, splits) and gives them all back when freed. */
static void test_store_handles(void **state)
{
    dht_id_t self = test_self();
    dht__contact_arena_t arena;
    dht__contacts_t cs;
    dht_id_t ids[300];
    uint64_t rng = 7;
    dht__rt_t *rt = dht__rt_new(&self, 4, 2);

    (void)state;
    dht__arena_init(&arena, 100);
    dht__arena_contacts(&arena, &cs);
    assert_int_equal(dht__rt_set_contacts(rt, &cs), 0);
    dht__rt_set_subnet_limit(rt, 2, 1);
    for (size_t i = 0; i < 300; i++)
        ids[i] = at_depth(&self, (unsigned)below(&rng, 12), &rng);
    for (uint64_t t = 1; t <= 20000; t++) {
        const dht_id_t *id = &ids[below(&rng, 300)];
        dht_addr_t a =
            addr4(0x0a000000u | (uint32_t)below(&rng, 600), (uint16_t)(4000 + below(&rng, 2)));
        if (below(&rng, 4) == 0)
            (void)dht__rt_failed(rt, id, t);
        else
            assert_true(dht__rt_update(rt, id, &a, t, (dht__rt_event_t)below(&rng, 4)) >= 0);
        assert_int_equal(dht__arena_held(&arena), entries(rt));
    }
    assert_true(entries(rt) > 20);
    /* A table with contacts keeps its store. */
    assert_int_equal(dht__rt_set_contacts(rt, &cs), DHT_EINVAL);
    dht__rt_free(rt);
    assert_int_equal(dht__arena_held(&arena), 0);
    dht__arena_free(&arena);
}

static void test_touch_bucket(void **state)
{
    dht_id_t self = test_self();
    dht_id_t a = depth_id(&self, 0, 1), b = depth_id(&self, 0, 2);
    dht__rt_t *rt = dht__rt_new(&self, 1, 1);

    (void)state;
    assert_int_equal(view(rt, 0).last_changed, 0);
    assert_int_equal(update(rt, &a, 100, DHT__RT_QUERY), DHT__RT_ADDED);
    assert_int_equal(view(rt, 0).last_changed, 100);
    assert_int_equal(update(rt, &a, 200, DHT__RT_QUERY), DHT__RT_UPDATED);
    assert_int_equal(view(rt, 0).last_changed, 100);
    assert_int_equal(update(rt, &a, 300, DHT__RT_REPLY), DHT__RT_UPDATED);
    assert_int_equal(view(rt, 0).last_changed, 300);
    /* Caching a node is no change of the bucket; the split copies the time. */
    assert_int_equal(update(rt, &b, 350, DHT__RT_REPLY), DHT__RT_CACHED);
    assert_int_equal(view(rt, 0).last_changed, 300);
    assert_int_equal(view(rt, 1).last_changed, 300);
    dht__rt_touch_bucket(rt, 0, 400);
    assert_int_equal(view(rt, 0).last_changed, 400);
    dht__rt_touch_bucket(rt, 7, 500); /* out of range: no effect */
    assert_int_equal(dht__rt_bucket_count(rt), 2);
    dht__rt_free(rt);
}

static void test_count_and_closest(void **state)
{
    dht_id_t self = test_self(), ids[6], target = depth_id(&self, 2, 77);
    dht__rt_t *rt = dht__rt_new(&self, 4, 0);
    dht__rt_node_t out[8];
    size_t good, q, bad;

    (void)state;
    for (unsigned i = 0; i < 6; i++) {
        ids[i] = depth_id(&self, i, 5);
        assert_int_equal(update(rt, &ids[i], 1000, i % 2 ? DHT__RT_REPLY : DHT__RT_QUERY),
                         DHT__RT_ADDED);
    }
    assert_int_equal(dht__rt_bucket_count(rt), 3); /* 0, 1, and 2.. */
    assert_int_equal(dht__rt_failed(rt, &ids[4], 1000), 0);
    assert_int_equal(dht__rt_failed(rt, &ids[4], 1000), 0);
    assert_int_equal(dht__rt_count(rt, 1000, &good, &q, &bad), 6);
    assert_int_equal(good, 3);
    assert_int_equal(q, 2);
    assert_int_equal(bad, 1);
    assert_int_equal(dht__rt_count(rt, 1000, NULL, &q, NULL), 6);
    assert_int_equal(dht__rt_count(rt, 1000 + DHT__RT_GOOD_MS, &good, NULL, NULL), 6);
    assert_int_equal(good, 0);

    /* target shares 2 bits: ids[2] first, then the deeper 3 and 5 (4 is
     * bad), then 1, then 0. */
    assert_int_equal(dht__rt_closest(rt, &target, 1000, out, 0), 0);
    assert_int_equal(dht__rt_closest(rt, &target, 1000, out, 8), 5);
    assert_true(id_eq(&out[0].id, &ids[2]));
    assert_true(id_eq(&out[3].id, &ids[1]));
    assert_true(id_eq(&out[4].id, &ids[0]));
    assert_true(dht_id_cmp_distance(&target, &out[1].id, &out[2].id) < 0);
    assert_true(id_eq(&out[1].id, &ids[3]) || id_eq(&out[1].id, &ids[5]));
    assert_int_equal(dht__rt_closest(rt, &target, 1000, out, 2), 2);
    assert_true(id_eq(&out[0].id, &ids[2]));
    dht__rt_free(rt);
}

/* ------------------------------------------------------------------------ */
/* The reference model                                                      */
/* ------------------------------------------------------------------------ */

typedef struct ment {
    dht__rt_node_t n;
    uint64_t failed_at; /* last failed() call; 0 = never */
    int cached;         /* in a replacement cache, not a bucket */
} ment_t;

/* Every entry in one flat array; an entry's bucket follows from its id and
 * the model's bucket count, nothing is ever moved. */
typedef struct model {
    dht_id_t self;
    unsigned k, cache_size;
    size_t nb;
    ment_t *e;
    size_t n;
    uint64_t last_changed[DHT__RT_MAX_BUCKETS];
} model_t;

static size_t m_bucket(const model_t *m, const dht_id_t *id)
{
    size_t d = dht_id_common_prefix(&m->self, id);

    return d < m->nb - 1 ? d : m->nb - 1;
}

static int m_state(const dht__rt_node_t *n, uint64_t now)
{
    if (n->fails >= 2)
        return DHT__RT_BAD;
    if (n->replied && (now <= n->last_seen || now - n->last_seen < 15 * 60 * 1000))
        return DHT__RT_GOOD;
    return DHT__RT_QUESTIONABLE;
}

static long m_find(const model_t *m, const dht_id_t *id)
{
    for (size_t i = 0; i < m->n; i++)
        if (id_eq(&m->e[i].n.id, id))
            return (long)i;
    return -1;
}

static unsigned m_count(const model_t *m, size_t b, int cached)
{
    unsigned c = 0;

    for (size_t i = 0; i < m->n; i++)
        c += m->e[i].cached == cached && m_bucket(m, &m->e[i].n.id) == b;
    return c;
}

enum { ANY = 0, BAD_ONLY = 1, UNPROVEN_ONLY = 2, PROVEN_ONLY = 3 };

/* @return the entry of bucket b (its cache if cached) seen longest ago (or
 *         most recently if newest), smaller id first on a tie; only those
 *         the filter (ANY, BAD_ONLY, ...) lets through. -1 if none. */
static long m_pick(const model_t *m, size_t b, int cached, int filter, int newest)
{
    long best = -1;

    for (size_t i = 0; i < m->n; i++) {
        const dht__rt_node_t *x = &m->e[i].n, *y;
        if (m->e[i].cached != cached || m_bucket(m, &x->id) != b)
            continue;
        if ((filter == BAD_ONLY && x->fails < 2) || (filter == UNPROVEN_ONLY && x->proven) ||
            (filter == PROVEN_ONLY && !x->proven))
            continue;
        if (best < 0) {
            best = (long)i;
            continue;
        }
        y = &m->e[best].n;
        if (x->last_seen == y->last_seen ? dht_id_cmp(&x->id, &y->id) < 0
                                         : (x->last_seen > y->last_seen) == newest)
            best = (long)i;
    }
    return best;
}

static void m_remove(model_t *m, long i)
{
    m->e[i] = m->e[--m->n];
}

static void m_append(model_t *m, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                     dht__rt_event_t ev, int cached)
{
    ment_t *e = &m->e[m->n++];

    memset(e, 0, sizeof *e);
    e->n.id = *id;
    e->n.addr = *addr;
    e->n.last_seen = now;
    e->n.replied = ev == DHT__RT_REPLY;
    e->n.proven = ev == DHT__RT_REPLY || ev == DHT__RT_INSERT;
    e->cached = cached;
}

static void m_heard(dht__rt_node_t *n, const dht_addr_t *addr, uint64_t now, dht__rt_event_t ev)
{
    if (!addr_same(&n->addr, addr)) {
        n->addr = *addr;
        n->proven = 0; /* a new address proves nothing until it answers */
    }
    n->last_seen = now;
    if (ev == DHT__RT_REPLY || ev == DHT__RT_INSERT)
        n->proven = 1;
    if (ev == DHT__RT_REPLY) {
        n->replied = 1;
        n->fails = 0;
    }
}

static int m_moves_good(const dht__rt_node_t *n, const dht_addr_t *addr, uint64_t now)
{
    return !addr_same(&n->addr, addr) && m_state(n, now) == DHT__RT_GOOD;
}

static int m_cache(model_t *m, long i, size_t b, const dht_id_t *id, const dht_addr_t *addr,
                   uint64_t now, dht__rt_event_t ev)
{
    if (i >= 0) {
        m_heard(&m->e[i].n, addr, now, ev);
        return DHT__RT_CACHED;
    }
    if (m->cache_size == 0)
        return DHT__RT_IGNORED;
    if (m_count(m, b, 1) == m->cache_size) {
        /* The oldest unproven entry goes; a full cache of proven ones
         * makes room only for a node that proved itself. */
        long victim = m_pick(m, b, 1, UNPROVEN_ONLY, 0);
        if (victim < 0 && ev != DHT__RT_REPLY && ev != DHT__RT_INSERT)
            return DHT__RT_IGNORED;
        m_remove(m, victim >= 0 ? victim : m_pick(m, b, 1, ANY, 0));
    }
    m_append(m, id, addr, now, ev, 1);
    return DHT__RT_CACHED;
}

static int m_update(model_t *m, const dht_id_t *id, const dht_addr_t *addr, uint64_t now,
                    dht__rt_event_t ev)
{
    long i = m_find(m, id), bad;
    size_t b;

    if (id_eq(id, &m->self))
        return DHT__RT_IGNORED;
    if (i >= 0 && m_moves_good(&m->e[i].n, addr, now))
        return DHT__RT_IGNORED;
    if (i >= 0 && !m->e[i].cached) {
        m_heard(&m->e[i].n, addr, now, ev);
        if (ev == DHT__RT_REPLY)
            m->last_changed[m_bucket(m, id)] = now;
        return DHT__RT_UPDATED;
    }
    for (;;) {
        b = m_bucket(m, id);
        if (m_count(m, b, 0) < m->k)
            break;
        bad = m_pick(m, b, 0, BAD_ONLY, 0);
        if (bad >= 0) {
            m_remove(m, bad);
            break;
        }
        if (b != m->nb - 1 || m->nb == DHT__RT_MAX_BUCKETS)
            return m_cache(m, i, b, id, addr, now, ev);
        m->nb++;
        m->last_changed[m->nb - 1] = m->last_changed[m->nb - 2];
    }
    i = m_find(m, id); /* the removal may have moved it */
    if (i >= 0)
        m_remove(m, i);
    m_append(m, id, addr, now, ev, 0);
    m->last_changed[b] = now;
    return DHT__RT_ADDED;
}

static int m_failed(model_t *m, const dht_id_t *id, uint64_t now)
{
    long i = m_find(m, id), c;
    size_t b = m_bucket(m, id);

    if (i < 0 || m->e[i].cached)
        return -1;
    if (m->e[i].n.fails < DHT__RT_MAX_FAILS)
        m->e[i].n.fails++;
    m->e[i].failed_at = now;
    if (m->e[i].n.fails < 2)
        return 0;
    c = m_pick(m, b, 1, PROVEN_ONLY, 1);
    if (c < 0)
        c = m_pick(m, b, 1, ANY, 1);
    if (c < 0)
        return 0;
    m->e[c].cached = 0;
    m->e[c].failed_at = 0;
    m_remove(m, i);
    m->last_changed[b] = now;
    return 1;
}

static int m_ping_candidate(const model_t *m, uint64_t now, uint64_t min_age, dht_id_t *out)
{
    unsigned nodes[DHT__RT_MAX_BUCKETS] = {0}, cache[DHT__RT_MAX_BUCKETS] = {0};
    long best = -1;

    for (size_t i = 0; i < m->n; i++) {
        size_t b = m_bucket(m, &m->e[i].n.id);
        if (m->e[i].cached)
            cache[b]++;
        else
            nodes[b]++;
    }
    for (size_t i = 0; i < m->n; i++) {
        const ment_t *e = &m->e[i];
        size_t b = m_bucket(m, &e->n.id);
        if (e->cached || nodes[b] < m->k || cache[b] == 0)
            continue;
        if (m_state(&e->n, now) != DHT__RT_QUESTIONABLE)
            continue;
        if (now < e->n.last_seen + min_age || now < e->failed_at + min_age)
            continue;
        if (best < 0 || e->n.last_seen < m->e[best].n.last_seen ||
            (e->n.last_seen == m->e[best].n.last_seen &&
             dht_id_cmp(&e->n.id, &m->e[best].n.id) < 0))
            best = (long)i;
    }
    if (best >= 0)
        *out = m->e[best].n.id;
    return best >= 0;
}

/* ------------------------------------------------------------------------ */
/* Comparing the table with the model                                       */
/* ------------------------------------------------------------------------ */

typedef struct flat {
    dht__rt_node_t n;
    size_t bucket;
    int cached;
} flat_t;

static int flat_cmp(const void *a, const void *b)
{
    return dht_id_cmp(&((const flat_t *)a)->n.id, &((const flat_t *)b)->n.id);
}

typedef struct ranked {
    dht_id_t dist;
    dht_id_t id;
} ranked_t;

static int ranked_cmp(const void *a, const void *b)
{
    return dht_id_cmp(&((const ranked_t *)a)->dist, &((const ranked_t *)b)->dist);
}

typedef struct harness {
    dht__rt_t *rt;
    model_t m;
    uint64_t rng;
    uint64_t now;
    int shallow; /* no ids far deeper than the table: a realistic shape */
    dht_id_t pool[300];
    size_t pool_n;
    /* Scratch space, sized for the largest possible table. */
    size_t cap;
    flat_t *real, *ref;
    ranked_t *rank;
    dht__rt_node_t *out;
} harness_t;

static void assert_same_node(const dht__rt_node_t *a, const dht__rt_node_t *b)
{
    assert_memory_equal(a->id.b, b->id.b, DHT_ID_LEN);
    assert_true(addr_same(&a->addr, &b->addr));
    assert_int_equal(a->last_seen, b->last_seen);
    assert_int_equal(a->replied, b->replied);
    assert_int_equal(a->fails, b->fails);
    assert_int_equal(a->proven, b->proven);
}

/* Flattens the real table, checking each bucket's own invariants.
 * @return the number of entries. */
static size_t flatten_real(harness_t *h)
{
    size_t nb = dht__rt_bucket_count(h->rt), n = 0;

    for (size_t i = 0; i < nb; i++) {
        dht__rt_bucket_view_t v = view(h->rt, i);
        assert_true(v.n_nodes <= h->m.k);
        assert_true(v.n_cache <= h->m.cache_size);
        assert_int_equal(v.last_changed, h->m.last_changed[i]);
        for (size_t j = 0; j < v.n_nodes + v.n_cache; j++) {
            int cached = j >= v.n_nodes;
            const dht__rt_node_t *x = cached ? &v.cache[j - v.n_nodes] : &v.nodes[j];
            unsigned d = dht_id_common_prefix(&h->m.self, &x->id);
            /* The buckets tile the id space. */
            if (i + 1 < nb)
                assert_int_equal(d, i);
            else
                assert_true(d >= i && d < 256);
            assert_true(n < h->cap);
            h->real[n].n = *x;
            h->real[n].bucket = i;
            h->real[n].cached = cached;
            n++;
        }
    }
    return n;
}

static void check_sets(harness_t *h)
{
    size_t n = flatten_real(h);

    assert_int_equal(dht__rt_bucket_count(h->rt), h->m.nb);
    assert_int_equal(n, h->m.n);
    for (size_t i = 0; i < h->m.n; i++) {
        h->ref[i].n = h->m.e[i].n;
        h->ref[i].bucket = m_bucket(&h->m, &h->m.e[i].n.id);
        h->ref[i].cached = h->m.e[i].cached;
    }
    qsort(h->real, n, sizeof *h->real, flat_cmp);
    qsort(h->ref, n, sizeof *h->ref, flat_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) /* no id twice, in buckets or caches */
            assert_true(dht_id_cmp(&h->real[i - 1].n.id, &h->real[i].n.id) < 0);
        assert_same_node(&h->real[i].n, &h->ref[i].n);
        assert_int_equal(h->real[i].bucket, h->ref[i].bucket);
        assert_int_equal(h->real[i].cached, h->ref[i].cached);
    }
}

static void check_counts(harness_t *h)
{
    size_t want[3] = {0, 0, 0}, good, q, bad, total = 0;

    for (size_t i = 0; i < h->m.n; i++) {
        if (h->m.e[i].cached)
            continue;
        want[m_state(&h->m.e[i].n, h->now)]++;
        total++;
    }
    assert_int_equal(dht__rt_count(h->rt, h->now, &good, &q, &bad), total);
    assert_int_equal(good, want[DHT__RT_GOOD]);
    assert_int_equal(q, want[DHT__RT_QUESTIONABLE]);
    assert_int_equal(bad, want[DHT__RT_BAD]);
}

static dht_id_t random_target(harness_t *h)
{
    dht_id_t t;
    uint64_t r = below(&h->rng, 10);

    if (r < 3) {
        random_bytes(&h->rng, t.b, DHT_ID_LEN);
    } else if (r < 8) {
        t = at_depth(&h->m.self, (unsigned)below(&h->rng, h->m.nb + 3), &h->rng);
    } else if (r < 9 && h->m.n > 0) {
        t = h->m.e[below(&h->rng, h->m.n)].n.id;
    } else {
        t = h->m.self;
    }
    return t;
}

static void check_closest(harness_t *h)
{
    dht_id_t target = random_target(h);
    size_t total = 0, maxes[5];

    for (size_t i = 0; i < h->m.n; i++) {
        const ment_t *e = &h->m.e[i];
        if (e->cached || m_state(&e->n, h->now) == DHT__RT_BAD)
            continue;
        dht_id_distance(&h->rank[total].dist, &e->n.id, &target);
        h->rank[total++].id = e->n.id;
    }
    qsort(h->rank, total, sizeof *h->rank, ranked_cmp);
    maxes[0] = 1;
    maxes[1] = h->m.k;
    maxes[2] = h->m.k + 3;
    maxes[3] = 1 + below(&h->rng, total + 1);
    maxes[4] = total + 5;
    for (size_t j = 0; j < 5; j++) {
        size_t max = maxes[j], want = total < max ? total : max;
        assert_true(max <= h->cap);
        assert_int_equal(dht__rt_closest(h->rt, &target, h->now, h->out, max), want);
        for (size_t i = 0; i < want; i++)
            assert_memory_equal(h->out[i].id.b, h->rank[i].id.b, DHT_ID_LEN);
    }
}

static void check_ping_candidate(harness_t *h)
{
    static const uint64_t ages[4] = {0, 1000, 60 * 1000, DHT__RT_GOOD_MS};
    uint64_t min_age = ages[below(&h->rng, 4)];
    dht__rt_node_t out;
    dht_id_t want;
    int found = m_ping_candidate(&h->m, h->now, min_age, &want);

    assert_int_equal(dht__rt_ping_candidate(h->rt, h->now, min_age, &out), found);
    if (found)
        assert_memory_equal(out.id.b, want.b, DHT_ID_LEN);
}

/* ------------------------------------------------------------------------ */
/* Random operations                                                        */
/* ------------------------------------------------------------------------ */

/* A new id: some fully random (shallow buckets), most at a chosen depth
 * below the own id so that buckets fill and split deep, a few the own id. */
static dht_id_t fresh_id(harness_t *h)
{
    uint64_t r = below(&h->rng, 100);
    unsigned p;
    dht_id_t id;

    if (r < 3)
        return h->m.self;
    if (r < 25) {
        random_bytes(&h->rng, id.b, DHT_ID_LEN);
        return id;
    }
    r = below(&h->rng, h->shallow ? 7 : 10);
    if (r < 4)
        p = (unsigned)below(&h->rng, 8);
    else if (r < 7)
        p = (unsigned)below(&h->rng, h->m.nb + 3);
    else if (r < 9)
        p = (unsigned)below(&h->rng, 256);
    else
        p = 248 + (unsigned)below(&h->rng, 8);
    return at_depth(&h->m.self, p, &h->rng);
}

/* An id for an operation: often one used before. */
static dht_id_t pick_id(harness_t *h)
{
    const size_t pool_max = sizeof h->pool / sizeof h->pool[0];
    dht_id_t id;

    if (h->pool_n > 0 && below(&h->rng, 100) < 45)
        return h->pool[below(&h->rng, h->pool_n)];
    id = fresh_id(h);
    if (h->pool_n < pool_max)
        h->pool[h->pool_n++] = id;
    else
        h->pool[below(&h->rng, pool_max)] = id;
    return id;
}

/* Mostly a node's usual address, sometimes one of a few others; every
 * address is the id's alone (a hash of all of it: ids near the own id
 * share most of their bytes), so the one-id-per-address rule (tested on
 * its own) never applies here. */
static dht_addr_t pick_addr(harness_t *h, const dht_id_t *id)
{
    uint64_t hash = 14695981039346656037ull;
    uint64_t r = below(&h->rng, 100);
    dht_addr_t a;

    for (size_t i = 0; i < DHT_ID_LEN; i++)
        hash = (hash ^ id->b[i]) * 1099511628211ull;
    a = addr4((uint32_t)hash, 6881);
    if (r < 80)
        return a;
    if (r < 90) {
        a.port = (uint16_t)(7000 + below(&h->rng, 3));
        return a;
    }
    a.family = DHT_AF_INET6;
    memcpy(a.ip, &hash, sizeof(hash));
    memcpy(a.ip + 8, id->b, 8);
    a.port = (uint16_t)(6881 + below(&h->rng, 2));
    return a;
}

static void advance_clock(harness_t *h)
{
    uint64_t r = below(&h->rng, 1000);

    /* Whole seconds mostly, so that many nodes share a last_seen and the
     * tie-breaking rules are exercised; rarely a jump that turns good nodes
     * questionable. */
    if (r < 300)
        return;
    if (r < 900)
        h->now += 1000 * below(&h->rng, 3);
    else if (r < 997)
        h->now += 1000 * below(&h->rng, 60);
    else
        h->now += below(&h->rng, 2 * (uint64_t)DHT__RT_GOOD_MS);
}

static void op_update(harness_t *h)
{
    static const dht__rt_event_t evs[5] = {DHT__RT_QUERY, DHT__RT_QUERY, DHT__RT_REPLY,
                                           DHT__RT_REPLY, DHT__RT_INSERT};
    dht_id_t id = pick_id(h);
    dht_addr_t addr = pick_addr(h, &id);
    dht__rt_event_t ev = evs[below(&h->rng, 5)];
    int want = m_update(&h->m, &id, &addr, h->now, ev);

    assert_int_equal(dht__rt_update(h->rt, &id, &addr, h->now, ev), want);
}

static void op_failed(harness_t *h)
{
    dht_id_t id;
    int want;

    if (h->m.n > 0 && below(&h->rng, 100) < 70)
        id = h->m.e[below(&h->rng, h->m.n)].n.id;
    else
        id = pick_id(h);
    want = m_failed(&h->m, &id, h->now);
    assert_int_equal(dht__rt_failed(h->rt, &id, h->now), want);
}

static void op_touch(harness_t *h)
{
    size_t i = below(&h->rng, h->m.nb + 1);

    if (i < h->m.nb)
        h->m.last_changed[i] = h->now;
    dht__rt_touch_bucket(h->rt, i, h->now);
}

static void op_find(harness_t *h)
{
    dht_id_t id = pick_id(h);
    long i = m_find(&h->m, &id);
    const dht__rt_node_t *n = found(h->rt, &id);

    if (i < 0 || h->m.e[i].cached) {
        assert_null(n);
    } else {
        assert_non_null(n);
        assert_same_node(n, &h->m.e[i].n);
    }
}

static void step(harness_t *h)
{
    uint64_t r = below(&h->rng, 100);

    advance_clock(h);
    if (r < 60)
        op_update(h);
    else if (r < 85)
        op_failed(h);
    else if (r < 90)
        op_touch(h);
    else
        op_find(h);
    check_sets(h);
    check_counts(h);
    check_closest(h);
    check_ping_candidate(h);
}

typedef struct model_case {
    uint64_t seed;
    unsigned k, cache_size, ops;
    int shallow;
} model_case_t;

static void test_model(void **state)
{
    const model_case_t *c = *state;
    harness_t *h = calloc(1, sizeof *h);

    assert_non_null(h);
    h->rng = c->seed;
    h->shallow = c->shallow;
    h->now = below(&h->rng, 3); /* sometimes 0, to cover a reply at time 0 */
    random_bytes(&h->rng, h->m.self.b, DHT_ID_LEN);
    h->m.k = c->k;
    h->m.cache_size = c->cache_size;
    h->m.nb = 1;
    h->cap = (size_t)DHT__RT_MAX_BUCKETS * (c->k + c->cache_size) + 8;
    h->m.e = calloc(h->cap, sizeof *h->m.e);
    h->real = calloc(h->cap, sizeof *h->real);
    h->ref = calloc(h->cap, sizeof *h->ref);
    h->rank = calloc(h->cap, sizeof *h->rank);
    h->out = calloc(h->cap, sizeof *h->out);
    h->rt = dht__rt_new(&h->m.self, c->k, c->cache_size);
    assert_true(h->m.e && h->real && h->ref && h->rank && h->out && h->rt);

    for (unsigned i = 0; i < c->ops; i++)
        step(h);
    /* The run must have reached the interesting states. */
    assert_true(h->m.nb > 3);
    assert_true(h->m.n > c->k);

    dht__rt_free(h->rt);
    free(h->m.e);
    free(h->real);
    free(h->ref);
    free(h->rank);
    free(h->out);
    free(h);
}

/* 30,000 operations in all, every one followed by a full comparison. */
static const model_case_t model_cases[] = {
    {1, 1, 0, 3000, 0}, {2, 1, 3, 3000, 0},   {3, 2, 3, 3000, 0},  {4, 3, 1, 3000, 0},
    {5, 8, 0, 3000, 0}, {6, 8, 8, 3000, 0},   {7, 20, 3, 3000, 0}, {8, 20, 8, 3000, 0},
    {9, 8, 3, 3000, 1}, {10, 20, 8, 3000, 1},
};

#define MODEL_TEST(name, i)                                                                        \
    {                                                                                              \
        name, test_model, NULL, NULL, (void *)&model_cases[i]                                      \
    }

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test(test_own_id_ignored),
        cmocka_unit_test(test_add_update),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_addr_change),
        cmocka_unit_test(test_rtt_and_slowest_bad_replaced),
        cmocka_unit_test(test_one_id_per_address),
        cmocka_unit_test(test_subnet_limit),
        cmocka_unit_test(test_address_rules_paths),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_failed_replaces),
        cmocka_unit_test(test_listener),
        cmocka_unit_test(test_learned),
        cmocka_unit_test(test_learned_not_handed_out),
        cmocka_unit_test(test_cache_keeps_proven),
        cmocka_unit_test(test_new_address_unproves),
        cmocka_unit_test(test_bad_replaced_on_update),
        cmocka_unit_test(test_has_room),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_to_256),
        cmocka_unit_test(test_random_id_in_bucket),
        cmocka_unit_test(test_ping_candidate),
        cmocka_unit_test(test_times_past_32_bits),
        cmocka_unit_test(test_store_handles),
        cmocka_unit_test(test_rebase_keeps_order),
        cmocka_unit_test(test_touch_bucket),
        cmocka_unit_test(test_count_and_closest),
        MODEL_TEST("model_k1_cache0", 0),
        MODEL_TEST("model_k1_cache3", 1),
        MODEL_TEST("model_k2_cache3", 2),
        MODEL_TEST("model_k3_cache1", 3),
        MODEL_TEST("model_k8_cache0", 4),
        MODEL_TEST("model_k8_cache8", 5),
        MODEL_TEST("model_k20_cache3", 6),
        MODEL_TEST("model_k20_cache8", 7),
        MODEL_TEST("model_k8_cache3_shallow", 8),
        MODEL_TEST("model_k20_cache8_shallow", 9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
