m4_divert(-1)
# The model: its header (descriptor and kernel prototypes) and its source
# (the specialized forward and backward steps, and the descriptor tables).
#
# Model constants: MODEL (C identifier), SOURCE (the .mcn), CONV_TYPE,
# CLASSES, IN_C, IN_H, IN_W, NTENSORS, NLAYERS, PARAM_FLOATS,
# BUFFER_FLOATS, COUNTERS, ACT_FLOATS, SAVED_FLOATS, EXTRA_FLOATS,
# OUTPUT_ACT (the logits slot). The loss comes from loss.m4.
#
# Each layer call sees the pointer macros of common.m4.

m4_define(`MC_HEADER_BEGIN',
`MC_GENERATED(SOURCE, `model')
/* MODEL: conv_type CONV_TYPE, CLASSES classes, input IN_C`'x`'IN_H`'x`'IN_W,
 * kernels for the MC_CPU CPU target. MODEL`'_model describes it (tensors in state_dict order, layers in
 * execution order, area sizes) and points at its specialized step. */
#ifndef MC_GENERATED_`'MODEL`'_H
#define MC_GENERATED_`'MODEL`'_H

#include "mc_model.h"

extern const mc_model_desc MODEL`'_model;

/* The specialized kernels, one per distinct layer signature. */
')

m4_define(`MC_KERNELS_BEGIN',
`MC_GENERATED(SOURCE, `$1')
#include <math.h>
#include <string.h>

#include "MODEL.h"
')

m4_define(`MC_KERNELS_END', `')

m4_define(`MC_HEADER_END', `
#endif
')

m4_define(`MC_SOURCE_BEGIN',
`MC_GENERATED(SOURCE, `model')
#include <math.h>
#include <string.h>

#include "MODEL.h"

/* One function per layer (in execution order), forward and backward, so
 * that a benchmark can time each layer alone; the step runs them in turn. */

')

# MC_LAYER_FWD_BEGIN(i, name) ... the layer calls ... MC_LAYER_END()
m4_define(`MC_LAYER_FWD_BEGIN',
`/* $2 */
static void MODEL`'_layer$1_forward(const mc_state *s, int train)
{
    MC_STEP_POINTERS(s);
    (void)train;
')
m4_define(`MC_LAYER_BWD_BEGIN',
`/* $2 */
static void MODEL`'_layer$1_backward(const mc_state *s)
{
    MC_STEP_POINTERS(s);
')
m4_define(`MC_LAYER_END', `}

')

# MC_BWD_CLEAR(stores): before a backward call, the input gradients it
# writes first (FIRST0, FIRST1, ...) are cleared, unless its family
# defines stores: then its call passes those flags and the kernel stores
# them. MC_BWD_CLEAR_OUT: a layer whose output gradient nobody wrote
# clears it before reading it.
m4_define(`MC_BWD_CLEAR', `m4_ifdef(`$1', `', `MC_FOR(`ci', 0, m4_eval(NIN - 1),
`m4_ifelse(m4_indir(`FIRST'ci), 1, `    memset(MC_DACT(m4_indir(`IN'ci)), 0, sizeof(float) * n * m4_indir(`IN'ci`_FLOATS'));
')')')')
m4_define(`MC_BWD_CLEAR_OUT', `    memset(MC_DACT(OUT), 0, sizeof(float) * n * OUT_FLOATS);
')

# MC_ACC(i): the accumulate flag a storing family passes for input i: 0
# when its call writes that gradient first (store), else 1 (add).
m4_define(`MC_ACC', `m4_eval(!m4_indir(`FIRST$1'))')

# MC_STEP: the tables of the layer functions, and the step that
# runs them: layers in order forward, in reverse backward (every gradient
# is accumulated into zeroed slots).
m4_define(`MC_LAYER_ENTRY', `MODEL`'_layer$1_$2,
')
m4_define(`MC_STEP',
`static void (*const MODEL`'_layer_forward[NLAYERS])(const mc_state *, int) = {
MC_FOR(`MC_I', 0, m4_eval(NLAYERS - 1), `    MC_LAYER_ENTRY(MC_I, forward)')};

static void (*const MODEL`'_layer_backward[NLAYERS])(const mc_state *) = {
MC_FOR(`MC_I', 0, m4_eval(NLAYERS - 1), `    MC_LAYER_ENTRY(MC_I, backward)')};

static void MODEL`'_forward(const mc_state *s, int train)
{
    for (int i = 0; i < NLAYERS; i++)
        MODEL`'_layer_forward[i](s, train);
}

static void MODEL`'_backward(const mc_state *s)
{
    for (int i = NLAYERS - 1; i >= 0; i--)
        MODEL`'_layer_backward[i](s);
}
MC_LOSS()m4_dnl
')


m4_define(`MC_TENSORS_BEGIN', `
static const mc_tensor_desc MODEL`'_tensors[NTENSORS] = {
')
# MC_TENSOR(name, ndim, s0, s1, s2, s3, numel, area, offset, init, a, updated)
m4_define(`MC_TENSOR',
`    {"$1", $2, {$3, $4, $5, $6}, $7, $8, $9, $10, $11, $12},
')
m4_define(`MC_TENSORS_END', `};
')

m4_define(`MC_LAYERS_BEGIN', `
static const mc_layer MODEL`'_layers[NLAYERS] = {
')
# One layer from the constants L_NAME, L_KIND, L_INPUTS (a list), L_NIN,
# L_C, L_H, L_W, L_IN_C, L_IN_H, L_IN_W, L_K, L_STRIDE, L_PAD, L_GROUPS,
# L_OFFSET, L_BIAS, L_NK, L_KS (a list), L_EPS, L_MOMENTUM, L_P, L_ACT,
# L_WEIGHT, L_BIAS_AT, L_RUNNING, L_COUNTER, L_SAVED, L_EXTRA, L_FOLDED,
# L_STATS.
m4_define(`MC_LAYER',
`    {.name = "L_NAME", .kind = L_KIND, .ninputs = L_NIN, .inputs = (const int[]){L_INPUTS},
     .c = L_C, .h = L_H, .w = L_W, .in_c = L_IN_C, .in_h = L_IN_H, .in_w = L_IN_W,
     .k = L_K, .stride = L_STRIDE, .pad = L_PAD, .groups = L_GROUPS, .offset = L_OFFSET, .bias = L_BIAS,
     .nk = L_NK, .ks = {L_KS}, .eps = L_EPS, .momentum = L_MOMENTUM, .p = L_P,
     .act = L_ACT, .fused = L_FUSED, .weight = L_WEIGHT, .bias_at = L_BIAS_AT, .running = L_RUNNING, .counter = L_COUNTER,
     .saved = L_SAVED, .extra = L_EXTRA, .folded = L_FOLDED,
     .stats = L_STATS},
')
m4_define(`MC_LAYERS_END', `};
')

m4_define(`MC_DESCRIPTOR', `
const mc_model_desc MODEL`'_model = {
    .name = "MODEL", .conv_type = "CONV_TYPE", .source = "SOURCE", .cpu = "MC_CPU",
    .classes = CLASSES, .c = IN_C, .h = IN_H, .w = IN_W,
    .params = PARAMS, .macs = MACS,
    .ntensors = NTENSORS, .tensors = MODEL`'_tensors,
    .nlayers = NLAYERS, .layers = MODEL`'_layers,
    .param_floats = PARAM_FLOATS, .buffer_floats = BUFFER_FLOATS, .counters = COUNTERS,
    .act_floats = ACT_FLOATS, .saved_floats = SAVED_FLOATS, .extra_floats = EXTRA_FLOATS, .clears_dacts = 1,
    .forward = MODEL`'_forward, .backward = MODEL`'_backward,
    .layer_forward = MODEL`'_layer_forward, .layer_backward = MODEL`'_layer_backward,
    .loss = MODEL`'_loss, .loss_backward = MODEL`'_loss_backward,
};
')
m4_divert(0)m4_dnl
