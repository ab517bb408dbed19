/*
 * The order of a replica's writes and deletes on disk (filestore/
 * replicas.c), with an executor that runs queued work only when the test
 * says, in the order it says: libuv's pool may run two jobs in either
 * order. A value dropped and then stored again must be on disk once the
 * second write has ended, whatever ran first: a delete left to a worker
 * could unlink the bytes the node had just said it holds.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dht.h"
#include "filestore/replicas.h"

#define MAX_JOBS 16

/* An executor that keeps what it is given until run_job. */
typedef struct held_exec {
    fs_exec_t exec;
    fs_job_t *jobs[MAX_JOBS];
    size_t n;
} held_exec_t;

static int held_submit(void *self, fs_job_t *job)
{
    held_exec_t *ex = self;

    if (ex->n == MAX_JOBS)
        return -1;
    ex->jobs[ex->n++] = job;
    return 0;
}

static uint64_t held_now(void *self)
{
    (void)self;
    return 0;
}

static const fs_exec_ops_t held_ops = {held_submit, held_now};

/* Runs the i-th job waiting (its work, then its done) and forgets it. */
static void run_job(held_exec_t *ex, size_t i)
{
    fs_job_t *job;

    assert_true(i < ex->n);
    job = ex->jobs[i];
    memmove(&ex->jobs[i], &ex->jobs[i + 1], (ex->n - i - 1) * sizeof(ex->jobs[0]));
    ex->n--;
    if (job->work != NULL)
        job->work(job);
    job->done(job);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

typedef struct fixture {
    char dir[64];
    held_exec_t ex;
    dht_sim_t *sim;
    dht_t *dht;
    fs_replicas_t r;
    dht_config_t cfg;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    dht_sim_config_t sc;
    int i;

    assert_non_null(f);
    strcpy(f->dir, "/tmp/emofs-test-replicas-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->ex.exec.ops = &held_ops;
    f->ex.exec.self = &f->ex;
    dht_sim_config_init(&sc);
    assert_int_equal(dht_sim_new(&f->sim, &sc), 0);
    dht_config_init(&f->cfg);
    assert_int_equal(fs_replicas_open(&f->r, f->dir, &f->cfg), 0);
    i = dht_sim_add_node_with(f->sim, &f->cfg);
    assert_true(i >= 0);
    f->dht = dht_sim_node(f->sim, (size_t)i);
    assert_int_equal(fs_replicas_attach(&f->r, f->dht, &f->ex.exec, NULL, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    fs_replicas_detach(&f->r);
    while (f->ex.n > 0)
        run_job(&f->ex, 0);
    fs_replicas_close(&f->r);
    dht_sim_free(f->sim);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A content-addressed value of len bytes, and its description. */
static void make_value(uint8_t *data, size_t len, dht_held_t *v)
{
    unsigned int md_len = 0;

    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    memset(v, 0, sizeof(*v));
    assert_int_equal(EVP_Digest(data, len, v->hash.b, &md_len, EVP_sha256(), NULL), 1);
    v->key = v->hash;
    v->len = (uint32_t)len;
    v->content = 1;
    v->ttl_left_s = 3600;
}

/* Writes value v (data, len bytes) through the storage as request 1,
 * runs the write, and has the node hold it. */
static void hold(fixture_t *f, uint8_t *data, size_t len, dht_held_t *v)
{
    make_value(data, len, v);
    assert_int_equal(f->cfg.storage.write(f->cfg.storage.arg, v, data, 1), 0);
    assert_int_equal(f->ex.n, 1);
    run_job(&f->ex, 0);
    assert_true(fs_store_has(f->r.store, v->hash.b, NULL));
    assert_int_equal(dht_held_add(f->dht, v), 0);
}

/* Dropped, then stored again, with the second write run before anything
 * else still queued: the bytes are on disk at the end. */
static void test_drop_then_store_again_keeps_bytes(void **state)
{
    fixture_t *f = *state;
    uint8_t data[5000];
    dht_held_t v;

    hold(f, data, sizeof(data), &v);
    /* The node lets it go (damaged, evicted, expired: the same drop). */
    assert_int_equal(dht_held_remove(f->dht, &v.key, &v.hash), 0);
    /* A peer stores it again at once; its write runs first. */
    assert_int_equal(f->cfg.storage.write(f->cfg.storage.arg, &v, data, 2), 0);
    run_job(&f->ex, f->ex.n - 1);
    while (f->ex.n > 0)
        run_job(&f->ex, 0);
    assert_true(fs_store_has(f->r.store, v.hash.b, NULL));
}

/* A drop's bytes are gone when drop returns: a quota counts the disk. */
static void test_drop_removes_at_once(void **state)
{
    fixture_t *f = *state;
    uint8_t data[3000];
    dht_held_t v;

    hold(f, data, sizeof(data), &v);
    assert_int_equal(dht_held_remove(f->dht, &v.key, &v.hash), 0);
    assert_false(fs_store_has(f->r.store, v.hash.b, NULL));
}

static int owner_cb(const dht_held_t *v, void *arg)
{
    *(dht_held_t *)arg = *v;
    return 1;
}

/* Writes v through the storage (request req) and runs the write. */
static void write_now(fixture_t *f, const dht_held_t *v, const uint8_t *data, uint64_t req)
{
    assert_int_equal(f->cfg.storage.write(f->cfg.storage.arg, v, data, req), 0);
    while (f->ex.n > 0)
        run_job(&f->ex, 0);
}

/* Stops the node and the replicas, and starts them again on the same
 * directory: what the logs kept is loaded. @return what the node holds. */
static dht_held_t restart(fixture_t *f)
{
    dht_held_t got;
    int i;

    fs_replicas_detach(&f->r);
    fs_replicas_close(&f->r);
    dht_config_init(&f->cfg);
    assert_int_equal(fs_replicas_open(&f->r, f->dir, &f->cfg), 0);
    i = dht_sim_add_node_with(f->sim, &f->cfg);
    assert_true(i >= 0);
    f->dht = dht_sim_node(f->sim, (size_t)i);
    assert_int_equal(fs_replicas_attach(&f->r, f->dht, &f->ex.exec, NULL, NULL), 0);
    memset(&got, 0, sizeof(got));
    assert_int_equal(dht_held_foreach(f->dht, owner_cb, &got), 1);
    return got;
}

/* A value's owner (who may delete it, wire.md 5.10) survives a restart;
 * a later write without one (a second publisher) takes it away, and so
 * it stays after the next restart. */
static void test_owner_survives_restart(void **state)
{
    fixture_t *f = *state;
    uint8_t data[2000];
    dht_held_t v, got;

    make_value(data, sizeof(data), &v);
    v.owned = 1;
    memset(v.owner.b, 0xab, sizeof(v.owner.b));
    write_now(f, &v, data, 1);
    got = restart(f);
    assert_memory_equal(got.hash.b, v.hash.b, DHT_ID_LEN);
    assert_int_equal(got.owned, 1);
    assert_memory_equal(got.owner.b, v.owner.b, DHT_ID_LEN);
    v.owned = 0;
    memset(v.owner.b, 0, sizeof(v.owner.b));
    write_now(f, &v, data, 2);
    got = restart(f);
    assert_int_equal(got.owned, 0);
    got = restart(f); /* the rewritten logs say the same */
    assert_int_equal(got.owned, 0);
}

/* Two owners of the same bytes since the last start (two publishers; the
 * node keeps it with none): after a restart, nobody's. */
static void test_two_owners_none_after_restart(void **state)
{
    fixture_t *f = *state;
    uint8_t data[1000];
    dht_held_t v, got;

    make_value(data, sizeof(data), &v);
    v.owned = 1;
    memset(v.owner.b, 0xaa, sizeof(v.owner.b));
    write_now(f, &v, data, 1);
    memset(v.owner.b, 0xbb, sizeof(v.owner.b));
    write_now(f, &v, data, 2);
    got = restart(f);
    assert_int_equal(got.owned, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drop_then_store_again_keeps_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_removes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_owners_none_after_restart, setup, teardown),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
