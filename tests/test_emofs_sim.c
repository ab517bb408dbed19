/*
 * emofs sim through its library API (tool/sim/sim.h): a seed replays byte for
 * byte, a lossless network finds the true k closest nodes in every lookup,
 * values survive 10% loss, hops grow with log N, churn and republishing
 * behave, a quarter of the nodes dying at once costs little, and the command line rejects bad flags
 * with exit code 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool/sim/sim.h"

/* Runs o, returning the lookup CSV and the churn series as strings. */
static void run_capture(const emofs_sim_opts_t *o, emofs_sim_result_t *r, char **csv, char **series)
{
    size_t csv_len = 0, series_len = 0;
    FILE *fc = open_memstream(csv, &csv_len);
    FILE *fs = open_memstream(series, &series_len);

    assert_non_null(fc);
    assert_non_null(fs);
    assert_int_equal(emofs_sim_run(o, r, fc, fs), 0);
    fclose(fc);
    fclose(fs);
}

static void test_same_seed_same_csv(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t a, b, c;
    char *csv_a, *csv_b, *csv_c, *ser_a, *ser_b, *ser_c;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 300;
    o.init = EMOFS_SIM_INIT_JOIN;
    o.loss = 0.1;
    o.delay_min_ms = 10;
    o.delay_max_ms = 100;
    o.lookups = 200;
    o.values = 30;
    o.churn = 0.2;
    o.duration_s = 120;
    o.sample_s = 60;
    o.republish_s = 60;
    o.probe_lookups = 20;
    o.seed = 7;
    run_capture(&o, &a, &csv_a, &ser_a);
    run_capture(&o, &b, &csv_b, &ser_b);
    o.seed = 8;
    run_capture(&o, &c, &csv_c, &ser_c);
    assert_true(strlen(csv_a) > 200 * 60);
    assert_string_equal(csv_a, csv_b);
    assert_string_equal(ser_a, ser_b);
    assert_string_not_equal(csv_a, csv_c);
    assert_int_equal(a.n_samples, 3);
    assert_true(a.datagrams_lost > 0);
    assert_int_equal(a.datagrams_sent, b.datagrams_sent);
    free(csv_a);
    free(csv_b);
    free(csv_c);
    free(ser_a);
    free(ser_b);
    free(ser_c);
    emofs_sim_result_free(&a);
    emofs_sim_result_free(&b);
    emofs_sim_result_free(&c);
}

/* No loss, 2,000 nodes: every lookup returns exactly the true k closest
 * and every value comes back, whether the tables come from the global view
 * or the nodes built them by joining through one node, 100 or 1,000 at
 * once (issue 9: waves of 1,000 found the true k closest in only 78% of
 * lookups, before nodes named in replies were learned). Three seeds each:
 * one seed alone hid two faults that others showed (a node that joined
 * when the network knew little stayed unknown to its neighbours; the
 * slowest replies of a wide spread came after the lookup ended). */
static void check_exact(emofs_sim_init_t init, unsigned wave, uint64_t seed)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;

    emofs_sim_opts_init(&o);
    o.seed = seed;
    o.nodes = 2000;
    o.init = init;
    o.join_wave = wave;
    o.lookups = 500;
    o.values = 50;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_int_equal(r.lookups, 500);
    assert_int_equal(r.join_failures, 0);
    assert_int_equal(r.lookups_ok, 500);
    assert_int_equal(r.lookups_exact, 500);
    assert_int_equal(r.puts_ok, 50);
    assert_int_equal(r.gets_ok, 50);
    assert_int_equal(r.datagrams_lost, 0);
    assert_true(r.hops_p50 >= 1 && r.hops_max < 20);
    assert_true(r.latency_p50_ms > 0);
    emofs_sim_result_free(&r);
}

static void test_lossless_finds_true_k_closest(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        check_exact(EMOFS_SIM_INIT_FAST, 100, seed);
        check_exact(EMOFS_SIM_INIT_JOIN, 100, seed);
        check_exact(EMOFS_SIM_INIT_JOIN, 1000, seed);
    }
}

/* 5% loss, 2,000 nodes: a node lookup waits for the few of its closest
 * whose request or reply was lost, so almost every lookup still returns
 * exactly the true k closest (33% did at 10,000 nodes when lookups did
 * not wait for them; 9be1772 to ca94fd9). */
