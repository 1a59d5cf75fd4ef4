m4_divert(-1)
# MixConv as the reference codes it: input and output channels split in
# three groups; group j is a dense conv with kernel GKj (3, 5, 7), padding
# GKj/2 and the common stride S from its input channels to its output
# channels. No bias, but in the inference library, where its groups take
# that of the batch norm folded into its weights (BIAS 1, plan.c
# fold_into_weights), and apply the activation after it as they store
# their results (FUSED, plan.c fuse_activations; conv.m4).
#
# Constants: NAME, C, H, W (input), CO, HO, WO (output), S, BIAS, FUSED, and per group
# j = 0, 1, 2: GKj, GCIj input channels from GCIOFFj, GCOj output channels
# from GCOOFFj, weights [GCOj, GCIj, GKj, GKj] from GWOFFj in w, its
# interior GOY0j, GOY1j, GOX0j, GOX1j (as the interior of conv.m4), and
# the form the plan chose for it (the form constants of conv.m4, each
# with the suffix _Gj).
#
# Each group is a conv.m4 kernel of its own (the static functions
# NAME_gj_fwd and NAME_gj_bwd), whatever form its shape takes there,
# reading and writing its channels inside the images of the whole (the
# image strides of conv.m4); conv.m4 is included here unless the driver
# did it already.
m4_ifdef(`MC_CONV_KERNEL', `', `m4_include(`conv.m4')m4_divert(-1)')

