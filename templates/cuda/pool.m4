m4_divert(-1)
# Average pooling (global when K is 0, else K x K windows, stride S, no
# padding, taps unrolled as in the C template), max pooling (a scan with
# the rule of the C template, CPOOL_SCAN) and subsampling. The window backwards gather
# each input gradient from the windows that cover it: max pooling adds the
# output gradient of each covering window whose first maximum it is.
# Constants: NAME, C, H, W, HO, WO, S, K (avgpool, maxpool), PAD (maxpool),
# OFFSET, VH, VW (subsample).
m4_include(`../c/pool.m4')m4_divert(-1)

m4_define(`CPOOL_IN', `m4_eval(H * W)')
m4_define(`CPOOL_OUT', `m4_eval(HO * WO)')

m4_define(`MC_AVGPOOL_KERNEL', `m4_ifelse(K, 0, `CPOOL_GLOBAL()', `CPOOL_WINDOW()')
void NAME`'_cu_fwd(int host, int n, const float *x, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `n, x, y');
}

void NAME`'_cu_bwd(int host, int n, const float *dy, float *dx)
{
    CU_MAP_RUN(NAME`'_bwd, n * m4_eval(C * H * W)L, `n, dy, dx');
}
')

m4_define(`CPOOL_GLOBAL',
`/* NAME: mean over H`'x`'W of C channels */
CU_MAP(NAME`'_fwd, n * (long)C, `int n, const float *x, float *y', `n, x, y',
`        double s = 0;
        for (int k = 0; k < CPOOL_IN; k++)
            s += x[i * CPOOL_IN + k];
        y[i] = (float)(s / CPOOL_IN);
')
CU_MAP(NAME`'_bwd, n * m4_eval(C * H * W)L, `int n, const float *dy, float *dx', `n, dy, dx',
`        dx[i] += dy[i / CPOOL_IN] / CPOOL_IN;
')')

m4_define(`CPOOL_WINDOW',
`/* NAME: K`'x`'K average pooling, stride S, of C channels of H`'x`'W -> HO`'x`'WO */
MC_CU_HD static inline float NAME`'_at(const float *q) { return (0.0f`'MC_TAPS(K, 0, 0, W, ` + q[MC_OFF]')) / m4_eval(K * K); }

CU_MAP(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `int n, const float *x, float *y', `n, x, y',
`        const long p = i / CPOOL_OUT;
        const int oy = (int)(i % CPOOL_OUT) / WO, ox = (int)(i % CPOOL_OUT) % WO;
        y[i] = NAME`'_at(x + p * CPOOL_IN + oy * m4_eval(S * W) + ox * S);
')
MC_CU_HD static inline float NAME`'_grad_at(const float *dyp, int iy, int ix)
{
    float s = 0.0f;
CU_GATHER(K, 0, S, HO, WO, `s += dyp[oy * WO + ox] / m4_eval(K * K);')m4_dnl
    return s;
}

CU_MAP(NAME`'_bwd, n * m4_eval(C * H * W)L, `int n, const float *dy, float *dx', `n, dy, dx',
`        const long p = i / CPOOL_IN;
        dx[i] += NAME`'_grad_at(dy + p * CPOOL_OUT, (int)(i % CPOOL_IN) / W, (int)(i % CPOOL_IN) % W);
')')

