/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320): byte table and slicing-by-8. */
#include "hashes.h"

static uint32_t crc_table[8][256];

static uint32_t crc_byte_step(uint32_t c)
{
    for (int k = 0; k < 8; k++)
        c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
    return c;
}

void crc32_init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++)
        crc_table[0][i] = crc_byte_step(i);
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xffu] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

uint32_t crc32_bytewise(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[0][(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* Eight table lookups per 8 input bytes, combined with XOR. */
uint32_t crc32_slice8(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                             ((uint32_t)p[3] << 24));
        uint32_t hi = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) |
                      ((uint32_t)p[7] << 24);
        crc = crc_table[7][lo & 0xffu] ^ crc_table[6][(lo >> 8) & 0xffu] ^
              crc_table[5][(lo >> 16) & 0xffu] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xffu] ^ crc_table[2][(hi >> 8) & 0xffu] ^
              crc_table[1][(hi >> 16) & 0xffu] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        crc = crc_table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}
