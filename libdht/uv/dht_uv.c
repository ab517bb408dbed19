/*
 * The libuv shell: the core on a real UDP socket, a TCP listener on the
 * same port for large messages, and a timer for the core's deadlines.
 *
 * Streams (schema/wire.md): for each peer we send large messages to, one
 * outgoing TCP connection carrying an 8-byte preamble and then
 * length-prefixed messages, closed after STREAM_IDLE_MS unused. Incoming
 * connections are read-only: frames are handed to the core with the
 * sender's address taken from the connection's IP and the preamble's port.
 *
 * What streams may cost is bounded, so that no peer can exhaust the node
 * (issue 13 item 4; tests/cli/test_exhaust.sh):
 * - at most MAX_IN_STREAMS incoming connections; at that count, a new one
 *   takes the place of the least recently used connection of the address
 *   that holds the most;
 * - an incoming connection that stops sending in the middle of its
 *   preamble or of a frame for IN_STALL_MS is closed, and one idle
 *   between frames for 2 * STREAM_IDLE_MS;
 * - a frame's buffer grows with the bytes that arrive (not to the length
 *   its header announces), and all frames being read hold at most
 *   IN_FRAME_BUDGET bytes: past that, the one that progressed least lately
 *   is dropped, with its connection;
 * - bytes queued to one peer are at most OUT_QUEUE_PEER (a message past
 *   that is not sent: for the core, a lost one), to all at most
 *   OUT_QUEUE_TOTAL, and a peer that reads none of what is queued for
 *   OUT_STALL_MS is cut off, its queue freed.
 */
#define _GNU_SOURCE /* sendmmsg */
#include "dht.h"
#include "errqueue.h"
#include "frame_in.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h> /* close */

#include <uv.h>

#define RECV_CHUNKS     8           /* datagrams per recvmmsg call */
#define UDP_CHUNK       (64 * 1024) /* libuv hands recvmmsg buffers in 64 KiB chunks */
#define STREAM_IDLE_MS  30000       /* close a stream unused this long */
#define MAX_OUT_STREAMS 256
#define MAX_IN_STREAMS  512
#define SWEEP_MS        5000
#define IN_STALL_MS     10000       /* a preamble or frame, silent this long under way */
#define IN_FRAME_BUDGET (64u << 20) /* bytes of incoming frames under way, all streams */
#define FRAME_FIRST     (64u << 10) /* a frame buffer's first size; it doubles as bytes come */
#define OUT_QUEUE_PEER  (64u << 20) /* bytes queued to one peer */
#define OUT_QUEUE_TOTAL (256u << 20)
#define OUT_STALL_MS    10000 /* a peer that takes none of its queue this long is cut off */
#define UDP_RCVBUF      (4 << 20)
#define UDP_SNDBUF      (1 << 20)
#define UNREACH_MAX     32 /* destinations reported unreachable, kept until the core hears */
#define SEND_BATCH      64 /* datagrams one sendmmsg call sends at most */
#define DGRAM_MAX       (DHT_MAX_DATAGRAM + DHT_NETWORK_TAG_LEN)

#if defined(__linux__)
#define HAVE_SENDMMSG 1
#else
#define HAVE_SENDMMSG 0
#endif

/* A datagram waiting for the batch it goes out in (flush_batch). */
typedef struct out_dgram {
    struct sockaddr_storage to;
    size_t len;
    uint8_t data[DGRAM_MAX];
} out_dgram_t;

typedef struct stream stream_t;

struct stream {
    dht_uv_t *owner;
    uv_tcp_t tcp;
    stream_t *next, *prev;
    int outgoing;
    dht_addr_t peer; /* outgoing: where to; incoming: sender's listen address */
    uint64_t last_used;
    /* outgoing: bytes queued, and when the peer last took some (or the
     * queue last went from empty to not) */
    size_t queued;
    size_t unwritten; /* libuv's write queue at the last sweep */
    uint64_t last_progress;
    /* incoming: the preamble and frames (frame_in.h) */
    frame_in_t in;
};

struct dht_uv {
    uv_loop_t *loop;
    dht_t *dht;
    uv_udp_t udp;
    uv_tcp_t listener;
    uv_timer_t timer;
    uv_idle_t poll_now;  /* keeps the loop's next poll from blocking */
    uv_check_t after_io; /* runs the core's timers after that poll */
    uv_timer_t sweeper;
    dht_addr_t addr;
    int dual; /* bound to [::] with IPv4 too (dual stack): see to_sockaddr_for */
    /* More UDP sockets on the same port (SO_REUSEPORT, dht_uv_options_t):
     * the kernel spreads the senders over them; they only receive. */
    uv_udp_t extra[DHT_UV_MAX_SOCKETS - 1];
    unsigned n_extra;
    /* Datagrams sent in batches (sendmmsg): queued while the loop works,
     * sent in the check phase after its poll, or when SEND_BATCH wait;
     * send_soon keeps that poll from blocking. NULL: one sendto each. */
    out_dgram_t *batch;
    unsigned n_batch;
    uv_idle_t send_soon;
    uv_check_t send_now;
    uint64_t timer_at;
    stream_t *out, *in;
    unsigned n_out, n_in;
    size_t in_frame_bytes; /* frame_cap of every incoming stream */
    size_t out_queued;     /* queued of every outgoing stream */
    unsigned open_handles;
    int closing; /* dht_uv_close() was called: dht is NULL, handles closing */
    void (*close_cb)(void *arg);
    void *close_arg;
    uint8_t *recv_buf;               /* RECV_CHUNKS * UDP_CHUNK, reused for every read */
    int recv_got;                    /* datagrams came since the last empty read */
    dht_addr_t unreach[UNREACH_MAX]; /* reported unreachable, for the core (on_after_io) */
    unsigned n_unreach;
    uint8_t read_buf[65536]; /* TCP reads, copied out at once */
};

