m4_divert(-1)
# Depthwise convolution with a kernel list: the fused Multiception pass on
# the GPU. Constants as for the C template (NAME, C, H, W, HO, WO, S, NK,
# K0.., WOFF0.., PMAX, YC, BIAS), and KEXT: the rows and columns a window
# spans from PMAX before its output position.
#
# Forward: a block takes a TOH x TOW tile of output positions of one
# channel of one image, loads the input tile (with the halo of the largest
# kernel, zeros off the edge) and the channel weights of every kernel into
# shared memory once, and each thread computes every kernel of the list at
# its positions, with the tap expressions of the C template, writing the
# concatenated output. Backward: each input gradient gathers the taps of
# every kernel (fused, one pass), and a block per (kernel, image, channel)
# sums the weight gradients of its taps, added over the images in order.
m4_include(`../c/depthwise.m4')m4_divert(-1)

m4_define(`CDW_TOW', `MC_MIN(WO, 32)')
m4_define(`CDW_TOH', `MC_MIN(HO, 8)')
m4_define(`CDW_TX', `m4_eval((WO + CDW_TOW - 1) / CDW_TOW)')
m4_define(`CDW_TILES', `m4_eval(CDW_TX * ((HO + CDW_TOH - 1) / CDW_TOH))')
m4_define(`CDW_TIW', `m4_eval((CDW_TOW - 1) * S + KEXT)')
m4_define(`CDW_TIH', `m4_eval((CDW_TOH - 1) * S + KEXT)')
m4_define(`CDW_TILE', `m4_eval(CDW_TIH * CDW_TIW)')
m4_define(`CDW_WTOTAL', `m4_eval(C * DW_TC(NK))')
m4_define(`CDW_KK', `m4_eval(DW_K($1) * DW_K($1))')
# Shared memory of the weight gradient's block sums: a double per tap of
# the largest kernel (2 PMAX + 1 wide) per warp.
m4_define(`CDW_SUMS_BYTES', `m4_eval((2 * PMAX + 1) * (2 * PMAX + 1) * CU_THREADS / 32 * 8)')
# The output plane of kernel j for image b, channel c.
m4_define(`CDW_PLANE', `((long)b * YC + m4_eval($1 * C) + c) * m4_eval(HO * WO)')

m4_define(`MC_DEPTHWISE_FWD',
`/* NAME: depthwise, kernels KLIST on C channels of H`'x`'W, stride S -> m4_eval(NK * C)x`'HO`'x`'WO;
 * CDW_TOH`'x`'CDW_TOW output tiles from CDW_TIH`'x`'CDW_TIW input tiles */
DW_EACH(`MC_CU_HD static inline float NAME`'_k`'j`'(float init, const float *p, const float *w`'j)
{
    return init`'DW_TAP_SUM(j, CDW_TIW);
}

')m4_dnl
CU_BODY(NAME`'_fwd, `int n, const float *x, const float *w, const float *bias, float *y')
{
    (void)n, (void)bias;
    const long plane = block / CDW_TILES;
    const int tile = (int)(block % CDW_TILES), b = (int)(plane / C), c = (int)(plane % C);
    const int oy0 = tile / CDW_TX * CDW_TOH, ox0 = tile % CDW_TX * CDW_TOW;
    const float *xc = x + plane * m4_eval(H * W);
    float *xt = shm, *wt = shm + CDW_TILE;
    for (int i = tid; i < CDW_TILE; i += nthreads) {
        const int iy = oy0 * S - PMAX + i / CDW_TIW, ix = ox0 * S - PMAX + i % CDW_TIW;
        xt[i] = iy >= 0 && iy < H && ix >= 0 && ix < W ? xc[iy * W + ix] : 0.0f;
    }
DW_EACH(`    for (int t = tid; t < CDW_KK(j); t += nthreads)
        wt[DW_TC(j) + t] = w[DW_WOFF(j) + c * CDW_KK(j) + t];
')m4_dnl
    MC_CU_SYNC();
    for (int i = tid; i < m4_eval(CDW_TOH * CDW_TOW); i += nthreads) {
        const int ly = i / CDW_TOW, lx = i % CDW_TOW, oy = oy0 + ly, ox = ox0 + lx;
        if (oy >= HO || ox >= WO)
            continue;
        const float *q = xt + ly * m4_eval(S * CDW_TIW) + lx * S;
DW_EACH(`        y[CDW_PLANE(j) + oy * WO + ox] = NAME`'_k`'j`'(m4_ifelse(BIAS, 1, `bias[c]', `0.0f'), q, wt + DW_TC(j));
')m4_dnl
    }
}

CU_KERNEL(NAME`'_fwd, `int n, const float *x, const float *w, const float *bias, float *y', `n, x, w, bias, y')
void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y)
{
    CU_RUN(NAME`'_fwd, (long)n * m4_eval(C * CDW_TILES), m4_eval((CDW_TILE + DW_TC(NK)) * 4),
        `n, x, w, bias, y');
}
')

m4_define(`MC_DEPTHWISE_BWD',
`/* The input gradient at (iy, ix) of one channel: every tap of every kernel
 * whose window covers it (dj: the output gradient plane of kernel j). */
MC_CU_HD static inline float NAME`'_dx_at(DW_EACH(`const float *d`'j, const float *w`'j, ')int iy, int ix)
{
    float s = 0.0f;
DW_EACH(`CU_GATHER(DW_K(j), DW_P(j), S, HO, WO, `s += w`'j[MC_T] * d`'j[oy * WO + ox];')')m4_dnl
    return s;
}

CU_MAP(NAME`'_dx, n * m4_eval(C * H * W)L, `int n, const float *w, const float *dy, float *dx', `n, w, dy, dx',
`        const long plane = i / m4_eval(H * W);
        const int b = (int)(plane / C), c = (int)(plane % C), at = (int)(i % m4_eval(H * W));
        dx[i] += NAME`'_dx_at(DW_EACH(`dy + CDW_PLANE(j), w + DW_WOFF(j) + c * CDW_KK(j), ')at / W, at % W);
')
DW_EACH(`/* Kernel j: d times the input under every tap, into acc. */
MC_CU_HD static inline void NAME`'_dw`'j`'_at(const float *xc, float d, int oy, int ox, float *acc)
{
MC_TAPS_CHECKED(DW_K(j), DW_P(j), S, H, W, `acc[MC_T] += d * xc[iy * W + ix];')m4_dnl
}

')m4_dnl
/* Block (j, b, c): the weight gradient of kernel j, channel c, image b,
 * into part[b] (the block sums of every tap at once). */
CU_BODY(NAME`'_dw, `int n, const float *x, const float *dy, float *part')
{
    const int j = (int)(block / ((long)n * C)), b = (int)(block / C % n), c = (int)(block % C);
    const float *xc = x + ((long)b * C + c) * m4_eval(H * W);
    double *sums = (double *)shm;
    switch (j) {
DW_EACH(`    case j: {
        float acc[CDW_KK(j)] = {0};
        const float *d = dy + CDW_PLANE(j);
        for (int i = tid; i < m4_eval(HO * WO); i += nthreads)
            NAME`'_dw`'j`'_at(xc, d[i], i / WO, i % WO, acc);
        mc_cu_block_sums(acc, CDW_KK(j), sums, tid, nthreads,
            part + (long)b * CDW_WTOTAL + DW_WOFF(j) + c * CDW_KK(j));
        break;
    }
')m4_dnl
    }
}

CU_KERNEL(NAME`'_dw, `int n, const float *x, const float *dy, float *part', `n, x, dy, part')
CU_IMAGE_SUM(NAME`'_dw_sum, CDW_WTOTAL)
m4_ifelse(BIAS, 1, `CU_BIAS_SUM(NAME`'_dbias, C, YC, m4_eval(HO * WO))')
void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias)
{
    float *part = mc_cuda_scratch(host, (size_t)n * CDW_WTOTAL);
    CU_MAP_RUN(NAME`'_dx, n * m4_eval(C * H * W)L, `n, w, dy, dx');
    CU_RUN(NAME`'_dw, (long)n * m4_eval(NK * C), CDW_SUMS_BYTES, `n, x, dy, part');
    CU_MAP_RUN(NAME`'_dw_sum, CDW_WTOTAL`'L, `n, part, dw');
m4_ifelse(BIAS, 1, `CU_BIAS_SUM_RUN(NAME`'_dbias, C, dbias)
', `    (void)dbias;
')m4_dnl
}
')

m4_define(`MC_DEPTHWISE_KERNEL', `MC_DEPTHWISE_FWD()
MC_DEPTHWISE_BWD()')

m4_define(`MC_DEPTHWISE_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias);
')
m4_define(`MC_DEPTHWISE_CALL_FWD',
`    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT, SHIFT));
')
m4_define(`MC_DEPTHWISE_CALL_BWD',
`    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT, SHIFT), MC_DACT(IN0), MC_GRAD(WEIGHT),
        MC_GRAD(BIAS_AT));
')
m4_divert(0)m4_dnl
