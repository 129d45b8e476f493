/* Deterministic pseudo-English text generator used as compression input. */
#include "lz77.h"

#define VOCAB_SIZE 640
#define MAX_WORD 12

typedef struct {
    char text[MAX_WORD + 1];
    uint8_t len;
} word_t;

static const char consonants[] = "bcdfghklmnprstvwz";
static const char vowels[] = "aeiouy";

static void make_word(word_t *w, lz_rng *r)
{
    unsigned len = 2 + lz_rng_below(r, MAX_WORD - 1);
    for (unsigned i = 0; i < len; i++) {
        if (i & 1u)
            w->text[i] = vowels[lz_rng_below(r, sizeof vowels - 1)];
        else
            w->text[i] = consonants[lz_rng_below(r, sizeof consonants - 1)];
    }
    w->text[len] = '\0';
    w->len = (uint8_t)len;
}

/* Skewed index selection: small indices are much more frequent. */
static unsigned pick_word(lz_rng *r)
{
    uint32_t a = lz_rng_below(r, VOCAB_SIZE);
    uint32_t b = lz_rng_below(r, VOCAB_SIZE);
    uint32_t c = lz_rng_below(r, VOCAB_SIZE);
    return (unsigned)((uint64_t)a * b / VOCAB_SIZE * c / VOCAB_SIZE);
}

static size_t put_number(uint8_t *buf, size_t pos, size_t n, uint32_t v)
{
    char tmp[12];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && k < 11);
    while (k > 0 && pos < n)
        buf[pos++] = (uint8_t)tmp[--k];
    return pos;
}

size_t lz_generate_text(uint8_t *buf, size_t n, uint64_t seed)
{
    static word_t vocab[VOCAB_SIZE];
    lz_rng r = { seed | 1u };
    for (unsigned i = 0; i < VOCAB_SIZE; i++)
        make_word(&vocab[i], &r);

    size_t pos = 0;
    unsigned in_sentence = 0;
    while (pos < n) {
        const word_t *w = &vocab[pick_word(&r)];
        for (unsigned i = 0; i < w->len && pos < n; i++) {
            uint8_t ch = (uint8_t)w->text[i];
            if (in_sentence == 0 && i == 0)
                ch = (uint8_t)(ch - 'a' + 'A');
            buf[pos++] = ch;
        }
        in_sentence++;
        uint32_t roll = lz_rng_below(&r, 100);
        if (pos >= n)
            break;
        if (roll < 6 && in_sentence > 3) {
            buf[pos++] = '.';
            if (pos < n)
                buf[pos++] = (lz_rng_below(&r, 8) == 0) ? '\n' : ' ';
            in_sentence = 0;
        } else if (roll < 10) {
            buf[pos++] = ',';
            if (pos < n)
                buf[pos++] = ' ';
        } else if (roll < 12) {
            buf[pos++] = ' ';
            pos = put_number(buf, pos, n, lz_rng_below(&r, 2000));
            if (pos < n)
                buf[pos++] = ' ';
        } else {
            buf[pos++] = ' ';
        }
    }
    return pos;
}
