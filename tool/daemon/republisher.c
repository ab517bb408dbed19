/*
 * The daemon's republish timer. See republisher.h.
 */
#include "tool/daemon/republisher.h"

#include "filestore/place.h" /* fs_path_join, fs_replace_file */
#include "tool/daemon/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* @return the time of the last republish in DIR/republished, or -1. */
static long long read_stamp(const char *dir)
{
    char *path = fs_path_join(dir, EMOFS_REPUBLISHED_FILE);
    long long t = -1;
    FILE *f = path != NULL ? fopen(path, "r") : NULL;

    if (f != NULL) {
        if (fscanf(f, "%lld", &t) != 1 || t < 0)
            t = -1;
        fclose(f);
    }
    free(path);
    return t;
}

/* Writes now into DIR/republished (fs_replace_file: never half written). */
static void write_stamp(const char *dir, long long now)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%lld\n", now);
    int err = fs_replace_file(dir, EMOFS_REPUBLISHED_FILE, line, (size_t)n);

    if (err != 0)
        log_msg(LOG_WARN, "cannot write %s/%s: %s", dir, EMOFS_REPUBLISHED_FILE, fs_strerror(err));
}

static void on_timer(uv_timer_t *t);

static void arm(republisher_t *rp, uint64_t delay_s)
{
    uv_timer_start(&rp->timer, on_timer, delay_s * 1000u, 0);
}

static void on_done(int status, const fs_republish_result_t *r, void *arg)
{
    republisher_t *rp = arg;

    rp->running = NULL;
    if (status == 0) {
        log_msg(LOG_INFO,
                "republished %llu blobs (%.1f MiB) on %u nodes (fewest %u); %llu could not be",
                (unsigned long long)r->blobs, (double)r->bytes / (1 << 20), r->copies_median,
                r->copies_fewest, (unsigned long long)r->failed);
        write_stamp(rp->node->dir, (long long)time(NULL));
    } else if (status == FS_ECANCELED) {
        log_msg(LOG_INFO, "republish stopped after %llu blobs", (unsigned long long)r->blobs);
    } else {
        log_msg(LOG_WARN, "republish failed after %llu blobs: %s", (unsigned long long)r->blobs,
                fs_strerror(status));
    }
    if (!rp->stopping)
        arm(rp, rp->interval_s);
}

/* Starts a republish of the node's blobs, each chunk on the copies its
 * published files were put with. @return 0 or an FS_* code. */
static int start(republisher_t *rp)
{
    emofs_published_t *list;
    fs_republish_root_t *roots;
    size_t n;
    int err;

    if ((err = emofs_published_list(rp->node->dir, &list, &n)) != 0)
        return err;
    roots = calloc(n ? n : 1, sizeof(*roots));
    if (roots == NULL) {
        free(list);
        return FS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(roots[i].key, list[i].key, MF_KEY_LEN);
        roots[i].copies = list[i].copies; /* 0, not recorded: the node's */
        roots[i].sealed = list[i].sealed;
        memcpy(roots[i].secret, list[i].secret, MF_KEY_LEN);
    }
    err = fs_republish_start(&rp->running, &rp->node->ctx, roots, n, on_done, rp);
    free(roots);
    free(list);
    return err;
}

static void on_timer(uv_timer_t *t)
{
    republisher_t *rp = t->data;
    int err;

    if (rp->stopping || rp->running != NULL)
        return;
    err = start(rp);
    if (err) {
        rp->running = NULL;
        log_msg(LOG_WARN, "cannot republish: %s", fs_strerror(err));
        arm(rp, rp->interval_s);
        return;
    }
    log_msg(LOG_DEBUG, "republishing the blobs of %s/blobs", rp->node->dir);
}

void republisher_start(republisher_t *rp, uv_loop_t *loop, emofs_node_t *node)
{
    long long last, now = (long long)time(NULL);

    memset(rp, 0, sizeof(*rp));
    rp->node = node;
    rp->interval_s = node->republish_interval_s;
    uv_timer_init(loop, &rp->timer);
    rp->timer.data = rp;
    uv_unref((uv_handle_t *)&rp->timer);
    rp->started = 1;
    if (rp->interval_s == 0) {
        log_msg(LOG_INFO, "republishing never (republish_interval 0): published files live as "
                          "long as the TTL of their copies");
        return;
    }
    last = read_stamp(node->dir);
    if (last < 0) { /* a new directory: its puts just stored everything */
        write_stamp(node->dir, now);
        last = now;
    }
    log_msg(LOG_INFO, "republishing the files published here every %u s", rp->interval_s);
    arm(rp, last + rp->interval_s > now ? (uint64_t)(last + rp->interval_s - now) : 0);
}

void republisher_stop(republisher_t *rp)
{
    if (!rp->started || rp->stopping)
        return;
    rp->stopping = 1;
    if (rp->running != NULL)
        fs_republish_cancel(rp->running);
    uv_close((uv_handle_t *)&rp->timer, NULL);
}
