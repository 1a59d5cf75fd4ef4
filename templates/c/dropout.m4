m4_divert(-1)
# Dropout: in training y = x * mask, with the mask (0 or 1/(1-p) per value)
# drawn by the caller into the extra area; in eval y = x.
# Constants: NAME, C, H, W.

m4_define(`DROP_COUNT', `(n * m4_eval(C * H * W))')
# Over threads when the layer is large enough (MC_PAR_FLOATS); the
# backward stores its gradient when it writes it first (acc 0), else adds.
m4_define(`DROP_PAR', `MC_OMP_FOR_IF(DROP_COUNT >= MC_PAR_FLOATS)')

m4_define(`MC_DROPOUT_KERNEL',
`/* NAME: dropout on m4_eval(C * H * W) values per image */
void NAME`'_fwd(int n, const float *restrict x, const float *restrict mask, float *restrict y)
{
    DROP_PAR
    for (long i = 0; i < DROP_COUNT; i++)
        y[i] = mask ? x[i] * mask[i] : x[i];
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict mask, const float *restrict dy, float *restrict dx, int acc)
{
    if (acc) {
        DROP_PAR
        for (long i = 0; i < DROP_COUNT; i++)
            dx[i] += dy[i] * mask[i];
    } else {
        DROP_PAR
        for (long i = 0; i < DROP_COUNT; i++)
            dx[i] = dy[i] * mask[i];
    }
}
')')

m4_define(`MC_DROPOUT_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict mask, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict mask, const float *restrict dy, float *restrict dx, int acc);
')')

m4_define(`MC_DROPOUT_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), train ? MC_EXTRA(EXTRA) : 0, MC_ACT(OUT));
')
m4_define(`MC_DROPOUT_CALL_BWD', `    NAME`'_bwd(n, MC_EXTRA(EXTRA), MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0));
')
m4_define(`MC_DROPOUT_STORES')
m4_divert(0)m4_dnl
