/*
 * The executor's three calls, through the table of the executor in use.
 * See exec.h.
 */
#include "filestore/exec.h"

int fs_exec_queue(const fs_exec_t *ex, fs_job_t *job, fs_job_fn work, fs_job_fn done)
{
    job->work = work;
    job->done = done;
    job->next = 0;
    return ex->ops->submit(ex->self, job);
}

int fs_exec_defer(const fs_exec_t *ex, fs_job_t *job, fs_job_fn done)
{
    return fs_exec_queue(ex, job, 0, done);
}

uint64_t fs_exec_now(const fs_exec_t *ex)
{
    return ex->ops->now_ms(ex->self);
}
