/*
 * emofs ls: the files this node published. See commands.h.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int ls_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs ls [--bytes] [--json] [--data DIR]\n"
               "Lists the files this node published, one per line: key, size, name.\n"
               "On a terminal the size is for people, one field (300.0MiB); otherwise, or\n"
               "with --bytes, each line is KEY<TAB>SIZE<TAB>NAME with SIZE in bytes, for\n"
               "scripts (cut -f, awk -F'\\t').\n"
               "  --bytes                the script form, also on a terminal\n"
               "  --json                 one JSON object per line: key, size, name\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n");
    return code;
}

/* The size for people, without a blank inside ("300.0MiB", "12B"). */
static void human_size(uint64_t size, char *buf, size_t cap)
{
    char tmp[32];
    size_t j = 0;

    progress_format_bytes(size, tmp, sizeof(tmp));
    for (size_t i = 0; tmp[i] != '\0' && j + 1 < cap; i++)
        if (tmp[i] != ' ')
            buf[j++] = tmp[i];
    buf[j] = '\0';
}

enum { LS_OPT_BYTES = CLI_OPT_OWN };
static const opt_spec_t ls_opts[] = {
    CLI_OPTS_COMMON,
    {"--bytes", NULL, OPT_FLAG, LS_OPT_BYTES},
    OPT_TABLE_END,
};

int emofs_ls_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    char hex[65], sz[32];
    opt_parser_t p;
    int code, id, bytes = 0;

    opt_init(&p, argc, argv, 1, "ls", ls_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return ls_usage(stdout, 0);
        if (id == LS_OPT_BYTES) {
            bytes = 1;
            continue;
        }
        return cli_fail(EXIT_USAGE, "ls: unexpected argument '%s' (see emofs ls --help)", p.value);
    }
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    if (!isatty(STDOUT_FILENO))
        bytes = 1;
    c.quiet = 1;
    req.type = CTL_LS;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_LS, res.status), "%s", res.message);
    } else {
        for (uint32_t i = 0; i < res.ls_count; i++) {
            mf_key_to_hex(res.ls[i].key, hex);
            if (c.json) {
                json_t j;
                json_begin(&j, stdout);
                json_str(&j, "key", hex);
                json_u64(&j, "size", res.ls[i].size);
                json_str(&j, "name", res.ls[i].name);
                json_end(&j);
            } else if (bytes) {
                printf("%s\t%llu\t%s\n", hex, (unsigned long long)res.ls[i].size, res.ls[i].name);
            } else {
                human_size(res.ls[i].size, sz, sizeof(sz));
                printf("%s  %9s  %s\n", hex, sz, res.ls[i].name);
            }
        }
        if (fflush(stdout) != 0)
            code = cli_fail(EXIT_OUTPUT, "cannot write the list");
    }
    ctl_msg_clear(&res);
    return code;
}
