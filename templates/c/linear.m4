m4_divert(-1)
# Fully connected layer on the flattened input: y = x w^T + bias, w of
# CO x (C*H*W). Constants: NAME, C, H, W, CO, BIAS.

m4_define(`LIN_IN', `m4_eval(C * H * W)')
m4_define(`LIN_FULL', `m4_eval(LIN_IN / VL * VL)')
# Rows of w per pass of the forward: that many independent chains of
# vector multiply-adds, so that each does not wait for the last.
m4_define(`LIN_RB', 4)

# LIN_DOTS(rows, o0, indent): y[b][o0 .. o0 + rows) from the image xb, VL
# lanes at a time (the tail of a row as a partial vector), the lanes added
# at the end.
m4_define(`LIN_DOTS',
`$3{
MC_FOR(`LR', 0, m4_eval($1 - 1), `$3    mc_vf s`'LR = {0};
$3    const float *restrict w`'LR = w + (long)($2 + LR) * LIN_IN;
')m4_dnl
m4_ifelse(m4_eval(LIN_FULL > 0), 1, `$3    for (int i = 0; i < LIN_FULL; i += VL) {
$3        const mc_vf xv = *(const mc_vf *)(xb + i);
MC_FOR(`LR', 0, m4_eval($1 - 1), `$3        s`'LR += xv * *(const mc_vf *)(w`'LR + i);
')m4_dnl
$3    }
')m4_dnl
m4_ifelse(m4_eval(LIN_FULL < LIN_IN), 1, `$3    {
$3        mc_vf xv, wv;
$3        mc_vf_part(&xv, xb + LIN_FULL, m4_eval(LIN_IN - LIN_FULL));
MC_FOR(`LR', 0, m4_eval($1 - 1), `$3        mc_vf_part(&wv, w`'LR + LIN_FULL, m4_eval(LIN_IN - LIN_FULL));
$3        s`'LR += xv * wv;
')m4_dnl
$3    }
')m4_dnl
MC_FOR(`LR', 0, m4_eval($1 - 1), `$3    yb[$2 + LR] = m4_ifelse(BIAS, 1, `bias[$2 + LR] + ')mc_vf_sum(&s`'LR);
')m4_dnl
$3}
')

# Forward: each output a dot product of the image with its row of w.
# Threads only for a layer of at least LIN_PAR weights: a parallel region
# costs about a microsecond, more than a classifier head or a
# squeeze-excitation linear takes on one thread (docs/shapes.md). The
# backward of such a small layer is one pass (dx_b += dy_bo w_o, dw_o +=
# dy_bo x_b); a larger one splits it, the input gradient by images and
# the filter and bias gradients by rows. Either way every element is
# summed by one thread in a fixed order, whatever the thread count.
m4_define(`LIN_PAR', 32768)
m4_define(`LIN_BIG', `m4_eval(LIN_IN * CO >= LIN_PAR)')
m4_define(`MC_LINEAR_KERNEL',
`MC_VEC_PRELUDE()m4_dnl
/* NAME: linear LIN_IN -> CO`'m4_ifelse(BIAS, 1, ` with bias') */
void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y)
{
    (void)bias;
m4_ifelse(LIN_BIG, 1, `    MC_OMP_FOR
')m4_dnl
    for (long b = 0; b < n; b++) {
        const float *restrict xb = x + b * LIN_IN;
        float *restrict yb = y + b * CO;
m4_ifelse(m4_eval(CO >= LIN_RB), 1, `        for (int o0 = 0; o0 < m4_eval(CO / LIN_RB * LIN_RB); o0 += LIN_RB)
LIN_DOTS(LIN_RB, `o0', `        ')')m4_dnl
m4_ifelse(m4_eval(CO % LIN_RB > 0), 1, `LIN_DOTS(m4_eval(CO % LIN_RB), m4_eval(CO / LIN_RB * LIN_RB), `        ')')m4_dnl
    }
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias)
{
    (void)dbias;
m4_ifelse(LIN_BIG, 0, `    for (long b = 0; b < n; b++)
        for (int o = 0; o < CO; o++) {
            const float g = dy[b * CO + o];
            for (int i = 0; i < LIN_IN; i++) {
                dx[b * LIN_IN + i] += g * w[(long)o * LIN_IN + i];
                dw[(long)o * LIN_IN + i] += g * x[b * LIN_IN + i];
            }
m4_ifelse(BIAS, 1, `            dbias[o] += g;
')m4_dnl
        }
', `    MC_OMP_FOR
    for (long b = 0; b < n; b++)
        for (int o = 0; o < CO; o++) {
            const float g = dy[b * CO + o];
            for (int i = 0; i < LIN_IN; i++)
                dx[b * LIN_IN + i] += g * w[(long)o * LIN_IN + i];
        }
    MC_OMP_FOR
    for (int o = 0; o < CO; o++)
        for (long b = 0; b < n; b++) {
            const float g = dy[b * CO + o];
            for (int i = 0; i < LIN_IN; i++)
                dw[(long)o * LIN_IN + i] += g * x[b * LIN_IN + i];
m4_ifelse(BIAS, 1, `            dbias[o] += g;
')m4_dnl
        }
')m4_dnl
}
')')

m4_define(`MC_LINEAR_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias);
')')

m4_define(`MC_LINEAR_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT));
')
m4_define(`MC_LINEAR_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT));
')
m4_divert(0)m4_dnl
