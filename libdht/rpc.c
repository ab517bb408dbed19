/*
 * Outgoing requests. Each pending request sits in a slot; the low 16 bits
 * of its txid are the slot index and the high 16 bits are random, so a
 * reply finds its request in O(1) and a forged reply must guess 16 bits and
 * come from the right address. A binary heap orders the deadlines.
 */
#include "node.h"

#include <stdlib.h>
#include <string.h>

/* ---- the deadline heap ---- */

static void heap_swap(dht_t *dht, uint32_t a, uint32_t b)
{
    dht__rpc_t *t = dht->rpc_heap[a];

    dht->rpc_heap[a] = dht->rpc_heap[b];
    dht->rpc_heap[b] = t;
    dht->rpc_heap[a]->heap_idx = a;
    dht->rpc_heap[b]->heap_idx = b;
}

static void heap_up(dht_t *dht, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (dht->rpc_heap[parent]->deadline <= dht->rpc_heap[i]->deadline)
            break;
        heap_swap(dht, i, parent);
        i = parent;
    }
}

static void heap_down(dht_t *dht, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < dht->heap_len && dht->rpc_heap[l]->deadline < dht->rpc_heap[m]->deadline)
            m = l;
        if (r < dht->heap_len && dht->rpc_heap[r]->deadline < dht->rpc_heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(dht, i, m);
        i = m;
    }
}

static void heap_remove(dht_t *dht, dht__rpc_t *rpc)
{
    uint32_t i = rpc->heap_idx;

    dht->heap_len--;
    if (i != dht->heap_len) {
        dht->rpc_heap[i] = dht->rpc_heap[dht->heap_len];
        dht->rpc_heap[i]->heap_idx = i;
        heap_down(dht, i);
        heap_up(dht, i);
    }
}

/* ---- slots ---- */

/* Doubles the slot table (and the heap with it), up to DHT__RPC_MAX. */
static int grow(dht_t *dht)
{
    uint32_t cap = dht->rpc_cap ? dht->rpc_cap * 2 : 16;
    dht__rpc_t **slots, **heap;
    uint16_t *freel;

    if (dht->rpc_cap >= DHT__RPC_MAX)
        return DHT_EBUSY;
    slots = realloc(dht->rpc_slots, cap * sizeof(*slots));
    if (slots == NULL)
        return DHT_ENOMEM;
    dht->rpc_slots = slots;
    heap = realloc(dht->rpc_heap, cap * sizeof(*heap));
    if (heap == NULL)
        return DHT_ENOMEM;
    dht->rpc_heap = heap;
    freel = realloc(dht->rpc_free, cap * sizeof(*freel));
    if (freel == NULL)
        return DHT_ENOMEM;
    dht->rpc_free = freel;
    /* New slots go on the free list highest first, so low ones are used
     * first. */
    for (uint32_t i = cap; i > dht->rpc_cap; i--) {
        slots[i - 1] = NULL;
        freel[dht->rpc_nfree++] = (uint16_t)(i - 1);
    }
    dht->rpc_cap = cap;
    dht->heap_cap = cap;
    return 0;
}

static uint32_t slot_of(uint32_t txid)
{
    return txid & 0xffffu;
}

/* Takes rpc out of the tables; the caller frees it. */
static void detach(dht_t *dht, dht__rpc_t *rpc)
{
    uint32_t slot = slot_of(rpc->txid);

    heap_remove(dht, rpc);
    dht->rpc_slots[slot] = NULL;
    dht->rpc_free[dht->rpc_nfree++] = (uint16_t)slot;
    dht->rpc_count--;
}

/* Ends rpc: calls its callback, drops its op reference, frees it. */
static void finish(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;

    detach(dht, rpc);
    rpc->cb(dht, rpc, status, reply);
    if (op)
        dht__op_unref(dht, op);
    free(rpc);
}

