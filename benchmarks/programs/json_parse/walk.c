/* DOM traversal: statistics, member sums and a compact serializer. */
#include "json.h"
#include <stdlib.h>
#include <string.h>

static inline uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void collect_rec(const json_doc *doc, uint32_t id, unsigned depth, json_stats *st)
{
    while (id != JSON_NONE) {
        const json_node *n = &doc->nodes[id];
        st->counts[n->type]++;
        if (depth > st->max_depth)
            st->max_depth = depth;
        if (n->key_len)
            st->str_hash = hash_bytes(st->str_hash, doc->strings.data + n->key_off, n->key_len);
        switch (n->type) {
        case J_NUMBER:
            st->num_sum += (uint64_t)n->num;
            break;
        case J_STRING:
            st->str_hash = hash_bytes(st->str_hash, doc->strings.data + n->str_off, n->str_len);
            break;
        case J_ARRAY:
        case J_OBJECT:
            collect_rec(doc, n->first_child, depth + 1, st);
            break;
        default:
            break;
        }
        if (depth == 0)
            break;
        id = n->next_sibling;
    }
}

void json_collect(const json_doc *doc, uint32_t root, json_stats *st)
{
    memset(st, 0, sizeof *st);
    st->str_hash = 0xcbf29ce484222325ull;
    collect_rec(doc, root, 0, st);
}

static int key_equals(const json_doc *doc, const json_node *n, const char *key, size_t klen)
{
    return n->key_len == klen && memcmp(doc->strings.data + n->key_off, key, klen) == 0;
}

/* Sums numeric members named key in every object of the tree (iterative DFS
 * with a growable explicit stack). */
int64_t json_sum_member(const json_doc *doc, uint32_t root, const char *key)
{
    size_t cap = 256, sp = 0;
    uint32_t *stack = malloc(cap * sizeof *stack);
    uint64_t sum = 0;
    size_t klen = strlen(key);
    if (!stack)
        abort();
    stack[sp++] = root;
    while (sp > 0) {
        const json_node *n = &doc->nodes[stack[--sp]];
        if (n->type != J_ARRAY && n->type != J_OBJECT)
            continue;
        for (uint32_t c = n->first_child; c != JSON_NONE; c = doc->nodes[c].next_sibling) {
            const json_node *ch = &doc->nodes[c];
            if (n->type == J_OBJECT && ch->type == J_NUMBER && key_equals(doc, ch, key, klen))
                sum += (uint64_t)ch->num;
            if (ch->type == J_ARRAY || ch->type == J_OBJECT) {
                if (sp == cap) {
                    cap *= 2;
                    uint32_t *grown = realloc(stack, cap * sizeof *stack);
                    if (!grown)
                        abort();
                    stack = grown;
                }
                stack[sp++] = c;
            }
        }
    }
    free(stack);
    return (int64_t)(sum & 0x7fffffffffffffffull);
}

static void write_string(jbuf *out, const char *s, size_t n)
{
    jb_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            jb_putc(out, '\\');
            jb_putc(out, (char)c);
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            jb_puts(out, "\\u00", 4);
            jb_putc(out, hex[c >> 4]);
            jb_putc(out, hex[c & 15u]);
        } else {
            jb_putc(out, (char)c);
        }
    }
    jb_putc(out, '"');
}

static void write_number(jbuf *out, int64_t v)
{
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = a / JSON_SCALE, fp = a % JSON_SCALE;
    if (v < 0)
        jb_putc(out, '-');
    jb_put_uint(out, ip, 1);
    if (fp) {
        unsigned digits = 6;
        while (fp % 10u == 0) {
            fp /= 10u;
            digits--;
        }
        jb_putc(out, '.');
        jb_put_uint(out, fp, digits);
    }
}

static void write_rec(const json_doc *doc, uint32_t id, int in_object, jbuf *out)
{
    const json_node *n = &doc->nodes[id];
    if (in_object) {
        write_string(out, doc->strings.data + n->key_off, n->key_len);
        jb_putc(out, ':');
    }
    switch (n->type) {
    case J_NULL: jb_puts(out, "null", 4); break;
    case J_FALSE: jb_puts(out, "false", 5); break;
    case J_TRUE: jb_puts(out, "true", 4); break;
    case J_NUMBER: write_number(out, n->num); break;
    case J_STRING: write_string(out, doc->strings.data + n->str_off, n->str_len); break;
    default: {
        int obj = n->type == J_OBJECT;
        jb_putc(out, obj ? '{' : '[');
        for (uint32_t c = n->first_child; c != JSON_NONE; c = doc->nodes[c].next_sibling) {
            if (c != n->first_child)
                jb_putc(out, ',');
            write_rec(doc, c, obj, out);
        }
        jb_putc(out, obj ? '}' : ']');
        break;
    }
    }
}

void json_write(const json_doc *doc, uint32_t root, jbuf *out)
{
    write_rec(doc, root, 0, out);
}
