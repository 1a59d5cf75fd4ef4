m4_divert(-1)
# Channel scaling (squeeze-and-excitation): y[c] = x[c] * s[c] per image,
# s of C x 1 x 1. Constants: NAME, C, H, W.

m4_define(`SCALE_HW', `m4_eval(H * W)')

m4_define(`MC_SCALE_KERNEL',
`/* NAME: C channels of H`'x`'W scaled per channel */
void NAME`'_fwd(int n, const float *x, const float *s, float *restrict y)
{
    for (long p = 0; p < n * C; p++)
        for (int k = 0; k < SCALE_HW; k++)
            y[p * SCALE_HW + k] = x[p * SCALE_HW + k] * s[p];
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *x, const float *s, const float *restrict dy, float *dx, float *ds)
{
    for (long p = 0; p < n * C; p++) {
        double g = 0;
        for (int k = 0; k < SCALE_HW; k++) {
            dx[p * SCALE_HW + k] += dy[p * SCALE_HW + k] * s[p];
            g += (double)dy[p * SCALE_HW + k] * x[p * SCALE_HW + k];
        }
        ds[p] += (float)g;
    }
}
')')

m4_define(`MC_SCALE_PROTO',
`void NAME`'_fwd(int n, const float *x, const float *s, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *x, const float *s, const float *restrict dy, float *dx, float *ds);
')')

m4_define(`MC_SCALE_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_ACT(IN1), MC_ACT(OUT));
')
m4_define(`MC_SCALE_CALL_BWD', `    NAME`'_bwd(n, MC_ACT(IN0), MC_ACT(IN1), MC_DACT(OUT), MC_DACT(IN0), MC_DACT(IN1));
')
m4_divert(0)m4_dnl
