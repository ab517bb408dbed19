/*
 * filestore return codes: 0 is success, the rest are negative, from -101
 * down. Each library has its own range, so a code of one can never pass
 * for another's: libdht -1..-99 (dht.h), filestore -101..-199 (here),
 * manifests -201..-299 (manifest.h). A layer that takes a code from the
 * one below converts it by meaning (fs_from_dht, fs_from_mf, ...) and says
 * the cause in its message. The control protocol carries these as its own
 * statuses (tool/node/control_wire.h, schema/control.md).
 */
#ifndef EMOFS_FS_ERROR_H
#define EMOFS_FS_ERROR_H

#define FS_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -101, "invalid argument")                                                           \
    XX(ENOMEM, -102, "out of memory")                                                              \
    XX(EIO, -103, "input/output error")                                                            \
    XX(ENOENT, -104, "not found")                                                                  \
    XX(ENOSPC, -105, "no space left on device")                                                    \
    XX(EBADHASH, -106, "data does not match its key")                                              \
    XX(ECORRUPT, -107, "malformed data")                                                           \
    XX(ETOOBIG, -108, "too large")                                                                 \
    XX(EACCES, -109, "permission denied")                                                          \
    XX(ENOPEERS, -110, "no peers reachable")                                                       \
    XX(ETIMEDOUT, -111, "timed out")                                                               \
    XX(ECANCELED, -112, "canceled")                                                                \
    XX(EEXIST, -113, "already exists")                                                             \
    XX(EBUSY, -114, "busy")                                                                        \
    XX(EREFUSED, -115, "refused by every node reached (their stores are full)")

enum {
    FS_OK = 0,
#define FS_XX_ENUM(name, value, text) FS_##name = (value),
    FS_ERRNO_MAP(FS_XX_ENUM)
#undef FS_XX_ENUM
};

/* @return a static text for a FS_* code; never NULL. */
const char *fs_strerror(int err);

/* @return the static name of a FS_* code ("FS_ENOENT"); never NULL. */
const char *fs_err_name(int err);

/* @return the FS_* code for a DHT_* code, by meaning (DHT_ENOTFOUND ->
 * FS_ENOENT, ...); the address errors become FS_EIO, so a caller that
 * reports one says dht_strerror()'s text too. */
int fs_from_dht(int dht_err);

/* @return the FS_* code for an errno value (ENOSPC -> FS_ENOSPC, ...). */
int fs_from_errno(int e);

#endif /* EMOFS_FS_ERROR_H */
