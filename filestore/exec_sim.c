/*
 * The executor on the simulator. See exec_sim.h.
 */
#include "filestore/exec_sim.h"

#include "filestore/fs_error.h"

static void run_job(void *arg)
{
    fs_job_t *job = arg;
    fs_exec_sim_t *ex = job->priv.p[0];

    ex->jobs++;
    if (job->work != NULL)
        job->work(job);
    job->done(job);
}

static int submit(void *self, fs_job_t *job)
{
    fs_exec_sim_t *ex = self;

    job->priv.p[0] = ex;
    return dht_sim_call(ex->sim, 0, run_job, job) == 0 ? 0 : FS_ENOMEM;
}

static uint64_t now_ms(void *self)
{
    const fs_exec_sim_t *ex = self;

    return dht_sim_now(ex->sim);
}

static const fs_exec_ops_t sim_ops = {submit, now_ms};

void fs_exec_sim_init(fs_exec_sim_t *ex, dht_sim_t *sim)
{
    ex->exec.ops = &sim_ops;
    ex->exec.self = ex;
    ex->sim = sim;
    ex->jobs = 0;
}
