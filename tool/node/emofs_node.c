/*
 * The node of a data directory. See emofs_node.h.
 */
#include "tool/node/emofs_node.h"

#include "tool/node/config.h"
#include "filestore/place.h"
#include "tool/node/control_wire.h"
#include "tool/node/hostaddr.h"
#include "tool/node/linefile.h"
#include "tool/node/network_key.h"
#include "tool/node/partials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAEMON_PORT     "4100"
#define CHUNK_VALUE_MAX ((1u << 20) + 4096) /* a 1 MiB chunk plus its codec header */

int emofs_dir_lock(const char *dir, int *lock_fd, long *holder)
{
    char *path;
    char buf[32];
    int fd;

    *holder = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fs_from_errno(errno);
    path = fs_path_join(dir, EMOFS_LOCK_NAME);
    if (path == NULL)
        return FS_ENOMEM;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    free(path);
    if (fd < 0)
        return fs_from_errno(errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = errno == EWOULDBLOCK ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
        int err = errno == EWOULDBLOCK ? FS_EBUSY : fs_from_errno(errno);
        if (n > 0) {
            buf[n] = '\0';
            *holder = strtol(buf, NULL, 10);
            err = FS_EBUSY;
        }
        close(fd);
        return err == FS_EIO && n >= 0 ? FS_EBUSY : err;
    }
    snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, strlen(buf), 0) < 0) {
        /* The lock itself is what matters; the pid is a courtesy. */
    }
    *lock_fd = fd;
    return 0;
}

/* The node id kept in DIR/node.id, made (random) at the first start. */
/* The node's id, kept in DIR/node.id (made at the first start: random,
 * or, when the id rule is on and the node listens on one given public
 * address, one that fits it by BEP 42's rule, dht_id_for_addr; loopback
 * and private addresses are exempt from the rule, and ids made from them
 * would share 8 prefixes). @return 1 and *id, or 0 (none could be read or
 * made: libdht draws one). */
static int node_id(const char *dir, const char *listen, int id_rule, dht_id_t *id)
{
    dht_addr_t at;
    static const uint8_t any[16];
    char *path = fs_path_join(dir, "node.id");
    char hex[80];
    FILE *f;
    int ok = 0;

    if (path == NULL)
        return 0;
    f = fopen(path, "r");
    if (f != NULL) {
        ok = fgets(hex, sizeof(hex), f) != NULL && strlen(hex) >= 64 &&
             (hex[64] = '\0', dht_id_from_hex(id, hex) == 0);
        fclose(f);
    }
    if (!ok) {
        FILE *r = fopen("/dev/urandom", "rb");
        ok = r != NULL && fread(id->b, 1, DHT_ID_LEN, r) == DHT_ID_LEN;
        if (r != NULL)
            fclose(r);
        if (ok && id_rule != DHT_ID_RULE_OFF && dht_addr_parse(&at, listen) == 0 &&
            memcmp(at.ip, any, at.family == DHT_AF_INET ? 4 : 16) != 0 && !dht_addr_is_local(&at)) {
            uint8_t random[DHT_ID_LEN];
            memcpy(random, id->b, DHT_ID_LEN);
            dht_id_for_addr(id, &at, random[DHT_ID_LEN - 1], random);
        }
        if (ok) { /* atomic, private (0600), never through a symlink */
            dht_id_to_hex(id, hex);
            strcat(hex, "\n");
            (void)fs_replace_file(dir, "node.id", hex, strlen(hex));
        }
    }
    free(path);
    return ok;
}

static const char *default_listen(const emofs_node_t *node, int daemon)
{
    int v6 = node->n_bootstrap > 0 && node->bootstrap[0].family == DHT_AF_INET6;
    int loopback = 1;

    if (daemon)
        return v6 ? "[::]:" DAEMON_PORT : "0.0.0.0:" DAEMON_PORT;
    for (size_t i = 0; i < node->n_bootstrap; i++) {
        const dht_addr_t *a = &node->bootstrap[i];
        static const uint8_t v6_loopback[16] = {[15] = 1};
        if (!(a->family == DHT_AF_INET && a->ip[0] == 127) &&
            !(a->family == DHT_AF_INET6 && memcmp(a->ip, v6_loopback, 16) == 0))
            loopback = 0;
    }
    if (loopback)
        return v6 ? "[::1]:0" : "127.0.0.1:0";
    return v6 ? "[::]:0" : "0.0.0.0:0";
}