static void test_lossy_lookups_mostly_exact(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 2000;
    o.loss = 0.05;
    o.delay_min_ms = 10;
    o.delay_max_ms = 100;
    o.lookups = 500;
    o.values = 20;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    print_message("at 5%% loss: %u of 500 lookups exact, %u found the closest\n",
                  (unsigned)r.lookups_exact, (unsigned)r.lookups_ok);
    assert_true(r.datagrams_lost > 0);
    assert_true(r.lookups_ok >= 495);
    assert_true(r.lookups_exact >= 450);
    emofs_sim_result_free(&r);
}

/* One run of 1000 fast-init nodes with py-dht's parameters b and
 * steps-to-stop (0: off), alpha given: 300 lookups, 30 values. */
static void run_py_dht(unsigned alpha, unsigned b, unsigned steps, emofs_sim_result_t *r)
{
    emofs_sim_opts_t o;

    emofs_sim_opts_init(&o);
    o.nodes = 1000;
    o.lookups = 300;
    o.values = 30;
    o.alpha = alpha;
    o.b = b;
    o.steps_to_stop = steps;
    assert_int_equal(emofs_sim_run(&o, r, NULL, NULL), 0);
    assert_int_equal(r->lookups, 300);
    assert_int_equal(r->gets_ok, 30); /* every value put is got back */
}

/* py-dht's client parameters (issue 14): b narrows what a lookup must
 * find (and still finds it exactly: the true b closest), steps-to-stop
 * ends a lookup once replies stop bringing nearer nodes; both ask fewer
 * peers than Kademlia's rule with k. */
static void test_py_dht_parameters(void **state)
{
    emofs_sim_result_t base, narrow, steps3, steps1;

    (void)state;
    run_py_dht(3, 0, 0, &base);
    assert_int_equal(base.lookups_exact, 300);
    run_py_dht(3, 8, 0, &narrow);
    assert_int_equal(narrow.lookups_exact, 300); /* the true 8 closest */
    assert_true(narrow.requests_per_lookup < base.requests_per_lookup);
    run_py_dht(1, 20, 3, &steps3);
    assert_true(steps3.lookups_ok >= 285); /* the closest node, 95% at least */
    assert_true(steps3.requests_per_lookup < base.requests_per_lookup / 2);
    run_py_dht(1, 20, 1, &steps1);
    assert_true(steps1.requests_per_lookup < steps3.requests_per_lookup);
    emofs_sim_result_free(&base);
    emofs_sim_result_free(&narrow);
    emofs_sim_result_free(&steps3);
    emofs_sim_result_free(&steps1);
}

/* Proximity (issue 14) on 5 regions, 40 ms apart a step on their ring:
 * gets, which end at the first holder that answers, ask the nearest of
 * those equally close first (a stranger's round trip guessed from its
 * network's) and take under 70% of the time they take without (virtual
 * p50, deterministic), all found either way, in a network small enough
 * for every table to know most holders and in one where the holders are
 * mostly strangers; node lookups, which must hear from all k closest,
 * are left in XOR order and take the same time. */
static void run_regions(unsigned nodes, int proximity, emofs_sim_result_t *r)
{
    emofs_sim_opts_t o;

    emofs_sim_opts_init(&o);
    o.nodes = nodes;
    o.regions = 5;
    o.region_delay_ms = 40;
    o.delay_min_ms = 2;
    o.delay_max_ms = 10;
    o.settle_s = 1200; /* liveness pings: the contacts' round trips measured */
    o.lookups = 300;
    o.values = 300;
    o.proximity = proximity;
    o.seed = 4;
    assert_int_equal(emofs_sim_run(&o, r, NULL, NULL), 0);
}

static void check_proximity(unsigned nodes)
{
    emofs_sim_result_t off, on;

    run_regions(nodes, 0, &off);
    run_regions(nodes, 1, &on);
    print_message("%u nodes: get p50 %llu ms with proximity, %llu ms without; lookups p50 %llu "
                  "and %llu ms\n",
                  nodes, (unsigned long long)on.get_p50_ms, (unsigned long long)off.get_p50_ms,
                  (unsigned long long)on.latency_p50_ms, (unsigned long long)off.latency_p50_ms);
    assert_int_equal(off.gets_ok, 300);
    assert_int_equal(on.gets_ok, 300);
    assert_true(on.get_p50_ms * 10 < off.get_p50_ms * 7);
    assert_int_equal(on.lookups_exact, off.lookups_exact);
    assert_int_equal(on.latency_p50_ms, off.latency_p50_ms);
    emofs_sim_result_free(&off);
    emofs_sim_result_free(&on);
}

static void test_proximity_gets_near_holders(void **state)
{
    (void)state;
    check_proximity(500);
    check_proximity(2000);
}