static int transmit(dht_t *dht, dht__rpc_t *rpc, const dht__msg_t *m)
{
    if (rpc->len > 0) {
        int err = dht->io.send(dht->io.arg, &rpc->to, DHT_TRANSPORT_DATAGRAM, rpc->msg, rpc->len);
        if (err < 0) {
            dht->st.send_errors++;
            return err;
        }
        dht->st.msgs_sent++;
        dht->st.bytes_sent += rpc->len;
        dht->st.padding_bytes_sent += rpc->pad;
        return 0;
    }
    return dht__send_msg(dht, &rpc->to, m);
}

void dht__msg_request(dht__msg_t *m, uint8_t type, const uint8_t *proof)
{
    m->type = type;
    m->client = 0;
    m->has_proof = proof != NULL;
    if (proof)
        memcpy(m->proof, proof, DHT__WIRE_TOKEN_LEN);
    m->pad = 0;
    m->n_nodes = 0;
    m->n_entries = 0;
    m->n_have = 0;
    m->n_batch = 0;
    m->first = 0;
    m->max_age = 0;
    m->age = 0;
    m->value = NULL;
    m->value_len = 0;
    m->has_owner = 0;
}

size_t dht__request_pad(const dht_t *dht, const dht__msg_t *m, const dht_addr_t *to)
{
    size_t node = dht__wire_node_size(to->family);
    size_t ping_room = dht->cfg.client ? 0 : DHT__PONG_MAX; /* nobody pings a client */
    size_t want, size = dht__wire_size(m);

    switch (m->type) {
    case DHT__PING:
        want = DHT__PONG_MAX + ping_room;
        break;
    case DHT__FIND_NODE: /* NODES: token, count, k records */
        want = DHT__WIRE_HEADER + DHT__WIRE_TOKEN_LEN + 1 + dht->cfg.k * node + ping_room;
        break;
    case DHT__HAVE: /* HELD: token, count, bits */
        want = DHT__WIRE_HEADER + DHT__WIRE_TOKEN_LEN + 1 + 4 + ping_room;
        break;
    case DHT__ROUTE: /* ROUTED: outcome, node id */
        want = DHT__WIRE_HEADER + 1 + DHT_ID_LEN + ping_room;
        break;
    case DHT__FIND_VALUE: /* VALUES fill a datagram */
    case DHT__FIND_PROVIDERS:
    case DHT__GET_VALUE: /* a small value's VALUE; a large one needs a proof */
        want = DHT_MAX_DATAGRAM;
        break;
    default: /* STORE, STORE_MANY, PROVIDE: the token proves the address */
        return 0;
    }
    if (want > DHT_MAX_DATAGRAM)
        want = DHT_MAX_DATAGRAM;
    return want > size ? want - size : 0;
}

