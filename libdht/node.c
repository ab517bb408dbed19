/* A node's life: creation, message dispatch, timers, counters. */
#include "node.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h> /* RAND_bytes */

void dht_config_init(dht_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->k = 20;
    cfg->alpha = 3;
    cfg->timeout_ms = 1000;
    cfg->retries = 2;
    cfg->max_value_size = 1u << 20;
    cfg->store_max_bytes = 256u << 20;
    cfg->store_max_per_key = 16;
    cfg->store_value_cost = 4096;
    cfg->store_settle_ms = 3600u * 1000u;
    cfg->bucket_subnet_max = 2;
    cfg->max_ttl_s = 86400;
    cfg->max_ops = 4096;
    cfg->rate_limit = 20000;
    cfg->send_rate_limit = (size_t)128u << 20;
    cfg->replicate_interval_s = 3600;
    cfg->proximity = 1;
}

static int config_valid(const dht_config_t *c)
{
    return c->k >= 1 && c->k <= DHT_MAX_K && c->alpha >= 1 && c->alpha <= 16 &&
           c->lookup_results <= c->k && c->lookup_stale_stop <= 1000 && c->timeout_ms >= 1 &&
           c->timeout_ms <= 600000 && c->retries <= 5 && c->max_value_size >= 1 &&
           c->max_value_size <= (64u << 20) && c->store_max_per_key >= 1 &&
           c->store_max_per_key <= DHT__MAX_PER_KEY && c->store_value_cost <= c->store_max_bytes &&
           c->max_ttl_s >= 1 && c->max_ops >= 1 &&
           (c->send_rate_limit == 0 || c->send_rate_limit >= c->max_value_size) &&
           c->replicate_interval_s <= 30u * 86400u && c->region <= 65535 &&
           (c->advertise.family == 0 ||
            ((c->advertise.family == DHT_AF_INET || c->advertise.family == DHT_AF_INET6) &&
             c->advertise.port != 0)) &&
           (c->id_rule == DHT_ID_RULE_OFF || c->id_rule == DHT_ID_RULE_PUBLIC ||
            c->id_rule == DHT_ID_RULE_ALL) &&
           (c->network_key_len == 0 ||
            (c->network_key != NULL && c->network_key_len >= DHT_NETWORK_KEY_MIN &&
             c->network_key_len <= DHT_NETWORK_KEY_MAX)) &&
           (c->value_size == NULL) == (c->value_read == NULL) &&
           (c->storage.write == NULL) == (c->storage.read == NULL) &&
           (c->storage.write == NULL) == (c->storage.drop == NULL);
}

/* Seeds the PRNG and the token master secret: from the OS when seed is 0,
 * else derived from the seed so that simulations replay exactly. */
static int seed_node(dht_t *dht)
{
    uint64_t seed = dht->cfg.seed;

    if (seed == 0) {
        if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1 ||
            RAND_bytes(dht->master_secret, sizeof(dht->master_secret)) != 1)
            return DHT_EIO;
    } else {
        uint8_t material[16] = "secret";
        memcpy(material + 8, &seed, sizeof(seed));
        dht_id_from_bytes((dht_id_t *)dht->master_secret, material, sizeof(material));
    }
    dht__rng_seed(&dht->rng, seed);
    return 0;
}

/* The routing table's changes, handed to the program's peer_event. */
static void tell_peer_event(void *arg, const dht__rt_node_t *n, int added)
{
    dht_t *dht = arg;

    dht->cfg.peer_event(dht->cfg.peer_event_arg, &n->id, &n->addr, added);
}

