/*
 * FastCDC (Xia et al., "FastCDC: a Fast and Efficient Content-Defined
 * Chunking Approach for Data Deduplication", USENIX ATC 2016) with a gear
 * hash, min-size skip and normalised chunking (level 2).
 *
 * The gear hash shifts left by one bit per byte, so bit j of the hash
 * depends on the last j + 1 bytes only. The masks test the top bits, which
 * makes a cut depend on the 64 bytes before it and nothing further back.
 */
#include "filestore/chunker.h"

#include "filestore/fs_error.h"

#define CHUNK_MAX_LIMIT (16u << 20)

/* 256 random 64-bit values: splitmix64 seeded with 0x656d6f66732d6765
 * ("emofs-ge"). Changing one value changes every cut point, so every
 * stored chunk key: the table is part of the format. */
static const uint64_t gear[256] = {
    0x72830e87a86ffad9ull, 0x1a891257e3ebd154ull, 0xfca396fb99525b80ull, 0x58ab474304d88256ull,
    0xd9ad8b4cde315a8eull, 0x0df07590dceddb7full, 0xe4d34a1b77b26ec9ull, 0xbaa4e02cce2aff71ull,
    0x310f9d525f7df641ull, 0x1f9e5fe2363d8acbull, 0xb6cf82b7a8f20584ull, 0xb614aa2602522c1dull,
    0x4bcd0d5b6db5ec30ull, 0x3350ba4e15ad8320ull, 0xa4a07dba4ae076e5ull, 0x1f3e069981269cbaull,
    0x192836ef34937142ull, 0x738e76529171a852ull, 0xcea0d06439ed7e00ull, 0x19ac48d66695a258ull,
    0x82f5bfae127864d3ull, 0x29b3e42aafc538d4ull, 0x3f8b7bfbb88cedc4ull, 0x7aed645261891a33ull,
    0x840bd279ce57ab05ull, 0x85cde2aeaa1a2ba6ull, 0xcc04a09b0ea074e3ull, 0xce37555918864476ull,
    0xfa2e8a602759c8deull, 0x5ae9f3bfed464bc4ull, 0xba7234198777a185ull, 0xbc4b5459ead7ae6cull,
    0xc4637b27d22b4977ull, 0xb8e2c93a03855650ull, 0x7d080582ddfc033cull, 0xec0fa9ac6a8e2ca3ull,
    0xd397eefc1b318dddull, 0x03d1adaee77ddc24ull, 0x1954a7679dda65a8ull, 0x7c2e30b8b92c5b74ull,
    0xbd1058e7398d8f4eull, 0x650d5df898ae23e1ull, 0x8b61074e33fd0f4aull, 0x8b2096f8bf81cebfull,
    0x5ae9bca559e96574ull, 0x50abeb099ac433deull, 0x5d210468ef2383adull, 0xd5cf92a0c90df95full,
    0x4bfac93c69484e28ull, 0x4dcd9a98e8e84451ull, 0x94662a980d7d0c6cull, 0xe37d0395edefd151ull,
    0xddd1242e78633b78ull, 0x402b6da8b773b0e0ull, 0xf9adae25223b9a02ull, 0xd62a7d2558ef60f4ull,
    0xf6862b567e75b8beull, 0xce7ee8ef831bf374ull, 0x8e3afe6425e64261ull, 0x5671f3aa1349c9b0ull,
    0x52247bbdcc1848daull, 0xd88d5ec043a66ddbull, 0xc17c14208445f0afull, 0xc2b4a002a70471f4ull,
    0x5c80cd038ded3f09ull, 0xe5f7127d38018292ull, 0x1c37a44d6c7a6eddull, 0x9a0f7e7495fef07cull,
    0x8aee235379fb74e5ull, 0x76394d227225b471ull, 0x337bc6234384fc0cull, 0xb5f672347c6e4b2eull,
    0xe0628832e6c087c1ull, 0x304e33b15dade4dfull, 0xa65188cca370825bull, 0xe833255360cebb08ull,
    0x086b677cde71753full, 0xc2812040789c47f1ull, 0xa78bca820cf8cdcaull, 0xc0c5790734df8475ull,
    0xdf39d7a239e7c2d0ull, 0x02bbd536baae270eull, 0x7d52a4cd7e0158e8ull, 0x989bd98415f2eb6full,
    0xbe74aa690fad4724ull, 0xb085898f56d66c5bull, 0x1c1599115d0b1fc9ull, 0x45907b5e9403fb00ull,
    0xb3b3fe095ea14d10ull, 0xa7dc5eff4ccad1b7ull, 0xcd4694a6de2eb589ull, 0xb9af82d15946afe2ull,
    0x064809129ff615cdull, 0xa1e7f44a34c257bbull, 0x92646098685d28a8ull, 0x4da1dd31c0a447fdull,
    0xaaeb08d4a53515c9ull, 0x957957b594c2192dull, 0xab6c7369d04295c9ull, 0x0184406a1468eb19ull,
    0x96c5b4f7a9e64d74ull, 0xc44d8ecf5e4ea607ull, 0x4ccba0ead5702f5eull, 0xfb685eceba5acb21ull,
    0x2bf9d354dcfe6484ull, 0x269c10bc84edc173ull, 0x892d2cc0db0ddffeull, 0x343409a47de7f876ull,
    0xa41ed43e55319b35ull, 0x3f6386dcf9e69716ull, 0x469679cd871b7fffull, 0xbb2e0aa056da318bull,
    0xd37d54f260c9613aull, 0xc0bda05ed544ea16ull, 0xaf3fc95c7859ec94ull, 0xf814b14b6ec4971bull,
    0x657ff1e4be73acaaull, 0xdcaba6de79733f8aull, 0x255d07a487d64d66ull, 0x23e926fd037ac675ull,
    0x3e57c5b48ffe3968ull, 0xe0e1db3bb953ca3bull, 0xd06d00e715e731e4ull, 0x08bd1955e50a4fbfull,
    0x2a9724a2588998c1ull, 0x48724adf577cf344ull, 0x0179f47dbae6220aull, 0x080bcd5f1d904a32ull,
    0x9bc35fcd4e1d5880ull, 0xa9a9ee60304c75ceull, 0x05e662b427646bc0ull, 0xc77e1c80a908119cull,
    0x21f5781e7ee31cbaull, 0x127f16321f43b0efull, 0x1f1adc8505d45d39ull, 0x9fee7bdef2d82f89ull,
    0x6ce8388978100978ull, 0x6ba1bc468c2a22eaull, 0xb9ddbf97965c2ba7ull, 0x323fb1bba623a8edull,
    0xc3d1b20006fe0bf5ull, 0xbac31a9591a8619bull, 0x6f328d687eef7530ull, 0x1f61b66287e1e379ull,
    0x8f4e6f0ddad1e4cbull, 0x6def762a9d396bc3ull, 0x284201e9894f0c66ull, 0x46d882b26100d195ull,
    0xc204027f41bc15ddull, 0x75dc58e7841c8847ull, 0xce02591a7d23f310ull, 0x8c036a8a7b6bed90ull,
    0x962fc404f6c5c4b6ull, 0xc19b88584513845bull, 0xdf08e0672b0488a7ull, 0x60cd3ffd3ac30981ull,
    0xfe56ef34b07f2f1cull, 0x36fd70cb3c20538dull, 0xecbe2a9aa7e39497ull, 0x8795aeaf83c02987ull,
    0x8bfb710ab053f511ull, 0xb237730d93fe6912ull, 0xc7065726e51e4fdbull, 0x65893de3863c82e4ull,
    0x55f82568a727a620ull, 0x963322fd4bafc20aull, 0xed382c0dcd1b23a9ull, 0xa7a0262f26cd07c2ull,
    0x7f6a7b3b67139c6aull, 0xaa44013312386ff1ull, 0xe158bb6954421043ull, 0x61b4023920010e20ull,
    0xebcd9afa7444cf1cull, 0x93638c72f891b51bull, 0xcc35672230ca8411ull, 0x8abae5c6728b476aull,
    0xdfac62045d893823ull, 0x36bd084f6e6f1020ull, 0x5088104b2cf6a8e4ull, 0x600e26a54ff4dceaull,
    0x2ca9292f62904b1cull, 0xd9bb6c96fe375229ull, 0x7f098686a4e2c78eull, 0x60dc8612fcf8511dull,
    0x375b1c4d695b17a8ull, 0x9313d0d1a9ae632full, 0x3fbc15e05630baa9ull, 0x3dd17e51de0162c7ull,
    0x1baf5e0a5fcb257bull, 0x637d2cd476074848ull, 0x1bb19406e7a04498ull, 0x5bb5a97b81b8caafull,
    0xd89332ff385f4bdfull, 0xa65ecffdd2de862dull, 0xafb9f4d19a9ae145ull, 0xb0e45ba6b6342270ull,
    0xe3f3fd829e4ae43dull, 0xe9589491b85eb3bbull, 0x5e984f7a45f5fa48ull, 0xdaa327022f86f0a0ull,
    0x38ec00315e043840ull, 0xfb4d3422f4447e11ull, 0xeafa624b5f7aa90bull, 0xfcac705a37843ae8ull,
    0x4fc928ccc75d159cull, 0xa12bdde5ac06dba2ull, 0xc21da0f6112b0533ull, 0xb40461590295fd13ull,
    0x2f9efc75e425b4d8ull, 0x39defc544121cbcaull, 0x9b1d546eb9c2b588ull, 0xd857b100a48fbfacull,
    0xe4bb277e5976d0cdull, 0xc32486fd0a8be129ull, 0x7bb67ad44879a40dull, 0x51f1eddc4cfb52b9ull,
    0x1a5aeff667f36e40ull, 0x12bacdaa92123993ull, 0x800167f523f66cc1ull, 0xd86f9e602b070543ull,
    0x9f6ad139b129db9cull, 0xab6b008bf849f7f8ull, 0x8d38119f9e139b8full, 0x00ee1dbcdb228ad7ull,
    0x77682734987028f4ull, 0x0955f58302fb5616ull, 0x66edec280f7a2611ull, 0x2973d561539bab58ull,
    0xf052201ba31304deull, 0xb3f0139921a61578ull, 0x11ac116fa26a694full, 0x242d3d47e3e73f9eull,
    0x748375cdb2c77df6ull, 0xa9e173eac5ba3ca1ull, 0xb630239d20b2818cull, 0x1c45349b044973aeull,
    0x0e96d99becd35bebull, 0x83fadfc0c4ba1c06ull, 0x8ff243480cdcb220ull, 0xbad45f434d42922bull,
    0xc7f2613a57ca2de4ull, 0x97726a29ce9b9020ull, 0x96246a797061e21dull, 0x524e64a7f478541dull,
    0x7e2c3623dd69080eull, 0xfa13f188f306c05full, 0xc90ab01f08430ef0ull, 0x983279662eb5974aull,
    0xabb42fb480186e9eull, 0x1d95a49c1f078b89ull, 0xc892709456b93a3bull, 0x171c1592e2150406ull,
    0x1fe099827bd6edd5ull, 0xbaf8a9f7e9b638faull, 0x0aba1af48e6df576ull, 0xf8fb6ca94f9b4205ull,
};

