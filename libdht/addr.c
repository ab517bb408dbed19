/* Endpoint parsing and formatting (numeric only: libdht never resolves). */
#include "node.h" /* dht__source_of */

#include <arpa/inet.h> /* inet_pton, inet_ntop */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a decimal port 0..65535 that fills the whole string. */
static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v = 0;

    if (*s == '\0' || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int dht_addr_parse(dht_addr_t *out, const char *hostport)
{
    char host[64];
    const char *colon;
    const char *port;
    dht_addr_t a;
    size_t hlen;

    if (hostport == NULL)
        return DHT_EADDR;
    memset(&a, 0, sizeof(a));
    if (hostport[0] == '[') {
        const char *close = strchr(hostport, ']');
        if (close == NULL || close[1] != ':')
            return DHT_EADDR;
        hlen = (size_t)(close - hostport - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return DHT_EADDR;
        memcpy(host, hostport + 1, hlen);
        host[hlen] = '\0';
        port = close + 2;
        if (inet_pton(AF_INET6, host, a.ip) != 1)
            return DHT_EADDR;
        a.family = DHT_AF_INET6;
    } else {
        colon = strrchr(hostport, ':');
        if (colon == NULL)
            return DHT_EADDR;
        hlen = (size_t)(colon - hostport);
        if (hlen == 0 || hlen >= sizeof(host))
            return DHT_EADDR;
        memcpy(host, hostport, hlen);
        host[hlen] = '\0';
        port = colon + 1;
        if (inet_pton(AF_INET, host, a.ip) != 1)
            return DHT_EADDR;
        a.family = DHT_AF_INET;
    }
    if (parse_port(port, &a.port) != 0)
        return DHT_EADDR;
    *out = a;
    return 0;
}

char *dht_addr_format(const dht_addr_t *addr, char *buf)
{
    char ip[INET6_ADDRSTRLEN];

    if (addr->family == DHT_AF_INET6) {
        inet_ntop(AF_INET6, addr->ip, ip, sizeof(ip));
        snprintf(buf, DHT_ADDRSTRLEN, "[%s]:%u", ip, (unsigned)addr->port);
    } else if (addr->family == DHT_AF_INET) {
        inet_ntop(AF_INET, addr->ip, ip, sizeof(ip));
        snprintf(buf, DHT_ADDRSTRLEN, "%s:%u", ip, (unsigned)addr->port);
    } else {
        snprintf(buf, DHT_ADDRSTRLEN, "(none)");
    }
    return buf;
}

int dht_addr_equal(const dht_addr_t *a, const dht_addr_t *b)
{
    size_t n = a->family == DHT_AF_INET6 ? 16 : 4;

    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

/* The 16-byte form of a: IPv6 as it is, IPv4 mapped (::ffff:a.b.c.d). */
static void as_v6(const dht_addr_t *a, uint8_t out[16])
{
    memset(out, 0, 16);
    if (a->family == DHT_AF_INET6) {
        memcpy(out, a->ip, 16);
        return;
    }
    out[10] = out[11] = 0xff;
    memcpy(out + 12, a->ip, 4);
}

static int is_mapped(const uint8_t ip[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(ip, prefix, sizeof(prefix)) == 0;
}

void dht__source_of(dht_source_t *out, const dht_addr_t *a)
{
    static const uint8_t zero[8];

    /* An IPv4 address, mapped into IPv6 or not (a dual-stack socket's view
     * of an IPv4 peer), is that address; an IPv6 one, its /64, but in
     * ::/64 (::1, say) the whole address, so that no peer ever comes out
     * all zero (the node itself). */
    as_v6(a, out->b);
    if (memcmp(out->b, zero, 8) != 0)
        memset(out->b + 8, 0, 8);
}

int dht__addr_local(const dht_addr_t *a)
{
    static const uint8_t loopback6[16] = {[15] = 1};
    uint8_t ip[16];
    const uint8_t *p = ip + 12;

    as_v6(a, ip);
    if (!is_mapped(ip)) /* ::1, fc00::/7 (unique local), fe80::/10 (link-local) */
        return memcmp(ip, loopback6, 16) == 0 || (ip[0] & 0xfe) == 0xfc ||
               (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80);
    /* 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16 */
    return p[0] == 0 || p[0] == 10 || (p[0] == 100 && (p[1] & 0xc0) == 64) || p[0] == 127 ||
           (p[0] == 169 && p[1] == 254) || (p[0] == 172 && (p[1] & 0xf0) == 16) ||
           (p[0] == 192 && p[1] == 168);
}

int dht__addr_same_subnet(const dht_addr_t *a, const dht_addr_t *b)
{
    static const uint8_t zero[8];
    uint8_t x[16], y[16];

    as_v6(a, x);
    as_v6(b, y);
    if (is_mapped(x) != is_mapped(y))
        return 0;
    if (is_mapped(x))
        return memcmp(x, y, 15) == 0; /* a /24 */
    /* A /64; within ::/64 (::1, IPv4-compatible) the whole address. */
    return memcmp(x, y, memcmp(x, zero, 8) == 0 ? 16 : 8) == 0;
}

int dht__addr_same_endpoint(const dht_addr_t *a, const dht_addr_t *b)
{
    uint8_t x[16], y[16];

    if (a->port != b->port)
        return 0;
    if (a->family == b->family) /* the common case, without a copy */
        return memcmp(a->ip, b->ip, a->family == DHT_AF_INET6 ? 16 : 4) == 0;
    as_v6(a, x);
    as_v6(b, y);
    return memcmp(x, y, 16) == 0;
}
