/* The op registry: one row per op of the description language. The parser's
 * argument checking, the language reference (mcgen ops), shape inference,
 * parameter naming, MAC counting and lowering of composite ops all read these
 * rows; adding an op means adding a row and its functions in ops.c. */
#ifndef MCGEN_OPS_H
#define MCGEN_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "graph.h"

typedef enum { KEY_INT, KEY_FLOAT, KEY_BOOL, KEY_KERNELS, KEY_CONVTYPE } mc_key_type;

typedef struct mc_key {
    const char *name;
    mc_key_type type;
    size_t field;       /* offsetof(mc_node, ...) */
    bool positional;    /* may be given without "name=" (in row order) */
    bool required;
    double dflt, min, max;
    const char *dflt_doc; /* how the default reads in the docs */
    const char *doc;
} mc_key;

typedef struct build build; /* graph builder, see build.h */

typedef struct mc_op_info {
    const char *name;
    mc_opcode code;
    const char *doc;
    const char *example;
    const mc_key *keys;
    int min_inputs, max_inputs; /* max_inputs -1: any number */
    bool has_params;            /* its tensors are named after it, so it needs a name */
    const char *tmpl;           /* its C template, templates/c/<tmpl>.m4 (NULL: no code) */
    /* Composite ops: append the primitive nodes this statement stands for,
     * reading the reference `input`; returns a reference to the output. */
    int (*lower)(build *b, const mc_node *spec, int input);
    /* Primitive ops: output shape and MACs from the inputs' shapes. */
    void (*infer)(build *b, mc_node *n);
    /* Primitive ops with tensors: append them (state_dict order). */
    void (*tensors)(build *b, mc_node *n);
} mc_op_info;

extern const mc_op_info mc_ops[];
extern const int mc_nops;
const mc_op_info *mc_find_op(const char *name);
const mc_op_info *mc_op(mc_opcode code);

/* MixConv's channel groups: c split in 3, the first taking the remainder
 * (the reference's split(C, 3)); group j has kernel size 3 + 2j. */
void mc_mix_split(int c, int out[3]);

/* Init targets ("init conv.weight RULE") and rules, for the docs. */
extern const char *const mc_init_targets[];
extern const int mc_ninit_targets;
extern const char *const mc_init_rule_docs[][2];
extern const int mc_ninit_rules;

#endif
