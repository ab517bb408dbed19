/*
 * emofs sim: one run. Builds the network (fast from the global view, or
 * every node joining through node 0 with the real protocol), runs the
 * lookups and judges each against the global view, puts the values and
 * gets them from other nodes, then hands over to the deaths phase (--die)
 * and the churn phase.
 */
#include "tool/sim/sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define VALUE_TTL_S   86400u /* longer than any run: values do not expire */
#define JOIN_ATTEMPTS 5      /* an application retries a failed join */
#define JOIN_TAIL_MS  5000u  /* the build runs on this long after the last join */
#define WAIT_LIMIT_MS (24ull * 3600 * 1000)

void emofs_sim_opts_init(emofs_sim_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->nodes = 1000;
    o->k = 20;
    o->alpha = 3;
    o->retries = 2;
    o->delay_min_ms = 5;
    o->delay_max_ms = 50;
    o->proximity = 1;
    o->lookups = 1000;
    o->values = 100;
    o->value_size = 100;
    o->file_size = 1u << 20;
    o->batch = 1000;
    o->join_wave = 100;
    o->init = EMOFS_SIM_INIT_FAST;
    o->seed = 1;
    o->probe_lookups = 100;
    o->replicate_s = 3600; /* libdht's default */
}

const char *emofs_sim_opts_check(const emofs_sim_opts_t *o)
{
    if (o->nodes < 2 || o->nodes > (1u << 23))
        return "--nodes must be 2..8388608";
    if (o->k < 1 || o->k > DHT_MAX_K)
        return "--k must be 1..32";
    if (o->alpha < 1 || o->alpha > 16)
        return "--alpha must be 1..16";
    if (o->b > o->k)
        return "--b must be at most --k";
    if (o->retries > 5)
        return "--retries must be 0..5";
    if (!(o->loss >= 0 && o->loss < 1))
        return "--loss must be in [0, 1)";
    if (o->delay_min_ms > o->delay_max_ms || o->delay_max_ms > 600000)
        return "--delay must be MIN-MAX with MIN <= MAX <= 600000";
    if (o->regions > DHT_SIM_MAX_REGIONS || o->region_delay_ms > 600000)
        return "--regions must be 0..64 and --region-delay 0..600000";
    if (o->proximity != 0 && o->proximity != 1)
        return "--proximity must be on or off";
    if (o->value_size < 1 || o->value_size > 1024 * 1024)
        return "--value-size must be 1..1048576";
    if (o->files > 100000)
        return "--files must be 0..100000";
    if (o->file_size < 1 || o->file_size > (1u << 30))
        return "--file-size must be 1..1073741824";
    if (o->batch < 1)
        return "--batch must be >= 1";
    if (o->replicate_s > 30u * 86400u)
        return "--replicate must be 0..2592000";
    if (o->init != EMOFS_SIM_INIT_FAST && o->init != EMOFS_SIM_INIT_JOIN)
        return "--init must be fast or join";
    if (!(o->churn >= 0 && o->churn <= 1))
        return "--churn must be in [0, 1]";
    if (o->churn > 0 && o->duration_s == 0)
        return "--churn needs --duration";
    if (!(o->die >= 0 && o->die < 1))
        return "--die must be in [0, 1)";
    return NULL;
}

void emofs_sim_result_free(emofs_sim_result_t *r)
{
    free(r->samples);
    r->samples = NULL;
    r->n_samples = 0;
}

/* ---- waiting and picking ---- */

static int nothing_pending(void *arg)
{
    return ((sim_ctx_t *)arg)->pending == 0;
}

int sim_wait(sim_ctx_t *c)
{
    return dht_sim_run(c->sim, nothing_pending, c, dht_sim_now(c->sim) + WAIT_LIMIT_MS);
}

int sim_grow(sim_ctx_t *c, size_t idx)
{
    if (idx < c->cap_nodes)
        return 0;
    size_t cap = c->cap_nodes ? c->cap_nodes : 1024;
    while (cap <= idx)
        cap *= 2;
    uint8_t *on = realloc(c->online, cap);
    if (on == NULL)
        return DHT_ENOMEM;
    c->online = on;
    memset(c->online + c->cap_nodes, 0, cap - c->cap_nodes);
    c->cap_nodes = cap;
    return 0;
}

