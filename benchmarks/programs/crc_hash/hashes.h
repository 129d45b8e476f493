/* Hashing benchmark: CRC32, FNV-1a and a murmur-style multi-lane hash. */
#ifndef HASHES_BENCH_H
#define HASHES_BENCH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t hb_load64_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t hb_rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* crc32.c */
void crc32_init_tables(void);
uint32_t crc32_bytewise(uint32_t crc, const uint8_t *p, size_t n);
uint32_t crc32_slice8(uint32_t crc, const uint8_t *p, size_t n);

/* mixhash.c */
uint64_t fnv1a64(const uint8_t *p, size_t n);
uint32_t fnv1a32(const uint8_t *p, size_t n);
uint64_t mix_hash64(const uint8_t *p, size_t n, uint64_t seed);
uint64_t mix_finalize(uint64_t h);

/* hashset.c */
typedef struct {
    uint64_t *slots;
    size_t mask;
    size_t count;
} hash_set;

int hs_init(hash_set *s, unsigned log2_slots);
int hs_insert(hash_set *s, uint64_t key);
void hs_free(hash_set *s);

#endif
