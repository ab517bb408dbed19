/*
 * emofs sim: the deaths phase (--die P). After the workload, one round of
 * o->lookups lookups and a get of every value measures the healthy
 * network; then a share P of the nodes dies at once, without a word, as
 * processes killed with kill -9 do: the others still hold them in their
 * tables as good contacts. Two more rounds, judged against the nodes still
 * on the network, show what the deaths cost at first and once the
 * survivors have noticed them. Publishers that died take nothing with
 * them but their own copies: the values live on the k closest nodes.
 */
#include "tool/sim/sim_internal.h"

#include <stdlib.h>

/* One round: lookups from random live nodes to random targets, then a get
 * of every value from a random live node. */
static int round_of(sim_ctx_t *c, emofs_sim_round_t *out)
{
    size_t n = c->o->lookups;
    sim_lookup_t *ls = calloc(n ? n : 1, sizeof(*ls));
    int err;

    if (ls == NULL)
        return DHT_ENOMEM;
    err = sim_truth_build(&c->truth, c->sim, c->online);
    if (err == 0) {
        sim_make_lookups(c, ls, n);
        sim_run_lookups(c, ls, n);
        sim_summarize_round(ls, n, out);
        out->values_got = sim_get_values(c);
    }
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
    for (int i = 0; err == 0 && i < 2; i++)
        err = round_of(c, &r->after_died[i]);
    return err;
}