int dht_new(dht_t **out, const dht_config_t *cfg, const dht_io_t *io, uint64_t now_ms)
{
    dht_t *dht;
    int err;

    if (out == NULL || io == NULL || io->send == NULL)
        return DHT_EINVAL;
    dht = calloc(1, sizeof(*dht));
    if (dht == NULL)
        return DHT_ENOMEM;
    if (cfg)
        dht->cfg = *cfg;
    else
        dht_config_init(&dht->cfg);
    err = DHT_EINVAL;
    if (!config_valid(&dht->cfg))
        goto fail;
    err = dht__netkey_init(dht);
    if (err)
        goto fail;
    err = DHT_EINVAL;
    dht->io = *io;
    dht->now = now_ms;
    dht->reported_deadline = UINT64_MAX;
    err = seed_node(dht);
    if (err)
        goto fail;
    if (dht->cfg.has_id)
        dht->self = dht->cfg.id;
    else
        dht__rng_bytes(&dht->rng, dht->self.b, DHT_ID_LEN);
    err = DHT_ENOMEM;
    dht->rt = dht__rt_new(&dht->self, dht->cfg.k, DHT__CACHE_SIZE);
    dht->store = dht__store_new(&dht->self, dht->cfg.store_max_bytes, dht->cfg.store_max_per_key);
    if (dht->rt == NULL || dht->store == NULL)
        goto fail;
    dht__store_set_value_cost(dht->store, dht->cfg.store_value_cost);
    dht__store_set_settle(dht->store, dht->cfg.store_settle_ms);
    dht__rt_set_subnet_limit(dht->rt, dht->cfg.bucket_subnet_max, dht->cfg.bucket_subnet_local);
    dht__rt_set_id_rule(dht->rt, dht->cfg.id_rule);
    dht__held_init(dht);
    if (dht->cfg.peer_event != NULL)
        dht__rt_set_listener(dht->rt, tell_peer_event, dht);
    dht->secret_rotated_at = now_ms;
    dht__token_tick(dht, now_ms); /* derives the first secret */
    dht->next_tick = now_ms + DHT__TICK_MS;
    dht->fill_at = UINT64_MAX;
    dht->sparse_at = UINT64_MAX;
    *out = dht;
    return 0;
fail:
    dht__rt_free(dht->rt);
    dht__store_free(dht->store);
    dht__netkey_free(dht);
    free(dht);
    return err;
}

void dht_free(dht_t *dht)
{
    if (dht == NULL || dht->closing)
        return; /* a second call, from a callback this one fired */
    dht->closing = 1;
    dht__leave_finish(dht, DHT_ECANCELED); /* a leave under way ends here */
    /* Every op that has not reported yet is marked cancelled first, so the
     * rpc handlers that run as the rpcs are cancelled leave it alone. */
    for (dht__op_t *op = dht->ops; op != NULL; op = op->next)
        dht__op_complete(dht, op, DHT_ECANCELED);
    dht__rpc_shutdown(dht);
    /* Runs the cancelled callbacks and then destroys the node. From inside
     * a callback this returns at once: the completion loop running below
     * that callback does both once the callback has returned. */
    dht__op_run_completions(dht);
}

void *dht__room_for_one(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
    size_t c;

    if (n < *cap)
        return v;
    c = *cap ? 2 * *cap : first;
    if ((v = realloc(v, c * size)) != NULL)
        *cap = c;
    return v;
}

void dht__destroy(dht_t *dht)
{
    dht__rt_free(dht->rt);
    dht__store_free(dht->store);
    dht__source_free(dht);
    dht__groups_free(dht);
    dht__provided_free(dht);
    dht__tombs_free(dht);
    dht__adverts_free(dht);
    dht__stores_free(dht);
    dht__route_free(dht);
    dht__netkey_free(dht);
    free(dht->net_rtt);
    free(dht->rate);
    free(dht);
}

uint64_t dht__now(dht_t *dht)
{
    if (dht->io.clock) {
        uint64_t t = dht->io.clock(dht->io.arg);
        if (t > dht->now)
            dht->now = t;
    }
    return dht->now;
}

uint32_t dht__timeout_for(const dht_t *dht, size_t len)
{
    if (len + DHT__WIRE_VALUE_OVERHEAD <= DHT_MAX_DATAGRAM)
        return dht->cfg.timeout_ms;
    return dht->cfg.timeout_ms * 4 + (uint32_t)(len / 256);
}

