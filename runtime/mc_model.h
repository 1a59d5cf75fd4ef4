/* Where the generated code and the runtime meet: the model descriptor that
 * `mcgen emit` writes for a model, and the state a step runs on. The runtime
 * knows nothing of the description language; everything it needs about a
 * model is in these tables.
 *
 * Memory: all parameters in one float area (offsets in the tensor table),
 * their gradients in another of the same size, BN running statistics in a
 * buffer area, num_batches_tracked counters in an int64 area. Every layer's
 * output has a slot in the activation area, `act * batch` floats from its
 * start (`act` counts per-image floats), and its gradient the same slot in
 * the gradient-of-activation area. Slot 0 holds the input batch (and its
 * gradient): the caller writes the images there before a step. */
#ifndef MC_MODEL_H
#define MC_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the CUDA step (C++) includes this header too */
#endif

#include "mc_kernels.h"

/* The generated kernels split an outer loop over threads where its
 * iterations write disjoint outputs (compiled with -fopenmp; serial
 * otherwise). Every output element is computed by one thread in a fixed
 * order, so the results do not depend on the thread count. */
#ifdef _OPENMP
#include <omp.h>
#define MC_OMP_FOR _Pragma("omp parallel for schedule(static)")
/* The same, with a team only when cond holds (the templates: enough work
 * to pay for starting one, MC_PAR_FLOATS in common.m4); else the caller
 * runs the loop alone. */
#define MC_OMP_PRAGMA(x) _Pragma(#x)
#define MC_OMP_FOR_IF(cond) MC_OMP_PRAGMA(omp parallel for schedule(static) if (cond))
/* A team whose threads each set up their own scratch once, then share a
 * loop (MC_OMP_FOR_IN inside MC_OMP_PARALLEL). */
#define MC_OMP_PARALLEL _Pragma("omp parallel")
#define MC_OMP_FOR_IN _Pragma("omp for schedule(static)")
/* Fewer images than threads (batch 1 on 2 threads): the kernels that
 * give each thread whole images split the work of each image over the
 * team instead: one parallel region, the steps of an image shared out in
 * turn, MC_OMP_SINGLE a step one thread takes while the others wait. */
#define MC_FEW_IMAGES(n) ((n) < omp_get_max_threads())
#define MC_OMP_SINGLE _Pragma("omp single")
#else
#define MC_OMP_FOR
#define MC_OMP_FOR_IF(cond)
#define MC_OMP_PARALLEL
#define MC_OMP_FOR_IN
#define MC_FEW_IMAGES(n) 0
#define MC_OMP_SINGLE
#endif

/* What a layer computes: MC_L_<ID>, one per line of mc_layer_kinds.def. */
typedef enum {
#define MC_LAYER_KIND(id, name) MC_L_##id,
#include "mc_layer_kinds.def"
} mc_layer_kind;

/* The activation a batch norm or an add applies to its own result when the
 * generator fused the activation layer after it into it (mc_layer.fused).
 * SiLU, hard-swish and hard-sigmoid only into a batch norm: their
 * derivative is taken at the batch norm's result, recomputed from its input
 * and batch statistics. */
typedef enum {
    MC_FUSED_NONE, MC_FUSED_RELU, MC_FUSED_RELU6, MC_FUSED_SILU, MC_FUSED_HARDSWISH, MC_FUSED_HARDSIGMOID
} mc_fused;

/* A batch norm that the generated C step applies in the layer that reads it
 * (mc_layer.folded): its forward takes only the statistics (saved, running)
 * and its output slot is never written. MC_FOLD_CONV: in the pointwise conv
 * after it, whose backward also writes the batch norm's input gradient and
 * its parameters' gradients (its output gradient is never written either);
 * MC_FOLD_ADD: in the add after it, which reads the batch norm's input and
 * normalizes it as it sums; the backward is the batch norm's own. */
typedef enum { MC_FOLD_NONE, MC_FOLD_CONV, MC_FOLD_ADD } mc_fold;

typedef enum { MC_AREA_PARAM, MC_AREA_BUFFER, MC_AREA_COUNTER } mc_area;
typedef enum { MC_INIT_ZEROS, MC_INIT_ONES, MC_INIT_NORMAL, MC_INIT_UNIFORM } mc_init_kind_t;

typedef struct mc_tensor_desc {
    const char *name; /* the PyTorch state_dict name */
    int ndim, shape[4];
    int64_t numel;
    mc_area area;
    int64_t offset; /* elements into its area */
    mc_init_kind_t init;
    double init_a;  /* NORMAL: std; UNIFORM: bound */
    int updated;    /* 0 for tensors that are never run (unused layers): no gradient, no decay */
} mc_tensor_desc;

/* The generator never makes a layer with more inputs than this. */
enum { MC_LAYER_MAX_INPUTS = 64 };

