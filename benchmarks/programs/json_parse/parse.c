/* Recursive-descent JSON parser building an index-linked DOM. */
#include "json.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    json_doc *doc;
    unsigned depth;
} parser;

static uint32_t parse_value(parser *ps);

static inline void skip_ws(parser *ps)
{
    const char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    ps->p = p;
}

static uint32_t fail(parser *ps, const char *msg)
{
    if (!ps->doc->err)
        ps->doc->err = msg;
    return JSON_NONE;
}

static uint32_t new_node(json_doc *doc, json_type t)
{
    if (doc->count == doc->cap) {
        size_t cap = doc->cap ? doc->cap * 2 : 1024;
        json_node *n = realloc(doc->nodes, cap * sizeof *n);
        if (!n)
            abort();
        doc->nodes = n;
        doc->cap = cap;
    }
    json_node *n = &doc->nodes[doc->count];
    memset(n, 0, sizeof *n);
    n->type = (uint8_t)t;
    n->first_child = JSON_NONE;
    n->next_sibling = JSON_NONE;
    return (uint32_t)doc->count++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(jbuf *b, uint32_t cp)
{
    if (cp < 0x80) {
        jb_putc(b, (char)cp);
    } else if (cp < 0x800) {
        jb_putc(b, (char)(0xc0 | (cp >> 6)));
        jb_putc(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        jb_putc(b, (char)(0xe0 | (cp >> 12)));
        jb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
        jb_putc(b, (char)(0x80 | (cp & 0x3f)));
    }
}

static inline uint64_t has_byte(uint64_t w, uint64_t pattern)
{
    uint64_t x = w ^ pattern;
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* Bytes below 0x20: subtracting 0x20 from each lane borrows exactly there. */
static inline uint64_t has_control(uint64_t w)
{
    return (w - 0x2020202020202020ull) & ~w & 0x8080808080808080ull;
}

/* Skips ordinary string characters, sixteen bytes per step (SWAR); stops at
 * a quote, a backslash or a control character. */
static const char *scan_plain(const char *p, const char *end)
{
    const uint64_t quote = 0x2222222222222222ull, bslash = 0x5c5c5c5c5c5c5c5cull;
    while (end - p >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        uint64_t m0 = has_byte(w0, quote) | has_byte(w0, bslash) | has_control(w0);
        uint64_t m1 = has_byte(w1, quote) | has_byte(w1, bslash) | has_control(w1);
        if (m0 | m1)
            break;
        p += 16;
    }
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    return p;
}

/* Decodes a string literal into the string arena. */
static int parse_string_raw(parser *ps, uint32_t *off, uint32_t *len)
{
    jbuf *sb = &ps->doc->strings;
    const char *p = ps->p + 1, *end = ps->end;
    size_t start = sb->len;
    for (;;) {
        const char *run = p;
        p = scan_plain(p, end);
        jb_puts(sb, run, (size_t)(p - run));
        if (p >= end)
            return 0;
        if (*p == '"')
            break;
        if (*p != '\\')
            return 0;
        if (++p >= end)
            return 0;
        char c = *p++;
        switch (c) {
        case '"': jb_putc(sb, '"'); break;
        case '\\': jb_putc(sb, '\\'); break;
        case '/': jb_putc(sb, '/'); break;
        case 'b': jb_putc(sb, '\b'); break;
        case 'f': jb_putc(sb, '\f'); break;
        case 'n': jb_putc(sb, '\n'); break;
        case 'r': jb_putc(sb, '\r'); break;
        case 't': jb_putc(sb, '\t'); break;
        case 'u': {
            if (end - p < 4)
                return 0;
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = hex_digit(p[i]);
                if (h < 0)
                    return 0;
                cp = cp * 16u + (uint32_t)h;
            }
            p += 4;
            put_utf8(sb, cp);
            break;
        }
        default:
            return 0;
        }
    }
    ps->p = p + 1;
    *off = (uint32_t)start;
    *len = (uint32_t)(sb->len - start);
    return 1;
}

static int64_t scale_pow10(uint64_t mant, int exp10)
{
    while (exp10 > 0 && mant < UINT64_C(1000000000000000000)) {
        mant *= 10u;
        exp10--;
    }
    while (exp10 < 0) {
        mant /= 10u;
        exp10++;
    }
    return mant > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)mant;
}

static uint32_t parse_number(parser *ps)
{
    const char *p = ps->p, *end = ps->end;
    int neg = 0, frac_digits = 0, exp = 0;
    uint64_t mant = 0;
    unsigned digits = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return fail(ps, "bad number");
    while (p < end && *p >= '0' && *p <= '9') {
        if (digits < 18) {
            mant = mant * 10u + (uint64_t)(*p - '0');
            digits++;
        } else {
            exp++;
        }
        p++;
    }
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 18) {
                mant = mant * 10u + (uint64_t)(*p - '0');
                digits++;
                frac_digits++;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0, e = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        while (p < end && *p >= '0' && *p <= '9') {
            if (e < 1000)
                e = e * 10 + (*p - '0');
            p++;
        }
        exp += eneg ? -e : e;
    }
    ps->p = p;
    uint32_t id = new_node(ps->doc, J_NUMBER);
    int64_t v = scale_pow10(mant, exp - frac_digits + 6);
    ps->doc->nodes[id].num = neg ? -v : v;
    return id;
}