static void set_now(dht_t *dht, uint64_t now_ms)
{
    if (now_ms > dht->now)
        dht->now = now_ms;
}

uint64_t dht_next_deadline(const dht_t *dht)
{
    uint64_t d = dht->next_tick;
    uint64_t r = dht__rpc_next_deadline(dht);
    uint64_t e = dht__store_next_expiry(dht->store);
    uint64_t t = dht->secret_rotated_at + DHT__TOKEN_ROTATE_MS;

    if (dht->done_head != NULL)
        return dht->now;
    if (dht->leave.active) { /* over (cb due now), or its time runs out */
        uint64_t l = dht->leave.next >= dht->leave.n && dht->replicating == 0 ? dht->now
                                                                              : dht->leave.deadline;
        if (l < d)
            d = l;
    }
    if (dht->fill_at < d)
        d = dht->fill_at;
    if (dht->sparse_at < d)
        d = dht->sparse_at;
    if (r < d)
        d = r;
    if (e < d)
        d = e;
    if (t < d)
        d = t;
    return d;
}

void dht__rearm(dht_t *dht)
{
    uint64_t d = dht_next_deadline(dht);

    if (d < dht->reported_deadline) {
        dht->reported_deadline = d;
        if (dht->io.wake)
            dht->io.wake(dht->io.arg, d);
    }
}

int dht__send_msg(dht_t *dht, const dht_addr_t *to, const dht__msg_t *m)
{
    uint8_t small[DHT_MAX_DATAGRAM + DHT_NETWORK_TAG_LEN];
    size_t size = dht__wire_size(m);
    uint8_t *buf = small;
    size_t len;
    int err;
    dht_transport_t tr = DHT_TRANSPORT_DATAGRAM;

    if (size > DHT_MAX_DATAGRAM) {
        tr = DHT_TRANSPORT_STREAM;
        buf = malloc(size + dht->tag_len);
        if (buf == NULL)
            return DHT_ENOMEM;
    }
    len = dht__wire_encode(m, buf, size);
    if (len > 0)
        len = dht__netkey_seal(dht, buf, len);
    err = len == 0 ? DHT_EPROTO : dht->io.send(dht->io.arg, to, tr, buf, len);
    if (buf != small)
        free(buf);
    if (err < 0) {
        dht->st.send_errors++;
        return err;
    }
    dht->st.msgs_sent++;
    dht->st.bytes_sent += len;
    if (tr == DHT_TRANSPORT_STREAM)
        dht->st.stream_msgs_sent++;
    return 0;
}

int dht_receive(dht_t *dht, uint64_t now_ms, const uint8_t *buf, size_t len, const dht_addr_t *from,
                dht_transport_t transport)
{
    dht__msg_t m;
    int err;

    if (dht == NULL || buf == NULL || from == NULL)
        return DHT_EINVAL;
    set_now(dht, now_ms);
    dht->st.msgs_received++;
    dht->st.bytes_received += len;
    if (transport == DHT_TRANSPORT_STREAM)
        dht->st.stream_msgs_received++;
    if (dht__netkey_open(dht, buf, &len) != 0) {
        dht->st.dropped_unauthenticated++; /* another network's, or an outsider's */
        err = DHT_EPROTO;
    } else if (dht__wire_decode(&m, buf, len) != 0 ||
               (transport == DHT_TRANSPORT_DATAGRAM && len > DHT_MAX_DATAGRAM) ||
               (m.type != DHT__ROUTE && m.value_len > dht->cfg.max_value_size)) {
        dht->st.dropped_malformed++;
        err = DHT_EPROTO;
    } else if (dht_id_cmp(&m.sender, &dht->self) == 0) {
        /* Our own id from elsewhere: a loop or an impostor; ignore it. */
        dht->st.dropped_malformed++;
        err = DHT_EPROTO;
    } else if (DHT__IS_REPLY(m.type)) {
        err = dht__rpc_reply(dht, &m, from);
    } else {
        err = dht__serve(dht, &m, len, from, transport);
    }
    if (dht__op_run_completions(dht))
        return err; /* a callback freed the node */
    dht__rearm(dht);
    return err;
}

