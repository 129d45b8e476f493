/* Poly1305 one-time authenticator using 26-bit limbs and 64-bit products. */
#include "chacha.h"
#include <string.h>

#define MASK26 0x3ffffffu

void poly1305_init(poly1305_ctx *p, const uint8_t key[32])
{
    p->r[0] = cc_load_le32(key + 0) & 0x3ffffffu;
    p->r[1] = (cc_load_le32(key + 3) >> 2) & 0x3ffff03u;
    p->r[2] = (cc_load_le32(key + 6) >> 4) & 0x3ffc0ffu;
    p->r[3] = (cc_load_le32(key + 9) >> 6) & 0x3f03fffu;
    p->r[4] = (cc_load_le32(key + 12) >> 8) & 0x00fffffu;
    for (int i = 0; i < 4; i++)
        p->s[i] = p->r[i + 1] * 5u;
    for (int i = 0; i < 5; i++)
        p->h[i] = 0;
    for (int i = 0; i < 4; i++)
        p->pad[i] = cc_load_le32(key + 16 + 4 * i);
    p->fill = 0;
}

/* h = (h + m) * r mod 2^130-5 for each 16-byte block. */
static void poly_blocks(poly1305_ctx *p, const uint8_t *m, size_t nblocks, uint32_t hibit)
{
    const uint32_t r0 = p->r[0], r1 = p->r[1], r2 = p->r[2], r3 = p->r[3], r4 = p->r[4];
    const uint32_t s1 = p->s[0], s2 = p->s[1], s3 = p->s[2], s4 = p->s[3];
    uint32_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
    while (nblocks-- > 0) {
        h0 += cc_load_le32(m + 0) & MASK26;
        h1 += (cc_load_le32(m + 3) >> 2) & MASK26;
        h2 += (cc_load_le32(m + 6) >> 4) & MASK26;
        h3 += (cc_load_le32(m + 9) >> 6) & MASK26;
        h4 += (cc_load_le32(m + 12) >> 8) | hibit;
        uint64_t d0 = (uint64_t)h0 * r0 + (uint64_t)h1 * s4 + (uint64_t)h2 * s3 + (uint64_t)h3 * s2 + (uint64_t)h4 * s1;
        uint64_t d1 = (uint64_t)h0 * r1 + (uint64_t)h1 * r0 + (uint64_t)h2 * s4 + (uint64_t)h3 * s3 + (uint64_t)h4 * s2;
        uint64_t d2 = (uint64_t)h0 * r2 + (uint64_t)h1 * r1 + (uint64_t)h2 * r0 + (uint64_t)h3 * s4 + (uint64_t)h4 * s3;
        uint64_t d3 = (uint64_t)h0 * r3 + (uint64_t)h1 * r2 + (uint64_t)h2 * r1 + (uint64_t)h3 * r0 + (uint64_t)h4 * s4;
        uint64_t d4 = (uint64_t)h0 * r4 + (uint64_t)h1 * r3 + (uint64_t)h2 * r2 + (uint64_t)h3 * r1 + (uint64_t)h4 * r0;
        uint32_t c = (uint32_t)(d0 >> 26);
        h0 = (uint32_t)d0 & MASK26;
        d1 += c;
        c = (uint32_t)(d1 >> 26);
        h1 = (uint32_t)d1 & MASK26;
        d2 += c;
        c = (uint32_t)(d2 >> 26);
        h2 = (uint32_t)d2 & MASK26;
        d3 += c;
        c = (uint32_t)(d3 >> 26);
        h3 = (uint32_t)d3 & MASK26;
        d4 += c;
        c = (uint32_t)(d4 >> 26);
        h4 = (uint32_t)d4 & MASK26;
        h0 += c * 5u;
        c = h0 >> 26;
        h0 &= MASK26;
        h1 += c;
        m += 16;
    }
    p->h[0] = h0;
    p->h[1] = h1;
    p->h[2] = h2;
    p->h[3] = h3;
    p->h[4] = h4;
}

void poly1305_update(poly1305_ctx *p, const uint8_t *m, size_t n)
{
    if (p->fill > 0) {
        size_t take = 16 - p->fill;
        if (take > n)
            take = n;
        memcpy(p->buf + p->fill, m, take);
        p->fill += take;
        m += take;
        n -= take;
        if (p->fill < 16)
            return;
        poly_blocks(p, p->buf, 1, 1u << 24);
        p->fill = 0;
    }
    if (n >= 16) {
        size_t full = n / 16;
        poly_blocks(p, m, full, 1u << 24);
        m += full * 16;
        n -= full * 16;
    }
    if (n > 0) {
        memcpy(p->buf, m, n);
        p->fill = n;
    }
}

static void full_carry(uint32_t h[5])
{
    uint32_t c;
    c = h[1] >> 26; h[1] &= MASK26; h[2] += c;
    c = h[2] >> 26; h[2] &= MASK26; h[3] += c;
    c = h[3] >> 26; h[3] &= MASK26; h[4] += c;
    c = h[4] >> 26; h[4] &= MASK26; h[0] += c * 5u;
    c = h[0] >> 26; h[0] &= MASK26; h[1] += c;
}

void poly1305_final(poly1305_ctx *p, uint8_t tag[16])
{
    if (p->fill > 0) {
        uint8_t last[16];
        memset(last, 0, sizeof last);
        memcpy(last, p->buf, p->fill);
        last[p->fill] = 1;
        poly_blocks(p, last, 1, 0);
    }
    uint32_t *h = p->h;
    full_carry(h);
    /* compute h + -p and select it if h >= p */
    uint32_t g[5], c;
    g[0] = h[0] + 5u; c = g[0] >> 26; g[0] &= MASK26;
    g[1] = h[1] + c; c = g[1] >> 26; g[1] &= MASK26;
    g[2] = h[2] + c; c = g[2] >> 26; g[2] &= MASK26;
    g[3] = h[3] + c; c = g[3] >> 26; g[3] &= MASK26;
    g[4] = h[4] + c - (1u << 26);
    uint32_t sel = (g[4] >> 31) - 1u; /* all ones if g4 did not underflow */
    for (int i = 0; i < 5; i++)
        h[i] = (h[i] & ~sel) | (g[i] & sel);
    uint32_t w0 = h[0] | (h[1] << 26);
    uint32_t w1 = (h[1] >> 6) | (h[2] << 20);
    uint32_t w2 = (h[2] >> 12) | (h[3] << 14);
    uint32_t w3 = (h[3] >> 18) | (h[4] << 8);
    uint64_t f = (uint64_t)w0 + p->pad[0];
    cc_store_le32(tag + 0, (uint32_t)f);
    f = (uint64_t)w1 + p->pad[1] + (f >> 32);
    cc_store_le32(tag + 4, (uint32_t)f);
    f = (uint64_t)w2 + p->pad[2] + (f >> 32);
    cc_store_le32(tag + 8, (uint32_t)f);
    f = (uint64_t)w3 + p->pad[3] + (f >> 32);
    cc_store_le32(tag + 12, (uint32_t)f);
}
