/* Naive double-precision references: see reference_ops.h. Each is the
 * definition written out with explicit NCHW indices; output shapes are
 * derived here from the definitions, not read from the dims' hout/wout. */
#include "reference_ops.h"

#include <math.h>

/* x[i, c, j] of an [n, channels, hw] tensor */
static long at3(int channels, int hw, int i, int c, int j)
{
    return ((long)i * channels + c) * hw + j;
}

/* x[i, c, y, x] of an [n, channels, h, w] tensor */
static long at4(int channels, int h, int w, int i, int c, int y, int x)
{
    return (((long)i * channels + c) * h + y) * w + x;
}

/* ---- batch norm ---- */

void ref_batchnorm_fwd_train(const mc_bn_dims *d, const double *x, const double *gamma, const double *beta,
                             double *running_mean, double *running_var, int64_t *num_batches, double *y,
                             double *save_mean, double *save_invstd)
{
    double count = (double)d->n * d->hw;
    for (int c = 0; c < d->c; c++) {
        double mean = 0, var = 0;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++)
                mean += x[at3(d->c, d->hw, i, c, j)] / count;
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                double dev = x[at3(d->c, d->hw, i, c, j)] - mean;
                var += dev * dev / count; /* biased: normalizes */
            }
        for (int i = 0; i < d->n; i++)
            for (int j = 0; j < d->hw; j++) {
                long k = at3(d->c, d->hw, i, c, j);
                y[k] = gamma[c] * (x[k] - mean) / sqrt(var + d->eps) + beta[c];
            }
        if (save_mean)
            save_mean[c] = mean;
        if (save_invstd)
            save_invstd[c] = 1 / sqrt(var + d->eps);
        /* unbiased for the running estimate; one value: the biased 0, as the kernel */
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        double m = d->momentum; /* 1 - m in double, not in float */
        if (running_mean)
            running_mean[c] = (1 - m) * running_mean[c] + m * mean;
        if (running_var)
            running_var[c] = (1 - m) * running_var[c] + m * unbiased;
    }
    if (num_batches)
        ++*num_batches;
}

void ref_batchnorm_fwd_eval(const mc_bn_dims *d, const double *x, const double *gamma, const double *beta,
                            const double *running_mean, const double *running_var, double *y)
{
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++)
            for (int j = 0; j < d->hw; j++) {
                long k = at3(d->c, d->hw, i, c, j);
                y[k] = gamma[c] * (x[k] - running_mean[c]) / sqrt(running_var[c] + d->eps) + beta[c];
            }
}

/* ---- element-wise ---- */

void ref_relu_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = fmax(x[i], 0);
}

void ref_relu6_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = fmin(fmax(x[i], 0), 6);
}

void ref_sigmoid_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = 1 / (1 + exp(-x[i]));
}

void ref_silu_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] / (1 + exp(-x[i]));
}

void ref_hardswish_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] * fmin(fmax(x[i] + 3, 0), 6) / 6;
}

void ref_hardsigmoid_fwd(long count, const double *x, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = fmin(fmax(x[i] + 3, 0), 6) / 6;
}

void ref_add_fwd(long count, int ninputs, const double *const *xs, double *y)
{
    for (long i = 0; i < count; i++) {
        y[i] = 0;
        for (int k = 0; k < ninputs; k++)
            y[i] += xs[k][i];
    }
}

void ref_mul_fwd(long count, const double *x, const double *mask, double *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] * mask[i];
}

void ref_shake_fwd(int n, long per, const double *a, const double *x1, const double *x2, double *y)
{
    for (int i = 0; i < n; i++)
        for (long j = 0; j < per; j++)
            y[i * per + j] = a[i] * x1[i * per + j] + (1 - a[i]) * x2[i * per + j];
}

/* ---- channels and space ---- */

