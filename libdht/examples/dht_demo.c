/*
 * dht_demo: starts 20 libdht nodes on 127.0.0.1 in one process, joins them
 * into one network, puts a value through one node and gets it back through
 * another. `make demo` runs it. Exit status 0 when the value came back.
 */
#include "dht.h"

#include <stdio.h>
#include <string.h>

#include <uv.h>

#define NODES 20

static int pending;

static void on_joined(int status, void *arg)
{
    (void)arg;
    if (status != 0)
        fprintf(stderr, "join failed: %s\n", dht_strerror(status));
    pending--;
}

static void on_put(int status, unsigned stored, void *arg)
{
    (void)arg;
    if (status == 0)
        printf("put:  stored on %u nodes\n", stored);
    else
        fprintf(stderr, "put failed: %s\n", dht_strerror(status));
    pending--;
}

static void on_get(int status, const dht_value_t *values, size_t n, void *arg)
{
    int *found = arg;

    if (status != 0) {
        fprintf(stderr, "get failed: %s\n", dht_strerror(status));
    } else {
        for (size_t i = 0; i < n; i++)
            printf("get:  \"%.*s\" (%zu bytes, ttl %u s)\n", (int)values[i].len,
                   (const char *)values[i].data, values[i].len, values[i].ttl_s);
        *found = n == 1;
    }
    pending--;
}

/* Runs the loop until every pending callback has fired, or 10 s pass. */
static int wait_all(uv_loop_t *loop)
{
    uint64_t deadline = uv_now(loop) + 10000;

    while (pending > 0 && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    return pending == 0 ? 0 : -1;
}

int main(void)
{
    static const char value[] = "hello from emofs";
    uv_loop_t *loop = uv_default_loop();
    dht_uv_t *nodes[NODES];
    dht_addr_t first;
    dht_id_t key;
    char addr[DHT_ADDRSTRLEN];
    int found = 0;

    for (int i = 0; i < NODES; i++) {
        int err = dht_uv_new(&nodes[i], loop, NULL, "127.0.0.1:0");
        if (err) {
            fprintf(stderr, "node %d: %s\n", i, dht_strerror(err));
            return 1;
        }
    }
    dht_uv_addr(nodes[0], &first);
    printf("20 nodes on loopback; bootstrap node at %s\n", dht_addr_format(&first, addr));
    for (int i = 1; i < NODES; i++) {
        pending++;
        dht_bootstrap(dht_uv_dht(nodes[i]), &first, 1, on_joined, NULL);
    }
    if (wait_all(loop) != 0)
        return 1;
    dht_id_from_bytes(&key, "demo-key", 8);
    printf("put:  \"%s\" under SHA-256(\"demo-key\") through node 3\n", value);
    pending = 1;
    dht_put(dht_uv_dht(nodes[3]), &key, value, strlen(value), 3600, on_put, NULL);
    if (wait_all(loop) != 0)
        return 1;
    printf("get:  through node 17\n");
    pending = 1;
    dht_get(dht_uv_dht(nodes[17]), &key, on_get, &found);
    wait_all(loop);
    for (int i = 0; i < NODES; i++)
        dht_uv_close(nodes[i], NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    printf(found ? "ok: the value came back through another node\n" : "FAILED\n");
    return found ? 0 : 1;
}
