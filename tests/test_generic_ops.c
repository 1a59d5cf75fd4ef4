/* The generic non-convolution kernels (runtime/generic_ops.c):
 * - forward: every kernel against the naive double reference
 *   (reference_ops.c) over several shapes, relative error <= 1e-5;
 * - backward: every kernel's gradients against central finite differences
 *   of the double reference of L = sum r_i * y_i (fixed random r, given to
 *   the backward as dy; for the cross-entropy L is the loss itself),
 *   relative error <= 1e-4; then that a second call doubles every gradient
 *   (backward kernels accumulate), that each gradient comes out the same
 *   when the others are NULL, and that all-NULL writes nothing.
 * Data are seeded (numeric.h); every failure message prints the seed, and
 * MCGEN_TEST_SEED=<seed> replays it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_kernels.h"
#include "numeric.h"
#include "reference_ops.h"

#define SEED ((unsigned long long)test_seed())

static const double FWD_TOL = 1e-5, GRAD_TOL = 1e-4, ACC_TOL = 1e-6;
/* Small against the data's scale (~1, kinks kept >= 1e-2 away), large
 * against double rounding: both error terms stay ~1e-10. */
static const double FD_STEP = 1e-5;
/* Outputs start at this, so an element a kernel forgets stands out (NaN
 * would not: rel_err's comparisons skip it). */
static const float UNWRITTEN = 1e30f;

enum { MAX_INPUTS = 4 };

/* ---- memory: every buffer of a case comes from one pool, freed at its end -- */

static void **pool;
static long pool_len, pool_cap;

static void *pool_alloc(size_t size)
{
    if (pool_len == pool_cap) {
        pool_cap = pool_cap ? 2 * pool_cap : 64;
        pool = realloc(pool, (size_t)pool_cap * sizeof *pool);
        cr_assert(pool, "out of memory");
    }
    void *p = calloc(1, size ? size : 1);
    cr_assert(p, "out of memory");
    return pool[pool_len++] = p;
}

static void release_all(void)
{
    while (pool_len)
        free(pool[--pool_len]);
}

/* ---- tensors ------------------------------------------------------------------ */

/* A tensor as the kernels see it (f) and as the reference does (d). A
 * gradient marked absent is passed to the kernel as NULL. */
typedef struct tensor {
    long n;
    float *f;
    double *d;
    int absent;
} tensor;

static tensor tensor_new(long n)
{
    return (tensor){n, pool_alloc((size_t)n * sizeof(float)), pool_alloc((size_t)n * sizeof(double)), 0};
}

static tensor tensor_rand(rng *r, long n, double lo, double hi)
{
    tensor t = tensor_new(n);
    fill_uniform(r, t.f, t.d, n, lo, hi);
    return t;
}

/* An output: the float side starts UNWRITTEN. */
static tensor tensor_out(long n)
{
    tensor t = tensor_new(n);
    for (long i = 0; i < n; i++)
        t.f[i] = UNWRITTEN;
    return t;
}

static void tensor_set(tensor *t, long i, double v)
{
    t->f[i] = (float)v;
    t->d[i] = t->f[i]; /* the reference sees exactly what the kernel does */
}

/* Values at least 0.01 away from every integer, between lo and hi: clear of
 * the kinks of relu (0) and relu6 (0, 6) by construction. */
static tensor tensor_off_integers(rng *r, long n, int lo, int hi)
{
    tensor t = tensor_new(n);
    for (long i = 0; i < n; i++)
        tensor_set(&t, i, floor(rng_uniform(r, lo, hi)) + rng_uniform(r, 0.01, 0.99));
    return t;
}

/* The reference takes the kernel's values: d = f. */
static void tensor_sync(tensor *t)
{
    for (long i = 0; i < t->n; i++)
        t->d[i] = t->f[i];
}

static float *grad_of(tensor *g)
{
    return g->absent ? NULL : g->f;
}

static double weighted_sum(const tensor *r, const double *y)
{
    double sum = 0;
    for (long i = 0; i < r->n; i++)
        sum += r->d[i] * y[i];
    return sum;
}

static void expect_close(const float *got, const double *want, long n, double tol, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    double e = rel_err(got, want, n);
    cr_assert(e <= tol, "%s: relative error %.3g > %.3g (seed %llu)", what, e, tol, SEED);
}

/* ---- the backward check ---------------------------------------------------------- */

/* One backward case: the double loss of the reference forward, the kernel
 * backward (dy = r, gradients of `grad`, NULL where absent), and the inputs
 * to differentiate with their gradients. */
typedef struct grad_case {
    char name[128];
    double (*loss)(void *ctx);
    void (*backward)(void *ctx);
    void *ctx;
    int nwrt;
    const char *wrt_name[MAX_INPUTS];
    tensor *wrt[MAX_INPUTS];
    tensor *grad[MAX_INPUTS];
} grad_case;

static void grad_case_add(grad_case *gc, const char *name, tensor *x, tensor *g)
{
    cr_assert_lt(gc->nwrt, MAX_INPUTS);
    gc->wrt_name[gc->nwrt] = name;
    gc->wrt[gc->nwrt] = x;
    gc->grad[gc->nwrt++] = g;
}

/* Zeroes every gradient; gradient `only` alone is present (-1: all are). */
static void reset_grads(grad_case *gc, int only)
{
    for (int p = 0; p < gc->nwrt; p++) {
        for (long i = 0; i < gc->grad[p]->n; i++)
            gc->grad[p]->f[i] = 0;
        gc->grad[p]->absent = only >= 0 && p != only;
    }
}

