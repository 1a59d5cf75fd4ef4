m4_divert(-1)
# Element-wise sum of NIN inputs of C x H x W per image; its backward adds
# the output gradient to each input gradient (stores it, acc 0), input by
# input. Inputs may be the same tensor (identity aliases its input), so
# they are not restrict: the first stores, the second adds. With FUSED
# relu or relu6 it also does that activation after it (plan.c): it writes
# the activation of the sum, and its backward passes the output gradient
# only where that output is above 0 (and below 6).
# Constants: NAME, NIN, C, H, W, FUSED (none, relu, relu6).

m4_define(`ADD_EACH', `MC_FOR(`i', 0, m4_eval(NIN - 1), `$1')')
m4_define(`ADD_COUNT', `(n * m4_eval(C * H * W))')
# The gradient each input gets.
m4_define(`ADD_DY', `m4_ifelse(FUSED, none, `dy[k]', `(MC_FUSED_PASSES(y[k]) ? dy[k] : 0)')')

m4_define(`MC_ADD_KERNEL',
`/* NAME: sum of NIN inputs of m4_eval(C * H * W) values per image */
void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y)
{
    MC_OMP_FOR
    for (long k = 0; k < ADD_COUNT; k++) {
        const float s = ADD_EACH(`m4_ifelse(i, 0, `', ` + ')x`'i[k]');
        y[k] = MC_FUSED_OUT(s);
    }
}

void NAME`'_bwd(int n, const float *restrict y, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'))
{
m4_ifelse(FUSED, none, `    (void)y;
')m4_dnl
ADD_EACH(`    if (acc`'i) {
        MC_OMP_FOR
        for (long k = 0; k < ADD_COUNT; k++)
            dx`'i[k] += ADD_DY;
    } else {
        MC_OMP_FOR
        for (long k = 0; k < ADD_COUNT; k++)
            dx`'i[k] = ADD_DY;
    }
')m4_dnl
}
')

m4_define(`MC_ADD_PROTO',
`void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y);
void NAME`'_bwd(int n, const float *restrict y, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'));
')

m4_define(`MC_ADD_CALL_FWD', `    NAME`'_fwd(n, ADD_EACH(`MC_ACT(m4_indir(`IN'i)), ')MC_ACT(OUT));
')
m4_define(`MC_ADD_CALL_BWD', `    NAME`'_bwd(n, MC_ACT(OUT), MC_DACT(OUT)`'ADD_EACH(`, MC_DACT(m4_indir(`IN'i)), MC_ACC(i)'));
')
m4_define(`MC_ADD_STORES')
m4_divert(0)m4_dnl
