/*
 * The executor on libuv (exec.h): work on libuv's thread pool, deferred
 * callbacks from one timer, uv_now() as the clock.
 */
#ifndef EMOFS_EXEC_UV_H
#define EMOFS_EXEC_UV_H

#include "filestore/exec.h"

#include <uv.h>

typedef struct fs_exec_uv {
    fs_exec_t exec; /* hand &exec to fs_ctx_t.exec */
    uv_loop_t *loop;
    uv_timer_t timer;            /* runs the deferred callbacks */
    fs_job_t *head, *tail;       /* deferred callbacks, in order */
    unsigned working;            /* jobs on the thread pool */
    int closing, closed;
    int running;                 /* inside run_deferred */
    void (*close_cb)(void *arg);
    void *close_arg;
} fs_exec_uv_t;

/* Sets up ex on loop. @return 0 (it cannot fail today). */
int fs_exec_uv_init(fs_exec_uv_t *ex, uv_loop_t *loop);

/* Closes ex once every job queued has run, those its callbacks queue
 * meanwhile included, then calls close_cb(arg) (may be NULL) from the
 * loop. ex must live until then. Safe from inside a job's done. A second
 * call does nothing. */
void fs_exec_uv_close(fs_exec_uv_t *ex, void (*close_cb)(void *arg), void *arg);

#endif /* EMOFS_EXEC_UV_H */
