/*
 * Incoming requests: the answering side of PING, FIND_NODE, FIND_VALUE,
 * STORE, GET_VALUE, HAVE and ROUTE (route.c takes the message), and the
 * store tokens. What each source may be sent
 * is limits.c's.
 */
#include "node.h"

#include <string.h>

/* ---- tokens (BEP 5): SHA-256(secret || ip || port), first 8 bytes ---- */

static void derive_secret(const dht_t *dht, uint64_t epoch, uint8_t *out)
{
    uint8_t material[32 + 8];

    memcpy(material, dht->master_secret, 32);
    memcpy(material + 32, &epoch, sizeof(epoch));
    dht_id_from_bytes((dht_id_t *)out, material, sizeof(material));
}

static void rotate(dht_t *dht)
{
    memcpy(dht->prev_secret, dht->secret, sizeof(dht->secret));
    dht->secret_epoch++;
    derive_secret(dht, dht->secret_epoch, dht->secret);
}

void dht__token_tick(dht_t *dht, uint64_t now)
{
    if (dht->secret_epoch == 0) {
        rotate(dht);
        memcpy(dht->prev_secret, dht->secret, sizeof(dht->secret));
        dht->secret_rotated_at = now;
        return;
    }
    if (now < dht->secret_rotated_at + DHT__TOKEN_ROTATE_MS)
        return;
    /* Rotate on schedule even if we were called late, so a token never
     * lives past two periods; after a long sleep, both secrets are new. */
    if (now >= dht->secret_rotated_at + 2 * DHT__TOKEN_ROTATE_MS) {
        rotate(dht);
        dht->secret_rotated_at = now;
    } else {
        dht->secret_rotated_at += DHT__TOKEN_ROTATE_MS;
    }
    rotate(dht);
}

void dht__token_make(const dht_t *dht, const dht_addr_t *addr, int previous, uint8_t *out)
{
    uint8_t material[32 + 16 + 2];
    size_t iplen = addr->family == DHT_AF_INET6 ? 16 : 4;
    dht_id_t h;

    memcpy(material, previous ? dht->prev_secret : dht->secret, 32);
    memcpy(material + 32, addr->ip, iplen);
    material[32 + iplen] = (uint8_t)addr->port;
    material[33 + iplen] = (uint8_t)(addr->port >> 8);
    dht_id_from_bytes(&h, material, 34 + iplen);
    memcpy(out, h.b, DHT__WIRE_TOKEN_LEN);
}

static int token_valid(const dht_t *dht, const dht_addr_t *addr, const uint8_t *token)
{
    uint8_t t[DHT__WIRE_TOKEN_LEN];

    dht__token_make(dht, addr, 0, t);
    if (memcmp(t, token, sizeof(t)) == 0)
        return 1;
    dht__token_make(dht, addr, 1, t);
    return memcmp(t, token, sizeof(t)) == 0;
}

/* @return 1 if the source of request m proved that it receives at `from`:
 * it came by stream (the connection's handshake did), or it carries a
 * token this node handed to that address (a STORE's own, or a proof).
 * That a table contact answered us at that address proves nothing of
 * this request: anyone may forge it, with that contact's id. */
static int source_proven(const dht_t *dht, const dht__msg_t *m, const dht_addr_t *from,
                         dht_transport_t transport)
{
    if (transport == DHT_TRANSPORT_STREAM)
        return 1;
    if (m->has_proof && token_valid(dht, from, m->proof))
        return 1;
    return (m->type == DHT__STORE || m->type == DHT__STORE_MANY || m->type == DHT__PROVIDE) &&
           token_valid(dht, from, m->token);
}

/* ---- replies ---- */

static void reply_header(const dht_t *dht, dht__msg_t *r, uint8_t type, const dht__msg_t *req)
{
    r->type = type;
    r->client = 0;
    r->has_proof = 0;
    r->pad = 0;
    r->txid = req->txid;
    r->sender = dht->self;
    r->n_nodes = 0;
    r->n_entries = 0;
    r->value_len = 0;
    r->value = NULL;
    r->has_region = 0;
    r->has_advert = 0;
}

int dht__send_error(dht_t *dht, uint32_t txid, const dht_addr_t *to, uint16_t code,
                    const char *text)
{
    dht__msg_t r, req;

    req.txid = txid;
    reply_header(dht, &r, DHT__ERROR, &req);
    r.err_code = code;
    r.err_len = (uint8_t)strlen(text);
    r.err_msg = (const uint8_t *)text;
    return dht__send_msg(dht, to, &r);
}

