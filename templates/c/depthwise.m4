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
# part of an unfused Multiception), BIAS (0 or 1, one kernel only), and
# OY0, OY1, OX0, OX1: the interior [OY0, OY1) x [OX0, OX1) of the output,
# where the largest window lies inside the input, so no bounds tests.
# Taps are unrolled everywhere; spatial and channel loops have literal
# bounds. Backward kernels accumulate, and need dx and dw.

# Kernel j: its size, its padding, where its weights start.
m4_define(`DW_K', `m4_indir(`K$1')')
m4_define(`DW_P', `m4_eval(m4_indir(`K$1') / 2)')
m4_define(`DW_WOFF', `m4_indir(`WOFF$1')')
m4_define(`DW_EACH', `MC_FOR(`j', 0, m4_eval(NK - 1), `$1')')

# Channel c of kernel j: weights wj, and yj, the output plane of image b
# (or dj, its gradient).
m4_define(`DW_PTRS', `DW_EACH(`m4_dnl
    const float *restrict w`'j = w + DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j));
    $1 *restrict $2`'j = $3 + ((long)b * YC + m4_eval(j * C) + c) * m4_eval(HO * WO);
')')

m4_define(`MC_DEPTHWISE_FWD',
`/* NAME: depthwise, kernels KLIST on C channels of H`'x`'W, stride S -> m4_eval(NK * C)x`'HO`'x`'WO */
m4_ifelse(MC_HAS_BORDER(OY0, OY1, OX0, OX1), 1, `static inline void NAME`'_fwd_at(const float *restrict xc, const float *restrict w, const float *restrict bias,
    float *restrict y, int b, int c, int oy, int ox)
{
    (void)bias;
DW_PTRS(`float', `y', `y')m4_dnl
DW_EACH(`    {
        float s = m4_ifelse(BIAS, 1, `bias[c]', `0.0f');
MC_TAPS_CHECKED(DW_K(j), DW_P(j), S, H, W, `s += w`'j[MC_T] * xc[iy * W + ix];')m4_dnl
        y`'j[oy * WO + ox] = s;
    }
')m4_dnl
}

')m4_dnl
/* Channel c of image b, every kernel. */
static inline void NAME`'_fwd_plane(const float *restrict xc, const float *restrict w, const float *restrict bias,
    float *restrict y, int b, int c)
{
    (void)bias;
MC_IF_INTERIOR(OY0, OY1, OX0, OX1, `DW_PTRS(`float', `y', `y')')m4_dnl
MC_ROWS(`NAME`'_fwd_at(xc, w, bias, y, b, c, oy, ox);',
`            const float *restrict p = xc + (oy * S - PMAX) * W + ox * S - PMAX;
DW_EACH(`            y`'j[oy * WO + ox] = m4_ifelse(BIAS, 1, `bias[c]', `0.0f')`'MC_TAPS(DW_K(j), DW_P(j), PMAX, W, `
                + w`'j[MC_T] * p[MC_OFF]');
')', OY0, OY1, OX0, OX1)m4_dnl
}

void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y)
{
    MC_OMP_FOR
    for (int bc = 0; bc < n * C; bc++)
        NAME`'_fwd_plane(x + (long)bc * m4_eval(H * W), w, bias, y, bc / C, bc % C);
}
')

# Backward. The border positions scatter each output gradient d into dx
# through the taps (dx += w * d) and gather the weight gradients (g +=
# d * x), bounds tested. The interior runs tap by tap: for each tap, a pass
# over the interior rows adds w * dy into the shifted dx rows and d * x into
# per-column sums, two element-wise loops along the row that vectorize
# (a per-position scatter would not); the sums are added up once per tap.
m4_define(`DW_GRADS', `DW_EACH(`float *restrict g`'j, ')')
m4_define(`DW_GRAD_ARGS', `DW_EACH(`g`'j, ')')

m4_define(`DW_BWD_INTERIOR',
`DW_EACH(`MC_TAPS(DW_K(j), DW_P(j), PMAX, W, `    {
        /* kernel j, tap MC_T */
        const float wt = w`'j[MC_T];
        float acc[WO] = {0};
        for (int oy = OY0; oy < OY1; oy++) {
            const float *restrict drow = d`'j + oy * WO;
            const long at = (long)(oy * S - PMAX) * W + m4_eval(MC_OFF - PMAX);
            for (int ox = OX0; ox < OX1; ox++) {
                const float d = drow[ox];
                dxc[at + ox * S] += wt * d;
                acc[ox] += d * xc[at + ox * S];
            }
        }
        float s = 0.0f;
        for (int ox = OX0; ox < OX1; ox++)
            s += acc[ox];
        g`'j[MC_T] += s;
    }
')')')

m4_define(`MC_DEPTHWISE_BWD',
`m4_ifelse(MC_HAS_BORDER(OY0, OY1, OX0, OX1), 1, `static inline void NAME`'_bwd_at(const float *restrict xc, const float *restrict w, const float *restrict dy,
    float *restrict dxc, DW_GRADS()int b, int c, int oy, int ox)
{
DW_PTRS(`const float', `d', `dy')m4_dnl
DW_EACH(`    {
        const float d = d`'j[oy * WO + ox];
MC_TAPS_CHECKED(DW_K(j), DW_P(j), S, H, W,
    `dxc[iy * W + ix] += w`'j[MC_T] * d; g`'j[MC_T] += d * xc[iy * W + ix];')m4_dnl
    }
')m4_dnl
}

')m4_dnl
/* Channel c of image b: its gradients go to dxc and the accumulators g. */
static inline void NAME`'_bwd_plane(const float *restrict xc, const float *restrict w, const float *restrict dy,
    float *restrict dxc, DW_GRADS()int b, int c)
{
MC_IF_INTERIOR(OY0, OY1, OX0, OX1, `DW_PTRS(`const float', `d', `dy')')m4_dnl
MC_BORDER(`NAME`'_bwd_at(xc, w, dy, dxc, DW_GRAD_ARGS()b, c, oy, ox);', OY0, OY1, OX0, OX1)m4_dnl
MC_IF_INTERIOR(OY0, OY1, OX0, OX1, `DW_BWD_INTERIOR()')m4_dnl
}

void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias)
{
    (void)dbias;
    MC_OMP_FOR
    for (int c = 0; c < C; c++) {
DW_EACH(`        float g`'j[m4_eval(DW_K(j) * DW_K(j))] = {0};
')m4_dnl
        double gb = 0; /* the bias gradient, with one kernel */
        for (int b = 0; b < n; b++) {
m4_ifelse(BIAS, 1, `            const float *restrict d0 = dy + ((long)b * YC + c) * m4_eval(HO * WO);
            for (int i = 0; i < m4_eval(HO * WO); i++)
                gb += d0[i];
')m4_dnl
            NAME`'_bwd_plane(x + ((long)b * C + c) * m4_eval(H * W), w, dy, dx + ((long)b * C + c) * m4_eval(H * W),
                DW_GRAD_ARGS()b, c);
        }
DW_EACH(`        {
            float *restrict dw`'j = dw + DW_WOFF(j) + c * m4_eval(DW_K(j) * DW_K(j));
MC_FOR(`t', 0, m4_eval(DW_K(j) * DW_K(j) - 1), `            dw`'j[t] += g`'j[t];
')m4_dnl
        }
')m4_dnl
m4_ifelse(BIAS, 1, `        dbias[c] += (float)gb;
', `        (void)gb;
')m4_dnl
    }
}
')

m4_define(`MC_DEPTHWISE_KERNEL', `MC_DEPTHWISE_FWD()
MC_DEPTHWISE_BWD()')

m4_define(`MC_DEPTHWISE_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, const float *restrict bias, float *restrict y);
void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, float *restrict dbias);
')

# Calls: IN0, OUT (activation slots), WEIGHT, BIAS_AT (parameters; -1 for
# none), SHIFT (where this kernel writes inside the output slot: nonzero
# for the parts of an unfused Multiception).
m4_define(`MC_DEPTHWISE_CALL_FWD',
`    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_PARAM(BIAS_AT), MC_ACT(OUT, SHIFT));
')
m4_define(`MC_DEPTHWISE_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT, SHIFT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_GRAD(BIAS_AT));
')
m4_divert(0)m4_dnl
