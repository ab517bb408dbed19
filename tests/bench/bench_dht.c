/*
 * bench_dht: put and get of 1 KiB values on a 20-node loopback network.
 *
 * 19 nodes run as separate dht_node processes (as OpenDHT's dhtnode would),
 * the 20th runs here and issues the operations. Reports ops/s one at a
 * time and with 64 in flight, p50/p99 latency, and the resident memory of
 * each node process.
 *
 *   bench_dht PATH/TO/dht_node [OPS [SHELL_FLAG]]
 *
 * SHELL_FLAG (--no-batch, or --sockets=N) goes to every node, this one
 * included: the libuv shell's options side by side (bench_dht_io.sh).
 */
#include "dht.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#define PEERS      19
#define VALUE_SIZE 1024

static uv_loop_t *loop;
static dht_t *dht;
static dht_id_t *keys;
static uint64_t *started, *lat;
static int next_op, done_ops, total_ops, failures;
static uint8_t value[VALUE_SIZE];
static const char *shell_flag; /* for every dht_node, and this node's options */

/* Starts one dht_node; returns its pid and the address it printed. */
static pid_t spawn(const char *bin, const char *boot, char *addr, size_t size)
{
    int fd[2];
    pid_t pid;
    FILE *f;
    char line[128];

    if (pipe(fd) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        char sockets[16] = "";
        const char *args[10] = {bin, "--listen", "127.0.0.1:0"};
        int n = 3;
        if (boot) {
            args[n++] = "--bootstrap";
            args[n++] = boot;
        }
        if (shell_flag && strcmp(shell_flag, "--no-batch") == 0)
            args[n++] = "--no-batch";
        if (shell_flag && sscanf(shell_flag, "--sockets=%15s", sockets) == 1) {
            args[n++] = "--sockets";
            args[n++] = sockets;
        }
        args[n] = NULL;
        execv(bin, (char *const *)args);
        _exit(127);
    }
    close(fd[1]);
    f = fdopen(fd[0], "r");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
        sscanf(line, "listening %63s", addr) != 1 || strlen(addr) >= size) {
        fprintf(stderr, "bench_dht: %s did not start\n", bin);
        exit(1);
    }
    fclose(f); /* dht_node ignores SIGPIPE: its later lines are dropped */
    return pid;
}

