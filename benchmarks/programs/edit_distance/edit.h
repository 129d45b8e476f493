/* Edit distance / LCS dynamic programming benchmark: shared declarations. */
#ifndef EDIT_BENCH_H
#define EDIT_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} ed_rng;

static inline uint32_t ed_rand(ed_rng *r)
{
    r->s = r->s * 2862933555777941757ull + 3037000493ull;
    return (uint32_t)(r->s >> 32);
}

/* gen.c */
size_t gen_base(char *out, size_t n, unsigned alphabet, ed_rng *r);
size_t gen_mutant(char *out, size_t cap, const char *src, size_t n, unsigned rate_permille,
                  unsigned alphabet, ed_rng *r);

/* levenshtein.c */
uint32_t levenshtein(const char *a, size_t na, const char *b, size_t nb, uint32_t *row);
uint32_t levenshtein_banded(const char *a, size_t na, const char *b, size_t nb, uint32_t band,
                            uint32_t *row);
uint32_t levenshtein_bitpar(const char *pat, size_t m, const char *text, size_t n);

/* lcs.c */
uint32_t lcs_length(const char *a, size_t na, const char *b, size_t nb, uint32_t *rows);
size_t lcs_traceback(const char *a, size_t na, const char *b, size_t nb, uint16_t *table,
                     char *out);

#endif
