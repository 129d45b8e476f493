/* ChaCha20-Poly1305 AEAD construction (RFC 8439 section 2.8). */
#include "chacha.h"
#include <string.h>

static void derive_poly_key(const uint8_t key[32], const uint8_t nonce[12], uint8_t pk[32])
{
    chacha_ctx c;
    uint8_t block[64];
    chacha_init(&c, key, nonce, 0);
    chacha_block(c.input, block);
    memcpy(pk, block, 32);
}

static void pad16(poly1305_ctx *p, size_t n)
{
    static const uint8_t zeros[16];
    if (n % 16 != 0)
        poly1305_update(p, zeros, 16 - n % 16);
}

static void compute_tag(const uint8_t pk[32], const uint8_t *aad, size_t aadlen,
                        const uint8_t *ct, size_t n, uint8_t tag[16])
{
    poly1305_ctx p;
    uint8_t lens[16];
    poly1305_init(&p, pk);
    poly1305_update(&p, aad, aadlen);
    pad16(&p, aadlen);
    poly1305_update(&p, ct, n);
    pad16(&p, n);
    for (int i = 0; i < 8; i++) {
        lens[i] = (uint8_t)((uint64_t)aadlen >> (8 * i));
        lens[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    poly1305_update(&p, lens, 16);
    poly1305_final(&p, tag);
}

void aead_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
               const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16])
{
    uint8_t pk[32];
    chacha_ctx c;
    derive_poly_key(key, nonce, pk);
    chacha_init(&c, key, nonce, 1);
    chacha_xor(&c, pt, ct, n);
    compute_tag(pk, aad, aadlen, ct, n, tag);
}

static int tags_equal(const uint8_t a[16], const uint8_t b[16])
{
    uint8_t d = 0;
    for (int i = 0; i < 16; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

int aead_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
              const uint8_t *ct, size_t n, const uint8_t tag[16], uint8_t *pt)
{
    uint8_t pk[32], expect[16];
    chacha_ctx c;
    derive_poly_key(key, nonce, pk);
    compute_tag(pk, aad, aadlen, ct, n, expect);
    if (!tags_equal(expect, tag))
        return 0;
    chacha_init(&c, key, nonce, 1);
    chacha_xor(&c, ct, pt, n);
    return 1;
}
