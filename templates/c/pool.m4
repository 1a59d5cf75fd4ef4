m4_divert(-1)
# Average pooling (global when K is 0, else K x K windows with stride S and
# no padding, taps unrolled) and subsampling (ShakeNet shifted shortcut:
# rows and columns OFFSET, OFFSET+S, ..., zero past the edge; VH x VW of
# the HO x WO outputs read the input). Constants: NAME, C, H, W, HO, WO, S,
# K (avgpool, maxpool), PAD (maxpool), OFFSET, VH, VW (subsample).

m4_define(`POOL_IN', `m4_eval(H * W)')
m4_define(`POOL_OUT', `m4_eval(HO * WO)')

# Plane by plane, over threads when the layer is large enough
# (MC_PAR_FLOATS). Each backward stores or adds its input gradient as acc
# says (the first writer of that gradient stores it, no slot cleared
# before): the global mean stores its share, the windowed ones, whose
# windows may overlap or skip, clear the plane first (POOL_CLEAR), in
# cache, where the step would have cleared the whole slot before.
m4_define(`POOL_PAR', `MC_OMP_FOR_IF(n * m4_eval(C * H * W) >= MC_PAR_FLOATS)')
m4_define(`POOL_CLEAR', `        if (!acc)
            memset(dx + p * POOL_IN, 0, sizeof(float) * POOL_IN);
')

m4_define(`MC_AVGPOOL_KERNEL', `m4_ifelse(K, 0, `POOL_GLOBAL()', `POOL_WINDOW()')')
# A vector of a plane of the global mean backward (common.m4, the plane
# map): the share g of each input added or stored.
m4_define(`POOL_ADD_V', `                *(mc_vf *)(d + k) += g;
')
m4_define(`POOL_SET_V', `                *(mc_vf *)(d + k) = (mc_vf){0} + g;
')

# The global mean sums each plane in vector lanes of doubles (one chain of
# double adds per plane took 0.18 ms for 64 x 7 x 7 at batch 128, 6x
# PyTorch).
m4_define(`POOL_GLOBAL',
`/* NAME: mean over H`'x`'W of C channels */
MC_PLANE_SUM(NAME`'_plane_sum, POOL_IN)
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++)
        y[p] = (float)(NAME`'_plane_sum(x + p * POOL_IN) / POOL_IN);
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy, float *restrict dx, int acc)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
        const float g = dy[p] / POOL_IN;
        float *restrict d = dx + p * POOL_IN;
        if (acc) {
MC_PLANE_MAP(`            ', POOL_IN, `POOL_ADD_V', `d[i] += g;')m4_dnl
        } else {
MC_PLANE_MAP(`            ', POOL_IN, `POOL_SET_V', `d[i] = g;')m4_dnl
        }
    }
}
')')

m4_define(`POOL_WINDOW',
`/* NAME: K`'x`'K average pooling, stride S, of C channels of H`'x`'W -> HO`'x`'WO */
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++)
        for (int oy = 0; oy < HO; oy++)
            for (int ox = 0; ox < WO; ox++) {
                const float *restrict q = x + p * POOL_IN + oy * m4_eval(S * W) + ox * S;
                y[p * POOL_OUT + oy * WO + ox] = (0.0f`'MC_TAPS(K, 0, 0, W, ` + q[MC_OFF]')) / m4_eval(K * K);
            }
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy, float *restrict dx, int acc)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
POOL_CLEAR()m4_dnl
        for (int oy = 0; oy < HO; oy++)
            for (int ox = 0; ox < WO; ox++) {
                float *restrict q = dx + p * POOL_IN + oy * m4_eval(S * W) + ox * S;
                const float g = dy[p * POOL_OUT + oy * WO + ox] / m4_eval(K * K);
MC_TAPS(K, 0, 0, W, `                q[MC_OFF] += g;
')m4_dnl
            }
    }
}
')')

# Max pooling, K x K windows with stride S and padding PAD read as -inf
# (PyTorch's MaxPool2d): the first maximum in row-major window order wins
# (a later equal value does not, a NaN does), as in PyTorch's CPU kernel.
# The backward finds that element again from the saved input instead of
# keeping indices: the runtime keeps every activation for training, the
# scan is as cheap as the forward, and an index area would cost 4 bytes per
# output in the plan and one more stream forward. The choices are selects,
# not branches.
#
# The outputs whose windows lie inside the plane (MP_OY0 <= oy < MP_OY1,
# MP_OX0 <= ox < MP_OX1) scan their taps unrolled at literal offsets from
# the window's corner, with no bounds tests, so the forward vectorizes
# across a row; only the border outputs test each tap (MP_ROWS).
m4_define(`MP_LO', `m4_eval((PAD + S - 1) / S)')
m4_define(`MP_HI', `m4_ifelse(m4_eval($1 - K + PAD < 0), 1, 0, `MC_MIN($2, m4_eval(($1 - K + PAD) / S + 1))')')
m4_define(`MP_OY0', `MC_MIN(MP_LO, HO)')
m4_define(`MP_OY1', `MC_MAX(MP_OY0, MP_HI(H, HO))')
m4_define(`MP_OX0', `MC_MIN(MP_LO, WO)')
m4_define(`MP_OX1', `MC_MAX(MP_OX0, MP_HI(W, WO))')
m4_define(`MP_ANY_INSIDE', `m4_eval(MP_OY0 < MP_OY1 && MP_OX0 < MP_OX1)')

# MP_ROWS(border, interior[, after]): every output (oy, ox) of a plane,
# border at those whose window crosses the edge, interior at the others,
# then after, once a row's interior is done. The backward's interior keeps
# each window's first maximum in first[] and adds the gradients after the
# row's scan: a scan with no stores runs as vector selects, where with the
# add in it gcc made every select a branch, mispredicted on every other
# tap of real data.
m4_define(`MP_ROWS',
`m4_ifelse(MP_ANY_INSIDE, 1, `        for (int oy = 0; oy < HO; oy++) {
            const int inside = oy >= MP_OY0 && oy < MP_OY1;
            for (int ox = 0; ox < (inside ? MP_OX0 : WO); ox++) {
$1            }
            if (!inside)
                continue;
            for (int ox = MP_OX0; ox < MP_OX1; ox++) {
                const float *restrict q = plane + (oy * S - PAD) * W + ox * S - PAD;
$2            }$3
m4_ifelse(m4_eval(MP_OX1 < WO), 1, `            for (int ox = MP_OX1; ox < WO; ox++) {
$1            }
')m4_dnl
        }
', `        for (int oy = 0; oy < HO; oy++)
            for (int ox = 0; ox < WO; ox++) {
$1            }
')')

# MP_SCAN(plane) (at oy, ox) leaves the first maximum in best and its
# offset in the plane in at, testing the bounds of each tap (without
# padding every tap is inside, and the tests are left out). MP_SCAN(plane,
# value) finds the maximum alone (the forward): the same value, and no
# index to keep.
m4_define(`MP_SCAN',
`                float best = -INFINITY;
m4_ifelse(`$2', `value', `', `                int at = -1;
')m4_dnl
                for (int ky = 0; ky < K; ky++) {
                    const int iy = oy * S + ky - PAD;
m4_ifelse(PAD, 0, `', `                    if (iy < 0 || iy >= H)
                        continue;
')m4_dnl
                    for (int kx = 0; kx < K; kx++) {
                        const int ix = ox * S + kx - PAD;
m4_ifelse(PAD, 0, `', `                        if (ix < 0 || ix >= W)
                            continue;
')m4_dnl
                        const float v = $1[iy * W + ix];
m4_ifelse(`$2', `value', `                        best = v > best || v != v ? v : best;
', `                        const int take = v > best || v != v || at < 0;
                        best = take ? v : best;
                        at = take ? iy * W + ix : at;
')m4_dnl
                    }
                }
')

# MP_SCAN_INSIDE([value]): the same for a window inside the plane, its
# corner at q: the first tap is always taken, the others unrolled.
m4_define(`MP_SCAN_INSIDE',
`                float best = q[0];
m4_ifelse(`$1', `value', `', `                int at = 0;
')m4_dnl
MC_TAPS(K, 0, 0, W, `m4_ifelse(MC_OFF, 0, `', `m4_ifelse(`$1', `value',
`                best = q[MC_OFF] > best || q[MC_OFF] != q[MC_OFF] ? q[MC_OFF] : best;
', `                {
                    const float v = q[MC_OFF];
                    const int take = v > best || v != v;
                    best = take ? v : best;
                    at = take ? MC_OFF : at;
                }
')')')m4_dnl
')

m4_define(`MC_MAXPOOL_KERNEL',
`/* NAME: K`'x`'K max pooling, stride S, padding PAD, of C channels of H`'x`'W -> HO`'x`'WO */
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
        const float *restrict plane = x + p * POOL_IN;
        float *restrict out = y + p * POOL_OUT;
MP_ROWS(`MP_SCAN(plane, value)                out[oy * WO + ox] = best;
', `MP_SCAN_INSIDE(value)                out[oy * WO + ox] = best;
')m4_dnl
    }
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict dy, float *restrict dx, int acc)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
POOL_CLEAR()m4_dnl
        const float *restrict plane = x + p * POOL_IN;
        const float *restrict g = dy + p * POOL_OUT;
        float *restrict d = dx + p * POOL_IN;
m4_ifelse(MP_ANY_INSIDE, 1, `        int first[WO];
')m4_dnl
MP_ROWS(`MP_SCAN(plane)                d[at] += g[oy * WO + ox];
', `MP_SCAN_INSIDE()                first[ox] = at;
', `
                for (int ox = MP_OX0; ox < MP_OX1; ox++)
                    d[(oy * S - PAD) * W + ox * S - PAD + first[ox]] += g[oy * WO + ox];
')m4_dnl
    }
}
')')

m4_define(`MC_SUBSAMPLE_KERNEL',
`/* NAME: rows and columns OFFSET, OFFSET+S, ... of C channels of H`'x`'W -> HO`'x`'WO */
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++)
        for (int oy = 0; oy < HO; oy++)
            for (int ox = 0; ox < WO; ox++)
                y[p * POOL_OUT + oy * WO + ox] = oy < VH && ox < VW ? x[p * POOL_IN + (OFFSET + S * oy) * W + OFFSET + S * ox] : 0;
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy, float *restrict dx, int acc)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
POOL_CLEAR()m4_dnl
        for (int oy = 0; oy < VH; oy++)
            for (int ox = 0; ox < VW; ox++)
                dx[p * POOL_IN + (OFFSET + S * oy) * W + OFFSET + S * ox] += dy[p * POOL_OUT + oy * WO + ox];
    }
}
')')

m4_define(`POOL_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict dy, float *restrict dx, int acc);
')')
m4_define(`MC_AVGPOOL_PROTO', `POOL_PROTO()')
m4_define(`MC_MAXPOOL_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict dy, float *restrict dx, int acc);
')')
m4_define(`MC_SUBSAMPLE_PROTO', `POOL_PROTO()')
m4_define(`POOL_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_ACT(OUT));
')
m4_define(`POOL_CALL_BWD', `    NAME`'_bwd(n, MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0));
')
m4_define(`MC_AVGPOOL_CALL_FWD', `POOL_CALL_FWD()')
m4_define(`MC_MAXPOOL_CALL_FWD', `POOL_CALL_FWD()')
m4_define(`MC_MAXPOOL_CALL_BWD', `    NAME`'_bwd(n, MC_ACT(IN0), MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0));
')
m4_define(`MC_SUBSAMPLE_CALL_FWD', `POOL_CALL_FWD()')
m4_define(`MC_AVGPOOL_CALL_BWD', `POOL_CALL_BWD()')
m4_define(`MC_SUBSAMPLE_CALL_BWD', `POOL_CALL_BWD()')
m4_define(`MC_AVGPOOL_STORES')
m4_define(`MC_MAXPOOL_STORES')
m4_define(`MC_SUBSAMPLE_STORES')
m4_divert(0)m4_dnl