/* Sends reply r to the request's source if it may be sent that much
 * (else nothing: counted, and the request was still handled). */
static int reply(dht_t *dht, dht__serving_t *sv, const dht__msg_t *r)
{
    if (!dht__serving_may_send(dht, sv, dht__wire_size(r)))
        return 0;
    return dht__send_msg(dht, sv->from, r);
}

/* An ERROR reply; to an unproven source, its text cut to what it may be
 * sent (nothing, if not even the code fits). */
static int send_error(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv, uint16_t code,
                      const char *text)
{
    size_t fixed = DHT__WIRE_HEADER + 2 + 1, len = strlen(text);
    dht__msg_t r;

    if (!sv->proven && sv->room < fixed + len)
        len = sv->room > fixed ? sv->room - fixed : 0;
    reply_header(dht, &r, DHT__ERROR, req);
    r.err_code = code;
    r.err_len = (uint8_t)len;
    r.err_msg = (const uint8_t *)text;
    return reply(dht, sv, &r);
}

/* Pings the unproven nodes among the k closest (nodes[0..n), nearest
 * first, every node not bad: learned from others' replies, or only seen
 * asking us something) that no ping is verifying yet: they would belong
 * in answers about the target once verified. */
static void verify_closest(dht_t *dht, const dht__rt_node_t *nodes, size_t n)
{
    for (size_t i = 0; i < n && i < dht->cfg.k; i++)
        if (!nodes[i].proven && dht__rt_mark_probing(dht->rt, &nodes[i].id))
            dht__verify_node(dht, &nodes[i].id, &nodes[i].addr);
}

size_t dht__fill_nodes(dht_t *dht, dht__msg_t *m, const dht_id_t *target, const dht_id_t *skip,
                       uint8_t family, size_t budget)
{
    dht__rt_node_t all[2 * DHT_MAX_K + 1], nodes[DHT_MAX_K + 1];
    size_t n_all, n = 0, used = 0, want = dht->cfg.k + 1;

    /* One walk of the table serves both: the closest to verify, and the
     * verified closest of the asker's family to hand out, unless the walk
     * was cut short before k + 1 of them (then a walk of verified ones
     * alone, as long again: a dual-stack node's table mixes families). */
    n_all = dht__rt_closest(dht->rt, target, dht->now, all, 2 * dht->cfg.k + 1);
    verify_closest(dht, all, n_all);
    for (size_t i = 0; i < n_all && n < want; i++)
        if (dht__rt_verified(&all[i]) && all[i].addr.family == family)
            nodes[n++] = all[i];
    if (n < want && n_all == 2 * dht->cfg.k + 1) {
        n_all = dht__rt_closest_verified(dht->rt, target, dht->now, all, 2 * dht->cfg.k + 1);
        n = 0;
        for (size_t i = 0; i < n_all && n < want; i++)
            if (all[i].addr.family == family)
                nodes[n++] = all[i];
    }

    m->n_nodes = 0;
    for (size_t i = 0; i < n && m->n_nodes < dht->cfg.k; i++) {
        size_t sz = dht__wire_node_size(nodes[i].addr.family);
        if (skip && dht_id_cmp(&nodes[i].id, skip) == 0)
            continue;
        if (used + sz > budget)
            break;
        m->nodes[m->n_nodes].id = nodes[i].id;
        m->nodes[m->n_nodes].addr = nodes[i].addr;
        m->n_nodes++;
        used += sz;
    }
    return used;
}

static int serve_ping(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;

    reply_header(dht, &r, DHT__PONG, req);
    r.addr = *sv->from;
    /* Its region and global address (wire.md 5.11), when it has them and
     * they fit what an unproven source may be sent, with the room kept
     * for the ping that proves it. */
    r.has_region = dht->cfg.region != 0;
    r.region = (uint16_t)dht->cfg.region;
    r.has_advert = dht->cfg.advertise.family != 0;
    r.advert = dht->cfg.advertise;
    if ((r.has_region || r.has_advert) && !sv->proven &&
        dht__wire_size(&r) + sv->reserve > sv->room)
        r.has_region = r.has_advert = 0;
    return reply(dht, sv, &r);
}

