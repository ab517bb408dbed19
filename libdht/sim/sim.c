/*
 * The simulator: many nodes in one process on a virtual clock. Each node is
 * the real core (dht_t) with an io that hands its messages to an event
 * queue instead of a socket. Datagrams are lost with probability `loss` and
 * delayed uniformly in [delay_min, delay_max], plus region_delay per step
 * between the sender's and the receiver's regions; streams (large messages) are
 * reliable and also pay size / bandwidth. Events run in (time, sequence)
 * order and every random choice comes from the seed, so a run replays
 * exactly.
 *
 * Simulated addresses are 10.x.y.z:4000 with x.y.z the node's index, so an
 * address maps back to its node without a table. With regions, node i is
 * in region i % R, and the regions' networks are apart, as real sites'
 * are: x.y.z is node j = i / R of region i % R, with x = (j >> 16) * R +
 * i % R, y.z = j & 0xffff, so a /16 (and a /24) holds one region's nodes.
 *
 * Memory: the routing tables share one contact store (contacts.h). A
 * contact that is node i at node i's address is handle i, its id kept
 * once in ids[] and its address computed; any other (a made-up id, say)
 * goes to an arena of strangers. A table slot is then 12 bytes.
 */
#include "../contacts.h"
#include "../node.h"
#include "../rt.h"
#include "dht.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SIM_PORT      4000
#define SIM_MAX_NODES (1u << 23) /* node handles; strangers' come after */

typedef struct sim_node {
    dht_sim_t *sim;
    dht_t *dht; /* NULL once removed */
    uint32_t idx;
    uint8_t online;
    unsigned extra_delay_ms; /* added to every message it sends (dht_sim_set_extra_delay) */
    uint8_t liar;            /* its VALUE replies are damaged on the way (dht_sim_set_liar) */
    uint64_t wake_at;        /* time of this node's pending timer event */
} sim_node_t;

enum { EV_TIMER, EV_MSG, EV_CALL };

/* A program's call (dht_sim_call), carried by an EV_CALL event's data. */
typedef struct sim_call {
    void (*fn)(void *arg);
    void *arg;
} sim_call_t;

typedef struct sim_event {
    uint64_t time;
    uint64_t seq;
    uint32_t dst;
    uint32_t src;
    uint8_t kind;
    uint8_t transport;
    uint32_t len;
    uint8_t *data;
} sim_event_t;

struct dht_sim {
    dht_sim_config_t cfg;
    dht__rng_t rng;
    uint64_t now;
    uint64_t seq;
    sim_node_t **nodes;
    size_t n_nodes, cap_nodes;
    sim_event_t *heap;
    size_t heap_len, heap_cap;
    dht_sim_stats_t st;
    uint64_t padding_removed;       /* padding_bytes_sent of the nodes removed */
    dht_id_t *ids;                  /* node i's id; cap_nodes of them */
    dht__contact_arena_t strangers; /* contacts that are no node at their address */
    dht__contacts_t contacts;       /* the store every table uses */
    int table_contacts;             /* dht__sim_table_contacts */
};

/* The padding bytes node dht sent (its dht_stats_t). */
static uint64_t padding_of(const dht_t *dht, uint64_t now)
{
    dht_stats_t st;

    dht_get_stats(dht, now, &st);
    return st.padding_bytes_sent;
}

void dht_sim_config_init(dht_sim_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->delay_min_ms = 5;
    cfg->delay_max_ms = 50;
    cfg->stream_mib_s = 100.0;
    dht_config_init(&cfg->node);
    /* Every simulated node is one trusted process: the per-source limiter
     * would only cost memory here. */
    cfg->node.rate_limit = 0;
}

/* ---- the event heap, ordered by (time, seq) ---- */

