/*
 * From a libdht status to the exit code a user sees: the error a layer
 * reports keeps its cause through filestore's code to the CLI's exit code
 * (README, Exit codes). A put refused by every node reached (their stores
 * full) once came out as exit 3, "the input file is missing or unreadable".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "filestore/ctx.h" /* fs_from_dht */
#include "filestore/filestore.h"
#include "tool/cli/cli.h"

static void test_put_refused(void **state)
{
    (void)state;
    assert_int_equal(fs_from_dht(DHT_EREJECTED), FS_EREFUSED);
    assert_int_equal(cli_exit_code(CTL_PUT, FS_EREFUSED), EXIT_REFUSED);
    assert_int_equal(EXIT_REFUSED, 10);
}

static void test_causes_kept(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_code(CTL_PUT, fs_from_dht(DHT_ENOPEERS)), EXIT_NOPEERS);
    assert_int_equal(cli_exit_code(CTL_GET, fs_from_dht(DHT_ENOTFOUND)), EXIT_NOTFOUND);
    assert_int_equal(cli_exit_code(CTL_GET, fs_from_dht(DHT_EBADVALUE)), EXIT_CORRUPT);
    assert_int_equal(cli_exit_code(CTL_PUT, fs_from_dht(DHT_ECANCELED)), EXIT_INTERRUPTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_refused),
        cmocka_unit_test(test_causes_kept),
    };

    return cmocka_run_group_tests_name("exit codes", tests, NULL, NULL);
}
