m4_divert(-1)
# Batch normalization (PyTorch BatchNorm2d) over C channels of H x W, as
# the C template computes it: sums in double, one block per channel (a
# fixed-order block sum), the running estimates updated by the block of
# the channel; eval and the normalization itself are element-wise with
# the same per-element function. Constants: NAME, C, H, W, EPS, MOMENTUM.

m4_define(`CBN_HW', `m4_eval(H * W)')
# Element i of channel c over the batch: image i / HW, position i % HW.
m4_define(`CBN_AT', `(((long)($1) / CBN_HW * C + c) * CBN_HW + ($1) % CBN_HW)')

m4_define(`MC_BATCHNORM_KERNEL',
`/* NAME: batch norm over C channels of H`'x`'W */
MC_CU_HD static inline float NAME`'_norm(float x, float mean, float scale, float shift)
{
    return (x - mean) * scale + shift;
}

CU_BODY(NAME`'_train, `int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd')
{
    const int c = (int)block;
    const long m = (long)n * CBN_HW;
    double *sums = (double *)shm, sum = 0, sq = 0;
    for (long i = tid; i < m; i += nthreads)
        sum += x[CBN_AT(i)];
    const double mean = mc_cu_block_sum(sum, sums, tid, nthreads) / m;
    for (long i = tid; i < m; i += nthreads)
        sq += (x[CBN_AT(i)] - mean) * (x[CBN_AT(i)] - mean);
    const double var = mc_cu_block_sum(sq, sums, tid, nthreads) / m, invstd = 1 / sqrt(var + EPS);
    const float fmean = (float)mean, scale = (float)(gamma[c] * invstd), shift = beta[c];
    for (long i = tid; i < m; i += nthreads)
        y[CBN_AT(i)] = NAME`'_norm(x[CBN_AT(i)], fmean, scale, shift);
    if (tid == 0) {
        save_mean[c] = fmean;
        save_invstd[c] = (float)invstd;
        /* one value per channel: keep the biased variance (0), as the C path does */
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        running_mean[c] = (float)((1 - MOMENTUM) * running_mean[c] + MOMENTUM * mean);
        running_var[c] = (float)((1 - MOMENTUM) * running_var[c] + MOMENTUM * unbiased);
        if (c == 0)
            *count += 1;
    }
}

CU_KERNEL(NAME`'_train, `int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd',
    `n, x, gamma, beta, running_mean, running_var, count, y, save_mean, save_invstd')
CU_MAP(NAME`'_eval, n * m4_eval(C * H * W)L, `int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y', `n, x, gamma, beta, running_mean, running_var, y',
`        const int c = (int)(i / CBN_HW % C);
        const double invstd = 1 / sqrt((double)running_var[c] + EPS);
        y[i] = NAME`'_norm(x[i], running_mean[c], (float)(gamma[c] * invstd), beta[c]);
')
/* dx = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)) */
CU_BODY(NAME`'_bwd, `int n, const float *x, const float *gamma, const float *save_mean, const float *save_invstd,
    const float *dy, float *dx, float *dgamma, float *dbeta')
{
    const int c = (int)block;
    const long m = (long)n * CBN_HW;
    const float mean = save_mean[c], invstd = save_invstd[c];
    double *sums = (double *)shm, s_dy = 0, s_dy_xhat = 0;
    for (long i = tid; i < m; i += nthreads) {
        s_dy += dy[CBN_AT(i)];
        s_dy_xhat += (double)dy[CBN_AT(i)] * ((x[CBN_AT(i)] - mean) * invstd);
    }
    const double sum_dy = mc_cu_block_sum(s_dy, sums, tid, nthreads);
    const double sum_dy_xhat = mc_cu_block_sum(s_dy_xhat, sums, tid, nthreads);
    if (tid == 0) {
        dgamma[c] += (float)sum_dy_xhat;
        dbeta[c] += (float)sum_dy;
    }
    const float k = gamma[c] * invstd, mean_dy = (float)(sum_dy / m), mean_dy_xhat = (float)(sum_dy_xhat / m);
    for (long i = tid; i < m; i += nthreads)
        dx[CBN_AT(i)] += k * (dy[CBN_AT(i)] - mean_dy - (x[CBN_AT(i)] - mean) * invstd * mean_dy_xhat);
}

CU_KERNEL(NAME`'_bwd, `int n, const float *x, const float *gamma, const float *save_mean, const float *save_invstd,
    const float *dy, float *dx, float *dgamma, float *dbeta',
    `n, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta')
void NAME`'_cu_fwd_train(int host, int n, const float *x, const float *gamma, const float *beta, float *running_mean,
    float *running_var, int64_t *count, float *y, float *save_mean, float *save_invstd)
{
    CU_RUN(NAME`'_train, C, CU_THREADS * sizeof(double),
        `n, x, gamma, beta, running_mean, running_var, count, y, save_mean, save_invstd');
}

void NAME`'_cu_fwd_eval(int host, int n, const float *x, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float *y)
{
    CU_MAP_RUN(NAME`'_eval, n * m4_eval(C * H * W)L, `n, x, gamma, beta, running_mean, running_var, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *gamma, const float *save_mean,
    const float *save_invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    CU_RUN(NAME`'_bwd, C, CU_THREADS * sizeof(double), `n, x, gamma, save_mean, save_invstd, dy, dx, dgamma, dbeta');
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
