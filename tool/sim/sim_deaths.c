/*
 * emofs sim: the deaths phase (--die P). After the workload, one round of
 * o->lookups lookups, a get of every value and DEATHS_PUTS puts of new
 * small values measures the healthy network; then a share P of the nodes
 * dies at once, without a word, as processes killed with kill -9 do: the
 * others still hold them in their tables as good contacts. Two more
 * rounds, judged against the nodes still on the network, show what the
 * deaths cost at first and once the survivors have noticed them (through
 * the first round's requests, and through --die-settle virtual seconds of
 * maintenance in between, when set). Each
 * round draws its own lookups: asking again from the same sources would
 * favour the rounds after (a source's table keeps what its first lookup
 * learned near the target). Publishers that died take nothing with them
 * but their own copies: the values live on the k closest nodes.
 */
#include "tool/sim/sim_internal.h"

#include <stdlib.h>

#define DEATHS_PUTS 50 /* small values put (and timed) in each round */

/* @return the median of took[0..n) (sorted here), 0 if n is 0. */
static uint64_t median(uint64_t *took, size_t n)
{
    if (n == 0)
        return 0;
    qsort(took, n, sizeof(*took), sim_cmp_u64);
    return took[sim_rank(n, 50)];
}

/* Gets every value from a random live node; the median time of the gets
 * that found theirs. */
static void get_round(sim_ctx_t *c, emofs_sim_round_t *out)
{
    uint64_t p99;

    out->values_got = sim_get_values(c);
    sim_get_latency(c, &out->get_p50_ms, &p99);
}

/* Puts DEATHS_PUTS new values of o->value_size random bytes from random
 * live nodes; counts those stored and their median time. */
static int put_round(sim_ctx_t *c, emofs_sim_round_t *out, uint64_t *took)
{
    sim_value_t *ps = calloc(DEATHS_PUTS, sizeof(*ps));
    size_t n = 0;
    int err = ps == NULL ? DHT_ENOMEM : 0;

    for (size_t i = 0; err == 0 && i < DEATHS_PUTS; i++) {
        sim_value_t *v = &ps[i];
        v->ctx = c;
        v->data = malloc(c->o->value_size);
        if (v->data == NULL) {
            err = DHT_ENOMEM;
            break;
        }
        for (size_t b = 0; b < c->o->value_size; b++)
            v->data[b] = (uint8_t)sim_rng_next(&c->rng);
        dht_id_from_bytes(&v->key, v->data, c->o->value_size);
        v->publisher = sim_random_online(c, UINT32_MAX);
        out->puts += sim_put_value(c, v) == 0;
    }
    if (sim_wait(c) != 1 && c->pending > 0)
        return DHT_ETIMEDOUT; /* a put still runs: its value must outlive it (left) */
    for (size_t i = 0; ps != NULL && i < DEATHS_PUTS; i++) {
        if (ps[i].data != NULL && ps[i].put_status == 0 && ps[i].stored > 0) {
            out->puts_ok++;
            took[n++] = ps[i].took_ms;
        }
        free(ps[i].data);
    }
    free(ps);
    out->put_p50_ms = median(took, n);
    return err;
}

/* One round: lookups from random live nodes to random targets, then a
 * get of every value, then the puts. */
static int round_of(sim_ctx_t *c, emofs_sim_round_t *out)
{
    size_t n = c->o->lookups;
    size_t most = c->o->values > DEATHS_PUTS ? c->o->values : DEATHS_PUTS;
    sim_lookup_t *ls = calloc(n ? n : 1, sizeof(*ls));
    uint64_t *took = calloc(most ? most : 1, sizeof(*took));
    int err =
        ls == NULL || took == NULL ? DHT_ENOMEM : sim_truth_build(&c->truth, c->sim, c->online);

    if (err == 0) {
        sim_make_lookups(c, ls, n);
        sim_run_lookups(c, ls, n);
        sim_summarize_round(ls, n, out);
        get_round(c, out);
        err = put_round(c, out, took);
    }
    free(took);
    free(ls);
    return err;
}

int sim_deaths(sim_ctx_t *c)
{
    emofs_sim_result_t *r = c->r;
    unsigned dying = (unsigned)(c->o->die * (double)c->n_online);
    int err = round_of(c, &r->healthy);

    if (dying >= c->n_online)
        dying = c->n_online - 1; /* someone must be left to ask */
    for (unsigned i = 0; err == 0 && i < dying; i++) {
        uint32_t victim = sim_random_online(c, UINT32_MAX);
        c->online[victim] = 0;
        c->n_online--;
        sim_files_node_leaving(c, victim);
        dht_sim_remove_node(c->sim, victim);
        r->died++;
    }
    for (int i = 0; err == 0 && i < 2; i++) {
        if (i == 1 && c->o->die_settle_s > 0) /* maintenance meets the dead */
            dht_sim_run(c->sim, NULL, NULL,
                        dht_sim_now(c->sim) + (uint64_t)c->o->die_settle_s * 1000);
        err = round_of(c, &r->after_died[i]);
    }
    return err;
}
