/* What the emitted CUDA kernels use (C++, nvcc only). Each kernel is a
 * block body, a __host__ __device__ function of (block, thread, threads,
 * shared memory, arguments) that does one block's share of the work in
 * loops of stride `nthreads`; its __global__ wrapper only passes the block
 * and thread indices. The host emulation runs the same body for every
 * block with one thread, where a block barrier is a no-op. */
#ifndef MC_CUDA_H
#define MC_CUDA_H

#include <cuda_runtime.h>

#include "mc_cuda_model.h"

#define MC_CU_HD __host__ __device__

#ifdef __CUDA_ARCH__
#define MC_CU_SYNC() __syncthreads()
#else
#define MC_CU_SYNC() ((void)0)
#endif

/* The sum of every thread's v, in a fixed tree order (the same bits every
 * run), returned to every thread. shm: nthreads doubles; nthreads a power
 * of two. */
MC_CU_HD inline double mc_cu_block_sum(double v, double *shm, int tid, int nthreads)
{
    shm[tid] = v;
    MC_CU_SYNC();
    for (int half = nthreads / 2; half > 0; half /= 2) {
        if (tid < half)
            shm[tid] += shm[tid + half];
        MC_CU_SYNC();
    }
    const double total = shm[0];
    MC_CU_SYNC();
    return total;
}

/* Host memory standing in for a block's shared memory in the emulation. */
void *mc_cuda_host_shared(size_t bytes);
/* Scratch memory for the step (device, or host for the emulation), kept
 * between calls and grown when a call needs more. */
float *mc_cuda_scratch(int host, size_t floats);

/* C[m x n] = op(A) op(B) + beta C, column-major as cuBLAS (alpha 1), for
 * `batch` matrices strideA, strideB, strideC apart: cuBLAS on the device,
 * plain loops in the emulation. */
void mc_cuda_gemm(int host, int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, long long stride_a,
                  const float *b, int ldb, long long stride_b, float beta, float *c, int ldc, long long stride_c,
                  int batch);

/* Copies bytes between the step's memory and the host (a plain copy in
 * the emulation). */
void mc_cuda_to_host(int host, void *to, const void *from, size_t bytes);

/* Launches kernel (blocks x threads, shm_bytes of shared memory) or, on
 * the host, runs body block by block with one thread. */
#define MC_CU_RUN(host, kernel, body, blocks, threads, shm_bytes, ...)                                          \
    do {                                                                                                        \
        const long mc_blocks_ = (long)(blocks);                                                                 \
        if (host) {                                                                                             \
            float *mc_shm_ = (float *)mc_cuda_host_shared(shm_bytes);                                           \
            for (long mc_b_ = 0; mc_b_ < mc_blocks_; mc_b_++)                                                   \
                body(mc_b_, 0, 1, mc_shm_, __VA_ARGS__);                                                        \
        } else if (mc_blocks_ > 0) {                                                                            \
            kernel<<<(unsigned)mc_blocks_, (threads), (shm_bytes)>>>(__VA_ARGS__);                              \
            mc_cuda_check(cudaGetLastError(), #kernel);                                                         \
        }                                                                                                       \
    } while (0)

#endif
