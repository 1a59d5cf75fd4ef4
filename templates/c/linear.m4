m4_divert(-1)
# Fully connected layer on the flattened input: y = x w^T + bias, w of
# CO x (C*H*W). Constants: NAME, C, H, W, CO, BIAS. The products are those
# of linear_products.m4.
m4_ifdef(`LIN_FWD_BODY', `', `m4_include(`linear_products.m4')m4_divert(-1)')

m4_define(`MC_LINEAR_KERNEL',
`MC_VEC_PRELUDE()m4_dnl
/* NAME: linear LIN_IN -> CO`'m4_ifelse(BIAS, 1, ` with bias') */
LIN_FWD_HELPERS()m4_dnl
void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y)
{
    (void)bias;
LIN_FWD_BODY()m4_dnl
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, int acc)
{
    (void)dbias;
LIN_BWD_PRODUCTS()m4_dnl
m4_ifelse(BIAS, 1, `    for (int o = 0; o < CO; o++)
        for (long b = 0; b < n; b++)
            dbias[o] += dy[b * CO + o];
')m4_dnl
}
')')

m4_define(`MC_LINEAR_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, int acc);
')')

m4_define(`MC_LINEAR_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT));
')
m4_define(`MC_LINEAR_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT), MC_ACC(0));
')
m4_define(`MC_LINEAR_STORES')
m4_divert(0)m4_dnl
