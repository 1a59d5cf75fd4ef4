/* The generic convolutions (runtime/generic_conv.c): the forward against the
 * naive double-precision references over a sweep of shapes, and the backward
 * against central differences of the reference forward, plus the backward's
 * conventions (accumulation, NULL gradients). Data are seeded random numbers;
 * every failure names the case and the seed (MCGEN_TEST_SEED reproduces). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mc_gemm.h"
#include "mc_kernels.h"
#include "numeric.h"
#include "reference_conv.h"

#define FWD_TOL 1e-5  /* float forward vs double reference */
#define GRAD_TOL 1e-4 /* float backward vs double finite differences */
#define SAME_TOL 1e-6 /* float backward vs itself (accumulation, NULLs) */
#define FD_STEP 1e-5  /* the loss is bilinear in (x, w): the step barely matters */

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- problems ------------------------------------------------------------- */

typedef enum op_kind { OP_CONV, OP_DEPTHWISE, OP_MIXCONV } op_kind;

/* The tensors an op reads: input, weights, bias (count 0 when absent). */
enum { T_X, T_W, T_BIAS, NTENSORS };
static const char *const tensor_name[NTENSORS] = {"x", "w", "bias"};

/* One convolution: the op, its shape, its random tensors in float (for the
 * kernels under test) and in double (the same values, for the reference),
 * and its output in both. */
typedef struct problem {
    op_kind op;
    mc_conv_dims conv;
    mc_dw_dims dw;
    mc_mixconv_dims mix;
    char name[200];
    long count[NTENSORS], ny;
    float *f[NTENSORS], *y;
    double *d[NTENSORS], *yd;
} problem;

/* Allocates the tensors and fills the inputs with U(-1, 1). */
static void problem_init(problem *p, rng *r, long nx, long nw, long nbias, long ny)
{
    p->count[T_X] = nx;
    p->count[T_W] = nw;
    p->count[T_BIAS] = nbias;
    for (int t = 0; t < NTENSORS; t++) {
        if (!p->count[t])
            continue;
        p->f[t] = malloc(p->count[t] * sizeof(float));
        p->d[t] = malloc(p->count[t] * sizeof(double));
        cr_assert(p->f[t] && p->d[t], "out of memory");
        fill_uniform(r, p->f[t], p->d[t], p->count[t], -1, 1);
    }
    p->ny = ny;
    p->y = calloc(ny, sizeof(float));
    p->yd = calloc(ny, sizeof(double));
    cr_assert(p->y && p->yd, "out of memory");
}

static void problem_free(problem *p)
{
    for (int t = 0; t < NTENSORS; t++) {
        free(p->f[t]);
        free(p->d[t]);
    }
    free(p->y);
    free(p->yd);
}

static problem conv_problem(rng *r, int n, int cin, int h, int w, int cout, int k, int stride, int pad, int groups,
                            bool bias)
{
    problem p = {.op = OP_CONV};
    int hout = (h + 2 * pad - k) / stride + 1, wout = (w + 2 * pad - k) / stride + 1;
    p.conv = (mc_conv_dims){.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .k = k, .stride = stride,
                            .pad = pad, .groups = groups, .hout = hout, .wout = wout};
    snprintf(p.name, sizeof p.name, "conv n=%d cin=%d %dx%d cout=%d k=%d stride=%d pad=%d groups=%d%s", n, cin, h, w,
             cout, k, stride, pad, groups, bias ? " bias" : "");
    problem_init(&p, r, (long)n * cin * h * w, (long)cout * (cin / groups) * k * k, bias ? cout : 0,
                 (long)n * cout * hout * wout);
    return p;
}

static problem depthwise_problem(rng *r, int n, int c, int h, int w, int nk, const int *ks, int stride, bool bias)
{
    problem p = {.op = OP_DEPTHWISE};
    p.dw = (mc_dw_dims){.n = n, .c = c, .h = h, .w = w, .nk = nk, .stride = stride,
                        .hout = (h - 1) / stride + 1, .wout = (w - 1) / stride + 1};
    int len = snprintf(p.name, sizeof p.name, "depthwise n=%d c=%d %dx%d stride=%d%s ks=", n, c, h, w, stride,
                       bias ? " bias" : "");
    long nw = 0;
    for (int j = 0; j < nk; j++) {
        p.dw.ks[j] = ks[j];
        nw += (long)c * ks[j] * ks[j];
        len += snprintf(p.name + len, sizeof p.name - len, "%s%d", j ? "," : "", ks[j]);
    }
    problem_init(&p, r, (long)n * c * h * w, nw, bias ? (long)c * nk : 0,
                 (long)n * c * nk * p.dw.hout * p.dw.wout);
    return p;
}

