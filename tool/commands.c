/*
 * emofs put, get, status. See commands.h; manifest lives in
 * manifest_cmd.c, ls in ls_cmd.c.
 */
#include "tool/commands.h"

#include "tool/cli.h"
#include "tool/keyarg.h"
#include "tool/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMMON_HELP                                                                                \
    "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n"               \
    "  --bootstrap HOST:PORT  with no daemon running: join the network through this\n"             \
    "                         node (repeatable; default: DIR/config); HOST is an\n"                \
    "                         address (192.0.2.7, [::1]) or a name (localhost)\n"                  \
    "  --listen HOST:PORT     with no daemon running: the embedded node's address\n"               \
    "  -q, --quiet            no progress line, no summary\n"

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void summary(const cli_common_t *c, const char *verb, const char *name, uint64_t size,
                    double seconds)
{
    char sz[32], rate[32];

    if (c->quiet)
        return;
    progress_format_bytes(size, sz, sizeof(sz));
    progress_format_bytes(seconds > 0 ? (uint64_t)((double)size / seconds) : 0, rate, sizeof(rate));
    fprintf(stderr, "emofs: %s %s, %s in %.2f s (%s/s)\n", verb, name, sz, seconds, rate);
}

/* ---- put ------------------------------------------------------------------ */

static int put_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs put FILE [options]\n"
               "Stores FILE in the network (or only locally when this node knows no peers)\n"
               "and prints its key alone on the last line of stdout.\n" COMMON_HELP);
    return code;
}

int emofs_put_main(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *file = NULL;
    char abs[PATH_MAX];
    ctl_msg_t req = {0}, res;
    struct stat st;
    double t0 = now_s();
    int code, fd;

    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return put_usage(stdout, 0);
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_fail(EXIT_USAGE, "put: unknown option '%s' (see emofs put --help)", argv[i]);
        }
        if (file != NULL)
            return cli_fail(EXIT_USAGE, "put: one FILE at a time (got '%s' and '%s')", file,
                            argv[i]);
        file = argv[i];
    }
    if (file == NULL)
        return cli_fail(EXIT_USAGE, "put: missing FILE (see emofs put --help)");
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    /* Check the file here: the clearest message, before any node starts. */
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file,
                        S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    }
    close(fd);
    if (realpath(file, abs) == NULL)
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file, strerror(errno));
    req.type = CTL_PUT;
    req.flags = CTL_FLAG_PROGRESS;
    req.path = abs;
    code = cli_run(&c, &req, &res);
    if (code)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_PUT, res.status), "%s", res.message);
    } else {
        char hex[65];
        mf_key_to_hex(res.key, hex);
        summary(&c, "stored", file, (uint64_t)st.st_size, now_s() - t0);
        printf("%s\n", hex);
        fflush(stdout);
    }
    ctl_msg_clear(&res);
    return code;
}

/* ---- get ------------------------------------------------------------------ */

static int get_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs get KEY [-o PATH] [options]\n"
               "Fetches the file with KEY (64 hex digits, an emofs: line from `emofs manifest\n"
               "export --text`, or the path of a manifest file from `emofs manifest export`)\n"
               "and writes it to PATH, or under its own name in the current directory. An\n"
               "interrupted get resumes when run again.\n"
               "  -o, --output PATH      where to write the file (a directory: under its "
               "name)\n" COMMON_HELP);
    return code;
}

int emofs_get_main(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *keyarg = NULL, *out = NULL;
    char cwd[PATH_MAX];
    ctl_msg_t req = {0}, res;
    struct stat st;
    double t0 = now_s();
    int code;

    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return get_usage(stdout, 0);
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc)
                return cli_fail(EXIT_USAGE, "%s needs a path", argv[i]);
            out = argv[++i];
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_fail(EXIT_USAGE, "get: unknown option '%s' (see emofs get --help)", argv[i]);
        }
        if (keyarg != NULL)
            return cli_fail(EXIT_USAGE, "get: one KEY at a time");
        keyarg = argv[i];
    }
    if (keyarg == NULL)
        return cli_fail(EXIT_USAGE, "get: missing KEY (see emofs get --help)");
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return cli_fail(EXIT_OUTPUT, "cannot find the current directory: %s", strerror(errno));
    code = keyarg_resolve(&c, keyarg, req.key);
    if (code)
        return code;
    req.type = CTL_GET;
    req.flags = CTL_FLAG_PROGRESS;
    req.cwd = cwd;
    req.out = (char *)"";
    if (out != NULL && stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A directory: the file goes there under its own name. */
        if (realpath(out, cwd) == NULL)
            return cli_fail(EXIT_OUTPUT, "cannot use %s: %s", out, strerror(errno));
    } else if (out != NULL) {
        req.out = (char *)out;
    }
    code = cli_run(&c, &req, &res);
    if (code)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_GET, res.status), "%s", res.message);
    } else {
        summary(&c, "wrote", res.path, res.size, now_s() - t0);
        if (!c.quiet && res.message != NULL && res.message[0] != '\0')
            fprintf(stderr, "emofs: %s\n", res.message);
        printf("%s\n", res.path);
        fflush(stdout);
    }
    ctl_msg_clear(&res);
    return code;
}

/* ---- status ---------------------------------------------------------------- */

static int simple_usage(FILE *f, const char *cmd, const char *what, int code)
{
    fprintf(f, "usage: emofs %s [--data DIR]\n%s\n", cmd, what);
    return code;
}

static int parse_simple(cli_common_t *c, int argc, char **argv, const char *what)
{
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(c, argc, argv, &i);
        if (r < 0)
            return -r;
        if (r)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return simple_usage(stdout, argv[0], what, -1);
        return cli_fail(EXIT_USAGE, "%s: unexpected argument '%s' (see emofs %s --help)", argv[0],
                        argv[i], argv[0]);
    }
    return cli_common_finish(c);
}

int emofs_status_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    char hex[65], b1[32], b2[32];
    int code = parse_simple(&c, argc, argv,
                            "Shows the node of the data directory: id, address, peers known,\n"
                            "values it holds for others, local blobs, files published.");

    if (code)
        return code < 0 ? 0 : code;
    c.quiet = 1;
    req.type = CTL_STATUS;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_STATUS, res.status), "%s", res.message);
    } else {
        mf_key_to_hex(res.st.node_id, hex);
        progress_format_bytes(res.st.value_bytes, b1, sizeof(b1));
        progress_format_bytes(res.st.blob_bytes, b2, sizeof(b2));
        printf("node       %s\n", hex);
        printf("address    %s\n", res.st.addr);
        printf("peers      %u\n", (unsigned)res.st.peers);
        printf("values     %llu (%s) held for the network\n", (unsigned long long)res.st.values,
               b1);
        printf("blobs      %llu (%s) in the local store\n", (unsigned long long)res.st.blobs, b2);
        printf("published  %u files\n", (unsigned)res.st.published);
        printf("data       %s\n", c.dir);
    }
    ctl_msg_clear(&res);
    return code;
}