/* ---- addresses ---- */

static void to_sockaddr(const dht_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == DHT_AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->ip, 16);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
    }
}

/* An IPv4 peer of a dual-stack socket, ::ffff:a.b.c.d. */
static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Sets *ss to a as a socket of n's family takes it: on a dual-stack
 * socket (IPv6, IPV6_V6ONLY off) an IPv4 address goes mapped,
 * ::ffff:a.b.c.d. */
static void to_sockaddr_for(const dht_uv_t *n, const dht_addr_t *a, struct sockaddr_storage *ss)
{
    dht_addr_t mapped;

    if (!n->dual || a->family != DHT_AF_INET) {
        to_sockaddr(a, ss);
        return;
    }
    mapped = *a;
    mapped.family = DHT_AF_INET6;
    memcpy(mapped.ip, v4_mapped, sizeof(v4_mapped));
    memcpy(mapped.ip + sizeof(v4_mapped), a->ip, 4);
    to_sockaddr(&mapped, ss);
}

/* Sets *a to the address sa holds; an IPv4 address mapped into IPv6 (a
 * dual-stack socket's view of an IPv4 peer) comes out as IPv4, so that
 * the core sees one address per peer whichever socket heard it. */
static int from_sockaddr(const struct sockaddr *sa, dht_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const uint8_t *ip = (const uint8_t *)&s6->sin6_addr;
        a->port = ntohs(s6->sin6_port);
        if (memcmp(ip, v4_mapped, sizeof(v4_mapped)) == 0) {
            a->family = DHT_AF_INET;
            memcpy(a->ip, ip + sizeof(v4_mapped), 4);
            return 0;
        }
        a->family = DHT_AF_INET6;
        memcpy(a->ip, ip, 16);
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        a->family = DHT_AF_INET;
        a->port = ntohs(s4->sin_port);
        memcpy(a->ip, &s4->sin_addr, 4);
        return 0;
    }
    return DHT_EADDR;
}

/* ---- timer ---- */

static void on_timer(uv_timer_t *t);

static void arm(dht_uv_t *n, uint64_t when)
{
    uint64_t now = uv_now(n->loop);

    if (when == UINT64_MAX) {
        uv_timer_stop(&n->timer);
        n->timer_at = UINT64_MAX;
        return;
    }
    n->timer_at = when;
    uv_timer_start(&n->timer, on_timer, when > now ? when - now : 0, 0);
}

/* A deadline came. Its timeouts are judged only after the loop has read
 * what waits on the sockets: when the loop was busy (hashing a large value,
 * say), libuv runs due timers before it polls, and replies that arrived in
 * time would be counted late. So the timer only asks for a poll that does
 * not block (an idle handle) and runs the core in the check phase after
 * it. */
static void on_poll_now(uv_idle_t *h)
{
    (void)h;
}

static void on_after_io(uv_check_t *h)
{
    dht_uv_t *n = h->data;
    uint64_t next;

    uv_idle_stop(&n->poll_now);
    uv_check_stop(&n->after_io);
    /* Destinations the kernel said nobody listens at (take_reports). */
    while (n->n_unreach > 0 && !n->closing) {
        dht_addr_t to = n->unreach[--n->n_unreach];
        dht_unreachable(n->dht, uv_now(n->loop), &to);
    }
    if (n->closing) /* a callback closed the node */
        return;
    next = dht_periodic(n->dht, uv_now(n->loop));
    if (!n->closing) /* a callback may have closed the node */
        arm(n, next);
}

static void on_timer(uv_timer_t *t)
{
    dht_uv_t *n = t->data;

    uv_idle_start(&n->poll_now, on_poll_now);
    uv_check_start(&n->after_io, on_after_io);
}

static void io_wake(void *arg, uint64_t when)
{
    dht_uv_t *n = arg;
    if (when < n->timer_at && !n->closing)
        arm(n, when);
}

static uint64_t io_clock(void *arg)
{
    dht_uv_t *n = arg;
    return uv_now(n->loop);
}

/* ---- streams ---- */

