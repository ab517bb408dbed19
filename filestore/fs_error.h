/*
 * filestore return codes: 0 is success, the rest are negative.
 */
#ifndef EMOFS_FS_ERROR_H
#define EMOFS_FS_ERROR_H

#define FS_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(EIO, -3, "input/output error")                                                              \
    XX(ENOENT, -4, "not found")                                                                    \
    XX(ENOSPC, -5, "no space left on device")                                                      \
    XX(EBADHASH, -6, "data does not match its key")                                                \
    XX(ECORRUPT, -7, "malformed data")                                                             \
    XX(ETOOBIG, -8, "too large")                                                                   \
    XX(EACCES, -9, "permission denied")                                                            \
    XX(ENOPEERS, -10, "no peers reachable")                                                        \
    XX(ETIMEDOUT, -11, "timed out")                                                                \
    XX(ECANCELED, -12, "canceled")                                                                 \
    XX(EEXIST, -13, "already exists")                                                              \
    XX(EBUSY, -14, "busy")                                                                         \
    XX(EREFUSED, -15, "refused by every node reached (their stores are full)")

enum {
    FS_OK = 0,
#define FS_XX_ENUM(name, value, text) FS_##name = (value),
    FS_ERRNO_MAP(FS_XX_ENUM)
#undef FS_XX_ENUM
};

/* @return a static text for a FS_* code; never NULL. */
const char *fs_strerror(int err);

/* @return the FS_* code for an errno value (ENOSPC -> FS_ENOSPC, ...). */
int fs_from_errno(int e);

#endif /* EMOFS_FS_ERROR_H */
