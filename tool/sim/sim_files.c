/*
 * Files in the simulator (--files N --file-size BYTES): emofs's own file
 * engines (filestore's put and get, on the simulator's executor) among the
 * simulated nodes. Each file is put from a publisher node that joins the
 * network for it and keeps its chunks pinned in a chunk store of its own
 * on disk (in a temporary directory, removed at the end), serving them to
 * peers as a daemon does (filestore/source.h), until churn removes it.
 * Each get runs from another random node
 * and streams the bytes, checked chunk by chunk and as a whole, to nowhere.
 * A file counts as available when such a get succeeds.
 */
#include "tool/sim/sim_internal.h"

#include "filestore/exec_sim.h"
#include "filestore/filestore.h"
#include "filestore/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_CHUNK_VALUE_MAX ((1u << 20) + 4096) /* a 1 MiB chunk and its codec header */

struct sim_file {
    sim_ctx_t *c;
    uint32_t publisher;
    fs_store_t *store;  /* the publisher's pinned blobs */
    fs_source_t source; /* the same, served to peers */
    int joined;         /* 1 while the publisher's join runs, then its status */
    uint8_t key[MF_KEY_LEN];
    int put_status; /* 1 while the put runs */
    int got;        /* last get: 1 the file, 0 not, -1 running */
    uint64_t started_ms;
    uint64_t put_ms, get_ms; /* virtual, of the put and of the last get */
};

struct sim_files {
    fs_exec_sim_t exec;
    char root[4096]; /* the temporary directory */
    sim_file_t *f;
    size_t n;
};

void sim_files_node_config(const emofs_sim_opts_t *o, dht_config_t *cfg)
{
    if (o->files > 0 && cfg->max_value_size < SIM_CHUNK_VALUE_MAX)
        cfg->max_value_size = SIM_CHUNK_VALUE_MAX;
}

static int remove_tree_at(int at, const char *name)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int fd;

    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(at, name, 0);
    fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_tree_at(dirfd(d), e->d_name);
    closedir(d);
    return unlinkat(at, name, AT_REMOVEDIR);
}

void sim_files_node_leaving(sim_ctx_t *c, uint32_t idx)
{
    sim_files_t *fs = c->files;

    for (size_t i = 0; fs != NULL && i < fs->n; i++)
        if (fs->f[i].store != NULL && fs->f[i].publisher == idx)
            fs_source_detach(&fs->f[i].source);
}

void sim_files_free(sim_ctx_t *c)
{
    sim_files_t *fs = c->files;

    if (fs == NULL)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        fs_source_detach(&fs->f[i].source);
        fs_store_close(fs->f[i].store);
    }
    if (fs->root[0] != '\0')
        remove_tree_at(AT_FDCWD, fs->root);
    free(fs->f);
    free(fs);
    c->files = NULL;
}

/* Writes size random bytes (from the run's seed) to path. */
static int write_random(sim_ctx_t *c, const char *path, size_t size)
{
    uint8_t buf[65536];
    FILE *out = fopen(path, "wb");
    int ok = out != NULL;

    for (size_t done = 0; ok && done < size;) {
        size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = sim_rng_next(&c->rng);
            memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
        }
        ok = fwrite(buf, 1, n, out) == n;
        done += n;
    }
    if (out != NULL && fclose(out) != 0)
        ok = 0;
    return ok ? 0 : DHT_EIO;
}

static void ctx_for(sim_ctx_t *c, uint32_t node, fs_store_t *store, fs_ctx_t *ctx)
{
    fs_ctx_init(ctx);
    ctx->exec = &c->files->exec.exec;
    ctx->dht = dht_sim_node(c->sim, node);
    ctx->store = store;
    ctx->need_peers = 1;
}

static void on_put(int status, const uint8_t key[MF_KEY_LEN], const mf_manifest_t *m,
                   const char *message, void *arg)
{
    sim_file_t *f = arg;

    (void)m;
    (void)message;
    f->put_status = status;
    if (key != NULL)
        memcpy(f->key, key, MF_KEY_LEN);
    f->put_ms = dht_sim_now(f->c->sim) - f->started_ms;
    f->c->pending--;
}

static void on_publisher_joined(int status, void *arg)
{
    sim_file_t *f = arg;

    f->joined = status == 0 ? 0 : -1;
    f->c->pending--;
}

/* Adds file i's publisher, a node serving its own store, and starts its
 * join through a random node. @return 0, or an error (nothing pending). */
static int start_publisher(sim_ctx_t *c, size_t i)
{
    sim_files_t *fs = c->files;
    sim_file_t *f = &fs->f[i];
    dht_config_t cfg = c->node_cfg;
    dht_addr_t contact;
    char dir[4128];
    int idx, err;

    f->c = c;
    snprintf(dir, sizeof(dir), "%s/p%zu", fs->root, i);
    if (mkdir(dir, 0700) != 0 || fs_store_open(&f->store, dir) != 0)
        return DHT_EIO;
    fs_source_init(&f->source, f->store, &cfg);
    idx = dht_sim_add_node_with(c->sim, &cfg);
    if (idx < 0)
        return idx;
    err = sim_grow(c, (size_t)idx);
    if (err)
        return err;
    f->publisher = (uint32_t)idx;
    fs_source_attach(&f->source, dht_sim_node(c->sim, (size_t)idx), &fs->exec.exec);
    dht_sim_node_addr(c->sim, sim_random_online(c, UINT32_MAX), &contact);
    f->joined = 1;
    err = dht_bootstrap(dht_sim_node(c->sim, (size_t)idx), &contact, 1, on_publisher_joined, f);
    if (err)
        return err;
    c->pending++;
    return 0;
}

