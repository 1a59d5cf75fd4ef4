/* The plan stage: from a checked graph, where every layer's data lives and
 * which specialized kernel runs it. Layers with the same signature share a
 * kernel, named by that signature (e.g. "dw_k3_5_7_c16_32x32_s1"). */
#ifndef MCGEN_PLAN_H
#define MCGEN_PLAN_H

#include <stdbool.h>

#include "graph.h"
#include "target.h"

struct arena;

/* The form a conv or depthwise kernel takes, decided by the plan from the
 * layer's shape and the target (mc_plan_form); the templates render it
 * (emit_m4.c hands it to them as CV_CLF ... and DW_CL) and stop m4 when
 * asked for a form they cannot render. */
typedef struct mc_form {
    bool dw_cl;     /* depthwise: channels last (depthwise_cl.m4), else flat planes */
    int dw_rows;    /* depthwise channels last: output rows per band of its scratch (all of them when the
                     * plane fits the budget); from the shape and target, not a choice of the tuner */
    int dw_unroll;  /* depthwise channels last: outputs of a row per block of accumulators in registers (plan.c,
                     * depthwise_cl_unroll); from the shape and target, not a choice of the tuner */
    bool cl_fwd;    /* conv: forward as one channels-last product per image (CV_CLF) */
    bool cl_dx;     /* conv: input gradient likewise, through the flipped filters (CV_CLX) */
    bool cl_dw;     /* conv: filter gradient as channels-last products over chunks of images (CV_CLW) */
    bool dw_own;    /* conv: those chunks a thread's own, an image fitting its scratch (CV_DW_OWN) */
    int dw_band;    /* conv: a pointwise filter gradient at stride 1 whose image does not fit: rows of an image
                     * per band, a thread's own (CV_DW_BAND; 0 for whole images); from the shape and target
                     * (plan.c, pointwise_band_rows), not a choice of the tuner */
    bool pw_planar; /* conv: a pointwise forward reading its planes as they are (CV_PW_PLANAR) */
    bool planes;    /* conv: plane by plane through unrolled taps, no products (CV_PLANES) */
    bool wino;      /* conv: forward and input gradient by Winograd F(2x2, 3x3) (CV_WINO, winograd.m4) */
    bool lin;       /* conv: pointwise on a 1x1 plane, as a linear layer: products over images (CV_LIN, linear.m4) */
    bool split;     /* conv: given fewer images than threads, its forward splits each image over the team
                     * (CV_SPLIT); from the shape, not a choice of the tuner (plan.c, split_image) */
    int pw_batch;   /* conv: a planar pointwise forward on a plane of fewer pixels than a vector: images
                     * per product (CV_PW_BATCH; 0 for one); from the shape and target (plan.c, pointwise_batch) */
    bool dw_inner;  /* conv: its planar filter gradient keeps each tile's sums in registers over the images
                     * (CV_DW_INNER); from the shape and target (plan.c, dw_images_inner) */
    /* its products' register blocks and blocks of tiles, forward [0], input gradient [1] and filter gradient
     * [2]; from the shape and target (plan.c, wino_tiles), not a choice of the tuner */
    struct mc_wino_tiles {
        int rb, cb, nt; /* rows (tiles; input channels of the filter gradient) by vectors of output channels in
                         * registers; tiles a block */
    } wino_tiles[3];
} mc_form;

typedef struct mc_kernel {
    const char *name;
    int node;  /* the first node with this signature: its attributes define the kernel */
    int k;     /* for an unfused depthwise part: its kernel size (0 otherwise) */
    int uses;
    mc_form form;
} mc_kernel;

enum { MC_PLAN_MAX_PARTS = MC_MAX_KERNELS };

/* ---- fusions -------------------------------------------------------------------
 * Each fusion the planner decides (plan.c) has two sides, a node that gives
 * its work away and a node that does it; mc_fusion holds both, so one look
 * at a node says what it does beyond its own op and what its backward
 * needs for that. The emitters hand these to the templates (emit_m4.c),
 * and emit_c.c to the runtime's layer table (mc_layer.fused, .folded,
 * .stats). */