/* One layer of the execution order; the fields an op does not use are 0. */
typedef struct mc_layer {
    const char *name;
    mc_layer_kind kind;
    int ninputs;
    const int *inputs;  /* indices into the layer table; -1 is the model's input */
    int c, h, w;        /* output shape, per image */
    int in_c, in_h, in_w; /* first input's shape */
    int k, stride, pad, groups, offset, bias;
    int nk, ks[MC_DW_MAX_KERNELS];
    float eps, momentum, p;
    int64_t act;        /* output slot, per-image floats from the start of the area */
    int fused;          /* batch norm, add: mc_fused, the activation it applies to its result itself (the
                         * activation's layer after it is an identity on the same slot); its backward
                         * takes the output gradient through that activation's derivative */
    int folded;         /* batch norm: mc_fold, how the generated C step applies it (generator/plan.c) */
    int64_t stats;      /* depthwise, conv: where the generated C step also writes the batch statistics of
                         * its output for the batch norm that reads it; that batch norm: where it reads them
                         * (generator/plan.c, producer_statistics); -1 for neither. Per-image floats
                         * from the start of the activation area: each channel's mean over the image,
                         * then its sum of squared deviations from that mean */
    int64_t weight;     /* parameter offsets, -1 if none */
    int64_t bias_at;
    int64_t running;    /* BN: running_mean in the buffer area; running_var follows */
    int counter;        /* BN: its num_batches_tracked */
    int64_t saved;      /* BN: batch mean and 1/std (2c floats) in the saved area */
    int64_t extra;      /* per-image floats of random draws: dropout mask (c*h*w), shake (a, b) */
} mc_layer;

/* What one training or evaluation step works on. The caller allocates the
 * areas with the sizes the descriptor gives, for `batch` images. */
typedef struct mc_state {
    int batch;
    float *params, *grads;  /* param_floats each */
    float *buffers;         /* buffer_floats */
    int64_t *counters;      /* counters */
    float *acts, *dacts;    /* act_floats x batch each */
    float *saved;           /* saved_floats */
    float *extra;           /* extra_floats x batch: random draws, filled by the caller before a step */
} mc_state;

typedef struct mc_model_desc {
    const char *name, *conv_type, *source;
    const char *cpu; /* the CPU target of its kernels (mcgen --cpu): avx512, avx2, neon, portable; NULL: any */
    int classes, c, h, w;
    int64_t params, macs; /* parameters as PyTorch counts them; forward multiply-accumulates per image */
    int ntensors;
    const mc_tensor_desc *tensors;
    int nlayers;
    const mc_layer *layers; /* execution order; the last is the output (logits) */
    int64_t param_floats, buffer_floats, counters;
    int64_t act_floats, saved_floats, extra_floats;
    /* clears_dacts: the backward writes every activation gradient before it
     * reads it (the first writer of each stores), so only the output's, which
     * loss_backward adds to, needs clearing before a step; else all of them. */
    int clears_dacts;
    /* The generated, specialized step. train != 0: batch statistics, dropout
     * and shake draws from s->extra; else running statistics, no dropout,
     * shake 0.5. backward needs a training forward just before it, and
     * zeroed grads and dacts (see clears_dacts). */
    void (*forward)(const mc_state *s, int train);
    void (*backward)(const mc_state *s);
    /* Cross-entropy of the logits (the last layer's slot) against labels,
     * averaged over the batch; probs (batch x classes) keeps the softmax
     * for loss_backward, which adds d loss / d logits to the output's
     * gradient slot. */
    float (*loss)(const mc_state *s, const int32_t *labels, float *probs);
    void (*loss_backward)(const mc_state *s, const int32_t *labels, const float *probs);
    /* The step one layer at a time (index as in layers): what forward and
     * backward run in turn, for benchmarks. A layer's backward accumulates
     * into its parameters' gradients and its inputs' gradient slots (or,
     * with clears_dacts, stores those it writes first). */
    void (*const *layer_forward)(const mc_state *s, int train);
    void (*const *layer_backward)(const mc_state *s);
} mc_model_desc;

/* A convolution layer's shapes for the generic kernels, for a batch of n. */
mc_conv_dims mc_layer_conv_dims(const mc_layer *l, int n);
mc_dw_dims mc_layer_dw_dims(const mc_layer *l, int n);
mc_mixconv_dims mc_layer_mixconv_dims(const mc_layer *l, int n);

/* The same step on the runtime's generic kernels, driven by the tables. */
void mc_generic_forward(const mc_model_desc *m, const mc_state *s, int train);
void mc_generic_backward(const mc_model_desc *m, const mc_state *s);
float mc_generic_loss(const mc_model_desc *m, const mc_state *s, const int32_t *labels, float *probs);
void mc_generic_loss_backward(const mc_model_desc *m, const mc_state *s, const int32_t *labels, const float *probs);

/* One layer of it (the tests compare the generated code layer by layer on
 * equal inputs). The backward accumulates into its inputs' gradient slots. */
void mc_generic_forward_layer(const mc_model_desc *m, const mc_state *s, int layer, int train);
void mc_generic_backward_layer(const mc_model_desc *m, const mc_state *s, int layer);

/* The areas of one step as the generated steps name them (C and CUDA);
 * a layer uses some of them (nvcc takes no cast to void as a use). */
#define MC_UNUSED __attribute__((unused))
#define MC_STEP_POINTERS(s) \
    const int n MC_UNUSED = (s)->batch; \
    float *act MC_UNUSED = (s)->acts, *dact MC_UNUSED = (s)->dacts, *par MC_UNUSED = (s)->params; \
    float *grad MC_UNUSED = (s)->grads, *buf MC_UNUSED = (s)->buffers; \
    int64_t *cnt MC_UNUSED = (s)->counters; \
    float *sav MC_UNUSED = (s)->saved, *ext MC_UNUSED = (s)->extra

#ifdef __cplusplus
}
#endif

#endif
