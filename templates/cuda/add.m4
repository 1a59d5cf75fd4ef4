m4_divert(-1)
# Element-wise sum of NIN inputs of C x H x W per image; the backward adds
# the output gradient to every input gradient. Inputs may alias (identity),
# so a layer whose inputs repeat accumulates one launch per input. With
# FUSED relu or relu6 it also does that activation after it, as the C
# template. Constants: NAME, NIN, C, H, W, FUSED (none, relu, relu6).

m4_define(`CADD_EACH', `MC_FOR(`ai', 0, m4_eval(NIN - 1), `$1')')
m4_define(`CADD_COUNT', `(n * m4_eval(C * H * W)L)')

m4_define(`MC_ADD_KERNEL',
`/* NAME: sum of NIN inputs of m4_eval(C * H * W) values per image */
CU_MAP(NAME`'_fwd, CADD_COUNT, `int n, CADD_EACH(`const float *x`'ai, ')float *y', `n, CADD_EACH(`x`'ai, ')y',
`        const float s = CADD_EACH(`m4_ifelse(ai, 0, `', ` + ')x`'ai[i]');
        y[i] = MC_FUSED_OUT(s);
')
CU_MAP(NAME`'_bwd, CADD_COUNT, `int n, const float *y, const float *dy, float *dx', `n, y, dy, dx',
m4_ifelse(FUSED, none, ``        (void)y;
        dx[i] += dy[i];
'', ``        dx[i] += MC_FUSED_PASSES(y[i]) ? dy[i] : 0.0f;
''))
void NAME`'_cu_fwd(int host, int n, CADD_EACH(`const float *x`'ai, ')float *y)
{
    CU_MAP_RUN(NAME`'_fwd, CADD_COUNT, `n, CADD_EACH(`x`'ai, ')y');
}

void NAME`'_cu_bwd(int host, int n, const float *y, const float *dy`'CADD_EACH(`, float *dx`'ai'))
{
CADD_EACH(`    CU_MAP_RUN(NAME`'_bwd, CADD_COUNT, `n, y, dy, dx`'ai');
')m4_dnl
}
')

m4_define(`MC_ADD_PROTO',
`void NAME`'_cu_fwd(int host, int n, CADD_EACH(`const float *x`'ai, ')float *y);
void NAME`'_cu_bwd(int host, int n, const float *y, const float *dy`'CADD_EACH(`, float *dx`'ai'));
')

m4_define(`MC_ADD_CALL_FWD', `    NAME`'_cu_fwd(host, n, CADD_EACH(`MC_ACT(m4_indir(`IN'ai)), ')MC_ACT(OUT));
')
m4_define(`MC_ADD_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_ACT(OUT), MC_DACT(OUT)`'CADD_EACH(`, MC_DACT(m4_indir(`IN'ai))'));
')
m4_divert(0)m4_dnl
