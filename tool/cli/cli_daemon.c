/*
 * A request through the daemon of the data directory: the request, its
 * streams (a streamed PUT's input, a streamed GET's output), its answers,
 * and the cancel an interrupt sends. See cli_int.h and schema/control.md.
 */
#include "tool/cli/cli_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Writes all of p, unless an interrupt comes while it waits.
 * @return 0, or -1 (errno set; EINTR for an interrupt). */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR && cli_interrupts() == 0)
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
int cli_connect_daemon(const char *dir, int *stale)
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

/* One exchange with the daemon. */
typedef struct conn {
    int fd;
    cli_io_t *io;
    uint8_t *buf;
    size_t have, cap;
    uint8_t *in_buf; /* a streamed PUT's input, read in pieces */
    int in_done;     /* the input's end (or its failure) is sent */
    int canceled;    /* our side is shut down */
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

    cli_ui_init(&ui, c->quiet);
    for (;;) {
        int r = k->have > 0 ? ctl_frame_check(k->buf, k->have, &frame_len) : 0;
        ctl_msg_t m;

        if ((cli_interrupts() > 0 || k->out_errno != 0 || k->in_errno != 0) && !k->canceled) {
            k->canceled = 1;
            shutdown(k->fd, SHUT_WR);
        }
        if (r < 0)
            break;
        if (r == 1) {
            if (ctl_decode(k->buf + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR, &m) != 0) {
                /* A daemon of a newer emofs, say, whose answer has more
                 * fields than this one knows (schema/control.md 7). */
                code = cli_fail(EXIT_FAIL,
                                "cannot read the answer of the daemon of %s (another emofs?): "
                                "restart it with this one (emofs stop, then emofs daemon)",
                                c->dir);
                break;
            }
            memmove(k->buf, k->buf + frame_len, k->have - frame_len);
            k->have -= frame_len;
            if (m.type == CTL_PROGRESS && !k->canceled)
                cli_ui_draw(&ui, &m.progress);
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
    cli_ui_end(&ui);
    return code;
}

/* Sends req to the daemon on fd (closed here) and reads its answers.
 * @return 0 and *res, or an exit code after printing the error; *interrupted
 * says whether a signal came. */
int cli_run_daemon(int fd, const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res,
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
    *interrupted = cli_interrupts() > 0;
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

int cli_daemon_running(const cli_common_t *c)
{
    int stale = 0, fd = cli_connect_daemon(c->dir, &stale);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}