/* @return 1 if path exists and is not a directory. */
static int not_a_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* Loads the private network's key: --network-key's file (flag, as given),
 * else the config file's (in_config, relative to DIR), else none.
 * @return 0, or FS_EINVAL / FS_ENOMEM with err_text set. */
static int load_network_key(emofs_node_t *node, const char *flag, const char *in_config,
                            char *err_text, size_t err_cap)
{
    char *path;
    int err;

    if (flag != NULL) {
        err = emofs_network_key_load(flag, node->network_key, stderr, err_text, err_cap);
    } else if (in_config[0] != '\0') {
        path = in_config[0] == '/' ? strdup(in_config) : fs_path_join(node->dir, in_config);
        if (path == NULL)
            return FS_ENOMEM;
        err = emofs_network_key_load(path, node->network_key, stderr, err_text, err_cap);
        free(path);
    } else {
        return 0;
    }
    node->private_network = err == 0;
    return err;
}

/* Settles the bootstrap peers and the listen address (numeric, into
 * listen[DHT_ADDRSTRLEN]): the options', else DIR/config's, else the
 * defaults. @return 0, or an FS_* code with err_text set. */
static int apply_config(emofs_node_t *node, const emofs_node_opts_t *opts, char *listen,
                        char *err_text, size_t err_cap)
{
    emofs_config_t file;
    dht_addr_t la;
    unsigned skip = (opts->listen != NULL ? CONFIG_LISTEN : 0) |
                    (opts->n_bootstrap > 0 ? CONFIG_BOOTSTRAP : 0) |
                    (opts->log_level_set ? CONFIG_LOG_LEVEL : 0) |
                    (opts->store_max > 0 ? CONFIG_STORE_MAX : 0) |
                    (opts->replicate_set ? CONFIG_REPLICATE : 0) |
                    (opts->republish_set ? CONFIG_REPUBLISH : 0) |
                    (opts->network_key != NULL ? CONFIG_NETWORK_KEY : 0) |
                    (opts->advertise.family != 0 ? CONFIG_ADVERTISE : 0) |
                    (opts->region != 0 ? CONFIG_REGION : 0);
    char *path = fs_path_join(node->dir, "config");
    int err;

    if (path == NULL)
        return FS_ENOMEM;
    err = emofs_config_read(path, skip, &file, stderr, err_text, err_cap);
    free(path);
    if (err)
        return err;
    if (file.has_log_level)
        log_set_level(file.log_level);
    node->store_max = opts->store_max > 0  ? opts->store_max
                      : file.store_max > 0 ? file.store_max
                                           : EMOFS_STORE_MAX_DEFAULT;
    node->replicate_interval_s = opts->replicate_set           ? opts->replicate_interval_s
                                 : file.has_replicate_interval ? file.replicate_interval_s
                                                               : EMOFS_REPLICATE_DEFAULT_S;
    node->ttl_s = file.ttl_s > 0 ? file.ttl_s : EMOFS_TTL_DEFAULT_S;
    node->copies = file.copies > 0 ? file.copies : FS_COPIES_DEFAULT;
    node->id_rule = file.id_rule;
    node->advertise = opts->advertise.family != 0 ? opts->advertise : file.advertise;
    node->region = opts->region != 0 ? opts->region : file.region;
    node->republish_interval_s = opts->republish_set           ? opts->republish_interval_s
                                 : file.has_republish_interval ? file.republish_interval_s
                                                               : node->ttl_s / 2;
    err = load_network_key(node, opts->network_key, file.network_key, err_text, err_cap);
    if (err)
        return err;
    if (opts->n_bootstrap > 0) {
        memcpy(node->bootstrap, opts->bootstrap, opts->n_bootstrap * sizeof(dht_addr_t));
        node->n_bootstrap = opts->n_bootstrap;
    } else {
        memcpy(node->bootstrap, file.bootstrap, file.n_bootstrap * sizeof(dht_addr_t));
        node->n_bootstrap = file.n_bootstrap;
    }
    if (opts->listen != NULL) {
        int rc = hostaddr_resolve(&la, opts->listen, err_text, err_cap);
        if (rc == HOSTADDR_EFORM)
            snprintf(err_text, err_cap, "bad listen address '%s' (want HOST:PORT)", opts->listen);
        if (rc != 0)
            return FS_EINVAL;
        dht_addr_format(&la, listen);
    } else if (file.has_listen) {
        dht_addr_format(&file.listen, listen);
    } else {
        snprintf(listen, DHT_ADDRSTRLEN, "%s", default_listen(node, opts->daemon));
    }
    return 0;
}

