#include <stdlib.h>
#include <string.h>
#include "regex.h"

static void set_add(uint64_t set[4], unsigned char c) {
    set[c >> 6] |= 1ull << (c & 63);
}

static void set_add_range(uint64_t set[4], unsigned char lo, unsigned char hi) {
    for (unsigned c = lo; c <= hi; c++)
        set_add(set, (unsigned char)c);
}

static void set_invert(uint64_t set[4]) {
    for (int i = 0; i < 4; i++)
        set[i] = ~set[i];
    /* never match the line terminator */
    set['\n' >> 6] &= ~(1ull << ('\n' & 63));
}

/* parses "[...]" starting after '['; returns index after ']' or -1 */
static int parse_class(const char *p, int i, uint64_t set[4]) {
    int negate = 0;
    if (p[i] == '^') {
        negate = 1;
        i++;
    }
    int first = 1;
    while (p[i] && (p[i] != ']' || first)) {
        unsigned char lo = (unsigned char)p[i];
        if (lo == '\\' && p[i + 1])
            lo = (unsigned char)p[++i];
        if (p[i + 1] == '-' && p[i + 2] && p[i + 2] != ']') {
            unsigned char hi = (unsigned char)p[i + 2];
            if (hi >= lo)
                set_add_range(set, lo, hi);
            i += 3;
        } else {
            set_add(set, lo);
            i++;
        }
        first = 0;
    }
    if (p[i] != ']')
        return -1;
    if (negate)
        set_invert(set);
    return i + 1;
}

static void build_nfa(regex_t *re) {
    int n = re->n;
    re->closure[n] = 1ull << n;
    for (int s = n - 1; s >= 0; s--) {
        int q = re->nodes[s].quant;
        re->closure[s] = 1ull << s;
        if (q == Q_STAR || q == Q_QUEST)
            re->closure[s] |= re->closure[s + 1];
    }
    for (int s = 0; s < n; s++) {
        int q = re->nodes[s].quant;
        re->follow[s] = re->closure[s + 1];
        if (q == Q_STAR || q == Q_PLUS)
            re->follow[s] |= re->closure[s];
    }
    memset(re->match_mask, 0, sizeof(re->match_mask));
    for (int c = 0; c < 256; c++)
        for (int s = 0; s < n; s++)
            if (node_matches(&re->nodes[s], (unsigned char)c))
                re->match_mask[c] |= 1ull << s;
}

static int build_step_table(regex_t *re) {
    re->step_table = calloc(8, sizeof(*re->step_table));
    if (!re->step_table)
        return 0;
    for (int b = 0; b < 8; b++) {
        for (int v = 1; v < 256; v++) {
            int low = v & -v;
            int bit = 0;
            while ((1 << bit) != low)
                bit++;
            int s = b * 8 + bit;
            uint64_t f = s < re->n ? re->follow[s] : 0;
            re->step_table[b][v] = re->step_table[b][v & (v - 1)] | f;
        }
    }
    return 1;
}

int re_compile(regex_t *re, const char *p) {
    memset(re, 0, sizeof(*re));
    int i = 0;
    if (p[0] == '^') {
        re->anchor_start = 1;
        i = 1;
    }
    while (p[i]) {
        if (p[i] == '$' && p[i + 1] == '\0') {
            re->anchor_end = 1;
            break;
        }
        if (re->n >= RE_MAX_NODES)
            return 0;
        re_node *nd = &re->nodes[re->n];
        if (p[i] == '.') {
            memset(nd->set, 0xFF, sizeof(nd->set));
            nd->set['\n' >> 6] &= ~(1ull << ('\n' & 63));
            i++;
        } else if (p[i] == '[') {
            i = parse_class(p, i + 1, nd->set);
            if (i < 0)
                return 0;
        } else {
            if (p[i] == '\\' && p[i + 1])
                i++;
            set_add(nd->set, (unsigned char)p[i]);
            i++;
        }
        nd->quant = Q_ONE;
        if (p[i] == '*') { nd->quant = Q_STAR; i++; }
        else if (p[i] == '+') { nd->quant = Q_PLUS; i++; }
        else if (p[i] == '?') { nd->quant = Q_QUEST; i++; }
        re->n++;
    }
    build_nfa(re);
    return build_step_table(re);
}

void re_free(regex_t *re) {
    free(re->step_table);
    re->step_table = NULL;
}
