/* The generic non-convolution kernels of mc_kernels.h: shapes as run-time
 * arguments, plain loops (the linear layers' matrix products excepted),
 * PyTorch's semantics.
 *
 * Every reduction of these loops (batch norm's per-channel sums, pooling
 * windows, the scale's dot products, softmax's partition) accumulates in double: these kernels are
 * the oracle the generated ones are checked against, and a scalar reduction
 * loop costs the same in double as in float (it cannot be vectorized
 * without reassociating, which strict C forbids either way).
 *
 * Every backward skips a NULL gradient (mc_kernels.h: "not needed"), the
 * single-gradient ones included, so that callers need no special case. */
#include "mc_kernels.h"

#include "mc_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared loops ---------------------------------------------------------- */

/* y += alpha * x */
static void axpy(long count, float alpha, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] += alpha * x[i];
}

/* sum of a[i] * b[i], in double */
static double dot(long count, const float *a, const float *b)
{
    double sum = 0;
    for (long i = 0; i < count; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/* ---- batch norm ------------------------------------------------------------ */

/* Channel c of image i is hw contiguous values at this offset: every batch
 * norm loop walks a channel as n such planes. */
static long bn_plane(const mc_bn_dims *d, int i, int c)
{
    return ((long)i * d->c + c) * d->hw;
}

static double bn_count(const mc_bn_dims *d)
{
    return (double)d->n * d->hw;
}

/* The sum of channel c over the batch. */
static double bn_sum(const mc_bn_dims *d, const float *x, int c)
{
    double sum = 0;
    for (int i = 0; i < d->n; i++) {
        const float *p = x + bn_plane(d, i, c);
        for (int j = 0; j < d->hw; j++)
            sum += p[j];
    }
    return sum;
}

/* The sum of channel c's squared deviations from mean. Two passes: the
 * one-pass E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std. */
static double bn_sqdev(const mc_bn_dims *d, const float *x, int c, double mean)
{
    double sq = 0;
    for (int i = 0; i < d->n; i++) {
        const float *p = x + bn_plane(d, i, c);
        for (int j = 0; j < d->hw; j++)
            sq += ((double)p[j] - mean) * ((double)p[j] - mean);
    }
    return sq;
}

double (*mc_bn_allreduce)(double *sums, int n, double count) = NULL;

/* 2c doubles for the statistics of every channel at once (synchronized
 * batch norm only: one reduction for all channels, not one per channel). */
static double *bn_scratch(int c)
{
    double *p = malloc(2 * (size_t)c * sizeof *p);
    if (!p) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    return p;
}

/* Every channel's batch mean and biased variance over the global batch of
 * all processes; returns its count of values per channel. */
static double bn_synced_stats(const mc_bn_dims *d, const float *x, double *mean, double *var)
{
    for (int c = 0; c < d->c; c++)
        mean[c] = bn_sum(d, x, c);
    const double count = mc_bn_allreduce(mean, d->c, bn_count(d));
    for (int c = 0; c < d->c; c++) {
        mean[c] /= count;
        var[c] = bn_sqdev(d, x, c, mean[c]);
    }
    mc_bn_allreduce(var, d->c, count);
    for (int c = 0; c < d->c; c++)
        var[c] /= count;
    return count;
}

/* y = (x - mean) * scale + shift over channel c: the normalization of both
 * modes, with gamma folded into scale. In double: x - mean in float would
 * lose ulp(mean) / std of y's precision, 1e-5 when |mean| ~ 300 std. */
static void bn_normalize(const mc_bn_dims *d, const float *x, int c, double mean, double scale, double shift,
                         float *y)
{
    for (int i = 0; i < d->n; i++) {
        const float *p = x + bn_plane(d, i, c);
        float *q = y + bn_plane(d, i, c);
        for (int j = 0; j < d->hw; j++)
            q[j] = (float)((p[j] - mean) * scale + shift);
    }
}

void mc_batchnorm_fwd_train(const mc_bn_dims *d, const float *x, const float *gamma, const float *beta,
                            float *running_mean, float *running_var, int64_t *num_batches, float *y,
                            float *save_mean, float *save_invstd)
{
    double *synced = mc_bn_allreduce ? bn_scratch(d->c) : NULL;
    double count = synced ? bn_synced_stats(d, x, synced, synced + d->c) : bn_count(d), m = d->momentum;
    for (int c = 0; c < d->c; c++) {
        double mean = synced ? synced[c] : bn_sum(d, x, c) / count;
        double var = synced ? synced[d->c + c] : bn_sqdev(d, x, c, mean) / count;
        double invstd = 1 / sqrt(var + d->eps);
        bn_normalize(d, x, c, mean, gamma[c] * invstd, beta[c], y);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        /* The running estimate takes the unbiased variance. With one value
         * per channel it is 0/0: PyTorch refuses to train then; we take the
         * biased one (0) instead of writing a NaN into the model. */
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        running_mean[c] = (float)((1 - m) * running_mean[c] + m * mean);
        running_var[c] = (float)((1 - m) * running_var[c] + m * unbiased);
    }
    *num_batches += 1;
    free(synced);
}

void mc_batchnorm_fwd_eval(const mc_bn_dims *d, const float *x, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var, float *y)
{
    for (int c = 0; c < d->c; c++) {
        double invstd = 1 / sqrt((double)running_var[c] + d->eps);
        bn_normalize(d, x, c, running_mean[c], gamma[c] * invstd, beta[c], y);
    }
}

/* Sums over channel c of dy and of dy * xhat, xhat = (x - mean) * invstd,
 * also added to dgamma[c] and dbeta[c] (this process's share of them). */
static void bn_grad_sums(const mc_bn_dims *d, const float *x, const float *dy, int c, const float *save_mean,
                         const float *save_invstd, float *dgamma, float *dbeta, double *sum_dy, double *sum_dy_xhat)
{
    const float mean = save_mean[c], invstd = save_invstd[c];
    double s = 0, sx = 0;
    for (int i = 0; i < d->n; i++) {
        const float *p = x + bn_plane(d, i, c), *g = dy + bn_plane(d, i, c);
        for (int j = 0; j < d->hw; j++) {
            s += g[j];
            sx += (double)g[j] * ((p[j] - mean) * invstd);
        }
    }
    if (dgamma)
        dgamma[c] += (float)sx;
    if (dbeta)
        dbeta[c] += (float)s;
    *sum_dy = s;
    *sum_dy_xhat = sx;
}

/* The training-mode backward: the gradient flows through the batch mean and
 * variance too, which gives dx its two mean terms. */
void mc_batchnorm_bwd(const mc_bn_dims *d, const float *x, const float *gamma, const float *save_mean,
                      const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    double count = bn_count(d);
    double *synced = mc_bn_allreduce ? bn_scratch(d->c) : NULL;
    if (synced) {
        /* dx takes the means over the global batch; the parameters' own
         * sums stay local, the gradient all-reduce adds them up. */
        for (int c = 0; c < d->c; c++)
            bn_grad_sums(d, x, dy, c, save_mean, save_invstd, dgamma, dbeta, &synced[c], &synced[d->c + c]);
        count = mc_bn_allreduce(synced, 2 * d->c, count);
    }
    for (int c = 0; c < d->c; c++) {
        float mean = save_mean[c], invstd = save_invstd[c];
        double sum_dy, sum_dy_xhat;
        if (synced)
            sum_dy = synced[c], sum_dy_xhat = synced[d->c + c];
        else
            bn_grad_sums(d, x, dy, c, save_mean, save_invstd, dgamma, dbeta, &sum_dy, &sum_dy_xhat);
        if (!dx)
            continue;
        /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) */
        float k = gamma[c] * invstd, mean_dy = (float)(sum_dy / count), mean_dy_xhat = (float)(sum_dy_xhat / count);
        for (int i = 0; i < d->n; i++) {
            const float *p = x + bn_plane(d, i, c), *g = dy + bn_plane(d, i, c);
            float *q = dx + bn_plane(d, i, c);
            for (int j = 0; j < d->hw; j++)
                q[j] += k * (g[j] - mean_dy - (p[j] - mean) * invstd * mean_dy_xhat);
        }
    }
    free(synced);
}

/* ---- element-wise --------------------------------------------------------- */

/* x < 0 ? 0 : x, not x > 0 ? x : 0: a NaN stays NaN, as in PyTorch. */
void mc_relu_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] < 0 ? 0 : x[i];
}

