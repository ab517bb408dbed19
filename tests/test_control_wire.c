/*
 * Tests of the control socket codec (tool/node/control_wire.c) against
 * schema/control.md: the hand-written vectors of schema/vectors/control/
 * decode to the fields they describe and re-encode byte for byte; every
 * truncation is rejected; random corruptions are rejected or re-encode to
 * exactly their input; the decoder and the encoder enforce the limits; random
 * valid messages round-trip.
 *
 * Run from the repository root: the vectors are read at run time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers/vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* alarm */

#include "filestore/fs_error.h"
#include "tool/node/control_wire.h"

#define VECTOR_DIR  "schema/vectors/control"
#define MIN_VECTORS 19
#define MAX_VECTORS 128
#define CORRUPTIONS 200000
#define RANDOM_MSGS 20000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static vector_t vectors[MAX_VECTORS];
static size_t n_vectors;

static int load_vectors(void **state)
{
    (void)state;
    return vectors_load(VECTOR_DIR, vectors, MAX_VECTORS, &n_vectors);
}

static int free_vectors(void **state)
{
    (void)state;
    vectors_free(vectors, &n_vectors);
    return 0;
}

static const vector_t *find_vector(const char *name)
{
    const vector_t *v = vectors_find(vectors, n_vectors, name);

    if (v == NULL)
        fail_msg("vector %s missing", name);
    return v;
}

static void assert_key_seq(const uint8_t *key, uint8_t start)
{
    for (unsigned i = 0; i < CTL_KEY_LEN; i++)
        assert_int_equal(key[i], (uint8_t)(start + i));
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Decodes the body of frame[0..len) (whose prefix must be consistent). */
static int decode_frame(const uint8_t *frame, size_t len, ctl_msg_t *m)
{
    size_t flen = 0;
    int rc = ctl_frame_check(frame, len, &flen);
    if (rc != 1)
        return rc < 0 ? rc : FS_ECORRUPT;
    if (flen != len)
        return FS_ECORRUPT;
    return ctl_decode(frame + CTL_FRAME_HDR, len - CTL_FRAME_HDR, m);
}

/* Encodes m and checks the frame is exactly want[0..len). */
static void assert_encodes_to(const ctl_msg_t *m, const uint8_t *want, size_t len)
{
    uint8_t *frame = NULL;
    size_t flen = 0;

    assert_int_equal(ctl_encode(m, &frame, &flen), 0);
    assert_int_equal(flen, len);
    assert_memory_equal(frame, want, len);
    free(frame);
}

/* Decodes a body built by the caller; @return ctl_decode()'s code, and
 * clears the message. */
static int decode_rc(const uint8_t *body, size_t len)
{
    ctl_msg_t m;
    int rc = ctl_decode(body, len, &m);
    ctl_msg_clear(&m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Vectors: named fields                                                    */
/* ------------------------------------------------------------------------ */

static void want_put(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_PUT);
    assert_int_equal(m->flags, CTL_FLAG_PROGRESS);
    assert_string_equal(m->path, "/home/alice/photo.jpg");
}

static void want_get(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_GET);
    assert_int_equal(m->flags, CTL_FLAG_PROGRESS);
    assert_key_seq(m->key, 0xa0);
    assert_string_equal(m->cwd, "/home/alice");
    assert_string_equal(m->out, "out.jpg");
}

static void want_get_sealed(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_GET);
    assert_int_equal(m->flags, CTL_FLAG_PROGRESS | CTL_FLAG_SEAL);
    assert_key_seq(m->key, 0xa0);
    assert_string_equal(m->out, "out.jpg");
    assert_int_equal(m->has_secret, 1);
    assert_key_seq(m->secret, 0xc0);
}

static void want_sealed_request(const ctl_msg_t *m, uint8_t type)
{
    assert_int_equal(m->type, type);
    assert_key_seq(m->key, 0xa0);
    assert_int_equal(m->has_secret, 1);
    assert_key_seq(m->secret, 0xc0);
}

static void want_manifest_sealed(const ctl_msg_t *m)
{
    want_sealed_request(m, CTL_MANIFEST);
}

static void want_health_sealed(const ctl_msg_t *m)
{
    want_sealed_request(m, CTL_HEALTH);
}

static void want_get_no_out(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_GET);
    assert_int_equal(m->flags, 0);
    assert_key_seq(m->key, 0xa0);
    assert_string_equal(m->cwd, "/home/alice");
    assert_non_null(m->out);
    assert_string_equal(m->out, "");
}

static void want_put_stream(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_PUT);
    assert_int_equal(m->flags, CTL_FLAG_PROGRESS | CTL_FLAG_STREAM);
    assert_string_equal(m->path, "photo.jpg");
}

static void want_get_stream(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_GET);
    assert_int_equal(m->flags, CTL_FLAG_PROGRESS | CTL_FLAG_FORCE | CTL_FLAG_STREAM);
    assert_key_seq(m->key, 0xa0);
    assert_string_equal(m->cwd, "/home/alice");
    assert_string_equal(m->out, "");
}

static void want_data(const ctl_msg_t *m)
{
    static const uint8_t bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};

    assert_int_equal(m->type, CTL_DATA);
    assert_int_equal(m->blob_len, sizeof(bytes));
    assert_memory_equal(m->blob, bytes, sizeof(bytes));
}

static void want_data_end(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_DATA);
    assert_int_equal(m->blob_len, 0);
}

static void want_manifest(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_MANIFEST);
    assert_key_seq(m->key, 0xa0);
}

static void want_health(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_HEALTH);
    assert_key_seq(m->key, 0xa0);
}

static void want_rm(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_RM);
    assert_key_seq(m->key, 0xa0);
}

static void want_gc(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_GC);
}

static void assert_bundle8(const ctl_msg_t *m)
{
    static const uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(m->blob_len, 8);
    assert_memory_equal(m->blob, b, 8);
}

static void want_import(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_IMPORT);
    assert_bundle8(m);
}

static void want_status(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_STATUS);
}

static void want_ls(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_LS);
}

static void want_stop(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_STOP);
}

static void want_progress(const ctl_msg_t *m)
{
    assert_int_equal(m->type, CTL_PROGRESS);
    assert_int_equal(m->progress.bytes_done, 0x12345678u);
    assert_int_equal(m->progress.bytes_total, 1ull << 30);
    assert_int_equal(m->progress.chunks_done, 1720);
    assert_int_equal(m->progress.chunks_total, 4096);
    assert_int_equal(m->progress.in_flight, 32);
    assert_int_equal(m->progress.peers, 7);
}

