/* The dense generic convolutions as a C program without a framework
 * writes them (Caffe's and Darknet's way): per image and group, im2col
 * lays the input windows out as the columns of a matrix, and one matrix
 * product with the filters gives the output; the backward takes the two
 * transposed products and col2im folds the columns back onto the input
 * gradient.
 *
 * Per image rather than one product over the batch: the columns of one
 * image stay in cache, and the product lands in NCHW without a transpose.
 * A 1x1 convolution with stride 1 and no padding needs no im2col: its
 * input planes already are the columns. */
#include "conv_slice.h"
#include "mc_gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *conv_alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (!p) {
        fprintf(stderr, "error: out of memory in a generic convolution\n");
        exit(1);
    }
    return p;
}

/* The shape of one group's product. */
typedef struct group_gemm {
    int cin_g, cout_g;
    int rows;   /* of the columns matrix: cin_g * k * k */
    int hw, hwout;
    int direct; /* the input planes are the columns */
} group_gemm;

static group_gemm group_gemm_of(const conv_slice *s)
{
    return (group_gemm){
        .cin_g = s->cin / s->groups, .cout_g = s->cout / s->groups,
        .rows = s->cin / s->groups * s->k * s->k,
        .hw = s->h * s->w, .hwout = s->hout * s->wout,
        .direct = s->k == 1 && s->stride == 1 && s->pad == 0,
    };
}

/* Row (c, ky, kx) of the columns of cin planes xp: the value each output
 * position reads through that tap. With fold (xp NULL), the other way: the
 * rows are added onto the planes fold (col2im; taps that overlap
 * accumulate). */
static void im2col(const conv_slice *s, int cin, const float *xp, float *col, float *fold)
{
    const size_t hwout = (size_t)s->hout * s->wout;
    for (int c = 0; c < cin; c++)
        for (int ky = 0; ky < s->k; ky++)
            for (int kx = 0; kx < s->k; kx++, col += hwout) {
                const tap_window t = conv_tap_window(s, ky, kx);
                if (!fold)
                    memset(col, 0, hwout * sizeof *col);
                for (int oy = t.oy0; oy < t.oy1; oy++) {
                    const ptrdiff_t row = (ptrdiff_t)c * s->h * s->w + conv_tap_row(s, oy, ky, kx);
                    float *out = col + (size_t)oy * s->wout;
                    for (int ox = t.ox0; ox < t.ox1; ox++) {
                        const ptrdiff_t at = row + (ptrdiff_t)ox * s->stride;
                        if (fold)
                            fold[at] += out[ox];
                        else
                            out[ox] = xp[at];
                    }
                }
            }
}

/* The columns of group g of image b: its input planes themselves, or
 * im2col's copy in buf. */
static const float *columns(const conv_slice *s, const group_gemm *p, const float *x, int b, int g, float *buf)
{
    const float *xp = x + plane_at(b, s->xc, s->x0 + g * p->cin_g, p->hw);
    if (p->direct)
        return xp;
    im2col(s, p->cin_g, xp, buf, NULL);
    return buf;
}

void conv_slice_fwd_gemm(const conv_slice *s, const float *x, const float *w, const float *bias, float *y)
{
    const group_gemm p = group_gemm_of(s);
    float *buf = p.direct ? NULL : conv_alloc((size_t)p.rows * p.hwout, sizeof *buf);
    for (int b = 0; b < s->n; b++)
        for (int g = 0; g < s->groups; g++) {
            const int oc = g * p.cout_g;
            float *yp = y + plane_at(b, s->yc, s->y0 + oc, p.hwout);
            if (bias)
                for (int i = 0; i < p.cout_g; i++)
                    for (int j = 0; j < p.hwout; j++)
                        yp[(size_t)i * p.hwout + j] = bias[oc + i];
            mc_gemm(0, 0, p.cout_g, p.hwout, p.rows, w + (size_t)oc * p.rows, p.rows, columns(s, &p, x, b, g, buf),
                    p.hwout, bias ? 1.0f : 0.0f, yp, p.hwout);
        }
    free(buf);
}

/* dw of group g of image b, added to the slice's sums in double: a filter's
 * gradient sums terms over every image and position that often cancel; per
 * image in float, then over the batch in double, it keeps the precision
 * the generated kernels are checked to. */
static void filter_grad(const conv_slice *s, const group_gemm *p, const float *x, const float *dyp, int b, int g,
                        float *buf, float *part, double *sums)
{
    const size_t size = (size_t)p->cout_g * p->rows;
    mc_gemm(0, 1, p->cout_g, p->rows, p->hwout, dyp, p->hwout, columns(s, p, x, b, g, buf), p->hwout, 0.0f, part,
            p->rows);
    double *sum = sums + (size_t)g * size;
    for (size_t i = 0; i < size; i++)
        sum[i] += part[i];
}

/* dx of group g of image b: the filters' transpose times dy, straight onto
 * dx or through the columns and col2im. */
static void input_grad(const conv_slice *s, const group_gemm *p, const float *w, const float *dyp, int b, int g,
                       float *buf, float *dx)
{
    const float *wg = w + (size_t)g * p->cout_g * p->rows;
    float *dxp = dx + plane_at(b, s->xc, s->x0 + g * p->cin_g, p->hw);
    if (p->direct) {
        mc_gemm(1, 0, p->cin_g, p->hwout, p->cout_g, wg, p->rows, dyp, p->hwout, 1.0f, dxp, p->hw);
        return;
    }
    mc_gemm(1, 0, p->rows, p->hwout, p->cout_g, wg, p->rows, dyp, p->hwout, 0.0f, buf, p->hwout);
    im2col(s, p->cin_g, NULL, buf, dxp);
}

void conv_slice_bwd_gemm(const conv_slice *s, const float *x, const float *w, const float *dy, float *dx, float *dw,
                         float *dbias)
{
    if (dbias)
        conv_bias_grad(s, dy, dbias);
    if (!dx && !dw)
        return;
    const group_gemm p = group_gemm_of(s);
    const size_t wsize = (size_t)s->cout * p.rows;
    float *buf = p.direct ? NULL : conv_alloc((size_t)p.rows * p.hwout, sizeof *buf);
    float *part = dw ? conv_alloc((size_t)p.cout_g * p.rows, sizeof *part) : NULL;
    double *sums = dw ? conv_alloc(wsize, sizeof *sums) : NULL;
    for (int b = 0; b < s->n; b++)
        for (int g = 0; g < s->groups; g++) {
            const float *dyp = dy + plane_at(b, s->yc, s->y0 + g * p.cout_g, p.hwout);
            if (dw)
                filter_grad(s, &p, x, dyp, b, g, buf, part, sums);
            if (dx)
                input_grad(s, &p, w, dyp, b, g, buf, dx);
        }
    for (size_t i = 0; dw && i < wsize; i++)
        dw[i] += (float)sums[i];
    free(buf);
    free(part);
    free(sums);
}