static void list_remove(stream_t **head, stream_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

static void list_push(stream_t **head, stream_t *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void handle_done(dht_uv_t *n);

static void on_stream_closed(uv_handle_t *h)
{
    stream_t *s = h->data;
    dht_uv_t *n = s->owner;

    free(s->in.frame);
    free(s);
    handle_done(n);
}

static void stream_close(stream_t *s)
{
    dht_uv_t *n = s->owner;

    if (uv_is_closing((uv_handle_t *)&s->tcp))
        return;
    if (s->outgoing) {
        list_remove(&n->out, s);
        n->n_out--;
    } else {
        list_remove(&n->in, s);
        n->n_in--;
        n->in_frame_bytes -= s->in.frame_cap;
        free(s->in.frame); /* now: a loop turn may close many before their handles */
        s->in.frame = NULL;
        s->in.frame_cap = 0;
    }
    uv_close((uv_handle_t *)&s->tcp, on_stream_closed);
}

typedef struct write_req {
    uv_write_t req;
    size_t len;
    uint8_t data[]; /* 4-byte length, then the message */
} write_req_t;

static void on_written(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    stream_t *s = req->handle->data;

    s->queued -= w->len;
    s->owner->out_queued -= w->len;
    s->last_progress = uv_now(s->owner->loop);
    if (status < 0 && status != UV_ECANCELED)
        stream_close(s);
    free(w);
}

static void on_connected(uv_connect_t *req, int status)
{
    stream_t *s = req->handle->data;

    free(req);
    if (status < 0)
        stream_close(s); /* queued writes fail; the core's rpcs time out */
}

static int stream_write(stream_t *s, const uint8_t *buf, size_t len, int with_len)
{
    size_t hdr = with_len ? DHT_STREAM_FRAME_HDR : 0;
    write_req_t *w = malloc(sizeof(*w) + hdr + len);
    uv_buf_t b;
    int err;

    if (w == NULL)
        return DHT_ENOMEM;
    if (with_len)
        dht_stream_frame_header(w->data, (uint32_t)len);
    memcpy(w->data + hdr, buf, len);
    w->len = hdr + len;
    b = uv_buf_init((char *)w->data, (unsigned)w->len);
    err = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_written);
    if (err < 0) {
        free(w);
        return DHT_EIO;
    }
    if (s->queued == 0)
        s->last_progress = uv_now(s->owner->loop); /* the stall clock starts now */
    s->queued += w->len;
    s->owner->out_queued += w->len;
    return 0;
}

static stream_t *find_out(dht_uv_t *n, const dht_addr_t *to)
{
    for (stream_t *s = n->out; s; s = s->next)
        if (dht_addr_equal(&s->peer, to))
            return s;
    return NULL;
}

/* The least recently used outgoing stream, to make room for a new one. */
static stream_t *lru_out(dht_uv_t *n)
{
    stream_t *old = n->out;

    for (stream_t *s = n->out; s; s = s->next)
        if (s->last_used < old->last_used)
            old = s;
    return old;
}

/* A node bound to one address speaks from it on its streams too (else
 * the system picks the source, 127.0.0.1 for a node on 127.0.0.66): its
 * peers tie tokens and shares of their stores to the address they see.
 * @return 0 or a libuv error. */
static int bind_source(const dht_uv_t *n, stream_t *s, const dht_addr_t *to)
{
    static const uint8_t any[16];
    struct sockaddr_storage ss;
    dht_addr_t from = n->addr;

    if (from.family != to->family ||
        memcmp(from.ip, any, from.family == DHT_AF_INET6 ? 16 : 4) == 0)
        return 0;
    from.port = 0;
    to_sockaddr(&from, &ss);
    return uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
}

static stream_t *open_out(dht_uv_t *n, const dht_addr_t *to)
{
    struct sockaddr_storage ss;
    uv_connect_t *req;
    stream_t *s;
    uint8_t pre[DHT_STREAM_PREAMBLE];

    if (n->n_out >= MAX_OUT_STREAMS)
        stream_close(lru_out(n));
    s = calloc(1, sizeof(*s));
    req = malloc(sizeof(*req));
    if (s == NULL || req == NULL || uv_tcp_init(n->loop, &s->tcp) != 0) {
        free(s);
        free(req);
        return NULL;
    }
    s->owner = n;
    s->outgoing = 1;
    s->peer = *to;
    s->tcp.data = s;
    n->open_handles++;
    list_push(&n->out, s);
    n->n_out++;
    uv_tcp_nodelay(&s->tcp, 1);
    to_sockaddr_for(n, to, &ss);
    if (bind_source(n, s, to) != 0 ||
        uv_tcp_connect(req, &s->tcp, (struct sockaddr *)&ss, on_connected) != 0) {
        free(req);
        stream_close(s);
        return NULL;
    }
    /* libuv queues writes made while the connection is being set up. */
    dht_stream_preamble(pre, n->addr.port);
    if (stream_write(s, pre, sizeof(pre), 0) != 0) {
        stream_close(s);
        return NULL;
    }
    return s;
}

static int send_stream(dht_uv_t *n, const dht_addr_t *to, const uint8_t *buf, size_t len)
{
    stream_t *s = find_out(n, to);

    /* Past the bounds the message is not sent: for the core, a lost one.
     * An empty queue takes any message (a value larger than the bound). */
    if ((n->out_queued > 0 && n->out_queued + len > OUT_QUEUE_TOTAL) ||
        (s != NULL && s->queued > 0 && s->queued + len > OUT_QUEUE_PEER))
        return DHT_EIO;
    if (s == NULL && (s = open_out(n, to)) == NULL)
        return DHT_EIO;
    s->last_used = uv_now(n->loop);
    return stream_write(s, buf, len, 1);
}

static void on_stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    stream_t *s = h->data;

    (void)suggested;
    buf->base = (char *)s->owner->read_buf;
    buf->len = sizeof(s->owner->read_buf);
}

