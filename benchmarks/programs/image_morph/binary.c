#include <stdlib.h>
#include <string.h>
#include "morph.h"

int bit_alloc(bitimg_t *b, int w, int h) {
    b->w = w;
    b->h = h;
    b->words = (w + 63) / 64;
    b->bits = calloc((size_t)b->words * (size_t)h, sizeof(uint64_t));
    return b->bits != NULL;
}

void bit_free(bitimg_t *b) {
    free(b->bits);
    b->bits = NULL;
}

static inline uint64_t *bit_row(const bitimg_t *b, int y) {
    return b->bits + (size_t)y * b->words;
}

static uint64_t last_word_mask(int w) {
    int r = w & 63;
    return r ? ((1ull << r) - 1) : ~0ull;
}

void bit_threshold(const grey_t *g, bitimg_t *b, int t) {
    for (int y = 0; y < g->h; y++) {
        const uint8_t *in = g->px + (size_t)y * g->w;
        uint64_t *out = bit_row(b, y);
        for (int k = 0; k < b->words; k++) {
            uint64_t word = 0;
            int x0 = k * 64;
            int x1 = imin(x0 + 64, g->w);
            for (int x = x0; x < x1; x++)
                word |= (uint64_t)(in[x] > t) << (x - x0);
            out[k] = word;
        }
    }
}

/* neighbour bit to the left/right within the packed row (pixels outside are 0) */
static inline uint64_t shl_row(const uint64_t *r, int k) {
    return (r[k] << 1) | (k > 0 ? r[k - 1] >> 63 : 0);
}

static inline uint64_t shr_row(const uint64_t *r, int k, int words) {
    return (r[k] >> 1) | (k + 1 < words ? r[k + 1] << 63 : 0);
}

static void cross_op(const bitimg_t *src, bitimg_t *dst, int dilate) {
    int words = src->words, h = src->h;
    uint64_t mask = last_word_mask(src->w);
    for (int y = 0; y < h; y++) {
        const uint64_t *u = y > 0 ? bit_row(src, y - 1) : NULL;
        const uint64_t *m = bit_row(src, y);
        const uint64_t *d = y + 1 < h ? bit_row(src, y + 1) : NULL;
        uint64_t *out = bit_row(dst, y);
        for (int k = 0; k < words; k++) {
            uint64_t c = m[k], l = shl_row(m, k), r = shr_row(m, k, words);
            uint64_t up = u ? u[k] : 0, dn = d ? d[k] : 0;
            uint64_t v;
            if (dilate)
                v = c | l | r | up | dn;
            else
                v = c & l & r & up & dn;
            if (k == words - 1)
                v &= mask;
            out[k] = v;
        }
    }
}

void bit_erode_cross(const bitimg_t *src, bitimg_t *dst) {
    cross_op(src, dst, 0);
}

void bit_dilate_cross(const bitimg_t *src, bitimg_t *dst) {
    cross_op(src, dst, 1);
}

static inline int popcount64(uint64_t v) {
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((v * 0x0101010101010101ull) >> 56);
}

uint64_t bit_count(const bitimg_t *b) {
    size_t n = (size_t)b->words * b->h;
    uint64_t c0 = 0, c1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        c0 += (uint64_t)popcount64(b->bits[i]);
        c1 += (uint64_t)popcount64(b->bits[i + 1]);
    }
    for (; i < n; i++)
        c0 += (uint64_t)popcount64(b->bits[i]);
    return c0 + c1;
}

uint64_t bit_hash(const bitimg_t *b) {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    size_t n = (size_t)b->words * b->h;
    for (size_t i = 0; i < n; i++) {
        h ^= b->bits[i];
        h = (h << 27) | (h >> 37);
        h *= 0x9E3779B97F4A7C15ull;
    }
    return h;
}
