/* A channel slice of a grouped convolution: what the generic depthwise,
 * dense and MixConv kernels (generic_conv.c) have in common, and what the
 * two ways of computing one take (loops in generic_conv.c, im2col and
 * matrix products in generic_conv_gemm.c). Internal to the runtime. */
#ifndef MC_CONV_SLICE_H
#define MC_CONV_SLICE_H

#include <stddef.h>

/* A grouped convolution that reads channels x0 .. x0+cin-1 of an input with
 * xc channels and writes channels y0 .. y0+cout-1 of an output with yc
 * channels. Its weights are [cout, cin/groups, k, k], its bias (if any)
 * [cout]. */
typedef struct conv_slice {
    int n, h, w, hout, wout;
    int cin, cout, k, stride, pad, groups;
    int xc, x0;
    int yc, y0;
} conv_slice;

/* The offset of plane (b, c) in a tensor with `channels` planes of hw. */
static inline size_t plane_at(int b, int channels, int c, int hw)
{
    return ((size_t)b * channels + c) * hw;
}

/* Through tap (ky, kx), output (oy, ox) reads input (oy*stride + ky - pad,
 * ox*stride + kx - pad): inside the input for the rows [oy0, oy1) and
 * columns [ox0, ox1), the zero padding elsewhere. */
typedef struct tap_window {
    int oy0, oy1, ox0, ox1;
} tap_window;

/* Along one axis: the outputs whose o*stride + offset is in [0, size). */
static inline void tap_inside(int size, int out, int stride, int offset, int *lo, int *hi)
{
    *lo = offset < 0 ? (-offset + stride - 1) / stride : 0;
    *hi = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
    *hi = *hi < out ? *hi : out;
    *lo = *lo < *hi ? *lo : *hi;
}

static inline tap_window conv_tap_window(const conv_slice *s, int ky, int kx)
{
    tap_window t;
    tap_inside(s->h, s->hout, s->stride, ky - s->pad, &t.oy0, &t.oy1);
    tap_inside(s->w, s->wout, s->stride, kx - s->pad, &t.ox0, &t.ox1);
    return t;
}

/* Where in its input plane output (oy, 0) reads through tap (ky, kx) (for
 * a row of the window; output (oy, ox) reads ox*stride further). */
static inline ptrdiff_t conv_tap_row(const conv_slice *s, int oy, int ky, int kx)
{
    return (ptrdiff_t)(oy * s->stride + ky - s->pad) * s->w + (kx - s->pad);
}

/* Allocates or exits with an error naming the kernel (the kernels have no
 * error return). */
void *conv_alloc(size_t count, size_t size);

/* dbias[oc] += the sum of output channel oc's gradient, in double. */
void conv_bias_grad(const conv_slice *s, const float *dy, float *dbias);

/* The forward and backward of mc_kernels.h on im2col and mc_gemm: y is
 * written (plus the bias), the gradients accumulate, NULL ones are
 * skipped. */
void conv_slice_fwd_gemm(const conv_slice *s, const float *x, const float *w, const float *bias, float *y);
void conv_slice_bwd_gemm(const conv_slice *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *dbias);

#endif