static problem mixconv_problem(rng *r, int n, int cin, int h, int w, int cout, int stride)
{
    problem p = {.op = OP_MIXCONV};
    p.mix = (mc_mixconv_dims){.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .stride = stride,
                              .hout = (h - 1) / stride + 1, .wout = (w - 1) / stride + 1};
    snprintf(p.name, sizeof p.name, "mixconv n=%d cin=%d %dx%d cout=%d stride=%d", n, cin, h, w, cout, stride);
    int in[3], out[3];
    ref_mixconv_split(cin, in);
    ref_mixconv_split(cout, out);
    long nw = 0;
    for (int i = 0; i < 3; i++)
        nw += (long)out[i] * in[i] * (3 + 2 * i) * (3 + 2 * i);
    problem_init(&p, r, (long)n * cin * h * w, nw, 0, (long)n * cout * p.mix.hout * p.mix.wout);
    return p;
}

/* ---- running the kernels ---------------------------------------------------- */

static void generic_fwd(problem *p)
{
    float *const *f = p->f;
    switch (p->op) {
    case OP_CONV: mc_conv_fwd(&p->conv, f[T_X], f[T_W], f[T_BIAS], p->y); break;
    case OP_DEPTHWISE: mc_depthwise_fwd(&p->dw, f[T_X], f[T_W], f[T_BIAS], p->y); break;
    case OP_MIXCONV: mc_mixconv_fwd(&p->mix, f[T_X], f[T_W], p->y); break;
    }
}

static void ref_fwd(problem *p)
{
    double *const *d = p->d;
    switch (p->op) {
    case OP_CONV: ref_conv_fwd(&p->conv, d[T_X], d[T_W], d[T_BIAS], p->yd); break;
    case OP_DEPTHWISE: ref_depthwise_fwd(&p->dw, d[T_X], d[T_W], d[T_BIAS], p->yd); break;
    case OP_MIXCONV: ref_mixconv_fwd(&p->mix, d[T_X], d[T_W], p->yd); break;
    }
}

/* Gradients of x, w and bias, zeroed (NULL where the tensor is absent). */
typedef struct grads {
    float *g[NTENSORS];
} grads;

static grads grads_new(const problem *p)
{
    grads g = {{NULL}};
    for (int t = 0; t < NTENSORS; t++) {
        if (p->count[t]) {
            g.g[t] = calloc(p->count[t], sizeof(float));
            cr_assert(g.g[t], "out of memory");
        }
    }
    return g;
}

static void grads_free(grads *g)
{
    for (int t = 0; t < NTENSORS; t++)
        free(g->g[t]);
}

/* Runs the backward into the gradients whose bit is set in `wanted` (bit t
 * for tensor t), passing NULL for the others. */
static void generic_bwd(const problem *p, const float *dy, grads *g, unsigned wanted)
{
    float *out[NTENSORS];
    for (int t = 0; t < NTENSORS; t++)
        out[t] = wanted & (1u << t) ? g->g[t] : NULL;
    float *const *f = p->f;
    switch (p->op) {
    case OP_CONV: mc_conv_bwd(&p->conv, f[T_X], f[T_W], dy, out[T_X], out[T_W], out[T_BIAS]); break;
    case OP_DEPTHWISE: mc_depthwise_bwd(&p->dw, f[T_X], f[T_W], dy, out[T_X], out[T_W], out[T_BIAS]); break;
    case OP_MIXCONV: mc_mixconv_bwd(&p->mix, f[T_X], f[T_W], dy, out[T_X], out[T_W]); break;
    }
}

#define ALL_GRADS ((1u << NTENSORS) - 1)

/* ---- checks --------------------------------------------------------------------- */

