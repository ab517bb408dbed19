/*
 * emofs daemon: one node, its control server, signals. See daemon.h and
 * schema/control.md.
 */
#include "tool/daemon.h"

#include "tool/cli.h"
#include "tool/hostaddr.h"
#include "tool/ops.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct daemon {
    uv_loop_t *loop;
    emofs_node_t node;
    uv_pipe_t server;
    uv_signal_t sigint, sigterm;
    char *sock_path;
    struct client *clients;
    unsigned n_ops;
    int stopping, node_closed;
} daemon_t;

/* One connection: reads one request, runs it, writes progress and result. */
typedef struct client {
    uv_pipe_t pipe;
    daemon_t *d;
    struct client *next;
    uint8_t *buf;
    size_t len, cap;
    emofs_op_t *op;
    int got_request, closing, stop_after;
} client_t;

typedef struct write_req {
    uv_write_t req;
    uint8_t *frame;
    client_t *c;
    int close_after;
} write_req_t;

static void daemon_stop(daemon_t *d);

/* The node closes only once no operation uses it any more. */
static void maybe_close_node(daemon_t *d)
{
    if (d->stopping && d->n_ops == 0 && !d->node_closed) {
        d->node_closed = 1;
        emofs_node_close(&d->node);
    }
}

static void on_client_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    daemon_t *d = c->d;
    client_t **p = &d->clients;

    while (*p != NULL && *p != c)
        p = &(*p)->next;
    if (*p == c)
        *p = c->next;
    free(c->buf);
    free(c);
}

static void client_close(client_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    /* A client that goes away cancels what it asked for. */
    emofs_op_cancel(c->op);
    if (c->op == NULL)
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    client_t *c = w->c;

    free(w->frame);
    if (w->close_after || status != 0) {
        if (c->stop_after)
            daemon_stop(c->d);
        if (!c->closing) {
            c->closing = 1;
            uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        } else if (c->op == NULL && !uv_is_closing((uv_handle_t *)&c->pipe)) {
            uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        }
    }
    free(w);
}

static void client_send(client_t *c, const ctl_msg_t *m, int close_after)
{
    write_req_t *w = calloc(1, sizeof(*w));
    size_t len;
    uv_buf_t b;

    if (w == NULL || ctl_encode(m, &w->frame, &len) != 0) {
        free(w);
        if (close_after && !c->closing) {
            c->closing = 1;
            uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        }
        return;
    }
    w->c = c;
    w->close_after = close_after;
    b = uv_buf_init((char *)w->frame, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0) {
        free(w->frame);
        free(w);
        if (close_after && !c->closing) {
            c->closing = 1;
            uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        }
    }
}

static void on_op_progress(const ctl_progress_t *p, void *arg)
{
    client_t *c = arg;
    ctl_msg_t m = {0};

    if (c->closing)
        return;
    m.type = CTL_PROGRESS;
    m.progress = *p;
    client_send(c, &m, 0);
}

static void on_op_result(const ctl_msg_t *res, void *arg)
{
    client_t *c = arg;

    c->op = NULL;
    c->d->n_ops--;
    if (c->closing) {
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, on_client_closed);
    } else {
        client_send(c, res, 1);
    }
    maybe_close_node(c->d);
}

static void answer_error(client_t *c, uint8_t req_type, int status, const char *text)
{
    ctl_msg_t m = {0};

    m.type = CTL_RESULT;
    m.req_type = ctl_is_request(req_type) ? req_type : CTL_STATUS;
    m.status = status;
    ctl_set_message(&m, text);
    client_send(c, &m, 1);
    ctl_msg_clear(&m);
}

