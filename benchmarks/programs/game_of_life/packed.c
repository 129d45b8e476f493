#include <stdlib.h>
#include "life.h"

int packed_alloc(packed_grid *g, int w, int h) {
    g->w = w;
    g->h = h;
    g->words = w / 64;
    g->bits = calloc((size_t)g->words * (size_t)h, sizeof(uint64_t));
    return g->bits != NULL;
}

void packed_free(packed_grid *g) {
    free(g->bits);
    g->bits = NULL;
}

void pack_grid(const plain_grid *src, packed_grid *dst) {
    for (int y = 0; y < src->h; y++) {
        const uint8_t *row = src->cells + (size_t)y * src->w;
        for (int k = 0; k < dst->words; k++) {
            uint64_t word = 0;
            for (int b = 0; b < 64; b++)
                word |= (uint64_t)(row[k * 64 + b] & 1u) << b;
            dst->bits[(size_t)y * dst->words + k] = word;
        }
    }
}

int packed_equals_plain(const packed_grid *p, const plain_grid *g) {
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++) {
            uint64_t word = p->bits[(size_t)y * p->words + x / 64];
            if ((int)((word >> (x % 64)) & 1u) != g->cells[(size_t)y * g->w + x])
                return 0;
        }
    return 1;
}

static inline void full_add(uint64_t a, uint64_t b, uint64_t c, uint64_t *sum, uint64_t *carry) {
    uint64_t t = a ^ b;
    *sum = t ^ c;
    *carry = (a & b) | (t & c);
}

/* bit-sliced neighbour count of eight words and the life rule */
static inline uint64_t life_word(uint64_t nw, uint64_t n, uint64_t ne, uint64_t w,
                                 uint64_t e, uint64_t sw, uint64_t s, uint64_t se,
                                 uint64_t self) {
    uint64_t s1, c1, s2, c2, ones, c4, t2, c5;
    full_add(nw, n, ne, &s1, &c1);
    full_add(w, e, sw, &s2, &c2);
    uint64_t s3 = s ^ se, c3 = s & se;
    full_add(s1, s2, s3, &ones, &c4);
    full_add(c1, c2, c3, &t2, &c5);
    uint64_t twos = t2 ^ c4;
    uint64_t fours = c5 | (t2 & c4);   /* any weight >= 4 */
    return twos & ~fours & (ones | self);
}

static inline uint64_t left_of(uint64_t cur, uint64_t prev) {
    return (cur << 1) | (prev >> 63);    /* cell x-1 moved to bit x */
}

static inline uint64_t right_of(uint64_t cur, uint64_t next) {
    return (cur >> 1) | (next << 63);    /* cell x+1 moved to bit x */
}

void packed_step(const packed_grid *in, packed_grid *out) {
    int words = in->words, h = in->h;
    for (int y = 0; y < h; y++) {
        const uint64_t *u = in->bits + (size_t)wrap(y - 1, h) * words;
        const uint64_t *m = in->bits + (size_t)y * words;
        const uint64_t *d = in->bits + (size_t)wrap(y + 1, h) * words;
        uint64_t *o = out->bits + (size_t)y * words;
        uint64_t up = u[words - 1], uc = u[0];
        uint64_t mp = m[words - 1], mc = m[0];
        uint64_t dp = d[words - 1], dc = d[0];
        for (int k = 0; k < words; k++) {
            int kn = k + 1 < words ? k + 1 : 0;
            uint64_t un = u[kn], mn = m[kn], dn = d[kn];
            o[k] = life_word(left_of(uc, up), uc, right_of(uc, un),
                             left_of(mc, mp), right_of(mc, mn),
                             left_of(dc, dp), dc, right_of(dc, dn), mc);
            up = uc; uc = un;
            mp = mc; mc = mn;
            dp = dc; dc = dn;
        }
    }
}

static inline uint64_t popcnt(uint64_t v) {
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (v * 0x0101010101010101ull) >> 56;
}

uint64_t packed_population(const packed_grid *g) {
    size_t n = (size_t)g->words * g->h;
    uint64_t p = 0;
    for (size_t i = 0; i < n; i++)
        p += popcnt(g->bits[i]);
    return p;
}

uint64_t packed_hash(const packed_grid *g) {
    size_t n = (size_t)g->words * g->h;
    uint64_t h = 0x84222325CBF29CE4ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ g->bits[i]) * 0x100000001B3ull;
    return h;
}