int dht__rpc_send(dht_t *dht, dht__msg_t *m, const dht_addr_t *to, const dht_id_t *id,
                  uint32_t timeout_ms, unsigned attempts, dht__rpc_cb cb, dht__op_t *op,
                  uintptr_t tag)
{
    size_t size, room, retry_pad = 0;
    int stream;
    dht__rpc_t *rpc;
    uint32_t slot, first_timeout;
    int err;

    if (dht->closing)
        return DHT_ECLOSED;
    m->client = (uint8_t)(dht->cfg.client != 0);
    /* A node that handed us a token lately gets it back as our proof: 8
     * bytes instead of the padding (schema/wire.md 2.3). Should it no
     * longer check (the node restarted), the node says so, and the
     * request goes again padded. */
    if (!m->has_proof && m->pad == 0 && id != NULL && m->type != DHT__STORE &&
        m->type != DHT__STORE_MANY && m->type != DHT__PROVIDE &&
        dht__rt_token(dht->rt, id, to, dht->now, m->proof)) {
        retry_pad = dht__request_pad(dht, m, to);
        m->has_proof = retry_pad > 0;
    }
    if (m->has_proof)
        m->pad = 0;
    else if (m->pad == 0)
        m->pad = (uint16_t)dht__request_pad(dht, m, to);
    size = dht__wire_size(m);
    stream = size > DHT_MAX_DATAGRAM;
    if (stream)
        retry_pad = 0;
    if (dht->rpc_nfree == 0 && (err = grow(dht)) != 0)
        return err;
    /* Room to reframe it: padding for a proof (retry_pad), a proof for
     * padding (the resends), and a private network's tag. */
    room = stream ? 0 : size + retry_pad + DHT__WIRE_TOKEN_LEN + dht->tag_len;
    rpc = malloc(sizeof(*rpc) + room);
    if (rpc == NULL)
        return DHT_ENOMEM;
    memset(rpc, 0, sizeof(*rpc));
    slot = dht->rpc_free[dht->rpc_nfree - 1];
    rpc->txid = (uint32_t)(dht__rng_next(&dht->rng) & 0xffff0000u) | slot;
    m->txid = rpc->txid;
    m->sender = dht->self;
    rpc->type = m->type;
    rpc->newer = m->type == DHT__STORE && m->has_owner;
    rpc->stream = (uint8_t)stream;
    rpc->retry_pad = (uint16_t)retry_pad;
    rpc->pad = stream ? 0 : m->pad;
    rpc->cap = (uint16_t)room;
    rpc->to = *to;
    if (id) {
        rpc->id = *id;
        rpc->has_id = 1;
    }
    rpc->timeout_ms = timeout_ms ? timeout_ms : dht->cfg.timeout_ms;
    rpc->rto_ms = timeout_ms || stream ? 0 : dht__rpc_rto(dht);
    first_timeout = rpc->rto_ms ? rpc->rto_ms : rpc->timeout_ms;
    /* A stream is reliable: no resend, but room for the bytes to move. */
    rpc->max_attempts = (uint8_t)(stream ? 1 : attempts ? attempts : 1 + dht->cfg.retries);
    if (!stream) {
        rpc->len = dht__wire_encode(m, rpc->msg, size);
        if (rpc->len > 0)
            rpc->len = dht__netkey_seal(dht, rpc->msg, rpc->len);
        if (rpc->len == 0) {
            free(rpc);
            return DHT_EPROTO;
        }
    }
    /* A send that fails is a lost message: the rpc stays and times out,
     * as dht_io_t promises; only the counter tells. */
    (void)transmit(dht, rpc, m);
    rpc->attempts = 1;
    rpc->sent_at = dht->now;
    rpc->deadline = dht->now + first_timeout;
    rpc->cb = cb;
    rpc->op = op;
    rpc->tag = tag;
    if (op)
        op->refs++;
    dht->rpc_nfree--;
    dht->rpc_slots[slot] = rpc;
    rpc->heap_idx = dht->heap_len;
    dht->rpc_heap[dht->heap_len++] = rpc;
    heap_up(dht, rpc->heap_idx);
    dht->rpc_count++;
    /* Its reply proves the node: no verification ping meanwhile. */
    if (rpc->has_id)
        rpc->was_slow = (uint8_t)dht__rt_asking(dht->rt, &rpc->id);
    return 0;
}

uint32_t dht__rpc_rto(const dht_t *dht)
{
    double rto = dht->srtt_ms + 4.0 * dht->rttvar_ms;

    if (rto < 2.0 * dht->srtt_ms)
        rto = 2.0 * dht->srtt_ms; /* a spread of replies can shrink rttvar */
    if (rto < 1.125 * dht->rtt_high_ms)
        rto = 1.125 * dht->rtt_high_ms; /* the slowest recent replies */
    if (dht->rtt_samples < DHT__RTT_MIN_SAMPLES || rto >= (double)dht->cfg.timeout_ms)
        return dht->cfg.timeout_ms;
    if (rto < (double)DHT__RTO_MIN_MS)
        return DHT__RTO_MIN_MS < dht->cfg.timeout_ms ? DHT__RTO_MIN_MS : dht->cfg.timeout_ms;
    return (uint32_t)rto;
}

/* Feeds the round-trip time of a reply to a first attempt to the
 * estimator (RFC 6298's gains: 1/8 and 1/4). */
