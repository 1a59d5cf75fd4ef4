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

/* Before a loop: keep it rolled on the device (a load loop unrolled by
 * nvcc can hold so many loads in flight that the kernel spills). */
#ifdef __CUDA_ARCH__
#define MC_CU_ROLLED _Pragma("unroll 1")
#else
#define MC_CU_ROLLED
#endif

/* The sum of a warp's v in a fixed order (shuffles), for its lane 0; v
 * itself in the host emulation, where a block is one thread. */
MC_CU_HD inline double mc_cu_warp_sum(double v)
{
#ifdef __CUDA_ARCH__
    for (int off = 16; off > 0; off /= 2)
        v += __shfl_down_sync(0xffffffffu, v, off);
#endif
    return v;
}

/* The sum of every thread's v in a fixed order (each warp's, then the
 * warps' in turn: the same bits every run), returned to every thread.
 * shm: nthreads / 32 doubles; nthreads a multiple of 32 on the device. */
MC_CU_HD inline double mc_cu_block_sum(double v, double *shm, int tid, int nthreads)
{
    const int warps = (nthreads + 31) / 32;
    v = mc_cu_warp_sum(v);
    if (tid % 32 == 0)
        shm[tid / 32] = v;
    MC_CU_SYNC();
    double total = 0;
    for (int w = 0; w < warps; w++)
        total += shm[w];
    MC_CU_SYNC();
    return total;
}

/* count block sums at once, one barrier for all: out[t] = the sum over
 * the block of every thread's acc[t], in mc_cu_block_sum's order. shm:
 * count * (nthreads / 32) doubles. */
MC_CU_HD inline void mc_cu_block_sums(const float *acc, int count, double *shm, int tid, int nthreads, float *out)
{
    const int warps = (nthreads + 31) / 32;
#ifdef __CUDA_ARCH__
#pragma unroll /* acc stays in registers (count is a literal where this is inlined) */
#endif
    for (int t = 0; t < count; t++) {
        const double v = mc_cu_warp_sum(acc[t]);
        if (tid % 32 == 0)
            shm[t * warps + tid / 32] = v;
    }
    MC_CU_SYNC();
    for (int t = tid; t < count; t += nthreads) {
        double total = 0;
        for (int w = 0; w < warps; w++)
            total += shm[t * warps + w];
        out[t] = (float)total;
    }
    MC_CU_SYNC();
}

/* Sum j of channel c from its parts (parts per channel, count sums per
 * part), in order. */
MC_CU_HD inline double mc_cu_parts_total(const double *part, int c, int parts, int count, int j)
{
    double t = 0;
    for (int s = 0; s < parts; s++)
        t += part[((long)c * parts + s) * count + j];
    return t;
}

/* Host memory standing in for a block's shared memory in the emulation. */
void *mc_cuda_host_shared(size_t bytes);
/* Scratch memory for the step (device, or host for the emulation), kept
 * between calls and grown when a call needs more. */
float *mc_cuda_scratch(int host, size_t floats);
/* Memory for the partial sums of per-channel reductions, apart from the
 * scratch (a layer may hold both at once). */
double *mc_cuda_sums(int host, size_t doubles);

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