uint32_t sim_random_online(sim_ctx_t *c, uint32_t avoid)
{
    size_t count = dht_sim_node_count(c->sim);

    for (;;) {
        uint32_t i = (uint32_t)sim_rng_below(&c->rng, count);
        if (c->online[i] && i != avoid)
            return i;
    }
}

/* ---- lookups ---- */

static void on_lookup(int status, const dht_node_info_t *nodes, size_t n,
                      const dht_lookup_stats_t *st, void *arg)
{
    sim_lookup_t *l = arg;
    sim_ctx_t *c = l->ctx;
    dht_t *src = dht_sim_node(c->sim, l->src);
    sim_ref_t truth[DHT_MAX_K];
    size_t nt = sim_truth_closest(&c->truth, &l->target, src ? dht_self(src) : NULL,
                                  c->o->b ? c->o->b : c->o->k, truth);

    l->status = status;
    if (st != NULL) {
        l->hops = st->hops;
        l->requests = st->requests;
        l->replies = st->replies;
        l->latency_ms = st->duration_ms;
    }
    l->ok = status == 0 && n > 0 && nt > 0 && dht_id_cmp(&nodes[0].id, &truth[0].id) == 0;
    l->exact = status == 0 && n >= nt;
    for (size_t i = 0; l->exact && i < nt; i++)
        l->exact = dht_id_cmp(&nodes[i].id, &truth[i].id) == 0;
    c->pending--;
}

void sim_run_lookups(sim_ctx_t *c, sim_lookup_t *ls, size_t n)
{
    for (size_t start = 0; start < n; start += c->o->batch) {
        size_t end = start + c->o->batch < n ? start + c->o->batch : n;
        for (size_t i = start; i < end; i++) {
            sim_lookup_t *l = &ls[i];
            int err;
            l->ctx = c;
            l->status = 1;
            err = dht_find_node(dht_sim_node(c->sim, l->src), &l->target, on_lookup, l);
            if (err)
                l->status = err;
            else
                c->pending++;
        }
        sim_wait(c);
    }
}

/* ---- values ---- */

static void on_put(int status, unsigned stored, void *arg)
{
    sim_value_t *v = arg;

    v->put_status = status;
    v->stored = stored;
    v->took_ms = dht_sim_now(v->ctx->sim) - v->started_ms;
    v->ctx->pending--;
}

int sim_put_value(sim_ctx_t *c, sim_value_t *v)
{
    int err = dht_put(dht_sim_node(c->sim, v->publisher), &v->key, v->data, c->o->value_size,
                      VALUE_TTL_S, on_put, v);

    if (err == 0) {
        v->put_status = 1;
        v->started_ms = dht_sim_now(c->sim);
        c->pending++;
    }
    return err;
}

static void on_get(int status, const dht_value_t *vals, size_t n, void *arg)
{
    sim_value_t *v = arg;
    size_t len = v->ctx->o->value_size;

    v->got = 0;
    for (size_t i = 0; status == 0 && i < n; i++)
        if (vals[i].len == len && memcmp(vals[i].data, v->data, len) == 0)
            v->got = 1;
    v->took_ms = dht_sim_now(v->ctx->sim) - v->started_ms;
    v->ctx->pending--;
}

unsigned sim_get_values(sim_ctx_t *c)
{
    unsigned found = 0;
    size_t n = c->o->values;

    for (size_t start = 0; start < n; start += c->o->batch) {
        size_t end = start + c->o->batch < n ? start + c->o->batch : n;
        for (size_t i = start; i < end; i++) {
            sim_value_t *v = &c->values[i];
            uint32_t from = sim_random_online(c, v->publisher);
            v->got = -1;
            v->started_ms = dht_sim_now(c->sim);
            if (dht_get(dht_sim_node(c->sim, from), &v->key, on_get, v) == 0)
                c->pending++;
            else
                v->got = 0;
        }
        sim_wait(c);
    }
    for (size_t i = 0; i < n; i++)
        found += c->values[i].got == 1;
    return found;
}

