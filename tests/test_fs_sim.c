/*
 * The file engines on the simulator: fs_put and fs_get run on the
 * simulator's executor (filestore/exec_sim.h) among simulated nodes, each
 * with a chunk store of its own on disk that it serves to its peers. Runs
 * are deterministic: the same seed, the same events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h> /* alarm */

#include "filestore/exec_sim.h"
#include "filestore/filestore.h"
#include "filestore/get_files.h" /* fs_temp_name: to damage a .part */
#include "filestore/source.h"
#include "helpers/vectors.h" /* rnd_bytes */
#include "node.h"            /* a holder's value store, to damage a replica */

#define NODES     24
#define VALUE_MAX ((1u << 20) + 4096) /* a 1 MiB chunk and its codec header */

typedef struct net {
    dht_sim_t *sim;
    fs_exec_sim_t exec;
    fs_store_t *stores[NODES];
    fs_source_t sources[NODES]; /* each store, served to peers */
    fs_ctx_t ctx[NODES];
    char root[64];
} net_t;

/* What a put or a get reported. */
typedef struct result {
    int done;
    int status;
    uint8_t key[MF_KEY_LEN];
    char message[512];
    uint32_t chunks_done;   /* from progress */
    uint32_t max_in_flight; /* the most fetches progress saw under way */
    uint32_t cancel_at;     /* > 0: ask for a cancel once this many chunks are done */
    fs_put_t *put;          /* a put's, to ask fs_put_secret in done */
    int sealed;             /* a put sealed the file: secret opens its root */
    uint8_t secret[MF_KEY_LEN];
} result_t;

