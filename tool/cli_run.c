/*
 * Running one control request for a command: through the daemon that
 * serves the data directory, else in an embedded node; the progress line;
 * interrupts; a streamed GET's bytes to the output. See cli.h.
 */
#include "tool/cli.h"

#include "tool/in_source.h"
#include "tool/ops.h"
#include "tool/progress.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- the progress line ---------------------------------------------------- */

typedef struct ui {
    int enabled, drawn;
    struct timespec start;
} ui_t;

static void ui_init(ui_t *ui, int quiet)
{
    ui->enabled = !quiet && isatty(STDERR_FILENO);
    ui->drawn = 0;
    clock_gettime(CLOCK_MONOTONIC, &ui->start);
}

static uint64_t ui_elapsed_ms(const ui_t *ui)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)(now.tv_sec - ui->start.tv_sec) * 1000u +
           (uint64_t)((now.tv_nsec - ui->start.tv_nsec) / 1000000);
}

static void ui_draw(ui_t *ui, const ctl_progress_t *p)
{
    progress_state_t st;
    struct winsize ws;
    unsigned width = 80;
    char line[PROGRESS_MAX_WIDTH + 1];

    if (!ui->enabled)
        return;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        width = ws.ws_col - 1u;
    st.bytes_done = p->bytes_done;
    st.bytes_total = p->bytes_total;
    st.chunks_done = p->chunks_done;
    st.chunks_total = p->chunks_total;
    st.in_flight = p->in_flight;
    st.peers = p->peers;
    st.elapsed_ms = ui_elapsed_ms(ui);
    progress_format(&st, width, line, sizeof(line));
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    ui->drawn = 1;
}

static void ui_end(ui_t *ui)
{
    if (ui->drawn)
        fputs("\r\033[K", stderr);
    ui->drawn = 0;
}

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

/* ---- through the daemon --------------------------------------------------- */

static volatile sig_atomic_t interrupts;

/* Writes all of p, unless an interrupt comes while it waits.
 * @return 0, or -1 (errno set; EINTR for an interrupt). */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR && interrupts == 0)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* @return a connected socket to DIR/emofs.sock, or -1 if no daemon answers;
 * *stale is 1 when a socket file is there but nobody listens on it. */
static int connect_daemon(const char *dir, int *stale)
{
    struct sockaddr_un sa;
    int fd;

    *stale = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, CTL_SOCK_NAME) >=
        sizeof(sa.sun_path))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        *stale = errno == ECONNREFUSED;
        close(fd);
        return -1;
    }
    return fd;
}

/* The pieces a streamed PUT's input is sent in. */
#define STREAM_PIECE (1u << 20)

/* How long an interrupted command waits for the daemon to undo its request:
 * polls of 200 ms. */
#define CANCEL_WAIT_POLLS 150

/* ---- interrupts while a daemon works for us -------------------------------- */

static void on_interrupt(int sig)
{
    (void)sig;
    interrupts++;
    if (interrupts > 1) { /* a second Ctrl-C: leave at once */
        static const char line[] = "\nemofs: interrupted\n";
        ssize_t w = write(STDERR_FILENO, line, sizeof(line) - 1);
        (void)w;
        _exit(EXIT_INTERRUPTED);
    }
}

/* Catches SIGINT and SIGTERM without restarting system calls, so a blocked
 * read returns EINTR and the request can be canceled. */
static void catch_interrupts(struct sigaction old[2])
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    interrupts = 0;
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

static void restore_interrupts(const struct sigaction old[2])
{
    sigaction(SIGINT, &old[0], NULL);
    sigaction(SIGTERM, &old[1], NULL);
}

/* One exchange with the daemon. */
typedef struct conn {
    int fd;
    cli_io_t *io;
    uint8_t *buf;
    size_t have, cap;
    uint8_t *in_buf;  /* a streamed PUT's input, read in pieces */
    int in_done;      /* the input's end (or its failure) is sent */
    int canceled;     /* our side is shut down */
    int in_errno, out_errno;
} conn_t;