static void check_grad_case(grad_case *gc)
{
    double *first[MAX_INPUTS];
    reset_grads(gc, -1);
    gc->backward(gc->ctx);
    for (int p = 0; p < gc->nwrt; p++) {
        tensor *x = gc->wrt[p], *g = gc->grad[p];
        double *fd = pool_alloc((size_t)x->n * sizeof *fd);
        for (long i = 0; i < x->n; i++)
            fd[i] = central_diff(gc->loss, gc->ctx, &x->d[i], FD_STEP);
        expect_close(g->f, fd, g->n, GRAD_TOL, "%s: d%s against finite differences", gc->name, gc->wrt_name[p]);
        first[p] = pool_alloc((size_t)g->n * sizeof **first);
        for (long i = 0; i < g->n; i++)
            first[p][i] = g->f[i];
    }

    /* The kernels accumulate: a second call adds the same again. */
    gc->backward(gc->ctx);
    for (int p = 0; p < gc->nwrt; p++) {
        double *twice = pool_alloc((size_t)gc->grad[p]->n * sizeof *twice);
        for (long i = 0; i < gc->grad[p]->n; i++)
            twice[i] = 2 * first[p][i];
        expect_close(gc->grad[p]->f, twice, gc->grad[p]->n, ACC_TOL, "%s: d%s after two calls", gc->name,
                     gc->wrt_name[p]);
    }

    /* NULL means "not needed": each gradient alone is the same, and with
     * every gradient NULL nothing is written. */
    for (int p = 0; p < gc->nwrt; p++) {
        reset_grads(gc, p);
        gc->backward(gc->ctx);
        expect_close(gc->grad[p]->f, first[p], gc->grad[p]->n, ACC_TOL, "%s: d%s with the others NULL", gc->name,
                     gc->wrt_name[p]);
    }
    reset_grads(gc, gc->nwrt); /* none present */
    gc->backward(gc->ctx);
    for (int p = 0; p < gc->nwrt; p++)
        for (long i = 0; i < gc->grad[p]->n; i++)
            cr_assert_eq(gc->grad[p]->f[i], 0, "%s: wrote d%s[%ld] though NULL (seed %llu)", gc->name,
                         gc->wrt_name[p], i, SEED);
    reset_grads(gc, -1);
}

/* ---- shapes ------------------------------------------------------------------------ */

static const int BATCHES[] = {1, 2, 4};
static const int CHANNELS[] = {1, 3, 16, 17};
static const long COUNTS[] = {1, 7, 64, 1001};

#define LEN(a) ((int)(sizeof(a) / sizeof *(a)))

static mc_bn_dims bn_dims(int n, int c, int hw)
{
    return (mc_bn_dims){.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f};
}

static mc_pool_dims maxpool_dims(int n, int c, int h, int w, int k, int stride, int pad)
{
    return (mc_pool_dims){.n = n, .c = c, .h = h, .w = w, .k = k, .stride = stride, .pad = pad,
                          .hout = (h + 2 * pad - k) / stride + 1, .wout = (w + 2 * pad - k) / stride + 1};
}

static mc_pool_dims pool_dims(int n, int c, int h, int w, int k, int stride)
{
    mc_pool_dims d = {.n = n, .c = c, .h = h, .w = w, .k = k, .stride = stride, .hout = 1, .wout = 1};
    if (k) {
        d.hout = (h - k) / stride + 1;
        d.wout = (w - k) / stride + 1;
    }
    return d;
}

static mc_subsample_dims subsample_dims(int n, int c, int h, int w, int stride, int offset)
{
    return (mc_subsample_dims){.n = n, .c = c, .h = h, .w = w, .stride = stride, .offset = offset,
                               .hout = (h - 1) / stride + 1, .wout = (w - 1) / stride + 1};
}

/* ==== forward ======================================================================== */

TestSuite(forward, .fini = release_all);

Test(forward, batchnorm_train)
{
    static const int sizes[][2] = {{1, 1}, {5, 5}, {8, 8}, {7, 6}};
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CHANNELS); b++)
            for (int s = 0; s < LEN(sizes); s++) {
                int n = BATCHES[a], c = CHANNELS[b], hw = sizes[s][0] * sizes[s][1];
                mc_bn_dims d = bn_dims(n, c, hw);
                long count = (long)n * c * hw;
                tensor gamma = tensor_rand(&r, c, 0.5, 1.5), beta = tensor_rand(&r, c, -1, 1);
                tensor rmean = tensor_rand(&r, c, -1, 1), rvar = tensor_rand(&r, c, 0.5, 2);
                tensor mean = tensor_out(c), invstd = tensor_out(c), y = tensor_out(count);
                int64_t batches = 0, ref_batches = 0;
                char what[64];
                snprintf(what, sizeof what, "batchnorm train n=%d c=%d hw=%d", n, c, hw);
                /* Two steps on different data, as training does: the running
                 * estimates must follow both. The mean is off 0 on purpose. */
                for (int step = 0; step < 2; step++) {
                    tensor x = tensor_rand(&r, count, -1.5, 2.5);
                    mc_batchnorm_fwd_train(&d, x.f, gamma.f, beta.f, rmean.f, rvar.f, &batches, y.f, mean.f,
                                           invstd.f);
                    ref_batchnorm_fwd_train(&d, x.d, gamma.d, beta.d, rmean.d, rvar.d, &ref_batches, y.d, mean.d,
                                            invstd.d);
                    expect_close(y.f, y.d, count, FWD_TOL, "%s step %d: y", what, step);
                    expect_close(mean.f, mean.d, c, FWD_TOL, "%s step %d: saved mean", what, step);
                    expect_close(invstd.f, invstd.d, c, FWD_TOL, "%s step %d: saved invstd", what, step);
                    expect_close(rmean.f, rmean.d, c, FWD_TOL, "%s step %d: running_mean", what, step);
                    expect_close(rvar.f, rvar.d, c, FWD_TOL, "%s step %d: running_var", what, step);
                    /* The next step starts from the kernel's (float) state:
                     * otherwise its rounding, amplified when an update nearly
                     * cancels the old value, would count as the step's error. */
                    tensor_sync(&rmean);
                    tensor_sync(&rvar);
                }
                cr_assert_eq(batches, 2, "%s: num_batches %lld after two calls (seed %llu)", what,
                             (long long)batches, SEED);
                release_all();
            }
}

Test(forward, batchnorm_eval)
{
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CHANNELS); b++) {
            int n = BATCHES[a], c = CHANNELS[b], hw = 5 * 6;
            mc_bn_dims d = bn_dims(n, c, hw);
            long count = (long)n * c * hw;
            tensor x = tensor_rand(&r, count, -1.5, 2.5), gamma = tensor_rand(&r, c, 0.5, 1.5);
            tensor beta = tensor_rand(&r, c, -1, 1), rmean = tensor_rand(&r, c, -1, 1);
            tensor rvar = tensor_rand(&r, c, 0.5, 2), y = tensor_out(count);
            mc_batchnorm_fwd_eval(&d, x.f, gamma.f, beta.f, rmean.f, rvar.f, y.f);
            ref_batchnorm_fwd_eval(&d, x.d, gamma.d, beta.d, rmean.d, rvar.d, y.d);
            expect_close(y.f, y.d, count, FWD_TOL, "batchnorm eval n=%d c=%d", n, c);
            release_all();
        }
}

/* The three activations share one shape: count -> count. */
typedef struct unary_op {
    const char *name;
    void (*fwd)(long, const float *, float *);
    void (*ref)(long, const double *, double *);
    void (*bwd)(long, const float *, const float *, float *);
    int bwd_reads_input; /* relu6's backward reads x; relu's and sigmoid's read y */
    double lo, hi;       /* the data's range */
} unary_op;

