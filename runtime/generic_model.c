/* The generic step: walks a model's layer table and runs each layer on the
 * runtime's generic kernels, with the same memory layout as the generated
 * step (mc_model.h), so that both can be compared slot by slot and a
 * `--generic` classifier needs no generated kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_model.h"

static long per_image(const mc_layer *l) { return (long)l->c * l->h * l->w; }

/* The activation (or gradient) slot of input i of layer l. */
static float *input_slot(const mc_model_desc *m, float *area, const mc_state *s, const mc_layer *l, int i)
{
    int j = l->inputs[i];
    return area + (j < 0 ? 0 : m->layers[j].act) * s->batch;
}

static int input_channels(const mc_model_desc *m, const mc_layer *l, int i)
{
    return l->inputs[i] < 0 ? m->c : m->layers[l->inputs[i]].c;
}

static float *output_slot(float *area, const mc_state *s, const mc_layer *l) { return area + l->act * s->batch; }

static const float *param(const mc_state *s, int64_t at) { return at < 0 ? NULL : s->params + at; }
static float *grad(const mc_state *s, int64_t at) { return at < 0 ? NULL : s->grads + at; }

mc_conv_dims mc_layer_conv_dims(const mc_layer *l, int n)
{
    return (mc_conv_dims){n, l->in_c, l->in_h, l->in_w, l->c, l->k, l->stride, l->pad, l->groups, l->h, l->w};
}

mc_dw_dims mc_layer_dw_dims(const mc_layer *l, int n)
{
    mc_dw_dims d = {.n = n, .c = l->in_c, .h = l->in_h, .w = l->in_w, .nk = l->nk, .stride = l->stride,
                    .hout = l->h, .wout = l->w};
    memcpy(d.ks, l->ks, sizeof d.ks);
    return d;
}

mc_mixconv_dims mc_layer_mixconv_dims(const mc_layer *l, int n)
{
    return (mc_mixconv_dims){n, l->in_c, l->in_h, l->in_w, l->c, l->stride, l->h, l->w};
}

static mc_bn_dims bn_dims(const mc_layer *l, int n) { return (mc_bn_dims){n, l->c, l->h * l->w, l->eps, l->momentum}; }

static mc_pool_dims pool_dims(const mc_layer *l, int n)
{
    return (mc_pool_dims){n, l->in_c, l->in_h, l->in_w, l->k, l->stride, l->h, l->w, l->pad};
}

static mc_subsample_dims sub_dims(const mc_layer *l, int n)
{
    return (mc_subsample_dims){n, l->in_c, l->in_h, l->in_w, l->stride, l->offset, l->h, l->w};
}

/* The activations a layer may apply to its result (mc_layer.fused): the
 * generic forward, and the backward from the activation's input (from_input)
 * or from its output, which tells as well which side of 0 (and 6) the
 * input was. */
static const struct {
    void (*fwd)(long count, const float *x, float *y);
    void (*bwd)(long count, const float *x_or_y, const float *dy, float *dx);
    int from_input;
} fused_acts[] = {
    [MC_FUSED_RELU] = {mc_relu_fwd, mc_relu_bwd, 0},
    [MC_FUSED_RELU6] = {mc_relu6_fwd, mc_relu6_bwd, 0},
    [MC_FUSED_SILU] = {mc_silu_fwd, mc_silu_bwd, 1},
    [MC_FUSED_HARDSWISH] = {mc_hardswish_fwd, mc_hardswish_bwd, 1},
    [MC_FUSED_HARDSIGMOID] = {mc_hardsigmoid_fwd, mc_hardsigmoid_bwd, 1},
};

static float *alloc_floats(long count)
{
    float *p = calloc((size_t)count, sizeof *p);
    if (!p) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    return p;
}

/* The result of batch norm l before the activation fused into it, as its
 * training forward computed it: from its input x and its batch statistics. */
