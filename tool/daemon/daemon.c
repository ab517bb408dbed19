/*
 * emofs daemon: one node, its control server, signals. See daemon.h and
 * schema/control.md.
 */
#include "tool/daemon/daemon.h"

#include "tool/cli/cli.h"
#include "tool/daemon/ctl_server.h"
#include "tool/node/config.h"
#include "tool/node/hostaddr.h"
#include "tool/daemon/log.h"
#include "tool/daemon/peers_file.h"
#include "tool/daemon/republisher.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the peers are saved to DIR/peers while the daemon runs;
 * EMOFS_TEST_PEERS_SAVE_MS overrides it, for the tests. */
#define PEERS_SAVE_MS (5u * 60u * 1000u)

typedef struct daemon {
    uv_loop_t *loop;
    emofs_node_t node;
    ctl_server_t *server;
    uv_signal_t sigint, sigterm;
    uv_timer_t save_timer;
    republisher_t republisher;
    int stopping, node_closed, save_failed;
    int leaving;               /* handing its copies over before it closes */
    int skip_leave;            /* stopped twice: no hand-over */
    uint64_t leave_started_ms; /* uv_now then */
    uint64_t stores_before;    /* dht_stats_t.replica_stores then */
} daemon_t;

/* How long a stopping daemon spends at most handing the copies it holds
 * to the nodes that will keep them (a second stop skips it). */
#define LEAVE_MAX_MS 10000u

/* Saves the peers to DIR/peers; level is the log line's when it worked.
 * A failure is logged once until a save works again. */
static void save_peers(daemon_t *d, log_level_t level)
{
    int n = emofs_peers_save(d->node.dht, uv_now(d->loop), d->node.dir);

    if (n < 0 && !d->save_failed)
        log_msg(LOG_WARN, "cannot save the peers to %s/%s: %s", d->node.dir, EMOFS_PEERS_FILE,
                fs_strerror(n));
    else if (n > 0)
        log_msg(level, "saved %d peers to %s/%s", n, d->node.dir, EMOFS_PEERS_FILE);
    d->save_failed = n < 0;
}

static void on_save_timer(uv_timer_t *t)
{
    save_peers(t->data, LOG_DEBUG);
}

/* Saves the peers every PEERS_SAVE_MS; the timer does not keep the loop
 * alive. */
static void start_save_timer(daemon_t *d)
{
    const char *env = getenv("EMOFS_TEST_PEERS_SAVE_MS");
    uint64_t every = PEERS_SAVE_MS;

    if (env != NULL && atoll(env) > 0)
        every = (uint64_t)atoll(env);
    uv_timer_init(d->loop, &d->save_timer);
    d->save_timer.data = d;
    uv_timer_start(&d->save_timer, on_save_timer, every, every);
    uv_unref((uv_handle_t *)&d->save_timer);
}

static void close_node(daemon_t *d)
{
    if (d->node_closed)
        return;
    d->node_closed = 1;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    emofs_node_close(&d->node);
}

/* The hand-over is over (or was cut short): the node closes. */
static void on_left(int status, void *arg)
{
    daemon_t *d = arg;
    dht_stats_t st;

    if (d->node_closed)
        return; /* a second stop closed it: this is its cancel */
    dht_get_stats(d->node.dht, uv_now(d->loop), &st);
    log_msg(status == 0 ? LOG_INFO : LOG_WARN, "handed %llu copies over in %.1f s%s",
            (unsigned long long)(st.replica_stores - d->stores_before),
            (double)(uv_now(d->loop) - d->leave_started_ms) / 1000.0,
            status == 0 ? "" : " (time ran out: the rest stay to replication)");
    close_node(d);
}

/* No request uses the node any more: its peers are saved, the copies it
 * holds handed to the nodes that lack them (a graceful leave, at most
 * LEAVE_MAX_MS), then it closes. */
