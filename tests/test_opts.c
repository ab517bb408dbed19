/*
 * Tests of the option parser every command shares (tool/cli/opts.c):
 * "--name value" and "--name=value" alike, short aliases, "-" and "--",
 * and one usage error for an unknown option, a missing value or a flag
 * given a value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tool/cli/opts.h"

enum { O_DATA = 1, O_OUT, O_QUIET, O_HELP };

static const opt_spec_t table[] = {
    {"--data", NULL, OPT_VALUE, O_DATA},
    {"--output", "-o", OPT_VALUE, O_OUT},
    {"--quiet", "-q", OPT_FLAG, O_QUIET},
    {"--help", "-h", OPT_FLAG, O_HELP},
    OPT_TABLE_END,
};

/* Walks words (NULL-terminated; words[0] is the command) and writes what
 * opt_next() returned, one item each, joined with '|': "data=/d" for an
 * option (the table's name without "--", and its value), "arg:x" for an
 * argument, "ERROR" (the walk stops there), into out; the error line, if
 * any, into err_line. */
static void walk(const char *const *words, char *out, size_t cap, char *err_line, size_t err_cap)
{
    char *argv[16];
    int argc = 0, id;
    opt_parser_t p;
    FILE *err = fmemopen(err_line, err_cap, "w");

    assert_non_null(err);
    memset(err_line, 0, err_cap);
    for (; words[argc] != NULL; argc++)
        argv[argc] = (char *)words[argc];
    argv[argc] = NULL;
    out[0] = '\0';
    opt_init(&p, argc, argv, 1, "cmd", table, err);
    while ((id = opt_next(&p)) != OPT_END) {
        char item[128];

        if (id == OPT_ERROR)
            snprintf(item, sizeof(item), "ERROR");
        else if (id == OPT_ARG)
            snprintf(item, sizeof(item), "arg:%s", p.value);
        else
            snprintf(item, sizeof(item), "%s%s%s", p.name + 2, p.value ? "=" : "",
                     p.value ? p.value : "");
        if (out[0] != '\0')
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, item, cap - strlen(out) - 1);
        if (id == OPT_ERROR)
            break;
    }
    fclose(err);
}

static void assert_walk(const char *const *words, const char *want)
{
    char got[512], err[256];

    walk(words, got, sizeof(got), err, sizeof(err));
    assert_string_equal(got, want);
    if (strstr(want, "ERROR") == NULL)
        assert_string_equal(err, "");
}

static void assert_error(const char *const *words, const char *want_line)
{
    char got[512], err[256];

    walk(words, got, sizeof(got), err, sizeof(err));
    assert_non_null(strstr(got, "ERROR"));
    assert_string_equal(err, want_line);
}

static void test_value_forms(void **state)
{
    (void)state;
    assert_walk((const char *const[]){"cmd", "--data=/d", "f", NULL}, "data=/d|arg:f");
    assert_walk((const char *const[]){"cmd", "--data", "/d", "f", NULL}, "data=/d|arg:f");
    assert_walk((const char *const[]){"cmd", "K", "--output=a=b", NULL}, "arg:K|output=a=b");
    assert_walk((const char *const[]){"cmd", "--data=", "f", NULL}, "data=|arg:f");
    assert_walk((const char *const[]){"cmd", "-o", "x", "-q", NULL}, "output=x|quiet");
}

static void test_values_taken_as_given(void **state)
{
    (void)state;
    /* the word after an option that takes a value is its value, whatever it looks like */
    assert_walk((const char *const[]){"cmd", "-o", "--quiet=1", NULL}, "output=--quiet=1");
    assert_walk((const char *const[]){"cmd", "--data", "--x=y", "f", NULL}, "data=--x=y|arg:f");
    assert_walk((const char *const[]){"cmd", "-o", "-", NULL}, "output=-");
}

static void test_arguments(void **state)
{
    (void)state;
    /* "-" is an argument; "--" ends the options */
    assert_walk((const char *const[]){"cmd", "-", "-q", NULL}, "arg:-|quiet");
    assert_walk((const char *const[]){"cmd", "-q", "--", "--data", "-x", NULL},
                "quiet|arg:--data|arg:-x");
    assert_walk((const char *const[]){"cmd", "a=b", NULL}, "arg:a=b");
    assert_walk((const char *const[]){"cmd", NULL}, "");
}

static void test_errors(void **state)
{
    (void)state;
    assert_error((const char *const[]){"cmd", "--frob=1", NULL},
                 "emofs: cmd: unknown option '--frob=1' (see emofs cmd --help)\n");
    /* a short alias never splits at '=' */
    assert_error((const char *const[]){"cmd", "-o=x", NULL},
                 "emofs: cmd: unknown option '-o=x' (see emofs cmd --help)\n");
    assert_error((const char *const[]){"cmd", "--quiet=1", NULL},
                 "emofs: cmd: option --quiet takes no value (got '--quiet=1')\n");
    assert_error((const char *const[]){"cmd", "--help=", NULL},
                 "emofs: cmd: option --help takes no value (got '--help=')\n");
    assert_error((const char *const[]){"cmd", "f", "-o", NULL}, "emofs: cmd: -o needs a value\n");
    /* a prefix of a name is not the name */
    assert_error((const char *const[]){"cmd", "--dat", "x", NULL},
                 "emofs: cmd: unknown option '--dat' (see emofs cmd --help)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_values_taken_as_given),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