static void remove_tree(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static net_t *net_new(uint64_t seed, double loss)
{
    net_t *net = calloc(1, sizeof(*net));
    dht_sim_config_t cfg;

    assert_non_null(net);
    snprintf(net->root, sizeof(net->root), "/tmp/emofs-fs-sim.XXXXXX");
    assert_non_null(mkdtemp(net->root));
    dht_sim_config_init(&cfg);
    cfg.seed = seed;
    cfg.loss = loss;
    cfg.node.max_value_size = VALUE_MAX;
    cfg.node.k = 8; /* values live on 8 of the 24 nodes */
    assert_int_equal(dht_sim_new(&net->sim, &cfg), 0);
    fs_exec_sim_init(&net->exec, net->sim);
    for (int i = 0; i < NODES; i++) {
        char dir[128];
        dht_config_t node_cfg = cfg.node;
        snprintf(dir, sizeof(dir), "%s/node%d", net->root, i);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(fs_store_open(&net->stores[i], dir), 0);
        fs_source_init(&net->sources[i], net->stores[i], &node_cfg);
        assert_int_equal(dht_sim_add_node_with(net->sim, &node_cfg), i);
        fs_source_attach(&net->sources[i], dht_sim_node(net->sim, (size_t)i), &net->exec.exec);
        fs_ctx_init(&net->ctx[i]);
        net->ctx[i].exec = &net->exec.exec;
        net->ctx[i].dht = dht_sim_node(net->sim, (size_t)i);
        net->ctx[i].store = net->stores[i];
        net->ctx[i].need_peers = 1;
    }
    assert_int_equal(dht_sim_fill_tables(net->sim), 0);
    return net;
}

static void net_free(net_t *net)
{
    /* Run what is due now (the frees a put or get defers past its done). */
    dht_sim_run(net->sim, NULL, NULL, dht_sim_now(net->sim));
    dht_sim_free(net->sim);
    for (int i = 0; i < NODES; i++)
        fs_store_close(net->stores[i]);
    remove_tree(net->root);
    free(net);
}

static int is_done(void *arg)
{
    const result_t *r = arg;
    return r->done;
}

static int cancel_due(void *arg)
{
    const result_t *r = arg;
    return r->done || (r->cancel_at > 0 && r->chunks_done >= r->cancel_at);
}

/* Runs the simulator until r is done (or pred says so); fails the test
 * after an hour of virtual time. */
static void run_until(net_t *net, int (*pred)(void *arg), result_t *r)
{
    assert_int_equal(dht_sim_run(net->sim, pred, r, dht_sim_now(net->sim) + 3600 * 1000), 1);
}

static void on_progress(const fs_progress_t *p, void *arg)
{
    result_t *r = arg;
    r->chunks_done = p->chunks_done;
    if (p->in_flight > r->max_in_flight)
        r->max_in_flight = p->in_flight;
}

static void on_put(int status, const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m,
                   const char *message, void *arg)
{
    result_t *r = arg;

    (void)m;
    r->done = 1;
    r->status = status;
    if (key != NULL)
        memcpy(r->key, key, MF_KEY_LEN);
    if (status == 0 && r->put != NULL)
        r->sealed = fs_put_secret(r->put, r->secret);
    snprintf(r->message, sizeof(r->message), "%s", message);
}

static void on_get(int status, const char *path, uint64_t size, const char *message, void *arg)
{
    result_t *r = arg;

    (void)path;
    (void)size;
    r->done = 1;
    r->status = status;
    snprintf(r->message, sizeof(r->message), "%s", message);
}

/* Writes size random bytes (from seed) to net->root/name; returns them. */
static uint8_t *make_file(const net_t *net, const char *name, size_t size, uint64_t seed)
{
    char path[160];
    uint8_t *data = malloc(size);
    FILE *f;

    assert_non_null(data);
    rnd_bytes(&seed, data, size);
    snprintf(path, sizeof(path), "%s/%s", net->root, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    return data;
}

/* Puts net->root/name from node; returns its key in r. */
static void put_file(net_t *net, int node, const char *name, result_t *r)
{
    char path[160];
    fs_put_t *put;

    memset(r, 0, sizeof(*r));
    snprintf(path, sizeof(path), "%s/%s", net->root, name);
    assert_int_equal(fs_put_start(&put, &net->ctx[node], path, NULL, on_put, r), 0);
    r->put = put; /* done is never called inside fs_put_start */
    run_until(net, is_done, r);
    if (r->status != 0) {
        dht_stats_t st;
        dht_get_stats(net->ctx[node].dht, dht_sim_now(net->sim), &st);
        print_message("the putter's table: %zu nodes, %zu good, %zu bad; %llu timeouts\n", st.nodes,
                      st.nodes_good, st.nodes_bad, (unsigned long long)st.rpc_timeouts);
        fail_msg("put: %s", r->message);
    }
}

/* Starts a get of key (a sealed file's, opened with secret, when it is
 * not NULL) from node into net->root/out_name. */
static fs_get_t *start_get_sealed(net_t *net, int node, const uint8_t key[MF_KEY_LEN],
                                  const uint8_t *secret, const char *out_name, result_t *r)
{
    char path[160];
    fs_get_opts_t opts;
    fs_get_t *get;

    memset(&opts, 0, sizeof(opts));
    snprintf(path, sizeof(path), "%s/%s", net->root, out_name);
    opts.out_path = path;
    opts.progress = on_progress;
    opts.secret = secret;
    memset(r->message, 0, sizeof(r->message));
    r->done = 0;
    r->status = 0;
    r->max_in_flight = 0;
    assert_int_equal(fs_get_start(&get, &net->ctx[node], key, &opts, on_get, r), 0);
    return get;
}

static fs_get_t *start_get(net_t *net, int node, const uint8_t key[MF_KEY_LEN],
                           const char *out_name, result_t *r)
{
    return start_get_sealed(net, node, key, NULL, out_name, r);
}

static void get_file(net_t *net, int node, const uint8_t key[MF_KEY_LEN], const char *out_name,
                     result_t *r)
{
    start_get(net, node, key, out_name, r);
    run_until(net, is_done, r);
}

static void get_sealed(net_t *net, int node, const uint8_t key[MF_KEY_LEN], const uint8_t *secret,
                       const char *out_name, result_t *r)
{
    start_get_sealed(net, node, key, secret, out_name, r);
    run_until(net, is_done, r);
}

static int file_exists(const net_t *net, const char *name)
{
    char path[160];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", net->root, name);
    return stat(path, &st) == 0;
}

/* The file at net->root/name holds exactly data[0..size). */
static void assert_file_is(const net_t *net, const char *name, const uint8_t *data, size_t size)
{
    char path[160];
    uint8_t *got = malloc(size + 1);
    FILE *f;

    assert_non_null(got);
    snprintf(path, sizeof(path), "%s/%s", net->root, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(got, 1, size + 1, f), size);
    fclose(f);
    assert_memory_equal(got, data, size);
    free(got);
}

/* Damages every copy node i holds of key in its value store (replicas the
 * DHT put there; not the pinned blobs of its chunk store). @return how
 * many copies were damaged. */
/* Points vals[0..8) at the copies node i holds of key in its value store.
 * @return how many. */
static size_t replicas(net_t *net, int i, const uint8_t key[MF_KEY_LEN], dht__value_t *vals[8])
{
    dht_t *dht = dht_sim_node(net->sim, (size_t)i);
    dht_id_t id;

    memcpy(id.b, key, MF_KEY_LEN);
    return dht__store_get(dht->store, &id, dht_sim_now(net->sim), (const dht__value_t **)vals, 8);
}

static int damage_replicas(net_t *net, int i, const uint8_t key[MF_KEY_LEN])
{
    dht__value_t *vals[8];
    size_t n = replicas(net, i, key, vals);

    for (size_t j = 0; j < n; j++)
        vals[j]->data[vals[j]->len / 2] ^= 0x5a;
    return (int)n;
}

typedef struct manifest_wait {
    int done, status;
    uint8_t chunk[MF_KEY_LEN];
    size_t n;
} manifest_wait_t;

static void on_manifest(int status, const mf_manifest_t *m, const mf_blob_t *blobs, size_t n,
                        const char *message, void *arg)
{
    manifest_wait_t *w = arg;

    (void)blobs;
    (void)n;
    (void)message;
    w->done = 1;
    w->status = status;
    if (status == 0) {
        memcpy(w->chunk, m->entries[0].key, MF_KEY_LEN);
        w->n = m->n_entries;
    }
}

static int manifest_done(void *arg)
{
    return ((manifest_wait_t *)arg)->done;
}

/* Drops the copies node i holds of key in its value store (the replica a
 * publisher keeps of its own put included), as an expiry would. */
static void drop_replicas(net_t *net, int i, const uint8_t key[MF_KEY_LEN])
{
    dht__value_t *vals[8];
    size_t n = replicas(net, i, key, vals);

    for (size_t j = 0; j < n; j++)
        vals[j]->expires_at = 0;
    dht__store_expire(dht_sim_node(net->sim, (size_t)i)->store, dht_sim_now(net->sim));
    assert_int_equal(replicas(net, i, key, vals), 0);
}

/* Sorts nodes[0..n) by the distance of their ids to key, nearest first. */
static void sort_by_distance(net_t *net, const uint8_t key[MF_KEY_LEN], int *nodes, int n)
{
    dht_id_t target;

    memcpy(target.b, key, MF_KEY_LEN);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            const dht_id_t *a = dht_self(dht_sim_node(net->sim, (size_t)nodes[j - 1]));
            const dht_id_t *b = dht_self(dht_sim_node(net->sim, (size_t)nodes[j]));
            int t;
            if (dht_id_cmp_distance(&target, a, b) <= 0)
                break;
            t = nodes[j - 1];
            nodes[j - 1] = nodes[j];
            nodes[j] = t;
        }
}

/* The first chunk key of the file put under key, and how many chunks it
 * has (its manifest is in the publisher's store). */
static void first_chunk_key(net_t *net, int publisher, const uint8_t key[MF_KEY_LEN],
                            uint8_t chunk[MF_KEY_LEN], size_t *n_chunks)
{
    manifest_wait_t w = {0};

    assert_int_equal(fs_manifest_fetch(&net->ctx[publisher], key, on_manifest, &w), 0);
    assert_int_equal(dht_sim_run(net->sim, manifest_done, &w, dht_sim_now(net->sim) + 60000), 1);
    assert_int_equal(w.status, 0);
    memcpy(chunk, w.chunk, MF_KEY_LEN);
    *n_chunks = w.n;
}

/* ---- the tests ------------------------------------------------------------ */

/* A file put from one node is got, byte for byte, by another whose store
 * never held it. */
static void test_put_here_get_there(void **state)
{
    net_t *net = net_new(1, 0);
    size_t size = (3u << 20) + 12345;
    uint8_t *data = make_file(net, "in", size, 7);
    result_t put, get;
    dht_stats_t st;
    uint64_t streams, syncs, blobs, bytes;

    (void)state;
    syncs = fs_store_syncs(net->stores[0]);
    put_file(net, 0, "in", &put);
    /* Its many blobs were made durable together: a handful of syncs, not
     * one or two per blob (issue 12: 7,450 per GiB before). */
    assert_int_equal(fs_store_usage(net->stores[0], &blobs, &bytes), 0);
    syncs = fs_store_syncs(net->stores[0]) - syncs;
    print_message("put: %llu blobs, %llu syncs\n", (unsigned long long)blobs,
                  (unsigned long long)syncs);
    assert_true(blobs >= 8);
    assert_true(syncs <= 4);
    dht_get_stats(net->ctx[0].dht, dht_sim_now(net->sim), &st);
    assert_true(st.ops_in_flight == 0);
    dht_get_stats(net->ctx[7].dht, dht_sim_now(net->sim), &st);
    streams = st.stream_msgs_received;
    get_file(net, 7, put.key, "out", &get);
    if (get.status != 0)
        fail_msg("get: %s", get.message);
    assert_file_is(net, "out", data, size);
    /* Chunks came over the network (as streams: each is larger than a
     * datagram), not only from node 7's own replicas. */
    dht_get_stats(net->ctx[7].dht, dht_sim_now(net->sim), &st);
    assert_true(st.stream_msgs_received > streams);
    assert_true(net->exec.jobs > 0);
    free(data);
    net_free(net);
}

/* A chunk damaged on every holder but the one farthest from its key, its
 * publisher gone: each get meets damaged copies, drops them, and finishes
 * from the one good copy (more holders failed than libdht remembers at
 * once, 4: it makes room for later ones). Damaged on every holder: the get
 * fails with one clear message and nothing under the final name; once the
 * publisher is back, a second get resumes and finishes. */
static void test_chunk_damaged_on_holders(void **state)
{
    net_t *net = net_new(2, 0);
    size_t size = 2u << 20, n_chunks = 0;
    uint8_t *data = make_file(net, "in", size, 9);
    uint8_t chunk[MF_KEY_LEN];
    result_t put, get;
    int holders[NODES], n_holders = 0, getter = 0;
    uint64_t dropped = 0;
    dht_stats_t st;

    (void)state;
    put_file(net, 0, "in", &put);
    first_chunk_key(net, 0, put.key, chunk, &n_chunks);
    assert_true(n_chunks >= 4);
    for (int i = 1; i < NODES; i++) {
        dht__value_t *v[8];
        if (replicas(net, i, chunk, v) > 0)
            holders[n_holders++] = i;
    }
    assert_true(n_holders >= 5);
    assert_int_equal(dht_sim_set_online(net->sim, 0, 0), 0); /* the publisher */

    /* Every holder but the farthest from the key: damaged. Every node
     * that holds no copy gets the file, meeting damaged copies first. */
    sort_by_distance(net, chunk, holders, n_holders);
    for (int j = 0; j + 1 < n_holders; j++)
        assert_int_equal(damage_replicas(net, holders[j], chunk), 1);
    for (int i = 1; i < NODES; i++) {
        char name[32];
        int holds = 0;
        for (int j = 0; j < n_holders; j++)
            holds |= holders[j] == i;
        if (holds)
            continue;
        if (getter == 0)
            getter = i;
        snprintf(name, sizeof(name), "out1-%d", i);
        get_file(net, i, put.key, name, &get);
        if (get.status != 0)
            fail_msg("get on node %d with one good holder: %s", i, get.message);
        assert_file_is(net, name, data, size);
        dht_get_stats(net->ctx[i].dht, dht_sim_now(net->sim), &st);
        dropped += st.dropped_bad_value;
    }
    assert_true(dropped > 0); /* damaged copies were met, and dropped */

    /* Every holder damaged: the chunk is gone from the network. */
    assert_int_equal(damage_replicas(net, holders[n_holders - 1], chunk), 1);
    get_file(net, getter, put.key, "out2", &get);
    assert_int_not_equal(get.status, 0);
    assert_non_null(strstr(get.message, "chunk 0"));
    assert_null(strchr(get.message, '\n'));
    assert_false(file_exists(net, "out2"));

    /* The publisher returns, without the replica it kept in its value
     * store: it serves the chunk from its chunk store (read on a worker),
     * and the next get resumes what the first wrote. */
    drop_replicas(net, 0, chunk);
    assert_int_equal(dht_sim_set_online(net->sim, 0, 1), 0);
    get_file(net, getter, put.key, "out2", &get);
    if (get.status != 0)
        fail_msg("get after the publisher came back: %s", get.message);
    assert_file_is(net, "out2", data, size);
    assert_non_null(strstr(get.message, "resumed"));
    assert_true(net->sources[0].served >= 1); /* chunk 0: read on a worker */
    free(data);
    net_free(net);
}

/* Small chunks put from node 0, got by node 5 two at a time: a get then
 * takes many round trips, and can be stopped part way. */
static void small_chunks(net_t *net)
{
    net->ctx[0].chunking.min = 16u << 10;
    net->ctx[0].chunking.avg = 64u << 10;
    net->ctx[0].chunking.max = 256u << 10;
    net->ctx[5].max_in_flight = 2;
}

/* Starts node 5's get of key into "out", cancels it once `chunks` chunks
 * are written, and waits for its end: canceled, the .part and journal
 * left for a resume. */
static void get_canceled_at(net_t *net, const uint8_t key[MF_KEY_LEN], uint32_t chunks,
                            result_t *get)
{
    fs_get_t *g;

    memset(get, 0, sizeof(*get));
    get->cancel_at = chunks;
    g = start_get(net, 5, key, "out", get);
    run_until(net, cancel_due, get);
    if (get->done)
        fail_msg("the get ended before its cancel (%u chunks): %s", get->chunks_done, get->message);
    fs_get_cancel(g);
    run_until(net, is_done, get);
    assert_int_equal(get->status, FS_ECANCELED);
    get->cancel_at = 0;
}

/* A get canceled halfway leaves nothing under the final name; the next get
 * fetches only what is missing. */
static void test_get_interrupted_and_resumed(void **state)
{
    net_t *net = net_new(3, 0);
    size_t size = 4u << 20;
    uint8_t *data = make_file(net, "in", size, 11);
    result_t put, get;
    unsigned resumed = 0, total = 0;
    dht_stats_t before, after;

    (void)state;
    small_chunks(net);
    put_file(net, 0, "in", &put);
    get_canceled_at(net, put.key, 20, &get);
    assert_false(file_exists(net, "out"));

    dht_get_stats(net->ctx[5].dht, dht_sim_now(net->sim), &before);
    get_file(net, 5, put.key, "out", &get);
    if (get.status != 0)
        fail_msg("resumed get: %s", get.message);
    assert_file_is(net, "out", data, size);
    dht_get_stats(net->ctx[5].dht, dht_sim_now(net->sim), &after);
    assert_int_equal(sscanf(get.message, "resumed: %u of %u", &resumed, &total), 2);
    assert_true(resumed >= 20);
    assert_true(resumed < total);
    /* One lookup per chunk still missing, at most a few more for the
     * manifest and retries: not one per chunk of the file. */
    assert_true(after.lookups_done - before.lookups_done < total - resumed + 8);
    free(data);
    net_free(net);
}

/* A get interrupted, then its .part damaged where the journal says a chunk
 * was written (a disk that lost a write, a user's mistake): the get that
 * resumes checks the whole file, the chunks the first one wrote included,
 * so it fails ("does not match its manifest"), leaves nothing under the
 * final name and removes the .part and journal; the next get starts afresh
 * and finishes. The check runs on the file's prefix while chunks arrive
 * (get_hash.c): this proves the resumed chunks are in it; and the last
 * get shows it leaves little to hash once the last chunk is in (before,
 * the whole file was read again then). */
static void test_resume_over_damaged_part(void **state)
{
    net_t *net = net_new(3, 0);
    size_t size = 2u << 20;
    uint8_t *data = make_file(net, "in", size, 13);
    char name[FS_TEMP_NAME_MAX], part[200], journal[200];
    result_t put, get;
    uint8_t byte;
    uint64_t tail;
    FILE *f;

    (void)state;
    small_chunks(net);
    put_file(net, 0, "in", &put);
    get_canceled_at(net, put.key, 8, &get);

    /* Chunk 0 is written (fetched first, 2 at a time): flip its first byte. */
    fs_temp_name(name, put.key, "part");
    snprintf(part, sizeof(part), "%s/%s", net->root, name);
    fs_temp_name(name, put.key, "journal");
    snprintf(journal, sizeof(journal), "%s/%s", net->root, name);
    f = fopen(part, "r+b");
    assert_non_null(f);
    assert_int_equal(fread(&byte, 1, 1, f), 1);
    assert_int_equal(byte, data[0]);
    byte ^= 0xff;
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(&byte, 1, 1, f), 1);
    assert_int_equal(fclose(f), 0);

    get_file(net, 5, put.key, "out", &get);
    print_message("resumed over a damaged .part: %s\n", get.message);
    assert_int_equal(get.status, FS_EBADHASH);
    assert_non_null(strstr(get.message, "does not match its manifest"));
    assert_false(file_exists(net, "out"));
    assert_int_equal(access(part, F_OK), -1);
    assert_int_equal(access(journal, F_OK), -1);

    tail = fs_get_tail_hashed();
    get_file(net, 5, put.key, "out", &get);
    if (get.status != 0)
        fail_msg("get after the failed one: %s", get.message);
    assert_file_is(net, "out", data, size);
    /* Two chunks in flight: once the last is in, what is left to hash is
     * the chunks written while the prefix's last job ran, a few at most. */
    tail = fs_get_tail_hashed() - tail;
    print_message("a fresh get: %llu of %zu bytes hashed after the last chunk\n",
                  (unsigned long long)tail, size);
    assert_true(tail <= 4 * net->ctx[0].chunking.max);
    free(data);
    net_free(net);
}

