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
    bool cl_fwd;    /* conv: forward as one channels-last product per image (CV_CLF) */
    bool cl_dx;     /* conv: input gradient likewise, through the flipped filters (CV_CLX) */
    bool cl_dw;     /* conv: filter gradient as channels-last products over chunks of images (CV_CLW) */
    bool dw_own;    /* conv: those chunks a thread's own, an image fitting its scratch (CV_DW_OWN) */
    bool pw_planar; /* conv: a pointwise forward reading its planes as they are (CV_PW_PLANAR) */
    bool planes;    /* conv: plane by plane through unrolled taps, no products (CV_PLANES) */
} mc_form;

typedef struct mc_kernel {
    const char *name;
    int node;  /* the first node with this signature: its attributes define the kernel */
    int k;     /* for an unfused depthwise part: its kernel size (0 otherwise) */
    int uses;
    mc_form form;
} mc_kernel;

enum { MC_PLAN_MAX_PARTS = MC_MAX_KERNELS };

typedef struct mc_plan_node {
    int kernels[MC_PLAN_MAX_PARTS]; /* what runs it: one kernel, or one per kernel size unfused */
    int nkernels;                   /* 0: no code (the input, identity, a fused activation) */
    int layer;                      /* index in the execution order, -1 for the input and unused nodes */
    long long act;     /* output slot: per-image floats from the start of the activation area */
    long long saved;   /* batch-independent floats (BN batch mean and 1/std) */
    long long extra;   /* per-image floats of random draws (dropout mask, shake a and b) */
    int fused_act;     /* a batch norm or add that also applies the activation after it: OP_RELU or
                        * OP_RELU6 (see fuse_activations in plan.c), else 0 */
    bool fused;        /* an activation done by the layer before it: no code, its slot is its input's */
    bool folded;       /* a batch norm applied by the pointwise conv after it (fold_batchnorms in plan.c): its
                        * forward only takes the batch statistics, its output is never written, and its
                        * backward is the conv's */
    bool fold;         /* a pointwise conv that applies the batch norm it reads (its input 0) itself */
    bool in_add;       /* a batch norm applied by the add that reads it (apply_in_adds in plan.c): its forward
                        * only takes the batch statistics, its output is never written; its backward is its own */
    unsigned long long applies; /* an add: bit j set when it applies the batch norm that is its input j */
    bool writes_stats; /* a depthwise or conv that also takes the batch statistics of its output, per image,
                        * for the batch norm that reads it (producer_statistics in plan.c) */
    bool reads_stats;  /* a batch norm that combines those instead of reading its input for them */
    long long stats;   /* where they are, for both: per-image floats from the start of the activation area,
                        * the mean of each output channel of the image, then the sum of squared deviations
                        * from it; -1 for neither */
    bool into_weights; /* inference: a batch norm folded into the weights and bias of the conv or depthwise
                        * that writes its input (fold_into_weights in plan.c): no code, its slot is its input's */
    bool gets_bias;    /* inference: that conv or depthwise, which takes the folded bias even without one of its own */
    long long mask;    /* a batch norm or add with its activation fused (C target): where its training forward
                        * writes a bit per value, whether the activation passed it, which its backward reads
                        * instead of the output (mask_activations in plan.c); per-image floats from the start
                        * of the activation area; -1 for none */
} mc_plan_node;

/* A form measured fastest for a layer (mcgen tune; tune.h), which the plan
 * takes instead of its rules' choice. */
typedef struct mc_tuned_form {
    int node;
    mc_form form;
} mc_tuned_form;

typedef struct mc_plan_options {
    bool no_fuse; /* a Multiception's kernels as separate depthwise kernels, every ReLU(6) its own layer,
                   * no batch norm folded */
    bool cuda;    /* for the CUDA templates, which do only the activation fusion: no batch norm folded into the
                   * conv after it, applied by an add or taking its statistics from the conv before it, no
                   * activation bits */
    bool inference; /* forward only, eval mode (mcgen emit --inference): batch norms folded into the weights of
                     * the conv before them, activations fused into batch norms and adds, dropout an identity;
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

/* The forms node n (a conv or depthwise) can take on the plan's target
 * that a tuner should measure: the rules' choice first, then each other
 * form its templates render within the target's budgets (at most
 * MC_FORM_CANDIDATES, none twice). 0 for other nodes. */
enum { MC_FORM_CANDIDATES = 4 };
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
