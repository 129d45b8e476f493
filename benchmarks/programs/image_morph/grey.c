#include <stdlib.h>
#include <string.h>
#include "morph.h"

static uint64_t gen_state;

static uint32_t gen_next(void) {
    gen_state ^= gen_state >> 12;
    gen_state ^= gen_state << 25;
    gen_state ^= gen_state >> 27;
    return (uint32_t)((gen_state * 2685821657736338717ull) >> 32);
}

int grey_alloc(grey_t *g, int w, int h) {
    g->w = w;
    g->h = h;
    g->px = malloc((size_t)w * (size_t)h);
    return g->px != NULL;
}

void grey_free(grey_t *g) {
    free(g->px);
    g->px = NULL;
}

void grey_generate(grey_t *g, uint32_t seed) {
    gen_state = 0x853C49E6748FEA9Bull ^ seed;
    /* blocky low-frequency pattern plus salt-and-pepper noise */
    int cell = 24;
    int cw = g->w / cell + 1;
    int ch = g->h / cell + 1;
    uint8_t *levels = malloc((size_t)cw * (size_t)ch);
    if (!levels)
        return;
    for (int i = 0; i < cw * ch; i++)
        levels[i] = (uint8_t)(gen_next() & 255u);
    for (int y = 0; y < g->h; y++) {
        uint8_t *row = g->px + (size_t)y * g->w;
        for (int x = 0; x < g->w; x++) {
            uint32_t r = gen_next();
            int v = levels[(y / cell) * cw + x / cell];
            if ((r & 63u) == 0)
                v = 255;
            else if ((r & 63u) == 1)
                v = 0;
            else
                v = imin(255, imax(0, v + (int)((r >> 8) & 15u) - 8));
            row[x] = (uint8_t)v;
        }
    }
    free(levels);
}

/* horizontal 1x3 min or max into tmp, then vertical 3x1 */
static void separable3(const grey_t *src, grey_t *dst, uint8_t *tmp, int want_max) {
    int w = src->w, h = src->h;
    for (int y = 0; y < h; y++) {
        const uint8_t *in = src->px + (size_t)y * w;
        uint8_t *out = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            int a = in[x > 0 ? x - 1 : 0], b = in[x], c = in[x + 1 < w ? x + 1 : x];
            out[x] = (uint8_t)(want_max ? imax(a, imax(b, c)) : imin(a, imin(b, c)));
        }
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *u = tmp + (size_t)(y > 0 ? y - 1 : 0) * w;
        const uint8_t *m = tmp + (size_t)y * w;
        const uint8_t *d = tmp + (size_t)(y + 1 < h ? y + 1 : y) * w;
        uint8_t *out = dst->px + (size_t)y * w;
        for (int x = 0; x < w; x++)
            out[x] = (uint8_t)(want_max ? imax(u[x], imax(m[x], d[x]))
                                        : imin(u[x], imin(m[x], d[x])));
    }
}

void grey_erode3(const grey_t *src, grey_t *dst, uint8_t *tmp) {
    separable3(src, dst, tmp, 0);
}

void grey_dilate3(const grey_t *src, grey_t *dst, uint8_t *tmp) {
    separable3(src, dst, tmp, 1);
}

#define CSWAP(a, b) do { int lo_ = imin(a, b); b = imax(a, b); a = lo_; } while (0)

/* median of nine with a 19 compare-exchange network; all nine values live */
static inline int median9(int p0, int p1, int p2, int p3, int p4, int p5, int p6, int p7, int p8) {
    CSWAP(p1, p2); CSWAP(p4, p5); CSWAP(p7, p8);
    CSWAP(p0, p1); CSWAP(p3, p4); CSWAP(p6, p7);
    CSWAP(p1, p2); CSWAP(p4, p5); CSWAP(p7, p8);
    CSWAP(p0, p3); CSWAP(p5, p8); CSWAP(p4, p7);
    CSWAP(p3, p6); CSWAP(p1, p4); CSWAP(p2, p5);
    CSWAP(p4, p7); CSWAP(p4, p2); CSWAP(p6, p4);
    CSWAP(p4, p2);
    (void)p0; (void)p8;
    return p4;
}

void grey_median3(const grey_t *src, grey_t *dst) {
    int w = src->w, h = src->h;
    for (int y = 0; y < h; y++) {
        const uint8_t *u = src->px + (size_t)(y > 0 ? y - 1 : 0) * w;
        const uint8_t *m = src->px + (size_t)y * w;
        const uint8_t *d = src->px + (size_t)(y + 1 < h ? y + 1 : y) * w;
        uint8_t *out = dst->px + (size_t)y * w;
        out[0] = (uint8_t)median9(u[0], u[0], u[1], m[0], m[0], m[1], d[0], d[0], d[1]);
        int x = 1;
        for (; x < w - 1; x++)
            out[x] = (uint8_t)median9(u[x - 1], u[x], u[x + 1], m[x - 1], m[x], m[x + 1],
                                      d[x - 1], d[x], d[x + 1]);
        if (w > 1)
            out[w - 1] = (uint8_t)median9(u[w - 2], u[w - 1], u[w - 1], m[w - 2], m[w - 1],
                                          m[w - 1], d[w - 2], d[w - 1], d[w - 1]);
    }
}

uint64_t grey_hash(const grey_t *g) {
    uint64_t h = 0xCBF29CE484222325ull;
    size_t n = (size_t)g->w * g->h;
    for (size_t i = 0; i < n; i++) {
        h ^= g->px[i];
        h *= 0x100000001B3ull;
    }
    return h;
}