static void check_forward(problem *p)
{
    /* A value no output can have: an element the kernel forgets to write
     * fails the comparison. */
    for (long i = 0; i < p->ny; i++)
        p->y[i] = 12345.0f;
    generic_fwd(p);
    ref_fwd(p);
    double e = rel_err(p->y, p->yd, p->ny);
    cr_assert(e <= FWD_TOL, "%s: forward rel_err %.3g > %g (MCGEN_TEST_SEED=%" PRIu64 ")", p->name, e, FWD_TOL,
              test_seed());
}

/* Checks got against scale * want, both float. */
static void check_scaled(const problem *p, const char *what, int t, const float *got, const float *want,
                         double scale)
{
    long n = p->count[t];
    double *expected = malloc(n * sizeof(double));
    cr_assert(expected, "out of memory");
    for (long i = 0; i < n; i++)
        expected[i] = scale * want[i];
    double e = rel_err(got, expected, n);
    free(expected);
    cr_assert(e <= SAME_TOL, "%s: %s d%s rel_err %.3g > %g (MCGEN_TEST_SEED=%" PRIu64 ")", p->name, what,
              tensor_name[t], e, SAME_TOL, test_seed());
}

/* The loss L = sum_i r_i y_i of the reference forward. */
typedef struct loss_ctx {
    problem *p;
    const double *r;
} loss_ctx;

static double ref_loss(void *ctx)
{
    loss_ctx *c = ctx;
    ref_fwd(c->p);
    double loss = 0;
    for (long i = 0; i < c->p->ny; i++)
        loss += c->r[i] * c->p->yd[i];
    return loss;
}

/* dL/dx, dL/dw, dL/dbias from the float backward with dy = r, against
 * central differences of the double reference, element by element. */
static void check_gradients(problem *p, rng *r)
{
    float *rf = malloc(p->ny * sizeof(float));
    double *rd = malloc(p->ny * sizeof(double));
    cr_assert(rf && rd, "out of memory");
    fill_uniform(r, rf, rd, p->ny, -1, 1);

    grads g = grads_new(p);
    generic_bwd(p, rf, &g, ALL_GRADS);

    loss_ctx ctx = {p, rd};
    for (int t = 0; t < NTENSORS; t++) {
        long n = p->count[t];
        if (!n)
            continue;
        double *numeric = malloc(n * sizeof(double));
        cr_assert(numeric, "out of memory");
        for (long i = 0; i < n; i++)
            numeric[i] = central_diff(ref_loss, &ctx, &p->d[t][i], FD_STEP);
        double e = rel_err(g.g[t], numeric, n);
        free(numeric);
        cr_assert(e <= GRAD_TOL, "%s: d%s rel_err %.3g vs finite differences > %g (MCGEN_TEST_SEED=%" PRIu64 ")",
                  p->name, tensor_name[t], e, GRAD_TOL, test_seed());
    }
    grads_free(&g);
    free(rf);
    free(rd);
}

/* Two backward calls into the same buffers give twice one call's gradients,
 * and any subset of the gradients may be NULL without changing the others. */
static void check_conventions(problem *p, rng *r)
{
    float *dy = malloc(p->ny * sizeof(float));
    cr_assert(dy, "out of memory");
    fill_uniform(r, dy, NULL, p->ny, -1, 1);

    grads once = grads_new(p), twice = grads_new(p);
    generic_bwd(p, dy, &once, ALL_GRADS);
    generic_bwd(p, dy, &twice, ALL_GRADS);
    generic_bwd(p, dy, &twice, ALL_GRADS);
    for (int t = 0; t < NTENSORS; t++)
        if (p->count[t])
            check_scaled(p, "called twice:", t, twice.g[t], once.g[t], 2.0);

    for (unsigned wanted = 0; wanted < ALL_GRADS; wanted++) {
        grads some = grads_new(p);
        generic_bwd(p, dy, &some, wanted);
        for (int t = 0; t < NTENSORS; t++) {
            if (!p->count[t] || !(wanted & (1u << t)))
                continue;
            char what[64];
            snprintf(what, sizeof what, "with NULLs (mask %u):", wanted);
            check_scaled(p, what, t, some.g[t], once.g[t], 1.0);
        }
        grads_free(&some);
    }
    grads_free(&once);
    grads_free(&twice);
    free(dy);
}

