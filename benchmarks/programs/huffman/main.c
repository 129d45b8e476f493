/* Huffman benchmark driver: several blocks with different symbol statistics. */
#include "huffman.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (1u << 19)
#define NBLOCKS 20

static huf_code g_code;

/* Produces symbols with a tunable skew by taking the minimum of several draws. */
static void generate_block(uint8_t *buf, size_t n, unsigned block)
{
    huf_rng r = { 0x243f6a8885a308d3ull ^ ((uint64_t)block * 0x9e3779b97f4a7c15ull) };
    unsigned draws = 1 + block % 5;
    unsigned alphabet = 16u << (block % 5);
    if (alphabet > 256)
        alphabet = 256;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = huf_rng_next(&r);
        unsigned m = alphabet - 1;
        for (unsigned d = 0; d < draws; d++) {
            unsigned v = (unsigned)((x >> (d * 12)) & 0xfffu) % alphabet;
            if (v < m)
                m = v;
        }
        buf[i] = (uint8_t)(m ^ (block * 37u));
    }
}

static uint64_t mix_checksum(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int main(void)
{
    uint8_t *data = malloc(BLOCK_SIZE);
    uint8_t *enc = malloc(BLOCK_SIZE * 4 + 64);
    uint8_t *dec = malloc(BLOCK_SIZE);
    if (!data || !enc || !dec)
        return 1;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t total_bits = 0;
    int ok = 1;
    for (unsigned b = 0; b < NBLOCKS; b++) {
        uint32_t freq[HUF_SYMBOLS];
        generate_block(data, BLOCK_SIZE, b);
        huf_count(data, BLOCK_SIZE, freq);
        if (huf_build_lengths(freq, g_code.len) < 0) {
            ok = 0;
            break;
        }
        huf_build_canonical(&g_code);
        size_t nbytes = huf_encode(&g_code, data, BLOCK_SIZE, enc, BLOCK_SIZE * 4 + 64);
        size_t nsym = huf_decode(&g_code, enc, nbytes, dec, BLOCK_SIZE);
        if (nbytes == 0 || nsym != BLOCK_SIZE || memcmp(data, dec, BLOCK_SIZE) != 0)
            ok = 0;
        total_bits += nbytes * 8;
        h = mix_checksum(h, enc, nbytes);
        h = mix_checksum(h, g_code.len, HUF_SYMBOLS);
    }
    printf("huffman blocks=%u symbols=%u encoded_bits=%zu roundtrip=%s\n", NBLOCKS,
           (unsigned)(NBLOCKS * BLOCK_SIZE), total_bits, ok ? "ok" : "FAIL");
    printf("checksum=%016llx\n", (unsigned long long)h);
    free(data);
    free(enc);
    free(dec);
    return ok ? 0 : 1;
}
