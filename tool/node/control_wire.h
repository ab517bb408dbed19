/*
 * The control protocol between the `emofs` commands and `emofs daemon`
 * (schema/control.md, normative): a pure codec, bytes in and structs out,
 * no I/O.
 *
 * On the unix stream socket DIR/emofs.sock a client sends exactly one request
 * frame; the daemon answers with zero or more PROGRESS frames, then exactly one
 * RESULT frame, then closes the connection.
 *
 * A frame is a u32 little-endian body length (1 .. CTL_MAX_BODY) followed by
 * the body; body[0] is the message type, body[1] the protocol version.
 *
 * Reading: accumulate bytes, call ctl_frame_check() until it returns 1, then
 * ctl_decode(buf + CTL_FRAME_HDR, frame_len - CTL_FRAME_HDR, &msg), use msg,
 * ctl_msg_clear(&msg), and drop frame_len bytes from the buffer.
 * Writing: fill a zeroed ctl_msg_t, ctl_encode() it into one malloc()ed frame
 * (length prefix included), write the frame, free() it.
 *
 * Every function returns 0 (FS_OK) or a negative FS_* code
 * (filestore/fs_error.h), except ctl_frame_check() (see there) and the
 * name/predicate helpers.
 */
#ifndef EMOFS_CONTROL_WIRE_H
#define EMOFS_CONTROL_WIRE_H

#include "filestore/filestore.h"

#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION   1                              /* body[1] of every message */
#define CTL_FRAME_HDR 4                              /* the u32 length prefix */
#define CTL_KEY_LEN   MF_KEY_LEN                     /* keys, node ids: raw bytes (32) */
#define CTL_MAX_STR   4096                           /* bytes of a str16 */
#define CTL_MAX_BLOB  (16u * 1024u * 1024u)          /* bytes of a blob */
#define CTL_MAX_BODY  (CTL_MAX_BLOB + 4096u)         /* bytes of a frame's body */
#define CTL_MAX_FRAME (CTL_FRAME_HDR + CTL_MAX_BODY) /* bytes of a whole frame */
#define CTL_MAX_LS    1000000u                       /* entries of an LS result */
#define CTL_SOCK_NAME "emofs.sock"                   /* in the data directory */

/* Request flags (PUT, GET). Unknown bits are carried, never interpreted. */
#define CTL_FLAG_PROGRESS 0x1u /* send PROGRESS messages before the RESULT */
#define CTL_FLAG_FORCE    0x2u /* GET: an existing regular file at the output is replaced */
#define CTL_FLAG_STREAM   0x4u /* the file's bytes travel as DATA messages (section 3.7) */
/* PUT: seal (encrypt) the file; its RESULT carries the root's secret.
 * GET: the file is sealed; the request carries the secret that opens it. */
#define CTL_FLAG_SEAL 0x8u
/* GET: the node keeps the file's blobs, lists it as published here and
 * announces itself as a provider of it (emofs get --seed; a daemon only) */
#define CTL_FLAG_SEED 0x10u
/* PUT: bits 8..15, how many nodes keep each chunk (1..20); 0: the node's default */
#define CTL_FLAG_COPIES_SHIFT 8
#define CTL_FLAG_COPIES_MASK  0xff00u

/* Message types (body[0]). */
enum ctl_type {
    CTL_PUT = 0x01,      /* flags, path (absolute) */
    CTL_GET = 0x02,      /* flags, key, cwd (absolute), out (may be empty) */
    CTL_MANIFEST = 0x03, /* key */
    CTL_IMPORT = 0x04,   /* blob: a manifest bundle */
    CTL_STATUS = 0x05,   /* nothing */
    CTL_LS = 0x06,       /* nothing */
    CTL_STOP = 0x07,     /* nothing */
    CTL_HEALTH = 0x08,   /* key */
    CTL_RM = 0x09,       /* key */
    CTL_GC = 0x0a,       /* nothing */
    CTL_PROGRESS = 0x81, /* progress */
    CTL_RESULT = 0x82,   /* req_type, status, message, then a payload if status == 0 */
    CTL_DATA = 0x83,     /* blob: bytes of a streamed file (either direction) */
};

/* One file of an LS result. */
typedef struct ctl_ls_entry {
    uint8_t key[CTL_KEY_LEN];
    uint64_t size;
    char *name; /* owned; NUL-terminated; never NULL after a decode */
} ctl_ls_entry_t;

/* The statuses a RESULT carries on the wire (schema/control.md 5.1): the
 * protocol's own list, fixed whatever values filestore's codes take; each
 * carries the filestore code of the same name. XX(name, wire value). */
#define CTL_STATUS_MAP(XX)                                                                         \
    XX(EINVAL, -1)                                                                                 \
    XX(ENOMEM, -2)                                                                                 \
    XX(EIO, -3)                                                                                    \
    XX(ENOENT, -4)                                                                                 \
    XX(ENOSPC, -5)                                                                                 \
    XX(EBADHASH, -6)                                                                               \
    XX(ECORRUPT, -7)                                                                               \
    XX(ETOOBIG, -8)                                                                                \
    XX(EACCES, -9)                                                                                 \
    XX(ENOPEERS, -10)                                                                              \
    XX(ETIMEDOUT, -11)                                                                             \
    XX(ECANCELED, -12)                                                                             \
    XX(EEXIST, -13)                                                                                \
    XX(EBUSY, -14)                                                                                 \
    XX(EREFUSED, -15)