static int make_values(sim_ctx_t *c)
{
    const emofs_sim_opts_t *o = c->o;

    c->values = calloc(o->values ? o->values : 1, sizeof(*c->values));
    if (c->values == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < o->values; i++) {
        sim_value_t *v = &c->values[i];
        v->ctx = c;
        v->data = malloc(o->value_size);
        if (v->data == NULL)
            return DHT_ENOMEM;
        for (size_t b = 0; b < o->value_size; b++)
            v->data[b] = (uint8_t)sim_rng_next(&c->rng);
        dht_id_from_bytes(&v->key, v->data, o->value_size);
        v->publisher = sim_random_online(c, UINT32_MAX);
    }
    return 0;
}

static void put_and_get(sim_ctx_t *c)
{
    const emofs_sim_opts_t *o = c->o;

    for (size_t start = 0; start < o->values; start += o->batch) {
        size_t end = start + o->batch < o->values ? start + o->batch : o->values;
        for (size_t i = start; i < end; i++)
            sim_put_value(c, &c->values[i]);
        sim_wait(c);
    }
    for (size_t i = 0; i < o->values; i++)
        c->r->puts_ok += c->values[i].put_status == 0 && c->values[i].stored > 0;
    c->r->gets_ok = sim_get_values(c);
    sim_get_latency(c, &c->r->get_p50_ms, &c->r->get_p99_ms);
}

void sim_get_latency(sim_ctx_t *c, uint64_t *p50, uint64_t *p99)
{
    uint64_t *took = malloc((c->o->values ? c->o->values : 1) * sizeof(*took));
    size_t n = 0;

    *p50 = *p99 = 0;
    if (took == NULL)
        return;
    for (size_t i = 0; i < c->o->values; i++)
        if (c->values[i].got == 1)
            took[n++] = c->values[i].took_ms;
    if (n > 0) {
        qsort(took, n, sizeof(*took), sim_cmp_u64);
        *p50 = took[sim_rank(n, 50)];
        *p99 = took[sim_rank(n, 99)];
    }
    free(took);
}

/* ---- building the network ---- */

typedef struct join_slot {
    sim_ctx_t *c;
    int status; /* 1 until joined, then the last attempt's status */
} join_slot_t;

static void on_joined(int status, void *arg)
{
    join_slot_t *s = arg;

    s->status = status;
    s->c->pending--;
}

static int join_all(sim_ctx_t *c)
{
    size_t n = c->o->nodes;
    size_t wave = c->o->join_wave ? c->o->join_wave : 100;
    join_slot_t *slots = calloc(wave, sizeof(*slots));
    dht_addr_t first;

    if (slots == NULL)
        return DHT_ENOMEM;
    dht_sim_node_addr(c->sim, 0, &first);
    for (size_t start = 1; start < n; start += wave) {
        size_t end = start + wave < n ? start + wave : n;
        for (size_t i = start; i < end; i++)
            slots[i - start].status = 1;
        for (int attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
            for (size_t i = start; i < end; i++) {
                join_slot_t *s = &slots[i - start];
                if (s->status == 0)
                    continue;
                s->c = c;
                if (dht_bootstrap(dht_sim_node(c->sim, i), &first, 1, on_joined, s) == 0)
                    c->pending++;
            }
            sim_wait(c);
        }
        for (size_t i = start; i < end; i++)
            c->r->join_failures += slots[i - start].status != 0;
    }
    free(slots);
    /* What the joins set going after they reported (libdht fills far
     * buckets for a moment after a join) belongs to their cost. */
    dht_sim_run(c->sim, NULL, NULL, dht_sim_now(c->sim) + JOIN_TAIL_MS);
    return 0;
}

/* ---- the run ---- */

void sim_make_lookups(sim_ctx_t *c, sim_lookup_t *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ls[i].src = sim_random_online(c, UINT32_MAX);
        for (size_t b = 0; b < DHT_ID_LEN; b += 8) {
            uint64_t x = sim_rng_next(&c->rng);
            memcpy(ls[i].target.b + b, &x, 8);
        }
    }
}

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

