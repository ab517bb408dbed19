/*
 * Regions and global addresses (schema/wire.md 5.11, Pastry's regions),
 * with real cores on a fake network whose NAT forwards a port: a node
 * behind the NAT (192.168.1.5) that advertises its forwarded address
 * (203.0.113.7) is handed out at that address to askers outside its
 * network, once it answered a probe there, and at its local one to
 * askers on its network or in its region; a global address nobody
 * answers at (someone else's) is never handed out; the same over IPv6
 * once the pings carry a token; an announcement ends 30 minutes after
 * it was last heard; a PONG that announces nothing is sent as before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <unistd.h> /* alarm */

#include "helpers/fake_net.h"

#define LAN_HOLDER "192.168.1.2:4000" /* the node that hands the others out */
#define BEHIND_NAT "192.168.1.5:4000" /* the one that advertises */
#define FORWARDED  "203.0.113.7:4000" /* its NAT's forwarded port */
#define IN_REGION  "198.51.100.20:4000"
#define NAT_INSIDE "192.168.1.1:40000" /* the NAT's side of the local network */

typedef struct net3 {
    fake_net_t *net;
    int holder, nat, regional;
} net3_t;

static int add(fake_net_t *net, const char *hostport, uint64_t seed, unsigned region,
               const char *advertise)
{
    dht_config_t cfg;
    int i;

    fake_config(&cfg, seed, NULL);
    cfg.region = region;
    if (advertise != NULL)
        cfg.advertise = fake_addr(advertise);
    i = fake_add(net, hostport, &cfg);
    assert_true(i >= 0);
    return i;
}

/* The holder pings node i: the PONG tells it what i announces. */
static void ping(net3_t *n, int i)
{
    fake_result_t r = {0};

    assert_int_equal(
        dht_ping(fake_dht(n->net, n->holder), fake_addr_of(n->net, i), fake_ping_cb, &r), 0);
    fake_run(n->net, &r.calls, 10000);
    assert_int_equal(r.status, 0);
}

static net3_t make(unsigned nat_region)
{
    net3_t n;

    n.net = fake_net_new(1000);
    assert_non_null(n.net);
    n.holder = add(n.net, LAN_HOLDER, 1, 0, NULL);
    n.nat = add(n.net, BEHIND_NAT, 2, nat_region, FORWARDED);
    n.regional = add(n.net, IN_REGION, 3, 7, NULL);
    fake_nat_forward(n.net, FORWARDED, n.nat, NAT_INSIDE);
    ping(&n, n.nat);
    fake_run(n.net, NULL, 2000); /* the probe of the forwarded address */
    ping(&n, n.regional);
    return n;
}

/* The address at which the holder hands out the NAT'd node to an asker
 * with id `who` at `from`. */