static void assert_result(const ctl_msg_t *m, uint8_t req, int32_t status, const char *msg)
{
    assert_int_equal(m->type, CTL_RESULT);
    assert_int_equal(m->req_type, req);
    assert_int_equal(m->status, status);
    assert_string_equal(m->message, msg);
}

static void want_result_put(const ctl_msg_t *m)
{
    assert_result(m, CTL_PUT, 0, "");
    assert_key_seq(m->key, 0xa0);
    assert_int_equal(m->copies_fewest, 5);
    assert_int_equal(m->copies_median, 7);
}

static void want_result_put_sealed(const ctl_msg_t *m)
{
    want_result_put(m);
    assert_int_equal(m->has_secret, 1);
    assert_key_seq(m->secret, 0xc0);
}

static void want_result_health(const ctl_msg_t *m)
{
    assert_result(m, CTL_HEALTH, 0, "");
    assert_int_equal(m->health.pieces, 12);
    assert_int_equal(m->health.missing, 1);
    assert_int_equal(m->health.fewest, 0);
    assert_int_equal(m->health.median, 7);
    assert_int_equal(m->health.is_dir, 0);
}

static void want_result_rm(const ctl_msg_t *m)
{
    assert_result(m, CTL_RM, 0, "");
    assert_string_equal(m->name, "photo.jpg");
    assert_int_equal(m->freed.blobs, 12);
    assert_int_equal(m->freed.bytes, 3u << 20);
    assert_int_equal(m->freed.shared, 3);
    assert_int_equal(m->freed.ttl_s, 86400);
}

static void want_result_gc(const ctl_msg_t *m)
{
    assert_result(m, CTL_GC, 0, "");
    assert_int_equal(m->freed.blobs, 7);
    assert_int_equal(m->freed.bytes, 512u << 10);
    assert_int_equal(m->freed.partials, 2);
    assert_int_equal(m->freed.partial_bytes, 1u << 20);
    assert_int_equal(m->freed.busy, 1);
}

static void want_result_get(const ctl_msg_t *m)
{
    assert_result(m, CTL_GET, 0, "ok");
    assert_key_seq(m->key, 0xa0);
    assert_string_equal(m->path, "/home/alice/photos/photo.jpg");
    assert_int_equal(m->size, 1ull << 30);
}

static void want_result_manifest(const ctl_msg_t *m)
{
    assert_result(m, CTL_MANIFEST, 0, "");
    assert_bundle8(m);
}

static void want_result_import(const ctl_msg_t *m)
{
    assert_result(m, CTL_IMPORT, 0, "stored");
    assert_key_seq(m->key, 0xc0);
}

static void want_result_status(const ctl_msg_t *m)
{
    assert_result(m, CTL_STATUS, 0, "");
    assert_key_seq(m->st.node_id, 0x20);
    assert_string_equal(m->st.addr, "203.0.113.7:4000");
    assert_int_equal(m->st.peers, 7);
    assert_int_equal(m->st.values, 16);
    assert_int_equal(m->st.value_bytes, 1u << 20);
    assert_int_equal(m->st.blobs, 5);
    assert_int_equal(m->st.blob_bytes, 0x140000);
    assert_int_equal(m->st.published, 2);
    assert_int_equal(m->st.peers_live, 5);
    assert_int_equal(m->st.has_store_max, 1);
    assert_int_equal(m->st.store_max, 10ull << 30);
}

/* From a daemon older than store_max: the same fields, the quota unknown. */
static void want_result_status_old(const ctl_msg_t *m)
{
    assert_result(m, CTL_STATUS, 0, "");
    assert_key_seq(m->st.node_id, 0x20);
    assert_string_equal(m->st.addr, "203.0.113.7:4000");
    assert_int_equal(m->st.values, 16);
    assert_int_equal(m->st.blob_bytes, 0x140000);
    assert_int_equal(m->st.peers_live, 5);
    assert_int_equal(m->st.has_store_max, 0);
    assert_int_equal(m->st.store_max, 0);
}

/* From an embedded node: store_max present, and 0. */
static void want_result_status_embedded(const ctl_msg_t *m)
{
    assert_result(m, CTL_STATUS, 0, "");
    assert_int_equal(m->st.values, 0);
    assert_int_equal(m->st.blobs, 5);
    assert_int_equal(m->st.peers_live, 5);
    assert_int_equal(m->st.has_store_max, 1);
    assert_int_equal(m->st.store_max, 0);
}

static void want_result_ls(const ctl_msg_t *m)
{
    assert_result(m, CTL_LS, 0, "");
    assert_int_equal(m->ls_count, 2);
    assert_key_seq(m->ls[0].key, 0xa0);
    assert_int_equal(m->ls[0].size, 1ull << 30);
    assert_string_equal(m->ls[0].name, "photo.jpg");
    assert_key_seq(m->ls[1].key, 0xc0);
    assert_int_equal(m->ls[1].size, 0x1234);
    assert_string_equal(m->ls[1].name, "notes.txt");
}

static void want_result_ls_empty(const ctl_msg_t *m)
{
    assert_result(m, CTL_LS, 0, "");
    assert_int_equal(m->ls_count, 0);
    assert_null(m->ls);
}

static void want_result_stop(const ctl_msg_t *m)
{
    assert_result(m, CTL_STOP, 0, "");
}

static void want_result_error(const ctl_msg_t *m)
{
    assert_result(m, CTL_GET, FS_ENOPEERS, "no peers reachable: start with --bootstrap HOST:PORT");
    assert_null(m->path); /* no payload */
}

static void want_result_error_empty(const ctl_msg_t *m)
{
    assert_result(m, CTL_MANIFEST, FS_ENOENT, "");
    assert_null(m->blob);
}

