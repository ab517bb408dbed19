/*
 * emofs sim: the summary, as text for people or as one JSON object, and
 * the process figures it quotes (wall clock, resident memory).
 */
#include "tool/sim/sim_internal.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

size_t sim_rss_anon_kib(void)
{
    char line[256];
    long kib = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "RssAnon: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib > 0 ? (size_t)kib : 0;
}

size_t sim_peak_rss_kib(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss > 0 ? (size_t)ru.ru_maxrss : 0;
}

double sim_wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

static const char *init_name(emofs_sim_init_t init)
{
    return init == EMOFS_SIM_INIT_JOIN ? "join" : "fast";
}

static void print_round(const char *name, const emofs_sim_round_t *x, unsigned values, FILE *f)
{
    fprintf(f, "    %-9s %7.2f%% %7.2f%%  %5.2f / %-3u %5llu / %-5llu %9.1f  %6.2f%%\n", name,
            pct(x->lookups_ok, x->lookups), pct(x->lookups_exact, x->lookups), x->hops_mean,
            x->hops_p95, (unsigned long long)x->latency_p50_ms,
            (unsigned long long)x->latency_p99_ms, x->datagrams_per_lookup,
            pct(x->values_got, values));
}

static double ratio(uint64_t a, uint64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* One "WHAT p50 after/healthy" line of the deaths summary, without its
 * line feed: the two ratios, then the medians. */
static void print_p50(const char *what, uint64_t healthy, uint64_t after1, uint64_t after2, FILE *f)
{
    fprintf(f,
            "    %s p50 after/healthy: %.2f (round 1), %.2f (round 2); %llu, %llu against %llu ms",
            what, ratio(after1, healthy), ratio(after2, healthy), (unsigned long long)after1,
            (unsigned long long)after2, (unsigned long long)healthy);
}

static void print_deaths(const emofs_sim_opts_t *o, const emofs_sim_result_t *r, FILE *f)
{
    fprintf(f, "  deaths       %u nodes died at once, unannounced", r->died);
    if (o->die_settle_s > 0)
        fprintf(f, "; round 2 after %u virtual s of maintenance", o->die_settle_s);
    fprintf(f, "\n");
    fprintf(
        f,
        "    round     success   exact   hops mean/p95  latency p50/p99 ms  datagrams  values\n");
    print_round("healthy", &r->healthy, r->values, f);
    print_round("after 1", &r->after_died[0], r->values, f);
    print_round("after 2", &r->after_died[1], r->values, f);
    fprintf(f, "    latency p50 after/healthy: %.2f (round 1), %.2f (round 2)\n",
            ratio(r->after_died[0].latency_p50_ms, r->healthy.latency_p50_ms),
            ratio(r->after_died[1].latency_p50_ms, r->healthy.latency_p50_ms));
    print_p50("get", r->healthy.get_p50_ms, r->after_died[0].get_p50_ms,
              r->after_died[1].get_p50_ms, f);
    fprintf(f, "\n");
    print_p50("put", r->healthy.put_p50_ms, r->after_died[0].put_p50_ms,
              r->after_died[1].put_p50_ms, f);
    fprintf(f, "; stored %u/%u, %u/%u, %u/%u\n", r->healthy.puts_ok, r->healthy.puts,
            r->after_died[0].puts_ok, r->after_died[0].puts, r->after_died[1].puts_ok,
            r->after_died[1].puts);
}

static void print_text(const emofs_sim_opts_t *o, const emofs_sim_result_t *r, FILE *f)
{
    double dg = r->datagrams_per_lookup, rq = r->requests_per_lookup;

    fprintf(
        f, "emofs sim: %u nodes, k %u, alpha %u, init %s, loss %.1f%%, delay %u-%u ms, seed %llu\n",
        r->nodes, o->k, o->alpha, init_name(o->init), 100.0 * o->loss, o->delay_min_ms,
        o->delay_max_ms, (unsigned long long)o->seed);
    if (o->regions > 1)
        fprintf(f, "  regions      %u on a ring, %u ms one way per step between them\n", o->regions,
                o->region_delay_ms);
    fprintf(f, "  proximity    %s\n", o->proximity ? "on" : "off");
    if (o->b || o->steps_to_stop)
        fprintf(f, "  lookups as py-dht's: b %u, steps-to-stop %u%s\n", o->b ? o->b : o->k,
                o->steps_to_stop, o->steps_to_stop ? "" : " (off)");
    fprintf(f, "  build        %.3f s wall, %.1f s virtual", r->build_wall_s, r->build_virtual_s);
    if (o->init == EMOFS_SIM_INIT_JOIN)
        fprintf(f, ", %u joins failed, %.1f datagrams per join", r->join_failures,
                r->datagrams_per_join);
    fprintf(f, "\n  memory       %.1f KiB per node (peak RSS %.0f MiB)\n", r->mem_per_node_kib,
            (double)r->peak_rss_kib / 1024.0);
    fprintf(f, "  lookups      %u in %.3f s wall: %.0f lookups/s\n", r->lookups, r->lookup_wall_s,
            r->lookups_per_s);
    fprintf(f, "  hops         p50 %u, p95 %u, max %u (mean %.2f)\n", r->hops_p50, r->hops_p95,
            r->hops_max, r->hops_mean);
    fprintf(f, "  datagrams    %.1f per lookup (%.1f requests, %.1f replies)\n", dg, rq, dg - rq);
    fprintf(f, "  latency      p50 %llu ms, p99 %llu ms (virtual)\n",
            (unsigned long long)r->latency_p50_ms, (unsigned long long)r->latency_p99_ms);
    fprintf(f, "  success      %.2f%% (%u/%u found the node closest to the target)\n",
            pct(r->lookups_ok, r->lookups), r->lookups_ok, r->lookups);
    fprintf(f, "  accuracy     %.2f%% (%u/%u found exactly the true %u closest)\n",
            pct(r->lookups_exact, r->lookups), r->lookups_exact, r->lookups, o->b ? o->b : o->k);
    fprintf(f, "  values       %u put, %u stored, %u got: %.2f%%\n", r->values, r->puts_ok,
            r->gets_ok, pct(r->gets_ok, r->values));
    if (r->gets_ok > 0)
        fprintf(
            f,
            "  get latency  p50 %llu ms, p99 %llu ms (virtual; a get ends at the first holder)\n",
            (unsigned long long)r->get_p50_ms, (unsigned long long)r->get_p99_ms);
    if (r->files > 0)
        fprintf(f,
                "  files        %u of %u B, %u put, %u got whole: %.2f%% (virtual p50: put %llu "
                "ms, get %llu ms)\n",
                r->files, r->file_size, r->files_put, r->files_got, pct(r->files_got, r->files),
                (unsigned long long)r->file_put_p50_ms, (unsigned long long)r->file_get_p50_ms);
    fprintf(f,
            "  network      %llu datagrams sent, %llu lost (%.2f%%); %llu bytes in datagrams, %llu "
            "in streams\n",
            (unsigned long long)r->datagrams_sent, (unsigned long long)r->datagrams_lost,
            pct((double)r->datagrams_lost, (double)r->datagrams_sent),
            (unsigned long long)r->datagram_bytes, (unsigned long long)r->stream_bytes);
    fprintf(
        f,
        "  padding      %llu bytes, %.1f%% of the datagram bytes (requests to nodes that handed "
        "no token lately; schema/wire.md 2.3)\n",
        (unsigned long long)r->padding_bytes,
        pct((double)r->padding_bytes, (double)r->datagram_bytes));
    if (o->die > 0)
        print_deaths(o, r, f);
    if (r->n_samples > 0) {
        fprintf(f, "  churn        %.0f%% of nodes per minute for %u s, republish %s",
                100.0 * o->churn, o->duration_s, o->republish_s ? "every " : "never");
        if (o->republish_s)
            fprintf(f, "%u s", o->republish_s);
        fprintf(f, ", replicate %s", o->replicate_s ? "every " : "never");
        if (o->replicate_s)
            fprintf(f, "%u s", o->replicate_s);
        fprintf(f, "\n      t_s  online  replaced  values_found  lookup_success%s\n",
                r->files > 0 ? "  files_found" : "");
        for (size_t i = 0; i < r->n_samples; i++) {
            const emofs_sim_sample_t *s = &r->samples[i];
            fprintf(f, "  %7.0f  %6u  %8u  %6.2f%% %4u  %6.2f%%", s->t_s, s->online, s->replaced,
                    pct(s->values_found, s->values_total), s->values_found,
                    pct(s->lookups_ok, s->lookups_total));
            if (r->files > 0)
                fprintf(f, "  %6.2f%% %4u", pct(s->files_found, s->files_total), s->files_found);
            fprintf(f, "\n");
        }
    }
    fprintf(f, "  total        %.2f s wall\n", r->total_wall_s);
}

static void json_round(const char *name, const emofs_sim_round_t *x, FILE *f)
{
    fprintf(f,
            "\"%s\":{\"lookups\":%u,\"lookups_ok\":%u,\"lookups_exact\":%u,\"hops_mean\":%.4f,"
            "\"hops_p95\":%u,\"latency_p50_ms\":%llu,\"latency_p99_ms\":%llu,"
            "\"datagrams_per_lookup\":%.3f,\"values_got\":%u,\"get_p50_ms\":%llu,\"puts\":%u,"
            "\"puts_ok\":%u,\"put_p50_ms\":%llu},",
            name, x->lookups, x->lookups_ok, x->lookups_exact, x->hops_mean, x->hops_p95,
            (unsigned long long)x->latency_p50_ms, (unsigned long long)x->latency_p99_ms,
            x->datagrams_per_lookup, x->values_got, (unsigned long long)x->get_p50_ms, x->puts,
            x->puts_ok, (unsigned long long)x->put_p50_ms);
}

static void print_json(const emofs_sim_opts_t *o, const emofs_sim_result_t *r, FILE *f)
{
    fprintf(f, "{\"nodes\":%u,\"k\":%u,\"alpha\":%u,\"b\":%u,\"steps_to_stop\":%u,", r->nodes, o->k,
            o->alpha, o->b ? o->b : o->k, o->steps_to_stop);
    fprintf(f, "\"init\":\"%s\",\"loss\":%g,", init_name(o->init), o->loss);
    fprintf(f, "\"delay_min_ms\":%u,\"delay_max_ms\":%u,\"seed\":%llu,", o->delay_min_ms,
            o->delay_max_ms, (unsigned long long)o->seed);
    fprintf(f, "\"regions\":%u,\"region_delay_ms\":%u,\"proximity\":%s,", o->regions,
            o->region_delay_ms, o->proximity ? "true" : "false");
    fprintf(f,
            "\"build_wall_s\":%.4f,\"build_virtual_s\":%.3f,\"join_failures\":%u,"
            "\"datagrams_per_join\":%.3f,",
            r->build_wall_s, r->build_virtual_s, r->join_failures, r->datagrams_per_join);
    fprintf(f, "\"mem_per_node_kib\":%.2f,\"peak_rss_kib\":%zu,", r->mem_per_node_kib,
            r->peak_rss_kib);
    fprintf(f, "\"lookups\":%u,\"lookup_wall_s\":%.4f,\"lookups_per_s\":%.1f,", r->lookups,
            r->lookup_wall_s, r->lookups_per_s);
    fprintf(f, "\"hops_p50\":%u,\"hops_p95\":%u,\"hops_max\":%u,\"hops_mean\":%.4f,", r->hops_p50,
            r->hops_p95, r->hops_max, r->hops_mean);
    fprintf(f, "\"datagrams_per_lookup\":%.3f,\"requests_per_lookup\":%.3f,",
            r->datagrams_per_lookup, r->requests_per_lookup);
    fprintf(f, "\"latency_p50_ms\":%llu,\"latency_p99_ms\":%llu,",
            (unsigned long long)r->latency_p50_ms, (unsigned long long)r->latency_p99_ms);
    fprintf(f, "\"success_rate\":%.6f,\"accuracy\":%.6f,", pct(r->lookups_ok, r->lookups) / 100,
            pct(r->lookups_exact, r->lookups) / 100);
    fprintf(f, "\"values\":%u,\"puts_ok\":%u,\"gets_ok\":%u,\"get_success_rate\":%.6f,", r->values,
            r->puts_ok, r->gets_ok, pct(r->gets_ok, r->values) / 100);
    fprintf(f, "\"get_p50_ms\":%llu,\"get_p99_ms\":%llu,", (unsigned long long)r->get_p50_ms,
            (unsigned long long)r->get_p99_ms);
    fprintf(f,
            "\"files\":%u,\"file_size\":%u,\"files_put\":%u,\"files_got\":%u,"
            "\"file_put_p50_ms\":%llu,\"file_get_p50_ms\":%llu,",
            r->files, r->file_size, r->files_put, r->files_got,
            (unsigned long long)r->file_put_p50_ms, (unsigned long long)r->file_get_p50_ms);
    fprintf(f,
            "\"datagrams_sent\":%llu,\"datagrams_lost\":%llu,\"datagram_bytes\":%llu,"
            "\"stream_bytes\":%llu,\"padding_bytes\":%llu,",
            (unsigned long long)r->datagrams_sent, (unsigned long long)r->datagrams_lost,
            (unsigned long long)r->datagram_bytes, (unsigned long long)r->stream_bytes,
            (unsigned long long)r->padding_bytes);
    if (o->die > 0) {
        fprintf(f, "\"die\":%g,\"died\":%u,\"die_settle_s\":%u,", o->die, r->died, o->die_settle_s);
        json_round("healthy", &r->healthy, f);
        json_round("after_died_1", &r->after_died[0], f);
        json_round("after_died_2", &r->after_died[1], f);
    }
    fprintf(f, "\"churn\":%g,\"duration_s\":%u,\"republish_s\":%u,\"replicate_s\":%u,\"samples\":[",
            o->churn, o->duration_s, o->republish_s, o->replicate_s);
    for (size_t i = 0; i < r->n_samples; i++) {
        const emofs_sim_sample_t *s = &r->samples[i];
        fprintf(f,
                "%s{\"t_s\":%.0f,\"online\":%u,\"replaced\":%u,\"values_found\":%u,"
                "\"values_total\":%u,\"lookups_ok\":%u,\"lookups_total\":%u,"
                "\"files_found\":%u,\"files_total\":%u}",
                i ? "," : "", s->t_s, s->online, s->replaced, s->values_found, s->values_total,
                s->lookups_ok, s->lookups_total, s->files_found, s->files_total);
    }
    fprintf(f, "],\"total_wall_s\":%.4f}\n", r->total_wall_s);
}

void emofs_sim_print(const emofs_sim_opts_t *o, const emofs_sim_result_t *r, FILE *f, int json)
{
    if (json)
        print_json(o, r, f);
    else
        print_text(o, r, f);
}

/* Prints after / before to f ("-" when before is 0). */
static void print_ratio(FILE *f, uint64_t after, uint64_t before)
{
    if (before)
        fprintf(f, "%.2f", ratio(after, before));
    else
        fprintf(f, "-");
}

void emofs_sim_print_compared(const emofs_sim_opts_t *o, const emofs_sim_result_t *off,
                              const emofs_sim_result_t *on, FILE *f)
{
    fprintf(f, "proximity compared (the same run without it, then with it):\n");
    fprintf(f, "  lookups      p50 %llu ms without, %llu ms with (",
            (unsigned long long)off->latency_p50_ms, (unsigned long long)on->latency_p50_ms);
    print_ratio(f, on->latency_p50_ms, off->latency_p50_ms);
    fprintf(f, "); exact %u and %u\n", off->lookups_exact, on->lookups_exact);
    fprintf(f, "  gets         p50 %llu ms without, %llu ms with (",
            (unsigned long long)off->get_p50_ms, (unsigned long long)on->get_p50_ms);
    print_ratio(f, on->get_p50_ms, off->get_p50_ms);
    fprintf(f, "); got %u and %u\n", off->gets_ok, on->gets_ok);
    if (o->steps_to_stop > 0)
        fprintf(f, "  (with --steps-to-stop, gets keep XOR order: the runs are alike)\n");
    fprintf(f, "  (the memory figures above are of the process: both runs)\n");
}
