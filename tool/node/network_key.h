/*
 * A private network's key file (README, "Private networks"): any file of
 * at least 16 bytes, the same on every machine of the network (make one
 * with `head -c 32 /dev/urandom > FILE`, then copy it). Its SHA-256 is
 * the 32-byte key libdht tags every message with (schema/wire.md 2.4), so
 * a passphrase file works as well as random bytes; every byte counts,
 * a final newline included.
 */
#ifndef EMOFS_NETWORK_KEY_H
#define EMOFS_NETWORK_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EMOFS_NETWORK_KEY_LEN      32   /* what libdht is given */
#define EMOFS_NETWORK_KEY_FILE_MIN 16   /* bytes of secret in the file, at least */
#define EMOFS_NETWORK_KEY_FILE_MAX 4096 /* a key file, not a document */

/* Reads the key file path into key[EMOFS_NETWORK_KEY_LEN]. A file other
 * users may read gets a warning line on warn (may be NULL): the key is
 * the network's only lock.
 * @return 0; FS_EINVAL with err set ("network key FILE: REASON") when the
 *         file cannot be read, is not a regular file, or is shorter than
 *         EMOFS_NETWORK_KEY_FILE_MIN or longer than EMOFS_NETWORK_KEY_FILE_MAX. */
int emofs_network_key_load(const char *path, uint8_t *key, FILE *warn, char *err, size_t err_cap);

#endif /* EMOFS_NETWORK_KEY_H */
