/* Random strings and mutated copies (substitutions, insertions, deletions). */
#include "edit.h"

size_t gen_base(char *out, size_t n, unsigned alphabet, ed_rng *r)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)('A' + ed_rand(r) % alphabet);
    return n;
}

static char random_symbol(unsigned alphabet, ed_rng *r)
{
    return (char)('A' + ed_rand(r) % alphabet);
}

size_t gen_mutant(char *out, size_t cap, const char *src, size_t n, unsigned rate_permille,
                  unsigned alphabet, ed_rng *r)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        uint32_t roll = ed_rand(r) % 1000u;
        if (roll >= rate_permille) {
            out[k++] = src[i];
            continue;
        }
        switch (ed_rand(r) % 3u) {
        case 0: /* substitution */
            out[k++] = random_symbol(alphabet, r);
            break;
        case 1: /* insertion before src[i] */
            out[k++] = random_symbol(alphabet, r);
            if (k < cap)
                out[k++] = src[i];
            break;
        default: /* deletion */
            break;
        }
    }
    return k;
}
