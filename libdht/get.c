/*
 * dht_get: the values found under a key. A FIND_VALUE lookup collects the
 * values its replies carry inline and the summaries (hash, length) of the
 * ones too large to carry; when it ends, each value still missing is
 * fetched with GET_VALUE from one holder, the next holder on failure.
 * Every value is checked against its hash, and against the key when it
 * claims to be content addressed. dht_find_providers is the same with
 * FIND_PROVIDERS: provider records (address records) instead of values.
 *
 * Bad holders cannot deny a value (a node may claim to hold anything):
 * a GET_VALUE whose first attempt goes unanswered (it stalls) leaves the
 * next two holders asked in parallel, so holders that never answer cost
 * one timeout for every two of them, not three each; a node whose bytes
 * fail verification is banned for the rest of the get (its other
 * announcements ignored, never asked again) and counted
 * (dht_stats_t.bad_servers); and once the value is here the get ends,
 * whatever requests to bad holders are still in flight.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VALUES  DHT_GET_MAX_VALUES
#define MAX_HOLDERS 4 /* holders remembered per summarized value */
#define MAX_BANNED  8 /* nodes one get bans for serving bad bytes */

/* A node that announced a value, and the token it handed us: the proof
 * of our address that lets it send the value (schema/wire.md 2.3). */
typedef struct holder {
    dht_node_info_t node;
    uint8_t token[DHT__WIRE_TOKEN_LEN];
} holder_t;

typedef struct gval {
    dht_id_t hash;
    uint8_t *data; /* NULL until fetched */
    uint32_t len;
    uint32_t ttl;
    uint8_t flags;
    uint8_t n_holders;
    uint8_t next_holder;
    uint8_t fetching; /* GET_VALUEs for it in flight */
    holder_t holders[MAX_HOLDERS];
} gval_t;

struct dht__get_state {
    dht_id_t key;
    unsigned max_values; /* 0 = all */
    gval_t vals[MAX_VALUES];
    size_t n;
    size_t n_have;        /* values with data */
    unsigned outstanding; /* follow-up FIND_VALUEs and GET_VALUEs */
    uint8_t lookup_done;
    dht_id_t banned[MAX_BANNED]; /* served bytes that failed verification */
    size_t n_banned;
    uint8_t has_only; /* dht_get_from: the value `only`, nothing else */
    dht_id_t only;
};

static int is_banned(const dht__get_state_t *g, const dht_id_t *id)
{
    for (size_t i = 0; i < g->n_banned; i++)
        if (dht_id_cmp(&g->banned[i], id) == 0)
            return 1;
    return 0;
}

/* Bans node id for the rest of the get (once; the oldest ban makes room
 * when full) and counts it. */
static void ban(dht_t *dht, dht__get_state_t *g, const dht_id_t *id)
{
    if (is_banned(g, id))
        return;
    if (g->n_banned == MAX_BANNED) {
        memmove(g->banned, g->banned + 1, (MAX_BANNED - 1) * sizeof(g->banned[0]));
        g->n_banned--;
    }
    g->banned[g->n_banned++] = *id;
    dht->st.bad_servers++;
}

void dht__get_free(dht__get_state_t *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->vals[i].data);
    free(g);
}

static gval_t *find_val(dht__get_state_t *g, const dht_id_t *hash)
{
    for (size_t i = 0; i < g->n; i++)
        if (dht_id_cmp(&g->vals[i].hash, hash) == 0)
            return &g->vals[i];
    return NULL;
}

/* @return the entry for hash, a new one if there is room, else NULL. */
static gval_t *val_for(dht__get_state_t *g, const dht_id_t *hash)
{
    gval_t *v = find_val(g, hash);

    if (v || g->n == MAX_VALUES)
        return v;
    v = &g->vals[g->n++];
    memset(v, 0, sizeof(*v));
    v->hash = *hash;
    return v;
}

static int set_data(dht__get_state_t *g, gval_t *v, const uint8_t *data, uint32_t len, uint32_t ttl,
                    uint8_t flags)
{
    if (v->data)
        return 0;
    v->data = malloc(len ? len : 1);
    if (v->data == NULL)
        return DHT_ENOMEM;
    memcpy(v->data, data, len);
    v->len = len;
    v->ttl = ttl;
    v->flags = flags;
    g->n_have++;
    return 0;
}

/* Checks bytes against their claims. @return 1 if they may be kept. */
static int verified(dht_t *dht, const dht_id_t *key, const uint8_t *data, uint32_t len,
                    uint8_t flags, dht_id_t *hash)
{
    dht_id_from_bytes(hash, data, len);
    if ((flags & DHT__VALUE_CONTENT) && dht_id_cmp(hash, key) != 0) {
        dht->st.dropped_bad_value++;
        return 0;
    }
    return 1;
}

