#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include "morph.h"

#define W 1600
#define H 1200
#define ROUNDS 6
#define BIN_ROUNDS 40

int main(void) {
    grey_t img, a, b;
    if (!grey_alloc(&img, W, H) || !grey_alloc(&a, W, H) || !grey_alloc(&b, W, H)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint8_t *tmp = malloc((size_t)W * H);
    if (!tmp)
        return 1;
    grey_generate(&img, 77u);
    uint64_t acc = 0;
    for (int r = 0; r < ROUNDS; r++) {
        grey_median3(&img, &a);          /* remove salt and pepper */
        grey_erode3(&a, &b, tmp);        /* opening: erode then dilate */
        grey_dilate3(&b, &a, tmp);
        grey_dilate3(&a, &b, tmp);       /* closing: dilate then erode */
        grey_erode3(&b, &img, tmp);
        acc ^= grey_hash(&img) + (uint64_t)r;
    }
    bitimg_t p, q;
    if (!bit_alloc(&p, W, H) || !bit_alloc(&q, W, H))
        return 1;
    bit_threshold(&img, &p, 128);
    uint64_t before = bit_count(&p);
    for (int r = 0; r < BIN_ROUNDS; r++) {
        bit_erode_cross(&p, &q);
        bit_dilate_cross(&q, &p);
        bit_dilate_cross(&p, &q);
        bit_erode_cross(&q, &p);
    }
    printf("grey %016" PRIx64 "\n", acc);
    printf("binary before %" PRIu64 " after %" PRIu64 " hash %016" PRIx64 "\n",
           before, bit_count(&p), bit_hash(&p));
    bit_free(&p); bit_free(&q);
    free(tmp);
    grey_free(&img); grey_free(&a); grey_free(&b);
    return 0;
}
