/* Stream framing for shells (dht.h, schema/wire.md section 6). */
#include "node.h"

void dht_stream_preamble(uint8_t out[DHT_STREAM_PREAMBLE], uint16_t port)
{
    dht__stream_preamble(out, port);
}

int dht_stream_preamble_parse(const uint8_t in[DHT_STREAM_PREAMBLE], uint16_t *port)
{
    return dht__stream_preamble_parse(in, port);
}

void dht_stream_frame_header(uint8_t out[DHT_STREAM_FRAME_HDR], uint32_t len)
{
    out[0] = (uint8_t)len;
    out[1] = (uint8_t)(len >> 8);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 24);
}

int dht_stream_frame_len(const dht_t *dht, const uint8_t in[DHT_STREAM_FRAME_HDR], size_t *len)
{
    size_t n = (size_t)in[0] | (size_t)in[1] << 8 | (size_t)in[2] << 16 | (size_t)in[3] << 24;

    if (n == 0 || n > dht->cfg.max_value_size + DHT__WIRE_VALUE_OVERHEAD + dht->tag_len)
        return DHT_EPROTO;
    *len = n;
    return 0;
}

void dht_stream_dropped(dht_t *dht)
{
    dht->st.dropped_malformed++;
}
