/*
 * Tests of the progress line formatter (tool/cli/progress.c): human sizes, the
 * exact line for known inputs, the width limit at every width, and the edge
 * cases (no total, nothing done, no time elapsed, done, overshoot, hours,
 * huge counts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "tool/cli/progress.h"

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

static void assert_bytes(uint64_t v, const char *want)
{
    char buf[64];
    size_t n = progress_format_bytes(v, buf, sizeof(buf));
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_bytes(void **state)
{
    char small[4];

    (void)state;
    assert_bytes(0, "0 B");
    assert_bytes(1, "1 B");
    assert_bytes(1023, "1023 B");
    assert_bytes(1024, "1.0 KiB");
    assert_bytes(1536, "1.5 KiB");
    assert_bytes(10 * 1024 + 51, "10.0 KiB");
    assert_bytes(1024 * 1024 - 1, "1.0 MiB"); /* not "1024.0 KiB" */
    assert_bytes(1024 * 1023, "1023.0 KiB");
    assert_bytes(MIB, "1.0 MiB");
    assert_bytes(450992373, "430.1 MiB");
    assert_bytes(GIB - 1, "1.0 GiB");
    assert_bytes(GIB, "1.0 GiB");
    assert_bytes(5 * 1024 * GIB, "5120.0 GiB");
    assert_bytes(UINT64_MAX, "17179869184.0 GiB");
    /* truncated like snprintf, the full length returned */
    assert_int_equal(progress_format_bytes(1536, small, sizeof(small)), 7);
    assert_string_equal(small, "1.5");
    assert_int_equal(progress_format_bytes(1536, NULL, 0), 7);
}

static progress_state_t example(void)
{
    progress_state_t p = {0};
    p.at.bytes_done = 450992373; /* 430.1 MiB */
    p.at.bytes_total = GIB;
    p.at.chunks_done = 1720;
    p.at.chunks_total = 4096;
    p.at.in_flight = 32;
    p.at.peers = 7;
    p.elapsed_ms = 3830; /* 117752578 B/s = 112.3 MiB/s; 5.29 s left */
    return p;
}

static void assert_line(const progress_state_t *p, unsigned width, const char *want)
{
    char buf[256];
    size_t n = progress_format(p, width, buf, sizeof(buf));
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    assert_true(n <= width);
}

static void test_example_line(void **state)
{
    progress_state_t p = example();

    (void)state;
    assert_line(&p, 200,
                "[############..................]  42% 430.1 MiB/1.0 GiB  112.3 MiB/s  ETA 0:06"
                "  32 in flight, 7 peers");
    /* 80 columns: the peers part goes first, the bar keeps its 30 cells */
    assert_line(&p, 80,
                "[############..................]  42% 430.1 MiB/1.0 GiB  112.3 MiB/s  ETA 0:06");
    /* then the bar narrows to 10 cells before the ETA, the rate, the sizes
     * go; then the bar alone shrinks */
    assert_line(&p, 60, "[#####.......]  42% 430.1 MiB/1.0 GiB  112.3 MiB/s  ETA 0:06");
    assert_line(&p, 50, "[#####.......]  42% 430.1 MiB/1.0 GiB  112.3 MiB/s");
    assert_line(&p, 40, "[######.........]  42% 430.1 MiB/1.0 GiB");
    assert_line(&p, 35, "[####......]  42% 430.1 MiB/1.0 GiB");
    assert_line(&p, 34, "[############..................]");
    assert_line(&p, 20, "[#######...........]");
    assert_line(&p, 3, "[.]");
    assert_line(&p, 2, "");
    assert_line(&p, 0, "");
}

/* At every width, the line fits, is ASCII, one line, and shrinks
 * monotonically; a small cap is honoured the same way. */
static void test_every_width(void **state)
{
    progress_state_t p = example();
    size_t prev = 0;

    (void)state;
    p.at.bytes_total = UINT64_MAX; /* long sizes too */
    p.at.in_flight = UINT32_MAX;
    p.at.peers = UINT32_MAX;
    for (unsigned w = 0; w <= 300; w++) {
        char buf[512];
        size_t n;

        memset(buf, 'Z', sizeof(buf));
        n = progress_format(&p, w, buf, sizeof(buf));
        assert_int_equal(n, strlen(buf));
        assert_true(n <= w);
        assert_true(n <= PROGRESS_MAX_WIDTH);
        assert_true(n >= prev);
        prev = n;
        if (w >= 3) {
            assert_true(n >= 3);
            assert_int_equal(buf[0], '[');
        }
        for (size_t i = 0; i < n; i++)
            assert_true(buf[i] >= 0x20 && buf[i] < 0x7f);
        assert_int_equal(buf[n + 1], 'Z'); /* nothing past the NUL */
    }
    for (size_t cap = 0; cap < 120; cap++) {
        char buf[128];
        memset(buf, 'Z', sizeof(buf));
        size_t n = progress_format(&p, 200, buf, cap);
        assert_int_equal(buf[cap], 'Z'); /* nothing written past cap */
        if (cap > 0) {
            assert_int_equal(n, strlen(buf));
            assert_true(n < cap);
        } else {
            assert_int_equal(n, 0);
        }
    }
}