/* Fixed part of a NODES/VALUES reply before the node records. */
#define NODES_FIXED  (DHT__WIRE_HEADER + DHT__WIRE_TOKEN_LEN + 1)
#define VALUES_FIXED (NODES_FIXED + 2 + 2 + 1)
#define SUMMARY_SIZE (1 + 1 + 4 + 4 + DHT_ID_LEN)

/* Room for node records in a reply whose fixed part is `fixed` bytes:
 * a datagram's, or less for an unproven source. */
static size_t records_room(const dht__serving_t *sv, size_t fixed)
{
    size_t room = DHT_MAX_DATAGRAM;

    if (!sv->proven && sv->room - sv->reserve < room)
        room = sv->room - sv->reserve;
    return room > fixed ? room - fixed : 0;
}

static int serve_find_node(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;

    reply_header(dht, &r, DHT__NODES, req);
    dht__token_make(dht, sv->from, 0, r.token);
    dht__fill_nodes(dht, &r, &req->target, &req->sender, sv->from->family,
                    records_room(sv, NODES_FIXED));
    dht__advert_localize(dht, &r, &req->sender, sv->from);
    return reply(dht, sv, &r);
}

/* Which of the asked values this node holds (a replication check's batch,
 * check.c), with a token for the STOREs of those it lacks. */
static int serve_have(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;

    reply_header(dht, &r, DHT__HELD, req);
    dht__token_make(dht, sv->from, 0, r.token);
    r.n_have = req->n_have;
    r.held_bits = 0;
    for (unsigned i = 0; i < req->n_have; i++)
        if (dht__store_find(dht->store, &req->have_key[i], &req->have_hash[i], dht->now) != NULL)
            r.held_bits |= 1u << i;
    return reply(dht, sv, &r);
}

uint32_t dht__ttl_left(const dht__value_t *v, uint64_t now)
{
    uint64_t ms = v->expires_at > now ? v->expires_at - now : 0;
    return (uint32_t)((ms + 999) / 1000);
}

/* Adds values vals[first..total) of the key, inline while they fit in
 * `budget` bytes, as summaries after that. */
static void fill_entries(dht_t *dht, dht__msg_t *r, const dht__value_t *const *vals, size_t total,
                         size_t first, size_t budget)
{
    size_t n = first < total ? total - first : 0;

    r->total = (uint16_t)(total > UINT16_MAX ? UINT16_MAX : total);
    r->first = (uint16_t)first;
    if (n > DHT__WIRE_MAX_ENTRIES)
        n = DHT__WIRE_MAX_ENTRIES;
    for (size_t i = first; i < first + n; i++) {
        dht__wire_entry_t *e = &r->entries[r->n_entries];
        e->flags = vals[i]->flags;
        e->ttl = dht__ttl_left(vals[i], dht->now);
        e->len = vals[i]->len;
        e->is_summary = 0;
        e->data = vals[i]->data;
        if (e->data == NULL || dht__wire_entry_size(e) > budget) {
            e->is_summary = 1;
            e->data = NULL;
            e->hash = vals[i]->hash;
            if (dht__wire_entry_size(e) > budget)
                break;
        }
        budget -= dht__wire_entry_size(e);
        r->n_entries++;
    }
}

/* Looks up key in the program's value source; on success fills *v as a
 * content-addressed value without data (served as a summary). */
static size_t source_summary(dht_t *dht, const dht_id_t *key, dht__value_t *v)
{
    size_t len = 0;

    if (dht->cfg.value_size == NULL ||
        dht->cfg.value_size(dht->cfg.value_source_arg, key, &len) != 0 || len == 0 ||
        len > dht->cfg.max_value_size)
        return 0;
    memset(v, 0, sizeof(*v));
    v->key = *key;
    v->hash = *key;
    v->len = (uint32_t)len;
    v->flags = DHT__VALUE_CONTENT;
    v->stored_at = dht->now;
    v->expires_at = dht->now + (uint64_t)dht->cfg.max_ttl_s * 1000u;
    return 1;
}

int dht__value_young(const dht__value_t *v, uint32_t max_age_s, uint64_t now)
{
    return max_age_s == 0 || dht__value_age_ms(v, now) <= (uint64_t)max_age_s * 1000u;
}

/* Keeps, in order, the values of vals[0..n) at most max_age_s old.
 * @return how many. */