/* What a put does per byte of a file that does not compress: it hashes
 * each byte twice (the whole-file SHA-256, then the chunk's key over its
 * encoding) and copies it once (into the raw encoding). Its chunks are
 * views into the window it read, not copies (they were, at f353b1c). */
static void test_put_work_per_byte(void **state)
{
    net_t *net = net_new(9, 0.0);
    size_t size = 3u << 20;
    uint8_t *data = make_file(net, "in", size, 21);
    uint64_t hashed = fs_put_hashed_bytes(), copied = fs_put_copied_bytes();
    uint64_t windows, allocated = fs_put_allocated_bytes(&windows), windows_after;
    const uint64_t window = (8u << 20) + (1u << 20); /* PUT_WINDOW and the largest chunk */
    result_t put;

    (void)state;
    put_file(net, 2, "in", &put);
    hashed = fs_put_hashed_bytes() - hashed;
    copied = fs_put_copied_bytes() - copied;
    allocated = fs_put_allocated_bytes(&windows_after) - allocated;
    windows = windows_after - windows;
    print_message("it allocated %llu bytes for its chunks and %llu for read windows\n",
                  (unsigned long long)allocated, (unsigned long long)windows);
    /* One encoding buffer per chunk (its bound: a few bytes over), and a
     * window or three: not one per window's worth of input. */
    assert_true(allocated >= size);
    assert_true(allocated <= size + size / 100);
    assert_true(windows >= window && windows <= 3 * window);
    print_message("a put of %zu bytes hashed %llu and copied %llu\n", size,
                  (unsigned long long)hashed, (unsigned long long)copied);
    assert_true(hashed >= 2 * (uint64_t)size);              /* both hashes ran */
    assert_true(hashed <= 2 * (uint64_t)size + size / 100); /* a header byte per chunk */
    assert_true(copied >= size); /* stored raw: each chunk copied into its encoding */
    assert_true(copied <= size + size / 100);
    free(data);
    net_free(net);
}

