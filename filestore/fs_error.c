#include "filestore/fs_error.h"

#include <errno.h>

const char *fs_strerror(int err)
{
    switch (err) {
    case FS_OK:
        return "success";
#define FS_XX_CASE(name, value, text)                                                              \
    case FS_##name:                                                                                \
        return text;
        FS_ERRNO_MAP(FS_XX_CASE)
#undef FS_XX_CASE
    default:
        return "unknown error";
    }
}

const char *fs_err_name(int err)
{
    switch (err) {
    case FS_OK:
        return "FS_OK";
#define FS_XX_NAME(name, value, text)                                                              \
    case FS_##name:                                                                                \
        return "FS_" #name;
        FS_ERRNO_MAP(FS_XX_NAME)
#undef FS_XX_NAME
    default:
        return "FS_UNKNOWN";
    }
}

int fs_from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return FS_ENOENT;
    case ENOSPC:
    case EDQUOT:
    case EFBIG: /* over a file size limit: as good as a full disk to us */
        return FS_ENOSPC;
    case ENOMEM:
        return FS_ENOMEM;
    case EACCES:
    case EPERM:
    case EROFS:
        return FS_EACCES;
    case EEXIST:
        return FS_EEXIST;
    case EINVAL:
        return FS_EINVAL;
    default:
        return FS_EIO;
    }
}