/* @return 1 once the get has what it needs: the content-addressed value,
 * verified, or max_values distinct values (known at least by hash). A
 * content-addressed value known only by its summary does not count until
 * its bytes are in and verified: its holders may have lost or damaged it,
 * so the lookup goes on gathering others. */
static int satisfied(const dht__get_state_t *g)
{
    size_t known = 0;

    for (size_t i = 0; i < g->n; i++) {
        const gval_t *v = &g->vals[i];
        int content = dht_id_cmp(&v->hash, &g->key) == 0;
        if (v->data != NULL && content)
            return 1;
        known += v->data != NULL || !content;
    }
    return g->max_values != 0 && known >= g->max_values;
}

static void add_holder(gval_t *v, const dht_node_info_t *node, const uint8_t *token)
{
    for (unsigned i = 0; i < v->n_holders; i++)
        if (dht_id_cmp(&v->holders[i].node.id, &node->id) == 0)
            return;
    /* Full: the holders tried already (failed, or being asked: the rpc
     * keeps its own copy) make room for new ones, so a value damaged or
     * lost on its first holders is still found on later ones. */
    if (v->n_holders == MAX_HOLDERS && v->next_holder > 0) {
        unsigned untried = v->n_holders - v->next_holder;
        memmove(v->holders, v->holders + v->next_holder, untried * sizeof(v->holders[0]));
        v->n_holders = (uint8_t)untried;
        v->next_holder = 0;
    }
    if (v->n_holders < MAX_HOLDERS) {
        holder_t *h = &v->holders[v->n_holders++];
        h->node = *node;
        memcpy(h->token, token, sizeof(h->token));
    }
}

static void on_more(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);
static void maybe_finish(dht_t *dht, dht__op_t *op);
static int fetch(dht_t *dht, dht__op_t *op, gval_t *v);

/* Takes in the entries of one VALUES reply from node `from`. */
static void take_values(dht_t *dht, dht__op_t *op, const dht_node_info_t *from, const dht__msg_t *m)
{
    dht__get_state_t *g = op->get;

    if (is_banned(g, &from->id))
        return;
    for (unsigned i = 0; i < m->n_entries; i++) {
        const dht__wire_entry_t *e = &m->entries[i];
        dht_id_t hash;
        dht_addr_t a;
        gval_t *v;

        if (((e->flags & DHT__VALUE_PROVIDER) != 0) != op->providers ||
            (op->providers && (e->is_summary || dht__wire_addr_decode(e->data, e->len, &a) != 0))) {
            /* A provider record among values, a value among provider
             * records, or one that names no address: nothing to keep. */
            dht->st.dropped_bad_value++;
            ban(dht, g, &from->id);
            continue;
        }
        if (g->has_only && dht_id_cmp(e->is_summary ? &e->hash : &g->only, &g->only) != 0)
            continue; /* a summary of another value (inline ones: below) */
        if (e->is_summary) {
            if (e->len > dht->cfg.max_value_size ||
                ((e->flags & DHT__VALUE_CONTENT) && dht_id_cmp(&e->hash, &g->key) != 0)) {
                dht->st.dropped_bad_value++;
                ban(dht, g, &from->id);
                continue;
            }
            v = val_for(g, &e->hash);
            if (v && v->data == NULL) {
                v->len = e->len;
                v->ttl = e->ttl;
                v->flags = e->flags;
                add_holder(v, from, m->token);
                /* The content-addressed value is the whole answer: fetch it
                 * now, while the lookup goes on in case this holder fails. */
                if (!v->fetching && dht_id_cmp(&v->hash, &g->key) == 0)
                    fetch(dht, op, v);
            }
            continue;
        }
        if (e->len > dht->cfg.max_value_size ||
            !verified(dht, &g->key, e->data, e->len, e->flags, &hash)) {
            ban(dht, g, &from->id);
            continue;
        }
        if (g->has_only && dht_id_cmp(&hash, &g->only) != 0)
            continue;
        v = val_for(g, &hash);
        if (v)
            set_data(g, v, e->data, e->len, e->ttl, e->flags);
    }
    /* The holder has more than one reply could carry: ask for the rest. */
    if (m->total > (unsigned)m->first + m->n_entries && m->n_entries > 0 && g->n < MAX_VALUES &&
        !satisfied(g)) {
        dht__msg_t q;
        dht__msg_request(&q, op->providers ? DHT__FIND_PROVIDERS : DHT__FIND_VALUE, m->token);
        q.target = g->key;
        q.first = (uint16_t)(m->first + m->n_entries);
        q.max_age = op->max_age_s;
        if (dht__rpc_send(dht, &q, &from->addr, &from->id, 0, 0, on_more, op, 0) == 0)
            g->outstanding++;
    }
}