void fs_chunker_params_default(fs_chunker_params_t *p)
{
    p->min = FS_CHUNK_MIN_DEFAULT;
    p->avg = FS_CHUNK_AVG_DEFAULT;
    p->max = FS_CHUNK_MAX_DEFAULT;
}

int fs_chunker_params_check(const fs_chunker_params_t *p)
{
    if (p == NULL || p->min < 64 || p->min >= p->avg || p->avg >= p->max ||
        p->max > CHUNK_MAX_LIMIT || (p->avg & (p->avg - 1)) != 0)
        return FS_EINVAL;
    return 0;
}

static unsigned log2_pow2(size_t v)
{
    unsigned n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

/* A mask of the top `bits` bits: a position is a cut point when the hash
 * has all of them zero, which happens with probability 2^-bits. */
static uint64_t top_mask(unsigned bits)
{
    return ~UINT64_C(0) << (64 - bits);
}

/* Scans data[from..to) continuing hash *h; @return the index after the
 * first byte where (*h & mask) == 0, or 0 if there is none. */
static size_t scan(const uint8_t *data, size_t from, size_t to, uint64_t mask, uint64_t *h)
{
    uint64_t hash = *h;

    for (size_t i = from; i < to; i++) {
        hash = (hash << 1) + gear[data[i]];
        if ((hash & mask) == 0)
            return i + 1;
    }
    *h = hash;
    return 0;
}

size_t fs_chunker_cut(const fs_chunker_params_t *p, const uint8_t *data, size_t len, int final)
{
    size_t n = len < p->max ? len : p->max;
    size_t normal = p->avg < n ? p->avg : n;
    unsigned bits = log2_pow2(p->avg);
    uint64_t h = 0;
    size_t cut;

    if (n <= p->min)
        return final ? n : 0; /* here len < max: no cut before min */
    /* Before the average size a stricter mask (2 bits more) makes cuts
     * rarer, after it a looser one (2 bits fewer) makes them likelier:
     * chunk sizes bunch around the average. */
    cut = scan(data, p->min, normal, top_mask(bits + 2), &h);
    if (cut == 0)
        cut = scan(data, normal, n, top_mask(bits - 2), &h);
    if (cut != 0)
        return cut;
    if (final || n == p->max)
        return n;
    return 0;
}