/* Sends the next piece of a streamed PUT's input as a DATA message (an
 * empty one at its end). A read error cancels the request. */
static void send_input(conn_t *k)
{
    ctl_msg_t m = {0};
    uint8_t *frame = NULL;
    size_t len;
    ssize_t n = read(k->io->in_fd, k->in_buf, STREAM_PIECE);

    if (n < 0 && errno == EINTR)
        return;
    if (n < 0) {
        k->in_errno = errno;
        k->in_done = 1;
        return;
    }
    m.type = CTL_DATA;
    m.blob = k->in_buf;
    m.blob_len = (size_t)n;
    k->io->in_bytes += (uint64_t)n;
    if (ctl_encode(&m, &frame, &len) != 0 || write_all(k->fd, frame, len) != 0)
        k->in_done = 1; /* the daemon went away or answered: read its RESULT */
    else if (n == 0)
        k->in_done = 1;
    free(frame);
}

/* Waits for the socket to be readable, sending a streamed PUT's input
 * meanwhile. @return 1 readable, 0 not yet (poll again), -1 give up. */
static int wait_readable(conn_t *k, unsigned *waited)
{
    struct pollfd p[2] = {{.fd = k->fd, .events = POLLIN}, {.fd = -1}};
    int feeding = k->io->in_fd >= 0 && !k->in_done && !k->canceled;
    int ready;

    if (feeding)
        p[1] = (struct pollfd){.fd = k->io->in_fd, .events = POLLIN};
    ready = poll(p, feeding ? 2 : 1, 200);
    if (ready < 0 && errno != EINTR)
        return -1;
    if (k->canceled && ++*waited > CANCEL_WAIT_POLLS)
        return -1;
    if (ready <= 0)
        return 0;
    if (feeding && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
        send_input(k);
    return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

/* Reads the daemon's answers until the RESULT. On an interrupt, a failed
 * write of a streamed GET's output or a failed read of a streamed PUT's
 * input, it shuts down its sending side, which cancels the request, and
 * waits for the daemon to say it is undone.
 * @return 0 and *res; -1 the connection broke; or an exit code after
 * printing the error. */
static int read_answers(conn_t *k, const cli_common_t *c, ctl_msg_t *res)
{
    size_t frame_len;
    unsigned waited = 0;
    ui_t ui;
    int code = -1;

    ui_init(&ui, c->quiet);
    for (;;) {
        int r = k->have > 0 ? ctl_frame_check(k->buf, k->have, &frame_len) : 0;
        ctl_msg_t m;

        if ((interrupts > 0 || k->out_errno != 0 || k->in_errno != 0) && !k->canceled) {
            k->canceled = 1;
            shutdown(k->fd, SHUT_WR);
        }
        if (r < 0)
            break;
        if (r == 1) {
            if (ctl_decode(k->buf + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR, &m) != 0)
                break;
            memmove(k->buf, k->buf + frame_len, k->have - frame_len);
            k->have -= frame_len;
            if (m.type == CTL_PROGRESS && !k->canceled)
                ui_draw(&ui, &m.progress);
            if (m.type == CTL_DATA && k->io->out_fd >= 0 && !k->canceled &&
                write_all(k->io->out_fd, m.blob, m.blob_len) != 0 && errno != EINTR)
                k->out_errno = errno;
            if (m.type == CTL_RESULT) {
                *res = m;
                code = 0;
                break;
            }
            uint8_t type = m.type;
            ctl_msg_clear(&m);
            if (type != CTL_PROGRESS && type != CTL_DATA) {
                code = cli_fail(EXIT_FAIL, "unexpected answer from the daemon of %s", c->dir);
                break;
            }
            continue;
        }
        if (k->cap - k->have < 65536) {
            size_t ncap = k->cap ? k->cap * 2 : 65536;
            uint8_t *p = ncap <= 2 * (size_t)CTL_MAX_FRAME ? realloc(k->buf, ncap) : NULL;
            if (p == NULL)
                break;
            k->buf = p;
            k->cap = ncap;
        }
        r = wait_readable(k, &waited);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        ssize_t n = read(k->fd, k->buf + k->have, k->cap - k->have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        k->have += (size_t)n;
    }
    ui_end(&ui);
    return code;
}

/* Sends req to the daemon on fd (closed here) and reads its answers.
 * @return 0 and *res, or an exit code after printing the error; *interrupted
 * says whether a signal came. */
static int run_daemon(int fd, const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res,
                      cli_io_t *io, int *interrupted)
{
    conn_t k = {.fd = fd, .io = io};
    uint8_t *frame;
    size_t len;
    int code, err = ctl_encode(req, &frame, &len);

    if (err) {
        close(fd);
        return cli_fail(EXIT_FAIL, "cannot encode the request: %s", fs_strerror(err));
    }
    if (io->in_fd >= 0 && (k.in_buf = malloc(STREAM_PIECE)) == NULL) {
        free(frame);
        close(fd);
        return cli_fail(EXIT_FAIL, "out of memory");
    }
    if (write_all(fd, frame, len) != 0) {
        free(frame);
        free(k.in_buf);
        close(fd);
        return cli_fail(EXIT_FAIL, "the daemon of %s closed the connection", c->dir);
    }
    free(frame);
    code = read_answers(&k, c, res);
    free(k.buf);
    free(k.in_buf);
    close(fd);
    *interrupted = interrupts > 0;
    if ((k.out_errno != 0 || k.in_errno != 0) && !*interrupted) {
        if (code == 0)
            ctl_msg_clear(res);
        if (k.in_errno != 0)
            return cli_fail(EXIT_INPUT, "cannot read standard input: %s", strerror(k.in_errno));
        return cli_fail(EXIT_OUTPUT, "cannot write the output: %s", strerror(k.out_errno));
    }
    if (code < 0 && !*interrupted)
        code = cli_fail(EXIT_FAIL, "lost the connection to the daemon of %s", c->dir);
    return code < 0 ? EXIT_INTERRUPTED : code;
}

/* ---- in an embedded node -------------------------------------------------- */

typedef struct embedded {
    emofs_node_t node;
    const ctl_msg_t *req;
    ctl_msg_t *res;
    emofs_op_t *op;
    uv_signal_t sigint, sigterm;
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
    uv_close((uv_handle_t *)&e->sigint, NULL);
    uv_close((uv_handle_t *)&e->sigterm, NULL);
    emofs_node_close(&e->node);
}

static void on_embedded_progress(const ctl_progress_t *p, void *arg)
{
    embedded_t *e = arg;

    ui_draw(&e->ui, p);
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
    ui_end(&e->ui);
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

    if (e->interrupted) {
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

static void on_embedded_signal(uv_signal_t *s, int signum)
{
    embedded_t *e = s->data;

    (void)signum;
    if (e->interrupted) { /* a second Ctrl-C: leave at once */
        fputs("\nemofs: interrupted\n", stderr);
        _exit(EXIT_INTERRUPTED);
    }
    e->interrupted = 1;
    emofs_op_cancel(e->op);
}

static int run_embedded(const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res,
                        cli_io_t *io, int *interrupted)
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
    ui_init(&e.ui, c->quiet);
    uv_signal_init(&loop, &e.sigint);
    uv_signal_init(&loop, &e.sigterm);
    e.sigint.data = e.sigterm.data = &e;
    uv_signal_start(&e.sigint, on_embedded_signal, SIGINT);
    uv_signal_start(&e.sigterm, on_embedded_signal, SIGTERM);
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
    struct sigaction old[2];
    int stale, interrupted = 0, code;
    int fd = connect_daemon(c->dir, &stale);

    memset(res, 0, sizeof(*res));
    if (fd >= 0) {
        catch_interrupts(old);
        code = run_daemon(fd, c, req, res, io, &interrupted);
        restore_interrupts(old);
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
