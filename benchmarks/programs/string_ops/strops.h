/* string_ops: tokenising, case folding, substring search and word frequency. */
#ifndef STRING_OPS_H
#define STRING_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t off;
    uint32_t len;
} token_t;

typedef struct {
    const char *word;   /* points into the folded text */
    uint32_t len;
    uint32_t count;
    uint32_t hash;
} freq_entry;

typedef struct {
    freq_entry *slots;
    size_t cap;         /* power of two */
    size_t used;
} freq_table;

static inline int is_alpha_ascii(unsigned char c) {
    return (unsigned char)((c | 0x20u) - 'a') < 26u;
}

static inline int is_word_char(unsigned char c) {
    return is_alpha_ascii(c) || (unsigned char)(c - '0') < 10u || c == '\'';
}

static inline char fold_char(char c) {
    unsigned char u = (unsigned char)c;
    return (char)((unsigned char)(u - 'A') < 26u ? u + 32u : u);
}

/* text.c */
size_t text_generate(char *buf, size_t cap, uint32_t seed);
void case_fold(const char *in, char *out, size_t n);
size_t tokenize(const char *text, size_t n, token_t *toks, size_t max_toks);
uint64_t token_shape_stats(const char *text, const token_t *toks, size_t nt);

/* search.c */
size_t count_naive(const char *t, size_t n, const char *p, size_t m);
size_t count_kmp(const char *t, size_t n, const char *p, size_t m);
size_t count_bmh(const char *t, size_t n, const char *p, size_t m);

/* freq.c */
int freq_init(freq_table *ft, size_t cap);
void freq_free(freq_table *ft);
void freq_add_tokens(freq_table *ft, const char *text, const token_t *toks, size_t nt);
size_t freq_top(const freq_table *ft, freq_entry *out, size_t k);

#endif