static void on_more(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;
    dht_node_info_t from = {rpc->id, rpc->to};

    if (status == DHT__RPC_STALLED || op->completed)
        return;
    op->get->outstanding--;
    if (status == 0 && reply->type == (op->providers ? DHT__PROVIDERS : DHT__VALUES))
        take_values(dht, op, &from, reply);
    if (!op->lk.finished && satisfied(op->get))
        dht__lookup_stop(dht, op);
    else
        maybe_finish(dht, op);
}

void dht__get_on_values(dht_t *dht, dht__op_t *op, const dht__cand_t *from, const dht__msg_t *m)
{
    take_values(dht, op, &from->node, m);
    if (satisfied(op->get))
        dht__lookup_stop(dht, op);
}

static void on_fetched(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);

/* Asks the next holder of v for it. @return 1 if a request went out. */
static int fetch(dht_t *dht, dht__op_t *op, gval_t *v)
{
    dht__get_state_t *g = op->get;

    while (v->next_holder < v->n_holders) {
        const holder_t *h = &v->holders[v->next_holder++];
        uint32_t timeout = dht__timeout_for(dht, v->len);
        dht__msg_t q;
        if (is_banned(g, &h->node.id))
            continue;
        dht__msg_request(&q, DHT__GET_VALUE, h->token);
        q.target = g->key;
        q.hash = v->hash;
        if (dht__rpc_send(dht, &q, &h->node.addr, &h->node.id, timeout, 0, on_fetched, op,
                          (uintptr_t)(v - g->vals)) == 0) {
            v->fetching++;
            g->outstanding++;
            return 1;
        }
    }
    return 0;
}

static void on_fetched(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;
    dht__get_state_t *g = op->get;
    gval_t *v;
    dht_id_t hash;

    if (op->completed)
        return;
    v = &g->vals[rpc->tag];
    if (status == DHT__RPC_STALLED) {
        /* Unanswered so far: the next holder too, at once, once. */
        if (v->data == NULL && rpc->attempts == 2) { /* the first resend */
            /* Two: the holders closest to the key are where Sybils sit,
             * often several of them one after the other. */
            fetch(dht, op, v);
            fetch(dht, op, v);
        }
        return;
    }
    g->outstanding--;
    v->fetching--;
    if (status == 0 && reply->type == DHT__VALUE && v->data == NULL) {
        int len_ok = reply->value_len == v->len;
        int ok = len_ok && verified(dht, &g->key, reply->value, reply->value_len, reply->flags,
                                    &hash); /* counts a content mismatch */
        if (ok && dht_id_cmp(&hash, &v->hash) == 0) {
            set_data(g, v, reply->value, reply->value_len, reply->ttl, reply->flags);
        } else {
            if (ok || !len_ok)
                dht->st.dropped_bad_value++;
            ban(dht, g, &rpc->id);
        }
    }
    if (v->data == NULL && v->fetching == 0)
        fetch(dht, op, v); /* the next holder, if any */
    if (!op->lk.finished && satisfied(g))
        dht__lookup_stop(dht, op); /* ends in maybe_finish() */
    else
        maybe_finish(dht, op);
}

/* Once the lookup is over and nothing is outstanding, fetches what is
 * missing, or completes the get. */
static void maybe_finish(dht_t *dht, dht__op_t *op)
{
    dht__get_state_t *g = op->get;

    if (!g->lookup_done || op->completed)
        return;
    /* The content-addressed value is here: done, whatever is still in
     * flight (a black hole's GET_VALUE, say, that would hold the get
     * until its last resend timed out: 8 s more, in test_sybil). */
    if (satisfied(g)) {
        dht__op_complete(dht, op, 0);
        return;
    }
    if (g->outstanding > 0)
        return;
    for (size_t i = 0; i < g->n; i++) {
        gval_t *v = &g->vals[i];
        if (v->data == NULL && !v->fetching && v->next_holder < v->n_holders)
            fetch(dht, op, v);
    }
    if (g->outstanding > 0)
        return;
    if (g->n_have > 0)
        dht__op_complete(dht, op, 0);
    else if (op->lk.stats.replies == 0)
        dht__op_complete(dht, op, DHT_ENOPEERS);
    else
        dht__op_complete(dht, op, DHT_ENOTFOUND);
}

int dht__get_empty(const dht__op_t *op)
{
    return op->get != NULL && op->get->n_have == 0;
}

void dht__get_lookup_done(dht_t *dht, dht__op_t *op)
{
    op->get->lookup_done = 1;
    maybe_finish(dht, op);
}

