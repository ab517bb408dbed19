/*
 * The kernel's reports of datagrams that could not be delivered, for the
 * libuv shell (dht_uv.c): an ICMP "port unreachable" for a datagram sent
 * to a process that died on a host that is still up, "host" or "network
 * unreachable" from a router. Read from a UDP socket's error queue
 * (Linux's IP_RECVERR / IPV6_RECVERR); elsewhere these do nothing and a
 * lost peer costs its timeout, as before.
 *
 * With the option on, a report also makes the socket's next receive or
 * send fail once with its errno (ECONNREFUSED, EHOSTUNREACH, ...), the
 * send without sending: dht_uv.c drains the queue and sends again.
 */
#ifndef DHT_UV_ERRQUEUE_H
#define DHT_UV_ERRQUEUE_H

#include <stddef.h>
#include <sys/socket.h>

/* Asks the kernel to queue delivery errors on UDP socket fd of the given
 * family (AF_INET or AF_INET6). Best effort.
 * @return 0 if reports will come, -1 if not (not Linux, or refused). */
int dht_uv_errqueue_enable(int fd, int family);

/* Reads every report queued on fd without blocking and writes into
 * out[0..cap) the destinations that ICMP said nobody listens at (port,
 * host or network unreachable); other reports (a local error such as a
 * datagram too large) are read and dropped. Reports past cap are dropped
 * too (their requests time out as before).
 * @return the number of addresses written. */
size_t dht_uv_errqueue_drain(int fd, struct sockaddr_storage *out, size_t cap);

/* @return 1 if err (a libuv error code, negative) is what a queued report
 * makes a send or receive fail with, so that the operation is worth one
 * more try after a drain. */
int dht_uv_errqueue_is_report(int err);

#endif
