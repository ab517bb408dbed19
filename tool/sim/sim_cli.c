/*
 * emofs sim: the command line. Flags take their value as the next argument
 * or after '=' (--nodes 1000, --nodes=1000). A bad flag or value is one
 * line on stderr and exit code 2.
 */
#include "tool/sim/sim_internal.h"

#include "tool/cli/opts.h"
#include "tool/cli/output.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void emofs_sim_usage(FILE *f)
{
    fprintf(f, "usage: emofs sim [OPTIONS]\n"
               "Simulates a Kademlia network running the real libdht code on a virtual clock:\n"
               "builds it, runs lookups (random node, random target), puts values from random\n"
               "nodes and gets them from others, optionally under churn, and prints a summary.\n"
               "The same options and seed give the same CSV files, byte for byte.\n"
               "\n"
               "network:\n"
               "  --nodes N          nodes (default 1000)\n"
               "  --k K              bucket size and replication, 1..32 (20)\n"
               "  --alpha A          lookup requests in flight, 1..16 (3)\n"
               "  --b B              py-dht's b: the closest nodes a lookup returns and a put\n"
               "                     stores on, 1..k (0: k)\n"
               "  --steps-to-stop S  py-dht's steps-to-stop: a lookup also ends after S\n"
               "                     replies in a row brought no node nearer than its b-th\n"
               "                     closest (0: never; it ends when its b closest answered)\n"
               "  --retries R        resends of an unanswered request, 0..5 (2)\n"
               "  --loss P           share of datagrams lost, 0 <= P < 1 (0)\n"
               "  --delay MIN-MAX    one-way delay in ms, uniform per datagram (5-50)\n"
               "  --regions R        latency regions: node i in region i %% R, the regions on\n"
               "                     a ring (0: none)\n"
               "  --region-delay MS  one-way delay added per step between two regions (0)\n"
               "  --proximity on|off|both\n"
               "                     gets ask the contact that answers soonest (measured, or\n"
               "                     by its network) among those as close to the key as\n"
               "                     the k-th closest known (on; off with --steps-to-stop);\n"
               "                     both: the same run without it first, and the two\n"
               "                     latencies side by side (not with --json)\n"
               "  --init fast|join   fast: routing tables from the global view; join: every\n"
               "                     node joins through node 0 with the real protocol (fast)\n"
               "  --join-wave W      join: nodes joining at once (100)\n"
               "  --settle T         let the network run idle T virtual seconds after the\n"
               "                     build: liveness pings, bucket refreshes (0)\n"
               "  --seed S           randomness of the whole run (1)\n"
               "workload:\n"
               "  --lookups M        lookups (1000)\n"
               "  --values V         values put then got (100)\n"
               "  --value-size B     bytes per value (100)\n"
               "  --files N          files put with emofs's own put, each from a publisher\n"
               "                     node that joins for it and serves its chunks from disk\n"
               "                     (a temporary directory), then got whole by other\n"
               "                     nodes; with churn, at every sample too (0)\n"
               "  --file-size B      bytes per file, random (1048576)\n"
               "  --batch B          operations in flight at once (1000)\n"
               "deaths (after the workload):\n"
               "  --die P            share of nodes that die at once, unannounced; the\n"
               "                     lookups and gets run before and twice after (0)\n"
               "  --die-settle T     the survivors run idle T virtual seconds (liveness\n"
               "                     pings, bucket refreshes) between the two rounds\n"
               "                     after the deaths (0: the second follows at once)\n"
               "churn (after the workload):\n"
               "  --churn RATE       share of nodes leaving and replaced per virtual minute (0)\n"
               "  --duration T       virtual seconds of churn (0: no churn phase)\n"
               "  --sample S         seconds between samples (duration / 20)\n"
               "  --republish S      publishers put their values again every S s (0: never)\n"
               "  --replicate S      every node checks every S s that the values it holds\n"
               "                     are on the k closest live nodes and stores them on\n"
               "                     those that lack them: repair and hand-over (3600; 0:\n"
               "                     never)\n"
               "  --probe-lookups M  lookups per sample (100)\n"
               "output:\n"
               "  --csv FILE         one row per lookup (deterministic: no wall-clock figures)\n"
               "  --series FILE      one row per churn sample (availability over time)\n"
               "  -f, --force        replace an existing regular file at --csv or --series\n"
               "                     (else exit 9; the files appear only once complete)\n"
               "  --json             the summary as one JSON object\n"
               "  -h, --help         this help\n");
}

