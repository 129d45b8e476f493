/* ChaCha20 stream cipher (RFC 8439 layout: 32-bit counter, 96-bit nonce). */
#include "chacha.h"
#include <string.h>

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

#define QR(a, b, c, d)                 \
    do {                               \
        a += b; d ^= a; d = rotl32(d, 16); \
        c += d; b ^= c; b = rotl32(b, 12); \
        a += b; d ^= a; d = rotl32(d, 8);  \
        c += d; b ^= c; b = rotl32(b, 7);  \
    } while (0)

void chacha_init(chacha_ctx *c, const uint8_t key[32], const uint8_t nonce[12], uint32_t counter)
{
    c->input[0] = 0x61707865u;
    c->input[1] = 0x3320646eu;
    c->input[2] = 0x79622d32u;
    c->input[3] = 0x6b206574u;
    for (int i = 0; i < 8; i++)
        c->input[4 + i] = cc_load_le32(key + 4 * i);
    c->input[12] = counter;
    for (int i = 0; i < 3; i++)
        c->input[13 + i] = cc_load_le32(nonce + 4 * i);
    c->ks_pos = 64;
}

/* All sixteen state words are kept in locals: heavy register pressure. */
void chacha_block(const uint32_t in[16], uint8_t out[64])
{
    uint32_t x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
    uint32_t x4 = in[4], x5 = in[5], x6 = in[6], x7 = in[7];
    uint32_t x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11];
    uint32_t x12 = in[12], x13 = in[13], x14 = in[14], x15 = in[15];
    for (int i = 0; i < 10; i++) {
        QR(x0, x4, x8, x12);
        QR(x1, x5, x9, x13);
        QR(x2, x6, x10, x14);
        QR(x3, x7, x11, x15);
        QR(x0, x5, x10, x15);
        QR(x1, x6, x11, x12);
        QR(x2, x7, x8, x13);
        QR(x3, x4, x9, x14);
    }
    cc_store_le32(out + 0, x0 + in[0]);
    cc_store_le32(out + 4, x1 + in[1]);
    cc_store_le32(out + 8, x2 + in[2]);
    cc_store_le32(out + 12, x3 + in[3]);
    cc_store_le32(out + 16, x4 + in[4]);
    cc_store_le32(out + 20, x5 + in[5]);
    cc_store_le32(out + 24, x6 + in[6]);
    cc_store_le32(out + 28, x7 + in[7]);
    cc_store_le32(out + 32, x8 + in[8]);
    cc_store_le32(out + 36, x9 + in[9]);
    cc_store_le32(out + 40, x10 + in[10]);
    cc_store_le32(out + 44, x11 + in[11]);
    cc_store_le32(out + 48, x12 + in[12]);
    cc_store_le32(out + 52, x13 + in[13]);
    cc_store_le32(out + 56, x14 + in[14]);
    cc_store_le32(out + 60, x15 + in[15]);
}

static void next_keystream(chacha_ctx *c)
{
    chacha_block(c->input, c->keystream);
    c->input[12]++;
    c->ks_pos = 0;
}

static void xor_block64(const uint8_t *in, const uint8_t *ks, uint8_t *out)
{
    for (int i = 0; i < 64; i += 8) {
        uint64_t a, b;
        memcpy(&a, in + i, 8);
        memcpy(&b, ks + i, 8);
        a ^= b;
        memcpy(out + i, &a, 8);
    }
}

void chacha_xor(chacha_ctx *c, const uint8_t *in, uint8_t *out, size_t n)
{
    while (n > 0 && c->ks_pos < 64) {
        *out++ = *in++ ^ c->keystream[c->ks_pos++];
        n--;
    }
    while (n >= 64) {
        next_keystream(c);
        xor_block64(in, c->keystream, out);
        c->ks_pos = 64;
        in += 64;
        out += 64;
        n -= 64;
    }
    if (n > 0) {
        next_keystream(c);
        while (n > 0) {
            *out++ = *in++ ^ c->keystream[c->ks_pos++];
            n--;
        }
    }
}
