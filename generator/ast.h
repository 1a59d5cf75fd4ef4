/* The syntax tree of a network description (.mcn), as the parser leaves it:
 * nothing evaluated, blocks not expanded, names not resolved. */
#ifndef MCGEN_AST_H
#define MCGEN_AST_H

#include <stdbool.h>

#include "diag.h"

typedef enum {
    E_INT, E_FLOAT, E_BOOL, E_VAR, E_LIST, E_UNARY, E_BINARY, E_CALL
} expr_kind;

typedef struct expr {
    expr_kind kind;
    mc_loc at;
    long long i;      /* E_INT, E_BOOL */
    double f;         /* E_FLOAT */
    const char *name; /* E_VAR, E_CALL */
    int op;           /* E_UNARY, E_BINARY: a token kind (see parse.c) */
    struct expr *a, *b;
    struct expr **items; /* E_LIST, E_CALL's arguments */
    int nitems;
} expr;

/* A layer name such as "layer{s}.{b}": literal text and {expr} parts. */
typedef struct name_part {
    const char *text; /* literal, or NULL for an interpolation */
    expr *e;
} name_part;

typedef struct namepat {
    mc_loc at;
    name_part *parts;
    int nparts;
} namepat;

typedef struct arg {
    mc_loc at;
    const char *key; /* NULL for a positional argument */
    expr *value;
} arg;

typedef struct stmt stmt;

typedef struct stmt_list {
    stmt **items;
    int n, cap;
} stmt_list;

typedef enum { S_LAYER, S_LET, S_FOR, S_IF } stmt_kind;

struct stmt {
    stmt_kind kind;
    mc_loc at;
    /* S_LAYER: [name:] op args... [from input...] */
    namepat *name; /* NULL for an anonymous layer */
    const char *op;
    mc_loc op_at;
    arg *args;
    int nargs;
    namepat **from;
    int nfrom;
    /* S_LET (var = value), S_FOR (for var in value..hi) */
    const char *var;
    expr *value, *hi;
    /* S_IF */
    expr *cond;
    stmt_list body, orelse; /* S_FOR, S_IF */
};

typedef struct block_def {
    mc_loc at;
    const char *name;
    const char **params;
    mc_loc *param_at;
    int nparams;
    stmt_list body;
} block_def;

/* "init conv.weight kaiming_normal_fan_in": see ops.c for targets and rules. */
typedef struct init_stmt {
    mc_loc at;
    const char *target, *rule;
    mc_loc rule_at;
    expr *arg; /* optional, e.g. the std of "normal 0.01" */
} init_stmt;

typedef struct program {
    const char *file;
    const char *model;
    mc_loc model_at;
    int input[3]; /* C, H, W */
    bool has_input;
    long long classes;
    bool has_classes;
    const char *conv_type;
    mc_loc conv_type_at;
    init_stmt *inits;
    int ninits;
    block_def *blocks;
    int nblocks;
    stmt_list body;
} program;

struct arena;
/* Parses text (len bytes, need not be NUL-terminated). On error, reports
 * through d and does not return. */
program *parse_program(struct arena *a, diag *d, const char *file, const char *text, long len);

/* Token kinds that expressions store in expr.op. */
enum {
    T_EOL, T_WORD, T_INT, T_FLOAT,
    T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_DOTDOT,
    T_ASSIGN, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_NOT, T_AND, T_OR
};
const char *token_spelling(int kind);

/* Limits that keep hostile input cheap (see DEVELOPERS.md: never a hang). */
enum {
    MC_MAX_FILE_BYTES = 1 << 20,
    MC_MAX_LINE = 4096,
    MC_MAX_NAME = 256
};

#endif