static const struct {
    const char *name;
    void (*check)(const ctl_msg_t *m);
} named[] = {
    {"put.hex", want_put},
    {"put_stream.hex", want_put_stream},
    {"get.hex", want_get},
    {"get_stream.hex", want_get_stream},
    {"data.hex", want_data},
    {"data_end.hex", want_data_end},
    {"get_no_out.hex", want_get_no_out},
    {"manifest.hex", want_manifest},
    {"health.hex", want_health},
    {"rm.hex", want_rm},
    {"gc.hex", want_gc},
    {"import.hex", want_import},
    {"status.hex", want_status},
    {"ls.hex", want_ls},
    {"stop.hex", want_stop},
    {"progress.hex", want_progress},
    {"result_put.hex", want_result_put},
    {"result_put_sealed.hex", want_result_put_sealed},
    {"get_sealed.hex", want_get_sealed},
    {"manifest_sealed.hex", want_manifest_sealed},
    {"health_sealed.hex", want_health_sealed},
    {"result_health.hex", want_result_health},
    {"result_rm.hex", want_result_rm},
    {"result_gc.hex", want_result_gc},
    {"result_get.hex", want_result_get},
    {"result_manifest.hex", want_result_manifest},
    {"result_import.hex", want_result_import},
    {"result_status.hex", want_result_status},
    {"result_status_old.hex", want_result_status_old},
    {"result_status_embedded.hex", want_result_status_embedded},
    {"result_ls.hex", want_result_ls},
    {"result_ls_empty.hex", want_result_ls_empty},
    {"result_stop.hex", want_result_stop},
    {"result_error.hex", want_result_error},
    {"result_error_empty.hex", want_result_error_empty},
};

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* Every vector is one complete frame that decodes (to the fields its
 * comments name, for the known ones) and re-encodes byte for byte. */
static void test_vectors_roundtrip(void **state)
{
    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        ctl_msg_t m;
        size_t flen = 0;

        assert_int_equal(ctl_frame_check(v->buf, v->len, &flen), 1);
        assert_int_equal(flen, v->len);
        assert_int_equal(ctl_decode(v->buf + CTL_FRAME_HDR, v->len - CTL_FRAME_HDR, &m), 0);
        assert_int_equal(m.version, CTL_VERSION);
        assert_encodes_to(&m, v->buf, v->len);
        ctl_msg_clear(&m);
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        const vector_t *v = find_vector(named[i].name);
        ctl_msg_t m;

        assert_int_equal(decode_frame(v->buf, v->len, &m), 0);
        named[i].check(&m);
        ctl_msg_clear(&m);
    }
}

/* The length of the one strict prefix of a vector's body that is a valid
 * message too: a STATUS result without its optional last field (store_max,
 * 8 bytes), a sealed PUT's result, MANIFEST or HEALTH without its secret
 * (32 bytes); 0 for every other vector. */
static size_t valid_prefix(const vector_t *v)
{
    size_t blen = v->len - CTL_FRAME_HDR;
    ctl_msg_t m;
    size_t n = 0;

    assert_int_equal(ctl_decode(v->buf + CTL_FRAME_HDR, blen, &m), 0);
    if (m.type == CTL_RESULT && m.req_type == CTL_STATUS && m.status == 0 && m.st.has_store_max)
        n = blen - 8;
    if (m.type == CTL_RESULT && m.req_type == CTL_PUT && m.status == 0 && m.has_secret)
        n = blen - 32;
    if ((m.type == CTL_MANIFEST || m.type == CTL_HEALTH) && m.has_secret)
        n = blen - 32;
    ctl_msg_clear(&m);
    return n;
}

/* Every strict prefix of a vector's frame needs more bytes; every strict
 * prefix of its body (but a STATUS result's without store_max, which is
 * the older daemons' payload), and the body with a byte more, is
 * malformed. */
static void test_vectors_truncated_and_extended(void **state)
{
    size_t optional = 0;

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t i = 0; i < n_vectors; i++) {
        const vector_t *v = &vectors[i];
        size_t blen = v->len - CTL_FRAME_HDR;
        uint8_t *ext = malloc(v->len + 1);
        size_t flen = 12345;
        ctl_msg_t m;

        for (size_t k = 0; k < v->len; k++) {
            assert_int_equal(ctl_frame_check(v->buf, k, &flen), 0);
            assert_int_equal(flen, 12345);
        }
        /* More bytes than the frame: still one frame of v->len bytes. */
        assert_non_null(ext);
        memcpy(ext, v->buf, v->len);
        ext[v->len] = 0x00;
        assert_int_equal(ctl_frame_check(ext, v->len + 1, &flen), 1);
        assert_int_equal(flen, v->len);

        size_t valid = valid_prefix(v);
        for (size_t k = 0; k < blen; k++) {
            /* A copy of exactly k bytes, so ASan catches an over-read. */
            uint8_t *body = malloc(k ? k : 1);
            assert_non_null(body);
            memcpy(body, v->buf + CTL_FRAME_HDR, k);
            memset(&m, 0xa5, sizeof(m));
            if (k > 0 && k == valid) {
                /* the same status as an older daemon sends it: decodes
                 * without the quota, and re-encodes to those k bytes */
                uint8_t *want = malloc(CTL_FRAME_HDR + k);
                assert_non_null(want);
                put_le32(want, (uint32_t)k);
                memcpy(want + CTL_FRAME_HDR, body, k);
                assert_int_equal(ctl_decode(body, k, &m), 0);
                assert_int_equal(m.st.has_store_max, 0);
                assert_int_equal(m.st.store_max, 0);
                assert_int_equal(m.has_secret, 0);
                if (m.type == CTL_RESULT && m.req_type == CTL_STATUS)
                    assert_int_equal(m.st.peers_live, 5);
                assert_encodes_to(&m, want, CTL_FRAME_HDR + k);
                ctl_msg_clear(&m);
                free(want);
                free(body);
                optional++;
                continue;
            }
            assert_int_equal(ctl_decode(k ? body : NULL, k, &m), FS_ECORRUPT);
            /* zeroed on failure: nothing to free, no dangling pointer */
            assert_null(m.path);
            assert_null(m.message);
            assert_null(m.ls);
            assert_int_equal(m.type, 0);
            free(body);
        }
        for (int b = 0; b < 256; b += 85) {
            ext[v->len] = (uint8_t)b;
            assert_int_equal(decode_rc(ext + CTL_FRAME_HDR, blen + 1), FS_ECORRUPT);
        }
        free(ext);
    }
    /* result_status.hex, result_status_embedded.hex, result_put_sealed.hex,
     * manifest_sealed.hex, health_sealed.hex */
    assert_int_equal(optional, 5);
}