/* 64 fetches in flight while a tenth of the datagrams are lost: the put
 * and the get both finish, byte for byte. */
static void test_64_in_flight_at_10_percent_loss(void **state)
{
    net_t *net = net_new(4, 0.10);
    size_t size = 3u << 20;
    uint8_t *data = make_file(net, "in", size, 13);
    result_t put, get;

    (void)state;
    for (int i = 0; i < NODES; i++) {
        net->ctx[i].chunking.min = 8u << 10;
        net->ctx[i].chunking.avg = 16u << 10;
        net->ctx[i].chunking.max = 64u << 10;
        net->ctx[i].max_in_flight = 64;
    }
    put_file(net, 3, "in", &put);
    get_file(net, 12, put.key, "out", &get);
    if (get.status != 0)
        fail_msg("get at 10%% loss: %s", get.message);
    assert_file_is(net, "out", data, size);
    print_message("most fetches under way at once: %u\n", get.max_in_flight);
    assert_true(get.max_in_flight > 32);
    free(data);
    net_free(net);
}

static void on_tree(int status, const uint8_t key[MF_KEY_LEN], const mf_dir_t *d,
                    const char *message, void *arg)
{
    (void)d;
    on_put(status, key, NULL, message, arg);
}

/* A put, a tree put and a get canceled before they start: each reports
 * FS_ECANCELED once, and the executor goes on running later work (the
 * free of a canceled object used to be queued on the start's job itself). */
