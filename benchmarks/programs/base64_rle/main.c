#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "codec.h"

#define DATA_BYTES (1u << 20)
#define ROUNDS 12

int main(void) {
    crc32_init();
    uint8_t *data = malloc(DATA_BYTES);
    uint8_t *packed = malloc(rle_bound(DATA_BYTES));
    char *text = malloc(b64_encoded_len(rle_bound(DATA_BYTES)) + 1);
    uint8_t *unb64 = malloc(rle_bound(DATA_BYTES) + 3);
    uint8_t *back = malloc(DATA_BYTES);
    char *text2 = malloc(b64_encoded_len(DATA_BYTES) + 1);
    uint8_t *back2 = malloc(DATA_BYTES + 3);
    if (!data || !packed || !text || !unb64 || !back || !text2 || !back2)
        return 1;
    uint32_t crc = 0;
    uint64_t rle_total = 0, b64_total = 0;
    int failures = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = DATA_BYTES - (size_t)r * 37u;   /* vary lengths mod 3 */
        make_data(data, n, 1000u + (uint32_t)r, r % 4);
        /* data -> rle -> base64 -> decode -> unrle */
        size_t pn = rle_encode(data, n, packed);
        size_t tn = b64_encode(packed, pn, text);
        long un = b64_decode(text, tn, unb64);
        long bn = un < 0 ? -1 : rle_decode(unb64, (size_t)un, back, DATA_BYTES);
        if (un != (long)pn || bn != (long)n || memcmp(back, data, n) != 0)
            failures++;
        /* plain base64 round trip of the raw data */
        size_t t2 = b64_encode(data, n, text2);
        long b2 = b64_decode(text2, t2, back2);
        if (b2 != (long)n || memcmp(back2, data, n) != 0)
            failures++;
        rle_total += pn;
        b64_total += t2;
        crc = crc32_update(crc, packed, pn);
        crc = crc32_update(crc, (const uint8_t *)text, tn);
    }
    /* the decoder must reject malformed input */
    int rejects = (b64_decode("ab=c", 4, back2) < 0) + (b64_decode("abc", 3, back2) < 0) +
                  (b64_decode("a*cd", 4, back2) < 0);
    printf("rounds %d failures %d rejects %d\n", ROUNDS, failures, rejects);
    printf("rle bytes %" PRIu64 " base64 chars %" PRIu64 " crc %08" PRIx32 "\n",
           rle_total, b64_total, crc);
    free(data); free(packed); free(text); free(unb64); free(back); free(text2); free(back2);
    return 0;
}
