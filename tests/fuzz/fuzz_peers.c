/*
 * Fuzz target for saved peer lists (schema/peers.md): whatever the bytes,
 * the codec must not crash or read outside them, a list that decodes must
 * be canonical (its size is its length and it re-encodes to the same
 * bytes), and dht_import_peers must agree with the codec: DHT_EPROTO and
 * nothing sent for what does not decode; for what does, one PING per
 * distinct peer (not this node) and exactly one callback, DHT_ENOPEERS
 * when nobody answers, after which the node still answers a PING.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "node.h"
#include "peers.h"

typedef struct sink {
    unsigned pings, pongs;
    int calls, status;
} sink_t;

static int on_send(void *arg, const dht_addr_t *to, dht_transport_t tr, const uint8_t *buf,
                   size_t len)
{
    sink_t *s = arg;

    (void)to;
    (void)tr;
    if (len >= 4 && (buf[3] & ~DHT__WIRE_REQUEST_BITS) == DHT__PING) /* padded, say */
        s->pings++;
    if (len >= 4 && buf[3] == DHT__PONG)
        s->pongs++;
    return 0;
}

static void on_done(int status, void *arg)
{
    sink_t *s = arg;

    s->calls++;
    s->status = status;
}

static void check_codec(const uint8_t *data, size_t size, dht_node_info_t *nodes, int ok, size_t n)
{
    uint8_t *out;

    if (!ok)
        return;
    if (dht__peers_size(nodes, n) != size)
        abort();
    out = malloc(size);
    if (out == NULL)
        abort();
    if (dht__peers_encode(nodes, n, out, size) != size || memcmp(out, data, size) != 0)
        abort();
    if (dht__peers_encode(nodes, n, out, size - 1) != 0)
        abort();
    free(out);
}

/* A PING from a stranger, padded to its PONG's size (schema/wire.md
 * 2.3), must still get its PONG. */
static void check_alive(dht_t *dht, sink_t *s, uint64_t now)
{
    dht__msg_t m;
    dht_addr_t from;
    uint8_t buf[DHT_MAX_DATAGRAM];
    size_t len;
    unsigned before = s->pongs;

    memset(&m, 0, sizeof(m));
    m.type = DHT__PING;
    m.txid = 7;
    m.pad = 19;
    memset(m.sender.b, 0x77, DHT_ID_LEN);
    len = dht__wire_encode(&m, buf, sizeof(buf));
    dht_addr_parse(&from, "192.0.2.77:7777");
    dht_receive(dht, now, buf, len, &from, DHT_TRANSPORT_DATAGRAM);
    if (s->pongs != before + 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink_t sink = {0, 0, 0, 0};
    dht_io_t io = {on_send, NULL, NULL, &sink};
    dht_node_info_t *nodes = malloc(DHT_PEERS_MAX * sizeof(*nodes));
    dht_config_t cfg;
    dht_t *dht;
    size_t n = 0, distinct = 0;
    uint64_t now = 1000;
    int ok, err;

    if (nodes == NULL)
        abort();
    dht_config_init(&cfg);
    cfg.seed = 1;
    cfg.has_id = 1;
    memset(cfg.id.b, 0x33, DHT_ID_LEN); /* one_ipv4.hex's peer: skipped */
    if (dht_new(&dht, &cfg, &io, now) != 0)
        abort();
    ok = dht__peers_decode(data, size, nodes, &n) == 0;
    check_codec(data, size, nodes, ok, n);
    for (size_t i = 0; ok && i < n; i++) {
        int again = dht_id_cmp(&nodes[i].id, &cfg.id) == 0;
        for (size_t j = 0; j < i && !again; j++)
            again = dht_id_cmp(&nodes[i].id, &nodes[j].id) == 0;
        distinct += !again;
    }
    err = dht_import_peers(dht, size ? data : NULL, size, on_done, &sink);
    if (!ok && (err != DHT_EPROTO || sink.pings != 0))
        abort();
    if (ok && err != (distinct ? 0 : DHT_ENOPEERS))
        abort();
    if (ok && sink.pings != distinct)
        abort();
    /* Nobody answers: every ping times out, the callback runs once. */
    for (int i = 0; i < 100 && sink.calls == 0; i++)
        now = dht_periodic(dht, now);
    if (sink.calls != (err == 0) || (err == 0 && sink.status != DHT_ENOPEERS))
        abort();
    check_alive(dht, &sink, now);
    dht_free(dht);
    free(nodes);
    return 0;
}
