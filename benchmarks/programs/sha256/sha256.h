/* SHA-256 / HMAC benchmark: shared declarations. */
#ifndef SHA256_BENCH_H
#define SHA256_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK 64
#define SHA256_DIGEST 32

typedef struct {
    uint32_t h[8];
    uint64_t total;
    uint8_t buf[SHA256_BLOCK];
    size_t fill;
} sha256_ctx;

typedef struct {
    sha256_ctx inner, outer;
} hmac_ctx;

/* sha256.c */
void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const uint8_t *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST]);
void sha256(const uint8_t *data, size_t n, uint8_t out[SHA256_DIGEST]);

/* hmac.c */
void hmac_init(hmac_ctx *h, const uint8_t *key, size_t klen);
void hmac_update(hmac_ctx *h, const uint8_t *data, size_t n);
void hmac_final(hmac_ctx *h, uint8_t out[SHA256_DIGEST]);
void pbkdf2_sha256(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t slen,
                   uint32_t iterations, uint8_t *out, size_t outlen);

#endif