static const unary_op RELU = {"relu", mc_relu_fwd, ref_relu_fwd, mc_relu_bwd, 0, -3, 3};
static const unary_op RELU6 = {"relu6", mc_relu6_fwd, ref_relu6_fwd, mc_relu6_bwd, 1, -3, 9};
/* Beyond |x| = 6 the backward's 1 - y, from a float y near 1, loses more
 * than 1e-4 of its few significant bits: inherent to the backward from y (as
 * PyTorch's), so the data stay inside; forward.sigmoid checks the tails. */
static const unary_op SIGMOID = {"sigmoid", mc_sigmoid_fwd, ref_sigmoid_fwd, mc_sigmoid_bwd, 0, -6, 6};
/* hardswish and hardsigmoid have kinks at -3 and 3: the backward's data
 * (tensor_off_integers) stay clear of them; backward.hard_kinks checks
 * PyTorch's values there. */
static const unary_op SILU = {"silu", mc_silu_fwd, ref_silu_fwd, mc_silu_bwd, 1, -6, 6};
static const unary_op HARDSWISH = {"hardswish", mc_hardswish_fwd, ref_hardswish_fwd, mc_hardswish_bwd, 1, -5, 5};
static const unary_op HARDSIGMOID = {"hardsigmoid", mc_hardsigmoid_fwd, ref_hardsigmoid_fwd, mc_hardsigmoid_bwd, 1,
                                     -5, 5};

static void check_unary_fwd(const unary_op *op)
{
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(COUNTS); i++) {
        long count = COUNTS[i];
        tensor x = tensor_rand(&r, count, op->lo, op->hi), y = tensor_out(count);
        op->fwd(count, x.f, y.f);
        op->ref(count, x.d, y.d);
        expect_close(y.f, y.d, count, FWD_TOL, "%s count=%ld", op->name, count);
        release_all();
    }
}

Test(forward, relu)
{
    check_unary_fwd(&RELU);
}

Test(forward, relu6)
{
    check_unary_fwd(&RELU6);
}

Test(forward, sigmoid)
{
    check_unary_fwd(&SIGMOID);
    /* exp overflows on one side: the result must still be the limit. */
    const float x[] = {-200, -89, 0, 89, 200};
    const double want[] = {0, 0, 0.5, 1, 1};
    float y[5];
    mc_sigmoid_fwd(5, x, y);
    expect_close(y, want, 5, FWD_TOL, "sigmoid of large magnitudes");
}

Test(forward, silu)
{
    check_unary_fwd(&SILU);
    const float x[] = {-200, -89, 0, 89, 200};
    const double want[] = {0, -89 / (1 + exp(89.0)), 0, 89, 200};
    float y[5];
    mc_silu_fwd(5, x, y);
    expect_close(y, want, 5, FWD_TOL, "silu of large magnitudes");
}

Test(forward, hardswish)
{
    check_unary_fwd(&HARDSWISH);
}

Test(forward, hardsigmoid)
{
    check_unary_fwd(&HARDSIGMOID);
}

Test(forward, add)
{
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(COUNTS); i++)
        for (int ninputs = 1; ninputs <= 3; ninputs++) {
            long count = COUNTS[i];
            const float *xf[3];
            const double *xd[3];
            for (int k = 0; k < ninputs; k++) {
                tensor x = tensor_rand(&r, count, -1, 1);
                xf[k] = x.f;
                xd[k] = x.d;
            }
            tensor y = tensor_out(count);
            mc_add_fwd(count, ninputs, xf, y.f);
            ref_add_fwd(count, ninputs, xd, y.d);
            expect_close(y.f, y.d, count, FWD_TOL, "add of %d count=%ld", ninputs, count);
            release_all();
        }
}

/* A dropout mask for p = 0.2: 0 or 1/(1-p). */
static tensor dropout_mask(rng *r, long count)
{
    tensor m = tensor_new(count);
    for (long i = 0; i < count; i++)
        tensor_set(&m, i, rng_uniform(r, 0, 1) < 0.2 ? 0 : 1.25);
    return m;
}

Test(forward, mul)
{
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(COUNTS); i++) {
        long count = COUNTS[i];
        tensor x = tensor_rand(&r, count, -1, 1), mask = dropout_mask(&r, count), y = tensor_out(count);
        mc_mul_fwd(count, x.f, mask.f, y.f);
        ref_mul_fwd(count, x.d, mask.d, y.d);
        expect_close(y.f, y.d, count, FWD_TOL, "mul count=%ld", count);
        release_all();
    }
}

Test(forward, shake)
{
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CHANNELS); b++) {
            int n = BATCHES[a];
            long per = (long)CHANNELS[b] * 5 * 5, count = n * per;
            tensor alpha = tensor_rand(&r, n, 0, 1), x1 = tensor_rand(&r, count, -1, 1);
            tensor x2 = tensor_rand(&r, count, -1, 1), y = tensor_out(count);
            mc_shake_fwd(n, per, alpha.f, x1.f, x2.f, y.f);
            ref_shake_fwd(n, per, alpha.d, x1.d, x2.d, y.d);
            expect_close(y.f, y.d, count, FWD_TOL, "shake n=%d per=%ld", n, per);
            release_all();
        }
}

/* Channel lists of the concatenation tests: two and three inputs. */
static const int CONCATS[][4] = {{2, 3, 16}, {2, 1, 1}, {3, 1, 17, 3}, {3, 16, 3, 1}};

Test(forward, concat)
{
    static const int hws[] = {1, 25, 64};
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CONCATS); b++)
            for (int s = 0; s < LEN(hws); s++) {
                int n = BATCHES[a], hw = hws[s], ninputs = CONCATS[b][0];
                const int *cs = CONCATS[b] + 1;
                const float *xf[3];
                const double *xd[3];
                long count = 0;
                for (int k = 0; k < ninputs; k++) {
                    tensor x = tensor_rand(&r, (long)n * cs[k] * hw, -1, 1);
                    xf[k] = x.f;
                    xd[k] = x.d;
                    count += x.n;
                }
                tensor y = tensor_out(count);
                mc_concat_fwd(n, hw, ninputs, cs, xf, y.f);
                ref_concat_fwd(n, hw, ninputs, cs, xd, y.d);
                expect_close(y.f, y.d, count, FWD_TOL, "concat of %d n=%d hw=%d", ninputs, n, hw);
                release_all();
            }
}