static void on_server_idle(void *arg)
{
    daemon_t *d = arg;
    dht_stats_t st;

    if (d->node_closed || d->leaving)
        return;
    save_peers(d, LOG_INFO);
    dht_get_stats(d->node.dht, uv_now(d->loop), &st);
    if (!d->skip_leave && d->node.has_replicas && st.values > 0 &&
        dht_leave(d->node.dht, LEAVE_MAX_MS, on_left, d) == 0) {
        d->leaving = 1;
        d->leave_started_ms = uv_now(d->loop);
        d->stores_before = st.replica_stores;
        log_msg(LOG_INFO,
                "leaving: handing the %zu copies it holds to the nodes that lack them (at most "
                "%u s; stop again to skip)",
                st.values, LEAVE_MAX_MS / 1000);
        return;
    }
    close_node(d);
}

static void daemon_stop(daemon_t *d)
{
    if (d->stopping) {
        /* A second stop (SIGINT, SIGTERM, emofs stop --now) skips the
         * hand-over: what it did not hand over stays to replication. */
        if (!d->skip_leave && !d->node_closed)
            log_msg(LOG_INFO, "stopping now: the hand-over is skipped");
        d->skip_leave = 1;
        if (d->leaving && !d->node_closed)
            close_node(d);
        return;
    }
    d->stopping = 1;
    log_msg(LOG_INFO, "stopping: %u requests to end", ctl_server_requests(d->server));
    uv_close((uv_handle_t *)&d->save_timer, NULL);
    republisher_stop(&d->republisher);
    ctl_server_shutdown(d->server);
}

static void on_stop_requested(void *arg)
{
    daemon_stop(arg);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    daemon_stop(s->data);
}

static void on_joined(int status, void *arg)
{
    daemon_t *d = arg;

    if (d->stopping)
        return;
    if (status == 0 && d->node.n_bootstrap > 0) {
        dht_stats_t st;
        dht_get_stats(d->node.dht, 0, &st);
        log_msg(LOG_INFO, "joined the network: %zu peers known", (size_t)st.nodes);
    } else if (status != 0) {
        log_msg(LOG_WARN, "no bootstrap peer answered; serving anyway, peers may join us");
    }
    /* The files published (or seeded) here: this node serves them. Once
     * joined, so that the announcements reach the closest nodes (libdht
     * announces each again a minute later, and then hourly). */
    log_msg(LOG_INFO, "serving %zu files published or seeded here (announced as their provider)",
            emofs_node_provide_published(&d->node));
}

static void on_rejoined(int status, void *arg)
{
    daemon_t *d = arg;
    dht_stats_t st;

    if (d->stopping)
        return;
    dht_get_stats(d->node.dht, uv_now(d->loop), &st);
    if (status == 0)
        log_msg(LOG_INFO, "rejoined through the saved peers: %zu peers known", (size_t)st.nodes);
    else
        log_msg(LOG_WARN, "none of the saved peers answered");
}

/* Rejoins through the peers saved in DIR/peers, if there are any. A
 * missing file is normal; a damaged one is said once and ignored. */
static void restore_peers(daemon_t *d)
{
    uint8_t *buf;
    size_t len;
    int err = emofs_peers_load(d->node.dir, &buf, &len);

    if (err == FS_ENOENT)
        return;
    if (err == 0) {
        err = dht_import_peers(d->node.dht, buf, len, on_rejoined, d);
        free(buf);
        if (err == 0)
            log_msg(LOG_INFO, "pinging the peers saved in %s/%s", d->node.dir, EMOFS_PEERS_FILE);
        else if (err == DHT_EPROTO)
            log_msg(LOG_WARN, "ignoring %s/%s: not a peer list (damaged?)", d->node.dir,
                    EMOFS_PEERS_FILE);
        else if (err != DHT_ENOPEERS)
            log_msg(LOG_WARN, "cannot rejoin through %s/%s: %s", d->node.dir, EMOFS_PEERS_FILE,
                    dht_strerror(err));
        return;
    }
    log_msg(LOG_WARN, "ignoring %s/%s: %s", d->node.dir, EMOFS_PEERS_FILE,
            err == FS_ETOOBIG ? "too large for a peer list (damaged?)" : fs_strerror(err));
}

static void on_peer_event(void *arg, const dht_id_t *id, const dht_addr_t *addr, int joined)
{
    char hex[65], a[DHT_ADDRSTRLEN];

    (void)arg;
    if (!log_enabled(LOG_DEBUG))
        return;
    dht_id_to_hex(id, hex);
    log_msg(LOG_DEBUG, "peer %s %.16s at %s", joined ? "gained" : "lost", hex,
            dht_addr_format(addr, a));
}

