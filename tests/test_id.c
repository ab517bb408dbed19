/*
 * Tests of ids, addresses and errors (id.c, addr.c, errors.c): SHA-256 test
 * vectors, XOR distance and prefixes on hand-made ids, hex, address parsing
 * and formatting, and the error table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "dht.h"

static dht_id_t id_hex(const char *hex)
{
    dht_id_t id;

    assert_int_equal(dht_id_from_hex(&id, hex), 0);
    return id;
}

static dht_id_t id_fill(uint8_t b)
{
    dht_id_t id;

    memset(id.b, b, sizeof(id.b));
    return id;
}

/* ------------------------------------------------------------------------ */
/* Ids                                                                      */
/* ------------------------------------------------------------------------ */

static void test_sha256_vectors(void **state)
{
    static const struct {
        const char *in, *hex;
    } v[] = {
        /* FIPS 180-2 examples. */
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[DHT_ID_HEXLEN];
    dht_id_t id, want;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        dht_id_from_bytes(&id, v[i].in, strlen(v[i].in));
        assert_string_equal(dht_id_to_hex(&id, hex), v[i].hex);
        want = id_hex(v[i].hex);
        assert_memory_equal(&id, &want, sizeof(id));
    }
    /* NULL data is allowed for the empty input. */
    dht_id_from_bytes(&id, NULL, 0);
    assert_string_equal(dht_id_to_hex(&id, hex), v[0].hex);
}