/* The incoming stream with a frame under way that progressed least
 * lately (its last read is the oldest), or NULL. */
static stream_t *most_stalled_frame(dht_uv_t *n)
{
    stream_t *worst = NULL;

    for (stream_t *s = n->in; s; s = s->next)
        if (s->in.frame_cap > 0 && (worst == NULL || s->last_used < worst->last_used))
            worst = s;
    return worst;
}

/* Makes s's frame hold at least `need` bytes (<= its length): doubles it,
 * within IN_FRAME_BUDGET for all frames under way, closing the most
 * stalled of them while the budget is short.
 * @return 0, or -1 if s itself was closed, or out of memory. */
static int frame_room(stream_t *s, size_t need)
{
    dht_uv_t *n = s->owner;
    frame_in_t *f = &s->in;
    size_t cap = f->frame_cap ? f->frame_cap : FRAME_FIRST;
    uint8_t *grown;

    if (need <= f->frame_cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > f->frame_len)
        cap = f->frame_len;
    /* A frame larger than the whole budget (a node configured for huge
     * values) may still come, alone. */
    while (n->in_frame_bytes - f->frame_cap + cap >
           (cap > IN_FRAME_BUDGET ? cap : IN_FRAME_BUDGET)) {
        stream_t *victim = most_stalled_frame(n);
        if (victim == NULL || victim == s) {
            stream_close(s);
            return -1;
        }
        stream_close(victim);
    }
    grown = realloc(f->frame, cap);
    if (grown == NULL) {
        stream_close(s);
        return -1;
    }
    n->in_frame_bytes += cap - f->frame_cap;
    f->frame = grown;
    f->frame_cap = cap;
    return 0;
}

/* Feeds bytes of an incoming stream through preamble and frame assembly
 * (frame_in.h), each whole frame to the core.
 * @return 0, -1 if the peer broke the format (then the caller closes and
 * counts it), or -2 if s was closed for want of room (frame_room). */
static int stream_consume(stream_t *s, const uint8_t *p, size_t len)
{
    dht_uv_t *n = s->owner;

    for (;;) {
        switch (frame_in_step(&s->in, n->dht, &p, &len)) {
        case FRAME_IN_MORE:
            return 0;
        case FRAME_IN_ROOM:
            if (frame_room(s, s->in.need) != 0)
                return -2;
            break;
        case FRAME_IN_DONE: {
            size_t frame_len;
            uint8_t *frame;
            n->in_frame_bytes -= s->in.frame_cap;
            frame = frame_in_take(&s->in, &frame_len);
            s->peer.port = s->in.port;
            dht_receive(n->dht, uv_now(n->loop), frame, frame_len, &s->peer, DHT_TRANSPORT_STREAM);
            free(frame);
            /* A callback closed the node (or, someday, this stream): read
             * no further. */
            if (n->closing || uv_is_closing((uv_handle_t *)&s->tcp))
                return 0;
            break;
        }
        default:
            return -1;
        }
    }
}

static void on_stream_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    stream_t *s = st->data;

    if (s->owner->closing)
        return;
    if (nread < 0) {
        stream_close(s);
        return;
    }
    s->last_used = uv_now(s->owner->loop);
    if (nread > 0 && stream_consume(s, (const uint8_t *)buf->base, (size_t)nread) == -1) {
        dht_stream_dropped(s->owner->dht);
        stream_close(s);
    }
}

/* @return 1 if a and b are the same IP (ports aside). */
static int same_ip(const dht_addr_t *a, const dht_addr_t *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, a->family == DHT_AF_INET6 ? 16 : 4) == 0;
}

/* The incoming stream to close for a new one: the least recently used of
 * the IP that holds the most (n->in is not empty). Quadratic, but only at
 * MAX_IN_STREAMS, once per connection over it. */
static stream_t *in_victim(dht_uv_t *n)
{
    stream_t *victim = n->in;
    unsigned most = 0;

    for (stream_t *s = n->in; s; s = s->next) {
        unsigned count = 0;
        for (stream_t *t = n->in; t; t = t->next)
            count += same_ip(&s->peer, &t->peer);
        if (count > most || (count == most && s->last_used < victim->last_used)) {
            most = count;
            victim = s;
        }
    }
    return victim;
}

static void on_connection(uv_stream_t *server, int status)
{
    dht_uv_t *n = server->data;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    stream_t *s;

    if (status < 0)
        return;
    if (n->n_in >= MAX_IN_STREAMS)
        stream_close(in_victim(n));
    s = calloc(1, sizeof(*s));
    if (s == NULL || uv_tcp_init(n->loop, &s->tcp) != 0) {
        free(s);
        return;
    }
    s->owner = n;
    s->tcp.data = s;
    n->open_handles++;
    list_push(&n->in, s);
    n->n_in++;
    s->last_used = uv_now(n->loop);
    if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0 ||
        uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &sslen) != 0 ||
        from_sockaddr((struct sockaddr *)&ss, &s->peer) != 0 ||
        uv_read_start((uv_stream_t *)&s->tcp, on_stream_alloc, on_stream_read) != 0)
        stream_close(s);
}

