/*
 * No amplification (issue 13, item 2; schema/wire.md 2.3): a node sends a
 * source that has not proven its address no more bytes than it received
 * from it, so a forged source address cannot turn this node into a
 * reflector. A large value goes only to a proven source (a token of ours,
 * or a stream), and every source is held to cfg.send_rate_limit bytes of
 * values per second. The probe of the issue: GET_VALUEs for a large value
 * from a source that never listens made a node send 4,700 bytes for each
 * byte it got.
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
#include "node.h" /* the table's kept tokens */

#define VALUE_SIZE (200u * 1024u)
#define REQUESTS   2000

typedef struct holder_net {
    fake_net_t *net;
    int holder;
    dht_id_t key;
    uint8_t *value;
} holder_net_t;

/* Three cores; core 0 puts a 200 KiB content-addressed value, which core
 * 1 then holds. */
static void setup_holder(holder_net_t *h, size_t send_rate_limit)
{
    dht_config_t cfg;
    fake_result_t r = {0};

    h->net = new_net();
    for (int i = 0; i < 3; i++) {
        char addr[32];
        fake_config(&cfg, (uint64_t)i + 1, NULL);
        cfg.send_rate_limit = send_rate_limit;
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 4001 + i);
        assert_int_equal(add_cfg(h->net, addr, &cfg), i);
        if (i > 0) {
            fake_result_t b = {0};
            assert_int_equal(
                dht_bootstrap(fake_dht(h->net, i), fake_addr_of(h->net, 0), 1, fake_status_cb, &b),
                0);
            fake_run(h->net, &b.calls, 60000);
            assert_int_equal(b.status, 0);
        }
    }
    h->value = malloc(VALUE_SIZE);
    assert_non_null(h->value);
    for (size_t i = 0; i < VALUE_SIZE; i++)
        h->value[i] = (uint8_t)(i * 131 + (i >> 9));
    dht_id_from_bytes(&h->key, h->value, VALUE_SIZE);
    assert_int_equal(
        dht_put(fake_dht(h->net, 0), &h->key, h->value, VALUE_SIZE, 3600, fake_put_cb, &r), 0);
    fake_run(h->net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    h->holder = 1;
    assert_true(fake_stats(h->net, h->holder).values >= 1);
    fake_clear(h->net);
}

static void teardown_holder(holder_net_t *h)
{
    free(h->value);
    fake_net_free(h->net);
}

/* Bytes queued to `to`, then the queue emptied. */
static size_t take_bytes_to(fake_net_t *net, const dht_addr_t *to)
{
    size_t sum = 0;

    for (size_t i = 0; i < fake_queued(net); i++)
        if (dht_addr_equal(&fake_peek(net, i)->to, to))
            sum += fake_peek(net, i)->len;
    fake_clear(net);
    return sum;
}

/* Sends request m from `from` to the holder as encoded (no padding
 * added). @return its size on the wire. */
static size_t inject_exact(holder_net_t *h, const dht_addr_t *from, dht__msg_t *m)
{
    h->net->exact = 1;
    assert_int_equal(fake_inject(h->net, h->holder, from, m, DHT_TRANSPORT_DATAGRAM), 0);
    h->net->exact = 0;
    return dht__wire_size(m);
}

/* A flood from a forged source that never answers: every kind of request
 * (a ROUTE with an empty message, the smallest), bare and padded, GET_VALUEs of the large value
 * above all. Bytes out to it stay at most the bytes in from it. */
