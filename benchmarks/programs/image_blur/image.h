/* image_blur: separable Gaussian blur and Sobel edge filter on an 8-bit image. */
#ifndef IMAGE_BLUR_H
#define IMAGE_BLUR_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *px;
} image_t;

static inline uint8_t clamp_u8(int v) {
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static inline int clamp_idx(int i, int n) {
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

/* gen.c */
int image_alloc(image_t *im, int w, int h);
void image_free(image_t *im);
void image_generate(image_t *im, uint32_t seed);
void image_histogram(const image_t *im, uint32_t hist[256]);
uint32_t image_checksum(const image_t *im);
int histogram_median(const uint32_t hist[256]);

/* filters.c */
void gauss_blur(const image_t *src, image_t *dst, uint16_t *tmp);
void sobel(const image_t *src, image_t *dst, uint64_t *edge_sum);
uint32_t threshold_count(const image_t *im, int t);

#endif