/* Closes streams idle for STREAM_IDLE_MS (incoming: twice that), and
 * those stalled: an outgoing one whose peer took none of its queue for
 * OUT_STALL_MS, an incoming one silent for IN_STALL_MS in the middle of
 * its preamble or of a frame. */
static void on_sweep(uv_timer_t *t)
{
    dht_uv_t *n = t->data;
    uint64_t now = uv_now(n->loop);
    stream_t *s, *next;

    for (s = n->out; s; s = next) {
        /* Bytes of a large message taken count as progress, not only
         * whole messages. */
        size_t unwritten = uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp);
        next = s->next;
        if (unwritten < s->unwritten)
            s->last_progress = now;
        s->unwritten = unwritten;
        if (s->queued > 0 ? now - s->last_progress > OUT_STALL_MS
                          : now - s->last_used > STREAM_IDLE_MS)
            stream_close(s);
    }
    for (s = n->in; s; s = next) {
        int under_way = !s->in.have_preamble || s->in.head_have > 0 || s->in.frame_len > 0;
        next = s->next;
        if (now - s->last_used > (under_way ? IN_STALL_MS : 2u * STREAM_IDLE_MS))
            stream_close(s);
    }
}

/* ---- UDP ---- */

/* Keeps `to`, a destination nobody receives at, for the core, which hears
 * of it in the check phase of this loop iteration (on_after_io): not from
 * here, which may be inside a call into the core (a send). */
static void note_unreachable(dht_uv_t *n, const struct sockaddr_storage *to)
{
    dht_addr_t a;
    unsigned j = 0;

    if (from_sockaddr((const struct sockaddr *)to, &a) != 0)
        return;
    while (j < n->n_unreach && !dht_addr_equal(&n->unreach[j], &a))
        j++;
    if (j == n->n_unreach && n->n_unreach < UNREACH_MAX)
        n->unreach[n->n_unreach++] = a;
    uv_idle_start(&n->poll_now, on_poll_now);
    uv_check_start(&n->after_io, on_after_io);
}

/* Reads the kernel's reports of datagrams nobody received (errqueue.h)
 * and keeps their destinations for the core (note_unreachable). */
static void take_reports(dht_uv_t *n)
{
    struct sockaddr_storage got[UNREACH_MAX];
    uv_os_fd_t fd;
    size_t count;

    if (n->closing || uv_fileno((uv_handle_t *)&n->udp, &fd) != 0)
        return;
    count = dht_uv_errqueue_drain(fd, got, UNREACH_MAX);
    for (size_t i = 0; i < count; i++)
        note_unreachable(n, &got[i]);
}

typedef struct udp_req {
    uv_udp_send_t req;
    struct sockaddr_storage to;
    int again; /* sent a second time, after a report made the first fail */
    size_t len;
    uint8_t data[];
} udp_req_t;

static void on_udp_sent(uv_udp_send_t *req, int status)
{
    udp_req_t *r = (udp_req_t *)req;
    dht_uv_t *n = req->handle->data;

    /* A report of an earlier datagram made this one fail unsent: drain
     * the reports and send it again, once. Any other loss is a timeout
     * for the core. */
    if (dht_uv_errqueue_is_report(status) && !r->again && !n->closing) {
        uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)r->len);
        take_reports(n);
        r->again = 1;
        if (uv_udp_send(&r->req, &n->udp, &b, 1, (struct sockaddr *)&r->to, on_udp_sent) == 0)
            return;
    }
    free(r);
}

/* Queues a copy of the datagram with libuv, for when the socket has
 * room again. @return 0 or a DHT_E* code. */
static int send_later(dht_uv_t *n, const struct sockaddr_storage *ss, const uint8_t *buf,
                      size_t len)
{
    uv_buf_t b;
    udp_req_t *r = malloc(sizeof(*r) + len);

    if (r == NULL)
        return DHT_ENOMEM;
    memcpy(r->data, buf, len);
    r->to = *ss;
    r->again = 0;
    r->len = len;
    b = uv_buf_init((char *)r->data, (unsigned)len);
    if (uv_udp_send(&r->req, &n->udp, &b, 1, (struct sockaddr *)&r->to, on_udp_sent) != 0) {
        free(r);
        return DHT_EIO;
    }
    return 0;
}

static int send_datagram(dht_uv_t *n, const dht_addr_t *to, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int err;

    to_sockaddr_for(n, to, &ss);
    err = uv_udp_try_send(&n->udp, &b, 1, (struct sockaddr *)&ss);
    if (dht_uv_errqueue_is_report(err)) {
        /* It failed unsent on a report of an earlier datagram. */
        take_reports(n);
        err = uv_udp_try_send(&n->udp, &b, 1, (struct sockaddr *)&ss);
    }
    if (err >= 0)
        return 0;
    if (err != UV_EAGAIN && err != UV_ENOSYS)
        return DHT_EIO;
    return send_later(n, &ss, buf, len); /* the socket is busy */
}

/* Sends the queued datagrams, as many per system call as sendmmsg takes.
 * One the kernel refuses for a report of an earlier datagram (errqueue.h)
 * goes again once the reports are read; when the socket is full, the rest
 * wait in libuv's queue; one that cannot go at all is lost, and its
 * destination reported to the core as unreachable. */
