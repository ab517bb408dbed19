/*
 * Saved peers (schema/peers.md): dht_export_peers writes the nodes worth
 * trying after a restart, dht_import_peers checks such a list and rejoins
 * through it with the bootstrap operation of ops.c.
 */
#include "peers.h"

#include "node.h"

#include <stdlib.h>
#include <string.h>

static size_t ip_len(uint8_t family)
{
    return family == DHT_AF_INET6 ? 16 : 4;
}

/* id, family, ip, port */
static size_t entry_size(uint8_t family)
{
    return DHT_ID_LEN + 1 + ip_len(family) + 2;
}

static int family_ok(uint8_t family)
{
    return family == DHT_AF_INET || family == DHT_AF_INET6;
}

size_t dht__peers_size(const dht_node_info_t *nodes, size_t n)
{
    size_t size = DHT__PEERS_HEADER;

    for (size_t i = 0; i < n; i++)
        size += entry_size(nodes[i].addr.family);
    return size;
}

size_t dht__peers_encode(const dht_node_info_t *nodes, size_t n, uint8_t *buf, size_t cap)
{
    size_t off = DHT__PEERS_HEADER;

    if (n > DHT_PEERS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!family_ok(nodes[i].addr.family))
            return 0;
    if (dht__peers_size(nodes, n) > cap)
        return 0;
    memcpy(buf, DHT__PEERS_MAGIC, 4);
    buf[4] = DHT__PEERS_VERSION;
    buf[5] = (uint8_t)n;
    buf[6] = (uint8_t)(n >> 8);
    for (size_t i = 0; i < n; i++) {
        const dht_addr_t *a = &nodes[i].addr;
        memcpy(buf + off, nodes[i].id.b, DHT_ID_LEN);
        off += DHT_ID_LEN;
        buf[off++] = a->family;
        memcpy(buf + off, a->ip, ip_len(a->family));
        off += ip_len(a->family);
        buf[off++] = (uint8_t)a->port;
        buf[off++] = (uint8_t)(a->port >> 8);
    }
    return off;
}

int dht__peers_decode(const uint8_t *buf, size_t len, dht_node_info_t *out, size_t *n)
{
    size_t count, off = DHT__PEERS_HEADER;

    if (len < DHT__PEERS_HEADER || memcmp(buf, DHT__PEERS_MAGIC, 4) != 0 ||
        buf[4] != DHT__PEERS_VERSION)
        return DHT_EPROTO;
    count = (size_t)buf[5] | (size_t)buf[6] << 8;
    if (count > DHT_PEERS_MAX)
        return DHT_EPROTO;
    for (size_t i = 0; i < count; i++) {
        dht_node_info_t *e = &out[i];
        uint8_t family;
        /* The family says how long the entry is: read it first. */
        if (len - off < DHT_ID_LEN + 1)
            return DHT_EPROTO;
        family = buf[off + DHT_ID_LEN];
        if (!family_ok(family) || len - off < entry_size(family))
            return DHT_EPROTO;
        memset(e, 0, sizeof(*e));
        memcpy(e->id.b, buf + off, DHT_ID_LEN);
        off += DHT_ID_LEN + 1;
        e->addr.family = family;
        memcpy(e->addr.ip, buf + off, ip_len(family));
        off += ip_len(family);
        e->addr.port = (uint16_t)(buf[off] | buf[off + 1] << 8);
        off += 2;
        if (e->addr.port == 0)
            return DHT_EPROTO;
    }
    if (off != len)
        return DHT_EPROTO;
    *n = count;
    return 0;
}

/* ---- export ---- */

/* Which group a node of the table goes in: 0 good, 1 questionable but
 * answered us once, -1 not saved (bad, never answered us, or hearsay). */
static int group(const dht__rt_node_t *n, uint64_t now)
{
    dht__rt_state_t st = dht__rt_state(n, now);

    if (n->learned || st == DHT__RT_BAD)
        return -1;
    if (st == DHT__RT_GOOD)
        return 0;
    return n->replied ? 1 : -1;
}

int dht_export_peers(const dht_t *dht, uint64_t now_ms, uint8_t *buf, size_t cap, size_t *len)
{
    dht__rt_node_t *all;
    dht_node_info_t *keep;
    size_t total, n_all, n = 0, need;
    int err = DHT_ENOMEM;

    if (dht == NULL || len == NULL || (buf == NULL && cap > 0))
        return DHT_EINVAL;
    /* Every node of the table, nearest to the own id first. */
    total = dht__rt_count(dht->rt, now_ms, NULL, NULL, NULL);
    all = malloc((total ? total : 1) * sizeof(*all));
    keep = malloc(DHT_PEERS_MAX * sizeof(*keep));
    if (all == NULL || keep == NULL)
        goto done;
    n_all = dht__rt_closest(dht->rt, &dht->self, now_ms, all, total);
    for (int g = 0; g <= 1; g++) {
        for (size_t i = 0; i < n_all && n < DHT_PEERS_MAX; i++) {
            if (group(&all[i], now_ms) != g)
                continue;
            keep[n].id = all[i].id;
            keep[n].addr = all[i].addr;
            n++;
        }
    }
    need = dht__peers_size(keep, n);
    *len = need;
    if (need > cap) {
        err = DHT_ETOOBIG;
        goto done;
    }
    dht__peers_encode(keep, n, buf, cap);
    err = (int)n;
done:
    free(all);
    free(keep);
    return err;
}

/* ---- import ---- */

/* @return 1 if id is among ids[0..n). */
static int seen(const dht_id_t *ids, size_t n, const dht_id_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (dht_id_cmp(&ids[i], id) == 0)
            return 1;
    return 0;
}

int dht_import_peers(dht_t *dht, const uint8_t *buf, size_t len, dht_status_cb cb, void *arg)
{
    dht_node_info_t *nodes;
    dht_addr_t *addrs;
    dht_id_t *ids;
    size_t n = 0, m = 0;
    int err = DHT_ENOMEM;

    if (dht == NULL || cb == NULL || (buf == NULL && len > 0))
        return DHT_EINVAL;
    if (len < DHT__PEERS_HEADER)
        return DHT_EPROTO; /* buf may be NULL */
    nodes = malloc(DHT_PEERS_MAX * sizeof(*nodes));
    addrs = malloc(DHT_PEERS_MAX * sizeof(*addrs));
    ids = malloc(DHT_PEERS_MAX * sizeof(*ids));
    if (nodes == NULL || addrs == NULL || ids == NULL)
        goto done;
    err = dht__peers_decode(buf, len, nodes, &n);
    if (err)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (dht_id_cmp(&nodes[i].id, &dht->self) == 0 || seen(ids, m, &nodes[i].id))
            continue;
        ids[m] = nodes[i].id;
        addrs[m] = nodes[i].addr;
        m++;
    }
    err = m == 0 ? DHT_ENOPEERS : dht__bootstrap_start(dht, addrs, ids, m, cb, arg);
done:
    free(nodes);
    free(addrs);
    free(ids);
    return err;
}
