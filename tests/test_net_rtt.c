/*
 * Round trips by network (libdht/net_rtt.c): what proximity guesses for a
 * contact it never measured is what the contacts of its network answered
 * in, the narrower network first (IPv4 /24 then /16, IPv6 /48 then /32),
 * and nothing for a network never measured.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "node.h"

static int send_nothing(void *arg, const dht_addr_t *to, dht_transport_t transport,
                        const uint8_t *buf, size_t len)
{
    (void)arg, (void)to, (void)transport, (void)buf, (void)len;
    return 0;
}

static dht_t *new_node(void)
{
    dht_config_t cfg;
    dht_io_t io = {.send = send_nothing};
    dht_t *dht = NULL;

    dht_config_init(&cfg);
    cfg.seed = 1;
    assert_int_equal(dht_new(&dht, &cfg, &io, 1000), 0);
    return dht;
}

static uint32_t guess(const dht_t *dht, const char *hostport)
{
    dht_addr_t a;

    assert_int_equal(dht_addr_parse(&a, hostport), 0);
    return dht__net_rtt(dht, &a);
}

static void sample(dht_t *dht, const char *hostport, uint64_t us)
{
    dht_addr_t a;

    assert_int_equal(dht_addr_parse(&a, hostport), 0);
    dht__net_rtt_sample(dht, &a, us);
}

/* within a unit (64 us) of want */
static void assert_near(uint32_t got, uint32_t want)
{
    assert_true(got + 64 >= want && got <= want + 64);
}

static void test_ipv4_networks(void **state)
{
    dht_t *dht = new_node();

    (void)state;
    assert_int_equal(guess(dht, "10.1.2.3:4000"), 0); /* nothing measured yet */
    sample(dht, "10.1.2.3:4000", 40000);
    assert_near(guess(dht, "10.1.2.200:5000"), 40000); /* the same /24 */
    assert_near(guess(dht, "10.1.9.9:4000"), 40000);   /* the same /16 only */
    assert_int_equal(guess(dht, "10.2.2.3:4000"), 0);  /* another /16 */
    sample(dht, "10.1.9.1:4000", 8000);                /* a near /24 in that /16 */
    assert_near(guess(dht, "10.1.9.9:4000"), 8000);    /* its /24 first */
    assert_near(guess(dht, "10.1.2.9:4000"), 40000);   /* the first /24 as it was */
    /* the /16 smoothed: 40 ms, then one sample of 8: 40 + (8 - 40) / 8 */
    assert_near(guess(dht, "10.1.77.1:4000"), 36000);
    dht_free(dht);
}

static void test_ipv6_networks(void **state)
{
    dht_t *dht = new_node();

    (void)state;
    sample(dht, "[2001:db8:1:2::5]:4000", 90000);
    assert_near(guess(dht, "[2001:db8:1:ffff::1]:4000"), 90000); /* the same /48 */
    assert_near(guess(dht, "[2001:db8:7::1]:4000"), 90000);      /* the same /32 */
    assert_int_equal(guess(dht, "[2001:db9::1]:4000"), 0);
    /* families apart: [a01::1]'s /32 has the bytes of 10.1.0.0/16 */
    sample(dht, "[a01::1]:4000", 5000);
    assert_int_equal(guess(dht, "10.1.9.9:4000"), 0);
    assert_near(guess(dht, "[a01::2]:4000"), 5000);
    dht_free(dht);
}

/* Samples move the estimate by an eighth of the difference each (RFC
 * 6298's gain), as a contact's own. */
static void test_smoothed(void **state)
{
    dht_t *dht = new_node();

    (void)state;
    sample(dht, "192.0.2.1:1", 100000);
    sample(dht, "192.0.2.2:1", 20000);
    assert_near(guess(dht, "192.0.2.3:1"), 90000);
    for (int i = 0; i < 60; i++)
        sample(dht, "192.0.2.2:1", 20000);
    /* settled within 3 units (a smaller step rounds to none) */
    uint32_t g = guess(dht, "192.0.2.3:1");
    assert_true(g >= 20000 && g <= 20000 + 3 * 64 + 64);
    dht_free(dht);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_networks),
        cmocka_unit_test(test_ipv6_networks),
        cmocka_unit_test(test_smoothed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
