/*
 * KEY arguments: 64 hex digits, or the path of a manifest file (which is
 * then imported into the data directory so the key can be used).
 */
#ifndef EMOFS_KEYARG_H
#define EMOFS_KEYARG_H

#include "tool/cli.h"

#include <stddef.h>
#include <stdint.h>

/* Reads a manifest file into a malloc()ed *buf. @return 0, or an exit code
 * after printing the error (missing, unreadable, not a manifest file). */
int keyarg_read_file(const char *path, uint8_t **buf, size_t *len);

/* Turns arg into a key: hex digits as they are; a manifest file is
 * imported through cli_run first. @return 0 or an exit code (error
 * printed; EXIT_USAGE for something that is neither). */
int keyarg_resolve(const cli_common_t *c, const char *arg, uint8_t key[MF_KEY_LEN]);

/* Imports the manifest file bytes into the data directory's store.
 * @return 0 and *key, or an exit code (error printed). */
int keyarg_import(const cli_common_t *c, const uint8_t *buf, size_t len, uint8_t key[MF_KEY_LEN]);

#endif /* EMOFS_KEYARG_H */
