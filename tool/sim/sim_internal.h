/*
 * emofs sim, inside: what the files of the simulator share.
 *
 *   sim_truth.c   the global view: the true k closest nodes to a target
 *   sim_run.c     emofs_sim_run: build, lookups, values
 *   sim_churn.c   the churn phase: nodes leave and join, samples
 *   sim_deaths.c  the deaths phase: a share of the nodes dies at once
 *   sim_files.c   files: filestore's put and get among the nodes
 *   sim_report.c  the summary (text or JSON), percentiles, memory
 *   sim_cli.c     `emofs sim`: flags, help, files
 */
#ifndef EMOFS_SIM_INTERNAL_H
#define EMOFS_SIM_INTERNAL_H

#include "dht.h"
#include "tool/sim/sim.h"

/* ---- randomness: splitmix64, one stream per run, from the seed ---- */

typedef struct sim_rng {
    uint64_t s;
} sim_rng_t;

/* @return the next 64 random bits of r. */
uint64_t sim_rng_next(sim_rng_t *r);

/* @return a number uniform in [0, n), n > 0. */
uint64_t sim_rng_below(sim_rng_t *r, uint64_t n);

/* ---- the global view (sim_truth.c) ---- */

typedef struct sim_ref {
    dht_id_t id;
    uint32_t idx; /* node index in the simulator */
} sim_ref_t;

typedef struct sim_truth {
    sim_ref_t *refs; /* the nodes on the network, sorted by id */
    size_t n;
} sim_truth_t;

/* Collects every node of sim that is not removed and whose online[idx] is
 * nonzero (online may be NULL: all). @return 0 or DHT_ENOMEM. */
int sim_truth_build(sim_truth_t *t, dht_sim_t *sim, const uint8_t *online);

/* Frees t's memory. */
void sim_truth_free(sim_truth_t *t);

/* Writes to out the (up to) k nodes of t closest to target, nearest first,
 * leaving out the node whose id is `exclude` (may be NULL).
 * @return how many were written. */
size_t sim_truth_closest(const sim_truth_t *t, const dht_id_t *target, const dht_id_t *exclude,
                         size_t k, sim_ref_t *out);

/* ---- one run (sim_run.c, sim_churn.c) ---- */

/* A lookup launched by the simulation, and what came of it. */
typedef struct sim_lookup {
    struct sim_ctx *ctx;
    uint32_t src;
    dht_id_t target;
    int status; /* 1 until the callback fired */
    unsigned hops, requests, replies;
    uint64_t latency_ms;
    uint8_t ok;    /* found the true closest node */
    uint8_t exact; /* found exactly the true k closest */
} sim_lookup_t;

/* A value put by the simulation. */
typedef struct sim_value {
    struct sim_ctx *ctx;
    dht_id_t key;
    uint8_t *data;
    uint32_t publisher;
    int put_status; /* 1 while the put runs */
    unsigned stored;
    int got;             /* last get: 1 found the value, 0 not, -1 running */
    uint64_t started_ms; /* virtual time the last put or get started */
    uint64_t took_ms;    /* and how long it took */
} sim_value_t;

typedef struct sim_ctx {
    const emofs_sim_opts_t *o;
    emofs_sim_result_t *r;
    dht_sim_t *sim;
    sim_rng_t rng;
    sim_truth_t truth; /* the view the running lookups are judged against */
    uint8_t *online;   /* per node index: on the network (grows with churn) */
    size_t cap_nodes;
    unsigned n_online;
    long pending; /* callbacks still to come */
    sim_value_t *values;
    struct sim_joining *rejoin, **rejoin_tail; /* churn: joins to try again */
    struct sim_files *files;                   /* --files (sim_files.c) */
    dht_config_t node_cfg;                     /* every node's settings */
} sim_ctx_t;

/* Runs the simulation until every pending callback has fired (or a
 * virtual day passed). @return 1 if they all fired. */