/* The tests' crash point (tests/cli/test_network.sh), in the test build
 * only (build/emofs-test, compiled with EMOFS_TEST_HOOKS): with
 * EMOFS_TEST_CRASH_AFTER_CHUNKS=N in the environment, a get stops the
 * process with _exit(137) once it has written N chunks, as kill -9 would,
 * to test the resume of a get that died. */
#ifdef EMOFS_TEST_HOOKS
static void crash_after(void *arg, uint32_t chunks)
{
    if (chunks >= *(const unsigned *)arg)
        _exit(137);
}

static void install_test_crash(emofs_node_t *node)
{
    const char *v = getenv("EMOFS_TEST_CRASH_AFTER_CHUNKS");

    if (v == NULL || (node->test_crash_at = (unsigned)strtoul(v, NULL, 10)) == 0)
        return;
    node->ctx.chunk_written = crash_after;
    node->ctx.chunk_written_arg = &node->test_crash_at;
}
#else
static void install_test_crash(emofs_node_t *node)
{
    (void)node; /* the emofs users run has no test hooks */
}
#endif

int emofs_node_open(emofs_node_t *node, uv_loop_t *loop, const emofs_node_opts_t *opts,
                    long *holder, char *err_text, size_t err_cap)
{
    char listen[DHT_ADDRSTRLEN] = "";
    dht_config_t cfg;
    int err;

    memset(node, 0, sizeof(*node));
    node->loop = loop;
    node->lock_fd = -1;
    node->dir = strdup(opts->dir);
    if (node->dir == NULL)
        return FS_ENOMEM;
    err = emofs_dir_lock(node->dir, &node->lock_fd, holder);
    if (err) {
        if (err == FS_EBUSY && *holder > 0)
            snprintf(err_text, err_cap,
                     "data directory %s is in use by another emofs process (pid %ld)", node->dir,
                     *holder);
        else if (err == FS_EBUSY)
            snprintf(err_text, err_cap, "data directory %s is in use by another emofs process",
                     node->dir);
        else
            snprintf(err_text, err_cap, "cannot use data directory %s: %s", node->dir,
                     not_a_dir(node->dir) ? "not a directory" : fs_strerror(err));
        goto fail;
    }
    if (!opts->daemon) {
        /* We hold the lock, so no daemon runs here: a socket left is stale. */
        char *sock = fs_path_join(node->dir, CTL_SOCK_NAME);
        if (sock != NULL)
            unlink(sock);
        free(sock);
    }
    err = apply_config(node, opts, listen, err_text, err_cap);
    if (err)
        goto fail;
    err = fs_store_open(&node->store, node->dir);
    if (err) {
        snprintf(err_text, err_cap, "cannot open the store in %s: %s", node->dir, fs_strerror(err));
        goto fail;
    }
    dht_config_init(&cfg);
    cfg.has_id = node_id(node->dir, listen, node->id_rule, &cfg.id);
    cfg.id_rule = node->id_rule;
    if (opts->daemon) { /* a one-shot command's client node is never handed out */
        cfg.advertise = node->advertise;
        cfg.region = node->region;
    }
    cfg.max_value_size = CHUNK_VALUE_MAX;
    fs_source_init(&node->source, node->store, &cfg);
    if (opts->daemon) {
        /* What a daemon holds for others goes to disk, within its quota. */
        err = fs_replicas_open(&node->replicas, node->dir, &cfg);
        if (err) {
            snprintf(err_text, err_cap, "cannot open the replicas in %s: %s", node->dir,
                     fs_strerror(err));
            goto fail;
        }
        node->has_replicas = 1;
        cfg.replicate_interval_s = node->replicate_interval_s;
        cfg.store_max_bytes = node->store_max > SIZE_MAX ? SIZE_MAX : (size_t)node->store_max;
    }
    /* A one-shot command's embedded node is gone in a moment: as a client
     * it stays out of its peers' tables, so nobody waits on it afterwards,
     * and nobody stores on it. Only a daemon serves. */
    cfg.client = !opts->daemon;
    if (node->private_network) {
        cfg.network_key = node->network_key;
        cfg.network_key_len = sizeof(node->network_key);
    }
    cfg.peer_event = opts->peer_event;
    cfg.peer_event_arg = opts->peer_event_arg;
    err = dht_uv_new(&node->uv, loop, &cfg, listen);
    if (err) {
        /* "address already in use", "permission denied", ... */
        snprintf(err_text, err_cap, "cannot listen on %s: %s", listen, dht_strerror(err));
        err = fs_from_dht(err);
        goto fail;
    }
    node->dht = dht_uv_dht(node->uv);
    dht_uv_addr(node->uv, &node->addr);
    fs_ctx_init(&node->ctx);
    fs_exec_uv_init(&node->exec, loop);
    fs_source_attach(&node->source, node->dht, &node->exec.exec);
    if (node->has_replicas) {
        err = fs_replicas_attach(&node->replicas, node->dht, &node->exec.exec,
                                 &node->replicas_loaded, &node->replicas_loaded_bytes);
        if (err) /* what was loaded is served; the expiry log is appended to as it is */
            fprintf(stderr, "emofs: cannot read all the replicas in %s: %s\n", node->dir,
                    fs_strerror(err));
    }
    node->ctx.exec = &node->exec.exec;
    node->ctx.dht = node->dht;
    node->ctx.store = node->store;
    node->ctx.ttl_s = node->ttl_s;
    node->ctx.copies = node->copies;
    node->ctx.replicas = node->has_replicas ? node->replicas.store : NULL;
    node->ctx.need_peers = node->n_bootstrap > 0;
    node->ctx.get_files = emofs_partials_hook; /* where gets leave files, for gc */
    node->ctx.get_files_arg = node->dir;
    install_test_crash(node);
    return 0;
fail:
    if (node->has_replicas)
        fs_replicas_close(&node->replicas);
    fs_store_close(node->store);
    if (node->lock_fd >= 0)
        close(node->lock_fd);
    free(node->dir);
    memset(node, 0, sizeof(*node));
    node->lock_fd = -1;
    return err;
}

