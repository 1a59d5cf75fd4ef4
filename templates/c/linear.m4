m4_divert(-1)
# Fully connected layer on the flattened input: y = x w^T + bias, w of
# CO x (C*H*W). Constants: NAME, C, H, W, CO, BIAS.

m4_define(`LIN_IN', `m4_eval(C * H * W)')

m4_define(`MC_LINEAR_KERNEL',
`/* NAME: linear LIN_IN -> CO`'m4_ifelse(BIAS, 1, ` with bias') */
void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y)
{
    (void)bias;
    for (long b = 0; b < n; b++)
        for (int o = 0; o < CO; o++) {
            float s = m4_ifelse(BIAS, 1, `bias[o]', `0');
            for (int i = 0; i < LIN_IN; i++)
                s += x[b * LIN_IN + i] * w[o * LIN_IN + i];
            y[b * CO + o] = s;
        }
}

void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias)
{
    (void)dbias;
    for (long b = 0; b < n; b++)
        for (int o = 0; o < CO; o++) {
            const float g = dy[b * CO + o];
            for (int i = 0; i < LIN_IN; i++) {
                dx[b * LIN_IN + i] += g * w[o * LIN_IN + i];
                dw[o * LIN_IN + i] += g * x[b * LIN_IN + i];
            }
m4_ifelse(BIAS, 1, `            dbias[o] += g;
')m4_dnl
        }
}
')

m4_define(`MC_LINEAR_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y);
void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias);
')

m4_define(`MC_LINEAR_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT));
')
m4_define(`MC_LINEAR_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT));
')
m4_divert(0)m4_dnl
