/* A fake network for libdht cores: see fake_net.h. */
#include "fake_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- io callbacks ---- */

static int queue_push(fake_net_t *net, const fake_msg_t *m)
{
    if (net->head > 0 && net->len == net->cap) {
        /* Reuse the room of the messages already taken. */
        memmove(net->q, net->q + net->head, (net->len - net->head) * sizeof(*net->q));
        net->len -= net->head;
        net->head = 0;
    }
    if (net->len == net->cap) {
        size_t cap = net->cap ? net->cap * 2 : 64;
        fake_msg_t *q = realloc(net->q, cap * sizeof(*q));
        if (q == NULL)
            return DHT_ENOMEM;
        net->q = q;
        net->cap = cap;
    }
    net->q[net->len++] = *m;
    return 0;
}

static int io_send(void *arg, const dht_addr_t *to, dht_transport_t transport, const uint8_t *buf,
                   size_t len)
{
    fake_node_t *node = arg;
    fake_net_t *net = node->net;
    fake_msg_t m;

    if (node->fail_send) {
        node->send_failures++;
        return DHT_EIO;
    }
    m.from = node->addr;
    m.to = *to;
    m.transport = transport;
    m.len = len;
    m.buf = malloc(len ? len : 1);
    if (m.buf == NULL)
        return DHT_ENOMEM;
    memcpy(m.buf, buf, len);
    if (queue_push(net, &m) != 0) {
        free(m.buf);
        return DHT_ENOMEM;
    }
    node->sends++;
    if (transport == DHT_TRANSPORT_STREAM)
        net->stream_msgs++;
    else if (len > DHT_MAX_DATAGRAM + node->tag_len)
        net->oversize_datagrams++;
    return 0;
}

static void io_wake(void *arg, uint64_t when_ms)
{
    fake_node_t *node = arg;

    node->wakes++;
    node->last_wake = when_ms;
}

static uint64_t io_clock(void *arg)
{
    fake_node_t *node = arg;

    return node->net->now;
}

/* ---- the net ---- */

fake_net_t *fake_net_new(uint64_t start_ms)
{
    fake_net_t *net = calloc(1, sizeof(*net));

    if (net)
        net->now = start_ms;
    return net;
}

void fake_net_free(fake_net_t *net)
{
    if (net == NULL)
        return;
    for (size_t i = 0; i < net->n; i++)
        dht_free(net->nodes[i].dht);
    fake_clear(net);
    free(net->q);
    free(net->reply_buf);
    free(net);
}

void fake_config(dht_config_t *cfg, uint64_t seed, const dht_id_t *id)
{
    dht_config_init(cfg);
    cfg->seed = seed;
    if (id) {
        cfg->id = *id;
        cfg->has_id = 1;
    }
}

int fake_add(fake_net_t *net, const char *hostport, const dht_config_t *cfg)
{
    fake_node_t *node;
    dht_config_t def;
    dht_io_t io;
    int err;

    if (net->n == FAKE_MAX_NODES)
        return DHT_ENOMEM;
    node = &net->nodes[net->n];
    memset(node, 0, sizeof(*node));
    if (dht_addr_parse(&node->addr, hostport) != 0)
        return DHT_EADDR;
    if (cfg == NULL) {
        fake_config(&def, net->n + 1, NULL);
        cfg = &def;
    }
    node->net = net;
    node->online = 1;
    node->tag_len = cfg->network_key_len > 0 ? DHT_NETWORK_TAG_LEN : 0;
    io.send = io_send;
    io.wake = io_wake;
    io.clock = io_clock;
    io.arg = node;
    err = dht_new(&node->dht, cfg, &io, net->now);
    if (err)
        return err;
    return (int)net->n++;
}

void fake_remove(fake_net_t *net, int i)
{
    dht_t *d = net->nodes[i].dht;

    net->nodes[i].dht = NULL;
    net->nodes[i].online = 0;
    dht_free(d);
}

