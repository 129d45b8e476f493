#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include "regex.h"

#define NLINES 16000
#define MAXLINE 160

static uint32_t text_rng = 0xC0FFEEu;

static uint32_t text_next(void) {
    text_rng ^= text_rng << 13;
    text_rng ^= text_rng >> 17;
    text_rng ^= text_rng << 5;
    return text_rng;
}

static const char *const vocab[] = {
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "colour", "color",
    "running", "singing", "string", "queue", "quartz", "zebra", "abacus", "error", "warning",
    "info", "debug", "seven", "eleven", "bookkeeper", "committee", "aardvark", "xylophone",
    "value", "valve", "river", "rover", "abc", "abbbc", "ac", "fizz", "buzz", "zigzag"};

static int append_token(char *line, int len) {
    uint32_t r = text_next() % 100u;
    if (r < 70) {
        const char *w = vocab[text_next() % (sizeof vocab / sizeof vocab[0])];
        int wl = (int)strlen(w);
        if (len + wl >= MAXLINE - 1)
            return len;
        memcpy(line + len, w, (size_t)wl);
        return len + wl;
    }
    int n = 1 + (int)(text_next() % 8u);
    if (len + n >= MAXLINE - 1)
        return len;
    for (int i = 0; i < n; i++) {
        if (r < 85)
            line[len + i] = (char)('0' + text_next() % 10u);
        else
            line[len + i] = (char)('a' + text_next() % 26u);
    }
    return len + n;
}

static int make_line(char *line) {
    int len = 0, ntok = 4 + (int)(text_next() % 10u);
    for (int t = 0; t < ntok; t++) {
        if (t)
            line[len++] = ' ';
        len = append_token(line, len);
    }
    line[len] = '\0';
    return len;
}

static const char *const patterns[] = {
    "ab*c", "^the", "[0-9]+x?", "q[^u]", "colou?r", "[a-z]+ing$", "z.*z",
    "e[lv]+en", "o.e", "^[a-z]+ [0-9][0-9][0-9]", "[xyz][aeiou]+[0-9]", "k+ee",
    "err?or.*[0-9]$", "v.l.e", "^[^0-9]*$", "b+r?o"};

int main(void) {
    char (*lines)[MAXLINE] = malloc(sizeof(*lines) * NLINES);
    int *lens = malloc(sizeof(int) * NLINES);
    if (!lines || !lens)
        return 1;
    for (int i = 0; i < NLINES; i++)
        lens[i] = make_line(lines[i]);
    int np = (int)(sizeof patterns / sizeof patterns[0]);
    uint64_t pos_hash = 0;
    long total = 0;
    int disagree = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (int p = 0; p < np; p++) {
            regex_t re;
            if (!re_compile(&re, patterns[p])) {
                fprintf(stderr, "bad pattern %s\n", patterns[p]);
                return 1;
            }
            long count = 0;
            for (int i = 0; i < NLINES; i++) {
                int ms = 0, me = 0;
                int b = bt_search(&re, lines[i], lens[i], &ms, &me);
                int n1 = nfa_search(&re, lines[i], lens[i]);
                int n2 = nfa_search_table(&re, lines[i], lens[i]);
                if (b != n1 || b != n2)
                    disagree++;
                if (b) {
                    count++;
                    pos_hash = pos_hash * 1000003u + (uint64_t)(ms * 256 + me);
                }
            }
            if (rep == 0)
                total += count;
            re_free(&re);
        }
    }
    printf("patterns %d lines %d matches %ld\n", np, NLINES, total);
    printf("positions %016" PRIx64 " disagreements %d\n", pos_hash, disagree);
    free(lines);
    free(lens);
    return 0;
}
