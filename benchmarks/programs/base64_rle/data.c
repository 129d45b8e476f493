#include "codec.h"

static uint32_t crc_table[256];

void crc32_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 255u] ^ (crc >> 8);
    return ~crc;
}

static uint32_t dstate;

static uint32_t dnext(void) {
    dstate ^= dstate << 13;
    dstate ^= dstate >> 17;
    dstate ^= dstate << 5;
    return dstate;
}

/* style 0: runs and noise mixed, 1: text-like, 2: mostly random, 3: long runs */
void make_data(uint8_t *buf, size_t n, uint32_t seed, int style) {
    dstate = seed ? seed : 1u;
    size_t i = 0;
    while (i < n) {
        uint32_t r = dnext();
        size_t len = 1 + (r >> 8) % (style == 3 ? 600u : 40u);
        if (len > n - i)
            len = n - i;
        int run = style == 3 ? (r & 7u) != 0 : style == 2 ? (r & 15u) == 0 : (r & 3u) == 0;
        if (run) {
            uint8_t v = (uint8_t)(dnext() >> 24);
            for (size_t k = 0; k < len; k++)
                buf[i + k] = v;
        } else if (style == 1) {
            for (size_t k = 0; k < len; k++) {
                uint32_t t = dnext();
                buf[i + k] = (t & 7u) == 0 ? ' ' : (uint8_t)('a' + (t >> 8) % 26u);
            }
        } else {
            for (size_t k = 0; k < len; k++)
                buf[i + k] = (uint8_t)(dnext() >> 13);
        }
        i += len;
    }
}