/* Takes in the values this node itself holds for the key. */
static void take_local(dht_t *dht, const dht__op_t *op, dht__get_state_t *g)
{
    const dht__value_t *local[DHT__MAX_PER_KEY];
    size_t n = dht__store_get(dht->store, &g->key, dht->now, local, DHT__MAX_PER_KEY);

    if (n > DHT__MAX_PER_KEY)
        n = DHT__MAX_PER_KEY;
    for (size_t i = 0, young = 0; i < n; i++) {
        const dht__value_t *lv = local[i];
        uint64_t left = lv->expires_at - dht->now;
        gval_t *v;
        if (((lv->flags & DHT__VALUE_PROVIDER) != 0) != op->providers)
            continue; /* not of the kind asked */
        if (!dht__value_young(lv, op->max_age_s, dht->now) || young++ < op->page_first)
            continue; /* too old, or before the page, as a holder would say */
        if (lv->data == NULL)
            continue; /* its bytes are in the storage: got from the others */
        v = val_for(g, &lv->hash);
        if (v)
            set_data(g, v, lv->data, lv->len, (uint32_t)(left / 1000), lv->flags);
    }
}

int dht__get_start(dht_t *dht, dht__op_t *op, const dht_id_t *key, unsigned max_values)
{
    dht__get_state_t *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return DHT_ENOMEM;
    g->key = *key;
    g->max_values = max_values;
    op->get = g;
    take_local(dht, op, g);
    if (satisfied(g)) {
        /* Nothing to ask the network: report from the completion queue. */
        dht__op_complete(dht, op, 0);
        return 0;
    }
    return dht__lookup_start(dht, op, key, 1);
}

/* Reports the provider records found, as endpoints. */
static void report_providers(dht__op_t *op)
{
    const dht__get_state_t *g = op->get;
    dht_provider_t out[MAX_VALUES];
    size_t n = 0;

    for (size_t i = 0; g && op->status == 0 && i < g->n; i++) {
        const gval_t *v = &g->vals[i];
        if (v->data == NULL || dht__wire_addr_decode(v->data, v->len, &out[n].addr) != 0)
            continue;
        out[n].ttl_s = v->ttl;
        n++;
    }
    op->cb.providers(op->status, n ? out : NULL, n, op->arg);
}

/* The one FIND_VALUE of a dht_get_from came back (or did not). */
static void on_direct(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;
    dht_node_info_t from;

    if (status == DHT__RPC_STALLED || op->completed)
        return;
    op->get->outstanding--;
    if (status == 0)
        op->lk.stats.replies++; /* it answered, if only to refuse */
    if (status == 0 && reply->type == DHT__VALUES) {
        from.id = reply->sender;
        from.addr = rpc->to;
        take_values(dht, op, &from, reply);
    }
    maybe_finish(dht, op);
}

int dht_get_from(dht_t *dht, const dht_addr_t *addr, const dht_id_t *key, const dht_id_t *hash,
                 dht_get_cb cb, void *arg)
{
    dht__get_state_t *g;
    dht__op_t *op;
    dht__msg_t q;
    int err;

    if (dht == NULL || addr == NULL || key == NULL || cb == NULL)
        return DHT_EINVAL;
    dht__now(dht);
    op = dht__op_new(dht, DHT__OP_GET, arg, &err);
    if (op == NULL)
        return err;
    op->cb.get = cb;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return dht__op_started(dht, op, DHT_ENOMEM);
    op->get = g; /* freed with the op */
    g->key = *key;
    g->only = hash != NULL ? *hash : *key;
    g->has_only = 1;
    g->lookup_done = 1; /* no lookup: one node is asked */
    op->lk.finished = 1;
    /* A FIND_VALUE first: it brings the value (a small one inline), or
     * its summary and a token, the proof of our address its GET_VALUE
     * then carries (a large value goes only to a proven source). */
    dht__msg_request(&q, DHT__FIND_VALUE, NULL);
    q.target = *key;
    err = dht__rpc_send(dht, &q, addr, NULL, 0, 0, on_direct, op, 0);
    if (err == 0)
        g->outstanding++;
    return dht__op_started(dht, op, err);
}

void dht__get_report(dht_t *dht, dht__op_t *op)
{
    dht__get_state_t *g = op->get;
    dht_value_t out[MAX_VALUES];
    size_t n = 0;

    (void)dht;
    if (op->providers) {
        report_providers(op);
        return;
    }
    for (size_t i = 0; g && op->status == 0 && i < g->n; i++) {
        const gval_t *v = &g->vals[i];
        if (v->data == NULL)
            continue;
        out[n].data = v->data;
        out[n].len = v->len;
        out[n].ttl_s = v->ttl;
        out[n].hash = v->hash;
        n++;
    }
    op->cb.get(op->status, n ? out : NULL, n, op->arg);
}
