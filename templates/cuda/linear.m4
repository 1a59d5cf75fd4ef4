m4_divert(-1)
# Fully connected layer on the flattened input, y = x w^T + bias, w of
# CO x IN: cuBLAS (mc_cuda_gemm, column-major: y^T = w x^T). The bias
# gradient adds the images in order, as the C template does.
# Constants: NAME, C, H, W, CO, BIAS.

m4_define(`CLIN_IN', `m4_eval(C * H * W)')

m4_define(`MC_LINEAR_KERNEL',
`/* NAME: linear CLIN_IN -> CO`'m4_ifelse(BIAS, 1, ` with bias') */
CU_MAP(NAME`'_init, n * (long)CO, `int n, const float *bias, float *y', `n, bias, y',
`        y[i] = bias ? bias[i % CO] : 0.0f;
')
m4_ifelse(BIAS, 1, `CU_MAP(NAME`'_dbias, (long)CO, `int n, const float *dy, float *dbias', `n, dy, dbias',
`        for (long b = 0; b < n; b++)
            dbias[i] += dy[b * CO + i];
')')
void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y)
{
    CU_MAP_RUN(NAME`'_init, n * (long)CO, `n, bias, y');
    mc_cuda_gemm(host, 1, 0, CO, n, CLIN_IN, w, CLIN_IN, 0, x, CLIN_IN, 0, 1.0f, y, CO, 0, 1);
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias)
{
    mc_cuda_gemm(host, 0, 0, CLIN_IN, n, CO, w, CLIN_IN, 0, dy, CO, 0, 1.0f, dx, CLIN_IN, 0, 1);
    mc_cuda_gemm(host, 0, 1, CLIN_IN, CO, n, x, CLIN_IN, 0, dy, CO, 0, 1.0f, dw, CLIN_IN, 0, 1);
m4_ifelse(BIAS, 1, `    CU_MAP_RUN(NAME`'_dbias, (long)CO, `n, dy, dbias');
', `    (void)dbias;
')m4_dnl
}
')

m4_define(`MC_LINEAR_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias);
')
m4_define(`MC_LINEAR_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT));
')
m4_define(`MC_LINEAR_CALL_BWD',
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT));
')
m4_divert(0)m4_dnl
