m4_divert(-1)
# Winograd's minimal filtering F(2 x 2, 3 x 3) (Lavin and Gray, "Fast
# Algorithms for Convolutional Neural Networks", 2016) for a dense 3x3
# conv at stride 1 with padding 1 (conv.m4 includes this file once; the
# plan chooses the form and its blocks: generator/plan.c,
# mc_plan_conv_form, wino_tiles and wino_dw_tiles).
#
# The output is cut in tiles of 2 x 2 pixels; tile t reads the 4 x 4 input
# pixels around it. Per tile and input channel, V = B^T d B (adds only);
# per filter, U = G g G^T (once per call); per transform point xi of the
# 16 and tile, M[xi] = sum over input channels of V[xi] U[xi], one product
# of tiles x input channels by input channels x output channels for each
# point; per tile and output channel, Y = A^T M A (adds only). So a tile
# costs 16 multiply-adds per pair of channels where the direct conv costs
# 36: the products do 2.25x less work, the transforms add work linear in
# the channels. The coefficients are 0, 1 and 1/2, exact in binary: the
# rounding is that of a direct conv's sums within a few units.
#
# Everything is channels last (the transposes of common.m4): a vector
# holds VL channels of one pixel, so every transform is adds of whole
# vectors, and the products are the channels-last product of gemm.m4
# with tiles for pixels. The input gradient is the same conv of the
# output gradient through the filters flipped and transposed; the filter
# gradient sums the transformed input times the transposed output
# transform of the output gradient (below).
#
# WINO_HELPERS(fn, CI, CO, RB, CB, NT): for a conv of CI to CO channels on
# H x W planes, static void fn_tiles(xt, u, bias, yt): the channels-last
# image xt, padded by one pixel on each side and, where the plane is odd,
# by one more row below and column on the right (the last tiles read
# them: zeros), through the transformed filters u
# (u[xi][ci][co]), to the channels-last result yt (H x W pixels of CO),
# plus bias per output channel when it is not null. The products go RB
# tiles by CB vectors of output channels at a time, NT tiles (a multiple
# of RB) a block, the block's V and M on the stack; the tiles are rounded
# up to a multiple of RB, the extra ones zero and never stored.

