/*
 * filestore/keyset.c against a plain array, over many random adds,
 * finds and removes (tombstones, growth, reuse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filestore/keyset.h"

#define POOL 600

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_against_model(void **state)
{
    static uint8_t keys[POOL][FS_KEYSET_KEY];
    static int in[POOL];
    static uint8_t flag[POOL];
    fs_keyset_t set = {0};
    size_t n = 0;

    (void)state;
    for (int i = 0; i < POOL; i++) {
        for (int b = 0; b < FS_KEYSET_KEY; b++)
            keys[i][b] = (uint8_t)next();
        /* some share their first 8 bytes: the same home slot */
        if (i % 7 == 1)
            memcpy(keys[i], keys[i - 1], 8);
    }
    for (int round = 0; round < 200000; round++) {
        int i = (int)(next() % POOL), op = (int)(next() % 3);
        uint8_t *f = fs_keyset_find(&set, keys[i]);
        assert_int_equal(f != NULL, in[i]);
        if (f != NULL)
            assert_int_equal(*f, flag[i]);
        if (op == 0) {
            f = fs_keyset_add(&set, keys[i]);
            assert_non_null(f);
            if (!in[i]) {
                in[i] = 1;
                flag[i] = 0;
                n++;
            }
            *f = flag[i] = (uint8_t)(round & 0xff);
        } else if (op == 1) {
            assert_int_equal(fs_keyset_remove(&set, keys[i]), in[i]);
            n -= (size_t)in[i];
            in[i] = 0;
        }
        assert_int_equal(set.n, n);
    }
    fs_keyset_clear(&set);
    assert_null(fs_keyset_find(&set, keys[0]));
    assert_int_equal(fs_keyset_remove(&set, keys[0]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
