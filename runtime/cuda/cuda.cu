/* The CUDA runtime (see mc_cuda.h, mc_cuda_model.h): what the emitted
 * kernels call besides their own code (scratch memory, matrix products on
 * cuBLAS or, in the host emulation, plain loops), and the device areas of
 * a step. */
#include <cublas_v2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_cuda.h"

void mc_cuda_check(int status, const char *what)
{
    if (status != cudaSuccess) {
        fprintf(stderr, "mcgen: error: CUDA: %s: %s\n", what, cudaGetErrorString((cudaError_t)status));
        exit(1);
    }
}

void mc_cuda_sync(void) { mc_cuda_check(cudaDeviceSynchronize(), "a kernel of the step"); }

/* A buffer that grows to the largest size asked for and stays. */
typedef struct grow_buf {
    void *p;
    size_t bytes;
} grow_buf;

static void *grow(grow_buf *g, size_t bytes, int host)
{
    if (bytes <= g->bytes)
        return g->p;
    if (host) {
        free(g->p);
        g->p = malloc(bytes);
        if (!g->p) {
            fprintf(stderr, "mcgen: error: out of memory (%zu bytes of scratch)\n", bytes);
            exit(1);
        }
    } else {
        if (g->p)
            mc_cuda_check(cudaFree(g->p), "cudaFree");
        mc_cuda_check(cudaMalloc(&g->p, bytes), "cudaMalloc of the scratch memory");
    }
    g->bytes = bytes;
    return g->p;
}

void *mc_cuda_host_shared(size_t bytes)
{
    static grow_buf shared;
    return grow(&shared, bytes ? bytes : 1, 1);
}

float *mc_cuda_scratch(int host, size_t floats)
{
    static grow_buf scratch[2];
    return (float *)grow(&scratch[host != 0], (floats ? floats : 1) * sizeof(float), host);
}

double *mc_cuda_sums(int host, size_t doubles)
{
    static grow_buf sums[2];
    return (double *)grow(&sums[host != 0], (doubles ? doubles : 1) * sizeof(double), host);
}

void mc_cuda_to_host(int host, void *to, const void *from, size_t bytes)
{
    if (host)
        memcpy(to, from, bytes);
    else
        mc_cuda_check(cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
}

static cublasHandle_t blas(void)
{
    static cublasHandle_t handle;
    if (!handle && cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "mcgen: error: CUDA: cannot start cuBLAS\n");
        exit(1);
    }
    return handle;
}

/* Element (i, j) of op(M), column-major with leading dimension ld. */
static float at(const float *m, int trans, int ld, int i, int j) { return trans ? m[j + (long)i * ld] : m[i + (long)j * ld]; }

void mc_cuda_gemm(int host, int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, long long stride_a,
                  const float *b, int ldb, long long stride_b, float beta, float *c, int ldc, long long stride_c,
                  int batch)
{
    if (host) {
        for (int p = 0; p < batch; p++) {
            const float *ap = a + p * stride_a, *bp = b + p * stride_b;
            float *cp = c + p * stride_c;
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    /* in double: the checks compare the layout of the products,
                     * not the rounding of one summation order */
                    double s = 0;
                    for (int q = 0; q < k; q++)
                        s += (double)at(ap, trans_a, lda, i, q) * at(bp, trans_b, ldb, q, j);
                    float *o = cp + i + (long)j * ldc;
                    *o = (float)(beta == 0.0f ? s : beta * *o + s);
                }
        }
        return;
    }
    const float one = 1.0f;
    cublasStatus_t st = cublasSgemmStridedBatched(
        blas(), trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &one, a, lda,
        stride_a, b, ldb, stride_b, &beta, c, ldc, stride_c, batch);
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "mcgen: error: CUDA: cublasSgemmStridedBatched failed (status %d)\n", (int)st);
        exit(1);
    }
}

/* ---- the areas of a step ------------------------------------------------------ */

/* Each area of a state with its size in bytes, for n images. */
typedef struct area {
    void **p;
    size_t bytes;
} area;

