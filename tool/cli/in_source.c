/*
 * Reading standard input on a loop. See in_source.h.
 */
#include "tool/cli/in_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#define READ_SIZE (1u << 20)

struct in_source {
    uv_loop_t *loop;
    in_source_cbs_t cbs;
    int fd;
    int is_stream; /* a pipe or terminal: read through a uv_stream_t */
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } h;
    uv_fs_t req;
    int reading_file; /* a uv_fs_read is in the thread pool */
    uint8_t *buf;
    size_t len, off; /* bytes in buf, bytes of them taken */
    int paused, ended, closing;
    int fd_flags; /* fd's status flags at start, restored at the end */
};

static void finish(in_source_t *src, int err)
{
    if (src->ended || src->closing)
        return;
    src->ended = 1;
    src->cbs.end(src->cbs.arg, err);
}

/* Offers what buf holds. @return 1 when all of it is taken. */
static int offer(in_source_t *src)
{
    while (src->off < src->len && !src->closing) {
        size_t n = src->cbs.feed(src->cbs.arg, src->buf + src->off, src->len - src->off);
        if (n == 0) {
            src->paused = 1;
            return 0;
        }
        src->off += n;
    }
    src->len = src->off = 0;
    return !src->closing;
}

/* ---- a regular file: the thread pool --------------------------------------- */

static void read_file(in_source_t *src);

static void on_file_read(uv_fs_t *req)
{
    in_source_t *src = req->data;
    ssize_t n = req->result;

    uv_fs_req_cleanup(req);
    src->reading_file = 0;
    if (src->closing) {
        free(src->buf);
        free(src);
        return;
    }
    if (n <= 0) {
        finish(src, (int)n);
        return;
    }
    src->len = (size_t)n;
    src->off = 0;
    if (offer(src))
        read_file(src);
}

static void read_file(in_source_t *src)
{
    uv_buf_t b = uv_buf_init((char *)src->buf, READ_SIZE);
    int err;

    src->req.data = src;
    err = uv_fs_read(src->loop, &src->req, src->fd, &b, 1, -1, on_file_read);
    if (err != 0)
        finish(src, err);
    else
        src->reading_file = 1;
}

/* ---- a pipe or a terminal: non-blocking reads ------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    in_source_t *src = h->data;

    (void)suggested;
    *b = uv_buf_init((char *)src->buf, READ_SIZE);
}

static void on_stream_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    in_source_t *src = s->data;

    (void)b;
    if (n == 0)
        return;
    if (n < 0) {
        uv_read_stop(s);
        finish(src, n == UV_EOF ? 0 : (int)n);
        return;
    }
    src->len = (size_t)n;
    src->off = 0;
    if (!offer(src) && !src->closing)
        uv_read_stop(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    in_source_t *src = h->data;

    /* libuv made the (shared) open file description non-blocking. */
    if (src->fd_flags >= 0)
        fcntl(src->fd, F_SETFL, src->fd_flags);
    free(src->buf);
    free(src);
}

int in_source_start(in_source_t **out, uv_loop_t *loop, int fd, const in_source_cbs_t *cbs)
{
    in_source_t *src = calloc(1, sizeof(*src));
    uv_handle_type kind = uv_guess_handle(fd);
    int err = 0;

    if (src == NULL || (src->buf = malloc(READ_SIZE)) == NULL) {
        free(src);
        return UV_ENOMEM;
    }
    src->loop = loop;
    src->cbs = *cbs;
    src->fd = fd;
    src->fd_flags = fcntl(fd, F_GETFL);
    if (kind == UV_NAMED_PIPE || kind == UV_TTY) {
        /* A handle closes its fd: give it a copy, so fd stays ours. */
        int copy = dup(fd);
        if (copy < 0) {
            free(src->buf);
            free(src);
            return uv_translate_sys_error(errno);
        }
        if (kind == UV_NAMED_PIPE) {
            uv_pipe_init(loop, &src->h.pipe, 0);
            err = uv_pipe_open(&src->h.pipe, copy);
        } else if ((err = uv_tty_init(loop, &src->h.tty, copy, 1)) != 0) {
            close(copy); /* no handle was made: nothing to close */
            free(src->buf);
            free(src);
            return err;
        }
        if (err != 0)
            close(copy);
        src->is_stream = 1;
    }
    if (src->is_stream) {
        ((uv_handle_t *)&src->h)->data = src;
        if (err == 0)
            err = uv_read_start((uv_stream_t *)&src->h.pipe, on_alloc, on_stream_read);
        if (err != 0) {
            src->closing = 1;
            uv_close((uv_handle_t *)&src->h.pipe, on_handle_closed);
            return err;
        }
    } else {
        read_file(src);
    }
    *out = src;
    return 0;
}

void in_source_resume(in_source_t *src)
{
    if (src == NULL || !src->paused || src->closing)
        return;
    src->paused = 0;
    if (!offer(src))
        return;
    if (src->is_stream)
        uv_read_start((uv_stream_t *)&src->h.pipe, on_alloc, on_stream_read);
    else
        read_file(src);
}

void in_source_close(in_source_t *src)
{
    if (src == NULL || src->closing)
        return;
    src->closing = 1;
    if (src->is_stream) {
        uv_close((uv_handle_t *)&src->h.pipe, on_handle_closed);
    } else if (!src->reading_file) {
        free(src->buf);
        free(src);
    }
}
