/*
 * The error scheme: each library's codes in a range of its own (libdht
 * -1..-99, filestore -101..-199, manifests -201..-299), each with a text
 * and a name; the control protocol's statuses are their own list, fixed on
 * the wire, and carry every filestore code there and back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dht.h"
#include "filestore/fs_error.h"
#include "manifests/manifest.h"
#include "tool/node/control_wire.h"

static const int dht_codes[] = {
#define XX(name, value, text) DHT_##name,
    DHT_ERRNO_MAP(XX)
#undef XX
};
static const int fs_codes[] = {
#define XX(name, value, text) FS_##name,
    FS_ERRNO_MAP(XX)
#undef XX
};
static const int mf_codes[] = {
#define XX(name, value, text) MF_##name,
    MF_ERRNO_MAP(XX)
#undef XX
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void test_ranges_do_not_collide(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(dht_codes); i++)
        assert_true(dht_codes[i] <= -1 && dht_codes[i] >= -99);
    for (size_t i = 0; i < N_OF(fs_codes); i++)
        assert_true(fs_codes[i] <= -101 && fs_codes[i] >= -199);
    for (size_t i = 0; i < N_OF(mf_codes); i++)
        assert_true(mf_codes[i] <= -201 && mf_codes[i] >= -299);
}

static void test_texts_and_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OF(fs_codes); i++) {
        assert_string_not_equal(fs_strerror(fs_codes[i]), "unknown error");
        assert_true(strncmp(fs_err_name(fs_codes[i]), "FS_E", 4) == 0);
        /* Another library's code is never taken for one of ours. */
        assert_string_equal(fs_strerror(fs_codes[i] + 100), "unknown error");
    }
    for (size_t i = 0; i < N_OF(mf_codes); i++) {
        assert_string_not_equal(mf_strerror(mf_codes[i]), "unknown manifest error");
        assert_true(strncmp(mf_err_name(mf_codes[i]), "MF_E", 4) == 0);
        assert_string_equal(fs_err_name(mf_codes[i]), "FS_UNKNOWN");
    }
    for (size_t i = 0; i < N_OF(dht_codes); i++)
        assert_string_equal(fs_err_name(dht_codes[i]), "FS_UNKNOWN");
    assert_string_equal(fs_err_name(FS_ENOENT), "FS_ENOENT");
    assert_string_equal(mf_err_name(MF_EFORMAT), "MF_EFORMAT");
}

/* The wire values are the ones schema/control.md 5.1 lists, whatever the
 * filestore values are; every filestore code goes there and back. */
static void test_control_statuses(void **state)
{
    static const struct {
        int fs;
        int32_t wire;
    } table[] = {
        {FS_OK, 0},          {FS_EINVAL, -1},    {FS_ENOMEM, -2},    {FS_EIO, -3},
        {FS_ENOENT, -4},     {FS_ENOSPC, -5},    {FS_EBADHASH, -6},  {FS_ECORRUPT, -7},
        {FS_ETOOBIG, -8},    {FS_EACCES, -9},    {FS_ENOPEERS, -10}, {FS_ETIMEDOUT, -11},
        {FS_ECANCELED, -12}, {FS_EEXIST, -13},   {FS_EBUSY, -14},    {FS_EREFUSED, -15},
    };

    (void)state;
    assert_int_equal(N_OF(table), N_OF(fs_codes) + 1);
    for (size_t i = 0; i < N_OF(table); i++) {
        assert_int_equal(ctl_status_from_fs(table[i].fs), table[i].wire);
        assert_int_equal(fs_from_ctl_status(table[i].wire), table[i].fs);
    }
    /* A code the protocol has no name for, or a status this build does not
     * know: an I/O error, never success. */
    assert_int_equal(ctl_status_from_fs(MF_EFORMAT), CTL_S_EIO);
    assert_int_equal(fs_from_ctl_status(-99), FS_EIO);
}

static void test_from_dht_keeps_the_meaning(void **state)
{
    (void)state;
    assert_int_equal(fs_from_dht(DHT_OK), FS_OK);
    assert_int_equal(fs_from_dht(DHT_ENOTFOUND), FS_ENOENT);
    assert_int_equal(fs_from_dht(DHT_EACCES), FS_EACCES);
    assert_int_equal(fs_from_dht(DHT_EINVAL), FS_EINVAL);
    assert_int_equal(fs_from_dht(DHT_EREJECTED), FS_EREFUSED);
    for (size_t i = 0; i < N_OF(dht_codes); i++)
        assert_true(fs_from_dht(dht_codes[i]) <= -101 && fs_from_dht(dht_codes[i]) >= -199);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_do_not_collide),
        cmocka_unit_test(test_texts_and_names),
        cmocka_unit_test(test_control_statuses),
        cmocka_unit_test(test_from_dht_keeps_the_meaning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