Test(forward, scale)
{
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CHANNELS); b++) {
            int n = BATCHES[a], c = CHANNELS[b], hw = 7 * 7;
            long count = (long)n * c * hw;
            tensor x = tensor_rand(&r, count, -1, 1), s = tensor_rand(&r, (long)n * c, 0, 1);
            tensor y = tensor_out(count);
            mc_scale_fwd(n, c, hw, x.f, s.f, y.f);
            ref_scale_fwd(n, c, hw, x.d, s.d, y.d);
            expect_close(y.f, y.d, count, FWD_TOL, "scale n=%d c=%d", n, c);
            release_all();
        }
}

static void check_avgpool_fwd(rng *r, mc_pool_dims d)
{
    tensor x = tensor_rand(r, (long)d.n * d.c * d.h * d.w, -1, 1);
    long count = (long)d.n * d.c * d.hout * d.wout;
    tensor y = tensor_out(count);
    mc_avgpool_fwd(&d, x.f, y.f);
    ref_avgpool_fwd(&d, x.d, y.d);
    expect_close(y.f, y.d, count, FWD_TOL, "avgpool n=%d c=%d %dx%d k=%d stride %d", d.n, d.c, d.h, d.w, d.k,
                 d.stride);
    release_all();
}

Test(forward, avgpool_global)
{
    static const int sizes[][2] = {{1, 1}, {7, 7}, {8, 8}, {5, 6}};
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(CHANNELS); b++)
            for (int s = 0; s < LEN(sizes); s++)
                check_avgpool_fwd(&r, pool_dims(BATCHES[a], CHANNELS[b], sizes[s][0], sizes[s][1], 0, 1));
}

Test(forward, avgpool_window)
{
    static const int sizes[][2] = {{2, 2}, {3, 3}, {7, 7}, {8, 8}, {6, 9}};
    rng r = rng_new(test_seed());
    for (int k = 2; k <= 3; k++)
        for (int stride = 1; stride <= 2; stride++)
            for (int s = 0; s < LEN(sizes); s++)
                for (int b = 0; b < LEN(CHANNELS); b++)
                    if (k <= sizes[s][0] && k <= sizes[s][1])
                        check_avgpool_fwd(&r, pool_dims(2, CHANNELS[b], sizes[s][0], sizes[s][1], k, stride));
}

/* k, stride, pad: PyTorch's pad <= k/2 */
static const int MAXPOOL_CASES[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {3, 3, 0}, {2, 1, 1}, {5, 2, 2}, {3, 2, 0}};

Test(forward, maxpool)
{
    static const int sizes[][2] = {{5, 5}, {7, 7}, {8, 8}, {6, 9}, {2, 3}};
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(MAXPOOL_CASES); i++)
        for (int s = 0; s < LEN(sizes); s++)
            for (int b = 0; b < LEN(CHANNELS); b++) {
                const int *k = MAXPOOL_CASES[i];
                if (k[0] > sizes[s][0] + 2 * k[2] || k[0] > sizes[s][1] + 2 * k[2])
                    continue;
                mc_pool_dims d = maxpool_dims(2, CHANNELS[b], sizes[s][0], sizes[s][1], k[0], k[1], k[2]);
                tensor x = tensor_rand(&r, (long)d.n * d.c * d.h * d.w, -1, 1);
                long count = (long)d.n * d.c * d.hout * d.wout;
                tensor y = tensor_out(count);
                mc_maxpool_fwd(&d, x.f, y.f);
                ref_maxpool_fwd(&d, x.d, y.d);
                expect_close(y.f, y.d, count, FWD_TOL, "maxpool c=%d %dx%d k=%d stride %d pad %d", d.c, d.h, d.w,
                             d.k, d.stride, d.pad);
                release_all();
            }
}

Test(forward, subsample)
{
    static const int sizes[][2] = {{1, 1}, {2, 3}, {7, 7}, {8, 8}, {7, 8}};
    rng r = rng_new(test_seed());
    for (int stride = 1; stride <= 2; stride++)
        for (int offset = 0; offset <= 1; offset++)
            for (int s = 0; s < LEN(sizes); s++) {
                mc_subsample_dims d = subsample_dims(2, 3, sizes[s][0], sizes[s][1], stride, offset);
                tensor x = tensor_rand(&r, (long)d.n * d.c * d.h * d.w, 1, 2); /* never 0 itself */
                long count = (long)d.n * d.c * d.hout * d.wout;
                tensor y = tensor_out(count);
                mc_subsample_fwd(&d, x.f, y.f);
                ref_subsample_fwd(&d, x.d, y.d);
                expect_close(y.f, y.d, count, FWD_TOL, "subsample %dx%d stride %d offset %d", d.h, d.w, stride,
                             offset);
                /* Past the edge, exactly 0; inside, a sample (all >= 1). */
                for (long p = 0; p < (long)d.n * d.c; p++)
                    for (int i = 0; i < d.hout; i++)
                        for (int j = 0; j < d.wout; j++) {
                            int past = offset + stride * i >= d.h || offset + stride * j >= d.w;
                            float v = y.f[(p * d.hout + i) * d.wout + j];
                            cr_assert(past ? v == 0 : v >= 1, "subsample %dx%d stride %d offset %d: y[%d,%d] = %g "
                                      "(seed %llu)", d.h, d.w, stride, offset, i, j, v, SEED);
                        }
                release_all();
            }
}

/* (n, in, out) of the linear tests */
static const int LINEARS[][3] = {{1, 1, 1}, {2, 64, 10}, {4, 17, 3}, {3, 100, 7}};

Test(forward, linear)
{
    rng r = rng_new(test_seed());
    for (int s = 0; s < LEN(LINEARS); s++)
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            int n = LINEARS[s][0], in = LINEARS[s][1], out = LINEARS[s][2];
            tensor x = tensor_rand(&r, (long)n * in, -1, 1), w = tensor_rand(&r, (long)out * in, -1, 1);
            tensor bias = tensor_rand(&r, out, -1, 1), y = tensor_out((long)n * out);
            mc_linear_fwd(n, in, out, x.f, w.f, with_bias ? bias.f : NULL, y.f);
            ref_linear_fwd(n, in, out, x.d, w.d, with_bias ? bias.d : NULL, y.d);
            expect_close(y.f, y.d, y.n, FWD_TOL, "linear n=%d in=%d out=%d bias %d", n, in, out, with_bias);
            release_all();
        }
}

static int32_t *random_labels(rng *r, int n, int classes)
{
    int32_t *labels = pool_alloc((size_t)n * sizeof *labels);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)rng_uniform(r, 0, classes);
    return labels;
}

