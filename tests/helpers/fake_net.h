/*
 * A fake network for driving libdht cores directly, without sockets or a
 * real clock: every core's io.send() appends the message (source, address,
 * transport, bytes) to one queue, io.clock() returns the net's time, and the
 * test delivers messages with dht_receive() and moves time with
 * dht_periodic(). Nothing here depends on cmocka, so any test can link it.
 *
 * Also: recorders for the callbacks of dht.h, and helpers to craft and
 * inspect wire messages (wire.h) for tests that play a peer by hand.
 */
#ifndef FAKE_NET_H
#define FAKE_NET_H

#include "dht.h"
#include "wire.h"

#define FAKE_MAX_NODES  48
#define FAKE_MAX_VALUES 256

/* One message some core sent. */
typedef struct fake_msg {
    dht_addr_t from; /* the sending core's address */
    dht_addr_t to;
    dht_transport_t transport;
    uint8_t *buf; /* owned by the queue, or by whoever popped it */
    size_t len;
} fake_msg_t;

typedef struct fake_net fake_net_t;

typedef struct fake_node {
    fake_net_t *net;
    dht_t *dht;
    dht_addr_t addr;
    int online;    /* 0: whatever it sends or is sent is lost on delivery */
    int fail_send; /* 1: io.send() returns DHT_EIO and queues nothing */
    uint64_t sends, send_failures;
    uint64_t wakes, last_wake; /* io.wake() calls and the last time asked */
    size_t tag_len;            /* a private network's tag on its datagrams */
} fake_node_t;

struct fake_net {
    uint64_t now;
    fake_node_t nodes[FAKE_MAX_NODES];
    size_t n;
    fake_msg_t *q; /* pending messages: q[head..len) */
    size_t head, len, cap;
    uint64_t delivered, lost;
    uint64_t stream_msgs;        /* messages sent with DHT_TRANSPORT_STREAM */
    uint64_t oversize_datagrams; /* datagrams over DHT_MAX_DATAGRAM, plus the sender's
                                  * network tag if it has a key (never ok) */
    uint8_t *reply_buf;          /* bytes of the last reply fake_request() took */
    int exact;                   /* fake_inject: no padding added */
    int icmp;                    /* 1: a datagram to an offline node is reported back to its
                                  * sender with dht_unreachable(), as a host whose process died
                                  * answers with an ICMP port unreachable */
    uint64_t icmp_reports;
    struct fake_nat { /* a NAT's forwarded port (fake_nat_forward) */
        int node;
        dht_addr_t outside, inside, peer; /* peer: the last one that came in */
    } nat;
    int has_nat;
};

/* A NAT forwards `outside` (HOST:PORT) to node i: a message to outside
 * reaches node i from `inside` (the NAT's side of the local network),
 * and node i's messages to inside go back to the last sender from
 * outside, from outside (one flow at a time: enough for a probe). */
void fake_nat_forward(fake_net_t *net, const char *outside, int i, const char *inside);

/* @return a net at time start_ms with no nodes, or NULL (out of memory). */
fake_net_t *fake_net_new(uint64_t start_ms);

/* Frees every core (dht_free, so callbacks may fire), the queue, the net. */
void fake_net_free(fake_net_t *net);

/* Fills cfg with the defaults, seed, and id if not NULL. */
void fake_config(dht_config_t *cfg, uint64_t seed, const dht_id_t *id);

/* Adds a core listening on hostport with cfg (NULL: defaults, seed = index
 * + 1). @return its index, or a negative DHT_E* code. */
int fake_add(fake_net_t *net, const char *hostport, const dht_config_t *cfg);

/* Removes core i from the net: dht_free() it now. */
void fake_remove(fake_net_t *net, int i);

dht_t *fake_dht(fake_net_t *net, int i);
const dht_addr_t *fake_addr_of(const fake_net_t *net, int i);

/* @return the index of the core at addr, or -1. */
int fake_find(const fake_net_t *net, const dht_addr_t *addr);

/* Parses hostport; aborts the process if it does not parse. */
dht_addr_t fake_addr(const char *hostport);

/* Sets every byte of *id to b. */
void fake_id_fill(dht_id_t *id, uint8_t b);

