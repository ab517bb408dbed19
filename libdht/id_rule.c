/*
 * Node ids tied to addresses, BitTorrent's BEP 42 rule for 32-byte ids
 * (schema/wire.md 2.5). See dht.h (dht_id_for_addr, dht_id_fits_addr).
 */
#include "node.h" /* dht__addr_local */

#include <string.h>

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), bit by bit: it
 * runs on 4 or 8 bytes, once per new contact. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The CRC that ties an id with r to addr. An IPv4 address mapped into
 * IPv6 (::ffff:a.b.c.d, as a dual-stack socket reports IPv4 peers) counts
 * as the IPv4 address it is. */
static uint32_t addr_crc(const dht_addr_t *addr, uint8_t r)
{
    static const uint8_t v4_mask[4] = {0x03, 0x0f, 0x3f, 0xff};
    static const uint8_t v6_mask[8] = {0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff};
    static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
    const uint8_t *src = addr->ip;
    size_t n = addr->family == DHT_AF_INET ? 4 : 8;
    const uint8_t *mask;
    uint8_t ip[8];

    if (addr->family == DHT_AF_INET6 && memcmp(addr->ip, mapped, sizeof(mapped)) == 0) {
        src = addr->ip + 12;
        n = 4;
    }
    mask = n == 4 ? v4_mask : v6_mask;
    for (size_t i = 0; i < n; i++)
        ip[i] = src[i] & mask[i];
    ip[0] |= (uint8_t)((r & 7) << 5);
    return crc32c(ip, n);
}

void dht_id_for_addr(dht_id_t *out, const dht_addr_t *addr, uint8_t r,
                     const uint8_t random[DHT_ID_LEN])
{
    uint32_t crc = addr_crc(addr, r);

    memcpy(out->b, random, DHT_ID_LEN);
    out->b[0] = (uint8_t)(crc >> 24);
    out->b[1] = (uint8_t)(crc >> 16);
    out->b[2] = (uint8_t)(((crc >> 8) & 0xf8) | (random[2] & 7));
    out->b[DHT_ID_LEN - 1] = r;
}

int dht_id_fits_addr(const dht_id_t *id, const dht_addr_t *addr)
{
    uint32_t crc = addr_crc(addr, id->b[DHT_ID_LEN - 1]);

    return id->b[0] == (uint8_t)(crc >> 24) && id->b[1] == (uint8_t)(crc >> 16) &&
           (id->b[2] & 0xf8) == ((crc >> 8) & 0xf8);
}

int dht_addr_is_local(const dht_addr_t *addr)
{
    return dht__addr_local(addr);
}

int dht__id_rule_admits(int rule, const dht_id_t *id, const dht_addr_t *addr)
{
    if (rule == DHT_ID_RULE_OFF || (rule == DHT_ID_RULE_PUBLIC && dht__addr_local(addr)))
        return 1;
    return dht_id_fits_addr(id, addr);
}
