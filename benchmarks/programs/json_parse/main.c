/* JSON benchmark driver: generate, parse, summarize, serialize, reparse. */
#include "json.h"
#include <stdio.h>

#define TEXT_SIZE (3u << 20)
#define ROUNDS 2

static uint64_t stats_digest(const json_stats *st)
{
    uint64_t h = st->num_sum ^ (st->str_hash * 31u) ^ st->max_depth;
    for (int i = 0; i < 7; i++)
        h = h * 0x9e3779b97f4a7c15ull + st->counts[i];
    return h;
}

int main(void)
{
    uint64_t digest = 0;
    size_t total_nodes = 0, total_bytes = 0;
    int ok = 1;
    jbuf text, again;
    json_doc doc, doc2;
    jb_init(&text, TEXT_SIZE + 4096);
    jb_init(&again, TEXT_SIZE + 4096);
    json_doc_init(&doc);
    json_doc_init(&doc2);
    for (unsigned r = 0; r < ROUNDS; r++) {
        json_stats st, st2;
        text.len = again.len = 0;
        json_doc_reset(&doc);
        json_doc_reset(&doc2);
        json_generate(&text, 0x5eed0000u + r * 101u, TEXT_SIZE);
        uint32_t root = json_parse(&doc, text.data, text.len);
        if (root == JSON_NONE) {
            printf("parse error: %s\n", doc.err);
            return 1;
        }
        json_collect(&doc, root, &st);
        int64_t ids = json_sum_member(&doc, root, "id");
        int64_t prices = json_sum_member(&doc, root, "price");

        json_write(&doc, root, &again);
        uint32_t root2 = json_parse(&doc2, again.data, again.len);
        if (root2 == JSON_NONE)
            ok = 0;
        else {
            json_collect(&doc2, root2, &st2);
            if (stats_digest(&st) != stats_digest(&st2) || doc.count != doc2.count)
                ok = 0;
        }
        digest = digest * 1000003u ^ stats_digest(&st);
        digest = digest * 1000003u ^ (uint64_t)ids ^ ((uint64_t)prices << 1);
        total_nodes += doc.count;
        total_bytes += text.len + again.len;
    }
    json_doc_free(&doc);
    json_doc_free(&doc2);
    jb_free(&text);
    jb_free(&again);
    printf("json_parse rounds=%u bytes=%zu nodes=%zu roundtrip=%s\n", ROUNDS, total_bytes, total_nodes,
           ok ? "ok" : "FAIL");
    printf("checksum=%016llx\n", (unsigned long long)digest);
    return ok ? 0 : 1;
}