static void flush_batch(dht_uv_t *n)
{
#if HAVE_SENDMMSG
    struct mmsghdr msgs[SEND_BATCH];
    struct iovec iov[SEND_BATCH];
    unsigned i = 0, retried = UINT32_MAX;
    uv_os_fd_t fd;

    if (n->n_batch == 0 || n->closing || uv_fileno((uv_handle_t *)&n->udp, &fd) != 0) {
        n->n_batch = 0;
        return;
    }
    memset(msgs, 0, n->n_batch * sizeof(msgs[0]));
    for (unsigned j = 0; j < n->n_batch; j++) {
        out_dgram_t *d = &n->batch[j];
        iov[j].iov_base = d->data;
        iov[j].iov_len = d->len;
        msgs[j].msg_hdr.msg_name = &d->to;
        msgs[j].msg_hdr.msg_namelen =
            d->to.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        msgs[j].msg_hdr.msg_iov = &iov[j];
        msgs[j].msg_hdr.msg_iovlen = 1;
    }
    while (i < n->n_batch) {
        int sent = sendmmsg(fd, msgs + i, n->n_batch - i, MSG_DONTWAIT);
        int e = errno;
        if (sent > 0) {
            i += (unsigned)sent;
        } else if (e == EINTR) {
            continue;
        } else if (dht_uv_errqueue_is_report(-e) && retried != i) {
            retried = i;
            take_reports(n);
        } else if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            for (; i < n->n_batch; i++)
                (void)send_later(n, &n->batch[i].to, n->batch[i].data, n->batch[i].len);
        } else {
            /* It cannot go at all (no route, say): its request ends now,
             * as at a send that fails at once, not at its timeout. */
            note_unreachable(n, &n->batch[i++].to);
        }
    }
#endif
    n->n_batch = 0;
}

static void on_send_soon(uv_idle_t *h)
{
    (void)h;
}

static void on_send_now(uv_check_t *h)
{
    dht_uv_t *n = h->data;

    uv_idle_stop(&n->send_soon);
    uv_check_stop(&n->send_now);
    flush_batch(n);
}

/* Queues a datagram for the batch: sent in the check phase of this loop
 * iteration (or of the next, when queued in that phase), or at once with
 * the others when the batch is full. @return 0. */
static int queue_datagram(dht_uv_t *n, const dht_addr_t *to, const uint8_t *buf, size_t len)
{
    out_dgram_t *d;

    if (len > DGRAM_MAX || n->closing)
        return DHT_EIO;
    if (n->n_batch == SEND_BATCH)
        flush_batch(n);
    d = &n->batch[n->n_batch++];
    to_sockaddr_for(n, to, &d->to);
    memcpy(d->data, buf, len);
    d->len = len;
    if (n->n_batch == 1) {
        uv_idle_start(&n->send_soon, on_send_soon);
        uv_check_start(&n->send_now, on_send_now);
    }
    return 0;
}

static int io_send(void *arg, const dht_addr_t *to, dht_transport_t transport, const uint8_t *buf,
                   size_t len)
{
    dht_uv_t *n = arg;

    if (to->family != n->addr.family && !(n->dual && to->family == DHT_AF_INET))
        return DHT_EADDR; /* one socket, one family (both: dual stack) */
    if (transport == DHT_TRANSPORT_STREAM)
        return send_stream(n, to, buf, len);
    if (n->batch != NULL)
        return queue_datagram(n, to, buf, len);
    return send_datagram(n, to, buf, len);
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    dht_uv_t *n = h->data;

    (void)suggested;
    /* libuv processes a receive synchronously, so one buffer serves all. */
    buf->base = (char *)n->recv_buf;
    buf->len = RECV_CHUNKS * UDP_CHUNK;
}

static void on_udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *sa,
                        unsigned flags)
{
    dht_uv_t *n = h->data;
    dht_addr_t from;

    /* libuv hands over the rest of a recvmmsg batch even after a callback
     * closed the node. */
    if (n->closing)
        return;
    /* An error is a report of a datagram nobody received (errqueue.h). So
     * is an empty read with nothing read since the last: what woke the
     * loop was a report whose error a send consumed (the queue would wake
     * it again and again until read). */
    if (nread < 0 || (nread == 0 && sa == NULL && !(flags & UV_UDP_MMSG_FREE))) {
        if (nread < 0 || !n->recv_got)
            take_reports(n);
        n->recv_got = 0;
        return;
    }
    if (nread == 0 || sa == NULL || (flags & UV_UDP_PARTIAL))
        return; /* an empty datagram, the end of a recvmmsg batch, a cut one */
    n->recv_got = 1;
    if (from_sockaddr(sa, &from) != 0)
        return;
    dht_receive(n->dht, uv_now(n->loop), (const uint8_t *)buf->base, (size_t)nread, &from,
                DHT_TRANSPORT_DATAGRAM);
}

/* ---- life ---- */

/* Asks for socket buffers that absorb a burst: a full lookup's replies,
 * or k STOREs answered at once, from many operations in flight. The
 * default (about 208 KiB) holds only ~90 small datagrams. Best effort: the
 * kernel caps these at net.core.rmem_max / wmem_max. */
static void size_buffers(int fd)
{
    int rcv = UDP_RCVBUF, snd = UDP_SNDBUF;

    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
}

/* @return the DHT_E* code that says why a socket could not be bound
 * (errno e). */
