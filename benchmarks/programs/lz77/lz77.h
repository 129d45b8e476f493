/* LZ77-style compressor benchmark: shared declarations. */
#ifndef LZ77_BENCH_H
#define LZ77_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define LZ_WINDOW_BITS 16
#define LZ_WINDOW_SIZE (1u << LZ_WINDOW_BITS)
#define LZ_WINDOW_MASK (LZ_WINDOW_SIZE - 1u)
#define LZ_MAX_DIST (LZ_WINDOW_SIZE - 1u)
#define LZ_MIN_MATCH 4u
#define LZ_MAX_MATCH (127u + LZ_MIN_MATCH)
#define LZ_MAX_LITERAL_RUN 128u
#define LZ_HASH_BITS 15
#define LZ_HASH_SIZE (1u << LZ_HASH_BITS)

typedef struct {
    uint64_t state;
} lz_rng;

static inline uint64_t lz_rng_next(lz_rng *r)
{
    uint64_t x = r->state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->state = x;
    return x;
}

static inline uint32_t lz_rng_below(lz_rng *r, uint32_t bound)
{
    return (uint32_t)((lz_rng_next(r) >> 32) % bound);
}

typedef struct {
    int32_t head[LZ_HASH_SIZE];
    int32_t prev[LZ_WINDOW_SIZE];
    unsigned max_chain;
} lz_state;

/* gen.c */
size_t lz_generate_text(uint8_t *buf, size_t n, uint64_t seed);

/* compress.c */
size_t lz_compress(lz_state *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* decompress.c */
size_t lz_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap);
uint32_t lz_fnv1a(const uint8_t *p, size_t n, uint32_t h);

#endif
