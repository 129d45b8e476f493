/* SHA-256 benchmark driver: self-test, bulk hashing, hash chains, PBKDF2. */
#include "sha256.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_SIZE (1u << 20)
#define BULK_ROUNDS 24
#define CHAIN_LEN 60000
#define PBKDF2_ITERS 8000

static void fill_buffer(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x >> 11);
    }
}

static void to_hex(const uint8_t *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int self_test(void)
{
    uint8_t d[SHA256_DIGEST];
    char hx[2 * SHA256_DIGEST + 1];
    int ok = 1;
    sha256((const uint8_t *)"abc", 3, d);
    to_hex(d, SHA256_DIGEST, hx);
    ok &= strcmp(hx, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0;
    sha256((const uint8_t *)"", 0, d);
    to_hex(d, SHA256_DIGEST, hx);
    ok &= strcmp(hx, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0;
    hmac_ctx h;
    hmac_init(&h, (const uint8_t *)"Jefe", 4);
    hmac_update(&h, (const uint8_t *)"what do ya want for nothing?", 28);
    hmac_final(&h, d);
    to_hex(d, SHA256_DIGEST, hx);
    ok &= strcmp(hx, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0;
    return ok;
}

int main(void)
{
    uint8_t *buf = malloc(BUF_SIZE);
    if (!buf)
        return 1;
    int ok = self_test();
    uint8_t acc[SHA256_DIGEST];
    memset(acc, 0, sizeof acc);

    /* bulk hashing with varying split points to exercise buffering */
    for (unsigned r = 0; r < BULK_ROUNDS; r++) {
        fill_buffer(buf, BUF_SIZE, 0x12345u + r * 977u);
        sha256_ctx c;
        sha256_init(&c);
        size_t split = (r * 7919u) % BUF_SIZE;
        sha256_update(&c, acc, sizeof acc);
        sha256_update(&c, buf, split);
        sha256_update(&c, buf + split, BUF_SIZE - split);
        sha256_final(&c, acc);
    }

    /* hash chain over short messages */
    uint8_t chain[SHA256_DIGEST];
    memcpy(chain, acc, sizeof chain);
    for (unsigned i = 0; i < CHAIN_LEN; i++)
        sha256(chain, (i % SHA256_DIGEST) + 1, chain);

    uint8_t key[48];
    pbkdf2_sha256(chain, sizeof chain, acc, 16, PBKDF2_ITERS, key, sizeof key);

    char hx[2 * 48 + 1];
    to_hex(acc, SHA256_DIGEST, hx);
    printf("sha256 selftest=%s bulk=%s\n", ok ? "ok" : "FAIL", hx);
    to_hex(chain, SHA256_DIGEST, hx);
    printf("chain=%s\n", hx);
    to_hex(key, sizeof key, hx);
    printf("pbkdf2=%s\n", hx);
    free(buf);
    return ok ? 0 : 1;
}
