/* Whole-model check of an emitted model: its generated step against the
 * runtime's generic step on the same data, slot by slot. Built by
 * tests/emit_check.sh against one emitted model, with MODEL_HEADER (the
 * generated header) and MODEL_DESC (its descriptor) defined.
 *
 * A training forward, the loss of random labels, the backward, and an eval
 * forward must agree: every activation and activation gradient, every
 * parameter gradient, the running statistics and counters, within a
 * relative error of 1e-4 of each slot's largest magnitude. */
#ifndef MODEL_TOLERANCE
#define MODEL_TOLERANCE 1e-4 /* tests/cuda_check.sh asks for less */
#endif
/* Parameter gradients: the generic kernels sum them in float over every
 * position of the batch, and behind a batch norm the sum cancels to a
 * small remainder whose rounding alone nears 1e-4 on the larger layers. */
#ifndef MODEL_GRAD_TOLERANCE
#define MODEL_GRAD_TOLERANCE 1e-4
#endif
#ifdef MC_CHECK_SHIM
#include "criterion_shim.h"
#else
#include <criterion/criterion.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include MODEL_HEADER
#include "numeric.h"
#include "reference_conv.h"

/* The batch: 4 unless the check is built with another (emit_check.sh,
 * MCGEN_CHECK_BATCH: images past the tiles of the products over images). */
#ifndef MC_CHECK_BATCH
#define MC_CHECK_BATCH 4
#endif
enum { BATCH = MC_CHECK_BATCH };

static float *zeros(int64_t count)
{
    float *p = calloc((size_t)(count ? count : 1), sizeof *p);
    cr_assert(p, "out of memory");
    return p;
}

static void alloc_state(const mc_model_desc *m, mc_state *s)
{
    s->batch = BATCH;
    s->params = zeros(m->param_floats);
    s->grads = zeros(m->param_floats);
    s->buffers = zeros(m->buffer_floats);
    s->counters = calloc((size_t)(m->counters ? m->counters : 1), sizeof *s->counters);
    s->acts = zeros(m->act_floats * BATCH);
    s->dacts = zeros(m->act_floats * BATCH);
    s->saved = zeros(m->saved_floats);
    s->extra = zeros(m->extra_floats * BATCH);
}

static void free_state(mc_state *s)
{
    free(s->params), free(s->grads), free(s->buffers), free(s->counters);
    free(s->acts), free(s->dacts), free(s->saved), free(s->extra);
}

/* Parameters and buffers as the tensor table says they start. */
static void init_tensors(const mc_model_desc *m, mc_state *s, rng *r)
{
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area == MC_AREA_COUNTER)
            continue;
        float *p = (t->area == MC_AREA_PARAM ? s->params : s->buffers) + t->offset;
        for (int64_t k = 0; k < t->numel; k++) {
            switch (t->init) {
            case MC_INIT_ZEROS: p[k] = 0; break;
            case MC_INIT_ONES: p[k] = 1; break;
            case MC_INIT_UNIFORM: p[k] = (float)rng_uniform(r, -t->init_a, t->init_a); break;
            case MC_INIT_NORMAL: /* a sum of uniforms is close enough to a normal here */
                p[k] = (float)(t->init_a * (rng_uniform(r, -1, 1) + rng_uniform(r, -1, 1) + rng_uniform(r, -1, 1)));
                break;
            }
        }
    }
}

/* The random draws of a training step: dropout masks, shake weights. */
static void init_extra(const mc_model_desc *m, mc_state *s, rng *r)
{
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        float *e = s->extra + l->extra * BATCH;
        if (l->kind == MC_L_DROPOUT)
            for (long k = 0; k < (long)BATCH * l->c * l->h * l->w; k++)
                e[k] = rng_uniform(r, 0, 1) < l->p ? 0 : 1 / (1 - l->p);
        else if (l->kind == MC_L_SHAKE)
            for (int k = 0; k < 2 * BATCH; k++)
                e[k] = (float)rng_uniform(r, 0, 1);
    }
}

static void copy_state(const mc_model_desc *m, const mc_state *from, mc_state *to)
{
    memcpy(to->params, from->params, (size_t)m->param_floats * sizeof(float));
    memcpy(to->buffers, from->buffers, (size_t)m->buffer_floats * sizeof(float));
    memcpy(to->acts, from->acts, (size_t)(m->act_floats * BATCH) * sizeof(float));
    memcpy(to->extra, from->extra, (size_t)(m->extra_floats * BATCH) * sizeof(float));
}

static double max_abs(const float *a, long count)
{
    double m = 0;
    for (long k = 0; k < count; k++)
        m = fabs(a[k]) > m ? fabs(a[k]) : m;
    return m;
}

static double slot_err(const float *a, const float *b, long count, double floor)
{
    double err = 0, scale = floor;
    for (long k = 0; k < count; k++) {
        double d = fabs((double)a[k] - b[k]);
        if (d != d) /* a NaN (a gradient nobody wrote) fails the slot, whatever follows it */
            return d;
        if (d > err)
            err = d;
        scale = fabs(b[k]) > scale ? fabs(b[k]) : scale;
    }
    return err / scale;
}