static void test_no_total(void **state)
{
    progress_state_t p = {0};

    (void)state;
    /* nothing known at all */
    assert_line(&p, 200,
                "[..............................] 0 B  --/s  ETA --:--  0 in flight, 0 peers");
    /* bytes flowing, total unknown: a rate but no ETA and no percentage */
    p.at.bytes_done = 2 * MIB;
    p.elapsed_ms = 2000;
    p.at.peers = 1;
    p.at.in_flight = 3;
    assert_line(
        &p, 200,
        "[..............................] 2.0 MiB  1.0 MiB/s  ETA --:--  3 in flight, 1 peer");
}

static void test_edges(void **state)
{
    progress_state_t p = {0};
    char buf[256];

    (void)state;
    /* nothing done yet, time elapsed: rate 0, ETA unknown */
    p.at.bytes_total = MIB;
    p.elapsed_ms = 500;
    assert_line(&p, 200,
                "[..............................]   0% 0 B/1.0 MiB  0 B/s  ETA --:--  0 in flight, "
                "0 peers");
    /* half done, no time elapsed: rate and ETA unknown */
    p.at.bytes_done = MIB / 2;
    p.elapsed_ms = 0;
    assert_line(
        &p, 200,
        "[###############...............]  50% 512.0 KiB/1.0 MiB  --/s  ETA --:--  0 in flight, "
        "0 peers");
    /* done */
    p.at.bytes_done = MIB;
    p.elapsed_ms = 1000;
    assert_line(
        &p, 200,
        "[##############################] 100% 1.0 MiB/1.0 MiB  1.0 MiB/s  ETA 0:00  0 in flight, "
        "0 peers");
    /* more than the total (a re-fetched chunk counted twice): still 100% */
    p.at.bytes_done = 2 * MIB;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(strstr(buf, "] 100% 2.0 MiB/1.0 MiB"));
    assert_non_null(strstr(buf, "ETA 0:00"));
    /* 99.99%: never rounds up to 100% */
    p.at.bytes_total = 10000;
    p.at.bytes_done = 9999;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(strstr(buf, "]  99% "));
    assert_non_null(strstr(buf, "[#############################.]"));
}

static void test_eta(void **state)
{
    progress_state_t p = {0};
    char buf[256];

    (void)state;
    /* 1 KiB/s, 2 hours left */
    p.at.bytes_done = 1024;
    p.at.bytes_total = 1024 + 7200ull * 1024;
    p.elapsed_ms = 1000;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(strstr(buf, "  1.0 KiB/s  ETA 2:00:00  "));
    /* 61.5 s left rounds up to 1:02 */
    p.at.bytes_total = 1024 + 61 * 1024 + 512;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(strstr(buf, "ETA 1:02  "));
    /* over 99 hours: unknown */
    p.at.bytes_total = 1024 + 100ull * 3600 * 1024;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(strstr(buf, "ETA --:--  "));
    /* huge counts in 1 ms: no overflow, a (large) rate */
    p.at.bytes_done = UINT64_MAX - 1;
    p.at.bytes_total = UINT64_MAX;
    p.elapsed_ms = 1;
    progress_format(&p, 200, buf, sizeof(buf));
    assert_non_null(
        strstr(buf, "]  99% 17179869184.0 GiB/17179869184.0 GiB  17179869184.0 GiB/s  ETA 0:00  "));
    assert_non_null(strstr(buf, "[#############################.]"));
    /* NULL state, tiny buffers */
    assert_int_equal(progress_format(NULL, 80, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(progress_format(&p, 80, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_bytes), cmocka_unit_test(test_example_line),
        cmocka_unit_test(test_every_width),  cmocka_unit_test(test_no_total),
        cmocka_unit_test(test_edges),        cmocka_unit_test(test_eta),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
