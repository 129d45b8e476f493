/* JSON parsing benchmark: shared declarations. */
#ifndef JSON_BENCH_H
#define JSON_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define JSON_SCALE 1000000 /* numbers are kept as fixed point with 6 decimals */
#define JSON_NONE 0xffffffffu

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } json_type;

typedef struct {
    char *data;
    size_t len, cap;
} jbuf;

typedef struct {
    uint8_t type;
    uint32_t first_child;  /* arrays / objects */
    uint32_t next_sibling;
    uint32_t key_off, key_len; /* member key (objects only) */
    uint32_t str_off, str_len; /* strings */
    int64_t num;               /* numbers, scaled by JSON_SCALE */
} json_node;

typedef struct {
    json_node *nodes;
    size_t count, cap;
    jbuf strings; /* arena of decoded strings */
    const char *err;
} json_doc;

typedef struct {
    uint64_t num_sum;
    uint64_t str_hash;
    size_t counts[7];
    unsigned max_depth;
} json_stats;

/* buf.c */
void jb_init(jbuf *b, size_t cap);
void jb_reserve(jbuf *b, size_t extra);
void jb_putc(jbuf *b, char c);
void jb_puts(jbuf *b, const char *s, size_t n);
void jb_put_uint(jbuf *b, uint64_t v, unsigned min_digits);
void jb_free(jbuf *b);

/* gen.c */
void json_generate(jbuf *out, uint64_t seed, size_t target_size);

/* parse.c */
uint32_t json_parse(json_doc *doc, const char *text, size_t len);
void json_doc_init(json_doc *doc);
void json_doc_reset(json_doc *doc);
void json_doc_free(json_doc *doc);

/* walk.c */
void json_collect(const json_doc *doc, uint32_t root, json_stats *st);
int64_t json_sum_member(const json_doc *doc, uint32_t root, const char *key);
void json_write(const json_doc *doc, uint32_t root, jbuf *out);

#endif