static void expect_close(const char *what, const char *name, const float *gen, const float *ref, long count,
                         double floor, double tolerance)
{
    double e = slot_err(gen, ref, count, floor);
    cr_expect(e <= tolerance, "%s of %s: generated and generic differ by %.3g (relative), seed %llu", what, name, e,
              (unsigned long long)test_seed());
}

static long slot_floats(const mc_layer *l) { return (long)BATCH * l->c * l->h * l->w; }

/* The forward, layer by layer on equal inputs: after the generated forward,
 * each generic layer reads the generated outputs of its inputs, and its own
 * output is compared with the generated one. Rounding cannot compound over
 * depth, so every slot is held to 1e-4. `ref` holds the parameters and the
 * running statistics as they were before the generated step. A batch norm
 * folded into the conv after it writes no output: the generic one's is
 * given to both sides (the generated step never reads it), and the output
 * of the conv or add that applies it checks the fold. */
static void compare_forward(const mc_model_desc *m, const mc_state *g, const mc_state *r, int train)
{
    memcpy(r->acts, g->acts, (size_t)(m->act_floats * BATCH) * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        mc_generic_forward_layer(m, r, i, train);
        float *a = g->acts + l->act * BATCH, *b = r->acts + l->act * BATCH;
        if (l->folded) {
            memcpy(a, b, (size_t)slot_floats(l) * sizeof(float));
            continue;
        }
        expect_close("the output", l->name, a, b, slot_floats(l), 1e-30, MODEL_TOLERANCE);
        memcpy(b, a, (size_t)slot_floats(l) * sizeof(float));
    }
}

/* The backward likewise: when the generic backward reaches a layer, all of
 * its consumers have added to its output gradient; that is compared with
 * the generated one, then replaced by it, so the layer runs on equal inputs.
 * An identity shares its input's slot, which is compared at the input. A
 * batch norm folded into a conv has no output gradient on the generated side: the
 * generic conv and batch norm backwards run in turn, and their result, the
 * gradient of the batch norm's input, is compared at that input. */
static void compare_backward(const mc_model_desc *m, const mc_state *g, const mc_state *r)
{
    for (int i = m->nlayers - 1; i >= 0; i--) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        float *a = g->dacts + l->act * BATCH, *b = r->dacts + l->act * BATCH;
        if (l->folded != MC_FOLD_CONV) {
            expect_close("the gradient of the output", l->name, a, b, slot_floats(l), 1e-30, MODEL_TOLERANCE);
            memcpy(b, a, (size_t)slot_floats(l) * sizeof(float));
        }
        mc_generic_backward_layer(m, r, i);
    }
    expect_close("the gradient", "the input", g->dacts, r->dacts, (long)BATCH * m->c * m->h * m->w, 1e-30, MODEL_TOLERANCE);
    /* Gradients that a train-mode batch norm cancels (the bias of a layer in
     * front of one) are 0 up to rounding: their noise is compared against
     * a tenth of the largest parameter gradient, not their own size. (A
     * hundredth failed 2 seeds in 41 on tests/fixtures/fused_act.mcn: a
     * batch norm's bias gradient, nearly cancelled, off by 1.4e-6 of the
     * largest gradient, the float rounding of summing its few thousand
     * terms in another order; a wrong gradient is off by its own size.) */
    double grad_floor = 1e-1 * max_abs(r->grads, (long)m->param_floats);
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area == MC_AREA_PARAM && t->updated)
            expect_close("the gradient", t->name, g->grads + t->offset, r->grads + t->offset, (long)t->numel,
                         grad_floor, MODEL_GRAD_TOLERANCE);
    }
}

static double *to_double(const float *f, long count)
{
    double *d = malloc((size_t)(count ? count : 1) * sizeof *d);
    cr_assert(d);
    for (long k = 0; k < count; k++)
        d[k] = f[k];
    return d;
}

