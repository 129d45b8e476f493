/* ChaCha20-Poly1305 benchmark driver: self-tests, then bulk seal/open. */
#include "chacha.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_SIZE (1u << 20)
#define ROUNDS 24

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = splitmix(s);
        for (size_t k = 0; k < 8 && i + k < n; k++)
            p[i + k] = (uint8_t)(v >> (8 * k));
    }
}

static int self_test(void)
{
    uint8_t key[32], nonce[12] = { 0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
    uint8_t block[64];
    static const uint8_t expect_block[16] = { 0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15,
                                              0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4 };
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    chacha_ctx c;
    chacha_init(&c, key, nonce, 1);
    chacha_block(c.input, block);
    int ok = memcmp(block, expect_block, 16) == 0;

    static const uint8_t pkey[32] = { 0x85, 0xd6, 0xbe, 0x78, 0x57, 0x55, 0x6d, 0x33, 0x7f, 0x44, 0x52,
                                      0xfe, 0x42, 0xd5, 0x06, 0xa8, 0x01, 0x03, 0x80, 0x8a, 0xfb, 0x0d,
                                      0xb2, 0xfd, 0x4a, 0xbf, 0xf6, 0xaf, 0x41, 0x49, 0xf5, 0x1b };
    static const uint8_t expect_tag[16] = { 0xa8, 0x06, 0x1d, 0xc1, 0x30, 0x51, 0x36, 0xc6,
                                            0xc2, 0x2b, 0x8b, 0xaf, 0x0c, 0x01, 0x27, 0xa9 };
    const char *msg = "Cryptographic Forum Research Group";
    poly1305_ctx p;
    uint8_t tag[16];
    poly1305_init(&p, pkey);
    poly1305_update(&p, (const uint8_t *)msg, strlen(msg));
    poly1305_final(&p, tag);
    ok &= memcmp(tag, expect_tag, 16) == 0;
    return ok;
}

int main(void)
{
    uint8_t *pt = malloc(MSG_SIZE), *ct = malloc(MSG_SIZE), *back = malloc(MSG_SIZE);
    if (!pt || !ct || !back)
        return 1;
    int selftest = self_test();
    uint64_t seed = 0x0123456789abcdefull;
    uint8_t key[32], nonce[12], aad[37], tag[16];
    uint64_t digest = 0xcbf29ce484222325ull;
    unsigned opened = 0;
    fill_random(pt, MSG_SIZE, &seed);
    for (unsigned r = 0; r < ROUNDS; r++) {
        fill_random(key, sizeof key, &seed);
        fill_random(nonce, sizeof nonce, &seed);
        fill_random(aad, sizeof aad, &seed);
        size_t len = MSG_SIZE - (r * 4099u) % 4096u;
        aead_seal(key, nonce, aad, sizeof aad, pt, len, ct, tag);
        if (aead_open(key, nonce, aad, sizeof aad, ct, len, tag, back) && memcmp(back, pt, len) == 0)
            opened++;
        /* tamper check: a flipped bit must be rejected */
        ct[r % len] ^= 1u;
        if (aead_open(key, nonce, aad, sizeof aad, ct, len, tag, back))
            opened += 1000;
        for (int i = 0; i < 16; i++)
            digest = (digest ^ tag[i]) * 0x100000001b3ull;
        for (size_t i = 0; i < len; i += 4093)
            digest = (digest ^ ct[i]) * 0x100000001b3ull;
        /* chain: next plaintext depends on this ciphertext */
        memcpy(pt, ct, 4096);
    }
    printf("chacha20-poly1305 selftest=%s rounds=%u opened=%u\n", selftest ? "ok" : "FAIL", ROUNDS,
           opened);
    printf("checksum=%016llx\n", (unsigned long long)digest);
    free(pt);
    free(ct);
    free(back);
    return selftest ? 0 : 1;
}
