/*
 * emofs rm: unpins a file this node published. See commands.h.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/progress.h"

#include <stdio.h>
#include <string.h>

static int rm_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs rm KEY [--json] [--data DIR]\n"
               "Unpins the file (or directory) with KEY that this node published: takes it\n"
               "out of `emofs ls` and removes its blobs from the local store, except those\n"
               "another published file uses too. Its copies in the network are not deleted:\n"
               "nobody republishes them any more, so they expire within their TTL (24 h by\n"
               "default). Exits 4 when KEY is not among the files this node published.\n"
               "  --json                 what was freed as one JSON object\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n");
    return code;
}

static const opt_spec_t rm_opts[] = {
    CLI_OPT_HELP_SPEC, CLI_OPT_DATA_SPEC, {"--json", NULL, OPT_FLAG, CLI_OPT_JSON}, OPT_TABLE_END};

/* "24 h", "90 s": how long the network's copies may still live. */
static void format_ttl(uint32_t s, char *buf, size_t cap)
{
    if (s >= 3600 && s % 3600 == 0)
        snprintf(buf, cap, "%u h", (unsigned)(s / 3600));
    else
        snprintf(buf, cap, "%u s", (unsigned)s);
}

static void print_result(const cli_common_t *c, const char *hex, const ctl_msg_t *res)
{
    const ctl_freed_t *f = &res->freed;
    char size[32], ttl[32], kept[96] = "";

    if (c->json) {
        json_t j;
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        json_str(&j, "name", res->name);
        json_u64(&j, "blobs", f->blobs);
        json_u64(&j, "bytes", f->bytes);
        json_u64(&j, "shared", f->shared);
        json_u64(&j, "ttl", f->ttl_s);
        json_end(&j);
        return;
    }
    progress_format_bytes(f->bytes, size, sizeof(size));
    format_ttl(f->ttl_s, ttl, sizeof(ttl));
    if (f->shared > 0)
        snprintf(kept, sizeof(kept), " (%llu kept: other published files use them)",
                 (unsigned long long)f->shared);
    printf("unpinned %s (%s): removed %llu blobs, %s%s; copies in the network expire within "
           "%s\n",
           hex, res->name, (unsigned long long)f->blobs, size, kept, ttl);
}

int emofs_rm_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    const char *keyarg = NULL;
    char hex[65];
    opt_parser_t p;
    int code, id;

    opt_init(&p, argc, argv, 1, "rm", rm_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return rm_usage(stdout, 0);
        if ((code = cli_key_arg("rm", &keyarg, p.value)) != 0)
            return code;
    }
    if ((code = cli_key_given("rm", keyarg)) != 0)
        return code;
    /* Only a key: a manifest given as a file or a line would be imported
     * into the very store rm cleans. */
    if (strlen(keyarg) != 64 || mf_key_from_hex(req.key, keyarg) != 0)
        return cli_fail(EXIT_USAGE,
                        "rm: malformed key '%s' (want 64 hex digits, as emofs ls shows)", keyarg);
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    c.quiet = 1;
    c.local = 1;
    req.type = CTL_RM;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_RM, res.status), "%s", res.message);
        ctl_msg_clear(&res);
        return code;
    }
    mf_key_to_hex(req.key, hex);
    print_result(&c, hex, &res);
    if (res.message != NULL && res.message[0] != '\0')
        fprintf(stderr, "emofs: %s\n", res.message);
    ctl_msg_clear(&res);
    return EXIT_OK;
}
