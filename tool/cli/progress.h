/*
 * The progress line `emofs put` and `emofs get` draw on a terminal: a pure
 * formatter (no I/O, no clock), so the caller decides when and where to
 * print it (typically "\r" + line + "\033[K" to stderr when it is a tty).
 */
#ifndef EMOFS_PROGRESS_H
#define EMOFS_PROGRESS_H

#include "filestore/filestore.h" /* fs_progress_t */

#include <stddef.h>
#include <stdint.h>

/* What one progress line shows: where the transfer stands (a control
 * PROGRESS message carries the same fs_progress_t; bytes_total 0 means
 * unknown) and the time it has taken. */
typedef struct progress_state {
    fs_progress_t at;
    uint64_t elapsed_ms; /* since the transfer started */
} progress_state_t;

/* The largest width progress_format() uses; wider terminals get this. */
#define PROGRESS_MAX_WIDTH 200

/*
 * Formats a byte count for people: "0 B", "1023 B", "1.0 KiB", "430.1 MiB",
 * "1.0 GiB" (B below 1 KiB, then KiB, MiB, GiB, and GiB above; one decimal,
 * binary units, rounded to nearest). Always NUL-terminates when cap > 0;
 * truncates to cap - 1 bytes if needed.
 * @return the length of the full text (as snprintf), never negative.
 */
size_t progress_format_bytes(uint64_t bytes, char *buf, size_t cap);

/*
 * Writes one progress line, like
 *   [#######.....]  42% 430.1 MiB/1.0 GiB  112.3 MiB/s  ETA 0:05  32 in flight, 7 peers
 * into buf, at most min(width, PROGRESS_MAX_WIDTH, cap - 1) bytes (no newline,
 * NUL-terminated when cap > 0; ASCII only, so bytes are columns). The bar is
 * at most 30 cells wide. The rate is bytes_done / elapsed ("--/s" when no
 * time has elapsed); the ETA is remaining / rate, "m:ss" or "h:mm:ss",
 * "0:00" once done, and "--:--" while it cannot be estimated (no total,
 * nothing done yet, no time elapsed, over 99 hours); bytes_total 0 shows no
 * percentage and an empty bar; bytes_done over bytes_total shows 100%. As the
 * width narrows, parts are dropped from the right (peers, ETA, rate, sizes)
 * while the bar keeps 10 cells, then the bar alone shrinks; a width under 3
 * gives "". p NULL gives "".
 * @return the number of bytes written (strlen(buf)).
 */
size_t progress_format(const progress_state_t *p, unsigned width, char *buf, size_t cap);

#endif /* EMOFS_PROGRESS_H */