enum {
    CTL_S_OK = 0,
#define CTL_XX_ENUM(name, value) CTL_S_##name = (value),
    CTL_STATUS_MAP(CTL_XX_ENUM)
#undef CTL_XX_ENUM
};

/* @return the wire status for an FS_* code (0 for 0; CTL_S_EIO for a code
 * the protocol has no name for). */
int32_t ctl_status_from_fs(int fs_err);

/* @return the FS_* code for a wire status (0 for 0; FS_EIO for a negative
 * status this build does not know: a newer daemon's, say). */
int fs_from_ctl_status(int32_t status);

/* The PROGRESS message body: filestore's progress, field for field (bytes
 * done and total, chunks done and total, in flight, peers). */
typedef fs_progress_t ctl_progress_t;

/* The payload of a successful HEALTH result: the pieces of a file (its
 * manifest nodes and chunks) and how many nodes hold them. */
typedef struct ctl_health {
    uint32_t pieces;
    uint32_t missing; /* pieces no node holds */
    uint32_t fewest;  /* holders of the piece held by the fewest nodes */
    uint32_t median;
    uint8_t is_dir; /* 1: the key is a directory's (its listing's nodes only) */
} ctl_health_t;

/* The payload of a successful RM or GC result: what was freed on this
 * node's disk. */
typedef struct ctl_freed {
    uint64_t blobs;         /* local blobs removed */
    uint64_t bytes;         /* their bytes */
    uint64_t shared;        /* RM: blobs of the file kept, as other published files use them */
    uint32_t ttl_s;         /* RM: the TTL of the node's puts: its network copies expire within */
    uint32_t partials;      /* GC: temporary files and journals of abandoned gets removed */
    uint64_t partial_bytes; /* GC: their bytes */
    uint32_t busy;          /* GC: recorded gets still running, left alone */
} ctl_freed_t;

/* The payload of a successful STATUS result. */
typedef struct ctl_status {
    uint8_t node_id[CTL_KEY_LEN];
    char *addr; /* owned; the node's address, e.g. "203.0.113.7:4000" */
    uint32_t peers;
    uint64_t values;
    uint64_t value_bytes;
    uint64_t blobs;
    uint64_t blob_bytes;
    uint32_t published;
    uint32_t peers_live; /* of the peers, those that answered in the last 15 minutes */
    /* Appended later (schema/control.md 5.2): a daemon older than them
     * sends the payload without, which decodes with has_store_max 0. */
    uint8_t has_store_max; /* 1: store_max was (or is to be) on the wire; 0: encoded without */
    uint64_t store_max;    /* quota of the values held for others, bytes; 0: the node holds
                              none (an embedded node: only a daemon does) */
} ctl_status_t;

/*
 * A decoded (or to-be-encoded) message. Which fields are meaningful depends on
 * `type` (and for a RESULT on `req_type` and `status`); the others are zero or
 * NULL after ctl_decode() and ignored by ctl_encode().
 *
 * Ownership: every pointer is owned by the struct (malloc()ed), released by
 * ctl_msg_clear(). Strings are NUL-terminated and hold no NUL inside. After a
 * decode, every string field that the message carries is non-NULL (possibly
 * ""); ctl_encode() takes a NULL string as "".
 *
 * | type / payload   | fields                                                |
 * |------------------|-------------------------------------------------------|
 * | PUT              | flags, path (with CTL_FLAG_STREAM: a file name)       |
 * | GET              | flags, key, cwd, out (secret with CTL_FLAG_SEAL)      |
 * | MANIFEST, HEALTH | key (a sealed file's: secret too)                     |
 * | RM               | key                                                   |
 * | IMPORT           | blob, blob_len                                        |
 * | STATUS, LS, STOP | -                                                     |
 * | GC               | -                                                     |
 * | PROGRESS         | progress                                              |
 * | DATA             | blob, blob_len (0: the end of a streamed PUT's bytes) |
 * | RESULT           | req_type, status, message; if status == 0:            |
 * |   of PUT         | key, copies_fewest, copies_median (secret: sealed)    |
 * |   of HEALTH      | health                                                |
 * |   of IMPORT      | key                                                   |
 * |   of GET         | key, path (the final path written), size              |
 * |   of MANIFEST    | blob, blob_len (the manifest bundle's bytes)          |
 * |   of STATUS      | st                                                    |
 * |   of LS          | ls, ls_count                                          |
 * |   of STOP        | -                                                     |
 * |   of RM          | name, freed (blobs, bytes, shared, ttl_s)             |
 * |   of GC          | freed (blobs, bytes, partials, partial_bytes, busy)   |
 */
