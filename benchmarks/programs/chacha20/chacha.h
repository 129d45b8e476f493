/* ChaCha20 / Poly1305 benchmark: shared declarations. */
#ifndef CHACHA_BENCH_H
#define CHACHA_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t input[16];
    uint8_t keystream[64];
    size_t ks_pos;
} chacha_ctx;

typedef struct {
    uint32_t r[5], s[4], h[5];
    uint32_t pad[4];
    uint8_t buf[16];
    size_t fill;
} poly1305_ctx;

static inline uint32_t cc_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void cc_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* chacha.c */
void chacha_init(chacha_ctx *c, const uint8_t key[32], const uint8_t nonce[12], uint32_t counter);
void chacha_block(const uint32_t in[16], uint8_t out[64]);
void chacha_xor(chacha_ctx *c, const uint8_t *in, uint8_t *out, size_t n);

/* poly1305.c */
void poly1305_init(poly1305_ctx *p, const uint8_t key[32]);
void poly1305_update(poly1305_ctx *p, const uint8_t *m, size_t n);
void poly1305_final(poly1305_ctx *p, uint8_t tag[16]);

/* aead.c */
void aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
               const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16]);
int aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
              const uint8_t *ct, size_t n, const uint8_t tag[16], uint8_t *pt);

#endif
