m4_divert(-1)
# Dense or grouped 2-D convolution on the GPU: y = conv(x, w[CO, C/G, K, K])
# + bias, as matrix products on cuBLAS. Per image, the input seen through
# every tap (im2col: row (ci, ky, kx), column (oy, ox)) times the weights;
# a 1x1 stride-1 conv without padding reads the input itself. Backward:
# the weight gradient of each image, dy col^T, added up in image order, dcol = w^T
# dy, and each input gradient gathers its taps from dcol (col2im, taps
# unrolled). Constants as for the C template: NAME, C, H, W, CO, HO, WO,
# S, BIAS, K, PAD, G.
#
# MixConv (mixconv.m4) runs three such convs on channel ranges, so the
# pieces below take the geometry as arguments. The file is read once
# whichever of the two a driver includes first.

m4_ifdef(`MC_CONV_KERNEL', `',
`
m4_define(`CCV_P', `m4_eval(HO * WO)')

# CCV_PART(fn, k, pad, ci, cioff): for a k x k conv with padding pad from
# the ci input channels starting at cioff: fn_col (im2col of the batch into
# col, n x ci*k*k x HO*WO) and fn_col2im (dx of those channels from dcol).
m4_define(`CCV_PART',
`CU_MAP($1_col, n * m4_eval($4 * $2 * $2 * CCV_P)L, `int n, const float *x, float *col', `n, x, col',
`        const long b = i / m4_eval($4 * $2 * $2 * CCV_P);
        const int r = (int)(i / CCV_P % m4_eval($4 * $2 * $2)), p = (int)(i % CCV_P);
        const int ci = r / m4_eval($2 * $2), ky = r % m4_eval($2 * $2) / $2, kx = r % $2;
        const int iy = p / WO * S - $3 + ky, ix = p % WO * S - $3 + kx;
        col[i] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((b * C + $5 + ci) * H + iy) * W + ix] : 0.0f;
')
MC_CU_HD static inline float $1_dx_at(const float *dcolc, int iy, int ix)
{
    float s = 0.0f;
CU_GATHER($2, $3, S, HO, WO, `s += dcolc[MC_T * CCV_P + oy * WO + ox];')m4_dnl
    return s;
}

CU_MAP($1_col2im, n * m4_eval($4 * H * W)L, `int n, const float *dcol, float *dx', `n, dcol, dx',
`        const long b = i / m4_eval($4 * H * W);
        const int ci = (int)(i / m4_eval(H * W) % $4), at = (int)(i % m4_eval(H * W));
        dx[(b * C + $5 + ci) * m4_eval(H * W) + at] +=
            $1_dx_at(dcol + (b * m4_eval($4 * $2 * $2) + ci * m4_eval($2 * $2)) * CCV_P, at / W, at % W);
')')

# CCV_DIRECT(k, pad): 1 when the conv reads its input as col.
m4_define(`CCV_DIRECT', `m4_eval($1 == 1 && S == 1 && $2 == 0)')

# CCV_FWD(fn, k, pad, ci, cioff, co, cooff, woff, groups): the statements
# adding that conv (groups of ci/groups inputs and co/groups outputs)
# into y; col is scratch.
m4_define(`CCV_FWD',
`m4_pushdef(`R', m4_eval($4 / $9 * $2 * $2))m4_pushdef(`CG', m4_eval($6 / $9))m4_dnl
m4_ifelse(CCV_DIRECT($2, $3), 1, `    const float *a = x + m4_eval($5 * H * W);
    const long sa = m4_eval(C * H * W);
', `    CU_MAP_RUN($1_col, n * m4_eval($4 * $2 * $2 * CCV_P)L, `n, x, col');
    const float *a = col;
    const long sa = m4_eval($4 * $2 * $2 * CCV_P);
')m4_dnl
    for (int g = 0; g < $9; g++)
        mc_cuda_gemm(host, 0, 0, CCV_P, CG, R, a + (long)g * R * CCV_P, CCV_P, sa, w + $8 + (long)g * CG * R, R, 0,
            1.0f, y + ($7 + g * CG) * CCV_P, CCV_P, m4_eval(CO * CCV_P), n);
m4_popdef(`R', `CG')')

# CCV_BWD(fn, k, pad, ci, cioff, co, cooff, woff, groups): the same
# backwards, into dx and dw: each image its weight gradient into part (one
# batched product), added up in image order by fn_dw_sum; col, dcol and
# part are scratch.
m4_define(`CCV_BWD',
`m4_pushdef(`R', m4_eval($4 / $9 * $2 * $2))m4_pushdef(`CG', m4_eval($6 / $9))m4_dnl
m4_ifelse(CCV_DIRECT($2, $3), 1, `    const float *a = x + m4_eval($5 * H * W);
    const long sa = m4_eval(C * H * W);
', `    CU_MAP_RUN($1_col, n * m4_eval($4 * $2 * $2 * CCV_P)L, `n, x, col');
    const float *a = col;
    const long sa = m4_eval($4 * $2 * $2 * CCV_P);
')m4_dnl
    for (int g = 0; g < $9; g++) {
        mc_cuda_gemm(host, 1, 0, R, CG, CCV_P, a + (long)g * R * CCV_P, CCV_P, sa, dy + ($7 + g * CG) * CCV_P, CCV_P,
            m4_eval(CO * CCV_P), 0.0f, part, R, m4_eval(CG * R), n);
        CU_MAP_RUN($1_dw_sum, m4_eval(CG * R)L, `n, part, dw + $8 + (long)g * CG * R');
m4_ifelse(CCV_DIRECT($2, $3), 1, `        mc_cuda_gemm(host, 0, 1, CCV_P, R, CG, dy + ($7 + g * CG) * CCV_P, CCV_P, m4_eval(CO * CCV_P),
            w + $8 + (long)g * CG * R, R, 0, 1.0f, dx + ($5 + (long)g * R) * CCV_P, CCV_P, m4_eval(C * H * W), n);
', `        mc_cuda_gemm(host, 0, 1, CCV_P, R, CG, dy + ($7 + g * CG) * CCV_P, CCV_P, m4_eval(CO * CCV_P),
            w + $8 + (long)g * CG * R, R, 0, 0.0f, dcol + (long)g * R * CCV_P, CCV_P, sa, n);
')m4_dnl
    }
m4_ifelse(CCV_DIRECT($2, $3), 1, `', `    CU_MAP_RUN($1_col2im, n * m4_eval($4 * H * W)L, `n, dcol, dx');
')m4_dnl
m4_popdef(`R', `CG')')

# CCV_SCRATCH(k, ci, pad): floats of col for the batch (0 when direct).
m4_define(`CCV_SCRATCH', `m4_ifelse(CCV_DIRECT($1, $3), 1, `0', `(size_t)n * m4_eval($2 * $1 * $1 * CCV_P)')')
# CCV_PARTS(k, ci, co, groups): floats of the per-image weight gradients of a group.
m4_define(`CCV_PARTS', `(size_t)n * m4_eval($3 / $4 * ($2 / $4) * $1 * $1)')

# The shared start of a forward: y = bias or 0.
m4_define(`CCV_INIT',
`CU_MAP(NAME`'_init, n * m4_eval(CO * CCV_P)L, `int n, const float *bias, float *y', `n, bias, y',
`        y[i] = bias ? bias[i / CCV_P % CO] : 0.0f;
')')

m4_define(`MC_CONV_KERNEL',
`/* NAME: conv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, kernel K, stride S, padding PAD`'m4_ifelse(G, 1, `', `, G groups')`'m4_ifelse(BIAS, 1, `, bias') */
m4_ifelse(CCV_DIRECT(K, PAD), 1, `', `CCV_PART(NAME, K, PAD, C, 0)')
CCV_INIT()
m4_ifelse(BIAS, 1, `CU_BIAS_SUM(NAME`'_dbias, CO, CO, CCV_P)')
CU_IMAGE_SUM(NAME`'_dw_sum, m4_eval(CO / G * (C / G) * K * K))
void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y)
{
m4_ifelse(CCV_DIRECT(K, PAD), 1, `', `    float *col = mc_cuda_scratch(host, CCV_SCRATCH(K, C, PAD));
')m4_dnl
    CU_MAP_RUN(NAME`'_init, n * m4_eval(CO * CCV_P)L, `n, bias, y');
CCV_FWD(NAME, K, PAD, C, 0, CO, 0, 0, G)m4_dnl
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias)
{
m4_ifelse(CCV_DIRECT(K, PAD), 1, `    float *part = mc_cuda_scratch(host, CCV_PARTS(K, C, CO, G));
', `    float *col = mc_cuda_scratch(host, 2 * CCV_SCRATCH(K, C, PAD) + CCV_PARTS(K, C, CO, G));
    float *dcol = col + CCV_SCRATCH(K, C, PAD), *part = dcol + CCV_SCRATCH(K, C, PAD);
')m4_dnl
m4_ifelse(BIAS, 1, `CU_BIAS_SUM_RUN(NAME`'_dbias, CO, dbias)
', `    (void)dbias;
')m4_dnl
CCV_BWD(NAME, K, PAD, C, 0, CO, 0, 0, G)m4_dnl
}
')

m4_define(`MC_CONV_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias);
')
m4_define(`MC_CONV_CALL_FWD',
`    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT, SHIFT));
')
m4_define(`MC_CONV_CALL_BWD',
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT, SHIFT), MC_DACT(IN0), MC_GRAD(WEIGHT),
        MC_GRAD(BIAS_AT));
')
')
m4_divert(0)m4_dnl
