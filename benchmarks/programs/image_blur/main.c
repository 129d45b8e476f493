#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include "image.h"

#define W 1920
#define H 1440
#define BLUR_PASSES 10

int main(void) {
    image_t a, b, edges;
    if (!image_alloc(&a, W, H) || !image_alloc(&b, W, H) || !image_alloc(&edges, W, H)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint16_t *tmp = malloc((size_t)W * H * sizeof(uint16_t));
    if (!tmp)
        return 1;
    image_generate(&a, 12345u);
    uint32_t c_in = image_checksum(&a);
    image_t *src = &a, *dst = &b;
    uint64_t edge_total = 0;
    for (int p = 0; p < BLUR_PASSES; p++) {
        gauss_blur(src, dst, tmp);
        uint64_t es = 0;
        sobel(dst, &edges, &es);
        edge_total += es;
        image_t *t = src; src = dst; dst = t;
    }
    uint32_t hist[256];
    image_histogram(&edges, hist);
    printf("input %08" PRIx32 " blurred %08" PRIx32 " edges %08" PRIx32 "\n",
           c_in, image_checksum(src), image_checksum(&edges));
    printf("edge_total %" PRIu64 " median %d strong %" PRIu32 "\n",
           edge_total, histogram_median(hist), threshold_count(&edges, 8));
    free(tmp);
    image_free(&a); image_free(&b); image_free(&edges);
    return 0;
}
