/*
 * stream_probe: plays a hostile peer against a node's streams (the TCP
 * side of its port, schema/wire.md section 6), for the exhaustion tests
 * (issue 13 item 4). One process, on 127.0.0.1:
 *
 *   stream_probe HOST:PORT idle COUNT SECONDS
 *       opens COUNT connections and sends nothing;
 *   stream_probe HOST:PORT half COUNT SECONDS
 *       opens COUNT connections, each sending a preamble, the header of a
 *       1 MiB frame and half of it, then nothing;
 *   stream_probe HOST:PORT noread COUNT SECONDS KEY
 *       proves its address (a FIND_VALUE of KEY, padded, brings a token),
 *       then sends COUNT GET_VALUEs of KEY (hex: a large value the node
 *       holds) with that proof, 100 a second, from a port whose TCP
 *       listener never accepts: the node's streams to it are never read;
 *
 * (idle and half then send, on one more connection, a PING by stream, as
 * an honest peer would, and wait up to 2 s for its PONG), then holds
 * everything open for SECONDS and prints one line:
 *
 *   opened N connections; a stream PING after them: answered; after S s, K still open
 *                                                      (idle, half)
 *   proven: yes; sent N GET_VALUEs; D datagrams back    (noread)
 *
 * and exits 0 (2 on bad arguments, a socket error, or no token).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#define MAX_CONNS  4096
#define FRAME_LEN  (1u << 20)
#define HALF_FRAME (FRAME_LEN / 2)

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int usage(void)
{
    fprintf(stderr, "usage: stream_probe HOST:PORT idle|half COUNT SECONDS\n"
                    "       stream_probe HOST:PORT noread COUNT SECONDS KEY\n");
    return 2;
}

static int fail(const char *what)
{
    fprintf(stderr, "stream_probe: %s: %s\n", what, strerror(errno));
    return 2;
}

/* Writes all of buf to a blocking socket. @return 0, or -1 (closed). */
static int send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* @return how many of fds[0..n) the peer has not closed (a read returns
 * EOF or an error on a closed one; these connections get no data). */
static size_t still_open(const int *fds, size_t n)
{
    size_t open = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t b;
        ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            open++;
    }
    return open;
}

/* A UDP socket on 127.0.0.1 (any port) and that port in *port. @return it, or -1. */
static int udp_socket(uint16_t *port)
{
    struct sockaddr_in self = {0};
    socklen_t len = sizeof(self);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    self.sin_family = AF_INET;
    self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof(self)) != 0 ||
        getsockname(fd, (struct sockaddr *)&self, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(self.sin_port);
    return fd;
}

/* Waits up to ms for a datagram on udp. @return its length, or 0. */
static size_t recv_datagram(int udp, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd p = {.fd = udp, .events = POLLIN};
    ssize_t r;

    if (poll(&p, 1, ms) <= 0)
        return 0;
    r = recv(udp, buf, cap, MSG_DONTWAIT);
    return r > 0 ? (size_t)r : 0;
}

/* An honest peer's stream: a new connection carrying a PING, whose PONG
 * comes back by datagram to the preamble's port. @return 1 if it did
 * within 2 s. */
static int stream_ping(const struct sockaddr_in *to)
{
    uint8_t pre[DHT_STREAM_PREAMBLE], hdr[DHT_STREAM_FRAME_HDR], buf[DHT_MAX_DATAGRAM];
    uint16_t port = 0;
    int udp = udp_socket(&port), fd = socket(AF_INET, SOCK_STREAM, 0), answered = 0;
    dht__msg_t m;
    size_t len;

    memset(&m, 0, sizeof(m));
    m.type = DHT__PING;
    m.txid = 0x5151;
    memset(m.sender.b, 0x51, DHT_ID_LEN);
    len = dht__wire_encode(&m, buf, sizeof(buf));
    dht_stream_preamble(pre, port);
    dht_stream_frame_header(hdr, (uint32_t)len);
    if (udp >= 0 && fd >= 0 && connect(fd, (const struct sockaddr *)to, sizeof(*to)) == 0 &&
        send_all(fd, pre, sizeof(pre)) == 0 && send_all(fd, hdr, sizeof(hdr)) == 0 &&
        send_all(fd, buf, len) == 0) {
        for (uint64_t until = now_ms() + 2000; !answered && now_ms() < until;) {
            dht__msg_t r;
            size_t n = recv_datagram(udp, buf, sizeof(buf), (int)(until - now_ms()));
            answered = n > 0 && dht__wire_decode(&r, buf, n) == 0 && r.type == DHT__PONG &&
                       r.txid == m.txid;
        }
    }
    if (fd >= 0)
        close(fd);
    if (udp >= 0)
        close(udp);
    return answered;
}