static uint32_t parse_literal(parser *ps, const char *word, size_t n, json_type t)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "bad literal");
    ps->p += n;
    return new_node(ps->doc, t);
}

static uint32_t parse_array(parser *ps)
{
    uint32_t id = new_node(ps->doc, J_ARRAY), last = JSON_NONE;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return id;
    }
    for (;;) {
        uint32_t child = parse_value(ps);
        if (child == JSON_NONE)
            return JSON_NONE;
        if (last == JSON_NONE)
            ps->doc->nodes[id].first_child = child;
        else
            ps->doc->nodes[last].next_sibling = child;
        last = child;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated array");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            return id;
        }
        return fail(ps, "expected , or ]");
    }
}

static uint32_t parse_object(parser *ps)
{
    uint32_t id = new_node(ps->doc, J_OBJECT), last = JSON_NONE;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return id;
    }
    for (;;) {
        uint32_t koff, klen;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"' || !parse_string_raw(ps, &koff, &klen))
            return fail(ps, "bad key");
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return fail(ps, "expected :");
        ps->p++;
        uint32_t child = parse_value(ps);
        if (child == JSON_NONE)
            return JSON_NONE;
        ps->doc->nodes[child].key_off = koff;
        ps->doc->nodes[child].key_len = klen;
        if (last == JSON_NONE)
            ps->doc->nodes[id].first_child = child;
        else
            ps->doc->nodes[last].next_sibling = child;
        last = child;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, "unterminated object");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            return id;
        }
        return fail(ps, "expected , or }");
    }
}

static uint32_t parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end");
    if (++ps->depth > 512)
        return fail(ps, "too deep");
    uint32_t id;
    switch (*ps->p) {
    case '{': id = parse_object(ps); break;
    case '[': id = parse_array(ps); break;
    case '"': {
        uint32_t off, len;
        if (!parse_string_raw(ps, &off, &len))
            return fail(ps, "bad string");
        id = new_node(ps->doc, J_STRING);
        ps->doc->nodes[id].str_off = off;
        ps->doc->nodes[id].str_len = len;
        break;
    }
    case 't': id = parse_literal(ps, "true", 4, J_TRUE); break;
    case 'f': id = parse_literal(ps, "false", 5, J_FALSE); break;
    case 'n': id = parse_literal(ps, "null", 4, J_NULL); break;
    default: id = parse_number(ps); break;
    }
    ps->depth--;
    return id;
}

void json_doc_init(json_doc *doc)
{
    doc->nodes = NULL;
    doc->count = doc->cap = 0;
    jb_init(&doc->strings, 1u << 16);
    doc->err = NULL;
}

void json_doc_reset(json_doc *doc)
{
    doc->count = 0;
    doc->strings.len = 0;
    doc->err = NULL;
}

void json_doc_free(json_doc *doc)
{
    free(doc->nodes);
    jb_free(&doc->strings);
}

uint32_t json_parse(json_doc *doc, const char *text, size_t len)
{
    parser ps = { text, text + len, doc, 0 };
    uint32_t root = parse_value(&ps);
    if (root == JSON_NONE)
        return JSON_NONE;
    skip_ws(&ps);
    if (ps.p != ps.end)
        return fail(&ps, "trailing characters");
    return root;
}