static void test_values_survive_loss(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 1000;
    o.loss = 0.10;
    o.delay_min_ms = 10;
    o.delay_max_ms = 120;
    o.lookups = 100;
    o.values = 300;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_int_equal(r.puts_ok, 300);
    assert_int_equal(r.gets_ok, 300);
    /* The loss was real: about a tenth of all datagrams. */
    assert_true(r.datagrams_lost * 100 > r.datagrams_sent * 8);
    assert_true(r.datagrams_lost * 100 < r.datagrams_sent * 12);
    emofs_sim_result_free(&r);
}

static double mean_hops(unsigned nodes)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;
    double h;

    emofs_sim_opts_init(&o);
    o.nodes = nodes;
    o.lookups = 1000;
    o.values = 0;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_int_equal(r.lookups_exact, 1000);
    h = r.hops_mean;
    emofs_sim_result_free(&r);
    return h;
}

/* emofs's own put and get run among the simulated nodes: files put from
 * random nodes are got whole by others, at 5% loss. Under heavy churn
 * with few copies (k 3) and no repair, the samples see files go (every
 * chunk must keep a holder) while they were all there at first. */
static void test_files(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;
    const emofs_sim_sample_t *last;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 300;
    o.loss = 0.05;
    o.lookups = 50;
    o.values = 10;
    o.files = 6;
    o.file_size = 700000;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_int_equal(r.files, 6);
    assert_int_equal(r.files_put, 6);
    assert_int_equal(r.files_got, 6);
    assert_true(r.file_put_p50_ms > 0 && r.file_get_p50_ms > 0);
    emofs_sim_result_free(&r);

    emofs_sim_opts_init(&o);
    o.nodes = 200;
    o.k = 3;
    o.lookups = 50;
    o.values = 10;
    o.files = 6;
    o.file_size = 700000;
    o.churn = 0.3;
    o.duration_s = 600;
    o.sample_s = 120;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_true(r.n_samples >= 5);
    assert_int_equal(r.samples[0].files_total, 6);
    assert_int_equal(r.samples[0].files_found, 6);
    last = &r.samples[r.n_samples - 1];
    assert_int_equal(last->files_total, 6);
    assert_true(last->files_found < 6);
    emofs_sim_result_free(&r);
}

/* Eight times the nodes is three more bits of id to resolve: hops grow,
 * by a fraction of a hop per doubling, nothing like eight times. */
static void test_hops_grow_with_log_n(void **state)
{
    double h1 = mean_hops(1000), h8 = mean_hops(8000);
    double per_doubling = (h8 - h1) / 3.0;

    (void)state;
    print_message("mean hops: %.2f at 1,000 nodes, %.2f at 8,000\n", h1, h8);
    assert_true(h1 >= 1.0);
    assert_true(per_doubling > 0.05);
    assert_true(per_doubling < 1.0);
}

/* Under heavy churn values decay without republishing and survive with
 * it; the network keeps its size. */
static void test_churn_and_republish(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t plain, repub;
    const emofs_sim_sample_t *p_last, *r_last;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 500;
    o.lookups = 50;
    o.values = 50;
    o.churn = 0.3;
    o.duration_s = 900;
    o.sample_s = 300;
    o.probe_lookups = 50;
    o.replicate_s = 0; /* the publishers' republish alone */
    assert_int_equal(emofs_sim_run(&o, &plain, NULL, NULL), 0);
    o.republish_s = 120;
    assert_int_equal(emofs_sim_run(&o, &repub, NULL, NULL), 0);
    assert_int_equal(plain.n_samples, 4);
    p_last = &plain.samples[plain.n_samples - 1];
    r_last = &repub.samples[repub.n_samples - 1];
    print_message("after %.0f s: %u/50 values without republishing, %u/50 with\n", p_last->t_s,
                  p_last->values_found, r_last->values_found);
    assert_int_equal(plain.samples[0].values_found, 50);
    assert_true(p_last->replaced >= 2000);
    assert_true(p_last->online >= 480);
    assert_true(p_last->values_found < 25);
    assert_true(r_last->values_found >= 45);
    assert_true(r_last->lookups_ok >= 45);
    emofs_sim_result_free(&plain);
    emofs_sim_result_free(&repub);
}

/* Churn with libdht's own maintenance only (issue 11): 10% of the nodes
 * replaced every minute for 40 virtual minutes, nobody republishing; the
 * holders' replication (every 10 minutes) keeps every value available at
 * every sample, where without it 122 of the 200 values are left at the
 * end (84 were found until a get that has found nothing waited for the
 * late among the closest: it ended before the answers of live holders
 * its node had marked slow). */