/* The convolutions' outputs against the naive double-precision reference. */
static void compare_reference(const mc_model_desc *m, const mc_state *g)
{
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        if (l->kind != MC_L_CONV && l->kind != MC_L_DEPTHWISE && l->kind != MC_L_MIXCONV)
            continue;
        long nin = (long)BATCH * l->in_c * l->in_h * l->in_w, nout = (long)BATCH * l->c * l->h * l->w, nw = 0;
        if (l->kind == MC_L_CONV)
            nw = (long)l->c * (l->in_c / l->groups) * l->k * l->k;
        else if (l->kind == MC_L_DEPTHWISE)
            for (int j = 0; j < l->nk; j++)
                nw += (long)l->in_c * l->ks[j] * l->ks[j];
        else
            for (int j = 0, ci[3], co[3]; j < 3; j++) {
                ref_mixconv_split(l->in_c, ci);
                ref_mixconv_split(l->c, co);
                nw += (long)ci[j] * co[j] * (3 + 2 * j) * (3 + 2 * j);
            }
        const float *xin = g->acts + (l->inputs[0] < 0 ? 0 : m->layers[l->inputs[0]].act) * BATCH;
        double *x = to_double(xin, nin), *w = to_double(g->params + l->weight, nw), *y = malloc((size_t)nout * 8);
        double *b = l->bias_at >= 0 ? to_double(g->params + l->bias_at, l->c) : NULL;
        if (l->kind == MC_L_CONV) {
            mc_conv_dims d = mc_layer_conv_dims(l, BATCH);
            ref_conv_fwd(&d, x, w, b, y);
        } else if (l->kind == MC_L_DEPTHWISE) {
            mc_dw_dims d = mc_layer_dw_dims(l, BATCH);
            ref_depthwise_fwd(&d, x, w, b, y);
        } else {
            mc_mixconv_dims d = mc_layer_mixconv_dims(l, BATCH);
            ref_mixconv_fwd(&d, x, w, y);
        }
        double e = rel_err(g->acts + l->act * BATCH, y, nout);
        cr_expect(e <= 1e-5, "%s: generated output differs from the double reference by %.3g, seed %llu", l->name, e,
                  (unsigned long long)test_seed());
        free(x), free(w), free(y), free(b);
    }
}

/* One training step counts one batch in every batch norm that ran; those
 * of unused layers (never run) stay at 0. */
static void check_counters(const mc_model_desc *m, const mc_state *g)
{
    int64_t *expected = calloc((size_t)(m->counters ? m->counters : 1), sizeof *expected);
    cr_assert(expected);
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == MC_L_BATCHNORM)
            expected[m->layers[i].counter] = 1;
    for (int64_t k = 0; k < m->counters; k++)
        cr_expect_eq(g->counters[k], expected[k], "num_batches_tracked %lld is %lld after one step, not %lld",
                     (long long)k, (long long)g->counters[k], (long long)expected[k]);
    free(expected);
}

Test(model, generated_equals_generic, .timeout = 600)
{
    const mc_model_desc *m = &MODEL_DESC;
    mc_state gen, ref;
    alloc_state(m, &gen);
    alloc_state(m, &ref);
    rng r = rng_new(test_seed());
    init_tensors(m, &gen, &r);
    fill_uniform(&r, gen.acts, NULL, (long)BATCH * m->c * m->h * m->w, -2, 2);
    init_extra(m, &gen, &r);
    copy_state(m, &gen, &ref);

    m->forward(&gen, 1);
    compare_forward(m, &gen, &ref, 1);
    compare_reference(m, &gen);
    expect_close("running statistics", m->name, gen.buffers, ref.buffers, (long)m->buffer_floats, 1e-30, MODEL_TOLERANCE);
    check_counters(m, &gen);

    /* The loss of random labels starts the backward on both sides, from
     * the generated forward's values (compare_forward left them in `ref`). */
    memcpy(ref.saved, gen.saved, (size_t)m->saved_floats * sizeof(float));
    int32_t labels[BATCH];
    for (int b = 0; b < BATCH; b++)
        labels[b] = (int32_t)(rng_uniform(&r, 0, m->classes)) % m->classes;
    float *probs_gen = zeros((int64_t)BATCH * m->classes), *probs_ref = zeros((int64_t)BATCH * m->classes);
    float loss_gen = m->loss(&gen, labels, probs_gen), loss_ref = mc_generic_loss(m, &ref, labels, probs_ref);
    cr_expect(fabsf(loss_gen - loss_ref) <= 1e-5f * fabsf(loss_ref) + 1e-6f, "loss %.9g, generic %.9g, seed %llu",
              loss_gen, loss_ref, (unsigned long long)test_seed());
    /* A backward that clears its own activation gradients (clears_dacts)
     * must write each before it reads it: the generated side starts from
     * NaN in all of them but the logits' (where the loss adds), so a
     * kernel that adds where it should store, or reads a gradient nobody
     * wrote, fails the comparison below. */
    if (m->clears_dacts) {
        const mc_layer *out = &m->layers[m->nlayers - 1];
        for (long k = 0; k < (long)(m->act_floats * BATCH); k++)
            gen.dacts[k] = NAN;
        memset(gen.dacts + out->act * BATCH, 0, sizeof(float) * BATCH * (size_t)m->classes);
    }
    m->loss_backward(&gen, labels, probs_gen);
    mc_generic_loss_backward(m, &ref, labels, probs_ref);
    free(probs_gen), free(probs_ref);
    m->backward(&gen);
    compare_backward(m, &gen, &ref);

    /* Eval mode: running statistics, no dropout. */
    memcpy(ref.buffers, gen.buffers, (size_t)m->buffer_floats * sizeof(float));
    m->forward(&gen, 0);
    compare_forward(m, &gen, &ref, 0);
    free_state(&gen);
    free_state(&ref);
}
