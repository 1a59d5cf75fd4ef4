m4_divert(-1)
# Dense or grouped 2-D convolution: y = conv(x, w[CO, C/G, K, K]) + bias.
#
# Constants: NAME, C, H, W (input), CO, HO, WO (output), S (stride), BIAS
# (0 or 1), K, PAD, G (groups), and OY0, OY1, OX0, OX1: the interior
# [OY0, OY1) x [OX0, OX1) of the output, where the whole window lies inside
# the input, so no bounds tests (no interior rows: OY0 = OY1 = 0; no
# interior columns: OX0 = OX1 = WO). FOLD 1: a pointwise conv that applies
# the batch norm its input went through (see the fold below). FUSED (none
# but in the inference library; activation.m4): the activation it applies
# as it stores its result (see below).
#
# The work is split in planes: one input plane read through one K x K
# filter into one output plane. The plane functions and the channel loops
# around them are macros with the geometry as arguments, so that MixConv
# (mixconv.m4) reuses them for its groups. Taps are unrolled everywhere;
# spatial and channel loops have literal bounds. Backward kernels
# accumulate, and need dx and dw.
#
# mixconv.m4 includes this file unless it is in already, and a driver may
# include both in either order: the definitions below are read only once,
# guarded by whether the conv kernel macro exists. (So no comment outside
# the guard names a macro: a second reading would expand it.)

m4_ifdef(`MC_CONV_KERNEL', `',
`m4_ifdef(`MC_GEMM_NN', `', `m4_include(`gemm.m4')m4_divert(-1)')
m4_ifdef(`WINO_HELPERS', `', `m4_include(`winograd.m4')m4_divert(-1)')
m4_ifdef(`LIN_FWD_BODY', `', `m4_include(`linear_products.m4')m4_divert(-1)')
m4_ifdef(`MC_RELU_KERNEL', `', `m4_include(`../c/activation.m4')m4_divert(-1)')

