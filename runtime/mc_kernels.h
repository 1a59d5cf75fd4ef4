/* The generic kernels: every op of the graph, forward and backward, with the
 * shapes as run-time arguments and plain loops. They are the test oracle for
 * the generated (specialized) kernels, the benchmark baseline and what a
 * `--generic` classifier runs.
 *
 * Conventions, shared with the generated kernels:
 * - Tensors are float32, NCHW, batch first, contiguous.
 * - Backward kernels ACCUMULATE (+=) into every gradient they produce, input
 *   and parameter gradients alike: the caller zeroes the gradient buffers
 *   before a backward pass, and an output read by several layers (a
 *   residual) gets the sum of its readers' gradients for free (as llm.c).
 * - A NULL gradient pointer means "not needed" (the image's, a frozen
 *   tensor's); a NULL bias means "no bias".
 * - Semantics are PyTorch's: cross-correlation with zero padding,
 *   BatchNorm2d with biased batch variance for normalizing and unbiased for
 *   the running estimate. */
#ifndef MC_KERNELS_H
#define MC_KERNELS_H

#include <stdint.h>

/* ---- convolutions --------------------------------------------------------- */

typedef struct mc_conv_dims {
    int n, cin, h, w;                /* input */
    int cout, k, stride, pad, groups;
    int hout, wout;                  /* (h + 2*pad - k) / stride + 1 */
} mc_conv_dims;

/* y[n,cout,hout,wout] = conv(x, w[cout, cin/groups, k, k]) + bias[cout] */
void mc_conv_fwd(const mc_conv_dims *d, const float *x, const float *w, const float *bias, float *y);
void mc_conv_bwd(const mc_conv_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                 float *dbias);

/* Depthwise with a kernel list: kernel j (size ks[j], padding ks[j]/2, the
 * common stride) runs on every channel and writes channels j*c .. j*c+c-1 of
 * y (kernel-major, as Multiception concatenates). The weights of kernel j,
 * [c, 1, k, k], follow those of kernel j-1 in w. A bias exists only with one
 * kernel. */
enum { MC_DW_MAX_KERNELS = 8 };

typedef struct mc_dw_dims {
    int n, c, h, w;
    int nk, ks[MC_DW_MAX_KERNELS];
    int stride;
    int hout, wout; /* (h - 1) / stride + 1 */
} mc_dw_dims;

void mc_depthwise_fwd(const mc_dw_dims *d, const float *x, const float *w, const float *bias, float *y);
void mc_depthwise_bwd(const mc_dw_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw,
                      float *dbias);

/* MixConv as the reference codes it: input and output channels split in 3
 * groups (the first takes the remainder: c/3 + c%3, c/3, c/3); group i is a
 * dense conv with k = 3, 5, 7 (padding k/2, the common stride) from input
 * group i to output group i. The three weights [out_i, in_i, k_i, k_i]
 * follow each other in w. No bias. */
typedef struct mc_mixconv_dims {
    int n, cin, h, w, cout, stride;
    int hout, wout;
} mc_mixconv_dims;

void mc_mixconv_fwd(const mc_mixconv_dims *d, const float *x, const float *w, float *y);
void mc_mixconv_bwd(const mc_mixconv_dims *d, const float *x, const float *w, const float *dy, float *dx, float *dw);

/* ---- batch norm ------------------------------------------------------------ */

typedef struct mc_bn_dims {
    int n, c, hw;
    float eps, momentum; /* PyTorch's defaults: 1e-5, 0.1 */
} mc_bn_dims;

/* Training: normalizes with the batch mean and biased variance over (n, hw),
 * saves mean and 1/sqrt(var + eps) per channel for the backward, updates
 * running = (1 - momentum) * running + momentum * batch (the variance's
 * update uses the unbiased estimate) and adds 1 to *num_batches. */
void mc_batchnorm_fwd_train(const mc_bn_dims *d, const float *x, const float *gamma, const float *beta,
                            float *running_mean, float *running_var, int64_t *num_batches, float *y,
                            float *save_mean, float *save_invstd);
void mc_batchnorm_fwd_eval(const mc_bn_dims *d, const float *x, const float *gamma, const float *beta,
                           const float *running_mean, const float *running_var, float *y);
void mc_batchnorm_bwd(const mc_bn_dims *d, const float *x, const float *gamma, const float *save_mean,
                      const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta);

/* Synchronized batch norm (--sync-bn across processes): NULL in one process.
 * Else the training-mode kernels (generic and generated) compute every
 * channel's sums first and pass them here: it sums n of them over every
 * process, in place, and returns the sum of count, the values per channel
 * of the global batch. The forward reduces its sums, then its squared
 * deviations from the global mean; the backward its sums of dy and dy*xhat
 * (after adding the local ones to dgamma and dbeta, which the gradient
 * all-reduce sums later). */
extern double (*mc_bn_allreduce)(double *sums, int n, double count);

/* ---- element-wise --------------------------------------------------------- */

void mc_relu_fwd(long count, const float *x, float *y);
void mc_relu_bwd(long count, const float *y, const float *dy, float *dx); /* from the output: dy where y > 0 */
void mc_relu6_fwd(long count, const float *x, float *y);
void mc_relu6_bwd(long count, const float *x, const float *dy, float *dx); /* dy where 0 < x < 6 */
void mc_sigmoid_fwd(long count, const float *x, float *y);
void mc_sigmoid_bwd(long count, const float *y, const float *dy, float *dx); /* dy * y * (1 - y) */
/* silu x * sigmoid(x), hardswish x * relu6(x + 3) / 6, hardsigmoid
 * relu6(x + 3) / 6; their backwards read the input and take PyTorch's
 * derivatives at the kinks (hardswish x/3 + 1/2 on [-3, 3], hardsigmoid 1/6
 * on (-3, 3)). */
