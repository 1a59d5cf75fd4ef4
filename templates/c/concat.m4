m4_divert(-1)
# Concatenation along channels of NIN inputs of C0, C1, ... channels of
# H x W; the backward hands each input its slice of the output gradient,
# stored (the first writer of that gradient) or added as its acc flag says.
# Constants: NAME, NIN, C0.., H, W, CO (the sum).

m4_define(`CAT_EACH', `MC_FOR(`i', 0, m4_eval(NIN - 1), `$1')')
m4_define(`CAT_C', `m4_indir(`C$1')')
# Channels before input i in the output.
m4_define(`CAT_AT', `m4_ifelse($1, 0, 0, `m4_eval(CAT_AT(m4_decr($1)) + CAT_C(m4_decr($1)))')')

m4_define(`MC_CONCAT_KERNEL',
`/* NAME: concatenation of channels m4_ifelse(NIN, 2, `C0 and C1', `C0 ...') of H`'x`'W -> CO channels */
void NAME`'_fwd(int n, CAT_EACH(`const float *x`'i, ')float *restrict y)
{
    MC_OMP_FOR_IF(n * m4_eval(CO * H * W) >= MC_PAR_FLOATS)
    for (long b = 0; b < n; b++) {
CAT_EACH(`        memcpy(y + b * m4_eval(CO * H * W) + m4_eval(CAT_AT(i) * H * W), x`'i + b * m4_eval(CAT_C(i) * H * W),
            m4_eval(CAT_C(i) * H * W) * sizeof(float));
')m4_dnl
    }
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy`'CAT_EACH(`, float *dx`'i, int acc`'i'))
{
    MC_OMP_FOR_IF(n * m4_eval(CO * H * W) >= MC_PAR_FLOATS)
    for (long b = 0; b < n; b++) {
CAT_EACH(`        {
            float *d = dx`'i + b * m4_eval(CAT_C(i) * H * W);
            const float *restrict g = dy + b * m4_eval(CO * H * W) + m4_eval(CAT_AT(i) * H * W);
            if (acc`'i)
                for (int k = 0; k < m4_eval(CAT_C(i) * H * W); k++)
                    d[k] += g[k];
            else
                memcpy(d, g, m4_eval(CAT_C(i) * H * W) * sizeof(float));
        }
')m4_dnl
    }
}
')')

m4_define(`MC_CONCAT_PROTO',
`void NAME`'_fwd(int n, CAT_EACH(`const float *x`'i, ')float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy`'CAT_EACH(`, float *dx`'i, int acc`'i'));
')')

m4_define(`MC_CONCAT_CALL_FWD', `    NAME`'_fwd(n, CAT_EACH(`MC_ACT(m4_indir(`IN'i)), ')MC_ACT(OUT));
')
m4_define(`MC_CONCAT_CALL_BWD', `    NAME`'_bwd(n, MC_DACT(OUT)`'CAT_EACH(`, MC_DACT(m4_indir(`IN'i)), MC_ACC(i)'));
')
m4_define(`MC_CONCAT_STORES')
m4_divert(0)m4_dnl
