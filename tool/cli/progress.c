/*
 * The progress line: pure formatting, see progress.h.
 */
#include "tool/cli/progress.h"

#include <stdio.h>
#include <string.h>

#define BAR_MAX  30 /* the bar's inner width on a wide terminal */
#define BAR_MIN  10 /* parts are dropped before the bar gets narrower */
#define PARTS    4  /* after the bar: sizes, rate, ETA, in flight and peers */
#define PART_CAP 64

size_t progress_format_bytes(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB"};
    double v = (double)bytes;
    unsigned u = 0;
    int n;

    if (bytes < 1024) {
        n = snprintf(buf, cap, "%u B", (unsigned)bytes);
        return n > 0 ? (size_t)n : 0;
    }
    v /= 1024.0;
    /* Move up a unit while the value would print as 1024.0 or more. */
    while (u < 2 && v >= 1023.95) {
        v /= 1024.0;
        u++;
    }
    n = snprintf(buf, cap, "%.1f %s", v, units[u]);
    return n > 0 ? (size_t)n : 0;
}

/* @return floor(n * done / total) without overflow, n if done >= total,
 * and at most n - 1 otherwise (never "full" before the end); total > 0, n > 0. */
static uint64_t scale(uint64_t done, uint64_t total, uint64_t n)
{
    uint64_t v;

    if (done >= total)
        return n;
    if (total <= UINT64_MAX / n)
        return done * n / total;
    v = done / (total / n);
    return v < n ? v : n - 1;
}

/* Writes the ETA for secs seconds: "m:ss", "h:mm:ss"; "--:--" past 99 h. */
static void format_eta(double secs, char *buf, size_t cap)
{
    unsigned long s;

    if (!(secs >= 0.0) || secs >= 100.0 * 3600.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    s = (unsigned long)(secs + 0.999); /* round up: never promise too soon */
    if (s >= 3600)
        snprintf(buf, cap, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%lu:%02lu", s / 60, s % 60);
}

size_t progress_format(const progress_state_t *p, unsigned width, char *buf, size_t cap)
{
    char part[PARTS][PART_CAP];
    char done_s[24], total_s[24], rate_s[24], eta_s[24];
    size_t plen[PARTS], text = 0, w, bar, fill = 0, pos = 0;
    double rate = 0.0;
    int nparts;

    if (buf == NULL || cap == 0)
        return 0;
    buf[0] = '\0';
    if (p == NULL)
        return 0;
    w = width < PROGRESS_MAX_WIDTH ? width : PROGRESS_MAX_WIDTH;
    if (w > cap - 1)
        w = cap - 1;
    if (w < 3) /* "[" + one cell + "]" */
        return 0;

    progress_format_bytes(p->at.bytes_done, done_s, sizeof(done_s));
    if (p->at.bytes_total > 0) {
        unsigned pct = (unsigned)scale(p->at.bytes_done, p->at.bytes_total, 100);
        progress_format_bytes(p->at.bytes_total, total_s, sizeof(total_s));
        snprintf(part[0], PART_CAP, " %3u%% %s/%s", pct, done_s, total_s);
    } else {
        snprintf(part[0], PART_CAP, " %s", done_s);
    }

    if (p->elapsed_ms > 0) {
        rate = (double)p->at.bytes_done * 1000.0 / (double)p->elapsed_ms;
        /* clamp: a u64 byte count per ms can exceed a u64 per second */
        progress_format_bytes(rate >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)rate, rate_s,
                              sizeof(rate_s));
        snprintf(part[1], PART_CAP, "  %s/s", rate_s);
    } else {
        snprintf(part[1], PART_CAP, "  --/s");
    }

    if (p->at.bytes_total > 0 && p->at.bytes_done >= p->at.bytes_total)
        format_eta(0.0, eta_s, sizeof(eta_s));
    else if (p->at.bytes_total > 0 && p->at.bytes_done > 0 && rate > 0.0)
        format_eta((double)(p->at.bytes_total - p->at.bytes_done) / rate, eta_s, sizeof(eta_s));
    else
        snprintf(eta_s, sizeof(eta_s), "--:--");
    snprintf(part[2], PART_CAP, "  ETA %s", eta_s);

    snprintf(part[3], PART_CAP, "  %u in flight, %u peer%s", (unsigned)p->at.in_flight,
             (unsigned)p->at.peers, p->at.peers == 1 ? "" : "s");

    for (int i = 0; i < PARTS; i++)
        plen[i] = strlen(part[i]);

    /* Keep as many parts as fit beside a bar of BAR_MIN; with none left,
     * the bar alone shrinks to the width. */
    for (nparts = PARTS; nparts > 0; nparts--) {
        text = 0;
        for (int i = 0; i < nparts; i++)
            text += plen[i];
        if (text + 2 + BAR_MIN <= w)
            break;
    }
    if (nparts == 0)
        text = 0;
    bar = w - 2 - text;
    if (bar > BAR_MAX)
        bar = BAR_MAX;

    if (p->at.bytes_total > 0)
        fill = (size_t)scale(p->at.bytes_done, p->at.bytes_total, bar);
    buf[pos++] = '[';
    memset(buf + pos, '#', fill);
    memset(buf + pos + fill, '.', bar - fill);
    pos += bar;
    buf[pos++] = ']';
    for (int i = 0; i < nparts; i++) {
        memcpy(buf + pos, part[i], plen[i]);
        pos += plen[i];
    }
    buf[pos] = '\0';
    return pos;
}