static void test_frame_check(void **state)
{
    uint8_t hdr[8] = {0};
    size_t flen = 0;

    (void)state;
    assert_int_equal(ctl_frame_check(NULL, 0, &flen), FS_EINVAL);
    assert_int_equal(ctl_frame_check(hdr, 4, NULL), FS_EINVAL);
    assert_int_equal(ctl_frame_check(hdr, 3, &flen), 0);
    put_le32(hdr, 0);
    assert_int_equal(ctl_frame_check(hdr, 4, &flen), FS_ECORRUPT);
    put_le32(hdr, CTL_MAX_BODY + 1);
    assert_int_equal(ctl_frame_check(hdr, 4, &flen), FS_ECORRUPT);
    put_le32(hdr, 0xffffffffu);
    assert_int_equal(ctl_frame_check(hdr, 8, &flen), FS_ECORRUPT);
    put_le32(hdr, CTL_MAX_BODY);
    assert_int_equal(ctl_frame_check(hdr, 8, &flen), 0); /* legal, incomplete */
    put_le32(hdr, 1);
    assert_int_equal(ctl_frame_check(hdr, 5, &flen), 1);
    assert_int_equal(flen, 5);
    /* ... whose 1-byte body is too short to be a message. */
    assert_int_equal(decode_rc(hdr + 4, 1), FS_ECORRUPT);
    assert_int_equal(CTL_MAX_BODY, 16u * 1024 * 1024 + 4096);
}

/* Fixed bodies that break one rule each. */
static void test_decode_rules(void **state)
{
    static const uint8_t ok_stop[] = {0x07, 0x01};
    static const uint8_t bad_version[] = {0x07, 0x02};
    static const uint8_t version0[] = {0x07, 0x00};
    static const uint8_t unknown_type[] = {0x0b, 0x01};
    /* GC carries nothing; RM a whole key */
    static const uint8_t gc_trailing[] = {0x0a, 0x01, 0x00};
    static const uint8_t rm_short[] = {0x09, 0x01, 0xa0, 0xa1};
    static const uint8_t zero_type[] = {0x00, 0x01};
    static const uint8_t type_80[] = {0x80, 0x01};
    static const uint8_t type_84[] = {0x84, 0x01};
    /* PUT with a relative, an empty path, a path holding a NUL */
    static const uint8_t put_rel[] = {0x01, 0x01, 0, 0, 0, 0, 0x01, 0x00, 'a'};
    static const uint8_t put_empty[] = {0x01, 0x01, 0, 0, 0, 0, 0x00, 0x00};
    static const uint8_t put_nul[] = {0x01, 0x01, 0, 0, 0, 0, 0x02, 0x00, '/', 0};
    static const uint8_t put_abs[] = {0x01, 0x01, 0xfb, 0xff, 0xff, 0xff, 0x02, 0x00, '/', 'x'};
    /* a streamed PUT names a file: no '/', not empty */
    static const uint8_t put_stream_slash[] = {0x01, 0x01, 0x04, 0, 0, 0, 0x02, 0x00, '/', 'x'};
    static const uint8_t put_stream_empty[] = {0x01, 0x01, 0x04, 0, 0, 0, 0x00, 0x00};
    /* DATA whose blob runs past the body */
    static const uint8_t data_short[] = {0x83, 0x01, 4, 0, 0, 0, 1, 2, 3};
    /* RESULT of STOP with status +1, with request type 0x81, with "a\nb",
     * with an error status and a payload after it */
    static const uint8_t res_pos[] = {0x82, 0x01, 0x07, 1, 0, 0, 0, 0, 0};
    static const uint8_t res_type[] = {0x82, 0x01, 0x81, 0, 0, 0, 0, 0, 0};
    static const uint8_t res_type0[] = {0x82, 0x01, 0x00, 0, 0, 0, 0, 0, 0};
    static const uint8_t res_lf[] = {0x82, 0x01, 0x07, 0, 0, 0, 0, 3, 0, 'a', '\n', 'b'};
    static const uint8_t res_cr[] = {0x82, 0x01, 0x07, 0, 0, 0, 0, 1, 0, '\r'};
    static const uint8_t res_tab[] = {0x82, 0x01, 0x07, 0, 0, 0, 0, 1, 0, '\t'};
    static const uint8_t res_err_payload[] = {0x82, 0x01, 0x07, 0xff, 0xff, 0xff, 0xff, 0, 0, 0};
    static const uint8_t res_min[] = {0x82, 0x01, 0x07, 0, 0, 0, 0x80, 0, 0}; /* INT32_MIN */
    /* IMPORT with a blob length past the body */
    static const uint8_t imp_short[] = {0x04, 0x01, 3, 0, 0, 0, 1, 2};
    static const uint8_t imp_empty[] = {0x04, 0x01, 0, 0, 0, 0};
    ctl_msg_t m;

    (void)state;
    assert_int_equal(decode_rc(ok_stop, sizeof(ok_stop)), 0);
    assert_int_equal(decode_rc(bad_version, sizeof(bad_version)), FS_ECORRUPT);
    assert_int_equal(decode_rc(version0, sizeof(version0)), FS_ECORRUPT);
    assert_int_equal(decode_rc(unknown_type, sizeof(unknown_type)), FS_ECORRUPT);
    assert_int_equal(decode_rc(zero_type, sizeof(zero_type)), FS_ECORRUPT);
    assert_int_equal(decode_rc(gc_trailing, sizeof(gc_trailing)), FS_ECORRUPT);
    assert_int_equal(decode_rc(rm_short, sizeof(rm_short)), FS_ECORRUPT);
    assert_int_equal(decode_rc(type_80, sizeof(type_80)), FS_ECORRUPT);
    assert_int_equal(decode_rc(type_84, sizeof(type_84)), FS_ECORRUPT);
    assert_int_equal(decode_rc(put_stream_slash, sizeof(put_stream_slash)), FS_ECORRUPT);
    assert_int_equal(decode_rc(put_stream_empty, sizeof(put_stream_empty)), FS_ECORRUPT);
    assert_int_equal(decode_rc(data_short, sizeof(data_short)), FS_ECORRUPT);
    assert_int_equal(decode_rc(put_rel, sizeof(put_rel)), FS_ECORRUPT);
    assert_int_equal(decode_rc(put_empty, sizeof(put_empty)), FS_ECORRUPT);
    assert_int_equal(decode_rc(put_nul, sizeof(put_nul)), FS_ECORRUPT);
    assert_int_equal(ctl_decode(put_abs, sizeof(put_abs), &m), 0);
    assert_int_equal(m.flags, 0xfffffffbu); /* reserved bits carried */
    assert_string_equal(m.path, "/x");
    ctl_msg_clear(&m);
    assert_int_equal(decode_rc(res_pos, sizeof(res_pos)), FS_ECORRUPT);
    assert_int_equal(decode_rc(res_type, sizeof(res_type)), FS_ECORRUPT);
    assert_int_equal(decode_rc(res_type0, sizeof(res_type0)), FS_ECORRUPT);
    assert_int_equal(decode_rc(res_lf, sizeof(res_lf)), FS_ECORRUPT);
    assert_int_equal(decode_rc(res_cr, sizeof(res_cr)), FS_ECORRUPT);
    assert_int_equal(decode_rc(res_tab, sizeof(res_tab)), 0); /* only CR and LF are banned */
    assert_int_equal(decode_rc(res_err_payload, sizeof(res_err_payload)), FS_ECORRUPT);
    assert_int_equal(ctl_decode(res_min, sizeof(res_min), &m), 0);
    assert_int_equal(m.status, FS_EIO); /* a status this build does not know */
    ctl_msg_clear(&m);
    assert_int_equal(decode_rc(imp_short, sizeof(imp_short)), FS_ECORRUPT);
    assert_int_equal(ctl_decode(imp_empty, sizeof(imp_empty), &m), 0);
    assert_int_equal(m.blob_len, 0);
    assert_null(m.blob);
    ctl_msg_clear(&m);

    assert_int_equal(ctl_decode(NULL, 2, &m), FS_EINVAL);
    assert_int_equal(ctl_decode(ok_stop, 2, NULL), FS_EINVAL);
    assert_int_equal(ctl_decode(NULL, 0, &m), FS_ECORRUPT);
    ctl_msg_clear(NULL); /* allowed */
}

