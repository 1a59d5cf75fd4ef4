m4_divert(-1)
# Batch normalization (PyTorch BatchNorm2d) over C channels of H x W, as
# the C template computes it: sums in double (fixed-order block sums of
# parts of each channel, then the parts in order), the statistics and
# running estimates per channel, then the normalization (eval too) element
# by element with the same per-element function. With FUSED relu or relu6
# it also does that activation after it, as the C template: the activation
# of the result is written, the output gradient taken where that output is
# above 0 (and below 6). Constants: NAME, C, H, W, EPS, MOMENTUM, FUSED.

m4_define(`CBN_HW', `m4_eval(H * W)')
# Element i of channel c over the batch, and the parts of a channel (see
# the sums per channel in common.m4).
m4_define(`CBN_AT', `CU_CHANNEL_AT($1, C, CBN_HW)')
m4_define(`CBN_S', `CU_PARTS(C)')
# The output gradient at index $1 as the batch norm itself sees it.
m4_define(`CBN_DY', `m4_ifelse(FUSED, none, `dy[$1]', `(MC_FUSED_PASSES(y[$1]) ? dy[$1] : 0.0f)')')

m4_define(`MC_BATCHNORM_KERNEL',
`/* NAME: batch norm over C channels of H`'x`'W, CBN_S blocks per channel */
MC_CU_HD static inline float NAME`'_norm(float x, float mean, float scale, float shift)
{
    const float v = (x - mean) * scale + shift;
    return MC_FUSED_OUT(v);
}

CU_PART_BODY(NAME`'_sum, `const float *x', `x', `        s0 += x[CBN_AT(i)];
', 1, `', C, CBN_HW)
/* The squares about the mean: a second pass, as the host path sums them. */
CU_PART_BODY(NAME`'_sq, `const float *x, const double *sums', `x, sums', `        const double d = x[CBN_AT(i)] - mean;
        s0 += d * d;
', 1, `    const double mean = mc_cu_parts_total(sums, c, CBN_S, 1, 0) / m;
', C, CBN_HW)

/* Per channel: the statistics, what backward keeps, the running estimates. */
CU_MAP(NAME`'_stats, (long)C, `int n, const double *sums, const double *sq, const float *gamma,
    float *running_mean, float *running_var, int64_t *count, float *save_mean, float *save_invstd, float *scale',
    `n, sums, sq, gamma, running_mean, running_var, count, save_mean, save_invstd, scale',
`        const int c = (int)i;
        const long m = (long)n * CBN_HW;
        const double mean = mc_cu_parts_total(sums, c, CBN_S, 1, 0) / m;
        const double var = mc_cu_parts_total(sq, c, CBN_S, 1, 0) / m;
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
CU_PART_BODY(NAME`'_bsum, `const float *x, const float *y, const float *save_mean, const float *save_invstd,
    const float *dy', `x, y, save_mean, save_invstd, dy', `        const float g = CBN_DY(CBN_AT(i));
        s0 += g;
        s1 += (double)g * ((x[CBN_AT(i)] - mean) * invstd);
', 2, `    const float mean = save_mean[c], invstd = save_invstd[c];
m4_ifelse(FUSED, none, `    (void)y;
')', C, CBN_HW)
/* Per channel: the parameter gradients and the coefficients of dx. */
CU_MAP(NAME`'_bstats, (long)C, `int n, const double *part, const float *gamma, const float *save_invstd,
    float *dgamma, float *dbeta, float *coef', `n, part, gamma, save_invstd, dgamma, dbeta, coef',
`        const int c = (int)i;
        const long m = (long)n * CBN_HW;
        const double sum_dy = mc_cu_parts_total(part, c, CBN_S, 2, 0);
        const double sum_dy_xhat = mc_cu_parts_total(part, c, CBN_S, 2, 1);
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
        coef[c] = gamma[c] * save_invstd[c];
        coef[C + c] = (float)(sum_dy / m);
        coef[2 * C + c] = (float)(sum_dy_xhat / m);
')
CU_MAP(NAME`'_bapply, n * m4_eval(C * H * W)L, `int n, const float *x, const float *y, const float *save_mean,
    const float *save_invstd, const float *coef, const float *dy, float *dx',
    `n, x, y, save_mean, save_invstd, coef, dy, dx',
`        const int c = (int)(i / CBN_HW % C);
m4_ifelse(FUSED, none, `        (void)y;
')m4_dnl
        dx[i] += coef[c] * (CBN_DY(i) - coef[C + c] - (x[i] - save_mean[c]) * save_invstd[c] * coef[2 * C + c]);
')
void NAME`'_cu_fwd_train(int host, int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd)
{
    /* a sum and a sum of squares per part, then a scale per channel */
    double *sums = mc_cuda_sums(host, m4_eval(2 * C * CBN_S + C)), *sq = sums + m4_eval(C * CBN_S);
    float *scale = (float *)(sq + m4_eval(C * CBN_S));
    CU_PART_RUN(NAME`'_sum, C, `n, x, sums');
    CU_PART_RUN(NAME`'_sq, C, `n, x, sums, sq');
    CU_MAP_RUN(NAME`'_stats, (long)C,
        `n, sums, sq, gamma, running_mean, running_var, count, save_mean, save_invstd, scale');
    CU_MAP_RUN(NAME`'_apply, n * m4_eval(C * H * W)L, `n, x, save_mean, scale, beta, y');
}

void NAME`'_cu_fwd_eval(int host, int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y)
{
    CU_MAP_RUN(NAME`'_eval, n * m4_eval(C * H * W)L, `n, x, gamma, beta, running_mean, running_var, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *y, const float *gamma, const float *save_mean,
    const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    /* two sums per part, then three coefficients per channel */
    double *part = mc_cuda_sums(host, m4_eval(2 * C * CBN_S + 2 * C));
    float *coef = (float *)(part + m4_eval(2 * C * CBN_S));
    CU_PART_RUN(NAME`'_bsum, C, `n, x, y, save_mean, save_invstd, dy, part');
    CU_MAP_RUN(NAME`'_bstats, (long)C, `n, part, gamma, save_invstd, dgamma, dbeta, coef');
    CU_MAP_RUN(NAME`'_bapply, n * m4_eval(C * H * W)L, `n, x, y, save_mean, save_invstd, coef, dy, dx');
}
')

m4_define(`MC_BATCHNORM_PROTO',
`void NAME`'_cu_fwd_train(int host, int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd);
void NAME`'_cu_fwd_eval(int host, int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *y, const float *gamma, const float *save_mean,
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
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_ACT(OUT), MC_PARAM(GAMMA), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD),
        MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(GAMMA), MC_GRAD(BETA));
')
m4_divert(0)m4_dnl