static void test_cancel_before_start(void **state)
{
    net_t *net = net_new(5, 0);
    uint8_t *data = make_file(net, "in", 300000, 17);
    char path[160], tree[160];
    result_t put, tput, get, again;
    fs_put_t *p;
    fs_put_tree_t *t;
    fs_get_t *g;
    fs_get_opts_t opts;

    (void)state;
    snprintf(path, sizeof(path), "%s/in", net->root);
    snprintf(tree, sizeof(tree), "%s/node0", net->root); /* any directory */
    memset(&put, 0, sizeof(put));
    memset(&tput, 0, sizeof(tput));
    memset(&get, 0, sizeof(get));
    memset(&opts, 0, sizeof(opts));
    opts.dir = net->root;
    assert_int_equal(fs_put_start(&p, &net->ctx[0], path, NULL, on_put, &put), 0);
    assert_int_equal(fs_put_tree_start(&t, &net->ctx[0], tree, NULL, on_tree, &tput), 0);
    assert_int_equal(fs_get_start(&g, &net->ctx[1], put.key, &opts, on_get, &get), 0);
    fs_put_cancel(p);
    fs_put_tree_cancel(t);
    fs_get_cancel(g);
    /* Work queued after the cancels still runs: a whole put. */
    put_file(net, 2, "in", &again);
    assert_int_equal(put.status, FS_ECANCELED);
    assert_int_equal(tput.status, FS_ECANCELED);
    assert_int_equal(get.status, FS_ECANCELED);
    assert_true(put.done && tput.done && get.done);
    free(data);
    net_free(net);
}