static void measure_rtt(dht_t *dht, const dht__rpc_t *rpc)
{
    double sample = (double)(dht->now - rpc->sent_at);
    double err;

    if (rpc->attempts != 1 || rpc->len == 0)
        return; /* a resent request or a stream: the sample would mislead */
    if (dht->rtt_samples < DHT__RTT_MIN_SAMPLES)
        dht->rtt_samples++;
    if (dht->srtt_ms <= 0.0) {
        dht->srtt_ms = sample > 0.0 ? sample : 0.5;
        dht->rttvar_ms = sample / 2.0;
        return;
    }
    /* The slowest recent reply, forgotten slowly (towards srtt): rttvar
     * alone left the slowest few in a hundred replies of a wide spread
     * past the timeout, and a lookup then ended without them. */
    if (rpc->rto_ms != 0) { /* not a STORE or fetch: their replies wait on disks */
        dht->rtt_high_ms = dht->srtt_ms + (dht->rtt_high_ms - dht->srtt_ms) * 15.0 / 16.0;
        if (sample > dht->rtt_high_ms)
            dht->rtt_high_ms = sample;
    }
    err = sample > dht->srtt_ms ? sample - dht->srtt_ms : dht->srtt_ms - sample;
    dht->rttvar_ms = 0.75 * dht->rttvar_ms + 0.25 * err;
    dht->srtt_ms = 0.875 * dht->srtt_ms + 0.125 * sample;
    if (dht->srtt_ms <= 0.0)
        dht->srtt_ms = 0.5;
}

/* Sends rpc again, padded instead of carrying the token its node no
 * longer accepts (it answered ERROR unproven), as a first attempt. */
/* Re-encodes rpc's request (a datagram) in place with proof (NULL: none)
 * and new_pad bytes of padding. @return 0, or -1 if it cannot (then it
 * is as it was: dht__rpc_send made the room, so only OpenSSL's failure to
 * tag it can do that, and the request then times out). */
static int reframe(dht_t *dht, dht__rpc_t *rpc, const uint8_t *proof, size_t new_pad)
{
    size_t bare = rpc->len - dht->tag_len; /* a private network's tag comes off, then on */
    size_t len =
        dht__wire_reframe(rpc->msg, bare, rpc->pad, proof, new_pad, rpc->cap - dht->tag_len);

    if (len == 0 || (len = dht__netkey_seal(dht, rpc->msg, len)) == 0)
        return -1;
    rpc->len = len;
    rpc->pad = (uint16_t)new_pad;
    return 0;
}

/* Sends rpc again at once, as a first attempt (a hastened one keeps its
 * earlier deadline: its lookup waits no longer for it). */
static void restart(dht_t *dht, dht__rpc_t *rpc)
{
    uint64_t deadline = dht->now + (rpc->rto_ms ? rpc->rto_ms : rpc->timeout_ms);

    (void)transmit(dht, rpc, NULL);
    rpc->attempts = 1;
    rpc->sent_at = dht->now;
    if (!rpc->hastened || deadline < rpc->deadline)
        rpc->deadline = deadline;
    heap_down(dht, rpc->heap_idx);
    heap_up(dht, rpc->heap_idx);
}

/* Sends rpc again padded instead of carrying the token its node no longer
 * accepts (it answered ERROR unproven). */
static void resend_padded(dht_t *dht, dht__rpc_t *rpc)
{
    size_t pad = rpc->retry_pad;

    dht__rt_drop_token(dht->rt, &rpc->id);
    rpc->retry_pad = 0;
    if (reframe(dht, rpc, NULL, pad) == 0)
        restart(dht, rpc);
}

/* @return 1 if reply type rt answers request type q. */
static int answers(uint8_t q, uint8_t rt)
{
    return rt == DHT__ERROR || rt == (q | 0x80);
}

