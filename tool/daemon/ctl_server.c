/*
 * The daemon's control server. See ctl_server.h and schema/control.md.
 */
#include "tool/daemon/ctl_server.h"

#include "tool/daemon/log.h"
#include "tool/node/node_ops.h"
#include "tool/cli/progress.h"
#include "manifests/le.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctl_server {
    uv_loop_t *loop;
    emofs_node_t *node;
    uv_pipe_t listener;
    char *sock_path;
    ctl_server_events_t ev;
    struct client *clients;
    unsigned n_ops;
    int shutting_down, listener_closed, idle_said;
    /* After the last request ended, clients get this long to read their
     * RESULT before they are closed, so one that stopped reading cannot
     * keep a stopping daemon alive. */
    uv_timer_t grace;
    int grace_inited, grace_closing, grace_closed;
};

#define GRACE_MS 1000

/* One connection. It is freed once its pipe is closed and its request is
 * done (op == NULL), in whichever order they come. */
typedef struct client {
    uv_pipe_t pipe;
    ctl_server_t *srv;
    struct client *next;
    uint8_t *buf;
    size_t len, cap;
    emofs_op_t *op;
    int got_request;
    int closing;      /* uv_close() called on the pipe */
    int pipe_closed;  /* ... and its close callback ran */
    int stop_after;   /* a STOP: tell the owner once the RESULT is written */
    int data_waiting; /* a streamed GET waits for the write queue to drain */
    int feeding;      /* a streamed PUT: DATA messages follow the request */
    int feed_blocked; /* ... and the put takes no more for now */
    int input_ended;  /* ... and its empty DATA came: all of it is here */
    size_t off;       /* bytes of buf already handled */
    size_t data_off;  /* bytes of the current DATA message already fed */
    uint8_t req_type; /* for the log: what was asked, since when */
    char what[300];
    uint64_t started_ns;
} client_t;

/* A streamed GET gets more bytes to send while less than this is queued. */
#define DATA_QUEUE_MAX (4u << 20)

typedef struct write_req {
    uv_write_t req;
    uint8_t *frame;
    client_t *c;
    int last; /* the RESULT: close the connection once written */
} write_req_t;

static void server_maybe_free(ctl_server_t *srv)
{
    if (!srv->shutting_down || !srv->listener_closed || srv->clients != NULL ||
        (srv->grace_inited && !srv->grace_closed))
        return;
    free(srv->sock_path);
    free(srv);
}

static void on_grace_closed(uv_handle_t *h)
{
    ctl_server_t *srv = h->data;

    srv->grace_closed = 1;
    server_maybe_free(srv);
}

static void close_grace(ctl_server_t *srv)
{
    if (srv->grace_inited && !srv->grace_closing) {
        srv->grace_closing = 1;
        uv_close((uv_handle_t *)&srv->grace, on_grace_closed);
    }
}

static void client_close(struct client *c);

/* The grace is over: whoever has not read its RESULT yet is closed. */
static void on_grace(uv_timer_t *t)
{
    ctl_server_t *srv = t->data;

    for (struct client *c = srv->clients, *next; c != NULL; c = next) {
        next = c->next;
        client_close(c);
    }
    close_grace(srv);
}

static void server_maybe_idle(ctl_server_t *srv)
{
    if (srv->shutting_down && srv->n_ops == 0 && !srv->idle_said) {
        srv->idle_said = 1;
        if (srv->ev.idle != NULL)
            srv->ev.idle(srv->ev.arg);
        if (srv->clients == NULL)
            close_grace(srv);
        else
            uv_timer_start(&srv->grace, on_grace, GRACE_MS, 0);
    }
}

static void client_maybe_free(client_t *c)
{
    ctl_server_t *srv = c->srv;
    client_t **p = &srv->clients;

    if (!c->pipe_closed || c->op != NULL)
        return;
    while (*p != NULL && *p != c)
        p = &(*p)->next;
    if (*p == c)
        *p = c->next;
    free(c->buf);
    free(c);
    if (srv->shutting_down && srv->idle_said && srv->clients == NULL)
        close_grace(srv);
    server_maybe_free(srv);
}

static void on_pipe_closed(uv_handle_t *h)
{
    client_t *c = h->data;

    c->pipe_closed = 1;
    client_maybe_free(c);
}

/* Cancels the connection's request. A streamed GET waiting for its queue
 * to drain is released at once (its bytes are already in the queue), so a
 * reader that stopped reading cannot hold the request, or the daemon, up. */
