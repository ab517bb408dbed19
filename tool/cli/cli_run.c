/*
 * Running one control request for a command: through the daemon that
 * serves the data directory (cli_daemon.c), else in an embedded node, here:
 * its join, its interrupts, a streamed GET's output and a streamed PUT's
 * input. See cli.h.
 */
#include "tool/cli/cli_int.h"

#include "tool/cli/in_source.h"
#include "tool/node/node_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Deep copy of a message, through its encoding. */
static int msg_copy(const ctl_msg_t *from, ctl_msg_t *to)
{
    uint8_t *frame;
    size_t len;
    int err = ctl_encode(from, &frame, &len);

    if (err)
        return err;
    err = ctl_decode(frame + CTL_FRAME_HDR, len - CTL_FRAME_HDR, to);
    free(frame);
    return err;
}

/* ---- interrupts ------------------------------------------------------------- */

/*
 * Once a request may have changed anything, an interrupt must not kill the
 * process: the shell would report 130 (interrupted, so undone) for a put
 * that had finished and kept its blobs, or a get that had written its
 * file. That happened whenever SIGINT came after the request's end but
 * before exit: the embedded node's libuv signal handles, when closed, set
 * the default action back (uv_signal_stop installs SIG_DFL), and the daemon
 * client restored the old one, while the key was still to be printed.
 * So one handler, installed by cli_run_io before its request, stays until
 * the process exits: it counts, and wakes the embedded node's loop through
 * a pipe (write is async-signal-safe; the pipe is never closed, so a late
 * signal has somewhere to write). An interrupt after the request ended is
 * too late to undo it: the command finishes and reports what was done; a
 * later request of the same command does not start.
 */
static volatile sig_atomic_t interrupts;
static int wake_pipe[2] = {-1, -1};

static void on_interrupt(int sig)
{
    int saved = errno;

    (void)sig;
    interrupts++;
    if (interrupts > 1) { /* a second Ctrl-C: leave at once */
        static const char line[] = "\nemofs: interrupted\n";
        ssize_t w = write(STDERR_FILENO, line, sizeof(line) - 1);
        (void)w;
        _exit(EXIT_INTERRUPTED);
    }
    if (wake_pipe[1] >= 0) {
        ssize_t w = write(wake_pipe[1], "", 1); /* full: it is readable anyway */
        (void)w;
    }
    errno = saved;
}