static int daemon_usage(FILE *f, int code)
{
    fprintf(f, "usage: emofs daemon [--listen HOST:PORT] [--bootstrap HOST:PORT]... [--data DIR]\n"
               "                    [--network-key FILE] [options]\n"
               "Runs this data directory's node in the foreground until SIGINT or SIGTERM.\n"
               "  --listen HOST:PORT     UDP and TCP address to serve peers on\n"
               "                         (default: the config file's, else 0.0.0.0:4100)\n"
               "  --bootstrap HOST:PORT  a node of the network to join through (repeatable;\n"
               "                         default: the config file's 'bootstrap' lines)\n"
               "  --data DIR             data directory (default $EMOFS_HOME, else ~/.emofs)\n"
               "  --network-key FILE     a private network: only nodes with the same key file\n"
               "                         hear this one (every message is tagged with it; make\n"
               "                         one with 'head -c 32 /dev/urandom > FILE' and copy it\n"
               "                         to every machine); default: the config file's\n"
               "  --log-level LEVEL      error, warn, info (default) or debug: one line per\n"
               "                         event on stderr (start, joined, each put and get,\n"
               "                         stop; debug: peers gained and lost)\n"
               "  --store-max SIZE       disk for the copies this node keeps for others, in\n"
               "                         DIR/replicas (default 10G; 500M, 20G, ...); when\n"
               "                         full, those of keys farthest from this node go\n"
               "                         first, and a peer's store is refused so that it\n"
               "                         tries the next node. Files you put are not counted.\n"
               "  --replicate-interval SECONDS  how often to check that each copy this\n"
               "                         node keeps is on the closest live nodes, and to\n"
               "                         store it on those that lack it (nodes that died,\n"
               "                         or joined closer to it); default 3600, 0: never\n"
               "  --republish-interval SECONDS  how often to store the files published from\n"
               "                         DIR again, so their copies do not expire (they\n"
               "                         live 'ttl' seconds, 86400 by default, once stored);\n"
               "                         default half the ttl, 0: never\n"
               "  --advertise HOST:PORT  the address this node is reached at from outside its\n"
               "                         local network (a NAT's forwarded port): peers hand\n"
               "                         it out to nodes elsewhere, and this node's local\n"
               "                         address to those on its network or in its region\n"
               "  --region N             the region this node is in, 1..65535 (a site, say):\n"
               "                         peers of the same region get its local address\n"
               "HOST is an address (192.0.2.7, [::1]) or a name, resolved once at start.\n"
               "DIR/config may set the same: lines 'listen HOST:PORT', 'bootstrap HOST:PORT',\n"
               "'log_level LEVEL', 'store_max SIZE', 'network_key FILE' (relative: to DIR),\n"
               "'replicate_interval SECONDS', 'republish_interval SECONDS', 'ttl SECONDS'\n"
               "(of the copies a put stores, 1..86400), 'copies N' (how many nodes keep\n"
               "each chunk of a put, 1..20, default 8), 'advertise HOST:PORT' and 'region N'.\n"
               "The copies kept for others survive a restart: the daemon serves them again\n"
               "at once (they expire 24 h after they were last stored).\n"
               "The daemon saves the peers it knows to DIR/peers (every 5 minutes and when it\n"
               "stops) and, when it starts, also joins through those that still answer.\n"
               "Control socket: DIR/emofs.sock. Exit codes: 0 stopped cleanly, 2 usage (or\n"
               "a bad config line), 7 the data directory is in use, 1 cannot start (the\n"
               "address is in use, say).\n");
    return code;
}

/* Logs a warning if the data directory (made by the user: emofs makes it
 * 0700) lets other users in. What emofs writes in it is 0600 and its
 * directories 0700 anyway; only the names at its top would show. */
static void warn_if_shared(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) == 0 && (st.st_mode & 077) != 0)
        log_msg(LOG_WARN,
                "%s can be entered by other users (mode %03o); what emofs writes in it is "
                "private, but chmod 700 %s keeps even its names to you",
                dir, (unsigned)(st.st_mode & 0777), dir);
}