static void client_cancel(client_t *c)
{
    emofs_op_cancel(c->op);
    if (c->data_waiting && c->op != NULL) {
        c->data_waiting = 0;
        emofs_op_data_done(c->op, FS_ECANCELED);
    }
}

/* Ends the connection: cancels its request (which still reports its end
 * to on_op_result) and closes the pipe. Safe to call more than once. */
static void client_close(client_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    client_cancel(c);
    uv_close((uv_handle_t *)&c->pipe, on_pipe_closed);
}

static size_t queued(client_t *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static void on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    client_t *c = w->c;
    int last = w->last;

    free(w->frame);
    free(w);
    if (c->data_waiting && (status != 0 || queued(c) < DATA_QUEUE_MAX)) {
        c->data_waiting = 0;
        emofs_op_data_done(c->op, status != 0 ? FS_EIO : 0);
    }
    if (last && c->stop_after && c->srv->ev.stop_requested != NULL) {
        c->stop_after = 0;
        c->srv->ev.stop_requested(c->srv->ev.arg);
    }
    if (status != 0 || last)
        client_close(c);
}

/* Queues one message; last: it is the RESULT, close after it. A message
 * that cannot be sent ends the connection. */
static void client_send(client_t *c, const ctl_msg_t *m, int last)
{
    write_req_t *w;
    size_t len;
    uv_buf_t b;

    if (c->closing)
        return;
    w = calloc(1, sizeof(*w));
    if (w == NULL || ctl_encode(m, &w->frame, &len) != 0) {
        free(w);
        client_close(c);
        return;
    }
    w->c = c;
    w->last = last;
    b = uv_buf_init((char *)w->frame, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written) != 0) {
        free(w->frame);
        free(w);
        client_close(c);
    }
}

static void on_op_progress(const ctl_progress_t *p, void *arg)
{
    client_t *c = arg;
    ctl_msg_t m = {0};

    m.type = CTL_PROGRESS;
    m.progress = *p;
    client_send(c, &m, 0);
}

/* A streamed GET's bytes: one DATA message each; more come while the
 * write queue is short, so a slow reader slows the get, not our memory. */
static void on_op_data(emofs_op_t *op, const uint8_t *data, size_t len, void *arg)
{
    client_t *c = arg;
    ctl_msg_t m = {0};

    if (c->closing) {
        emofs_op_data_done(op, FS_ECANCELED);
        return;
    }
    m.type = CTL_DATA;
    m.blob = (uint8_t *)data;
    m.blob_len = len;
    client_send(c, &m, 0);
    if (c->closing)
        emofs_op_data_done(op, FS_EIO);
    else if (queued(c) < DATA_QUEUE_MAX)
        emofs_op_data_done(op, 0);
    else
        c->data_waiting = 1;
}

/* One log line per request: info for puts, gets, rm and gc (what changes
 * the disk), debug for the rest. */
static void log_result(const client_t *c, const ctl_msg_t *res)
{
    double secs = (double)(uv_hrtime() - c->started_ns) / 1e9;
    log_level_t level = c->req_type == CTL_PUT || c->req_type == CTL_GET || c->req_type == CTL_RM ||
                                c->req_type == CTL_GC
                            ? LOG_INFO
                            : LOG_DEBUG;
    char hex[65], size[32];

    if (!log_enabled(level))
        return;
    if (res->status != 0) {
        log_msg(res->status == FS_ECANCELED ? level : LOG_WARN, "%s%s%s: failed in %.2f s: %s",
                ctl_type_name(c->req_type), c->what[0] ? " " : "", c->what, secs,
                res->message ? res->message : "");
        return;
    }
    progress_format_bytes(c->req_type == CTL_RM || c->req_type == CTL_GC ? res->freed.bytes
                                                                         : res->size,
                          size, sizeof(size));
    mf_key_to_hex(res->key, hex);
    if (c->req_type == CTL_RM)
        log_msg(level, "RM %s (%s): unpinned, removed %llu blobs, %s in %.2f s", c->what, res->name,
                (unsigned long long)res->freed.blobs, size, secs);
    else if (c->req_type == CTL_GC)
        log_msg(level, "GC: removed %llu blobs, %s, and %u files of abandoned gets in %.2f s",
                (unsigned long long)res->freed.blobs, size, (unsigned)res->freed.partials, secs);
    else if (c->req_type == CTL_PUT)
        log_msg(level, "PUT %s: stored as %s, %s in %.2f s", c->what, hex, size, secs);
    else if (c->req_type == CTL_GET)
        log_msg(level, "GET %s: wrote %s, %s in %.2f s", c->what,
                res->path && res->path[0] ? res->path : "to the client", size, secs);
    else
        log_msg(level, "%s%s%s: ok in %.2f s", ctl_type_name(c->req_type), c->what[0] ? " " : "",
                c->what, secs);
}

