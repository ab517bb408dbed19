/*
 * The control protocol codec: schema/control.md, byte for byte.
 */
#include "tool/node/control_wire.h"

#include <stdlib.h>
#include <string.h>

#include "filestore/fs_error.h"
#include "manifests/le.h"

/* Smallest encoding of one LS entry: key, size, empty name. */
#define LS_ENTRY_MIN (CTL_KEY_LEN + 8 + 2)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

int ctl_is_request(uint8_t type)
{
    return type >= CTL_PUT && type <= CTL_GC;
}

const char *ctl_type_name(uint8_t type)
{
    switch (type) {
    case CTL_PUT:
        return "PUT";
    case CTL_GET:
        return "GET";
    case CTL_MANIFEST:
        return "MANIFEST";
    case CTL_IMPORT:
        return "IMPORT";
    case CTL_STATUS:
        return "STATUS";
    case CTL_LS:
        return "LS";
    case CTL_STOP:
        return "STOP";
    case CTL_HEALTH:
        return "HEALTH";
    case CTL_RM:
        return "RM";
    case CTL_GC:
        return "GC";
    case CTL_PROGRESS:
        return "PROGRESS";
    case CTL_RESULT:
        return "RESULT";
    case CTL_DATA:
        return "DATA";
    default:
        return "?";
    }
}

void ctl_msg_clear(ctl_msg_t *msg)
{
    if (msg == NULL)
        return;
    free(msg->path);
    free(msg->cwd);
    free(msg->out);
    free(msg->blob);
    free(msg->message);
    free(msg->st.addr);
    free(msg->name);
    if (msg->ls != NULL)
        for (uint32_t i = 0; i < msg->ls_count; i++)
            free(msg->ls[i].name);
    free(msg->ls);
    memset(msg, 0, sizeof(*msg));
}

