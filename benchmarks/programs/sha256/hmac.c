/* HMAC-SHA256 (RFC 2104) and PBKDF2-HMAC-SHA256 (RFC 8018). */
#include "sha256.h"
#include <string.h>

static void xor_pad(uint8_t *dst, const uint8_t *key, size_t klen, uint8_t v)
{
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        dst[i] = (uint8_t)((i < klen ? key[i] : 0) ^ v);
}

void hmac_init(hmac_ctx *h, const uint8_t *key, size_t klen)
{
    uint8_t kbuf[SHA256_DIGEST];
    uint8_t pad[SHA256_BLOCK];
    if (klen > SHA256_BLOCK) {
        sha256(key, klen, kbuf);
        key = kbuf;
        klen = SHA256_DIGEST;
    }
    sha256_init(&h->inner);
    xor_pad(pad, key, klen, 0x36);
    sha256_update(&h->inner, pad, SHA256_BLOCK);
    sha256_init(&h->outer);
    xor_pad(pad, key, klen, 0x5c);
    sha256_update(&h->outer, pad, SHA256_BLOCK);
}

void hmac_update(hmac_ctx *h, const uint8_t *data, size_t n)
{
    sha256_update(&h->inner, data, n);
}

void hmac_final(hmac_ctx *h, uint8_t out[SHA256_DIGEST])
{
    uint8_t inner[SHA256_DIGEST];
    sha256_final(&h->inner, inner);
    sha256_update(&h->outer, inner, SHA256_DIGEST);
    sha256_final(&h->outer, out);
}

static void xor_into(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] ^= src[i];
}

void pbkdf2_sha256(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t slen,
                   uint32_t iterations, uint8_t *out, size_t outlen)
{
    hmac_ctx base;
    hmac_init(&base, pw, pwlen);
    for (uint32_t block = 1; outlen > 0; block++) {
        uint8_t ctr[4] = { (uint8_t)(block >> 24), (uint8_t)(block >> 16), (uint8_t)(block >> 8),
                           (uint8_t)block };
        uint8_t u[SHA256_DIGEST], t[SHA256_DIGEST];
        hmac_ctx h = base;
        hmac_update(&h, salt, slen);
        hmac_update(&h, ctr, 4);
        hmac_final(&h, u);
        memcpy(t, u, SHA256_DIGEST);
        for (uint32_t i = 1; i < iterations; i++) {
            h = base;
            hmac_update(&h, u, SHA256_DIGEST);
            hmac_final(&h, u);
            xor_into(t, u, SHA256_DIGEST);
        }
        size_t take = outlen < SHA256_DIGEST ? outlen : SHA256_DIGEST;
        memcpy(out, t, take);
        out += take;
        outlen -= take;
    }
}
