m4_divert(-1)
# Depthwise convolution with a kernel list: the fused Multiception pass.
# Every kernel j (size Kj, padding Kj/2) of the list runs on each channel,
# and its outputs are channels j*C .. j*C+C-1 of y, so one pass over each
# input window computes all of them (the smaller windows lie inside the
# largest one, and the loads are shared). With one kernel it is a plain
# depthwise conv; an unfused Multiception calls one such per kernel.
#
# Constants: NAME, C (channels), H, W (input), HO, WO (output), S (stride),
# NK (kernels), K0.., WOFF0.. (where kernel j weights start in w), KLIST,
# PMAX (largest padding), YC (channels per image of y: NK*C, or more for a
# part of an unfused Multiception), BIAS (0 or 1: a bias per output
# channel, kernel j's C after kernel j - 1's), FUSED (none but in the
# inference library; activation.m4): the activation the forward applies
# as it stores its results: in the last store of each output vector (the
# flat and channels-last forms), or on rows at any stride in a pass over
# each output plane once it is complete (activation.m4).
# Taps are unrolled everywhere; spatial and channel loops have literal
# bounds. Backward kernels accumulate, and need dx and dw. At stride 1 with
# whole vectors of channels the kernels take the channels-last form of
# depthwise_cl.m4 (DW_CL); the flat planes below serve the rest.