typedef struct boot_wait {
    void (*cb)(int status, void *arg);
    void *arg;
    fs_job_t job;
} boot_wait_t;

static void on_joined(int status, void *arg)
{
    boot_wait_t *w = arg;

    w->cb(status == 0 ? 0 : FS_ENOPEERS, w->arg);
    free(w);
}

static void joined_alone(fs_job_t *job)
{
    on_joined(0, job->data);
}

void emofs_node_bootstrap(emofs_node_t *node, void (*cb)(int status, void *arg), void *arg)
{
    boot_wait_t *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        cb(FS_ENOMEM, arg);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    w->job.data = w;
    if (node->n_bootstrap == 0 ||
        dht_bootstrap(node->dht, node->bootstrap, node->n_bootstrap, on_joined, w) != 0) {
        if (fs_exec_defer(&node->exec.exec, &w->job, joined_alone) != 0) {
            free(w);
            cb(FS_ENOMEM, arg);
        }
    }
}

/* The executor has run its last job: no worker touches the store now. */
static void close_store(void *arg)
{
    emofs_node_t *node = arg;

    fs_store_close(node->store);
    node->store = NULL;
    if (node->has_replicas)
        fs_replicas_close(&node->replicas);
    node->has_replicas = 0;
    if (node->lock_fd >= 0)
        close(node->lock_fd);
    node->lock_fd = -1;
    free(node->dir);
    node->dir = NULL;
}