void mc_relu_bwd(long count, const float *y, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        if (y[i] > 0)
            dx[i] += dy[i];
}

void mc_relu6_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
}

/* From the input: the output cannot tell 6 from "clipped to 6". */
void mc_relu6_bwd(long count, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        if (x[i] > 0 && x[i] < 6)
            dx[i] += dy[i];
}

/* exp(-x) overflows to inf for x < -88, and 1 / (1 + inf) is the right 0. */
void mc_sigmoid_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = 1 / (1 + expf(-x[i]));
}

void mc_sigmoid_bwd(long count, const float *y, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        dx[i] += dy[i] * y[i] * (1 - y[i]);
}

void mc_silu_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] / (1 + expf(-x[i]));
}

/* PyTorch's: dy * s * (1 + x * (1 - s)), s = sigmoid(x). */
void mc_silu_bwd(long count, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++) {
        const float s = 1 / (1 + expf(-x[i]));
        dx[i] += dy[i] * s * (1 + x[i] * (1 - s));
    }
}

static float relu6_of(float v) { return v < 0 ? 0 : v > 6 ? 6 : v; }

void mc_hardswish_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] * relu6_of(x[i] + 3) / 6;
}

void mc_hardswish_bwd(long count, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        dx[i] += x[i] < -3 ? 0 : x[i] <= 3 ? dy[i] * (x[i] / 3 + 0.5f) : dy[i];
}

