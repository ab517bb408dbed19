/*
 * Putting a finished file in place without destroying anything: the one
 * rule every writer of emofs follows (get's output, manifest export).
 */
#ifndef EMOFS_PLACE_H
#define EMOFS_PLACE_H

#include <stddef.h>

/* Renames the file (or directory) from, a temporary one the caller made,
 * to to. Without force nothing at to is ever replaced, not even a file that
 * appears at the last moment (renameat2 RENAME_NOREPLACE; where the file
 * system lacks it, link and unlink for a file, an exclusive mkdir then a
 * rename over that empty directory for a directory). With force only a regular file
 * at to is replaced; a symlink, directory, FIFO, device or socket never is.
 * @return 0; FS_EEXIST with a reason in why ("already exists (--force
 * replaces it)", "is a symbolic link; ..."); or another FS_* code from
 * errno. */
int fs_place_file(const char *from, const char *to, int force, char *why, size_t why_cap);

/* @return dir, '/' (unless dir already ends with one) and name, in a
 * malloc()ed string; NULL if out of memory. */
char *fs_path_join(const char *dir, const char *name);

/* fsyncs the directory at path, so that a rename or a new entry in it is
 * on disk. @return 0 or an FS_* code from errno. */
int fs_sync_dir(const char *path);

/* Replaces dir/name with buf[0..len) so that a crash leaves the old file
 * or the new one, never a mix: dir/name.tmp is written (never through a
 * symlink) and fsynced, renamed over dir/name, and dir fsynced.
 * @return 0 or an FS_* code (then dir/name is as it was, and no .tmp is
 * left). */
int fs_replace_file(const char *dir, const char *name, const void *buf, size_t len);

/* @return a static description of what a non-regular file mode is: "a
 * symbolic link", "a directory", "a FIFO", ... */
const char *fs_place_kind(unsigned mode);

#endif /* EMOFS_PLACE_H */