static int bind_error(int e)
{
    switch (e) {
    case EADDRINUSE:
        return DHT_EADDRINUSE;
    case EACCES:
    case EPERM:
        return DHT_EACCES;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
        return DHT_EADDRNOTAVAIL;
    default:
        return DHT_EADDR;
    }
}

/* @return 1 if a is IPv6's any address, ::, which a node binds to listen
 * on IPv4 and IPv6 at once. */
static int is_any6(const dht_addr_t *a)
{
    static const uint8_t any[16];

    return a->family == DHT_AF_INET6 && memcmp(a->ip, any, 16) == 0;
}

/* Makes socket fd of a node bound to [::] dual stack (IPV6_V6ONLY off,
 * whatever the system's default, net.ipv6.bindv6only), and any other
 * IPv6 socket IPv6 only. @return 0, or -1 (errno set). */
static int set_v6only(int fd, const dht_addr_t *want)
{
    int v6only = is_any6(want) ? 0 : 1;

    if (want->family != DHT_AF_INET6)
        return 0;
    return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
}

/* Binds a UDP and a TCP socket on the same address and port. With port 0
 * the kernel picks the UDP port, whose TCP twin may be taken (by another
 * connection's ephemeral port, say): then it tries again. [::] binds
 * both families (dual stack).
 * @return 0 and both fds, or why not (bind_error). */
static int bind_pair(const dht_addr_t *want, int reuseport, int *udp_fd, int *tcp_fd,
                     dht_addr_t *got)
{
    int af = want->family == DHT_AF_INET6 ? AF_INET6 : AF_INET;
    int one = 1, err = DHT_EADDR;

    for (int attempt = 0; attempt < 16; attempt++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int u = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int t = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        to_sockaddr(want, &ss);
        if (u >= 0 && t >= 0 && set_v6only(u, want) == 0 && set_v6only(t, want) == 0 &&
            (!reuseport || setsockopt(u, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0) &&
            bind(u, (struct sockaddr *)&ss, sizeof(ss)) == 0 &&
            getsockname(u, (struct sockaddr *)&ss, &sslen) == 0 &&
            setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(t, (struct sockaddr *)&ss, sslen) == 0) {
            from_sockaddr((struct sockaddr *)&ss, got);
            size_buffers(u);
            *udp_fd = u;
            *tcp_fd = t;
            return 0;
        }
        err = bind_error(errno); /* of the call that failed, before close() */
        if (u >= 0)
            close(u);
        if (t >= 0)
            close(t);
        if (want->port != 0)
            break;
    }
    return err;
}

/* Binds one more UDP socket on n's address and port (SO_REUSEPORT), to
 * receive on. @return 0 or a DHT_E* code. */
static int bind_extra(dht_uv_t *n, uv_udp_t *h)
{
    int af = n->addr.family == DHT_AF_INET6 ? AF_INET6 : AF_INET, one = 1, err;
    int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_storage ss;

    to_sockaddr(&n->addr, &ss);
    if (fd < 0 || set_v6only(fd, &n->addr) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sizeof(ss)) != 0) {
        err = bind_error(errno);
        if (fd >= 0)
            close(fd);
        return err;
    }
    size_buffers(fd);
    if (uv_udp_init_ex(n->loop, h, AF_UNSPEC | UV_UDP_RECVMMSG) != 0) {
        close(fd);
        return DHT_EIO;
    }
    h->data = n;
    n->open_handles++;
    n->n_extra++;
    if (uv_udp_open(h, fd) != 0) {
        close(fd);
        return DHT_EIO;
    }
    return uv_udp_recv_start(h, on_udp_alloc, on_udp_recv) == 0 ? 0 : DHT_EIO;
}

static int bind_sockets(dht_uv_t *n, const dht_addr_t *want, unsigned sockets)
{
    int udp_fd, tcp_fd, err;

    if ((err = bind_pair(want, sockets > 1, &udp_fd, &tcp_fd, &n->addr)) != 0)
        return err;
    n->dual = is_any6(&n->addr);
    /* AF_UNSPEC: libuv makes no socket of its own; we hand it ours. */
    if (uv_udp_init_ex(n->loop, &n->udp, AF_UNSPEC | UV_UDP_RECVMMSG) != 0) {
        close(udp_fd);
        close(tcp_fd);
        return DHT_EIO;
    }
    n->udp.data = n;
    n->open_handles++;
    if (uv_udp_open(&n->udp, udp_fd) != 0) {
        close(udp_fd);
        close(tcp_fd);
        return DHT_EIO;
    }
    /* A datagram to a process that died is reported at once: its
     * requests need not wait out their timeouts (dht_unreachable). */
    (void)dht_uv_errqueue_enable(udp_fd, n->addr.family == DHT_AF_INET6 ? AF_INET6 : AF_INET);
    if (n->dual) /* reports of the IPv4 side come as IPv4's */
        (void)dht_uv_errqueue_enable(udp_fd, AF_INET);
    if (uv_tcp_init(n->loop, &n->listener) != 0) {
        close(tcp_fd);
        return DHT_EIO;
    }
    n->listener.data = n;
    n->open_handles++;
    if (uv_tcp_open(&n->listener, tcp_fd) != 0) {
        close(tcp_fd);
        return DHT_EIO;
    }
    if ((err = uv_listen((uv_stream_t *)&n->listener, 128, on_connection)) != 0)
        return bind_error(-err); /* libuv's codes are negated errnos */
    if (uv_udp_recv_start(&n->udp, on_udp_alloc, on_udp_recv) != 0)
        return DHT_EIO;
    for (unsigned i = 1; i < sockets; i++)
        if ((err = bind_extra(n, &n->extra[i - 1])) != 0)
            return err;
    return 0;
}

