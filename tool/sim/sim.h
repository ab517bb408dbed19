/*
 * emofs sim: simulates a large network running the real libdht code on a
 * virtual clock (libdht's simulator shell) and reports what it measured.
 *
 * The library API below is what `emofs sim` runs; tests call it directly.
 *
 *   emofs_sim_opts_t o;
 *   emofs_sim_result_t r;
 *   emofs_sim_opts_init(&o);
 *   o.nodes = 2000;
 *   if (emofs_sim_run(&o, &r, csv, NULL) == 0)
 *       emofs_sim_print(&o, &r, stdout, 0);
 *   emofs_sim_result_free(&r);
 *
 * Every random choice comes from o.seed: the same options give the same
 * per-lookup CSV and the same series, byte for byte. Wall-clock figures
 * (build time, lookups per second) and memory exist only in the result and
 * the summary.
 */
#ifndef EMOFS_SIM_H
#define EMOFS_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum emofs_sim_init {
    EMOFS_SIM_INIT_FAST = 0, /* routing tables filled from the global view */
    EMOFS_SIM_INIT_JOIN = 1, /* every node joins through node 0 over the network */
} emofs_sim_init_t;

/* What to simulate. Fill with emofs_sim_opts_init(), then change fields. */
typedef struct emofs_sim_opts {
    unsigned nodes;           /* network size, >= 2; 1000 */
    unsigned k;               /* bucket size and replication, 1..32; 20 */
    unsigned alpha;           /* lookup parallelism, 1..16; 3 */
    unsigned b;               /* py-dht's b (dht_config_t.lookup_results), 0..k; 0: k */
    unsigned steps_to_stop;   /* py-dht's steps-to-stop (lookup_stale_stop); 0: off */
    unsigned retries;         /* resends of an unanswered request, 0..5; 2 */
    double loss;              /* share of datagrams lost, 0..1; 0 */
    unsigned delay_min_ms;    /* one-way delay, uniform in [min, max]; 5..50 */
    unsigned delay_max_ms;    /*   "   */
    unsigned regions;         /* latency regions on a ring (dht_sim_config_t); 0: none */
    unsigned region_delay_ms; /* one-way delay per step between two regions; 0 */
    int proximity;            /* dht_config_t.proximity: 1 (default) on, 0 off */
    unsigned lookups;         /* lookups: random node, random target; 1000 */
    unsigned values;          /* values put (random node) then got (another); 100 */
    unsigned value_size;      /* bytes per value; 100 */
    unsigned batch;           /* lookups / puts / gets in flight at once; 1000 */
    unsigned join_wave;       /* --init join: nodes joining at once; 100 */
    unsigned settle_s;        /* virtual seconds the network runs idle after the build; 0 */
    emofs_sim_init_t init;    /* fast */
    uint64_t seed;            /* 1 */
    double churn;             /* share of nodes replaced per virtual minute; 0 */
    unsigned duration_s;      /* churn phase, virtual seconds; 0 = none */
    unsigned sample_s;        /* churn: seconds between samples; 0 = duration / 20 */
    unsigned republish_s;     /* churn: publishers re-put every this many s; 0 = never */
    unsigned replicate_s;     /* holders check their values' copies every this many s
                                 (dht_config_t.replicate_interval_s); 0 = never; 3600 */
    unsigned probe_lookups;   /* churn: lookups per sample; 100 */
    double die;               /* share of nodes that die at once after the workload; 0 */
    unsigned die_settle_s;    /* --die: virtual seconds the survivors run idle before
                                 the second round after the deaths; 0 */
    unsigned files;           /* files put with emofs's file engines, then got; 0 */
    unsigned file_size;       /* bytes per file (random, so incompressible); 1 MiB */
} emofs_sim_opts_t;

/* How one round of lookups (and gets) went. */
typedef struct emofs_sim_round {
    unsigned lookups, lookups_ok, lookups_exact;
    unsigned hops_p95;
    double hops_mean;
    double datagrams_per_lookup;
    uint64_t latency_p50_ms, latency_p99_ms; /* virtual */
    unsigned values_got;                     /* of emofs_sim_result_t.values */
    uint64_t get_p50_ms;                     /* virtual, of the gets that found theirs */
    unsigned puts, puts_ok;                  /* --die: small values put this round */
    uint64_t put_p50_ms;                     /* virtual, of the puts that stored */
} emofs_sim_round_t;

/* One sample of the churn phase. */
typedef struct emofs_sim_sample {
    double t_s;            /* virtual seconds since the churn phase began */
    unsigned online;       /* nodes on the network */
    unsigned replaced;     /* nodes replaced so far */
    unsigned values_found; /* values a get from a random node found */
    unsigned values_total;
    unsigned lookups_ok; /* probe lookups that found the true closest node */
    unsigned lookups_total;
    unsigned files_found; /* files a get from a random node got whole (--files) */
    unsigned files_total;
} emofs_sim_sample_t;

