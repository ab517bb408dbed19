/*
 * emofs put, get, status. See commands.h; manifest lives in
 * manifest_cmd.c, ls in ls_cmd.c.
 */
#include "tool/cli/commands.h"

#include "tool/cli/cli.h"
#include "tool/cli/json.h"
#include "tool/cli/keyarg.h"
#include "tool/cli/output.h"
#include "tool/cli/progress.h"

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
    "  --network-key FILE     with no daemon running: join the private network of this\n"          \
    "                         key file (default: DIR/config's network_key; a\n"                    \
    "                         running daemon uses its own, and the command says so)\n"             \
    "  -q, --quiet            no progress line, no summary\n"                                      \
    "  --json                 the result as one JSON object on stdout (README: JSON)\n"

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

/* "emofs: stored NAME, SIZE in T s (RATE/s), on M nodes (fewest F)": how
 * many nodes took its chunks and manifest, the median and the fewest; or
 * that it stayed on this node, when the node knew no peers. */
static void put_summary(const cli_common_t *c, const char *name, uint64_t size, double seconds,
                        const ctl_msg_t *res)
{
    char sz[32], rate[32];

    if (c->quiet)
        return;
    progress_format_bytes(size, sz, sizeof(sz));
    progress_format_bytes(seconds > 0 ? (uint64_t)((double)size / seconds) : 0, rate, sizeof(rate));
    fprintf(stderr, "emofs: stored %s, %s in %.2f s (%s/s), ", name, sz, seconds, rate);
    if (res->copies_fewest == 0)
        fprintf(stderr, "on this node only (no peers known)\n");
    else
        fprintf(stderr, "on %u node%s (fewest %u)\n", res->copies_median,
                res->copies_median == 1 ? "" : "s", res->copies_fewest);
}

static int put_usage(FILE *f, int code)
{
    fprintf(
        f,
        "usage: emofs put FILE|DIR [options]\n"
        "       emofs put - [--name NAME] [options]\n"
        "Stores FILE in the network (or only locally when this node knows no peers)\n"
        "and prints its key alone on the last line of stdout. DIR: the whole tree,\n"
        "files, directories and symbolic links (stored as links, never followed),\n"
        "with their permission bits; `emofs get KEY` recreates it. With -, stores\n"
        "what comes on standard input, chunked as it comes (no temporary copy).\n"
        "  --name NAME            the name a file from standard input gets in its\n"
        "                         manifest (default: stdin)\n"
        "  --copies N             how many nodes keep each chunk, 1..20 (default: the\n"
        "                         node's 'copies' setting, 8); manifests go on 20\n"
        "  --encrypt              encrypt the file: the nodes that hold it see neither\n"
        "                         its bytes nor its name. Prints its capability,\n"
        "                         KEY:SECRET, instead of the key: keep it secret, it is\n"
        "                         what reads the file (files only, not directories)\n" COMMON_HELP);
    return code;
}

/* Sends a PUT and prints its key. what names the input in the summary;
 * size is the file's, 0 for a stream (then counted as it is sent), or
 * UINT64_MAX for a directory (the daemon's message says what it held). */
static int put_run(const cli_common_t *c, ctl_msg_t *req, cli_io_t *io, const char *what,
                   uint64_t size, double t0)
{
    ctl_msg_t res;
    int code = cli_run_io(c, req, &res, io);

    if (code)
        return code;
    if (io->in_fd >= 0)
        size = io->in_bytes;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_PUT, res.status), "%s", res.message);
    } else if ((req->flags & CTL_FLAG_SEAL) && !res.has_secret) {
        /* A daemon from before sealing ignores the flag: the file is stored
         * in the clear, and the user must know. */
        code = cli_fail(EXIT_FAIL,
                        "the node stored %s without encrypting it (a daemon older than "
                        "--encrypt: restart it with this emofs)",
                        what);
    } else if (c->json) {
        char hex[130];
        json_t j;
        mf_key_to_hex(res.key, hex);
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        if (res.has_secret) {
            mf_capability_to_text(res.key, res.secret, hex);
            json_str(&j, "capability", hex);
        }
        json_str(&j, "input", what);
        if (size != UINT64_MAX) {
            json_u64(&j, "size", size);
            json_u64(&j, "copies_fewest", res.copies_fewest);
            json_u64(&j, "copies_median", res.copies_median);
        } else {
            json_str(&j, "directory", res.message);
        }
        json_double(&j, "seconds", now_s() - t0);
        json_end(&j);
    } else {
        char hex[130];
        mf_key_to_hex(res.key, hex);
        if (res.has_secret)
            mf_capability_to_text(res.key, res.secret, hex);
        if (size != UINT64_MAX)
            put_summary(c, what, size, now_s() - t0, &res);
        else if (!c->quiet)
            fprintf(stderr, "emofs: stored %s (%s) in %.2f s\n", what, res.message, now_s() - t0);
        printf("%s\n", hex);
        fflush(stdout);
    }
    ctl_msg_clear(&res);
    return code;
}

