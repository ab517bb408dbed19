/*
 * The daemon's republish timer: every republish interval it stores the
 * data directory's pinned blobs in the network again (filestore/
 * republish.h), so the files it published outlive the TTL of their copies.
 * DIR/republished holds the wall-clock time (decimal seconds) of the last
 * republish that finished, so a restart keeps the rhythm: a daemon that was
 * down longer than the interval republishes at once.
 */
#ifndef EMOFS_REPUBLISHER_H
#define EMOFS_REPUBLISHER_H

#include "filestore/republish.h"
#include "tool/node/emofs_node.h"

#include <uv.h>

#define EMOFS_REPUBLISHED_FILE "republished" /* DIR/republished */

typedef struct republisher {
    uv_timer_t timer;
    emofs_node_t *node;
    unsigned interval_s; /* 0: never */
    fs_republish_t *running;
    int started, stopping;
} republisher_t;

/* Starts the timer for node (which must outlive it until
 * republisher_stop), with the node's republish interval. Logs what it does.
 * The timer does not keep the loop alive. */
void republisher_start(republisher_t *rp, uv_loop_t *loop, emofs_node_t *node);

/* Cancels a republish under way (its end is logged) and closes the timer.
 * Before the node closes. */
void republisher_stop(republisher_t *rp);

#endif /* EMOFS_REPUBLISHER_H */