int dht__rpc_reply(dht_t *dht, const dht__msg_t *m, const dht_addr_t *from)
{
    uint32_t slot = slot_of(m->txid);
    dht__rpc_t *rpc = slot < dht->rpc_cap ? dht->rpc_slots[slot] : NULL;
    int probe;

    if (rpc == NULL || rpc->txid != m->txid || !dht_addr_equal(&rpc->to, from) ||
        !answers(rpc->type, m->type)) {
        dht->st.dropped_unsolicited++;
        return DHT_ENOTFOUND;
    }
    /* A node that answers under another id than the one we asked: the old
     * entry is stale; the routing table learns the new one below. */
    if (rpc->has_id && dht_id_cmp(&rpc->id, &m->sender) != 0)
        dht__rt_failed(dht->rt, &rpc->id, dht->now);
    measure_rtt(dht, rpc);
    /* A probe of a node's global address (advert.c) is no contact: the
     * table keeps the node at the address it knows it by. */
    probe = dht__advert_is_probe(rpc);
    if (!probe && dht__rt_update(dht->rt, &m->sender, from, dht->now, DHT__RT_REPLY) < 0) {
        /* Out of memory for a bucket split: the reply still counts. */
    }
    /* The contact's own round-trip time (proximity), from first attempts
     * of requests answered at once (not a STORE's or a fetch's, whose
     * replies wait on a disk, nor a stream's). */
    if (!probe && rpc->attempts == 1 && rpc->len != 0 && rpc->rto_ms != 0) {
        dht__rt_rtt_sample(dht->rt, &m->sender, (dht->now - rpc->sent_at) * 1000u);
        if (dht->cfg.proximity) /* and its network's (net_rtt.c) */
            dht__net_rtt_sample(dht, from, (dht->now - rpc->sent_at) * 1000u);
    }
    /* Its region and global address (wire.md 5.11), or none. */
    if (m->type == DHT__PONG)
        dht__advert_heard(dht, &m->sender, from, m);
    if (m->type == DHT__NODES || m->type == DHT__VALUES || m->type == DHT__PROVIDERS ||
        m->type == DHT__HELD)
        dht__rt_set_token(dht->rt, &m->sender, from, m->token, dht->now);
    if (rpc->retry_pad && m->type == DHT__ERROR && m->err_code == DHT__WERR_UNPROVEN) {
        resend_padded(dht, rpc);
        return 0;
    }
    /* An answer to the resend without padding, no larger than it: it may
     * be cut to what an unproven source gets, so the request goes again
     * with the token the answer brought (a larger one answers the padded
     * first attempt, late). */
    if (rpc->unpadded &&
        (m->type == DHT__NODES || m->type == DHT__VALUES || m->type == DHT__PROVIDERS) &&
        dht__wire_size(m) <= rpc->len - dht->tag_len) {
        rpc->unpadded = 0;
        if (reframe(dht, rpc, m->token, 0) == 0) {
            restart(dht, rpc);
            return 0;
        }
    }
    finish(dht, rpc, 0, m);
    return 0;
}

