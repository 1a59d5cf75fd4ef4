m4_divert(-1)
# Batch normalization (PyTorch BatchNorm2d) over C channels of H x W, as
# the C template computes it: sums in double (fixed-order block sums of
# parts of each channel, then the parts in order), the statistics and
# running estimates per channel, then the normalization (eval too) element
# by element with the same per-element function. Constants: NAME, C, H, W,
# EPS, MOMENTUM.

m4_define(`CBN_HW', `m4_eval(H * W)')
# Element i of channel c over the batch: image i / HW, position i % HW.
m4_define(`CBN_AT', `(((long)($1) / CBN_HW * C + c) * CBN_HW + ($1) % CBN_HW)')
# Parts per channel: a channel's n*H*W elements are split into CBN_S
# ranges, a block each, so that C * CBN_S blocks keep every multiprocessor
# busy (one block per channel left 116 of an H100's 132 idle at 16
# channels: batch norm was a quarter of resnet20's step). A block writes
# its range's double sums to scratch; whoever needs a channel's total adds
# its CBN_S parts in order (the same bits every run, no atomics).
m4_define(`CBN_S', `m4_eval((264 + C - 1) / C)')

# CBN_PART_BODY(fn, params, per-element statements, sums, preamble): the
# block body fn summing the statements' values (into s0 and, with 2
# sums, s1) over its range (c, m, i in scope) into part[block * sums + j].
m4_define(`CBN_PART_BODY',
`CU_BODY($1, `int n, $2, double *part')
{
    const int c = (int)(block / CBN_S), s = (int)(block % CBN_S);
    const long m = (long)n * CBN_HW, lo = m * s / CBN_S, hi = m * (s + 1) / CBN_S;
    double m4_ifelse($4, 2, `s0 = 0, s1 = 0', `s0 = 0');
    (void)m;
$5m4_dnl
    for (long i = lo + tid; i < hi; i += nthreads) {
$3    }
    s0 = mc_cu_block_sum(s0, (double *)shm, tid, nthreads);
m4_ifelse($4, 2, `    s1 = mc_cu_block_sum(s1, (double *)shm, tid, nthreads);
')m4_dnl
    if (tid == 0) {
        part[block * $4] = s0;
m4_ifelse($4, 2, `        part[block * $4 + 1] = s1;
')m4_dnl
    }
}
')

m4_define(`MC_BATCHNORM_KERNEL',
`/* NAME: batch norm over C channels of H`'x`'W, CBN_S blocks per channel */
MC_CU_HD static inline float NAME`'_norm(float x, float mean, float scale, float shift)
{
    return (x - mean) * scale + shift;
}

/* Sum j of channel c: its parts (count sums each) in order. */
MC_CU_HD static inline double NAME`'_total(const double *part, int c, int count, int j)
{
    double t = 0;
    for (int s = 0; s < CBN_S; s++)
        t += part[(c * CBN_S + s) * count + j];
    return t;
}

CBN_PART_BODY(NAME`'_sum, `const float *x', `        s0 += x[CBN_AT(i)];
', 1)
CU_KERNEL(NAME`'_sum, `int n, const float *x, double *part', `n, x, part')
/* The squares about the mean: a second pass, as the host path sums them. */
CBN_PART_BODY(NAME`'_sq, `const float *x, const double *sums', `        const double d = x[CBN_AT(i)] - mean;
        s0 += d * d;
', 1, `    const double mean = NAME`'_total(sums, c, 1, 0) / m;
')
CU_KERNEL(NAME`'_sq, `int n, const float *x, const double *sums, double *part', `n, x, sums, part')

/* Per channel: the statistics, what backward keeps, the running estimates. */
CU_MAP(NAME`'_stats, (long)C, `int n, const double *sums, const double *sq, const float *gamma,
    float *running_mean, float *running_var, int64_t *count, float *save_mean, float *save_invstd, float *scale',
    `n, sums, sq, gamma, running_mean, running_var, count, save_mean, save_invstd, scale',
`        const int c = (int)i;
        const long m = (long)n * CBN_HW;
        const double mean = NAME`'_total(sums, c, 1, 0) / m, var = NAME`'_total(sq, c, 1, 0) / m;
        const double invstd = 1 / sqrt(var + EPS);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        scale[c] = (float)(gamma[c] * invstd);
        /* one value per channel: keep the biased variance (0), as the host path does */
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        running_mean[c] = (float)((1 - MOMENTUM) * running_mean[c] + MOMENTUM * mean);
        running_var[c] = (float)((1 - MOMENTUM) * running_var[c] + MOMENTUM * unbiased);
        if (c == 0)
            *count += 1;
')
CU_MAP(NAME`'_apply, n * m4_eval(C * H * W)L, `int n, const float *x, const float *mean, const float *scale,
    const float *beta, float *y', `n, x, mean, scale, beta, y',
`        const int c = (int)(i / CBN_HW % C);
        y[i] = NAME`'_norm(x[i], mean[c], scale[c], beta[c]);
')
CU_MAP(NAME`'_eval, n * m4_eval(C * H * W)L, `int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y', `n, x, gamma, beta, running_mean, running_var, y',
`        const int c = (int)(i / CBN_HW % C);
        const double invstd = 1 / sqrt((double)running_var[c] + EPS);
        y[i] = NAME`'_norm(x[i], running_mean[c], (float)(gamma[c] * invstd), beta[c]);
')
/* dx = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)) */
CBN_PART_BODY(NAME`'_bsum, `const float *x, const float *save_mean, const float *save_invstd, const float *dy',
`        s0 += dy[CBN_AT(i)];
        s1 += (double)dy[CBN_AT(i)] * ((x[CBN_AT(i)] - mean) * invstd);
', 2, `    const float mean = save_mean[c], invstd = save_invstd[c];
')
CU_KERNEL(NAME`'_bsum, `int n, const float *x, const float *save_mean, const float *save_invstd, const float *dy,
    double *part', `n, x, save_mean, save_invstd, dy, part')
/* Per channel: the parameter gradients and the coefficients of dx. */
CU_MAP(NAME`'_bstats, (long)C, `int n, const double *part, const float *gamma, const float *save_invstd,
    float *dgamma, float *dbeta, float *coef', `n, part, gamma, save_invstd, dgamma, dbeta, coef',
`        const int c = (int)i;
        const long m = (long)n * CBN_HW;
        const double sum_dy = NAME`'_total(part, c, 2, 0), sum_dy_xhat = NAME`'_total(part, c, 2, 1);
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
        coef[c] = gamma[c] * save_invstd[c];
        coef[C + c] = (float)(sum_dy / m);
        coef[2 * C + c] = (float)(sum_dy_xhat / m);
')
CU_MAP(NAME`'_bapply, n * m4_eval(C * H * W)L, `int n, const float *x, const float *save_mean,
    const float *save_invstd, const float *coef, const float *dy, float *dx', `n, x, save_mean, save_invstd, coef, dy, dx',
`        const int c = (int)(i / CBN_HW % C);
        dx[i] += coef[c] * (dy[i] - coef[C + c] - (x[i] - save_mean[c]) * save_invstd[c] * coef[2 * C + c]);
')
void NAME`'_cu_fwd_train(int host, int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd)
{
    /* a sum and a sum of squares per part (doubles), then a scale per channel */
    double *sums = (double *)mc_cuda_scratch(host, m4_eval(4 * C * CBN_S + C)), *sq = sums + m4_eval(C * CBN_S);
    float *scale = (float *)(sq + m4_eval(C * CBN_S));
    CU_RUN(NAME`'_sum, m4_eval(C * CBN_S), CU_THREADS * sizeof(double), `n, x, sums');
    CU_RUN(NAME`'_sq, m4_eval(C * CBN_S), CU_THREADS * sizeof(double), `n, x, sums, sq');
    CU_MAP_RUN(NAME`'_stats, (long)C,
        `n, sums, sq, gamma, running_mean, running_var, count, save_mean, save_invstd, scale');
    CU_MAP_RUN(NAME`'_apply, n * m4_eval(C * H * W)L, `n, x, save_mean, scale, beta, y');
}

void NAME`'_cu_fwd_eval(int host, int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y)
{
    CU_MAP_RUN(NAME`'_eval, n * m4_eval(C * H * W)L, `n, x, gamma, beta, running_mean, running_var, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *gamma, const float *save_mean,
    const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    /* two sums per part (doubles), then three coefficients per channel */
    double *part = (double *)mc_cuda_scratch(host, m4_eval(4 * C * CBN_S + 3 * C));
    float *coef = (float *)(part + m4_eval(2 * C * CBN_S));
    CU_RUN(NAME`'_bsum, m4_eval(C * CBN_S), CU_THREADS * sizeof(double), `n, x, save_mean, save_invstd, dy, part');
    CU_MAP_RUN(NAME`'_bstats, (long)C, `n, part, gamma, save_invstd, dgamma, dbeta, coef');
    CU_MAP_RUN(NAME`'_bapply, n * m4_eval(C * H * W)L, `n, x, save_mean, save_invstd, coef, dy, dx');
}
')

m4_define(`MC_BATCHNORM_PROTO',
`void NAME`'_cu_fwd_train(int host, int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd);
void NAME`'_cu_fwd_eval(int host, int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *gamma, const float *save_mean,
    const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta);
')

m4_define(`MC_BATCHNORM_CALL_FWD',
`    if (train)
        NAME`'_cu_fwd_train(host, n, MC_ACT(IN0), MC_PARAM(GAMMA), MC_PARAM(BETA), MC_BUF(RUNNING_MEAN),
            MC_BUF(RUNNING_VAR), MC_COUNTER(COUNTER), MC_ACT(OUT), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD));
    else
        NAME`'_cu_fwd_eval(host, n, MC_ACT(IN0), MC_PARAM(GAMMA), MC_PARAM(BETA), MC_BUF(RUNNING_MEAN),
            MC_BUF(RUNNING_VAR), MC_ACT(OUT));
')
m4_define(`MC_BATCHNORM_CALL_BWD',
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_PARAM(GAMMA), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD), MC_DACT(OUT),
        MC_DACT(IN0), MC_GRAD(GAMMA), MC_GRAD(BETA));
')
m4_divert(0)m4_dnl