/* The queue. Pointers from fake_peek() are valid until the queue changes. */
size_t fake_queued(const fake_net_t *net);
const fake_msg_t *fake_peek(const fake_net_t *net, size_t i);
int fake_pop(fake_net_t *net, fake_msg_t *out); /* 1 if one was taken */
void fake_msg_free(fake_msg_t *m);
void fake_clear(fake_net_t *net); /* drops every queued message */

/* Number of queued messages to `to` (NULL: any) of wire type `type` (-1:
 * any). Undecodable messages count only for type -1. */
size_t fake_count(const fake_net_t *net, const dht_addr_t *to, int type);

/* Finds the first queued message to `to` (NULL: any) of wire type `type`
 * and decodes it into *out (pointing into the queue).
 * @return its index in fake_peek() order, or -1. */
int fake_find_msg(const fake_net_t *net, const dht_addr_t *to, int type, dht__msg_t *out);

/* Removes queued message i (fake_peek() order). */
void fake_drop(fake_net_t *net, size_t i);

/* Hands m to the core it is addressed to, at the net's time.
 * @return what dht_receive() returned, or 1 if the message was lost. */
int fake_deliver(fake_net_t *net, const fake_msg_t *m);

/* Delivers queued messages, and those they cause, until none is left.
 * @return how many were handed over. */
size_t fake_pump(fake_net_t *net);

/* Sets the time to now_ms (never backwards) and runs dht_periodic() on
 * every core. */
void fake_set_time(fake_net_t *net, uint64_t now_ms);
void fake_advance(fake_net_t *net, uint64_t ms);

/* Pumps, then moves time to the earliest deadline of any core, and again,
 * until *flag is nonzero (flag may be NULL) or max_ms have passed.
 * @return 1 if *flag became nonzero, else 0. */
int fake_run(fake_net_t *net, const int *flag, uint64_t max_ms);

/* Core i's counters at the net's time. */
dht_stats_t fake_stats(fake_net_t *net, int i);

/* @return 1 if core i's routing table holds id (a bucket node, not bad). */
int fake_knows(fake_net_t *net, int i, const dht_id_t *id);

/* An id with first byte b and the rest zero. */
dht_id_t fake_id_b0(uint8_t b);

/* Crafting messages as a peer. */

/* Zeroes *m and sets its header. */
void fake_msg_init(dht__msg_t *m, uint8_t type, uint32_t txid, const dht_id_t *sender);

/* Encodes m and hands it to core `node` as if it came from `from`. A
 * datagram request with neither a proof nor padding (nor a STORE) is
 * padded to DHT_MAX_DATAGRAM, as a peer that wants a reply sends it,
 * unless net->exact is set.
 * @return what dht_receive() returned, or DHT_EPROTO if m does not encode. */
int fake_inject(fake_net_t *net, int node, const dht_addr_t *from, const dht__msg_t *m,
                dht_transport_t transport);

/* Injects request `req` and takes the core's reply to `from` with the same
 * txid off the queue, decoded into *reply (its pointers stay valid until the
 * next fake_request()). @return 0, or -1 if there was no reply. */
int fake_request(fake_net_t *net, int node, const dht_addr_t *from, const dht__msg_t *req,
                 dht__msg_t *reply);

/* Recorders for the callbacks of dht.h: pass a fake_result_t as arg. */

typedef struct fake_value {
    uint8_t *data;
    size_t len;
    uint32_t ttl_s;
    dht_id_t hash;
} fake_value_t;

typedef struct fake_result {
    int calls; /* how many times the callback ran */
    int status;
    int has_peer;
    dht_id_t peer;
    unsigned stored;
    size_t n_nodes;
    dht_node_info_t nodes[DHT_MAX_K];
    dht_lookup_stats_t stats;
    size_t n_values; /* as reported */
    fake_value_t values[FAKE_MAX_VALUES];
} fake_result_t;

void fake_ping_cb(int status, const dht_id_t *peer_id, void *arg);
void fake_status_cb(int status, void *arg);
void fake_nodes_cb(int status, const dht_node_info_t *nodes, size_t n,
                   const dht_lookup_stats_t *stats, void *arg);
void fake_put_cb(int status, unsigned stored, void *arg);
void fake_get_cb(int status, const dht_value_t *values, size_t n, void *arg);

/* Frees the copied values and zeroes *r. */
void fake_result_clear(fake_result_t *r);

/* @return 1 if r holds a value with these bytes. */
int fake_result_has(const fake_result_t *r, const void *data, size_t len);

#endif /* FAKE_NET_H */
