m4_divert(-1)
# Element-wise sum of NIN inputs of C x H x W per image; its backward adds
# the output gradient to each input gradient (stores it, acc 0), input by
# input. Inputs may be the same tensor (identity aliases its input), so
# they are not restrict: the first stores, the second adds. With FUSED
# relu or relu6 it also does that activation after it (plan.c): it writes
# the activation of the sum, and its backward passes the output gradient
# only where that output is above 0 (and below 6).
# Constants: NAME, NIN, C, H, W, FUSED (none, relu, relu6).

m4_define(`ADD_EACH', `MC_FOR(`i', 0, m4_eval(NIN - 1), `$1')')
m4_define(`ADD_COUNT', `(n * m4_eval(C * H * W))')
# With an activation the values go 16 at a time, and the training forward
# also writes where it passed the gradient, a bit per value (plan.c,
# mask_activations; word k / 16 of mask for value k of the batch, the
# tail after the last whole vector a word of its own), which the backward
# reads instead of the output (a 32nd of its traffic).
m4_define(`ADD_SUM', `ADD_EACH(`m4_ifelse(i, 0, `', ` + ')$1')')

m4_define(`MC_ADD_KERNEL', `m4_ifelse(FUSED, none, `ADD_PLAIN()', `ADD_MASKED()')')

m4_define(`ADD_PLAIN',
`/* NAME: sum of NIN inputs of m4_eval(C * H * W) values per image */
void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y)
{
    MC_OMP_FOR
    for (long k = 0; k < ADD_COUNT; k++)
        y[k] = ADD_SUM(`x`'i[k]');
}

void NAME`'_bwd(int n, const float *restrict y, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'))
{
    (void)y;
ADD_EACH(`    if (acc`'i) {
        MC_OMP_FOR
        for (long k = 0; k < ADD_COUNT; k++)
            dx`'i[k] += dy[k];
    } else {
        MC_OMP_FOR
        for (long k = 0; k < ADD_COUNT; k++)
            dx`'i[k] = dy[k];
    }
')m4_dnl
}
')

m4_define(`ADD_MASKED',
`MC_VEC_PRELUDE()m4_dnl
/* NAME: sum of NIN inputs of m4_eval(C * H * W) values per image, then FUSED */
void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y, uint16_t *restrict mask)
{
    const long count = ADD_COUNT, full = count / 16 * 16;
    MC_OMP_FOR
    for (long k = 0; k < full; k += 16) {
        const mc_v16 s = ADD_SUM(`*(const mc_v16 *)(x`'i + k)');
        *(mc_v16 *)(y + k) = MC_FUSED_OUT_V(s);
        if (mask) {
            const mc_v16i passes = MC_FUSED_PASSES(s);
            mask[k / 16] = mc_v16_bits(&passes);
        }
    }
    unsigned bits = 0;
    for (long k = full; k < count; k++) {
        const float s = ADD_SUM(`x`'i[k]');
        y[k] = MC_FUSED_OUT(s);
        bits |= (unsigned)MC_FUSED_PASSES(s) << (k - full);
    }
    if (mask && full < count)
        mask[full / 16] = (uint16_t)bits;
}

void NAME`'_bwd(int n, const uint16_t *restrict mask, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'))
{
    const long count = ADD_COUNT, full = count / 16 * 16;
ADD_EACH(`    MC_OMP_FOR
    for (long k = 0; k < full; k += 16) {
        mc_v16 g = *(const mc_v16 *)(dy + k);
        mc_v16_keep(&g, mask[k / 16]);
        if (acc`'i)
            *(mc_v16 *)(dx`'i + k) += g;
        else
            *(mc_v16 *)(dx`'i + k) = g;
    }
    for (long k = full; k < count; k++) {
        const float g = mc_pass(dy[k], mask[full / 16] >> (k - full) & 1);
        dx`'i[k] = acc`'i ? dx`'i[k] + g : g;
    }
')m4_dnl
}
')

m4_define(`MC_ADD_PROTO',
`m4_ifelse(FUSED, none, `void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y);
void NAME`'_bwd(int n, const float *restrict y, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'));
', `void NAME`'_fwd(int n, ADD_EACH(`const float *x`'i, ')float *restrict y, uint16_t *restrict mask);
void NAME`'_bwd(int n, const uint16_t *restrict mask, const float *restrict dy`'ADD_EACH(`, float *dx`'i, int acc`'i'));
')')

# Calls: IN0.., OUT; MASK_AT, the activation bits with one (written in
# training only).
m4_define(`MC_ADD_CALL_FWD', `    NAME`'_fwd(n, ADD_EACH(`MC_ACT(m4_indir(`IN'i)), ')MC_ACT(OUT)`'m4_ifelse(FUSED, none, `', `, train ? MC_MASK(MASK_AT) : 0'));
')
m4_define(`MC_ADD_CALL_BWD', `    NAME`'_bwd(n, m4_ifelse(FUSED, none, `MC_ACT(OUT)', `MC_MASK(MASK_AT)'), MC_DACT(OUT)`'ADD_EACH(`, MC_DACT(m4_indir(`IN'i)), MC_ACC(i)'));
')
m4_define(`MC_ADD_STORES')
m4_divert(0)m4_dnl
