/*
 * dht_probe: plays a hostile peer against a node on 127.0.0.1, for the
 * hostile-network tests (issue 13). It sends requests of one kind, as
 * small as the wire allows (no padding, no proof: an attacker's bytes),
 * from one UDP port, and counts every byte the node sends back to that
 * port: by datagram, and by stream (it listens on the same TCP port, as
 * a node would, and reads whatever arrives).
 *
 *   dht_probe HOST:PORT KIND COUNT RATE [KEY]
 *
 * KIND: ping, find_node, find_value, get_value (KEY: hex, the value's key
 * and hash), store (a bad token), garbage, or mixed (garbage, ping,
 * find_node and store in turn). RATE: requests per second.
 * After the last request it listens 1 s more, then prints one line:
 *
 *   sent N requests, B bytes; got D datagrams, X bytes; S streams, Y bytes
 *
 * and exits 0 (2 on bad arguments or a socket error).
 */
#include <errno.h>
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

#define MAX_STREAMS 64

typedef struct probe {
    int udp, listener, streams[MAX_STREAMS];
    size_t n_streams;
    unsigned long long got_datagrams, got_dgram_bytes, got_streams, got_stream_bytes;
} probe_t;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int usage(void)
{
    fprintf(stderr, "usage: dht_probe HOST:PORT "
                    "ping|find_node|find_value|get_value|store|garbage|mixed COUNT RATE [KEY]\n");
    return 2;
}

/* Builds request i of `kind` into buf. @return its length, 0 if unknown. */
static size_t build(const char *kind, uint32_t i, const dht_id_t *key, uint8_t *buf)
{
    static const char *const mixed[] = {"garbage", "ping", "find_node", "store"};
    dht__msg_t m;

    if (strcmp(kind, "mixed") == 0)
        kind = mixed[i % 4];
    memset(&m, 0, sizeof(m));
    m.txid = 0x10000u + i;
    for (size_t b = 0; b < DHT_ID_LEN; b++) /* a made-up id per request */
        m.sender.b[b] = (uint8_t)(i * 131u + b * 7u + (i >> 8));
    if (strcmp(kind, "garbage") == 0) {
        for (size_t b = 0; b < 64; b++)
            buf[b] = (uint8_t)(i * 17u + b * 101u);
        return 64;
    }
    if (strcmp(kind, "ping") == 0) {
        m.type = DHT__PING;
    } else if (strcmp(kind, "find_node") == 0) {
        m.type = DHT__FIND_NODE;
        m.target = m.sender;
    } else if (strcmp(kind, "find_value") == 0) {
        m.type = DHT__FIND_VALUE;
        m.target = *key;
    } else if (strcmp(kind, "get_value") == 0) {
        m.type = DHT__GET_VALUE;
        m.target = *key;
        m.hash = *key;
    } else if (strcmp(kind, "store") == 0) {
        static const uint8_t value[64];
        m.type = DHT__STORE;
        m.target = *key;
        m.ttl = 60;
        m.value = value;
        m.value_len = sizeof(value);
    } else {
        return 0;
    }
    return dht__wire_encode(&m, buf, DHT_MAX_DATAGRAM);
}

/* Reads whatever is waiting, for up to wait_ms. */
static void drain(probe_t *p, int wait_ms)
{
    struct pollfd fds[2 + MAX_STREAMS];
    uint8_t buf[65536];
    size_t n = 0;

    fds[n++] = (struct pollfd){.fd = p->udp, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = p->listener, .events = POLLIN};
    for (size_t i = 0; i < p->n_streams; i++)
        fds[n++] = (struct pollfd){.fd = p->streams[i], .events = POLLIN};
    if (poll(fds, n, wait_ms) <= 0)
        return;
    if (fds[0].revents & POLLIN) {
        ssize_t r;
        while ((r = recv(p->udp, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
            p->got_datagrams++;
            p->got_dgram_bytes += (unsigned long long)r;
        }
    }
    if (fds[1].revents & POLLIN) {
        int s = accept(p->listener, NULL, NULL);
        if (s >= 0 && p->n_streams < MAX_STREAMS) {
            p->streams[p->n_streams++] = s;
            p->got_streams++;
        } else if (s >= 0) {
            close(s);
        }
    }
    for (size_t i = 0; i < p->n_streams; i++) {
        if (!(fds[2 + i].revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t r = recv(p->streams[i], buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0)
            p->got_stream_bytes += (unsigned long long)r;
    }
}

int main(int argc, char **argv)
{
    probe_t p = {0};
    dht_addr_t target;
    dht_id_t key = {{0}};
    struct sockaddr_in to = {0}, self = {0};
    socklen_t self_len = sizeof(self);
    unsigned long count, rate;
    unsigned long long sent_bytes = 0;
    uint8_t buf[DHT_MAX_DATAGRAM];
    uint64_t start, until;

    if (argc < 5 || dht_addr_parse(&target, argv[1]) != 0 || target.family != DHT_AF_INET)
        return usage();
    count = strtoul(argv[3], NULL, 10);
    rate = strtoul(argv[4], NULL, 10);
    if (count == 0 || rate == 0 || (argc > 5 && dht_id_from_hex(&key, argv[5]) != 0) ||
        build(argv[2], 0, &key, buf) == 0)
        return usage();
    to.sin_family = AF_INET;
    memcpy(&to.sin_addr, target.ip, 4);
    to.sin_port = htons(target.port);
    /* A UDP port of the system's choosing, and the TCP port of the same
     * number (where a node answers by stream): that one may be taken (an
     * outgoing connection of a daemon, say), so another pair then. */
    for (int attempt = 0;; attempt++) {
        int ok;
        memset(&self, 0, sizeof(self));
        self.sin_family = AF_INET;
        self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        self_len = sizeof(self);
        p.udp = socket(AF_INET, SOCK_DGRAM, 0);
        p.listener = socket(AF_INET, SOCK_STREAM, 0);
        ok = p.udp >= 0 && p.listener >= 0 &&
             bind(p.udp, (struct sockaddr *)&self, sizeof(self)) == 0 &&
             getsockname(p.udp, (struct sockaddr *)&self, &self_len) == 0 &&
             bind(p.listener, (struct sockaddr *)&self, sizeof(self)) == 0 &&
             listen(p.listener, 16) == 0;
        if (ok)
            break;
        if (errno != EADDRINUSE || attempt == 50) {
            fprintf(stderr, "dht_probe: %s\n", strerror(errno));
            return 2;
        }
        close(p.udp);
        close(p.listener);
    }
    start = now_ms();
    for (unsigned long i = 0; i < count; i++) {
        size_t len = build(argv[2], (uint32_t)i, &key, buf);
        uint64_t due = start + (uint64_t)i * 1000u / rate;
        while (now_ms() < due)
            drain(&p, (int)(due - now_ms()));
        if (sendto(p.udp, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)len)
            sent_bytes += len;
        drain(&p, 0);
    }
    until = now_ms() + 1000;
    while (now_ms() < until)
        drain(&p, (int)(until - now_ms()));
    printf("sent %lu requests, %llu bytes; got %llu datagrams, %llu bytes; %llu streams, %llu "
           "bytes\n",
           count, sent_bytes, p.got_datagrams, p.got_dgram_bytes, p.got_streams,
           p.got_stream_bytes);
    return 0;
}
