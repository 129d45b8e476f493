/* Hashing benchmark driver: checks CRC variants agree, hashes many chunks,
 * counts distinct chunk hashes in a hash set. */
#include "hashes.h"
#include <stdio.h>
#include <stdlib.h>

#define BUF_SIZE (4u << 20)
#define PASSES 12

static void fill_buffer(uint8_t *buf, size_t n)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        /* low-entropy text-like bytes so that duplicate chunks exist */
        buf[i] = (uint8_t)('a' + ((x * 0x2545f4914f6cdd1dull) >> 61));
    }
}

static size_t chunk_length(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    uint32_t r = *state >> 16;
    if ((r & 7u) == 0)
        return 200 + (r % 3000u);
    return 3 + (r % 40u);
}

int main(void)
{
    uint8_t *buf = malloc(BUF_SIZE);
    hash_set set;
    if (!buf || !hs_init(&set, 20))
        return 1;
    crc32_init_tables();
    fill_buffer(buf, BUF_SIZE);
    int ok = crc32_bytewise(0, (const uint8_t *)"123456789", 9) == 0xcbf43926u;
    ok &= crc32_slice8(0, (const uint8_t *)"123456789", 9) == 0xcbf43926u;

    uint32_t crc_all = 0, fnv_acc = 0;
    uint64_t mix_acc = 0;
    size_t chunks = 0, distinct = 0;
    for (unsigned pass = 0; pass < PASSES; pass++) {
        uint32_t st = 12345u + pass;
        size_t pos = pass * 3u;
        while (pos < BUF_SIZE) {
            size_t len = chunk_length(&st);
            if (len > BUF_SIZE - pos)
                len = BUF_SIZE - pos;
            const uint8_t *p = buf + pos;
            uint32_t c = crc32_slice8(0, p, len);
            if ((chunks & 63u) == 0 && c != crc32_bytewise(0, p, len))
                ok = 0;
            uint64_t m = mix_hash64(p, len, pass);
            fnv_acc = fnv_acc * 31u + fnv1a32(p, len);
            mix_acc ^= m + (mix_acc << 6) + (mix_acc >> 2);
            crc_all ^= c;
            if (len <= 6)
                distinct += (size_t)hs_insert(&set, fnv1a64(p, len));
            chunks++;
            pos += len;
        }
    }
    uint32_t whole = crc32_slice8(0, buf, BUF_SIZE);
    printf("crc_hash selftest=%s chunks=%zu distinct_short=%zu\n", ok ? "ok" : "FAIL", chunks,
           distinct);
    printf("crc_whole=%08x crc_xor=%08x fnv=%08x mix=%016llx\n", (unsigned)whole, (unsigned)crc_all,
           (unsigned)fnv_acc, (unsigned long long)mix_acc);
    hs_free(&set);
    free(buf);
    return ok ? 0 : 1;
}
