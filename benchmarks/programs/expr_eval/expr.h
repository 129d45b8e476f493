/* Expression language benchmark: lexer, parser, tree evaluator and bytecode VM. */
#ifndef EXPR_BENCH_H
#define EXPR_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define MAX_VARS 64
#define MAX_NAME 16

typedef enum {
    T_NUM, T_IDENT, T_LPAREN, T_RPAREN, T_COMMA, T_SEMI, T_ASSIGN,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_AMP, T_PIPE, T_CARET,
    T_SHL, T_SHR, T_LT, T_GT, T_EQ, T_NE, T_TILDE, T_QUEST, T_COLON, T_MIN, T_MAX, T_EOF, T_ERROR
} tok_type;

typedef struct {
    uint8_t type;
    uint32_t var;  /* for identifiers */
    uint64_t num;  /* for numbers */
} token;

typedef struct {
    char names[MAX_VARS][MAX_NAME];
    unsigned count;
} symtab;

typedef enum {
    N_NUM, N_VAR, N_NEG, N_NOT, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD, N_AND, N_OR, N_XOR,
    N_SHL, N_SHR, N_LT, N_GT, N_EQ, N_NE, N_MIN, N_MAX, N_COND
} node_kind;

typedef struct {
    uint8_t kind;
    uint32_t a, b, c; /* child indices */
    uint64_t value;   /* constant or variable index */
} ast_node;

typedef struct {
    uint32_t target; /* variable index */
    uint32_t expr;   /* root node */
} statement;

typedef struct {
    ast_node *nodes;
    size_t nnodes, cap_nodes;
    statement *stmts;
    size_t nstmts, cap_stmts;
} program;

typedef enum {
    OP_PUSH, OP_LOAD, OP_STORE, OP_NEG, OP_NOT, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_AND, OP_OR, OP_XOR, OP_SHL, OP_SHR, OP_LT, OP_GT, OP_EQ, OP_NE, OP_MIN, OP_MAX,
    OP_SELECT, OP_HALT
} opcode;

typedef struct {
    uint64_t *code; /* opcode in low 8 bits, operand above */
    size_t len, cap;
    uint64_t *consts;
    size_t nconsts, cap_consts;
} bytecode;

/* lexer.c */
size_t lex_all(const char *src, size_t n, symtab *syms, token *out, size_t cap);
int sym_intern(symtab *s, const char *name, size_t len);

/* parser.c */
int parse_program(const token *toks, size_t ntoks, program *prog);
void program_init(program *p);
void program_free(program *p);
size_t fold_constants(program *p);

/* eval.c */
void eval_tree(const program *p, uint64_t *vars);
int compile_program(const program *p, bytecode *bc);
void run_bytecode(const bytecode *bc, uint64_t *vars);
void bytecode_free(bytecode *bc);
uint64_t apply_binary(int kind, uint64_t x, uint64_t y);

/* gen.c */
size_t generate_source(char *buf, size_t cap, unsigned nstmts, uint64_t seed);

#endif