static int areas(const mc_model_desc *m, const mc_state *s, int n, area *out)
{
    mc_state *w = (mc_state *)s;
    const size_t f = sizeof(float);
    area list[] = {
        {(void **)&w->params, (size_t)m->param_floats * f},  {(void **)&w->grads, (size_t)m->param_floats * f},
        {(void **)&w->buffers, (size_t)m->buffer_floats * f}, {(void **)&w->counters, (size_t)m->counters * 8},
        {(void **)&w->acts, (size_t)(m->act_floats * n) * f}, {(void **)&w->dacts, (size_t)(m->act_floats * n) * f},
        {(void **)&w->saved, (size_t)m->saved_floats * f},    {(void **)&w->extra, (size_t)(m->extra_floats * n) * f},
    };
    memcpy(out, list, sizeof list);
    return (int)(sizeof list / sizeof *list);
}

int mc_cuda_state_alloc(const mc_model_desc *m, int batch, mc_state *s)
{
    area a[8];
    memset(s, 0, sizeof *s);
    s->batch = batch;
    int na = areas(m, s, batch, a);
    for (int i = 0; i < na; i++) {
        cudaError_t e = cudaMalloc(a[i].p, a[i].bytes ? a[i].bytes : 1);
        if (e == cudaSuccess)
            e = cudaMemset(*a[i].p, 0, a[i].bytes);
        if (e != cudaSuccess) {
            fprintf(stderr, "mcgen: error: CUDA: cannot allocate the step's device memory: %s\n",
                    cudaGetErrorString(e));
            mc_cuda_state_free(s);
            return -1;
        }
    }
    return 0;
}

void mc_cuda_state_free(mc_state *s)
{
    void *list[] = {s->params, s->grads, s->buffers, s->counters, s->acts, s->dacts, s->saved, s->extra};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        if (list[i])
            cudaFree(list[i]);
    memset(s, 0, sizeof *s);
}

static void copy_areas(const mc_model_desc *m, const mc_state *from, const mc_state *to, cudaMemcpyKind kind)
{
    area af[8], at_[8];
    int na = areas(m, from, from->batch, af);
    areas(m, to, from->batch, at_);
    for (int i = 0; i < na; i++)
        if (af[i].bytes)
            mc_cuda_check(cudaMemcpy(*at_[i].p, *af[i].p, af[i].bytes, kind), "cudaMemcpy of a step area");
}

void mc_cuda_state_upload(const mc_model_desc *m, const mc_state *host, const mc_state *dev)
{
    copy_areas(m, host, dev, cudaMemcpyHostToDevice);
}

void mc_cuda_state_download(const mc_model_desc *m, const mc_state *dev, const mc_state *host)
{
    copy_areas(m, dev, host, cudaMemcpyDeviceToHost);
}

void mc_cuda_zero_grads(const mc_model_desc *m, const mc_state *dev)
{
    mc_cuda_check(cudaMemset(dev->grads, 0, (size_t)m->param_floats * sizeof(float)), "cudaMemset of the gradients");
    mc_cuda_check(cudaMemset(dev->dacts, 0, (size_t)(m->act_floats * dev->batch) * sizeof(float)),
                  "cudaMemset of the activation gradients");
}

/* ---- SGD ------------------------------------------------------------------------ */

/* One parameter, as runtime/optim.c updates it. */
MC_CU_HD static inline void sgd_at(float *p, const float *g, float *buf, long k, float lr, float mom, float wd,
                                   int first)
{
    float d = g[k] + wd * p[k];
    buf[k] = first ? d : mom * buf[k] + d;
    d += mom * buf[k];
    p[k] -= lr * d;
}

static __global__ void sgd_kernel(float *p, const float *g, float *buf, long count, float lr, float mom, float wd,
                                  int first)
{
    const long k = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < count)
        sgd_at(p, g, buf, k, lr, mom, wd, first);
}

void mc_cuda_sgd_step(const mc_model_desc *m, float *params, const float *grads, float *momentum, float lr,
                      float mom, float wd, int first)
{
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area != MC_AREA_PARAM || !t->updated || t->numel == 0)
            continue;
        sgd_kernel<<<(unsigned)((t->numel + 255) / 256), 256>>>(params + t->offset, grads + t->offset,
                                                                momentum + t->offset, t->numel, lr, mom, wd, first);
        mc_cuda_check(cudaGetLastError(), "the SGD kernel");
    }
}
