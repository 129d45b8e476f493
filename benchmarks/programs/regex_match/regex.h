/* regex_match: backtracking and Thompson-NFA (bit-parallel) regular expression matching. */
#ifndef REGEX_MATCH_H
#define REGEX_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define RE_MAX_NODES 63

enum { Q_ONE, Q_QUEST, Q_STAR, Q_PLUS };

typedef struct {
    uint64_t set[4];   /* 256-bit character set */
    int quant;
} re_node;

typedef struct {
    re_node nodes[RE_MAX_NODES];
    int n;
    int anchor_start, anchor_end;
    /* Thompson NFA tables, state n is the accepting state */
    uint64_t closure[RE_MAX_NODES + 1];
    uint64_t follow[RE_MAX_NODES];
    uint64_t match_mask[256];
    uint64_t (*step_table)[256];   /* [8][256] union of follow sets per state byte */
} regex_t;

static inline int node_matches(const re_node *nd, unsigned char c) {
    return (int)((nd->set[c >> 6] >> (c & 63)) & 1u);
}

/* parse.c */
int re_compile(regex_t *re, const char *pattern);
void re_free(regex_t *re);

/* match.c */
int bt_search(const regex_t *re, const char *s, int len, int *mstart, int *mend);
int nfa_search(const regex_t *re, const char *s, int len);
int nfa_search_table(const regex_t *re, const char *s, int len);

#endif
