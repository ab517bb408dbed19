/*
 * emofs sim: the command line. Flags take their value as the next argument
 * or after '=' (--nodes 1000, --nodes=1000). A bad flag or value is one
 * line on stderr and exit code 2.
 */
#include "tool/sim/sim_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
               "  --retries R        resends of an unanswered request, 0..5 (2)\n"
               "  --loss P           share of datagrams lost, 0 <= P < 1 (0)\n"
               "  --delay MIN-MAX    one-way delay in ms, uniform per datagram (5-50)\n"
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
               "churn (after the workload):\n"
               "  --churn RATE       share of nodes leaving and replaced per virtual minute (0)\n"
               "  --duration T       virtual seconds of churn (0: no churn phase)\n"
               "  --sample S         seconds between samples (duration / 20)\n"
               "  --republish S      publishers put their values again every S s (0: never)\n"
               "  --probe-lookups M  lookups per sample (100)\n"
               "output:\n"
               "  --csv FILE         one row per lookup (deterministic: no wall-clock figures)\n"
               "  --series FILE      one row per churn sample (availability over time)\n"
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

typedef enum { T_UNS, T_DBL, T_STR } arg_type_t;

typedef struct flag {
    const char *name;
    arg_type_t type;
    unsigned long long lo, hi;
} flag_t;

static const flag_t flags[] = {
    {"--nodes", T_UNS, 2, 1u << 24},
    {"--k", T_UNS, 1, DHT_MAX_K},
    {"--alpha", T_UNS, 1, 16},
    {"--retries", T_UNS, 0, 5},
    {"--loss", T_DBL, 0, 0},
    {"--delay", T_STR, 0, 0},
    {"--init", T_STR, 0, 0},
    {"--join-wave", T_UNS, 1, 1u << 24},
    {"--settle", T_UNS, 0, 10000000},
    {"--seed", T_UNS, 0, UINT64_MAX},
    {"--lookups", T_UNS, 0, 100000000},
    {"--values", T_UNS, 0, 10000000},
    {"--value-size", T_UNS, 1, 1u << 20},
    {"--files", T_UNS, 0, 100000},
    {"--file-size", T_UNS, 1, 1u << 30},
    {"--batch", T_UNS, 1, 1000000},
    {"--churn", T_DBL, 0, 0},
    {"--die", T_DBL, 0, 0},
    {"--duration", T_UNS, 0, 10000000},
    {"--sample", T_UNS, 1, 10000000},
    {"--republish", T_UNS, 0, 10000000},
    {"--probe-lookups", T_UNS, 0, 1000000},
    {"--csv", T_STR, 0, 0},
    {"--series", T_STR, 0, 0},
};