/* What a run measured. */
typedef struct emofs_sim_result {
    unsigned nodes;
    double build_wall_s;       /* wall time to build the network */
    double build_virtual_s;    /* virtual time the build took (join) */
    unsigned join_failures;    /* joins that failed even after retrying */
    double datagrams_per_join; /* join: datagrams the build sent / nodes that joined */
    double lookup_wall_s;      /* wall time of the lookup phase */
    double lookups_per_s;      /* lookups / lookup_wall_s */
    unsigned lookups;
    unsigned hops_p50, hops_p95, hops_max;
    double hops_mean;
    double datagrams_per_lookup; /* requests sent (retries included) + replies received */
    double requests_per_lookup;  /* requests sent, retries included */
    uint64_t latency_p50_ms, latency_p99_ms; /* virtual */
    unsigned lookups_ok;                     /* found the true closest node */
    unsigned lookups_exact;                  /* found exactly the true k closest nodes */
    unsigned values;
    unsigned puts_ok;                          /* puts stored on at least one node */
    unsigned gets_ok;                          /* gets that returned the value put */
    uint64_t get_p50_ms, get_p99_ms;           /* virtual, of those gets */
    unsigned files, file_size;                 /* --files, --file-size */
    unsigned files_put;                        /* files whose put succeeded */
    unsigned files_got;                        /* files got whole by another node, after the puts */
    uint64_t file_put_p50_ms, file_get_p50_ms; /* virtual, median of those that succeeded */
    uint64_t datagrams_sent, datagrams_lost;
    uint64_t datagram_bytes, stream_bytes; /* sent */
    uint64_t padding_bytes;                /* of the datagram bytes: requests' padding */
    double mem_per_node_kib;               /* resident memory added by the network / nodes */
    size_t peak_rss_kib;                   /* the process's peak resident set */
    emofs_sim_round_t healthy;             /* --die: the round before the deaths */
    unsigned died;                         /* --die: nodes that died at once */
    emofs_sim_round_t after_died[2];       /* --die: two rounds after them */
    emofs_sim_sample_t *samples;           /* churn phase; malloc()ed */
    size_t n_samples;
    double total_wall_s;
} emofs_sim_result_t;

/* Fills o with the defaults above. */
void emofs_sim_opts_init(emofs_sim_opts_t *o);

/* Checks o. @return NULL if it is usable, else a static text naming the
 * bad setting. */
const char *emofs_sim_opts_check(const emofs_sim_opts_t *o);

/* Builds the network, runs the lookups, then puts and gets the values,
 * then (if o->duration_s) the churn phase. If csv is not NULL, writes a
 * header and one row per lookup to it; if series is not NULL and there is
 * a churn phase, a header and one row per sample. Fills *r (zeroed first;
 * release with emofs_sim_result_free()).
 * @return 0, or a negative libdht code (DHT_EINVAL for options that
 *         emofs_sim_opts_check() rejects, DHT_ENOMEM). */
int emofs_sim_run(const emofs_sim_opts_t *o, emofs_sim_result_t *r, FILE *csv, FILE *series);

/* Frees what *r holds. Accepts a zeroed result. */
void emofs_sim_result_free(emofs_sim_result_t *r);

/* Prints the summary of r (run with o) to f: text for people, or one JSON
 * object if json is nonzero. */
void emofs_sim_print(const emofs_sim_opts_t *o, const emofs_sim_result_t *r, FILE *f, int json);

/* Prints to f the comparison of `emofs sim --proximity both`: off, the run
 * without proximity, and on, the same network, workload and seed with it
 * (o: its options): both lookup and get medians and their ratios. */
void emofs_sim_print_compared(const emofs_sim_opts_t *o, const emofs_sim_result_t *off,
                              const emofs_sim_result_t *on, FILE *f);

/* Where `emofs sim` writes what it measured. */
typedef struct emofs_sim_out {
    const char *csv_path;    /* --csv, or NULL */
    const char *series_path; /* --series, or NULL */
    int json;                /* --json */
    int force;               /* --force: replace existing files at those paths */
    int help;                /* --help */
    int compare_proximity;   /* --proximity both: a run without it first (proximity 1) */
} emofs_sim_out_t;

/* Parses the options of `emofs sim` (argv[0] == "sim") into *o and *out
 * (cleared first).
 * @return 0, or -1 after printing one line naming the problem to err. */
int emofs_sim_parse(int argc, char **argv, emofs_sim_opts_t *o, emofs_sim_out_t *out, FILE *err);

/* Prints the help of `emofs sim` to f. */
void emofs_sim_usage(FILE *f);

/* Runs `emofs sim` with argv[0] == "sim". Prints the summary on stdout,
 * errors on stderr; --csv and --series files appear, by the rule of every
 * emofs writer (tool/cli/output.h), only once complete. @return the
 * process exit code (0 ok, 2 usage error, 9 a --csv or --series file in
 * the way, 6 one cannot be written, 1 other failure). */
int emofs_sim_main(int argc, char **argv);

#endif /* EMOFS_SIM_H */