void mc_hardsigmoid_fwd(long count, const float *x, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = relu6_of(x[i] + 3) / 6;
}

void mc_hardsigmoid_bwd(long count, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        if (x[i] > -3 && x[i] < 3)
            dx[i] += dy[i] * (1.0f / 6);
}

/* One element at a time over all inputs, so y may be one of the inputs. */
void mc_add_fwd(long count, int ninputs, const float *const *xs, float *y)
{
    for (long i = 0; i < count; i++) {
        float sum = 0;
        for (int k = 0; k < ninputs; k++)
            sum += xs[k][i];
        y[i] = sum;
    }
}

void mc_accumulate(long count, const float *dy, float *dx)
{
    if (!dx)
        return;
    axpy(count, 1, dy, dx);
}

void mc_mul_fwd(long count, const float *x, const float *mask, float *y)
{
    for (long i = 0; i < count; i++)
        y[i] = x[i] * mask[i];
}

void mc_mul_bwd(long count, const float *mask, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long i = 0; i < count; i++)
        dx[i] += dy[i] * mask[i];
}

void mc_shake_fwd(int n, long per, const float *a, const float *x1, const float *x2, float *y)
{
    for (int i = 0; i < n; i++) {
        long o = i * per;
        for (long j = 0; j < per; j++)
            y[o + j] = a[i] * x1[o + j] + (1 - a[i]) * x2[o + j];
    }
}

void mc_shake_bwd(int n, long per, const float *b, const float *dy, float *dx1, float *dx2)
{
    for (int i = 0; i < n; i++) {
        long o = i * per;
        if (dx1)
            axpy(per, b[i], dy + o, dx1 + o);
        if (dx2)
            axpy(per, 1 - b[i], dy + o, dx2 + o);
    }
}

/* ---- channels and space ----------------------------------------------------- */

/* Image i of y is input 0's cs[0]*hw values of image i, then input 1's, ... */
static long concat_image_size(int hw, int ninputs, const int *cs)
{
    long size = 0;
    for (int k = 0; k < ninputs; k++)
        size += (long)cs[k] * hw;
    return size;
}

void mc_concat_fwd(int n, int hw, int ninputs, const int *cs, const float *const *xs, float *y)
{
    long image = concat_image_size(hw, ninputs, cs);
    for (int i = 0; i < n; i++) {
        float *out = y + i * image;
        for (int k = 0; k < ninputs; k++) {
            long part = (long)cs[k] * hw;
            memcpy(out, xs[k] + i * part, (size_t)part * sizeof *out);
            out += part;
        }
    }
}

void mc_concat_bwd(int n, int hw, int ninputs, const int *cs, const float *dy, float *const *dxs)
{
    long image = concat_image_size(hw, ninputs, cs);
    for (int i = 0; i < n; i++) {
        const float *in = dy + i * image;
        for (int k = 0; k < ninputs; k++) {
            long part = (long)cs[k] * hw;
            if (dxs && dxs[k])
                mc_accumulate(part, in, dxs[k] + i * part);
            in += part;
        }
    }
}

