m4_divert(-1)
# The products of a linear layer over a batch (linear.m4) and of a
# pointwise conv on a 1x1 plane (conv.m4): tiles of images by rows of w in
# registers, so that each vector of w loaded serves several images and
# each vector of an image several rows: a classifier head reads a w larger
# than L2 (576 x 256 floats in mobilenetv3_small_like), which one image at
# a time read again for every image (docs/shapes.md). Every element adds
# its terms in the order a plain loop would (the forward: in vectors of VL
# lanes over the input, added across at the end), whatever the tiles and
# threads. Constants: C, H, W (the input, flattened), CO, BIAS. This file
# only defines macros; linear.m4 and conv.m4 include it once.

m4_define(`LIN_IN', `m4_eval(C * H * W)')
m4_define(`LIN_FULL', `m4_eval(LIN_IN / VL * VL)')
m4_define(`LIN_TAIL', `m4_eval(LIN_IN - LIN_FULL)')
# The forward's tile: LIN_IB images by LIN_RB rows of w, their sums and
# one vector of each in registers (plan.c, mc_plan_linear_rows).
m4_define(`LIN_IB', `LIN_RB')

# LIN_FWD_TILE(images, rows, o0): y of images b .. b + images - 1 and rows
# o0 .. o0 + rows - 1 of w, VL lanes at a time (the tail of a row as a
# partial vector), the lanes added at the end.
m4_define(`LIN_FWD_TILE',
`            {
MC_FOR(`LI', 0, m4_eval($1 - 1), `                const float *restrict x`'LI = x + (long)(b + LI) * LIN_IN;
')m4_dnl
MC_FOR(`LR', 0, m4_eval($2 - 1), `                const float *restrict w`'LR = w + (long)($3 + LR) * LIN_IN;
')m4_dnl
MC_FOR(`LI', 0, m4_eval($1 - 1), `MC_FOR(`LR', 0, m4_eval($2 - 1), `                mc_vf s`'LI`'_`'LR = {0};
')')m4_dnl
m4_ifelse(m4_eval(LIN_FULL > 0), 1, `                for (int i = 0; i < LIN_FULL; i += VL) {
MC_FOR(`LI', 0, m4_eval($1 - 1), `                    mc_vf xv`'LI = *(const mc_vf *)(x`'LI + i);
                    MC_HOLD(xv`'LI);
')m4_dnl
MC_FOR(`LR', 0, m4_eval($2 - 1), `                    {
                        const mc_vf wv = *(const mc_vf *)(w`'LR + i);
MC_FOR(`LI', 0, m4_eval($1 - 1), `                        s`'LI`'_`'LR += xv`'LI * wv;
')m4_dnl
                    }
')m4_dnl
                }
')m4_dnl
m4_ifelse(LIN_TAIL, 0, `', `                {
                    mc_vf xv, wv;
MC_FOR(`LR', 0, m4_eval($2 - 1), `                    mc_vf_part(&wv, w`'LR + LIN_FULL, LIN_TAIL);
MC_FOR(`LI', 0, m4_eval($1 - 1), `                    mc_vf_part(&xv, x`'LI + LIN_FULL, LIN_TAIL);
                    s`'LI`'_`'LR += xv * wv;
')')m4_dnl
                }
')m4_dnl
MC_FOR(`LI', 0, m4_eval($1 - 1), `MC_FOR(`LR', 0, m4_eval($2 - 1), `                y[(long)(b + LI) * CO + $3 + LR] = LIN_Y(m4_ifelse(BIAS, 1, `bias[$3 + LR] + ')mc_vf_sum(&s`'LI`'_`'LR));
')')m4_dnl
            }
')

# LIN_Y(value): an element of y as stored: through the activation FUSED
# when LIN_ACT is 1 (a conv on a 1x1 plane in the inference library,
# conv.m4), else as it is.
m4_define(`LIN_ACT', 0)
m4_define(`LIN_Y', `m4_ifelse(LIN_ACT, 1, `ACT_FUSED($1)', `$1')')

# LIN_FWD_ROWS(rows, o0): rows o0 .. o0 + rows - 1 of y for every image.
m4_define(`LIN_FWD_ROWS',
`        int b = 0;
        for (; b + LIN_IB <= n; b += LIN_IB)
LIN_FWD_TILE(LIN_IB, $1, $2)m4_dnl
        for (; b < n; b++)
LIN_FWD_TILE(1, $1, $2)m4_dnl
')

# The filter gradient's tile: LIN_WR rows of dw by LIN_WV vectors of its
# columns (the target's product tile), summed over the images in order.
m4_define(`LIN_WR', GEMM_MR)
m4_define(`LIN_WV', GEMM_NV)
m4_define(`LIN_WW', `m4_eval(LIN_WV * VL)')
m4_define(`LIN_WFULL', `m4_eval(LIN_IN / LIN_WW * LIN_WW)')
# The strip of columns past the last whole tile: its vectors, and the columns of its
# last one when that is partial (else 0).
m4_define(`LIN_WREST', `m4_eval((LIN_IN - LIN_WFULL + VL - 1) / VL)')
m4_define(`LIN_WTAIL', `m4_eval((LIN_IN - LIN_WFULL) % VL)')

# LIN_SUMS_TILE(rows, vecs, tail, dst, loop, src, g, from): the tile of
# both backward products, rows by vecs vectors of the rows dst (row LR of
# the tile), the last vector partial when tail is given: to each, over the
# terms of loop, g (of row LR) times the vector at src, in loop order,
# starting from dst where the C condition from holds (1: always), else
# from zero (the first writer of an input gradient stores it).
m4_define(`LIN_SUMS_TILE',
`            {
MC_FOR(`LR', 0, m4_eval($1 - 1), `                float *restrict d`'LR = $4;
')m4_dnl
MC_FOR(`LR', 0, m4_eval($1 - 1), `MC_FOR(`LV', 0, m4_eval($2 - 1), `                LIN_START(s`'LR`'_`'LV, d`'LR + m4_eval(LV * VL), LV, $2, $3, `$8')
')')m4_dnl
                $5 {
                    const float *restrict src = $6;
MC_FOR(`LV', 0, m4_eval($2 - 1), `                    LIN_LOAD(v`'LV, src + m4_eval(LV * VL), LV, $2, $3)
                    MC_HOLD(v`'LV);
')m4_dnl
MC_FOR(`LR', 0, m4_eval($1 - 1), `                    {
                        const float g = $7;
MC_FOR(`LV', 0, m4_eval($2 - 1), `                        s`'LR`'_`'LV += g * v`'LV;
')m4_dnl
                    }
')m4_dnl
                }
MC_FOR(`LR', 0, m4_eval($1 - 1), `MC_FOR(`LV', 0, m4_eval($2 - 1), `                LIN_STORE(d`'LR + m4_eval(LV * VL), s`'LR`'_`'LV, LV, $2, $3)
')')m4_dnl
            }
')
# LIN_DW_TILE(rows, vecs, o0, i0, tail): dw[o0 .. o0 + rows) x [i0, i0 +
# vecs VL), summed over the images in order.
m4_define(`LIN_DW_TILE', `LIN_SUMS_TILE($1, $2, $5, `dw + (long)($3 + LR) * LIN_IN + $4', `for (int b = 0; b < n; b++)',
    `x + (long)b * LIN_IN + $4', `dy[(long)b * CO + $3 + LR]', 1)')
# LIN_LOAD(v, p, index, vecs, tail), LIN_STORE(p, v, index, vecs, tail):
# vector index of a tile, the last one partial when tail is given;
# LIN_LOAD_INTO the load into a declared v; LIN_START(v, p, index, vecs,
# tail, from) declares v, loaded where from holds, else zero.
m4_define(`LIN_LOAD_INTO', `m4_ifelse(m4_eval(`$5' != 0 && $3 == $4 - 1), 1,
`mc_vf_part(&$1, $2, $5);', `$1 = *(const mc_vf *)($2);')')
m4_define(`LIN_LOAD', `mc_vf $1; LIN_LOAD_INTO($@)')
m4_define(`LIN_START', `m4_ifelse(`$6', 1, `LIN_LOAD(`$1', `$2', `$3', `$4', `$5')',
`mc_vf $1 = {0};
                if ($6)
                    LIN_LOAD_INTO(`$1', `$2', `$3', `$4', `$5')')')
m4_define(`LIN_STORE', `m4_ifelse(m4_eval(`$5' != 0 && $3 == $4 - 1), 1,
`mc_vf_store_part($1, &$2, $5);', `*(mc_vf *)($1) = $2;')')

# The input gradient's tile: LIN_XB images by LIN_WV vectors of their
# inputs (the target's product tile again), summed over the rows of w in
# order, the strip of w it reads (CO x LIN_WV VL floats) kept in cache for
# every image. LIN_DX_TILE(images, vecs, i0, tail): dx of images b .. b +
# images - 1, columns [i0, i0 + vecs VL).
m4_define(`LIN_XB', GEMM_MR)
m4_define(`LIN_DX_TILE', `LIN_SUMS_TILE($1, $2, $4, `dx + (long)(b + LR) * LIN_IN + $3', `for (int o = 0; o < CO; o++)',
    `w + (long)o * LIN_IN + $3', `dy[(long)(b + LR) * CO + o]', `acc')')
# LIN_DX_COLS(vecs, i0, tail): the columns of a strip for every image.
m4_define(`LIN_DX_COLS',
`        int b = 0;
        for (; b + LIN_XB <= n; b += LIN_XB)
LIN_DX_TILE(LIN_XB, $1, $2, $3)m4_dnl
        for (; b < n; b++)
LIN_DX_TILE(1, $1, $2, $3)m4_dnl
')

# LIN_DW_ROWS(rows, o0): every column tile of rows o0 .. o0 + rows - 1.
m4_define(`LIN_DW_ROWS',
`m4_ifelse(m4_eval(LIN_WFULL > 0), 1, `        for (int i0 = 0; i0 < LIN_WFULL; i0 += LIN_WW)
LIN_DW_TILE($1, LIN_WV, $2, i0, 0)')m4_dnl
m4_ifelse(m4_eval(LIN_WFULL < LIN_IN), 1, `LIN_DW_TILE($1, LIN_WREST, $2, LIN_WFULL, LIN_WTAIL)')m4_dnl
')

# Threads only for a layer of at least MC_PAR_FLOATS weights: a parallel region
# costs about a microsecond, more than a classifier head or a
# squeeze-excitation linear takes on one thread (docs/shapes.md). The
# forward's threads take blocks of rows of w, the input gradient's strips
# of columns, the filter gradient's blocks of rows: every element is summed
# by one thread in a fixed order, whatever the thread count.
m4_define(`LIN_BIG', `m4_eval(LIN_IN * CO >= MC_PAR_FLOATS)')
m4_define(`LIN_OMP', `m4_ifelse(LIN_BIG, 1, `    MC_OMP_FOR
')')
# LIN_FWD_BODY: y = x w^T (+ bias) for n images x (n, x, w, bias and y in
# scope); LIN_BWD_PRODUCTS: dx = dy w (added to dx when acc) and dw +=
# dy^T x (dy, dx, dw and acc too). Also the products of a pointwise conv on a 1x1 plane (conv.m4),
# whose filters are those of a linear layer.
m4_define(`LIN_FWD_BODY',
`m4_ifelse(LIN_BCAST_N, 0, `', `    if (n >= LIN_BCAST_N) {
        NAME`'_bcast(n, x, w, bias, y);
        return;
    }
')m4_dnl
m4_ifelse(m4_eval(CO >= LIN_RB), 1, `LIN_OMP()m4_dnl
    for (int o0 = 0; o0 < m4_eval(CO / LIN_RB * LIN_RB); o0 += LIN_RB) {
LIN_FWD_ROWS(LIN_RB, `o0')m4_dnl
    }
')m4_dnl
m4_ifelse(m4_eval(CO % LIN_RB > 0), 1, `    {
LIN_FWD_ROWS(m4_eval(CO % LIN_RB), m4_eval(CO / LIN_RB * LIN_RB))m4_dnl
    }
')')

# The broadcast forward, NAME_bcast (from LIN_BCAST_N images on: plan.c,
# mc_plan_linear_bcast), which LIN_FWD_HELPERS defines before the
# forward: w transposed once a call into wt, its rows of CO outputs padded
# to whole vectors (LIN_COP) on the stack, then tiles of GEMM_MR images by
# GEMM_NV vectors of outputs, each input of an image broadcast against a
# row of wt: no lanes added across, where the dot products of a short
# input (a squeeze-excitation linear: 10 inputs in a 16-lane vector) spent
# more on adding each output across its lanes than on its multiply-adds.
# Each output adds its terms in input order, then the bias.
m4_define(`LIN_COP', `m4_eval((CO + VL - 1) / VL * VL)')
m4_define(`LIN_CVF', `m4_eval(CO / VL)')
m4_define(`LIN_CTAIL', `m4_eval(CO % VL)')
m4_define(`LIN_BC_FULL', `m4_eval(LIN_CVF / GEMM_NV * GEMM_NV)')
# the vectors after the whole tiles: whole ones, then the partial one
m4_define(`LIN_BC_REST', `m4_eval(LIN_CVF - LIN_BC_FULL + (LIN_CTAIL > 0))')
# LIN_BC_TILE(images, vecs, v0, tail, indent): y of images b .. b + images
# - 1, output vectors v0 .. v0 + vecs - 1, the last of tail lanes when
# tail is not 0; its lines indented by indent.
m4_define(`LIN_BC_TILE',
`$5{
MC_FOR(`LI', 0, m4_eval($1 - 1), `MC_FOR(`LV', 0, m4_eval($2 - 1), `$5    mc_vf s`'LI`'_`'LV = {0};
')')m4_dnl
$5    for (int i = 0; i < LIN_IN; i++) {
MC_FOR(`LV', 0, m4_eval($2 - 1), `$5        mc_vf w`'LV = *(const mc_vf *)(wt + i * LIN_COP + ($3 + LV) * VL);
$5        MC_HOLD(w`'LV);
')m4_dnl
MC_FOR(`LI', 0, m4_eval($1 - 1), `$5        {
$5            const float xi = x[(long)(b + LI) * LIN_IN + i];
MC_FOR(`LV', 0, m4_eval($2 - 1), `$5            s`'LI`'_`'LV += xi * w`'LV;
')m4_dnl
$5        }
')m4_dnl
$5    }
MC_FOR(`LI', 0, m4_eval($1 - 1), `MC_FOR(`LV', 0, m4_eval($2 - 1), `m4_dnl
m4_ifelse(BIAS, 1, `$5    {
$5        LIN_LOAD(bv, bias + ($3 + LV) * VL, LV, $2, $4)
$5        s`'LI`'_`'LV = bv + s`'LI`'_`'LV;
$5    }
')m4_dnl
m4_ifelse(LIN_ACT, 1, `$5    s`'LI`'_`'LV = ACT_FUSED_V(s`'LI`'_`'LV);
')m4_dnl
$5    LIN_STORE(y + (long)(b + LI) * CO + ($3 + LV) * VL, s`'LI`'_`'LV, LV, $2, $4)
')')m4_dnl
$5}
')
# LIN_BC_IMAGES(vecs, v0, tail, indent): those vectors of the images of
# block blk, GEMM_MR of them (a single image at a time past the last whole
# block).
m4_define(`LIN_BC_IMAGES',
`$4int b = blk * GEMM_MR;
$4if (b + GEMM_MR <= n)
LIN_BC_TILE(GEMM_MR, $1, $2, $3, `$4    ')m4_dnl
$4else
$4    for (; b < n; b++)
LIN_BC_TILE(1, $1, $2, $3, `$4        ')m4_dnl
')
m4_define(`LIN_FWD_HELPERS', `m4_ifelse(LIN_BCAST_N, 0, `',
`static void NAME`'_bcast(int n, const float *restrict x, const float *restrict w, const float *restrict bias,
    float *restrict y)
{
    (void)bias;
    float wt[m4_eval(LIN_IN * LIN_COP)];
    for (int i = 0; i < LIN_IN; i++) {
        for (int o = 0; o < CO; o++)
            wt[i * LIN_COP + o] = w[(long)o * LIN_IN + i];
m4_ifelse(LIN_CTAIL, 0, `', `        for (int o = CO; o < LIN_COP; o++)
            wt[i * LIN_COP + o] = 0;
')m4_dnl
    }
LIN_OMP()m4_dnl
    for (int blk = 0; blk < (n + m4_eval(GEMM_MR - 1)) / GEMM_MR; blk++) {
m4_ifelse(m4_eval(LIN_BC_FULL > 0), 1, `        for (int v0 = 0; v0 < LIN_BC_FULL; v0 += GEMM_NV) {
LIN_BC_IMAGES(GEMM_NV, `v0', 0, `            ')m4_dnl
        }
')m4_dnl
m4_ifelse(m4_eval(LIN_BC_REST > 0), 1, `        {
LIN_BC_IMAGES(LIN_BC_REST, LIN_BC_FULL, LIN_CTAIL, `            ')m4_dnl
        }
')m4_dnl
    }
}

')')

m4_define(`LIN_BWD_PRODUCTS',
`m4_ifelse(m4_eval(LIN_WFULL > 0), 1, `LIN_OMP()m4_dnl
    for (int i0 = 0; i0 < LIN_WFULL; i0 += LIN_WW) {
LIN_DX_COLS(LIN_WV, `i0', 0)m4_dnl
    }
')m4_dnl
m4_ifelse(m4_eval(LIN_WFULL < LIN_IN), 1, `    {
LIN_DX_COLS(LIN_WREST, LIN_WFULL, LIN_WTAIL)m4_dnl
    }
')m4_dnl
m4_ifelse(m4_eval(CO >= LIN_WR), 1, `LIN_OMP()m4_dnl
    for (int o0 = 0; o0 < m4_eval(CO / LIN_WR * LIN_WR); o0 += LIN_WR) {
LIN_DW_ROWS(LIN_WR, `o0')m4_dnl
    }
')m4_dnl
m4_ifelse(m4_eval(CO % LIN_WR > 0), 1, `    {
LIN_DW_ROWS(m4_eval(CO % LIN_WR), m4_eval(CO / LIN_WR * LIN_WR))m4_dnl
    }
')')

m4_divert(0)m4_dnl
