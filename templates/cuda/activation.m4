m4_divert(-1)
# Element-wise activations on C x H x W per image (relu, relu6, sigmoid,
# silu, hardswish, hardsigmoid),
# with the expressions of the C template. Constants: NAME, C, H, W.
m4_include(`../c/activation.m4')m4_divert(-1)
m4_define(`ACT_EXP', `expf($1)')

m4_define(`CACT_COUNT', `(n * m4_eval(C * H * W)L)')

# CACT_KERNEL(what, y[i] from x[i], dx[i] += ... with x[i], y[i], dy[i])
m4_define(`CACT_KERNEL',
`/* NAME: $1 on m4_eval(C * H * W) values per image */
MC_CU_HD static inline float NAME`'_at(const float *x, long i) { return $2; }
MC_CU_HD static inline float NAME`'_grad_at(const float *x, const float *y, const float *dy, long i)
{
    (void)x, (void)y;
    return $3;
}

CU_MAP(NAME`'_fwd, CACT_COUNT, `int n, const float *x, float *y', `n, x, y', `        y[i] = NAME`'_at(x, i);
')
CU_MAP(NAME`'_bwd, CACT_COUNT, `int n, const float *x, const float *y, const float *dy, float *dx',
    `n, x, y, dy, dx', `        dx[i] += NAME`'_grad_at(x, y, dy, i);
')
void NAME`'_cu_fwd(int host, int n, const float *x, float *y)
{
    CU_MAP_RUN(NAME`'_fwd, CACT_COUNT, `n, x, y');
}

void NAME`'_cu_bwd(int host, int n, const float *x, const float *y, const float *dy, float *dx)
{
    CU_MAP_RUN(NAME`'_bwd, CACT_COUNT, `n, x, y, dy, dx');
}
')
m4_define(`MC_RELU_KERNEL', `CACT_KERNEL(`relu', ACT_RELU)')
m4_define(`MC_RELU6_KERNEL', `CACT_KERNEL(`relu6', ACT_RELU6)')
m4_define(`MC_SIGMOID_KERNEL', `CACT_KERNEL(`sigmoid', ACT_SIGMOID)')
m4_define(`MC_SILU_KERNEL', `CACT_KERNEL(`silu', ACT_SILU)')
m4_define(`MC_HARDSWISH_KERNEL', `CACT_KERNEL(`hardswish', ACT_HARDSWISH)')
m4_define(`MC_HARDSIGMOID_KERNEL', `CACT_KERNEL(`hardsigmoid', ACT_HARDSIGMOID)')

m4_define(`CACT_PROTO',
`void NAME`'_cu_fwd(int host, int n, const float *x, float *y);
void NAME`'_cu_bwd(int host, int n, const float *x, const float *y, const float *dy, float *dx);
')
m4_define(`MC_RELU_PROTO', `CACT_PROTO()')
m4_define(`MC_RELU6_PROTO', `CACT_PROTO()')
m4_define(`MC_SIGMOID_PROTO', `CACT_PROTO()')
m4_define(`MC_SILU_PROTO', `CACT_PROTO()')
m4_define(`MC_HARDSWISH_PROTO', `CACT_PROTO()')
m4_define(`MC_HARDSIGMOID_PROTO', `CACT_PROTO()')

m4_define(`CACT_CALL_FWD', `    NAME`'_cu_fwd(host, n, MC_ACT(IN0), MC_ACT(OUT));
')
m4_define(`CACT_CALL_BWD', `    NAME`'_cu_bwd(host, n, MC_ACT(IN0), MC_ACT(OUT), MC_DACT(OUT), MC_DACT(IN0));
')
m4_define(`MC_RELU_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_RELU6_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_SIGMOID_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_SILU_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_HARDSWISH_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_HARDSIGMOID_CALL_FWD', `CACT_CALL_FWD()')
m4_define(`MC_RELU_CALL_BWD', `CACT_CALL_BWD()')
m4_define(`MC_RELU6_CALL_BWD', `CACT_CALL_BWD()')
m4_define(`MC_SIGMOID_CALL_BWD', `CACT_CALL_BWD()')
m4_define(`MC_SILU_CALL_BWD', `CACT_CALL_BWD()')
m4_define(`MC_HARDSWISH_CALL_BWD', `CACT_CALL_BWD()')
m4_define(`MC_HARDSIGMOID_CALL_BWD', `CACT_CALL_BWD()')
m4_divert(0)m4_dnl
