m4_divert(-1)
# Channel scaling (squeeze-and-excitation): y = x * s[c] per image, s of
# C x 1 x 1. The backward: dx element-wise, and ds per plane summed in
# double by one thread, as the C template does. Constants: NAME, C, H, W.

m4_define(`CSC_HW', `m4_eval(H * W)')

m4_define(`MC_SCALE_KERNEL',
`/* NAME: C channels of H`'x`'W scaled per channel */
CU_MAP(NAME`'_fwd, n * m4_eval(C * H * W)L, `int n, const float *x, const float *s, float *y', `n, x, s, y',
`        y[i] = x[i] * s[i / CSC_HW];
')
CU_MAP(NAME`'_bwd_x, n * m4_eval(C * H * W)L, `int n, const float *s, const float *dy, float *dx', `n, s, dy, dx',
`        dx[i] += dy[i] * s[i / CSC_HW];
')
CU_MAP(NAME`'_bwd_s, n * (long)C, `int n, const float *x, const float *dy, float *ds', `n, x, dy, ds',
`        double g = 0;
        for (int k = 0; k < CSC_HW; k++)
            g += (double)dy[i * CSC_HW + k] * x[i * CSC_HW + k];
        ds[i] += (float)g;
')
void NAME`'_cu_fwd(int host, int n, const float *x, const float *s, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, n * m4_eval(C * H * W)L, `n, x, s, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *s, const float *dy, float *dx, float *ds)
{
    CU_MAP_RUN(NAME`'_bwd_x, n * m4_eval(C * H * W)L, `n, s, dy, dx');
    CU_MAP_RUN(NAME`'_bwd_s, n * (long)C, `n, x, dy, ds');
}
')

m4_define(`MC_SCALE_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *s, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *s, const float *dy, float *dx, float *ds);
')
m4_define(`MC_SCALE_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_ACT(IN1), MC_ACT(OUT));
')
m4_define(`MC_SCALE_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_ACT(IN1), MC_DACT(OUT), MC_DACT(IN0), MC_DACT(IN1));
')
m4_divert(0)m4_dnl