enum {
    DAEMON_OPT_LOG_LEVEL = CLI_OPT_OWN,
    DAEMON_OPT_STORE_MAX,
    DAEMON_OPT_REPLICATE,
    DAEMON_OPT_REPUBLISH,
    DAEMON_OPT_ADVERTISE,
    DAEMON_OPT_REGION
};
static const opt_spec_t daemon_opts[] = {
    CLI_OPT_HELP_SPEC,
    CLI_OPT_DATA_SPEC,
    {"--bootstrap", NULL, OPT_VALUE, CLI_OPT_BOOTSTRAP},
    {"--listen", NULL, OPT_VALUE, CLI_OPT_LISTEN},
    {"--network-key", NULL, OPT_VALUE, CLI_OPT_NETWORK_KEY},
    {"--log-level", NULL, OPT_VALUE, DAEMON_OPT_LOG_LEVEL},
    {"--store-max", NULL, OPT_VALUE, DAEMON_OPT_STORE_MAX},
    {"--replicate-interval", NULL, OPT_VALUE, DAEMON_OPT_REPLICATE},
    {"--republish-interval", NULL, OPT_VALUE, DAEMON_OPT_REPUBLISH},
    {"--advertise", NULL, OPT_VALUE, DAEMON_OPT_ADVERTISE},
    {"--region", NULL, OPT_VALUE, DAEMON_OPT_REGION},
    OPT_TABLE_END,
};

