/*
 * emofs stop: asks the daemon of a data directory to stop, and waits until
 * it has let go of the directory. See commands.h.
 */
#include "tool/cli/commands.h"

#include "filestore/place.h" /* fs_path_join */
#include "tool/cli/cli.h"
#include "tool/cli/cli_int.h"
#include "tool/node/emofs_node.h" /* EMOFS_LOCK_NAME */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_MS 30000 /* a daemon cancels its requests and goes within this */

static int stop_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs stop [--now] [--data DIR]\n"
               "Stops the daemon of the data directory: it cancels the requests it is\n"
               "serving (their clients see them canceled), saves its peers, hands the\n"
               "copies it holds for the network to the nodes that lack them (a graceful\n"
               "leave, at most 10 s) and exits; this waits until it has. SIGTERM to the\n"
               "daemon does the same. With no daemon running, says so and exits 0.\n"
               "  --now                  skip the hand-over (replication elsewhere makes up\n"
               "                         for it within its interval)\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n");
    return code;
}

/* @return 1 once no process holds DIR/lock (the daemon is gone), else 0. */
static int released(const char *dir)
{
    char *path = fs_path_join(dir, EMOFS_LOCK_NAME);
    int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    int free_now = fd < 0 && errno == ENOENT;

    free(path);
    if (fd >= 0) {
        free_now = flock(fd, LOCK_SH | LOCK_NB) == 0;
        close(fd);
    }
    return free_now;
}

/* Asks the daemon of dir to stop again, by SIGTERM to the pid DIR/lock
 * holds: a second stop skips its hand-over. */
static void stop_again(const char *dir)
{
    char *path = fs_path_join(dir, EMOFS_LOCK_NAME);
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    long pid = 0;

    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) == 1 && pid > 1 && !released(dir))
            kill((pid_t)pid, SIGTERM);
        fclose(f);
    }
    free(path);
}

/* Waits up to STOP_WAIT_MS for the daemon to let go of dir.
 * @return 1 if it did. */
static int wait_released(const char *dir)
{
    struct timespec step = {0, 20 * 1000 * 1000};

    for (int waited = 0; waited < STOP_WAIT_MS; waited += 20) {
        if (released(dir))
            return 1;
        nanosleep(&step, NULL);
    }
    return released(dir);
}

enum { STOP_OPT_NOW = CLI_OPT_OWN };
static const opt_spec_t stop_opts[] = {
    CLI_OPT_HELP_SPEC,
    CLI_OPT_DATA_SPEC,
    {"--now", NULL, OPT_FLAG, STOP_OPT_NOW},
    OPT_TABLE_END,
};

int emofs_stop_main(int argc, char **argv)
{
    cli_common_t c = {0};
    ctl_msg_t req = {0}, res;
    cli_io_t io = {-1, -1, 0};
    opt_parser_t p;
    int code, id, stale, fd, interrupted = 0, now = 0;

    opt_init(&p, argc, argv, 1, "stop", stop_opts, stderr);
    while ((id = opt_next(&p)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return stop_usage(stdout, 0);
        if (id == CLI_OPT_DATA) {
            cli_common_option(&c, id, p.value);
            continue;
        }
        if (id == STOP_OPT_NOW) {
            now = 1;
            continue;
        }
        return cli_fail(EXIT_USAGE, "stop: unexpected argument '%s' (see emofs stop --help)",
                        p.value);
    }
    if ((code = cli_common_finish(&c)) != 0)
        return code;
    fd = cli_connect_daemon(c.dir, &stale);
    if (fd < 0) {
        printf("no daemon runs on %s%s\n", c.dir,
               stale ? " (a stale socket is there: it was killed)" : "");
        return 0;
    }
    if (cli_catch_interrupts(0) != 0) {
        close(fd);
        return cli_fail(EXIT_FAIL, "cannot catch interrupts: %s", strerror(errno));
    }
    c.quiet = 1;
    req.type = CTL_STOP;
    code = cli_run_daemon(fd, &c, &req, &res, &io, &interrupted);
    if (code != 0)
        return code;
    if (res.status != 0) {
        code = cli_fail(EXIT_FAIL, "%s", res.message);
        ctl_msg_clear(&res);
        return code;
    }
    ctl_msg_clear(&res);
    if (now)
        stop_again(c.dir);
    if (!wait_released(c.dir))
        return cli_fail(EXIT_FAIL, "the daemon on %s did not stop within %d s", c.dir,
                        STOP_WAIT_MS / 1000);
    printf("stopped the daemon on %s\n", c.dir);
    return 0;
}