int dht_unreachable(dht_t *dht, uint64_t now_ms, const dht_addr_t *addr)
{
    int ended;

    if (dht == NULL || addr == NULL)
        return DHT_EINVAL;
    set_now(dht, now_ms);
    ended = dht__rpc_unreachable(dht, addr);
    if (dht__op_run_completions(dht))
        return ended; /* a callback freed the node */
    dht__rearm(dht);
    return ended;
}

uint64_t dht_periodic(dht_t *dht, uint64_t now_ms)
{
    set_now(dht, now_ms);
    dht__rpc_timeouts(dht, dht->now);
    dht__token_tick(dht, dht->now);
    if (dht__store_next_expiry(dht->store) <= dht->now)
        dht__store_expire(dht->store, dht->now);
    if (dht->now >= dht->next_tick) {
        dht__maintenance_tick(dht, dht->now);
        dht__source_expire(dht, dht->now);
        dht__groups_expire(dht, dht->now);
        dht__replicate_tick(dht, dht->now);
        dht__provide_tick(dht, dht->now);
        dht__route_tick(dht);
        dht->next_tick = dht->now + DHT__TICK_MS;
    }
    if (dht->now >= dht->fill_at)
        dht__join_fill_step(dht, dht->now);
    if (dht->now >= dht->sparse_at)
        dht__sparse_step(dht, dht->now);
    dht__leave_check(dht);
    if (dht__op_run_completions(dht))
        return UINT64_MAX; /* a callback freed the node */
    dht->reported_deadline = dht_next_deadline(dht);
    return dht->reported_deadline;
}

const dht_id_t *dht_self(const dht_t *dht)
{
    return &dht->self;
}

int dht_insert_node(dht_t *dht, const dht_id_t *id, const dht_addr_t *addr, uint64_t now_ms)
{
    int r;

    if (dht == NULL || id == NULL || addr == NULL ||
        (addr->family != DHT_AF_INET && addr->family != DHT_AF_INET6))
        return DHT_EINVAL;
    set_now(dht, now_ms);
    r = dht__rt_update(dht->rt, id, addr, dht->now, DHT__RT_INSERT);
    if (r < 0)
        return r;
    return r == DHT__RT_IGNORED ? DHT_EINVAL : 0;
}

size_t dht_closest_nodes(const dht_t *dht, const dht_id_t *target, dht_node_info_t *out, size_t max)
{
    dht__rt_node_t nodes[DHT_MAX_K];
    size_t n;

    if (max > DHT_MAX_K)
        max = DHT_MAX_K;
    n = dht__rt_closest(dht->rt, target, dht->now, nodes, max);
    for (size_t i = 0; i < n; i++) {
        out[i].id = nodes[i].id;
        out[i].addr = nodes[i].addr;
    }
    return n;
}

void dht_get_stats(const dht_t *dht, uint64_t now_ms, dht_stats_t *out)
{
    *out = dht->st;
    out->tombstones = dht__tombs_live(dht, now_ms);
    out->nodes =
        dht__rt_count(dht->rt, now_ms, &out->nodes_good, &out->nodes_questionable, &out->nodes_bad);
    out->buckets = dht__rt_bucket_count(dht->rt);
    out->contacts_refused_id = dht__rt_refused_id(dht->rt);
    out->provider_records = dht__store_records(dht->store, &out->provider_record_bytes);
    out->values = dht__store_count(dht->store) - out->provider_records;
    out->value_bytes = dht__store_bytes(dht->store) - out->provider_record_bytes;
    out->ops_in_flight = dht->n_ops;
    out->rpcs_in_flight = dht->rpc_count;
}