void ref_concat_fwd(int n, int hw, int ninputs, const int *cs, const double *const *xs, double *y)
{
    int total = 0;
    for (int k = 0; k < ninputs; k++)
        total += cs[k];
    for (int i = 0; i < n; i++) {
        int first = 0; /* channel of y where input k starts */
        for (int k = 0; k < ninputs; k++) {
            for (int c = 0; c < cs[k]; c++)
                for (int j = 0; j < hw; j++)
                    y[at3(total, hw, i, first + c, j)] = xs[k][at3(cs[k], hw, i, c, j)];
            first += cs[k];
        }
    }
}

void ref_scale_fwd(int n, int c, int hw, const double *x, const double *s, double *y)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < hw; j++)
                y[at3(c, hw, i, ch, j)] = x[at3(c, hw, i, ch, j)] * s[i * c + ch];
}

void ref_avgpool_fwd(const mc_pool_dims *d, const double *x, double *y)
{
    int kh = d->k ? d->k : d->h, kw = d->k ? d->k : d->w, s = d->k ? d->stride : 1;
    int hout = (d->h - kh) / s + 1, wout = (d->w - kw) / s + 1;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++)
            for (int oy = 0; oy < hout; oy++)
                for (int ox = 0; ox < wout; ox++) {
                    double sum = 0;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                            sum += x[at4(d->c, d->h, d->w, i, c, oy * s + ky, ox * s + kx)];
                    y[at4(d->c, hout, wout, i, c, oy, ox)] = sum / (kh * kw);
                }
}

/* The maximum over the window's taps inside the input (padding is -inf). */
void ref_maxpool_fwd(const mc_pool_dims *d, const double *x, double *y)
{
    int hout = (d->h + 2 * d->pad - d->k) / d->stride + 1, wout = (d->w + 2 * d->pad - d->k) / d->stride + 1;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++)
            for (int oy = 0; oy < hout; oy++)
                for (int ox = 0; ox < wout; ox++) {
                    double best = -INFINITY;
                    for (int ky = 0; ky < d->k; ky++)
                        for (int kx = 0; kx < d->k; kx++) {
                            int iy = oy * d->stride + ky - d->pad, ix = ox * d->stride + kx - d->pad;
                            if (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                                best = fmax(best, x[at4(d->c, d->h, d->w, i, c, iy, ix)]);
                        }
                    y[at4(d->c, hout, wout, i, c, oy, ox)] = best;
                }
}

void ref_subsample_fwd(const mc_subsample_dims *d, const double *x, double *y)
{
    int hout = (d->h - 1) / d->stride + 1, wout = (d->w - 1) / d->stride + 1;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++)
            for (int oy = 0; oy < hout; oy++)
                for (int ox = 0; ox < wout; ox++) {
                    int sy = d->offset + d->stride * oy, sx = d->offset + d->stride * ox;
                    int inside = sy < d->h && sx < d->w;
                    y[at4(d->c, hout, wout, i, c, oy, ox)] = inside ? x[at4(d->c, d->h, d->w, i, c, sy, sx)] : 0;
                }
}

/* ---- linear and loss ---- */

void ref_linear_fwd(int n, int in, int out, const double *x, const double *w, const double *bias, double *y)
{
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double sum = bias ? bias[o] : 0;
            for (int k = 0; k < in; k++)
                sum += x[(long)i * in + k] * w[(long)o * in + k];
            y[(long)i * out + o] = sum;
        }
}

/* Straight from the definition, no max subtracted: doubles hold exp(700). */
double ref_softmax_xent_fwd(int n, int classes, const double *logits, const int32_t *labels, double *probs)
{
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const double *z = logits + (long)i * classes;
        double sum = 0;
        for (int j = 0; j < classes; j++)
            sum += exp(z[j]);
        for (int j = 0; probs && j < classes; j++)
            probs[(long)i * classes + j] = exp(z[j]) / sum;
        loss += -log(exp(z[labels[i]]) / sum) / n;
    }
    return loss;
}
