/* The graph stage's result: a model with every block expanded, every name and
 * input resolved, shapes inferred, parameters named (exactly as the reference
 * PyTorch state_dict), counted and laid out. Later stages (plan, emit, the
 * checkpoint writer) read only this. */
#ifndef MCGEN_GRAPH_H
#define MCGEN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct arena;
struct mc_op_info;

enum {
    MC_MAX_KERNELS = 8,   /* kernels in one depthwise/multiception list */
    MC_MAX_K = 31,        /* largest kernel size */
    MC_MAX_CHANNELS = 1 << 16,
    MC_MAX_NODES = 1 << 16,
    MC_MAX_INPUTS = 64,   /* of one layer (add, concat): mc_model.h's MC_LAYER_MAX_INPUTS */
    MC_MAX_DEPTH = 32,    /* nested block instances */
    MC_MAX_STEPS = 1 << 20 /* statements executed while expanding */
};

/* Conv types a `convbn` slot can take. */
typedef enum { MC_STANDARD, MC_DSCONV, MC_MULTICEPTION, MC_MIXCONV, MC_NCONV_TYPES } mc_conv_type;
extern const char *const mc_conv_type_names[MC_NCONV_TYPES];

/* Primitive ops: what the graph holds after composite ops are lowered:
 * the input, then one per layer kind of the runtime (the same names). */
typedef enum {
    OP_INPUT,
#define MC_LAYER_KIND(id, name) OP_##id,
#include "../runtime/mc_layer_kinds.def"
    /* Composite ops: lowered into the primitives above while expanding. */
    OP_POINTWISE, OP_CONVBN, OP_STANDARD, OP_DSCONV, OP_MULTICEPTION
} mc_opcode;

typedef struct mc_shape {
    int c, h, w;
} mc_shape;

/* How a tensor starts. std/bound are computed from the tensor's fan. */
typedef enum { INIT_ZEROS, INIT_ONES, INIT_NORMAL, INIT_UNIFORM } mc_init_kind;

typedef struct mc_init {
    mc_init_kind kind;
    double a;         /* NORMAL: std; UNIFORM: bound (U(-a, a)) */
    const char *rule; /* as written, e.g. "kaiming_normal_fan_in" */
} mc_init;

typedef enum { MC_F32, MC_I64 } mc_dtype;

typedef struct mc_tensor {
    const char *name; /* state_dict name, e.g. "layer1.0.conv_bn.seps.0.weight" */
    int ndim;         /* 0 for num_batches_tracked */
    int shape[4];
    long long numel;
    bool is_param;    /* else a buffer (BN running stats) */
    mc_dtype dtype;
    int node;         /* owning node */
    mc_init init;
    long long offset; /* elements into its area: parameters, buffers or counters */
} mc_tensor;

typedef struct mc_node {
    const char *name; /* full name, e.g. "layer1.0.conv_bn.bn1" */
    const struct mc_op_info *op;
    mc_loc at;         /* the statement that made it */
    const char *where; /* "in block 'basic' at layer2.0" or NULL at the top level */
    int *inputs;
    int ninputs;

    /* Attributes (which ones mean something depends on the op). */
    int out;         /* output channels (conv, linear, composites) */
    int k;           /* kernel size (conv, avgpool, maxpool); 0 = global pooling */
    int ks[MC_MAX_KERNELS]; /* depthwise kernel list */
    int nks;
    int stride, pad, groups, offset;
    bool bias;
    bool indexed;    /* depthwise tensors named "<name>.<j>.weight" (multiception) */
    double p, eps, momentum;
    mc_conv_type conv_type; /* OP_CONVBN */
    bool conv_type_set;

    bool unused;     /* built, counted and saved but never run (ShakeNet's dead shortcuts) */
    bool anonymous;
    mc_shape shape;  /* output */
    long long params, macs;
    int first_tensor, ntensors;
} mc_node;

typedef struct mc_model {
    const char *file, *name;
    mc_shape input;
    int classes;
    mc_conv_type conv_type;

    mc_node *nodes; /* declaration order; node 0 is the input */
    int nnodes;
    int *order;     /* execution order of the live nodes (input excluded) */
    int norder;
    int output;

    mc_tensor *tensors; /* state_dict order */
    int ntensors;
    long long params, macs;
    /* Sizes of the three storage areas that tensor offsets point into:
     * float parameters, float buffers (running stats), int64 counters. */
    long long param_floats, buffer_floats, counters;
} mc_model;

/* What the command line may override. Zero/NULL means "as the file says". */
typedef struct mc_options {
    const char *conv_type;
    int classes;
    mc_shape input;
} mc_options;

/* Reads and checks a description. Returns NULL and fills err (one line,
 * "file:line:col: error: ...") on any problem. Everything is allocated in a. */
mc_model *mc_load(struct arena *a, const char *path, const mc_options *opt, char *err, size_t errlen);
mc_model *mc_load_text(struct arena *a, const char *name, const char *text, long len,
                       const mc_options *opt, char *err, size_t errlen);

bool mc_parse_conv_type(const char *s, mc_conv_type *out);

#endif