/* @return --copies N as PUT flags (CTL_FLAG_COPIES_MASK), or -1 after
 * saying why N will not do. */
static long copies_flags(const char *value)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n < 1 ||
        n > EMOFS_COPIES_MAX) {
        cli_fail(EXIT_USAGE, "put: bad --copies '%s' (want a count, 1..%u)", value,
                 EMOFS_COPIES_MAX);
        return -1;
    }
    return (long)(n << CTL_FLAG_COPIES_SHIFT);
}

/* put -: standard input, streamed to the node. */
static int put_stdin(const cli_common_t *c, const char *name, uint32_t flags, double t0)
{
    ctl_msg_t req = {0};
    cli_io_t io = {STDIN_FILENO, -1, 0};
    struct stat st;

    if (!mf_name_valid(name))
        return cli_fail(EXIT_USAGE, "put: '%s' cannot be a file name (no '/', not . or ..)", name);
    if (fstat(STDIN_FILENO, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_fail(EXIT_INPUT, "cannot read standard input: it is a directory");
    req.type = CTL_PUT;
    req.flags = CTL_FLAG_PROGRESS | CTL_FLAG_STREAM | flags;
    req.path = (char *)name;
    return put_run(c, &req, &io, "standard input", 0, t0);
}

enum { PUT_OPT_NAME = CLI_OPT_OWN, PUT_OPT_COPIES, PUT_OPT_ENCRYPT };
static const opt_spec_t put_opts[] = {
    CLI_OPTS_COMMON,
    {"--name", NULL, OPT_VALUE, PUT_OPT_NAME},
    {"--copies", NULL, OPT_VALUE, PUT_OPT_COPIES},
    {"--encrypt", NULL, OPT_FLAG, PUT_OPT_ENCRYPT},
    OPT_TABLE_END,
};

int emofs_put_main(int argc, char **argv)
{
    cli_common_t c = {0};
    const char *file = NULL, *name = "stdin";
    char abs[PATH_MAX];
    ctl_msg_t req = {0};
    cli_io_t io = {-1, -1, 0};
    struct stat st;
    double t0 = now_s();
    opt_parser_t p;
    int code, fd, id, name_given = 0;
    uint32_t flags = 0; /* --copies and --encrypt, as PUT flags */

    opt_init(&p, argc, argv, 1, "put", put_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return put_usage(stdout, 0);
        if (id == PUT_OPT_NAME) {
            name = p.value;
            name_given = 1;
            continue;
        }
        if (id == PUT_OPT_COPIES) {
            long f = copies_flags(p.value);
            if (f < 0)
                return EXIT_USAGE;
            flags = (flags & ~CTL_FLAG_COPIES_MASK) | (uint32_t)f;
            continue;
        }
        if (id == PUT_OPT_ENCRYPT) {
            flags |= CTL_FLAG_SEAL;
            continue;
        }
        if (file != NULL)
            return cli_fail(EXIT_USAGE, "put: one FILE at a time (got '%s' and '%s')", file,
                            p.value);
        file = p.value;
    }
    if (file == NULL)
        return cli_fail(EXIT_USAGE, "put: missing FILE (see emofs put --help)");
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    if (strcmp(file, "-") == 0)
        return put_stdin(&c, name, flags, t0);
    if (name_given)
        return cli_fail(EXIT_USAGE, "put: --name is for standard input (put -); a file keeps its "
                                    "own name");
    /* Check the file here: the clearest message, before any node starts. */
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0)
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file, strerror(errno));
    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        close(fd);
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file,
                        "not a regular file or a directory");
    }
    close(fd);
    if ((flags & CTL_FLAG_SEAL) && S_ISDIR(st.st_mode))
        return cli_fail(EXIT_USAGE, "put: --encrypt takes a file, not a directory (yet): put "
                                    "its files one by one, or leave out --encrypt");
    if (realpath(file, abs) == NULL)
        return cli_fail(EXIT_INPUT, "cannot read %s: %s", file, strerror(errno));
    req.type = CTL_PUT;
    req.flags = CTL_FLAG_PROGRESS | flags;
    req.path = abs;
    return put_run(&c, &req, &io, file, S_ISDIR(st.st_mode) ? UINT64_MAX : (uint64_t)st.st_size,
                   t0);
}

