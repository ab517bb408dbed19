/*
 * Provider records (schema/wire.md 5.9): dht_provide announces this node
 * as a provider of a key's content, dht_find_providers finds the
 * providers of a key, dht_unprovide withdraws. An announcement is a put
 * whose STOREs are PROVIDEs (ops.c sends them, the receivers keep a
 * record of the address each came from, store_in.c); a search is a get
 * whose lookup asks FIND_PROVIDERS (get.c). The keys this node announces
 * are kept here and announced again every half TTL, so their records
 * outlive the holders that die, as values do through replication.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* A key this node announces. */
typedef struct dht__provided {
    dht_id_t key;
    uint16_t port;
    uint32_t ttl_s;
    uint64_t next_at; /* when it is announced again */
} dht__provided_t;

static dht__provided_t *find(dht_t *dht, const dht_id_t *key)
{
    for (size_t i = 0; i < dht->n_provided; i++)
        if (dht_id_cmp(&dht->provided[i].key, key) == 0)
            return &dht->provided[i];
    return NULL;
}

/* How long before an announcement is renewed: half its TTL, at most a
 * replication interval, at least a second. */
static uint64_t renew_ms(const dht_t *dht, uint32_t ttl_s)
{
    uint64_t half = (uint64_t)ttl_s * 500u;
    uint64_t interval = (uint64_t)dht->cfg.replicate_interval_s * 1000u;

    if (interval > 0 && interval < half)
        half = interval;
    return half < 1000 ? 1000 : half;
}

/* Starts a PROVIDE of (key, port) with ttl_s (0: a withdrawal) to the k
 * closest. @return 0 (cb will run) or a negative code. */
static int announce(dht_t *dht, const dht_id_t *key, uint16_t port, uint32_t ttl_s, dht_put_cb cb,
                    void *arg)
{
    int err;
    dht__op_t *op = dht__put_op_new(dht, key, NULL, 0, ttl_s > 0 ? ttl_s : 1, NULL, cb, arg, &err);

    if (op == NULL)
        return err;
    op->provide_port = port;
    if (ttl_s == 0)
        op->ttl = 0;
    return dht__op_started(dht, op, dht__lookup_start(dht, op, key, 0));
}

int dht_provide(dht_t *dht, const dht_id_t *key, uint16_t port, uint32_t ttl_s, dht_put_cb cb,
                void *arg)
{
    dht__provided_t *p;
    int err, added = 0;

    if (dht == NULL || key == NULL || port == 0 || ttl_s == 0 || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    if (ttl_s > dht->cfg.max_ttl_s)
        ttl_s = dht->cfg.max_ttl_s;
    p = find(dht, key);
    if (p == NULL) {
        if (dht->n_provided >= DHT_PROVIDES_MAX)
            return DHT_EBUSY;
        void *q = dht__room_for_one(dht->provided, dht->n_provided, &dht->cap_provided,
                                    sizeof(*dht->provided), 8);
        if (q == NULL)
            return DHT_ENOMEM;
        dht->provided = q;
        p = &dht->provided[dht->n_provided++];
        p->key = *key;
        added = 1;
    }
    err = announce(dht, key, port, ttl_s, cb, arg);
    if (err) {
        if (added)
            dht->n_provided--;
        return err;
    }
    p->port = port;
    p->ttl_s = ttl_s;
    /* Again a minute later (a node announcing while it joins found few
     * nodes), then every renewal period. */
    p->next_at = dht->now + (renew_ms(dht, ttl_s) < 60000 ? renew_ms(dht, ttl_s) : 60000);
    return 0;
}

int dht_unprovide(dht_t *dht, const dht_id_t *key, dht_put_cb cb, void *arg)
{
    dht__provided_t *p;
    uint16_t port;

    if (dht == NULL || key == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    p = find(dht, key);
    if (p == NULL)
        return DHT_ENOTFOUND;
    port = p->port;
    if (cb != NULL) {
        int err = announce(dht, key, port, 0, cb, arg);
        if (err)
            return err; /* still announced: the caller may try again */
    }
    p = find(dht, key);
    *p = dht->provided[--dht->n_provided];
    return 0;
}

int dht_find_providers(dht_t *dht, const dht_id_t *key, dht_providers_cb cb, void *arg)
{
    dht__op_t *op;
    int err;

    if (dht == NULL || key == NULL || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_GET, arg, &err);
    if (op == NULL)
        return err;
    op->cb.providers = cb;
    op->providers = 1;
    return dht__op_started(dht, op, dht__get_start(dht, op, key, 0));
}

static void on_renewed(int status, unsigned stored, void *arg)
{
    (void)status; /* a failed renewal is tried again at the next */
    (void)stored;
    (void)arg;
}

void dht__provide_tick(dht_t *dht, uint64_t now)
{
    for (size_t i = 0; i < dht->n_provided && !dht->closing; i++) {
        dht__provided_t *p = &dht->provided[i];
        if (p->next_at > now)
            continue;
        /* Busy (too many ops): again in a second. */
        if (announce(dht, &p->key, p->port, p->ttl_s, on_renewed, NULL) == 0)
            p->next_at = now + renew_ms(dht, p->ttl_s);
        else
            p->next_at = now + 1000;
    }
}

void dht__provided_free(dht_t *dht)
{
    free(dht->provided);
    dht->provided = NULL;
    dht->n_provided = dht->cap_provided = 0;
}