/* One handle is closed; the last one frees the node. */
static void handle_done(dht_uv_t *n)
{
    if (--n->open_handles > 0)
        return;
    if (n->close_cb)
        n->close_cb(n->close_arg);
    free(n->recv_buf);
    free(n->batch);
    free(n);
}

static void on_handle_closed(uv_handle_t *h)
{
    handle_done(h->data);
}

static void close_all(dht_uv_t *n)
{
    while (n->out)
        stream_close(n->out);
    while (n->in)
        stream_close(n->in);
    uv_close((uv_handle_t *)&n->timer, on_handle_closed);
    uv_close((uv_handle_t *)&n->poll_now, on_handle_closed);
    uv_close((uv_handle_t *)&n->after_io, on_handle_closed);
    uv_close((uv_handle_t *)&n->sweeper, on_handle_closed);
    uv_close((uv_handle_t *)&n->send_soon, on_handle_closed);
    uv_close((uv_handle_t *)&n->send_now, on_handle_closed);
    for (unsigned i = 0; i < n->n_extra; i++)
        uv_close((uv_handle_t *)&n->extra[i], on_handle_closed);
    if (n->udp.data)
        uv_close((uv_handle_t *)&n->udp, on_handle_closed);
    if (n->listener.data)
        uv_close((uv_handle_t *)&n->listener, on_handle_closed);
}

int dht_uv_new(dht_uv_t **out, uv_loop_t *loop, const dht_config_t *cfg, const char *bind_addr)
{
    return dht_uv_new_ex(out, loop, cfg, bind_addr, NULL);
}

void dht_uv_options_init(dht_uv_options_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->sockets = 1;
    opts->batch_sends = 1;
}

int dht_uv_new_ex(dht_uv_t **out, uv_loop_t *loop, const dht_config_t *cfg, const char *bind_addr,
                  const dht_uv_options_t *opts)
{
    dht_io_t io = {io_send, io_wake, io_clock, NULL};
    dht_uv_options_t o;
    dht_addr_t want;
    dht_uv_t *n;
    int err;

    if (opts != NULL)
        o = *opts;
    else
        dht_uv_options_init(&o);
    if (out == NULL || loop == NULL || o.sockets < 1 || o.sockets > DHT_UV_MAX_SOCKETS)
        return DHT_EINVAL;
    if (dht_addr_parse(&want, bind_addr) != 0)
        return DHT_EADDR;
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return DHT_ENOMEM;
    n->recv_buf = malloc(RECV_CHUNKS * UDP_CHUNK);
    if (o.batch_sends && HAVE_SENDMMSG)
        n->batch = malloc(SEND_BATCH * sizeof(*n->batch));
    if (n->recv_buf == NULL || (o.batch_sends && HAVE_SENDMMSG && n->batch == NULL)) {
        free(n->recv_buf);
        free(n->batch);
        free(n);
        return DHT_ENOMEM;
    }
    n->loop = loop;
    n->timer_at = UINT64_MAX;
    io.arg = n;
    err = dht_new(&n->dht, cfg, &io, uv_now(loop));
    if (err) {
        free(n->recv_buf);
        free(n->batch);
        free(n);
        return err;
    }
    uv_timer_init(loop, &n->timer);
    uv_idle_init(loop, &n->poll_now);
    uv_check_init(loop, &n->after_io);
    uv_timer_init(loop, &n->sweeper);
    n->timer.data = n->sweeper.data = n;
    n->poll_now.data = n->after_io.data = n;
    uv_idle_init(loop, &n->send_soon);
    uv_check_init(loop, &n->send_now);
    n->send_soon.data = n->send_now.data = n;
    n->open_handles = 6;
    err = bind_sockets(n, &want, o.sockets);
    if (err) {
        dht_free(n->dht);
        n->dht = NULL;
        close_all(n); /* frees n once libuv lets go of the handles */
        return err;
    }
    uv_timer_start(&n->sweeper, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&n->sweeper);
    arm(n, dht_next_deadline(n->dht));
    *out = n;
    return 0;
}

dht_t *dht_uv_dht(dht_uv_t *node)
{
    return node->dht;
}

void dht_uv_addr(const dht_uv_t *node, dht_addr_t *out)
{
    *out = node->addr;
}

void dht_uv_close(dht_uv_t *node, void (*close_cb)(void *arg), void *arg)
{
    dht_t *dht;

    if (node == NULL || node->closing)
        return;
    flush_batch(node); /* what the node said last still goes */
    node->closing = 1;
    node->close_cb = close_cb;
    node->close_arg = arg;
    dht = node->dht;
    node->dht = NULL;
    /* From one of the node's callbacks, the core goes (and the cancelled
     * operations report) once that callback has returned; the shell goes
     * later still, when libuv has closed the handles. */
    dht_free(dht);
    close_all(node);
}
