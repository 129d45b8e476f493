/* LZ77 decompressor and checksum helpers. */
#include "lz77.h"
#include <string.h>

static size_t copy_match(uint8_t *out, size_t o, size_t len, size_t dist)
{
    const uint8_t *src = out + o - dist;
    uint8_t *dst = out + o;
    if (dist >= len) {
        memcpy(dst, src, len);
    } else {
        for (size_t i = 0; i < len; i++)
            dst[i] = src[i];
    }
    return o + len;
}

size_t lz_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t flag = in[i++];
        if (flag < 0x80u) {
            size_t run = (size_t)flag + 1;
            if (i + run > n || o + run > cap)
                return (size_t)-1;
            memcpy(out + o, in + i, run);
            i += run;
            o += run;
        } else {
            if (i + 2 > n)
                return (size_t)-1;
            size_t len = (size_t)(flag & 0x7fu) + LZ_MIN_MATCH;
            size_t dist = (size_t)in[i] | ((size_t)in[i + 1] << 8);
            i += 2;
            if (dist == 0 || dist > o || o + len > cap)
                return (size_t)-1;
            o = copy_match(out, o, len, dist);
        }
    }
    return o;
}

uint32_t lz_fnv1a(const uint8_t *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}
