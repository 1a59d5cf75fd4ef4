m4_divert(-1)
# The model on the GPU: its header (kernel launchers), and its source: one
# function per layer for the forward and the backward (each a few
# launches), the steps that run them in order, and the entry table
# (mc_cuda_model.h). Every launcher and step takes a host flag: run on the
# device, or emulate on the host (see mc_cuda.h).
#
# Model constants as for the C model (MODEL, SOURCE, NLAYERS, ...). The
# emitter writes, per layer i (LAYER_INDEX), the layer calls between
# MC_CU_LAYER_FWD and MC_CU_LAYER_END, then the same for the backward.

m4_define(`MC_HEADER_BEGIN',
`MC_GENERATED(SOURCE, `model')
/* MODEL on CUDA: conv_type CONV_TYPE, CLASSES classes, input IN_C`'x`'IN_H`'x`'IN_W.
 * MODEL`'_cuda_model is its entry table; its descriptor is that of the C target,
 * MODEL`'_model (MODEL.c). MODEL`'_cuda_host_model is the same step
 * emulated on the host, as a descriptor (for the checks against the C
 * path). */
#ifndef MC_GENERATED_`'MODEL`'_CUDA_H
#define MC_GENERATED_`'MODEL`'_CUDA_H

#include "mc_cuda_model.h"

#ifdef __cplusplus
extern "C" {
#endif
extern const mc_model_desc MODEL`'_model;
extern const mc_cuda_model MODEL`'_cuda_model;
extern const mc_model_desc MODEL`'_cuda_host_model;
#ifdef __cplusplus
}

#include "mc_cuda.h"

/* The launchers, one per distinct layer signature. */
')

m4_define(`MC_KERNELS_END', `')

m4_define(`MC_HEADER_END', `#endif

#endif
')

m4_define(`MC_KERNELS_BEGIN',
`MC_GENERATED(SOURCE, `$1')
#include <math.h>

#include "MODEL`'_cuda.h"
')

m4_define(`MC_CU_SOURCE_BEGIN',
`MC_GENERATED(SOURCE, `model')
#include "MODEL`'_cuda.h"
MC_LOSS()m4_dnl
')

m4_define(`MC_CU_LAYER_FWD', `
static void MODEL`'_fwd_`'LAYER_INDEX`'(const mc_state *s, int train, int host)
{
    MC_STEP_POINTERS(s);
    (void)train, (void)host;
')
m4_define(`MC_CU_LAYER_BWD', `
static void MODEL`'_bwd_`'LAYER_INDEX`'(const mc_state *s, int host)
{
    MC_STEP_POINTERS(s);
    (void)host;
')
m4_define(`MC_CU_LAYER_END', `}
')

# The tables and steps; LAYER_INDEX is the layer count here.
m4_define(`MC_CU_TABLE', `
static const mc_cuda_layer_$1 MODEL`'_$1_table[NLAYERS] = {
MC_FOR(`i', 0, m4_eval(NLAYERS - 1), `    MODEL`'_$1_`'i,
')};
')

m4_define(`MC_CU_ENTRY',
`MC_CU_TABLE(`fwd')MC_CU_TABLE(`bwd')
static void MODEL`'_forward(const mc_state *s, int train, int host)
{
    for (int i = 0; i < NLAYERS; i++)
        MODEL`'_fwd_table[i](s, train, host);
}

static void MODEL`'_backward(const mc_state *s, int host)
{
    for (int i = NLAYERS - 1; i >= 0; i--)
        MODEL`'_bwd_table[i](s, host);
}

static void MODEL`'_cuda_forward(const mc_state *s, int train) { MODEL`'_forward(s, train, 0); }
static void MODEL`'_cuda_backward(const mc_state *s) { MODEL`'_backward(s, 0); }
static float MODEL`'_cuda_loss(const mc_state *s, const int32_t *labels, float *probs)
{
    return MODEL`'_loss(s, labels, probs, 0);
}
static void MODEL`'_cuda_loss_backward(const mc_state *s, const int32_t *labels, const float *probs)
{
    MODEL`'_loss_backward(s, labels, probs, 0);
}

static void MODEL`'_host_forward(const mc_state *s, int train) { MODEL`'_forward(s, train, 1); }
static void MODEL`'_host_backward(const mc_state *s) { MODEL`'_backward(s, 1); }
static float MODEL`'_host_loss(const mc_state *s, const int32_t *labels, float *probs)
{
    return MODEL`'_loss(s, labels, probs, 1);
}
static void MODEL`'_host_loss_backward(const mc_state *s, const int32_t *labels, const float *probs)
{
    MODEL`'_loss_backward(s, labels, probs, 1);
}

const mc_cuda_model MODEL`'_cuda_model = {
    &MODEL`'_model, MODEL`'_cuda_forward, MODEL`'_cuda_backward, MODEL`'_cuda_loss, MODEL`'_cuda_loss_backward,
    MODEL`'_fwd_table, MODEL`'_bwd_table,
};

/* The descriptor with the emulated step in place of the C one. Unlike the
 * step of MODEL`'.c, this one adds every activation gradient into cleared
 * ones (the device clears them), folds no batch norm (it writes every
 * slot) and takes no batch statistics from a depthwise. */
static mc_layer MODEL`'_host_layers[NLAYERS];
static mc_model_desc MODEL`'_host_desc(void)
{
    mc_model_desc d = MODEL`'_model;
    for (int i = 0; i < NLAYERS; i++) {
        MODEL`'_host_layers[i] = MODEL`'_model.layers[i];
        MODEL`'_host_layers[i].folded = 0;
        MODEL`'_host_layers[i].stats = -1;
    }
    d.layers = MODEL`'_host_layers;
    d.clears_dacts = 0;
    d.forward = MODEL`'_host_forward;
    d.backward = MODEL`'_host_backward;
    d.loss = MODEL`'_host_loss;
    d.loss_backward = MODEL`'_host_loss_backward;
    return d;
}
const mc_model_desc MODEL`'_cuda_host_model = MODEL`'_host_desc();
')
m4_divert(0)m4_dnl
