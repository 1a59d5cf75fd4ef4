/* The one matrix product the generic convolutions and linear layers are
 * written on, and what the benchmark says about the library behind it.
 * Internal to the runtime. */
#ifndef MC_GEMM_H
#define MC_GEMM_H

/* C[m, n] = op(A)[m, k] op(B)[k, n] + beta C, row-major, op(X) = X^T when
 * its flag is set (A is then stored [k, m], B [n, k]); lda, ldb, ldc are
 * the stored rows' strides. cblas_sgemm where the runtime was built with a
 * BLAS (MC_HAVE_BLAS), plain loops otherwise (the cross-compiled checks). */
void mc_gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float beta, float *c, int ldc);

/* The library's build configuration and the CPU core it picked (OpenBLAS
 * chooses its kernels when it loads), or "none" and "plain loops". */
const char *mc_blas_config(void);
const char *mc_blas_core(void);

/* The core OpenBLAS should have picked where the one it picked (core)
 * lacks the CPU's vectors: "SkylakeX" on an AVX-512 CPU, "Haswell" on an
 * AVX2 one, when core is none of the cores that use them (OpenBLAS 0.3.21
 * takes its SSE3 "Prescott" kernels on CPUs newer than it knows, Intel's
 * Emerald Rapids among them: docs/generic_baseline.md). NULL where core
 * fits, or off x86-64. */
const char *mc_blas_core_advice(const char *core, int avx2, int avx512);
/* The same for this CPU and the library's core: what `EXE bench` prints. */
const char *mc_blas_core_fix(void);

#endif