/* Reads one "Name: N kB" field of a /proc file. @return N, or -1. */
static long proc_kib(pid_t pid, const char *file, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void start_op(int is_get);

static void finish_op(intptr_t i, int ok, int is_get)
{
    lat[i] = uv_hrtime() - started[i];
    if (!ok)
        failures++;
    done_ops++;
    if (next_op < total_ops)
        start_op(is_get);
}

static void on_put(int status, unsigned stored, void *arg)
{
    (void)stored;
    finish_op((intptr_t)arg, status == 0, 0);
}

static void on_get(int status, const dht_value_t *v, size_t n, void *arg)
{
    finish_op((intptr_t)arg, status == 0 && n == 1 && v[0].len == VALUE_SIZE, 1);
}

static void start_op(int is_get)
{
    intptr_t i = next_op++;

    started[i] = uv_hrtime();
    if (is_get)
        dht_get(dht, &keys[i], on_get, (void *)i);
    else
        dht_put(dht, &keys[i], value, sizeof(value), 3600, on_put, (void *)i);
}

/* Runs n operations with `window` in flight; prints a line of figures. */
static void run(const char *name, int is_get, int n, int window)
{
    uint64_t t0;
    double secs;

    next_op = done_ops = failures = 0;
    total_ops = n;
    t0 = uv_hrtime();
    for (int i = 0; i < window && i < n; i++)
        start_op(is_get);
    while (done_ops < n)
        uv_run(loop, UV_RUN_ONCE);
    secs = (double)(uv_hrtime() - t0) / 1e9;
    qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
    printf("%-28s %8.0f ops/s   p50 %6.3f ms   p99 %6.3f ms   failed %d\n", name, n / secs,
           (double)lat[n / 2] / 1e6, (double)lat[(size_t)n * 99 / 100] / 1e6, failures);
}

static void on_settled(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

/* Runs the loop for ms milliseconds. */
static void settle(uint64_t ms)
{
    uv_timer_t t;

    uv_timer_init(loop, &t);
    uv_timer_start(&t, on_settled, ms, 0);
    while (uv_is_active((uv_handle_t *)&t) || !uv_is_closing((uv_handle_t *)&t))
        uv_run(loop, UV_RUN_ONCE);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callback */
}

static void on_joined(int status, void *arg)
{
    *(int *)arg = status == 0 ? 1 : -1;
}

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : "build/examples/dht_node";
    int ops = argc > 2 ? atoi(argv[2]) : 4000;
    dht_uv_options_t opts;
    pid_t pids[PEERS];
    char first[64], addr[64];
    dht_uv_t *node;
    dht_addr_t boot;
    long rss = 0, pss = 0, anon = 0;
    int joined = 0;

    signal(SIGPIPE, SIG_IGN);
    shell_flag = argc > 3 ? argv[3] : NULL;
    dht_uv_options_init(&opts);
    if (shell_flag && strcmp(shell_flag, "--no-batch") == 0)
        opts.batch_sends = 0;
    else if (shell_flag && sscanf(shell_flag, "--sockets=%u", &opts.sockets) != 1)
        return 2;
    loop = uv_default_loop();
    pids[0] = spawn(bin, NULL, first, sizeof(first));
    for (int i = 1; i < PEERS; i++)
        pids[i] = spawn(bin, first, addr, sizeof(addr));
    if (dht_uv_new_ex(&node, loop, NULL, "127.0.0.1:0", &opts) != 0)
        return 1;
    dht = dht_uv_dht(node);
    dht_addr_parse(&boot, first);
    dht_bootstrap(dht, &boot, 1, on_joined, &joined);
    while (joined == 0)
        uv_run(loop, UV_RUN_ONCE);
    settle(1000); /* let the other joins finish */
    keys = calloc((size_t)ops, sizeof(*keys));
    started = calloc((size_t)ops, sizeof(*started));
    lat = calloc((size_t)ops, sizeof(*lat));
    for (int i = 0; i < ops; i++) {
        uint64_t name[2] = {0xbe4c, (uint64_t)i};
        dht_id_from_bytes(&keys[i], name, sizeof(name));
    }
    memset(value, 0x5a, sizeof(value));
    printf("20-node loopback network (19 dht_node processes + this one), 1 KiB values, %d ops\n",
           ops);
    run("put, one at a time", 0, ops / 4, 1);
    run("get, one at a time", 1, ops / 4, 1);
    run("put, 64 in flight", 0, ops, 64);
    run("get, 64 in flight", 1, ops, 64);
    for (int i = 0; i < PEERS; i++) {
        rss += proc_kib(pids[i], "status", "VmRSS");
        anon += proc_kib(pids[i], "status", "RssAnon");
        pss += proc_kib(pids[i], "smaps_rollup", "Pss");
    }
    /* Every node is among the k = 20 closest of every key: each holds all
     * the values put (ops distinct keys of 1 KiB). RSS counts the shared
     * libraries in full in every process; PSS shares them out. */
    printf("memory per node process, holding %d values of 1 KiB: RSS %.1f MB, PSS %.1f MB, "
           "private (anon) %.1f MB\n",
           ops, (double)rss / PEERS / 1024.0, (double)pss / PEERS / 1024.0,
           (double)anon / PEERS / 1024.0);
    for (int i = 0; i < PEERS; i++)
        kill(pids[i], SIGTERM);
    for (int i = 0; i < PEERS; i++)
        waitpid(pids[i], NULL, 0);
    dht_uv_close(node, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    free(keys);
    free(started);
    free(lat);
    return 0;
}