typedef struct ctl_msg {
    uint8_t type;    /* enum ctl_type */
    uint8_t version; /* CTL_VERSION after a decode; ctl_encode() always writes CTL_VERSION */

    uint32_t flags;              /* PUT, GET: CTL_FLAG_* */
    uint8_t key[CTL_KEY_LEN];    /* GET, MANIFEST; RESULT of PUT, GET, IMPORT */
    uint8_t has_secret;          /* GET with CTL_FLAG_SEAL; MANIFEST, HEALTH of a sealed file;
                                    RESULT of a sealed PUT */
    uint8_t secret[CTL_KEY_LEN]; /* then: the secret that opens the file's root */
    char *path;      /* PUT: file to store (streamed: its name); RESULT of GET: path written */
    char *cwd;       /* GET: the client's working directory */
    char *out;       /* GET: output path ("" = manifest's name in cwd) */
    uint8_t *blob;   /* IMPORT, DATA; RESULT of MANIFEST */
    size_t blob_len; /* <= CTL_MAX_BLOB */
    uint64_t size;   /* RESULT of GET: bytes written */
    uint32_t copies_fewest; /* RESULT of PUT: nodes that took its values: the fewest, */
    uint32_t copies_median; /*   the median (0, 0: none, no peers; or a directory) */
    ctl_health_t health;    /* RESULT of HEALTH */
    char *name;             /* RESULT of RM: the file's name, as published */
    ctl_freed_t freed;      /* RESULT of RM, GC */

    ctl_progress_t progress; /* PROGRESS */

    uint8_t req_type; /* RESULT: the request type it answers (CTL_PUT .. CTL_GC) */
    int32_t status;   /* RESULT: 0 or a negative FS_* code (on the wire: CTL_S_*) */
    char *message;    /* RESULT: one line (no CR, LF or NUL); may be "" */

    ctl_status_t st; /* RESULT of STATUS */

    ctl_ls_entry_t *ls; /* RESULT of LS: ls_count entries */
    uint32_t ls_count;  /* <= CTL_MAX_LS */
} ctl_msg_t;

/* Releases everything msg owns and zeroes it. msg must be zeroed or a message
 * ctl_decode() filled (or that the caller filled with malloc()ed pointers).
 * NULL is allowed. */
void ctl_msg_clear(ctl_msg_t *msg);

/*
 * Encodes msg into one frame: the u32 LE body length then the body.
 * Checks what the schema requires of a sender: known type, request types in
 * RESULT, status <= 0, strings at most CTL_MAX_STR bytes, PUT path and GET cwd
 * absolute (start with '/'), message without CR/LF, blob at most CTL_MAX_BLOB
 * (and non-NULL when blob_len > 0), ls_count at most CTL_MAX_LS (ls non-NULL
 * when ls_count > 0), body at most CTL_MAX_BODY bytes.
 * @return 0 and *frame (malloc()ed, the caller free()s it) and *len; or
 *         FS_EINVAL (a field breaks the schema; nothing allocated),
 *         FS_ETOOBIG (the body would exceed CTL_MAX_BODY), FS_ENOMEM.
 */
int ctl_encode(const ctl_msg_t *msg, uint8_t **frame, size_t *len);

/*
 * Decodes one message body (the bytes after the length prefix) strictly:
 * wrong version, unknown type, a field past the end, trailing bytes, a string
 * over CTL_MAX_STR or holding a NUL, a blob over CTL_MAX_BLOB, an LS count
 * over CTL_MAX_LS or larger than the body could hold, a positive status, a
 * RESULT for a non-request type, a relative PUT path or GET cwd, a message
 * holding CR or LF: all are malformed.
 * out need not be initialised; it is overwritten.
 * @return 0 and *out filled (release it with ctl_msg_clear()); or
 *         FS_ECORRUPT (malformed) or FS_ENOMEM, with *out zeroed.
 *         FS_EINVAL if body (with len > 0) or out is NULL.
 */
int ctl_decode(const uint8_t *body, size_t len, ctl_msg_t *out);

/*
 * For incremental reads: looks at the first len bytes received.
 * @return 1: buf starts with a complete frame of *frame_len bytes (prefix
 *            included; its body is buf + CTL_FRAME_HDR, *frame_len -
 *            CTL_FRAME_HDR bytes);
 *         0: need more bytes (*frame_len untouched);
 *         FS_ECORRUPT: the length prefix is 0 or over CTL_MAX_BODY (close the
 *            connection); FS_EINVAL: buf or frame_len NULL.
 */
int ctl_frame_check(const uint8_t *buf, size_t len, size_t *frame_len);

/*
 * Stores in msg->message a copy of text fit for the one-line message field:
 * CR, LF and other control bytes become spaces, and it is cut to CTL_MAX_STR
 * bytes. Frees the previous msg->message. text NULL means "".
 * @return 0, or FS_ENOMEM (msg->message left as it was).
 */
int ctl_set_message(ctl_msg_t *msg, const char *text);

/* @return 1 if type is a request type (CTL_PUT .. CTL_GC), else 0. */
int ctl_is_request(uint8_t type);

/* @return a static name for a message type ("PUT", "RESULT", ...), "?" if
 * unknown; never NULL. */
const char *ctl_type_name(uint8_t type);

#endif /* EMOFS_CONTROL_WIRE_H */
