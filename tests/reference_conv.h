/* Naive double-precision references for the convolutions of mc_kernels.h,
 * written from the definitions (one bounds check per tap, no shared code with
 * the runtime): the oracle the generic kernels are tested against, and the
 * function the finite differences differentiate. Shapes, layouts and hout,
 * wout are those of the mc_*_dims structs. */
#ifndef MCGEN_REFERENCE_CONV_H
#define MCGEN_REFERENCE_CONV_H

#include "mc_kernels.h"

void ref_conv_fwd(const mc_conv_dims *d, const double *x, const double *w, const double *bias, double *y);

/* bias: one value per output channel (c * nk), or NULL. */
void ref_depthwise_fwd(const mc_dw_dims *d, const double *x, const double *w, const double *bias, double *y);

void ref_mixconv_fwd(const mc_mixconv_dims *d, const double *x, const double *w, double *y);

/* MixConv's split of c channels: part[i] channels in group i. */
void ref_mixconv_split(int c, int part[3]);

#endif