/* Builds the body of a PUT whose path is '/' then n - 1 'a's. */
static uint8_t *put_body(size_t n, size_t *len)
{
    uint8_t *b = malloc(8 + n);
    assert_non_null(b);
    b[0] = CTL_PUT;
    b[1] = CTL_VERSION;
    memset(b + 2, 0, 4);
    b[6] = (uint8_t)n;
    b[7] = (uint8_t)(n >> 8);
    b[8] = '/';
    memset(b + 9, 'a', n - 1);
    *len = 8 + n;
    return b;
}

/* The size limits: strings, blobs, LS counts. */
static void test_decode_bounds(void **state)
{
    size_t len;
    uint8_t *b;
    ctl_msg_t m;

    (void)state;
    /* str16: 4096 bytes is the most */
    b = put_body(CTL_MAX_STR, &len);
    assert_int_equal(ctl_decode(b, len, &m), 0);
    assert_int_equal(strlen(m.path), CTL_MAX_STR);
    ctl_msg_clear(&m);
    free(b);
    b = put_body(CTL_MAX_STR + 1, &len);
    assert_int_equal(decode_rc(b, len), FS_ECORRUPT);
    free(b);
    b = put_body(0xffff, &len);
    assert_int_equal(decode_rc(b, len), FS_ECORRUPT);
    free(b);

    /* blob: 16 MiB is the most */
    len = 6 + (size_t)CTL_MAX_BLOB + 1;
    b = calloc(1, len);
    assert_non_null(b);
    b[0] = CTL_IMPORT;
    b[1] = CTL_VERSION;
    put_le32(b + 2, CTL_MAX_BLOB);
    b[6] = 0x42;
    assert_int_equal(ctl_decode(b, len - 1, &m), 0);
    assert_int_equal(m.blob_len, CTL_MAX_BLOB);
    assert_int_equal(m.blob[0], 0x42);
    ctl_msg_clear(&m);
    put_le32(b + 2, CTL_MAX_BLOB + 1);
    assert_int_equal(decode_rc(b, len), FS_ECORRUPT);
    put_le32(b + 2, 0xffffffffu);
    assert_int_equal(decode_rc(b, len), FS_ECORRUPT);
    free(b);

    /* a body over the frame limit is malformed whatever it holds */
    len = CTL_MAX_BODY + 1;
    b = calloc(1, len);
    assert_non_null(b);
    b[0] = CTL_IMPORT;
    b[1] = CTL_VERSION;
    put_le32(b + 2, (uint32_t)(len - 6));
    assert_int_equal(decode_rc(b, len), FS_ECORRUPT);
    free(b);

    /* LS: a count beyond 1,000,000, or beyond what the body holds, is
     * rejected before anything is allocated for it. */
    {
        uint8_t ls[13 + 42] = {0x82, 0x01, CTL_LS, 0, 0, 0, 0, 0, 0};
        put_le32(ls + 9, CTL_MAX_LS + 1);
        assert_int_equal(decode_rc(ls, 13), FS_ECORRUPT);
        put_le32(ls + 9, 0xffffffffu);
        assert_int_equal(decode_rc(ls, 13), FS_ECORRUPT);
        put_le32(ls + 9, 2);
        assert_int_equal(decode_rc(ls, sizeof(ls)), FS_ECORRUPT);
        put_le32(ls + 9, 1);
        assert_int_equal(ctl_decode(ls, sizeof(ls), &m), 0);
        assert_int_equal(m.ls_count, 1);
        assert_string_equal(m.ls[0].name, "");
        ctl_msg_clear(&m);
        /* the first entry fine, the second truncated: freed cleanly */
        put_le32(ls + 9, 1);
        assert_int_equal(decode_rc(ls, sizeof(ls) - 1), FS_ECORRUPT);
    }
}

/* As many LS entries as a body can hold decode and re-encode. */
static void test_ls_large(void **state)
{
    ctl_msg_t m = {0}, d;
    uint8_t *frame = NULL;
    size_t flen = 0;
    uint32_t n = (CTL_MAX_BODY - 13) / 42;

    (void)state;
    m.type = CTL_RESULT;
    m.req_type = CTL_LS;
    m.ls_count = n;
    m.ls = calloc(n, sizeof(*m.ls));
    assert_non_null(m.ls);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(m.ls[i].key, &i, sizeof(i));
        m.ls[i].size = i;
    }
    assert_int_equal(ctl_encode(&m, &frame, &flen), 0);
    assert_int_equal(flen, CTL_FRAME_HDR + 13 + (size_t)n * 42);
    assert_int_equal(decode_frame(frame, flen, &d), 0);
    assert_int_equal(d.ls_count, n);
    assert_int_equal(d.ls[n - 1].size, n - 1);
    assert_memory_equal(d.ls[n - 1].key, &(uint32_t){n - 1}, 4);
    assert_string_equal(d.ls[n - 1].name, "");
    ctl_msg_clear(&d);
    free(frame);

    /* one more entry does not fit in a body */
    m.ls_count = n + 1;
    m.ls = realloc(m.ls, (n + 1) * sizeof(*m.ls));
    assert_non_null(m.ls);
    memset(&m.ls[n], 0, sizeof(m.ls[n]));
    frame = NULL;
    assert_int_equal(ctl_encode(&m, &frame, &flen), FS_ETOOBIG);
    assert_null(frame);
    ctl_msg_clear(&m);
}

