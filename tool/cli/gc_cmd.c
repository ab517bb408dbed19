/*
 * emofs gc: frees what no published file uses. See commands.h.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/progress.h"

#include <stdio.h>
#include <string.h>

static int gc_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs gc [--json] [--data DIR]\n"
               "Removes from the local store every blob that no file this node published\n"
               "uses (left by an interrupted put, a manifest imported but never published,\n"
               "a file unpinned while another used its blobs), and the temporary files and\n"
               "journals (.emofs-*.part, .emofs-*.journal) of gets from this data directory\n"
               "that were abandoned: emofs records where each get leaves them, and removes\n"
               "nothing else. A get still running keeps its files. Nothing in the network is\n"
               "touched.\n"
               "  --json                 what was freed as one JSON object\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n");
    return code;
}

static const opt_spec_t gc_opts[] = {
    CLI_OPT_HELP_SPEC, CLI_OPT_DATA_SPEC, {"--json", NULL, OPT_FLAG, CLI_OPT_JSON}, OPT_TABLE_END};

static void print_result(const cli_common_t *c, const ctl_freed_t *f)
{
    char blob_size[32], part_size[32], busy[96] = "";

    if (c->json) {
        json_t j;
        json_begin(&j, stdout);
        json_u64(&j, "blobs", f->blobs);
        json_u64(&j, "bytes", f->bytes);
        json_u64(&j, "partials", f->partials);
        json_u64(&j, "partial_bytes", f->partial_bytes);
        json_u64(&j, "running", f->busy);
        json_end(&j);
        return;
    }
    progress_format_bytes(f->bytes, blob_size, sizeof(blob_size));
    progress_format_bytes(f->partial_bytes, part_size, sizeof(part_size));
    if (f->busy > 0)
        snprintf(busy, sizeof(busy), "; %u gets still running kept theirs", (unsigned)f->busy);
    printf("removed %llu unused blobs (%s) and %u files of abandoned gets (%s)%s\n",
           (unsigned long long)f->blobs, blob_size, (unsigned)f->partials, part_size, busy);
}

int emofs_gc_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    opt_parser_t p;
    int code, id;

    opt_init(&p, argc, argv, 1, "gc", gc_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return gc_usage(stdout, 0);
        return cli_fail(EXIT_USAGE, "gc: takes no arguments ('%s')", p.value);
    }
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    c.quiet = 1;
    c.local = 1;
    req.type = CTL_GC;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_GC, res.status), "%s", res.message);
        ctl_msg_clear(&res);
        return code;
    }
    print_result(&c, &res.freed);
    if (res.message != NULL && res.message[0] != '\0')
        fprintf(stderr, "emofs: %s\n", res.message);
    ctl_msg_clear(&res);
    return EXIT_OK;
}
