/*
 * dht_node: one libdht node in its own process, until SIGINT or SIGTERM.
 *
 *   dht_node [--listen HOST:PORT] [--bootstrap HOST:PORT]... [--sockets N] [--no-batch]
 *
 * --sockets N: N UDP sockets on the port (SO_REUSEPORT); --no-batch: a
 * sendto per datagram instead of sendmmsg batches (dht_uv_options_t).
 * Prints "listening HOST:PORT" on stdout once the sockets are bound (port 0
 * picks a free one), then "joined" or "join failed: ..." after bootstrap.
 * Exit status: 0 on a signal, 2 on bad arguments, 1 if it cannot start.
 */
#include "dht.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define MAX_BOOTSTRAP 16

static dht_uv_t *node;
static uv_signal_t sigint, sigterm;

/* Either signal closes the node and both signal handles: the loop ends. */
static void on_signal(uv_signal_t *sig, int signum)
{
    (void)sig;
    (void)signum;
    dht_uv_close(node, NULL, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
}

static void on_joined(int status, void *arg)
{
    (void)arg;
    if (status == 0)
        printf("joined\n");
    else
        printf("join failed: %s\n", dht_strerror(status));
    fflush(stdout);
}

static int usage(void)
{
    fprintf(stderr, "usage: dht_node [--listen HOST:PORT] [--bootstrap HOST:PORT]... "
                    "[--sockets N] [--no-batch]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0";
    dht_addr_t boot[MAX_BOOTSTRAP], me;
    size_t n_boot = 0;
    uv_loop_t *loop = uv_default_loop();
    char text[DHT_ADDRSTRLEN];
    dht_uv_options_t opts;
    int err;

    dht_uv_options_init(&opts);
    /* A peer that closes a stream must not kill us, nor a closed stdout. */
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--bootstrap") == 0 && i + 1 < argc && n_boot < MAX_BOOTSTRAP) {
            if (dht_addr_parse(&boot[n_boot++], argv[++i]) != 0) {
                fprintf(stderr, "dht_node: bad address '%s' (want HOST:PORT)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--sockets") == 0 && i + 1 < argc) {
            opts.sockets = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-batch") == 0) {
            opts.batch_sends = 0;
        } else {
            return usage();
        }
    }
    err = dht_uv_new_ex(&node, loop, NULL, listen, &opts);
    if (err) {
        fprintf(stderr, "dht_node: cannot listen on %s: %s\n", listen, dht_strerror(err));
        return 1;
    }
    dht_uv_addr(node, &me);
    printf("listening %s\n", dht_addr_format(&me, text));
    fflush(stdout);
    if (n_boot > 0)
        dht_bootstrap(dht_uv_dht(node), boot, n_boot, on_joined, NULL);
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
