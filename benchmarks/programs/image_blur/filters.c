#include <stdlib.h>
#include "image.h"

/* 7-tap binomial kernel 1 6 15 20 15 6 1 (sum 64) */
static inline int tap7(int a, int b, int c, int d, int e, int f, int g) {
    return (a + g) + 6 * (b + f) + 15 * (c + e) + 20 * d;
}

static void blur_row_edges(const uint8_t *in, uint16_t *out, int w, int x) {
    out[x] = (uint16_t)tap7(in[clamp_idx(x - 3, w)], in[clamp_idx(x - 2, w)],
                            in[clamp_idx(x - 1, w)], in[x], in[clamp_idx(x + 1, w)],
                            in[clamp_idx(x + 2, w)], in[clamp_idx(x + 3, w)]);
}

/* horizontal pass with a sliding window of seven pixels held in registers */
static void blur_horizontal(const image_t *src, uint16_t *tmp) {
    int w = src->w;
    for (int y = 0; y < src->h; y++) {
        const uint8_t *in = src->px + (size_t)y * w;
        uint16_t *out = tmp + (size_t)y * w;
        for (int x = 0; x < 3 && x < w; x++)
            blur_row_edges(in, out, w, x);
        if (w > 6) {
            int p0 = in[0], p1 = in[1], p2 = in[2], p3 = in[3], p4 = in[4], p5 = in[5];
            int x = 3;
            for (; x + 2 < w - 3; x += 2) {
                int p6 = in[x + 3], p7 = in[x + 4];
                out[x] = (uint16_t)tap7(p0, p1, p2, p3, p4, p5, p6);
                out[x + 1] = (uint16_t)tap7(p1, p2, p3, p4, p5, p6, p7);
                p0 = p2; p1 = p3; p2 = p4; p3 = p5; p4 = p6; p5 = p7;
            }
            for (; x < w - 3; x++)
                blur_row_edges(in, out, w, x);
        }
        for (int x = w - 3 > 3 ? w - 3 : 3; x < w; x++)
            blur_row_edges(in, out, w, x);
    }
}

/* vertical pass over seven row pointers, four columns at a time */
static void blur_vertical(const uint16_t *tmp, image_t *dst) {
    int w = dst->w, h = dst->h;
    for (int y = 0; y < h; y++) {
        const uint16_t *r0 = tmp + (size_t)clamp_idx(y - 3, h) * w;
        const uint16_t *r1 = tmp + (size_t)clamp_idx(y - 2, h) * w;
        const uint16_t *r2 = tmp + (size_t)clamp_idx(y - 1, h) * w;
        const uint16_t *r3 = tmp + (size_t)y * w;
        const uint16_t *r4 = tmp + (size_t)clamp_idx(y + 1, h) * w;
        const uint16_t *r5 = tmp + (size_t)clamp_idx(y + 2, h) * w;
        const uint16_t *r6 = tmp + (size_t)clamp_idx(y + 3, h) * w;
        uint8_t *out = dst->px + (size_t)y * w;
        int x = 0;
        for (; x + 4 <= w; x += 4) {
            int s0 = tap7(r0[x], r1[x], r2[x], r3[x], r4[x], r5[x], r6[x]);
            int s1 = tap7(r0[x + 1], r1[x + 1], r2[x + 1], r3[x + 1], r4[x + 1], r5[x + 1], r6[x + 1]);
            int s2 = tap7(r0[x + 2], r1[x + 2], r2[x + 2], r3[x + 2], r4[x + 2], r5[x + 2], r6[x + 2]);
            int s3 = tap7(r0[x + 3], r1[x + 3], r2[x + 3], r3[x + 3], r4[x + 3], r5[x + 3], r6[x + 3]);
            out[x] = (uint8_t)((s0 + 2048) >> 12);
            out[x + 1] = (uint8_t)((s1 + 2048) >> 12);
            out[x + 2] = (uint8_t)((s2 + 2048) >> 12);
            out[x + 3] = (uint8_t)((s3 + 2048) >> 12);
        }
        for (; x < w; x++)
            out[x] = (uint8_t)((tap7(r0[x], r1[x], r2[x], r3[x], r4[x], r5[x], r6[x]) + 2048) >> 12);
    }
}

void gauss_blur(const image_t *src, image_t *dst, uint16_t *tmp) {
    blur_horizontal(src, tmp);
    blur_vertical(tmp, dst);
}

static inline int iabs(int v) {
    return v < 0 ? -v : v;
}

static inline int sobel_mag(int a, int b, int c, int d, int f, int g, int h, int i) {
    /* a b c / d . f / g h i */
    int gx = (c + 2 * f + i) - (a + 2 * d + g);
    int gy = (g + 2 * h + i) - (a + 2 * b + c);
    return (iabs(gx) + iabs(gy)) >> 2;
}

void sobel(const image_t *src, image_t *dst, uint64_t *edge_sum) {
    int w = src->w, h = src->h;
    uint64_t total = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *up = src->px + (size_t)clamp_idx(y - 1, h) * w;
        const uint8_t *mid = src->px + (size_t)y * w;
        const uint8_t *dn = src->px + (size_t)clamp_idx(y + 1, h) * w;
        uint8_t *out = dst->px + (size_t)y * w;
        int a = up[0], b = up[0], d = mid[0], e = mid[0], g = dn[0], hh = dn[0];
        uint32_t row_sum = 0;
        for (int x = 0; x < w; x++) {
            int xn = x + 1 < w ? x + 1 : x;
            int c = up[xn], f = mid[xn], i = dn[xn];
            int m = sobel_mag(a, b, c, d, f, g, hh, i);
            out[x] = clamp_u8(m);
            row_sum += (uint32_t)out[x];
            a = b; b = c; d = e; e = f; g = hh; hh = i;
        }
        total += row_sum;
    }
    *edge_sum = total;
}

uint32_t threshold_count(const image_t *im, int t) {
    size_t n = (size_t)im->w * im->h;
    uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        c0 += im->px[i] > t;
        c1 += im->px[i + 1] > t;
        c2 += im->px[i + 2] > t;
        c3 += im->px[i + 3] > t;
    }
    for (; i < n; i++)
        c0 += im->px[i] > t;
    return c0 + c1 + c2 + c3;
}