# CPOOL_SCAN: the first maximum of the window of output (oy, ox) of the
# plane (the rule of the C template: a later equal value does not win, a
# NaN does, the first tap inside the plane starts), testing each tap for
# the padding; its offset in the plane in at.
m4_define(`CPOOL_SCAN',
`    float best = -INFINITY;
    int at = -1;
    for (int ky = 0; ky < K; ky++) {
        const int iy = oy * S + ky - PAD;
        if (iy < 0 || iy >= H)
            continue;
        for (int kx = 0; kx < K; kx++) {
            const int ix = ox * S + kx - PAD;
            if (ix < 0 || ix >= W)
                continue;
            const float v = plane[iy * W + ix];
            const int take = v > best || v != v || at < 0;
            best = take ? v : best;
            at = take ? iy * W + ix : at;
        }
    }
')

m4_define(`MC_MAXPOOL_KERNEL',
`/* NAME: K`'x`'K max pooling, stride S, padding PAD, of C channels of H`'x`'W -> HO`'x`'WO */
MC_CU_HD static inline int NAME`'_argmax(const float *plane, int oy, int ox)
{
CPOOL_SCAN()m4_dnl
    return at;
}

CU_MAP(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `int n, const float *x, float *y', `n, x, y',
`        const long p = i / CPOOL_OUT;
        const int oy = (int)(i % CPOOL_OUT) / WO, ox = (int)(i % CPOOL_OUT) % WO;
        y[i] = x[p * CPOOL_IN + NAME`'_argmax(x + p * CPOOL_IN, oy, ox)];
')
MC_CU_HD static inline float NAME`'_grad_at(const float *xp, const float *dyp, int iy, int ix)
{
    float s = 0.0f;
CU_GATHER(K, PAD, S, HO, WO, `if (NAME`'_argmax(xp, oy, ox) == iy * W + ix) s += dyp[oy * WO + ox];')m4_dnl
    return s;
}

CU_MAP(NAME`'_bwd, n * m4_eval(C * H * W)L, `int n, const float *x, const float *dy, float *dx', `n, x, dy, dx',
`        const long p = i / CPOOL_IN;
        dx[i] += NAME`'_grad_at(x + p * CPOOL_IN, dy + p * CPOOL_OUT, (int)(i % CPOOL_IN) / W, (int)(i % CPOOL_IN) % W);
')
void NAME`'_cu_fwd(int host, int n, const float *x, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `n, x, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *dy, float *dx)
{
    CU_MAP_RUN(NAME`'_bwd, n * m4_eval(C * H * W)L, `n, x, dy, dx');
}
')

m4_define(`MC_SUBSAMPLE_KERNEL',
`/* NAME: rows and columns OFFSET, OFFSET+S, ... of C channels of H`'x`'W -> HO`'x`'WO */
CU_MAP(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `int n, const float *x, float *y', `n, x, y',
`        const long p = i / CPOOL_OUT;
        const int oy = (int)(i % CPOOL_OUT) / WO, ox = (int)(i % CPOOL_OUT) % WO;
        y[i] = oy < VH && ox < VW ? x[p * CPOOL_IN + (OFFSET + S * oy) * W + OFFSET + S * ox] : 0;
')
CU_MAP(NAME`'_bwd, n * m4_eval(C * HO * WO)L, `int n, const float *dy, float *dx', `n, dy, dx',
`        const long p = i / CPOOL_OUT;
        const int oy = (int)(i % CPOOL_OUT) / WO, ox = (int)(i % CPOOL_OUT) % WO;
        if (oy < VH && ox < VW)
            dx[p * CPOOL_IN + (OFFSET + S * oy) * W + OFFSET + S * ox] += dy[i];
')
void NAME`'_cu_fwd(int host, int n, const float *x, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, n * m4_eval(C * HO * WO)L, `n, x, y');
}

void NAME`'_cu_bwd(int host, int n, const float *dy, float *dx)
{
    CU_MAP_RUN(NAME`'_bwd, n * m4_eval(C * HO * WO)L, `n, dy, dx');
}
')

m4_define(`CPOOL_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, float *y);
void NAME`'_cu_bwd(int host, int n, const float *dy, float *dx);
')
m4_define(`MC_AVGPOOL_PROTO', `CPOOL_PROTO()')
m4_define(`MC_SUBSAMPLE_PROTO', `CPOOL_PROTO()')
m4_define(`MC_MAXPOOL_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *dy, float *dx);
')
m4_define(`CPOOL_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_ACT(OUT));
')
m4_define(`CPOOL_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_DACT(OUT), MC_DACT(IN0));
')
m4_define(`MC_AVGPOOL_CALL_FWD', `CPOOL_CALL_FWD()')
m4_define(`MC_SUBSAMPLE_CALL_FWD', `CPOOL_CALL_FWD()')
m4_define(`MC_MAXPOOL_CALL_FWD', `CPOOL_CALL_FWD()')
m4_define(`MC_MAXPOOL_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_DACT(OUT), MC_DACT(IN0));
')
m4_define(`MC_AVGPOOL_CALL_BWD', `CPOOL_CALL_BWD()')
m4_define(`MC_SUBSAMPLE_CALL_BWD', `CPOOL_CALL_BWD()')
m4_divert(0)m4_dnl