static size_t keep_young(const dht__value_t **vals, size_t n, uint32_t max_age_s, uint64_t now)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++)
        if (dht__value_young(vals[i], max_age_s, now))
            vals[kept++] = vals[i];
    return kept;
}

/* Keeps, in order, the values of vals[0..n) that are provider records
 * (providers) or those that are not. @return how many. */
static size_t keep_kind(const dht__value_t **vals, size_t n, int providers)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++)
        if (((vals[i]->flags & DHT__VALUE_PROVIDER) != 0) == providers)
            vals[kept++] = vals[i];
    return kept;
}

/* FIND_VALUE, or FIND_PROVIDERS (providers): node records and the key's
 * values, or its provider records. */
static int serve_find(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv, int providers)
{
    /* The store keeps at most store_max_per_key <= DHT__MAX_PER_KEY values
     * per key, oldest first: one look-up gets them all. */
    const dht__value_t *vals[DHT__MAX_PER_KEY];
    size_t total = dht__store_get(dht->store, &req->target, dht->now, vals, DHT__MAX_PER_KEY);
    size_t budget = records_room(sv, VALUES_FIXED);
    dht__value_t sourced;
    dht__msg_t r;
    size_t used;

    if (total > DHT__MAX_PER_KEY)
        total = DHT__MAX_PER_KEY;
    total = keep_kind(vals, total, providers);
    /* The program's own values have no age: a filtered answer leaves
     * them out. */
    if (!providers && total == 0 && req->max_age == 0 &&
        source_summary(dht, &req->target, &sourced)) {
        vals[0] = &sourced;
        total = 1;
    }
    total = keep_young(vals, total, req->max_age, dht->now);
    reply_header(dht, &r, providers ? DHT__PROVIDERS : DHT__VALUES, req);
    dht__token_make(dht, sv->from, 0, r.token);
    /* With values to give, node records must leave room for one summary,
     * or a reply full of IPv6 records (k = 32) would carry no value. */
    used = dht__fill_nodes(dht, &r, &req->target, &req->sender, sv->from->family,
                           total > req->first && budget > SUMMARY_SIZE ? budget - SUMMARY_SIZE
                                                                       : budget);
    dht__advert_localize(dht, &r, &req->sender, sv->from);
    fill_entries(dht, &r, vals, total, req->first, budget - used);
    return reply(dht, sv, &r);
}

/* A peer's STOREs: refused whole by a client node (it may be gone in a
 * moment) or for a bad token; else each value kept or refused on its own
 * (store_in.c). */
static int store_refused(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    if (dht->cfg.client)
        return send_error(dht, req, sv, DHT__WERR_FULL, "a client node stores nothing");
    if (!token_valid(dht, sv->from, req->token)) {
        dht->st.dropped_bad_token++;
        return send_error(dht, req, sv, DHT__WERR_BAD_TOKEN, "bad or stale token");
    }
    return 1;
}

static int serve_store(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__wire_batch_t b = {.key = req->target,
                           .ttl = req->ttl,
                           .age = req->age,
                           .len = req->value_len,
                           .flags = req->flags,
                           .has_owner = req->has_owner,
                           .owner = req->owner,
                           .value = req->value};
    dht__held_wait_t wait = {.txid = req->txid, .from = *sv->from};
    dht__msg_t r;
    int code = store_refused(dht, req, sv);

    if (code != 1)
        return code;
    code = dht__take_value(dht, sv->from, &b, &wait);
    if (code == DHT__TAKE_LATER)
        return 0; /* answered once written */
    if (code == DHT__WERR_TOO_BIG)
        return send_error(dht, req, sv, code, "value too large");
    if (code == DHT__WERR_BAD_VALUE)
        return send_error(dht, req, sv, code, "value does not hash to its content-addressed key");
    if (code == DHT__WERR_DELETED)
        return send_error(dht, req, sv, code, "deleted here by its owner");
    if (code != 0)
        return send_error(dht, req, sv, code, "store full");
    reply_header(dht, &r, DHT__STORED, req);
    return reply(dht, sv, &r);
}

static int serve_provide(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;
    int code = store_refused(dht, req, sv);

    if (code != 1)
        return code;
    code = dht__take_provide(dht, sv->from, req);
    if (code == DHT__WERR_FULL)
        return send_error(dht, req, sv, (uint16_t)code, "no room for more providers of the key");
    if (code != 0)
        return send_error(dht, req, sv, (uint16_t)code, "cannot keep the record");
    reply_header(dht, &r, DHT__PROVIDED, req);
    return reply(dht, sv, &r);
}