dht_t *fake_dht(fake_net_t *net, int i)
{
    return net->nodes[i].dht;
}

const dht_addr_t *fake_addr_of(const fake_net_t *net, int i)
{
    return &net->nodes[i].addr;
}

int fake_find(const fake_net_t *net, const dht_addr_t *addr)
{
    for (size_t i = 0; i < net->n; i++)
        if (net->nodes[i].dht && dht_addr_equal(&net->nodes[i].addr, addr))
            return (int)i;
    return -1;
}

dht_addr_t fake_addr(const char *hostport)
{
    dht_addr_t a;

    if (dht_addr_parse(&a, hostport) != 0) {
        fprintf(stderr, "fake_addr: cannot parse %s\n", hostport);
        abort();
    }
    return a;
}

void fake_id_fill(dht_id_t *id, uint8_t b)
{
    memset(id->b, b, sizeof(id->b));
}

/* ---- the queue ---- */

size_t fake_queued(const fake_net_t *net)
{
    return net->len - net->head;
}

const fake_msg_t *fake_peek(const fake_net_t *net, size_t i)
{
    return i < fake_queued(net) ? &net->q[net->head + i] : NULL;
}

int fake_pop(fake_net_t *net, fake_msg_t *out)
{
    if (net->head == net->len)
        return 0;
    *out = net->q[net->head++];
    if (net->head == net->len)
        net->head = net->len = 0;
    return 1;
}

void fake_msg_free(fake_msg_t *m)
{
    free(m->buf);
    m->buf = NULL;
}

void fake_clear(fake_net_t *net)
{
    fake_msg_t m;

    while (fake_pop(net, &m))
        fake_msg_free(&m);
}

void fake_drop(fake_net_t *net, size_t i)
{
    size_t at = net->head + i;

    if (at >= net->len)
        return;
    free(net->q[at].buf);
    memmove(&net->q[at], &net->q[at + 1], (net->len - at - 1) * sizeof(*net->q));
    net->len--;
    if (net->head == net->len)
        net->head = net->len = 0;
}

static int msg_matches(const fake_msg_t *q, const dht_addr_t *to, int type, dht__msg_t *m)
{
    if (to && !dht_addr_equal(&q->to, to))
        return 0;
    if (type < 0 && m == NULL)
        return 1;
    if (dht__wire_decode(m, q->buf, q->len) != 0)
        return type < 0;
    return type < 0 || m->type == type;
}

size_t fake_count(const fake_net_t *net, const dht_addr_t *to, int type)
{
    dht__msg_t *m = malloc(sizeof(*m));
    size_t n = 0;

    if (m == NULL)
        return 0;
    for (size_t i = net->head; i < net->len; i++)
        n += (size_t)msg_matches(&net->q[i], to, type, m);
    free(m);
    return n;
}

int fake_find_msg(const fake_net_t *net, const dht_addr_t *to, int type, dht__msg_t *out)
{
    for (size_t i = net->head; i < net->len; i++)
        if (msg_matches(&net->q[i], to, type, out) &&
            dht__wire_decode(out, net->q[i].buf, net->q[i].len) == 0)
            return (int)(i - net->head);
    return -1;
}

/* ---- delivery and time ---- */

void fake_nat_forward(fake_net_t *net, const char *outside, int i, const char *inside)
{
    net->nat.node = i;
    net->nat.outside = fake_addr(outside);
    net->nat.inside = fake_addr(inside);
    net->has_nat = 1;
}

