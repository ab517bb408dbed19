/*
 * What the emofs commands share: exit codes, error lines, the data
 * directory, and running one control request either through the daemon
 * that serves the data directory or in an embedded node.
 *
 * Exit codes (documented in README.md and `emofs --help`):
 *   0   success
 *   1   other failure (internal error, I/O error on the data directory)
 *   2   usage: unknown flag, missing argument, malformed key or address, a
 *       host name that does not resolve, a bad line in DIR/config
 *   3   the input file is missing, unreadable, or not a regular file
 *   4   the key (or one of its chunks) was not found in the network
 *   5   no peer reachable (none of the bootstrap peers answered)
 *   6   cannot write the output (disk full, permission, bad path)
 *   7   the data directory (or a get's output) is in use by another emofs process
 *   8   data failed verification (corrupt manifest or file)
 *   9   the output exists: nothing was replaced (--force replaces a regular file)
 *   130 interrupted
 */
#ifndef EMOFS_CLI_H
#define EMOFS_CLI_H

#include "tool/node/control_wire.h"
#include "tool/node/emofs_node.h"
#include "tool/cli/opts.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_INPUT = 3,
    EXIT_NOTFOUND = 4,
    EXIT_NOPEERS = 5,
    EXIT_OUTPUT = 6,
    EXIT_BUSY = 7,
    EXIT_CORRUPT = 8,
    EXIT_EXISTS = 9,
    EXIT_REFUSED = 10, /* a put: the nodes reached refused to store (full) */
    EXIT_INTERRUPTED = 130,
};

/* Prints "emofs: " and the message, one line, on stderr.
 * @return code, so callers can `return cli_fail(...)`. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* @return $EMOFS_HOME, else $HOME/.emofs (static storage), or NULL. */
const char *cli_default_dir(void);

/* Options every command that talks to a node takes. */
typedef struct cli_common {
    const char *dir;
    const char *listen; /* numeric HOST:PORT (in listen_text), or NULL */
    char listen_text[DHT_ADDRSTRLEN];
    dht_addr_t bootstrap[EMOFS_MAX_BOOTSTRAP];
    size_t n_bootstrap;
    const char *network_key; /* --network-key FILE, or NULL */
    int quiet;
    int json;  /* --json: the result as one JSON object on stdout */
    int local; /* the request is the node's own (rm, gc): an embedded node runs it
                  without joining the network first */
} cli_common_t;

/* The ids of the options every command that talks to a node takes, in a
 * command's table as CLI_OPTS_COMMON; a command's own ids start at
 * CLI_OPT_OWN. */
enum {
    CLI_OPT_HELP = 1,
    CLI_OPT_DATA,
    CLI_OPT_BOOTSTRAP,
    CLI_OPT_LISTEN,
    CLI_OPT_QUIET,
    CLI_OPT_JSON,
    CLI_OPT_NETWORK_KEY,
    CLI_OPT_OWN,
};
#define CLI_OPT_HELP_SPEC                                                                          \
    {                                                                                              \
        "--help", "-h", OPT_FLAG, CLI_OPT_HELP                                                     \
    }
#define CLI_OPT_DATA_SPEC                                                                          \
    {                                                                                              \
        "--data", NULL, OPT_VALUE, CLI_OPT_DATA                                                    \
    }
#define CLI_OPTS_COMMON                                                                            \
    CLI_OPT_HELP_SPEC, CLI_OPT_DATA_SPEC, {"--bootstrap", NULL, OPT_VALUE, CLI_OPT_BOOTSTRAP},     \
        {"--listen", NULL, OPT_VALUE, CLI_OPT_LISTEN}, {"--quiet", "-q", OPT_FLAG, CLI_OPT_QUIET}, \
        {"--network-key", NULL, OPT_VALUE, CLI_OPT_NETWORK_KEY},                                   \
    {                                                                                              \
        "--json", NULL, OPT_FLAG, CLI_OPT_JSON                                                     \
    }

/* Takes a common option that opt_next() returned: id and its value (--data,
 * --bootstrap, --listen, --network-key, -q, --json; not --help, which each command
 * answers). A host name in --listen or --bootstrap is resolved here
 * (tool/node/hostaddr.h). @return 1 taken, 0 not a common option, or
 * -EXIT_USAGE after printing the error. */
int cli_common_option(cli_common_t *c, int id, const char *value);

/* Reads the next option or argument of a command whose table holds
 * CLI_OPTS_COMMON, taking the common ones into c (cli_common_option).
 * @return what opt_next() returns for the rest (OPT_END, OPT_ARG,
 * CLI_OPT_HELP, the command's own ids), or OPT_ERROR after printing one
 * line: the command exits with EXIT_USAGE. */
int cli_next_option(opt_parser_t *p, cli_common_t *c);

/* The one KEY argument of a command (get, cat, health, rm): takes value
 * into *keyarg. @return 0, or EXIT_USAGE after "CMD: one KEY at a time". */
int cli_key_arg(const char *cmd, const char **keyarg, const char *value);

/* After the arguments: @return 0 if a KEY was given, else EXIT_USAGE after
 * "CMD: missing KEY (see emofs CMD --help)". */
int cli_key_given(const char *cmd, const char *keyarg);

/* Fills in the default data directory if none was given.
 * @return 0 or EXIT_USAGE (error printed). */
int cli_common_finish(cli_common_t *c);

/* @return 1 if a daemon serves c->dir now (answers on DIR/emofs.sock). */
int cli_daemon_running(const cli_common_t *c);

/* Runs req on the data directory's node: through its daemon when one
 * serves DIR/emofs.sock, else in an embedded node (which joins the
 * bootstrap peers first). Draws a progress line on a terminal unless quiet.
 * @return 0 and the RESULT in *res (clear it after), or an exit code after
 * printing the error (no daemon and the directory locked, no peers, ...). */
int cli_run(const cli_common_t *c, ctl_msg_t *req, ctl_msg_t *res);

/* A request's streams: -1 where there is none. */
typedef struct cli_io {
    int in_fd;         /* a PUT with CTL_FLAG_STREAM reads the file from here to its end */
    int out_fd;        /* a GET with CTL_FLAG_STREAM writes the file here, in order */
    uint64_t in_bytes; /* set by cli_run_io: bytes read from in_fd */
} cli_io_t;

/* cli_run with streams. A failed write of the output or read of the input
 * cancels the request and returns EXIT_OUTPUT or EXIT_INPUT (error
 * printed). On SIGINT or SIGTERM the request is canceled and undone; then
 * "emofs: interrupted" is printed and EXIT_INTERRUPTED returned (also by
 * cli_run). From the first call on, the process catches those signals
 * until it exits: one that comes once the request is done is too late to
 * undo it, so the command finishes as if none came (a second one exits
 * 130 at once); the next cli_run_io of the command then returns
 * EXIT_INTERRUPTED without starting its request. */
int cli_run_io(const cli_common_t *c, ctl_msg_t *req, ctl_msg_t *res, cli_io_t *io);

/* @return the exit code for a failed result of a request of type req_type. */
int cli_exit_code(uint8_t req_type, int status);

/* @return the exit code for emofs_node_open's error err: EXIT_BUSY (the
 * directory is in use), EXIT_USAGE (a bad config entry or address),
 * EXIT_FAIL (cannot start: cannot bind, no data directory, ...). */
int cli_open_exit_code(int err);

#endif /* EMOFS_CLI_H */