static void close_now(fs_job_t *job)
{
    emofs_node_t *node = job->data;

    fs_source_detach(&node->source);     /* reads in flight end quietly */
    fs_replicas_detach(&node->replicas); /* writes too: what they wrote is loaded next time */
    if (node->uv != NULL)
        dht_uv_close(node->uv, NULL, NULL);
    node->uv = NULL;
    node->dht = NULL;
    /* The store, the lock and the rest go once the executor is done:
     * workers may still be reading or writing blobs, and what closing the
     * node finished may still defer callbacks that settle them. */
    fs_exec_uv_close(&node->exec, close_store, node);
}

void emofs_node_close(emofs_node_t *node)
{
    if (node->closing)
        return;
    node->closing = 1;
    /* Not now: we may be inside one of the node's callbacks, and libdht
     * must not be freed from there. */
    node->close_job.data = node;
    if (fs_exec_defer(&node->exec.exec, &node->close_job, close_now) != 0)
        close_now(&node->close_job);
}

static void on_provided(int status, unsigned stored, void *arg)
{
    (void)status; /* renewed later either way (libdht) */
    (void)stored;
    (void)arg;
}

void emofs_node_provide(emofs_node_t *node, const uint8_t key[MF_KEY_LEN])
{
    dht_id_t id;

    if (!node->has_replicas || node->closing)
        return; /* an embedded node is gone when its command ends */
    memcpy(id.b, key, MF_KEY_LEN);
    /* Two hours: renewed every hour (at most every replication
     * interval), a record of a node that is gone lasts two at most. */
    (void)dht_provide(node->dht, &id, node->addr.port, EMOFS_PROVIDE_TTL_S, on_provided, NULL);
}

void emofs_node_unprovide(emofs_node_t *node, const uint8_t key[MF_KEY_LEN])
{
    dht_id_t id;

    if (!node->has_replicas || node->closing)
        return;
    memcpy(id.b, key, MF_KEY_LEN);
    (void)dht_unprovide(node->dht, &id, on_provided, NULL);
}

size_t emofs_node_provide_published(emofs_node_t *node)
{
    emofs_published_t *list;
    size_t n = 0;

    if (!node->has_replicas || emofs_published_list(node->dir, &list, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        emofs_node_provide(node, list[i].key);
    free(list);
    return n;
}

int emofs_published_add(const char *dir, const uint8_t key[MF_KEY_LEN], const uint8_t *secret,
                        uint64_t size, unsigned copies, const char *name)
{
    char hex[130], *line;
    size_t cap;
    int err;

    if (secret != NULL)
        mf_capability_to_text(key, secret, hex);
    else
        mf_key_to_hex(key, hex);
    cap = strlen(name) + 160;
    if ((line = malloc(cap)) == NULL)
        return FS_ENOMEM;
    if (copies > 0)
        snprintf(line, cap, "%s %llu/%u %s", hex, (unsigned long long)size, copies, name);
    else
        snprintf(line, cap, "%s %llu %s", hex, (unsigned long long)size, name);
    err = emofs_line_append(dir, "published", line);
    free(line);
    return err;
}

int emofs_published_list(const char *dir, emofs_published_t **out, size_t *n)
{
    char *path = fs_path_join(dir, "published");
    char line[MF_NAME_MAX + 256];
    emofs_published_t *list = NULL, e;
    size_t count = 0, cap = 0;
    FILE *f;

    *out = NULL;
    *n = 0;
    if (path == NULL)
        return FS_ENOMEM;
    f = fopen(path, "r");
    free(path);
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t i;

        line[strcspn(line, "\n")] = '\0';
        if (!emofs_published_parse(line, &e))
            continue;
        for (i = 0; i < count; i++)
            if (memcmp(list[i].key, e.key, MF_KEY_LEN) == 0)
                break;
        if (i < count) {
            list[i] = e;
            continue;
        }
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(list, ncap * sizeof(*list));
            if (p == NULL) {
                fclose(f);
                free(list);
                return FS_ENOMEM;
            }
            list = p;
            cap = ncap;
        }
        list[count++] = e;
    }
    fclose(f);
    *out = list;
    *n = count;
    return 0;
}
