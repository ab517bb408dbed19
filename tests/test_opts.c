/*
 * Tests of "--name=value" (tool/cli/opts.c): split for options that take a
 * value, at the first '='; left alone for unknown options, positionals,
 * short options and the value of an option given as "--name VALUE"; a
 * usage error for a flag given a value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tool/cli/cli.h"
#include "tool/cli/opts.h"

#define MAX_ARGS 16

/* Runs opts_expand on a writable copy of the words (NULL-terminated) and
 * joins the result with '|' into out. @return what opts_expand returned. */
static int expand(const char *const *words, char *out, size_t cap)
{
    char store[MAX_ARGS][64], *argv[MAX_ARGS + 1], **res;
    int argc = 0, n, rc;

    for (; words[argc] != NULL; argc++) {
        strcpy(store[argc], words[argc]);
        argv[argc] = store[argc];
    }
    argv[argc] = NULL;
    rc = opts_expand(argc, argv, &n, &res);
    out[0] = '\0';
    if (rc != 0)
        return rc;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, res[i], cap - strlen(out) - 1);
    }
    assert_null(res[n]);
    free(res);
    return 0;
}

static void assert_expands(const char *const *words, const char *want)
{
    char got[512];

    assert_int_equal(expand(words, got, sizeof(got)), 0);
    assert_string_equal(got, want);
}

static void test_split(void **state)
{
    (void)state;
    assert_expands((const char *const[]){"put", "--data=/d", "f", NULL}, "put|--data|/d|f");
    assert_expands((const char *const[]){"get", "K", "--output=a=b", NULL}, "get|K|--output|a=b");
    assert_expands((const char *const[]){"put", "--data=", "f", NULL}, "put|--data||f");
    assert_expands((const char *const[]){"sim", "--nodes=10", "--json", NULL},
                   "sim|--nodes|10|--json");
    assert_expands((const char *const[]){"daemon", "--listen=localhost:1", "--bootstrap=[::1]:2",
                                         NULL},
                   "daemon|--listen|localhost:1|--bootstrap|[::1]:2");
}

static void test_left_alone(void **state)
{
    (void)state;
    /* unknown options: the command names them whole */
    assert_expands((const char *const[]){"ls", "--frob=1", NULL}, "ls|--frob=1");
    /* a value given after its option is never split, even if it looks like one */
    assert_expands((const char *const[]){"get", "K", "-o", "--quiet=1", NULL},
                   "get|K|-o|--quiet=1");
    assert_expands((const char *const[]){"put", "--data", "--x=y", "f", NULL},
                   "put|--data|--x=y|f");
    /* short options and positionals */
    assert_expands((const char *const[]){"get", "-o=x", "a=b", NULL}, "get|-o=x|a=b");
    /* the command's own name, and nothing else */
    assert_expands((const char *const[]){"--data=x", NULL}, "--data=x");
    assert_expands((const char *const[]){"ls", "--", "--=x", NULL}, "ls|--|--=x");
}

static void test_flag_with_value(void **state)
{
    char got[512];

    (void)state;
    assert_int_equal(expand((const char *const[]){"ls", "--quiet=1", NULL}, got, sizeof(got)),
                     EXIT_USAGE);
    assert_int_equal(expand((const char *const[]){"sim", "--json=", NULL}, got, sizeof(got)),
                     EXIT_USAGE);
    assert_int_equal(expand((const char *const[]){"get", "--help=x", NULL}, got, sizeof(got)),
                     EXIT_USAGE);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_int_equal(opts_kind("--data"), OPT_VALUE);
    assert_int_equal(opts_kind("-o"), OPT_VALUE);
    assert_int_equal(opts_kind("--seed"), OPT_VALUE);
    assert_int_equal(opts_kind("--bytes"), OPT_FLAG);
    assert_int_equal(opts_kind("--text"), OPT_FLAG);
    assert_int_equal(opts_kind("--data="), OPT_UNKNOWN);
    assert_int_equal(opts_kind("data"), OPT_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_left_alone),
        cmocka_unit_test(test_flag_with_value),
        cmocka_unit_test(test_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