static int set_flag(const flag_t *fl, const char *val, emofs_sim_opts_t *o, const char **csv,
                    const char **series, FILE *err)
{
    unsigned long long u = 0;
    double d = 0;
    const char *n = fl->name;

    if (fl->type == T_UNS && parse_u(val, fl->lo, fl->hi, &u) != 0) {
        fprintf(err, "emofs sim: %s needs a whole number in %llu..%llu, not '%s'\n", n, fl->lo,
                fl->hi, val);
        return -1;
    }
    if (fl->type == T_DBL && parse_d(val, 0, 1, &d) != 0) {
        fprintf(err, "emofs sim: %s needs a number in [0, 1], not '%s'\n", n, val);
        return -1;
    }
    if (!strcmp(n, "--nodes"))
        o->nodes = (unsigned)u;
    else if (!strcmp(n, "--k"))
        o->k = (unsigned)u;
    else if (!strcmp(n, "--alpha"))
        o->alpha = (unsigned)u;
    else if (!strcmp(n, "--retries"))
        o->retries = (unsigned)u;
    else if (!strcmp(n, "--loss"))
        o->loss = d;
    else if (!strcmp(n, "--join-wave"))
        o->join_wave = (unsigned)u;
    else if (!strcmp(n, "--settle"))
        o->settle_s = (unsigned)u;
    else if (!strcmp(n, "--seed"))
        o->seed = u;
    else if (!strcmp(n, "--lookups"))
        o->lookups = (unsigned)u;
    else if (!strcmp(n, "--values"))
        o->values = (unsigned)u;
    else if (!strcmp(n, "--value-size"))
        o->value_size = (unsigned)u;
    else if (!strcmp(n, "--files"))
        o->files = (unsigned)u;
    else if (!strcmp(n, "--file-size"))
        o->file_size = (unsigned)u;
    else if (!strcmp(n, "--batch"))
        o->batch = (unsigned)u;
    else if (!strcmp(n, "--churn"))
        o->churn = d;
    else if (!strcmp(n, "--die"))
        o->die = d;
    else if (!strcmp(n, "--duration"))
        o->duration_s = (unsigned)u;
    else if (!strcmp(n, "--sample"))
        o->sample_s = (unsigned)u;
    else if (!strcmp(n, "--republish"))
        o->republish_s = (unsigned)u;
    else if (!strcmp(n, "--probe-lookups"))
        o->probe_lookups = (unsigned)u;
    else if (!strcmp(n, "--csv"))
        *csv = val;
    else if (!strcmp(n, "--series"))
        *series = val;
    else if (!strcmp(n, "--delay")) {
        if (parse_delay(val, o) != 0) {
            fprintf(err, "emofs sim: --delay needs MIN-MAX in ms (0..600000), not '%s'\n", val);
            return -1;
        }
    } else if (!strcmp(n, "--init")) {
        if (!strcmp(val, "fast"))
            o->init = EMOFS_SIM_INIT_FAST;
        else if (!strcmp(val, "join"))
            o->init = EMOFS_SIM_INIT_JOIN;
        else {
            fprintf(err, "emofs sim: --init needs fast or join, not '%s'\n", val);
            return -1;
        }
    }
    return 0;
}

int emofs_sim_parse(int argc, char **argv, emofs_sim_opts_t *o, const char **csv_path,
                    const char **series_path, int *json, int *help, FILE *err)
{
    const char *bad;

    *csv_path = *series_path = NULL;
    *json = *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '='), *val;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const flag_t *fl = NULL;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            *help = 1;
            return 0;
        }
        if (!strcmp(a, "--json")) {
            *json = 1;
            continue;
        }
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++)
            if (strlen(flags[f].name) == len && !strncmp(flags[f].name, a, len))
                fl = &flags[f];
        if (fl == NULL) {
            fprintf(err, "emofs sim: unknown option '%s' (see emofs sim --help)\n", a);
            return -1;
        }
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(err, "emofs sim: %s needs a value\n", a);
            return -1;
        }
        if (set_flag(fl, val, o, csv_path, series_path, err) != 0)
            return -1;
    }
    bad = emofs_sim_opts_check(o);
    if (bad != NULL) {
        fprintf(err, "emofs sim: %s\n", bad);
        return -1;
    }
    return 0;
}

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        fprintf(stderr, "emofs sim: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

int emofs_sim_main(int argc, char **argv)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;
    const char *csv_path, *series_path;
    FILE *csv = NULL, *series = NULL;
    int json, help, err, rc = 0;

    emofs_sim_opts_init(&o);
    if (emofs_sim_parse(argc, argv, &o, &csv_path, &series_path, &json, &help, stderr) != 0)
        return 2;
    if (help) {
        emofs_sim_usage(stdout);
        return 0;
    }
    if (csv_path != NULL && (csv = open_out(csv_path)) == NULL)
        return 1;
    if (series_path != NULL && (series = open_out(series_path)) == NULL) {
        if (csv != NULL)
            fclose(csv);
        return 1;
    }
    err = emofs_sim_run(&o, &r, csv, series);
    if (err) {
        fprintf(stderr, "emofs sim: %s%s\n", dht_strerror(err),
                err == DHT_EIO && o.files > 0
                    ? " (--files writes the publishers' chunks under $TMPDIR, else /tmp)"
                    : "");
        rc = 1;
    } else {
        emofs_sim_print(&o, &r, stdout, json);
    }
    if (csv != NULL && fclose(csv) != 0) {
        fprintf(stderr, "emofs sim: writing %s failed\n", csv_path);
        rc = 1;
    }
    if (series != NULL && fclose(series) != 0) {
        fprintf(stderr, "emofs sim: writing %s failed\n", series_path);
        rc = 1;
    }
    emofs_sim_result_free(&r);
    return rc;
}
