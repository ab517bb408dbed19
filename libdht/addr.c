/* Endpoint parsing and formatting (numeric only: libdht never resolves). */
#include "dht.h"

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