int ctl_set_message(ctl_msg_t *msg, const char *text)
{
    size_t n;
    char *copy;

    if (msg == NULL)
        return FS_EINVAL;
    if (text == NULL)
        text = "";
    n = strlen(text);
    if (n > CTL_MAX_STR)
        n = CTL_MAX_STR;
    copy = malloc(n + 1);
    if (copy == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        copy[i] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    copy[n] = '\0';
    free(msg->message);
    msg->message = copy;
    return FS_OK;
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */
/* ------------------------------------------------------------------------ */

int ctl_frame_check(const uint8_t *buf, size_t len, size_t *frame_len)
{
    uint32_t body;

    if (buf == NULL || frame_len == NULL)
        return FS_EINVAL;
    if (len < CTL_FRAME_HDR)
        return 0;
    body = le_get32(buf);
    if (body == 0 || body > CTL_MAX_BODY)
        return FS_ECORRUPT;
    if (len - CTL_FRAME_HDR < body)
        return 0;
    *frame_len = CTL_FRAME_HDR + (size_t)body;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* A writer that first runs with buf == NULL to measure, then to write. */
typedef struct writer {
    uint8_t *buf;
    size_t pos;
} writer_t;

static void put_bytes(writer_t *w, const void *p, size_t n)
{
    if (w->buf != NULL && n > 0)
        memcpy(w->buf + w->pos, p, n);
    w->pos += n;
}

static void put_u8(writer_t *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_u16(writer_t *w, uint16_t v)
{
    uint8_t b[2];
    le_put16(b, v);
    put_bytes(w, b, 2);
}

static void put_u32(writer_t *w, uint32_t v)
{
    uint8_t b[4];
    le_put32(b, v);
    put_bytes(w, b, 4);
}

static void put_u64(writer_t *w, uint64_t v)
{
    uint8_t b[8];
    le_put64(b, v);
    put_bytes(w, b, 8);
}

/* s was checked by check_str(). */
static void put_str(writer_t *w, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    put_u16(w, (uint16_t)n);
    put_bytes(w, s, n);
}

static void put_blob(writer_t *w, const uint8_t *p, size_t n)
{
    put_u32(w, (uint32_t)n);
    put_bytes(w, p, n);
}

/* @return 0 if s (NULL = "") fits a str16; FS_EINVAL if too long. */
static int check_str(const char *s)
{
    if (s == NULL)
        return FS_OK;
    return strnlen(s, CTL_MAX_STR + 1) <= CTL_MAX_STR ? FS_OK : FS_EINVAL;
}

static int check_abs(const char *s)
{
    if (s == NULL || s[0] != '/')
        return FS_EINVAL;
    return check_str(s);
}

/* A streamed PUT's file name: 1..255 bytes, no '/'. */
static int check_name(const char *s)
{
    size_t n = s == NULL ? 0 : strnlen(s, 256);

    return n >= 1 && n <= 255 && strchr(s, '/') == NULL ? FS_OK : FS_EINVAL;
}

static int check_message(const char *s)
{
    if (check_str(s) != FS_OK)
        return FS_EINVAL;
    if (s != NULL && strpbrk(s, "\r\n") != NULL)
        return FS_EINVAL;
    return FS_OK;
}

static int check_blob(const uint8_t *p, size_t n)
{
    if (n > CTL_MAX_BLOB || (n > 0 && p == NULL))
        return FS_EINVAL;
    return FS_OK;
}

/* Checks every field msg's type carries against the schema. */
static int check_msg(const ctl_msg_t *m)
{
    switch (m->type) {
    case CTL_PUT:
        return (m->flags & CTL_FLAG_STREAM) ? check_name(m->path) : check_abs(m->path);
    case CTL_DATA:
        return check_blob(m->blob, m->blob_len);
    case CTL_GET:
        if (check_abs(m->cwd) != FS_OK)
            return FS_EINVAL;
        return check_str(m->out);
    case CTL_IMPORT:
        return check_blob(m->blob, m->blob_len);
    case CTL_MANIFEST:
    case CTL_HEALTH:
    case CTL_RM:
    case CTL_GC:
    case CTL_STATUS:
    case CTL_LS:
    case CTL_STOP:
    case CTL_PROGRESS:
        return FS_OK;
    case CTL_RESULT:
        break;
    default:
        return FS_EINVAL;
    }
    if (!ctl_is_request(m->req_type) || m->status > 0 || check_message(m->message) != FS_OK)
        return FS_EINVAL;
    if (m->status != 0)
        return FS_OK;
    switch (m->req_type) {
    case CTL_GET:
        return check_str(m->path);
    case CTL_MANIFEST:
        return check_blob(m->blob, m->blob_len);
    case CTL_STATUS:
        return check_str(m->st.addr);
    case CTL_RM:
        return check_str(m->name);
    case CTL_LS:
        if (m->ls_count > CTL_MAX_LS || (m->ls_count > 0 && m->ls == NULL))
            return FS_EINVAL;
        for (uint32_t i = 0; i < m->ls_count; i++)
            if (check_str(m->ls[i].name) != FS_OK)
                return FS_EINVAL;
        return FS_OK;
    default:
        return FS_OK;
    }
}

/* Writes (or measures) the body of m, which check_msg() accepted. */
static void put_body(writer_t *w, const ctl_msg_t *m)
{
    put_u8(w, m->type);
    put_u8(w, CTL_VERSION);
    switch (m->type) {
    case CTL_PUT:
        put_u32(w, m->flags);
        put_str(w, m->path);
        return;
    case CTL_GET:
        put_u32(w, m->flags);
        put_bytes(w, m->key, CTL_KEY_LEN);
        put_str(w, m->cwd);
        put_str(w, m->out);
        if (m->flags & CTL_FLAG_SEAL)
            put_bytes(w, m->secret, CTL_KEY_LEN);
        return;
    case CTL_MANIFEST:
    case CTL_HEALTH:
        put_bytes(w, m->key, CTL_KEY_LEN);
        if (m->has_secret)
            put_bytes(w, m->secret, CTL_KEY_LEN);
        return;
    case CTL_RM:
        put_bytes(w, m->key, CTL_KEY_LEN);
        return;
    case CTL_IMPORT:
    case CTL_DATA:
        put_blob(w, m->blob, m->blob_len);
        return;
    case CTL_PROGRESS:
        put_u64(w, m->progress.bytes_done);
        put_u64(w, m->progress.bytes_total);
        put_u32(w, m->progress.chunks_done);
        put_u32(w, m->progress.chunks_total);
        put_u32(w, m->progress.in_flight);
        put_u32(w, m->progress.peers);
        return;
    case CTL_RESULT:
        break;
    default: /* STATUS, LS, STOP, GC */
        return;
    }
    put_u8(w, m->req_type);
    put_u32(w, (uint32_t)ctl_status_from_fs(m->status));
    put_str(w, m->message);
    if (m->status != 0)
        return;
    switch (m->req_type) {
    case CTL_PUT:
        put_bytes(w, m->key, CTL_KEY_LEN);
        put_u32(w, m->copies_fewest);
        put_u32(w, m->copies_median);
        if (m->has_secret)
            put_bytes(w, m->secret, CTL_KEY_LEN);
        break;
    case CTL_IMPORT:
        put_bytes(w, m->key, CTL_KEY_LEN);
        break;
    case CTL_HEALTH:
        put_u32(w, m->health.pieces);
        put_u32(w, m->health.missing);
        put_u32(w, m->health.fewest);
        put_u32(w, m->health.median);
        put_u8(w, m->health.is_dir);
        break;
    case CTL_RM:
        put_str(w, m->name);
        put_u64(w, m->freed.blobs);
        put_u64(w, m->freed.bytes);
        put_u64(w, m->freed.shared);
        put_u32(w, m->freed.ttl_s);
        break;
    case CTL_GC:
        put_u64(w, m->freed.blobs);
        put_u64(w, m->freed.bytes);
        put_u32(w, m->freed.partials);
        put_u64(w, m->freed.partial_bytes);
        put_u32(w, m->freed.busy);
        break;
    case CTL_GET:
        put_bytes(w, m->key, CTL_KEY_LEN);
        put_str(w, m->path);
        put_u64(w, m->size);
        break;
    case CTL_MANIFEST:
        put_blob(w, m->blob, m->blob_len);
        break;
    case CTL_STATUS:
        put_bytes(w, m->st.node_id, CTL_KEY_LEN);
        put_str(w, m->st.addr);
        put_u32(w, m->st.peers);
        put_u64(w, m->st.values);
        put_u64(w, m->st.value_bytes);
        put_u64(w, m->st.blobs);
        put_u64(w, m->st.blob_bytes);
        put_u32(w, m->st.published);
        put_u32(w, m->st.peers_live);
        if (m->st.has_store_max)
            put_u64(w, m->st.store_max);
        break;
    case CTL_LS:
        put_u32(w, m->ls_count);
        for (uint32_t i = 0; i < m->ls_count; i++) {
            put_bytes(w, m->ls[i].key, CTL_KEY_LEN);
            put_u64(w, m->ls[i].size);
            put_str(w, m->ls[i].name);
        }
        break;
    default: /* STOP */
        break;
    }
}

int ctl_encode(const ctl_msg_t *msg, uint8_t **frame, size_t *len)
{
    writer_t w = {NULL, 0};
    size_t body;
    int rc;

    if (msg == NULL || frame == NULL || len == NULL)
        return FS_EINVAL;
    rc = check_msg(msg);
    if (rc != FS_OK)
        return rc;
    put_body(&w, msg);
    body = w.pos;
    if (body > CTL_MAX_BODY)
        return FS_ETOOBIG;
    w.buf = malloc(CTL_FRAME_HDR + body);
    if (w.buf == NULL)
        return FS_ENOMEM;
    w.pos = 0;
    put_u32(&w, (uint32_t)body);
    put_body(&w, msg);
    *frame = w.buf;
    *len = w.pos;
    return FS_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* A bounded reader: every get_* fails once the bytes run out, and the first
 * failure sticks (err), so a decoder checks once at the end of a group. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
    int err; /* 0, FS_ECORRUPT or FS_ENOMEM */
} reader_t;

static const uint8_t *take(reader_t *r, size_t n)
{
    const uint8_t *p;

    if (r->err != 0)
        return NULL;
    if (r->left < n) {
        r->err = FS_ECORRUPT;
        return NULL;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t get_u8(reader_t *r)
{
    const uint8_t *p = take(r, 1);
    return p != NULL ? p[0] : 0;
}

static uint16_t get_u16(reader_t *r)
{
    const uint8_t *p = take(r, 2);
    return p != NULL ? le_get16(p) : 0;
}

static uint32_t get_u32r(reader_t *r)
{
    const uint8_t *p = take(r, 4);
    return p != NULL ? le_get32(p) : 0;
}

static uint64_t get_u64(reader_t *r)
{
    const uint8_t *p = take(r, 8);
    return p != NULL ? le_get64(p) : 0;
}

static void get_key(reader_t *r, uint8_t out[CTL_KEY_LEN])
{
    const uint8_t *p = take(r, CTL_KEY_LEN);
    if (p != NULL)
        memcpy(out, p, CTL_KEY_LEN);
}

/* @return a malloc()ed NUL-terminated copy of a str16, or NULL (r->err set). */
static char *get_str(reader_t *r)
{
    uint16_t n = get_u16(r);
    const uint8_t *p;
    char *s;

    if (r->err != 0)
        return NULL;
    if (n > CTL_MAX_STR) {
        r->err = FS_ECORRUPT;
        return NULL;
    }
    p = take(r, n);
    if (p == NULL)
        return NULL;
    if (n > 0 && memchr(p, 0, n) != NULL) {
        r->err = FS_ECORRUPT;
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (s == NULL) {
        r->err = FS_ENOMEM;
        return NULL;
    }
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Reads a blob into *out (malloc()ed, NULL when empty) and *len. */
static void get_blob(reader_t *r, uint8_t **out, size_t *len)
{
    uint32_t n = get_u32r(r);
    const uint8_t *p;

    if (r->err != 0)
        return;
    if (n > CTL_MAX_BLOB) {
        r->err = FS_ECORRUPT;
        return;
    }
    p = take(r, n);
    if (p == NULL)
        return;
    *len = n;
    if (n == 0)
        return;
    *out = malloc(n);
    if (*out == NULL) {
        r->err = FS_ENOMEM;
        *len = 0;
        return;
    }
    memcpy(*out, p, n);
}

static void require_abs(reader_t *r, const char *s)
{
    if (r->err == 0 && (s == NULL || s[0] != '/'))
        r->err = FS_ECORRUPT;
}

static void require_name(reader_t *r, const char *s)
{
    if (r->err == 0 && check_name(s) != FS_OK)
        r->err = FS_ECORRUPT;
}

static void get_ls(reader_t *r, ctl_msg_t *m)
{
    uint32_t n = get_u32r(r);

    if (r->err != 0)
        return;
    /* Bound the allocation by what the body can hold before trusting n. */
    if (n > CTL_MAX_LS || (size_t)n > r->left / LS_ENTRY_MIN) {
        r->err = FS_ECORRUPT;
        return;
    }
    if (n == 0)
        return;
    m->ls = calloc(n, sizeof(*m->ls));
    if (m->ls == NULL) {
        r->err = FS_ENOMEM;
        return;
    }
    for (uint32_t i = 0; i < n && r->err == 0; i++) {
        m->ls_count = i + 1; /* so ctl_msg_clear() frees what was read */
        get_key(r, m->ls[i].key);
        m->ls[i].size = get_u64(r);
        m->ls[i].name = get_str(r);
    }
}

static void get_result(reader_t *r, ctl_msg_t *m)
{
    m->req_type = get_u8(r);
    m->status = (int32_t)get_u32r(r);
    m->message = get_str(r);
    if (r->err != 0)
        return;
    if (!ctl_is_request(m->req_type) || m->status > 0 || strpbrk(m->message, "\r\n") != NULL) {
        r->err = FS_ECORRUPT;
        return;
    }
    m->status = fs_from_ctl_status(m->status);
    if (m->status != 0)
        return;
    switch (m->req_type) {
    case CTL_PUT:
        get_key(r, m->key);
        m->copies_fewest = get_u32r(r);
        m->copies_median = get_u32r(r);
        if (r->err == 0 && r->left > 0) { /* a sealed file's (appended later: section 5.2) */
            get_key(r, m->secret);
            m->has_secret = 1;
        }
        break;
    case CTL_IMPORT:
        get_key(r, m->key);
        break;
    case CTL_HEALTH:
        m->health.pieces = get_u32r(r);
        m->health.missing = get_u32r(r);
        m->health.fewest = get_u32r(r);
        m->health.median = get_u32r(r);
        m->health.is_dir = get_u8(r);
        if (m->health.is_dir > 1 || m->health.missing > m->health.pieces ||
            m->health.fewest > m->health.median)
            r->err = FS_ECORRUPT;
        break;
    case CTL_RM:
        m->name = get_str(r);
        m->freed.blobs = get_u64(r);
        m->freed.bytes = get_u64(r);
        m->freed.shared = get_u64(r);
        m->freed.ttl_s = get_u32r(r);
        break;
    case CTL_GC:
        m->freed.blobs = get_u64(r);
        m->freed.bytes = get_u64(r);
        m->freed.partials = get_u32r(r);
        m->freed.partial_bytes = get_u64(r);
        m->freed.busy = get_u32r(r);
        break;
    case CTL_GET:
        get_key(r, m->key);
        m->path = get_str(r);
        m->size = get_u64(r);
        break;
    case CTL_MANIFEST:
        get_blob(r, &m->blob, &m->blob_len);
        break;
    case CTL_STATUS:
        get_key(r, m->st.node_id);
        m->st.addr = get_str(r);
        m->st.peers = get_u32r(r);
        m->st.values = get_u64(r);
        m->st.value_bytes = get_u64(r);
        m->st.blobs = get_u64(r);
        m->st.blob_bytes = get_u64(r);
        m->st.published = get_u32r(r);
        m->st.peers_live = get_u32r(r);
        /* Optional, at the end: a daemon older than it sends none. */
        if (r->err == 0 && r->left > 0) {
            m->st.has_store_max = 1;
            m->st.store_max = get_u64(r);
        }
        break;
    case CTL_LS:
        get_ls(r, m);
        break;
    default: /* STOP: no payload */
        break;
    }
}

int ctl_decode(const uint8_t *body, size_t len, ctl_msg_t *out)
{
    reader_t r = {body, len, 0};

    if (out == NULL)
        return FS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (body == NULL && len > 0)
        return FS_EINVAL;
    if (len < 2 || len > CTL_MAX_BODY || body[1] != CTL_VERSION)
        return FS_ECORRUPT;
    out->type = get_u8(&r);
    out->version = get_u8(&r);
    switch (out->type) {
    case CTL_PUT:
        out->flags = get_u32r(&r);
        out->path = get_str(&r);
        if (out->flags & CTL_FLAG_STREAM)
            require_name(&r, out->path);
        else
            require_abs(&r, out->path);
        break;
    case CTL_GET:
        out->flags = get_u32r(&r);
        get_key(&r, out->key);
        out->cwd = get_str(&r);
        out->out = get_str(&r);
        require_abs(&r, out->cwd);
        if (out->flags & CTL_FLAG_SEAL) {
            get_key(&r, out->secret);
            out->has_secret = 1;
        }
        break;
    case CTL_MANIFEST:
    case CTL_HEALTH:
        get_key(&r, out->key);
        if (r.err == 0 && r.left > 0) { /* a sealed file's (appended later) */
            get_key(&r, out->secret);
            out->has_secret = 1;
        }
        break;
    case CTL_RM:
        get_key(&r, out->key);
        break;
    case CTL_IMPORT:
    case CTL_DATA:
        get_blob(&r, &out->blob, &out->blob_len);
        break;
    case CTL_STATUS:
    case CTL_LS:
    case CTL_STOP:
    case CTL_GC:
        break;
    case CTL_PROGRESS:
        out->progress.bytes_done = get_u64(&r);
        out->progress.bytes_total = get_u64(&r);
        out->progress.chunks_done = get_u32r(&r);
        out->progress.chunks_total = get_u32r(&r);
        out->progress.in_flight = get_u32r(&r);
        out->progress.peers = get_u32r(&r);
        break;
    case CTL_RESULT:
        get_result(&r, out);
        break;
    default:
        r.err = FS_ECORRUPT;
        break;
    }
    if (r.err == 0 && r.left != 0)
        r.err = FS_ECORRUPT; /* trailing bytes */
    if (r.err != 0) {
        int err = r.err;
        ctl_msg_clear(out);
        return err;
    }
    return FS_OK;
}

_Static_assert(CTL_KEY_LEN == DHT_ID_LEN, "a node id travels in a key field");

int32_t ctl_status_from_fs(int fs_err)
{
    switch (fs_err) {
    case FS_OK:
        return CTL_S_OK;
#define CTL_XX_TO_WIRE(name, value)                                                                \
    case FS_##name:                                                                                \
        return CTL_S_##name;
        CTL_STATUS_MAP(CTL_XX_TO_WIRE)
#undef CTL_XX_TO_WIRE
    default:
        return CTL_S_EIO;
    }
}

int fs_from_ctl_status(int32_t status)
{
    switch (status) {
    case CTL_S_OK:
        return FS_OK;
#define CTL_XX_FROM_WIRE(name, value)                                                              \
    case CTL_S_##name:                                                                             \
        return FS_##name;
        CTL_STATUS_MAP(CTL_XX_FROM_WIRE)
#undef CTL_XX_FROM_WIRE
    default:
        return FS_EIO;
    }
}
