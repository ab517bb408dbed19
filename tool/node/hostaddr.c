/*
 * HOST:PORT with host names. See hostaddr.h.
 */
#include "tool/node/hostaddr.h"

#include "tool/cli/cli.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int hostaddr_resolve(dht_addr_t *out, const char *hostport, char *err, size_t err_cap)
{
    struct addrinfo hints, *res = NULL, *pick = NULL;
    char host[256], probe[32];
    const char *colon;
    dht_addr_t a;
    size_t hlen;
    int rc;

    if (hostport == NULL)
        return HOSTADDR_EFORM;
    if (dht_addr_parse(out, hostport) == 0)
        return 0; /* numeric: nothing to look up */
    /* A name: NAME:PORT. Brackets are for IPv6 addresses only, and a
     * colon in NAME would be a bare IPv6 address without its brackets. */
    colon = strrchr(hostport, ':');
    if (hostport[0] == '[' || colon == NULL)
        return HOSTADDR_EFORM;
    hlen = (size_t)(colon - hostport);
    if (hlen == 0 || hlen >= sizeof(host) || memchr(hostport, ':', hlen) != NULL)
        return HOSTADDR_EFORM;
    memcpy(host, hostport, hlen);
    host[hlen] = '\0';
    /* The port, read as libdht reads one (with a stand-in address). */
    if ((size_t)snprintf(probe, sizeof(probe), "0.0.0.0:%s", colon + 1) >= sizeof(probe) ||
        dht_addr_parse(&a, probe) != 0)
        return HOSTADDR_EFORM;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        if (err != NULL)
            snprintf(err, err_cap, "cannot resolve host '%s': %s", host, gai_strerror(rc));
        return HOSTADDR_ENAME;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (ai->ai_family == AF_INET6 && pick == NULL)
            pick = ai;
    }
    if (pick == NULL) {
        freeaddrinfo(res);
        if (err != NULL)
            snprintf(err, err_cap, "cannot resolve host '%s': no IPv4 or IPv6 address", host);
        return HOSTADDR_ENAME;
    }
    if (pick->ai_family == AF_INET) {
        a.family = DHT_AF_INET;
        memcpy(a.ip, &((const struct sockaddr_in *)pick->ai_addr)->sin_addr, 4);
    } else {
        a.family = DHT_AF_INET6;
        memcpy(a.ip, &((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, 16);
    }
    freeaddrinfo(res);
    *out = a;
    return 0;
}

int hostaddr_option(const char *flag, const char *value, dht_addr_t *out)
{
    char err[512];
    int rc = hostaddr_resolve(out, value, err, sizeof(err));

    if (rc == HOSTADDR_ENAME)
        return cli_fail(EXIT_USAGE, "%s", err);
    if (rc != 0)
        return cli_fail(EXIT_USAGE, "bad %s address '%s' (want HOST:PORT)", flag, value);
    return 0;
}