static void test_sha256_million_a(void **state)
{
    static char a[1000000];
    char hex[DHT_ID_HEXLEN];
    dht_id_t id;

    (void)state;
    memset(a, 'a', sizeof(a));
    dht_id_from_bytes(&id, a, sizeof(a));
    assert_string_equal(dht_id_to_hex(&id, hex),
                        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_distance(void **state)
{
    dht_id_t zero = id_fill(0), ones = id_fill(0xff), a = id_fill(0x0f), d;

    (void)state;
    dht_id_distance(&d, &zero, &ones);
    assert_memory_equal(&d, &ones, sizeof(d));
    dht_id_distance(&d, &a, &a);
    assert_memory_equal(&d, &zero, sizeof(d));
    dht_id_distance(&d, &a, &ones);
    {
        dht_id_t f0 = id_fill(0xf0);
        assert_memory_equal(&d, &f0, sizeof(d));
    }
    /* Symmetric. */
    {
        dht_id_t x = id_hex("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        dht_id_t y = id_hex("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
        dht_id_t dxy, dyx;
        dht_id_distance(&dxy, &x, &y);
        dht_id_distance(&dyx, &y, &x);
        assert_memory_equal(&dxy, &dyx, sizeof(dxy));
        assert_memory_equal(&dxy, &ones, sizeof(dxy));
    }
}

static void test_cmp_distance(void **state)
{
    dht_id_t t = id_fill(0), a = id_fill(0), b = id_fill(0), c = id_fill(0);

    (void)state;
    a.b[31] = 1;   /* distance 1 */
    b.b[31] = 2;   /* distance 2 */
    c.b[0] = 0x80; /* the far half */
    assert_true(dht_id_cmp_distance(&t, &a, &b) < 0);
    assert_true(dht_id_cmp_distance(&t, &b, &a) > 0);
    assert_int_equal(dht_id_cmp_distance(&t, &a, &a), 0);
    assert_true(dht_id_cmp_distance(&t, &b, &c) < 0);
    /* Relative to c, the order flips: c is at 0, a and b are far. */
    assert_true(dht_id_cmp_distance(&c, &c, &a) < 0);
    assert_true(dht_id_cmp_distance(&c, &a, &b) < 0); /* 0x80..01 < 0x80..02 */
    /* Distance order is not numeric order: target 0xff.. */
    t = id_fill(0xff);
    assert_true(dht_id_cmp_distance(&t, &c, &a) < 0);
    assert_true(dht_id_cmp(&c, &a) > 0);
    /* dht_id_cmp is memcmp order. */
    assert_true(dht_id_cmp(&a, &b) < 0);
    assert_int_equal(dht_id_cmp(&a, &a), 0);
}

static void test_common_prefix(void **state)
{
    dht_id_t zero = id_fill(0), x;

    (void)state;
    assert_int_equal(dht_id_common_prefix(&zero, &zero), 256);
    x = zero;
    x.b[0] = 0x80;
    assert_int_equal(dht_id_common_prefix(&zero, &x), 0);
    x = zero;
    x.b[31] = 0x01;
    assert_int_equal(dht_id_common_prefix(&zero, &x), 255);
    assert_int_equal(dht_id_common_prefix(&x, &zero), 255);
    x = zero;
    x.b[1] = 0x10; /* bit 11 */
    assert_int_equal(dht_id_common_prefix(&zero, &x), 11);
    x = id_fill(0xff);
    assert_int_equal(dht_id_common_prefix(&x, &x), 256);
    assert_int_equal(dht_id_common_prefix(&zero, &x), 0);
    for (unsigned p = 0; p < 256; p++) {
        x = zero;
        x.b[p / 8] = (uint8_t)(0x80u >> (p % 8));
        assert_int_equal(dht_id_common_prefix(&zero, &x), p);
    }
}

static void test_hex(void **state)
{
    const char *h = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    char buf[DHT_ID_HEXLEN], longer[80];
    dht_id_t id, keep = id_fill(0x5a), out;

    (void)state;
    id = id_hex(h);
    assert_int_equal(id.b[0], 0x00);
    assert_int_equal(id.b[1], 0x11);
    assert_int_equal(id.b[15], 0xff);
    assert_string_equal(dht_id_to_hex(&id, buf), h);
    assert_ptr_equal(dht_id_to_hex(&id, buf), buf);
    /* Upper case parses too and formats as lower case. */
    id = id_hex("00112233445566778899AABBCCDDEEFF00112233445566778899AaBbCcDdEeFf");
    assert_string_equal(dht_id_to_hex(&id, buf), h);

    /* Rejections leave *out unchanged. */
    const char *bad[] = {
        "",
        "00",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",   /* 63 */
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0", /* 65 */
        "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "0011223344556677889 aabbccddeeff00112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefx",
        "0x112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = keep;
        assert_int_equal(dht_id_from_hex(&out, bad[i]), DHT_EINVAL);
        assert_memory_equal(&out, &keep, sizeof(out));
    }
    out = keep;
    assert_int_equal(dht_id_from_hex(&out, NULL), DHT_EINVAL);
    assert_memory_equal(&out, &keep, sizeof(out));
    snprintf(longer, sizeof(longer), "%s ", h);
    assert_int_equal(dht_id_from_hex(&out, longer), DHT_EINVAL);

    /* Round trip of a few ids. */
    for (int i = 0; i < 4; i++) {
        dht_id_t a, b;
        dht_id_from_bytes(&a, &i, sizeof(i));
        assert_int_equal(dht_id_from_hex(&b, dht_id_to_hex(&a, buf)), 0);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

/* ------------------------------------------------------------------------ */
/* Addresses                                                                */
/* ------------------------------------------------------------------------ */

static void test_addr_parse_ok(void **state)
{
    dht_addr_t a;
    char buf[DHT_ADDRSTRLEN];
    static const uint8_t loop6[16] = {[15] = 1};

    (void)state;
    assert_int_equal(dht_addr_parse(&a, "127.0.0.1:4000"), 0);
    assert_int_equal(a.family, DHT_AF_INET);
    assert_int_equal(a.ip[0], 127);
    assert_int_equal(a.ip[1], 0);
    assert_int_equal(a.ip[2], 0);
    assert_int_equal(a.ip[3], 1);
    assert_int_equal(a.port, 4000);
    assert_string_equal(dht_addr_format(&a, buf), "127.0.0.1:4000");

    assert_int_equal(dht_addr_parse(&a, "[::1]:5"), 0);
    assert_int_equal(a.family, DHT_AF_INET6);
    assert_memory_equal(a.ip, loop6, 16);
    assert_int_equal(a.port, 5);
    assert_string_equal(dht_addr_format(&a, buf), "[::1]:5");

    assert_int_equal(dht_addr_parse(&a, "0.0.0.0:0"), 0);
    assert_int_equal(a.family, DHT_AF_INET);
    assert_int_equal(a.port, 0);
    assert_string_equal(dht_addr_format(&a, buf), "0.0.0.0:0");

    assert_int_equal(dht_addr_parse(&a, "255.255.255.255:65535"), 0);
    assert_int_equal(a.port, 65535);
}

static void test_addr_parse_bad(void **state)
{
    const char *bad[] = {
        "",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "host:80",
        "[::1]5",
        "[::1]:",
        "1.2.3.4:4000x",
        ":80",
        "1.2.3:80",
        "1.2.3.256:80",
        "::1:80", /* IPv6 needs brackets */
        "[1.2.3.4]:80",
        "[::1:80",
        "[]:80",
        "1.2.3.4:100000",
        "1.2.3.4: 80",
        "localhost:80",
    };
    dht_addr_t keep, a;

    (void)state;
    memset(&keep, 0x5a, sizeof(keep));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = keep;
        assert_int_equal(dht_addr_parse(&a, bad[i]), DHT_EADDR);
        assert_memory_equal(&a, &keep, sizeof(a));
    }
    a = keep;
    assert_int_equal(dht_addr_parse(&a, NULL), DHT_EADDR);
    assert_memory_equal(&a, &keep, sizeof(a));
}

static void test_addr_round_trip(void **state)
{
    const char *ok[] = {
        "10.1.2.3:1",
        "192.168.100.200:65535",
        "[2001:db8::1]:4000",
        "[fe80::1:2:3:4]:80",
        "[::]:0",
        "[::ffff:1.2.3.4]:9",
        "[2001:db8:1:2:3:4:5:6]:65535",
        "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
    };
    char buf[DHT_ADDRSTRLEN];
    dht_addr_t a, b;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(dht_addr_parse(&a, ok[i]), 0);
        assert_string_equal(dht_addr_format(&a, buf), ok[i]);
        assert_true(strlen(buf) < DHT_ADDRSTRLEN);
        assert_int_equal(dht_addr_parse(&b, buf), 0);
        assert_true(dht_addr_equal(&a, &b));
    }
    /* Non-canonical input formats canonically and still round trips. */
    assert_int_equal(dht_addr_parse(&a, "[2001:DB8:0:0::1]:00080"), 0);
    assert_string_equal(dht_addr_format(&a, buf), "[2001:db8::1]:80");
    assert_int_equal(dht_addr_parse(&b, buf), 0);
    assert_true(dht_addr_equal(&a, &b));
}

static void test_addr_equal(void **state)
{
    dht_addr_t a, b;

    (void)state;
    assert_int_equal(dht_addr_parse(&a, "1.2.3.4:5"), 0);
    b = a;
    assert_true(dht_addr_equal(&a, &b));
    b.port = 6;
    assert_false(dht_addr_equal(&a, &b));
    assert_int_equal(dht_addr_parse(&b, "1.2.3.5:5"), 0);
    assert_false(dht_addr_equal(&a, &b));
    /* The same four bytes as the start of an IPv6 address differ. */
    b = a;
    b.family = DHT_AF_INET6;
    assert_false(dht_addr_equal(&a, &b));
    assert_false(dht_addr_equal(&b, &a));
    /* IPv6: every byte counts. */
    assert_int_equal(dht_addr_parse(&a, "[2001:db8::1]:5"), 0);
    assert_int_equal(dht_addr_parse(&b, "[2001:db8::2]:5"), 0);
    assert_false(dht_addr_equal(&a, &b));
    b.ip[15] = 1;
    assert_true(dht_addr_equal(&a, &b));
    /* ::ffff:1.2.3.4 is not 1.2.3.4 (different families). */
    assert_int_equal(dht_addr_parse(&a, "[::ffff:1.2.3.4]:5"), 0);
    assert_int_equal(dht_addr_parse(&b, "1.2.3.4:5"), 0);
    assert_false(dht_addr_equal(&a, &b));
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

static void test_errors(void **state)
{
    static const struct {
        int code;
        const char *name, *text;
    } map[] = {
#define XX(name, value, text) {DHT_##name, "DHT_" #name, text},
        DHT_ERRNO_MAP(XX)
#undef XX
    };
    size_t n = sizeof(map) / sizeof(map[0]);

    (void)state;
    assert_int_equal(n, 17);
    for (size_t i = 0; i < n; i++) {
        const char *s = dht_strerror(map[i].code), *nm = dht_err_name(map[i].code);
        assert_true(map[i].code < 0);
        assert_non_null(s);
        assert_non_null(nm);
        assert_true(strlen(s) > 0);
        assert_string_equal(s, map[i].text);
        assert_string_equal(nm, map[i].name);
        assert_string_not_equal(s, dht_strerror(12345));
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(map[i].code, map[j].code);
            assert_string_not_equal(s, dht_strerror(map[j].code));
            assert_string_not_equal(nm, dht_err_name(map[j].code));
        }
    }
    /* Spot checks of the values in dht.h. */
    assert_int_equal(DHT_EINVAL, -1);
    assert_int_equal(DHT_ETIMEDOUT, -3);
    assert_int_equal(DHT_ECLOSED, -14);
    assert_string_equal(dht_err_name(DHT_ETIMEDOUT), "DHT_ETIMEDOUT");
    /* Success and unknown codes: never NULL, never empty. */
    assert_string_equal(dht_err_name(0), "DHT_OK");
    assert_true(strlen(dht_strerror(0)) > 0);
    const int unknown[] = {1, -18, -1000, 12345, INT32_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_non_null(dht_strerror(unknown[i]));
        assert_true(strlen(dht_strerror(unknown[i])) > 0);
        assert_non_null(dht_err_name(unknown[i]));
        assert_true(strlen(dht_err_name(unknown[i])) > 0);
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(dht_err_name(unknown[i]), map[j].name);
    }
}

int main(void)
{
    alarm(120); /* the whole file's timeout */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),  cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_distance),        cmocka_unit_test(test_cmp_distance),
        cmocka_unit_test(test_common_prefix),   cmocka_unit_test(test_hex),
        cmocka_unit_test(test_addr_parse_ok),   cmocka_unit_test(test_addr_parse_bad),
        cmocka_unit_test(test_addr_round_trip), cmocka_unit_test(test_addr_equal),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