m4_define(`WINO_TW', `m4_eval((W + 1) / 2)')
m4_define(`WINO_T', `m4_eval((H + 1) / 2 * WINO_TW)')
# The padded channels-last image of CI channels: the tiles' grid of 4 x 4
# windows, 2 TH + 2 rows of 2 TW + 2 pixels (a row and a column more than
# the padding where the plane is odd; zeros, as the padding).
m4_define(`WINO_WP', `m4_eval(2 * WINO_TW + 2)')
m4_define(`WINO_XT', `m4_eval(((H + 1) / 2 * 2 + 2) * WINO_WP * $1)')
# The tiles rounded up to the register block RB.
m4_define(`WINO_TP', `m4_eval((WINO_T + $1 - 1) / $1 * $1)')

m4_define(`WINO_HELPERS',
`/* $1: Winograd F(2x2, 3x3) of $2 -> $3 channels on H x W, WINO_T tiles */
static inline void $1_in(const float *restrict xt, int t, float *restrict v, int tt, int nt)
{
    const float *restrict p = xt + (t / WINO_TW * m4_eval(2 * WINO_WP) + t % WINO_TW * 2) * $2;
    for (int c = 0; c < $2; c += VL) {
        mc_vf d[4][4], r[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = *(const mc_vf *)(p + (i * WINO_WP + j) * $2 + c);
        /* B^T d, then (B^T d) B */
        for (int j = 0; j < 4; j++) {
            r[0][j] = d[0][j] - d[2][j];
            r[1][j] = d[1][j] + d[2][j];
            r[2][j] = d[2][j] - d[1][j];
            r[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
            *(mc_vf *)(v + ((i * 4 + 0) * nt + tt) * $2 + c) = r[i][0] - r[i][2];
            *(mc_vf *)(v + ((i * 4 + 1) * nt + tt) * $2 + c) = r[i][1] + r[i][2];
            *(mc_vf *)(v + ((i * 4 + 2) * nt + tt) * $2 + c) = r[i][2] - r[i][1];
            *(mc_vf *)(v + ((i * 4 + 3) * nt + tt) * $2 + c) = r[i][1] - r[i][3];
        }
    }
}

/* m[xi][tt][co] = sum over ci of v[xi][tt][ci] u[xi][ci][co], nt tiles (a multiple of $4) */
static void $1_product(const float *restrict v, const float *restrict u, float *restrict m, int nt)
{
    for (int xi = 0; xi < 16; xi++)
        for (int c0 = 0; c0 < $3; c0 += m4_eval($5 * VL))
            for (int t0 = 0; t0 < nt; t0 += $4) {
                const float *restrict a = v + (xi * $6 + t0) * $2;
                const float *restrict b = u + xi * m4_eval($2 * $3) + c0;
MC_FOR(`WR', 0, m4_eval($4 - 1), `MC_FOR(`WV', 0, m4_eval($5 - 1), `                mc_vf s`'WR`'_`'WV = {0};
')')m4_dnl
                for (int ci = 0; ci < $2; ci++) {
MC_FOR(`WV', 0, m4_eval($5 - 1), `                    mc_vf b`'WV = *(const mc_vf *)(b + ci * $3`'CV_PLUS(m4_eval(WV * VL)));
                    MC_HOLD(b`'WV);
')m4_dnl
MC_FOR(`WR', 0, m4_eval($4 - 1), `                    const float x`'WR = a[CV_PLUS2(m4_eval(WR * $2))ci];
MC_FOR(`WV', 0, m4_eval($5 - 1), `                    s`'WR`'_`'WV += x`'WR * b`'WV;
')')m4_dnl
                }
                float *restrict o = m + (xi * $6 + t0) * $3 + c0;
MC_FOR(`WR', 0, m4_eval($4 - 1), `MC_FOR(`WV', 0, m4_eval($5 - 1), `                *(mc_vf *)(o`'CV_PLUS(m4_eval(WR * $3 + WV * VL))) = s`'WR`'_`'WV;
')')m4_dnl
            }
}

static inline void $1_out(const float *restrict m, int tt, int t, const float *restrict bias, float *restrict yt)
{
    const int oy = t / WINO_TW * 2, ox = t % WINO_TW * 2;
    for (int c = 0; c < $3; c += VL) {
        mc_vf q[4][4], s[2][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                q[i][j] = *(const mc_vf *)(m + ((i * 4 + j) * $6 + tt) * $3 + c);
        /* A^T m, then (A^T m) A */
        for (int j = 0; j < 4; j++) {
            s[0][j] = q[0][j] + q[1][j] + q[2][j];
            s[1][j] = q[1][j] - q[2][j] - q[3][j];
        }
        const mc_vf b = bias ? *(const mc_vf *)(bias + c) : (mc_vf){0};
        for (int i = 0; i < 2; i++) {
m4_ifelse(m4_eval(H % 2), 1, `            if (oy + i == H)
                break;
')m4_dnl
            float *restrict o = yt + ((oy + i) * W + ox) * $3 + c;
            *(mc_vf *)o = s[i][0] + s[i][1] + s[i][2] + b;
m4_ifelse(m4_eval(W % 2), 1, `            if (ox + 1 < W)
    ')m4_dnl
            *(mc_vf *)(o + $3) = s[i][1] - s[i][2] - s[i][3] + b;
        }
    }
}

static void $1_tiles(const float *restrict xt, const float *restrict u, const float *restrict bias, float *restrict yt)
{
    _Alignas(64) float v[m4_eval(16 * $6 * $2)], m[m4_eval(16 * $6 * $3)];
    for (int t0 = 0; t0 < WINO_TP($4); t0 += $6) {
        const int nt = WINO_TP($4) - t0 < $6 ? WINO_TP($4) - t0 : $6;
        for (int tt = 0; tt < nt; tt++)
m4_ifelse(WINO_TP($4), WINO_T, `            $1_in(xt, t0 + tt, v, tt, $6);
', `            if (t0 + tt < WINO_T)
                $1_in(xt, t0 + tt, v, tt, $6);
            else
                for (int xi = 0; xi < 16; xi++)
                    memset(v + (xi * $6 + tt) * $2, 0, sizeof(float) * $2);
')m4_dnl
        $1_product(v, u, m, nt);
        for (int tt = 0; tt < nt`'m4_ifelse(WINO_TP($4), WINO_T, `', ` && t0 + tt < WINO_T'); tt++)
            $1_out(m, tt, t0 + tt, bias, yt);
    }
}
')

# WINO_DW_HELPERS(fn, RB, CB, NT): the filter gradient's, static void
# fn_tiles(xt, dyg, du): for the padded channels-last image xt (as the
# forward's) and the output gradient dyg, channels last on the tiles'
# grid (2 TH x 2 TW pixels, zero past the plane), adds to du[xi][ci][co]
# the sum over tiles of V[xi] (the forward's input transform) times Z[xi]
# = (A dy A^T)[xi], the transpose of the output transform applied to the
# tile's 2 x 2 gradient: the gradient of U = G g G^T, which the caller
# takes back to the filters' 3 x 3 (g's gradient G^T du G). Blocks of NT
# tiles (the whole plane when it fits a quarter of the budget); the
# product goes RB input channels by CB vectors of output channels, its
# sums added to du once a block.
m4_define(`WINO_DW_HELPERS',
`/* $1: the filter gradient of NAME`'_wf, Winograd F(2x2, 3x3) */
static inline void $1_z(const float *restrict dyg, int t, float *restrict z, int tt)
{
    const float *restrict p = dyg + (t / WINO_TW * m4_eval(4 * WINO_TW) + t % WINO_TW * 2) * CO;
    for (int c = 0; c < CO; c += VL) {
        const mc_vf d00 = *(const mc_vf *)(p + c), d01 = *(const mc_vf *)(p + CO + c),
                    d10 = *(const mc_vf *)(p + m4_eval(2 * WINO_TW * CO) + c), d11 = *(const mc_vf *)(p + m4_eval((2 * WINO_TW + 1) * CO) + c);
        /* A dy, then (A dy) A^T: rows d0, d0 + d1, d0 - d1, -d1 */
        const mc_vf r[4][2] = {{d00, d01}, {d00 + d10, d01 + d11}, {d00 - d10, d01 - d11}, {-d10, -d11}};
        for (int i = 0; i < 4; i++) {
            *(mc_vf *)(z + ((i * 4 + 0) * $4 + tt) * CO + c) = r[i][0];
            *(mc_vf *)(z + ((i * 4 + 1) * $4 + tt) * CO + c) = r[i][0] + r[i][1];
            *(mc_vf *)(z + ((i * 4 + 2) * $4 + tt) * CO + c) = r[i][0] - r[i][1];
            *(mc_vf *)(z + ((i * 4 + 3) * $4 + tt) * CO + c) = -r[i][1];
        }
    }
}

/* du[xi][ci][co] += sum over nt tiles of v[xi][tt][ci] z[xi][tt][co] */
static void $1_product(const float *restrict v, const float *restrict z, float *restrict du, int nt)
{
    for (int xi = 0; xi < 16; xi++)
        for (int c0 = 0; c0 < CO; c0 += m4_eval($3 * VL))
            for (int i0 = 0; i0 < C; i0 += $2) {
                float *restrict o = du + (xi * C + i0) * CO + c0;
MC_FOR(`WR', 0, m4_eval($2 - 1), `MC_FOR(`WV', 0, m4_eval($3 - 1), `                mc_vf s`'WR`'_`'WV = *(const mc_vf *)(o`'CV_PLUS(m4_eval(WR * CO + WV * VL)));
')')m4_dnl
                const float *restrict a = v + xi * m4_eval($4 * C) + i0;
                const float *restrict b = z + xi * m4_eval($4 * CO) + c0;
                for (int tt = 0; tt < nt; tt++) {
MC_FOR(`WV', 0, m4_eval($3 - 1), `                    mc_vf b`'WV = *(const mc_vf *)(b + tt * CO`'CV_PLUS(m4_eval(WV * VL)));
                    MC_HOLD(b`'WV);
')m4_dnl
MC_FOR(`WR', 0, m4_eval($2 - 1), `                    const float x`'WR = a[tt * C`'CV_PLUS(WR)];
MC_FOR(`WV', 0, m4_eval($3 - 1), `                    s`'WR`'_`'WV += x`'WR * b`'WV;
')')m4_dnl
                }
MC_FOR(`WR', 0, m4_eval($2 - 1), `MC_FOR(`WV', 0, m4_eval($3 - 1), `                *(mc_vf *)(o`'CV_PLUS(m4_eval(WR * CO + WV * VL))) = s`'WR`'_`'WV;
')')m4_dnl
            }
}

static void $1_tiles(const float *restrict xt, const float *restrict dyg, float *restrict du)
{
    _Alignas(64) float v[m4_eval(16 * $4 * C)], z[m4_eval(16 * $4 * CO)];
    for (int t0 = 0; t0 < WINO_T; t0 += $4) {
        const int nt = WINO_T - t0 < $4 ? WINO_T - t0 : $4;
        for (int tt = 0; tt < nt; tt++) {
            NAME`'_wf_in(xt, t0 + tt, v, tt, $4);
            $1_z(dyg, t0 + tt, z, tt);
        }
        $1_product(v, z, du, nt);
    }
}
')

# WINO_FILTERS: static void NAME_wino_filters(w, u, flip): u = G g G^T
# for every filter g = w[co][ci] as it is (flip 0: u[xi][ci][co], the
# forward's) or turned by 180 degrees with its channels swapped (flip 1:
# u[xi][co][ci], the input gradient's).
m4_define(`WINO_FILTERS',
`/* The filters transformed for Winograd products: u = G g G^T. */
static void NAME`'_wino_filters(const float *restrict w, float *restrict u, int flip)
{
    for (int co = 0; co < CO; co++)
        for (int ci = 0; ci < C; ci++) {
            const float *restrict g = w + (co * C + ci) * 9;
            float h[4][3];
            for (int j = 0; j < 3; j++) {
                const float g0 = g[flip ? 8 - j : j], g1 = g[flip ? 5 - j : 3 + j], g2 = g[flip ? 2 - j : 6 + j];
                h[0][j] = g0;
                h[1][j] = 0.5f * (g0 + g1 + g2);
                h[2][j] = 0.5f * (g0 - g1 + g2);
                h[3][j] = g2;
            }
            for (int i = 0; i < 4; i++) {
                const float r[4] = {h[i][0], 0.5f * (h[i][0] + h[i][1] + h[i][2]), 0.5f * (h[i][0] - h[i][1] + h[i][2]), h[i][2]};
                for (int j = 0; j < 4; j++)
                    u[flip ? ((i * 4 + j) * CO + co) * C + ci : ((i * 4 + j) * C + ci) * CO + co] = r[j];
            }
        }
}
')

# The helpers of the forward (NAME_wf, C -> CO) and the input gradient
# (NAME_wx, CO -> C): their transposes in and out and their tiles.
m4_define(`WINO_ALL_HELPERS',
`MC_CL_IN(NAME`'_wpad, H, W, 1, WINO_WP, C, m4_eval(C / VL))
MC_CL_OUT(NAME`'_wy_out, m4_eval(H * W), CO, m4_eval(CO / VL))
WINO_HELPERS(NAME`'_wf, C, CO, WINO_RB, WINO_CB, WINO_NT)
WINO_FILTERS
MC_TRAINING_ONLY(`MC_CL_IN(NAME`'_wdy, H, W, 1, WINO_WP, CO, m4_eval(CO / VL))
MC_CL_OUT(NAME`'_wdx_out, m4_eval(H * W), C, m4_eval(C / VL))
WINO_HELPERS(NAME`'_wx, CO, C, WINO_RB_DX, WINO_CB_DX, WINO_NT_DX)
MC_CL_IN(NAME`'_wdyg, H, W, 0, m4_eval(2 * WINO_TW), CO, m4_eval(CO / VL))
WINO_DW_HELPERS(NAME`'_wg, WINO_RB_DW, WINO_CB_DW, WINO_NT_DW)')')

# The training step's forward (the inference library keeps the direct
# forms, whose filters it packs in place: CV_CHECK_FORM).
m4_define(`WINO_FWD',
`    static _Alignas(64) float u[m4_eval(16 * C * CO)];
    NAME`'_wino_filters(w, u, 0);
    MC_OMP_PARALLEL
    {
        _Alignas(64) float xt[WINO_XT(C)], yt[m4_eval(H * W * CO)];
        memset(xt, 0, sizeof xt);
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
            NAME`'_wpad(x + (long)b * CV_XS, xt);
            NAME`'_wf_tiles(xt, u, m4_ifelse(CV_FB, 1, `bias', `0'), yt);
m4_ifelse(PSTATS, 1, `            if (stats)
                NAME`'_bn_sums(yt, stats + (long)b * m4_eval(2 * CO));
')m4_dnl
            NAME`'_wy_out(yt, y + (long)b * CV_YS, 0);
        }
    }
')

# The filter gradient in CV_NCH fixed chunks of images, each summed into
# its own part of dut, the parts added in chunk order (as the direct
# forms: the same bits on any thread count), then taken back through G.
m4_define(`WINO_DU', `m4_eval(16 * C * CO)')
m4_define(`WINO_NCH', `MC_NCH(WINO_DU)')
m4_define(`WINO_BWD_DW',
`    static float dut[m4_eval(WINO_NCH * WINO_DU)];
    MC_OMP_PARALLEL
    {
        _Alignas(64) float xt[WINO_XT(C)], dyg[m4_eval((H + 1) / 2 * 4 * WINO_TW * CO)];
        memset(xt, 0, sizeof xt);
        memset(dyg, 0, sizeof dyg);
MC_IMAGE_CHUNKS(dut, WINO_NCH, WINO_DU, `                NAME`'_wpad(x + (long)b * CV_XS, xt);
                NAME`'_wdyg(dy + (long)b * CV_YS, dyg);
                NAME`'_wg_tiles(xt, dyg, part);
')m4_dnl
    }
    /* the parts summed into the first in chunk order, read in the order they lie */
    MC_OMP_FOR
    for (int i = 0; i < WINO_DU; i++) {
        float s = dut[i];
        for (int k = 1; k < WINO_NCH; k++)
            s += dut[(long)k * WINO_DU + i];
        dut[i] = s;
    }
    MC_OMP_FOR
    for (int ci = 0; ci < C; ci++)
        for (int co = 0; co < CO; co++) {
            float du[4][4], h[3][4];
            for (int xi = 0; xi < 16; xi++)
                du[xi / 4][xi % 4] = dut[(xi * C + ci) * CO + co];
            /* G^T du G: rows, then columns */
            for (int j = 0; j < 4; j++) {
                h[0][j] = du[0][j] + 0.5f * (du[1][j] + du[2][j]);
                h[1][j] = 0.5f * (du[1][j] - du[2][j]);
                h[2][j] = 0.5f * (du[1][j] + du[2][j]) + du[3][j];
            }
            float *restrict g = dw + (co * C + ci) * 9;
            for (int i = 0; i < 3; i++) {
                g[i * 3 + 0] += h[i][0] + 0.5f * (h[i][1] + h[i][2]);
                g[i * 3 + 1] += 0.5f * (h[i][1] - h[i][2]);
                g[i * 3 + 2] += 0.5f * (h[i][1] + h[i][2]) + h[i][3];
            }
        }
')

m4_define(`WINO_BWD_DX',
`    static _Alignas(64) float ux[m4_eval(16 * C * CO)];
    NAME`'_wino_filters(w, ux, 1);
    MC_OMP_PARALLEL
    {
        _Alignas(64) float dyt[WINO_XT(CO)], dxt[m4_eval(H * W * C)];
        memset(dyt, 0, sizeof dyt);
        MC_OMP_FOR_IN
        for (int b = 0; b < n; b++) {
            NAME`'_wdy(dy + (long)b * CV_YS, dyt);
            NAME`'_wx_tiles(dyt, ux, 0, dxt);
            NAME`'_wdx_out(dxt, dx + (long)b * CV_XS, acc);
        }
    }
')
m4_divert(0)m4_dnl