static void on_op_result(const ctl_msg_t *res, void *arg)
{
    client_t *c = arg;
    ctl_server_t *srv = c->srv;

    log_result(c, res);
    c->op = NULL;
    srv->n_ops--;
    if (c->closing)
        client_maybe_free(c);
    else
        client_send(c, res, 1);
    server_maybe_idle(srv);
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

/* What a request is about, for the log. */
static void describe(client_t *c, const ctl_msg_t *req)
{
    char hex[65];

    if (req->type == CTL_PUT && (req->flags & CTL_FLAG_STREAM)) {
        snprintf(c->what, sizeof(c->what), "of a stream named %s", req->path);
    } else if (req->type == CTL_PUT) {
        snprintf(c->what, sizeof(c->what), "%s", req->path);
    } else if (req->type == CTL_GET || req->type == CTL_MANIFEST || req->type == CTL_HEALTH ||
               req->type == CTL_RM) {
        mf_key_to_hex(req->key, hex);
        snprintf(c->what, sizeof(c->what), "%s", hex);
    } else {
        c->what[0] = '\0';
    }
}

static void on_op_want(emofs_op_t *op, void *arg);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void handle_request(client_t *c, const uint8_t *body, size_t len)
{
    ctl_server_t *srv = c->srv;
    ctl_msg_t req;
    int err;

    c->got_request = 1;
    if (len < 1 || !ctl_is_request(body[0])) {
        /* Not a request at all: nothing to answer (schema/control.md 5.1). */
        uv_read_stop((uv_stream_t *)&c->pipe);
        client_close(c);
        return;
    }
    err = ctl_decode(body, len, &req);
    if (err) {
        char text[96];
        if (len >= 2 && body[1] != CTL_VERSION)
            snprintf(text, sizeof(text),
                     "control protocol version %u; this daemon speaks version %u", body[1],
                     CTL_VERSION);
        else
            snprintf(text, sizeof(text), "malformed control request");
        answer_error(c, body[0], FS_ECORRUPT, text);
        return;
    }
    if (srv->shutting_down) {
        answer_error(c, req.type, FS_ECANCELED, "the daemon is stopping");
    } else if (req.type == CTL_STOP) {
        ctl_msg_t m = {0};
        m.type = CTL_RESULT;
        m.req_type = CTL_STOP;
        c->stop_after = 1;
        client_send(c, &m, 1);
    } else {
        emofs_op_cbs_t cbs = {on_op_progress, on_op_result, on_op_data, on_op_want, c};
        err = emofs_op_start(&c->op, srv->node, &req, &cbs);
        c->req_type = req.type;
        c->started_ns = uv_hrtime();
        describe(c, &req);
        if (err) {
            answer_error(c, req.type, err, NULL);
        } else {
            srv->n_ops++;
            c->feeding = req.type == CTL_PUT && (req.flags & CTL_FLAG_STREAM);
        }
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

/* One DATA message of a streamed PUT, body of len bytes: fed to the put,
 * perhaps in parts. @return 1 when all of it is taken, 0 when the put
 * wants a pause (the rest is fed after on_op_want), -1 if it is not a
 * DATA message. */
static int feed_data(client_t *c, const uint8_t *body, size_t len)
{
    size_t n;

    if (len < 6 || body[0] != CTL_DATA || body[1] != CTL_VERSION)
        return -1;
    n = le_get32(body + 2);
    if (n != len - 6)
        return -1;
    if (n == 0) { /* the end of the file */
        c->feeding = 0;
        c->input_ended = 1;
        emofs_op_feed_end(c->op);
        return 1;
    }
    c->data_off += emofs_op_feed(c->op, body + 6 + c->data_off, n - c->data_off);
    if (c->data_off < n)
        return 0;
    c->data_off = 0;
    return 1;
}

/* Handles the complete frames in buf: the request, then a streamed PUT's
 * DATA messages. Stops reading while the put takes no more. */
static void handle_input(client_t *c)
{
    size_t frame_len = 0;

    while (!c->closing && !c->feed_blocked) {
        const uint8_t *frame = c->buf + c->off;
        int r = ctl_frame_check(frame, c->len - c->off, &frame_len);
        if (r == 0)
            break;
        if (r < 0 || (c->got_request && !c->feeding)) {
            /* A length we cannot trust, or bytes after the request: the
             * next frame cannot be found; close (schema/control.md 2). */
            uv_read_stop((uv_stream_t *)&c->pipe);
            client_close(c);
            return;
        }
        if (!c->got_request) {
            handle_request(c, frame + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR);
        } else {
            r = feed_data(c, frame + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR);
            if (r < 0) {
                uv_read_stop((uv_stream_t *)&c->pipe);
                client_close(c);
                return;
            }
            if (r == 0) {
                c->feed_blocked = 1;
                uv_read_stop((uv_stream_t *)&c->pipe);
                break;
            }
        }
        c->off += frame_len;
    }
    /* Keep only what is not handled yet. */
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
}

/* A streamed PUT takes bytes again: feed it what is buffered, then read on. */
static void on_op_want(emofs_op_t *op, void *arg)
{
    client_t *c = arg;

    (void)op;
    if (!c->feed_blocked || c->closing)
        return;
    c->feed_blocked = 0;
    handle_input(c);
    if (!c->feed_blocked && !c->closing)
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* After its request a client sends nothing (but a streamed PUT's DATA); it
 * closes its end (shutdown or close) to cancel the request. The RESULT
 * still goes to it, so a client that only shut down its sending side
 * learns when the cancel is done. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client_t *c = s->data;

    (void)buf;
    if (n == 0)
        return;
    if (n == UV_EOF && c->got_request) {
        /* The client shut down its side: cancel (unless a streamed PUT's
         * input was all there), but still answer. */
        uv_read_stop(s);
        if (!c->input_ended)
            client_cancel(c);
        return;
    }
    if (n < 0) {
        uv_read_stop(s);
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    handle_input(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    ctl_server_t *srv = listener->data;
    client_t *c;

    if (status != 0 || srv->shutting_down)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->srv = srv;
    uv_pipe_init(srv->loop, &c->pipe, 0);
    c->pipe.data = c;
    c->next = srv->clients;
    srv->clients = c;
    if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0 ||
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
        client_close(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    ctl_server_t *srv = h->data;

    srv->listener_closed = 1;
    server_maybe_free(srv);
}

int ctl_server_start(ctl_server_t **out, uv_loop_t *loop, emofs_node_t *node, const char *sock_path,
                     const ctl_server_events_t *events)
{
    ctl_server_t *srv = calloc(1, sizeof(*srv));
    int err;

    if (srv == NULL || (srv->sock_path = strdup(sock_path)) == NULL) {
        free(srv);
        return UV_ENOMEM;
    }
    srv->loop = loop;
    srv->node = node;
    if (events != NULL)
        srv->ev = *events;
    unlink(sock_path);
    uv_pipe_init(loop, &srv->listener, 0);
    srv->listener.data = srv;
    err = uv_pipe_bind(&srv->listener, sock_path);
    /* Private before anyone can connect: only the owner talks to the
     * daemon (the data directory is 0700 too, when emofs made it). */
    if (err == 0 && chmod(sock_path, 0600) != 0)
        err = uv_translate_sys_error(errno);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&srv->listener, 64, on_connection);
    if (err != 0) {
        /* The listener is closed from the loop, and srv with it. */
        srv->shutting_down = 1;
        srv->idle_said = 1;
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
        unlink(sock_path);
        return err;
    }
    *out = srv;
    return 0;
}

void ctl_server_shutdown(ctl_server_t *srv)
{
    if (srv == NULL || srv->shutting_down)
        return;
    srv->shutting_down = 1;
    uv_timer_init(srv->loop, &srv->grace);
    srv->grace.data = srv;
    srv->grace_inited = 1;
    for (client_t *c = srv->clients, *next; c != NULL; c = next) {
        next = c->next;
        if (!c->got_request)
            client_close(c); /* nothing asked yet: nothing to answer */
        else
            client_cancel(c);
    }
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    unlink(srv->sock_path);
    server_maybe_idle(srv);
}

unsigned ctl_server_requests(const ctl_server_t *srv)
{
    return srv->n_ops;
}
