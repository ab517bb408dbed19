/*
 * Tests of DIR/config (tool/node/config.c) and of HOST:PORT with host names
 * (tool/node/hostaddr.c): comments, blanks, CRLF, keys the table knows and
 * does not, bad lines with their file and line, keys the command line
 * overrides (not even resolved), the bootstrap limit; numeric addresses,
 * localhost, malformed forms, and names that do not resolve (.invalid).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool/node/config.h"
#include "tool/node/hostaddr.h"

static char path[64];
static char err[1024];
static char *warnings;
static size_t warnings_len;

/* Writes text to a new temporary config file (path). */
static void write_config(const char *text)
{
    int fd;

    strcpy(path, "/tmp/emofs-config-test.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Reads path with skip; warnings land in `warnings`. */
static int read_config(unsigned skip, emofs_config_t *cfg)
{
    FILE *w = open_memstream(&warnings, &warnings_len);
    int rc;

    assert_non_null(w);
    err[0] = '\0';
    rc = emofs_config_read(path, skip, cfg, w, err, sizeof(err));
    fclose(w);
    unlink(path);
    return rc;
}

static void assert_addr(const dht_addr_t *a, const char *want)
{
    char buf[DHT_ADDRSTRLEN];

    assert_string_equal(dht_addr_format(a, buf), want);
}

static void test_config_keys(void **state)
{
    emofs_config_t cfg;

    (void)state;
    write_config("# a node\n"
                 "\n"
                 "listen 127.0.0.1:4100   # the daemon's\r\n"
                 "  bootstrap\tlocalhost:4101\n"
                 "bootstrap [::1]:4102\n"
                 "listen 127.0.0.1:4200\n"
                 "network_key keys/net.key\n"
                 "id_rule public\n");
    assert_int_equal(read_config(0, &cfg), 0);
    assert_int_equal(cfg.id_rule, DHT_ID_RULE_PUBLIC);
    assert_string_equal(cfg.network_key, "keys/net.key"); /* a path: read when a node starts */
    assert_true(cfg.has_listen);
    assert_addr(&cfg.listen, "127.0.0.1:4200"); /* the last one wins */
    assert_int_equal(cfg.n_bootstrap, 2);
    assert_addr(&cfg.bootstrap[0], "127.0.0.1:4101");
    assert_addr(&cfg.bootstrap[1], "[::1]:4102");
    assert_string_equal(warnings, "");
    free(warnings);
}

static void test_config_unknown_key(void **state)
{
    emofs_config_t cfg;
    char want[256];

    (void)state;
    write_config("listen 127.0.0.1:1\n\nlisen 127.0.0.1:2\nstore_maxx\nlog_level debug\n");
    assert_int_equal(read_config(0, &cfg), 0);
    snprintf(want, sizeof(want),
             "emofs: %s line 3: unknown setting 'lisen' (ignored)\n"
             "emofs: %s line 4: unknown setting 'store_maxx' (ignored)\n",
             path, path);
    assert_string_equal(warnings, want);
    assert_addr(&cfg.listen, "127.0.0.1:1");
    assert_int_equal(cfg.has_log_level, 1);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    free(warnings);
}

static void expect_error(const char *text, unsigned skip, unsigned line, const char *what)
{
    emofs_config_t cfg;
    char want[512];

    write_config(text);
    assert_int_equal(read_config(skip, &cfg), FS_EINVAL);
    snprintf(want, sizeof(want), "%s line %u: %s", path, line, what);
    assert_string_equal(err, want);
    free(warnings);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("log_level loud\n", 0, 1, "bad log_level 'loud' (want error, warn, info or debug)");
    expect_error("id_rule strict\n", 0, 1, "bad id_rule 'strict' (want off or public)");
    expect_error("\nbootstrap\n", 0, 2, "'bootstrap' needs a value");
    expect_error("listen a:1 b:2\n", 0, 1, "'listen' takes one value (got 'a:1' and 'b:2')");
    expect_error("listen 127.0.0.1\n", 0, 1, "bad address '127.0.0.1' (want HOST:PORT)");
    /* even a key the command line sets must be well formed */
    expect_error("bootstrap\n", CONFIG_BOOTSTRAP, 1, "'bootstrap' needs a value");
}

/* A name cannot resolve: compare only up to the reason. */
static void test_config_resolve_reason(void **state)
{
    emofs_config_t cfg;

    (void)state;
    write_config("bootstrap foo.invalid:1\n");
    assert_int_equal(read_config(0, &cfg), FS_EINVAL);
    assert_non_null(strstr(err, "line 1: cannot resolve host 'foo.invalid': "));
    assert_true(strlen(strstr(err, "': ")) > 3); /* a reason follows */
    free(warnings);
}

static void test_config_skip(void **state)
{
    emofs_config_t cfg;

    (void)state;
    /* What the command line sets is not read, so not looked up either. */
    write_config("listen foo.invalid:1\nbootstrap foo.invalid:2\n");
    assert_int_equal(read_config(CONFIG_LISTEN | CONFIG_BOOTSTRAP, &cfg), 0);
    assert_false(cfg.has_listen);
    assert_int_equal(cfg.n_bootstrap, 0);
    free(warnings);
}

static void test_config_limits(void **state)
{
    emofs_config_t cfg;
    char text[2048] = "";

    (void)state;
    for (int i = 0; i < EMOFS_MAX_BOOTSTRAP + 2; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "bootstrap 127.0.0.1:%d\n",
                 1000 + i);
    write_config(text);
    assert_int_equal(read_config(0, &cfg), 0);
    assert_int_equal(cfg.n_bootstrap, EMOFS_MAX_BOOTSTRAP);
    assert_addr(&cfg.bootstrap[EMOFS_MAX_BOOTSTRAP - 1], "127.0.0.1:1015");
    assert_non_null(strstr(warnings, "line 17: more than 16 bootstrap peers"));
    assert_non_null(strstr(warnings, "line 18: more than 16 bootstrap peers"));
    free(warnings);

    /* No file: nothing set, no error. */
    strcpy(path, "/tmp/emofs-config-test.none");
    unlink(path);
    assert_int_equal(read_config(0, &cfg), 0);
    assert_false(cfg.has_listen);
    assert_int_equal(cfg.n_bootstrap, 0);
    free(warnings);
}

static void assert_resolves(const char *hostport, const char *want)
{
    dht_addr_t a;

    assert_int_equal(hostaddr_resolve(&a, hostport, err, sizeof(err)), 0);
    assert_addr(&a, want);
}

static void test_hostaddr(void **state)
{
    static const char *const bad_form[] = {
        "localhost", "localhost:", ":4100", "[localhost]:1", "::1:5", "[::1]5",
        "localhost:65536", "localhost:-1", "localhost:http", "localhost:1 ", "",
    };
    dht_addr_t a;

    (void)state;
    assert_resolves("127.0.0.1:4100", "127.0.0.1:4100");
    assert_resolves("[::1]:4100", "[::1]:4100");
    assert_resolves("localhost:0", "127.0.0.1:0"); /* IPv4 first */
    assert_resolves("localhost:65535", "127.0.0.1:65535");
    for (size_t i = 0; i < sizeof(bad_form) / sizeof(bad_form[0]); i++)
        assert_int_equal(hostaddr_resolve(&a, bad_form[i], err, sizeof(err)), HOSTADDR_EFORM);
    assert_int_equal(hostaddr_resolve(&a, NULL, err, sizeof(err)), HOSTADDR_EFORM);
    assert_int_equal(hostaddr_resolve(&a, "foo.invalid:4100", err, sizeof(err)), HOSTADDR_ENAME);
    assert_int_equal(strncmp(err, "cannot resolve host 'foo.invalid': ", 35), 0);
    assert_int_equal(hostaddr_resolve(&a, "foo.invalid:4100", NULL, 0), HOSTADDR_ENAME);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_keys),   cmocka_unit_test(test_config_unknown_key),
        cmocka_unit_test(test_config_errors), cmocka_unit_test(test_config_resolve_reason),
        cmocka_unit_test(test_config_skip),   cmocka_unit_test(test_config_limits),
        cmocka_unit_test(test_hostaddr),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
