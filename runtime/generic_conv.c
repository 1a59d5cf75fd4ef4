/* The generic convolutions: PyTorch's Conv2d (cross-correlation, zero
 * padding, groups, stride sampling 0, s, 2s, ...) over run-time shapes.
 *
 * A depthwise layer with a kernel list and a MixConv layer are both sets of
 * ordinary grouped convolutions, each reading a channel slice of the input
 * and writing a channel slice of the output (conv_slice.h), so the public
 * functions only describe their slices. A slice with more than one channel
 * per group runs on matrix products (generic_conv_gemm.c); a depthwise one
 * (one channel per group) has nothing for a matrix product to share and
 * runs on the loop nests here, slice_fwd and slice_bwd. */
#include "mc_kernels.h"

#include <stddef.h>

#include "conv_slice.h"

/* A depthwise slice: output channel oc reads input channel oc alone. Tap
 * by tap, each output row takes w * the input row the tap reads: the inner
 * loop runs along a row (vectorizable), and the window (conv_tap_window)
 * keeps the padding out of it. */
static void slice_fwd(const conv_slice *s, const float *x, const float *w, const float *bias, float *y)
{
    const int hw = s->h * s->w, hwout = s->hout * s->wout, kk = s->k * s->k;
    for (int b = 0; b < s->n; b++)
        for (int oc = 0; oc < s->cout; oc++) {
            const float *xp = x + plane_at(b, s->xc, s->x0 + oc, hw), *wo = w + (size_t)oc * kk;
            float *yp = y + plane_at(b, s->yc, s->y0 + oc, hwout);
            for (int i = 0; i < hwout; i++)
                yp[i] = bias ? bias[oc] : 0.0f;
            for (int ky = 0; ky < s->k; ky++)
                for (int kx = 0; kx < s->k; kx++) {
                    const tap_window t = conv_tap_window(s, ky, kx);
                    const float wt = wo[ky * s->k + kx];
                    for (int oy = t.oy0; oy < t.oy1; oy++) {
                        const float *xr = xp + conv_tap_row(s, oy, ky, kx);
                        float *yr = yp + (size_t)oy * s->wout;
                        for (int ox = t.ox0; ox < t.ox1; ox++)
                            yr[ox] += wt * xr[(ptrdiff_t)ox * s->stride];
                    }
                }
        }
}

void conv_bias_grad(const conv_slice *s, const float *dy, float *dbias)
{
    const int hwout = s->hout * s->wout;
    for (int oc = 0; oc < s->cout; oc++) {
        /* In double, as the filters' gradient (slice_bwd). */
        double sum = 0.0;
        for (int b = 0; b < s->n; b++) {
            const float *dyp = dy + plane_at(b, s->yc, s->y0 + oc, hwout);
            for (int i = 0; i < hwout; i++)
                sum += dyp[i];
        }
        dbias[oc] += (float)sum;
    }
}

/* The forward's loops run backwards, tap by tap: dx's rows take w * dy's
 * (vectorizable), and the tap's weight gradient sums dy * x over every
 * image and position in double, added once: the terms often cancel, and a
 * float sum would keep only its leading digits (the generated kernels sum
 * in vectors of float lanes per image, far shorter sums). */
static void slice_bwd(const conv_slice *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                      float *dbias)
{
    const int hw = s->h * s->w, hwout = s->hout * s->wout, kk = s->k * s->k;
    if (dbias)
        conv_bias_grad(s, dy, dbias);
    if (!dx && !dw)
        return;
    for (int oc = 0; oc < s->cout; oc++)
        for (int ky = 0; ky < s->k; ky++)
            for (int kx = 0; kx < s->k; kx++) {
                const tap_window t = conv_tap_window(s, ky, kx);
                const float wt = w[(size_t)oc * kk + ky * s->k + kx];
                double sum = 0;
                for (int b = 0; b < s->n; b++) {
                    const size_t xp = plane_at(b, s->xc, s->x0 + oc, hw);
                    const float *dyp = dy + plane_at(b, s->yc, s->y0 + oc, hwout);
                    for (int oy = t.oy0; oy < t.oy1; oy++) {
                        const ptrdiff_t row = (ptrdiff_t)xp + conv_tap_row(s, oy, ky, kx);
                        const float *dyr = dyp + (size_t)oy * s->wout;
                        if (dx)
                            for (int ox = t.ox0; ox < t.ox1; ox++)
                                dx[row + (ptrdiff_t)ox * s->stride] += wt * dyr[ox];
                        if (dw)
                            for (int ox = t.ox0; ox < t.ox1; ox++)
                                sum += (double)dyr[ox] * x[row + (ptrdiff_t)ox * s->stride];
                    }
                }
                if (dw)
                    dw[(size_t)oc * kk + ky * s->k + kx] += (float)sum;
            }
}

/* One channel per group: the loops; more: the matrix products. (The loops
 * read one channel per group: x0 + oc.) */
