#include "codec.h"

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static inline void encode_group(const uint8_t *in, char *out) {
    uint32_t v = ((uint32_t)in[0] << 16) | ((uint32_t)in[1] << 8) | in[2];
    out[0] = alphabet[(v >> 18) & 63u];
    out[1] = alphabet[(v >> 12) & 63u];
    out[2] = alphabet[(v >> 6) & 63u];
    out[3] = alphabet[v & 63u];
}

/* 12 input bytes -> 16 output chars per iteration: four 24-bit groups live at once */
size_t b64_encode(const uint8_t *in, size_t n, char *out) {
    size_t i = 0, o = 0;
    for (; i + 12 <= n; i += 12, o += 16) {
        uint32_t g0 = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        uint32_t g1 = ((uint32_t)in[i + 3] << 16) | ((uint32_t)in[i + 4] << 8) | in[i + 5];
        uint32_t g2 = ((uint32_t)in[i + 6] << 16) | ((uint32_t)in[i + 7] << 8) | in[i + 8];
        uint32_t g3 = ((uint32_t)in[i + 9] << 16) | ((uint32_t)in[i + 10] << 8) | in[i + 11];
        char *q = out + o;
        q[0] = alphabet[g0 >> 18]; q[1] = alphabet[(g0 >> 12) & 63u];
        q[2] = alphabet[(g0 >> 6) & 63u]; q[3] = alphabet[g0 & 63u];
        q[4] = alphabet[g1 >> 18]; q[5] = alphabet[(g1 >> 12) & 63u];
        q[6] = alphabet[(g1 >> 6) & 63u]; q[7] = alphabet[g1 & 63u];
        q[8] = alphabet[g2 >> 18]; q[9] = alphabet[(g2 >> 12) & 63u];
        q[10] = alphabet[(g2 >> 6) & 63u]; q[11] = alphabet[g2 & 63u];
        q[12] = alphabet[g3 >> 18]; q[13] = alphabet[(g3 >> 12) & 63u];
        q[14] = alphabet[(g3 >> 6) & 63u]; q[15] = alphabet[g3 & 63u];
    }
    for (; i + 3 <= n; i += 3, o += 4)
        encode_group(in + i, out + o);
    size_t rem = n - i;
    if (rem) {
        uint8_t tail[3] = {0, 0, 0};
        for (size_t k = 0; k < rem; k++)
            tail[k] = in[i + k];
        encode_group(tail, out + o);
        out[o + 3] = '=';
        if (rem == 1)
            out[o + 2] = '=';
        o += 4;
    }
    return o;
}

static int8_t dec_table[256];
static int dec_ready;

static void build_decode_table(void) {
    for (int c = 0; c < 256; c++)
        dec_table[c] = -1;
    for (int k = 0; k < 64; k++)
        dec_table[(unsigned char)alphabet[k]] = (int8_t)k;
    dec_ready = 1;
}

static inline int32_t quad_value(const char *q) {
    int32_t a = dec_table[(unsigned char)q[0]], b = dec_table[(unsigned char)q[1]];
    int32_t c = dec_table[(unsigned char)q[2]], d = dec_table[(unsigned char)q[3]];
    if ((a | b | c | d) < 0)
        return -1;
    return (a << 18) | (b << 12) | (c << 6) | d;
}

long b64_decode(const char *in, size_t n, uint8_t *out) {
    if (!dec_ready)
        build_decode_table();
    if (n % 4 != 0)
        return -1;
    if (n == 0)
        return 0;
    size_t o = 0, full = n - 4;   /* last quad may hold padding */
    size_t i = 0;
    for (; i + 8 <= full; i += 8, o += 6) {
        int32_t v0 = quad_value(in + i), v1 = quad_value(in + i + 4);
        if ((v0 | v1) < 0)
            return -1;
        out[o] = (uint8_t)(v0 >> 16); out[o + 1] = (uint8_t)(v0 >> 8); out[o + 2] = (uint8_t)v0;
        out[o + 3] = (uint8_t)(v1 >> 16); out[o + 4] = (uint8_t)(v1 >> 8); out[o + 5] = (uint8_t)v1;
    }
    for (; i < full; i += 4, o += 3) {
        int32_t v = quad_value(in + i);
        if (v < 0)
            return -1;
        out[o] = (uint8_t)(v >> 16); out[o + 1] = (uint8_t)(v >> 8); out[o + 2] = (uint8_t)v;
    }
    const char *q = in + full;
    int pad = (q[3] == '=') + (q[2] == '=' && q[3] == '=');
    char tmp[4] = {q[0], q[1], pad == 2 ? 'A' : q[2], pad >= 1 ? 'A' : q[3]};
    int32_t v = quad_value(tmp);
    if (v < 0)
        return -1;
    out[o++] = (uint8_t)(v >> 16);
    if (pad < 2)
        out[o++] = (uint8_t)(v >> 8);
    if (pad < 1)
        out[o++] = (uint8_t)v;
    return (long)o;
}
