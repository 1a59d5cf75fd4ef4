/* Naive double-precision references of the generic non-convolution kernels'
 * forwards (mc_kernels.h), written straight from PyTorch's definitions
 * with no care for speed: the oracle for the forward tests, and the
 * function the finite differences of the backward tests differentiate.
 * Same argument order and shapes as the kernels, doubles for floats. */
#ifndef MCGEN_REFERENCE_OPS_H
#define MCGEN_REFERENCE_OPS_H

#include <stdint.h>

#include "mc_kernels.h"

/* Training batch norm; running_mean, running_var, num_batches, save_mean and
 * save_invstd may be NULL (the finite differences need only y). */
void ref_batchnorm_fwd_train(const mc_bn_dims *d, const double *x, const double *gamma, const double *beta,
                             double *running_mean, double *running_var, int64_t *num_batches, double *y,
                             double *save_mean, double *save_invstd);
void ref_batchnorm_fwd_eval(const mc_bn_dims *d, const double *x, const double *gamma, const double *beta,
                            const double *running_mean, const double *running_var, double *y);

void ref_relu_fwd(long count, const double *x, double *y);
void ref_relu6_fwd(long count, const double *x, double *y);
void ref_sigmoid_fwd(long count, const double *x, double *y);
void ref_silu_fwd(long count, const double *x, double *y);
void ref_hardswish_fwd(long count, const double *x, double *y);
void ref_hardsigmoid_fwd(long count, const double *x, double *y);
void ref_add_fwd(long count, int ninputs, const double *const *xs, double *y);
void ref_mul_fwd(long count, const double *x, const double *mask, double *y);
void ref_shake_fwd(int n, long per, const double *a, const double *x1, const double *x2, double *y);

void ref_concat_fwd(int n, int hw, int ninputs, const int *cs, const double *const *xs, double *y);
void ref_scale_fwd(int n, int c, int hw, const double *x, const double *s, double *y);
void ref_avgpool_fwd(const mc_pool_dims *d, const double *x, double *y);
void ref_maxpool_fwd(const mc_pool_dims *d, const double *x, double *y);
void ref_subsample_fwd(const mc_subsample_dims *d, const double *x, double *y);

void ref_linear_fwd(int n, int in, int out, const double *x, const double *w, const double *bias, double *y);
/* The mean loss; probs may be NULL. */
double ref_softmax_xent_fwd(int n, int classes, const double *logits, const int32_t *labels, double *probs);

#endif
