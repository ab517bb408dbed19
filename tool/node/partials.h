/*
 * DIR/partials: where the gets of this data directory leave their
 * temporary file and journal (.emofs-HEX16.part and .emofs-HEX16.journal,
 * filestore/get_place.c), so that `emofs gc` can remove those of gets
 * that were abandoned (killed, or interrupted and never run again), and
 * only those: emofs never guesses at files in the user's directories.
 *
 * One line per get: "KEY DIR", the file key (64 hex digits) and the
 * absolute directory the two files are in. A line is added before a get
 * creates its files and taken out once it has removed them; a get that
 * dies in between leaves its line. Written by the process that holds the
 * data directory, on its loop thread.
 */
#ifndef EMOFS_PARTIALS_H
#define EMOFS_PARTIALS_H

#include "manifests/manifest.h"

#include <stdint.h>

#define EMOFS_PARTIALS_NAME "partials" /* DIR/partials */

/* The filestore's hook (fs_ctx_t get_files), with arg the data directory
 * (a NUL-terminated path): records a get's files in DIR/partials before
 * they are made (gone 0; once per key and directory), forgets them once
 * they are gone (gone 1). A directory that is not absolute, or holds a
 * line feed, is not recorded. Failures are ignored: the get goes on, and
 * only gc loses sight of its files. */
void emofs_partials_hook(void *arg, const uint8_t key[MF_KEY_LEN], const char *dir, int gone);

/* What emofs_partials_collect did. */
typedef struct emofs_partials_result {
    uint32_t removed; /* files removed (a part and a journal count 2) */
    uint64_t bytes;   /* their size */
    uint32_t busy;    /* recorded gets still running (their journal is locked): left alone */
} emofs_partials_result_t;

/* Removes the temporary file and journal of each recorded get that no
 * longer runs: one whose journal is not locked (a running get holds an
 * flock on it, in this process or another) and names the same key. The
 * journal is locked while they are removed, so a get starting meanwhile
 * cannot use them. Lines whose files are gone are taken out; files that
 * do not look like a get's (not regular files, a journal of another key)
 * are left alone, and their line kept. Blocking.
 * @return 0 and *r, or an FS_* code (*r says what was done before). */
int emofs_partials_collect(const char *data_dir, emofs_partials_result_t *r);

#endif /* EMOFS_PARTIALS_H */
