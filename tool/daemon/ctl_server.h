/*
 * The daemon's control server: accepts connections on DIR/emofs.sock, reads
 * one request from each (schema/control.md), runs it on the node
 * (tool/node/node_ops.h), and writes its PROGRESS and RESULT messages back.
 *
 * A connection lives until both its pipe is closed and its request is done,
 * whatever order those happen in: a client that goes away mid-request
 * cancels the request, and the connection's memory goes only when the
 * request has reported its end.
 *
 * All functions and callbacks run on the loop's thread.
 */
#ifndef EMOFS_CTL_SERVER_H
#define EMOFS_CTL_SERVER_H

#include "tool/node/emofs_node.h"

#include <uv.h>

typedef struct ctl_server ctl_server_t;

/* What the server tells its owner. */
typedef struct ctl_server_events {
    /* A client asked the daemon to stop (its RESULT is on its way). */
    void (*stop_requested)(void *arg);
    /* The last request in flight ended while the server is shutting down. */
    void (*idle)(void *arg);
    void *arg;
} ctl_server_events_t;

/* Serves node's control socket at sock_path (an old socket file there is
 * removed: the caller holds the data directory's lock).
 * @return 0 and *out, or a negative libuv error code (nothing left open). */
int ctl_server_start(ctl_server_t **out, uv_loop_t *loop, emofs_node_t *node,
                     const char *sock_path, const ctl_server_events_t *events);

/* Stops accepting, removes the socket file, cancels every request in
 * flight. Requests still answer (with FS_ECANCELED); events->idle is
 * called once none is left (at once, from the loop, if none is running).
 * The server frees itself once every connection is closed. */
void ctl_server_shutdown(ctl_server_t *srv);

/* @return the requests in flight. */
unsigned ctl_server_requests(const ctl_server_t *srv);

#endif /* EMOFS_CTL_SERVER_H */