static float *bn_before_activation(const mc_state *s, const mc_layer *l, const float *x)
{
    const long hw = (long)l->h * l->w;
    const float *mean = s->saved + l->saved, *invstd = mean + l->c;
    const float *gamma = param(s, l->weight), *beta = param(s, l->bias_at);
    float *z = alloc_floats(s->batch * per_image(l));
    for (long b = 0; b < s->batch; b++)
        for (int c = 0; c < l->c; c++)
            for (long i = 0; i < hw; i++) {
                const long at = (b * l->c + c) * hw + i;
                z[at] = (x[at] - mean[c]) * (gamma[c] * invstd[c]) + beta[c];
            }
    return z;
}

void mc_generic_forward_layer(const mc_model_desc *m, const mc_state *s, int layer, int train)
{
    const mc_layer *l = &m->layers[layer];
    const int n = s->batch;
    const long count = n * per_image(l);
    const float *x = input_slot(m, s->acts, s, l, 0);
    float *y = output_slot(s->acts, s, l);
    float *extra = s->extra + l->extra * n;
    switch (l->kind) {
    case MC_L_CONV: {
        mc_conv_dims d = mc_layer_conv_dims(l, n);
        mc_conv_fwd(&d, x, param(s, l->weight), param(s, l->bias_at), y);
        break;
    }
    case MC_L_DEPTHWISE: {
        mc_dw_dims d = mc_layer_dw_dims(l, n);
        mc_depthwise_fwd(&d, x, param(s, l->weight), param(s, l->bias_at), y);
        break;
    }
    case MC_L_MIXCONV: {
        mc_mixconv_dims d = mc_layer_mixconv_dims(l, n);
        mc_mixconv_fwd(&d, x, param(s, l->weight), y);
        break;
    }
    case MC_L_BATCHNORM: {
        mc_bn_dims d = bn_dims(l, n);
        float *running_mean = s->buffers + l->running, *running_var = running_mean + l->c;
        if (train)
            mc_batchnorm_fwd_train(&d, x, param(s, l->weight), param(s, l->bias_at), running_mean, running_var,
                                   s->counters + l->counter, y, s->saved + l->saved, s->saved + l->saved + l->c);
        else
            mc_batchnorm_fwd_eval(&d, x, param(s, l->weight), param(s, l->bias_at), running_mean, running_var, y);
        break;
    }
    case MC_L_RELU: mc_relu_fwd(count, x, y); break;
    case MC_L_RELU6: mc_relu6_fwd(count, x, y); break;
    case MC_L_SIGMOID: mc_sigmoid_fwd(count, x, y); break;
    case MC_L_SILU: mc_silu_fwd(count, x, y); break;
    case MC_L_HARDSWISH: mc_hardswish_fwd(count, x, y); break;
    case MC_L_HARDSIGMOID: mc_hardsigmoid_fwd(count, x, y); break;
    case MC_L_IDENTITY: break; /* its slot is its input's */
    case MC_L_ADD: {
        const float *xs[MC_LAYER_MAX_INPUTS];
        for (int i = 0; i < l->ninputs && i < MC_LAYER_MAX_INPUTS; i++)
            xs[i] = input_slot(m, s->acts, s, l, i);
        mc_add_fwd(count, l->ninputs, xs, y);
        break;
    }
    case MC_L_CONCAT: {
        const float *xs[MC_LAYER_MAX_INPUTS];
        int cs[MC_LAYER_MAX_INPUTS];
        for (int i = 0; i < l->ninputs && i < MC_LAYER_MAX_INPUTS; i++) {
            xs[i] = input_slot(m, s->acts, s, l, i);
            cs[i] = input_channels(m, l, i);
        }
        mc_concat_fwd(n, l->h * l->w, l->ninputs, cs, xs, y);
        break;
    }
    case MC_L_SCALE: mc_scale_fwd(n, l->c, l->h * l->w, x, input_slot(m, s->acts, s, l, 1), y); break;
    case MC_L_AVGPOOL: {
        mc_pool_dims d = pool_dims(l, n);
        mc_avgpool_fwd(&d, x, y);
        break;
    }
    case MC_L_MAXPOOL: {
        mc_pool_dims d = pool_dims(l, n);
        mc_maxpool_fwd(&d, x, y);
        break;
    }
    case MC_L_SUBSAMPLE: {
        mc_subsample_dims d = sub_dims(l, n);
        mc_subsample_fwd(&d, x, y);
        break;
    }
    case MC_L_LINEAR:
        mc_linear_fwd(n, l->in_c * l->in_h * l->in_w, l->c, x, param(s, l->weight), param(s, l->bias_at), y);
        break;
    case MC_L_DROPOUT:
        if (train)
            mc_mul_fwd(count, x, extra, y);
        else
            memcpy(y, x, (size_t)count * sizeof *y);
        break;
    case MC_L_SHAKE: {
        const float *x2 = input_slot(m, s->acts, s, l, 1);
        if (train) {
            mc_shake_fwd(n, per_image(l), extra, x, x2, y);
        } else {
            static const float half = 0.5f; /* eval blends evenly */
            for (int b = 0; b < n; b++)
                mc_shake_fwd(1, per_image(l), &half, x + b * per_image(l), x2 + b * per_image(l),
                             y + b * per_image(l));
        }
        break;
    }
    }
    /* the activation after it, fused (its layer is an identity) */
    if (l->fused != MC_FUSED_NONE)
        fused_acts[l->fused].fwd(count, y, y);
}