/* ---- get and cat ----------------------------------------------------------- */

static int get_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs get KEY [-o PATH] [--force] [options]\n"
               "Fetches the file with KEY (64 hex digits, an encrypted file's KEY:SECRET from\n"
               "`emofs put --encrypt`, an emofs: line from `emofs manifest export --text`,\n"
               "or the path of a manifest file from `emofs manifest export`)\n"
               "and writes it to PATH, or under its own name in the current directory. An\n"
               "interrupted get resumes when run again.\n"
               "Nothing that exists is replaced: a file already there with other bytes\n"
               "makes the get fail (exit 9) unless you name it with -o and give\n"
               "--force; a name the manifest gives, a symlink, directory or device\n"
               "never is replaced.\n"
               "A FIFO or character device is written into.\n"
               "  -o, --output PATH      where to write the file (a directory: under its\n"
               "                         name; -: standard output, in order)\n"
               "  -f, --force            replace an existing regular file named with -o\n"
               "  --seed                 through a daemon: it keeps the file's blobs, lists the\n"
               "                         file as published (emofs ls; emofs rm ends it) and\n"
               "                         tells the network it serves the file, so that others\n"
               "                         get it from it too (fetches every chunk; no "
               "resume)\n" COMMON_HELP);
    return code;
}

static int cat_usage(FILE *f, int code)
{
    fprintf(
        f,
        "usage: emofs cat KEY [options]\n"
        "Writes the file with KEY to standard output, in order (chunks are still\n"
        "fetched in parallel; memory stays bounded). Same as `emofs get KEY -o -`.\n" COMMON_HELP);
    return code;
}

/* Runs a GET that streams the file into out_fd (named out). */
static int get_stream(const cli_common_t *c, ctl_msg_t *req, int out_fd, const char *out,
                      int summarize, double t0)
{
    ctl_msg_t res;
    int code;

    req->flags |= CTL_FLAG_STREAM;
    req->out = (char *)"";
    cli_io_t io = {-1, out_fd, 0};
    code = cli_run_io(c, req, &res, &io);
    if (code)
        return code;
    if (res.status != 0)
        code = cli_fail(cli_exit_code(CTL_GET, res.status), "%s", res.message);
    else if (c->json) {
        char hex[65];
        json_t j;
        mf_key_to_hex(req->key, hex);
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        json_str(&j, "path", out);
        json_u64(&j, "size", res.size);
        json_str(&j, "note", res.message);
        json_double(&j, "seconds", now_s() - t0);
        json_end(&j);
    } else if (summarize)
        summary(c, "wrote", out, res.size, now_s() - t0);
    ctl_msg_clear(&res);
    return code;
}

enum { GET_OPT_OUTPUT = CLI_OPT_OWN, GET_OPT_FORCE, GET_OPT_SEED };
static const opt_spec_t get_opts[] = {
    CLI_OPTS_COMMON,
    {"--output", "-o", OPT_VALUE, GET_OPT_OUTPUT},
    {"--force", "-f", OPT_FLAG, GET_OPT_FORCE},
    {"--seed", NULL, OPT_FLAG, GET_OPT_SEED},
    OPT_TABLE_END,
};
static const opt_spec_t cat_opts[] = {CLI_OPTS_COMMON, OPT_TABLE_END};

