m4_divert(-1)
# Shake-shake blend of two branches: y = a x0 + (1 - a) x1 with one a per
# image (drawn by the caller into the extra area: a for the forward, then
# an independent b for the backward, n values each); 0.5 in eval.
# Constants: NAME, C, H, W.

m4_define(`SHAKE_PER', `m4_eval(C * H * W)')

# SHAKE_GRAD(i, factor): input i's gradient of image b, factor times the
# output gradient, stored when the backward writes it first (acc 0), else
# added; input 0 before input 1 (they may be one slot: x blended with
# itself).
m4_define(`SHAKE_GRAD',
`        {
            float *d = dx$1 + b * SHAKE_PER;
            const float *restrict g = dy + b * SHAKE_PER;
            const float f = $2;
MC_ADD_OR_STORE(`            ', `for (int k = 0; k < SHAKE_PER; k++)', `d[k]', `f * g[k]', `acc$1')m4_dnl
        }
')

m4_define(`MC_SHAKE_KERNEL',
`/* NAME: shake-shake blend of SHAKE_PER values per image */
void NAME`'_fwd(int n, const float *x0, const float *x1, const float *restrict a, float *restrict y)
{
    for (long b = 0; b < n; b++) {
        const float ab = a ? a[b] : 0.5f;
        for (int k = 0; k < SHAKE_PER; k++)
            y[b * SHAKE_PER + k] = ab * x0[b * SHAKE_PER + k] + (1 - ab) * x1[b * SHAKE_PER + k];
    }
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict beta, const float *restrict dy, float *dx0, int acc0, float *dx1,
    int acc1)
{
    MC_OMP_FOR_IF(n * SHAKE_PER >= MC_PAR_FLOATS)
    for (long b = 0; b < n; b++) {
SHAKE_GRAD(0, `beta[b]')m4_dnl
SHAKE_GRAD(1, `(1 - beta[b])')m4_dnl
    }
}
')')

m4_define(`MC_SHAKE_PROTO',
`void NAME`'_fwd(int n, const float *x0, const float *x1, const float *restrict a, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict beta, const float *restrict dy, float *dx0, int acc0, float *dx1,
    int acc1);
')')

m4_define(`MC_SHAKE_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_ACT(IN1), train ? MC_EXTRA(EXTRA) : 0, MC_ACT(OUT));
')
m4_define(`MC_SHAKE_CALL_BWD', `    NAME`'_bwd(n, MC_EXTRA(EXTRA) + n, MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0), MC_DACT(IN1), MC_ACC(1));
')
m4_define(`MC_SHAKE_STORES')
m4_divert(0)m4_dnl