/* Parses an unsigned decimal in [lo, hi]. @return 0 or -1. */
static int parse_u(const char *s, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_d(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    if (*s == '\0')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_delay(const char *s, emofs_sim_opts_t *o)
{
    char buf[64];
    char *dash;
    unsigned long long lo, hi;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    dash = strchr(buf, '-');
    if (dash == NULL) {
        if (parse_u(buf, 0, 600000, &lo) != 0)
            return -1;
        hi = lo;
    } else {
        *dash = '\0';
        if (parse_u(buf, 0, 600000, &lo) != 0 || parse_u(dash + 1, 0, 600000, &hi) != 0 || lo > hi)
            return -1;
    }
    o->delay_min_ms = (unsigned)lo;
    o->delay_max_ms = (unsigned)hi;
    return 0;
}

/* emofs sim's options: what opt_next() reads (tool/cli/opts.h), and below,
 * what each value must be. */
enum {
    SIM_HELP = 1,
    SIM_JSON,
    SIM_FORCE,
    SIM_NODES,
    SIM_K,
    SIM_ALPHA,
    SIM_B,
    SIM_STEPS_TO_STOP,
    SIM_RETRIES,
    SIM_LOSS,
    SIM_DELAY,
    SIM_REGIONS,
    SIM_REGION_DELAY,
    SIM_PROXIMITY,
    SIM_INIT,
    SIM_JOIN_WAVE,
    SIM_SETTLE,
    SIM_SEED,
    SIM_LOOKUPS,
    SIM_VALUES,
    SIM_VALUE_SIZE,
    SIM_FILES,
    SIM_FILE_SIZE,
    SIM_BATCH,
    SIM_CHURN,
    SIM_DIE,
    SIM_DIE_SETTLE,
    SIM_DURATION,
    SIM_SAMPLE,
    SIM_REPUBLISH,
    SIM_REPLICATE,
    SIM_PROBE_LOOKUPS,
    SIM_CSV,
    SIM_SERIES,
    SIM_N_OPTS,
};

static const opt_spec_t sim_opts[] = {
    {"--help", "-h", OPT_FLAG, SIM_HELP},
    {"--json", NULL, OPT_FLAG, SIM_JSON},
    {"--force", "-f", OPT_FLAG, SIM_FORCE},
    {"--nodes", NULL, OPT_VALUE, SIM_NODES},
    {"--k", NULL, OPT_VALUE, SIM_K},
    {"--alpha", NULL, OPT_VALUE, SIM_ALPHA},
    {"--b", NULL, OPT_VALUE, SIM_B},
    {"--steps-to-stop", NULL, OPT_VALUE, SIM_STEPS_TO_STOP},
    {"--retries", NULL, OPT_VALUE, SIM_RETRIES},
    {"--loss", NULL, OPT_VALUE, SIM_LOSS},
    {"--delay", NULL, OPT_VALUE, SIM_DELAY},
    {"--regions", NULL, OPT_VALUE, SIM_REGIONS},
    {"--region-delay", NULL, OPT_VALUE, SIM_REGION_DELAY},
    {"--proximity", NULL, OPT_VALUE, SIM_PROXIMITY},
    {"--init", NULL, OPT_VALUE, SIM_INIT},
    {"--join-wave", NULL, OPT_VALUE, SIM_JOIN_WAVE},
    {"--settle", NULL, OPT_VALUE, SIM_SETTLE},
    {"--seed", NULL, OPT_VALUE, SIM_SEED},
    {"--lookups", NULL, OPT_VALUE, SIM_LOOKUPS},
    {"--values", NULL, OPT_VALUE, SIM_VALUES},
    {"--value-size", NULL, OPT_VALUE, SIM_VALUE_SIZE},
    {"--files", NULL, OPT_VALUE, SIM_FILES},
    {"--file-size", NULL, OPT_VALUE, SIM_FILE_SIZE},
    {"--batch", NULL, OPT_VALUE, SIM_BATCH},
    {"--churn", NULL, OPT_VALUE, SIM_CHURN},
    {"--die", NULL, OPT_VALUE, SIM_DIE},
    {"--die-settle", NULL, OPT_VALUE, SIM_DIE_SETTLE},
    {"--duration", NULL, OPT_VALUE, SIM_DURATION},
    {"--sample", NULL, OPT_VALUE, SIM_SAMPLE},
    {"--republish", NULL, OPT_VALUE, SIM_REPUBLISH},
    {"--replicate", NULL, OPT_VALUE, SIM_REPLICATE},
    {"--probe-lookups", NULL, OPT_VALUE, SIM_PROBE_LOOKUPS},
    {"--csv", NULL, OPT_VALUE, SIM_CSV},
    {"--series", NULL, OPT_VALUE, SIM_SERIES},
    OPT_TABLE_END,
};

typedef enum { T_NONE, T_UNS, T_DBL, T_STR } arg_type_t;

/* What the value of each option must be: a whole number in lo..hi, a
 * share in [0, 1], or text (checked where it is used). */
static const struct {
    arg_type_t type;
    unsigned long long lo, hi;
} sim_values[SIM_N_OPTS] = {
    [SIM_NODES] = {T_UNS, 2, 1u << 23},
    [SIM_K] = {T_UNS, 1, DHT_MAX_K},
    [SIM_ALPHA] = {T_UNS, 1, 16},
    [SIM_B] = {T_UNS, 0, DHT_MAX_K},
    [SIM_STEPS_TO_STOP] = {T_UNS, 0, 1000},
    [SIM_RETRIES] = {T_UNS, 0, 5},
    [SIM_LOSS] = {T_DBL, 0, 0},
    [SIM_DELAY] = {T_STR, 0, 0},
    [SIM_REGIONS] = {T_UNS, 0, 64},
    [SIM_REGION_DELAY] = {T_UNS, 0, 600000},
    [SIM_PROXIMITY] = {T_STR, 0, 0},
    [SIM_INIT] = {T_STR, 0, 0},
    [SIM_JOIN_WAVE] = {T_UNS, 1, 1u << 23},
    [SIM_SETTLE] = {T_UNS, 0, 10000000},
    [SIM_SEED] = {T_UNS, 0, UINT64_MAX},
    [SIM_LOOKUPS] = {T_UNS, 0, 100000000},
    [SIM_VALUES] = {T_UNS, 0, 10000000},
    [SIM_VALUE_SIZE] = {T_UNS, 1, 1u << 20},
    [SIM_FILES] = {T_UNS, 0, 100000},
    [SIM_FILE_SIZE] = {T_UNS, 1, 1u << 30},
    [SIM_BATCH] = {T_UNS, 1, 1000000},
    [SIM_CHURN] = {T_DBL, 0, 0},
    [SIM_DIE] = {T_DBL, 0, 0},
    [SIM_DIE_SETTLE] = {T_UNS, 0, 10000000},
    [SIM_DURATION] = {T_UNS, 0, 10000000},
    [SIM_SAMPLE] = {T_UNS, 1, 10000000},
    [SIM_REPUBLISH] = {T_UNS, 0, 10000000},
    [SIM_REPLICATE] = {T_UNS, 0, 2592000},
    [SIM_PROBE_LOOKUPS] = {T_UNS, 0, 1000000},
    [SIM_CSV] = {T_STR, 0, 0},
    [SIM_SERIES] = {T_STR, 0, 0},
};

/* The field a whole-number option sets. */
static unsigned *uns_field(emofs_sim_opts_t *o, int id)
{
    switch (id) {
    case SIM_NODES:
        return &o->nodes;
    case SIM_K:
        return &o->k;
    case SIM_ALPHA:
        return &o->alpha;
    case SIM_B:
        return &o->b;
    case SIM_STEPS_TO_STOP:
        return &o->steps_to_stop;
    case SIM_RETRIES:
        return &o->retries;
    case SIM_REGIONS:
        return &o->regions;
    case SIM_REGION_DELAY:
        return &o->region_delay_ms;
    case SIM_JOIN_WAVE:
        return &o->join_wave;
    case SIM_SETTLE:
        return &o->settle_s;
    case SIM_DIE_SETTLE:
        return &o->die_settle_s;
    case SIM_LOOKUPS:
        return &o->lookups;
    case SIM_VALUES:
        return &o->values;
    case SIM_VALUE_SIZE:
        return &o->value_size;
    case SIM_FILES:
        return &o->files;
    case SIM_FILE_SIZE:
        return &o->file_size;
    case SIM_BATCH:
        return &o->batch;
    case SIM_DURATION:
        return &o->duration_s;
    case SIM_SAMPLE:
        return &o->sample_s;
    case SIM_REPUBLISH:
        return &o->republish_s;
    case SIM_REPLICATE:
        return &o->replicate_s;
    case SIM_PROBE_LOOKUPS:
        return &o->probe_lookups;
    default:
        return NULL;
    }
}

static int set_option(const opt_parser_t *p, int id, emofs_sim_opts_t *o, emofs_sim_out_t *out)
{
    unsigned long long u = 0, lo = sim_values[id].lo, hi = sim_values[id].hi;
    double d = 0;
    const char *val = p->value;
    unsigned *field = uns_field(o, id);

    if (sim_values[id].type == T_UNS && parse_u(val, lo, hi, &u) != 0) {
        fprintf(p->err, "emofs: sim: %s needs a whole number in %llu..%llu, not '%s'\n", p->name,
                lo, hi, val);
        return -1;
    }
    if (sim_values[id].type == T_DBL && parse_d(val, 0, 1, &d) != 0) {
        fprintf(p->err, "emofs: sim: %s needs a number in [0, 1], not '%s'\n", p->name, val);
        return -1;
    }
    if (field != NULL)
        *field = (unsigned)u;
    else if (id == SIM_SEED)
        o->seed = u;
    else if (id == SIM_LOSS)
        o->loss = d;
    else if (id == SIM_CHURN)
        o->churn = d;
    else if (id == SIM_DIE)
        o->die = d;
    else if (id == SIM_CSV)
        out->csv_path = val;
    else if (id == SIM_SERIES)
        out->series_path = val;
    else if (id == SIM_DELAY && parse_delay(val, o) != 0) {
        fprintf(p->err, "emofs: sim: --delay needs MIN-MAX in ms (0..600000), not '%s'\n", val);
        return -1;
    } else if (id == SIM_PROXIMITY) {
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0 && strcmp(val, "both") != 0) {
            fprintf(p->err, "emofs: sim: --proximity needs on, off or both, not '%s'\n", val);
            return -1;
        }
        o->proximity = strcmp(val, "off") != 0;
        out->compare_proximity = strcmp(val, "both") == 0;
    } else if (id == SIM_INIT) {
        if (!strcmp(val, "fast"))
            o->init = EMOFS_SIM_INIT_FAST;
        else if (!strcmp(val, "join"))
            o->init = EMOFS_SIM_INIT_JOIN;
        else {
            fprintf(p->err, "emofs: sim: --init needs fast or join, not '%s'\n", val);
            return -1;
        }
    }
    return 0;
}

int emofs_sim_parse(int argc, char **argv, emofs_sim_opts_t *o, emofs_sim_out_t *out, FILE *err)
{
    opt_parser_t p;
    const char *bad;
    int id;

    memset(out, 0, sizeof(*out));
    opt_init(&p, argc, argv, 1, "sim", sim_opts, err);
    while ((id = opt_next(&p)) != OPT_END) {
        if (id == OPT_ERROR)
            return -1;
        if (id == OPT_ARG) {
            fprintf(err, "emofs: sim: unexpected argument '%s' (see emofs sim --help)\n", p.value);
            return -1;
        }
        if (id == SIM_HELP) {
            out->help = 1;
            return 0;
        }
        if (id == SIM_JSON)
            out->json = 1;
        else if (id == SIM_FORCE)
            out->force = 1;
        else if (set_option(&p, id, o, out) != 0)
            return -1;
    }
    bad = emofs_sim_opts_check(o);
    if (bad != NULL) {
        fprintf(err, "emofs: sim: %s\n", bad);
        return -1;
    }
    return 0;
}

/* The temporary files of --csv and --series while the run goes on: an
 * interrupt (Ctrl-C, SIGTERM) removes them before the process ends as the
 * signal says (unlink and raise are async-signal-safe). */
static char *volatile out_tmps[2];

static void on_interrupt(int sig)
{
    for (int i = 0; i < 2; i++)
        if (out_tmps[i] != NULL)
            unlink(out_tmps[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Opens --csv or --series (path NULL: none). @return 0 and *f, or an exit
 * code after printing the error. */
static int open_out(const char *path, FILE **f, char **tmp)
{
    int code = 0;

    *f = NULL;
    *tmp = NULL;
    if (path != NULL && (*f = output_open(path, tmp, &code)) == NULL)
        return code;
    return 0;
}

/* Ends --csv or --series: in place if ok, else gone. @return 0 or an exit
 * code after printing the error. */
static int close_out(const char *path, FILE *f, char *tmp, int force, int ok)
{
    return f != NULL ? output_close(f, tmp, path, force, ok) : 0;
}

int emofs_sim_main(int argc, char **argv)
{
    emofs_sim_opts_t o;
    emofs_sim_out_t out;
    emofs_sim_result_t r, without;
    FILE *csv = NULL, *series = NULL;
    char *csv_tmp = NULL, *series_tmp = NULL;
    int err = 0, rc, code;

    emofs_sim_opts_init(&o);
    if (emofs_sim_parse(argc, argv, &o, &out, stderr) != 0)
        return 2;
    if (out.help) {
        emofs_sim_usage(stdout);
        return 0;
    }
    if (out.compare_proximity && out.json) {
        fprintf(stderr,
                "emofs: sim: --proximity both prints text only (run on and off for --json)\n");
        return 2;
    }
    /* Nothing in the way, checked before the work. */
    if ((out.csv_path != NULL && (rc = output_check(out.csv_path, out.force)) != 0) ||
        (out.series_path != NULL && (rc = output_check(out.series_path, out.force)) != 0))
        return rc;
    if ((rc = open_out(out.csv_path, &csv, &csv_tmp)) != 0)
        return rc;
    if ((rc = open_out(out.series_path, &series, &series_tmp)) != 0) {
        close_out(out.csv_path, csv, csv_tmp, out.force, 0);
        return rc;
    }
    out_tmps[0] = csv_tmp;
    out_tmps[1] = series_tmp;
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    memset(&r, 0, sizeof(r));
    memset(&without, 0, sizeof(without));
    if (out.compare_proximity) { /* the same run without, first */
        emofs_sim_opts_t off = o;
        off.proximity = 0;
        err = emofs_sim_run(&off, &without, NULL, NULL);
    }
    if (err == 0)
        err = emofs_sim_run(&o, &r, csv, series);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    out_tmps[0] = out_tmps[1] = NULL;
    rc = 0;
    if (err) {
        fprintf(stderr, "emofs: sim: %s%s\n", dht_strerror(err),
                err == DHT_EIO && o.files > 0
                    ? " (--files writes the publishers' chunks under $TMPDIR, else /tmp)"
                    : "");
        rc = 1;
    } else {
        emofs_sim_print(&o, &r, stdout, out.json);
        if (out.compare_proximity)
            emofs_sim_print_compared(&o, &without, &r, stdout);
    }
    if ((code = close_out(out.csv_path, csv, csv_tmp, out.force, err == 0)) != 0)
        rc = code;
    if ((code = close_out(out.series_path, series, series_tmp, out.force, err == 0)) != 0)
        rc = code;
    emofs_sim_result_free(&r);
    emofs_sim_result_free(&without);
    return rc;
}
