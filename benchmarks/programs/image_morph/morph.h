/* image_morph: grey-level erosion/dilation/median and bit-packed binary morphology. */
#ifndef IMAGE_MORPH_H
#define IMAGE_MORPH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *px;
} grey_t;

typedef struct {
    int w, h, words;   /* words = 64-bit words per row */
    uint64_t *bits;
} bitimg_t;

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* grey.c */
int grey_alloc(grey_t *g, int w, int h);
void grey_free(grey_t *g);
void grey_generate(grey_t *g, uint32_t seed);
void grey_erode3(const grey_t *src, grey_t *dst, uint8_t *tmp);
void grey_dilate3(const grey_t *src, grey_t *dst, uint8_t *tmp);
void grey_median3(const grey_t *src, grey_t *dst);
uint64_t grey_hash(const grey_t *g);

/* binary.c */
int bit_alloc(bitimg_t *b, int w, int h);
void bit_free(bitimg_t *b);
void bit_threshold(const grey_t *g, bitimg_t *b, int t);
void bit_erode_cross(const bitimg_t *src, bitimg_t *dst);
void bit_dilate_cross(const bitimg_t *src, bitimg_t *dst);
uint64_t bit_count(const bitimg_t *b);
uint64_t bit_hash(const bitimg_t *b);

#endif
