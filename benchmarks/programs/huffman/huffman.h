/* Huffman coding benchmark: shared declarations. */
#ifndef HUFFMAN_BENCH_H
#define HUFFMAN_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define HUF_SYMBOLS 256
#define HUF_MAX_LEN 24
#define HUF_TABLE_BITS 10

typedef struct {
    uint64_t s;
} huf_rng;

static inline uint64_t huf_rng_next(huf_rng *r)
{
    /* 64-bit LCG with output permutation */
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t x = r->s;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return x;
}

typedef struct {
    uint8_t len[HUF_SYMBOLS];
    uint32_t code[HUF_SYMBOLS];
    /* canonical decoding data */
    uint32_t first_code[HUF_MAX_LEN + 2];
    uint32_t first_index[HUF_MAX_LEN + 2];
    uint32_t count[HUF_MAX_LEN + 2];
    uint8_t sorted[HUF_SYMBOLS];
    uint16_t table[1u << HUF_TABLE_BITS]; /* (len << 8) | symbol, 0 = slow path */
    unsigned max_len;
} huf_code;

/* tree.c */
void huf_count(const uint8_t *data, size_t n, uint32_t freq[HUF_SYMBOLS]);
int huf_build_lengths(const uint32_t freq[HUF_SYMBOLS], uint8_t len[HUF_SYMBOLS]);
void huf_build_canonical(huf_code *c);

/* codec.c */
size_t huf_encode(const huf_code *c, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
size_t huf_decode(const huf_code *c, const uint8_t *in, size_t nbytes, uint8_t *out, size_t nsyms);

#endif