static int ev_before(const sim_event_t *a, const sim_event_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static int push(dht_sim_t *sim, sim_event_t ev)
{
    size_t i;

    if (sim->heap_len == sim->heap_cap) {
        size_t cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        sim_event_t *h = realloc(sim->heap, cap * sizeof(*h));
        if (h == NULL)
            return DHT_ENOMEM;
        sim->heap = h;
        sim->heap_cap = cap;
    }
    ev.seq = sim->seq++;
    i = sim->heap_len++;
    while (i > 0 && ev_before(&ev, &sim->heap[(i - 1) / 2])) {
        sim->heap[i] = sim->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    sim->heap[i] = ev;
    return 0;
}

static sim_event_t pop(dht_sim_t *sim)
{
    sim_event_t top = sim->heap[0];
    sim_event_t last = sim->heap[--sim->heap_len];
    size_t i = 0;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const sim_event_t *best = &last;
        if (l < sim->heap_len && ev_before(&sim->heap[l], best)) {
            m = l;
            best = &sim->heap[l];
        }
        if (r < sim->heap_len && ev_before(&sim->heap[r], best))
            m = r;
        if (m == i)
            break;
        sim->heap[i] = sim->heap[m];
        i = m;
    }
    if (sim->heap_len > 0)
        sim->heap[i] = last;
    return top;
}

/* ---- addresses ---- */

static void index_addr(const dht_sim_t *sim, uint32_t idx, dht_addr_t *a)
{
    unsigned r = sim->cfg.regions;

    if (r > 1) { /* x = (j >> 16) * r + region, y.z = j: a /16 in one region */
        uint32_t j = idx / r;
        idx = ((j >> 16) * r + idx % r) << 16 | (j & 0xffff);
    }
    memset(a, 0, sizeof(*a));
    a->family = DHT_AF_INET;
    a->ip[0] = 10;
    a->ip[1] = (uint8_t)(idx >> 16);
    a->ip[2] = (uint8_t)(idx >> 8);
    a->ip[3] = (uint8_t)idx;
    a->port = SIM_PORT;
}

/* @return the index of the node at a (maybe not one added yet), or
 *         UINT32_MAX if a is no simulated address. */
static uint32_t addr_index(const dht_sim_t *sim, const dht_addr_t *a)
{
    unsigned r = sim->cfg.regions;
    uint32_t x, yz;

    if (a->family != DHT_AF_INET || a->ip[0] != 10 || a->port != SIM_PORT)
        return UINT32_MAX;
    x = a->ip[1];
    yz = (uint32_t)a->ip[2] << 8 | a->ip[3];
    if (r <= 1)
        return x << 16 | yz;
    return ((x / r) << 16 | yz) * r + x % r;
}

/* @return the node at a, or NULL. */
static sim_node_t *addr_node(const dht_sim_t *sim, const dht_addr_t *a)
{
    uint32_t idx = addr_index(sim, a);

    return idx < sim->n_nodes ? sim->nodes[idx] : NULL;
}

/* ---- large arrays ---- */

#define HUGE_PAGE ((size_t)2 << 20)

/* @return bytes (at least 1) of memory for an array read at random (ids,
 * the fill's sorted view): in 2 MiB pages where the system has them, so
 * that the reads miss the TLB less. Free with free(). */
static void *random_access_alloc(size_t bytes)
{
    void *p;

    if (bytes < HUGE_PAGE)
        return malloc(bytes ? bytes : 1);
    bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    p = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
    if (p != NULL)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: no harm if refused */
#endif
    return p;
}

/* ---- the contact store the tables share ---- */

static uint32_t contacts_hold(void *arg, const dht_id_t *id, const dht_addr_t *addr)
{
    dht_sim_t *sim = arg;
    uint32_t idx = addr_index(sim, addr);

    if (idx < sim->n_nodes && dht_id_cmp(&sim->ids[idx], id) == 0)
        return idx;
    return dht__arena_hold(&sim->strangers, id, addr);
}

static void contacts_release(void *arg, uint32_t h)
{
    dht_sim_t *sim = arg;

    if (h >= SIM_MAX_NODES)
        dht__arena_release(&sim->strangers, h);
}

static const dht_id_t *contacts_id(void *arg, uint32_t h)
{
    dht_sim_t *sim = arg;

    return h < SIM_MAX_NODES ? &sim->ids[h] : dht__arena_id(&sim->strangers, h);
}

static void contacts_addr(void *arg, uint32_t h, dht_addr_t *out)
{
    dht_sim_t *sim = arg;

    if (h < SIM_MAX_NODES)
        index_addr(sim, h, out);
    else
        dht__arena_addr(&sim->strangers, h, out);
}

void dht__sim_table_contacts(dht_sim_t *sim, int on)
{
    sim->table_contacts = on;
}

/* ---- the io of a simulated node ---- */

/* The one-way delay of a message from node src to node dst: the uniform
 * draw, and the distance of their regions on the ring. */
static uint64_t delay(dht_sim_t *sim, uint32_t src, uint32_t dst)
{
    unsigned lo = sim->cfg.delay_min_ms, hi = sim->cfg.delay_max_ms, r = sim->cfg.regions;
    uint64_t d = hi > lo ? lo + dht__rng_below(&sim->rng, hi - lo + 1) : lo;

    if (r > 1) {
        unsigned a = src % r, b = dst % r, steps = a > b ? a - b : b - a;
        if (steps > r - steps)
            steps = r - steps;
        d += (uint64_t)steps * sim->cfg.region_delay_ms;
    }
    return d;
}

static int sim_send(void *arg, const dht_addr_t *to, dht_transport_t transport, const uint8_t *buf,
                    size_t len)
{
    sim_node_t *src = arg;
    dht_sim_t *sim = src->sim;
    sim_node_t *dst = addr_node(sim, to);
    sim_event_t ev;

    if (transport == DHT_TRANSPORT_STREAM) {
        sim->st.stream_msgs++;
        sim->st.stream_bytes += len;
    } else {
        sim->st.datagrams_sent++;
        sim->st.datagram_bytes += len;
    }
    /* Draw the loss first, so the random sequence does not depend on
     * whether the destination happens to exist. */
    if (transport == DHT_TRANSPORT_DATAGRAM && sim->cfg.loss > 0 &&
        dht__rng_double(&sim->rng) < sim->cfg.loss) {
        sim->st.datagrams_lost++;
        return 0;
    }
    if (dst == NULL || !src->online) {
        sim->st.datagrams_lost += transport == DHT_TRANSPORT_DATAGRAM;
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.kind = EV_MSG;
    ev.transport = (uint8_t)transport;
    ev.src = src->idx;
    ev.dst = dst->idx;
    ev.time = sim->now + delay(sim, src->idx, dst->idx) + src->extra_delay_ms;
    if (transport == DHT_TRANSPORT_STREAM && sim->cfg.stream_mib_s > 0)
        ev.time += (uint64_t)((double)len / (sim->cfg.stream_mib_s * 1048.576));
    ev.len = (uint32_t)len;
    ev.data = malloc(len);
    if (ev.data == NULL)
        return DHT_ENOMEM;
    memcpy(ev.data, buf, len);
    /* VALUE and VALUES (schema/wire.md 2.1): a value's bytes, or the last
     * entry's (its bytes or its summary's hash), end them. */
    if (src->liar && len > 40 && (buf[3] == 0x85 || buf[3] == 0x83))
        ev.data[len - 1] ^= 0xff;
    if (push(sim, ev) != 0) {
        free(ev.data);
        return DHT_ENOMEM;
    }
    return 0;
}

static void schedule(sim_node_t *node, uint64_t when)
{
    sim_event_t ev;

    if (when >= node->wake_at)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.kind = EV_TIMER;
    ev.dst = node->idx;
    ev.time = when < node->sim->now ? node->sim->now : when;
    if (push(node->sim, ev) == 0)
        node->wake_at = ev.time;
}

static void sim_wake(void *arg, uint64_t when)
{
    schedule(arg, when);
}

static uint64_t sim_clock(void *arg)
{
    const sim_node_t *node = arg;
    return node->sim->now;
}

/* ---- the public API ---- */

int dht_sim_new(dht_sim_t **out, const dht_sim_config_t *cfg)
{
    dht_sim_t *sim;

    if (out == NULL || cfg == NULL || cfg->loss < 0 || cfg->loss > 1 ||
        cfg->delay_min_ms > cfg->delay_max_ms || cfg->stream_mib_s < 0 ||
        cfg->regions > DHT_SIM_MAX_REGIONS)
        return DHT_EINVAL;
    sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return DHT_ENOMEM;
    sim->cfg = *cfg;
    dht__rng_seed(&sim->rng, cfg->seed);
    dht__arena_init(&sim->strangers, SIM_MAX_NODES);
    sim->contacts =
        (dht__contacts_t){contacts_hold, contacts_release, contacts_id, contacts_addr, sim};
    *out = sim;
    return 0;
}

void dht_sim_free(dht_sim_t *sim)
{
    if (sim == NULL)
        return;
    for (size_t i = 0; i < sim->n_nodes; i++) {
        dht_free(sim->nodes[i]->dht);
        free(sim->nodes[i]);
    }
    for (size_t i = 0; i < sim->heap_len; i++)
        free(sim->heap[i].data);
    free(sim->heap);
    free(sim->nodes);
    free(sim->ids);
    dht__arena_free(&sim->strangers);
    free(sim);
}

int dht_sim_add_node(dht_sim_t *sim)
{
    return dht_sim_add_node_with(sim, &sim->cfg.node);
}

int dht_sim_add_node_with(dht_sim_t *sim, const dht_config_t *node_cfg)
{
    dht_config_t cfg;
    dht_io_t io = {sim_send, sim_wake, sim_clock, NULL};
    sim_node_t *node;
    int err;

    if (node_cfg == NULL || sim->n_nodes >= SIM_MAX_NODES)
        return DHT_EINVAL;
    cfg = *node_cfg;
    if (sim->n_nodes == sim->cap_nodes) {
        size_t cap = sim->cap_nodes ? sim->cap_nodes * 2 : 64;
        sim_node_t **nodes = realloc(sim->nodes, cap * sizeof(*nodes));
        dht_id_t *ids;
        if (nodes == NULL)
            return DHT_ENOMEM;
        sim->nodes = nodes;
        ids = random_access_alloc(cap * sizeof(*ids));
        if (ids == NULL)
            return DHT_ENOMEM;
        if (sim->n_nodes > 0)
            memcpy(ids, sim->ids, sim->n_nodes * sizeof(*ids));
        free(sim->ids);
        sim->ids = ids;
        sim->cap_nodes = cap;
    }
    node = calloc(1, sizeof(*node));
    if (node == NULL)
        return DHT_ENOMEM;
    node->sim = sim;
    node->idx = (uint32_t)sim->n_nodes;
    node->online = 1;
    node->wake_at = UINT64_MAX;
    cfg.seed = dht__rng_next(&sim->rng) | 1; /* never 0, which means "from the OS" */
    /* The random id is drawn even for a node given its own, so that the
     * other nodes' ids do not depend on which ones were given. */
    dht__rng_bytes(&sim->rng, cfg.id.b, DHT_ID_LEN);
    if (node_cfg->has_id) {
        cfg.id = node_cfg->id;
    } else if (cfg.id_rule != DHT_ID_RULE_OFF) { /* an id that fits its address (dht.h) */
        dht_addr_t addr;
        uint8_t random[DHT_ID_LEN];
        memcpy(random, cfg.id.b, DHT_ID_LEN);
        index_addr(sim, (uint32_t)sim->n_nodes, &addr);
        dht_id_for_addr(&cfg.id, &addr, random[DHT_ID_LEN - 1], random);
    }
    cfg.has_id = 1;
    io.arg = node;
    sim->ids[sim->n_nodes] = cfg.id;
    err = dht_new(&node->dht, &cfg, &io, sim->now);
    if (err) {
        free(node);
        return err;
    }
    if (!sim->table_contacts)
        dht__rt_set_contacts(node->dht->rt, &sim->contacts);
    sim->nodes[sim->n_nodes++] = node;
    schedule(node, dht_next_deadline(node->dht));
    return (int)node->idx;
}

size_t dht_sim_node_count(const dht_sim_t *sim)
{
    return sim->n_nodes;
}

dht_t *dht_sim_node(dht_sim_t *sim, size_t i)
{
    return i < sim->n_nodes ? sim->nodes[i]->dht : NULL;
}

int dht_sim_node_addr(const dht_sim_t *sim, size_t i, dht_addr_t *out)
{
    if (i >= sim->n_nodes)
        return DHT_EINVAL;
    index_addr(sim, (uint32_t)i, out);
    return 0;
}

int dht_sim_set_online(dht_sim_t *sim, size_t i, int online)
{
    if (i >= sim->n_nodes || sim->nodes[i]->dht == NULL)
        return DHT_EINVAL;
    sim->nodes[i]->online = (uint8_t)(online != 0);
    return 0;
}

int dht_sim_set_extra_delay(dht_sim_t *sim, size_t i, unsigned ms)
{
    if (sim == NULL || i >= sim->n_nodes || sim->nodes[i]->dht == NULL || ms > 600000)
        return DHT_EINVAL;
    sim->nodes[i]->extra_delay_ms = ms;
    return 0;
}

int dht_sim_set_liar(dht_sim_t *sim, size_t i, int on)
{
    if (sim == NULL || i >= sim->n_nodes || sim->nodes[i]->dht == NULL)
        return DHT_EINVAL;
    sim->nodes[i]->liar = (uint8_t)(on != 0);
    return 0;
}

int dht_sim_remove_node(dht_sim_t *sim, size_t i)
{
    sim_node_t *node;

    if (i >= sim->n_nodes || sim->nodes[i]->dht == NULL)
        return DHT_EINVAL;
    node = sim->nodes[i];
    node->online = 0;
    sim->padding_removed += padding_of(node->dht, sim->now);
    dht_free(node->dht); /* its operations complete with DHT_ECANCELED here */
    node->dht = NULL;
    node->wake_at = UINT64_MAX;
    return 0;
}

uint64_t dht_sim_now(const dht_sim_t *sim)
{
    return sim->now;
}

int dht_sim_call(dht_sim_t *sim, uint64_t delay_ms, void (*fn)(void *arg), void *arg)
{
    sim_call_t *call;
    sim_event_t ev;

    if (sim == NULL || fn == NULL)
        return DHT_EINVAL;
    call = malloc(sizeof(*call));
    if (call == NULL)
        return DHT_ENOMEM;
    call->fn = fn;
    call->arg = arg;
    memset(&ev, 0, sizeof(ev));
    ev.kind = EV_CALL;
    ev.time = sim->now + delay_ms;
    ev.data = (uint8_t *)call;
    if (push(sim, ev) != 0) {
        free(call);
        return DHT_ENOMEM;
    }
    return 0;
}

static void run_event(dht_sim_t *sim, sim_event_t *ev)
{
    sim_node_t *node;

    sim->st.events++;
    if (ev->kind == EV_CALL) {
        sim_call_t call = *(sim_call_t *)ev->data;
        free(ev->data);
        call.fn(call.arg);
        return;
    }
    node = sim->nodes[ev->dst];
    if (ev->kind == EV_TIMER) {
        if (ev->time != node->wake_at || node->dht == NULL)
            return; /* superseded by an earlier wake-up */
        node->wake_at = UINT64_MAX;
        schedule(node, dht_periodic(node->dht, sim->now));
        return;
    }
    if (!node->online || !sim->nodes[ev->src]->online) {
        sim->st.datagrams_lost += ev->transport == DHT_TRANSPORT_DATAGRAM;
        free(ev->data);
        return;
    }
    {
        dht_addr_t from;
        index_addr(sim, ev->src, &from);
        sim->st.datagrams_delivered += ev->transport == DHT_TRANSPORT_DATAGRAM;
        dht_receive(node->dht, sim->now, ev->data, ev->len, &from, (dht_transport_t)ev->transport);
    }
    free(ev->data);
}

int dht_sim_run(dht_sim_t *sim, int (*done)(void *arg), void *arg, uint64_t until_ms)
{
    for (;;) {
        sim_event_t ev;
        if (done && done(arg))
            return 1;
        if (sim->heap_len == 0 || sim->heap[0].time > until_ms) {
            if (until_ms > sim->now && until_ms != UINT64_MAX)
                sim->now = until_ms;
            return 0;
        }
        ev = pop(sim);
        sim->now = ev.time;
        run_event(sim, &ev);
    }
}

void dht_sim_get_stats(const dht_sim_t *sim, dht_sim_stats_t *out)
{
    *out = sim->st;
    out->padding_bytes = sim->padding_removed;
    for (size_t i = 0; i < sim->n_nodes; i++)
        if (sim->nodes[i]->dht != NULL)
            out->padding_bytes += padding_of(sim->nodes[i]->dht, sim->now);
}

/* ---- fast initialisation from the global view ---- */

typedef struct id_ref {
    dht_id_t id;
    uint32_t idx;
} id_ref_t;

static int cmp_ref(const void *a, const void *b)
{
    return dht_id_cmp(&((const id_ref_t *)a)->id, &((const id_ref_t *)b)->id);
}

static int id_bit(const dht_id_t *id, unsigned b)
{
    return (id->b[b / 8] >> (7 - b % 8)) & 1;
}

/* In sorted refs[lo, hi), all sharing their first b bits: the first
 * position whose bit b is 1. Costs only bit tests, no id comparisons. */
static size_t split_at_bit(const id_ref_t *refs, size_t lo, size_t hi, unsigned b)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (id_bit(&refs[mid].id, b))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Inserts into node u up to k random members of refs[lo, hi). */
static void insert_sample(dht_sim_t *sim, sim_node_t *u, const id_ref_t *refs, size_t lo, size_t hi)
{
    size_t m = hi - lo, k = sim->cfg.node.k;
    size_t picked[DHT_MAX_K];
    size_t np = 0;

    /* Floyd's sampling of min(k, m) distinct offsets. */
    for (size_t j = m > k ? m - k : 0; j < m; j++) {
        size_t t = (size_t)dht__rng_below(&sim->rng, j + 1), q;
        for (q = 0; q < np && picked[q] != t; q++)
            ;
        picked[np] = q < np ? j : t; /* t taken already: take j instead */
        np++;
    }
    /* The samples are anywhere in refs and in ids (which the contact store
     * reads to check each id): ask for them all first, so that the cache
     * misses overlap instead of coming one at a time. */
    for (size_t q = 0; q < np; q++)
        __builtin_prefetch(&refs[lo + picked[q]]);
    for (size_t q = 0; q < np; q++)
        __builtin_prefetch(&sim->ids[refs[lo + picked[q]].idx]);
    for (size_t q = 0; q < np; q++) {
        const id_ref_t *r = &refs[lo + picked[q]];
        dht_addr_t a;
        index_addr(sim, r->idx, &a);
        dht_insert_node(u->dht, &r->id, &a, sim->now);
    }
}

int dht_sim_fill_tables(dht_sim_t *sim)
{
    id_ref_t *refs = random_access_alloc(sim->n_nodes * sizeof(*refs));
    size_t n = 0;

    if (refs == NULL)
        return DHT_ENOMEM;
    for (size_t i = 0; i < sim->n_nodes; i++) {
        if (sim->nodes[i]->dht == NULL)
            continue;
        refs[n].id = *dht_self(sim->nodes[i]->dht);
        refs[n].idx = (uint32_t)i;
        n++;
    }
    qsort(refs, n, sizeof(*refs), cmp_ref);
    for (size_t i = 0; i < sim->n_nodes; i++) {
        sim_node_t *u = sim->nodes[i];
        const dht_id_t *self;
        if (u->dht == NULL)
            continue;
        size_t lo = 0, hi = n; /* the nodes sharing d bits with u */
        self = dht_self(u->dht);
        for (unsigned d = 0; d < DHT_ID_LEN * 8; d++) {
            size_t m = split_at_bit(refs, lo, hi, d);
            /* Nodes that share d bits and differ at bit d: bucket d. */
            if (id_bit(self, d)) {
                if (m > lo)
                    insert_sample(sim, u, refs, lo, m);
                lo = m;
            } else {
                if (hi > m)
                    insert_sample(sim, u, refs, m, hi);
                hi = m;
            }
            /* Stop once no other node shares d + 1 bits with u. */
            if (hi - lo <= 1)
                break;
        }
    }
    free(refs);
    return 0;
}