void mc_scale_fwd(int n, int c, int hw, const float *x, const float *s, float *y)
{
    for (long p = 0; p < (long)n * c; p++)
        for (long j = 0; j < hw; j++)
            y[p * hw + j] = x[p * hw + j] * s[p];
}

void mc_scale_bwd(int n, int c, int hw, const float *x, const float *s, const float *dy, float *dx, float *ds)
{
    for (long p = 0; p < (long)n * c; p++) {
        if (dx)
            axpy(hw, s[p], dy + p * hw, dx + p * hw);
        if (ds)
            ds[p] += (float)dot(hw, dy + p * hw, x + p * hw);
    }
}

/* The pooling window: k x k moving by stride, or the whole plane (k = 0). */
typedef struct pool_window {
    int kh, kw, stride;
} pool_window;

static pool_window pool_window_of(const mc_pool_dims *d)
{
    return d->k ? (pool_window){d->k, d->k, d->stride} : (pool_window){d->h, d->w, 1};
}

void mc_avgpool_fwd(const mc_pool_dims *d, const float *x, float *y)
{
    pool_window win = pool_window_of(d);
    double area = (double)win.kh * win.kw;
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *in = x + p * d->h * d->w;
        float *out = y + p * d->hout * d->wout;
        for (int oy = 0; oy < d->hout; oy++)
            for (int ox = 0; ox < d->wout; ox++) {
                const float *corner = in + (long)oy * win.stride * d->w + (long)ox * win.stride;
                double sum = 0;
                for (int ky = 0; ky < win.kh; ky++)
                    for (int kx = 0; kx < win.kw; kx++)
                        sum += corner[(long)ky * d->w + kx];
                out[oy * d->wout + ox] = (float)(sum / area);
            }
    }
}

void mc_avgpool_bwd(const mc_pool_dims *d, const float *dy, float *dx)
{
    if (!dx)
        return;
    pool_window win = pool_window_of(d);
    float inv_area = (float)(1.0 / ((double)win.kh * win.kw));
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *out = dy + p * d->hout * d->wout;
        float *in = dx + p * d->h * d->w;
        for (int oy = 0; oy < d->hout; oy++)
            for (int ox = 0; ox < d->wout; ox++) {
                float *corner = in + (long)oy * win.stride * d->w + (long)ox * win.stride;
                float g = out[oy * d->wout + ox] * inv_area;
                for (int ky = 0; ky < win.kh; ky++)
                    for (int kx = 0; kx < win.kw; kx++)
                        corner[(long)ky * d->w + kx] += g;
            }
    }
}

/* The offset in its plane of the first maximum of window (oy, ox), PyTorch's
 * scan: -inf to start, row-major, replaced by a greater value or a NaN. */
static long maxpool_argmax(const mc_pool_dims *d, const float *plane, int oy, int ox)
{
    long at = -1;
    float best = -INFINITY;
    for (int ky = 0; ky < d->k; ky++) {
        const int iy = oy * d->stride + ky - d->pad;
        for (int kx = 0; kx < d->k; kx++) {
            const int ix = ox * d->stride + kx - d->pad;
            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                continue;
            const float v = plane[(long)iy * d->w + ix];
            if (at < 0 || v > best || isnan(v)) {
                best = v;
                at = (long)iy * d->w + ix;
            }
        }
    }
    return at;
}

void mc_maxpool_fwd(const mc_pool_dims *d, const float *x, float *y)
{
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *in = x + p * d->h * d->w;
        for (int oy = 0; oy < d->hout; oy++)
            for (int ox = 0; ox < d->wout; ox++)
                y[(p * d->hout + oy) * d->wout + ox] = in[maxpool_argmax(d, in, oy, ox)];
    }
}

/* Recomputes each window's first maximum from the saved input: no index
 * area to plan, and the scan costs what the forward does. */
void mc_maxpool_bwd(const mc_pool_dims *d, const float *x, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *in = x + p * d->h * d->w;
        for (int oy = 0; oy < d->hout; oy++)
            for (int ox = 0; ox < d->wout; ox++)
                dx[p * d->h * d->w + maxpool_argmax(d, in, oy, ox)] += dy[(p * d->hout + oy) * d->wout + ox];
    }
}

/* Where output (i, j) reads in its plane, or -1 past the edge. */
static long subsample_source(const mc_subsample_dims *d, int i, int j)
{
    int sy = d->offset + d->stride * i, sx = d->offset + d->stride * j;
    return sy < d->h && sx < d->w ? (long)sy * d->w + sx : -1;
}

