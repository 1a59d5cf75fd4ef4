m4_divert(-1)
# Concatenation along channels of NIN inputs (C0, C1, ... channels of
# H x W): one thread per input element copies it to its output place;
# the backward adds the output gradient back. Constants: NAME, NIN, C0..,
# H, W, CO. The offsets come from the C template.
m4_include(`../c/concat.m4')m4_divert(-1)

m4_define(`CCAT_EACH', `MC_FOR(`ai', 0, m4_eval(NIN - 1), `$1')')
# Input ai: its values per image, and where they start in an output image.
m4_define(`CCAT_PER', `m4_eval(CAT_C($1) * H * W)')
m4_define(`CCAT_AT', `m4_eval(CAT_AT($1) * H * W)')
# The output index of element i of input ai.
m4_define(`CCAT_OUT', `i / CCAT_PER($1) * m4_eval(CO * H * W) + CCAT_AT($1) + i % CCAT_PER($1)')

m4_define(`MC_CONCAT_KERNEL',
`/* NAME: concatenation of NIN inputs of H`'x`'W -> CO channels */
CCAT_EACH(`CU_MAP(NAME`'_fwd`'ai, n * CCAT_PER(ai)L, `int n, const float *x, float *y', `n, x, y',
`        y[CCAT_OUT(ai)] = x[i];
')
CU_MAP(NAME`'_bwd`'ai, n * CCAT_PER(ai)L, `int n, const float *dy, float *dx', `n, dy, dx',
`        dx[i] += dy[CCAT_OUT(ai)];
')
')m4_dnl
void NAME`'_cu_fwd(int host, int n, CCAT_EACH(`const float *x`'ai, ')float *y)
{
CCAT_EACH(`    CU_MAP_RUN(NAME`'_fwd`'ai, n * CCAT_PER(ai)L, `n, x`'ai, y');
')m4_dnl
}

void NAME`'_cu_bwd(int host, int n, const float *dy`'CCAT_EACH(`, float *dx`'ai'))
{
CCAT_EACH(`    CU_MAP_RUN(NAME`'_bwd`'ai, n * CCAT_PER(ai)L, `n, dy, dx`'ai');
')m4_dnl
}
')

m4_define(`MC_CONCAT_PROTO',
`void NAME`'_cu_fwd(int host, int n, CCAT_EACH(`const float *x`'ai, ')float *y);
void NAME`'_cu_bwd(int host, int n, const float *dy`'CCAT_EACH(`, float *dx`'ai'));
')
m4_define(`MC_CONCAT_CALL_FWD', `    NAME`'_cu_fwd(host, n, CCAT_EACH(`MC_ACT(m4_indir(`IN'ai)), ')MC_ACT(OUT));
')
m4_define(`MC_CONCAT_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_DACT(OUT)`'CCAT_EACH(`, MC_DACT(m4_indir(`IN'ai))'));
')
m4_divert(0)m4_dnl
