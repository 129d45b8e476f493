/* FNV-1a and a four-lane multiply/rotate hash with a murmur-style finalizer. */
#include "hashes.h"

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0x85ebca77c2b2ae63ull

uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static inline uint64_t lane_round(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = hb_rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t merge_lane(uint64_t h, uint64_t lane)
{
    h ^= lane_round(0, lane);
    return h * P1 + P4;
}

uint64_t mix_finalize(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Main loop keeps four lane accumulators, the input pointer, the end
 * pointer and eight freshly loaded words live at once. */
uint64_t mix_hash64(const uint8_t *p, size_t n, uint64_t seed)
{
    const uint8_t *end = p + n;
    uint64_t h;
    if (n >= 64) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const uint8_t *limit = end - 64;
        do {
            uint64_t a = hb_load64_le(p), b = hb_load64_le(p + 8);
            uint64_t c = hb_load64_le(p + 16), d = hb_load64_le(p + 24);
            uint64_t e = hb_load64_le(p + 32), f = hb_load64_le(p + 40);
            uint64_t g = hb_load64_le(p + 48), k = hb_load64_le(p + 56);
            v1 = lane_round(v1, a);
            v2 = lane_round(v2, b);
            v3 = lane_round(v3, c);
            v4 = lane_round(v4, d);
            v1 = lane_round(v1, e ^ (v3 >> 29));
            v2 = lane_round(v2, f ^ (v4 >> 29));
            v3 = lane_round(v3, g ^ (v1 >> 31));
            v4 = lane_round(v4, k ^ (v2 >> 31));
            p += 64;
        } while (p <= limit);
        h = hb_rotl64(v1, 1) + hb_rotl64(v2, 7) + hb_rotl64(v3, 12) + hb_rotl64(v4, 18);
        h = merge_lane(h, v1);
        h = merge_lane(h, v2);
        h = merge_lane(h, v3);
        h = merge_lane(h, v4);
    } else {
        h = seed + P3;
    }
    h += (uint64_t)n;
    while (p + 8 <= end) {
        h ^= lane_round(0, hb_load64_le(p));
        h = hb_rotl64(h, 27) * P1 + P4;
        p += 8;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * P3;
        h = hb_rotl64(h, 11) * P1;
        p++;
    }
    return mix_finalize(h);
}