/* ---- forward sweeps ------------------------------------------------------------ */

/* H x W of the forward sweeps: a single pixel, inputs smaller than most
 * kernels, odd and even, non-square, and one larger than every kernel. */
static const int sizes[][2] = {{1, 1}, {2, 3}, {7, 7}, {8, 8}, {13, 11}, {32, 32}};
static const int channels[] = {1, 3, 16, 17, 48};

static void sweep_depthwise(int nk, const int *ks)
{
    rng r = rng_new(test_seed());
    for (int c = 0; c < LEN(channels); c++)
        for (int s = 0; s < LEN(sizes); s++)
            for (int stride = 1; stride <= 2; stride++) {
                problem p = depthwise_problem(&r, 2, channels[c], sizes[s][0], sizes[s][1], nk, ks, stride, false);
                check_forward(&p);
                problem_free(&p);
            }
}

Test(forward, depthwise_single_kernels)
{
    for (int k = 1; k <= 9; k += 2)
        sweep_depthwise(1, &k);
}

Test(forward, depthwise_kernel_lists)
{
    static const int twice3[] = {3, 3}, odd[] = {1, 3, 5, 7, 9}, multiception[] = {3, 5, 7};
    sweep_depthwise(LEN(twice3), twice3);
    sweep_depthwise(LEN(odd), odd);
    sweep_depthwise(LEN(multiception), multiception);
}

Test(forward, depthwise_bias)
{
    rng r = rng_new(test_seed());
    for (int k = 1; k <= 9; k += 2)
        for (int s = 0; s < LEN(sizes); s++) {
            int stride = 1 + s % 2; /* both strides, without doubling the cases */
            problem p = depthwise_problem(&r, 2, 5, sizes[s][0], sizes[s][1], 1, &k, stride, true);
            check_forward(&p);
            problem_free(&p);
        }
}

typedef struct conv_channels {
    int cin, cout, groups;
} conv_channels;

/* Every k in 1, 3, 5, 7, strides 1 and 2, padding k/2 and 0 (where the
 * input holds the kernel), with and without bias, on all sizes but 32x32
 * (the dense convs are the costly ones; 13x11 already spans every kernel). */
static void sweep_conv(const conv_channels *cs, int ncs)
{
    rng r = rng_new(test_seed());
    for (int c = 0; c < ncs; c++)
        for (int k = 1; k <= 7; k += 2)
            for (int s = 0; s < LEN(sizes) - 1; s++)
                for (int stride = 1; stride <= 2; stride++)
                    for (int bias = 0; bias <= 1; bias++)
                        for (int i = 0; i < (k > 1 ? 2 : 1); i++) { /* k = 1: k/2 is 0 */
                            int pad = i ? 0 : k / 2, h = sizes[s][0], w = sizes[s][1];
                            if (h + 2 * pad < k || w + 2 * pad < k)
                                continue;
                            problem p = conv_problem(&r, 2, cs[c].cin, h, w, cs[c].cout, k, stride, pad,
                                                     cs[c].groups, bias);
                            check_forward(&p);
                            problem_free(&p);
                        }
}

Test(forward, conv_dense)
{
    static const conv_channels cs[] = {{1, 1, 1}, {3, 8, 1}, {16, 16, 1}, {17, 5, 1}};
    sweep_conv(cs, LEN(cs));
}

Test(forward, conv_grouped)
{
    static const conv_channels cs[] = {{16, 32, 4}, {6, 9, 3}, {8, 4, 2}, {5, 5, 5}, {4, 8, 4}};
    sweep_conv(cs, LEN(cs));
}

Test(forward, mixconv)
{
    /* 1 and 2 leave groups without channels; 17 splits unevenly (7, 5, 5). */
    static const int io[][2] = {{3, 3}, {16, 16}, {17, 17}, {32, 64}, {3, 6}, {17, 5}, {2, 4}};
    rng r = rng_new(test_seed());
    for (int c = 0; c < LEN(io); c++)
        for (int s = 0; s < LEN(sizes); s++)
            for (int stride = 1; stride <= 2; stride++) {
                problem p = mixconv_problem(&r, 2, io[c][0], sizes[s][0], sizes[s][1], io[c][1], stride);
                check_forward(&p);
                problem_free(&p);
            }
}

