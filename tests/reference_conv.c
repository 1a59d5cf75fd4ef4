#include "reference_conv.h"

#include <stddef.h>

/* Index of [a][b][c][d] in a contiguous array of shape [*][nb][nc][nd]. */
static size_t at4(int a, int nb, int b, int nc, int c, int nd, int d)
{
    return (((size_t)a * nb + b) * nc + c) * nd + d;
}

/* x[n, c, iy, ix], or 0 in the padding. */
static double pixel(const double *x, int channels, int h, int w, int n, int c, int iy, int ix)
{
    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
        return 0.0;
    return x[at4(n, channels, c, h, iy, w, ix)];
}

void ref_conv_fwd(const mc_conv_dims *d, const double *x, const double *w, const double *bias, double *y)
{
    int cin_g = d->cin / d->groups, cout_g = d->cout / d->groups;
    for (int n = 0; n < d->n; n++)
        for (int oc = 0; oc < d->cout; oc++)
            for (int oy = 0; oy < d->hout; oy++)
                for (int ox = 0; ox < d->wout; ox++) {
                    int group = oc / cout_g;
                    double sum = bias ? bias[oc] : 0.0;
                    for (int i = 0; i < cin_g; i++)
                        for (int ky = 0; ky < d->k; ky++)
                            for (int kx = 0; kx < d->k; kx++)
                                sum += pixel(x, d->cin, d->h, d->w, n, group * cin_g + i,
                                             oy * d->stride - d->pad + ky, ox * d->stride - d->pad + kx) *
                                       w[at4(oc, cin_g, i, d->k, ky, d->k, kx)];
                    y[at4(n, d->cout, oc, d->hout, oy, d->wout, ox)] = sum;
                }
}

void ref_depthwise_fwd(const mc_dw_dims *d, const double *x, const double *w, const double *bias, double *y)
{
    int cout = d->c * d->nk;
    const double *wj = w;
    for (int j = 0; j < d->nk; j++) {
        int k = d->ks[j], pad = k / 2;
        for (int n = 0; n < d->n; n++)
            for (int c = 0; c < d->c; c++)
                for (int oy = 0; oy < d->hout; oy++)
                    for (int ox = 0; ox < d->wout; ox++) {
                        double sum = bias ? bias[j * d->c + c] : 0.0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                sum += pixel(x, d->c, d->h, d->w, n, c, oy * d->stride - pad + ky,
                                             ox * d->stride - pad + kx) *
                                       wj[at4(c, 1, 0, k, ky, k, kx)];
                        y[at4(n, cout, j * d->c + c, d->hout, oy, d->wout, ox)] = sum;
                    }
        wj += (size_t)d->c * k * k;
    }
}

void ref_mixconv_split(int c, int part[3])
{
    part[0] = c / 3 + c % 3;
    part[1] = c / 3;
    part[2] = c / 3;
}

void ref_mixconv_fwd(const mc_mixconv_dims *d, const double *x, const double *w, double *y)
{
    int in[3], out[3];
    ref_mixconv_split(d->cin, in);
    ref_mixconv_split(d->cout, out);

    int in0 = 0, out0 = 0; /* first input and output channel of group g */
    const double *wg = w;
    for (int g = 0; g < 3; g++) {
        int k = 3 + 2 * g, pad = k / 2;
        for (int n = 0; n < d->n; n++)
            for (int o = 0; o < out[g]; o++)
                for (int oy = 0; oy < d->hout; oy++)
                    for (int ox = 0; ox < d->wout; ox++) {
                        double sum = 0.0;
                        for (int i = 0; i < in[g]; i++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                    sum += pixel(x, d->cin, d->h, d->w, n, in0 + i, oy * d->stride - pad + ky,
                                                 ox * d->stride - pad + kx) *
                                           wg[at4(o, in[g], i, k, ky, k, kx)];
                        y[at4(n, d->cout, out0 + o, d->hout, oy, d->wout, ox)] = sum;
                    }
        wg += (size_t)out[g] * in[g] * k * k;
        in0 += in[g];
        out0 += out[g];
    }
}
