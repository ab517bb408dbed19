/*
 * The executor on libuv. See exec_uv.h.
 *
 * A job's work runs through uv_queue_work, with the uv_work_t kept in the
 * job's private space. Deferred callbacks wait in a list that one timer,
 * started with timeout 0, empties in the loop's next timers phase.
 */
#include "filestore/exec_uv.h"

#include "filestore/fs_error.h"

#include <stddef.h>

_Static_assert(sizeof(uv_work_t) <= sizeof(((fs_job_t *)0)->priv),
               "fs_job_t.priv must hold a uv_work_t");

static fs_job_t *job_of(uv_work_t *w)
{
    return (fs_job_t *)((char *)w - offsetof(fs_job_t, priv));
}

static void on_closed(uv_handle_t *h)
{
    fs_exec_uv_t *ex = h->data;

    ex->closed = 1;
    if (ex->close_cb != NULL)
        ex->close_cb(ex->close_arg);
}

/* Closing, and nothing left to run: closes the timer. */
static void maybe_close(fs_exec_uv_t *ex)
{
    if (ex->closing && !ex->closed && !ex->running && ex->head == NULL && ex->working == 0 &&
        !uv_is_closing((uv_handle_t *)&ex->timer))
        uv_close((uv_handle_t *)&ex->timer, on_closed);
}

static void run_work(uv_work_t *w)
{
    fs_job_t *job = job_of(w);

    job->work(job);
}

static void after_work(uv_work_t *w, int status)
{
    fs_job_t *job = job_of(w);
    fs_exec_uv_t *ex = w->data;

    (void)status; /* never UV_ECANCELED: nothing calls uv_cancel */
    ex->working--;
    job->done(job);
    maybe_close(ex);
}

static void run_deferred(uv_timer_t *t)
{
    fs_exec_uv_t *ex = t->data;
    /* What was deferred before this call; what its callbacks defer goes
     * to a new list, run when the timer fires again (libuv 1.44 runs a
     * 0 ms timer restarted from its own callback in the same pass). */
    fs_job_t *list = ex->head;

    ex->head = ex->tail = NULL;
    ex->running = 1;
    while (list != NULL) {
        fs_job_t *job = list;
        list = job->next;
        job->done(job);
    }
    ex->running = 0;
    if (ex->head != NULL)
        uv_timer_start(&ex->timer, run_deferred, 0, 0);
    maybe_close(ex);
}

static int submit(void *self, fs_job_t *job)
{
    fs_exec_uv_t *ex = self;

    if (ex->closed || uv_is_closing((uv_handle_t *)&ex->timer))
        return FS_ECANCELED;
    if (job->work != NULL) {
        uv_work_t *w = (uv_work_t *)&job->priv;
        w->data = ex;
        if (uv_queue_work(ex->loop, w, run_work, after_work) != 0)
            return FS_ENOMEM;
        ex->working++;
        return 0;
    }
    job->next = NULL;
    if (ex->tail != NULL)
        ex->tail->next = job;
    else
        ex->head = job;
    ex->tail = job;
    if (!uv_is_active((uv_handle_t *)&ex->timer))
        uv_timer_start(&ex->timer, run_deferred, 0, 0);
    return 0;
}

static uint64_t now_ms(void *self)
{
    fs_exec_uv_t *ex = self;

    return uv_now(ex->loop);
}

static const fs_exec_ops_t uv_ops = {submit, now_ms};

int fs_exec_uv_init(fs_exec_uv_t *ex, uv_loop_t *loop)
{
    ex->exec.ops = &uv_ops;
    ex->exec.self = ex;
    ex->loop = loop;
    ex->head = ex->tail = NULL;
    ex->working = 0;
    ex->closing = ex->closed = ex->running = 0;
    ex->close_cb = NULL;
    ex->close_arg = NULL;
    uv_timer_init(loop, &ex->timer);
    ex->timer.data = ex;
    return 0;
}

void fs_exec_uv_close(fs_exec_uv_t *ex, void (*close_cb)(void *arg), void *arg)
{
    if (ex->closing)
        return;
    ex->closing = 1;
    ex->close_cb = close_cb;
    ex->close_arg = arg;
    maybe_close(ex);
}
