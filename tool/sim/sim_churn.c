/*
 * emofs sim: the churn phase. For o->duration_s virtual seconds, nodes
 * leave (removed for good: their stored values go with them) and as many
 * new nodes, with new ids, join through a random node on the network; the
 * rate is o->churn of o->nodes per virtual minute, spread evenly.
 *
 * A publisher that leaves hands its values to the node that replaces it
 * (the owner's program restarting under a new id), so every value keeps
 * an owner. With o->republish_s the owners put their values again at that
 * interval (an owner still joining skips a turn). libdht has no
 * republishing of its own: this is the application doing it.
 *
 * Every o->sample_s the phase pauses the churn and measures: each value is
 * got from a random node (availability) and o->probe_lookups lookups from
 * random nodes to random targets are judged against the global view of
 * the nodes then on the network (lookup success).
 */
#include "tool/sim/sim_internal.h"

#include <stdlib.h>

#define STEP_MS 1000u /* churn is applied once per virtual second */

#define JOIN_ATTEMPTS 5 /* a new node tries this many contacts */

typedef struct sim_joining {
    sim_ctx_t *c;
    uint32_t idx;
    unsigned attempts;
    struct sim_joining *next; /* in c->rejoin */
} joining_t;

static void on_joined(int status, void *arg)
{
    joining_t *j = arg;
    sim_ctx_t *c = j->c;

    c->pending--;
    /* A node counts as on the network once it has joined. Its contact may
     * have left meanwhile: it tries another, as an application would. */
    if (status == 0) {
        c->online[j->idx] = 1;
        c->n_online++;
    } else if (status != DHT_ECANCELED && j->attempts < JOIN_ATTEMPTS) {
        j->next = NULL;
        *c->rejoin_tail = j;
        c->rejoin_tail = &j->next;
        return;
    }
    free(j);
}

/* Starts node j->idx joining through a random node on the network. */
static int join(sim_ctx_t *c, joining_t *j)
{
    dht_addr_t addr;
    int err;

    dht_sim_node_addr(c->sim, sim_random_online(c, UINT32_MAX), &addr);
    j->attempts++;
    err = dht_bootstrap(dht_sim_node(c->sim, j->idx), &addr, 1, on_joined, j);
    if (err) {
        free(j);
        return err;
    }
    c->pending++;
    return 0;
}

static int join_again(sim_ctx_t *c)
{
    int err = 0;

    while (c->rejoin != NULL && err == 0) {
        joining_t *j = c->rejoin;
        c->rejoin = j->next;
        if (c->rejoin == NULL)
            c->rejoin_tail = &c->rejoin;
        err = join(c, j);
    }
    return err;
}

/* One node leaves and a new one starts joining. */
static int replace_one(sim_ctx_t *c)
{
    uint32_t victim = sim_random_online(c, UINT32_MAX);
    joining_t *j;
    int idx, err;

    c->online[victim] = 0;
    c->n_online--;
    sim_files_node_leaving(c, victim);
    dht_sim_remove_node(c->sim, victim);
    idx = dht_sim_add_node(c->sim);
    if (idx < 0)
        return idx;
    err = sim_grow(c, (size_t)idx);
    if (err)
        return err;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return DHT_ENOMEM;
    j->c = c;
    j->idx = (uint32_t)idx;
    for (size_t i = 0; i < c->o->values; i++)
        if (c->values[i].publisher == victim)
            c->values[i].publisher = (uint32_t)idx;
    return join(c, j);
}

static int sample(sim_ctx_t *c, double t_s, unsigned replaced, FILE *series)
{
    const emofs_sim_opts_t *o = c->o;
    emofs_sim_result_t *r = c->r;
    emofs_sim_sample_t *s;
    sim_lookup_t *ls;
    int err;

    sim_wait(c); /* joins and republishing puts under way */
    s = realloc(r->samples, (r->n_samples + 1) * sizeof(*s));
    if (s == NULL)
        return DHT_ENOMEM;
    r->samples = s;
    s = &r->samples[r->n_samples++];
    s->t_s = t_s;
    s->replaced = replaced;
    s->online = c->n_online;
    s->values_total = o->values;
    s->values_found = sim_get_values(c);
    s->files_total = o->files;
    s->files_found = sim_files_get(c);

    err = sim_truth_build(&c->truth, c->sim, c->online);
    if (err)
        return err;
    ls = calloc(o->probe_lookups ? o->probe_lookups : 1, sizeof(*ls));
    if (ls == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < o->probe_lookups; i++) {
        ls[i].src = sim_random_online(c, UINT32_MAX);
        for (size_t b = 0; b < DHT_ID_LEN; b++)
            ls[i].target.b[b] = (uint8_t)sim_rng_next(&c->rng);
    }
    sim_run_lookups(c, ls, o->probe_lookups);
    s->lookups_total = o->probe_lookups;
    s->lookups_ok = 0;
    for (size_t i = 0; i < o->probe_lookups; i++)
        s->lookups_ok += ls[i].ok;
    free(ls);
    if (series != NULL)
        fprintf(series, "%.0f,%u,%u,%u,%u,%.4f,%u,%u,%.4f\n", s->t_s, s->online, s->replaced,
                s->values_found, s->values_total,
                s->values_total ? (double)s->values_found / s->values_total : 0.0, s->lookups_ok,
                s->lookups_total,
                s->lookups_total ? (double)s->lookups_ok / s->lookups_total : 0.0);
    return 0;
}

static int churn(sim_ctx_t *c, FILE *series)
{
    const emofs_sim_opts_t *o = c->o;
    uint64_t start = dht_sim_now(c->sim), end = start + (uint64_t)o->duration_s * 1000;
    uint64_t every = (uint64_t)(o->sample_s ? o->sample_s : (o->duration_s + 19) / 20) * 1000;
    uint64_t next_sample = start, next_republish = start + (uint64_t)o->republish_s * 1000;
    uint64_t last = start;
    double per_ms = o->churn * o->nodes / 60000.0, due = 0;
    unsigned replaced = 0;
    int err;

    if (series != NULL)
        fprintf(series, "t_s,online,replaced,values_found,values_total,availability,"
                        "lookups_ok,lookups_total,lookup_success\n");
    for (;;) {
        uint64_t now = dht_sim_now(c->sim);
        if (now >= next_sample || now >= end) {
            err = sample(c, (double)(now - start) / 1000.0, replaced, series);
            if (err)
                return err;
            next_sample += every;
            if (now >= end)
                break;
        }
        if (o->republish_s > 0 && now >= next_republish) {
            for (size_t i = 0; i < o->values; i++)
                if (c->online[c->values[i].publisher])
                    sim_put_value(c, &c->values[i]);
            next_republish += (uint64_t)o->republish_s * 1000;
        }
        dht_sim_run(c->sim, NULL, NULL, now + STEP_MS);
        now = dht_sim_now(c->sim);
        due += per_ms * (double)(now - last);
        last = now;
        err = join_again(c);
        if (err)
            return err;
        while (due >= 1.0) {
            err = replace_one(c);
            if (err)
                return err;
            replaced++;
            due -= 1.0;
        }
    }
    return 0;
}

int sim_churn(sim_ctx_t *c, FILE *series)
{
    int err;

    c->rejoin = NULL;
    c->rejoin_tail = &c->rejoin;
    err = churn(c, series);
    while (c->rejoin != NULL) { /* those still waiting for another try */
        joining_t *j = c->rejoin;
        c->rejoin = j->next;
        free(j);
    }
    return err;
}