static void test_forged_source_gets_no_more_than_it_sent(void **state)
{
    holder_net_t h;
    dht_addr_t forged = fake_addr("198.51.100.7:6881");
    dht_id_t fake_id = fake_id_b0(0x66);
    size_t in = 0, out = 0, values_out = 0;
    dht_stats_t st;

    (void)state;
    setup_holder(&h, 0);
    for (uint32_t i = 0; i < REQUESTS; i++) {
        static const uint8_t kinds[] = {DHT__GET_VALUE,  DHT__GET_VALUE, DHT__FIND_NODE,
                                        DHT__FIND_VALUE, DHT__PING,      DHT__HAVE,
                                        DHT__ROUTE};
        uint8_t type = kinds[i % sizeof(kinds)];
        dht__msg_t m;
        size_t sent;

        fake_msg_init(&m, type, 100 + i, &fake_id);
        m.target = h.key;
        m.hash = h.key;
        m.n_have = type == DHT__HAVE ? 1 : 0;
        m.have_key[0] = h.key;
        m.have_hash[0] = h.key;
        m.origin = fake_id;
        m.pad = (uint16_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 200 : 1000); /* bare, or padded */
        in += inject_exact(&h, &forged, &m);
        for (size_t j = 0; j < fake_queued(h.net); j++) {
            dht__msg_t d;
            if (dht__wire_decode(&d, fake_peek(h.net, j)->buf, fake_peek(h.net, j)->len) == 0 &&
                d.type == DHT__VALUE && dht_addr_equal(&fake_peek(h.net, j)->to, &forged))
                values_out++;
        }
        sent = take_bytes_to(h.net, &forged);
        out += sent;
        assert_true(out <= in);
        fake_advance(h.net, 5); /* nothing comes back from the forged address */
        out += take_bytes_to(h.net, &forged);
    }
    st = fake_stats(h.net, h.holder);
    print_message("forged source: %zu bytes in, %zu out (%.3f), %zu values sent, %llu refused\n",
                  in, out, (double)out / (double)in, values_out,
                  (unsigned long long)st.refused_unproven);
    assert_true(out <= in);
    assert_true(out > 0); /* it is answered within what it sent */
    assert_int_equal(values_out, 0);
    assert_true(st.refused_unproven > 0);
    teardown_holder(&h);
}

/* Bytes queued to `to` and values among them (then the queue emptied). */
static size_t take_bytes_values(fake_net_t *net, const dht_addr_t *to, size_t *values)
{
    for (size_t j = 0; j < fake_queued(net); j++) {
        dht__msg_t d;
        if (dht_addr_equal(&fake_peek(net, j)->to, to) &&
            dht__wire_decode(&d, fake_peek(net, j)->buf, fake_peek(net, j)->len) == 0 &&
            d.type == DHT__VALUE)
            (*values)++;
    }
    return take_bytes_to(net, to);
}

/* A request forged with a table contact's address and id proves nothing
 * (found in review: the holder took the contact's proof for the request's
 * and streamed 200 KiB to it for one bare GET_VALUE). */
static void test_forged_contact_proves_nothing(void **state)
{
    holder_net_t h;
    const dht_addr_t *victim;
    dht_id_t victim_id;
    dht__msg_t m;
    size_t in, out, values = 0;

    (void)state;
    setup_holder(&h, 0);
    victim = fake_addr_of(h.net, 2);
    victim_id = *dht_self(fake_dht(h.net, 2));
    assert_true(fake_knows(h.net, h.holder, &victim_id));
    fake_msg_init(&m, DHT__GET_VALUE, 4242, &victim_id);
    m.target = h.key;
    m.hash = h.key;
    in = inject_exact(&h, victim, &m);
    out = take_bytes_values(h.net, victim, &values);
    print_message("forged as a contact: %zu bytes in, %zu out\n", in, out);
    assert_true(out <= in);
    assert_int_equal(values, 0);
    teardown_holder(&h);
}

/* A ROUTE forged with a table contact's address, for the key of that
 * contact's id: the holder knows the contact as closer to the key than
 * itself, but never forwards the message to the address it came from
 * (found in review: it did, and 107 bytes in became 205 out, the ROUTED
 * and the forwarded ROUTE). */
