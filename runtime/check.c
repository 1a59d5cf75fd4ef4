/* The generated step against the generic one (mc_check.h), layer by layer
 * on equal inputs as tests/model_check.c does: after the generated
 * forward, each generic layer reads the generated outputs of its inputs,
 * so rounding cannot compound over depth and one tolerance holds at every
 * depth (a whole step compared at its end drifts by 1e-2 where a ReLU
 * input sits near 0). */
#include "mc_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mc_net.h"
#include "mc_rng.h"

typedef struct worst {
    double err;
    const char *what, *name;
} worst;

/* max |a - b| over max(max |b|, floor), kept when it is the largest yet
 * (a NaN on either side counts as the largest). */
static void compare(worst *w, const char *what, const char *name, const float *a, const float *b, int64_t n,
                    double floor)
{
    double diff = 0, scale = floor;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        diff = d > diff || d != d ? d : diff;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    const double e = diff / scale;
    if (e > w->err || (e != e && w->err == w->err))
        *w = (worst){e, what, name};
}

/* The random draws of a training step, equal for both sides: every
 * dropout keeps everything, every shake-shake blends halves. */
static void fixed_draws(const mc_model_desc *m, const mc_state *s)
{
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        float *e = s->extra + l->extra * s->batch;
        const int64_t n = l->kind == MC_L_DROPOUT ? (int64_t)s->batch * l->c * l->h * l->w
                          : l->kind == MC_L_SHAKE ? 2 * s->batch : 0;
        for (int64_t k = 0; k < n; k++)
            e[k] = l->kind == MC_L_DROPOUT ? 1.0f : 0.5f;
    }
}

static int64_t slot(const mc_layer *l, int batch) { return (int64_t)batch * l->c * l->h * l->w; }

/* The forward: each generic layer from the generated outputs of its
 * inputs. A batch norm folded into the conv after it writes no output on
 * the generated side: the generic one's is given to both. */
static void check_forward(const mc_model_desc *m, const mc_state *g, const mc_state *r, worst *w)
{
    const int n = g->batch;
    memcpy(r->acts, g->acts, sizeof(float) * (size_t)(m->act_floats * n));
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        mc_generic_forward_layer(m, r, i, 1);
        float *a = g->acts + l->act * n, *b = r->acts + l->act * n;
        if (!l->folded)
            compare(w, "the output", l->name, a, b, slot(l, n), 1e-30);
        memcpy(l->folded ? a : b, l->folded ? b : a, sizeof(float) * (size_t)slot(l, n));
    }
}

/* The backward likewise, from the top: a layer's output gradient compared
 * once its consumers have added to it, then made equal; the parameter
 * gradients at the end (those a batch norm cancels to rounding against a
 * hundredth of the largest). */
static void check_backward(const mc_model_desc *m, const mc_state *g, const mc_state *r, worst *w)
{
    const int n = g->batch;
    for (int i = m->nlayers - 1; i >= 0; i--) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        float *a = g->dacts + l->act * n, *b = r->dacts + l->act * n;
        if (l->folded != MC_FOLD_CONV) {
            compare(w, "the gradient of the output", l->name, a, b, slot(l, n), 1e-30);
            memcpy(b, a, sizeof(float) * (size_t)slot(l, n));
        }
        mc_generic_backward_layer(m, r, i);
    }
    compare(w, "the gradient", "the input", g->dacts, r->dacts, (int64_t)n * m->c * m->h * m->w, 1e-30);
    double gmax = 0;
    for (int64_t k = 0; k < m->param_floats; k++)
        gmax = fabs(r->grads[k]) > gmax ? fabs(r->grads[k]) : gmax;
    for (int t = 0; t < m->ntensors; t++) {
        const mc_tensor_desc *d = &m->tensors[t];
        if (d->area == MC_AREA_PARAM && d->updated)
            compare(w, "the gradient", d->name, g->grads + d->offset, r->grads + d->offset, d->numel,
                    fmax(1e-2 * gmax, 1e-30));
    }
}

int mc_check(const mc_model_desc *m, int batch, double tol)
{
    mc_net nets[2];
    int32_t labels[256];
    if (batch < 1 || batch > 256) {
        fprintf(stderr, "error: check takes a batch of 1 to 256 images, not %d\n", batch);
        return 1;
    }
    if (mc_net_init(&nets[0], m, batch, 0) != 0 || mc_net_init(&nets[1], m, batch, 1) != 0) {
        fprintf(stderr, "error: out of memory for a batch of %d\n", batch);
        return 1;
    }
    const mc_state *g = &nets[0].s, *r = &nets[1].s;
    mc_rng rng;
    mc_rng_seed(&rng, 1);
    mc_net_init_params(&nets[0], &rng);
    float *x = mc_net_input(&nets[0], batch);
    mc_net_input(&nets[1], batch);
    for (long i = 0; i < (long)batch * m->c * m->h * m->w; i++)
        x[i] = (float)mc_rng_normal(&rng);
    for (int i = 0; i < batch; i++)
        labels[i] = (int32_t)mc_rng_below(&rng, (uint32_t)m->classes);
    memcpy(r->params, g->params, sizeof(float) * (size_t)m->param_floats);
    memcpy(r->buffers, g->buffers, sizeof(float) * (size_t)m->buffer_floats);
    fixed_draws(m, g);
    memcpy(r->extra, g->extra, sizeof(float) * (size_t)(m->extra_floats * batch));

    worst w = {0, "", ""};
    m->forward(g, 1);
    check_forward(m, g, r, &w);
    memcpy(r->saved, g->saved, sizeof(float) * (size_t)m->saved_floats);
    const float loss_g = m->loss(g, labels, nets[0].probs), loss_r = mc_generic_loss(m, r, labels, nets[1].probs);
    compare(&w, "the loss", "the batch", &loss_g, &loss_r, 1, 1e-30);
    m->loss_backward(g, labels, nets[0].probs);
    mc_generic_loss_backward(m, r, labels, nets[1].probs);
    m->backward(g);
    check_backward(m, g, r, &w);
    mc_net_free(&nets[0]);
    mc_net_free(&nets[1]);
    if (!(w.err <= tol)) {
        fprintf(stderr, "error: the generated step differs from the generic one: %s of %s by %.3g (relative; "
                        "tolerance %.3g)\n",
                w.what, w.name, w.err, tol);
        return 1;
    }
    printf("check: the generated step matches the generic one on %d random images, layer by layer (largest "
           "relative difference %.3g: %s of %s)\n",
           batch, w.err, w.what, w.name);
    return 0;
}