/* What a fused activation's backward reads for the activation's derivative. */
typedef enum {
    /* the layer's output: which side of 0 (and 6) it lies on, for ReLU and
     * ReLU6 (the CUDA target) */
    MC_ACT_READS_OUTPUT,
    /* a bit per value, whether the activation passed it, that the training
     * forward writes (the C target's ReLU and ReLU6; mask_activations; the
     * inference library, which has no backward, keeps none) */
    MC_ACT_READS_BITS,
    /* its input, the layer's result before the activation, recomputed from
     * the layer's input (a batch norm's x, batch mean and 1/std, gamma and
     * beta): SiLU, hard-swish and hard-sigmoid, whose derivative is not 0
     * or 1 (the C target) */
    MC_ACT_READS_INPUT,
    /* nothing: a conv, depthwise or MixConv of the inference library, which
     * has no backward, applies it as it stores its result */
    MC_ACT_READS_NONE,
} mc_act_reads;

/* An activation that a batch norm or add applies to its own result, or
 * (inference) a conv, depthwise or MixConv as it stores its result: the
 * activation's layer after it (act_by_input) has no code and shares its
 * slot (fuse_activations). */
typedef struct mc_fused_act {
    int op;             /* OP_RELU, OP_RELU6, OP_SILU, OP_HARDSWISH or OP_HARDSIGMOID; 0: none */
    mc_act_reads reads; /* what its backward reads */
    long long mask;     /* MC_ACT_READS_BITS: where the bits are, per-image floats from the start of the
                         * activation area (common.m4's layout, MC_PLANE_MASK); -1 otherwise */
} mc_fused_act;

/* Who applies a batch norm's normalization. */
typedef enum {
    MC_BN_ITSELF,
    /* the pointwise conv that reads it (fold_batchnorms): the batch norm's
     * forward only takes the batch statistics, its output is never written,
     * and its backward is the conv's */
    MC_BN_BY_CONV,
    /* the add that reads it (apply_in_adds), from the batch norm's input:
     * its forward only takes the statistics, its output is never written;
     * its backward is its own (it reads its input, not its output) */
    MC_BN_BY_ADD,
    /* inference: folded into the weights and bias of the conv, depthwise or
     * MixConv that writes its input (fold_into_weights): no code, its slot is
     * its input's */
    MC_BN_INTO_WEIGHTS,
} mc_bn_by;

/* Batch statistics that a depthwise or conv takes of its output, per
 * image, for the batch norm that reads it (producer_statistics). */
typedef struct mc_stats_fusion {
    bool writes; /* the depthwise or conv */
    bool reads;  /* the batch norm: it combines them instead of reading its input for them */
    long long at; /* where they are, for both: per-image floats from the start of the activation area,
                   * the mean of each output channel of the image, then the sum of squared deviations
                   * from it; -1 for neither */
} mc_stats_fusion;

typedef struct mc_fusion {
    mc_fused_act act;  /* a batch norm or add (inference: a conv, depthwise or MixConv too): the activation
                        * after it (or after the batch norm folded into it) that it applies */
    bool act_by_input; /* an activation applied by the layer before it (that one's act), or (inference) by the
                        * conv whose weights took the batch norm before it */
    mc_bn_by bn_by;    /* a batch norm: what applies it */
    /* a pointwise conv or an add: bit j set when it applies the batch norm
     * that is its input j (that one's bn_by is MC_BN_BY_CONV or
     * MC_BN_BY_ADD); the conv reads the batch norm's input and writes its
     * gradient, the add reads its input and writes the batch norm's output
     * gradient */
    unsigned long long applies_bn;
    /* inference: a conv, depthwise or MixConv whose weights and bias take
     * the batch norm after it (MC_BN_INTO_WEIGHTS), a bias even without one
     * of its own */
    bool absorbs_bn;
    mc_stats_fusion stats;
} mc_fusion;

typedef struct mc_plan_node {
    int kernels[MC_PLAN_MAX_PARTS]; /* what runs it: one kernel, or one per kernel size unfused */
    int nkernels;                   /* 0: no code (the input, identity, a fused activation) */
    int layer;                      /* index in the execution order, -1 for the input and unused nodes */
    long long act;     /* output slot: per-image floats from the start of the activation area */
    long long saved;   /* batch-independent floats (BN batch mean and 1/std) */
    long long extra;   /* per-image floats of random draws (dropout mask, shake a and b) */
    mc_fusion fusion;  /* what the planner fused into it, or it into others */
} mc_plan_node;

/* A form measured fastest for a layer (mcgen tune; tune.h), which the plan
 * takes instead of its rules' choice. */
typedef struct mc_tuned_form {
    int node;
    mc_form form;
} mc_tuned_form;