static void test_forged_route_not_reflected(void **state)
{
    holder_net_t h;
    const dht_addr_t *victim;
    dht_id_t victim_id;
    dht__msg_t m;
    size_t in, out;

    (void)state;
    setup_holder(&h, 0);
    victim = fake_addr_of(h.net, 2);
    victim_id = *dht_self(fake_dht(h.net, 2));
    assert_true(fake_knows(h.net, h.holder, &victim_id));
    fake_msg_init(&m, DHT__ROUTE, 4243, &victim_id);
    m.target = victim_id;
    m.origin = victim_id;
    in = inject_exact(&h, victim, &m);
    out = take_bytes_to(h.net, victim);
    print_message("forged ROUTE as a contact, for its own id: %zu bytes in, %zu out\n", in, out);
    assert_true(out <= in);
    teardown_holder(&h);
}

/* GET_VALUEs for values nobody holds, among those for a small value that
 * fits a datagram: the "not found" answers are paid for like any other
 * (found in review: they were not, and the value went out 1.43 bytes for
 * each byte in). */
static void test_not_found_is_charged(void **state)
{
    holder_net_t h;
    dht_addr_t forged = fake_addr("198.51.100.9:6881");
    dht_id_t fake_id = fake_id_b0(0x67), small_key;
    uint8_t small[1300];
    fake_result_t r = {0};
    size_t in = 0, out = 0, values = 0;

    (void)state;
    setup_holder(&h, 0);
    for (size_t i = 0; i < sizeof(small); i++)
        small[i] = (uint8_t)(i * 7 + 3);
    dht_id_from_bytes(&small_key, small, sizeof(small));
    assert_int_equal(
        dht_put(fake_dht(h.net, 0), &small_key, small, sizeof(small), 3600, fake_put_cb, &r), 0);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    fake_clear(h.net);
    for (uint32_t i = 0; i < 1400; i++) {
        dht__msg_t m;
        fake_msg_init(&m, DHT__GET_VALUE, 1000 + i, &fake_id);
        if (i % 14 == 13) {
            m.target = small_key;
        } else {
            memset(m.target.b, (int)(i & 0xff), DHT_ID_LEN);
            m.target.b[0] = 0xee;
        }
        m.hash = m.target;
        in += inject_exact(&h, &forged, &m);
        out += take_bytes_values(h.net, &forged, &values);
        fake_advance(h.net, 1);
    }
    print_message("missing and small values asked from a forged source: %zu in, %zu out (%.3f), "
                  "%zu values\n",
                  in, out, (double)out / (double)in, values);
    assert_true(out <= in);
    teardown_holder(&h);
}

/* A reply that names one host under many ids and ports draws one request
 * to it from a lookup, not one per id (found in review: 53 datagrams). */
static void test_lookup_asks_an_address_once(void **state)
{
    fake_net_t *net = new_net();
    dht_config_t cfg;
    dht_addr_t peer = fake_addr("192.0.2.50:7000"), victim = fake_addr("203.0.113.9:1000");
    dht_id_t peer_id = fake_id_b0(0x42), target;
    fake_result_t r = {0};
    size_t requests = 0;
    dht__msg_t q, rep;

    (void)state;
    fake_config(&cfg, 5, NULL);
    assert_int_equal(add_cfg(net, "127.0.0.1:4001", &cfg), 0);
    assert_int_equal(dht_insert_node(fake_dht(net, 0), &peer_id, &peer, net->now), 0);
    fake_clear(net);
    memset(target.b, 0x42, DHT_ID_LEN);
    assert_int_equal(dht_find_node(fake_dht(net, 0), &target, fake_nodes_cb, &r), 0);
    assert_int_equal(fake_find_msg(net, &peer, DHT__FIND_NODE, &q), 0);
    memset(&rep, 0, sizeof(rep));
    rep.type = DHT__NODES;
    rep.txid = q.txid;
    rep.sender = peer_id;
    rep.n_nodes = 20;
    for (int i = 0; i < 20; i++) {
        memset(rep.nodes[i].id.b, 0x42, DHT_ID_LEN);
        rep.nodes[i].id.b[31] = (uint8_t)i;
        rep.nodes[i].id.b[30] = 0x99;
        rep.nodes[i].addr = victim;
        rep.nodes[i].addr.port = (uint16_t)(1000 + i % 10); /* 10 ports, 2 ids each */
    }
    fake_clear(net);
    assert_int_equal(fake_inject(net, 0, &peer, &rep, DHT_TRANSPORT_DATAGRAM), 0);
    for (int t = 0; t < 200 && !r.calls; t++) {
        for (size_t j = 0; j < fake_queued(net); j++)
            requests += memcmp(fake_peek(net, j)->to.ip, victim.ip, 4) == 0;
        fake_clear(net);
        fake_advance(net, 100);
    }
    print_message("a reply naming one host under 20 ids and 10 ports: %zu datagrams to it\n",
                  requests);
    assert_true(r.calls == 1);
    assert_true(requests >= 1);
    assert_true(requests <= 1 + cfg.retries); /* one request and its resends */
    fake_net_free(net);
}