void mc_generic_backward_layer(const mc_model_desc *m, const mc_state *s, int layer)
{
    const mc_layer *l = &m->layers[layer];
    const int n = s->batch;
    const long count = n * per_image(l);
    const float *x = input_slot(m, s->acts, s, l, 0), *y = output_slot(s->acts, s, l);
    const float *dy = output_slot(s->dacts, s, l);
    float *dx = input_slot(m, s->dacts, s, l, 0);
    const float *extra = s->extra + l->extra * n;
    /* With its activation fused, the layer's own output gradient is the
     * slot's (the activation's) through that activation's derivative, taken
     * from the output or at the layer's result recomputed (a batch norm's). */
    float *masked = NULL;
    if (l->fused != MC_FUSED_NONE) {
        masked = alloc_floats(count);
        if (fused_acts[l->fused].from_input) {
            if (l->kind != MC_L_BATCHNORM) {
                fprintf(stderr, "error: layer %s: an activation recomputed from its input is fused into a batch norm only\n",
                        l->name);
                exit(1);
            }
            float *z = bn_before_activation(s, l, x);
            fused_acts[l->fused].bwd(count, z, dy, masked);
            free(z);
        } else
            fused_acts[l->fused].bwd(count, y, dy, masked);
        dy = masked;
    }
    switch (l->kind) {
    case MC_L_CONV: {
        mc_conv_dims d = mc_layer_conv_dims(l, n);
        mc_conv_bwd(&d, x, param(s, l->weight), dy, dx, grad(s, l->weight), grad(s, l->bias_at));
        break;
    }
    case MC_L_DEPTHWISE: {
        mc_dw_dims d = mc_layer_dw_dims(l, n);
        mc_depthwise_bwd(&d, x, param(s, l->weight), dy, dx, grad(s, l->weight), grad(s, l->bias_at));
        break;
    }
    case MC_L_MIXCONV: {
        mc_mixconv_dims d = mc_layer_mixconv_dims(l, n);
        mc_mixconv_bwd(&d, x, param(s, l->weight), dy, dx, grad(s, l->weight));
        break;
    }
    case MC_L_BATCHNORM: {
        mc_bn_dims d = bn_dims(l, n);
        mc_batchnorm_bwd(&d, x, param(s, l->weight), s->saved + l->saved, s->saved + l->saved + l->c, dy, dx,
                         grad(s, l->weight), grad(s, l->bias_at));
        break;
    }
    case MC_L_RELU: mc_relu_bwd(count, y, dy, dx); break;
    case MC_L_RELU6: mc_relu6_bwd(count, x, dy, dx); break;
    case MC_L_SIGMOID: mc_sigmoid_bwd(count, y, dy, dx); break;
    case MC_L_SILU: mc_silu_bwd(count, x, dy, dx); break;
    case MC_L_HARDSWISH: mc_hardswish_bwd(count, x, dy, dx); break;
    case MC_L_HARDSIGMOID: mc_hardsigmoid_bwd(count, x, dy, dx); break;
    case MC_L_IDENTITY: break; /* its gradient slot is its input's */
    case MC_L_ADD:
        for (int i = 0; i < l->ninputs; i++)
            mc_accumulate(count, dy, input_slot(m, s->dacts, s, l, i));
        break;
    case MC_L_CONCAT: {
        float *dxs[MC_LAYER_MAX_INPUTS];
        int cs[MC_LAYER_MAX_INPUTS];
        for (int i = 0; i < l->ninputs && i < MC_LAYER_MAX_INPUTS; i++) {
            dxs[i] = input_slot(m, s->dacts, s, l, i);
            cs[i] = input_channels(m, l, i);
        }
        mc_concat_bwd(n, l->h * l->w, l->ninputs, cs, dy, dxs);
        break;
    }
    case MC_L_SCALE:
        mc_scale_bwd(n, l->c, l->h * l->w, x, input_slot(m, s->acts, s, l, 1), dy, dx,
                     input_slot(m, s->dacts, s, l, 1));
        break;
    case MC_L_AVGPOOL: {
        mc_pool_dims d = pool_dims(l, n);
        mc_avgpool_bwd(&d, dy, dx);
        break;
    }
    case MC_L_MAXPOOL: {
        mc_pool_dims d = pool_dims(l, n);
        mc_maxpool_bwd(&d, x, dy, dx);
        break;
    }
    case MC_L_SUBSAMPLE: {
        mc_subsample_dims d = sub_dims(l, n);
        mc_subsample_bwd(&d, dy, dx);
        break;
    }
    case MC_L_LINEAR:
        mc_linear_bwd(n, l->in_c * l->in_h * l->in_w, l->c, x, param(s, l->weight), dy, dx, grad(s, l->weight),
                      grad(s, l->bias_at));
        break;
    case MC_L_DROPOUT: mc_mul_bwd(count, extra, dy, dx); break;
    case MC_L_SHAKE:
        mc_shake_bwd(n, per_image(l), extra + n, dy, dx, input_slot(m, s->dacts, s, l, 1));
        break;
    }
    free(masked);
}

void mc_generic_forward(const mc_model_desc *m, const mc_state *s, int train)
{
    for (int i = 0; i < m->nlayers; i++)
        mc_generic_forward_layer(m, s, i, train);
}

void mc_generic_backward(const mc_model_desc *m, const mc_state *s)
{
    for (int i = m->nlayers - 1; i >= 0; i--)
        mc_generic_backward_layer(m, s, i);
}

float mc_generic_loss(const mc_model_desc *m, const mc_state *s, const int32_t *labels, float *probs)
{
    const mc_layer *out = &m->layers[m->nlayers - 1];
    return mc_softmax_xent_fwd(s->batch, m->classes, output_slot(s->acts, s, out), labels, probs);
}

void mc_generic_loss_backward(const mc_model_desc *m, const mc_state *s, const int32_t *labels, const float *probs)
{
    const mc_layer *out = &m->layers[m->nlayers - 1];
    mc_softmax_xent_bwd(s->batch, m->classes, probs, labels, 1.0f / s->batch, output_slot(s->dacts, s, out));
}
