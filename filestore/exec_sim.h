/*
 * The executor on the simulator (exec.h): a job's work and done run as one
 * event of the simulator (dht_sim_call), on its thread, at the virtual
 * time they were queued; the clock is the virtual clock. The file engines
 * then run among simulated nodes, deterministically, for tests.
 */
#ifndef EMOFS_EXEC_SIM_H
#define EMOFS_EXEC_SIM_H

#include "dht.h"
#include "filestore/exec.h"

typedef struct fs_exec_sim {
    fs_exec_t exec; /* hand &exec to fs_ctx_t.exec */
    dht_sim_t *sim;
    uint64_t jobs;  /* jobs run so far */
} fs_exec_sim_t;

/* Sets up ex on sim; nothing to close (jobs still pending when the
 * simulator is freed are dropped). */
void fs_exec_sim_init(fs_exec_sim_t *ex, dht_sim_t *sim);

#endif /* EMOFS_EXEC_SIM_H */