static void handle_request(client_t *c, const uint8_t *body, size_t len)
{
    ctl_msg_t req;
    int err;

    c->got_request = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    err = ctl_decode(body, len, &req);
    if (err) {
        answer_error(c, len > 0 ? body[0] : 0, FS_ECORRUPT, "malformed control request");
        return;
    }
    if (!ctl_is_request(req.type)) {
        answer_error(c, CTL_STATUS, FS_ECORRUPT, "not a request");
    } else if (c->d->stopping) {
        answer_error(c, req.type, FS_ECANCELED, "the daemon is stopping");
    } else if (req.type == CTL_STOP) {
        ctl_msg_t m = {0};
        m.type = CTL_RESULT;
        m.req_type = CTL_STOP;
        c->stop_after = 1;
        client_send(c, &m, 1);
    } else {
        err = emofs_op_start(&c->op, &c->d->node, &req, on_op_progress, on_op_result, c);
        if (err)
            answer_error(c, req.type, err, NULL);
        else
            c->d->n_ops++;
    }
    ctl_msg_clear(&req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client_t *c = h->data;

    (void)suggested;
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        uint8_t *p = cap <= 2 * (size_t)CTL_MAX_FRAME ? realloc(c->buf, cap) : NULL;
        if (p == NULL) {
            buf->base = NULL;
            buf->len = 0;
            return;
        }
        c->buf = p;
        c->cap = cap;
    }
    buf->base = (char *)c->buf + c->len;
    buf->len = c->cap - c->len;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client_t *c = s->data;
    size_t frame_len = 0;
    int r;

    (void)buf;
    if (n < 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    r = ctl_frame_check(c->buf, c->len, &frame_len);
    if (r < 0) {
        answer_error(c, 0, FS_ECORRUPT, "malformed control frame");
        uv_read_stop(s);
        return;
    }
    if (r == 1 && !c->got_request)
        handle_request(c, c->buf + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR);
}

static void on_connection(uv_stream_t *server, int status)
{
    daemon_t *d = server->data;
    client_t *c;

    if (status != 0)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->d = d;
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, (uv_close_cb)free);
        return;
    }
    c->next = d->clients;
    d->clients = c;
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void daemon_stop(daemon_t *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    fprintf(stderr, "emofs daemon: stopping\n");
    for (client_t *c = d->clients; c != NULL; c = c->next)
        emofs_op_cancel(c->op);
    uv_close((uv_handle_t *)&d->server, NULL);
    unlink(d->sock_path);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    maybe_close_node(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    daemon_stop(s->data);
}

static void on_joined(int status, void *arg)
{
    daemon_t *d = arg;

    if (d->stopping)
        return;
    if (status == 0 && d->node.n_bootstrap > 0)
        fprintf(stderr, "emofs daemon: joined the network\n");
    else if (status != 0)
        fprintf(stderr,
                "emofs daemon: no bootstrap peer answered; serving anyway, peers may join us\n");
}

static int daemon_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs daemon [--listen HOST:PORT] [--bootstrap HOST:PORT]... [--data DIR]\n"
               "Runs this data directory's node in the foreground until SIGINT or SIGTERM.\n"
               "  --listen HOST:PORT     UDP and TCP address to serve peers on\n"
               "                         (default: the config file's, else 0.0.0.0:4100)\n"
               "  --bootstrap HOST:PORT  a node of the network to join through (repeatable;\n"
               "                         default: the config file's 'bootstrap' lines)\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n"
               "HOST is an address (192.0.2.7, [::1]) or a name, resolved once at start.\n"
               "DIR/config may set the same: lines 'listen HOST:PORT', 'bootstrap HOST:PORT'.\n"
               "Control socket: DIR/emofs.sock. Exit codes: 0 stopped cleanly, 2 usage (or\n"
               "a bad config line), 7 the data directory is in use, 1 cannot start (the\n"
               "address is in use, say).\n");
    return code;
}

int emofs_daemon_main(int argc, char **argv)
{
    daemon_t d;
    emofs_node_opts_t opts;
    char err_text[512] = "", addr[DHT_ADDRSTRLEN], hex[65], listen_text[DHT_ADDRSTRLEN];
    long holder = 0;
    int err;

    memset(&d, 0, sizeof(d));
    memset(&opts, 0, sizeof(opts));
    opts.daemon = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return daemon_usage(stdout, 0);
        if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            dht_addr_t la;
            if (hostaddr_option(a, argv[++i], &la) != 0)
                return EXIT_USAGE;
            opts.listen = dht_addr_format(&la, listen_text);
        } else if (strcmp(a, "--bootstrap") == 0 && i + 1 < argc) {
            if (opts.n_bootstrap == EMOFS_MAX_BOOTSTRAP)
                return cli_fail(EXIT_USAGE, "at most %d --bootstrap peers", EMOFS_MAX_BOOTSTRAP);
            if (hostaddr_option(a, argv[++i], &opts.bootstrap[opts.n_bootstrap++]) != 0)
                return EXIT_USAGE;
        } else if (strcmp(a, "--data") == 0 && i + 1 < argc) {
            opts.dir = argv[++i];
        } else {
            return cli_fail(EXIT_USAGE,
                            "daemon: unknown or incomplete option '%s' (see emofs daemon --help)",
                            a);
        }
    }
    if (opts.dir == NULL && (opts.dir = cli_default_dir()) == NULL)
        return cli_fail(EXIT_USAGE, "no data directory: set --data, $EMOFS_HOME or $HOME");
    signal(SIGPIPE, SIG_IGN);
    d.loop = uv_default_loop();
    err = emofs_node_open(&d.node, d.loop, &opts, &holder, err_text, sizeof(err_text));
    if (err)
        return cli_fail(cli_open_exit_code(err), "%s", err_text);
    d.sock_path = malloc(strlen(opts.dir) + sizeof(CTL_SOCK_NAME) + 2);
    if (d.sock_path == NULL)
        return cli_fail(EXIT_FAILURE, "out of memory");
    sprintf(d.sock_path, "%s/%s", opts.dir, CTL_SOCK_NAME);
    /* We hold the directory's lock: a socket file left there is stale. */
    unlink(d.sock_path);
    uv_pipe_init(d.loop, &d.server, 0);
    d.server.data = &d;
    if ((err = uv_pipe_bind(&d.server, d.sock_path)) != 0 ||
        (err = uv_listen((uv_stream_t *)&d.server, 64, on_connection)) != 0) {
        cli_fail(EXIT_FAILURE, "cannot serve the control socket %s: %s", d.sock_path,
                 uv_strerror(err));
        uv_close((uv_handle_t *)&d.server, NULL);
        emofs_node_close(&d.node);
        uv_run(d.loop, UV_RUN_DEFAULT);
        free(d.sock_path);
        return EXIT_FAILURE;
    }
    chmod(d.sock_path, 0600);
    uv_signal_init(d.loop, &d.sigint);
    uv_signal_init(d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    dht_id_to_hex(dht_self(d.node.dht), hex);
    printf("emofs daemon: node %s listening on %s, control socket %s\n", hex,
           dht_addr_format(&d.node.addr, addr), d.sock_path);
    fflush(stdout);
    emofs_node_bootstrap(&d.node, on_joined, &d);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    free(d.sock_path);
    return 0;
}
