/*
 * The data directory's small text files of one record a line
 * (DIR/published, DIR/partials): appending a line, and rewriting the file
 * without some of its lines, atomically (a temporary beside it, fsync,
 * rename over it, fsync of the directory), so that a crash leaves the old
 * file or the new one, never a mix. Only the process that holds the data
 * directory's lock writes them, from one thread.
 */
#ifndef EMOFS_LINEFILE_H
#define EMOFS_LINEFILE_H

#include <stddef.h>

/* Decides a line's fate: line is NUL-terminated, without its '\n'.
 * @return 1 to keep it, 0 to drop it. */
typedef int (*emofs_line_keep_fn)(const char *line, void *arg);

/* Appends line (no '\n' inside) and a '\n' to DIR/name, creating it (mode
 * 0600) if needed. @return 0 or an FS_* code. */
int emofs_line_append(const char *dir, const char *name, const char *line);

/* Rewrites DIR/name keeping the lines keep() keeps, in order; keep sees
 * every line once. When it keeps them all, the file is left as it is. A
 * missing file counts as empty.
 * @return how many lines were dropped (0 or more), or a negative FS_* code
 * (the file is then as it was). */
int emofs_line_rewrite(const char *dir, const char *name, emofs_line_keep_fn keep, void *arg);

#endif /* EMOFS_LINEFILE_H */
