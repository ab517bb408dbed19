/*
 * The files a get keeps beside its output, and how anyone (the get that
 * resumes, `emofs gc`) tells them from files that are not emofs's:
 *   .emofs-HEX16.part     the file being written, at its final size
 *   .emofs-HEX16.journal  "EMOJ" 1 0 0 0, the file key, then one u32 LE
 *                         chunk index per chunk written and verified
 *   .emofs-HEX16.dir      a directory's tree being written (get_tree.c)
 * (HEX16: the first 16 hex digits of the file key, lower case). Those
 * three forms of name are reserved: no manifest may choose one, put DIR
 * skips them, and no get writes its output under one.
 */
#ifndef EMOFS_GET_FILES_H
#define EMOFS_GET_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "manifests/manifest.h"

#define FS_JOURNAL_MAGIC  "EMOJ\x01\0\0\0"
#define FS_JOURNAL_HEADER (8 + MF_KEY_LEN)
#define FS_TEMP_NAME_MAX  64 /* bytes of a temporary file's name, NUL included */

/* Sets name to key's temporary file of kind "part", "journal" or "dir". */
void fs_temp_name(char name[FS_TEMP_NAME_MAX], const uint8_t key[MF_KEY_LEN], const char *kind);

/* @return 1 if name is a temporary file's name (.emofs-, 16 lower-case hex
 * digits, then .part, .journal or .dir), else 0. */
int fs_name_reserved(const char *name);

/* @return the last component of path (after its last '/'). */
const char *fs_path_base(const char *path);

/* Sets header to the journal header of key. */
void fs_journal_header(uint8_t header[FS_JOURNAL_HEADER], const uint8_t key[MF_KEY_LEN]);

enum {
    FS_JOURNAL_FOREIGN = 0, /* not a journal of key: not ours to touch */
    FS_JOURNAL_VALID = 1,   /* a whole header of key (and records after it) */
    FS_JOURNAL_PARTIAL = 2  /* empty, or a part of key's header: a get died writing it */
};

/* @return what the file open in fd is to a get of key (FS_JOURNAL_*). */
int fs_journal_kind(int fd, const uint8_t key[MF_KEY_LEN]);

/* @return 1 if fd is a file a get may take over: a regular file of this
 * user's with one link (not a hard link to a file elsewhere), else 0. */
int fs_file_ours(int fd);

/* @return 1 if fd is still the file named path (a get or gc elsewhere may
 * have unlinked or replaced it since it was opened), else 0. */
int fs_file_still_named(int fd, const char *path);

/* Opens path, a get's temporary file or journal: created (O_EXCL, with
 * mode) if absent, *created set; else, if may_reuse, opened and kept only
 * if fs_file_ours. Never through a symlink.
 * @return an fd, or -1 with *err: FS_EEXIST (something is there that is
 * not ours to take, or may_reuse is 0), or another FS_* code. */
int fs_temp_open(const char *path, int may_reuse, unsigned mode, int *created, int *err);

#endif /* EMOFS_GET_FILES_H */
