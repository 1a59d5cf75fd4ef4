m4_divert(-1)
# Matrix products with literal sizes, for the dense convolutions (conv.m4
# includes this file once). Row-major, accumulating: the caller sets c.
#
# MC_GEMM_NN(fn, M, N, K): static void fn(a, b, c): c[M x N] += a[M x K] b[K x N].
# Threads take blocks of rows. Four rows of c at a time share each row of b: per element of b, four
# multiply-adds into four contiguous rows, a loop the compiler vectorizes
# along N with no reassociation (each c element sums its terms in p order,
# so results do not depend on the vector width).
m4_define(`MC_GEMM_NN',
`static void $1(const float *restrict a, const float *restrict b, float *restrict c)
{
m4_ifelse(m4_eval($2 >= 4), 1, `    MC_OMP_FOR
    for (int i = 0; i < m4_eval($2 / 4 * 4); i += 4) {
        float *restrict c0 = c + i * $3, *restrict c1 = c0 + $3, *restrict c2 = c1 + $3, *restrict c3 = c2 + $3;
        for (int p = 0; p < $4; p++) {
            const float a0 = a[i * $4 + p], a1 = a[(i + 1) * $4 + p], a2 = a[(i + 2) * $4 + p],
                        a3 = a[(i + 3) * $4 + p];
            const float *restrict bp = b + p * $3;
            for (int j = 0; j < $3; j++) {
                const float v = bp[j];
                c0[j] += a0 * v;
                c1[j] += a1 * v;
                c2[j] += a2 * v;
                c3[j] += a3 * v;
            }
        }
    }
')m4_dnl
m4_ifelse(m4_eval($2 % 4 != 0), 1, `    for (int i = m4_eval($2 / 4 * 4); i < $2; i++)
        for (int p = 0; p < $4; p++) {
            const float ai = a[i * $4 + p];
            const float *restrict bp = b + p * $3;
            float *restrict ci = c + i * $3;
            for (int j = 0; j < $3; j++)
                ci[j] += ai * bp[j];
        }
')m4_dnl
}
')

# MC_TRANSPOSE(fn, R, C): static void fn(a, t): t[C x R] = a[R x C]^T.
m4_define(`MC_TRANSPOSE',
`static void $1(const float *restrict a, float *restrict t)
{
    for (int r = 0; r < $2; r++)
        for (int q = 0; q < $3; q++)
            t[q * $2 + r] = a[r * $3 + q];
}
')
m4_divert(0)m4_dnl
