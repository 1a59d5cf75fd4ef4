m4_divert(-1)
# Channel scaling (squeeze-and-excitation): y[c] = x[c] * s[c] per image,
# s of C x 1 x 1. Constants: NAME, C, H, W.
#
# Plane by plane, over threads when the layer is large enough
# (MC_PAR_FLOATS). The backward stores or adds each gradient as its acc
# flag says (the first writer of a gradient stores it: no slot cleared
# before); the gradient of s is a dot product of a plane in double
# vector lanes (the plane dot of common.m4), as the generic kernel sums.
# dx and ds may be one slot (x and s one node, on a 1 x 1 plane): dx is
# written before ds, each plane in turn, as the generic kernel does.

m4_define(`SCALE_HW', `m4_eval(H * W)')
m4_define(`SCALE_PAR', `MC_OMP_FOR_IF(n * m4_eval(C * H * W) >= MC_PAR_FLOATS)')
# A vector of a plane (common.m4, the plane map) and a float of its tail:
# y = x s; dx += dy s; dx = dy s.
m4_define(`SCALE_FWD_V', `            *(mc_vf *)(yp + k) = *(const mc_vf *)(xp + k) * sp;
')
m4_define(`SCALE_ADD_V', `                    *(mc_vf *)(d + k) += *(const mc_vf *)(g + k) * sp;
')
m4_define(`SCALE_SET_V', `                    *(mc_vf *)(d + k) = *(const mc_vf *)(g + k) * sp;
')

m4_define(`MC_SCALE_KERNEL',
`MC_VEC_PRELUDE()m4_dnl
/* NAME: C channels of H`'x`'W scaled per channel */
void NAME`'_fwd(int n, const float *restrict x, const float *restrict s, float *restrict y)
{
    SCALE_PAR
    for (long p = 0; p < n * C; p++) {
        const float *restrict xp = x + p * SCALE_HW;
        float *restrict yp = y + p * SCALE_HW;
        const float sp = s[p];
MC_PLANE_MAP(`        ', SCALE_HW, `SCALE_FWD_V', `yp[i] = xp[i] * sp;')m4_dnl
    }
}

MC_TRAINING_ONLY(`MC_PLANE_DOT(NAME`'_dot, SCALE_HW)
void NAME`'_bwd(int n, const float *restrict x, const float *restrict s, const float *restrict dy, float *dx, int acc_x,
    float *ds, int acc_s)
{
    SCALE_PAR
    for (long p = 0; p < n * C; p++) {
        const float *restrict g = dy + p * SCALE_HW;
        {
            float *restrict d = dx + p * SCALE_HW;
            const float sp = s[p];
            if (acc_x) {
MC_PLANE_MAP(`                ', SCALE_HW, `SCALE_ADD_V', `d[i] += g[i] * sp;')m4_dnl
            } else {
MC_PLANE_MAP(`                ', SCALE_HW, `SCALE_SET_V', `d[i] = g[i] * sp;')m4_dnl
            }
        }
        const float gs = (float)NAME`'_dot(g, x + p * SCALE_HW);
        ds[p] = acc_s ? ds[p] + gs : gs;
    }
}
')')

m4_define(`MC_SCALE_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict s, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict s, const float *restrict dy, float *dx, int acc_x,
    float *ds, int acc_s);
')')

m4_define(`MC_SCALE_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_ACT(IN1), MC_ACT(OUT));
')
m4_define(`MC_SCALE_CALL_BWD', `    NAME`'_bwd(n, MC_ACT(IN0), MC_ACT(IN1), MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0), MC_DACT(IN1), MC_ACC(1));
')
m4_define(`MC_SCALE_STORES')
m4_divert(0)m4_dnl