Test(forward, softmax_xent)
{
    static const int classes_list[] = {1, 2, 10, 17};
    static const double shifts[] = {0, 200}; /* float exp overflows past 88 unless the max is subtracted */
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++)
        for (int b = 0; b < LEN(classes_list); b++)
            for (int s = 0; s < LEN(shifts); s++) {
                int n = BATCHES[a], classes = classes_list[b];
                long count = (long)n * classes;
                tensor logits = tensor_rand(&r, count, shifts[s] - 5, shifts[s] + 5), probs = tensor_out(count);
                int32_t *labels = random_labels(&r, n, classes);
                float loss = mc_softmax_xent_fwd(n, classes, logits.f, labels, probs.f);
                double want = ref_softmax_xent_fwd(n, classes, logits.d, labels, probs.d);
                const char *what = "softmax_xent";
                expect_close(&loss, &want, 1, FWD_TOL, "%s n=%d classes=%d shift %g: loss", what, n, classes,
                             shifts[s]);
                expect_close(probs.f, probs.d, count, FWD_TOL, "%s n=%d classes=%d shift %g: probs", what, n,
                             classes, shifts[s]);
                release_all();
            }
}

/* ==== backward ======================================================================= */

TestSuite(backward, .fini = release_all);

/* Input `name` of the case takes `value` and a zeroed gradient of its size. */
static void wrt(grad_case *gc, const char *name, tensor *x, tensor *g, tensor value)
{
    *x = value;
    *g = tensor_new(value.n);
    grad_case_add(gc, name, x, g);
}

/* -- batch norm (training: through the batch statistics) -- */

typedef struct bn_ctx {
    mc_bn_dims d;
    tensor x, gamma, beta, r, dx, dgamma, dbeta;
    tensor y, rmean, rvar, mean, invstd; /* scratch */
} bn_ctx;

static double bn_loss(void *ctx)
{
    bn_ctx *b = ctx;
    ref_batchnorm_fwd_train(&b->d, b->x.d, b->gamma.d, b->beta.d, NULL, NULL, NULL, b->y.d, NULL, NULL);
    return weighted_sum(&b->r, b->y.d);
}

static void bn_backward(void *ctx)
{
    bn_ctx *b = ctx;
    int64_t batches = 0;
    mc_batchnorm_fwd_train(&b->d, b->x.f, b->gamma.f, b->beta.f, b->rmean.f, b->rvar.f, &batches, b->y.f,
                           b->mean.f, b->invstd.f);
    mc_batchnorm_bwd(&b->d, b->x.f, b->gamma.f, b->mean.f, b->invstd.f, b->r.f, grad_of(&b->dx),
                     grad_of(&b->dgamma), grad_of(&b->dbeta));
}

Test(backward, batchnorm)
{
    /* At least 4 values a channel: with 2, xhat is +-1 whatever x, dx is
     * ~eps/var^1.5 and float cancellation drowns it (in PyTorch too). */
    static const int shapes[][3] = {{2, 3, 4 * 5}, {1, 2, 3 * 3}, {4, 1, 2 * 2}, {2, 17, 2}};
    rng r = rng_new(test_seed());
    for (int s = 0; s < LEN(shapes); s++) {
        int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2];
        long count = (long)n * c * hw;
        bn_ctx b = {.d = bn_dims(n, c, hw)};
        grad_case gc = {.loss = bn_loss, .backward = bn_backward, .ctx = &b};
        snprintf(gc.name, sizeof gc.name, "batchnorm n=%d c=%d hw=%d", n, c, hw);
        wrt(&gc, "x", &b.x, &b.dx, tensor_rand(&r, count, -1.5, 2.5));
        wrt(&gc, "gamma", &b.gamma, &b.dgamma, tensor_rand(&r, c, 0.5, 1.5));
        wrt(&gc, "beta", &b.beta, &b.dbeta, tensor_rand(&r, c, -1, 1));
        b.r = tensor_rand(&r, count, -1, 1);
        b.y = tensor_new(count);
        b.rmean = tensor_new(c);
        b.rvar = tensor_new(c);
        b.mean = tensor_new(c);
        b.invstd = tensor_new(c);
        check_grad_case(&gc);
        release_all();
    }
}

/* -- activations -- */

typedef struct unary_ctx {
    const unary_op *op;
    tensor x, r, dx, y;
} unary_ctx;

static double unary_loss(void *ctx)
{
    unary_ctx *u = ctx;
    u->op->ref(u->x.n, u->x.d, u->y.d);
    return weighted_sum(&u->r, u->y.d);
}

static void unary_backward(void *ctx)
{
    unary_ctx *u = ctx;
    u->op->fwd(u->x.n, u->x.f, u->y.f);
    u->op->bwd(u->x.n, u->op->bwd_reads_input ? u->x.f : u->y.f, u->r.f, grad_of(&u->dx));
}

static void check_unary_bwd(const unary_op *op)
{
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(COUNTS) - 1; i++) {
        long count = COUNTS[i];
        unary_ctx u = {.op = op};
        grad_case gc = {.loss = unary_loss, .backward = unary_backward, .ctx = &u};
        snprintf(gc.name, sizeof gc.name, "%s count=%ld", op->name, count);
        wrt(&gc, "x", &u.x, &u.dx, tensor_off_integers(&r, count, (int)op->lo, (int)op->hi));
        u.r = tensor_rand(&r, count, -1, 1);
        u.y = tensor_new(count);
        check_grad_case(&gc);
        release_all();
    }
}

Test(backward, relu)
{
    check_unary_bwd(&RELU);
}

Test(backward, relu6)
{
    check_unary_bwd(&RELU6);
}

Test(backward, sigmoid)
{
    check_unary_bwd(&SIGMOID);
}

Test(backward, silu)
{
    check_unary_bwd(&SILU);
}

Test(backward, hardswish)
{
    check_unary_bwd(&HARDSWISH);
}

Test(backward, hardsigmoid)
{
    check_unary_bwd(&HARDSIGMOID);
}

/* At the kinks, PyTorch's derivatives (torch 1.13, hardswish_backward and
 * hardsigmoid_backward): hardswish -1/2 at -3 and 3/2 at 3, hardsigmoid 0 at
 * both; and outside, 0 below and 1 (hardswish) above. */
Test(backward, hard_kinks)
{
    const float x[] = {-3, 3, -4, 4, 0};
    const float dy[] = {1, 1, 1, 1, 1};
    const double swish[] = {-0.5, 1.5, 0, 1, 0.5}, sigm[] = {0, 0, 0, 0, 1.0 / 6};
    float dx[5] = {0};
    mc_hardswish_bwd(5, x, dy, dx);
    expect_close(dx, swish, 5, FWD_TOL, "hardswish at its kinks");
    for (int i = 0; i < 5; i++)
        dx[i] = 0;
    mc_hardsigmoid_bwd(5, x, dy, dx);
    expect_close(dx, sigm, 5, FWD_TOL, "hardsigmoid at its kinks");
}

