/*
 * emofs health: how many nodes hold each piece of a file. See commands.h.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/keyarg.h"

#include <stdio.h>
#include <string.h>

static int health_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs health KEY [--json] [--data DIR]\n"
               "Counts, for the manifest nodes and every chunk of the file with KEY (an\n"
               "encrypted file's KEY:SECRET, or a manifest file or line), how many of the\n"
               "nodes closest to it hold it, and\n"
               "prints the fewest and the median. Exits 0 when every piece is held by at\n"
               "least one node, 4 when some piece is held by none (or the manifest is not\n"
               "found). For a directory's key, its listing's nodes are counted (each file\n"
               "in it has a key of its own).\n"
               "  --json                 the counts as one JSON object\n"
               "  --bootstrap HOST:PORT  with no daemon running: a node to join through\n"
               "  --network-key FILE     with no daemon running: the private network's key\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n");
    return code;
}

static const opt_spec_t health_opts[] = {CLI_OPTS_COMMON, OPT_TABLE_END};

int emofs_health_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    const char *keyarg = NULL;
    char hex[65];
    opt_parser_t p;
    int code, id;

    opt_init(&p, argc, argv, 1, "health", health_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return health_usage(stdout, 0);
        if ((code = cli_key_arg("health", &keyarg, p.value)) != 0)
            return code;
    }
    if ((code = cli_key_given("health", keyarg)) != 0)
        return code;
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    if (mf_capability_from_text(keyarg, req.key, req.secret) == 0)
        req.has_secret = 1;
    else if ((code = keyarg_resolve(&c, keyarg, req.key)) != 0)
        return code;
    c.quiet = 1;
    req.type = CTL_HEALTH;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_HEALTH, res.status), "%s", res.message);
        ctl_msg_clear(&res);
        return code;
    }
    mf_key_to_hex(req.key, hex);
    if (c.json) {
        json_t j;
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        json_bool(&j, "directory", res.health.is_dir);
        json_u64(&j, "pieces", res.health.pieces);
        json_u64(&j, "missing", res.health.missing);
        json_u64(&j, "copies_fewest", res.health.fewest);
        json_u64(&j, "copies_median", res.health.median);
        json_end(&j);
    } else if (res.health.missing == 0) {
        printf("%s: %u pieces, each on at least %u nodes (median %u)\n", hex, res.health.pieces,
               res.health.fewest, res.health.median);
    } else {
        printf("%s: %u of %u pieces on no node: the file cannot be got whole (median %u)\n", hex,
               res.health.missing, res.health.pieces, res.health.median);
    }
    code = res.health.missing == 0 ? EXIT_OK : EXIT_NOTFOUND;
    ctl_msg_clear(&res);
    return code;
}
