/*
 * The requests of the control protocol (tool/node/control_wire.h), carried out
 * on a node: the daemon runs them for its clients, the commands run them
 * in-process when no daemon holds the data directory. STOP is the
 * daemon's own business and not handled here.
 */
#ifndef EMOFS_OPS_H
#define EMOFS_OPS_H

#include "tool/node/control_wire.h"
#include "tool/node/emofs_node.h"

typedef struct emofs_op emofs_op_t;

typedef void (*emofs_op_progress_fn)(const ctl_progress_t *p, void *arg);

/* result is a RESULT message (valid during the call). */
typedef void (*emofs_op_result_fn)(const ctl_msg_t *result, void *arg);

/* A streamed GET's next bytes, in file order (valid until
 * emofs_op_data_done). */
typedef void (*emofs_op_data_fn)(emofs_op_t *op, const uint8_t *data, size_t len, void *arg);

/* A streamed PUT can take bytes again (emofs_op_feed took fewer than it
 * was offered). */
typedef void (*emofs_op_want_fn)(emofs_op_t *op, void *arg);

/* Who hears from an op. */
typedef struct emofs_op_cbs {
    emofs_op_progress_fn progress; /* may be NULL */
    emofs_op_result_fn result;     /* exactly once, never inside emofs_op_start */
    emofs_op_data_fn data;         /* needed for a GET with CTL_FLAG_STREAM */
    emofs_op_want_fn want;         /* needed for a PUT with CTL_FLAG_STREAM */
    void *arg;
} emofs_op_cbs_t;

/* Starts the request req on node. cbs->progress (may be NULL) gets
 * progress of puts and gets when req asks for it (CTL_FLAG_PROGRESS); a
 * GET with CTL_FLAG_STREAM hands the file's bytes to cbs->data instead of
 * writing a file; a PUT with CTL_FLAG_STREAM takes its bytes from
 * emofs_op_feed (req->path is then the file's name); cbs->result is called exactly once, never
 * inside this call, and the op is freed after it.
 * @return 0 and *out (may be NULL), or FS_EINVAL (not a request this layer
 * runs, a streamed GET without cbs->data, a streamed PUT without cbs->want
 * or with a bad name) or FS_ENOMEM. */
int emofs_op_start(emofs_op_t **out, emofs_node_t *node, const ctl_msg_t *req,
                   const emofs_op_cbs_t *cbs);

/* The bytes of the last cbs->data call are taken (status 0), or could not
 * be (a negative FS_* code, which ends the GET with it). Call it exactly
 * once per cbs->data call, inside it or later. */
void emofs_op_data_done(emofs_op_t *op, int status);

/* Offers a streamed PUT its next bytes. @return how many it took; offer
 * the rest after cbs->want. Only before cbs->result. */
size_t emofs_op_feed(emofs_op_t *op, const uint8_t *data, size_t len);

/* A streamed PUT's bytes are all fed. Only before cbs->result. */
void emofs_op_feed_end(emofs_op_t *op);

/* Cancels a put or get in flight (result then says FS_ECANCELED; a get
 * keeps its temporary file for a later resume, a put removes what it
 * added to the local store). Others just finish. The result may come
 * inside this call, and op is freed after it: do not use op afterwards. */
void emofs_op_cancel(emofs_op_t *op);

#endif /* EMOFS_OPS_H */