/* ---- backward against finite differences ---------------------------------------- */

/* Small sizes: every element gets two reference forwards. */
static const int grad_sizes[][2] = {{5, 4}, {3, 3}};

Test(backward, conv_dense)
{
    rng r = rng_new(test_seed());
    for (int k = 1; k <= 7; k += 2)
        for (int s = 0; s < LEN(grad_sizes); s++)
            for (int stride = 1; stride <= 2; stride++) {
                problem p = conv_problem(&r, 2, 3, grad_sizes[s][0], grad_sizes[s][1], 4, k, stride, k / 2, 1, true);
                check_gradients(&p, &r);
                problem_free(&p);
            }
    problem p = conv_problem(&r, 2, 4, 5, 4, 3, 3, 1, 0, 1, false); /* no padding, no bias */
    check_gradients(&p, &r);
    problem_free(&p);
}

Test(backward, conv_grouped)
{
    rng r = rng_new(test_seed());
    for (int stride = 1; stride <= 2; stride++) {
        problem p = conv_problem(&r, 2, 4, 5, 4, 6, 3, stride, 1, 2, true);
        check_gradients(&p, &r);
        problem_free(&p);
        p = conv_problem(&r, 2, 5, 5, 4, 5, 5, stride, 2, 5, false); /* depthwise as a conv */
        check_gradients(&p, &r);
        problem_free(&p);
    }
}

Test(backward, depthwise)
{
    static const int ks[] = {3, 5};
    rng r = rng_new(test_seed());
    for (int s = 0; s < LEN(grad_sizes); s++)
        for (int stride = 1; stride <= 2; stride++) {
            problem p = depthwise_problem(&r, 2, 3, grad_sizes[s][0], grad_sizes[s][1], LEN(ks), ks, stride, false);
            check_gradients(&p, &r);
            problem_free(&p);
        }
    int k = 7;
    problem p = depthwise_problem(&r, 2, 4, 5, 4, 1, &k, 2, true);
    check_gradients(&p, &r);
    problem_free(&p);
}

Test(backward, mixconv)
{
    static const int io[][2] = {{3, 6}, {6, 6}, {5, 4}};
    rng r = rng_new(test_seed());
    for (int c = 0; c < LEN(io); c++)
        for (int stride = 1; stride <= 2; stride++) {
            problem p = mixconv_problem(&r, 2, io[c][0], 5, 4, io[c][1], stride);
            check_gradients(&p, &r);
            problem_free(&p);
        }
}

/* ---- backward conventions ---------------------------------------------------------- */

Test(backward, accumulates_and_accepts_null)
{
    static const int ks[] = {3, 5};
    rng r = rng_new(test_seed());
    problem ps[] = {
        conv_problem(&r, 2, 4, 5, 4, 6, 3, 2, 1, 2, true),
        depthwise_problem(&r, 2, 3, 5, 4, LEN(ks), ks, 1, false),
        depthwise_problem(&r, 2, 3, 5, 4, 1, ks, 1, true),
        mixconv_problem(&r, 2, 6, 5, 4, 6, 2),
    };
    for (int i = 0; i < LEN(ps); i++) {
        check_conventions(&ps[i], &r);
        problem_free(&ps[i]);
    }
}

/* The advice bench prints when OpenBLAS picks kernels older than the CPU
 * (mc_gemm.h): the right core per CPU, none where the core fits. */
Test(blas, core_advice)
{
    cr_assert_str_eq(mc_blas_core_advice("Prescott", 1, 1), "SkylakeX");
    cr_assert_str_eq(mc_blas_core_advice("Haswell", 1, 1), "SkylakeX");
    cr_assert_str_eq(mc_blas_core_advice("Prescott", 1, 0), "Haswell");
    cr_assert_str_eq(mc_blas_core_advice("Sandybridge", 1, 0), "Haswell");
    cr_assert_null(mc_blas_core_advice("Cooperlake", 1, 1));
    cr_assert_null(mc_blas_core_advice("Zen", 1, 0));
    cr_assert_null(mc_blas_core_advice("Prescott", 0, 0));
}
