m4_divert(-1)
# MixConv on the GPU: three dense convs (kernels 3, 5, 7) on channel
# groups, each the matrix products of conv.m4 on its channel ranges; no
# bias. Constants and the group macros as for the C template.
m4_include(`conv.m4')m4_divert(-1)
m4_include(`../c/mixconv.m4')m4_divert(-1)

# The col scratch and the per-image weight gradients of every group (upper bounds).
m4_define(`CMX_SCRATCH', `MC_FOR(`j', 0, 2, `m4_ifelse(m4_eval(MX_CI(j) * MX_CO(j) > 0), 1, ` + CCV_SCRATCH(MX_K(j), MX_CI(j), MX_P(j))')')')
m4_define(`CMX_PARTS', `MC_FOR(`j', 0, 2, ` + CCV_PARTS(MX_K(j), MX_CI(j), MX_CO(j), 1)')')

m4_define(`MC_MIXCONV_KERNEL',
`/* NAME: mixconv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, stride S, kernels 3, 5, 7 on channel groups
MC_FOR(`j', 0, 2, ` * MX_GROUP
') */
MX_EACH(`CCV_PART(NAME`'_g`'j, MX_K(j), MX_P(j), MX_CI(j), MX_CIOFF(j))
CU_IMAGE_SUM(NAME`'_g`'j`'_dw_sum, m4_eval(MX_CO(j) * MX_CI(j) * MX_K(j) * MX_K(j)))
')m4_dnl
CCV_INIT()
void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, float *y)
{
    float *col = mc_cuda_scratch(host, 0`'CMX_SCRATCH);
    CU_MAP_RUN(NAME`'_init, n * m4_eval(CO * CCV_P)L, `n, (const float *)0, y');
MX_EACH(`    {
CCV_FWD(NAME`'_g`'j, MX_K(j), MX_P(j), MX_CI(j), MX_CIOFF(j), MX_CO(j), MX_COOFF(j), MX_WOFF(j), 1)m4_dnl
    }
')m4_dnl
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw)
{
    float *col = mc_cuda_scratch(host, 0`'CMX_SCRATCH`'CMX_SCRATCH`'CMX_PARTS), *dcol = col`'CMX_SCRATCH;
    float *part = dcol`'CMX_SCRATCH;
MX_EACH(`    {
CCV_BWD(NAME`'_g`'j, MX_K(j), MX_P(j), MX_CI(j), MX_CIOFF(j), MX_CO(j), MX_COOFF(j), MX_WOFF(j), 1)m4_dnl
    }
')m4_dnl
}
')

m4_define(`MC_MIXCONV_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw);
')
m4_define(`MC_MIXCONV_CALL_FWD',
`    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_ACT(OUT));
')
m4_define(`MC_MIXCONV_CALL_BWD',
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT));
')
m4_divert(0)m4_dnl
