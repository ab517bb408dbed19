/* Delivery errors from a UDP socket's error queue: see errqueue.h. */
#include "errqueue.h"

#include <errno.h>
#include <string.h>
#include <uv.h>

#ifdef __linux__
#include <linux/errqueue.h>
#include <netinet/in.h>

int dht_uv_errqueue_enable(int fd, int family)
{
    int on = 1;

    if (family == AF_INET6)
        return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on)) == 0 ? 0 : -1;
    return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on)) == 0 ? 0 : -1;
}

/* @return the ICMP report that cmsg carries if it says nobody is there. */
static const struct sock_extended_err *unreachable_report(const struct cmsghdr *c)
{
    const struct sock_extended_err *ee;

    if (!(c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) &&
        !(c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))
        return NULL;
    ee = (const struct sock_extended_err *)CMSG_DATA(c);
    if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6)
        return NULL;
    if (ee->ee_errno != ECONNREFUSED && ee->ee_errno != EHOSTUNREACH && ee->ee_errno != ENETUNREACH)
        return NULL;
    return ee;
}

size_t dht_uv_errqueue_drain(int fd, struct sockaddr_storage *out, size_t cap)
{
    size_t n = 0;

    /* Bounded: the kernel caps the queue by the socket's receive buffer,
     * and a report is read in one call. */
    for (unsigned reads = 0; reads < 1024; reads++) {
        struct sockaddr_storage to;
        union {
            struct cmsghdr align;
            char buf[512];
        } control;
        char payload[64]; /* the datagram's start, unused */
        struct iovec iov = {payload, sizeof(payload)};
        struct msghdr msg;

        memset(&msg, 0, sizeof(msg));
        memset(&to, 0, sizeof(to));
        msg.msg_name = &to;
        msg.msg_namelen = sizeof(to);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN: the queue is empty */
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (unreachable_report(c) == NULL || msg.msg_namelen == 0 || n >= cap)
                continue;
            out[n++] = to;
            break;
        }
    }
    return n;
}

int dht_uv_errqueue_is_report(int err)
{
    return err == UV_ECONNREFUSED || err == UV_EHOSTUNREACH || err == UV_ENETUNREACH;
}

#else /* no error queue: lost peers cost their timeouts */

int dht_uv_errqueue_enable(int fd, int family)
{
    (void)fd;
    (void)family;
    return -1;
}

size_t dht_uv_errqueue_drain(int fd, struct sockaddr_storage *out, size_t cap)
{
    (void)fd;
    (void)out;
    (void)cap;
    return 0;
}

int dht_uv_errqueue_is_report(int err)
{
    (void)err;
    return 0;
}

#endif