/* What the encoder refuses to send. */
static void test_encoder_limits(void **state)
{
    char *longs = malloc(CTL_MAX_STR + 2);
    uint8_t *frame = NULL;
    size_t flen = 0;
    ctl_msg_t m;

    (void)state;
    assert_non_null(longs);
    longs[0] = '/';
    memset(longs + 1, 'x', CTL_MAX_STR);
    longs[CTL_MAX_STR + 1] = '\0'; /* 4097 bytes */

#define EXPECT(rc)                                                                                 \
    do {                                                                                           \
        frame = NULL;                                                                              \
        assert_int_equal(ctl_encode(&m, &frame, &flen), rc);                                       \
        if (rc == 0)                                                                               \
            free(frame);                                                                           \
        else                                                                                       \
            assert_null(frame);                                                                    \
    } while (0)

    memset(&m, 0, sizeof(m));
    assert_int_equal(ctl_encode(NULL, &frame, &flen), FS_EINVAL);
    assert_int_equal(ctl_encode(&m, NULL, &flen), FS_EINVAL);
    assert_int_equal(ctl_encode(&m, &frame, NULL), FS_EINVAL);
    EXPECT(FS_EINVAL); /* type 0 */
    m.type = 0x0b;
    EXPECT(FS_EINVAL);
    m.type = CTL_STOP;
    EXPECT(0);

    /* PUT path: absolute, at most 4096 bytes */
    m.type = CTL_PUT;
    EXPECT(FS_EINVAL); /* NULL path */
    m.path = "rel/a";
    EXPECT(FS_EINVAL);
    m.path = longs;
    EXPECT(FS_EINVAL);
    longs[CTL_MAX_STR] = '\0';
    EXPECT(0);
    longs[CTL_MAX_STR] = 'x';
    m.path = NULL;

    /* GET cwd absolute, out free */
    m.type = CTL_GET;
    m.cwd = "";
    EXPECT(FS_EINVAL);
    m.cwd = "/";
    m.out = longs;
    EXPECT(FS_EINVAL);
    m.out = NULL;
    EXPECT(0);
    m.cwd = NULL;

    /* IMPORT blob */
    m.type = CTL_IMPORT;
    m.blob_len = 1;
    EXPECT(FS_EINVAL); /* NULL blob */
    m.blob = (uint8_t *)longs;
    m.blob_len = (size_t)CTL_MAX_BLOB + 1;
    EXPECT(FS_EINVAL);
    m.blob = NULL;
    m.blob_len = 0;
    EXPECT(0);

    /* RESULT */
    m.type = CTL_RESULT;
    m.req_type = CTL_PROGRESS;
    EXPECT(FS_EINVAL);
    m.req_type = 0;
    EXPECT(FS_EINVAL);
    m.req_type = CTL_STOP;
    m.status = 1;
    EXPECT(FS_EINVAL);
    m.status = 0;
    m.message = "two\nlines";
    EXPECT(FS_EINVAL);
    m.message = "cr\r";
    EXPECT(FS_EINVAL);
    m.message = longs + 1; /* 4096 bytes: fine */
    longs[CTL_MAX_STR + 1] = '\0';
    EXPECT(0);
    m.message = longs; /* 4097 */
    EXPECT(FS_EINVAL);
    m.message = NULL;
    m.req_type = CTL_LS;
    m.ls_count = 1;
    EXPECT(FS_EINVAL); /* NULL ls */
    m.ls_count = CTL_MAX_LS + 1;
    EXPECT(FS_EINVAL);
    m.ls_count = 0;
    m.status = FS_EIO; /* a failure carries no payload: ls ignored */
    m.ls_count = 5;
    EXPECT(0);
    m.ls_count = 0;
    m.status = 0;

    /* a MANIFEST result of a full 16 MiB bundle: the message makes the body
     * too big past 4083 bytes */
    m.req_type = CTL_MANIFEST;
    m.blob_len = CTL_MAX_BLOB;
    m.blob = calloc(1, CTL_MAX_BLOB);
    assert_non_null(m.blob);
    longs[4083] = '\0';
    m.message = longs;
    EXPECT(0);
    longs[4083] = 'x';
    longs[4084] = '\0';
    EXPECT(FS_ETOOBIG);
    free(m.blob);
    free(longs);
#undef EXPECT
}

static void test_set_message(void **state)
{
    ctl_msg_t m = {0};
    char *big = malloc(CTL_MAX_STR + 100);

    (void)state;
    assert_non_null(big);
    assert_int_equal(ctl_set_message(&m, NULL), 0);
    assert_string_equal(m.message, "");
    assert_int_equal(ctl_set_message(&m, "cannot open /x:\nno such file\r\tdone"), 0);
    assert_string_equal(m.message, "cannot open /x: no such file  done");
    memset(big, 'y', CTL_MAX_STR + 99);
    big[CTL_MAX_STR + 99] = '\0';
    assert_int_equal(ctl_set_message(&m, big), 0);
    assert_int_equal(strlen(m.message), CTL_MAX_STR);
    /* whatever it was given, the result encodes */
    m.type = CTL_RESULT;
    m.req_type = CTL_PUT;
    m.status = FS_EIO;
    {
        uint8_t *frame;
        size_t flen;
        assert_int_equal(ctl_encode(&m, &frame, &flen), 0);
        free(frame);
    }
    assert_int_equal(ctl_set_message(NULL, "x"), FS_EINVAL);
    ctl_msg_clear(&m);
    assert_null(m.message);
    free(big);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(ctl_type_name(CTL_PUT), "PUT");
    assert_string_equal(ctl_type_name(CTL_STOP), "STOP");
    assert_string_equal(ctl_type_name(CTL_RESULT), "RESULT");
    assert_string_equal(ctl_type_name(0x42), "?");
    assert_true(ctl_is_request(CTL_PUT));
    assert_true(ctl_is_request(CTL_STOP));
    assert_true(ctl_is_request(CTL_HEALTH));
    assert_string_equal(ctl_type_name(CTL_HEALTH), "HEALTH");
    assert_false(ctl_is_request(0));
    assert_false(ctl_is_request(CTL_PROGRESS));
    assert_true(ctl_is_request(CTL_RM));
    assert_true(ctl_is_request(CTL_GC));
    assert_string_equal(ctl_type_name(CTL_RM), "RM");
    assert_string_equal(ctl_type_name(CTL_GC), "GC");
    assert_false(ctl_is_request(0x0b));
}

