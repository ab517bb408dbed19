/*
 * Fuzz target: a whole node under hostile input. The node has a peer in
 * its table, an application for routed messages, and a put, a batch of
 * puts (dht_put_many), a get, a provide, a search for providers, a get
 * from the peer alone and a route in flight, so replies can match real
 * requests. The input is a sequence of chunks:
 *
 *   kind u8, len u16 (little-endian), len bytes
 *
 * kind bit 0: copy the txid of the node's latest request into bytes 4..7
 *             (so the chunk can pass reply matching);
 * kind bit 1: deliver as a stream message instead of a datagram;
 * kind bit 2: deliver from the peer's address (else a stranger's);
 * kind bits 3..7: advance the clock by that many 100 ms steps first.
 *
 * Any crash, sanitizer report or leak is a bug; the node must also still
 * answer a PING afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "node.h"

typedef struct sink {
    uint32_t last_txid;
    int replies;
} sink_t;

static int on_send(void *arg, const dht_addr_t *to, dht_transport_t tr, const uint8_t *buf,
                   size_t len)
{
    sink_t *s = arg;

    (void)to;
    (void)tr;
    if (len >= 8 && !DHT__IS_REPLY(buf[3]))
        s->last_txid = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 |
                       (uint32_t)buf[7] << 24;
    if (len >= 8 && buf[3] == DHT__PONG)
        s->replies++;
    return 0;
}

static void on_providers(int status, const dht_provider_t *p, size_t n, void *arg)
{
    (void)status;
    (void)p;
    (void)n;
    (void)arg;
}

static void on_put(int status, unsigned stored, void *arg)
{
    (void)status;
    (void)stored;
    (void)arg;
}

static void on_get(int status, const dht_value_t *v, size_t n, void *arg)
{
    (void)status;
    (void)v;
    (void)n;
    (void)arg;
}

static void on_route(int status, const dht_id_t *node, void *arg)
{
    (void)status;
    (void)node;
    (void)arg;
}

/* An application that changes what passes (appends a byte when there is
 * room) and drops a message whose first byte is 'd'. */
static int app_forward(void *arg, const dht_id_t *key, uint8_t *msg, size_t *len,
                       const dht_id_t *next)
{
    (void)arg;
    (void)key;
    (void)next;
    if (*len > 0 && msg[0] == 'd')
        return 1;
    if (*len < DHT_ROUTE_MAX)
        msg[(*len)++] = '+';
    return 0;
}

/* Routes an answer back, as an application may from this callback. */
static void app_deliver(void *arg, const dht_id_t *key, const uint8_t *msg, size_t len,
                        const dht_id_t *origin)
{
    dht_t *dht = *(dht_t **)arg;

    (void)key;
    if (len > 0 && msg[0] == 'a')
        dht_route(dht, origin, msg, len, on_route, NULL);
}

/* A PING from a fresh address, padded to its PONG's size (schema/wire.md
 * 2.3), must still get its PONG. */
static void check_alive(dht_t *dht, sink_t *sink, uint64_t now)
{
    dht_addr_t from;
    dht__msg_t m;
    uint8_t buf[DHT_MAX_DATAGRAM];
    size_t len;
    int before = sink->replies;

    memset(&m, 0, sizeof(m));
    m.type = DHT__PING;
    m.txid = 7;
    m.pad = 19;
    memset(m.sender.b, 0x77, DHT_ID_LEN);
    len = dht__wire_encode(&m, buf, sizeof(buf));
    dht_addr_parse(&from, "192.0.2.77:7777");
    dht_receive(dht, now, buf, len, &from, DHT_TRANSPORT_DATAGRAM);
    if (sink->replies != before + 1)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sink_t sink = {0, 0};
    dht_io_t io = {on_send, NULL, NULL, &sink};
    dht_config_t cfg;
    static dht_t *dht;
    dht_addr_t peer, stranger;
    dht_id_t peer_id, key;
    uint64_t now = 1000;

    dht_config_init(&cfg);
    cfg.seed = 1;
    cfg.max_value_size = 64 * 1024;
    cfg.rate_limit = 0;
    cfg.route_forward = app_forward;
    cfg.route_deliver = app_deliver;
    cfg.route_arg = &dht;
    if (dht_new(&dht, &cfg, &io, now) != 0)
        abort();
    memset(peer_id.b, 0xab, DHT_ID_LEN);
    dht_addr_parse(&peer, "10.0.0.1:4000");
    dht_addr_parse(&stranger, "[2001:db8::1]:4000");
    dht_insert_node(dht, &peer_id, &peer, now);
    dht_id_from_bytes(&key, "key", 3);
    dht_put(dht, &key, "value", 5, 60, on_put, NULL);
    {
        dht_put_item_t items[3] = {
            {.value = "one", .len = 3}, {.value = "two", .len = 3}, {.value = "three", .len = 5}};
        for (int i = 0; i < 3; i++)
            dht_id_from_bytes(&items[i].key, items[i].value, items[i].len);
        dht_put_many(dht, items, 3, 60, NULL, on_put); /* STORE_MANYs to the peer */
    }
    dht_get(dht, &key, on_get, NULL);
    dht_provide(dht, &key, 4100, 60, on_put, NULL);     /* PROVIDEs to the peer */
    dht_find_providers(dht, &key, on_providers, NULL);  /* FIND_PROVIDERS */
    dht_get_from(dht, &peer, &key, NULL, on_get, NULL); /* one node asked */
    dht_route(dht, &key, "routed", 6, on_route, NULL);
    while (size >= 3) {
        uint8_t kind = data[0];
        size_t len = (size_t)data[1] | (size_t)data[2] << 8;
        uint8_t *msg;
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        msg = malloc(len ? len : 1);
        if (msg == NULL)
            abort();
        memcpy(msg, data, len);
        if ((kind & 1) && len >= 8) {
            msg[4] = (uint8_t)sink.last_txid;
            msg[5] = (uint8_t)(sink.last_txid >> 8);
            msg[6] = (uint8_t)(sink.last_txid >> 16);
            msg[7] = (uint8_t)(sink.last_txid >> 24);
        }
        now += (uint64_t)(kind >> 3) * 100;
        dht_periodic(dht, now);
        dht_receive(dht, now, msg, len, (kind & 4) ? &peer : &stranger,
                    (kind & 2) ? DHT_TRANSPORT_STREAM : DHT_TRANSPORT_DATAGRAM);
        free(msg);
        data += len;
        size -= len;
    }
    check_alive(dht, &sink, now);
    dht_free(dht);
    return 0;
}