# CV_PLUS(e): " + e", and CV_PLUS2(e): "e + ", or nothing when e is 0
# (tidier offsets).
m4_define(`CV_PLUS', `m4_ifelse(`$1', `0', `', ` + $1')')
m4_define(`CV_PLUS2', `m4_ifelse(`$1', `0', `', `$1 + ')')

# CV_FWD_PLANE(fn, k, pad, oy0, oy1, ox0, ox1): fn_fwd_plane(xp, wp, yp)
# adds the H x W input plane xp, read through the k x k filter wp with
# padding pad (stride S), into the HO x WO output plane yp. fn_fwd_at does
# one border position (only generated where there is a border).
m4_define(`CV_FWD_PLANE',
`m4_ifelse(MC_HAS_BORDER($4, $5, $6, $7), 1, `static inline void $1_fwd_at(const float *restrict xp, const float *restrict wp, float *restrict yp, int oy, int ox)
{
    float s = 0.0f;
MC_TAPS_CHECKED($2, $3, S, H, W, `s += wp[MC_T] * xp[iy * W + ix];')m4_dnl
    yp[oy * WO + ox] += s;
}

')m4_dnl
static inline void $1_fwd_plane(const float *restrict xp, const float *restrict wp, float *restrict yp)
{
MC_ROWS(`$1_fwd_at(xp, wp, yp, oy, ox);',
`            const float *restrict p = xp + (oy * S - $3) * W + ox * S - $3;
            yp[oy * WO + ox] +=MC_TAPS($2, $3, $3, W, `
                m4_ifelse(MC_T, 0, `  ', `+ ')wp[MC_T] * p[MC_OFF]');
', $4, $5, $6, $7)m4_dnl
}
')

# CV_BWD_PLANE(fn, k, pad, oy0, oy1, ox0, ox1): fn_bwd_plane(xp, wp, dyp,
# dxp, gw), the same pair of planes backwards: scatters the output gradient
# dyp through the taps into dxp (dx += w * d) and gathers the filter
# gradient into the k*k accumulator gw (gw += d * x).
m4_define(`CV_BWD_PLANE',
`m4_ifelse(MC_HAS_BORDER($4, $5, $6, $7), 1, `static inline void $1_bwd_at(const float *restrict xp, const float *restrict wp, const float *restrict dyp,
    float *restrict dxp, float *restrict gw, int oy, int ox)
{
    const float d = dyp[oy * WO + ox];
MC_TAPS_CHECKED($2, $3, S, H, W, `dxp[iy * W + ix] += wp[MC_T] * d; gw[MC_T] += d * xp[iy * W + ix];')m4_dnl
}

')m4_dnl
static inline void $1_bwd_plane(const float *restrict xp, const float *restrict wp, const float *restrict dyp,
    float *restrict dxp, float *restrict gw)
{
MC_ROWS(`$1_bwd_at(xp, wp, dyp, dxp, gw, oy, ox);',
`            const float d = dyp[oy * WO + ox];
            const float *restrict p = xp + (oy * S - $3) * W + ox * S - $3;
            float *restrict q = dxp + (oy * S - $3) * W + ox * S - $3;
MC_TAPS($2, $3, $3, W, `            q[MC_OFF] += wp[MC_T] * d;
            gw[MC_T] += d * p[MC_OFF];
')', $4, $5, $6, $7)m4_dnl
}
')

# CV_FWD_DENSE(fn, k, ci, co, xoff, yoff, woff, indent): the statements, for
# image b, of a dense conv from the ci input channels starting at xoff (of
# the C of x) to the co output channels starting at yoff (of the CO of y),
# weights [co, ci, k, k] at w + woff: each output plane gets the sum over
# its input planes (added: the caller initializes y). The offsets are C
# expressions; indent prefixes every line.
m4_define(`CV_FWD_DENSE',
`$8for (int co = 0; co < $4; co++)
$8    for (int ci = 0; ci < $3; ci++)
$8        $1_fwd_plane(x + ((long)b * C`'CV_PLUS(`$5') + ci) * m4_eval(H * W),
$8            w`'CV_PLUS(`$7') + (co * $3 + ci) * m4_eval($2 * $2),
$8            y + ((long)b * CO`'CV_PLUS(`$6') + co) * m4_eval(HO * WO));
')

# CV_BWD_DENSE(fn, k, ci, co, xoff, yoff, woff, indent): the backward of the
# same, over the whole batch: per filter (co, ci), the planes of every image
# accumulate into gw, added to dw once.
m4_define(`CV_BWD_DENSE',
`$8for (int co = 0; co < $4; co++)
$8    for (int ci = 0; ci < $3; ci++) {
$8        float gw[m4_eval($2 * $2)] = {0};
$8        const long wo = CV_PLUS2(`$7')(co * $3 + ci) * m4_eval($2 * $2);
$8        for (int b = 0; b < n; b++) {
$8            const long xo = ((long)b * C`'CV_PLUS(`$5') + ci) * m4_eval(H * W);
$8            $1_bwd_plane(x + xo, w + wo, dy + ((long)b * CO`'CV_PLUS(`$6') + co) * m4_eval(HO * WO), dx + xo, gw);
$8        }
MC_FOR(`t', 0, m4_eval($2 * $2 - 1), `$8        dw[wo + t] += gw[t];
')m4_dnl
$8    }
')

# The conv itself: groups of C/G input and CO/G output channels.
m4_define(`CV_CIG', `m4_eval(C / G)')
m4_define(`CV_COG', `m4_eval(CO / G)')
m4_define(`CV_KK', `m4_eval(K * K)')

# The floats from one image to the next in x and dx (CV_XS) and in y and
# dy (CV_YS): the image itself, but for a group of MixConv (mixconv.m4),
# which runs as a conv of its channels inside the images of the whole;
# and CV_LINKAGE, what the kernel functions are declared with (static
# for those groups).
m4_define(`CV_XS', `m4_eval(C * H * W)')
m4_define(`CV_YS', `m4_eval(CO * HO * WO)')
m4_define(`CV_LINKAGE', `')
m4_define(`CV_CIGKK', `m4_eval(C / G * K * K)')

# The product forms below (im2col, pointwise, shifted) run a grouped conv
# as one product per group: the filters of a group are one block of w, its
# channels one block of every image, so each product is the dense one of
# C/G input and CO/G output channels, at offsets. CV_EACH_GROUP(indent,
# statement): the statement once (G = 1) or in a loop over the groups grp;
# CV_AT(n): the offset of the block of n floats of group grp ("" when G = 1).
m4_define(`CV_EACH_GROUP', `m4_ifelse(G, 1, `$1$2
', `$1for (int grp = 0; grp < G; grp++)
$1    $2
')')
m4_define(`CV_AT', `m4_ifelse(G, 1, `', ` + grp * m4_eval($1)')')

# CV_GROUPS(text, indent): text for each group grp (a C loop when G > 1), with
# CV_XOFF, CV_YOFF, CV_WOFF its offsets as C expressions, and the
# indentation CV_IND of the statements inside.
m4_define(`CV_GROUPS',
`m4_ifelse(G, 1,
`m4_pushdef(`CV_XOFF', 0)m4_pushdef(`CV_YOFF', 0)m4_pushdef(`CV_WOFF', 0)m4_pushdef(`CV_IND', `$2')m4_dnl
$1`'m4_popdef(`CV_XOFF', `CV_YOFF', `CV_WOFF', `CV_IND')',
`$2for (int grp = 0; grp < G; grp++) {
m4_pushdef(`CV_XOFF', `grp * CV_CIG')m4_pushdef(`CV_YOFF', `grp * CV_COG')m4_dnl
m4_pushdef(`CV_WOFF', `grp * m4_eval(CV_COG * CV_CIG * K * K)')m4_pushdef(`CV_IND', `$2    ')m4_dnl
$1`'m4_popdef(`CV_XOFF', `CV_YOFF', `CV_WOFF', `CV_IND')m4_dnl
$2}
')')

m4_define(`CV_DESCRIBE',
`/* NAME: conv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, kernel K, stride S, padding PAD`'m4_ifelse(G, 1, `', `, G groups')`'m4_ifelse(BIAS, 1, `, bias')`'m4_ifelse(FUSED, none, `', `, then FUSED') */')

# CV_ACT: act where the forward applies FUSED as it stores its result (the
# inference library: plan.c, fuse_activations), in the store of its
# product (gemm.m4) or, in the planes form, in a pass over each image once
# all its groups are in (activation.m4); empty for none.
m4_define(`CV_ACT', `m4_ifelse(FUSED, none, `', `act')')
# CV_FWD_FLAGS: the flags of the planar forward product (gemm.m4): its
# activation, and the whole of each output, from the bias (CV_FB_ARG, its
# argument after the filters) or from 0, nothing set before it.
m4_define(`CV_FWD_FLAGS', `CV_ACT`'m4_ifelse(CV_FB, 1, ` bias', ` store')')
m4_define(`CV_FB_ARG', `m4_ifelse(CV_FB, 1, ` bias`'CV_AT(CV_COG)`,'')')

# Without groups, a convolution is a matrix product per image (im2col):
# y_b[CO x HO*WO] = w[CO x C*K*K] col_b[C*K*K x HO*WO], where row (ci, ky,
# kx) of col_b is input plane ci shifted by the tap (zeros off the edge).
# The backward is two more products: dw += dy_b col_b^T (with col_b built
# transposed, so that both products are of one kind) and dcol = w^T dy_b,
# scattered back into dx_b (col2im). The scratch matrices are static:
# no allocation in a step (and one step at a time).
m4_define(`CV_CKK', `m4_eval(C * K * K)')
m4_define(`CV_PIX', `m4_eval(HO * WO)')

# CV_TAP_ROWS(body): body for every row r = (ci, ky, kx) of col, with
# xc the input plane ci.
m4_define(`CV_TAP_ROWS',
`    MC_OMP_FOR
    for (int ci = 0; ci < C; ci++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const int r = (ci * K + ky) * K + kx;
                (void)r;
$1            }
')

# A strided conv without groups whose channels the plan finds worth it
# takes the channels-last forward (CV_CLF), filter gradient (CV_CLW) and
# input gradient (CV_CLX, by phases: below) instead, on its padded image.
m4_define(`CV_GEMM_HELPERS',
`m4_ifelse(CV_CLF, 1, `CV_CLF_HELPERS()', `MC_GEMM_NN(NAME`'_gemm_fwd, CV_COG, CV_PIX, CV_CIGKK, `', CV_FWD_FLAGS)')
m4_ifelse(CV_CLW, 1, `CV_CL_HELPERS(H, W)', `MC_GEMM_NN(NAME`'_gemm_dw, CV_COG, CV_CIGKK, CV_PIX)')
m4_ifelse(CV_CLX, 1, `CV_PH_HELPERS()', `MC_GEMM_NN(NAME`'_gemm_dx, CV_CIGKK, CV_PIX, CV_COG)
MC_TRANSPOSE(NAME`'_transpose_w, CV_COG, CV_CIGKK)')
m4_ifelse(CV_CLW, 1, `', `CV_CL_PAD(H, W)')m4_dnl
m4_ifelse(CV_CLF, 1, `', `
/* Row (ci, ky, kx) of col: input plane ci of xb seen through that tap. */
static void NAME`'_im2col(const float *restrict xb, float *restrict col)
{
CV_TAP_ROWS(`                const float *restrict xc = xb + ci * m4_eval(H * W);
                float *restrict row = col + r * CV_PIX;
CV_TAP_COPY(`row[oy * WO + ox]')m4_dnl
')m4_dnl
}
')m4_dnl
m4_ifelse(CV_CLW, 1, `', `
/* The same matrix transposed, a group at a time: one row of C/G*K*K taps
 * per output pixel. */
static void NAME`'_im2col_t(const float *restrict xb, float *restrict colt)
{
CV_TAP_ROWS(`                const float *restrict xc = xb + ci * m4_eval(H * W);
                float *restrict ct = colt + m4_ifelse(G, 1, `r', `ci / CV_CIG * m4_eval(CV_PIX * CV_CIGKK) + r % CV_CIGKK');
CV_TAP_COPY(`ct[(oy * WO + ox) * CV_CIGKK]')m4_dnl
')m4_dnl
}
')m4_dnl
m4_ifelse(CV_CLX, 1, `', `
/* The backward of im2col: every entry of dcol back to its input pixel. */
static void NAME`'_col2im(const float *restrict dcol, float *restrict dxb)
{
CV_TAP_ROWS(`                float *restrict dxc = dxb + ci * m4_eval(H * W);
                const float *restrict row = dcol + r * CV_PIX;
m4_ifelse(CV_TAP_SPLIT, 1, `CV_TAP_SPAN()')m4_dnl
                for (int oy = 0; oy < HO; oy++) {
                    const int iy = oy * S - PAD + ky;
                    if (iy < 0 || iy >= H)
                        continue;
m4_ifelse(CV_TAP_SPLIT, 1, `                    const int at = iy * W - PAD + kx; /* input column ox * S at dxc + at + ox * S */
                    for (int ox = lo; ox < hi; ox++)
                        dxc[at + ox * S] += row[oy * WO + ox];
', `                    for (int ox = 0; ox < WO; ox++) {
                        const int ix = ox * S - PAD + kx;
                        if (ix >= 0 && ix < W)
                            dxc[iy * W + ix] += row[oy * WO + ox];
                    }
')m4_dnl
                }
')m4_dnl
}
')')

# The input gradient of a strided conv by phases (CV_CLX): the input
# pixels whose padded row is PY mod S and column PX mod S (phase PY, PX)
# take their gradient from the taps ky = PY + S t, kx = PX + S u alone,
# and from the output pixels a step apart: per phase, a stride-1 product
# of dy, padded channels-last by CV_PT - 1 rows and columns above and
# left, through a window of CV_PH_T(PY) x CV_PH_T(PX) taps (flipped),
# the channels-last forward of gemm.m4 (its KX). Every multiply-add is one
# of the conv, where the planar form cleared a matrix of every tap per
# image, filled it and scattered it back (col2im). Each phase lands in
# its pixels of the channels-last dxt, transposed back to planes once.
# CV_PT: the taps of the widest phase; CV_PH_T(r): of phase r on an axis;
# CV_PH_SUM(r): of the phases before r; CV_PH_A0(r) .. CV_PH_A1(r, n): the
# indices a of phase r whose input row (or column) a S + r - PAD lies in
# 0 .. n - 1, CV_PH_N(r, n) how many.
m4_define(`CV_PT', `m4_eval((K + S - 1) / S)')
m4_define(`CV_PH_T', `m4_eval((K - $1 + S - 1) / S)')
m4_define(`CV_PH_SUM', `m4_ifelse($1, 0, 0, `m4_eval(CV_PH_SUM(m4_decr($1)) + CV_PH_T(m4_decr($1)))')')
m4_define(`CV_PH_A0', `m4_ifelse(m4_eval(PAD > $1), 1, `m4_eval((PAD - $1 + S - 1) / S)', 0)')
m4_define(`CV_PH_A1', `m4_eval(($2 + PAD - $1 + S - 1) / S)')
m4_define(`CV_PH_N', `m4_eval(CV_PH_A1($1, $2) - CV_PH_A0($1))')
# The padded dy (CV_PH_HD x CV_PH_WD pixels), the most pixels of a phase,
# and where phase (PY, PX) starts in the filters (wq) and in dy (the
# window of its first pixel, narrower phases starting further in).
m4_define(`CV_PH_HD', `m4_eval((H + PAD + S - 1) / S + CV_PT - 1)')
m4_define(`CV_PH_WD', `m4_eval((W + PAD + S - 1) / S + CV_PT - 1)')
m4_define(`CV_PH_MAXP', `m4_eval((H + S - 1) / S * ((W + S - 1) / S))')
m4_define(`CV_PH_OFF', `m4_eval(CO * CV_CP * (CV_PH_SUM($1) * K + CV_PH_T($1) * CV_PH_SUM($2)))')
m4_define(`CV_PH_DYAT', `m4_eval(((CV_PH_A0($1) + CV_PT - CV_PH_T($1)) * CV_PH_WD + CV_PH_A0($2) + CV_PT - CV_PH_T($2)) * CV_COP)')
# CV_PH_EACH(text): text for every phase PY, PX that has pixels.
m4_define(`CV_PH_EACH', `MC_FOR(`PY', 0, m4_eval(S - 1), `MC_FOR(`PX', 0, m4_eval(S - 1),
    `m4_ifelse(m4_eval(CV_PH_N(PY, H) > 0 && CV_PH_N(PX, W) > 0), 1, `$1')')')')
m4_define(`CV_PH_HELPERS',
`CV_PH_EACH(`MC_GEMM_CL_FWD(NAME`'_gemm_dx_p`'PY`'PX, m4_eval(CV_PH_N(PY, H) * CV_PH_N(PX, W)), CV_PH_N(PX, W), CV_CP, CO,
    CV_PH_T(PY), CV_PH_WD, `', `', CV_COP, 1, CV_PH_T(PX))
')m4_dnl
MC_CL_IN(NAME`'_dy_cl, HO, WO, m4_eval(CV_PT - 1), CV_PH_WD, CV_COP, CV_COG_V, `', `', CO)
MC_CL_OUT(NAME`'_dx_out, m4_eval(H * W), CV_CP, CV_CG, `', `', `', C)
/* The filters of every phase, flipped, as the rows of its product:
 * phase (py, px) from its offset, its row (jy, jx, co) the tap ky = py +
 * S (ty - 1 - jy), kx = px + S (tx - 1 - jx), its columns the input
 * channels (padded ones 0). */
static void NAME`'_order_dx_ph(const float *restrict w, float *restrict out)
{
    static const int taps_before[S] = {MC_FOR(`PY', 0, m4_eval(S - 1), `m4_ifelse(PY, 0, `', `, ')CV_PH_SUM(PY)')};
    memset(out, 0, sizeof(float) * m4_eval(CO * K * K * CV_CP));
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < C; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    const int py = ky % S, px = kx % S, ty = (m4_eval(K + S - 1) - py) / S, tx = (m4_eval(K + S - 1) - px) / S;
                    const int at = m4_eval(CO * CV_CP) * (taps_before[py] * K + ty * taps_before[px]);
                    const int jy = ty - 1 - ky / S, jx = tx - 1 - kx / S;
                    out[at + ((jy * tx + jx) * CO + co) * CV_CP + ci] = w[((co * C + ci) * K + ky) * K + kx];
                }
}

/* A phase of na x nb pixels from ph into its pixels of dxt, the first at
 * input pixel (iy0, ix0), the others S apart. */
static void NAME`'_dx_phase(const float *restrict ph, float *restrict dxt, int iy0, int ix0, int na, int nb)
{
    for (int a = 0; a < na; a++)
        for (int q = 0; q < nb; q++)
            memcpy(dxt + ((iy0 + a * S) * W + ix0 + q * S) * CV_CP, ph + (a * nb + q) * CV_CP, sizeof(float) * CV_CP);
}
')
# The input gradient stored or added as acc says.
m4_define(`CV_BWD_DX_PHASES',
`    static _Alignas(64) float wq[m4_eval(CO * K * K * CV_CP)];
    NAME`'_order_dx_ph(w, wq);
    MC_OMP_PARALLEL
    {
        _Alignas(64) float dyt[m4_eval(CV_PH_HD * CV_PH_WD * CV_COP)], dxt[m4_eval(H * W * CV_CP)], ph[m4_eval(CV_PH_MAXP * CV_CP)];
        memset(dyt, 0, sizeof dyt);
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
            NAME`'_dy_cl(dy + (long)b * CV_YS, dyt);
CV_PH_EACH(`            NAME`'_gemm_dx_p`'PY`'PX`'(dyt + CV_PH_DYAT(PY, PX), wq + CV_PH_OFF(PY, PX), 0, ph);
            NAME`'_dx_phase(ph, dxt, m4_eval(CV_PH_A0(PY) * S + PY - PAD), m4_eval(CV_PH_A0(PX) * S + PX - PAD), CV_PH_N(PY, H), CV_PH_N(PX, W));
')m4_dnl
            NAME`'_dx_out(dxt, dx + (long)b * CV_XS, acc);
        }
    }
')

# CV_TAP_SPAN: lo .. hi - 1, the output columns whose input column ox * S
# - PAD + kx lies in the plane: the others read the padding. With rows of
# at least 16 outputs (CV_TAP_SPLIT) the copies run over that span with
# no bounds test per element (the inception_mix MixConv at 24 x 36, stride
# 2: forward 1.8x, backward 1.6x faster on avx2, 1.9x and 1.5x on avx512);
# on shorter rows the loops of a few elements each cost more than the
# tests (its MixConv at 12 x 18: 0.78x and 0.84x on avx2), and one loop
# tests every element, written as before (a row pointer beside it made the
# avx512 build of that MixConv 0.8x).
m4_define(`CV_TAP_SPLIT', `m4_eval(WO >= 16)')
m4_define(`CV_TAP_SPAN',
`                const int lo = PAD > kx ? (PAD - kx + S - 1) / S : 0;
                const int hi_ = W + PAD - kx - 1 >= 0 ? (W + PAD - kx - 1) / S + 1 : 0;
                const int hi = hi_ > WO ? WO : hi_ < lo ? lo : hi_;
')
# CV_TAP_COPY(element): the matrix of the tap from plane xc, element its
# entry for output (oy, ox).
m4_define(`CV_TAP_COPY',
`m4_ifelse(CV_TAP_SPLIT, 1, `CV_TAP_SPAN()')m4_dnl
                for (int oy = 0; oy < HO; oy++) {
                    const int iy = oy * S - PAD + ky;
m4_ifelse(CV_TAP_SPLIT, 1, `                    const int at = iy * W - PAD + kx; /* input column ox * S at xc + at + ox * S */
                    const int in = iy >= 0 && iy < H, a = in ? lo : WO, e = in ? hi : WO;
                    int ox = 0;
                    for (; ox < a; ox++)
                        $1 = 0.0f;
                    for (; ox < e; ox++)
                        $1 = xc[at + ox * S];
                    for (; ox < WO; ox++)
                        $1 = 0.0f;
', `                    for (int ox = 0; ox < WO; ox++) {
                        const int ix = ox * S - PAD + kx;
                        $1 = iy >= 0 && iy < H && ix >= 0 && ix < W ? xc[iy * W + ix] : 0.0f;
                    }
')m4_dnl
                }
')

m4_define(`CV_FWD_GEMM',
`    MC_STATIC(float, col, m4_eval(CV_CKK * CV_PIX));
    for (int b = 0; b < n; b++) {
CV_FWD_STEPS(`col', `NAME`'_im2col(x + (long)b * CV_XS, col);', `', `        ')m4_dnl
    }
')

# CV_FWD_STEPS(b, before, par, indent): image b: the statement before,
# then the product of the filters and the matrix b into y (from the
# bias). par: 1 when the team splits the image
# (before one thread, the rest shared out), 0 when the image is a
# thread of its own, empty for a product that splits itself.
m4_define(`CV_FWD_STEPS',
`$4`'float *restrict yb = y + (long)b * CV_YS;
m4_ifelse(`$2', `', `', `CV_ONE_STEP(`$4', `$3', `$2')')m4_dnl
CV_EACH_GROUP(`$4', `NAME`'_gemm_fwd(w`'CV_AT(CV_COG * CV_CIGKK),CV_FB_ARG $1`'CV_AT(CV_CIGKK * CV_PIX), yb`'CV_AT(CV_COG * CV_PIX)`'CV_PAR(`$3'));')m4_dnl
')
# CV_STEP_LOOP(indent, par): what shares out a loop over the channels of
# an image: the team splitting it (par 1), nothing on a thread of its own
# (par 0), a team of its own where the images take turns (par empty).
m4_define(`CV_STEP_LOOP', `m4_ifelse(`$2', 1, `$1`'MC_OMP_FOR_IN
', `$2', 0, `', `$1`'MC_OMP_FOR
')')
# CV_ONE_STEP(indent, par, statement): the statement, taken by one
# thread of the team when it splits the image (par 1).
m4_define(`CV_ONE_STEP', `m4_ifelse(`$2', 1, `$1`'MC_OMP_SINGLE
')$1`'$3
')
# CV_PAR(par): the last argument of a split product (none when par is empty).
m4_define(`CV_PAR', `m4_ifelse(`$1', `', `', `, $1')')

m4_define(`CV_BWD_GEMM',
`m4_ifelse(CV_CLW, 1, `CV_DW_CL()', `CV_BWD_GEMM_DW()')m4_dnl
m4_ifelse(CV_CLX, 1, `CV_BWD_DX_PHASES()', `CV_BWD_DX_COL2IM()')')
# The planar filter gradient: per image, the im2col matrix transposed and
# its product with dy.
m4_define(`CV_BWD_GEMM_DW',
`    static float colt[m4_eval(CV_PIX * CV_CKK)];
    for (int b = 0; b < n; b++) {
        NAME`'_im2col_t(x + (long)b * CV_XS, colt);
CV_EACH_GROUP(`        ', `NAME`'_gemm_dw(dy + (long)b * CV_YS`'CV_AT(CV_COG * CV_PIX), colt`'CV_AT(CV_PIX * CV_CIGKK), dw`'CV_AT(CV_COG * CV_CIGKK));')m4_dnl
    }
')
# The planar input gradient: per image, dcol = w^T dy scattered back (col2im).
m4_define(`CV_BWD_DX_COL2IM',
`    static float wt[m4_eval(CV_CIGKK * CO)], dcol[m4_eval(CV_CKK * CV_PIX)];
CV_EACH_GROUP(`    ', `NAME`'_transpose_w(w`'CV_AT(CV_COG * CV_CIGKK), wt`'CV_AT(CV_COG * CV_CIGKK));')m4_dnl
    for (int b = 0; b < n; b++) {
        const float *restrict dyb = dy + (long)b * CV_YS;
        memset(dcol, 0, sizeof dcol);
CV_EACH_GROUP(`        ', `NAME`'_gemm_dx(wt`'CV_AT(CV_COG * CV_CIGKK), dyb`'CV_AT(CV_COG * CV_PIX), dcol`'CV_AT(CV_CIGKK * CV_PIX));')m4_dnl
        NAME`'_col2im(dcol, dx + (long)b * CV_XS);
    }
')

# A pointwise convolution (1x1, no padding) needs no im2col: per image,
# y_b[CO x HO*WO] = w[CO x C] x_b[C x HO*WO], with x_b read in place at
# stride 1, its every S-th pixel of every S-th row gathered first (xs) at
# stride S. The filter gradient is the transposed product over the images
# (in chunks of gathered images when strided), the input gradient w^T dy_b
# (scattered back to those pixels when strided). Images run in parallel.
m4_define(`CV_POINT', `m4_eval(K == 1 && PAD == 0 && !CV_PLANES)')
m4_define(`CV_CPIX', `m4_eval(C * CV_PIX)')
m4_define(`CV_NBS', `CV_CHUNK(CV_CPIX, 32, 2 * L2_FLOATS)')

# CV_CHUNK(floats, most, budget): images per chunk of a filter gradient
# whose images take floats each: up to most, within budget floats (at
# least one).
m4_define(`CV_CHUNK', `m4_ifelse(m4_eval(($1) * $2 <= $3), 1, $2, m4_eval(($1) >= $3), 1, 1, `m4_eval($3 / ($1))')')

# CV_CHUNKS(nb, prepare, args): the filter gradient by chunks of nb
# images: the threads prepare the chunk image by image (image b0 + i;
# prepare is the statement of the loop over i), then one product over
# the chunk, gemm_dw(nb, args).
m4_define(`CV_CHUNKS',
`    for (int b0 = 0; b0 < n; b0 += $1) {
        const int nb = n - b0 < $1 ? n - b0 : $1;
        MC_OMP_FOR
        for (int i = 0; i < nb; i++)$2
CV_EACH_GROUP(`        ', `NAME`'_gemm_dw(nb, $3);')m4_dnl
    }
')

# With whole vectors of channels the filter gradient takes the
# channels-last product below (CV_CLW, the plan's), strided ones when a
# gathered image fits a thread.
m4_define(`CV_POINT_HELPERS',
`m4_ifelse(CV_CLF, 1, `CV_CLF_HELPERS()', `MC_GEMM_NN(NAME`'_gemm_fwd, CV_COG, m4_eval(CV_PIX * m4_ifelse(CV_PW_BATCH, 0, 1, CV_PW_BATCH)), CV_CIG,
    m4_ifelse(m4_eval(CV_FWD_POINT_SCRATCH <= L2_FLOATS), 1, split), CV_FWD_FLAGS)')
m4_ifelse(CV_CLW, 1, `CV_CL_HELPERS(HO, WO)', `MC_GEMM_NT_TAPS(NAME`'_gemm_dw, CV_COG, CV_PIX, CV_CIG, 1, CV_PIX, 0, CV_YS, m4_ifelse(S, 1, CV_XS, CV_CPIX), CV_DW_INNER)')
m4_ifelse(CV_CLW, 1, `', `CV_CL_PAD(HO, WO)')m4_dnl
m4_ifelse(CV_CLX, 1, `CV_CLX_HELPERS()', `MC_GEMM_NN(NAME`'_gemm_dx, CV_CIG, CV_PIX, CV_COG, `', m4_ifelse(CV_FOLD_IN_PRODUCT, 1, `fold', S, 1, `', `store'))
MC_TRANSPOSE(NAME`'_transpose_w, CV_COG, CV_CIG)')
m4_ifelse(S, 1, `', `
/* The pixels of image xb that the filters see, as planes of HO x WO. */
static void NAME`'_gather(const float *restrict xb, float *restrict xs)
{
    for (int ci = 0; ci < C; ci++)
        for (int oy = 0; oy < HO; oy++)
            for (int ox = 0; ox < WO; ox++)
                xs[(ci * HO + oy) * WO + ox] = xb[(ci * H + oy * S) * W + ox * S];
}

/* Their gradients, back to those pixels of dxb: added, or with store
 * the whole of dxb written (the other pixels 0), a row at a time in
 * cache, where clearing the image first and adding wrote it twice. */
static void NAME`'_scatter(const float *restrict dxs, float *restrict dxb, int store)
{
    for (int ci = 0; ci < C; ci++)
        for (int iy = 0; iy < H; iy++) {
            float *restrict row = dxb + (ci * H + iy) * W;
            if (store)
                memset(row, 0, sizeof(float) * W);
            if (iy % S || iy / S >= HO)
                continue;
            const float *restrict src = dxs + (ci * HO + iy / S) * WO;
MC_ADD_OR_STORE(`            ', `for (int ox = 0; ox < WO; ox++)', `row[ox * S]', `src[ox]', `!store')m4_dnl
        }
}
')')

m4_define(`CV_FWD_POINT_SCRATCH', `m4_ifelse(S, 1, 0, CV_CPIX)')
m4_define(`CV_FWD_POINT',
`m4_ifelse(m4_eval(CV_PW_BATCH > 0), 1, `CV_FWD_POINT_BATCH()', S, 1, `CV_IMAGE_STEPS(0, `', `CV_FWD_POINT_STEPS')',
    `CV_IMAGE_STEPS(CV_CPIX, `float xs[CV_CPIX];', `CV_FWD_POINT_STEPS', `MC_STATIC(float, xs, CV_CPIX);')')m4_dnl
')
# On a plane of fewer pixels than a vector (2 x 2 on 16 lanes) the
# product per image fills a quarter of its vectors: CV_PW_BATCH images
# (the plan's, plan.c pointwise_batch) go into one product instead, their
# planes side by side in xb (the last block of images padded with zeros),
# its result copied back to each image.
m4_define(`CV_PWB_N', `m4_eval(CV_PW_BATCH * CV_PIX)')
m4_define(`CV_FWD_POINT_BATCH',
`    MC_OMP_PARALLEL
    {
        _Alignas(64) float xb[m4_eval(C * CV_PWB_N)], yb[m4_eval(CO * CV_PWB_N)];
        MC_OMP_FOR_IN
        for (int b0 = 0; b0 < n; b0 += CV_PW_BATCH) {
            const int nb = n - b0 < CV_PW_BATCH ? n - b0 : CV_PW_BATCH;
            for (int ci = 0; ci < C; ci++)
                for (int i = 0; i < CV_PW_BATCH; i++)
                    for (int p = 0; p < CV_PIX; p++)
                        xb[ci * CV_PWB_N + i * CV_PIX + p] = i < nb ? x[(long)(b0 + i) * CV_XS + ci * CV_PIX + p] : 0.0f;
            NAME`'_gemm_fwd(w,CV_FB_ARG xb, yb, 0);
            for (int i = 0; i < nb; i++)
                for (int co = 0; co < CO; co++)
                    for (int p = 0; p < CV_PIX; p++)
                        y[(long)(b0 + i) * CV_YS + co * CV_PIX + p] = yb[co * CV_PWB_N + i * CV_PIX + p];
        }
    }
')
m4_define(`CV_FWD_POINT_STEPS', `m4_ifelse(S, 1, `CV_FWD_STEPS(`x + (long)b * CV_XS', `', `$1', `$2')',
    `CV_FWD_STEPS(`xs', `NAME`'_gather(x + (long)b * CV_XS, xs);', `$1', `$2')')')

m4_define(`CV_BWD_POINT',
`m4_ifelse(S, 1, `m4_ifelse(CV_CLW, 1, `CV_DW_CL()', `CV_EACH_GROUP(`    ', `NAME`'_gemm_dw(n, dy`'CV_AT(CV_COG * CV_PIX), x`'CV_AT(CV_CIG * CV_PIX), dw`'CV_AT(CV_COG * CV_CIG));')')',
`m4_ifelse(CV_CLW, 1, `CV_DW_CL()', `    static float xs[m4_eval(CV_NBS * CV_CPIX)];
CV_CHUNKS(CV_NBS, `
            NAME`'_gather(x + (long)(b0 + i) * CV_XS, xs + (long)i * CV_CPIX);',
    `dy + (long)b0 * CV_YS`'CV_AT(CV_COG * CV_PIX), xs`'CV_AT(CV_CIG * CV_PIX), dw`'CV_AT(CV_COG * CV_CIG)')')')m4_dnl
m4_ifelse(FOLD, 1, `CV_FOLD_BWD()')m4_dnl
m4_ifelse(CV_CLX, 1, `CV_BWD_DX_CL()', `CV_BWD_DX_POINT()')m4_dnl
')

# The planar input gradient, per image: w^T dy_b.
m4_define(`CV_BWD_DX_POINT',
`    static float wt[m4_eval(CV_CIG * CO)];
CV_EACH_GROUP(`    ', `NAME`'_transpose_w(CV_WDX`'CV_AT(CV_COG * CV_CIG), wt`'CV_AT(CV_COG * CV_CIG));')m4_dnl
m4_ifelse(S, 1, `    MC_OMP_FOR
    for (int b = 0; b < n; b++) {
m4_ifelse(CV_FOLD_IN_PRODUCT, 1, `        NAME`'_gemm_dx(wt, dy + (long)b * CV_YS, dx + (long)b * CV_XS, x + (long)b * CV_XS, mean, fa, fb, acc);
', `CV_DX_INIT(`        ')m4_dnl
CV_EACH_GROUP(`        ', `NAME`'_gemm_dx(wt`'CV_AT(CV_COG * CV_CIG), dy + (long)b * CV_YS`'CV_AT(CV_COG * CV_PIX), dx + (long)b * CV_XS`'CV_AT(CV_CIG * CV_PIX));')')m4_dnl
    }
', `CV_IMAGES(CV_CPIX, `float dxs[CV_CPIX];',
`    for (int b = 0; b < n; b++) {
CV_EACH_GROUP(`        ', `NAME`'_gemm_dx(wt`'CV_AT(CV_COG * CV_CIG), dy + (long)b * CV_YS`'CV_AT(CV_COG * CV_PIX), dxs`'CV_AT(CV_CIG * CV_PIX));')m4_dnl
CV_DX_SCATTER(`        ')m4_dnl
    }
')')m4_dnl
')


# A stride-1 convolution with a window wider than 1 skips im2col: the
# input image is copied once into a zero-padded (H + 2 PAD) x (W + 2 PAD)
# image xp, and row (ci, ky, kx) of the im2col matrix is then xp itself,
# shifted by ci * HP * WP + ky * WP + kx, if the output is computed on the
# padded width WP (the WP - WO extra columns of each output row are
# computed and dropped). The products read those rows in place (the tap
# forms of gemm.m4). The input gradient is the forward
# of the output gradient, padded by K - 1 - PAD, through the filters
# flipped and transposed, computed the same way. Grids are rounded up to
# whole vectors; the padded images have room for the last shifted row.
m4_define(`CV_SHIFTED', `m4_eval(S == 1 && K > 1 && PAD <= K - 1 && !CV_PLANES)')
m4_define(`CV_HP', `m4_eval(H + 2 * PAD)')
m4_define(`CV_WP', `m4_eval(W + 2 * PAD)')
m4_define(`CV_NP', `m4_eval((HO * CV_WP + VL - 1) / VL * VL)')
m4_define(`CV_XP', `m4_eval((C - 1) * CV_HP * CV_WP + (K - 1) * CV_WP + K - 1 + CV_NP)')
m4_define(`CV_Q', `m4_eval(K - 1 - PAD)')
m4_define(`CV_HQ', `m4_eval(H + K - 1)')
m4_define(`CV_WQ', `m4_eval(W + K - 1)')
m4_define(`CV_NQ', `m4_eval((H * CV_WQ + VL - 1) / VL * VL)')
m4_define(`CV_DYQ', `m4_eval((CO - 1) * CV_HQ * CV_WQ + (K - 1) * CV_WQ + K - 1 + CV_NQ)')
# Images per chunk of the filter gradient: up to 16, about 1 MB of padded images.
m4_define(`CV_NB', `CV_CHUNK(CV_XP, 16, 4 * L2_FLOATS)')

# With whole vectors of channels, the filter gradient reads the images
# padded with their channels last instead (xt, CV_XT floats each): a
# product with one row of B per output pixel, its columns every tap of
# every channel, broadcasts of dy against vectors of x, the same form as
# the forward; no lane sums, no padded dy. Its columns come out as (tap,
# channel), put back in the order of w at the end.
m4_define(`CV_XT', `m4_ifelse(CV_CL_PADDED, 1, `m4_eval(CV_HP * CV_WP * CV_CP)', `m4_eval(HO * WO * CV_CP)')')
# A strided conv wider than 1x1 (CV_STRIDED_K) reads its padded image
# too, its windows S pixels apart (CV_CL_S), where a strided pointwise
# conv gathers its pixels first (CV_CL_PADDED 0).
m4_define(`CV_STRIDED_K', `m4_eval(S > 1 && K > 1 && G == 1 && !CV_PLANES)')
m4_define(`CV_CL_PADDED', `m4_eval(S == 1 || CV_STRIDED_K)')
m4_define(`CV_CL_S', `m4_ifelse(CV_STRIDED_K, 1, S, 1)')
# The channels of a pixel in these forms, rounded up to whole vectors
# (zeros past the last channel; the plan weighs the lanes lost so against
# those the planar forms lose: plan.c, conv_rules): of the input (CV_CP)
# and of the output (CV_COP). CV_CG, CV_COG_V: the vectors of each.
m4_define(`CV_CP', `m4_eval((C + VL - 1) / VL * VL)')
m4_define(`CV_COP', `m4_eval((CO + VL - 1) / VL * VL)')
m4_define(`CV_CG', `m4_eval(CV_CP / VL)')
m4_define(`CV_COG_V', `m4_eval(CV_COP / VL)')
# The filter gradient of the channels-last product: a row per output
# channel, a column per (tap, padded input channel).
m4_define(`CV_DWT', `m4_eval(CO * K * K * CV_CP)')
m4_define(`CV_NBT', `CV_CHUNK(CV_XT, 32, 2 * L2_FLOATS)')
# CV_CL_HELPERS(IH, IW): that product, and with a folded batch norm the
# transpose that builds xt normalized from planes of IH x IW (the input,
# or its gathered pixels when strided). CV_CL_PAD(IH, IW): the transpose
# that builds xt as it is, for the forward and the filter gradient.
m4_define(`CV_CL_HELPERS',
`m4_ifelse(CV_DW_BAND, 0, `MC_GEMM_NN_CL(NAME`'_gemm_dw, CO, CV_CP, K, HO, WO, m4_eval($2 + 2 * PAD), CV_YS, CV_XT,
    m4_ifelse(CV_DW_OWN, 1, serial), CV_CL_S)',
`m4_ifelse(m4_eval(K == 1 && PAD == 0 && S == 1), 1, `',
`m4_errprint(`conv.m4: NAME: bands of the filter gradient need a pointwise conv at stride 1 (plan.c, pointwise_band_rows)
')m4_m4exit(1)')m4_dnl
MC_GEMM_NN_CL(NAME`'_gemm_dw, CO, CV_CP, 1, CV_DW_BAND, W, W, CV_YS, CV_XTW, serial, 1, m4_eval(H * W))

/* Rows y0 .. y0 + CV_DW_BAND - 1 of image xb (planes at xb + y0 * W) channels-last`'m4_ifelse(FOLD, 1, `,
 * each channel normalized by the folded batch norm', ` as they are'). */
m4_ifelse(FOLD, 1, `MC_CL_IN(NAME`'_band_cl, CV_DW_BAND, W, 0, W, C, m4_eval(C / VL), hat, `', `', m4_eval(H * W))',
    `MC_CL_IN(NAME`'_band_cl, CV_DW_BAND, W, 0, W, CV_CP, CV_CG, `', `', C, m4_eval(H * W))')')

CV_CL_PAD($1, $2)m4_dnl
m4_ifelse(m4_eval(FOLD && CV_DW_BAND == 0), 1, `
/* Image xb channels-last, each channel normalized by the folded batch norm. */
MC_CL_IN(NAME`'_hat_cl, $1, $2, PAD, m4_eval($2 + 2 * PAD), C, m4_eval(C / VL), hat)')')
m4_define(`CV_CL_PAD', `m4_ifelse(m4_eval(!CV_WINO && (CV_CLF || (CV_CLW && !FOLD && CV_DW_BAND == 0))), 1, `/* Image xb into the interior of the zero-padded, channels-last xt. */
MC_CL_IN(NAME`'_pad_cl, $1, $2, PAD, m4_eval($2 + 2 * PAD), CV_CP, CV_CG, `', `', C)')')
# CV_DW_BAND (the plan's: plan.c, pointwise_band_rows): a pointwise filter
# gradient at stride 1 whose image does not fit a thread goes by bands of
# that many rows of each image, in the form of CV_DW_OWN (a thread's own
# images): each band transposed into xt and its product taken while xt is
# in cache, where the whole image transposed was read back from memory by
# every block of rows of the product; 0: whole images. CV_XTW: the floats
# of the filter gradient's xt, a band or an image.
m4_define(`CV_XTW', `m4_ifelse(CV_DW_BAND, 0, `CV_XT', `m4_eval(CV_DW_BAND * W * CV_CP)')')

# CV_ORDER(fn, comment, dst, tap[, size]): static void NAME_fn(w, out), the
# filters w[co][ci][t] (ci of the C/G of the group of co) rearranged for a
# product: out[dst] = w[co][ci][tap] (dst and tap expressions of co, ci
# and the tap t); with size, out (size floats) cleared first, the places
# of padded channels left 0.
m4_define(`CV_ORDER',
`/* $2 */
static void NAME`'_$1(const float *restrict w, float *restrict out)
{
m4_ifelse(`$5', `', `', `    memset(out, 0, sizeof(float) * $5);
')m4_dnl
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < CV_CIG; ci++)
            for (int t = 0; t < m4_eval(K * K); t++)
                out[$3] = w[(co * CV_CIG + ci) * m4_eval(K * K) + $4];
}
')

m4_define(`CV_SHIFT_HELPERS',
`m4_ifelse(CV_WINO, 1, `WINO_ALL_HELPERS()', CV_CLF, 1, `CV_CLF_HELPERS()', `MC_GEMM_NN_TAPS(NAME`'_gemm_fwd, CV_COG, CV_NP, CV_CIG, K, m4_eval(CV_HP * CV_WP), CV_WP,
    m4_ifelse(m4_eval(CV_FWD_SCRATCH <= L2_FLOATS), 1, split), CV_FWD_FLAGS)')
m4_ifelse(CV_WINO, 1, `', CV_CLW, 1, `CV_CL_HELPERS(H, W)', `MC_GEMM_NT_TAPS(NAME`'_gemm_dw, CV_COG, CV_NP, CV_CIG, K, m4_eval(CV_HP * CV_WP), CV_WP, m4_eval(CO * CV_NP), CV_XP, CV_DW_INNER)')
m4_ifelse(CV_CLW, 1, `', `CV_CL_PAD(H, W)')m4_dnl
m4_ifelse(CV_WINO, 1, `', CV_CLX, 1, `CV_CLX_HELPERS()', `MC_GEMM_NN_TAPS(NAME`'_gemm_dx, CV_CIG, CV_NQ, CV_COG, K, m4_eval(CV_HQ * CV_WQ), CV_WQ)')
m4_ifelse(m4_eval(!CV_WINO && (!CV_CLF || !CV_CLW)), 1, `CV_PAD_FN()')m4_dnl
m4_ifelse(m4_eval(CV_CLX || CV_WINO), 1, `', `
CV_ORDER(flip, `The filters of the input gradient, a group at a time: wf[ci][co][ky][kx] = w[co][ci][K-1-ky][K-1-kx].',
    `m4_ifelse(G, 1, `(ci * CO + co)', `((co / CV_COG * CV_CIG + ci) * CV_COG + co % CV_COG)') * m4_eval(K * K) + t', `m4_eval(K * K - 1) - t')')')

m4_define(`CV_PAD_FN', `
/* Image xb into the interior of the zero-padded xp (its border stays 0). */
static void NAME`'_pad(const float *restrict xb, float *restrict xp)
{
    for (int ci = 0; ci < C; ci++)
        for (int iy = 0; iy < H; iy++)
            memcpy(xp + (ci * CV_HP + iy + PAD) * CV_WP + PAD, xb + (ci * H + iy) * W, W * sizeof(float));
}
')

# Images run in parallel, each thread with its own padded image and grid
# on its stack (zeroed once per call, so the borders stay 0) when they are
# small (up to the target's L2 budget, L2_FLOATS); larger ones are static and the images take turns,
# the products split over threads instead.
m4_define(`CV_FWD_SCRATCH', `m4_eval(CV_XP + CO * CV_NP)')
# CV_IMAGE_STEPS(floats, scratch, steps, statics): the same for a forward
# whose product splits (its parts shared out: common.m4), steps(par,
# indent) the body of the loop over the images b, statics the scratch of
# the larger images (arrays of the kernel in a training step, the
# workspace of the caller in the inference library, which threads may
# call at once). In the parallel case, with fewer images than
# threads (MC_FEW_IMAGES), the team shares one scratch on the stack of
# the caller and splits each image instead (steps with par 1), where the
# plan asks for it (CV_SPLIT: split_image in generator/plan.c).
m4_define(`CV_IMAGE_STEPS',
`m4_ifelse(m4_eval($1 <= L2_FLOATS), 1, `m4_ifelse(CV_SPLIT, 1, `    if (MC_FEW_IMAGES(n)) {
m4_ifelse(`$2', `', `', `        $2
')m4_dnl
        MC_OMP_PARALLEL
        for (int b = 0; b < n; b++) {
$3(1, `            ')m4_dnl
        }
        return;
    }
')m4_dnl
    MC_OMP_PARALLEL
    {
m4_ifelse(`$2', `', `', `        $2
')m4_dnl
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
$3(0, `            ')m4_dnl
        }
    }
', `    $4
    for (int b = 0; b < n; b++) {
$3(`', `        ')m4_dnl
    }
')')
m4_define(`CV_DX_SCRATCH', `m4_eval(CV_DYQ + C * CV_NQ)')
m4_define(`CV_IMAGES',
`m4_ifelse(m4_eval($1 <= L2_FLOATS), 1, `    MC_OMP_PARALLEL
    {
        $2
        MC_OMP_FOR_IN
$3    }
', `    static $2
$3')')

m4_define(`CV_FWD_SHIFT',
`CV_IMAGE_STEPS(CV_FWD_SCRATCH, `float xp[CV_XP] = {0}, yg[m4_eval(CO * CV_NP)];', `CV_FWD_SHIFT_STEPS',
    `MC_STATIC_AT(float, xp, CV_XP, 0, zero);
    MC_STATIC_AT(float, yg, m4_eval(CO * CV_NP), m4_eval((CV_XP + 15) / 16 * 16));')m4_dnl
')
# CV_FWD_SHIFT_STEPS(par, indent): image b, as the pointwise steps above.
m4_define(`CV_FWD_SHIFT_STEPS',
`$2`'float *restrict yb = y + (long)b * CV_YS;
CV_ONE_STEP(`$2', `$1', `NAME`'_pad(x + (long)b * CV_XS, xp);')m4_dnl
CV_EACH_GROUP(`$2', `NAME`'_gemm_fwd(w`'CV_AT(CV_COG * CV_CIGKK),CV_FB_ARG xp`'CV_AT(CV_CIG * CV_HP * CV_WP), yg`'CV_AT(CV_COG * CV_NP)`'CV_PAR(`$1'));')m4_dnl
CV_STEP_LOOP(`$2', `$1')m4_dnl
$2`'for (int co = 0; co < CO; co++)
$2    for (int oy = 0; oy < HO; oy++)
$2        memcpy(yb + (co * HO + oy) * WO, yg + co * CV_NP + oy * CV_WP, WO * sizeof(float));
')

# The extra columns of dyp and the border of dyq are never written: they
# stay 0, so the dropped outputs add nothing to dw and the shifted rows
# read zeros off the edge. The filter gradient goes by chunks of images
# (the product splits over threads), the input gradient image by image.
# When an image fits a thread (CV_DW_OWN, the plan's: its L2 budget), the images go in
# CV_NCH fixed chunks instead, a thread taking whole chunks, each chunk
# summed into its own part of dwt (the product per image, serial); the
# parts are added in chunk order at the end. No barrier per image or
# chunk, and the sums do not depend on the thread count (see common.m4).
m4_define(`CV_NCH', `MC_NCH(CV_DWT)')
m4_define(`CV_DW_CL', `m4_ifelse(m4_eval(CV_DW_OWN || CV_DW_BAND > 0), 1, `CV_DW_CL_OWN()', `CV_DW_CL_SHARED()')')
m4_define(`CV_DW_CL_OWN',
`    static float dwt[m4_eval(CV_NCH * CV_DWT)];
    MC_OMP_PARALLEL
    {
        _Alignas(64) float xt[CV_XTW];
m4_ifelse(CV_CL_PADDED, 1, `', `        float xs[CV_CPIX];
')m4_dnl
m4_ifelse(PAD, 0, `', `        memset(xt, 0, sizeof xt);
')m4_dnl
MC_IMAGE_CHUNKS(dwt, CV_NCH, CV_DWT, `m4_ifelse(CV_DW_BAND, 0, `CV_CL_IMAGE(`                ', CV_DW_KIND)m4_dnl
                NAME`'_gemm_dw(1, dy + (long)b * CV_YS, xt, part);
', `                for (int y0 = 0; y0 < H; y0 += CV_DW_BAND) {
                    NAME`'_band_cl(x + (long)b * CV_XS + y0 * W, xt`'m4_ifelse(FOLD, 1, `, mean, invstd'));
                    NAME`'_gemm_dw(1, dy + (long)b * CV_YS + y0 * W, xt, part);
                }
')')m4_dnl
    }
    MC_OMP_FOR
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < C; ci++)
            for (int t = 0; t < m4_eval(K * K); t++) {
                float s = 0.0f;
                for (int k = 0; k < CV_NCH; k++)
                    s += dwt[(long)k * CV_DWT + (co * m4_eval(K * K) + t) * CV_CP + ci];
                CV_DW_PUT(`(co * C + ci) * m4_eval(K * K) + t', `s');
            }
')
m4_define(`CV_DW_CL_SHARED',
`    static _Alignas(64) float xt[m4_eval(CV_NBT * CV_XT)];
    static float dwt[CV_DWT];
    memset(dwt, 0, sizeof dwt);
CV_CHUNKS(CV_NBT, `
            CV_CL_LOAD(CV_DW_KIND, `x + (long)(b0 + i) * CV_XS', `xt + (long)i * CV_XT');',
    `dy + (long)b0 * CV_YS, xt, dwt')m4_dnl
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < C; ci++)
            for (int t = 0; t < m4_eval(K * K); t++)
                CV_DW_PUT(`(co * C + ci) * m4_eval(K * K) + t', `dwt[(co * m4_eval(K * K) + t) * CV_CP + ci]');
')

m4_define(`CV_DW_NT',
`    static float xp[m4_eval(CV_NB * CV_XP)], dyp[m4_eval(CV_NB * CO * CV_NP)];
CV_CHUNKS(CV_NB, ` {
            const float *restrict dyb = dy + (long)(b0 + i) * CV_YS;
            NAME`'_pad(x + (long)(b0 + i) * CV_XS, xp + i * CV_XP);
            for (int co = 0; co < CO; co++)
                for (int oy = 0; oy < HO; oy++)
                    memcpy(dyp + (i * CO + co) * CV_NP + oy * CV_WP, dyb + (co * HO + oy) * WO, WO * sizeof(float));
        }', `dyp`'CV_AT(CV_COG * CV_NP), xp`'CV_AT(CV_CIG * CV_HP * CV_WP), dw`'CV_AT(CV_COG * CV_CIGKK)')m4_dnl
')

m4_define(`CV_BWD_SHIFT',
`m4_ifelse(CV_WINO, 1, `WINO_BWD_DW()', CV_CLW, 1, `CV_DW_CL()', `CV_DW_NT()')m4_dnl
m4_ifelse(CV_WINO, 1, `WINO_BWD_DX()', CV_CLX, 1, `CV_BWD_DX_CL()', `CV_BWD_DX_SHIFT()')m4_dnl
')

m4_define(`CV_BWD_DX_SHIFT',
`    static float wf[m4_eval(CV_CIGKK * CO)];
    NAME`'_flip(w, wf);
CV_IMAGES(CV_DX_SCRATCH, `float dyq[CV_DYQ] = {0}, dxg[m4_eval(C * CV_NQ)];',
`    for (int b = 0; b < n; b++) {
        const float *restrict dyb = dy + (long)b * CV_YS;
        float *restrict dxb = dx + (long)b * CV_XS;
        for (int co = 0; co < CO; co++)
            for (int oy = 0; oy < HO; oy++)
                memcpy(dyq + (co * CV_HQ + oy + CV_Q) * CV_WQ + CV_Q, dyb + (co * HO + oy) * WO, WO * sizeof(float));
        memset(dxg, 0, sizeof dxg);
CV_EACH_GROUP(`        ', `NAME`'_gemm_dx(wf`'CV_AT(CV_COG * CV_CIGKK), dyq`'CV_AT(CV_COG * CV_HQ * CV_WQ), dxg`'CV_AT(CV_CIG * CV_NQ));')m4_dnl
        for (int ci = 0; ci < C; ci++)
            for (int iy = 0; iy < H; iy++) {
                float *restrict row = dxb + (ci * H + iy) * W;
                const float *restrict g = dxg + ci * CV_NQ + iy * CV_WQ;
MC_ADD_OR_STORE(`                ', `for (int ix = 0; ix < W; ix++)', `row[ix]', `g[ix]')m4_dnl
            }
    }
')m4_dnl
')

# With whole vectors of input and output channels, the shifted and
# pointwise convs take their images with the channels last instead, when
# the scratch of a thread fits its budget (the plan decides: CV_CLF, CV_CLX
# and CV_PW_PLANAR come from generator/plan.c, conv_form; CV_CHECK_FORM
# stops m4 if one cannot be rendered): the forward (CV_CLF) builds xt as
# for the filter gradient, then takes one product with a row per output
# pixel and vectors of output channels (the channels-last forward of
# gemm.m4), its result transposed back to planes. The input gradient (CV_CLX) is the
# same product on dy, padded by K - 1 - PAD and channels last, through
# the flipped filters, a row per input pixel (gathered ones when strided)
# and vectors of input channels. No lane is lost past the end of a row or
# plane: on the small planes (7 x 7, 14 x 14) the planar products
# computed up to a third of their lanes for nothing.
# A pointwise forward at stride 1 whose planes fill their vectors but for
# at most a sixteenth of the lanes (28 x 28, 14 x 14; not 7 x 7) reads its
# planes as they are instead: with the planar product prefetching its
# rows (gemm.m4) that beat the transposes at 48 -> 16 at 28 x 28 by 1.56x
# and 64 -> 32 at 14 x 14 by 1.06x (1 thread, batch 128, alternated call
# by call); at 7 x 7, where a quarter of the lanes is lost, it lost 0.85x.
m4_define(`CV_CLV', `m4_eval(G == 1 && (CV_SHIFTED || CV_POINT))')
# CV_CHECK_FORM: the forms the plan chose need these of the shape.
m4_define(`CV_CHECK_FORM', `m4_ifelse(
m4_eval(CV_WINO && !(K == 3 && S == 1 && PAD == 1 && G == 1 && C % VL == 0 && CO % VL == 0 && !FOLD && !INFERENCE)), 1,
    `CV_FORM_ERROR(`the Winograd form, which needs a dense 3x3 conv at stride 1 with padding 1, channels in vectors of VL, no folded batch norm, and a training step')',
m4_eval(CV_CLF && !(CV_CLV || CV_STRIDED_K)), 1, `CV_FORM_ERROR(`a channels-last forward, which needs a conv without groups')',
m4_eval(CV_CLX && !(CV_CLV || CV_STRIDED_K)), 1, `CV_FORM_ERROR(`a channels-last input gradient, which needs a conv without groups')',
m4_eval(CV_CLW && !(CV_SHIFTED || CV_STRIDED_K || (CV_POINT && (S == 1 || CV_DW_OWN)))), 1,
    `CV_FORM_ERROR(`a channels-last filter gradient, which needs a conv without groups, pointwise ones at stride 1 or with a gathered image fitting a thread')',
m4_eval(FOLD && C % VL != 0), 1, `CV_FORM_ERROR(`a folded batch norm, which needs input channels in vectors of VL')',
m4_eval(CV_PW_PLANAR && !(CV_POINT && S == 1)), 1, `CV_FORM_ERROR(`the planar pointwise forward, which needs a 1x1 conv at stride 1')',
m4_eval(CV_PW_BATCH > 0 && !(CV_POINT && S == 1 && G == 1 && !CV_CLF && !CV_LIN && CV_XS == C * CV_PIX && CV_YS == CO * CV_PIX)), 1,
    `CV_FORM_ERROR(`images batched into one pointwise product, which needs a planar 1x1 conv at stride 1 of whole images, no groups')',
m4_eval(CV_LIN && !(CV_POINT && G == 1 && H * W == 1 && HO * WO == 1 && CV_XS == C && CV_YS == CO && !FOLD && !PSTATS && !PACKED)), 1,
    `CV_FORM_ERROR(`the products of a linear layer, which need a 1x1 conv on a 1x1 plane of whole images, without a folded batch norm, batch statistics or packed filters')')')
m4_define(`CV_FORM_ERROR', `m4_errprint(`conv.m4: NAME: the plan (generator/plan.c, conv_form) asks for $1
')m4_m4exit(1)')
# Pixels a row of xt (padded, or gathered when strided), of the padded dy,
# and the pixels of the input gradient product.
m4_define(`CV_CLF_WP', `m4_ifelse(CV_CL_PADDED, 1, CV_WP, WO)')
m4_define(`CV_CLX_WP', `m4_ifelse(S, 1, CV_WQ, WO)')
m4_define(`CV_CLX_PIX', `m4_ifelse(S, 1, `m4_eval(H * W)', CV_PIX)')
m4_define(`CV_DYT', `m4_ifelse(S, 1, `m4_eval(CV_HQ * CV_WQ * CV_COP)', `m4_eval(CV_PIX * CV_COP)')')
# CV_DX_ORDERED: the input gradient reads its filters reordered (wq): a
# wider window (flipped), or input channels padded (a pointwise conv
# whose w, CO x C, is otherwise the product itself).
m4_define(`CV_DX_ORDERED', `m4_eval(K > 1 || C % VL != 0)')
# The plan has the input gradient take that form on planes up to 28 x 28, and when
# strided (the planar form gathers and scatters besides). Measured on
# resnet20 (1 thread, batch 128, the kernels alternated call by call): the
# 3x3 backwards 1.16x faster at 7 x 7, 1.10x at 14 x 14, 1.02x at 28 x 28
# (1.03x again once 16 channels took blocks of a whole row, gemm.m4), but
# the pointwise 48 -> 16 at 28 x 28 0.93x (with 16 output channels each
# term was one vector against 8 broadcasts): the pointwise convs whose
# forward is planar (64 -> 32 at 14 x 14 1.05x, the planar product
# prefetching) keep the planar input gradient too.
m4_define(`CV_CLF_HELPERS',
`MC_GEMM_CL_FWD(NAME`'_gemm_fwd_cl, CV_PIX, WO, CV_COP, C, K, CV_CLF_WP, CV_ACT, split, CV_CP, CV_CL_S)
MC_CL_OUT(NAME`'_y_out, CV_PIX, CV_COP, CV_COG_V, `', `', split, CO)
CV_ORDER(order_cl, `The filters as the rows of that product: wr[(ky, kx, ci)][co] = w[co][ci][ky][kx].',
    `(t * C + ci) * CV_COP + co', `t', m4_ifelse(m4_eval(CO % VL), 0, `', `m4_eval(CV_COP * CV_CKK)'))')
m4_define(`CV_CLX_HELPERS',
`MC_GEMM_CL_FWD(NAME`'_gemm_dx_cl, CV_CLX_PIX, m4_ifelse(S, 1, W, WO), CV_CP, CO, K, CV_CLX_WP, `', `', CV_COP)
MC_CL_IN(NAME`'_dy_cl, HO, WO, m4_ifelse(S, 1, CV_Q, 0), CV_CLX_WP, CV_COP, CV_COG_V, `', `', CO)
MC_CL_OUT(NAME`'_dx_out, CV_CLX_PIX, CV_CP, CV_CG, `', `', `', C)
m4_ifelse(CV_DX_ORDERED, 0, `', `CV_ORDER(order_dx_cl, `The flipped filters as its rows: wq[(ky, kx, co)][ci] = w[co][ci][K-1-ky][K-1-kx].',
    `(t * CO + co) * CV_CP + ci', `m4_eval(K * K - 1) - t', m4_ifelse(m4_eval(C % VL), 0, `', `m4_eval(CO * K * K * CV_CP)'))')')

# CV_CL_LOAD(kind, planes, xt): planes into xt channels-last, as they are
# (kind pad) or normalized by the folded batch norm (hat, for the filter
# gradient of a fold). CV_CL_IMAGE(indent, kind): image b into xt that
# way, through xs when strided.
m4_define(`CV_CL_LOAD', `m4_ifelse(`$1', `hat', `NAME`'_hat_cl($2, $3, mean, invstd)', `NAME`'_pad_cl($2, $3)')')
m4_define(`CV_CL_IMAGE',
`m4_ifelse(CV_CL_PADDED, 1, `$1`'CV_CL_LOAD(`$2', `x + (long)b * CV_XS', `xt');
', `$1NAME`'_gather(x + (long)b * CV_XS, xs);
$1`'CV_CL_LOAD(`$2', `xs', `xt');
')')
m4_define(`CV_DW_KIND', `m4_ifelse(FOLD, 1, `hat', `pad')')

m4_define(`CV_FWD_CL',
`m4_ifelse(PACKED, 1, `    const float *restrict wr = w; /* packed by NAME`'_pack */
', `    MC_STATIC(float, wr, m4_eval(CV_COP * CV_CKK));
    NAME`'_order_cl(w, wr);
')m4_dnl
m4_ifelse(m4_eval(CV_FB && CO % VL != 0), 1, `    _Alignas(64) float bias_cl[CV_COP] = {0}; /* the bias, padded as the channels of the product */
    memcpy(bias_cl, bias, sizeof(float) * CO);
')m4_dnl
m4_ifelse(CV_SPLIT, 1, `    if (MC_FEW_IMAGES(n)) {
CV_FWD_CL_SCRATCH(`        ')m4_dnl
        MC_OMP_PARALLEL
        for (int b = 0; b < n; b++) {
            MC_OMP_SINGLE
            {
CV_CL_IMAGE(`                ', pad)m4_dnl
            }
CV_FWD_CL_STEPS(`            ', 1)m4_dnl
        }
        return;
    }
')m4_dnl
    MC_OMP_PARALLEL
    {
CV_FWD_CL_SCRATCH(`        ')m4_dnl
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
CV_CL_IMAGE(`            ', pad)m4_dnl
CV_FWD_CL_STEPS(`            ', 0)m4_dnl
        }
    }
')
# CV_FWD_CL_SCRATCH(indent): the padded channels-last image and its
# product (a thread's own, or the team's when it splits an image).
# CV_FWD_CL_STEPS(indent, par): image b's product and its transpose back
# to planes, split over the team when par is 1.
m4_define(`CV_FWD_CL_SCRATCH',
`$1`'_Alignas(64) float xt[CV_XT], yt[m4_eval(CV_COP * CV_PIX)];
m4_ifelse(CV_CL_PADDED, 1, `', `$1`'float xs[CV_CPIX];
')m4_dnl
m4_ifelse(PAD, 0, `', `$1`'memset(xt, 0, sizeof xt);
')')
m4_define(`CV_FWD_CL_STEPS',
`$1`'NAME`'_gemm_fwd_cl(xt, wr, m4_ifelse(CV_FB, 1, `m4_ifelse(m4_eval(CO % VL), 0, `bias', `bias_cl')', `0'), yt, $2);
m4_ifelse(PSTATS, 1, `m4_ifelse($2, 1, `$1`'MC_OMP_SINGLE
')$1`'if (stats)
$1    NAME`'_bn_sums(yt, stats + (long)b * m4_eval(2 * CO));
')m4_dnl
$1`'NAME`'_y_out(yt, y + (long)b * CV_YS, 0, $2);
')

# The input gradient stored or added as acc says (strided: its gathered
# pixels first, scattered back as before).
m4_define(`CV_BWD_DX_CL',
`m4_ifelse(CV_DX_ORDERED, 0, `', `    static _Alignas(64) float wq[m4_eval(CO * K * K * CV_CP)];
    NAME`'_order_dx_cl(w, wq);
')m4_dnl
    MC_OMP_PARALLEL
    {
        _Alignas(64) float dyt[CV_DYT], dxt[m4_eval(CV_CP * CV_CLX_PIX)];
m4_ifelse(S, 1, `', `        float dxs[CV_CPIX];
')m4_dnl
m4_ifelse(K, 1, `', `        memset(dyt, 0, sizeof dyt);
')m4_dnl
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
            NAME`'_dy_cl(dy + (long)b * CV_YS, dyt);
            NAME`'_gemm_dx_cl(dyt, m4_ifelse(CV_DX_ORDERED, 0, `CV_WDX', `wq'), 0, dxt);
m4_ifelse(S, 1, `m4_ifelse(FOLD, 1, `CV_DX_INIT(`            ')            NAME`'_dx_out(dxt, dx + (long)b * CV_XS, 1);
', `            NAME`'_dx_out(dxt, dx + (long)b * CV_XS, acc);
')', `            NAME`'_dx_out(dxt, dxs, 0);
CV_DX_SCATTER(`            ')m4_dnl
')m4_dnl
        }
    }
')

# A batch norm folded into the pointwise conv after it (FOLD 1; plan.c
# fold_batchnorms): x is the input of the batch norm, whose batch mean and
# 1/std (mean, invstd) its forward saved. Forward: the same product with
# the filters scaled per input channel (gamma * invstd) and the bias plus
# the filters times each channel shift (beta - mean * scale). Backward:
# with xhat = (x - mean) * invstd and dy_bn = w^T dy (the gradient of the
# batch norm output), the filter gradient against xhat (the channels-last
# product, x normalized as it is transposed) is g = dy xhat^T, and the
# batch norm sums of dy_bn and dy_bn * xhat per channel are w^T sz (sz the
# sums of dy, the bias gradient) and the diagonal of w^T g. So the filter
# gradient of the normalized input is gamma * g + beta * sz, and the input
# gradient of the batch norm, k * (dy_bn - mean(dy_bn) - xhat *
# mean(dy_bn * xhat)) with k = gamma * invstd, is the product with w
# scaled by k plus fa * (x - mean) + fb per channel: the pass that stored
# dy_bn writes it instead (CV_DX_INIT), and no pass reads or writes the
# batch norm output or its gradient.
m4_define(`CV_FB', `m4_eval(BIAS || FOLD)')
# CV_FOLD_IN_PRODUCT: the planar input gradient at stride 1 starts its
# tiles from the fold's line (the fold flag of gemm.m4): one pass over dx
# where the line written first and the product added after took two.
m4_define(`CV_FOLD_IN_PRODUCT', `m4_eval(FOLD && S == 1 && !CV_CLX)')
m4_define(`CV_WDX', `m4_ifelse(FOLD, 1, `w2', `w')')
m4_define(`CV_DW_PUT', `m4_ifelse(FOLD, 1, `fold_g[$1] = $2;', `dw[$1] += $2;')')
# CV_DX_INIT(indent): before the product adds into input-gradient image b
# (at stride 1) or scatters into it: cleared, unless acc, or with a fold,
# the per-channel line of the batch norm gradient stored or added.
# CV_DX_SCATTER(indent): the gradients dxs of the pixels a strided
# pointwise conv reads into input-gradient image b: added to the line of
# a fold, else stored or added as acc says.
m4_define(`CV_DX_SCATTER', `m4_ifelse(FOLD, 1, `CV_DX_INIT(`$1')$1`'NAME`'_scatter(dxs, dx + (long)b * CV_XS, 0);
', `$1`'NAME`'_scatter(dxs, dx + (long)b * CV_XS, !acc);
')')
m4_define(`CV_DX_INIT', `m4_ifelse(FOLD, 1,
`$1NAME`'_fold_dx(x + (long)b * CV_XS, dx + (long)b * CV_XS, mean, fa, fb, acc);
', `$1if (!acc)
$1    memset(dx + (long)b * CV_XS, 0, sizeof(float) * m4_eval(C * H * W));
')')
m4_define(`CV_FWD_PARAMS', `m4_ifelse(FOLD, 1, `int n, const float *restrict x, const float *restrict w_raw, const float *restrict bias_raw,
    const float *restrict gamma, const float *restrict beta, const float *restrict mean, const float *restrict invstd,
    float *restrict y', `int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y')`'m4_ifelse(PSTATS, 1, `,
    float *restrict stats')')
m4_define(`CV_BWD_PARAMS', `int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias, m4_ifelse(FOLD, 1, `const float *restrict gamma, const float *restrict beta,
    const float *restrict mean, const float *restrict invstd, float *restrict dgamma, float *restrict dbeta, ')int acc')
m4_define(`CV_FOLD_HELPERS', `m4_ifelse(FOLD, 1, `m4_ifelse(m4_eval(CV_POINT && CV_CLW), 1, `',
`m4_errprint(`conv.m4: NAME: a folded batch norm needs the channels-last filter gradient (plan.c, fold_batchnorms)
')m4_m4exit(1)')m4_dnl
/* The batch norm in the filters: wf = w * scale, bf = bias + w * shift. */
static void NAME`'_fold_fwd(const float *restrict w, const float *restrict bias, const float *restrict gamma,
    const float *restrict beta, const float *restrict mean, const float *restrict invstd, float *restrict wf,
    float *restrict bf)
{
m4_ifelse(BIAS, 1, `', `    (void)bias;
')m4_dnl
    float scale[C], shift[C];
    for (int ci = 0; ci < C; ci++) {
        scale[ci] = gamma[ci] * invstd[ci];
        shift[ci] = beta[ci] - mean[ci] * scale[ci];
    }
    for (int co = 0; co < CO; co++) {
        double b = m4_ifelse(BIAS, 1, `bias[co]', `0');
        for (int ci = 0; ci < C; ci++) {
            wf[co * C + ci] = w[co * C + ci] * scale[ci];
            b += (double)w[co * C + ci] * shift[ci];
        }
        bf[co] = (float)b;
    }
}

m4_ifelse(CV_FOLD_IN_PRODUCT, 1, `', `/* Image b of the input gradient, but for the product: fa * (x - mean) + fb
 * per channel, stored, or added when acc. */
static void NAME`'_fold_dx(const float *restrict xb, float *restrict dxb, const float *restrict mean,
    const float *restrict fa, const float *restrict fb, int acc)
{
    for (int ci = 0; ci < C; ci++) {
        const float a = fa[ci], m = mean[ci], f = fb[ci];
        const float *restrict xc = xb + ci * m4_eval(H * W);
        float *restrict dc = dxb + ci * m4_eval(H * W);
MC_ADD_OR_STORE(`        ', `for (int i = 0; i < m4_eval(H * W); i++)', `dc[i]', `a * (xc[i] - m) + f')m4_dnl
    }
}
')
')')
# CV_FOLD_BWD: between the filter gradient (g) and the input gradient:
# the batch norm sums (reduced over the processes of a synchronized batch
# norm; its parameter gradients keep the local ones, as batchnorm.m4), the
# filter gradient, the scaled filters and the line of each channel.
m4_define(`CV_FOLD_BWD',
`    double sums[m4_eval(2 * C)];
    MC_OMP_FOR
    for (int ci = 0; ci < C; ci++) {
        double s_dy = 0, s_dy_xhat = 0;
        for (int co = 0; co < CO; co++) {
            s_dy += (double)w[co * C + ci] * sz[co];
            s_dy_xhat += (double)w[co * C + ci] * fold_g[co * C + ci];
        }
        sums[2 * ci] = s_dy;
        sums[2 * ci + 1] = s_dy_xhat;
        dgamma[ci] += (float)s_dy_xhat;
        dbeta[ci] += (float)s_dy;
    }
    double count = (double)n * m4_eval(H * W);
    if (mc_bn_allreduce)
        count = mc_bn_allreduce(sums, m4_eval(2 * C), count);
    MC_OMP_FOR
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < C; ci++)
            dw[co * C + ci] += gamma[ci] * fold_g[co * C + ci] + beta[ci] * (float)sz[co];
    for (int ci = 0; ci < C; ci++) {
        const float k = gamma[ci] * invstd[ci], mean_dy = (float)(sums[2 * ci] / count),
                    mean_dy_xhat = (float)(sums[2 * ci + 1] / count);
        fa[ci] = -k * invstd[ci] * mean_dy_xhat;
        fb[ci] = -k * mean_dy;
        for (int co = 0; co < CO; co++)
            w2[co * C + ci] = w[co * C + ci] * k;
    }
')

# With PSTATS (plan.c, producer_statistics) the training forward also
# writes the batch statistics of its output for the batch norm that reads
# it, from the channels-last result of each image (the sums of common.m4).
m4_define(`CV_STATS_HELPERS', `m4_ifelse(PSTATS, 1, `m4_ifelse(m4_eval(CV_CLF || CV_WINO), 1, `MC_VEC_PRELUDE()MC_BN_SUMS(NAME`'_bn_sums, CV_PIX, CV_COP, CV_COG_V, CO)',
`m4_errprint(`conv.m4: NAME: batch statistics need the channels-last or Winograd forward (plan.c, producer_statistics)
')m4_m4exit(1)')')')

m4_define(`MC_CONV_FWD',
`CV_DESCRIBE
CV_CHECK_FORM()m4_dnl
ACT_STORE_CHECK(`conv')m4_dnl
ACT_FUSED_FUNCTIONS()m4_dnl
CV_STATS_HELPERS()m4_dnl
m4_ifelse(CV_LIN, 1, `MC_VEC_PRELUDE()m4_pushdef(`LIN_ACT', m4_ifelse(FUSED, none, 0, 1))LIN_FWD_HELPERS()m4_popdef(`LIN_ACT')', CV_SHIFTED, 1, `CV_SHIFT_HELPERS()', CV_POINT, 1, `CV_POINT_HELPERS()', CV_PLANES, 0, `CV_GEMM_HELPERS()',
`CV_FWD_PLANE(NAME, K, PAD, OY0, OY1, OX0, OX1)')
CV_FOLD_HELPERS()m4_dnl
m4_ifelse(PACKED, 1, `m4_ifelse(m4_eval(CV_CLF && CO % VL == 0), 1, `/* The filters in the order NAME`'_fwd reads them, once (the inference library). */
CV_LINKAGE`'void NAME`'_pack(const float *restrict w, float *restrict packed)
{
    NAME`'_order_cl(w, packed);
}

', `m4_errprint(`conv.m4: NAME: packed filters need the channels-last forward with output channels in vectors of VL, in place (plan.c, mc_plan_conv_packs)
')m4_m4exit(1)')')m4_dnl
CV_LINKAGE`'void NAME`'_fwd(CV_FWD_PARAMS)
{
m4_ifelse(FOLD, 1, `    static float wf[m4_eval(CO * C)], bf[CO];
    NAME`'_fold_fwd(w_raw, bias_raw, gamma, beta, mean, invstd, wf, bf);
    const float *restrict w = wf, *restrict bias = bf;
', BIAS, 1, `', `    (void)bias;
')m4_dnl
m4_ifelse(CV_LIN, 1, `m4_pushdef(`LIN_ACT', m4_ifelse(FUSED, none, 0, 1))LIN_FWD_BODY()m4_popdef(`LIN_ACT')',
    CV_WINO, 1, `WINO_FWD()', CV_CLF, 1, `CV_FWD_CL()', CV_SHIFTED, 1, `CV_FWD_SHIFT()', CV_POINT, 1, `CV_FWD_POINT()', CV_PLANES, 0, `CV_FWD_GEMM()', `    for (int b = 0; b < n; b++) {
        for (int co = 0; co < CO; co++)
            for (int i = 0; i < m4_eval(HO * WO); i++)
                y[((long)b * CO + co) * m4_eval(HO * WO) + i] = m4_ifelse(CV_FB, 1, `bias[co]', `0.0f');
CV_GROUPS(`CV_FWD_DENSE(NAME, K, CV_CIG, CV_COG, CV_XOFF, CV_YOFF, CV_WOFF, CV_IND)', `        ')m4_dnl
ACT_FUSED_RUN(`        ', `(y + (long)b * CV_YS)', m4_eval(CO * HO * WO))m4_dnl
    }
')m4_dnl
}
')

# Backward: the bias gradient sums every output gradient of a channel in
# double and adds it once. The input gradient is added to dx, or stored
# when acc is 0 (the first writer of dx): the shifted and pointwise forms
# store their last pass, the linear products their sums, the others clear
# dx first.
m4_define(`MC_CONV_BWD',
`m4_ifelse(CV_PLANES, 1, `CV_BWD_PLANE(NAME, K, PAD, OY0, OY1, OX0, OX1)')
m4_ifelse(CV_FB, 1, `MC_PLANE_SUM(NAME`'_bias_sum, m4_eval(HO * WO))')
MC_TRAINING_ONLY(`CV_LINKAGE`'void NAME`'_bwd(CV_BWD_PARAMS)
{
m4_ifelse(m4_eval(CV_SHIFTED || CV_POINT || CV_LIN || CV_CLX), 1, `', `    if (!acc)
m4_ifelse(CV_XS, m4_eval(C * H * W), `        memset(dx, 0, sizeof(float) * n * CV_XS);
', `        for (int b = 0; b < n; b++)
            memset(dx + (long)b * CV_XS, 0, sizeof(float) * m4_eval(C * H * W));
')')m4_dnl
m4_ifelse(FOLD, 1, `    double sz[CO];
    static float fold_g[m4_eval(CO * C)], w2[m4_eval(CO * C)], fa[C], fb[C];
MC_BIAS_GRAD(CO, CO, sz)', `MC_BIAS_GRAD(CO, CO)')m4_dnl
m4_ifelse(CV_LIN, 1, `LIN_BWD_PRODUCTS()', CV_SHIFTED, 1, `CV_BWD_SHIFT()', CV_POINT, 1, `CV_BWD_POINT()', CV_PLANES, 0, `CV_BWD_GEMM()', `CV_GROUPS(`CV_BWD_DENSE(NAME, K, CV_CIG, CV_COG, CV_XOFF, CV_YOFF, CV_WOFF, CV_IND)', `    ')')m4_dnl
}
')')

m4_define(`MC_CONV_KERNEL', `MC_CONV_FWD()
MC_CONV_BWD()')

m4_define(`MC_CONV_PROTO',
`m4_ifelse(PACKED, 1, `void NAME`'_pack(const float *restrict w, float *restrict packed);
')void NAME`'_fwd(CV_FWD_PARAMS);
MC_TRAINING_ONLY(`void NAME`'_bwd(CV_BWD_PARAMS);
')')

# Calls: IN0, OUT (activation slots), WEIGHT, BIAS_AT (parameters; -1 for
# none), SHIFT (0 for convs); with FOLD, GAMMA, BETA, SAVED_MEAN and
# SAVED_INVSTD of the batch norm it applies (IN0 is that batch norm input).
m4_define(`MC_CONV_CALL_FWD',
`    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), m4_ifelse(FOLD, 1, `MC_PARAM(GAMMA), MC_PARAM(BETA),
        MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD), ')MC_ACT(OUT, SHIFT)`'m4_ifelse(PSTATS, 1, `, train ? MC_ACT(STATS_AT) : 0'));
')
m4_define(`MC_CONV_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT, SHIFT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT),
        m4_ifelse(FOLD, 1, `MC_PARAM(GAMMA), MC_PARAM(BETA), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD), MC_GRAD(GAMMA),
        MC_GRAD(BETA), ')MC_ACC(0));
')
m4_define(`MC_CONV_STORES')
')
m4_divert(0)m4_dnl
