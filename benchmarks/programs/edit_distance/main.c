/* Edit distance benchmark driver: pairs of related strings of varying
 * similarity; all Levenshtein variants must agree. */
#include "edit.h"
#include <stdio.h>
#include <stdlib.h>

#define LEN 3000
#define PAIRS 10
#define TB_LEN 1200

static int is_subsequence(const char *s, size_t ns, const char *t, size_t nt)
{
    size_t j = 0;
    for (size_t i = 0; i < nt && j < ns; i++)
        if (t[i] == s[j])
            j++;
    return j == ns;
}

int main(void)
{
    char *a = malloc(LEN), *b = malloc(2 * LEN), *lcs = malloc(2 * LEN);
    uint32_t *row = malloc((2 * LEN + 8) * sizeof *row);
    uint16_t *table = malloc((size_t)(TB_LEN + 1) * (2 * TB_LEN + 1) * sizeof *table);
    if (!a || !b || !lcs || !row || !table)
        return 1;
    ed_rng r = { 0x0ddba11u };
    uint64_t digest = 0;
    uint32_t total_lev = 0, total_lcs = 0;
    int ok = 1;
    for (unsigned p = 0; p < PAIRS; p++) {
        unsigned alphabet = 4 + (p % 3) * 10;
        unsigned rate = 20 + p * 40;
        size_t na = gen_base(a, LEN, alphabet, &r);
        size_t nb = gen_mutant(b, 2 * LEN, a, na, rate, alphabet, &r);
        uint32_t d1 = levenshtein(a, na, b, nb, row);
        uint32_t d2 = levenshtein_bitpar(a, na, b, nb);
        uint32_t band = d1 + 3;
        uint32_t d3 = levenshtein_banded(a, na, b, nb, band, row);
        uint32_t l1 = lcs_length(a, na, b, nb, row);
        size_t tna = na < TB_LEN ? na : TB_LEN, tnb = nb < TB_LEN ? nb : TB_LEN;
        size_t l2 = lcs_traceback(a, tna, b, tnb, table, lcs);
        if (d1 != d2 || d1 != d3 || !is_subsequence(lcs, l2, a, tna) || !is_subsequence(lcs, l2, b, tnb))
            ok = 0;
        if (l2 != lcs_length(a, tna, b, tnb, row))
            ok = 0;
        total_lev += d1;
        total_lcs += l1;
        digest = digest * 1000003u + d1 * 65537u + l1 * 31u + (uint32_t)l2;
    }
    printf("edit_distance pairs=%u levenshtein_sum=%u lcs_sum=%u agree=%s\n", PAIRS, total_lev,
           total_lcs, ok ? "ok" : "FAIL");
    printf("checksum=%016llx\n", (unsigned long long)digest);
    free(a);
    free(b);
    free(lcs);
    free(row);
    free(table);
    return ok ? 0 : 1;
}
