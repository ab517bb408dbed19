/*
 * KEY arguments: 64 hex digits, a manifest as a line of text ("emofs:...",
 * tool/cli/share_link.h), or the path of a manifest file. A manifest line or
 * file is imported into the data directory so its key can be used.
 */
#ifndef EMOFS_KEYARG_H
#define EMOFS_KEYARG_H

#include "tool/cli/cli.h"

#include <stddef.h>
#include <stdint.h>

/* Reads a manifest file into a malloc()ed *buf. @return 0, or an exit code
 * after printing the error (missing, unreadable, not a manifest file). */
int keyarg_read_file(const char *path, uint8_t **buf, size_t *len);

/* Reads a manifest given as an "emofs:..." line or a file's path into a
 * malloc()ed *buf, checked as a manifest file. @return 0, or an exit code
 * after printing the error: EXIT_CORRUPT for a damaged or incomplete
 * line; keyarg_read_file's for a file. */
int keyarg_read_bundle(const char *arg, uint8_t **buf, size_t *len);

/* For an argument that is not 64 hex digits: @return 0 if it looks like
 * a manifest (an "emofs:" line, or a path that exists), else EXIT_USAGE
 * after printing "malformed key". */
int keyarg_bundle_arg(const char *arg);

/* Turns arg into a key: hex digits as they are; a manifest line or file
 * is imported through cli_run first. @return 0 or an exit code (error
 * printed; EXIT_USAGE for something that is none of them). */
int keyarg_resolve(const cli_common_t *c, const char *arg, uint8_t key[MF_KEY_LEN]);

/* Imports the manifest file bytes into the data directory's store.
 * @return 0 and *key, or an exit code (error printed). */
int keyarg_import(const cli_common_t *c, const uint8_t *buf, size_t len, uint8_t key[MF_KEY_LEN]);

#endif /* EMOFS_KEYARG_H */
