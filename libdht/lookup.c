/*
 * The iterative lookup. Candidates are kept sorted by distance to the
 * target; at most alpha requests count as in flight (no limit for the
 * seeds when the whole table fits in the window of the k closest). A
 * request whose first attempt went unanswered for the adaptive timeout
 * (dht__rpc_rto) is stalled: it stops counting against alpha and the
 * candidate leaves the window of the k closest, so the lookup goes on
 * without waiting for a node that may be dead; its request is still
 * resent, and a late reply brings the candidate back as answered while
 * the lookup runs. A node the table marks slow (one such request lately,
 * no word since) is asked but not waited for from the start. The lookup
 * ends when the k closest candidates that have neither failed nor
 * stalled have all answered (and at least one has, or none is stalled).
 * Nodes our table already knows as bad are never candidates. The lookup
 * starts from the table's k contacts nearest to the target; while fewer
 * than k live candidates are left, it takes the table's next nearest (up
 * to the candidate list's size), so contacts that died since they were
 * last heard from cost a timeout each, not the lookup.
 *
 * A get's lookup is patient while it holds no verified value: a stalled
 * candidate may be the one holder, late because it is busy.
 *
 * A node lookup (dht_find_node), asked for the k closest nodes, waits for
 * a few stalled candidates among them (DHT__LOOKUP_FEW_STALLED): their
 * requests get one more resend, and all of DHT__LOOKUP_FIND_GRACE_RTOS
 * adaptive timeouts in all. A few stalled are most likely a datagram
 * lost, many at once more likely dead nodes, which it does not wait for.
 * At 5% loss (10,000 nodes, delay 10-100 ms) this made 97% of lookups
 * exact instead of 33%, their p50 latency 9% longer; right after a
 * quarter of the nodes died, lookups took 1.86 times their healthy time
 * instead of 1.78.
 *
 * A put's lookup is patient: the nodes it finds are the ones that will
 * keep the value, so it does not end while a stalled candidate nearer
 * than its k-th live one may still answer; it goes on asking the next
 * candidates meanwhile (a stalled one never counts in the window asked).
 * Without this, a node that answers late under load (a daemon busy
 * storing the chunks of the same put) is left out, and the value is
 * stored on fewer or farther nodes.
 *
 * Its patience has a bound: once as many candidates answered as the put
 * needs (its copies, at most k/2), it stops waiting for the stalled ones
 * (their requests end, with no more resends): at once when as many live
 * candidates as its copies are known besides them, else after a grace of
 * DHT__LOOKUP_GRACE_RTOS adaptive timeouts (nobody could take their
 * place, and late answers tend to come together), but never for one the
 * table marked slow when it was asked: that one has had its adaptive
 * timeout already, in an earlier request (a file's manifest, put after
 * its chunks, waited a second timeout for the nodes its chunks' lookup
 * had just found dead). A dead node among the
 * closest then costs a put one adaptive timeout; a node only late is
 * left out (marked slow, not failed), the next closest answers in its
 * place, and the holders' replication hands it its copy later. (With the
 * grace in every case, the first put on loopback daemons after 5 of 20
 * died took 2.4 to 3.6 times as long as on the healthy network, the
 * timeout being at its 10 ms floor there.)
 * With fewer answers than that (a small network under load), the put
 * waits as long as it takes, so that it never lands on too few nodes.
 *
 * py-dht's client parameters (dht_config_t): the window of closest
 * candidates a find_node, put or get lookup must hear from is
 * lookup_results (b) rather than k, and with lookup_stale_stop (steps-to-
 * stop) such a lookup also ends once that many replies in a row brought
 * no candidate nearer than the window's last (all candidates count when
 * fewer than the window are known); failed requests are no step.
 */
#include "id_order.h"
#include "node.h"

#include <stdlib.h>
#include <string.h>