# Kernel j: its size, its padding, where its weights start.
m4_define(`DW_K', `m4_indir(`K$1')')
m4_define(`DW_P', `m4_eval(m4_indir(`K$1') / 2)')
m4_define(`DW_WOFF', `m4_indir(`WOFF$1')')
m4_define(`DW_EACH', `MC_FOR(`j', 0, m4_eval(NK - 1), `$1')')
m4_include(`../c/depthwise_cl.m4')m4_divert(-1)
m4_ifdef(`MC_RELU_KERNEL', `', `m4_include(`../c/activation.m4')m4_divert(-1)')

# Channel c of kernel j: weights wj, and yj, the output plane of image b
# (or dj, its gradient).
m4_define(`DW_PTRS', `DW_EACH(`m4_dnl
    const float *restrict w`'j = w + DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j));
    $1 *restrict $2`'j = $3 + ((long)b * YC + m4_eval(j * C) + c) * m4_eval(HO * WO);
')')

# Each input plane is first copied into a zero-padded plane of HP x WP
# (PMAX on every side), so that every output position reads a whole window
# and no position needs bounds tests: one loop nest, vectorized along the
# row, instead of an interior and a bounds-tested border.
m4_define(`DW_HP', `m4_eval(H + 2 * PMAX)')
m4_define(`DW_WP', `m4_eval(W + 2 * PMAX)')

# DW_TAP_SUM(j, pitch): the taps of kernel j added up, each a weight of wj
# times the window p, whose rows are pitch apart and start PMAX rows and
# columns before the output position (the CUDA template reads its
# shared-memory tile with the same expression).
m4_define(`DW_TAP_SUM', `MC_TAPS(DW_K($1), DW_P($1), PMAX, $2, `
                + w`'$1[MC_T] * p[MC_OFF]')')

# With stride 1 the planes are also walked flat: output (oy, ox) sits at
# oy * WP + ox of a grid as wide as the padded plane, so every tap reads
# the padded plane at one fixed offset from it and a whole plane is one
# run of VL-float vectors instead of HO short rows (the WP - WO extra
# columns of each row are computed and dropped, or carry zeros). The grid
# goes in blocks of 4 or 8 vectors, each with its own accumulator: a chain
# of dependent multiply-adds per vector would wait on the adder latency,
# independent ones keep both multiply-add units busy. The padded planes
# get room for the last block of the farthest tap.
m4_define(`DW_FLAT', `m4_eval(S == 1)')
# The block is the largest of 8, 4, 2, 1 vectors that rounds the grid up
# by at most a quarter.
m4_define(`DW_V', `m4_eval((HO * DW_WP + 15) / VL)')
m4_define(`DW_FITS', `m4_eval((DW_V + $1 - 1) / $1 * $1 * 4 <= DW_V * 5)')
m4_define(`DW_U', `m4_ifelse(DW_FITS(8), 1, 8, DW_FITS(4), 1, 4, DW_FITS(2), 1, 2, 1)')
m4_define(`DW_NG', `m4_eval((DW_V + DW_U - 1) / DW_U * DW_U * VL)')
m4_define(`DW_XPN', `m4_ifelse(DW_FLAT, 1, `m4_eval(DW_NG + 2 * PMAX * DW_WP + 2 * PMAX)', `m4_eval(DW_HP * DW_WP)')')
# DW_OFF(j, ky, kx): where tap (ky, kx) of kernel j reads, from the grid position.
m4_define(`DW_OFF', `m4_eval((PMAX - DW_P($1) + $2) * DW_WP + PMAX - DW_P($1) + $3)')
# DW_ACCS(n, text): text for u = 0 .. n - 1, one line each.
m4_define(`DW_ACCS', `MC_FOR(`u', 0, m4_eval($1 - 1), `$2
')')
# Taps of one channel before kernel j (all of them for j = NK).
m4_define(`DW_TC', `m4_ifelse($1, 0, 0, `m4_eval(DW_TC(m4_decr($1)) + DW_K(m4_decr($1)) * DW_K(m4_decr($1)))')')

# The forward on output rows (any stride), and flat (stride 1): a block
# of output vectors per kernel in registers over all its taps.
m4_define(`DW_FWD_ROWS',
`    for (int oy = 0; oy < HO; oy++)
        for (int ox = 0; ox < WO; ox++) {
            const float *restrict p = xp + oy * m4_eval(S * DW_WP) + ox * S;
DW_EACH(`            y`'j[oy * WO + ox] = m4_ifelse(BIAS, 1, `bias[m4_eval(j * C) + c]', `0.0f')`'DW_TAP_SUM(j, DW_WP);
')m4_dnl
        }
')

# DW_ROW_PASS(dst, src, weight, init[, act]): one row ky of the taps of kernel j
# over the flat grid: dst += the K taps of that row, src read at each tap
# offset, weight (an expression of kx) the weight of tap kx; init, when
# given, starts dst instead; with act (the last row of the forward), dst
# is stored through the activation FUSED. A row at a time keeps its K weights and a
# block of accumulators in registers (all the taps of a kernel list at
# once would not fit, and spill).
m4_define(`DW_ROW_PASS',
`    {
        /* kernel j, row ky */
MC_FOR(`kx', 0, m4_eval(DW_K(j) - 1), `        const float v`'kx = $3;
')m4_dnl
        for (int i = 0; i < DW_NG; i += m4_eval(VL * DW_U)) {
DW_ACCS(DW_U, `            mc_vf a`'u = m4_ifelse(`$4', `', `*(const mc_vf *)($1 + i + m4_eval(VL * u))', `$4');')m4_dnl
MC_FOR(`kx', 0, m4_eval(DW_K(j) - 1), `DW_ACCS(DW_U, `            a`'u += v`'kx * *(const mc_vf *)($2 + i + m4_eval(DW_OFF(j, ky, kx) + VL * u));')')m4_dnl
DW_ACCS(DW_U, `            *(mc_vf *)($1 + i + m4_eval(VL * u)) = m4_ifelse(`$5', `act', `ACT_FUSED_V(a`'u)', `a`'u');')m4_dnl
        }
    }
')

m4_define(`DW_FWD_FLAT',
`DW_EACH(`    float yg`'j[DW_NG];
MC_FOR(`ky', 0, m4_eval(DW_K(j) - 1), `DW_ROW_PASS(yg`'j, xp, `w`'j[m4_eval(ky * DW_K(j) + kx)]',
    m4_ifelse(ky, 0, `(mc_vf){0}`'m4_ifelse(BIAS, 1, ` + bias[m4_eval(j * C) + c]')'), m4_ifelse(ky, m4_eval(DW_K(j) - 1), DW_ACT))')m4_dnl
')m4_dnl
    for (int oy = 0; oy < HO; oy++) {
DW_EACH(`        memcpy(y`'j + oy * WO, yg`'j + oy * DW_WP, WO * sizeof(float));
')m4_dnl
    }
')

# With PSTATS the forward takes stats, where it writes the statistics of
# its output for the batch norm after it (depthwise_cl.m4), or 0 not to.
m4_define(`DW_FWD_PARAMS', `int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y`'m4_ifelse(PSTATS, 1, `,
    float *restrict stats')')

# DW_ACT: act where the forward applies FUSED as it stores its results, else empty.
m4_define(`DW_ACT', `m4_ifelse(FUSED, none, `', `act')')

m4_define(`MC_DEPTHWISE_FWD',
`/* NAME: depthwise, kernels KLIST on C channels of H`'x`'W, stride S -> m4_eval(NK * C)x`'HO`'x`'WO`'m4_ifelse(DW_CL, 1, `, channels last')`'m4_ifelse(PSTATS, 1, `, with the batch statistics of its output')`'m4_ifelse(FUSED, none, `', `, then FUSED') */
ACT_STORE_CHECK(`depthwise')m4_dnl
ACT_FUSED_FUNCTIONS()m4_dnl
m4_ifelse(m4_eval(PSTATS && !(DW_CL && DW_CL_ROWS == HO && C % VL == 0)), 1, `m4_errprint(`depthwise.m4: NAME: batch statistics need the channels-last form, the plane in one band, channels in whole vectors (plan.c, producer_statistics)
')m4_m4exit(1)')m4_dnl
m4_ifelse(m4_eval(DW_CL && !(DW_CL_RENDERABLE && DW_CL_ROWS >= 1 && DW_CL_ROWS <= HO)), 1, `m4_errprint(`depthwise.m4: NAME: the plan asks for the channels-last form, which needs stride 1, odd kernels and a band of 1 to HO rows (plan.c, depthwise_cl_rows)
')m4_m4exit(1)')m4_dnl
m4_ifelse(m4_eval(DW_CL && !(DW_CL_U >= 1 && DW_CL_U <= WO && DW_CL_U <= VREGS / 2)), 1, `m4_errprint(`depthwise.m4: NAME: the plan asks for blocks of DW_CL_U outputs, which need 1 to WO and their sums in half the registers (plan.c, depthwise_cl_unroll)
')m4_m4exit(1)')m4_dnl
m4_ifelse(m4_eval(PACKED && !(DW_CL && C % VL == 0)), 1, `m4_errprint(`depthwise.m4: NAME: packed filters need the channels-last form, channels in whole vectors (plan.c, mc_plan_packs)
')m4_m4exit(1)')m4_dnl
m4_ifelse(DW_CL, 1, `DW_CL_HELPERS()
DW_CL_FWD_HELPERS()m4_dnl
m4_ifelse(PACKED, 1, `/* The filters in the order NAME`'_fwd reads them, once (the inference library). */
void NAME`'_pack(const float *restrict w, float *restrict packed)
{
    NAME`'_cl_filters(w, packed, 0);
}

')m4_dnl
void NAME`'_fwd(DW_FWD_PARAMS)
{
m4_ifelse(BIAS, 1, `', `    (void)bias;
')m4_dnl
DW_CL_FWD()m4_dnl
}
', `DW_FLAT_FWD()')')

m4_define(`DW_FLAT_FWD',
`m4_ifelse(DW_FLAT, 1, `MC_VEC_PRELUDE()')m4_dnl
static inline void NAME`'_pad(const float *restrict xc, float *restrict xp)
{
    memset(xp, 0, sizeof(float) * DW_XPN);
    for (int iy = 0; iy < H; iy++)
        for (int ix = 0; ix < W; ix++)
            xp[(iy + PMAX) * DW_WP + PMAX + ix] = xc[iy * W + ix];
}

/* Channel c of image b, every kernel. */
static inline void NAME`'_fwd_plane(const float *restrict xc, const float *restrict w, const float *restrict bias,
    float *restrict y, int b, int c)
{
    (void)bias;
    float xp[DW_XPN];
    NAME`'_pad(xc, xp);
DW_PTRS(`float', `y', `y')m4_dnl
m4_ifelse(DW_FLAT, 1, `DW_FWD_FLAT()', `DW_FWD_ROWS()DW_EACH(`ACT_FUSED_RUN(`    ', `y`'j', m4_eval(HO * WO))')')m4_dnl
}

void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y)
{
    MC_OMP_FOR
    for (int bc = 0; bc < n * C; bc++)
        NAME`'_fwd_plane(x + (long)bc * m4_eval(H * W), w, bias, y, bc / C, bc % C);
}
')

# Backward. The filter gradient of a channel sums over the whole batch
# into accumulators ga, one per tap of every kernel (kernel after kernel),
# added into dw once: VL lanes each on the flat path, summed
# across at the end; plain floats on the rows path.
m4_define(`DW_GA_TYPE', `m4_ifelse(DW_FLAT, 1, `mc_vf', `float')')
m4_define(`DW_GA_SUM', `m4_ifelse(DW_FLAT, 1, `mc_vf_sum(&ga[$1])', `ga[$1]')')

# On output rows (any stride), tap by tap: for each tap, a pass over the
# output rows adds w * dy into the shifted rows of the padded dx and d * x
# into per-column sums, two element-wise loops along the row that vectorize
# (a per-position scatter would not); the sums are added up once per tap,
# and the padded dx, once per plane, into dx.
m4_define(`DW_BWD_ROWS',
`    float dxp[DW_XPN] = {0};
DW_EACH(`MC_TAPS(DW_K(j), DW_P(j), PMAX, DW_WP, `    {
        /* kernel j, tap MC_T */
        const float wt = w`'j[MC_T];
        float acc[WO] = {0};
        for (int oy = 0; oy < HO; oy++) {
            const float *restrict drow = d`'j + oy * WO;
            const int at = oy * m4_eval(S * DW_WP) + MC_OFF;
            for (int ox = 0; ox < WO; ox++) {
                const float d = drow[ox];
                dxp[at + ox * S] += wt * d;
                acc[ox] += d * xp[at + ox * S];
            }
        }
        float s = 0.0f;
        for (int ox = 0; ox < WO; ox++)
            s += acc[ox];
        ga[m4_eval(DW_TC(j) + MC_T)] += s;
    }
')')m4_dnl
DW_PUT_DX(`dxp', `(iy + PMAX) * DW_WP + PMAX')
')

# Flat (stride 1): the output gradient of each kernel is padded like the
# input (dq), which makes both gradients gathers, with no scattered
# read-modify-write. The input gradient is the forward of the padded
# output gradients through the flipped filters, all kernels into one sum:
# dx(iy, ix) = sum of w[ky][kx] dy(iy + P - ky, ix + P - kx), and tap
# (K-1-ky, K-1-kx) of the forward reads exactly there. The filter
# gradient of tap (ky, kx) is the dot product of dy on the grid (dq from
# PMAX rows and columns in: zeros in the extra columns) with the input at
# the tap offset; the K taps of a row share each vector of dy, and each
# tap keeps 2 or 4 vectors in flight.
m4_define(`DW_UW', `MC_MIN(DW_U, m4_ifelse(m4_eval(DW_K($1) <= 3), 1, 4, 2))')
m4_define(`DW_BWD_FLAT',
`    float dxg[DW_NG];
DW_EACH(`    float dq`'j[DW_XPN];
    NAME`'_pad(d`'j, dq`'j);
')m4_dnl
DW_EACH(`MC_FOR(`ky', 0, m4_eval(DW_K(j) - 1), `DW_ROW_PASS(dxg, dq`'j, `w`'j[m4_eval(DW_K(j) * DW_K(j) - 1 - ky * DW_K(j) - kx)]',
    m4_ifelse(j`'ky, 00, `(mc_vf){0}'))')')m4_dnl
DW_PUT_DX(`dxg', `iy * DW_WP')
DW_EACH(`MC_FOR(`ky', 0, m4_eval(DW_K(j) - 1), `    {
        /* kernel j, row ky */
        const float *restrict dg = dq`'j + m4_eval(PMAX * DW_WP + PMAX);
MC_FOR(`kx', 0, m4_eval(DW_K(j) - 1), `DW_ACCS(DW_UW(j), `        mc_vf a`'kx`'_`'u = {0};')')m4_dnl
        for (int i = 0; i < DW_NG; i += m4_eval(VL * DW_UW(j))) {
DW_ACCS(DW_UW(j), `            const mc_vf d`'u = *(const mc_vf *)(dg + i + m4_eval(VL * u));')m4_dnl
MC_FOR(`kx', 0, m4_eval(DW_K(j) - 1), `DW_ACCS(DW_UW(j), `            a`'kx`'_`'u += d`'u * *(const mc_vf *)(xp + i + m4_eval(DW_OFF(j, ky, kx) + VL * u));')')m4_dnl
        }
MC_FOR(`kx', 0, m4_eval(DW_K(j) - 1), `        ga[m4_eval(DW_TC(j) + ky * DW_K(j) + kx)] += MC_FOR(`u', 0, m4_eval(DW_UW(j) - 1), `m4_ifelse(u, 0, `', ` + ')a`'kx`'_`'u');
')m4_dnl
    }
')')m4_dnl
')

# DW_PUT_DX(grid, row): the input gradient of the plane, row iy of it at
# grid + row, added to dxc (stored when acc is 0: the first writer).
m4_define(`DW_PUT_DX',
`    for (int iy = 0; iy < H; iy++) {
        const float *restrict g = $1 + $2;
MC_ADD_OR_STORE(`        ', `for (int ix = 0; ix < W; ix++)', `dxc[iy * W + ix]', `g[ix]')m4_dnl
    }
')

m4_define(`MC_DEPTHWISE_BWD',
`m4_ifelse(BIAS, 1, `MC_PLANE_SUM(NAME`'_bias_sum, m4_eval(HO * WO))')
m4_ifelse(DW_CL, 1, `DW_CL_BWD_HELPERS()m4_dnl
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, int acc)
{
DW_CL_BWD()m4_dnl
}
')', `DW_FLAT_BWD()')')

m4_define(`DW_FLAT_BWD',
`/* Channel c of image b: its input gradient goes to dxc, its filter
 * gradients into the accumulators ga. */
static inline void NAME`'_bwd_plane(const float *restrict xc, const float *restrict w, const float *restrict dy,
    float *restrict dxc, DW_GA_TYPE *restrict ga, int b, int c, int acc)
{
    float xp[DW_XPN];
    NAME`'_pad(xc, xp);
DW_PTRS(`const float', `d', `dy')m4_dnl
m4_ifelse(DW_FLAT, 1, `DW_BWD_FLAT()', `DW_BWD_ROWS()')m4_dnl
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, int acc)
{
MC_BIAS_GRAD(C, YC)m4_dnl
    MC_OMP_FOR
    for (int c = 0; c < C; c++) {
        DW_GA_TYPE ga[DW_TC(NK)];
        memset(ga, 0, sizeof ga);
        for (int b = 0; b < n; b++) {
            NAME`'_bwd_plane(x + ((long)b * C + c) * m4_eval(H * W), w, dy, dx + ((long)b * C + c) * m4_eval(H * W), ga, b, c,
                acc);
        }
DW_EACH(`        {
            float *restrict dw`'j = dw + DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j));
MC_FOR(`t', 0, m4_eval(DW_K(j) * DW_K(j) - 1), `            dw`'j[t] += DW_GA_SUM(m4_eval(DW_TC(j) + t));
')m4_dnl
        }
')m4_dnl
    }
}
')')

m4_define(`MC_DEPTHWISE_KERNEL', `MC_DEPTHWISE_FWD()
MC_DEPTHWISE_BWD()')

m4_define(`MC_DEPTHWISE_PROTO',
`m4_ifelse(PACKED, 1, `void NAME`'_pack(const float *restrict w, float *restrict packed);
')void NAME`'_fwd(DW_FWD_PARAMS);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, int acc);
')')

# Calls: IN0, OUT (activation slots), WEIGHT, BIAS_AT (parameters; -1 for
# none), SHIFT (where this kernel writes inside the output slot: nonzero
# for the parts of an unfused Multiception), STATS_AT (with PSTATS: where
# the statistics go, in training).
m4_define(`MC_DEPTHWISE_CALL_FWD',
`    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT, SHIFT)`'m4_ifelse(PSTATS, 1, `,
        train ? MC_ACT(STATS_AT) : 0'));
')
m4_define(`MC_DEPTHWISE_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT, SHIFT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT),
        MC_ACC(0));
')
m4_define(`MC_DEPTHWISE_STORES')
m4_divert(0)m4_dnl
