/*
 * Where a command's output goes, by the rule every emofs writer follows:
 * "-" (and /dev/stdout) is standard output; a FIFO or a character device
 * is written into as a stream; anything else is a file, put in place
 * through a temporary file without replacing what is there (filestore/
 * place.h), unless --force and it is a regular file.
 */
#ifndef EMOFS_OUTPUT_H
#define EMOFS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Opens path when it is a stream: "-" or /dev/stdout give STDOUT_FILENO;
 * an existing FIFO or character device is opened for writing (a FIFO
 * waits for its reader).
 * @return 1 and *fd (close it unless it is STDOUT_FILENO), 0 if path is not
 * a stream (write a file there), or minus an exit code after printing the
 * error. */
int output_open_stream(const char *path, int *fd);

/* Writes buf to path (not a stream) by the rule above: a temporary file
 * beside it, synced, renamed into place. A regular file already holding
 * exactly buf counts as written.
 * @return 0, or an exit code after printing the error (EXIT_EXISTS when
 * something is in the way). */
int output_write_file(const char *path, const uint8_t *buf, size_t len, int force);

/* For a writer that streams what it makes (emofs sim's CSV, possibly
 * larger than memory): checks before the work starts that nothing is in
 * path's way (a file there is replaced only with force, and only if it is
 * a regular one; a stream is always fine).
 * @return 0, or EXIT_EXISTS after printing why. */
int output_check(const char *path, int force);

/* Opens path for such a writer: its stream, or a temporary file beside it
 * (then *tmp is its malloc()ed name, else NULL) that output_close puts in
 * place. @return the FILE, or NULL after printing the error (*code then
 * holds the exit code). */
FILE *output_open(const char *path, char **tmp, int *code);

/* Ends output_open's f: flushes it and, for a temporary file, syncs it
 * and puts it in place by the rule above when ok, else (or if that
 * fails) removes it; frees tmp. Nothing appears at path unless all went
 * well. @return 0, or an exit code after printing the error. */
int output_close(FILE *f, char *tmp, const char *path, int force, int ok);

/* Writes all of buf to fd. @return 0 or an exit code after printing the
 * error, naming what (e.g. "standard output"). */
int output_write_all(int fd, const uint8_t *buf, size_t len, const char *what);

#endif /* EMOFS_OUTPUT_H */