# Group j: kernel, padding, channels, offsets (the CUDA template's too).
m4_define(`MX_K', `m4_indir(`GK$1')')
m4_define(`MX_P', `m4_eval(m4_indir(`GK$1') / 2)')
m4_define(`MX_CI', `m4_indir(`GCI$1')')
m4_define(`MX_CO', `m4_indir(`GCO$1')')
m4_define(`MX_CIOFF', `m4_indir(`GCIOFF$1')')
m4_define(`MX_COOFF', `m4_indir(`GCOOFF$1')')
m4_define(`MX_WOFF', `m4_indir(`GWOFF$1')')

# MX_EACH(text): text for every group j that has input and output channels
# (a group without them has no code; the CUDA template writes its zeros).
m4_define(`MX_EACH', `MC_FOR(`j', 0, 2, `m4_ifelse(m4_eval(MX_CI(j) * MX_CO(j) > 0), 1, `$1')')')

m4_define(`MX_GROUP', `group j: kernel MX_K(j), input channels MX_CIOFF(j) .. m4_eval(MX_CIOFF(j) + MX_CI(j) - 1) -> output channels MX_COOFF(j) .. m4_eval(MX_COOFF(j) + MX_CO(j) - 1)')

# The names the group's view redefines, in its order.
m4_define(`MX_CONV_NAMES', ``NAME', `CV_XS', `CV_YS', `CV_LINKAGE', `C', `CO', `K', `PAD', `G', `BIAS', `OY0', `OY1',
    `OX0', `OX1', `CV_CLF', `CV_CLX', `CV_CLW', `CV_DW_OWN', `CV_PW_PLANAR', `CV_PLANES', `CV_WINO', `CV_LIN', `CV_SPLIT', `CV_PW_BATCH', `CV_DW_INNER', `CV_DW_BAND', `PACKED'')
# The group's view (group j, text): text read with the constants of
# conv.m4 those of group j (the image strides those of the whole, taken
# before the channel counts change).
m4_define(`MX_AS_CONV',
`m4_pushdef(`NAME', NAME`'_g$1)m4_pushdef(`CV_XS', m4_eval(C * H * W))m4_pushdef(`CV_YS', m4_eval(CO * HO * WO))m4_dnl
m4_pushdef(`CV_LINKAGE', `static ')m4_pushdef(`C', MX_CI($1))m4_pushdef(`CO', MX_CO($1))m4_pushdef(`K', MX_K($1))m4_dnl
m4_pushdef(`PAD', MX_P($1))m4_pushdef(`G', 1)m4_pushdef(`BIAS', BIAS)m4_dnl
m4_pushdef(`OY0', m4_indir(`GOY0$1'))m4_pushdef(`OY1', m4_indir(`GOY1$1'))m4_dnl
m4_pushdef(`OX0', m4_indir(`GOX0$1'))m4_pushdef(`OX1', m4_indir(`GOX1$1'))m4_dnl
m4_pushdef(`CV_CLF', m4_indir(`CV_CLF_G$1'))m4_pushdef(`CV_CLX', m4_indir(`CV_CLX_G$1'))m4_dnl
m4_pushdef(`CV_CLW', m4_indir(`CV_CLW_G$1'))m4_pushdef(`CV_DW_OWN', m4_indir(`CV_DW_OWN_G$1'))m4_dnl
m4_pushdef(`CV_PW_PLANAR', m4_indir(`CV_PW_PLANAR_G$1'))m4_pushdef(`CV_PLANES', m4_indir(`CV_PLANES_G$1'))m4_dnl
m4_pushdef(`CV_WINO', m4_indir(`CV_WINO_G$1'))m4_pushdef(`CV_LIN', m4_indir(`CV_LIN_G$1'))m4_dnl
m4_pushdef(`CV_SPLIT', m4_indir(`CV_SPLIT_G$1'))m4_pushdef(`CV_PW_BATCH', m4_indir(`CV_PW_BATCH_G$1'))m4_dnl
m4_pushdef(`CV_DW_INNER', m4_indir(`CV_DW_INNER_G$1'))m4_dnl
m4_pushdef(`CV_DW_BAND', m4_indir(`CV_DW_BAND_G$1'))m4_dnl
m4_pushdef(`PACKED', m4_indir(`PACKS_G$1'))m4_dnl
$2`'m4_popdef(MX_CONV_NAMES)')

m4_define(`MC_MIXCONV_FWD',
`/* NAME: mixconv C`'x`'H`'x`'W -> CO`'x`'HO`'x`'WO, stride S, kernels 3, 5, 7 on channel groups
MC_FOR(`j', 0, 2, ` * MX_GROUP
') */
MX_EACH(`MX_AS_CONV(j, `MC_CONV_FWD()')
')m4_dnl
m4_ifelse(PACKED, 1, `/* The filters of each group in the order its forward reads them, once (the inference library). */
void NAME`'_pack(const float *restrict w, float *restrict packed)
{
MX_EACH(`MX_AS_CONV(j, `m4_ifelse(PACKED, 1, `    NAME`'_pack(w + MX_WOFF(j), packed + MX_WOFF(j));
', `    memcpy(packed + MX_WOFF(j), w + MX_WOFF(j), sizeof(float) * m4_eval(MX_CO(j) * MX_CI(j) * MX_K(j) * MX_K(j)));
')')')m4_dnl
}

')m4_dnl
void NAME`'_fwd(MX_FWD_PARAMS)
{
MX_EACH(`    NAME`'_g`'j`'_fwd(n, x + m4_eval(MX_CIOFF(j) * H * W), w + MX_WOFF(j), m4_ifelse(BIAS, 1, `bias + MX_COOFF(j)', 0), y + m4_eval(MX_COOFF(j) * HO * WO));
')m4_dnl
}
')
m4_define(`MX_FWD_PARAMS', `int n, const float *restrict x, const float *restrict w, m4_ifelse(BIAS, 1, `const float *restrict bias, ')float *restrict y')

# The input gradient is stored or added as acc says (the groups read and
# write disjoint channels of dx).
m4_define(`MC_MIXCONV_BWD',
`MX_EACH(`MX_AS_CONV(j, `MC_CONV_BWD()')
')m4_dnl
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, int acc)
{
MX_EACH(`    NAME`'_g`'j`'_bwd(n, x + m4_eval(MX_CIOFF(j) * H * W), w + MX_WOFF(j), dy + m4_eval(MX_COOFF(j) * HO * WO),
        dx + m4_eval(MX_CIOFF(j) * H * W), dw + MX_WOFF(j), 0, acc);
')m4_dnl
}
')')

m4_define(`MC_MIXCONV_KERNEL', `MC_MIXCONV_FWD()
MC_MIXCONV_BWD()')

m4_define(`MC_MIXCONV_PROTO',
`m4_ifelse(PACKED, 1, `void NAME`'_pack(const float *restrict w, float *restrict packed);
')void NAME`'_fwd(MX_FWD_PARAMS);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict w, const float *restrict dy, float *restrict dx,
    float *restrict dw, int acc);
')')

# Calls: IN0, OUT (activation slots), WEIGHT (the parameters), BIAS_AT
# (the bias of the inference library, -1 for none).
m4_define(`MC_MIXCONV_CALL_FWD',
`    NAME`'_fwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), m4_ifelse(m4_eval(BIAS_AT >= 0), 1, `MC_PARAM(BIAS_AT), ')MC_ACT(OUT));
')
m4_define(`MC_MIXCONV_CALL_BWD',
`    NAME`'_bwd(n, MC_ACT(IN0), MC_PARAM(WEIGHT), MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(WEIGHT), MC_ACC(0));
')
m4_define(`MC_MIXCONV_STORES')
m4_divert(0)m4_dnl
