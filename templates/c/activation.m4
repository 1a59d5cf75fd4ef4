m4_divert(-1)
# Element-wise activations on C x H x W per image: relu, relu6, sigmoid,
# silu, hardswish, hardsigmoid. The backward gets both the input and the
# output; each uses what its derivative needs (relu and sigmoid the output,
# the others the input). It
# adds into dx, or stores when acc is 0 (the first writer of dx).
# Constants: NAME, C, H, W.
#
# batchnorm.m4 includes this file for its expressions, and a driver may
# include both in either order: the definitions below are read only once,
# guarded by whether the relu kernel macro exists. (So no comment outside
# the guard names a macro: a second reading would expand it.)

m4_ifdef(`MC_RELU_KERNEL', `',
`m4_define(`ACT_COUNT', `(n * m4_eval(C * H * W))')
# ACT_LOOP(indent, statement): the statement for every value (common.m4).
m4_define(`ACT_LOOP', `MC_FLAT_LOOP(`$1', i, ACT_COUNT, `$2')')

# mc_expf: e^x without a call or a float-to-int conversion, so that the
# loops around it vectorize (the expf of libm is a call per value): x = n ln 2
# + r with |r| <= ln 2 / 2 (Cody-Waite, n rounded by adding 1.5 * 2^23,
# whose low bits then hold it), e^r by the degree-6 polynomial of Cephes
# (relative error about 1e-7), 2^n put into the exponent bits. x is
# clamped to where the result is a normal float (e^-87.3 .. e^88.4); a NaN
# is returned as it is. The clamps and the last select are selects, not
# branches, where compiled with -fno-trapping-math (the default of mcgen build).
m4_define(`ACT_EXPF',
`#ifndef MC_EXPF_DEFINED
#define MC_EXPF_DEFINED
static inline __attribute__((unused)) float mc_expf(float x0)
{
    float x = x0 < 88.3762626647949f ? x0 : 88.3762626647949f;
    x = x > -87.3365447504f ? x : -87.3365447504f;
    const float t = x * 1.44269504088896341f + 12582912.0f;
    const float nf = t - 12582912.0f;
    const float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    union {
        float f;
        int32_t i;
    } s = {t};
    s.i = (s.i - 0x4B400000 + 127) * (1 << 23);
    const float e = (p * r * r + r + 1.0f) * s.f;
    return x0 == x0 ? e : x0;
}
#endif
')

# ACT_EXP: e^x in the expressions below (the CUDA templates, sharing
# them, make it expf).
m4_define(`ACT_EXP', `mc_expf($1)')

# ACT_KERNEL(what, y[i] from x[i], dx[i] += ... with x[i], y[i], dy[i])
m4_define(`ACT_KERNEL',
`ACT_EXPF()m4_dnl
/* NAME: $1 on m4_eval(C * H * W) values per image */
void NAME`'_fwd(int n, const float *restrict x, float *restrict y)
{
ACT_LOOP(`    ', `y[i] = $2;')m4_dnl
}

MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict y, const float *restrict dy,
    float *restrict dx, int acc)
{
    (void)x, (void)y;
    if (acc) {
ACT_LOOP(`        ', `dx[i] += $3;')m4_dnl
    } else {
ACT_LOOP(`        ', `dx[i] = $3;')m4_dnl
    }
}
')')

# Each activation: the output of x[i], and the gradient term of x[i], y[i], dy[i]
# (the CUDA templates use the same expressions). The outputs test x < 0, so
# that a NaN stays NaN as in PyTorch; the gradients pass only where the
# test holds, so a NaN passes none, as in PyTorch.
m4_define(`ACT_RELU', ``x[i] < 0 ? 0 : x[i]', `y[i] > 0 ? dy[i] : 0'')
m4_define(`ACT_RELU6', ``x[i] < 0 ? 0 : (x[i] > 6 ? 6 : x[i])', `x[i] > 0 && x[i] < 6 ? dy[i] : 0'')
m4_define(`ACT_SIGMOID', ``1 / (1 + ACT_EXP(-x[i]))', `dy[i] * y[i] * (1 - y[i])'')
# silu: the derivative of PyTorch, s (1 + x (1 - s)), s = sigmoid(x) (one expf
# after common subexpressions). hardswish and hardsigmoid take the
# derivatives of PyTorch at the kinks: hardswish x/3 + 1/2 on [-3, 3] (-1/2 at -3,
# 3/2 at 3), hardsigmoid 1/6 only inside (-3, 3). Those three as
# ACT_<A>_OUT(x) and ACT_<A>_GRAD(x, dy) of any names, which the batch
# norm that fuses them uses too (batchnorm.m4).
m4_define(`ACT_SIG', `(1 / (1 + ACT_EXP(-$1)))')
m4_define(`ACT_RELU6_3', `($1 + 3 > 0 ? ($1 + 3 < 6 ? $1 + 3 : 6) : 0)')
m4_define(`ACT_SILU_OUT', `$1 * ACT_SIG($1)')
m4_define(`ACT_SILU_GRAD', `$2 * ACT_SIG($1) * (1 + $1 * (1 - ACT_SIG($1)))')
m4_define(`ACT_HARDSWISH_OUT', `$1 * ACT_RELU6_3($1) / 6')
m4_define(`ACT_HARDSWISH_GRAD', `$1 < -3 ? 0 : $1 <= 3 ? $2 * ($1 / 3 + 0.5f) : $2')
m4_define(`ACT_HARDSIGMOID_OUT', `ACT_RELU6_3($1) / 6')
m4_define(`ACT_HARDSIGMOID_GRAD', `$1 > -3 && $1 < 3 ? $2 * (1.0f / 6) : 0')
m4_define(`ACT_SILU', ``ACT_SILU_OUT(`x[i]')', `ACT_SILU_GRAD(`x[i]', `dy[i]')'')
m4_define(`ACT_HARDSWISH', ``ACT_HARDSWISH_OUT(`x[i]')', `ACT_HARDSWISH_GRAD(`x[i]', `dy[i]')'')
m4_define(`ACT_HARDSIGMOID', ``ACT_HARDSIGMOID_OUT(`x[i]')', `ACT_HARDSIGMOID_GRAD(`x[i]', `dy[i]')'')

# The activation FUSED (none, relu, relu6, silu, hardswish, hardsigmoid)
# that a layer applies to its results as it writes them (plan.c,
# fuse_activations): a batch norm or add, or in the inference library a
# conv, depthwise or MixConv as it stores its result. ACT_RECOMPUTED: 1 for
# the three whose expressions are above (a batch norm recomputes them in
# its backward). ACT_FUSED_FUNCTIONS: what ACT_FUSED and ACT_FUSED_V need
# where FUSED is not none: the vector types, and for those three NAME_act
# of a float and NAME_act_v of a vector. ACT_FUSED(v), ACT_FUSED_V(v): the
# result v of a float and of a vector as written.
m4_define(`ACT_RECOMPUTED', `m4_ifelse(FUSED, silu, 1, FUSED, hardswish, 1, FUSED, hardsigmoid, 1, 0)')
m4_define(`ACT_FUSED', `m4_ifelse(ACT_RECOMPUTED, 1, `NAME`'_act($1)', `MC_FUSED_OUT($1)')')
m4_define(`ACT_FUSED_V', `m4_ifelse(ACT_RECOMPUTED, 1, `NAME`'_act_v($1)', `MC_FUSED_OUT_V($1)')')
# A loop over the lanes of a vector, vectorized whatever its branches:
# compiled with OpenMP, as its simd loop (else gcc unrolled it and kept a
# branch per lane).
m4_define(`ACT_SIMD', `#ifdef _OPENMP
#pragma omp simd
#endif
')
m4_define(`ACT_FUSED_FUNCTIONS', `m4_ifelse(FUSED, none, `', `MC_VEC_PRELUDE()')m4_dnl
m4_ifelse(ACT_RECOMPUTED, 1, `ACT_EXPF()m4_dnl
/* FUSED of v, and of each lane of a vector of them. */
static inline __attribute__((unused)) float NAME`'_act(float v)
{
    return m4_indir(`ACT_'m4_translit(FUSED, `a-z', `A-Z')`_OUT', `v');
}

static inline __attribute__((unused)) mc_vf NAME`'_act_v(mc_vf v)
{
    mc_vf r;
ACT_SIMD()m4_dnl
    for (int l = 0; l < VL; l++)
        r[l] = NAME`'_act(v[l]);
    return r;
}

')')

# ACT_FUSED_RUN(indent, p, count): FUSED applied in place to the count
# floats at p (a literal count), a vector at a time, the last one partial:
# for the forms whose results are complete only once a whole plane or
# image is (the planes of a grouped conv, a strided depthwise), a pass over
# it while it is in cache. Nothing for none.
m4_define(`ACT_FUSED_RUN', `m4_ifelse(FUSED, none, `',
`m4_pushdef(`ACT_FULL', m4_eval($3 / VL * VL))m4_dnl
m4_ifelse(m4_eval(ACT_FULL > 0), 1, `$1for (long i = 0; i < ACT_FULL; i += VL) {
$1    const mc_vf v = *(const mc_vf *)($2 + i);
$1    *(mc_vf *)($2 + i) = ACT_FUSED_V(v);
$1}
')m4_dnl
m4_ifelse(m4_eval(ACT_FULL < $3), 1, `$1{
$1    mc_vf v;
$1    mc_vf_part(&v, $2 + ACT_FULL, m4_eval($3 - ACT_FULL));
$1    v = ACT_FUSED_V(v);
$1    mc_vf_store_part($2 + ACT_FULL, &v, m4_eval($3 - ACT_FULL));
$1}
')m4_dnl
m4_popdef(`ACT_FULL')')')

# ACT_STORE_CHECK(template): stops m4 where a conv, depthwise or MixConv
# is asked to apply FUSED as it stores its result and cannot: in a
# training step (its backward would need the result before the
# activation), with the batch statistics of its output (those are of that
# result too), or an activation other than these five.
m4_define(`ACT_STORE_CHECK', `m4_ifelse(FUSED, none, `',
m4_eval(INFERENCE && !PSTATS && (ACT_RECOMPUTED || m4_ifelse(FUSED, relu, 1, FUSED, relu6, 1, 0))), 1, `',
`m4_errprint(`$1.m4: 'NAME`: the plan (generator/plan.c, fuse_activations) asks it to apply 'FUSED` as it stores its result, which it renders only in the inference library (no backward, no batch statistics) for relu, relu6, silu, hardswish or hardsigmoid
')m4_m4exit(1)')')

m4_define(`MC_RELU_KERNEL', `ACT_KERNEL(`relu', ACT_RELU)')
m4_define(`MC_RELU6_KERNEL', `ACT_KERNEL(`relu6', ACT_RELU6)')
m4_define(`MC_SIGMOID_KERNEL', `ACT_KERNEL(`sigmoid', ACT_SIGMOID)')
m4_define(`MC_SILU_KERNEL', `ACT_KERNEL(`silu', ACT_SILU)')
m4_define(`MC_HARDSWISH_KERNEL', `ACT_KERNEL(`hardswish', ACT_HARDSWISH)')
m4_define(`MC_HARDSIGMOID_KERNEL', `ACT_KERNEL(`hardsigmoid', ACT_HARDSIGMOID)')

m4_define(`ACT_PROTO',
`void NAME`'_fwd(int n, const float *restrict x, float *restrict y);
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, const float *restrict y, const float *restrict dy,
    float *restrict dx, int acc);
')')
m4_define(`MC_RELU_PROTO', `ACT_PROTO()')
m4_define(`MC_RELU6_PROTO', `ACT_PROTO()')
m4_define(`MC_SIGMOID_PROTO', `ACT_PROTO()')
m4_define(`MC_SILU_PROTO', `ACT_PROTO()')
m4_define(`MC_HARDSWISH_PROTO', `ACT_PROTO()')
m4_define(`MC_HARDSIGMOID_PROTO', `ACT_PROTO()')

m4_define(`ACT_CALL_FWD', `    NAME`'_fwd(n, MC_ACT(IN0), MC_ACT(OUT));
')
m4_define(`ACT_CALL_BWD', `    NAME`'_bwd(n, MC_ACT(IN0), MC_ACT(OUT), MC_DACT(OUT), MC_DACT(IN0), MC_ACC(0));
')
m4_define(`MC_RELU_STORES')
m4_define(`MC_RELU6_STORES')
m4_define(`MC_SIGMOID_STORES')
m4_define(`MC_SILU_STORES')
m4_define(`MC_HARDSWISH_STORES')
m4_define(`MC_HARDSIGMOID_STORES')
m4_define(`MC_RELU_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_RELU6_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_SIGMOID_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_SILU_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_HARDSWISH_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_HARDSIGMOID_CALL_FWD', `ACT_CALL_FWD()')
m4_define(`MC_RELU_CALL_BWD', `ACT_CALL_BWD()')
m4_define(`MC_RELU6_CALL_BWD', `ACT_CALL_BWD()')
m4_define(`MC_SIGMOID_CALL_BWD', `ACT_CALL_BWD()')
m4_define(`MC_SILU_CALL_BWD', `ACT_CALL_BWD()')
m4_define(`MC_HARDSWISH_CALL_BWD', `ACT_CALL_BWD()')
m4_define(`MC_HARDSIGMOID_CALL_BWD', `ACT_CALL_BWD()')
')
m4_divert(0)m4_dnl
