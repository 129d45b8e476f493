/* Greedy + lazy LZ77 compressor with hash chains.
 * Token format:
 *   0x00..0x7f : literal run of (flag + 1) bytes follows
 *   0x80..0xff : match of length (flag & 0x7f) + LZ_MIN_MATCH,
 *                followed by 16-bit little-endian distance (1..65535)
 */
#include "lz77.h"
#include <string.h>

static inline uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t hash4(const uint8_t *p)
{
    return (load32(p) * 2654435761u) >> (32 - LZ_HASH_BITS);
}

/* Length of common prefix of a and b, at most max.  Unrolled by 8. */
static size_t match_length(const uint8_t *a, const uint8_t *b, size_t max)
{
    size_t i = 0;
    while (i + 8 <= max) {
        uint8_t d0 = a[i] ^ b[i];
        uint8_t d1 = a[i + 1] ^ b[i + 1];
        uint8_t d2 = a[i + 2] ^ b[i + 2];
        uint8_t d3 = a[i + 3] ^ b[i + 3];
        uint8_t d4 = a[i + 4] ^ b[i + 4];
        uint8_t d5 = a[i + 5] ^ b[i + 5];
        uint8_t d6 = a[i + 6] ^ b[i + 6];
        uint8_t d7 = a[i + 7] ^ b[i + 7];
        if ((d0 | d1 | d2 | d3 | d4 | d5 | d6 | d7) != 0) {
            if (d0) return i;
            if (d1) return i + 1;
            if (d2) return i + 2;
            if (d3) return i + 3;
            if (d4) return i + 4;
            if (d5) return i + 5;
            if (d6) return i + 6;
            return i + 7;
        }
        i += 8;
    }
    while (i < max && a[i] == b[i])
        i++;
    return i;
}

static void reset_state(lz_state *st)
{
    for (size_t i = 0; i < LZ_HASH_SIZE; i++)
        st->head[i] = -1;
    for (size_t i = 0; i < LZ_WINDOW_SIZE; i++)
        st->prev[i] = -1;
}

static inline void insert_position(lz_state *st, const uint8_t *in, size_t pos)
{
    uint32_t h = hash4(in + pos);
    st->prev[pos & LZ_WINDOW_MASK] = st->head[h];
    st->head[h] = (int32_t)pos;
}

/* Walk the hash chain for position pos; returns best length, stores distance. */
static size_t find_longest(const lz_state *st, const uint8_t *in, size_t pos, size_t n,
                           size_t *dist_out)
{
    size_t max = n - pos;
    if (max > LZ_MAX_MATCH)
        max = LZ_MAX_MATCH;
    size_t best = 0, best_dist = 0;
    int32_t cand = st->head[hash4(in + pos)];
    unsigned chain = st->max_chain;
    const uint8_t *cur = in + pos;
    while (cand >= 0 && chain-- > 0) {
        size_t c = (size_t)cand;
        if (c >= pos || pos - c > LZ_MAX_DIST)
            break;
        const uint8_t *ref = in + c;
        if (ref[best] == cur[best] && ref[0] == cur[0] && ref[1] == cur[1]) {
            size_t len = match_length(ref, cur, max);
            if (len > best) {
                best = len;
                best_dist = pos - c;
                if (len == max)
                    break;
            }
        }
        int32_t next = st->prev[c & LZ_WINDOW_MASK];
        if (next >= cand)
            break;
        cand = next;
    }
    *dist_out = best_dist;
    return best >= LZ_MIN_MATCH ? best : 0;
}

static size_t flush_literals(uint8_t *out, size_t o, size_t cap, const uint8_t *lit, size_t count)
{
    while (count > 0) {
        size_t run = count > LZ_MAX_LITERAL_RUN ? LZ_MAX_LITERAL_RUN : count;
        if (o + 1 + run > cap)
            return (size_t)-1;
        out[o++] = (uint8_t)(run - 1);
        memcpy(out + o, lit, run);
        o += run;
        lit += run;
        count -= run;
    }
    return o;
}

static size_t emit_match(uint8_t *out, size_t o, size_t cap, size_t len, size_t dist)
{
    if (o + 3 > cap)
        return (size_t)-1;
    out[o++] = (uint8_t)(0x80u | (len - LZ_MIN_MATCH));
    out[o++] = (uint8_t)(dist & 0xffu);
    out[o++] = (uint8_t)(dist >> 8);
    return o;
}

size_t lz_compress(lz_state *st, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    reset_state(st);
    size_t o = 0, pos = 0, lit_start = 0;
    while (pos + LZ_MIN_MATCH <= n) {
        size_t dist = 0;
        size_t len = find_longest(st, in, pos, n, &dist);
        insert_position(st, in, pos);
        if (len == 0) {
            pos++;
            continue;
        }
        /* Lazy evaluation: prefer a longer match starting one byte later. */
        if (pos + 1 + LZ_MIN_MATCH <= n && len < LZ_MAX_MATCH) {
            size_t dist2 = 0;
            size_t len2 = find_longest(st, in, pos + 1, n, &dist2);
            if (len2 > len + 1) {
                pos++;
                insert_position(st, in, pos);
                len = len2;
                dist = dist2;
            }
        }
        o = flush_literals(out, o, cap, in + lit_start, pos - lit_start);
        if (o == (size_t)-1)
            return 0;
        o = emit_match(out, o, cap, len, dist);
        if (o == (size_t)-1)
            return 0;
        size_t end = pos + len;
        for (pos = pos + 1; pos < end; pos++) {
            if (pos + LZ_MIN_MATCH <= n)
                insert_position(st, in, pos);
        }
        lit_start = pos;
    }
    o = flush_literals(out, o, cap, in + lit_start, n - lit_start);
    return o == (size_t)-1 ? 0 : o;
}