/* -- add and concat: several inputs -- */

typedef struct multi_ctx {
    int n, hw, ninputs, cs[3]; /* concat's shape; add needs only ninputs */
    tensor x[3], dx[3], r, y;
} multi_ctx;

static const char *const INPUT_NAMES[] = {"x0", "x1", "x2"};

/* The inputs, of `len(k)` values each, r and y of `total`. */
static void multi_inputs(rng *r, multi_ctx *m, grad_case *gc, long (*len)(const multi_ctx *, int), long total)
{
    for (int k = 0; k < m->ninputs; k++)
        wrt(gc, INPUT_NAMES[k], &m->x[k], &m->dx[k], tensor_rand(r, len(m, k), -1, 1));
    m->r = tensor_rand(r, total, -1, 1);
    m->y = tensor_new(total);
}

static double add_loss(void *ctx)
{
    multi_ctx *m = ctx;
    const double *xs[3] = {m->x[0].d, m->x[1].d, m->x[2].d};
    ref_add_fwd(m->y.n, m->ninputs, xs, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

/* add's backward: its gradient goes to every input unchanged. */
static void add_backward(void *ctx)
{
    multi_ctx *m = ctx;
    for (int k = 0; k < m->ninputs; k++)
        mc_accumulate(m->y.n, m->r.f, grad_of(&m->dx[k]));
}

static long add_input_len(const multi_ctx *m, int k)
{
    (void)k;
    return m->hw;
}

Test(backward, add)
{
    rng r = rng_new(test_seed());
    for (int ninputs = 1; ninputs <= 3; ninputs++) {
        multi_ctx m = {.hw = 37, .ninputs = ninputs};
        grad_case gc = {.loss = add_loss, .backward = add_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "add of %d (mc_accumulate)", ninputs);
        multi_inputs(&r, &m, &gc, add_input_len, m.hw);
        check_grad_case(&gc);
        release_all();
    }
}

static double concat_loss(void *ctx)
{
    multi_ctx *m = ctx;
    const double *xs[3] = {m->x[0].d, m->x[1].d, m->x[2].d};
    ref_concat_fwd(m->n, m->hw, m->ninputs, m->cs, xs, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void concat_backward(void *ctx)
{
    multi_ctx *m = ctx;
    float *dxs[3] = {grad_of(&m->dx[0]), grad_of(&m->dx[1]), grad_of(&m->dx[2])};
    mc_concat_bwd(m->n, m->hw, m->ninputs, m->cs, m->r.f, dxs);
}

static long concat_input_len(const multi_ctx *m, int k)
{
    return (long)m->n * m->cs[k] * m->hw;
}

Test(backward, concat)
{
    rng r = rng_new(test_seed());
    for (int b = 0; b < LEN(CONCATS); b++) {
        multi_ctx m = {.n = 2, .hw = 5, .ninputs = CONCATS[b][0]};
        long total = 0;
        for (int k = 0; k < m.ninputs; k++) {
            m.cs[k] = CONCATS[b][k + 1];
            total += concat_input_len(&m, k);
        }
        grad_case gc = {.loss = concat_loss, .backward = concat_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "concat of %d", m.ninputs);
        multi_inputs(&r, &m, &gc, concat_input_len, total);
        check_grad_case(&gc);
        release_all();
    }
}

/* -- mul (dropout) and shake: fixed weights -- */

typedef struct mix_ctx {
    int n;
    tensor x1, x2, weights, r, dx1, dx2, y; /* mul: x1 * mask (weights); shake: weights a = b per image */
} mix_ctx;

static double mul_loss(void *ctx)
{
    mix_ctx *m = ctx;
    ref_mul_fwd(m->x1.n, m->x1.d, m->weights.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void mul_backward(void *ctx)
{
    mix_ctx *m = ctx;
    mc_mul_bwd(m->x1.n, m->weights.f, m->r.f, grad_of(&m->dx1));
}

/* The forward's a is the backward's b here, so that finite differences of
 * the forward check the backward. */
static double shake_loss(void *ctx)
{
    mix_ctx *m = ctx;
    ref_shake_fwd(m->n, m->x1.n / m->n, m->weights.d, m->x1.d, m->x2.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void shake_backward(void *ctx)
{
    mix_ctx *m = ctx;
    mc_shake_bwd(m->n, m->x1.n / m->n, m->weights.f, m->r.f, grad_of(&m->dx1), grad_of(&m->dx2));
}

Test(backward, mul)
{
    rng r = rng_new(test_seed());
    long count = 50;
    mix_ctx m = {.n = 1};
    grad_case gc = {.name = "mul with a dropout mask", .loss = mul_loss, .backward = mul_backward, .ctx = &m};
    wrt(&gc, "x", &m.x1, &m.dx1, tensor_rand(&r, count, -1, 1));
    m.weights = dropout_mask(&r, count);
    m.r = tensor_rand(&r, count, -1, 1);
    m.y = tensor_new(count);
    check_grad_case(&gc);
}

Test(backward, shake)
{
    rng r = rng_new(test_seed());
    for (int a = 0; a < LEN(BATCHES); a++) {
        int n = BATCHES[a];
        long count = n * 3L * 4 * 4;
        mix_ctx m = {.n = n};
        grad_case gc = {.loss = shake_loss, .backward = shake_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "shake n=%d", n);
        wrt(&gc, "x1", &m.x1, &m.dx1, tensor_rand(&r, count, -1, 1));
        wrt(&gc, "x2", &m.x2, &m.dx2, tensor_rand(&r, count, -1, 1));
        m.weights = tensor_rand(&r, n, 0, 1);
        m.r = tensor_rand(&r, count, -1, 1);
        m.y = tensor_new(count);
        check_grad_case(&gc);
        release_all();
    }
}

/* -- scale (squeeze-and-excitation) -- */

typedef struct scale_ctx {
    int n, c, hw;
    tensor x, s, r, dx, ds, y;
} scale_ctx;

static double scale_loss(void *ctx)
{
    scale_ctx *m = ctx;
    ref_scale_fwd(m->n, m->c, m->hw, m->x.d, m->s.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void scale_backward(void *ctx)
{
    scale_ctx *m = ctx;
    mc_scale_bwd(m->n, m->c, m->hw, m->x.f, m->s.f, m->r.f, grad_of(&m->dx), grad_of(&m->ds));
}

Test(backward, scale)
{
    static const int shapes[][3] = {{1, 1, 1}, {2, 3, 25}, {4, 17, 4}};
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(shapes); i++) {
        int n = shapes[i][0], c = shapes[i][1], hw = shapes[i][2];
        long count = (long)n * c * hw;
        scale_ctx m = {.n = n, .c = c, .hw = hw};
        grad_case gc = {.loss = scale_loss, .backward = scale_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "scale n=%d c=%d hw=%d", n, c, hw);
        wrt(&gc, "x", &m.x, &m.dx, tensor_rand(&r, count, -1, 1));
        wrt(&gc, "s", &m.s, &m.ds, tensor_rand(&r, (long)n * c, 0, 1));
        m.r = tensor_rand(&r, count, -1, 1);
        m.y = tensor_new(count);
        check_grad_case(&gc);
        release_all();
    }
}

/* -- avgpool and subsample: planes to smaller planes -- */

typedef struct plane_ctx {
    mc_pool_dims pool;
    mc_subsample_dims sub;
    tensor x, r, dx, y;
} plane_ctx;

static double avgpool_loss(void *ctx)
{
    plane_ctx *m = ctx;
    ref_avgpool_fwd(&m->pool, m->x.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void avgpool_backward(void *ctx)
{
    plane_ctx *m = ctx;
    mc_avgpool_bwd(&m->pool, m->r.f, grad_of(&m->dx));
}

static double subsample_loss(void *ctx)
{
    plane_ctx *m = ctx;
    ref_subsample_fwd(&m->sub, m->x.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void subsample_backward(void *ctx)
{
    plane_ctx *m = ctx;
    mc_subsample_bwd(&m->sub, m->r.f, grad_of(&m->dx));
}

/* Runs the case with `in` input and `out` output values. */
static void check_plane_bwd(rng *r, grad_case *gc, long in, long out)
{
    plane_ctx *m = gc->ctx;
    wrt(gc, "x", &m->x, &m->dx, tensor_rand(r, in, -1, 1));
    m->r = tensor_rand(r, out, -1, 1);
    m->y = tensor_new(out);
    check_grad_case(gc);
    release_all();
}

Test(backward, avgpool)
{
    /* h, w, k, stride */
    static const int cases[][4] = {{5, 5, 0, 1}, {4, 6, 0, 1}, {7, 7, 2, 2}, {6, 6, 3, 1}, {7, 6, 3, 2}, {4, 4, 2, 1}};
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(cases); i++) {
        plane_ctx m = {.pool = pool_dims(2, 3, cases[i][0], cases[i][1], cases[i][2], cases[i][3])};
        const mc_pool_dims *d = &m.pool;
        grad_case gc = {.loss = avgpool_loss, .backward = avgpool_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "avgpool %dx%d k=%d stride %d", d->h, d->w, d->k, d->stride);
        check_plane_bwd(&r, &gc, (long)d->n * d->c * d->h * d->w, (long)d->n * d->c * d->hout * d->wout);
    }
}

static double maxpool_loss(void *ctx)
{
    plane_ctx *m = ctx;
    ref_maxpool_fwd(&m->pool, m->x.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void maxpool_backward(void *ctx)
{
    plane_ctx *m = ctx;
    mc_maxpool_bwd(&m->pool, m->x.f, m->r.f, grad_of(&m->dx));
}

Test(backward, maxpool)
{
    /* Distinct values (a shuffled ladder, steps of 2/n): no ties, and no
     * finite-difference step crosses another value of its window. */
    static const int sizes[][2] = {{7, 7}, {6, 5}, {4, 4}};
    rng r = rng_new(test_seed());
    for (int i = 0; i < LEN(MAXPOOL_CASES); i++)
        for (int s = 0; s < LEN(sizes); s++) {
            const int *k = MAXPOOL_CASES[i];
            plane_ctx m = {.pool = maxpool_dims(2, 3, sizes[s][0], sizes[s][1], k[0], k[1], k[2])};
            const mc_pool_dims *d = &m.pool;
            grad_case gc = {.loss = maxpool_loss, .backward = maxpool_backward, .ctx = &m};
            snprintf(gc.name, sizeof gc.name, "maxpool %dx%d k=%d stride %d pad %d", d->h, d->w, d->k, d->stride,
                     d->pad);
            long in = (long)d->n * d->c * d->h * d->w, out = (long)d->n * d->c * d->hout * d->wout;
            wrt(&gc, "x", &m.x, &m.dx, tensor_new(in));
            long *perm = pool_alloc((size_t)in * sizeof *perm);
            for (long j = 0; j < in; j++)
                perm[j] = j;
            for (long j = in - 1; j > 0; j--) {
                long q = (long)rng_uniform(&r, 0, (double)j + 1), t = perm[j];
                q = q > j ? j : q;
                perm[j] = perm[q];
                perm[q] = t;
            }
            for (long j = 0; j < in; j++)
                tensor_set(&m.x, j, (perm[j] + rng_uniform(&r, 0.2, 0.8)) * 2.0 / in - 1);
            m.r = tensor_rand(&r, out, -1, 1);
            m.y = tensor_new(out);
            check_grad_case(&gc);
            release_all();
        }
}

/* Ties go to the first maximum in row-major window order, and a window of
 * -inf to its first element inside the input: PyTorch's CPU kernel
 * (F.max_pool2d's gradient, torch 1.13). */
Test(backward, maxpool_ties)
{
    const float x[9] = {1, 2, 2, 2, 0, 1, 2, 2, 2};
    const float dy[4] = {1, 1, 1, 1};
    const double want[9] = {0, 2, 0, 1, 0, 0, 0, 1, 0};
    float dx[9] = {0}, y[4];
    mc_pool_dims d = maxpool_dims(1, 1, 3, 3, 2, 1, 0);
    mc_maxpool_fwd(&d, x, y);
    mc_maxpool_bwd(&d, x, dy, dx);
    expect_close(dx, want, 9, FWD_TOL, "maxpool 2x2 stride 1 with ties");

    float ninf[9], dx2[9] = {0};
    const double want2[9] = {1, 1, 0, 1, 1, 0, 0, 0, 0}, ywant[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int i = 0; i < 9; i++)
        ninf[i] = -INFINITY;
    d = maxpool_dims(1, 1, 3, 3, 3, 2, 1);
    mc_maxpool_fwd(&d, ninf, y);
    for (int i = 0; i < 4; i++)
        cr_expect(y[i] == ywant[i], "maxpool of -inf: y[%d] = %g", i, y[i]);
    mc_maxpool_bwd(&d, ninf, dy, dx2);
    expect_close(dx2, want2, 9, FWD_TOL, "maxpool 3x3 stride 2 pad 1 of -inf");
}

Test(backward, subsample)
{
    static const int sizes[][2] = {{7, 7}, {6, 6}, {5, 6}, {1, 1}};
    rng r = rng_new(test_seed());
    for (int offset = 0; offset <= 1; offset++)
        for (int s = 0; s < LEN(sizes); s++) {
            plane_ctx m = {.sub = subsample_dims(2, 3, sizes[s][0], sizes[s][1], 2, offset)};
            const mc_subsample_dims *d = &m.sub;
            grad_case gc = {.loss = subsample_loss, .backward = subsample_backward, .ctx = &m};
            snprintf(gc.name, sizeof gc.name, "subsample %dx%d offset %d", d->h, d->w, offset);
            check_plane_bwd(&r, &gc, (long)d->n * d->c * d->h * d->w, (long)d->n * d->c * d->hout * d->wout);
        }
}

/* -- linear -- */

typedef struct linear_ctx {
    int n, in, out;
    tensor x, w, bias, r, dx, dw, dbias, y;
} linear_ctx;

static double linear_loss(void *ctx)
{
    linear_ctx *m = ctx;
    ref_linear_fwd(m->n, m->in, m->out, m->x.d, m->w.d, m->bias.d, m->y.d);
    return weighted_sum(&m->r, m->y.d);
}

static void linear_backward(void *ctx)
{
    linear_ctx *m = ctx;
    mc_linear_bwd(m->n, m->in, m->out, m->x.f, m->w.f, m->r.f, grad_of(&m->dx), grad_of(&m->dw),
                  grad_of(&m->dbias));
}

Test(backward, linear)
{
    rng r = rng_new(test_seed());
    for (int s = 0; s < LEN(LINEARS); s++) {
        int n = LINEARS[s][0], in = LINEARS[s][1], out = LINEARS[s][2];
        linear_ctx m = {.n = n, .in = in, .out = out};
        grad_case gc = {.loss = linear_loss, .backward = linear_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "linear n=%d in=%d out=%d", n, in, out);
        wrt(&gc, "x", &m.x, &m.dx, tensor_rand(&r, (long)n * in, -1, 1));
        wrt(&gc, "w", &m.w, &m.dw, tensor_rand(&r, (long)out * in, -1, 1));
        wrt(&gc, "bias", &m.bias, &m.dbias, tensor_rand(&r, out, -1, 1));
        m.r = tensor_rand(&r, (long)n * out, -1, 1);
        m.y = tensor_new((long)n * out);
        check_grad_case(&gc);
        release_all();
    }
}

/* -- softmax cross-entropy: L is the mean loss itself -- */

typedef struct xent_ctx {
    int n, classes;
    const int32_t *labels;
    tensor logits, dlogits, probs;
} xent_ctx;

static double xent_loss(void *ctx)
{
    xent_ctx *m = ctx;
    return ref_softmax_xent_fwd(m->n, m->classes, m->logits.d, m->labels, NULL);
}

static void xent_backward(void *ctx)
{
    xent_ctx *m = ctx;
    mc_softmax_xent_fwd(m->n, m->classes, m->logits.f, m->labels, m->probs.f);
    mc_softmax_xent_bwd(m->n, m->classes, m->probs.f, m->labels, 1.0f / m->n, grad_of(&m->dlogits));
}

Test(backward, softmax_xent)
{
    static const int shapes[][2] = {{1, 1}, {1, 10}, {2, 3}, {4, 17}};
    rng r = rng_new(test_seed());
    for (int s = 0; s < LEN(shapes); s++) {
        int n = shapes[s][0], classes = shapes[s][1];
        long count = (long)n * classes;
        xent_ctx m = {.n = n, .classes = classes};
        grad_case gc = {.loss = xent_loss, .backward = xent_backward, .ctx = &m};
        snprintf(gc.name, sizeof gc.name, "softmax_xent n=%d classes=%d", n, classes);
        wrt(&gc, "logits", &m.logits, &m.dlogits, tensor_rand(&r, count, -4, 4));
        m.labels = random_labels(&r, n, classes);
        m.probs = tensor_new(count);
        check_grad_case(&gc);
        release_all();
    }
}

/* ---- synchronized batch norm ------------------------------------------------ */

/* The kernels' hook as one rank sees it: alone (its sums are the global
 * ones), or beside a rank with the very same shard (every sum and the count
 * doubled, exactly). Both must give what the unsynchronized kernels give,
 * bit for bit, dgamma and dbeta (the local sums) included. */
static double sync_alone(double *sums, int n, double count)
{
    (void)sums, (void)n;
    return count;
}

static double sync_twin(double *sums, int n, double count)
{
    for (int i = 0; i < n; i++)
        sums[i] *= 2;
    return 2 * count;
}

enum { SN = 3, SC = 5, SHW = 7, SCOUNT = SN * SC * SHW };
typedef struct bn_step_out {
    float y[SCOUNT], dx[SCOUNT], mean[SC], invstd[SC], dgamma[SC], dbeta[SC];
} bn_step_out;

static void bn_step(double (*hook)(double *, int, double), bn_step_out *o)
{
    float x[SCOUNT], dy[SCOUNT], gamma[SC], beta[SC], rmean[SC] = {0}, rvar[SC];
    int64_t batches = 0;
    unsigned s = 12345;
    for (int i = 0; i < SCOUNT; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 16) & 1023) / 256.0f - 1.5f;
        s = s * 1103515245u + 12345u;
        dy[i] = (float)((s >> 16) & 1023) / 1024.0f - 0.5f;
    }
    for (int c = 0; c < SC; c++)
        gamma[c] = 0.5f + 0.25f * c, beta[c] = 0.1f * c, rvar[c] = 1;
    memset(o, 0, sizeof *o);
    mc_bn_dims d = bn_dims(SN, SC, SHW);
    mc_bn_allreduce = hook;
    mc_batchnorm_fwd_train(&d, x, gamma, beta, rmean, rvar, &batches, o->y, o->mean, o->invstd);
    mc_batchnorm_bwd(&d, x, gamma, o->mean, o->invstd, dy, o->dx, o->dgamma, o->dbeta);
    mc_bn_allreduce = NULL;
}

Test(sync_bn, alone_or_beside_an_equal_rank)
{
    bn_step_out plain, alone, twin;
    bn_step(NULL, &plain);
    bn_step(sync_alone, &alone);
    bn_step(sync_twin, &twin);
    cr_expect(memcmp(&plain, &alone, sizeof plain) == 0, "synchronized batch norm of one rank differs");
    cr_expect(memcmp(&plain, &twin, sizeof plain) == 0, "synchronized batch norm beside an equal rank differs");
}