static void test_churn_with_replication(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t with, without;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 300;
    o.lookups = 50;
    o.values = 200;
    o.churn = 0.1;
    o.duration_s = 2400;
    o.sample_s = 600;
    o.probe_lookups = 20;
    o.seed = 3;
    o.replicate_s = 600;
    assert_int_equal(emofs_sim_run(&o, &with, NULL, NULL), 0);
    o.replicate_s = 0;
    assert_int_equal(emofs_sim_run(&o, &without, NULL, NULL), 0);
    assert_int_equal(with.n_samples, 5);
    for (size_t i = 0; i < with.n_samples; i++)
        assert_int_equal(with.samples[i].values_found, 200);
    assert_true(with.samples[with.n_samples - 1].replaced >= 1200);
    print_message("after %.0f s of churn: %u/200 values with replication, %u/200 without\n",
                  with.samples[with.n_samples - 1].t_s,
                  with.samples[with.n_samples - 1].values_found,
                  without.samples[without.n_samples - 1].values_found);
    assert_true(without.samples[without.n_samples - 1].values_found < 150);
    emofs_sim_result_free(&with);
    emofs_sim_result_free(&without);
}

/* A quarter of a join-built network dies at once, unannounced (issue 9):
 * every lookup still finds the closest live node, every value is still
 * got, and a lookup waits for the dead for no more than an adaptive
 * timeout, so the median lookup, get and put of a small value each take
 * less than twice as long as on the healthy network (virtual time:
 * deterministic). Hops: the 95th percentile is no worse in either round
 * after the deaths (seeds 1 to 5: 3 in every round); the mean of the
 * first round, right after the deaths, is up to 0.2 hop worse (a dead
 * hop costs one more now and then: +0.00 to +0.12 at seeds 1 to 5). The
 * second round follows 15 virtual minutes of maintenance (liveness pings,
 * bucket refreshes: --die-settle 900), as a network that lost a quarter
 * of its nodes gets in life: there the mean is no worse than before the
 * deaths (2.16 to 2.22 against 2.27 to 2.36 at seeds 2 to 6), and nearly
 * every lookup finds exactly the true k closest again (98.2% to 99.6%;
 * right after the deaths about a third do, because each survivor's k
 * closest to a target still include the dead, so the live nodes just
 * past them go unnamed). */
static void test_quarter_dies_at_once(void **state)
{
    emofs_sim_opts_t o;
    emofs_sim_result_t r;

    (void)state;
    emofs_sim_opts_init(&o);
    o.nodes = 2000;
    o.init = EMOFS_SIM_INIT_JOIN;
    o.join_wave = 1000;
    o.lookups = 500;
    o.values = 50;
    o.die = 0.25;
    o.die_settle_s = 900;
    assert_int_equal(emofs_sim_run(&o, &r, NULL, NULL), 0);
    assert_int_equal(r.died, 500);
    assert_int_equal(r.healthy.lookups_ok, 500);
    assert_int_equal(r.healthy.values_got, 50);
    for (int i = 0; i < 2; i++) {
        const emofs_sim_round_t *a = &r.after_died[i];
        print_message("after the deaths, round %d: hops %.2f p95 %u (healthy %.2f p95 %u), "
                      "latency p50 %llu ms (healthy %llu ms)\n",
                      i + 1, a->hops_mean, (unsigned)a->hops_p95, r.healthy.hops_mean,
                      (unsigned)r.healthy.hops_p95, (unsigned long long)a->latency_p50_ms,
                      (unsigned long long)r.healthy.latency_p50_ms);
        print_message("  get p50 %llu ms (healthy %llu), put p50 %llu ms (healthy %llu)\n",
                      (unsigned long long)a->get_p50_ms, (unsigned long long)r.healthy.get_p50_ms,
                      (unsigned long long)a->put_p50_ms, (unsigned long long)r.healthy.put_p50_ms);
        assert_int_equal(a->lookups_ok, 500);
        assert_int_equal(a->values_got, 50);
        /* The first round meets the dead; by the second, the survivors
         * have noticed them. */
        assert_true(a->hops_mean <= r.healthy.hops_mean + (i == 0 ? 0.2 : 0.0));
        if (i == 1)
            assert_true(a->lookups_exact >= 475);
        assert_true(a->hops_p95 <= r.healthy.hops_p95);
        assert_true(a->latency_p50_ms < 2 * r.healthy.latency_p50_ms);
        assert_int_equal(a->puts_ok, a->puts);
        assert_int_equal(a->puts, 50);
        assert_true(a->get_p50_ms > 0 && a->get_p50_ms < 2 * r.healthy.get_p50_ms);
        assert_true(a->put_p50_ms > 0 && a->put_p50_ms < 2 * r.healthy.put_p50_ms);
    }
    emofs_sim_result_free(&r);
}

