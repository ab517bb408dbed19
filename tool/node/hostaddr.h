/*
 * HOST:PORT arguments (--listen, --bootstrap, DIR/config) where HOST may be
 * a name: "localhost:4100", "peer.example.org:4100", as well as the numeric
 * "127.0.0.1:4100" and "[::1]:4100" that libdht reads. A name is looked up
 * once, when the command starts, before any event loop runs.
 */
#ifndef EMOFS_HOSTADDR_H
#define EMOFS_HOSTADDR_H

#include "dht.h"

#include <stddef.h>

enum {
    HOSTADDR_EFORM = -1, /* not HOST:PORT (no port, bad port, "[name]", a bare IPv6) */
    HOSTADDR_ENAME = -2, /* HOST is a name that does not resolve */
};

/* Turns hostport into an address. A numeric address is taken as it is; a
 * name is resolved with getaddrinfo (blocking) to its first IPv4 address,
 * else its first IPv6 one. PORT is decimal, 0..65535.
 * @return 0 and *out; HOSTADDR_EFORM, or HOSTADDR_ENAME with err set to
 * "cannot resolve host 'NAME': REASON" (err may be NULL; *out unchanged). */
int hostaddr_resolve(dht_addr_t *out, const char *hostport, char *err, size_t err_cap);

/* hostaddr_resolve for the value of a flag such as "--listen": prints the
 * error ("bad --listen address 'x' (want HOST:PORT)" or "cannot resolve
 * host ...") as one line. @return 0 and *out, or EXIT_USAGE. */
int hostaddr_option(const char *flag, const char *value, dht_addr_t *out);

#endif /* EMOFS_HOSTADDR_H */
