/* Growable character buffer. */
#include "json.h"
#include <stdlib.h>
#include <string.h>

void jb_init(jbuf *b, size_t cap)
{
    b->data = malloc(cap ? cap : 16);
    b->len = 0;
    b->cap = cap ? cap : 16;
    if (!b->data)
        abort();
}

void jb_reserve(jbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap * 2;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

void jb_putc(jbuf *b, char c)
{
    jb_reserve(b, 1);
    b->data[b->len++] = c;
}

void jb_puts(jbuf *b, const char *s, size_t n)
{
    jb_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Appends v in decimal, zero-padded to at least min_digits digits. */
void jb_put_uint(jbuf *b, uint64_t v, unsigned min_digits)
{
    char tmp[24];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && n < sizeof tmp);
    while (n < min_digits && n < sizeof tmp)
        tmp[n++] = '0';
    jb_reserve(b, n);
    while (n > 0)
        b->data[b->len++] = tmp[--n];
}

void jb_free(jbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
