/* Tokenizer for the expression language. */
#include "expr.h"
#include <string.h>

int sym_intern(symtab *s, const char *name, size_t len)
{
    if (len >= MAX_NAME)
        return -1;
    for (unsigned i = 0; i < s->count; i++)
        if (strncmp(s->names[i], name, len) == 0 && s->names[i][len] == '\0')
            return (int)i;
    if (s->count >= MAX_VARS)
        return -1;
    memcpy(s->names[s->count], name, len);
    s->names[s->count][len] = '\0';
    return (int)s->count++;
}

static inline int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t lex_number(const char *s, size_t i, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        for (; i < n; i++) {
            char c = s[i];
            unsigned d;
            if (is_digit(c))
                d = (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                d = (unsigned)(c - 'a' + 10);
            else
                break;
            v = (v << 4) | d;
        }
    } else {
        for (; i < n && is_digit(s[i]); i++)
            v = v * 10u + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return i;
}

static int two_char_op(char a, char b, tok_type *t)
{
    if (a == '<' && b == '<') *t = T_SHL;
    else if (a == '>' && b == '>') *t = T_SHR;
    else if (a == '=' && b == '=') *t = T_EQ;
    else if (a == '!' && b == '=') *t = T_NE;
    else return 0;
    return 1;
}

static tok_type one_char_op(char c)
{
    switch (c) {
    case '(': return T_LPAREN;
    case ')': return T_RPAREN;
    case ',': return T_COMMA;
    case ';': return T_SEMI;
    case '=': return T_ASSIGN;
    case '+': return T_PLUS;
    case '-': return T_MINUS;
    case '*': return T_STAR;
    case '/': return T_SLASH;
    case '%': return T_PERCENT;
    case '&': return T_AMP;
    case '|': return T_PIPE;
    case '^': return T_CARET;
    case '<': return T_LT;
    case '>': return T_GT;
    case '~': return T_TILDE;
    case '?': return T_QUEST;
    case ':': return T_COLON;
    default: return T_ERROR;
    }
}

size_t lex_all(const char *src, size_t n, symtab *syms, token *out, size_t cap)
{
    size_t i = 0, k = 0;
    while (k + 1 < cap) {
        while (i < n && (src[i] == ' ' || src[i] == '\n' || src[i] == '\t'))
            i++;
        if (i >= n)
            break;
        token t = { T_ERROR, 0, 0 };
        char c = src[i];
        if (is_digit(c)) {
            t.type = T_NUM;
            i = lex_number(src, i, n, &t.num);
        } else if (is_ident_start(c)) {
            size_t start = i;
            while (i < n && (is_ident_start(src[i]) || is_digit(src[i])))
                i++;
            size_t len = i - start;
            if (len == 3 && memcmp(src + start, "min", 3) == 0) {
                t.type = T_MIN;
            } else if (len == 3 && memcmp(src + start, "max", 3) == 0) {
                t.type = T_MAX;
            } else {
                int id = sym_intern(syms, src + start, len);
                t.type = id < 0 ? T_ERROR : T_IDENT;
                t.var = id < 0 ? 0 : (uint32_t)id;
            }
        } else {
            tok_type tt;
            if (i + 1 < n && two_char_op(c, src[i + 1], &tt)) {
                t.type = (uint8_t)tt;
                i += 2;
            } else {
                t.type = (uint8_t)one_char_op(c);
                i++;
            }
        }
        out[k++] = t;
    }
    out[k].type = T_EOF;
    return k;
}