static size_t lower_bound(const dht__lookup_t *lk, const dht_id_t *id)
{
    size_t lo = 0, hi = lk->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (dht__id_cmp_distance(&lk->target, &lk->cands[mid].node.id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static dht__cand_t *find(dht__lookup_t *lk, const dht_id_t *id)
{
    size_t i = lower_bound(lk, id);

    if (i < lk->n && dht_id_cmp(&lk->cands[i].node.id, id) == 0)
        return &lk->cands[i];
    return NULL;
}

/* @return 1 if id failed in this lookup and left its candidate list. */
static int gone(const dht__lookup_t *lk, const dht_id_t *id)
{
    for (size_t i = 0; i < lk->n_gone && i < DHT__LOOKUP_GONE; i++)
        if (dht_id_cmp(&lk->gone[i], id) == 0)
            return 1;
    return 0;
}

/* Inserts a new candidate in distance order. When full, the farthest
 * candidate that failed goes (it will never answer, and while it held its
 * place nodes that answered were pushed out: a lookup among many dead
 * nodes then ended with fewer than k, found by test_lookup_model), else
 * the farthest (or the new one, if it is the farthest). A failed one that
 * goes is remembered, not asked again. A candidate named again by a node
 * fewer hops away keeps the shorter count: hops are the length of the
 * shortest chain of answers that led to it. @return 1 if node is a new
 * candidate. */
static int add(dht__lookup_t *lk, const dht_node_info_t *node, unsigned hops)
{
    size_t i = lower_bound(lk, &node->id);
    dht__cand_t *c;

    if (i < lk->n && dht_id_cmp(&lk->cands[i].node.id, &node->id) == 0) {
        if (hops < lk->cands[i].hops)
            lk->cands[i].hops = (uint8_t)hops;
        return 0;
    }
    if (gone(lk, &node->id))
        return 0;
    if (lk->n == lk->cap) {
        size_t drop = lk->n;
        while (drop > 0 && lk->cands[drop - 1].state != DHT__CAND_FAILED)
            drop--;
        if (drop > 0) { /* the farthest failed one */
            drop--;
            lk->gone[lk->n_gone++ % DHT__LOOKUP_GONE] = lk->cands[drop].node.id;
            memmove(&lk->cands[drop], &lk->cands[drop + 1], (lk->n - drop - 1) * sizeof(*c));
            lk->n--;
            if (drop < i)
                i--;
        } else {
            dht__cand_t *last = &lk->cands[lk->n - 1];
            if (i == lk->n)
                return 0;
            if (last->state == DHT__CAND_INFLIGHT)
                lk->inflight--;
            lk->n--;
        }
    }
    memmove(&lk->cands[i + 1], &lk->cands[i], (lk->n - i) * sizeof(*c));
    c = &lk->cands[i];
    memset(c, 0, sizeof(*c));
    c->node = *node;
    c->hops = (uint8_t)(hops > 255 ? 255 : hops);
    c->state = DHT__CAND_NEW;
    lk->n++;
    return 1;
}

/* Makes the table's `depth` contacts nearest to the target candidates
 * (those already among them stay as they are), at most lk->cap. */
static void seed(dht_t *dht, dht__lookup_t *lk, size_t depth)
{
    dht__rt_node_t nodes[DHT__LOOKUP_CAP_MAX];
    size_t n;

    if (depth > lk->cap)
        depth = lk->cap;
    n = dht__rt_closest(dht->rt, &lk->target, dht->now, nodes, depth);
    /* Every contact bad (each left its last requests unanswered: an
     * overload, a network blip): a user's find_node, put or get asks them
     * anyway rather than give up with no peers; an answer makes a contact
     * good again. A node loaded with a big put through 20 daemons under
     * the sanitizers failed it so. Maintenance does not (a leave would
     * wait out the timeouts of nodes that are gone). */
    if (n == 0 && lk->n == 0 && lk->user)
        n = dht__rt_closest_any(dht->rt, &lk->target, dht->now, nodes, depth);
    for (size_t i = 0; i < n; i++) {
        dht_node_info_t info = {nodes[i].id, nodes[i].addr};
        add(lk, &info, 1);
    }
    lk->seeded = depth;
    lk->table_dry = n < depth;
}

static void finish(dht_t *dht, dht__op_t *op)
{
    dht__lookup_t *lk = &op->lk;

    if (lk->finished)
        return;
    lk->finished = 1;
    for (size_t i = 0; i < lk->n; i++) {
        if (lk->cands[i].state == DHT__CAND_ANSWERED) {
            lk->stats.hops = lk->cands[i].hops;
            break;
        }
    }
    lk->stats.duration_ms = dht->now - lk->started_at;
    dht->st.lookups_done++;
    dht__op_lookup_done(dht, op);
}

static void on_reply(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply);

static int query(dht_t *dht, dht__op_t *op, dht__cand_t *c)
{
    dht__lookup_t *lk = &op->lk;
    dht__msg_t m;

    dht__msg_request(&m,
                     !lk->want_values ? DHT__FIND_NODE
                     : op->providers  ? DHT__FIND_PROVIDERS
                                      : DHT__FIND_VALUE,
                     NULL);
    m.target = lk->target;
    if (lk->want_values) { /* a get's options; 0 for the others */
        m.max_age = op->max_age_s;
        m.first = op->page_first;
    }
    lk->stats.requests++;
    return dht__rpc_send(dht, &m, &c->node.addr, &c->node.id, 0, 0, on_reply, op, op->lookup_gen);
}

/* @return 1 if our table knows id as bad: others may still name it. */
static int known_bad(const dht_t *dht, const dht_id_t *id)
{
    dht__rt_node_t known;

    return dht__rt_find(dht->rt, id, &known) && dht__rt_state(&known, dht->now) == DHT__RT_BAD;
}

/* @return 1 if our table marks id slow: a request to it went unanswered
 * for the adaptive timeout since it was last heard from. */
static int known_slow(const dht_t *dht, const dht_id_t *id)
{
    dht__rt_node_t known;

    return dht__rt_find(dht->rt, id, &known) && known.slow;
}

/* A put's lookup with as many answers as it needs among its k closest
 * live candidates (or a node lookup with few stalled): the requests of the
 * stalled candidates nearer than the last of them end within grace_ms,
 * after `more` resends at most (once); those of candidates the table
 * marked slow when they were asked end at once: they have had their
 * adaptive timeout already, in an earlier request. */
static void bound_patience(dht_t *dht, dht__op_t *op, uint32_t grace_ms, unsigned more)
{
    dht__lookup_t *lk = &op->lk;

    for (size_t i = 0, live = 0; i < lk->n && live < lk->window; i++) {
        dht__cand_t *c = &lk->cands[i];
        if (c->state == DHT__CAND_STALLED && !c->hastened) {
            c->hastened = 1;
            dht__rpc_hasten(dht, op, op->lookup_gen, &c->node.id, c->was_slow ? 0 : grace_ms,
                            c->was_slow ? 0 : more);
        }
        live += c->state != DHT__CAND_FAILED && c->state != DHT__CAND_STALLED;
    }
}

/* @return c's round trip, us: as the table measured it, else as the
 * contacts measured in its network answer (net_rtt.c), else the node's
 * mean. Looked up once per candidate. */
static uint32_t cand_rtt(const dht_t *dht, dht__cand_t *c)
{
    if (!c->rtt_looked) {
        c->rtt_us = dht__rt_rtt(dht->rt, &c->node.id);
        if (c->rtt_us == 0)
            c->rtt_us = dht__net_rtt(dht, &c->node.addr);
        if (c->rtt_us == 0)
            c->rtt_us = (uint32_t)(dht->srtt_ms * 1000.0);
        c->rtt_looked = 1;
    }
    return c->rtt_us;
}

/* @return the bucket c falls in, as far as a get is concerned: before
 * any reply, the bucket of our table that holds it (the seeds of one
 * bucket are alike to Kademlia, which starts a lookup with any alpha of
 * "its closest non-empty k-bucket"); after, its distance to the target's
 * power of two (a bucket of a table at the target), where every
 * candidate as close as the k-th closest known (lookup_results-th) counts
 * as one: any of the k closest may hold the value, and the k-th bounds
 * how deep the lookup has got. Candidates sorted by distance to the
 * target come together either way. */
static unsigned proximity_class(const dht_t *dht, const dht__lookup_t *lk, const dht__cand_t *c)
{
    unsigned bits, kth;

    if (lk->stats.replies == 0)
        return dht_id_common_prefix(&dht->self, &c->node.id);
    bits = dht_id_common_prefix(&lk->target, &c->node.id);
    if (lk->n >= lk->window) { /* failed or not: it can only narrow the equals */
        kth = dht_id_common_prefix(&lk->target, &lk->cands[lk->window - 1].node.id);
        if (bits > kth)
            bits = kth;
    }
    return bits;
}

/* Proximity: of the new candidates from index i on in the same class as
 * candidate i (proximity_class), the one with the shortest round-trip
 * time (cand_rtt); i itself on a tie. Only for a value lookup (a get),
 * which ends at the first holder that answers: a node lookup (find_node,
 * put, replication) must hear from every one of the k closest, alpha at
 * a time, so the order only decides which reply comes last, and asking
 * the near ones first left the far ones for the end (emofs sim: p99 10%
 * longer, p50 no shorter). Without dht_config_t.proximity, candidate i. */
static dht__cand_t *soonest_of_equals(const dht_t *dht, dht__lookup_t *lk, size_t i)
{
    dht__cand_t *best = &lk->cands[i];
    unsigned bits;
    uint32_t best_rtt;

    /* Not a get's (a replication's or a count's need all), nor one that
     * lookup_stale_stop ends when replies stop bringing nearer nodes: a
     * farther candidate asked first would end it early. */
    if (!dht->cfg.proximity || lk->ask_all || !lk->want_values || !lk->user || lk->stale_stop)
        return best;
    bits = proximity_class(dht, lk, best);
    best_rtt = cand_rtt(dht, best);
    for (size_t j = i + 1; j < lk->n && j < i + lk->window; j++) {
        dht__cand_t *c = &lk->cands[j];
        if (proximity_class(dht, lk, c) != bits)
            break;
        if (c->state == DHT__CAND_NEW && cand_rtt(dht, c) < best_rtt) {
            best = c;
            best_rtt = c->rtt_us;
        }
    }
    return best;
}

/* Sends what alpha allows, or ends the lookup when the k closest live
 * candidates have all answered (and, for a patient one, the stalled
 * candidates nearer than the last of them have answered or failed). The
 * window of candidates asked never counts the stalled: while a patient
 * lookup waits for them, the next candidates are asked already, so that
 * a dead node among the closest costs its wait once, not a wait and then
 * another round. */
static void advance(dht_t *dht, dht__op_t *op)
{
    dht__lookup_t *lk = &op->lk;
    unsigned seen = 0, answered = 0, stalled = 0, waiting = 0;
    int all_answered = 1;
    /* A get that holds no verified value yet waits for the stalled too:
     * they may be the only holders, late because busy (a survivor's get
     * right after kills, while every holder repairs, ended "not found"
     * so). A get of a key nobody holds then waits out the resends of the
     * dead among its closest that its table does not know as bad yet (a
     * contact is bad after DHT__RT_BAD_FAILS unanswered requests; one
     * the table does not hold is never known bad). lookup_stale_stop
     * still ends it early when set. */
    int patient = lk->patient || (op->kind == DHT__OP_GET && dht__get_empty(op));

    if (lk->finished)
        return;
    for (size_t i = 0; i < lk->n && seen < lk->window; i++) {
        dht__cand_t *c = &lk->cands[i];
        if (c->state == DHT__CAND_FAILED)
            continue;
        if (c->state == DHT__CAND_NEW && (lk->inflight < dht->cfg.alpha || lk->ask_all)) {
            dht__cand_t *q = soonest_of_equals(dht, lk, i);
            if (query(dht, op, q) != 0) {
                q->state = DHT__CAND_FAILED;
            } else if (known_slow(dht, &q->node.id)) {
                /* A node that left a request unanswered lately is asked,
                 * but not waited for (unless the lookup is patient). A
                 * reply still makes it ANSWERED. */
                q->state = DHT__CAND_STALLED;
                q->was_slow = 1;
            } else {
                q->state = DHT__CAND_INFLIGHT;
                lk->inflight++;
            }
            if (q != c) { /* a farther one went first: c is looked at again */
                i--;
                continue;
            }
            if (c->state == DHT__CAND_FAILED)
                continue;
        }
        if (c->state == DHT__CAND_STALLED) {
            stalled++;
            waiting += patient;
            continue;
        }
        seen++;
        if (c->state != DHT__CAND_ANSWERED)
            all_answered = 0;
        else
            answered++;
    }
    /* A put with as many answers as it needs waits no longer for the
     * stalled when enough live candidates besides them can hold all its
     * copies; where nobody could take their place (a small network) it
     * gives them a grace: a late node's answer is often followed by the
     * others that were as late. */
    if (waiting > 0 && lk->need > 0 && answered >= lk->need)
        bound_patience(dht, op,
                       seen >= lk->keepers ? 0 : DHT__LOOKUP_GRACE_RTOS * dht__rpc_rto(dht), 0);
    /* A node lookup waits a little for a few stalled candidates (see the
     * top of the file). */
    if ((op->kind == DHT__OP_FIND_NODE || op->kind == DHT__OP_ROUTE) && stalled > 0 &&
        stalled <= DHT__LOOKUP_FEW_STALLED && answered > 0) {
        bound_patience(dht, op, DHT__LOOKUP_FIND_GRACE_RTOS * dht__rpc_rto(dht), 1);
        waiting = stalled;
    }
    if (!all_answered)
        return;
    /* Fewer than k live candidates: the table's next nearest contacts fill
     * the window before the lookup waits or gives up. Without this, a node
     * whose k nearest contacts to a target all died since it last heard
     * from them ended with no peers, while its table held live ones a
     * little farther off. */
    if (seen < lk->window && !lk->table_dry && lk->seeded < lk->cap) {
        seed(dht, lk, lk->seeded + dht->cfg.k);
        advance(dht, op);
        return;
    }
    if (waiting > 0)
        return;
    /* With nothing answered yet, the stalled requests are all there is:
     * wait for their resends rather than end empty-handed. */
    if (answered > 0 || stalled == 0)
        finish(dht, op);
}

/* @return 1 if a is a loopback address (127/8, ::1): the one place where
 * many nodes share an IP as a matter of course (local networks, tests). */
static int loopback(const dht_addr_t *a)
{
    static const uint8_t v6_loop[16] = {[15] = 1};

    return a->family == DHT_AF_INET ? a->ip[0] == 127 : memcmp(a->ip, v6_loop, 16) == 0;
}

/* @return 1 if a candidate other than n (by id) already has n's address,
 * or its IP but on loopback. */
static int address_taken(const dht__lookup_t *lk, const dht_node_info_t *n)
{
    size_t iplen = n->addr.family == DHT_AF_INET6 ? 16 : 4;
    int by_ip = !loopback(&n->addr);
    uint32_t head;

    /* The first 4 bytes of the IP sort out nearly every candidate without
     * a call: this runs for every node of every reply. */
    memcpy(&head, n->addr.ip, 4);
    for (size_t i = 0; i < lk->n; i++) {
        const dht_addr_t *a = &lk->cands[i].node.addr;
        uint32_t h;
        memcpy(&h, a->ip, 4);
        if (h != head || a->family != n->addr.family || (!by_ip && a->port != n->addr.port) ||
            (iplen > 4 && memcmp(a->ip + 4, n->addr.ip + 4, iplen - 4) != 0))
            continue;
        if (dht_id_cmp(&lk->cands[i].node.id, &n->id) != 0)
            return 1;
    }
    return 0;
}

/* Sets *out to the window's last live candidate (neither failed nor
 * stalled): what a reply must beat to bring the lookup nearer.
 * @return 0 if fewer live candidates than the window are known (then
 * any new one does). */
static int frontier(const dht__lookup_t *lk, dht_id_t *out)
{
    unsigned live = 0;

    for (size_t i = 0; i < lk->n; i++) {
        const dht__cand_t *c = &lk->cands[i];
        if (c->state == DHT__CAND_FAILED || c->state == DHT__CAND_STALLED)
            continue;
        if (++live == lk->window) {
            *out = c->node.id;
            return 1;
        }
    }
    return 0;
}

/* Adds a reply's nodes as candidates. @return 1 if one of them is new and
 * nearer than beat (any new one, if beat is NULL). */
static int merge_nodes(dht_t *dht, dht__lookup_t *lk, const dht__msg_t *m, unsigned hops,
                       const dht_id_t *beat)
{
    int nearer = 0;

    for (unsigned i = 0; i < m->n_nodes; i++) {
        const dht_node_info_t *n = &m->nodes[i];
        /* One candidate per address, per IP off loopback: a reply naming
         * one host under many ids or ports would otherwise aim as many of
         * our requests at it. */
        if (dht_id_cmp(&n->id, &dht->self) == 0 || n->addr.port == 0 || known_bad(dht, &n->id) ||
            address_taken(lk, n))
            continue;
        if (add(lk, n, hops) &&
            (beat == NULL || dht__id_cmp_distance(&lk->target, &n->id, beat) < 0))
            nearer = 1;
        /* Learn it too, where the table has room: a node's own contacts
         * alone leave whole subtrees unknown to it when many nodes join at
         * once, and lookups then end in the wrong subtree. It is verified
         * (then handed to others) when it answers one of our requests or
         * asks us something, or by a ping once it is among the closest to
         * a target someone asks us about (server.c). */
        dht__rt_update(dht->rt, &n->id, &n->addr, dht->now, DHT__RT_LEARNED);
    }
    return nearer;
}

/* Counts a reply (nearer: it brought a nearer candidate) against
 * lookup_stale_stop. @return 1 if the lookup is to end. */
static int stale_step(dht__lookup_t *lk, int nearer)
{
    if (lk->stale_stop == 0)
        return 0;
    lk->stale = nearer ? 0 : lk->stale + 1;
    return lk->stale >= lk->stale_stop;
}

static void on_reply(dht_t *dht, dht__rpc_t *rpc, int status, const dht__msg_t *reply)
{
    dht__op_t *op = rpc->op;
    dht__lookup_t *lk = &op->lk;
    dht__cand_t *c;
    dht__cand_t from;
    dht_id_t beat;
    int has_beat, nearer;

    if (rpc->tag != op->lookup_gen || lk->cands == NULL)
        return; /* an rpc of an earlier lookup of this op */
    c = find(lk, &rpc->id);

    if (status == DHT__RPC_STALLED) {
        if (c && c->state == DHT__CAND_INFLIGHT) {
            c->state = DHT__CAND_STALLED;
            lk->inflight--;
        }
        lk->stats.requests++;
        advance(dht, op);
        return;
    }
    if (c && c->state == DHT__CAND_INFLIGHT)
        lk->inflight--;
    if (lk->finished || status == DHT_ECANCELED)
        return;
    if (status != 0 || reply->type == DHT__ERROR) {
        lk->stats.timeouts += status != 0;
        if (c)
            c->state = DHT__CAND_FAILED;
        advance(dht, op); /* a failure is no step (as py-dht counts them) */
        return;
    }
    lk->stats.replies++;
    has_beat = frontier(lk, &beat);
    if (c == NULL) {
        /* Pushed out of the candidate list while in flight: still learn. */
        nearer = merge_nodes(dht, lk, reply, 2, has_beat ? &beat : NULL);
        if (stale_step(lk, nearer))
            finish(dht, op);
        else
            advance(dht, op);
        return;
    }
    c->state = DHT__CAND_ANSWERED;
    if (reply->type == DHT__NODES || reply->type == DHT__VALUES || reply->type == DHT__PROVIDERS) {
        memcpy(c->token, reply->token, sizeof(c->token));
        c->has_token = 1;
    }
    if ((op->kind == DHT__OP_REPLICATE || op->kind == DHT__OP_HOLDERS) &&
        reply->type == DHT__VALUES)
        dht__replicate_on_values(op, c, reply);
    from = *c; /* merging moves the array */
    nearer = merge_nodes(dht, lk, reply, from.hops + 1u, has_beat ? &beat : NULL);
    if (op->kind == DHT__OP_GET && reply->type == (op->providers ? DHT__PROVIDERS : DHT__VALUES))
        dht__get_on_values(dht, op, &from, reply);
    if (stale_step(lk, nearer))
        finish(dht, op);
    else
        advance(dht, op);
}

int dht__lookup_start(dht_t *dht, dht__op_t *op, const dht_id_t *target, int want_values)
{
    dht__lookup_t *lk = &op->lk;

    memset(lk, 0, sizeof(*lk));
    op->lookup_gen++;
    lk->target = *target;
    lk->want_values = (uint8_t)(want_values != 0);
    lk->patient = op->kind == DHT__OP_PUT || op->kind == DHT__OP_REPLICATE ||
                  op->kind == DHT__OP_HOLDERS || op->kind == DHT__OP_DELETE;
    lk->window = dht->cfg.k;
    if (op->kind == DHT__OP_FIND_NODE || op->kind == DHT__OP_PUT || op->kind == DHT__OP_GET ||
        op->kind == DHT__OP_ROUTE || op->kind == DHT__OP_DELETE) {
        lk->user = 1;
        if (dht->cfg.lookup_results > 0)
            lk->window = dht->cfg.lookup_results;
        lk->stale_stop = dht->cfg.lookup_stale_stop;
    }
    if (op->kind == DHT__OP_PUT) {
        unsigned half = lk->window / 2 > 0 ? lk->window / 2 : 1;
        lk->need = op->copies < half ? op->copies : half;
        lk->keepers = op->copies < lk->window ? op->copies : lk->window;
    }
    lk->cap = 3 * dht->cfg.k < 16 ? 16 : 3 * dht->cfg.k; /* <= DHT__LOOKUP_CAP_MAX */
    lk->cands = malloc(lk->cap * sizeof(*lk->cands));
    if (lk->cands == NULL)
        return DHT_ENOMEM;
    lk->started_at = dht->now;
    /* A node that knows at most k nodes has nothing to narrow down: the
     * window is its whole table, so it asks all of its seeds at once (the
     * first lookup_results of them, when set), and waits out the timeouts
     * of dead contacts once rather than alpha at a time. */
    lk->ask_all = dht__rt_count(dht->rt, dht->now, NULL, NULL, NULL) <= dht->cfg.k;
    seed(dht, lk, dht->cfg.k);
    advance(dht, op);
    /* The seeds are all asked; nodes learned from their replies are asked
     * alpha at a time, as in any lookup (a joining node's lookup would
     * otherwise ask every node it hears of at once). */
    lk->ask_all = 0;
    return 0;
}

void dht__lookup_stop(dht_t *dht, dht__op_t *op)
{
    finish(dht, op);
}

void dht__lookup_free(dht__lookup_t *lk)
{
    free(lk->cands);
    lk->cands = NULL;
    lk->n = lk->cap = 0;
}
