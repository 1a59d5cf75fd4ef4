m4_divert(-1)
# The depthwise convolution of depthwise.m4 with its channels last, for
# stride 1, odd kernels and whole vectors of channels (C a multiple of VL,
# the target's lanes): one vector holds one pixel of VL channels, so every tap of every
# kernel reads a whole aligned vector, and a block of outputs along a row
# shares the loads of its taps. On the flat planes of depthwise.m4 a tap
# reads a vector at an offset that is not a multiple of VL floats, which
# splits it over two cache lines: half the loads a cycle, and the loads
# bound those kernels (about 90 GFLOP/s at best against 210 aligned,
# measured on this Zen 5).
#
# Per image and group of VL channels, the planes are transposed (VL x VL
# blocks in registers) into a padded channels-last image (zeros around,
# PMAX on every side), the taps run over it, and the channels-last result
# is transposed back into planes. The weights are laid out once per call
# as a vector of VL channels per tap. (The figures here are the avx512
# target's, VL = 16.)
#
# Constants as in depthwise.m4; the kernel lists DW_TC and DW_OFF come from
# there. This file only defines macros.

# DW_CL (the plan's, generator/plan.c depthwise_cl_rows): 1 when this form
# applies; the plan takes it at stride 1 and odd kernels while at least
# half the lanes of the last vector of channels work, its scratch (two
# padded images and one result, on a thread's stack) in bands of
# DW_CL_ROWS rows that fit the target's budget. DW_CL_RENDERABLE: what the form needs of the shape (depthwise.m4
# stops m4 when asked for it without).
m4_define(`DW_CL_WP', `m4_eval(W + 2 * PMAX)')
m4_define(`DW_CL_PN', `m4_eval((DW_CL_ROWS + 2 * PMAX) * DW_CL_WP * VL)')
m4_define(`DW_CL_ON', `m4_eval(DW_CL_ROWS * WO * VL)')
m4_define(`DW_CL_ODD', `m4_eval(1 DW_EACH(`&& DW_K(j) % 2 == 1'))')
m4_define(`DW_CL_RENDERABLE', `m4_eval(S == 1 && HO == H && WO == W && DW_CL_ODD)')
m4_define(`DW_CL_G', `m4_eval((C + VL - 1) / VL)')

# Channels that do not fill the last group of VL (DW_CL_TAIL of them, 0
# when they all do) take a whole vector each pixel all the same, the
# lanes past C zero in the filters and never read from or written to the
# planes: the transposes take the channel count of the group, and the
# bias of a partial group is loaded by its channels (such a kernel takes
# no batch statistics and no packed filters: plan.c).
m4_define(`DW_CL_TAIL', `m4_eval(C % VL)')
m4_define(`DW_CL_GCH_ARG', `m4_ifelse(DW_CL_TAIL, 0, `', `nch')')
m4_define(`DW_CL_GCH', `($1 == m4_eval(DW_CL_G - 1) ? DW_CL_TAIL : VL)')
m4_define(`DW_CL_GCH_OF', `m4_ifelse(DW_CL_TAIL, 0, `', `, DW_CL_GCH($1)')')
m4_define(`DW_CL_HW', `m4_eval(H * W)')

# Large planes go in bands of DW_CL_ROWS output rows (the plan's,
# generator/plan.c depthwise_cl_rows: what fits the budget), DW_CL_NB of
# them, the last maybe shorter: each band's input rows, with the rows of
# padding its window reads above and below it, are transposed into a
# padded channels-last band, the taps run over its rows (the functions
# take them as rows), and its result goes back into its rows of the
# planes. With one band (the plane fits) the code is that of a whole
# image. DW_CL_RN: the rows a function runs; DW_CL_RARG, DW_CL_RPASS: its
# parameter, and the argument a caller passes.
m4_define(`DW_CL_NB', `m4_eval((HO + DW_CL_ROWS - 1) / DW_CL_ROWS)')
m4_define(`DW_CL_RN', `m4_ifelse(DW_CL_NB, 1, HO, `rows')')
m4_define(`DW_CL_RARG', `m4_ifelse(DW_CL_NB, 1, `', `, int rows')')
m4_define(`DW_CL_RPASS', `m4_ifelse(DW_CL_NB, 1, `', `, rows')')
# DW_CL_IN(planes, buf), DW_CL_OUT(buf, planes, acc): a group's planes
# (at their first row) into a padded band, a band's result back; both
# inside DW_CL_BANDS.
m4_define(`DW_CL_IN', `NAME`'_cl_in($1, $2`'m4_ifelse(DW_CL_NB, 1, `', `, y0')`'DW_CL_GCH_OF(g))')
m4_define(`DW_CL_OUT', `NAME`'_cl_out($1, $2`'m4_ifelse(DW_CL_NB, 1, `', ` + y0 * WO'), $3`'m4_ifelse(DW_CL_NB, 1, `', `, rows * WO')`'DW_CL_GCH_OF(g))')
# DW_CL_BANDS(indent, body): body for every band (y0, rows), or once for a
# whole plane.
m4_define(`DW_CL_BANDS', `m4_ifelse(DW_CL_NB, 1, `$2', `$1for (int y0 = 0; y0 < HO; y0 += DW_CL_ROWS) {
$1    const int rows = HO - y0 < DW_CL_ROWS ? HO - y0 : DW_CL_ROWS;
$2`'$1}
')')

# Outputs go in blocks of DW_CL_U along a row, that many accumulators in
# registers (plan.c, depthwise_cl_unroll: from the row and the target's
# registers). The filter gradient takes blocks of 4.

# DW_CL_ROW(u, block): the statements for one output row oy: block(n)
# for the blocks of u outputs from ox, then block of the rest.
m4_define(`DW_CL_ROW',
`m4_pushdef(`DW_FULL', m4_eval(WO / $1 * $1))m4_dnl
m4_ifelse(m4_eval(DW_FULL > 0), 1, `        for (int ox = 0; ox < DW_FULL; ox += $1)
$2($1)')m4_dnl
m4_ifelse(m4_eval(DW_FULL < WO), 1, `        {
            const int ox = DW_FULL;
$2(m4_eval(WO - DW_FULL))m4_dnl
        }
')m4_dnl
m4_popdef(`DW_FULL')m4_dnl
')

# DW_CL_TAPS(j, fn, init[, act]): static void fn(dst, src, wj[, bias]), one pass
# of kernel j over the padded channels-last image src into the
# channels-last result dst (HO x WO pixels): dst = init + the taps, tap t
# weighing wj[t] (a vector of VL channels). init is zero, bias (the VL at
# bias) or load (dst, to add to it); with act, dst is stored through the
# activation FUSED (the lanes past the channels of a partial group too:
# they are never written back).
m4_define(`DW_CL_TAPS',
`m4_pushdef(`DW_CL_ARGS', `$1, `dst', `src', `$3', `$4'')m4_dnl
/* Kernel $1 (m4_eval(DW_K($1))x`'m4_eval(DW_K($1))) of the list, m4_ifelse(`$3', `load', `added to', `into') dst. */
static void $2(float *restrict dst, const float *restrict src, const mc_vf *restrict w$1`'m4_ifelse(`$3', `bias', `,
    const float *restrict bias')`'DW_CL_RARG)
{
    for (int oy = 0; oy < DW_CL_RN; oy++) {
DW_CL_ROW(DW_CL_U, `DW_CL_BLOCK')m4_dnl
    }
}

m4_popdef(`DW_CL_ARGS')m4_dnl
')
m4_define(`DW_CL_BLOCK', `_DW_CL_BLOCK($1, DW_CL_ARGS)')
m4_define(`DW_CL_INIT', `m4_ifelse(`$1', `zero', `(mc_vf){0}', `$1', `bias', `*(const mc_vf *)bias',
    `*(const mc_vf *)(o + m4_eval(VL * u))')')
# _DW_CL_BLOCK(n, j, dst, src, init, act): outputs ox .. ox + n - 1 of row
# oy. Per row ky of the window, its K weights are held in registers and
# the n + K - 1 input pixels it reads are loaded once each, in turn, each
# weighing into every output it reaches (n + K + 1 registers; with the
# pixels loaded first and the weights one by one, gcc ran out of the 16 of
# avx2 and loaded a pixel for every multiply-add). Every output adds its
# taps in the order of the window all the same.
m4_define(`_DW_CL_BLOCK',
`m4_pushdef(`DW_KK', DW_K($2))m4_dnl
            {
                float *restrict o = $3 + (oy * WO + ox) * VL;
DW_ACCS($1, `                mc_vf a`'u = DW_CL_INIT(`$5');')m4_dnl
MC_FOR(`ky', 0, m4_eval(DW_KK - 1), `                {
                    const float *restrict r = $4 + ((oy + m4_eval(PMAX - DW_P($2) + ky)) * DW_CL_WP + ox + m4_eval(PMAX - DW_P($2))) * VL;
MC_FOR(`kx', 0, m4_eval(DW_KK - 1), `                    mc_vf v`'kx = w$2[m4_eval(ky * DW_KK + kx)];
m4_ifelse(m4_eval($1 + DW_KK + 1 <= VREGS), 1, `                    MC_HOLD(v`'kx);
')')m4_dnl
MC_FOR(`xm', 0, m4_eval($1 + DW_KK - 2), `                    {
                        const mc_vf x = *(const mc_vf *)(r + m4_eval(VL * xm));
MC_FOR(`kx', MC_MAX(0, m4_eval(xm - $1 + 1)), MC_MIN(m4_eval(DW_KK - 1), xm), `                        a`'m4_eval(xm - kx) += v`'kx * x;
')m4_dnl
                    }
')m4_dnl
                }
')m4_dnl
DW_ACCS($1, `                *(mc_vf *)(o + m4_eval(VL * u)) = m4_ifelse(`$6', `act', `ACT_FUSED_V(a`'u)', `a`'u');')m4_dnl
            }
m4_popdef(`DW_KK')m4_dnl
')

# The filter gradient of row ky of kernel j: K taps, each the sum over the
# pixels of dy (dyt) times the input at that tap (xt). Each tap keeps GS
# chains of sums (the outputs of a block take them in turn), so that 8 or
# more multiply-adds are independent; gg holds the sums of the group.
m4_define(`DW_CL_GS', `m4_ifelse(m4_eval(DW_K($1) >= 9), 1, 1, m4_eval(DW_K($1) >= 5), 1, 2, m4_eval(DW_K($1) >= 3), 1, 3, 4)')
m4_define(`DW_CL_GROW',
`m4_pushdef(`DW_KK', DW_K($1))m4_pushdef(`DW_NS', DW_CL_GS($1))m4_pushdef(`DW_GJ', `$1')m4_dnl
/* Kernel $1, row ky of its filter gradient, added to the sums at gp. */
static inline void NAME`'_dw_k$1_r`'ky`'(mc_vf *restrict gp, const float *restrict dyt, const float *restrict xt`'DW_CL_RARG)
{
MC_FOR(`kx', 0, m4_eval(DW_KK - 1), `MC_FOR(`gs', 0, m4_eval(DW_NS - 1), `    mc_vf g`'kx`'_`'gs = m4_ifelse(gs, 0, `gp[kx]', `(mc_vf){0}');
')')m4_dnl
    for (int oy = 0; oy < DW_CL_RN; oy++) {
DW_CL_ROW(4, `DW_CL_GBLOCK')m4_dnl
    }
MC_FOR(`kx', 0, m4_eval(DW_KK - 1), `    gp[kx] = MC_FOR(`gs', 0, m4_eval(DW_NS - 1), `m4_ifelse(gs, 0, `', ` + ')g`'kx`'_`'gs');
')m4_dnl
}

m4_popdef(`DW_KK', `DW_NS', `DW_GJ')m4_dnl
')
m4_define(`DW_CL_GBLOCK',
`            {
                const float *restrict dr = dyt + ((oy + PMAX) * DW_CL_WP + ox + PMAX) * VL;
                const float *restrict r = xt + ((oy + m4_eval(PMAX - DW_P(DW_GJ) + ky)) * DW_CL_WP + ox + m4_eval(PMAX - DW_P(DW_GJ))) * VL;
DW_ACCS($1, `                const mc_vf d`'u = *(const mc_vf *)(dr + m4_eval(VL * u));')m4_dnl
MC_FOR(`xm', 0, m4_eval($1 + DW_KK - 2), `                {
                    const mc_vf x = *(const mc_vf *)(r + m4_eval(VL * xm));
MC_FOR(`kx', MC_MAX(0, m4_eval(xm - $1 + 1)), MC_MIN(m4_eval(DW_KK - 1), xm), `                    g`'kx`'_`'m4_eval((xm - kx) % DW_NS) += d`'m4_eval(xm - kx) * x;
')m4_dnl
                }
')m4_dnl
            }
')

# The helpers of a kernel: the weights channels last, and the transposes.
m4_define(`DW_CL_HELPERS',
`MC_VEC_PRELUDE()m4_dnl
/* The filters with channels last: per group of VL channels, a vector per
 * tap of the list (kernel after kernel); flipped for the input gradient. */
static void NAME`'_cl_filters(const float *restrict w, float *restrict wt, int flip)
{
DW_EACH(`    for (int c = 0; c < m4_eval(DW_CL_G * VL); c++)
        for (int t = 0; t < m4_eval(DW_K(j) * DW_K(j)); t++)
            wt[((c / VL * m4_eval(DW_TC(NK))) + m4_eval(DW_TC(j)) + t) * VL + c % VL] = m4_ifelse(DW_CL_TAIL, 0, `', `c >= C ? 0.0f : ')w[DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j)) + (flip ? m4_eval(DW_K(j) * DW_K(j) - 1) - t : t)];
')m4_dnl
}

m4_ifelse(DW_CL_NB, 1, `/* VL planes of H x W (the channels of a group) into the padded
 * channels-last image xt. */
MC_CL_IN(NAME`'_cl_in, H, W, PMAX, DW_CL_WP, VL, 1, `', DW_CL_GCH_ARG)
/* The channels-last result back into VL planes of HO x WO: stored, or
 * added when acc is nonzero. */
MC_CL_OUT(NAME`'_cl_out, DW_CL_HW, VL, 1`'m4_ifelse(DW_CL_TAIL, 0, `', `, `', nch'))m4_dnl
', `/* The rows of VL planes of H x W (the channels of a group) that a band of
 * output rows from y0 reads into the padded channels-last band xt. */
MC_CL_IN_BAND(NAME`'_cl_in, H, W, PMAX, DW_CL_WP, DW_CL_ROWS, DW_CL_GCH_ARG)
/* The channels-last result of a band back into its rows of VL planes of
 * HO x WO: stored, or added when acc is nonzero. */
MC_CL_OUT(NAME`'_cl_out, DW_CL_HW, VL, 1, DW_CL_HW, DW_CL_GCH_ARG)m4_dnl
')')

# DW_CL_WEIGHTS(indent): wj, the weights of kernel j for group g.
m4_define(`DW_CL_WEIGHTS', `DW_EACH(`$1const mc_vf *restrict w`'j = (const mc_vf *)wt + g * m4_eval(DW_TC(NK)) + m4_eval(DW_TC(j));
')')

# Forward: threads take (image, group) pairs.
m4_define(`DW_CL_FWD_HELPERS',
`DW_EACH(`DW_CL_TAPS(j, NAME`'_fwd_k`'j, m4_ifelse(BIAS, 1, `bias', `zero'), DW_ACT)')m4_dnl
m4_ifelse(PSTATS, 1, `MC_BN_SUMS(NAME`'_bn_sums, DW_CL_HW, VL, 1, YC)')')
# (With PSTATS, plan.c producer_statistics, the training forward also
# writes the batch statistics of each channels-last result for the batch
# norm that reads the output: the sums of common.m4.)

m4_define(`DW_CL_FWD',
`m4_ifelse(PACKED, 1, `    const float *restrict wt = w; /* packed by NAME`'_pack */
', `    MC_STATIC(float, wt, m4_eval(DW_TC(NK) * DW_CL_G * VL));
    NAME`'_cl_filters(w, wt, 0);
')m4_dnl
    MC_OMP_PARALLEL
    {
        _Alignas(64) float xt[DW_CL_PN], yt[DW_CL_ON];
        memset(xt, 0, sizeof xt);
        MC_OMP_FOR_IN
        for (int bg = 0; bg < n * DW_CL_G; bg++) {
            const int b = bg / DW_CL_G, g = bg % DW_CL_G;
DW_CL_WEIGHTS(`            ')m4_dnl
m4_ifelse(m4_eval(BIAS && DW_CL_TAIL), 1, `DW_EACH(`            _Alignas(64) float bias`'j[VL] = {0};
            memcpy(bias`'j, bias + m4_eval(j * C) + g * VL, sizeof(float) * DW_CL_GCH(g));
')')m4_dnl
DW_CL_BANDS(`            ', `            DW_CL_IN(x + ((long)b * C + g * VL) * DW_CL_HW, xt);
DW_EACH(`            NAME`'_fwd_k`'j`'(yt, xt, w`'j`'m4_ifelse(BIAS, 1, `, m4_ifelse(DW_CL_TAIL, 0, `bias + m4_eval(j * C) + g * VL', `bias`'j')')`'DW_CL_RPASS);
m4_ifelse(PSTATS, 1, `            if (stats)
                NAME`'_bn_sums(yt, stats + (long)b * m4_eval(2 * YC) + m4_eval(j * C) + g * VL);
')m4_dnl
            DW_CL_OUT(yt, y + ((long)b * YC + m4_eval(j * C) + g * VL) * DW_CL_HW, 0);
')')m4_dnl
        }
    }
')

# Backward: the input gradient is the forward of the padded output
# gradients through the flipped filters (depthwise.m4), all kernels into
# one result. The images go in DW_CL_NCH fixed chunks, each with its own
# filter-gradient sums, added in chunk order at the end: the threads take
# chunks, and the sums do not depend on how many threads there are.
m4_define(`DW_CL_NCH', `MC_NCH(m4_eval(DW_CL_G * DW_TC(NK) * VL))')
m4_define(`DW_CL_BWD_HELPERS',
`DW_EACH(`DW_CL_TAPS(j, NAME`'_dx_k`'j, m4_ifelse(j, 0, `zero', `load'))m4_dnl
MC_FOR(`ky', 0, m4_eval(DW_K(j) - 1), `DW_CL_GROW(j)')m4_dnl
/* The filter gradient of kernel j, added to its sums in gg. */
static void NAME`'_dw_k`'j`'(mc_vf *restrict gg, const float *restrict dyt, const float *restrict xt`'DW_CL_RARG)
{
MC_FOR(`ky', 0, m4_eval(DW_K(j) - 1), `    NAME`'_dw_k`'j`'_r`'ky`'(gg + m4_eval(DW_TC(j) + ky * DW_K(j)), dyt, xt`'DW_CL_RPASS);
')m4_dnl
}

')')
m4_define(`DW_CL_BWD',
`    static _Alignas(64) float wt[m4_eval(DW_TC(NK) * DW_CL_G * VL)];
    static _Alignas(64) mc_vf ga[m4_eval(DW_CL_NCH * DW_CL_G * DW_TC(NK))];
    NAME`'_cl_filters(w, wt, 1);
    MC_OMP_PARALLEL
    {
        _Alignas(64) float xt[DW_CL_PN], dyt[DW_CL_PN], dxt[DW_CL_ON];
        memset(xt, 0, sizeof xt);
        memset(dyt, 0, sizeof dyt);
        MC_OMP_FOR_IN
        for (int k = 0; k < DW_CL_NCH; k++) {
            memset(ga + k * m4_eval(DW_CL_G * DW_TC(NK)), 0, sizeof(mc_vf) * m4_eval(DW_CL_G * DW_TC(NK)));
            for (int b = k * n / DW_CL_NCH; b < (k + 1) * n / DW_CL_NCH; b++)
                for (int g = 0; g < DW_CL_G; g++) {
                    mc_vf *restrict gg = ga + (k * DW_CL_G + g) * DW_TC(NK);
DW_CL_WEIGHTS(`                    ')m4_dnl
DW_CL_BANDS(`                    ', `                    DW_CL_IN(x + ((long)b * C + g * VL) * DW_CL_HW, xt);
DW_EACH(`                    DW_CL_IN(dy + ((long)b * YC + m4_eval(j * C) + g * VL) * DW_CL_HW, dyt);
                    NAME`'_dx_k`'j`'(dxt, dyt, w`'j`'DW_CL_RPASS);
                    NAME`'_dw_k`'j`'(gg, dyt, xt`'DW_CL_RPASS);
')m4_dnl
                    DW_CL_OUT(dxt, dx + ((long)b * C + g * VL) * DW_CL_HW, acc);
')m4_dnl
                }
        }
    }
MC_BIAS_GRAD(C, YC)m4_dnl
DW_EACH(`    for (int c = 0; c < C; c++)
        for (int t = 0; t < m4_eval(DW_K(j) * DW_K(j)); t++) {
            float s = 0.0f;
            for (int k = 0; k < DW_CL_NCH; k++)
                s += ga[(k * DW_CL_G + c / VL) * DW_TC(NK) + m4_eval(DW_TC(j)) + t][c % VL];
            dw[DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j)) + t] += s;
        }
')m4_dnl
')
m4_divert(0)m4_dnl
