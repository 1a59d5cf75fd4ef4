m4_divert(-1)
# Dropout: in training y = x * mask (drawn by the caller into the extra
# area, uploaded with the batch); in eval y = x. Constants: NAME, C, H, W.

m4_define(`CDROP_COUNT', `(n * m4_eval(C * H * W)L)')

m4_define(`MC_DROPOUT_KERNEL',
`/* NAME: dropout on m4_eval(C * H * W) values per image */
CU_MAP(NAME`'_fwd, CDROP_COUNT, `int n, const float *x, const float *mask, float *y', `n, x, mask, y',
`        y[i] = mask ? x[i] * mask[i] : x[i];
')
CU_MAP(NAME`'_bwd, CDROP_COUNT, `int n, const float *mask, const float *dy, float *dx', `n, mask, dy, dx',
`        dx[i] += dy[i] * mask[i];
')
void NAME`'_cu_fwd(int host, int n, const float *x, const float *mask, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, CDROP_COUNT, `n, x, mask, y');
}

void NAME`'_cu_bwd(int host, int n, const float *mask, const float *dy, float *dx)
{
    CU_MAP_RUN(NAME`'_bwd, CDROP_COUNT, `n, mask, dy, dx');
}
')

m4_define(`MC_DROPOUT_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *mask, float *y);
void NAME`'_cu_bwd(int host, int n, const float *mask, const float *dy, float *dx);
')
m4_define(`MC_DROPOUT_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), train ? MC_EXTRA(EXTRA) : 0, MC_ACT(OUT));
')
m4_define(`MC_DROPOUT_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_EXTRA(EXTRA), MC_DACT(OUT), MC_DACT(IN0));
')
m4_divert(0)m4_dnl
