/*
 * The daemon's log: one line per event on stderr, with a level, and a
 * timestamp unless systemd's journal takes the stream (then the line starts
 * with the journal's "<N>" priority instead, and the journal adds the time).
 *
 *   2026-11-30T03:10:08.123Z info  put 5be7...3e1 photo.jpg, 3.1 MiB in 0.42 s: ok
 *
 * Lines below the level set are dropped. Not thread safe: the loop thread
 * logs.
 */
#ifndef EMOFS_LOG_H
#define EMOFS_LOG_H

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
} log_level_t;

/* Parses "error", "warn", "info" or "debug". @return 0 and *out, or -1. */
int log_level_parse(const char *text, log_level_t *out);

/* Sets the lowest level logged (default LOG_INFO). */
void log_set_level(log_level_t level);

/* @return 1 if lines of this level are logged. */
int log_enabled(log_level_t level);

/* Logs one line (fmt without the newline). */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* EMOFS_LOG_H */