void mc_subsample_fwd(const mc_subsample_dims *d, const float *x, float *y)
{
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *in = x + p * d->h * d->w;
        float *out = y + p * d->hout * d->wout;
        for (int i = 0; i < d->hout; i++)
            for (int j = 0; j < d->wout; j++) {
                long src = subsample_source(d, i, j);
                out[i * d->wout + j] = src < 0 ? 0 : in[src];
            }
    }
}

void mc_subsample_bwd(const mc_subsample_dims *d, const float *dy, float *dx)
{
    if (!dx)
        return;
    for (long p = 0; p < (long)d->n * d->c; p++) {
        const float *out = dy + p * d->hout * d->wout;
        float *in = dx + p * d->h * d->w;
        for (int i = 0; i < d->hout; i++)
            for (int j = 0; j < d->wout; j++) {
                long src = subsample_source(d, i, j);
                if (src >= 0)
                    in[src] += out[i * d->wout + j];
            }
    }
}

/* ---- linear and loss ---------------------------------------------------------- */

/* On mc_gemm, as the convolutions: y = x w^T (after the bias), dx += dy w,
 * dw += dy^T x. */
void mc_linear_fwd(int n, int in, int out, const float *x, const float *w, const float *bias, float *y)
{
    for (long b = 0; b < n; b++)
        for (long o = 0; o < out; o++)
            y[b * out + o] = bias ? bias[o] : 0;
    mc_gemm(0, 1, n, out, in, x, in, w, in, 1.0f, y, out);
}

void mc_linear_bwd(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw,
                   float *dbias)
{
    if (dx)
        mc_gemm(0, 0, n, in, out, dy, out, w, in, 1.0f, dx, in);
    if (dw)
        mc_gemm(1, 0, out, in, n, dy, out, x, in, 1.0f, dw, in);
    for (long b = 0; dbias && b < n; b++)
        for (long o = 0; o < out; o++)
            dbias[o] += dy[b * out + o];
}

/* Softmax of one row of logits into p; returns the row's loss,
 * log(sum_j exp(z_j)) - z_label, with the maximum subtracted before exp so
 * that large logits do not overflow. */
double mc_softmax_sum(int classes, const float *z, float *max)
{
    float m = z[0];
    for (int j = 1; j < classes; j++)
        m = z[j] > m ? z[j] : m;
    double sum = 0;
    for (int j = 0; j < classes; j++)
        sum += exp((double)z[j] - m);
    *max = m;
    return sum;
}

static double softmax_xent_row(int classes, const float *z, int32_t label, float *p)
{
    float max;
    const double sum = mc_softmax_sum(classes, z, &max);
    for (int j = 0; j < classes; j++)
        p[j] = (float)(exp((double)z[j] - max) / sum);
    return log(sum) - ((double)z[label] - max);
}

float mc_softmax_xent_fwd(int n, int classes, const float *logits, const int32_t *labels, float *probs)
{
    double total = 0;
    for (long b = 0; b < n; b++)
        total += softmax_xent_row(classes, logits + b * classes, labels[b], probs + b * classes);
    return (float)(total / n);
}

void mc_softmax_xent_bwd(int n, int classes, const float *probs, const int32_t *labels, float scale, float *dlogits)
{
    if (!dlogits)
        return;
    for (long b = 0; b < n; b++)
        for (long j = 0; j < classes; j++)
            dlogits[b * classes + j] += (probs[b * classes + j] - (j == labels[b] ? 1 : 0)) * scale;
}

double mc_uniform_xent(int n, int classes, const float *logits)
{
    double total = 0;
    for (long b = 0; b < n; b++) {
        const float *z = logits + b * classes;
        float max;
        const double sum = mc_softmax_sum(classes, z, &max);
        double mean = 0;
        for (int j = 0; j < classes; j++)
            mean += (double)z[j] - max;
        total += log(sum) - mean / classes;
    }
    return total / n;
}

void mc_smoothing_bwd(int n, int classes, const int32_t *labels, float e, float scale, float *dlogits)
{
    const float off = -e / (float)classes * scale, on = off + e * scale;
    for (long b = 0; b < n; b++)
        for (long j = 0; j < classes; j++)
            dlogits[b * classes + j] += j == labels[b] ? on : off;
}
