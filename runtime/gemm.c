/* mc_gemm (mc_gemm.h) on OpenBLAS, or on plain loops without a BLAS.
 *
 * OpenBLAS runs its own threads (the pthread build Debian installs by
 * default), not the runtime's OpenMP ones: each product first gives it as
 * many as OpenMP would use (--threads, OMP_NUM_THREADS), so that a generic
 * step uses the cores the generated one does and, like it, gives the same
 * bits for a given count (OpenBLAS splits the rows and columns of C over
 * its threads, never the sums). */
#include "mc_gemm.h"

#include <string.h>

/* The OpenBLAS cores (openblas_get_corename) whose kernels use AVX2 and
 * FMA, and of those, the ones using AVX-512. */
static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};

static int named(const char *core, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(core, names[i]) == 0)
            return 1;
    return 0;
}

const char *mc_blas_core_advice(const char *core, int avx2, int avx512)
{
    if (avx512 && !named(core, avx512_cores, (int)(sizeof avx512_cores / sizeof *avx512_cores)))
        return "SkylakeX";
    if (avx2 && !named(core, avx2_cores, (int)(sizeof avx2_cores / sizeof *avx2_cores)))
        return "Haswell";
    return NULL;
}

#ifdef MC_HAVE_BLAS
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The generic kernels run outside any parallel region, one at a time. */
static void follow_openmp_threads(void)
{
#ifdef _OPENMP
    static int set;
    int threads = omp_get_max_threads();
    if (threads != set) {
        openblas_set_num_threads(threads);
        set = threads;
    }
#endif
}

void mc_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc)
{
    follow_openmp_threads();
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                1.0f, a, lda, b, ldb, beta, c, ldc);
}

const char *mc_blas_config(void) { return openblas_get_config(); }
const char *mc_blas_core(void) { return openblas_get_corename(); }

const char *mc_blas_core_fix(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return mc_blas_core_advice(mc_blas_core(), avx2, avx512);
#else
    return NULL;
#endif
}

#else

#include <stddef.h>

void mc_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc)
{
    /* Element (i, p) of op(A) and (p, j) of op(B) sit at these strides. */
    const size_t ai = trans_a ? 1 : (size_t)lda, ap = trans_a ? (size_t)lda : 1;
    const size_t bp = trans_b ? 1 : (size_t)ldb, bj = trans_b ? (size_t)ldb : 1;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float sum = 0;
            for (int p = 0; p < k; p++)
                sum += a[i * ai + p * ap] * b[p * bp + j * bj];
            float *cij = &c[(size_t)i * ldc + j];
            *cij = sum + (beta == 0 ? 0 : beta * *cij);
        }
}

const char *mc_blas_config(void) { return "none"; }
const char *mc_blas_core(void) { return "plain loops"; }
const char *mc_blas_core_fix(void) { return NULL; }

#endif