static dht_addr_t handed_out(net3_t *n, const dht_id_t *who, const char *from)
{
    const dht_id_t *nat_id = dht_self(fake_dht(n->net, n->nat));
    dht_addr_t asker = fake_addr(from);
    dht__msg_t q, rep;

    fake_msg_init(&q, DHT__FIND_NODE, 77, who);
    q.target = *nat_id;
    assert_int_equal(fake_request(n->net, n->holder, &asker, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__NODES);
    for (unsigned i = 0; i < rep.n_nodes; i++)
        if (dht_id_cmp(&rep.nodes[i].id, nat_id) == 0)
            return rep.nodes[i].addr;
    fail_msg("the NAT'd node was not handed out");
    return asker;
}

static void assert_addr_is(const dht_addr_t *a, const char *hostport)
{
    dht_addr_t want = fake_addr(hostport);

    assert_true(dht_addr_equal(a, &want));
}

static void test_outside_gets_global_inside_gets_local(void **state)
{
    net3_t n = make(0);
    dht_id_t stranger, neighbour;
    dht_addr_t a;

    (void)state;
    fake_id_fill(&stranger, 0x51);
    fake_id_fill(&neighbour, 0x52);
    a = handed_out(&n, &stranger, "198.51.100.9:4000"); /* elsewhere on the Internet */
    assert_addr_is(&a, FORWARDED);
    a = handed_out(&n, &neighbour, "192.168.1.9:4000"); /* on its network */
    assert_addr_is(&a, BEHIND_NAT);
    a = handed_out(&n, &stranger, "192.168.7.9:4000"); /* another private network */
    assert_addr_is(&a, FORWARDED);
    fake_net_free(n.net);
}

static void test_same_region_gets_local(void **state)
{
    net3_t n = make(7);
    const dht_id_t *regional = dht_self(fake_dht(n.net, n.regional));
    dht_id_t stranger;
    dht_addr_t a;

    (void)state;
    fake_id_fill(&stranger, 0x51);
    /* The node of region 7 (it said so in its PONG) gets the local one. */
    a = handed_out(&n, regional, IN_REGION);
    assert_addr_is(&a, BEHIND_NAT);
    /* Anyone else outside still gets the global one. */
    a = handed_out(&n, &stranger, "198.51.100.21:4000");
    assert_addr_is(&a, FORWARDED);
    fake_net_free(n.net);
}

static void test_no_longer_advertised(void **state)
{
    net3_t n = make(0);
    dht_id_t stranger;
    dht__msg_t q, rep;
    dht_addr_t a, from = fake_addr(LAN_HOLDER);

    (void)state;
    fake_id_fill(&stranger, 0x51);
    /* The NAT'd node restarts without --advertise: its PONGs say nothing
     * more (as a PONG cut short would), and the holder keeps what it
     * said for 30 minutes since it last said it, then hands it out as
     * it knows it. */
    fake_remove(n.net, n.nat);
    n.nat = add(n.net, BEHIND_NAT, 2, 0, NULL);
    ping(&n, n.nat);
    a = handed_out(&n, &stranger, "198.51.100.9:4000");
    assert_addr_is(&a, FORWARDED);
    fake_run(n.net, NULL, 31 * 60 * 1000);
    ping(&n, n.nat);
    a = handed_out(&n, &stranger, "198.51.100.9:4000");
    assert_addr_is(&a, BEHIND_NAT);
    /* Its PONG is the plain one (47 bytes for IPv4). */
    fake_msg_init(&q, DHT__PING, 9, &stranger);
    assert_int_equal(fake_request(n.net, n.nat, &from, &q, &rep), 0);
    assert_int_equal(rep.type, DHT__PONG);
    assert_int_equal(rep.has_region, 0);
    assert_int_equal(dht__wire_size(&rep), 47);
    fake_net_free(n.net);
}

/* A node that announces an address it does not answer at (someone
 * else's, or a NAT that forwards nothing) is never handed out there. */
static void test_unanswered_global_not_handed_out(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    net3_t n;
    dht_id_t stranger;
    dht_addr_t a;

    (void)state;
    assert_non_null(net);
    n.net = net;
    n.holder = add(net, LAN_HOLDER, 1, 0, NULL);
    n.nat = add(net, BEHIND_NAT, 2, 0, "198.51.100.99:80"); /* a victim's web server */
    n.regional = add(net, IN_REGION, 3, 7, NULL);
    ping(&n, n.nat);
    fake_run(net, NULL, 10000); /* the probe, unanswered, and its resends */
    fake_id_fill(&stranger, 0x51);
    a = handed_out(&n, &stranger, "198.51.100.9:4000");
    assert_addr_is(&a, BEHIND_NAT);
    fake_net_free(net);
}

/* The same over IPv6: the first PONG to an unproven asker has no room for
 * the announcement (an IPv6 PONG fills what a ping pays for), the pings
 * after a lookup carry a token, and their PONGs have it. */
static void test_ipv6(void **state)
{
    fake_net_t *net = fake_net_new(1000);
    net3_t n;
    dht_id_t stranger;
    dht_addr_t a;
    fake_result_t r = {0};

    (void)state;
    assert_non_null(net);
    n.net = net;
    n.holder = add(net, "[fd00::2]:4000", 1, 0, NULL);
    n.nat = add(net, "[fd00::5]:4000", 2, 0, "[2001:db8::7]:4000");
    n.regional = add(net, "[2001:db8:1::20]:4000", 3, 7, NULL);
    fake_nat_forward(net, "[2001:db8::7]:4000", n.nat, "[fd00::1]:40000");
    ping(&n, n.nat);
    /* A lookup through it: its NODES hand the holder a token. */
    assert_int_equal(dht_find_node(fake_dht(net, n.holder), dht_self(fake_dht(net, n.nat)),
                                   fake_nodes_cb, &r),
                     0);
    fake_run(net, &r.calls, 10000);
    ping(&n, n.nat);
    fake_run(net, NULL, 2000);
    fake_id_fill(&stranger, 0x51);
    {
        const dht_id_t *nat_id = dht_self(fake_dht(net, n.nat));
        dht_addr_t asker = fake_addr("[2001:db8:2::9]:4000");
        dht__msg_t q, rep;
        fake_msg_init(&q, DHT__FIND_NODE, 78, &stranger);
        q.target = *nat_id;
        assert_int_equal(fake_request(net, n.holder, &asker, &q, &rep), 0);
        a = asker;
        for (unsigned i = 0; i < rep.n_nodes; i++)
            if (dht_id_cmp(&rep.nodes[i].id, nat_id) == 0)
                a = rep.nodes[i].addr;
    }
    assert_addr_is(&a, "[2001:db8::7]:4000");
    fake_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_gets_global_inside_gets_local),
        cmocka_unit_test(test_same_region_gets_local),
        cmocka_unit_test(test_no_longer_advertised),
        cmocka_unit_test(test_unanswered_global_not_handed_out),
        cmocka_unit_test(test_ipv6),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