static emofs_sim_out_t out; /* of the last parse */

static int parse(const char *line, emofs_sim_opts_t *o)
{
    char buf[256], *argv[32];
    int argc = 0;
    FILE *devnull = fopen("/dev/null", "w");
    int rc;

    snprintf(buf, sizeof(buf), "%s", line);
    for (char *t = strtok(buf, " "); t != NULL && argc < 31; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    emofs_sim_opts_init(o);
    rc = emofs_sim_parse(argc, argv, o, &out, devnull);
    fclose(devnull);
    return rc;
}

static void test_command_line(void **state)
{
    emofs_sim_opts_t o;
    char *bad[] = {"sim", "--nodes", "1", NULL};

    (void)state;
    assert_int_equal(parse("sim --nodes 5000 --k=16 --alpha 4 --loss 0.05 --delay 20-80 "
                           "--init join --seed 9 --lookups 10 --values 3 --churn 0.1 "
                           "--duration 60 --republish 30",
                           &o),
                     0);
    assert_int_equal(o.nodes, 5000);
    assert_int_equal(o.k, 16);
    assert_int_equal(o.alpha, 4);
    assert_true(o.loss > 0.049 && o.loss < 0.051);
    assert_int_equal(o.delay_min_ms, 20);
    assert_int_equal(o.delay_max_ms, 80);
    assert_int_equal(o.init, EMOFS_SIM_INIT_JOIN);
    assert_int_equal(o.seed, 9);
    assert_int_equal(o.duration_s, 60);
    assert_int_equal(o.republish_s, 30);
    assert_int_equal(parse("sim --b 8 --steps-to-stop=3", &o), 0);
    assert_int_equal(o.b, 8);
    assert_int_equal(o.steps_to_stop, 3);
    assert_int_equal(parse("sim --regions 5 --region-delay=40 --proximity off", &o), 0);
    assert_int_equal(o.regions, 5);
    assert_int_equal(o.region_delay_ms, 40);
    assert_int_equal(o.proximity, 0);
    assert_int_equal(out.compare_proximity, 0);
    assert_int_equal(parse("sim --proximity both", &o), 0);
    assert_int_equal(o.proximity, 1); /* the run printed in full is with it */
    assert_int_equal(out.compare_proximity, 1);
    assert_int_equal(parse("sim --proximity on", &o), 0);
    assert_int_equal(o.proximity, 1);
    assert_int_equal(out.compare_proximity, 0);
    assert_int_equal(parse("sim --proximity maybe", &o), -1);
    assert_int_equal(parse("sim --regions 65", &o), -1);
    assert_int_equal(parse("sim --b 33", &o), -1);
    assert_int_equal(parse("sim --steps-to-stop 1001", &o), -1);
    assert_int_equal(parse("sim --nodes", &o), -1);
    assert_int_equal(parse("sim --nodes 10x", &o), -1);
    assert_int_equal(parse("sim --nodes -5", &o), -1);
    assert_int_equal(parse("sim --k 33", &o), -1);
    assert_int_equal(parse("sim --loss 1.5", &o), -1);
    assert_int_equal(parse("sim --delay 50-5", &o), -1);
    assert_int_equal(parse("sim --init slow", &o), -1);
    assert_int_equal(parse("sim --churn 0.1", &o), -1); /* without --duration */
    assert_int_equal(parse("sim --frobnicate", &o), -1);
    /* The command: one line on stderr, exit code 2 (stderr muted here). */
    {
        int saved = dup(2);
        FILE *null = freopen("/dev/null", "w", stderr);
        int rc = emofs_sim_main(3, bad);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        (void)null;
        assert_int_equal(rc, 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_csv),
        cmocka_unit_test(test_lossless_finds_true_k_closest),
        cmocka_unit_test(test_lossy_lookups_mostly_exact),
        cmocka_unit_test(test_py_dht_parameters),
        cmocka_unit_test(test_proximity_gets_near_holders),
        cmocka_unit_test(test_values_survive_loss),
        cmocka_unit_test(test_hops_grow_with_log_n),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_churn_and_republish),
        cmocka_unit_test(test_churn_with_replication),
        cmocka_unit_test(test_quarter_dies_at_once),
        cmocka_unit_test(test_command_line),
    };

    alarm(600);
    return cmocka_run_group_tests_name("emofs_sim", tests, NULL, NULL);
}