static int get_run(int argc, char **argv, int is_cat)
{
    cli_common_t c = {0};
    const char *keyarg = NULL, *out = is_cat ? "-" : NULL;
    char cwd[PATH_MAX];
    ctl_msg_t req = {0}, res;
    struct stat st;
    double t0 = now_s();
    opt_parser_t p;
    int code, id, force = 0, seed = 0, out_fd = -1;

    opt_init(&p, argc, argv, 1, argv[0], is_cat ? cat_opts : get_opts, stderr);
    while ((id = cli_next_option(&p, &c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return is_cat ? cat_usage(stdout, 0) : get_usage(stdout, 0);
        if (id == GET_OPT_OUTPUT) {
            out = p.value;
            continue;
        }
        if (id == GET_OPT_FORCE) {
            force = 1;
            continue;
        }
        if (id == GET_OPT_SEED) {
            seed = 1;
            continue;
        }
        if ((code = cli_key_arg(argv[0], &keyarg, p.value)) != 0)
            return code;
    }
    if ((code = cli_key_given(argv[0], keyarg)) != 0)
        return code;
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    if (seed && !cli_daemon_running(&c))
        return cli_fail(EXIT_USAGE,
                        "%s: --seed needs a running daemon (emofs daemon --data %s): the node "
                        "that serves the file must stay up after the command",
                        argv[0], c.dir);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return cli_fail(EXIT_OUTPUT, "cannot find the current directory: %s", strerror(errno));
    if (mf_capability_from_text(keyarg, req.key, req.secret) == 0)
        req.has_secret = 1;
    else if ((code = keyarg_resolve(&c, keyarg, req.key)) != 0)
        return code;
    req.type = CTL_GET;
    req.flags = CTL_FLAG_PROGRESS | (force ? CTL_FLAG_FORCE : 0) |
                (req.has_secret ? CTL_FLAG_SEAL : 0) | (seed ? CTL_FLAG_SEED : 0);
    req.cwd = cwd;
    req.out = (char *)"";
    if (out != NULL) {
        int r = output_open_stream(out, &out_fd);
        if (r < 0)
            return -r;
        if (r == 1 && c.json && out_fd == STDOUT_FILENO)
            return cli_fail(EXIT_USAGE, "%s: --json cannot share standard output with the file",
                            argv[0]);
        if (r == 1) {
            char abs_out[PATH_MAX];
            const char *shown = out_fd == STDOUT_FILENO          ? "standard output"
                                : realpath(out, abs_out) != NULL ? abs_out
                                                                 : out;
            code = get_stream(&c, &req, out_fd, shown, !is_cat, t0);
            if (out_fd != STDOUT_FILENO)
                close(out_fd);
            return code;
        }
    }
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
    } else if (c.json) {
        char hex[65];
        json_t j;
        mf_key_to_hex(req.key, hex);
        json_begin(&j, stdout);
        json_str(&j, "key", hex);
        json_str(&j, "path", res.path);
        json_u64(&j, "size", res.size);
        json_str(&j, "note", res.message);
        json_double(&j, "seconds", now_s() - t0);
        json_end(&j);
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

int emofs_get_main(int argc, char **argv)
{
    return get_run(argc, argv, 0);
}

int emofs_cat_main(int argc, char **argv)
{
    return get_run(argc, argv, 1);
}

/* ---- status ---------------------------------------------------------------- */

static int simple_usage(FILE *f, const char *cmd, const char *what, int code)
{
    fprintf(f, "usage: emofs %s [--data DIR] [--json]\n%s\n", cmd, what);
    return code;
}

static int parse_simple(cli_common_t *c, int argc, char **argv, const char *what)
{
    static const opt_spec_t simple_opts[] = {CLI_OPTS_COMMON, OPT_TABLE_END};
    opt_parser_t p;
    int id;

    opt_init(&p, argc, argv, 1, argv[0], simple_opts, stderr);
    while ((id = cli_next_option(&p, c)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return simple_usage(stdout, argv[0], what, -1);
        return cli_fail(EXIT_USAGE, "%s: unexpected argument '%s' (see emofs %s --help)", argv[0],
                        p.value, argv[0]);
    }
    return cli_common_finish(c);
}

/* Writes n with a comma between groups of three digits ("1,234,567")
 * into buf[cap] (27 bytes hold any u64). @return buf. */
static char *format_count(uint64_t n, char *buf, size_t cap)
{
    char digits[21];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
    size_t o = 0;

    for (int i = 0; i < len && o + 1 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < cap)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* The replicas line's detail: bytes of the quota, or why there is none. */
static void print_replicas(const ctl_status_t *st)
{
    char n[32], bytes[32], quota[32];

    format_count(st->values, n, sizeof(n));
    progress_format_bytes(st->value_bytes, bytes, sizeof(bytes));
    if (!st->has_store_max) {
        printf("replicas   %s (%s; quota unknown: the daemon is older than this emofs)\n", n,
               bytes);
    } else if (st->store_max == 0) {
        printf("replicas   %s (no daemon: only a running daemon holds copies for others)\n", n);
    } else {
        progress_format_bytes(st->store_max, quota, sizeof(quota));
        printf("replicas   %s (%s of %s quota)\n", n, bytes, quota);
    }
}

int emofs_status_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    char hex[65], files[32], blobs[32], bytes[32];
    int code = parse_simple(&c, argc, argv,
                            "Shows the node of the data directory: id, address, peers known\n"
                            "(live: answered in the last 15 minutes; the others not heard from\n"
                            "lately), the replicas it holds for others (count, bytes, quota: only\n"
                            "a daemon holds any) and its pinned data (files it published,\n"
                            "blobs in its local store and their bytes).");

    if (code)
        return code < 0 ? 0 : code;
    c.quiet = 1;
    req.type = CTL_STATUS;
    if ((code = cli_run(&c, &req, &res)) != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(cli_exit_code(CTL_STATUS, res.status), "%s", res.message);
    } else {
        /* Live: answered this node in the last 15 minutes; the others
         * have not been heard from lately (gone, or just quiet). */
        uint32_t live = res.st.peers_live < res.st.peers ? res.st.peers_live : res.st.peers;
        mf_key_to_hex(res.st.node_id, hex);
        if (c.json) {
            json_t j;
            json_begin(&j, stdout);
            json_str(&j, "node", hex);
            json_str(&j, "address", res.st.addr);
            json_u64(&j, "peers", res.st.peers);
            json_u64(&j, "peers_live", live);
            json_u64(&j, "peers_stale", res.st.peers - live);
            json_u64(&j, "values", res.st.values);
            json_u64(&j, "value_bytes", res.st.value_bytes);
            if (res.st.has_store_max) /* an older daemon does not say */
                json_u64(&j, "store_max", res.st.store_max);
            json_u64(&j, "blobs", res.st.blobs);
            json_u64(&j, "blob_bytes", res.st.blob_bytes);
            json_u64(&j, "published", res.st.published);
            json_str(&j, "data", c.dir);
            json_end(&j);
            ctl_msg_clear(&res);
            return 0;
        }
        printf("node       %s\n", hex);
        printf("address    %s\n", res.st.addr);
        if (res.st.peers == 0)
            printf("peers      0\n");
        else
            printf("peers      %u (%u live, %u not heard from lately)\n", (unsigned)res.st.peers,
                   (unsigned)live, (unsigned)(res.st.peers - live));
        print_replicas(&res.st);
        format_count(res.st.published, files, sizeof(files));
        format_count(res.st.blobs, blobs, sizeof(blobs));
        progress_format_bytes(res.st.blob_bytes, bytes, sizeof(bytes));
        printf("pinned     %s file%s, %s blob%s (%s)\n", files, res.st.published == 1 ? "" : "s",
               blobs, res.st.blobs == 1 ? "" : "s", bytes);
        printf("data       %s\n", c.dir);
    }
    ctl_msg_clear(&res);
    return code;
}
