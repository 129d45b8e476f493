#include <stdlib.h>
#include "image.h"

static uint32_t lcg_state;

static uint32_t lcg_next(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

int image_alloc(image_t *im, int w, int h) {
    im->w = w;
    im->h = h;
    im->px = malloc((size_t)w * (size_t)h);
    return im->px != NULL;
}

void image_free(image_t *im) {
    free(im->px);
    im->px = NULL;
}

static void draw_disc(image_t *im, int cx, int cy, int r, int value) {
    int y0 = clamp_idx(cy - r, im->h), y1 = clamp_idx(cy + r, im->h);
    int x0 = clamp_idx(cx - r, im->w), x1 = clamp_idx(cx + r, im->w);
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = im->px + (size_t)y * im->w;
        for (int x = x0; x <= x1; x++) {
            int dx = x - cx, dy = y - cy;
            if (dx * dx + dy * dy <= r * r)
                row[x] = clamp_u8((row[x] + value) / 2);
        }
    }
}

static void draw_rect(image_t *im, int x0, int y0, int x1, int y1, int value) {
    x0 = clamp_idx(x0, im->w); x1 = clamp_idx(x1, im->w);
    y0 = clamp_idx(y0, im->h); y1 = clamp_idx(y1, im->h);
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = im->px + (size_t)y * im->w;
        for (int x = x0; x <= x1; x++)
            row[x] = (uint8_t)value;
    }
}

void image_generate(image_t *im, uint32_t seed) {
    lcg_state = seed;
    for (int y = 0; y < im->h; y++) {
        uint8_t *row = im->px + (size_t)y * im->w;
        for (int x = 0; x < im->w; x++) {
            int base = ((x * 255) / im->w + (y * 127) / im->h) / 2;
            int noise = (int)(lcg_next() & 31u) - 16;
            row[x] = clamp_u8(base + noise);
        }
    }
    for (int i = 0; i < 120; i++) {
        int cx = (int)(lcg_next() % (uint32_t)im->w);
        int cy = (int)(lcg_next() % (uint32_t)im->h);
        int r = 8 + (int)(lcg_next() % 90u);
        draw_disc(im, cx, cy, r, (int)(lcg_next() & 255u));
    }
    for (int i = 0; i < 60; i++) {
        int x0 = (int)(lcg_next() % (uint32_t)im->w);
        int y0 = (int)(lcg_next() % (uint32_t)im->h);
        /* one draw per statement: argument evaluation order is unspecified */
        int x1 = x0 + 10 + (int)(lcg_next() % 120u);
        int y1 = y0 + 10 + (int)(lcg_next() % 80u);
        int value = (int)(lcg_next() & 255u);
        draw_rect(im, x0, y0, x1, y1, value);
    }
}

void image_histogram(const image_t *im, uint32_t hist[256]) {
    uint32_t h0[256] = {0}, h1[256] = {0};
    size_t n = (size_t)im->w * im->h, i = 0;
    for (; i + 2 <= n; i += 2) {
        h0[im->px[i]]++;
        h1[im->px[i + 1]]++;
    }
    for (; i < n; i++)
        h0[im->px[i]]++;
    for (int k = 0; k < 256; k++)
        hist[k] = h0[k] + h1[k];
}

uint32_t image_checksum(const image_t *im) {
    /* Adler-32 style over all pixels */
    uint32_t a = 1, b = 0;
    size_t n = (size_t)im->w * im->h;
    for (size_t i = 0; i < n; i++) {
        a = (a + im->px[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

int histogram_median(const uint32_t hist[256]) {
    uint64_t total = 0, acc = 0;
    for (int k = 0; k < 256; k++)
        total += hist[k];
    for (int k = 0; k < 256; k++) {
        acc += hist[k];
        if (2 * acc >= total)
            return k;
    }
    return 255;
}
