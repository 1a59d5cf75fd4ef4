m4_divert(-1)
# MixConv as the reference codes it: input and output channels split in
# three groups; group j is a dense conv with kernel GKj (3, 5, 7), padding
# GKj/2 and the common stride S from its input channels to its output
# channels. No bias.
#
# Constants: NAME, C, H, W (input), CO, HO, WO (output), S, and per group
# j = 0, 1, 2: GKj, GCIj input channels from GCIOFFj, GCOj output channels
# from GCOOFFj, weights [GCOj, GCIj, GKj, GKj] from GWOFFj in w, and its
# interior GOY0j, GOY1j, GOX0j, GOX1j (as OY0 .. OX1 of conv.m4).
#
# Each group is a conv.m4 dense conv: its plane functions (NAME_gj_fwd_plane
# and NAME_gj_bwd_plane) and channel loops come from the macros of conv.m4,
# included here unless the driver did it already.
m4_ifdef(`MC_CONV_KERNEL', `', `m4_include(`conv.m4')m4_divert(-1)')

# Group j: kernel, padding, channels, offsets, interior.
m4_define(`MX_K', `m4_indir(`GK$1')')
m4_define(`MX_P', `m4_eval(m4_indir(`GK$1') / 2)')
m4_define(`MX_CI', `m4_indir(`GCI$1')')
m4_define(`MX_CO', `m4_indir(`GCO$1')')
m4_define(`MX_CIOFF', `m4_indir(`GCIOFF$1')')
m4_define(`MX_COOFF', `m4_indir(`GCOOFF$1')')
m4_define(`MX_WOFF', `m4_indir(`GWOFF$1')')
m4_define(`MX_INTERIOR', `m4_indir(`GOY0$1'), m4_indir(`GOY1$1'), m4_indir(`GOX0$1'), m4_indir(`GOX1$1')')

# MX_EACH(text): text for every group j that has input and output channels
# (one without inputs only has zero outputs, written by the forward).
m4_define(`MX_EACH', `MC_FOR(`j', 0, 2, `m4_ifelse(m4_eval(MX_CI(j) * MX_CO(j) > 0), 1, `$1')')')

m4_define(`MX_GROUP', `group j: kernel MX_K(j), input channels MX_CIOFF(j) .. m4_eval(MX_CIOFF(j) + MX_CI(j) - 1) -> output channels MX_COOFF(j) .. m4_eval(MX_COOFF(j) + MX_CO(j) - 1)')

m4_define(`MC_MIXCONV_FWD',
`/* NAME: mixconv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, stride S, kernels 3, 5, 7 on channel groups
MC_FOR(`j', 0, 2, ` * MX_GROUP
') */
MX_EACH(`CV_FWD_PLANE(NAME`'_g`'j, MX_K(j), MX_P(j), MX_INTERIOR(j))
')m4_dnl
void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, float *restrict y)
{
    for (int b = 0; b < n; b++) {
        for (int i = 0; i < m4_eval(CO * HO * WO); i++)
            y[(long)b * m4_eval(CO * HO * WO) + i] = 0.0f;
MX_EACH(`        /* MX_GROUP */
CV_FWD_DENSE(NAME`'_g`'j, MX_K(j), MX_CI(j), MX_CO(j), MX_CIOFF(j), MX_COOFF(j), MX_WOFF(j), `        ')')m4_dnl
    }
}
')

m4_define(`MC_MIXCONV_BWD',
`MX_EACH(`CV_BWD_PLANE(NAME`'_g`'j, MX_K(j), MX_P(j), MX_INTERIOR(j))
')m4_dnl
void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw)
{
MX_EACH(`    /* MX_GROUP */
CV_BWD_DENSE(NAME`'_g`'j, MX_K(j), MX_CI(j), MX_CO(j), MX_CIOFF(j), MX_COOFF(j), MX_WOFF(j), `    ')')m4_dnl
}
')

m4_define(`MC_MIXCONV_KERNEL', `MC_MIXCONV_FWD()
MC_MIXCONV_BWD()')

m4_define(`MC_MIXCONV_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, const float *restrict w, float *restrict y);
void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw);
')

# Calls: IN0, OUT (activation slots), WEIGHT (the parameters).
m4_define(`MC_MIXCONV_CALL_FWD',
`    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_ACT(OUT));
')
m4_define(`MC_MIXCONV_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT));
')
m4_divert(0)m4_dnl
