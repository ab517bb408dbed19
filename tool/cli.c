/*
 * Running a control request through the daemon or an embedded node, and
 * the small things every command shares. See cli.h.
 */
#include "tool/cli.h"

#include "tool/hostaddr.h"
#include "tool/ops.h"
#include "tool/progress.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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

int cli_common_option(cli_common_t *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
        c->quiet = 1;
        return 1;
    }
    if (strcmp(a, "--data") != 0 && strcmp(a, "--bootstrap") != 0 && strcmp(a, "--listen") != 0)
        return 0;
    if (*i + 1 >= argc) {
        cli_fail(EXIT_USAGE, "%s needs a value", a);
        return -EXIT_USAGE;
    }
    const char *v = argv[++*i];
    if (strcmp(a, "--data") == 0) {
        c->dir = v;
    } else if (strcmp(a, "--listen") == 0) {
        dht_addr_t addr;
        if (hostaddr_option(a, v, &addr) != 0)
            return -EXIT_USAGE;
        c->listen = dht_addr_format(&addr, c->listen_text);
    } else {
        if (c->n_bootstrap == EMOFS_MAX_BOOTSTRAP) {
            cli_fail(EXIT_USAGE, "at most %d --bootstrap peers", EMOFS_MAX_BOOTSTRAP);
            return -EXIT_USAGE;
        }
        if (hostaddr_option(a, v, &c->bootstrap[c->n_bootstrap]) != 0)
            return -EXIT_USAGE;
        c->n_bootstrap++;
    }
    return 1;
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
    case FS_EBUSY:
        return EXIT_BUSY;
    case FS_EBADHASH:
    case FS_ECORRUPT:
        return EXIT_CORRUPT;
    case FS_ENOSPC:
        return EXIT_OUTPUT;
    case FS_ENOENT:
    case FS_ETIMEDOUT:
        if (req_type == CTL_PUT)
            return status == FS_ENOENT ? EXIT_INPUT : EXIT_NOPEERS;
        return EXIT_NOTFOUND;
    case FS_EACCES:
    case FS_EINVAL:
    case FS_EIO:
    case FS_ETOOBIG:
    case FS_EEXIST:
        return req_type == CTL_PUT ? EXIT_INPUT : req_type == CTL_GET ? EXIT_OUTPUT : EXIT_FAIL;
    default:
        return EXIT_FAIL;
    }
}

int cli_open_exit_code(int err)
{
    return err == FS_EBUSY ? EXIT_BUSY : err == FS_EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

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

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* @return a connected socket to DIR/emofs.sock, or -1 if no daemon answers. */
static int connect_daemon(const char *dir)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, CTL_SOCK_NAME) >=
        sizeof(sa.sun_path))
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int run_daemon(int fd, const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res)
{
    uint8_t *frame, *buf = NULL;
    size_t len, have = 0, cap = 0, frame_len;
    ui_t ui;
    int err = ctl_encode(req, &frame, &len);

    if (err) {
        close(fd);
        return cli_fail(EXIT_FAIL, "cannot encode the request: %s", fs_strerror(err));
    }
    ui_init(&ui, c->quiet);
    if (write_all(fd, frame, len) != 0) {
        free(frame);
        close(fd);
        return cli_fail(EXIT_FAIL, "the daemon of %s closed the connection", c->dir);
    }
    free(frame);
    for (;;) {
        int r = have > 0 ? ctl_frame_check(buf, have, &frame_len) : 0;
        if (r < 0)
            break;
        if (r == 1) {
            ctl_msg_t m;
            if (ctl_decode(buf + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR, &m) != 0)
                break;
            memmove(buf, buf + frame_len, have - frame_len);
            have -= frame_len;
            if (m.type == CTL_PROGRESS) {
                ui_draw(&ui, &m.progress);
                ctl_msg_clear(&m);
                continue;
            }
            ui_end(&ui);
            free(buf);
            close(fd);
            if (m.type != CTL_RESULT) {
                ctl_msg_clear(&m);
                return cli_fail(EXIT_FAIL, "unexpected answer from the daemon of %s", c->dir);
            }
            *res = m;
            return 0;
        }
        if (cap - have < 65536) {
            size_t ncap = cap ? cap * 2 : 65536;
            uint8_t *p = ncap <= 2 * (size_t)CTL_MAX_FRAME ? realloc(buf, ncap) : NULL;
            if (p == NULL)
                break;
            buf = p;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + have, cap - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    ui_end(&ui);
    free(buf);
    close(fd);
    return cli_fail(EXIT_FAIL, "lost the connection to the daemon of %s", c->dir);
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
} embedded_t;

static void embedded_end(embedded_t *e)
{
    uv_close((uv_handle_t *)&e->sigint, NULL);
    uv_close((uv_handle_t *)&e->sigterm, NULL);
    emofs_node_close(&e->node);
}

static void on_embedded_progress(const ctl_progress_t *p, void *arg)
{
    embedded_t *e = arg;

    ui_draw(&e->ui, p);
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
    err = emofs_op_start(&e->op, &e->node, e->req, on_embedded_progress, on_embedded_result, e);
    if (err) {
        e->code = cli_fail(EXIT_FAIL, "cannot start: %s", fs_strerror(err));
        embedded_end(e);
    }
}

static void on_embedded_signal(uv_signal_t *s, int signum)
{
    embedded_t *e = s->data;

    (void)signum;
    e->interrupted = 1;
    emofs_op_cancel(e->op);
}

static int run_embedded(const cli_common_t *c, const ctl_msg_t *req, ctl_msg_t *res)
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
    ui_init(&e.ui, c->quiet);
    uv_signal_init(&loop, &e.sigint);
    uv_signal_init(&loop, &e.sigterm);
    e.sigint.data = e.sigterm.data = &e;
    uv_signal_start(&e.sigint, on_embedded_signal, SIGINT);
    uv_signal_start(&e.sigterm, on_embedded_signal, SIGTERM);
    emofs_node_bootstrap(&e.node, on_embedded_joined, &e);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (e.got_result)
        return 0;
    return e.code ? e.code : EXIT_FAIL;
}

int cli_run(const cli_common_t *c, ctl_msg_t *req, ctl_msg_t *res)
{
    int fd = connect_daemon(c->dir);

    memset(res, 0, sizeof(*res));
    if (fd >= 0)
        return run_daemon(fd, c, req, res);
    return run_embedded(c, req, res);
}
