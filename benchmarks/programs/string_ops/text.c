#include <string.h>
#include "strops.h"

static uint32_t tg_state;

static uint32_t tg_next(void) {
    tg_state = tg_state * 747796405u + 2891336453u;
    uint32_t w = ((tg_state >> ((tg_state >> 28) + 4u)) ^ tg_state) * 277803737u;
    return (w >> 22) ^ w;
}

static const char *const syllables[] = {
    "an", "ber", "co", "di", "el", "fa", "go", "hi", "in", "jo", "ka", "lu", "ma", "ne",
    "or", "pe", "qui", "ra", "st", "the", "un", "ve", "wa", "xy", "yo", "ze", "ing", "tion"};

/* Zipf-like skew: the product of two uniforms favours small indices */
static uint32_t skewed(uint32_t n) {
    uint32_t a = tg_next() % n, b = tg_next() % n;
    return (a * b) / n;
}

static size_t emit_word(char *buf, size_t pos, size_t cap, uint32_t id) {
    /* the word is fully determined by its id so words repeat */
    uint32_t h = id * 2654435761u;
    int nsyl = 1 + (int)(h % 4u);
    for (int s = 0; s < nsyl; s++) {
        const char *sy = syllables[(h >> (5 * s + 3)) % 28u];
        size_t l = strlen(sy);
        if (pos + l + 2 >= cap)
            return pos;
        memcpy(buf + pos, sy, l);
        pos += l;
    }
    return pos;
}

size_t text_generate(char *buf, size_t cap, uint32_t seed) {
    tg_state = seed;
    size_t pos = 0;
    int sentence_start = 1;
    while (pos + 64 < cap) {
        size_t wstart = pos;
        pos = emit_word(buf, pos, cap, skewed(5000));
        uint32_t r = tg_next() % 100u;
        if (sentence_start || r < 4)
            buf[wstart] = (char)(buf[wstart] - 32);
        if (r >= 4 && r < 6) {
            for (size_t i = wstart; i < pos; i++)
                buf[i] = (char)(buf[i] & ~0x20);
        }
        sentence_start = 0;
        r = tg_next() % 100u;
        if (r < 8) {
            buf[pos++] = '.';
            sentence_start = 1;
        } else if (r < 13) {
            buf[pos++] = ',';
        } else if (r < 15) {
            buf[pos++] = '\'';
            buf[pos++] = 's';
        }
        buf[pos++] = (r % 17u == 0) ? '\n' : ' ';
    }
    buf[pos] = '\0';
    return pos;
}

void case_fold(const char *in, char *out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        char a = fold_char(in[i]), b = fold_char(in[i + 1]);
        char c = fold_char(in[i + 2]), d = fold_char(in[i + 3]);
        out[i] = a; out[i + 1] = b; out[i + 2] = c; out[i + 3] = d;
    }
    for (; i < n; i++)
        out[i] = fold_char(in[i]);
    out[n] = '\0';
}

size_t tokenize(const char *text, size_t n, token_t *toks, size_t max_toks) {
    size_t nt = 0, i = 0;
    while (i < n && nt < max_toks) {
        while (i < n && !is_word_char((unsigned char)text[i]))
            i++;
        size_t start = i;
        while (i < n && is_word_char((unsigned char)text[i]))
            i++;
        if (i > start) {
            toks[nt].off = (uint32_t)start;
            toks[nt].len = (uint32_t)(i - start);
            nt++;
        }
    }
    return nt;
}

/* counts token shapes: capitalised, all-caps, with apostrophe, length histogram hash */
uint64_t token_shape_stats(const char *text, const token_t *toks, size_t nt) {
    uint64_t caps = 0, upper = 0, apos = 0, lensum = 0;
    uint32_t hist[16] = {0};
    for (size_t k = 0; k < nt; k++) {
        const char *w = text + toks[k].off;
        uint32_t len = toks[k].len;
        int all_up = 1, has_apos = 0;
        for (uint32_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)w[i];
            if (c == '\'')
                has_apos = 1;
            else if ((unsigned char)(c - 'a') < 26u)
                all_up = 0;
        }
        caps += (unsigned char)(w[0] - 'A') < 26u;
        upper += all_up && len > 1;
        apos += has_apos;
        lensum += len;
        hist[len < 15 ? len : 15]++;
    }
    uint64_t h = caps * 1000003u ^ upper * 10007u ^ apos * 101u ^ lensum;
    for (int i = 0; i < 16; i++)
        h = h * 31u + hist[i];
    return h;
}
