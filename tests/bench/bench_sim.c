/*
 * bench_sim: the simulator at 10,000 nodes (k = 20, alpha = 3).
 *
 * Builds the network twice, by fast initialisation from the global view
 * and by every node joining through one bootstrap node with the real
 * protocol (in waves of 100 at once); then runs 10,000 lookups (random node, random target node)
 * and reports wall time, lookups per second, hops, requests per lookup and memory per node.
 *
 *   bench_sim [NODES] [LOOKUPS]
 */
#include "dht.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOIN_WAVE 100 /* nodes joining at once */

static int pending;
static unsigned *hops, *reqs;
static int found, n_done;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_anon_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int all_done(void *arg)
{
    (void)arg;
    return pending == 0;
}

static void on_joined(int status, void *arg)
{
    (void)status;
    (void)arg;
    pending--;
}

typedef struct lookup {
    dht_id_t target;
} lookup_t;

static void on_found(int status, const dht_node_info_t *nodes, size_t n,
                     const dht_lookup_stats_t *st, void *arg)
{
    lookup_t *l = arg;

    hops[n_done] = st->hops;
    reqs[n_done] = st->requests;
    n_done++;
    found += status == 0 && n > 0 && dht_id_cmp(&nodes[0].id, &l->target) == 0;
    pending--;
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

static dht_sim_t *make(int nodes)
{
    dht_sim_config_t cfg;
    dht_sim_t *sim;

    dht_sim_config_init(&cfg);
    cfg.seed = 42;
    cfg.delay_min_ms = 5;
    cfg.delay_max_ms = 50;
    if (dht_sim_new(&sim, &cfg) != 0)
        exit(1);
    for (int i = 0; i < nodes; i++)
        dht_sim_add_node(sim);
    return sim;
}

static void lookups(dht_sim_t *sim, int nodes, int count, const char *label)
{
    lookup_t *ls = calloc((size_t)count, sizeof(*ls));
    double t0, secs;
    unsigned long total_reqs = 0;

    hops = calloc((size_t)count, sizeof(*hops));
    reqs = calloc((size_t)count, sizeof(*reqs));
    found = n_done = 0;
    srand(7);
    t0 = now_s();
    for (int i = 0; i < count; i++) {
        int from = rand() % nodes;
        int to = (from + 1 + rand() % (nodes - 1)) % nodes; /* another node */
        ls[i].target = *dht_self(dht_sim_node(sim, (size_t)to));
        pending++;
        dht_find_node(dht_sim_node(sim, (size_t)from), &ls[i].target, on_found, &ls[i]);
    }
    dht_sim_run(sim, all_done, NULL, UINT64_MAX);
    secs = now_s() - t0;
    for (int i = 0; i < count; i++)
        total_reqs += reqs[i];
    qsort(hops, (size_t)count, sizeof(*hops), cmp_uint);
    printf("  %-6s %d lookups in %.2f s wall: %.0f lookups/s; hops p50 %u p95 %u max %u; "
           "%.1f requests/lookup; found the target %d/%d\n",
           label, count, secs, count / secs, hops[count / 2], hops[count * 95 / 100],
           hops[count - 1], (double)total_reqs / count, found, count);
    free(ls);
    free(hops);
    free(reqs);
}

int main(int argc, char **argv)
{
    int nodes = argc > 1 ? atoi(argv[1]) : 10000;
    int count = argc > 2 ? atoi(argv[2]) : 10000;
    long rss0 = rss_anon_kib(), rss1;
    dht_sim_t *sim;
    dht_addr_t first;
    double t0, t_fill, t_join;

    if (nodes < 2 || count < 1) {
        fprintf(stderr, "usage: bench_sim [NODES >= 2] [LOOKUPS >= 1]\n");
        return 2;
    }
    printf("simulator: %d nodes, k = 20, alpha = 3, delay 5-50 ms, no loss\n", nodes);
    t0 = now_s();
    sim = make(nodes);
    dht_sim_fill_tables(sim);
    t_fill = now_s() - t0;
    rss1 = rss_anon_kib();
    printf("  fast init (global view): %.2f s wall; %.1f KiB memory per node\n", t_fill,
           (double)(rss1 - rss0) / nodes);
    lookups(sim, nodes, count, "fast:");
    dht_sim_free(sim);

    t0 = now_s();
    sim = make(nodes);
    dht_sim_node_addr(sim, 0, &first);
    for (int i = 1; i < nodes; i++) {
        pending++;
        dht_bootstrap(dht_sim_node(sim, (size_t)i), &first, 1, on_joined, NULL);
        if (i % JOIN_WAVE == 0 || i == nodes - 1)
            dht_sim_run(sim, all_done, NULL, UINT64_MAX);
    }
    t_join = now_s() - t0;
    printf("  join (real protocol, waves of %d nodes): %.2f s wall, %.0f s virtual\n", JOIN_WAVE,
           (double)t_join, (double)dht_sim_now(sim) / 1000.0);
    lookups(sim, nodes, count, "join:");
    dht_sim_free(sim);
    return 0;
}
