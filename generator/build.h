/* The graph builder shared by the expansion (expand.c), the registry's
 * per-op functions (ops.c) and the graph checks (graph.c). Internal to the
 * graph stage. */
#ifndef MCGEN_BUILD_H
#define MCGEN_BUILD_H

#include "ast.h"
#include "graph.h"
#include "ops.h"

struct arena;

typedef enum {
    TGT_CONV_WEIGHT, TGT_CONV_BIAS, TGT_LINEAR_WEIGHT, TGT_LINEAR_BIAS,
    TGT_BN_WEIGHT, TGT_BN_BIAS, TGT_COUNT
} init_target;

typedef enum {
    RULE_DEFAULT, RULE_KAIMING_NORMAL_FAN_IN, RULE_KAIMING_NORMAL_FAN_OUT, RULE_UNIFORM_FAN_IN,
    RULE_NORMAL, RULE_ZEROS, RULE_ONES, RULE_COUNT
} init_rule;

typedef struct init_choice {
    init_rule rule;
    double arg;
} init_choice;

/* While expanding, a node's inputs are references: a name may be used before
 * the line that defines it, so a reference is resolved when its scope
 * closes. A reference points at a node, or aliases another reference (the
 * input of an empty block), or is pending (node < 0, alias < 0). */
typedef struct ref {
    int node, alias;
    const char *name; /* full name looked up, for pending references */
    mc_loc at;
    const char *where;
} ref;

struct build {
    struct arena *a;
    diag *d;
    mc_model *m;
    int node_cap, tensor_cap;
    ref *refs;
    int nrefs, ref_cap;
    init_choice init[TGT_COUNT];
};

/* Appends a node and returns its index (the array may move: keep indices).
 * Its inputs (ref indices while expanding) are set by the caller. */
int build_node(build *b, const char *name, const mc_op_info *op, mc_loc at, const char *where);

/* A new reference: to a node (node >= 0), or pending on a name. */
int build_ref(build *b, int node, const char *name, mc_loc at, const char *where);

/* Reports an error located at the node's statement, naming where it was
 * expanded. Does not return. */
_Noreturn void build_error(build *b, const mc_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void build_tensor(build *b, mc_node *n, const char *suffix, int ndim, const int *shape, bool is_param,
                  mc_dtype dtype, mc_init init);

/* The init of a weight (or of the bias that goes with it), following the
 * model's "init" lines; fans as PyTorch computes them from the weight. */
mc_init build_init(build *b, init_target t, long long fan_in, long long fan_out);

/* a*b, or an error naming the node if it leaves the sizes we handle. */
long long build_mul(build *b, const mc_node *n, long long x, long long y);

static inline mc_shape build_in(build *b, const mc_node *n, int i) { return b->m->nodes[n->inputs[i]].shape; }

const char *shape_str(struct arena *a, mc_shape s);

#endif