int sim_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t sim_rank(size_t n, unsigned p)
{
    size_t r = (n * p + 99) / 100;
    return r ? r - 1 : 0;
}

static void write_csv(FILE *csv, const sim_lookup_t *ls, size_t n)
{
    char hex[DHT_ID_HEXLEN];

    fprintf(csv, "lookup,source,target,hops,datagrams,requests,replies,latency_ms,"
                 "true_k_closest,success\n");
    for (size_t i = 0; i < n; i++) {
        const sim_lookup_t *l = &ls[i];
        fprintf(csv, "%zu,%u,%s,%u,%u,%u,%u,%llu,%s,%s\n", i, (unsigned)l->src,
                dht_id_to_hex(&l->target, hex), l->hops, l->requests + l->replies, l->requests,
                l->replies, (unsigned long long)l->latency_ms, l->exact ? "yes" : "no",
                l->ok ? "yes" : "no");
    }
}

static void summarize_lookups(emofs_sim_result_t *r, const sim_lookup_t *ls, size_t n)
{
    unsigned *hops = malloc((n ? n : 1) * sizeof(*hops));
    uint64_t *lat = malloc((n ? n : 1) * sizeof(*lat));
    double sum_hops = 0, sum_dg = 0, sum_req = 0;

    r->lookups = (unsigned)n;
    if (hops == NULL || lat == NULL || n == 0) {
        free(hops);
        free(lat);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        hops[i] = ls[i].hops;
        lat[i] = ls[i].latency_ms;
        sum_hops += ls[i].hops;
        sum_dg += ls[i].requests + ls[i].replies;
        sum_req += ls[i].requests;
        r->lookups_ok += ls[i].ok;
        r->lookups_exact += ls[i].exact;
    }
    qsort(hops, n, sizeof(*hops), cmp_u);
    qsort(lat, n, sizeof(*lat), sim_cmp_u64);
    r->hops_p50 = hops[sim_rank(n, 50)];
    r->hops_p95 = hops[sim_rank(n, 95)];
    r->hops_max = hops[n - 1];
    r->hops_mean = sum_hops / (double)n;
    r->datagrams_per_lookup = sum_dg / (double)n;
    r->requests_per_lookup = sum_req / (double)n;
    r->latency_p50_ms = lat[sim_rank(n, 50)];
    r->latency_p99_ms = lat[sim_rank(n, 99)];
    free(hops);
    free(lat);
}

void sim_summarize_round(const sim_lookup_t *ls, size_t n, emofs_sim_round_t *out)
{
    emofs_sim_result_t r;

    memset(&r, 0, sizeof(r));
    summarize_lookups(&r, ls, n);
    out->lookups = r.lookups;
    out->lookups_ok = r.lookups_ok;
    out->lookups_exact = r.lookups_exact;
    out->hops_p95 = r.hops_p95;
    out->hops_mean = r.hops_mean;
    out->datagrams_per_lookup = r.datagrams_per_lookup;
    out->latency_p50_ms = r.latency_p50_ms;
    out->latency_p99_ms = r.latency_p99_ms;
}

static int build(sim_ctx_t *c)
{
    const emofs_sim_opts_t *o = c->o;
    dht_sim_config_t cfg;
    int err;

    dht_sim_config_init(&cfg);
    cfg.seed = o->seed;
    cfg.loss = o->loss;
    cfg.delay_min_ms = o->delay_min_ms;
    cfg.delay_max_ms = o->delay_max_ms;
    cfg.regions = o->regions;
    cfg.region_delay_ms = o->region_delay_ms;
    cfg.node.proximity = o->proximity;
    cfg.node.k = o->k;
    cfg.node.alpha = o->alpha;
    cfg.node.lookup_results = o->b;
    cfg.node.lookup_stale_stop = o->steps_to_stop;
    cfg.node.retries = o->retries;
    cfg.node.replicate_interval_s = o->replicate_s;
    sim_files_node_config(o, &cfg.node);
    c->node_cfg = cfg.node;
    err = dht_sim_new(&c->sim, &cfg);
    if (err)
        return err;
    err = sim_grow(c, o->nodes);
    for (unsigned i = 0; err == 0 && i < o->nodes; i++) {
        int idx = dht_sim_add_node(c->sim);
        if (idx < 0)
            return idx;
        c->online[idx] = 1;
    }
    if (err)
        return err;
    c->n_online = o->nodes;
    err = o->init == EMOFS_SIM_INIT_FAST ? dht_sim_fill_tables(c->sim) : join_all(c);
    if (err == 0 && o->settle_s > 0) /* maintenance: pings, bucket refreshes */
        dht_sim_run(c->sim, NULL, NULL, dht_sim_now(c->sim) + (uint64_t)o->settle_s * 1000);
    return err;
}