/* A tree of 301 small directories (most of them empty) on a network
 * that answers slowly, so that the walk outruns the DHT: their manifest
 * nodes go in the DHT in batches of 64 (dht_put_many), one in flight at
 * a time, the walk waiting while a full one waits too, small ones several
 * to a datagram; another node gets
 * the whole tree back, byte for byte. */
static void test_tree_manifests_in_batches(void **state)
{
    net_t *net = net_new(23, 0);
    char path[200], out[200], cmd[512];
    result_t tput, get;
    fs_put_tree_t *t;
    fs_get_t *g;
    fs_get_opts_t opts;
    dht_stats_t before, after;

    (void)state;
    snprintf(path, sizeof(path), "%s/tree", net->root);
    assert_int_equal(mkdir(path, 0700), 0);
    for (int i = 0; i < 150; i++) {
        char name[240];
        FILE *f;
        snprintf(name, sizeof(name), "%s/tree/d%03d", net->root, i);
        assert_int_equal(mkdir(name, 0700), 0);
        snprintf(name, sizeof(name), "%s/tree/d%03d/e", net->root, i);
        assert_int_equal(mkdir(name, 0700), 0);
        if (i % 50 != 0)
            continue;
        snprintf(name, sizeof(name), "%s/tree/d%03d/f", net->root, i);
        f = fopen(name, "wb");
        assert_non_null(f);
        fprintf(f, "file %d of the tree\n", i);
        assert_int_equal(fclose(f), 0);
    }
    /* Slow answers: the walk outruns the DHT. */
    for (size_t i = 1; i < NODES; i++)
        assert_int_equal(dht_sim_set_extra_delay(net->sim, i, 300), 0);
    memset(&tput, 0, sizeof(tput));
    dht_get_stats(net->ctx[0].dht, dht_sim_now(net->sim), &before);
    assert_int_equal(fs_put_tree_start(&t, &net->ctx[0], path, NULL, on_tree, &tput), 0);
    run_until(net, is_done, &tput);
    assert_int_equal(tput.status, 0);
    dht_get_stats(net->ctx[0].dht, dht_sim_now(net->sim), &after);
    print_message("a tree of 301 directories: %llu STORE_MANYs carried %llu values\n",
                  (unsigned long long)(after.store_batches_sent - before.store_batches_sent),
                  (unsigned long long)(after.batched_values_sent - before.batched_values_sent));
    assert_true(after.store_batches_sent > before.store_batches_sent);

    snprintf(out, sizeof(out), "%s/got", net->root);
    memset(&opts, 0, sizeof(opts));
    opts.out_path = out;
    memset(&get, 0, sizeof(get));
    assert_int_equal(fs_get_start(&g, &net->ctx[5], tput.key, &opts, on_get, &get), 0);
    run_until(net, is_done, &get);
    if (get.status != 0)
        print_message("get: %s\n", get.message);
    assert_int_equal(get.status, 0);
    snprintf(cmd, sizeof(cmd), "diff -r '%s' '%s'", path, out);
    assert_int_equal(system(cmd), 0);
    net_free(net);
}

/* ---- sealed files (issue 13, item 7) -------------------------------------- */

#define MARKER      "EMOFS-PLAINTEXT-MARKER"
#define SECRET_NAME "plans-for-world-domination.txt"

/* Every blob key of a file: its manifest's nodes and its chunks. */
typedef struct file_keys {
    int done, status;
    uint8_t (*keys)[MF_KEY_LEN];
    size_t n;
    int sealed;
} file_keys_t;

static void on_file_manifest(int status, const mf_manifest_t *m, const mf_dir_t *d,
                             const mf_blob_t *blobs, size_t n, const char *message, void *arg)
{
    file_keys_t *w = arg;

    (void)d;
    (void)message;
    w->done = 1;
    w->status = status;
    if (status != 0)
        return;
    w->sealed = m->secrets != NULL;
    w->keys = malloc((n + m->n_entries) * MF_KEY_LEN);
    assert_non_null(w->keys);
    for (size_t i = 0; i < n; i++)
        memcpy(w->keys[w->n++], blobs[i].key, MF_KEY_LEN);
    for (size_t i = 0; i < m->n_entries; i++)
        memcpy(w->keys[w->n++], m->entries[i].key, MF_KEY_LEN);
}

static int file_keys_done(void *arg)
{
    return ((file_keys_t *)arg)->done;
}

/* The blob keys of the file put under key (a sealed one's when secret is
 * not NULL), fetched by node. */
static void file_keys(net_t *net, int node, const uint8_t key[MF_KEY_LEN], const uint8_t *secret,
                      file_keys_t *w)
{
    memset(w, 0, sizeof(*w));
    if (secret != NULL)
        assert_int_equal(
            fs_manifest_fetch_sealed(&net->ctx[node], key, secret, on_file_manifest, w), 0);
    else
        assert_int_equal(
            fs_manifest_fetch_kind(&net->ctx[node], key, MF_KIND_FILE, on_file_manifest, w), 0);
    assert_int_equal(dht_sim_run(net->sim, file_keys_done, w, dht_sim_now(net->sim) + 60000), 1);
    assert_int_equal(w->status, 0);
    assert_int_equal(w->sealed, secret != NULL);
}