int fake_deliver(fake_net_t *net, const fake_msg_t *in)
{
    fake_msg_t nat = *in;
    const fake_msg_t *m = in;
    int src, dst;

    if (net->has_nat && dht_addr_equal(&in->to, &net->nat.outside)) { /* in through the NAT */
        net->nat.peer = in->from;
        nat.from = net->nat.inside;
        nat.to = net->nodes[net->nat.node].addr;
        m = &nat;
    } else if (net->has_nat && dht_addr_equal(&in->to, &net->nat.inside) &&
               dht_addr_equal(&in->from, &net->nodes[net->nat.node].addr)) { /* and back out */
        nat.from = net->nat.outside;
        nat.to = net->nat.peer;
        m = &nat;
    }
    src = fake_find(net, &m->from);
    dst = fake_find(net, &m->to);

    if (dst < 0 || !net->nodes[dst].online || (src >= 0 && !net->nodes[src].online)) {
        net->lost++;
        if (net->icmp && dst >= 0 && src >= 0 && net->nodes[src].online &&
            m->transport == DHT_TRANSPORT_DATAGRAM) {
            net->icmp_reports++;
            dht_unreachable(net->nodes[src].dht, net->now, &m->to);
        }
        return 1;
    }
    net->delivered++;
    return dht_receive(net->nodes[dst].dht, net->now, m->buf, m->len, &m->from, m->transport);
}

size_t fake_pump(fake_net_t *net)
{
    size_t n = 0;
    fake_msg_t m;

    while (fake_pop(net, &m)) {
        fake_deliver(net, &m);
        fake_msg_free(&m);
        n++;
    }
    return n;
}

void fake_set_time(fake_net_t *net, uint64_t now_ms)
{
    if (now_ms > net->now)
        net->now = now_ms;
    for (size_t i = 0; i < net->n; i++)
        if (net->nodes[i].dht)
            dht_periodic(net->nodes[i].dht, net->now);
}

void fake_advance(fake_net_t *net, uint64_t ms)
{
    fake_set_time(net, net->now + ms);
}

int fake_run(fake_net_t *net, const int *flag, uint64_t max_ms)
{
    uint64_t end = net->now + max_ms;

    for (;;) {
        uint64_t next = UINT64_MAX;

        fake_pump(net);
        if (flag && *flag)
            return 1;
        if (net->now >= end)
            return 0;
        for (size_t i = 0; i < net->n; i++) {
            if (net->nodes[i].dht) {
                uint64_t d = dht_next_deadline(net->nodes[i].dht);
                if (d < next)
                    next = d;
            }
        }
        if (next <= net->now)
            next = net->now + 1;
        if (next > end)
            next = end;
        fake_set_time(net, next);
    }
}

/* ---- crafting ---- */

void fake_msg_init(dht__msg_t *m, uint8_t type, uint32_t txid, const dht_id_t *sender)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->txid = txid;
    if (sender)
        m->sender = *sender;
}

int fake_inject(fake_net_t *net, int node, const dht_addr_t *from, const dht__msg_t *m,
                dht_transport_t transport)
{
    dht__msg_t padded;
    size_t size = dht__wire_size(m);
    uint8_t *buf;
    size_t len;
    int rc;

    /* A request with no proof of address, padded to a datagram, as a
     * requester that wants any reply at all would send it (wire.md 2.3). */
    if (!net->exact && !DHT__IS_REPLY(m->type) && !m->has_proof && m->pad == 0 &&
        m->type != DHT__STORE && transport == DHT_TRANSPORT_DATAGRAM && size < DHT_MAX_DATAGRAM) {
        padded = *m;
        padded.pad = (uint16_t)(DHT_MAX_DATAGRAM - size);
        m = &padded;
        size = DHT_MAX_DATAGRAM;
    }
    buf = malloc(size ? size : 1);

    if (buf == NULL)
        return DHT_ENOMEM;
    len = dht__wire_encode(m, buf, size);
    rc = len == 0 ? DHT_EPROTO
                  : dht_receive(net->nodes[node].dht, net->now, buf, len, from, transport);
    free(buf);
    return rc;
}

