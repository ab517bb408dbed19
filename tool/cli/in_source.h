/*
 * Reading a file descriptor (standard input) on a libuv loop into a
 * consumer that may ask for a pause: a pipe or a terminal is read without
 * blocking (so it can be stopped at any moment), a regular file through
 * the thread pool. Used by the embedded node for `emofs put -`.
 */
#ifndef EMOFS_IN_SOURCE_H
#define EMOFS_IN_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct in_source in_source_t;

/* What the source tells its consumer, on the loop. */
typedef struct in_source_cbs {
    /* The next bytes. @return how many were taken; fewer than len pauses
     * the source until in_source_resume(), which offers the rest again. */
    size_t (*feed)(void *arg, const uint8_t *data, size_t len);
    /* The end: 0 at the end of the input, or a negative errno. Called once. */
    void (*end)(void *arg, int err);
    void *arg;
} in_source_cbs_t;

/* Starts reading fd (not closed by the source). @return 0 and *out, or a
 * negative libuv error code. */
int in_source_start(in_source_t **out, uv_loop_t *loop, int fd, const in_source_cbs_t *cbs);

/* The consumer takes bytes again: offers what is left, then reads on. */
void in_source_resume(in_source_t *src);

/* Stops reading for good and frees the source (soon, from the loop); no
 * callback comes after this call. A read of a regular file already in the
 * thread pool finishes first. */
void in_source_close(in_source_t *src);

#endif /* EMOFS_IN_SOURCE_H */
