/*
 * The requests of the control protocol (tool/control_wire.h), carried out
 * on a node: the daemon runs them for its clients, the commands run them
 * in-process when no daemon holds the data directory. STOP is the
 * daemon's own business and not handled here.
 */
#ifndef EMOFS_OPS_H
#define EMOFS_OPS_H

#include "tool/control_wire.h"
#include "tool/node.h"

typedef struct emofs_op emofs_op_t;

typedef void (*emofs_op_progress_fn)(const ctl_progress_t *p, void *arg);

/* result is a RESULT message (valid during the call). */
typedef void (*emofs_op_result_fn)(const ctl_msg_t *result, void *arg);

/* Starts the request req on node. progress (may be NULL) gets progress of
 * puts and gets when req asks for it (CTL_FLAG_PROGRESS); result is called
 * exactly once, never inside this call, and the op is freed after it.
 * @return 0 and *out (may be NULL), or FS_EINVAL (not a request this layer
 * runs) or FS_ENOMEM. */
int emofs_op_start(emofs_op_t **out, emofs_node_t *node, const ctl_msg_t *req,
                   emofs_op_progress_fn progress, emofs_op_result_fn result, void *arg);

/* Cancels a put or get in flight (result then says FS_ECANCELED; a get
 * keeps its temporary file for a later resume). Others just finish. */
void emofs_op_cancel(emofs_op_t *op);

#endif /* EMOFS_OPS_H */