void mc_silu_fwd(long count, const float *x, float *y);
void mc_silu_bwd(long count, const float *x, const float *dy, float *dx);
void mc_hardswish_fwd(long count, const float *x, float *y);
void mc_hardswish_bwd(long count, const float *x, const float *dy, float *dx);
void mc_hardsigmoid_fwd(long count, const float *x, float *y);
void mc_hardsigmoid_bwd(long count, const float *x, const float *dy, float *dx);

/* y = sum of the inputs; the backward of add (and of identity) is
 * mc_accumulate(dy -> each dx). */
void mc_add_fwd(long count, int ninputs, const float *const *xs, float *y);
void mc_accumulate(long count, const float *dy, float *dx); /* dx += dy */

/* y = x * mask element-wise: dropout's forward and backward, with
 * mask[i] = 0 or 1/(1-p) drawn by the caller. */
void mc_mul_fwd(long count, const float *x, const float *mask, float *y);
void mc_mul_bwd(long count, const float *mask, const float *dy, float *dx);

/* Shake-shake: y = a[i] * x1 + (1 - a[i]) * x2 for image i (per = c*h*w
 * elements each); the backward uses its own weights b: dx1 += b*dy,
 * dx2 += (1-b)*dy. Eval passes a = b = 0.5. */
void mc_shake_fwd(int n, long per, const float *a, const float *x1, const float *x2, float *y);
void mc_shake_bwd(int n, long per, const float *b, const float *dy, float *dx1, float *dx2);

/* ---- channels and space ----------------------------------------------------- */

/* Concatenation along channels: input i has cs[i] channels of hw each. */
void mc_concat_fwd(int n, int hw, int ninputs, const int *cs, const float *const *xs, float *y);
void mc_concat_bwd(int n, int hw, int ninputs, const int *cs, const float *dy, float *const *dxs);

/* y[n,c,:] = x[n,c,:] * s[n,c] (squeeze-and-excitation) */
void mc_scale_fwd(int n, int c, int hw, const float *x, const float *s, float *y);
void mc_scale_bwd(int n, int c, int hw, const float *x, const float *s, const float *dy, float *dx, float *ds);

/* Average pooling without padding; k = 0 means global (hout = wout = 1).
 * Max pooling (k > 0) also reads pad: rows and columns of -inf on each
 * side, at most k/2 (PyTorch's MaxPool2d). */
typedef struct mc_pool_dims {
    int n, c, h, w, k, stride;
    int hout, wout;
    int pad;
} mc_pool_dims;

void mc_avgpool_fwd(const mc_pool_dims *d, const float *x, float *y);
void mc_avgpool_bwd(const mc_pool_dims *d, const float *dy, float *dx);
/* The first maximum of a window in row-major order takes its gradient (a
 * NaN wins), as PyTorch's CPU kernel; the backward finds it again in x. */
void mc_maxpool_fwd(const mc_pool_dims *d, const float *x, float *y);
void mc_maxpool_bwd(const mc_pool_dims *d, const float *x, const float *dy, float *dx);

/* y[.., i, j] = x[.., offset + stride*i, offset + stride*j], or 0 past the
 * edge (ShakeNet's shifted shortcut path). hout = (h - 1) / stride + 1. */
typedef struct mc_subsample_dims {
    int n, c, h, w, stride, offset;
    int hout, wout;
} mc_subsample_dims;

void mc_subsample_fwd(const mc_subsample_dims *d, const float *x, float *y);
void mc_subsample_bwd(const mc_subsample_dims *d, const float *dy, float *dx);

/* ---- linear and loss ---------------------------------------------------------- */

/* y[n, out] = x[n, in] w[out, in]^T + bias[out] (x flattened per image) */
void mc_linear_fwd(int n, int in, int out, const float *x, const float *w, const float *bias, float *y);
void mc_linear_bwd(int n, int in, int out, const float *x, const float *w, const float *dy, float *dx, float *dw,
                   float *dbias);

/* The softmax's denominator of one row of logits: sum_j exp(z_j - max) in
 * double, with its largest logit into *max (subtracted so that large
 * logits do not overflow). */
double mc_softmax_sum(int classes, const float *z, float *max);
/* Mean over the batch of -log softmax(logits)[label]; writes the softmax to
 * probs (n x classes) for the backward. Labels are 0 .. classes-1. */
float mc_softmax_xent_fwd(int n, int classes, const float *logits, const int32_t *labels, float *probs);
/* dlogits += (probs - onehot(label)) * scale; scale is dloss/n, 1/n for the mean. */
void mc_softmax_xent_bwd(int n, int classes, const float *probs, const int32_t *labels, float scale, float *dlogits);
/* Label smoothing e, as PyTorch's CrossEntropyLoss(label_smoothing=e): the
 * target is (1 - e) onehot + e / classes, so the loss is (1 - e) times the
 * cross-entropy plus e times the mean over classes of -log softmax, and the
 * gradient adds e (onehot - 1 / classes) to softmax - onehot. The net
 * applies it on top of either loss (generated or generic), so both paths
 * smooth alike: mc_uniform_xent is the batch mean of -mean_j log p_j =
 * logsumexp(z) - mean(z), in double; mc_smoothing_bwd adds e (onehot -
 * 1/classes) * scale to dlogits. */
double mc_uniform_xent(int n, int classes, const float *logits);
void mc_smoothing_bwd(int n, int classes, const int32_t *labels, float e, float scale, float *dlogits);

#endif
