/* base64_rle: base64 encode/decode and PackBits-style run-length coding round trips. */
#ifndef BASE64_RLE_H
#define BASE64_RLE_H

#include <stddef.h>
#include <stdint.h>

static inline size_t b64_encoded_len(size_t n) {
    return (n + 2) / 3 * 4;
}

/* worst case for the run-length coder: one control byte per 128 literals */
static inline size_t rle_bound(size_t n) {
    return n + n / 128 + 2;
}

/* base64.c */
size_t b64_encode(const uint8_t *in, size_t n, char *out);
long b64_decode(const char *in, size_t n, uint8_t *out);   /* -1 on invalid input */

/* rle.c */
size_t rle_encode(const uint8_t *in, size_t n, uint8_t *out);
long rle_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* data.c */
void crc32_init(void);
uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n);
void make_data(uint8_t *buf, size_t n, uint32_t seed, int style);

#endif