int cli_catch_interrupts(int restart)
{
    struct sigaction sa;

    if (wake_pipe[0] < 0) {
        if (pipe(wake_pipe) != 0) {
            wake_pipe[0] = wake_pipe[1] = -1;
            return -1;
        }
        for (int i = 0; i < 2; i++) {
            fcntl(wake_pipe[i], F_SETFD, FD_CLOEXEC);
            fcntl(wake_pipe[i], F_SETFL, fcntl(wake_pipe[i], F_GETFL) | O_NONBLOCK);
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

int cli_interrupts(void)
{
    return interrupts;
}

int cli_interrupt_fd(void)
{
    return wake_pipe[0];
}

/* ---- in an embedded node -------------------------------------------------- */

typedef struct embedded {
    emofs_node_t node;
    const ctl_msg_t *req;
    ctl_msg_t *res;
    emofs_op_t *op;
    uv_poll_t wake; /* cli_interrupt_fd(): an interrupt came */
    ui_t ui;
    int code, interrupted, got_result;
    int out_fd, out_errno; /* a streamed GET's output */
    uv_fs_t out_req;
    uv_buf_t out_buf;
    int in_fd, in_errno; /* a streamed PUT's input */
    in_source_t *in;
    uint64_t in_bytes;
} embedded_t;

static void embedded_end(embedded_t *e)
{
    in_source_close(e->in);
    e->in = NULL;
    uv_close((uv_handle_t *)&e->wake, NULL);
    emofs_node_close(&e->node);
}

static void on_embedded_progress(const ctl_progress_t *p, void *arg)
{
    embedded_t *e = arg;

    cli_ui_draw(&e->ui, p);
}

static void write_out(embedded_t *e);

static void on_out_written(uv_fs_t *req)
{
    embedded_t *e = req->data;
    ssize_t n = req->result;

    uv_fs_req_cleanup(req);
    if (n < 0) {
        e->out_errno = (int)-n;
        emofs_op_data_done(e->op, FS_EIO);
        return;
    }
    e->out_buf.base += n;
    e->out_buf.len -= (size_t)n;
    if (e->out_buf.len > 0)
        write_out(e);
    else
        emofs_op_data_done(e->op, 0);
}

static void write_out(embedded_t *e)
{
    e->out_req.data = e;
    if (uv_fs_write(e->node.loop, &e->out_req, e->out_fd, &e->out_buf, 1, -1, on_out_written) !=
        0) {
        e->out_errno = EIO;
        emofs_op_data_done(e->op, FS_EIO);
    }
}

/* A streamed GET's bytes go to the output on the thread pool, one piece
 * at a time: the get waits for each, so memory stays bounded. */
static void on_embedded_data(emofs_op_t *op, const uint8_t *data, size_t len, void *arg)
{
    embedded_t *e = arg;

    (void)op;
    e->out_buf = uv_buf_init((char *)data, (unsigned)len);
    write_out(e);
}

/* ---- a streamed PUT's input: the source feeds the op ---------------------- */

static size_t on_in_feed(void *arg, const uint8_t *data, size_t len)
{
    embedded_t *e = arg;
    size_t n = emofs_op_feed(e->op, data, len);

    e->in_bytes += n;
    return n;
}

static void on_in_end(void *arg, int err)
{
    embedded_t *e = arg;

    if (err == 0) {
        emofs_op_feed_end(e->op);
        return;
    }
    e->in_errno = -err;
    emofs_op_cancel(e->op);
}

static void on_embedded_want(emofs_op_t *op, void *arg)
{
    embedded_t *e = arg;

    (void)op;
    in_source_resume(e->in);
}

static void on_embedded_result(const ctl_msg_t *res, void *arg)
{
    embedded_t *e = arg;

    e->op = NULL;
    /* One that came just now, its wake-up not read yet: the request was
     * not canceled, but the command was interrupted all the same. */
    if (cli_interrupts() > 0)
        e->interrupted = 1;
    cli_ui_end(&e->ui);
    if (msg_copy(res, e->res) == 0)
        e->got_result = 1;
    else
        e->code = cli_fail(EXIT_FAIL, "out of memory");
    embedded_end(e);
}

static void on_embedded_joined(int status, void *arg)
{
    embedded_t *e = arg;
    char list[256] = "", a[DHT_ADDRSTRLEN];
    int err;

    if (e->interrupted || cli_interrupts() > 0) {
        e->interrupted = 1;
        e->code = EXIT_INTERRUPTED;
        embedded_end(e);
        return;
    }
    if (status != 0) {
        for (size_t i = 0; i < e->node.n_bootstrap && strlen(list) < 180; i++) {
            strcat(list, i ? ", " : "");
            strcat(list, dht_addr_format(&e->node.bootstrap[i], a));
        }
        e->code =
            cli_fail(EXIT_NOPEERS, "no peers reachable: no bootstrap peer answered (%s)", list);
        embedded_end(e);
        return;
    }
    emofs_op_cbs_t cbs = {.progress = on_embedded_progress,
                          .result = on_embedded_result,
                          .data = on_embedded_data,
                          .want = on_embedded_want,
                          .arg = e};
    err = emofs_op_start(&e->op, &e->node, e->req, &cbs);
    if (err) {
        e->code = cli_fail(EXIT_FAIL, "cannot start: %s", fs_strerror(err));
        embedded_end(e);
        return;
    }
    if (e->in_fd >= 0) {
        in_source_cbs_t in = {on_in_feed, on_in_end, e};
        err = in_source_start(&e->in, e->node.loop, e->in_fd, &in);
        if (err != 0) {
            e->in_errno = -err;
            emofs_op_cancel(e->op);
        }
    }
}

static void on_embedded_interrupt(uv_poll_t *p, int status, int events)
{
    embedded_t *e = p->data;
    char buf[64];

    (void)status;
    (void)events;
    while (read(cli_interrupt_fd(), buf, sizeof(buf)) > 0)
        ;
    if (e->interrupted || cli_interrupts() == 0)
        return;
    e->interrupted = 1;
    emofs_op_cancel(e->op); /* the second interrupt leaves at once (on_interrupt) */
}

static int run_embedded(const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res, cli_io_t *io,
                        int *interrupted)
{
    uv_loop_t loop;
    embedded_t e;
    emofs_node_opts_t opts;
    char err_text[512] = "";
    long holder = 0;
    int err;

    memset(&e, 0, sizeof(e));
    memset(&opts, 0, sizeof(opts));
    opts.dir = c->dir;
    opts.listen = c->listen;
    memcpy(opts.bootstrap, c->bootstrap, sizeof(opts.bootstrap));
    opts.n_bootstrap = c->n_bootstrap;
    opts.network_key = c->network_key;
    if (uv_loop_init(&loop) != 0)
        return cli_fail(EXIT_FAIL, "cannot start an event loop");
    err = emofs_node_open(&e.node, &loop, &opts, &holder, err_text, sizeof(err_text));
    if (err) {
        uv_run(&loop, UV_RUN_DEFAULT); /* a node that failed to bind frees itself there */
        uv_loop_close(&loop);
        return cli_fail(cli_open_exit_code(err), "%s", err_text);
    }
    e.req = req;
    e.res = res;
    e.out_fd = io->out_fd;
    e.in_fd = io->in_fd;
    cli_ui_init(&e.ui, c->quiet);
    uv_poll_init(&loop, &e.wake, cli_interrupt_fd());
    e.wake.data = &e;
    uv_poll_start(&e.wake, UV_READABLE, on_embedded_interrupt);
    if (c->local)
        e.node.n_bootstrap = 0; /* its own business: no peer needed, none asked */
    emofs_node_bootstrap(&e.node, on_embedded_joined, &e);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    *interrupted = e.interrupted;
    io->in_bytes = e.in_bytes;
    if ((e.out_errno != 0 || e.in_errno != 0) && !e.interrupted) {
        if (e.got_result)
            ctl_msg_clear(res);
        if (e.in_errno != 0)
            return cli_fail(EXIT_INPUT, "cannot read standard input: %s", uv_strerror(-e.in_errno));
        return cli_fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(e.out_errno));
    }
    if (e.got_result)
        return 0;
    return e.code ? e.code : EXIT_FAIL;
}

int cli_run_io(const cli_common_t *c, ctl_msg_t *req, ctl_msg_t *res, cli_io_t *io)
{
    int stale, interrupted = 0, code, fd;

    memset(res, 0, sizeof(*res));
    /* Caught from now until exit (see on_interrupt), restarting system
     * calls except while the daemon works for us. */
    if (cli_catch_interrupts(1) != 0)
        return cli_fail(EXIT_FAIL, "cannot catch interrupts: %s", strerror(errno));
    if (cli_interrupts() > 0) { /* after an earlier request: start no other */
        fputs("emofs: interrupted\n", stderr);
        return EXIT_INTERRUPTED;
    }
    fd = cli_connect_daemon(c->dir, &stale);
    if (fd >= 0) {
        /* The daemon's node does the work, on the daemon's network: a key
         * given here must not seem to have been used. */
        if (c->network_key != NULL)
            fprintf(stderr,
                    "emofs: --network-key ignored: the daemon serving %s runs this on its own "
                    "network\n",
                    c->dir);
        cli_catch_interrupts(0);
        code = cli_run_daemon(fd, c, req, res, io, &interrupted);
        cli_catch_interrupts(1);
    } else {
        if (stale)
            fprintf(stderr,
                    "emofs: no daemon answers on %s/%s (a stale socket); running an embedded "
                    "node instead\n",
                    c->dir, CTL_SOCK_NAME);
        code = run_embedded(c, req, res, io, &interrupted);
    }
    /* An interrupted request that still finished is reported as done. */
    if (interrupted && (code != 0 || res->status != 0)) {
        ctl_msg_clear(res);
        fputs("emofs: interrupted\n", stderr);
        return EXIT_INTERRUPTED;
    }
    return code;
}

int cli_run(const cli_common_t *c, ctl_msg_t *req, ctl_msg_t *res)
{
    cli_io_t io = {-1, -1, 0};

    return cli_run_io(c, req, res, &io);
}
