#include "regex.h"

/* ---------- backtracking ---------- */

static int bt_here(const regex_t *re, int ni, const char *s, int pos, int len) {
    while (ni < re->n) {
        const re_node *nd = &re->nodes[ni];
        int q = nd->quant;
        if (q == Q_ONE) {
            if (pos < len && node_matches(nd, (unsigned char)s[pos])) {
                pos++;
                ni++;
                continue;
            }
            return -1;
        }
        if (q == Q_QUEST) {
            if (pos < len && node_matches(nd, (unsigned char)s[pos])) {
                int r = bt_here(re, ni + 1, s, pos + 1, len);
                if (r >= 0)
                    return r;
            }
            ni++;
            continue;
        }
        /* star / plus: greedy, then give back */
        int k = 0;
        while (pos + k < len && node_matches(nd, (unsigned char)s[pos + k]))
            k++;
        int min = q == Q_PLUS ? 1 : 0;
        for (; k >= min; k--) {
            int r = bt_here(re, ni + 1, s, pos + k, len);
            if (r >= 0)
                return r;
        }
        return -1;
    }
    if (re->anchor_end && pos != len)
        return -1;
    return pos;
}

int bt_search(const regex_t *re, const char *s, int len, int *mstart, int *mend) {
    int last = re->anchor_start ? 0 : len;
    for (int start = 0; start <= last; start++) {
        int e = bt_here(re, 0, s, start, len);
        if (e >= 0) {
            *mstart = start;
            *mend = e;
            return 1;
        }
    }
    return 0;
}

/* ---------- Thompson NFA, one bit per state ---------- */

static inline int lowest_bit(uint64_t v) {
    static const int debruijn[64] = {
        0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4,
        62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
        46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6};
    return debruijn[((v & (~v + 1)) * 0x03F79D71B4CB0A89ull) >> 58];
}

static inline uint64_t step_bits(const regex_t *re, uint64_t m) {
    uint64_t next = 0;
    while (m) {
        next |= re->follow[lowest_bit(m)];
        m &= m - 1;
    }
    return next;
}

int nfa_search(const regex_t *re, const char *s, int len) {
    uint64_t acc = 1ull << re->n;
    uint64_t start = re->closure[0];
    uint64_t cur = start;
    if ((cur & acc) && !re->anchor_end)
        return 1;
    for (int pos = 0; pos < len; pos++) {
        uint64_t m = cur & re->match_mask[(unsigned char)s[pos]];
        cur = step_bits(re, m);
        if (!re->anchor_start)
            cur |= start;
        else if (!cur)
            return 0;
        if ((cur & acc) && !re->anchor_end)
            return 1;
    }
    return (cur & acc) != 0;
}

/* byte-sliced lookup of the union of follow sets: eight table loads per character */
static inline uint64_t step_table(const uint64_t (*t)[256], uint64_t m) {
    uint64_t r0 = t[0][m & 255u] | t[1][(m >> 8) & 255u];
    uint64_t r1 = t[2][(m >> 16) & 255u] | t[3][(m >> 24) & 255u];
    uint64_t r2 = t[4][(m >> 32) & 255u] | t[5][(m >> 40) & 255u];
    uint64_t r3 = t[6][(m >> 48) & 255u] | t[7][(m >> 56) & 255u];
    return (r0 | r1) | (r2 | r3);
}

int nfa_search_table(const regex_t *re, const char *s, int len) {
    const uint64_t (*t)[256] = (const uint64_t (*)[256])re->step_table;
    const uint64_t *mm = re->match_mask;
    uint64_t acc = 1ull << re->n;
    uint64_t start = re->closure[0];
    uint64_t cur = start;
    int early = !re->anchor_end;
    uint64_t keep = re->anchor_start ? 0 : start;
    if ((cur & acc) && early)
        return 1;
    int pos = 0;
    for (; pos + 2 <= len; pos += 2) {
        uint64_t m0 = cur & mm[(unsigned char)s[pos]];
        uint64_t c1 = step_table(t, m0) | keep;
        if (((c1 & acc) && early) || !c1)
            return c1 != 0;
        uint64_t m1 = c1 & mm[(unsigned char)s[pos + 1]];
        cur = step_table(t, m1) | keep;
        if (((cur & acc) && early) || !cur)
            return cur != 0;
    }
    for (; pos < len; pos++) {
        cur = step_table(t, cur & mm[(unsigned char)s[pos]]) | keep;
        if (((cur & acc) && early) || !cur)
            return cur != 0;
    }
    return (cur & acc) != 0;
}
