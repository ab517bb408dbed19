/*
 * tool/cli/json.c: the --json writer. Every line it writes is one valid JSON
 * object, whatever bytes the strings hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tool/cli/json.h"

/* Runs fill on a fresh writer and returns what it wrote (malloc()ed). */
static char *written(void (*fill)(json_t *j, const void *arg), const void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_t j;

    assert_non_null(f);
    json_begin(&j, f);
    fill(&j, arg);
    json_end(&j);
    fclose(f);
    return buf;
}

static void fill_members(json_t *j, const void *arg)
{
    (void)arg;
    json_str(j, "key", "ab12");
    json_u64(j, "size", 18446744073709551615ull);
    json_double(j, "seconds", 0.5);
    json_bool(j, "ok", 1);
    json_str(j, "none", NULL);
}

static void test_members(void **state)
{
    char *s = written(fill_members, NULL);

    (void)state;
    assert_string_equal(
        s, "{\"key\":\"ab12\",\"size\":18446744073709551615,\"seconds\":0.500,\"ok\":true,"
           "\"none\":null}\n");
    free(s);
}

static void fill_string(json_t *j, const void *arg)
{
    json_str(j, "s", arg);
}

static void test_escapes(void **state)
{
    char *s;

    (void)state;
    s = written(fill_string, "a\"b\\c\nd\te\x01");
    assert_string_equal(s, "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001\"}\n");
    free(s);
    /* valid UTF-8 passes through; invalid bytes become escapes */
    s = written(fill_string, "caf\xc3\xa9 \xff\xc3(\xe2\x82");
    assert_string_equal(s, "{\"s\":\"caf\xc3\xa9 \\u00ff\\u00c3(\\u00e2\\u0082\"}\n");
    free(s);
    s = written(fill_string, "\xc0\xaf"); /* overlong '/' */
    assert_string_equal(s, "{\"s\":\"\\u00c0\\u00af\"}\n");
    free(s);
}

static void fill_array(json_t *j, const void *arg)
{
    (void)arg;
    json_str(j, "name", "x");
    json_array_begin(j, "entries");
    for (int i = 0; i < 2; i++) {
        json_object_begin(j);
        json_u64(j, "i", (uint64_t)i);
        json_str(j, "k", "v");
        json_object_end(j);
    }
    json_array_end(j);
    json_array_begin(j, "empty");
    json_array_end(j);
    json_u64(j, "after", 7);
}

static void test_arrays(void **state)
{
    char *s = written(fill_array, NULL);

    (void)state;
    assert_string_equal(s, "{\"name\":\"x\",\"entries\":[{\"i\":0,\"k\":\"v\"},{\"i\":1,\"k\":\"v\"}],"
                           "\"empty\":[],\"after\":7}\n");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