int sim_wait(sim_ctx_t *c);

/* @return a uniformly random node that is on the network, not `avoid`
 * (UINT32_MAX: none). There must be such a node. */
uint32_t sim_random_online(sim_ctx_t *c, uint32_t avoid);

/* Starts the lookups ls[0..n) (src and target set) in batches of
 * o->batch, judged against c->truth, and waits for them. */
void sim_run_lookups(sim_ctx_t *c, sim_lookup_t *ls, size_t n);

/* Fills ls[0..n) with lookups from random online nodes to random targets. */
void sim_make_lookups(sim_ctx_t *c, sim_lookup_t *ls, size_t n);

/* Summarizes the finished lookups ls[0..n) into *out (values_got aside). */
void sim_summarize_round(const sim_lookup_t *ls, size_t n, emofs_sim_round_t *out);

/* Gets every value from a random online node other than its publisher,
 * in batches; sets values[i].got. @return how many were found. */
unsigned sim_get_values(sim_ctx_t *c);

/* The median and 99th percentile of the time the last gets that found
 * their value took (virtual ms); 0 if none did. */
void sim_get_latency(sim_ctx_t *c, uint64_t *p50, uint64_t *p99);

/* Starts putting value v from its publisher; counts in c->pending.
 * @return 0 or a libdht error (then nothing is pending). */
int sim_put_value(sim_ctx_t *c, sim_value_t *v);

/* Makes sure the per-node arrays hold node index idx. @return 0 or
 * DHT_ENOMEM. */
int sim_grow(sim_ctx_t *c, size_t idx);

/* The deaths phase (sim_deaths.c, o->die > 0): a round of lookups and
 * gets, then that share of the nodes dies at once, then two more rounds;
 * fills r->healthy, r->died and r->after_died. @return 0 or DHT_ENOMEM. */
int sim_deaths(sim_ctx_t *c);

/* The churn phase (sim_churn.c): writes the samples to r and series. */
int sim_churn(sim_ctx_t *c, FILE *series);

/* ---- percentiles (sim_run.c) ---- */

/* qsort() order of uint64_t. */
int sim_cmp_u64(const void *a, const void *b);

/* @return the index of the nearest-rank percentile p (0..100) in a
 * sorted array of n > 0 elements. */
size_t sim_rank(size_t n, unsigned p);

/* ---- files (sim_files.c) ---- */

typedef struct sim_file sim_file_t;
typedef struct sim_files sim_files_t;

/* Raises cfg's largest value to hold a chunk when o asks for files. */
void sim_files_node_config(const emofs_sim_opts_t *o, dht_config_t *cfg);

/* Puts o->files files, each from a publisher node that joins for it (in
 * batches of o->batch) and serves its chunks from a store of its own (a
 * temporary directory), as a daemon does. @return 0 or a negative libdht
 * code. */
int sim_files_put(sim_ctx_t *c);

/* Gets every file put from a random online node other than its
 * publisher, streamed and checked. @return how many came whole. */
unsigned sim_files_get(sim_ctx_t *c);

/* The files phase: puts, then gets; fills r's files_* fields.
 * @return 0 or a negative libdht code. */
int sim_files_run(sim_ctx_t *c);

/* Node idx is about to be removed: a publisher's store stops answering it. */
void sim_files_node_leaving(sim_ctx_t *c, uint32_t idx);

/* Closes the publishers' stores and removes the temporary directory. */
void sim_files_free(sim_ctx_t *c);

/* ---- report helpers (sim_report.c) ---- */

/* @return the resident anonymous memory of this process, KiB, or 0. */
size_t sim_rss_anon_kib(void);

/* @return the peak resident set of this process, KiB. */
size_t sim_peak_rss_kib(void);

/* @return the wall clock, seconds (monotonic). */
double sim_wall_s(void);

#endif /* EMOFS_SIM_INTERNAL_H */