/* An honest node gets the value: a get through a core that never talked
 * to the holder proves its address with the holder's token. */
static void test_proven_source_gets_the_value(void **state)
{
    holder_net_t h;
    dht_config_t cfg;
    fake_result_t r = {0};
    int g;

    (void)state;
    setup_holder(&h, 0);
    fake_config(&cfg, 99, NULL);
    cfg.client = 1; /* never in a table: no proof but its tokens */
    g = add_cfg(h.net, "127.0.0.1:4099", &cfg);
    assert_int_equal(dht_insert_node(fake_dht(h.net, g), dht_self(fake_dht(h.net, h.holder)),
                                     fake_addr_of(h.net, h.holder), h.net->now),
                     0);
    assert_int_equal(dht_get(fake_dht(h.net, g), &h.key, fake_get_cb, &r), 0);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_values, 1);
    assert_true(fake_result_has(&r, h.value, VALUE_SIZE));
    assert_int_equal(fake_stats(h.net, h.holder).refused_unproven, 0);
    fake_result_clear(&r);
    teardown_holder(&h);
}

/* A GET_VALUE with a token the holder handed to another address proves
 * nothing; with the token of its own address, the value goes by stream. */
static void test_token_proves_its_address_only(void **state)
{
    holder_net_t h;
    dht_addr_t p = fake_addr("192.0.2.10:7000"), other = fake_addr("192.0.2.11:7000");
    dht_id_t pid = fake_id_b0(0x71);
    dht__msg_t q, rep;
    uint64_t streams;

    (void)state;
    setup_holder(&h, 0);
    fake_msg_init(&q, DHT__FIND_VALUE, 1, &pid);
    q.target = h.key;
    assert_int_equal(fake_request(h.net, h.holder, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__VALUES);
    fake_msg_init(&q, DHT__GET_VALUE, 2, &pid);
    q.target = h.key;
    q.hash = h.key;
    q.has_proof = 1;
    memcpy(q.proof, rep.token, sizeof(q.proof));
    fake_clear(h.net);
    assert_int_equal(fake_request(h.net, h.holder, &other, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__ERROR);
    assert_int_equal(rep.err_code, DHT__WERR_UNPROVEN);
    streams = h.net->stream_msgs;
    q.txid = 3;
    assert_int_equal(fake_request(h.net, h.holder, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__VALUE);
    assert_int_equal(rep.value_len, VALUE_SIZE);
    assert_int_equal(h.net->stream_msgs, streams + 1);
    teardown_holder(&h);
}

/* Node 0's requests queued to `to` in the net's queue: how many, how many
 * carry a proof and no padding, and their bytes. */
static size_t requests_to(fake_net_t *net, const dht_addr_t *to, size_t *proven, size_t *bytes)
{
    size_t n = 0;

    *proven = *bytes = 0;
    for (size_t i = 0; i < fake_queued(net); i++) {
        const fake_msg_t *q = fake_peek(net, i);
        dht__msg_t d;
        if (!dht_addr_equal(&q->from, fake_addr_of(net, 0)) || !dht_addr_equal(&q->to, to) ||
            dht__wire_decode(&d, q->buf, q->len) != 0 || DHT__IS_REPLY(d.type))
            continue;
        n++;
        *proven += d.has_proof && d.pad == 0;
        *bytes += q->len;
    }
    return n;
}

/* A contact that handed us a token lately gets it back as the proof of our
 * requests, 8 bytes instead of hundreds of padding; one that no longer
 * accepts it (restarted: here, a token it never handed out) answers
 * ERROR unproven, and the request goes again padded, so the lookup still
 * gets its whole answer; the next request carries the new token. */
static void test_contacts_get_their_token_back(void **state)
{
    holder_net_t h;
    dht_t *asker;
    const dht_addr_t *to;
    dht_id_t peer, target = fake_id_b0(0x5a);
    fake_result_t r = {0};
    size_t n, proven, bytes;
    uint64_t refused, padding;
    uint8_t junk[DHT__WIRE_TOKEN_LEN] = "not ours";

    (void)state;
    setup_holder(&h, 0); /* node 0 heard NODES from 1 and 2: their tokens */
    asker = fake_dht(h.net, 0);
    to = fake_addr_of(h.net, 1);
    peer = *dht_self(fake_dht(h.net, 1));

    /* A lookup: proof, no padding. */
    padding = fake_stats(h.net, 0).padding_bytes_sent;
    assert_int_equal(dht_find_node(asker, &target, fake_nodes_cb, &r), 0);
    n = requests_to(h.net, to, &proven, &bytes);
    assert_int_equal(n, 1);
    assert_int_equal(proven, 1);
    assert_int_equal(bytes, DHT__WIRE_HEADER + DHT__WIRE_TOKEN_LEN + DHT_ID_LEN);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_nodes, 2);
    assert_int_equal(fake_stats(h.net, 0).padding_bytes_sent, padding); /* none sent */

    /* A token the peer does not accept: ERROR unproven, then padded. */
    dht__rt_set_token(asker->rt, &peer, to, junk, h.net->now);
    refused = fake_stats(h.net, 1).refused_unproven;
    fake_clear(h.net);
    fake_result_clear(&r);
    assert_int_equal(dht_find_node(asker, &target, fake_nodes_cb, &r), 0);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_nodes, 2); /* the whole answer: node 1 and 2 both found */
    assert_int_equal(fake_stats(h.net, 1).refused_unproven, refused + 1);
    assert_int_equal(fake_stats(h.net, 0).rpc_timeouts, 0);
    assert_true(fake_stats(h.net, 0).padding_bytes_sent > padding); /* the resend's */

    /* Its padded request's answer brought a token that checks. */
    fake_clear(h.net);
    fake_result_clear(&r);
    assert_int_equal(dht_find_node(asker, &target, fake_nodes_cb, &r), 0);
    n = requests_to(h.net, to, &proven, &bytes);
    assert_int_equal(n, 1);
    assert_int_equal(proven, 1);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    assert_int_equal(fake_stats(h.net, 1).refused_unproven, refused + 1);

    /* After DHT__RT_TOKEN_MS unheard, the token is not used: padding. */
    fake_clear(h.net);
    fake_result_clear(&r);
    fake_set_time(h.net, h.net->now + DHT__RT_TOKEN_MS);
    assert_int_equal(dht_find_node(asker, &target, fake_nodes_cb, &r), 0);
    n = requests_to(h.net, to, &proven, &bytes);
    assert_true(n >= 1);
    assert_int_equal(proven, 0);
    fake_run(h.net, &r.calls, 60000);
    assert_int_equal(r.status, 0);
    fake_result_clear(&r);
    teardown_holder(&h);
}

/* A request's first attempt is lost: its resend goes without padding (a
 * dead node costs 72 bytes a resend, not up to 1,400), the live node's
 * answer to it is cut to what the resend paid for, and the request goes
 * once more with the token that answer brought: the lookup still gets the
 * whole answer (all three nodes), not the cut one. */
static void test_resend_unpadded_then_proven(void **state)
{
    holder_net_t h;
    dht_config_t cfg;
    fake_result_t r = {0};
    dht_id_t target = fake_id_b0(0x3c);
    fake_msg_t lost;
    dht__msg_t d;
    int c, unpadded = 0, proven = 0;

    (void)state;
    setup_holder(&h, 0);
    fake_config(&cfg, 77, NULL);
    c = add_cfg(h.net, "127.0.0.1:4077", &cfg);
    assert_int_equal(dht_insert_node(fake_dht(h.net, c), dht_self(fake_dht(h.net, 1)),
                                     fake_addr_of(h.net, 1), h.net->now),
                     0);
    assert_int_equal(dht_find_node(fake_dht(h.net, c), &target, fake_nodes_cb, &r), 0);
    assert_int_equal(fake_queued(h.net), 1);
    assert_int_equal(fake_pop(h.net, &lost), 1); /* lost on the way */
    assert_int_equal(dht__wire_decode(&d, lost.buf, lost.len), 0);
    assert_true(d.pad > 0 && !d.has_proof);
    fake_msg_free(&lost);

    /* Deliver everything else, watching node c's requests to node 1. */
    for (int steps = 0; r.calls == 0 && steps < 100000; steps++) {
        fake_msg_t m;
        if (fake_queued(h.net) == 0) {
            fake_advance(h.net, 10);
            continue;
        }
        assert_int_equal(fake_pop(h.net, &m), 1);
        if (dht_addr_equal(&m.from, fake_addr_of(h.net, c)) &&
            dht_addr_equal(&m.to, fake_addr_of(h.net, 1)) &&
            dht__wire_decode(&d, m.buf, m.len) == 0 && d.type == DHT__FIND_NODE) {
            if (!d.has_proof && d.pad == 0)
                unpadded++;
            else if (d.has_proof && unpadded > 0)
                proven++;
        }
        fake_deliver(h.net, &m);
        fake_msg_free(&m);
    }
    print_message("resends without padding: %d, then with the token: %d\n", unpadded, proven);
    assert_int_equal(unpadded, 1);
    assert_int_equal(proven, 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.n_nodes, 3); /* nodes 0, 1 and 2: node 1's whole answer */
    teardown_holder(&h);
}

/* Delivers what is queued until r->calls, moving time on, except that a
 * request from node 0 to node 1 whose proof is `stale` is lost: what a
 * node of an older version, restarted, answers it (nothing that fits).
 * Counts node 0's other requests to node 1 into *others. At most max_ms. */
static void run_old_peer(fake_net_t *net, const int *calls, const uint8_t *stale, size_t *others,
                         uint64_t max_ms)
{
    uint64_t end = net->now + max_ms;

    while (*calls == 0 && net->now < end) {
        fake_msg_t m;
        dht__msg_t d;
        if (fake_queued(net) == 0) {
            fake_advance(net, 10);
            continue;
        }
        assert_int_equal(fake_pop(net, &m), 1);
        if (dht_addr_equal(&m.from, fake_addr_of(net, 0)) &&
            dht_addr_equal(&m.to, fake_addr_of(net, 1)) &&
            dht__wire_decode(&d, m.buf, m.len) == 0 && !DHT__IS_REPLY(d.type)) {
            if (d.has_proof && memcmp(d.proof, stale, DHT__WIRE_TOKEN_LEN) == 0) {
                fake_msg_free(&m);
                continue;
            }
            (*others)++;
        }
        fake_deliver(net, &m);
        fake_msg_free(&m);
    }
}

/* A contact that drops our stale token unanswered (found in review: every
 * resend carried it again, the request failed, and the token stayed):
 * the resend goes bare, its cut answer brings a fresh token, and the
 * lookup gets the node's whole answer; the stale token is gone. */
static void test_stale_token_dropped_on_silence(void **state)
{
    holder_net_t h;
    dht_t *asker;
    dht_id_t peer, target = fake_id_b0(0x5b);
    uint8_t stale[DHT__WIRE_TOKEN_LEN] = "stale!!!", now_kept[DHT__WIRE_TOKEN_LEN];
    fake_result_t r = {0};
    size_t others = 0;
    int never = 0;

    (void)state;
    setup_holder(&h, 0);
    asker = fake_dht(h.net, 0);
    peer = *dht_self(fake_dht(h.net, 1));
    dht__rt_set_token(asker->rt, &peer, fake_addr_of(h.net, 1), stale, h.net->now);
    assert_int_equal(dht_find_node(asker, &target, fake_nodes_cb, &r), 0);
    run_old_peer(h.net, &r.calls, stale, &others, 60000);
    assert_int_equal(r.status, 0);
    /* The lookup may end without node 1 (node 2 answered meanwhile); its
     * request goes on, and is answered. */
    run_old_peer(h.net, &never, stale, &others, 10000);
    assert_true(others >= 2); /* the bare resend, then the one with a fresh token */
    assert_int_equal(dht__rt_token(asker->rt, &peer, fake_addr_of(h.net, 1), h.net->now, now_kept),
                     1);
    assert_memory_not_equal(now_kept, stale, sizeof(stale));
    dht__rt_node_t known;
    assert_true(dht__rt_find(asker->rt, &peer, &known));
    assert_int_equal(known.fails, 0);
    fake_result_clear(&r);
    teardown_holder(&h);
}

/* A proven source is held to send_rate_limit bytes of values a second:
 * with 1 MiB/s, five 200 KiB values go at once, the sixth is "busy", and
 * a second later they go again. */
static void test_send_rate_limit(void **state)
{
    holder_net_t h;
    dht_addr_t p = fake_addr("192.0.2.20:7000");
    dht_id_t pid = fake_id_b0(0x72);
    dht__msg_t q, rep;
    uint8_t tok[DHT__WIRE_TOKEN_LEN];
    unsigned values = 0, busy = 0;

    (void)state;
    setup_holder(&h, 1u << 20);
    fake_msg_init(&q, DHT__FIND_VALUE, 1, &pid);
    q.target = h.key;
    assert_int_equal(fake_request(h.net, h.holder, &p, &q, &rep), 0);
    memcpy(tok, rep.token, sizeof(tok));
    for (uint32_t i = 0; i < 8; i++) {
        fake_msg_init(&q, DHT__GET_VALUE, 10 + i, &pid);
        q.target = h.key;
        q.hash = h.key;
        q.has_proof = 1;
        memcpy(q.proof, tok, sizeof(tok));
        assert_int_equal(fake_request(h.net, h.holder, &p, &q, &rep), 0);
        values += rep.type == DHT__VALUE;
        busy += rep.type == DHT__ERROR && rep.err_code == DHT__WERR_RATE_LIMITED;
    }
    assert_int_equal(values, 5);
    assert_int_equal(busy, 3);
    assert_int_equal(fake_stats(h.net, h.holder).refused_send_rate, 3);
    fake_advance(h.net, 1000);
    q.txid = 99;
    assert_int_equal(fake_request(h.net, h.holder, &p, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__VALUE);
    teardown_holder(&h);
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_source_gets_no_more_than_it_sent),
        cmocka_unit_test(test_forged_contact_proves_nothing),
        cmocka_unit_test(test_forged_route_not_reflected),
        cmocka_unit_test(test_not_found_is_charged),
        cmocka_unit_test(test_lookup_asks_an_address_once),
        cmocka_unit_test(test_proven_source_gets_the_value),
        cmocka_unit_test(test_token_proves_its_address_only),
        cmocka_unit_test(test_send_rate_limit),
        cmocka_unit_test(test_contacts_get_their_token_back),
        cmocka_unit_test(test_resend_unpadded_then_proven),
        cmocka_unit_test(test_stale_token_dropped_on_silence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
