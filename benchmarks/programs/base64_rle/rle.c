#include <string.h>
#include "codec.h"

/* control byte c: c < 128 -> c+1 literal bytes follow; c >= 128 -> next byte repeated c-125 times
   (runs of 3..130) */

static inline size_t run_length(const uint8_t *in, size_t i, size_t n) {
    size_t j = i + 1;
    while (j < n && j - i < 130 && in[j] == in[i])
        j++;
    return j - i;
}

static size_t flush_literals(const uint8_t *in, size_t start, size_t len, uint8_t *out, size_t o) {
    while (len > 0) {
        size_t chunk = len > 128 ? 128 : len;
        out[o++] = (uint8_t)(chunk - 1);
        memcpy(out + o, in + start, chunk);
        o += chunk;
        start += chunk;
        len -= chunk;
    }
    return o;
}

size_t rle_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 0, i = 0, lit_start = 0;
    while (i < n) {
        size_t r = run_length(in, i, n);
        if (r >= 3) {
            o = flush_literals(in, lit_start, i - lit_start, out, o);
            out[o++] = (uint8_t)(r + 125);
            out[o++] = in[i];
            i += r;
            lit_start = i;
        } else {
            i += r;
        }
    }
    return flush_literals(in, lit_start, n - lit_start, out, o);
}

/* writes a run with 8-byte stores where possible */
static inline void fill_run(uint8_t *dst, uint8_t v, size_t len) {
    uint64_t pat = 0x0101010101010101ull * v;
    size_t k = 0;
    for (; k + 8 <= len; k += 8)
        memcpy(dst + k, &pat, 8);
    for (; k < len; k++)
        dst[k] = v;
}

long rle_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t c = in[i++];
        if (c < 128) {
            size_t len = (size_t)c + 1;
            if (i + len > n || o + len > cap)
                return -1;
            memcpy(out + o, in + i, len);
            i += len;
            o += len;
        } else {
            size_t len = (size_t)c - 125;
            if (i >= n || o + len > cap)
                return -1;
            fill_run(out + o, in[i++], len);
            o += len;
        }
    }
    return (long)o;
}