/* A random string of 0..max bytes, no NUL, no CR/LF; starts with '/' if abs. */
static char *rnd_str(uint64_t *s, size_t max, int abs)
{
    size_t n = rnd_below(s, 4) == 0 ? max : rnd_below(s, (uint32_t)max + 1);
    char *p = malloc(n + 2);

    assert_non_null(p);
    if (abs && n == 0)
        n = 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(1 + rnd_below(s, 255));
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n' || p[i] == '\r')
            p[i] = '_';
    if (abs)
        p[0] = '/';
    p[n] = '\0';
    return p;
}

/* Fills m with a random valid message; every pointer malloc()ed. */
static void rnd_msg(uint64_t *s, ctl_msg_t *m)
{
    static const uint8_t types[] = {CTL_PUT,    CTL_GET,    CTL_MANIFEST, CTL_IMPORT,
                                    CTL_STATUS, CTL_LS,     CTL_STOP,     CTL_PROGRESS,
                                    CTL_RESULT, CTL_RESULT, CTL_RESULT,   CTL_RESULT,
                                    CTL_DATA,   CTL_HEALTH, CTL_RM,       CTL_GC};
    size_t smax = rnd_below(s, 8) == 0 ? CTL_MAX_STR : 40;

    memset(m, 0, sizeof(*m));
    m->type = types[rnd_below(s, sizeof(types))];
    switch (m->type) {
    case CTL_PUT:
        m->flags = (uint32_t)rnd_next(s) & ~CTL_FLAG_STREAM;
        m->path = rnd_str(s, smax, 1);
        break;
    case CTL_GET:
        m->flags = (uint32_t)rnd_next(s);
        rnd_bytes(s, m->key, CTL_KEY_LEN);
        m->cwd = rnd_str(s, smax, 1);
        m->out = rnd_str(s, smax, 0);
        break;
    case CTL_MANIFEST:
    case CTL_HEALTH:
    case CTL_RM:
        rnd_bytes(s, m->key, CTL_KEY_LEN);
        break;
    case CTL_IMPORT:
    case CTL_DATA:
        m->blob_len = rnd_below(s, 300);
        m->blob = m->blob_len ? malloc(m->blob_len) : NULL;
        rnd_bytes(s, m->blob, m->blob_len);
        break;
    case CTL_PROGRESS:
        rnd_bytes(s, &m->progress, sizeof(m->progress));
        break;
    case CTL_RESULT:
        m->req_type = (uint8_t)(CTL_PUT + rnd_below(s, 10));
        /* 0, or a filestore code: FS_EINVAL .. FS_EREFUSED */
        m->status = rnd_below(s, 3) == 0 ? FS_EINVAL - (int32_t)rnd_below(s, 15) : 0;
        m->message = rnd_str(s, smax, 0);
        if (m->status != 0)
            break;
        switch (m->req_type) {
        case CTL_PUT:
            rnd_bytes(s, m->key, CTL_KEY_LEN);
            m->copies_fewest = (uint32_t)rnd_next(s);
            m->copies_median = (uint32_t)rnd_next(s);
            break;
        case CTL_IMPORT:
            rnd_bytes(s, m->key, CTL_KEY_LEN);
            break;
        case CTL_HEALTH:
            m->health.pieces = (uint32_t)rnd_next(s);
            m->health.missing = (uint32_t)rnd_below(s, 1000);
            if (m->health.missing > m->health.pieces)
                m->health.missing = m->health.pieces;
            m->health.median = (uint32_t)rnd_below(s, 40);
            m->health.fewest = (uint32_t)rnd_below(s, m->health.median + 1);
            m->health.is_dir = (uint8_t)rnd_below(s, 2);
            break;
        case CTL_RM:
            m->name = rnd_str(s, smax, 0);
            m->freed.blobs = rnd_next(s);
            m->freed.bytes = rnd_next(s);
            m->freed.shared = rnd_next(s);
            m->freed.ttl_s = (uint32_t)rnd_next(s);
            break;
        case CTL_GC:
            m->freed.blobs = rnd_next(s);
            m->freed.bytes = rnd_next(s);
            m->freed.partials = (uint32_t)rnd_next(s);
            m->freed.partial_bytes = rnd_next(s);
            m->freed.busy = (uint32_t)rnd_next(s);
            break;
        case CTL_GET:
            rnd_bytes(s, m->key, CTL_KEY_LEN);
            m->path = rnd_str(s, smax, 0);
            m->size = rnd_next(s);
            break;
        case CTL_MANIFEST:
            m->blob_len = rnd_below(s, 300);
            m->blob = m->blob_len ? malloc(m->blob_len) : NULL;
            rnd_bytes(s, m->blob, m->blob_len);
            break;
        case CTL_STATUS:
            rnd_bytes(s, m->st.node_id, CTL_KEY_LEN);
            m->st.addr = rnd_str(s, smax, 0);
            m->st.peers = (uint32_t)rnd_next(s);
            m->st.values = rnd_next(s);
            m->st.value_bytes = rnd_next(s);
            m->st.blobs = rnd_next(s);
            m->st.blob_bytes = rnd_next(s);
            m->st.published = (uint32_t)rnd_next(s);
            m->st.peers_live = (uint32_t)rnd_next(s);
            m->st.has_store_max = (uint8_t)rnd_below(s, 2); /* 0: as an older daemon */
            m->st.store_max = m->st.has_store_max && rnd_below(s, 2) ? rnd_next(s) : 0;
            break;
        case CTL_LS:
            m->ls_count = rnd_below(s, 20);
            m->ls = m->ls_count ? calloc(m->ls_count, sizeof(*m->ls)) : NULL;
            for (uint32_t i = 0; i < m->ls_count; i++) {
                rnd_bytes(s, m->ls[i].key, CTL_KEY_LEN);
                m->ls[i].size = rnd_next(s);
                m->ls[i].name = rnd_str(s, 40, 0);
            }
            break;
        default:
            break;
        }
        break;
    default:
        break;
    }
}

