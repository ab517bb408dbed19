/*
 * The executor: what the file engines (put, get, fetch) need from the
 * program that runs them, and nothing more:
 *   - run a job's work on a worker thread, then its done on the loop thread;
 *   - run a job's done on the loop thread soon, never inside the call that
 *     asked (to defer a callback, or a free, past the current call stack);
 *   - the loop's clock, in milliseconds.
 * The DHT handle is the context's (fs_ctx_t.dht).
 *
 * Two executors exist: exec_uv.h (libuv's loop and thread pool, what emofs
 * runs) and exec_sim.h (the simulator's virtual clock; work runs on the
 * simulator's thread, in event order, so a run replays exactly).
 *
 * Every function here is called on the loop thread.
 */
#ifndef EMOFS_EXEC_H
#define EMOFS_EXEC_H

#include <stdint.h>

typedef struct fs_job fs_job_t;
typedef void (*fs_job_fn)(fs_job_t *job);

/* One piece of work. The caller owns the storage (usually inside a struct
 * of its own, found again through data) and leaves the job alone from
 * fs_exec_queue or fs_exec_defer until done has been called. */
struct fs_job {
    void *data;     /* the caller's */
    fs_job_fn work; /* on a worker thread; NULL for a deferred callback */
    fs_job_fn done; /* on the loop thread, after work */
    /* The executor's own, untouched by the caller. */
    fs_job_t *next;
    union {
        void *p[24];
        uint64_t u[24];
        long double align;
    } priv;
};

/* An executor: a table of functions and the object they act on. */
typedef struct fs_exec_ops {
    /* Runs job->work (if not NULL) on a worker, then job->done on the loop
     * thread; never job->done inside this call. @return 0, or a negative
     * FS_* code and the job will not run. */
    int (*submit)(void *self, fs_job_t *job);
    /* @return the loop's clock, in milliseconds. */
    uint64_t (*now_ms)(void *self);
} fs_exec_ops_t;

typedef struct fs_exec {
    const fs_exec_ops_t *ops;
    void *self;
} fs_exec_t;

/* Runs work(job) on a worker thread, then done(job) on the loop thread.
 * job->data is left as the caller set it.
 * @return 0, or a negative FS_* code (FS_ENOMEM): then neither runs. */
int fs_exec_queue(const fs_exec_t *ex, fs_job_t *job, fs_job_fn work, fs_job_fn done);

/* Runs done(job) on the loop thread soon, never inside this call.
 * @return 0, or a negative FS_* code: then done does not run. */
int fs_exec_defer(const fs_exec_t *ex, fs_job_t *job, fs_job_fn done);

/* @return the loop's clock, in milliseconds. */
uint64_t fs_exec_now(const fs_exec_t *ex);

#endif /* EMOFS_EXEC_H */