typedef struct mc_plan_options {
    bool no_fuse; /* a Multiception's kernels as separate depthwise kernels, every activation its own layer,
                   * no batch norm folded */
    bool cuda;    /* for the CUDA templates, which do only the activation fusion of ReLU and ReLU6: no batch norm
                   * folded into the conv after it, applied by an add or taking its statistics from the conv before
                   * it, no activation bits, no activation recomputed */
    bool cuda_too; /* the C plan of a build that has the CUDA step too, which shares its descriptor: only the
                    * fusions the CUDA plan makes may move a slot (no activation recomputed) */
    bool inference; /* forward only, eval mode (mcgen emit --inference): batch norms folded into the weights of
                     * the conv before them, activations fused into those convs (or batch norms and adds), dropout
                     * an identity;
                     * none of the training fusions (statistics, masks, batch norms applied by convs or adds) */
    const mc_target *target; /* the CPU the C kernels are for (target.h); NULL: the native one */
    const mc_tuned_form *tuned; /* forms measured fastest (mcgen tune), ntuned of them */
    int ntuned;
} mc_plan_options;

typedef struct mc_plan {
    const mc_model *m;
    mc_plan_options opt;
    mc_plan_node *nodes; /* indexed like m->nodes */
    mc_kernel *kernels;
    int nkernels;
    long long act_floats, saved_floats, extra_floats;
} mc_plan;

mc_plan *mc_plan_model(struct arena *a, const mc_model *m, const mc_plan_options *opt);

/* A conv's geometry: input and output shapes, kernel size, padding,
 * stride, groups; a conv node's, or a group of a MixConv's. */
typedef struct mc_conv_shape {
    mc_shape in, out;
    int k, pad, stride, groups;
} mc_conv_shape;

/* The form of such a conv on the plan's target (plan.c, the rules). */
mc_form mc_plan_conv_form(const mc_plan *p, const mc_conv_shape *c);
mc_form mc_plan_group_form(const mc_plan *p, const mc_conv_shape *g); /* a MixConv group's */

/* The forms node n (a conv or depthwise) can take on the plan's target
 * that a tuner should measure: the rules' choice first, then each other
 * form its templates render within the target's budgets (at most
 * MC_FORM_CANDIDATES, none twice). 0 for other nodes. */
enum { MC_FORM_CANDIDATES = 5 };
int mc_plan_form_candidates(const mc_plan *p, const mc_node *n, mc_form out[MC_FORM_CANDIDATES]);

/* Whether node n can take form f (one of its candidates). */
bool mc_plan_form_allowed(const mc_plan *p, const mc_node *n, mc_form f);

/* The form of the kernel of node n (a conv or depthwise; part k of an
 * unfused depthwise list, else k = 0) on the plan's target. */
mc_form mc_plan_form(const mc_plan *p, const mc_node *n, int k);

/* Inference: whether kernel k takes its weights packed in the layout its
 * kernels read (the channels-last forms' filter orders, which the training
 * step makes on every call): the library packs them once, when a net is
 * made (MODEL_new), with the kernel's NAME_pack. */
bool mc_plan_packs(const mc_plan *p, const mc_kernel *k);
/* Whether the inference library packs the filters of a conv (or a MixConv
 * group) of shape c in form f once, in place: its channels-last forward,
 * whose output channels fill whole vectors (padded ones would take more
 * room than w). */
bool mc_plan_conv_packs(const mc_plan *p, const mc_conv_shape *c, mc_form f);

/* A linear layer's forward (or a pointwise conv's on a 1x1 plane, its
 * linear form) of `in` inputs and `out` outputs: the batch from which it
 * takes the broadcast products (linear_products.m4), 0 for never. */
int mc_plan_linear_bcast(const mc_plan *p, long long in, long long out);
/* Its dot products' tile: images by rows of w, square, their sums in registers. */
int mc_plan_linear_rows(const mc_plan *p);

/* Whether node n's kernel takes a bias: its own, or (inference) the one of
 * the batch norm folded into its weights. */
bool mc_plan_has_bias(const mc_plan *p, const mc_node *n);

/* The slot that node n reads as its input j: that input's, or for a conv
 * that folds the batch norm before it, the batch norm's input (the conv
 * reads it and writes its gradient). */
long long mc_plan_input_act(const mc_plan *p, const mc_node *n, int j);

/* Interior of a sliding window: the outputs [lo, hi) whose taps all land
 * inside an input of size `in` (no bounds tests needed there). lo = hi
 * when there is none. */
void mc_interior(int in, int out, int k, int pad, int stride, int *lo, int *hi);

#endif