static void assert_str_eq_or_empty(const char *a, const char *b)
{
    assert_string_equal(a ? a : "", b ? b : "");
}

/* Random valid messages encode, decode to the same fields, re-encode the same. */
static void test_random_roundtrip(void **state)
{
    uint64_t seed = 0x5eed0c7lu;

    (void)state;
    for (int i = 0; i < RANDOM_MSGS; i++) {
        ctl_msg_t m, d;
        uint8_t *frame;
        size_t flen;

        rnd_msg(&seed, &m);
        assert_int_equal(ctl_encode(&m, &frame, &flen), 0);
        assert_int_equal(decode_frame(frame, flen, &d), 0);
        assert_int_equal(d.type, m.type);
        assert_int_equal(d.flags, m.flags);
        assert_memory_equal(d.key, m.key, CTL_KEY_LEN);
        assert_str_eq_or_empty(d.path, m.path);
        assert_str_eq_or_empty(d.cwd, m.cwd);
        assert_str_eq_or_empty(d.out, m.out);
        assert_str_eq_or_empty(d.message, m.message);
        assert_str_eq_or_empty(d.st.addr, m.st.addr);
        assert_int_equal(d.blob_len, m.blob_len);
        if (m.blob_len)
            assert_memory_equal(d.blob, m.blob, m.blob_len);
        assert_memory_equal(&d.progress, &m.progress, sizeof(m.progress));
        assert_int_equal(d.req_type, m.req_type);
        assert_int_equal(d.status, m.status);
        assert_int_equal(d.size, m.size);
        assert_int_equal(d.copies_fewest, m.copies_fewest);
        assert_int_equal(d.copies_median, m.copies_median);
        assert_memory_equal(&d.health, &m.health, sizeof(m.health));
        assert_str_eq_or_empty(d.name, m.name);
        assert_int_equal(d.freed.blobs, m.freed.blobs);
        assert_int_equal(d.freed.bytes, m.freed.bytes);
        assert_int_equal(d.freed.shared, m.freed.shared);
        assert_int_equal(d.freed.ttl_s, m.freed.ttl_s);
        assert_int_equal(d.freed.partials, m.freed.partials);
        assert_int_equal(d.freed.partial_bytes, m.freed.partial_bytes);
        assert_int_equal(d.freed.busy, m.freed.busy);
        assert_int_equal(d.st.values, m.st.values);
        assert_int_equal(d.st.published, m.st.published);
        assert_int_equal(d.st.peers_live, m.st.peers_live);
        assert_int_equal(d.st.has_store_max, m.st.has_store_max);
        assert_int_equal(d.st.store_max, m.st.store_max);
        assert_int_equal(d.ls_count, m.ls_count);
        for (uint32_t k = 0; k < m.ls_count; k++) {
            assert_memory_equal(d.ls[k].key, m.ls[k].key, CTL_KEY_LEN);
            assert_int_equal(d.ls[k].size, m.ls[k].size);
            assert_string_equal(d.ls[k].name, m.ls[k].name);
        }
        assert_encodes_to(&d, frame, flen);
        ctl_msg_clear(&d);
        ctl_msg_clear(&m);
        free(frame);
    }
}

/* Random corruptions of the vectors: each mutated body is rejected, or it
 * decodes and re-encodes to exactly those bytes (the encoding is canonical). */
/* A RESULT's status this build does not know decodes as FS_EIO, which
 * encodes as CTL_S_EIO: writes that into frame, so the comparison holds. */
static void canonical_status(uint8_t *frame, const ctl_msg_t *m)
{
    uint8_t *at = frame + CTL_FRAME_HDR + 3; /* type, version, req_type */
    int32_t wire;

    if (m->type != CTL_RESULT)
        return;
    wire = (int32_t)((uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
                     (uint32_t)at[3] << 24); /* little-endian, as every field */
    if (wire != 0 && fs_from_ctl_status(wire) == FS_EIO && wire != CTL_S_EIO) {
        at[0] = (uint8_t)CTL_S_EIO;
        at[1] = at[2] = at[3] = 0xff;
    }
}

static void test_corruptions(void **state)
{
    uint64_t seed = 0xc0ffee;
    size_t accepted = 0;

    (void)state;
    assert_true(n_vectors >= MIN_VECTORS);
    for (size_t total = 0; total < CORRUPTIONS; total++) {
        const vector_t *v = &vectors[total % n_vectors];
        size_t blen = v->len - CTL_FRAME_HDR;
        uint8_t *frame = malloc(v->len);
        unsigned muts = 1 + rnd_below(&seed, 4);
        ctl_msg_t m;

        assert_non_null(frame);
        memcpy(frame, v->buf, v->len);
        for (unsigned k = 0; k < muts; k++) {
            size_t pos = CTL_FRAME_HDR + rnd_below(&seed, (uint32_t)blen);
            switch (rnd_below(&seed, 3)) {
            case 0:
                frame[pos] = (uint8_t)rnd_next(&seed);
                break;
            case 1:
                frame[pos] ^= (uint8_t)(1u << rnd_below(&seed, 8));
                break;
            default: /* small deltas hit lengths and counts */
                frame[pos] = (uint8_t)(frame[pos] + (rnd_below(&seed, 2) ? 1 : -1));
                break;
            }
        }
        if (ctl_decode(frame + CTL_FRAME_HDR, blen, &m) == 0) {
            accepted++;
            canonical_status(frame, &m);
            assert_encodes_to(&m, frame, v->len);
            ctl_msg_clear(&m);
        }
        free(frame);
    }
    print_message("%d corruptions, %zu decoded (and were canonical)\n", CORRUPTIONS, accepted);
    assert_true(accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_roundtrip),
        cmocka_unit_test(test_vectors_truncated_and_extended),
        cmocka_unit_test(test_frame_check),
        cmocka_unit_test(test_decode_rules),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_ls_large),
        cmocka_unit_test(test_encoder_limits),
        cmocka_unit_test(test_set_message),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_corruptions),
    };

    alarm(60);
    return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