/* Puts file i from its publisher, once it joined. @return 0, or an error
 * (nothing pending). */
static int start_put(sim_ctx_t *c, size_t i)
{
    sim_files_t *fs = c->files;
    sim_file_t *f = &fs->f[i];
    char path[4128];
    fs_ctx_t ctx;
    fs_put_t *put;
    int err;

    if (f->joined != 0)
        return 0; /* its publisher could not join: the put counts as failed */
    c->online[f->publisher] = 1;
    c->n_online++;
    snprintf(path, sizeof(path), "%s/f%zu", fs->root, i);
    if (write_random(c, path, c->o->file_size) != 0)
        return DHT_EIO;
    ctx_for(c, f->publisher, f->store, &ctx);
    f->put_status = 1;
    f->started_ms = dht_sim_now(c->sim);
    err = fs_put_start(&put, &ctx, path, NULL, on_put, f);
    if (err)
        return err == FS_ENOMEM ? DHT_ENOMEM : DHT_EIO;
    c->pending++;
    return 0;
}

int sim_files_put(sim_ctx_t *c)
{
    const emofs_sim_opts_t *o = c->o;
    sim_files_t *fs = calloc(1, sizeof(*fs));
    int err = 0;

    if (fs == NULL)
        return DHT_ENOMEM;
    c->files = fs;
    fs_exec_sim_init(&fs->exec, c->sim);
    fs->f = calloc(o->files, sizeof(*fs->f));
    snprintf(fs->root, sizeof(fs->root), "%s/emofs-sim.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (fs->f == NULL)
        return DHT_ENOMEM;
    if (strlen(fs->root) >= sizeof(fs->root) - 1 || mkdtemp(fs->root) == NULL) {
        fs->root[0] = '\0';
        return DHT_EIO;
    }
    fs->n = o->files;
    for (size_t i = 0; i < fs->n; i++)
        fs->f[i].put_status = -1; /* not started */
    for (size_t start = 0; err == 0 && start < fs->n; start += o->batch) {
        size_t end = start + o->batch < fs->n ? start + o->batch : fs->n;
        for (size_t i = start; err == 0 && i < end; i++)
            err = start_publisher(c, i);
        sim_wait(c);
        for (size_t i = start; err == 0 && i < end; i++)
            err = start_put(c, i);
        sim_wait(c);
    }
    for (size_t i = 0; i < fs->n; i++) {
        char path[4128];
        snprintf(path, sizeof(path), "%s/f%zu", fs->root, i);
        unlink(path); /* the published copy is in the publisher's store */
        c->r->files_put += fs->f[i].put_status == 0;
    }
    return err;
}

/* The bytes of a get go nowhere: the get has checked them already. */
static void sink_write(void *arg, fs_get_t *get, const uint8_t *data, size_t len)
{
    (void)arg;
    (void)data;
    (void)len;
    fs_get_sink_ready(get, 0);
}

static void on_got(int status, const char *path, uint64_t size, const char *message, void *arg)
{
    sim_file_t *f = arg;

    (void)path;
    (void)size;
    (void)message;
    f->got = status == 0;
    f->get_ms = dht_sim_now(f->c->sim) - f->started_ms;
    f->c->pending--;
}

static void start_get(sim_ctx_t *c, sim_file_t *f)
{
    static const fs_sink_t nowhere = {sink_write, NULL};
    fs_get_opts_t opts;
    fs_ctx_t ctx;
    fs_get_t *get;

    memset(&opts, 0, sizeof(opts));
    opts.sink = &nowhere;
    opts.kind = MF_KIND_FILE;
    ctx_for(c, sim_random_online(c, f->publisher), NULL, &ctx);
    f->got = -1;
    f->started_ms = dht_sim_now(c->sim);
    if (fs_get_start(&get, &ctx, f->key, &opts, on_got, f) != 0) {
        f->got = 0;
        return;
    }
    c->pending++;
}

unsigned sim_files_get(sim_ctx_t *c)
{
    sim_files_t *fs = c->files;
    unsigned got = 0;

    if (fs == NULL)
        return 0;
    for (size_t start = 0; start < fs->n; start += c->o->batch) {
        size_t end = start + c->o->batch < fs->n ? start + c->o->batch : fs->n;
        for (size_t i = start; i < end; i++) {
            if (fs->f[i].put_status == 0)
                start_get(c, &fs->f[i]);
            else
                fs->f[i].got = 0;
        }
        sim_wait(c);
    }
    for (size_t i = 0; i < fs->n; i++)
        got += fs->f[i].got == 1;
    return got;
}

/* @return the median virtual time of the puts (of_get 0) or gets (1)
 * that succeeded, or 0. */
static uint64_t median_ms(const sim_files_t *fs, int of_get)
{
    uint64_t *v = malloc((fs->n ? fs->n : 1) * sizeof(*v));
    size_t n = 0;
    uint64_t m = 0;

    if (v == NULL)
        return 0;
    for (size_t i = 0; i < fs->n; i++)
        if (of_get ? fs->f[i].got == 1 : fs->f[i].put_status == 0)
            v[n++] = of_get ? fs->f[i].get_ms : fs->f[i].put_ms;
    qsort(v, n, sizeof(*v), sim_cmp_u64);
    if (n > 0)
        m = v[sim_rank(n, 50)];
    free(v);
    return m;
}

int sim_files_run(sim_ctx_t *c)
{
    emofs_sim_result_t *r = c->r;
    int err;

    r->files = c->o->files;
    r->file_size = c->o->file_size;
    err = sim_files_put(c);
    if (err)
        return err;
    r->files_got = sim_files_get(c);
    r->file_put_p50_ms = median_ms(c->files, 0);
    r->file_get_p50_ms = median_ms(c->files, 1);
    return 0;
}