static int streams(const struct sockaddr_in *to, const char *kind, unsigned long count,
                   unsigned long seconds)
{
    int answered;
    static int fds[MAX_CONNS];
    static uint8_t junk[HALF_FRAME];
    size_t n = 0;
    int half = strcmp(kind, "half") == 0;

    if (!half && strcmp(kind, "idle") != 0)
        return usage();
    if (count > MAX_CONNS)
        count = MAX_CONNS;
    memset(junk, 0x5a, sizeof(junk));
    for (unsigned long i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return fail("socket");
        if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0) {
            close(fd);
            continue; /* refused: the node may shed connections */
        }
        if (half) {
            uint8_t pre[DHT_STREAM_PREAMBLE], hdr[DHT_STREAM_FRAME_HDR];
            dht_stream_preamble(pre, 4242);
            dht_stream_frame_header(hdr, FRAME_LEN);
            /* The node may close it under way: what was sent counts. */
            if (send_all(fd, pre, sizeof(pre)) != 0 || send_all(fd, hdr, sizeof(hdr)) != 0 ||
                send_all(fd, junk, sizeof(junk)) != 0) {
                close(fd);
                continue;
            }
        }
        fds[n++] = fd;
    }
    answered = stream_ping(to);
    sleep((unsigned)seconds);
    printf("opened %zu connections; a stream PING after them: %s; after %lu s, %zu still open\n", n,
           answered ? "answered" : "not answered", seconds, still_open(fds, n));
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

static int noread(const struct sockaddr_in *to, unsigned long count, unsigned long seconds,
                  const dht_id_t *key)
{
    struct sockaddr_in self = {0};
    socklen_t self_len = sizeof(self);
    int udp = socket(AF_INET, SOCK_DGRAM, 0), listener = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096, yes = 1;
    uint8_t buf[DHT_MAX_DATAGRAM], token[DHT__WIRE_TOKEN_LEN];
    unsigned long long datagrams = 0;
    dht__msg_t m, r;
    size_t len;
    int proven = 0;

    /* A UDP port of the system's choosing and the TCP port of the same
     * number: that one may be taken (a daemon's outgoing connection, say),
     * so another pair then. */
    for (int attempt = 0;; attempt++) {
        memset(&self, 0, sizeof(self));
        self.sin_family = AF_INET;
        self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        self_len = sizeof(self);
        /* A tiny receive buffer, inherited by what the listener would
         * accept: the node's writes back up into its own memory at once. */
        setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)); /* old ports linger */
        if (udp >= 0 && listener >= 0 && bind(udp, (struct sockaddr *)&self, sizeof(self)) == 0 &&
            getsockname(udp, (struct sockaddr *)&self, &self_len) == 0 &&
            bind(listener, (struct sockaddr *)&self, sizeof(self)) == 0 &&
            listen(listener, 16) == 0)
            break;
        if (errno != EADDRINUSE || attempt == 50)
            return fail("socket");
        close(udp);
        close(listener);
        udp = socket(AF_INET, SOCK_DGRAM, 0);
        listener = socket(AF_INET, SOCK_STREAM, 0);
    }
    memset(&m, 0, sizeof(m));
    m.type = DHT__FIND_VALUE;
    m.txid = 0x7001;
    memset(m.sender.b, 0x77, DHT_ID_LEN);
    m.target = *key;
    m.pad = (uint16_t)(DHT_MAX_DATAGRAM - dht__wire_size(&m)); /* room for its answer */
    for (int attempt = 0; attempt < 5 && !proven; attempt++) {
        len = dht__wire_encode(&m, buf, sizeof(buf));
        sendto(udp, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
        while ((len = recv_datagram(udp, buf, sizeof(buf), 500)) > 0)
            if (dht__wire_decode(&r, buf, len) == 0 && r.type == DHT__VALUES) {
                memcpy(token, r.token, sizeof(token));
                proven = 1;
                break;
            }
    }
    if (!proven) {
        fprintf(stderr, "stream_probe: no token from the node\n");
        return 2;
    }
    for (unsigned long i = 0; i < count; i++) {
        uint64_t due = now_ms() + 10; /* 100 a second */
        memset(&m, 0, sizeof(m));
        m.type = DHT__GET_VALUE;
        m.txid = 0x8000u + (uint32_t)i;
        memset(m.sender.b, 0x77, DHT_ID_LEN);
        m.target = *key;
        m.hash = *key;
        m.has_proof = 1;
        memcpy(m.proof, token, sizeof(m.proof));
        len = dht__wire_encode(&m, buf, sizeof(buf));
        sendto(udp, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
        while (now_ms() < due)
            datagrams += recv_datagram(udp, buf, sizeof(buf), (int)(due - now_ms())) > 0;
    }
    for (uint64_t until = now_ms() + seconds * 1000u; now_ms() < until;)
        datagrams += recv_datagram(udp, buf, sizeof(buf), (int)(until - now_ms())) > 0;
    printf("proven: yes; sent %lu GET_VALUEs; %llu datagrams back\n", count, datagrams);
    close(listener);
    close(udp);
    return 0;
}

int main(int argc, char **argv)
{
    dht_addr_t target;
    struct sockaddr_in to = {0};
    unsigned long count, seconds;
    dht_id_t key;

    if (argc < 5 || dht_addr_parse(&target, argv[1]) != 0 || target.family != DHT_AF_INET)
        return usage();
    count = strtoul(argv[3], NULL, 10);
    seconds = strtoul(argv[4], NULL, 10);
    to.sin_family = AF_INET;
    memcpy(&to.sin_addr, target.ip, 4);
    to.sin_port = htons(target.port);
    if (count == 0)
        return usage();
    if (strcmp(argv[2], "noread") == 0) {
        if (argc < 6 || dht_id_from_hex(&key, argv[5]) != 0)
            return usage();
        return noread(&to, count, seconds, &key);
    }
    return streams(&to, argv[2], count, seconds);
}