/* 1 if the string needle occurs in hay[0..n). */
static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t len = strlen(needle);

    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(hay + i, needle, len) == 0)
            return 1;
    return 0;
}

/* How many nodes hold needle in the clear: in a copy of one of w's keys
 * in their value store, or anywhere in their chunk store on disk. */
static int nodes_holding(net_t *net, const file_keys_t *w, const char *needle)
{
    int holders = 0;

    for (int i = 0; i < NODES; i++) {
        char cmd[256];
        int found;
        snprintf(cmd, sizeof(cmd), "grep -rqa -- '%s' '%s/node%d'", needle, net->root, i);
        found = system(cmd) == 0;
        for (size_t k = 0; k < w->n && !found; k++) {
            dht__value_t *vals[8];
            size_t nv = replicas(net, i, w->keys[k], vals);
            for (size_t v = 0; v < nv && !found; v++)
                found = contains(vals[v]->data, vals[v]->len, needle);
        }
        holders += found;
    }
    return holders;
}

/* A sealed put: no node of the network, the publisher included, holds a
 * byte of the file or its name in the clear (the same file put plain
 * afterwards is found on many), and the capability alone gets it back,
 * byte for byte, on another node. The key without its secret, or with a
 * wrong one, fails cleanly and leaves nothing under the final name. */
static void test_sealed_put_get(void **state)
{
    net_t *net = net_new(9, 0);
    size_t size = (2u << 20) + 777;
    uint8_t *data = make_file(net, SECRET_NAME, size, 21);
    uint8_t secret[MF_KEY_LEN], wrong[MF_KEY_LEN];
    file_keys_t keys;
    result_t put, get;
    char path[160];
    FILE *f;

    (void)state;
    /* The marker every 4 KiB, in bytes that do not compress: a plain
     * chunk holds it as it is. */
    for (size_t at = 0; at + sizeof(MARKER) < size; at += 4096)
        memcpy(data + at, MARKER, sizeof(MARKER) - 1);
    snprintf(path, sizeof(path), "%s/%s", net->root, SECRET_NAME);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);

    net->ctx[0].seal = 1;
    put_file(net, 0, SECRET_NAME, &put);
    assert_true(put.sealed);
    memcpy(secret, put.secret, MF_KEY_LEN);

    file_keys(net, 5, put.key, secret, &keys);
    assert_true(keys.n > 3);
    assert_int_equal(nodes_holding(net, &keys, MARKER), 0);
    assert_int_equal(nodes_holding(net, &keys, SECRET_NAME), 0);

    /* The capability gets it on node 7. */
    get_sealed(net, 7, put.key, secret, "out", &get);
    if (get.status != 0)
        fail_msg("get: %s", get.message);
    assert_file_is(net, "out", data, size);

    /* A wrong secret, or none: refused, nothing written. */
    memcpy(wrong, secret, MF_KEY_LEN);
    wrong[31] ^= 0x80;
    get_sealed(net, 8, put.key, wrong, "out2", &get);
    assert_int_equal(get.status, FS_ECORRUPT);
    assert_non_null(strstr(get.message, "decrypt"));
    get_sealed(net, 8, put.key, NULL, "out2", &get);
    assert_int_equal(get.status, FS_ECORRUPT);
    assert_false(file_exists(net, "out2"));

    /* The same file put plain: the check finds it on many nodes. */
    free(keys.keys);
    put_file(net, 1, SECRET_NAME, &put);
    assert_false(put.sealed);
    file_keys(net, 5, put.key, NULL, &keys);
    assert_true(nodes_holding(net, &keys, MARKER) >= 8);
    assert_true(nodes_holding(net, &keys, SECRET_NAME) >= 8);
    free(keys.keys);
    free(data);
    net_free(net);
}

static void on_provided(int status, unsigned stored, void *arg)
{
    *(int *)arg = status == 0 ? (int)stored : status;
}

static int provided_done(void *arg)
{
    return *(int *)arg != 0;
}

/* Gets key from node into net->root/name, keeping its blobs in the
 * node's store (fs_get_opts_t.keep, emofs get --seed); r says how. */
static void get_keeping(net_t *net, int node, const uint8_t key[MF_KEY_LEN], const char *name,
                        result_t *r)
{
    char path[160];
    fs_get_opts_t opts;
    fs_get_t *g;

    memset(&opts, 0, sizeof(opts));
    snprintf(path, sizeof(path), "%s/%s", net->root, name);
    opts.out_path = path;
    opts.keep = 1;
    memset(r, 0, sizeof(*r));
    assert_int_equal(fs_get_start(&g, &net->ctx[node], key, &opts, on_get, r), 0);
    run_until(net, is_done, r);
}

/* @return the rank (0: closest) of node n's id among all nodes' ids by
 * distance to key. */
static int rank_of(net_t *net, int n, const dht_id_t *key)
{
    int rank = 0;

    for (int i = 0; i < NODES; i++)
        if (i != n &&
            dht_id_cmp_distance(key, dht_self(net->ctx[i].dht), dht_self(net->ctx[n].dht)) < 0)
            rank++;
    return rank;
}

/* A file whose chunk holders are gone is got from a node that announced
 * it serves the file (dht_provide): one far from every chunk's key, so
 * that no lookup of a chunk asks it. The get fails before the
 * announcement and succeeds after it, byte for byte. */
