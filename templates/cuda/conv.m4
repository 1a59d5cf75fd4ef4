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

# CCV_PART(fn, k, pad, ci, cioff[, no col2im]): for a k x k conv with
# padding pad from the ci input channels starting at cioff: fn_col (im2col
# of the batch into col, n x ci*k*k x HO*WO) and, unless no col2im is 1,
# fn_col2im (dx of those channels from dcol).
m4_define(`CCV_PART',
`CU_MAP($1_col, n * m4_eval($4 * $2 * $2 * CCV_P)L, `int n, const float *x, float *col', `n, x, col',
`        const long b = i / m4_eval($4 * $2 * $2 * CCV_P);
        const int r = (int)(i / CCV_P % m4_eval($4 * $2 * $2)), p = (int)(i % CCV_P);
        const int ci = r / m4_eval($2 * $2), ky = r % m4_eval($2 * $2) / $2, kx = r % $2;
        const int iy = p / WO * S - $3 + ky, ix = p % WO * S - $3 + kx;
        col[i] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[((b * C + $5 + ci) * H + iy) * W + ix] : 0.0f;
')
m4_ifelse(`$6', 1, `', `MC_CU_HD static inline float $1_dx_at(const float *dcolc, int iy, int ix)
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
')')')

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

# CCV_BWD(fn, k, pad, ci, cioff, co, cooff, woff, groups[, no dx]): the
# same backwards, into dx and dw: each image its weight gradient into part
# (one batched product), added up in image order by fn_dw_sum; col, dcol
# and part are scratch. With no dx 1, dw alone (the direct kernel above
# computes dx).
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
m4_ifelse(`$10', 1, `', CCV_DIRECT($2, $3), 1, `        mc_cuda_gemm(host, 0, 1, CCV_P, R, CG, dy + ($7 + g * CG) * CCV_P, CCV_P, m4_eval(CO * CCV_P),
            w + $8 + (long)g * CG * R, R, 0, 1.0f, dx + ($5 + (long)g * R) * CCV_P, CCV_P, m4_eval(C * H * W), n);
', `        mc_cuda_gemm(host, 0, 1, CCV_P, R, CG, dy + ($7 + g * CG) * CCV_P, CCV_P, m4_eval(CO * CCV_P),
            w + $8 + (long)g * CG * R, R, 0, 0.0f, dcol + (long)g * R * CCV_P, CCV_P, sa, n);
')m4_dnl
    }
m4_ifelse(`$10', 1, `', CCV_DIRECT($2, $3), 1, `', `    CU_MAP_RUN($1_col2im, n * m4_eval($4 * H * W)L, `n, dcol, dx');
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

# Stride-1 dense convs (K > 1) without im2col, forward and input gradient
# (the input gradient is the same kind of conv: of dy, through the filters
# transposed and flipped, with padding K - 1 - PAD). A block takes a
# CDC_TOH x CDC_TOW tile of output pixels of one image and CDC_COB output
# channels; per chunk of CDC_CC input channels it loads the input tile with
# its halo (zeros off the edge) and the weights of the chunk into shared
# memory, and each thread adds those taps into CDC_COT output channels of
# one pixel (the first chunk starts from the bias, or from dx, which it
# adds to; later chunks from what the earlier ones stored). cuBLAS on
# im2col wrote and read K*K copies of the input: 3.5 times the time of
# cuDNN at 16x32x32.
#
# CDC_PUSH(dir) pushes the geometry of dir (fwd: x to y, dx: dy to dx) as
# CDC_CI, CDC_HI, CDC_WI (input), CDC_CO, CDC_HO, CDC_WO (output), CDC_PAD;
# CDC_POP pops it.
m4_define(`CDC_PUSH', `m4_ifelse($1, fwd,
`m4_pushdef(`CDC_CI', C)m4_pushdef(`CDC_HI', H)m4_pushdef(`CDC_WI', W)m4_dnl
m4_pushdef(`CDC_CO', CO)m4_pushdef(`CDC_HO', HO)m4_pushdef(`CDC_WO', WO)m4_pushdef(`CDC_PAD', PAD)',
`m4_pushdef(`CDC_CI', CO)m4_pushdef(`CDC_HI', HO)m4_pushdef(`CDC_WI', WO)m4_dnl
m4_pushdef(`CDC_CO', C)m4_pushdef(`CDC_HO', H)m4_pushdef(`CDC_WO', W)m4_pushdef(`CDC_PAD', m4_eval(K - 1 - PAD))')')
m4_define(`CDC_POP', `m4_popdef(`CDC_CI', `CDC_HI', `CDC_WI', `CDC_CO', `CDC_HO', `CDC_WO', `CDC_PAD')')
m4_define(`CDC_P', `m4_eval(CDC_HO * CDC_WO)')
m4_define(`CDC_TOW', `MC_MIN(CDC_WO, 32)')
m4_define(`CDC_TOH', `MC_MIN(CDC_HO, m4_eval(CU_THREADS / CDC_TOW))')
m4_define(`CDC_TP', `m4_eval(CDC_TOH * CDC_TOW)')
m4_define(`CDC_COT', `MC_MIN(CDC_CO, 8)')
m4_define(`CDC_COB', `m4_eval(CU_THREADS / CDC_TP * CDC_COT)')
m4_define(`CDC_COGROUPS', `m4_eval((CDC_CO + CDC_COB - 1) / CDC_COB)')
m4_define(`CDC_TX', `m4_eval((CDC_WO + CDC_TOW - 1) / CDC_TOW)')
m4_define(`CDC_TILES', `m4_eval(CDC_TX * ((CDC_HO + CDC_TOH - 1) / CDC_TOH))')
m4_define(`CDC_TIW', `m4_eval(CDC_TOW + K - 1)')
m4_define(`CDC_TILE', `m4_eval((CDC_TOH + K - 1) * CDC_TIW)')
m4_define(`CDC_CC', `MC_MIN(CDC_CI, 16)')
m4_define(`CDC_KK', `m4_eval(K * K)')
m4_define(`CDC_SHARED', `m4_eval(CDC_CC * (CDC_TILE + CDC_COB * CDC_KK))')
# CDC_ON(dir): 1 where dir runs this way: stride 1, one group, K > 1,
# shared memory within 40 KB, and few input channels: measured on an H100
# (resnet20, batch 128), the forward beat im2col at 16 and 32 input
# channels (0.21 -> 0.053 ms, 0.096 -> 0.059) but not at 64 (0.058 ->
# 0.068: four chunks, 256 blocks), the input gradient at 16 channels of dy
# only (at 32 and 64 cuBLAS and col2im were 8% and 40% faster).
m4_define(`CDC_ON', `CDC_PUSH($1)m4_eval(S == 1 && G == 1 && K > 1 && CDC_SHARED * 4 <= 40960 &&
    CDC_CI <= m4_ifelse($1, fwd, 32, 16))CDC_POP()')

# CDC_CONV(dir): the kernel NAME_d<dir>; its arguments (n, in, w, bias,
# out); bias is not read for dx.
m4_define(`CDC_CONV',
`CDC_PUSH($1)CU_BODY(NAME`'_d$1, `int n, const float *x, const float *w, const float *bias, float *y')
{
    (void)n, (void)bias;
    const int tile = (int)(block % CDC_TILES), cog = (int)(block / CDC_TILES % CDC_COGROUPS);
    const long b = block / m4_eval(CDC_TILES * CDC_COGROUPS);
    const int oy0 = tile / CDC_TX * CDC_TOH, ox0 = tile % CDC_TX * CDC_TOW, co0 = cog * CDC_COB;
    float *xs = shm, *ws = shm + m4_eval(CDC_CC * CDC_TILE);
    for (int c0 = 0; c0 < CDC_CI; c0 += CDC_CC) {
        MC_CU_ROLLED for (int i = tid; i < m4_eval(CDC_CC * CDC_TILE); i += nthreads) {
            const int ci = c0 + i / CDC_TILE, r = i % CDC_TILE;
            const int iy = oy0 - CDC_PAD + r / CDC_TIW, ix = ox0 - CDC_PAD + r % CDC_TIW;
            xs[i] = ci < CDC_CI && iy >= 0 && iy < CDC_HI && ix >= 0 && ix < CDC_WI
                ? x[((b * CDC_CI + ci) * CDC_HI + iy) * CDC_WI + ix] : 0.0f;
        }
        MC_CU_ROLLED for (int i = tid; i < m4_eval(CDC_COB * CDC_CC * CDC_KK); i += nthreads) {
            const int co = co0 + i / m4_eval(CDC_CC * CDC_KK), ci = c0 + i / CDC_KK % CDC_CC, t = i % CDC_KK;
            ws[i] = co < CDC_CO && ci < CDC_CI
                ? m4_ifelse($1, fwd, `w[((long)co * C + ci) * CDC_KK + t]', `w[((long)ci * C + co) * CDC_KK + m4_eval(CDC_KK - 1) - t]') : 0.0f;
        }
        MC_CU_SYNC();
        for (int v = tid; v < m4_eval(CU_THREADS / CDC_TP * CDC_TP); v += nthreads) {
            const int p = v % CDC_TP, g = v / CDC_TP;
            const int oy = oy0 + p / CDC_TOW, ox = ox0 + p % CDC_TOW;
            if (oy >= CDC_HO || ox >= CDC_WO)
                continue;
            float *yp = y + (b * CDC_CO + co0 + g * CDC_COT) * CDC_P + oy * CDC_WO + ox;
            const int co = co0 + g * CDC_COT;
MC_FOR(`j', 0, m4_eval(CDC_COT - 1), `            float acc`'j = co + j >= CDC_CO ? 0.0f : m4_ifelse($1, fwd,
`c0 > 0 ? yp[m4_eval(j * CDC_P)] : bias ? bias[co + j] : 0.0f', `yp[m4_eval(j * CDC_P)]');
')m4_dnl
            for (int cc = 0; cc < CDC_CC; cc++) {
                const float *xp = xs + cc * CDC_TILE + p / CDC_TOW * CDC_TIW + p % CDC_TOW;
                const float *wp = ws + (g * m4_eval(CDC_COT * CDC_CC) + cc) * CDC_KK;
MC_FOR(`ky', 0, m4_eval(K - 1), `MC_FOR(`kx', 0, m4_eval(K - 1), `                {
                    const float xv = xp[m4_eval(ky * CDC_TIW + kx)];
MC_FOR(`j', 0, m4_eval(CDC_COT - 1), `                    acc`'j += xv * wp[m4_eval(j * CDC_CC * CDC_KK + ky * K + kx)];
')m4_dnl
                }
')')m4_dnl
            }
MC_FOR(`j', 0, m4_eval(CDC_COT - 1), `            if (co + j < CDC_CO)
                yp[m4_eval(j * CDC_P)] = acc`'j;
')m4_dnl
        }
        MC_CU_SYNC();
    }
}

CU_KERNEL(NAME`'_d$1, `int n, const float *x, const float *w, const float *bias, float *y', `n, x, w, bias, y')CDC_POP()')
# CDC_RUN(dir, args): launch it.
m4_define(`CDC_RUN', `CDC_PUSH($1)    CU_RUN(NAME`'_d$1, (long)n * m4_eval(CDC_COGROUPS * CDC_TILES), m4_eval(CDC_SHARED * 4), `$2');
CDC_POP()')

m4_define(`MC_CONV_KERNEL',
`/* NAME: conv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, kernel K, stride S, padding PAD`'m4_ifelse(G, 1, `', `, G groups')`'m4_ifelse(BIAS, 1, `, bias') */
m4_ifelse(CCV_DIRECT(K, PAD), 1, `', `CCV_PART(NAME, K, PAD, C, 0, CDC_ON(dx))')
m4_ifelse(CDC_ON(fwd), 1, `CDC_CONV(fwd)', `CCV_INIT()')
m4_ifelse(CDC_ON(dx), 1, `CDC_CONV(dx)')
m4_ifelse(BIAS, 1, `CU_BIAS_SUM(NAME`'_dbias, CO, CO, CCV_P)')
CU_IMAGE_SUM(NAME`'_dw_sum, m4_eval(CO / G * (C / G) * K * K))
void NAME`'_cu_fwd(int host, int n, const float *x, const float *w, const float *bias, float *y)
{
m4_ifelse(CDC_ON(fwd), 1, `CDC_RUN(fwd, `n, x, w, bias, y')', `m4_ifelse(CCV_DIRECT(K, PAD), 1, `', `    float *col = mc_cuda_scratch(host, CCV_SCRATCH(K, C, PAD));
')m4_dnl
    CU_MAP_RUN(NAME`'_init, n * m4_eval(CO * CCV_P)L, `n, bias, y');
CCV_FWD(NAME, K, PAD, C, 0, CO, 0, 0, G)')m4_dnl
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *w, const float *dy, float *dx, float *dw,
    float *dbias)
{
m4_ifelse(CCV_DIRECT(K, PAD), 1, `    float *part = mc_cuda_scratch(host, CCV_PARTS(K, C, CO, G));
', CDC_ON(dx), 1, `    float *col = mc_cuda_scratch(host, CCV_SCRATCH(K, C, PAD) + CCV_PARTS(K, C, CO, G));
    float *part = col + CCV_SCRATCH(K, C, PAD);
', `    float *col = mc_cuda_scratch(host, 2 * CCV_SCRATCH(K, C, PAD) + CCV_PARTS(K, C, CO, G));
    float *dcol = col + CCV_SCRATCH(K, C, PAD), *part = dcol + CCV_SCRATCH(K, C, PAD);
')m4_dnl
m4_ifelse(BIAS, 1, `CU_BIAS_SUM_RUN(NAME`'_dbias, CO, dbias)
', `    (void)dbias;
')m4_dnl
CCV_BWD(NAME, K, PAD, C, 0, CO, 0, 0, G, CDC_ON(dx))m4_dnl
m4_ifelse(CDC_ON(dx), 1, `CDC_RUN(dx, `n, dy, w, (const float *)0, dx')')m4_dnl
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