static int serve_store_many(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    int refused = store_refused(dht, req, sv);

    return refused != 1 ? refused : dht__take_many(dht, req, sv->from);
}

/* The length of the value a GET_VALUE asks for: v's, or the program's
 * (0 when nobody has it: the answer is then "not found"). */
static size_t asked_len(const dht_t *dht, const dht__msg_t *req, const dht__value_t *v)
{
    size_t len = 0;

    if (v != NULL)
        return v->len;
    if (dht->cfg.value_size == NULL || dht_id_cmp(&req->hash, &req->target) != 0 ||
        dht->cfg.value_size(dht->cfg.value_source_arg, &req->target, &len) != 0)
        return 0;
    return len;
}

static int serve_get_value(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    const dht__value_t *v = dht__store_find(dht->store, &req->target, &req->hash, dht->now);
    size_t len = asked_len(dht, req, v);
    size_t size = DHT__WIRE_HEADER + 1 + 4 + 4 + len; /* its VALUE reply */
    dht__msg_t r;

    /* A value goes only where it may: within what an unproven source sent,
     * and never more than a datagram (a large one only to a proven source,
     * by stream), and within the source's bytes per second. Refused, the
     * requester asks another holder, or again with a token. */
    if (len == 0 && !sv->proven) /* nothing to read: answered now, and charged */
        return send_error(dht, req, sv, DHT__WERR_NOT_FOUND, "no such value");
    if (len > 0 && !sv->proven && size > DHT_MAX_DATAGRAM) {
        dht->st.refused_unproven++;
        return send_error(dht, req, sv, DHT__WERR_UNPROVEN, "prove your address");
    }
    if (len > 0 && !dht__serving_may_send(dht, sv, size))
        return send_error(dht, req, sv, DHT__WERR_UNPROVEN, "prove your address");
    if (len > 0 && !dht__serving_send_rate_ok(dht, sv, len))
        return send_error(dht, req, sv, DHT__WERR_RATE_LIMITED, "busy");
    if (v == NULL || v->data == NULL) /* the program's, if it has it: answered later */
        return dht__source_ask(dht, req, sv->from, v);
    reply_header(dht, &r, DHT__VALUE, req);
    r.flags = v->flags;
    r.ttl = dht__ttl_left(v, dht->now);
    r.value_len = v->len;
    r.value = v->data;
    return dht__send_msg(dht, sv->from, &r); /* its bytes counted above */
}

/* A DELETE: the value removed here if the secret is its owner's (delete.c),
 * and the requester told what became of it. The secret is the proof; the
 * reply (41 bytes) is smaller than the request (136), so an unproven
 * source may be sent it. */
static int serve_delete(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;

    reply_header(dht, &r, DHT__DELETED, req);
    r.outcome = (uint8_t)dht__serve_delete_outcome(dht, req);
    return reply(dht, sv, &r);
}

/* A routed message: taken here (forwarded or delivered, route.c), and
 * the requester told which. */
static int serve_route(dht_t *dht, const dht__msg_t *req, dht__serving_t *sv)
{
    dht__msg_t r;

    reply_header(dht, &r, DHT__ROUTED, req);
    r.outcome = dht__route_take(dht, req, sv->from, &r.peer);
    return reply(dht, sv, &r);
}

static int answer(dht_t *dht, const dht__msg_t *m, dht__serving_t *sv)
{
    /* A proof that does not check (a token from before our secret rotated
     * twice, or before a restart) is answered so, not with a reply cut to
     * the few bytes it paid for: its sender then asks again padded. */
    if (m->has_proof && !sv->proven && m->type != DHT__STORE && m->type != DHT__STORE_MANY &&
        m->type != DHT__PROVIDE) {
        dht->st.refused_unproven++;
        return send_error(dht, m, sv, DHT__WERR_UNPROVEN, "proof expired");
    }
    switch (m->type) {
    case DHT__PING:
        return serve_ping(dht, m, sv);
    case DHT__FIND_NODE:
        return serve_find_node(dht, m, sv);
    case DHT__FIND_VALUE:
        return serve_find(dht, m, sv, 0);
    case DHT__FIND_PROVIDERS:
        return serve_find(dht, m, sv, 1);
    case DHT__PROVIDE:
        return serve_provide(dht, m, sv);
    case DHT__STORE:
        return serve_store(dht, m, sv);
    case DHT__STORE_MANY:
        return serve_store_many(dht, m, sv);
    case DHT__GET_VALUE:
        return serve_get_value(dht, m, sv);
    case DHT__HAVE:
        return serve_have(dht, m, sv);
    case DHT__ROUTE:
        return serve_route(dht, m, sv);
    case DHT__DELETE:
        return serve_delete(dht, m, sv);
    default:
        dht->st.dropped_malformed++;
        return DHT_EPROTO;
    }
}