static int run(sim_ctx_t *c, FILE *csv, FILE *series)
{
    const emofs_sim_opts_t *o = c->o;
    emofs_sim_result_t *r = c->r;
    size_t rss0 = sim_rss_anon_kib();
    double t0 = sim_wall_s();
    sim_lookup_t *ls;
    dht_sim_stats_t st;
    int err;

    err = build(c);
    if (err)
        return err;
    r->build_wall_s = sim_wall_s() - t0;
    r->build_virtual_s = (double)dht_sim_now(c->sim) / 1000.0;
    if (o->init == EMOFS_SIM_INIT_JOIN && o->nodes > 1) {
        dht_sim_get_stats(c->sim, &st);
        r->datagrams_per_join = (double)st.datagrams_sent / (double)(o->nodes - 1);
    }
    r->mem_per_node_kib = (double)(sim_rss_anon_kib() - rss0) / (double)o->nodes;
    err = sim_truth_build(&c->truth, c->sim, c->online);
    if (err)
        return err;

    ls = calloc(o->lookups ? o->lookups : 1, sizeof(*ls));
    if (ls == NULL)
        return DHT_ENOMEM;
    sim_make_lookups(c, ls, o->lookups);
    t0 = sim_wall_s();
    sim_run_lookups(c, ls, o->lookups);
    r->lookup_wall_s = sim_wall_s() - t0;
    r->lookups_per_s = r->lookup_wall_s > 0 ? o->lookups / r->lookup_wall_s : 0;
    summarize_lookups(r, ls, o->lookups);
    if (csv != NULL)
        write_csv(csv, ls, o->lookups);
    free(ls);

    r->values = o->values;
    err = make_values(c);
    if (err)
        return err;
    put_and_get(c);
    if (o->files > 0) {
        err = sim_files_run(c);
        if (err)
            return err;
    }
    if (o->die > 0) {
        err = sim_deaths(c);
        if (err)
            return err;
    }
    if (o->duration_s > 0) {
        err = sim_churn(c, series);
        if (err)
            return err;
    }
    dht_sim_get_stats(c->sim, &st);
    r->datagrams_sent = st.datagrams_sent;
    r->datagrams_lost = st.datagrams_lost;
    r->datagram_bytes = st.datagram_bytes;
    r->stream_bytes = st.stream_bytes;
    r->padding_bytes = st.padding_bytes;
    return 0;
}

int emofs_sim_run(const emofs_sim_opts_t *o, emofs_sim_result_t *r, FILE *csv, FILE *series)
{
    sim_ctx_t c;
    double t0 = sim_wall_s();
    int err;

    memset(r, 0, sizeof(*r));
    if (emofs_sim_opts_check(o) != NULL)
        return DHT_EINVAL;
    memset(&c, 0, sizeof(c));
    c.o = o;
    c.r = r;
    c.rng.s = o->seed ^ 0x656d6f6673696dull; /* "emofsim": apart from libdht's stream */
    r->nodes = o->nodes;
    err = run(&c, csv, series);
    r->peak_rss_kib = sim_peak_rss_kib();
    /* Deferred frees of the file engines first, then their stores. */
    if (c.sim != NULL)
        dht_sim_run(c.sim, NULL, NULL, dht_sim_now(c.sim));
    sim_files_free(&c);
    dht_sim_free(c.sim);
    sim_truth_free(&c.truth);
    for (size_t i = 0; c.values != NULL && i < o->values; i++)
        free(c.values[i].data);
    free(c.values);
    free(c.online);
    r->total_wall_s = sim_wall_s() - t0;
    return err;
}
