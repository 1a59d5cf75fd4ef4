m4_divert(-1)
# Element-wise sum of NIN inputs of C x H x W per image; its backward adds
# the output gradient to each input gradient (stores it, acc 0), input by
# input. Inputs may be the same tensor (identity aliases its input), so
# they are not restrict: the first stores, the second adds. With FUSED
# relu or relu6 it also does that activation after it (plan.c): it writes
# the activation of the sum, and its backward passes the output gradient
# only where that output is above 0 (and below 6). With APPLY<i> it also
# does the batch norm that is its input i (plan.c, apply_in_adds): it reads
# that batch norm's input and normalizes it with the batch norm's saved
# mean and 1/std, its gamma and beta (the batch norm's forward only took
# the statistics); the backward is unchanged (the batch norm's own follows).
# Constants: NAME, NIN, C, H, W, FUSED (none, relu, relu6), FUSED_READS
# (none, or bits with an activation), APPLY0...

m4_define(`ADD_EACH', `MC_FOR(`i', 0, m4_eval(NIN - 1), `$1')')
m4_define(`ADD_COUNT', `(n * m4_eval(C * H * W))')
m4_define(`ADD_APPLY', `m4_indir(`APPLY'$1)')
m4_define(`ADD_APPLIES', `m4_eval(0 ADD_EACH(`|| ADD_APPLY(i)'))')
m4_define(`ADD_SUM', `ADD_EACH(`m4_ifelse(i, 0, `', ` + ')$1')')

# With an activation or a batch norm applied the values go a plane at a
# time (a channel's constants for the batch norms), VL at a time, and with
# an activation the training forward also writes where it passed the
# gradient, a bit per value (plan.c, mask_activations; the layout in
# common.m4), which the backward reads instead of the output (a 32nd of
# its traffic).
m4_define(`ADD_HW', `m4_eval(H * W)')
m4_define(`ADD_HWV', `m4_eval(H * W / VL * VL)')
# ADD_IN(i, at): input i at at, a vector (ADD_IN1: a float), normalized
# when it is a batch norm the add applies.
m4_define(`ADD_IN', `m4_ifelse(ADD_APPLY($1), 1, `(*(const mc_vf *)(x$1 + $2) - m$1) * k$1 + f$1', `*(const mc_vf *)(x$1 + $2)')')
m4_define(`ADD_IN1', `m4_ifelse(ADD_APPLY($1), 1, `(x$1[$2] - m$1) * k$1 + f$1', `x$1[$2]')')
m4_define(`ADD_BN_PARAMS', `m4_ifelse(ADD_APPLY($1), 1, `const float *restrict gamma$1, const float *restrict beta$1,
    const float *restrict mean$1, const float *restrict invstd$1, ')')

m4_define(`ADD_FWD_PARAMS', `int n, ADD_EACH(`const float *x`'i, ADD_BN_PARAMS(i)')float *restrict y`'MC_MASKED(`, MC_BITS_TYPE *restrict mask')')
m4_define(`ADD_BWD_PARAMS', `int n, m4_ifelse(FUSED, none, `const float *restrict y', `const MC_BITS_TYPE *restrict mask'), const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i')')

m4_define(`MC_ADD_KERNEL',
`m4_ifelse(m4_eval(ADD_APPLIES || m4_ifelse(FUSED, none, 0, 1)), 1, `MC_VEC_PRELUDE()m4_dnl
')m4_dnl
/* NAME: sum of NIN inputs of m4_eval(C * H * W) values per image`'m4_ifelse(ADD_APPLIES, 1, `, some normalized by the batch norm they are')`'m4_ifelse(FUSED, none, `', `, then FUSED') */
m4_ifelse(m4_eval(ADD_APPLIES || m4_ifelse(FUSED, none, 0, 1)), 1, `ADD_FWD_PLANES()', `ADD_FWD_FLAT()')
m4_ifelse(FUSED, none, `ADD_BWD_FLAT()', `ADD_BWD_PLANES()')')

m4_define(`ADD_FWD_FLAT',
`void NAME`'_fwd(ADD_FWD_PARAMS)
{
MC_FLAT_LOOP(`    ', k, ADD_COUNT, `y[k] = ADD_SUM(`x`'i[k]');')m4_dnl
}
')

m4_define(`ADD_FWD_PLANES',
`void NAME`'_fwd(ADD_FWD_PARAMS)
{
    MC_OMP_FOR
    for (long bc = 0; bc < (long)n * C; bc++) {
        const long at = bc * ADD_HW;
m4_ifelse(ADD_APPLIES, 1, `        const int c = bc % C;
')m4_dnl
ADD_EACH(`m4_ifelse(ADD_APPLY(i), 1, `        const float m`'i = mean`'i[c], k`'i = gamma`'i[c] * invstd`'i[c], f`'i = beta`'i[c];
')')m4_dnl
MC_MASKED(`        mc_bits *restrict m = mask ? MC_PLANE_MASK(mask, bc / C, bc % C) : 0;
')m4_dnl
        int p = 0;
        for (; p < ADD_HWV; p += VL) {
            const mc_vf s = ADD_SUM(`ADD_IN(i, `at + p')');
            *(mc_vf *)(y + at + p) = MC_FUSED_OUT_V(s);
MC_MASKED(`            if (m) {
                const mc_vi passes = MC_FUSED_PASSES(s);
                m[p / VL] = mc_vf_bits(&passes);
            }
')m4_dnl
        }
MC_MASKED(`        unsigned bits = 0;
')m4_dnl
        for (; p < ADD_HW; p++) {
            const float s = ADD_SUM(`ADD_IN1(i, `at + p')');
            y[at + p] = MC_FUSED_OUT(s);
MC_MASKED(`            bits |= (unsigned)MC_FUSED_PASSES(s) << (p - ADD_HWV);
')m4_dnl
        }
MC_MASKED(m4_ifelse(ADD_HWV, ADD_HW, `        (void)bits;
', `        if (m)
            m[ADD_HWV / VL] = (mc_bits)bits;
'))m4_dnl
    }
}
')

m4_define(`ADD_BWD_FLAT',
`MC_TRAINING_ONLY(`void NAME`'_bwd(ADD_BWD_PARAMS)
{
    (void)y;
ADD_EACH(`    if (acc`'i) {
MC_FLAT_LOOP(`        ', k, ADD_COUNT, `dx`'i[k] += dy[k];')m4_dnl
    } else {
MC_FLAT_LOOP(`        ', k, ADD_COUNT, `dx`'i[k] = dy[k];')m4_dnl
    }
')m4_dnl
}
')')

# The masked backward: each plane once, its gradient g to every input.
m4_define(`ADD_BWD_PLANES',
`MC_TRAINING_ONLY(`void NAME`'_bwd(ADD_BWD_PARAMS)
{
    MC_OMP_FOR
    for (long bc = 0; bc < (long)n * C; bc++) {
        const long at = bc * ADD_HW;
        const mc_bits *restrict m = MC_PLANE_MASK(mask, bc / C, bc % C);
        int p = 0;
        for (; p < ADD_HWV; p += VL) {
            mc_vf g = *(const mc_vf *)(dy + at + p);
            mc_vf_keep(&g, m[p / VL]);
ADD_EACH(`            if (acc`'i)
                *(mc_vf *)(dx`'i + at + p) += g;
            else
                *(mc_vf *)(dx`'i + at + p) = g;
')m4_dnl
        }
        for (; p < ADD_HW; p++) {
            const float g = mc_pass(dy[at + p], m[ADD_HWV / VL] >> (p - ADD_HWV) & 1);
ADD_EACH(`            dx`'i[at + p] = acc`'i ? dx`'i[at + p] + g : g;
')m4_dnl
        }
    }
}
')')

m4_define(`MC_ADD_PROTO',
`void NAME`'_fwd(ADD_FWD_PARAMS);
MC_TRAINING_ONLY(`void NAME`'_bwd(ADD_BWD_PARAMS);
')')

# Calls: IN0.. (the inputs; their gradients), XIN0.. (what the forward
# reads: the input of a batch norm it applies), OUT; with APPLY<i>, that
# batch norm's GAMMA<i>, BETA<i>, SAVED_MEAN<i>, SAVED_INVSTD<i>; MASK_AT,
# the activation bits with one (written in training only).
m4_define(`ADD_CALL_BN', `m4_ifelse(ADD_APPLY($1), 1, `MC_PARAM(m4_indir(`GAMMA'$1)), MC_PARAM(m4_indir(`BETA'$1)),
        MC_SAVED(m4_indir(`SAVED_MEAN'$1)), MC_SAVED(m4_indir(`SAVED_INVSTD'$1)), ')')
m4_define(`MC_ADD_CALL_FWD', `    NAME`'_fwd(n, ADD_EACH(`MC_ACT(m4_indir(`XIN'i)), ADD_CALL_BN(i)')MC_ACT(OUT)`'MC_MASKED(`, train ? MC_MASK(MASK_AT) : 0'));
')
m4_define(`MC_ADD_CALL_BWD', `    NAME`'_bwd(n, m4_ifelse(FUSED, none, `MC_ACT(OUT)', `MC_MASK(MASK_AT)'), MC_DACT(OUT)`'ADD_EACH(`, MC_DACT(m4_indir(`IN'i)), MC_ACC(i)'));
')
m4_define(`MC_ADD_STORES')
m4_divert(0)m4_dnl
