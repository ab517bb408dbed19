/*
 * "--name=value" for every command. See opts.h.
 */
#include "tool/cli/opts.h"

#include "tool/cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* Every option of every command, and whether it takes a value. A new
 * option goes here too: tests/cli/test_conventions.sh checks that every
 * option a --help shows with a value is accepted as --name=value. */
static const struct {
    const char *name;
    opt_kind_t kind;
} options[] = {
    /* every command */
    {"--data", OPT_VALUE},
    {"--bootstrap", OPT_VALUE},
    {"--listen", OPT_VALUE},
    {"-q", OPT_FLAG},
    {"--quiet", OPT_FLAG},
    {"-h", OPT_FLAG},
    {"--help", OPT_FLAG},
    {"--json", OPT_FLAG},
    /* get, manifest export */
    {"-o", OPT_VALUE},
    {"--output", OPT_VALUE},
    {"-f", OPT_FLAG},
    {"--force", OPT_FLAG},
    /* put */
    {"--name", OPT_VALUE},
    /* daemon */
    {"--log-level", OPT_VALUE},
    /* manifest export */
    {"--text", OPT_FLAG},
    /* ls */
    {"--bytes", OPT_FLAG},
    /* sim (tool/sim/sim_cli.c) */
    {"--nodes", OPT_VALUE},
    {"--k", OPT_VALUE},
    {"--alpha", OPT_VALUE},
    {"--retries", OPT_VALUE},
    {"--loss", OPT_VALUE},
    {"--delay", OPT_VALUE},
    {"--init", OPT_VALUE},
    {"--join-wave", OPT_VALUE},
    {"--settle", OPT_VALUE},
    {"--seed", OPT_VALUE},
    {"--lookups", OPT_VALUE},
    {"--values", OPT_VALUE},
    {"--value-size", OPT_VALUE},
    {"--batch", OPT_VALUE},
    {"--churn", OPT_VALUE},
    {"--duration", OPT_VALUE},
    {"--sample", OPT_VALUE},
    {"--republish", OPT_VALUE},
    {"--probe-lookups", OPT_VALUE},
    {"--csv", OPT_VALUE},
    {"--series", OPT_VALUE},
};

opt_kind_t opts_kind(const char *name)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
        if (strcmp(options[i].name, name) == 0)
            return options[i].kind;
    return OPT_UNKNOWN;
}

int opts_expand(int argc, char **argv, int *out_argc, char ***out_argv)
{
    /* At most one more entry per argument, and the NULL. */
    char **out = malloc(((size_t)(argc > 0 ? argc : 0) * 2 + 1) * sizeof(*out));
    int n = 0;

    if (out == NULL)
        return cli_fail(EXIT_FAIL, "out of memory");
    for (int i = 0; i < argc; i++) {
        char *a = argv[i], *eq = strchr(a, '=');

        out[n++] = a;
        if (i == 0)
            continue; /* the command's name */
        if (eq == NULL || strncmp(a, "--", 2) != 0) {
            /* "--name VALUE", "-o VALUE": the next argument is the value. */
            if (opts_kind(a) == OPT_VALUE && i + 1 < argc)
                out[n++] = argv[++i];
            continue;
        }
        *eq = '\0';
        opt_kind_t kind = opts_kind(a);
        if (kind == OPT_VALUE) {
            out[n++] = eq + 1;
            continue;
        }
        if (kind == OPT_FLAG) {
            free(out);
            return cli_fail(EXIT_USAGE, "option %s takes no value (got '%s=%s')", a, a, eq + 1);
        }
        *eq = '='; /* not ours: the command says it is unknown */
    }
    out[n] = NULL;
    *out_argc = n;
    *out_argv = out;
    return 0;
}
