/*
 * The small things every command shares: error lines, exit codes, the
 * data directory, the common options. See cli.h; cli_run.c runs requests.
 */
#include "tool/cli/cli.h"

#include "tool/node/hostaddr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("emofs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

const char *cli_default_dir(void)
{
    static char buf[4096];
    const char *home = getenv("EMOFS_HOME");

    if (home != NULL && home[0] != '\0')
        return home;
    home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return NULL;
    snprintf(buf, sizeof(buf), "%s/.emofs", home);
    return buf;
}

int cli_common_option(cli_common_t *c, int id, const char *value)
{
    dht_addr_t addr;

    switch (id) {
    case CLI_OPT_QUIET:
        c->quiet = 1;
        return 1;
    case CLI_OPT_JSON:
        c->json = 1;
        return 1;
    case CLI_OPT_DATA:
        c->dir = value;
        return 1;
    case CLI_OPT_LISTEN:
        if (hostaddr_option("--listen", value, &addr) != 0)
            return -EXIT_USAGE;
        c->listen = dht_addr_format(&addr, c->listen_text);
        return 1;
    case CLI_OPT_NETWORK_KEY:
        c->network_key = value; /* read when an embedded node starts */
        return 1;
    case CLI_OPT_BOOTSTRAP:
        if (c->n_bootstrap == EMOFS_MAX_BOOTSTRAP) {
            cli_fail(EXIT_USAGE, "at most %d --bootstrap peers", EMOFS_MAX_BOOTSTRAP);
            return -EXIT_USAGE;
        }
        if (hostaddr_option("--bootstrap", value, &c->bootstrap[c->n_bootstrap]) != 0)
            return -EXIT_USAGE;
        c->n_bootstrap++;
        return 1;
    default:
        return 0;
    }
}

int cli_next_option(opt_parser_t *p, cli_common_t *c)
{
    int id;

    while ((id = opt_next(p)) != OPT_END && id != OPT_ERROR) {
        int r = cli_common_option(c, id, p->value);
        if (r < 0)
            return OPT_ERROR; /* cli_common_option's errors are all EXIT_USAGE */
        if (r == 0)
            return id;
    }
    return id;
}

int cli_key_arg(const char *cmd, const char **keyarg, const char *value)
{
    if (*keyarg != NULL)
        return cli_fail(EXIT_USAGE, "%s: one KEY at a time", cmd);
    *keyarg = value;
    return 0;
}

int cli_key_given(const char *cmd, const char *keyarg)
{
    if (keyarg == NULL)
        return cli_fail(EXIT_USAGE, "%s: missing KEY (see emofs %s --help)", cmd, cmd);
    return 0;
}

int cli_common_finish(cli_common_t *c)
{
    if (c->dir == NULL && (c->dir = cli_default_dir()) == NULL)
        return cli_fail(EXIT_USAGE, "no data directory: set --data, $EMOFS_HOME or $HOME");
    return 0;
}

int cli_exit_code(uint8_t req_type, int status)
{
    switch (status) {
    case FS_OK:
        return EXIT_OK;
    case FS_ECANCELED:
        return EXIT_INTERRUPTED;
    case FS_ENOPEERS:
        return EXIT_NOPEERS;
    case FS_EREFUSED:
        return EXIT_REFUSED;
    case FS_EBUSY:
        return EXIT_BUSY;
    case FS_EBADHASH:
    case FS_ECORRUPT:
        return EXIT_CORRUPT;
    case FS_ENOSPC:
        return EXIT_OUTPUT;
    case FS_EEXIST:
        if (req_type == CTL_GET)
            return EXIT_EXISTS;
        return req_type == CTL_PUT ? EXIT_INPUT : EXIT_FAIL;
    case FS_ENOENT:
    case FS_ETIMEDOUT:
        if (req_type == CTL_PUT)
            return status == FS_ENOENT ? EXIT_INPUT : EXIT_NOPEERS;
        return EXIT_NOTFOUND;
    case FS_EACCES:
    case FS_EINVAL:
    case FS_EIO:
    case FS_ETOOBIG:
        return req_type == CTL_PUT ? EXIT_INPUT : req_type == CTL_GET ? EXIT_OUTPUT : EXIT_FAIL;
    default:
        return EXIT_FAIL;
    }
}

int cli_open_exit_code(int err)
{
    return err == FS_EBUSY ? EXIT_BUSY : err == FS_EINVAL ? EXIT_USAGE : EXIT_FAIL;
}
