/* Expression benchmark driver: lex, parse, fold, compile, then evaluate many
 * environments with both the tree walker and the VM, checking they agree. */
#include "expr.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPROGRAMS 6
#define STMTS 1500
#define RUNS 48
#define SRC_CAP (1u << 20)

static void init_env(uint64_t *vars, unsigned count, uint64_t seed)
{
    for (unsigned i = 0; i < count; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        vars[i] = seed >> (i % 7);
    }
}

static uint64_t env_hash(const uint64_t *vars, unsigned count)
{
    uint64_t h = 0;
    for (unsigned i = 0; i < count; i++)
        h = (h ^ vars[i]) * 0x100000001b3ull + i;
    return h;
}

int main(void)
{
    char *src = malloc(SRC_CAP);
    token *toks = malloc(sizeof(token) * (SRC_CAP / 2));
    if (!src || !toks)
        return 1;
    uint64_t digest = 0;
    size_t total_tokens = 0, total_nodes = 0, total_folds = 0;
    int ok = 1;
    for (unsigned pi = 0; pi < NPROGRAMS; pi++) {
        symtab syms;
        program prog;
        bytecode bc;
        syms.count = 0;
        program_init(&prog);
        size_t n = generate_source(src, SRC_CAP, STMTS, 0xabcdefu + pi * 7777u);
        size_t nt = lex_all(src, n, &syms, toks, SRC_CAP / 2);
        if (!parse_program(toks, nt, &prog)) {
            printf("parse error in program %u\n", pi);
            return 1;
        }
        total_folds += fold_constants(&prog);
        if (!compile_program(&prog, &bc)) {
            printf("compile error in program %u\n", pi);
            return 1;
        }
        total_tokens += nt;
        total_nodes += prog.nnodes;
        for (unsigned r = 0; r < RUNS; r++) {
            uint64_t v1[MAX_VARS], v2[MAX_VARS];
            init_env(v1, MAX_VARS, r * 0x9e3779b9u + pi);
            memcpy(v2, v1, sizeof v1);
            eval_tree(&prog, v1);
            run_bytecode(&bc, v2);
            if (memcmp(v1, v2, sizeof v1) != 0)
                ok = 0;
            digest = digest * 31u ^ env_hash(v1, syms.count);
        }
        bytecode_free(&bc);
        program_free(&prog);
    }
    printf("expr_eval programs=%u tokens=%zu nodes=%zu folds=%zu agree=%s\n", NPROGRAMS, total_tokens,
           total_nodes, total_folds, ok ? "ok" : "FAIL");
    printf("checksum=%016llx\n", (unsigned long long)digest);
    free(src);
    free(toks);
    return ok ? 0 : 1;
}