int emofs_daemon_main(int argc, char **argv)
{
    daemon_t d;
    emofs_node_opts_t opts;
    char err_text[512] = "", addr[DHT_ADDRSTRLEN], hex[65], listen_text[DHT_ADDRSTRLEN];
    ctl_server_events_t events = {on_stop_requested, on_server_idle, &d};
    char *sock_path;
    long holder = 0;
    opt_parser_t p;
    int err, id;

    memset(&d, 0, sizeof(d));
    memset(&opts, 0, sizeof(opts));
    opts.daemon = 1;
    opt_init(&p, argc, argv, 1, "daemon", daemon_opts, stderr);
    while ((id = opt_next(&p)) != OPT_END) {
        if (id == OPT_ERROR)
            return EXIT_USAGE;
        if (id == CLI_OPT_HELP)
            return daemon_usage(stdout, 0);
        if (id == CLI_OPT_LISTEN) {
            dht_addr_t la;
            if (hostaddr_option(p.name, p.value, &la) != 0)
                return EXIT_USAGE;
            opts.listen = dht_addr_format(&la, listen_text);
        } else if (id == CLI_OPT_BOOTSTRAP) {
            if (opts.n_bootstrap == EMOFS_MAX_BOOTSTRAP)
                return cli_fail(EXIT_USAGE, "at most %d --bootstrap peers", EMOFS_MAX_BOOTSTRAP);
            if (hostaddr_option(p.name, p.value, &opts.bootstrap[opts.n_bootstrap++]) != 0)
                return EXIT_USAGE;
        } else if (id == CLI_OPT_DATA) {
            opts.dir = p.value;
        } else if (id == CLI_OPT_NETWORK_KEY) {
            opts.network_key = p.value;
        } else if (id == DAEMON_OPT_STORE_MAX) {
            if (emofs_parse_size(p.value, &opts.store_max) != 0 ||
                opts.store_max < EMOFS_STORE_MAX_MIN)
                return cli_fail(EXIT_USAGE,
                                "bad --store-max '%s' (want a size of at least 16M: 500M, 20G)",
                                p.value);
        } else if (id == DAEMON_OPT_REPLICATE || id == DAEMON_OPT_REPUBLISH) {
            char *end;
            unsigned long v = strtoul(p.value, &end, 10);
            if (p.value[0] < '0' || p.value[0] > '9' || *end != '\0' || v > EMOFS_REPLICATE_MAX_S)
                return cli_fail(EXIT_USAGE, "bad %s '%s' (want seconds, 0..2592000)", p.name,
                                p.value);
            if (id == DAEMON_OPT_REPLICATE) {
                opts.replicate_interval_s = (unsigned)v;
                opts.replicate_set = 1;
            } else {
                opts.republish_interval_s = (unsigned)v;
                opts.republish_set = 1;
            }
        } else if (id == DAEMON_OPT_ADVERTISE) {
            if (hostaddr_option(p.name, p.value, &opts.advertise) != 0)
                return EXIT_USAGE;
        } else if (id == DAEMON_OPT_REGION) {
            char *end;
            unsigned long v = strtoul(p.value, &end, 10);
            if (p.value[0] < '1' || p.value[0] > '9' || *end != '\0' || v > 65535)
                return cli_fail(EXIT_USAGE, "bad --region '%s' (want a number, 1..65535)", p.value);
            opts.region = (unsigned)v;
        } else if (id == DAEMON_OPT_LOG_LEVEL) {
            log_level_t level;
            if (log_level_parse(p.value, &level) != 0)
                return cli_fail(EXIT_USAGE,
                                "bad --log-level '%s' (want error, warn, info or debug)", p.value);
            log_set_level(level);
            opts.log_level_set = 1;
        } else {
            return cli_fail(EXIT_USAGE,
                            "daemon: unexpected argument '%s' (see emofs daemon --help)", p.value);
        }
    }
    if (opts.dir == NULL && (opts.dir = cli_default_dir()) == NULL)
        return cli_fail(EXIT_USAGE, "no data directory: set --data, $EMOFS_HOME or $HOME");
    signal(SIGPIPE, SIG_IGN);
    opts.peer_event = on_peer_event;
    d.loop = uv_default_loop();
    err = emofs_node_open(&d.node, d.loop, &opts, &holder, err_text, sizeof(err_text));
    if (err)
        return cli_fail(cli_open_exit_code(err), "%s", err_text);
    sock_path = malloc(strlen(opts.dir) + sizeof(CTL_SOCK_NAME) + 2);
    if (sock_path == NULL)
        return cli_fail(EXIT_FAILURE, "out of memory");
    sprintf(sock_path, "%s/%s", opts.dir, CTL_SOCK_NAME);
    /* We hold the directory's lock: a socket file left there is stale. */
    err = ctl_server_start(&d.server, d.loop, &d.node, sock_path, &events);
    if (err != 0) {
        cli_fail(EXIT_FAILURE, "cannot serve the control socket %s: %s", sock_path,
                 uv_strerror(err));
        emofs_node_close(&d.node);
        uv_run(d.loop, UV_RUN_DEFAULT);
        free(sock_path);
        return EXIT_FAILURE;
    }
    uv_signal_init(d.loop, &d.sigint);
    uv_signal_init(d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    dht_id_to_hex(dht_self(d.node.dht), hex);
    log_msg(LOG_INFO, "started: node %s listening on %s, control socket %s, pid %ld", hex,
            dht_addr_format(&d.node.addr, addr), sock_path, (long)getpid());
    warn_if_shared(d.node.dir);
    if (d.node.advertise.family != 0 || d.node.region != 0) {
        char adv[DHT_ADDRSTRLEN] = "none";
        if (d.node.advertise.family != 0)
            dht_addr_format(&d.node.advertise, adv);
        log_msg(LOG_INFO,
                "announcing global address %s, region %u (peers elsewhere are handed "
                "the global address, peers on this network or region the local one)",
                adv, d.node.region);
    }
    if (d.node.private_network) {
        /* A fingerprint, not the key: the same on every machine of the network. */
        dht_id_t fp;
        dht_id_from_bytes(&fp, d.node.network_key, sizeof(d.node.network_key));
        dht_id_to_hex(&fp, hex);
        hex[16] = '\0';
        log_msg(LOG_INFO, "private network: key fingerprint %s; only its nodes are heard", hex);
    }
    log_msg(LOG_INFO,
            "holding %llu replicas (%.1f MiB) for others from %s/replicas; quota %.1f MiB",
            (unsigned long long)d.node.replicas_loaded,
            (double)d.node.replicas_loaded_bytes / (1 << 20), d.node.dir,
            (double)d.node.store_max / (1 << 20));
    log_msg(LOG_INFO, "checking the copies every %u s", d.node.replicate_interval_s);
    emofs_node_bootstrap(&d.node, on_joined, &d);
    restore_peers(&d);
    start_save_timer(&d);
    republisher_start(&d.republisher, d.loop, &d.node);
    uv_run(d.loop, UV_RUN_DEFAULT);
    uv_loop_close(d.loop);
    free(sock_path);
    log_msg(LOG_INFO, "stopped");
    return 0;
}
