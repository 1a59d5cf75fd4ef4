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
# With padding, the K input rows of an output row are first copied into
# rows of W + 2 PAD with -inf on both sides (rows above and below the plane
# all -inf, MP_FILL), so every window lies inside and one loop over the
# output columns, its K x K taps unrolled at literal offsets, takes all of
# them; it vectorizes, and no element tests a bound. A padding tap never
# wins (its -inf is no greater than anything): the forward starts from the
# first tap, the backward from -inf and the first element inside the plane,
# which takes the gradient when nothing is greater (a window of -inf), as
# in PyTorch. Without padding the taps read the plane.
m4_define(`MP_WP', `m4_ifelse(PAD, 0, W, `m4_eval(W + 2 * PAD)')')
m4_define(`MP_FILL', `m4_ifelse(PAD, 0, `            const float *restrict rows = plane + oy * m4_eval(S * W);
', `            float rows[m4_eval(K * MP_WP)];
            for (int ky = 0; ky < K; ky++) {
                const int iy = oy * S - PAD + ky;
                float *restrict b = rows + ky * MP_WP;
                if (iy < 0 || iy >= H) {
                    for (int j = 0; j < MP_WP; j++)
                        b[j] = -INFINITY;
                    continue;
                }
                for (int j = 0; j < PAD; j++)
                    b[j] = b[PAD + W + j] = -INFINITY;
                memcpy(b + PAD, plane + iy * W, sizeof(float) * W);
            }
')')

# MP_SCAN(index): the window of (oy, ox) at q, its first maximum in m (the
# value alone) or, with index, in best and its element of the plane in at.
m4_define(`MP_SCAN', `m4_ifelse(`$1', `', `                float m = q[0];
MC_TAPS(K, 0, 0, MP_WP, `m4_ifelse(MC_OFF, 0, `', `                m = q[MC_OFF] > m || q[MC_OFF] != q[MC_OFF] ? q[MC_OFF] : m;
')')', `                const int corner = (oy * S - PAD) * W + ox * S - PAD;
                float best = -INFINITY;
                int at = (oy * S < PAD ? 0 : oy * S - PAD) * W + (ox * S < PAD ? 0 : ox * S - PAD);
MC_TAPS(K, 0, 0, MP_WP, `                {
                    const float v = q[MC_OFF];
                    const int take = v > best || v != v;
                    best = take ? v : best;
                    at = take ? corner + m4_eval(ky * W + kx) : at;
                }
')')')

m4_define(`MC_MAXPOOL_KERNEL',
`/* NAME: K`'x`'K max pooling, stride S, padding PAD, of C channels of H`'x`'W -> HO`'x`'WO */
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
    POOL_PAR
    for (long p = 0; p < n * C; p++) {
        const float *restrict plane = x + p * POOL_IN;
        for (int oy = 0; oy < HO; oy++) {
MP_FILL()m4_dnl
            for (int ox = 0; ox < WO; ox++) {
                const float *restrict q = rows + ox * S;
MP_SCAN()m4_dnl
                y[p * POOL_OUT + oy * WO + ox] = m;
            }
        }
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
        for (int oy = 0; oy < HO; oy++) {
MP_FILL()m4_dnl
            int first[WO];
            for (int ox = 0; ox < WO; ox++) {
                const float *restrict q = rows + ox * S;
MP_SCAN(index)m4_dnl
                first[ox] = at;
            }
            /* a scan with the add in it made every select a branch; and
               where S < K windows overlap: one element may take several */
            for (int ox = 0; ox < WO; ox++)
                d[first[ox]] += g[oy * WO + ox];
        }
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