static void run_fwd(const conv_slice *s, const float *x, const float *w, const float *bias, float *y)
{
    if (s->cin == s->groups && s->cout == s->groups)
        slice_fwd(s, x, w, bias, y);
    else
        conv_slice_fwd_gemm(s, x, w, bias, y);
}

static void run_bwd(const conv_slice *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                    float *dbias)
{
    if (s->cin == s->groups && s->cout == s->groups)
        slice_bwd(s, x, w, dy, dx, dw, dbias);
    else
        conv_slice_bwd_gemm(s, x, w, dy, dx, dw, dbias);
}

/* ---- dense (grouped) convolution ------------------------------------------ */

static conv_slice conv_whole(const mc_conv_dims *d)
{
    return (conv_slice){
        .n = d->n, .h = d->h, .w = d->w, .hout = d->hout, .wout = d->wout,
        .cin = d->cin, .cout = d->cout, .k = d->k, .stride = d->stride, .pad = d->pad, .groups = d->groups,
        .xc = d->cin, .x0 = 0,
        .yc = d->cout, .y0 = 0,
    };
}

void mc_conv_fwd(const mc_conv_dims *d, const float *x, const float *w, const float *bias, float *y)
{
    conv_slice s = conv_whole(d);
    run_fwd(&s, x, w, bias, y);
}

void mc_conv_bwd(const mc_conv_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                 float *dbias)
{
    conv_slice s = conv_whole(d);
    run_bwd(&s, x, w, dy, dx, dw, dbias);
}

/* ---- depthwise with a kernel list ------------------------------------------ */

/* Kernel j: c groups of one channel, all input channels, output channel block
 * j. */
static conv_slice depthwise_kernel(const mc_dw_dims *d, int j)
{
    return (conv_slice){
        .n = d->n, .h = d->h, .w = d->w, .hout = d->hout, .wout = d->wout,
        .cin = d->c, .cout = d->c, .k = d->ks[j], .stride = d->stride, .pad = d->ks[j] / 2, .groups = d->c,
        .xc = d->c, .x0 = 0,
        .yc = d->c * d->nk, .y0 = j * d->c,
    };
}

/* The bias, as the header allows it only with one kernel, is read as one
 * value per output channel (c * nk), which is the same thing there. */
void mc_depthwise_fwd(const mc_dw_dims *d, const float *x, const float *w, const float *bias, float *y)
{
    size_t wj = 0; /* kernel j's weights follow kernel j-1's */
    for (int j = 0; j < d->nk; j++) {
        conv_slice s = depthwise_kernel(d, j);
        run_fwd(&s, x, w + wj, bias ? bias + s.y0 : NULL, y);
        wj += (size_t)d->c * s.k * s.k;
    }
}

void mc_depthwise_bwd(const mc_dw_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                      float *dbias)
{
    size_t wj = 0;
    for (int j = 0; j < d->nk; j++) {
        conv_slice s = depthwise_kernel(d, j);
        run_bwd(&s, x, w + wj, dy, dx, dw ? dw + wj : NULL, dbias ? dbias + s.y0 : NULL);
        wj += (size_t)d->c * s.k * s.k;
    }
}

/* ---- MixConv ------------------------------------------------------------------ */

enum { MIXCONV_GROUPS = 3 };

/* The reference's channel split: c/3 per group, the first takes the rest. */
static int mixconv_part(int c, int i)
{
    return c / MIXCONV_GROUPS + (i == 0 ? c % MIXCONV_GROUPS : 0);
}

static int mixconv_k(int i)
{
    return 3 + 2 * i;
}

/* Group i's slice and the offset of its weights in w, past groups 0 .. i-1. */
static conv_slice mixconv_group(const mc_mixconv_dims *d, int i, size_t *woffset)
{
    conv_slice s = {
        .n = d->n, .h = d->h, .w = d->w, .hout = d->hout, .wout = d->wout,
        .cin = mixconv_part(d->cin, i), .cout = mixconv_part(d->cout, i),
        .k = mixconv_k(i), .stride = d->stride, .pad = mixconv_k(i) / 2, .groups = 1,
        .xc = d->cin, .yc = d->cout,
    };
    *woffset = 0;
    for (int g = 0; g < i; g++) {
        int cin = mixconv_part(d->cin, g), cout = mixconv_part(d->cout, g), k = mixconv_k(g);
        s.x0 += cin;
        s.y0 += cout;
        *woffset += (size_t)cout * cin * k * k;
    }
    return s;
}

void mc_mixconv_fwd(const mc_mixconv_dims *d, const float *x, const float *w, float *y)
{
    for (int i = 0; i < MIXCONV_GROUPS; i++) {
        size_t wi;
        conv_slice s = mixconv_group(d, i, &wi);
        run_fwd(&s, x, w + wi, NULL, y);
    }
}

void mc_mixconv_bwd(const mc_mixconv_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw)
{
    for (int i = 0; i < MIXCONV_GROUPS; i++) {
        size_t wi;
        conv_slice s = mixconv_group(d, i, &wi);
        run_bwd(&s, x, w + wi, dy, dx, dw ? dw + wi : NULL, NULL);
    }
}