void dht__rpc_timeouts(dht_t *dht, uint64_t now)
{
    while (dht->heap_len > 0 && dht->rpc_heap[0]->deadline <= now) {
        dht__rpc_t *rpc = dht->rpc_heap[0];

        if (rpc->unreachable)
            dht->st.rpc_unreachable++;
        else
            dht->st.rpc_timeouts++;
        rpc->unreachable = 0;
        if (rpc->attempts == 1 && rpc->rto_ms && rpc->has_id)
            dht__rt_slow(dht->rt, &rpc->id); /* until it is heard from */
        /* Resends go bare, without padding or the table's token: a node
         * that is gone (the usual reason for a timeout) costs 72 bytes a
         * resend, not up to 1,400, and a host named in a reply but not a
         * node, no more either (schema/wire.md 2.3); a node that dropped
         * our token unanswered (an older one, restarted) is not asked
         * with it again. A live node's cut answer brings a token. */
        if (rpc->attempts < rpc->max_attempts && (rpc->pad > 0 || rpc->retry_pad > 0) &&
            reframe(dht, rpc, NULL, 0) == 0) {
            if (rpc->retry_pad > 0)
                dht__rt_drop_token(dht->rt, &rpc->id);
            rpc->retry_pad = 0;
            rpc->unpadded = 1;
        }
        if (rpc->attempts < rpc->max_attempts && transmit(dht, rpc, NULL) == 0) {
            rpc->attempts++;
            rpc->deadline =
                now + (rpc->attempts == 2 && rpc->rto_ms ? rpc->rto_ms : rpc->timeout_ms);
            if (rpc->hastened && rpc->deadline > rpc->end_by)
                rpc->deadline = rpc->end_by > now ? rpc->end_by : now;
            heap_down(dht, 0);
            rpc->cb(dht, rpc, DHT__RPC_STALLED, NULL);
            continue;
        }
        /* Liveness is judged by requests sent up to 1 + retries times. A
         * stream request goes once, and the one reply datagram lost says
         * little: under loss, counting it would soon mark every peer bad
         * (a put of many chunks at 10% loss did, in test_fs_sim). Nor is
         * a hastened one, cut short by its lookup, a failure, unless its
         * node was slow already and had its adaptive timeout this time
         * too (one cut before that had no fair chance). Nor a HAVE, a
         * STORE_MANY, a FIND_PROVIDERS, a PROVIDE or a DELETE: a node of an older
         * version drops them unanswered (for a HAVE, the lookup that
         * follows, check.c, asks the node in a way every version
         * answers). */
        if (rpc->has_id && (rpc->stream || (rpc->hastened && (!rpc->was_slow || rpc->cut)) ||
                            rpc->type == DHT__HAVE || rpc->type == DHT__STORE_MANY ||
                            rpc->type == DHT__FIND_PROVIDERS || rpc->type == DHT__PROVIDE ||
                            rpc->type == DHT__DELETE || rpc->newer)) {
            dht__rt_slow(dht->rt, &rpc->id);
            dht__rt_unprobe(dht->rt, &rpc->id);
        } else if (rpc->has_id)
            dht__rt_failed(dht->rt, &rpc->id, now);
        finish(dht, rpc, DHT_ETIMEDOUT, NULL);
    }
}

int dht__rpc_unreachable(dht_t *dht, const dht_addr_t *to)
{
    int ended = 0;

    for (uint32_t i = 0; i < dht->heap_len; i++) {
        dht__rpc_t *rpc = dht->rpc_heap[i];
        if (rpc->stream || !dht_addr_equal(&rpc->to, to) || rpc->deadline <= dht->now)
            continue;
        rpc->unreachable = 1;
        rpc->deadline = dht->now;
        heap_up(dht, rpc->heap_idx); /* swaps in only entries already seen */
        ended++;
    }
    dht__rpc_timeouts(dht, dht->now);
    return ended;
}

int dht__rpc_hasten(dht_t *dht, const dht__op_t *op, uintptr_t tag, const dht_id_t *id,
                    uint32_t within_ms, unsigned more)
{
    for (uint32_t i = 0; i < dht->heap_len; i++) {
        dht__rpc_t *rpc = dht->rpc_heap[i];
        if (rpc->op != op || rpc->tag != tag || !rpc->has_id || dht_id_cmp(&rpc->id, id) != 0)
            continue;
        rpc->hastened = 1;
        if (rpc->max_attempts > rpc->attempts + more)
            rpc->max_attempts = (uint8_t)(rpc->attempts + more);
        rpc->end_by = dht->now + within_ms;
        if (rpc->deadline > rpc->end_by) {
            rpc->deadline = rpc->end_by;
            heap_up(dht, rpc->heap_idx);
        }
        if (rpc->deadline < rpc->sent_at + (rpc->rto_ms ? rpc->rto_ms : rpc->timeout_ms))
            rpc->cut = 1;
        return 1;
    }
    return 0;
}

uint64_t dht__rpc_next_deadline(const dht_t *dht)
{
    return dht->heap_len > 0 ? dht->rpc_heap[0]->deadline : UINT64_MAX;
}

void dht__rpc_shutdown(dht_t *dht)
{
    while (dht->heap_len > 0)
        finish(dht, dht->rpc_heap[dht->heap_len - 1], DHT_ECANCELED, NULL);
    free(dht->rpc_slots);
    free(dht->rpc_heap);
    free(dht->rpc_free);
    dht->rpc_slots = NULL;
    dht->rpc_heap = NULL;
    dht->rpc_free = NULL;
    dht->rpc_cap = dht->rpc_nfree = 0;
}
