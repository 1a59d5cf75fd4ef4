m4_divert(-1)
# Shake-shake blend y = a x0 + (1 - a) x1, one a per image (a for the
# forward, an independent b for the backward, drawn by the caller into the
# extra area); 0.5 in eval. Constants: NAME, C, H, W.

m4_define(`CSHAKE_PER', `m4_eval(C * H * W)')

m4_define(`MC_SHAKE_KERNEL',
`/* NAME: shake-shake blend of CSHAKE_PER values per image */
CU_MAP(NAME`'_fwd, n * CSHAKE_PER`'L, `int n, const float *x0, const float *x1, const float *a, float *y',
    `n, x0, x1, a, y', `        const float ab = a ? a[i / CSHAKE_PER] : 0.5f;
        y[i] = ab * x0[i] + (1 - ab) * x1[i];
')
CU_MAP(NAME`'_bwd, n * CSHAKE_PER`'L, `int n, const float *beta, const float *dy, float *dx0, float *dx1',
    `n, beta, dy, dx0, dx1', `        const float bb = beta[i / CSHAKE_PER];
        dx0[i] += bb * dy[i];
        dx1[i] += (1 - bb) * dy[i];
')
void NAME`'_cu_fwd(int host, int n, const float *x0, const float *x1, const float *a, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, n * CSHAKE_PER`'L, `n, x0, x1, a, y');
}

void NAME`'_cu_bwd(int host, int n, const float *beta, const float *dy, float *dx0, float *dx1)
{
    CU_MAP_RUN(NAME`'_bwd, n * CSHAKE_PER`'L, `n, beta, dy, dx0, dx1');
}
')

m4_define(`MC_SHAKE_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x0, const float *x1, const float *a, float *y);
void NAME`'_cu_bwd(int host, int n, const float *beta, const float *dy, float *dx0, float *dx1);
')
m4_define(`MC_SHAKE_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_ACT(IN1), train ? MC_EXTRA(EXTRA) : 0, MC_ACT(OUT));
')
m4_define(`MC_SHAKE_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_EXTRA(EXTRA) + n, MC_DACT(OUT), MC_DACT(IN0), MC_DACT(IN1));
')
m4_divert(0)m4_dnl