int dht__serve(dht_t *dht, const dht__msg_t *m, size_t len, const dht_addr_t *from,
               dht_transport_t transport)
{
    dht__serving_t sv;
    int prove = 0, joining = 0, stranger = 0, rc;

    if (dht__serving_start(dht, &sv, from) != 0)
        return DHT_EBUSY;
    /* Whoever asks us something is a node of the network, unless it says
     * it is a client: that is how a joining node becomes known to its
     * neighbours, and how a passing one stays out of their tables. */
    if (!m->client) {
        /* A node looking up its own id is joining (or rejoining): it may
         * be closer to some of the keys this node holds than their holders
         * (hand-over). */
        joining = m->type == DHT__FIND_NODE && dht_id_cmp(&m->target, &m->sender) == 0;
        /* A request is no proof that the sender lives at that address (it
         * may be forged), but a reply of its own is. So a sender the table
         * does not hold enters it only when it answers a ping (then
         * proven: the rpc layer adds it), and one it holds unproven (or
         * bad: back after a restart, an outage) is pinged too, unless a
         * request of ours to it is on its way already (its reply will
         * do). A node that joins is then found by others' lookups within
         * a round trip; a forged one never enters a table, so nobody's
         * lookups or checks send anything to its address. Without the
         * ping of a bad node, one nothing replaces (a small network)
         * stayed out of every lookup for good. One ping at a time (per
         * table node; per address for strangers), sent after the answer,
         * within what the source paid for (below). */
        if (dht__rt_find(dht->rt, &m->sender, NULL)) {
            dht__rt_update(dht->rt, &m->sender, from, dht->now, DHT__RT_QUERY);
            prove = dht__rt_mark_probing(dht->rt, &m->sender);
        } else {
            stranger = 1;
            /* Not pinged when its answer could not enter the table (its
             * bucket full of nodes not known bad, none of them learned
             * only from others, and not the bucket that splits; the
             * split itself may still leave it no room) unless it is
             * joining (it may be
             * owed values: the hand-over below): the ping would only
             * feed the replacement cache, at two datagrams per stranger
             * (a far node's request, a lookup passing through). */
            prove = (joining || dht__rt_has_room(dht->rt, &m->sender)) &&
                    (sv.slot == NULL || dht->now >= sv.slot->ping_until);
        }
    } else {
        dht->st.client_requests++;
    }
    /* A source that has not proven its address may be a forged one: it is
     * sent no more than it sent, so that nobody can aim this node's
     * replies at someone else and have them grow on the way. */
    dht__serving_credit(&sv, source_proven(dht, m, from, transport), len);
    /* A node's requests leave room for the ping that proves it. */
    if (prove && !sv.proven && sv.room >= DHT__PONG_MAX)
        sv.reserve = DHT__PONG_MAX;
    /* Values go to a newcomer only at an address it proved: at once if it
     * did, else once it answers the ping below (any stranger's: the ping
     * that proves a joining node may have gone for its first request). */
    if (joining && sv.proven) {
        dht_node_info_t newcomer = {.id = m->sender, .addr = *from};
        dht__replicate_newcomer(dht, &newcomer);
    }
    rc = answer(dht, m, &sv);
    if (prove) {
        if (dht__serving_spend(&sv, DHT__PONG_MAX)) { /* the ping, padded to its answer */
            if (stranger && sv.slot != NULL)          /* until it is answered or given up */
                sv.slot->ping_until = dht->now + dht->cfg.timeout_ms;
            if (stranger || (joining && !sv.proven))
                dht__verify_newcomer(dht, &m->sender, from);
            else
                dht__verify_sender(dht, &m->sender, from);
        } else if (!stranger) {
            dht__rt_unprobe(dht->rt, &m->sender); /* no ping: its next request may bring one */
        }
    }
    return rc;
}