int fake_request(fake_net_t *net, int node, const dht_addr_t *from, const dht__msg_t *req,
                 dht__msg_t *reply)
{
    size_t n0 = fake_queued(net);

    fake_inject(net, node, from, req, DHT_TRANSPORT_DATAGRAM);
    for (size_t i = n0; i < fake_queued(net); i++) {
        fake_msg_t *q = &net->q[net->head + i];
        size_t len = q->len;
        if (!dht_addr_equal(&q->to, from) || dht__wire_decode(reply, q->buf, q->len) != 0 ||
            !DHT__IS_REPLY(reply->type) || reply->txid != req->txid)
            continue;
        free(net->reply_buf);
        net->reply_buf = q->buf; /* keep the bytes *reply points into */
        q->buf = NULL;
        fake_drop(net, i);
        return dht__wire_decode(reply, net->reply_buf, len) == 0 ? 0 : -1;
    }
    return -1;
}

/* ---- callback recorders ---- */

void fake_ping_cb(int status, const dht_id_t *peer_id, void *arg)
{
    fake_result_t *r = arg;

    r->calls++;
    r->status = status;
    r->has_peer = peer_id != NULL;
    if (peer_id)
        r->peer = *peer_id;
}

void fake_status_cb(int status, void *arg)
{
    fake_result_t *r = arg;

    r->calls++;
    r->status = status;
}

void fake_nodes_cb(int status, const dht_node_info_t *nodes, size_t n,
                   const dht_lookup_stats_t *stats, void *arg)
{
    fake_result_t *r = arg;

    r->calls++;
    r->status = status;
    r->n_nodes = n < DHT_MAX_K ? n : DHT_MAX_K;
    if (r->n_nodes)
        memcpy(r->nodes, nodes, r->n_nodes * sizeof(*nodes));
    if (stats)
        r->stats = *stats;
}

void fake_put_cb(int status, unsigned stored, void *arg)
{
    fake_result_t *r = arg;

    r->calls++;
    r->status = status;
    r->stored = stored;
}

static void free_values(fake_result_t *r)
{
    for (size_t i = 0; i < r->n_values && i < FAKE_MAX_VALUES; i++) {
        free(r->values[i].data);
        r->values[i].data = NULL;
    }
}

void fake_get_cb(int status, const dht_value_t *values, size_t n, void *arg)
{
    fake_result_t *r = arg;

    r->calls++;
    r->status = status;
    free_values(r);
    r->n_values = n;
    for (size_t i = 0; i < n && i < FAKE_MAX_VALUES; i++) {
        fake_value_t *v = &r->values[i];
        v->len = values[i].len;
        v->ttl_s = values[i].ttl_s;
        v->hash = values[i].hash;
        v->data = malloc(v->len ? v->len : 1);
        if (v->data && v->len)
            memcpy(v->data, values[i].data, v->len);
    }
}

void fake_result_clear(fake_result_t *r)
{
    free_values(r);
    memset(r, 0, sizeof(*r));
}

int fake_result_has(const fake_result_t *r, const void *data, size_t len)
{
    for (size_t i = 0; i < r->n_values && i < FAKE_MAX_VALUES; i++)
        if (r->values[i].data && r->values[i].len == len &&
            memcmp(r->values[i].data, data, len) == 0)
            return 1;
    return 0;
}

dht_stats_t fake_stats(fake_net_t *net, int i)
{
    dht_stats_t st;

    dht_get_stats(fake_dht(net, i), net->now, &st);
    return st;
}

int fake_knows(fake_net_t *net, int i, const dht_id_t *id)
{
    dht_node_info_t out[DHT_MAX_K];
    size_t n = dht_closest_nodes(fake_dht(net, i), id, out, DHT_MAX_K);

    for (size_t j = 0; j < n; j++)
        if (dht_id_cmp(&out[j].id, id) == 0)
            return 1;
    return 0;
}

dht_id_t fake_id_b0(uint8_t b)
{
    dht_id_t id;

    memset(&id, 0, sizeof(id));
    id.b[0] = b;
    return id;
}