static void test_get_from_provider(void **state)
{
    net_t *net = net_new(29, 0);
    uint8_t *data = make_file(net, "in", 700000, 31);
    dht_node_info_t closest[2], near_file[8];
    int keep[NODES] = {0}, provided = 0, provider = -1, best = -1;
    result_t put, get;
    fs_ctx_t local;
    fs_put_t *p;
    file_keys_t w;
    dht_addr_t pa;
    dht_id_t id;

    (void)state;
    net->ctx[0].copies = 2; /* each chunk on 2 nodes */
    put_file(net, 0, "in", &put);
    file_keys(net, 0, put.key, NULL, &w);
    /* The provider: the node whose closest rank to any chunk is the worst. */
    for (int n = 1; n < NODES; n++) {
        int nearest = NODES;
        if (n == 5 || n == 6)
            continue;
        for (size_t i = 0; i < w.n; i++) {
            int r;
            memcpy(id.b, w.keys[i], MF_KEY_LEN);
            r = rank_of(net, n, &id);
            nearest = r < nearest ? r : nearest;
        }
        if (nearest > best) {
            best = nearest;
            provider = n;
        }
    }
    print_message("the provider is node %d: %d nodes or more are closer to each blob\n", provider,
                  best);
    assert_true(best >= 9);
    /* It has the file in its store (a put of its own, without the DHT). */
    local = net->ctx[provider];
    local.dht = NULL;
    local.need_peers = 0;
    memset(&get, 0, sizeof(get));
    {
        char path[160];
        snprintf(path, sizeof(path), "%s/in", net->root);
        assert_int_equal(fs_put_start(&p, &local, path, NULL, on_put, &get), 0);
        run_until(net, is_done, &get);
        assert_int_equal(get.status, 0);
        assert_memory_equal(get.key, put.key, MF_KEY_LEN);
    }
    /* Offline: the putter and every holder of a chunk, but the getters,
     * the provider and the nodes closest to the file's key (they hold
     * its manifest and the provider record). */
    keep[5] = keep[6] = keep[provider] = 1;
    memcpy(id.b, put.key, MF_KEY_LEN);
    assert_int_equal(dht_closest_nodes(net->ctx[5].dht, &id, near_file, 8), 8);
    assert_int_equal(dht_sim_set_online(net->sim, 0, 0), 0);
    for (size_t i = 0; i < w.n; i++) {
        memcpy(id.b, w.keys[i], MF_KEY_LEN);
        assert_int_equal(dht_closest_nodes(net->ctx[5].dht, &id, closest, 2), 2);
        for (int n = 1; n < NODES; n++) {
            dht_addr_t a;
            int holder = 0, guard = keep[n];
            assert_int_equal(dht_sim_node_addr(net->sim, (size_t)n, &a), 0);
            for (int j = 0; j < 2; j++)
                holder |= dht_addr_equal(&a, &closest[j].addr);
            for (int j = 0; j < 8; j++)
                guard |= dht_addr_equal(&a, &near_file[j].addr);
            if (holder && !guard)
                assert_int_equal(dht_sim_set_online(net->sim, (size_t)n, 0), 0);
        }
    }
    /* A get that keeps the blobs (--seed) and fails keeps none of them. */
    {
        uint64_t blobs_before = 0, blobs_after = 0, bytes = 0;
        assert_int_equal(fs_store_usage(net->stores[6], &blobs_before, &bytes), 0);
        get_keeping(net, 6, put.key, "before", &get);
        assert_int_not_equal(get.status, 0); /* some chunk is nowhere a lookup looks */
        dht_sim_run(net->sim, NULL, NULL, dht_sim_now(net->sim)); /* the deferred frees */
        assert_int_equal(fs_store_usage(net->stores[6], &blobs_after, &bytes), 0);
        assert_int_equal(blobs_after, blobs_before);
    }
    assert_int_equal(dht_sim_node_addr(net->sim, (size_t)provider, &pa), 0);
    memcpy(id.b, put.key, MF_KEY_LEN);
    assert_int_equal(
        dht_provide(net->ctx[provider].dht, &id, pa.port, 3600, on_provided, &provided), 0);
    assert_int_equal(dht_sim_run(net->sim, provided_done, &provided, dht_sim_now(net->sim) + 60000),
                     1);
    assert_true(provided > 0);
    /* Got from the provider, and kept (--seed): every blob in the store. */
    get_keeping(net, 5, put.key, "after", &get);
    if (get.status != 0)
        print_message("get: %s\n", get.message);
    assert_int_equal(get.status, 0);
    assert_file_is(net, "after", data, 700000);
    for (size_t i = 0; i < w.n; i++) {
        uint8_t *blob = NULL;
        size_t len = 0;
        assert_int_equal(fs_store_get(net->stores[5], w.keys[i], &blob, &len), 0);
        free(blob);
    }
    free(w.keys);
    free(data);
    net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_here_get_there),
        cmocka_unit_test(test_chunk_damaged_on_holders),
        cmocka_unit_test(test_get_interrupted_and_resumed),
        cmocka_unit_test(test_resume_over_damaged_part),
        cmocka_unit_test(test_64_in_flight_at_10_percent_loss),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_tree_manifests_in_batches),
        cmocka_unit_test(test_get_from_provider),
        cmocka_unit_test(test_put_work_per_byte),
        cmocka_unit_test(test_sealed_put_get),
    };

    alarm(300);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
