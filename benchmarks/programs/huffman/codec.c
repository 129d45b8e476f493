/* Huffman bit-level encoder and table-driven decoder (MSB-first bit order). */
#include "huffman.h"
#include <string.h>

typedef struct {
    uint8_t *out;
    size_t pos, cap;
    uint64_t acc;
    unsigned nbits;
    int overflow;
} bit_writer;

static inline void bw_put(bit_writer *w, uint32_t code, unsigned len)
{
    w->acc = (w->acc << len) | code;
    w->nbits += len;
    while (w->nbits >= 8) {
        w->nbits -= 8;
        if (w->pos < w->cap)
            w->out[w->pos++] = (uint8_t)(w->acc >> w->nbits);
        else
            w->overflow = 1;
    }
}

static void bw_flush(bit_writer *w)
{
    if (w->nbits > 0)
        bw_put(w, 0, 8 - w->nbits);
}

size_t huf_encode(const huf_code *c, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    bit_writer w = { out, 0, cap, 0, 0, 0 };
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint8_t s0 = in[i], s1 = in[i + 1], s2 = in[i + 2], s3 = in[i + 3];
        uint32_t c0 = c->code[s0], c1 = c->code[s1];
        uint32_t c2 = c->code[s2], c3 = c->code[s3];
        unsigned l0 = c->len[s0], l1 = c->len[s1];
        unsigned l2 = c->len[s2], l3 = c->len[s3];
        bw_put(&w, c0, l0);
        bw_put(&w, c1, l1);
        bw_put(&w, c2, l2);
        bw_put(&w, c3, l3);
    }
    for (; i < n; i++)
        bw_put(&w, c->code[in[i]], c->len[in[i]]);
    bw_flush(&w);
    return w.overflow ? 0 : w.pos;
}

typedef struct {
    const uint8_t *in;
    size_t pos, n;
    uint64_t buf;
    unsigned cnt;
} bit_reader;

static inline void br_refill(bit_reader *r)
{
    while (r->cnt <= 56) {
        uint8_t b = r->pos < r->n ? r->in[r->pos] : 0;
        r->pos++;
        r->buf = (r->buf << 8) | b;
        r->cnt += 8;
    }
}

static inline uint32_t br_peek(const bit_reader *r, unsigned bits)
{
    return (uint32_t)(r->buf >> (r->cnt - bits)) & ((1u << bits) - 1u);
}

static inline void br_skip(bit_reader *r, unsigned bits)
{
    r->cnt -= bits;
}

/* Canonical slow path for codes longer than the lookup table. */
static int decode_slow(const huf_code *c, bit_reader *r)
{
    uint32_t code = 0;
    for (unsigned l = 1; l <= c->max_len; l++) {
        code = (code << 1) | br_peek(r, 1);
        br_skip(r, 1);
        uint32_t off = code - c->first_code[l];
        if (code >= c->first_code[l] && off < c->count[l])
            return c->sorted[c->first_index[l] + off];
    }
    return -1;
}

size_t huf_decode(const huf_code *c, const uint8_t *in, size_t nbytes, uint8_t *out, size_t nsyms)
{
    bit_reader r = { in, 0, nbytes, 0, 0 };
    size_t i = 0;
    br_refill(&r);
    while (i < nsyms) {
        if (r.cnt < HUF_MAX_LEN)
            br_refill(&r);
        uint16_t e = c->table[br_peek(&r, HUF_TABLE_BITS)];
        if (e != 0) {
            br_skip(&r, e >> 8);
            out[i++] = (uint8_t)(e & 0xffu);
        } else {
            int s = decode_slow(c, &r);
            if (s < 0)
                return i;
            out[i++] = (uint8_t)s;
        }
    }
    return i;
}
