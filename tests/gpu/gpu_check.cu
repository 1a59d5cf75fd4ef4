/* On a machine with a GPU: one emitted model's CUDA step against its C
 * step, and timings. Built by tests/gpu/run.sh with MODEL (the model's
 * name) defined.
 *
 * 1. Every layer's forward on the GPU, on the inputs the C forward gave it,
 *    against the C output, and its backward on the gradients the generic
 *    C backward hands it, against the generic layer's (relative to each
 *    slot's largest value, 1e-4).
 * 2. The whole training step, GPU against C from equal states: logits and
 *    loss within 1e-4 (relative), every parameter gradient within what
 *    the C step itself moves for an input moved by 1e-7 (see there).
 * 3. Per layer, forward and backward: the generated kernels, a generic
 *    CUDA kernel with the shapes as run-time arguments, and cuDNN on the
 *    same convolutions; then the training step (forward, loss, backward,
 *    SGD) on the GPU. One table. Exit status 1 when a check fails.
 *
 * --timing leaves out 1's backward check, which copies every area to the
 * device per layer (seconds at batch 128): run.sh checks at batch 16 first. */
#include <cudnn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_cuda.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
extern "C" const mc_model_desc CAT(MODEL, _model);
extern "C" const mc_cuda_model CAT(MODEL, _cuda_model);

static const mc_model_desc *M = &CAT(MODEL, _model);
static const mc_cuda_model *G = &CAT(MODEL, _cuda_model);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "gpu_check: %s failed\n", what);
        exit(1);
    }
}
#define CK(x) check((x) == 0, #x)

/* ---- host state ------------------------------------------------------------- */

static unsigned long long seed = 12345;
static float uniform(void)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((seed >> 40) / 16777216.0);
}

static void *zalloc(size_t bytes) { void *p = calloc(1, bytes ? bytes : 1); check(p != NULL, "calloc"); return p; }

static void host_state(mc_state *s, int n)
{
    s->batch = n;
    s->params = (float *)zalloc((size_t)M->param_floats * 4);
    s->grads = (float *)zalloc((size_t)M->param_floats * 4);
    s->buffers = (float *)zalloc((size_t)M->buffer_floats * 4);
    s->counters = (int64_t *)zalloc((size_t)M->counters * 8);
    s->acts = (float *)zalloc((size_t)(M->act_floats * n) * 4);
    s->dacts = (float *)zalloc((size_t)(M->act_floats * n) * 4);
    s->saved = (float *)zalloc((size_t)M->saved_floats * 4);
    s->extra = (float *)zalloc((size_t)(M->extra_floats * n) * 4);
}

static void free_state(mc_state *s)
{
    free(s->params), free(s->grads), free(s->buffers), free(s->counters);
    free(s->acts), free(s->dacts), free(s->saved), free(s->extra);
}

static void init_state(mc_state *s)
{
    for (int i = 0; i < M->ntensors; i++) {
        const mc_tensor_desc *t = &M->tensors[i];
        if (t->area == MC_AREA_COUNTER)
            continue;
        float *p = (t->area == MC_AREA_PARAM ? s->params : s->buffers) + t->offset;
        for (int64_t k = 0; k < t->numel; k++)
            p[k] = t->init == MC_INIT_ONES ? 1.0f : t->init == MC_INIT_ZEROS ? 0.0f
                 : (float)(t->init_a * (2 * uniform() - 1) * (t->init == MC_INIT_NORMAL ? 1.7 : 1.0));
    }
    for (int64_t k = 0; k < (int64_t)s->batch * M->c * M->h * M->w; k++)
        s->acts[k] = 2 * uniform() - 1;
    for (int i = 0; i < M->nlayers; i++) {
        const mc_layer *l = &M->layers[i];
        float *e = s->extra + l->extra * s->batch;
        if (l->kind == MC_L_DROPOUT)
            for (long k = 0; k < (long)s->batch * l->c * l->h * l->w; k++)
                e[k] = uniform() < l->p ? 0 : 1 / (1 - l->p);
        else if (l->kind == MC_L_SHAKE)
            for (int k = 0; k < 2 * s->batch; k++)
                e[k] = uniform();
    }
}

/* to = from, every area (host memory). */
static void copy_state(const mc_state *from, mc_state *to)
{
    const int n = from->batch;
    memcpy(to->params, from->params, (size_t)M->param_floats * 4);
    memcpy(to->buffers, from->buffers, (size_t)M->buffer_floats * 4);
    memcpy(to->counters, from->counters, (size_t)M->counters * 8);
    memcpy(to->acts, from->acts, (size_t)(M->act_floats * n) * 4);
    memcpy(to->extra, from->extra, (size_t)(M->extra_floats * n) * 4);
}

static double rel_err(const float *a, const float *ref, long count)
{
    double err = 0, scale = 1e-30;
    for (long k = 0; k < count; k++) {
        double d = fabs((double)a[k] - ref[k]);
        err = d > err || d != d ? d : err;
        scale = fabs(ref[k]) > scale ? fabs(ref[k]) : scale;
    }
    return err / scale;
}

/* The name of the layer whose parameters hold the largest difference of a
 * from ref (what to look at first when the step's gradients disagree). */
static const char *param_owner(const float *a, const float *ref)
{
    long worst = 0;
    double err = -1;
    for (long k = 0; k < M->param_floats; k++) {
        const double d = fabs((double)a[k] - ref[k]);
        if (d > err || d != d)
            err = d, worst = k;
    }
    const char *name = "?";
    int64_t at = -1;
    for (int i = 0; i < M->nlayers; i++) {
        const mc_layer *l = &M->layers[i];
        if (l->weight >= 0 && l->weight <= worst && l->weight > at)
            at = l->weight, name = l->name;
        if (l->bias_at >= 0 && l->bias_at <= worst && l->bias_at > at)
            at = l->bias_at, name = l->name;
    }
    return name;
}

static float *download(const float *dev, long count)
{
    float *h = (float *)zalloc((size_t)count * 4);
    CK(cudaMemcpy(h, dev, (size_t)count * 4, cudaMemcpyDeviceToHost));
    return h;
}

/* ---- generic CUDA kernels (shapes at run time) --------------------------------- */

__global__ void generic_conv(const float *x, const float *w, float *y, int n, int c, int h, int wd, int co, int k,
                             int s, int pad, int groups, int ho, int wo, long y_image, long y_at)
{
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)n * co * ho * wo)
        return;
    const int ox = (int)(i % wo), oy = (int)(i / wo % ho), o = (int)(i / ((long)wo * ho) % co);
    const long b = i / ((long)wo * ho * co);
    const int cig = c / groups, g = o / (co / groups);
    float acc = 0;
    for (int ci = 0; ci < cig; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                    acc += w[((long)o * cig + ci) * k * k + ky * k + kx] *
                           x[((b * c + g * cig + ci) * h + iy) * wd + ix];
            }
    y[b * y_image + y_at + ((long)o * ho + oy) * wo + ox] = acc;
}

static void run_generic(const mc_layer *l, const mc_state *d, const float *x, float *y)
{
    const int n = d->batch;
    const float *w = d->params + l->weight;
    if (l->kind == MC_L_CONV) {
        const long count = (long)n * l->c * l->h * l->w;
        generic_conv<<<(unsigned)((count + 255) / 256), 256>>>(x, w, y, n, l->in_c, l->in_h, l->in_w, l->c, l->k,
                                                               l->stride, l->pad, l->groups, l->h, l->w,
                                                               (long)l->c * l->h * l->w, 0);
        return;
    }
    /* depthwise: one launch per kernel of the list, into its channels */
    long woff = 0;
    for (int j = 0; j < l->nk; j++) {
        const int k = l->ks[j];
        const long count = (long)n * l->in_c * l->h * l->w;
        generic_conv<<<(unsigned)((count + 255) / 256), 256>>>(x, w + woff, y, n, l->in_c, l->in_h, l->in_w, l->in_c,
                                                               k, l->stride, k / 2, l->in_c, l->h, l->w,
                                                               (long)l->c * l->h * l->w, (long)j * l->in_c * l->h * l->w);
        woff += (long)l->in_c * k * k;
    }
}

/* ---- cuDNN on the same convolutions ------------------------------------------------ */

#define DNN(x) check((x) == CUDNN_STATUS_SUCCESS, #x)

/* One cuDNN convolution: descriptors, the fastest algorithm, workspace. */
typedef struct dnn_conv {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t algo;
    cudnnConvolutionBwdDataAlgo_t data_algo;
    cudnnConvolutionBwdFilterAlgo_t filter_algo;
    size_t ws_bytes; /* the largest of the three */
} dnn_conv;

static void dnn_setup(cudnnHandle_t h, dnn_conv *c, int n, int ci, int hi, int wi, int co, int k, int s, int pad,
                      int groups, int ho, int wo)
{
    DNN(cudnnCreateTensorDescriptor(&c->x));
    DNN(cudnnCreateTensorDescriptor(&c->y));
    DNN(cudnnCreateFilterDescriptor(&c->w));
    DNN(cudnnCreateConvolutionDescriptor(&c->conv));
    DNN(cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, ci, hi, wi));
    DNN(cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, co, ho, wo));
    DNN(cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, co, ci / groups, k, k));
    DNN(cudnnSetConvolution2dDescriptor(c->conv, pad, pad, s, s, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN(cudnnSetConvolutionGroupCount(c->conv, groups));
    /* the fastest of each pass, as cuDNN times them here */
    cudnnConvolutionFwdAlgoPerf_t perf[8];
    cudnnConvolutionBwdDataAlgoPerf_t data_perf[8];
    cudnnConvolutionBwdFilterAlgoPerf_t filter_perf[8];
    int found = 0;
    DNN(cudnnFindConvolutionForwardAlgorithm(h, c->x, c->w, c->conv, c->y, 8, &found, perf));
    check(found > 0, "a cuDNN forward algorithm");
    DNN(cudnnFindConvolutionBackwardDataAlgorithm(h, c->w, c->y, c->conv, c->x, 8, &found, data_perf));
    check(found > 0, "a cuDNN backward data algorithm");
    DNN(cudnnFindConvolutionBackwardFilterAlgorithm(h, c->x, c->y, c->conv, c->w, 8, &found, filter_perf));
    check(found > 0, "a cuDNN backward filter algorithm");
    c->algo = perf[0].algo;
    c->data_algo = data_perf[0].algo;
    c->filter_algo = filter_perf[0].algo;
    size_t f = 0, d = 0, w = 0;
    DNN(cudnnGetConvolutionForwardWorkspaceSize(h, c->x, c->w, c->conv, c->y, c->algo, &f));
    DNN(cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->conv, c->x, c->data_algo, &d));
    DNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->conv, c->w, c->filter_algo, &w));
    c->ws_bytes = f > d ? (f > w ? f : w) : (d > w ? d : w);
}

/* The layer as cuDNN convolutions (a depthwise list: one per kernel). */
typedef struct dnn_layer {
    dnn_conv convs[MC_DW_MAX_KERNELS];
    int nconv;
} dnn_layer;

static void dnn_layer_free(dnn_layer *dl)
{
    for (int j = 0; j < dl->nconv; j++) {
        cudnnDestroyTensorDescriptor(dl->convs[j].x);
        cudnnDestroyTensorDescriptor(dl->convs[j].y);
        cudnnDestroyFilterDescriptor(dl->convs[j].w);
        cudnnDestroyConvolutionDescriptor(dl->convs[j].conv);
    }
}

static float *dnn_ws;
static size_t dnn_ws_bytes;

static void dnn_layer_setup(cudnnHandle_t h, const mc_layer *l, int n, dnn_layer *dl)
{
    if (l->kind == MC_L_CONV) {
        dl->nconv = 1;
        dnn_setup(h, &dl->convs[0], n, l->in_c, l->in_h, l->in_w, l->c, l->k, l->stride, l->pad, l->groups, l->h,
                  l->w);
    } else {
        dl->nconv = l->nk;
        for (int j = 0; j < l->nk; j++)
            dnn_setup(h, &dl->convs[j], n, l->in_c, l->in_h, l->in_w, l->in_c, l->ks[j], l->stride, l->ks[j] / 2,
                      l->in_c, l->h, l->w);
    }
    for (int j = 0; j < dl->nconv; j++)
        if (dl->convs[j].ws_bytes > dnn_ws_bytes) {
            cudaFree(dnn_ws);
            dnn_ws_bytes = dl->convs[j].ws_bytes;
            CK(cudaMalloc(&dnn_ws, dnn_ws_bytes));
        }
}

/* Floats of the filter of the layer's j-th cuDNN convolution. */
static long dnn_weight_floats(const mc_layer *l, int j)
{
    const int k = l->kind == MC_L_CONV ? l->k : l->ks[j];
    return (long)(l->kind == MC_L_CONV ? l->c * (l->in_c / l->groups) : l->in_c) * k * k;
}

static void dnn_run(cudnnHandle_t h, const mc_layer *l, const dnn_layer *dl, const mc_state *d, const float *x,
                    float *y)
{
    const float one = 1, zero = 0;
    long woff = 0;
    for (int j = 0; j < dl->nconv; j++) {
        /* a list writes kernel-major; cuDNN writes one block per kernel (timing only) */
        DNN(cudnnConvolutionForward(h, &one, dl->convs[j].x, x, dl->convs[j].w, d->params + l->weight + woff,
                                    dl->convs[j].conv, dl->convs[j].algo, dnn_ws, dnn_ws_bytes, &zero,
                                    dl->convs[j].y, y + (long)j * d->batch * l->in_c * l->h * l->w));
        woff += dnn_weight_floats(l, j);
    }
}

/* The same convolutions backwards: the input gradient and the filter
 * gradient of each (dy: the layer's output gradient, read as cuDNN's
 * blocks; dx and dw into scratch: timing only). */
static void dnn_run_bwd(cudnnHandle_t h, const mc_layer *l, const dnn_layer *dl, const mc_state *d, const float *x,
                        float *dx, float *dw)
{
    const float one = 1, zero = 0;
    const float *dy = d->dacts + l->act * d->batch;
    long woff = 0;
    for (int j = 0; j < dl->nconv; j++) {
        const dnn_conv *c = &dl->convs[j];
        const float *dyj = dy + (long)j * d->batch * l->in_c * l->h * l->w;
        DNN(cudnnConvolutionBackwardData(h, &one, c->w, d->params + l->weight + woff, c->y, dyj, c->conv, c->data_algo,
                                         dnn_ws, dnn_ws_bytes, &zero, c->x, dx));
        DNN(cudnnConvolutionBackwardFilter(h, &one, c->x, x, c->y, dyj, c->conv, c->filter_algo, dnn_ws, dnn_ws_bytes,
                                           &zero, c->w, dw + woff));
        woff += dnn_weight_floats(l, j);
    }
}

/* ---- timing ------------------------------------------------------------------------ */

static int reps = 20;

/* Milliseconds per call of what fn does. */
template <typename F> static double time_ms(F fn)
{
    fn();
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaEventRecord(a));
    for (int r = 0; r < reps; r++)
        fn();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    cudaEventDestroy(a), cudaEventDestroy(b);
    return ms / reps;
}

static const float *layer_input(const mc_layer *l, const mc_state *s)
{
    return s->acts + (l->inputs[0] < 0 ? 0 : M->layers[l->inputs[0]].act * s->batch);
}

static const char *kind_name(mc_layer_kind k)
{
    static const char *const names[] = { /* in the order of the codes: no designators in C++ */
#define MC_LAYER_KIND(id, name) name,
#include "mc_layer_kinds.def"
    };
    return names[k];
}

int main(int argc, char **argv)
{
    int n = 128, failed = 0, timing = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--timing"))
            timing = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--batch"))
            n = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "gpu_check: unknown argument '%s' (expected --batch N, --reps N, --timing)\n", argv[i]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* what a timeout cuts short is still there */
    int dev;
    cudaDeviceProp prop;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    printf("%s on %s, batch %d\n", M->name, prop.name, n);

    mc_state h0, h, d;
    host_state(&h0, n), host_state(&h, n);
    init_state(&h0);
    check(mc_cuda_state_alloc(M, n, &d) == 0, "device memory");
    const size_t act_bytes = (size_t)(M->act_floats * n) * 4;
    int32_t *labels = (int32_t *)zalloc((size_t)n * 4), *dlabels;
    for (int b = 0; b < n; b++)
        labels[b] = (int32_t)(uniform() * M->classes) % M->classes;
    float *probs = (float *)zalloc((size_t)n * M->classes * 4), *dprobs;
    CK(cudaMalloc(&dlabels, (size_t)n * 4));
    CK(cudaMalloc(&dprobs, (size_t)n * M->classes * 4));
    CK(cudaMemcpy(dlabels, labels, (size_t)n * 4, cudaMemcpyHostToDevice));

    /* 2 first (it needs the untouched state): the whole step. */
    mc_cuda_state_upload(M, &h0, &d);
    G->forward(&d, 1);
    const float loss_gpu = G->loss(&d, dlabels, dprobs);
    mc_cuda_zero_grads(M, &d);
    G->loss_backward(&d, dlabels, dprobs);
    G->backward(&d);
    mc_cuda_sync();
    copy_state(&h0, &h);
    M->forward(&h, 1);
    const float loss_cpu = M->loss(&h, labels, probs);
    M->loss_backward(&h, labels, probs);
    M->backward(&h);
    const long out = M->layers[M->nlayers - 1].act * n;
    float *logits = download(d.acts + out, (long)n * M->classes), *grads = download(d.grads, M->param_floats);
    const double e_logits = rel_err(logits, h.acts + out, (long)n * M->classes), e_grads = rel_err(grads, h.grads, M->param_floats);
    const double e_loss = fabs(loss_gpu - loss_cpu) / fabs(loss_cpu);
    /* The gradients of a whole step are ill-conditioned: through 20 train-
     * mode batch norms and the ReLUs' kinks, rounding in one layer's output
     * reaches the first layers' gradients magnified (a C step against the
     * generic one differs by ~3e-3 at batch 16). So the bound is measured:
     * the C step again, each input element moved by one ulp in a random
     * direction (a uniform scale would be normalized away by the first
     * batch norm and flip no kink), the largest of three such moves; the
     * GPU may differ from C by at most 10 times that (at least 1e-4). An
     * indexing error is of order 1; each layer on equal inputs is held to
     * 1e-4 below. */
    double e_moved = 0;
    for (int probe = 0; probe < 3; probe++) {
        mc_state p;
        host_state(&p, n);
        copy_state(&h0, &p);
        for (long k = 0; k < (long)n * M->c * M->h * M->w; k++)
            p.acts[k] = nextafterf(p.acts[k], uniform() < 0.5f ? -INFINITY : INFINITY);
        M->forward(&p, 1);
        float *p_probs = (float *)zalloc((size_t)n * M->classes * 4); /* probs stays the C step's */
        (void)M->loss(&p, labels, p_probs);
        M->loss_backward(&p, labels, p_probs);
        M->backward(&p);
        e_moved = fmax(e_moved, rel_err(p.grads, h.grads, M->param_floats));
        free_state(&p);
        free(p_probs);
    }
    const double grad_bound = fmax(1e-4, 10 * e_moved);
    const int step_failed = e_logits > 1e-4 || e_loss > 1e-4 || e_grads > grad_bound;
    failed |= step_failed;
    printf("whole step, GPU against C (relative): logits %.2g, loss %.2g (at most 1e-4), gradients %.2g, largest "
           "in %s (at most %.2g: the C step's own moved %.2g for its input moved by an ulp) %s\n",
           e_logits, e_loss, e_grads, param_owner(grads, h.grads), grad_bound, e_moved, step_failed ? "FAIL" : "ok");

    /* The C step leaves a folded batch norm's output unwritten (mc_layer.
     * folded; the GPU step writes it): the generic layer fills it in h, so
     * that the checks below give the GPU's layers real inputs and outputs
     * to compare with. (Its running statistics and count stay the step's.) */
    {
        float *buffers = (float *)zalloc((size_t)M->buffer_floats * 4 + 4);
        int64_t *counters = (int64_t *)zalloc((size_t)M->counters * 8 + 8);
        memcpy(buffers, h.buffers, (size_t)M->buffer_floats * 4);
        memcpy(counters, h.counters, (size_t)M->counters * 8);
        for (int i = 0; i < M->nlayers; i++)
            if (M->layers[i].folded)
                mc_generic_forward_layer(M, &h, i, 1);
        memcpy(h.buffers, buffers, (size_t)M->buffer_floats * 4);
        memcpy(h.counters, counters, (size_t)M->counters * 8);
        free(buffers), free(counters);
    }

    /* 1b: each layer's backward on the gradients the generic C backward
     * hands it, from the C forward's activations (in h): its input
     * gradients and the parameter gradients against the generic layer. */
    double *bwd_err = (double *)zalloc((size_t)M->nlayers * sizeof *bwd_err);
    if (!timing) {
        mc_state r;
        host_state(&r, n);
        copy_state(&h, &r);
        memcpy(r.saved, h.saved, (size_t)M->saved_floats * 4);
        mc_generic_loss_backward(M, &r, labels, probs);
        for (int i = M->nlayers - 1; i >= 0; i--) {
            const mc_layer *l = &M->layers[i];
            if (l->kind == MC_L_IDENTITY)
                continue;
            CK(cudaMemcpy(d.acts, r.acts, act_bytes, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d.dacts, r.dacts, act_bytes, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d.grads, r.grads, (size_t)M->param_floats * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d.saved, r.saved, (size_t)M->saved_floats * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(d.extra, r.extra, (size_t)(M->extra_floats * n) * 4, cudaMemcpyHostToDevice));
            G->layer_backward[i](&d, 0);
            mc_generic_backward_layer(M, &r, i);
            for (int j = 0; j < l->ninputs; j++) {
                const mc_layer *in = l->inputs[j] < 0 ? NULL : &M->layers[l->inputs[j]];
                const long at = in ? in->act * n : 0, count = in ? (long)n * in->c * in->h * in->w
                                                              : (long)n * M->c * M->h * M->w;
                float *g = download(d.dacts + at, count);
                const double e = rel_err(g, r.dacts + at, count);
                bwd_err[i] = e > bwd_err[i] ? e : bwd_err[i];
                free(g);
            }
            float *g = download(d.grads, M->param_floats);
            const double e = rel_err(g, r.grads, M->param_floats);
            bwd_err[i] = e > bwd_err[i] ? e : bwd_err[i];
            free(g);
            failed |= bwd_err[i] > 1e-4;
        }
    }

    /* 1: each layer on the C forward's inputs (h holds them), and timings. */
    cudnnHandle_t dnn;
    DNN(cudnnCreate(&dnn));
    float *scratch, *scratch_dw;
    CK(cudaMalloc(&scratch, act_bytes));
    CK(cudaMalloc(&scratch_dw, (size_t)M->param_floats * 4 + 4));
    printf("\n%-34s %-10s %-12s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "layer", "op", "output", "fwd err", "bwd err",
           "gen fwd", "gen bwd", "generic", "cudnn", "cudnn", "gen/cudnn", "gen/cudnn");
    printf("%-34s %-10s %-12s %8s %8s %8s %8s %8s %8s %8s %9s %9s\n", "", "", "", "", "", "ms", "ms", "fwd ms",
           "fwd ms", "bwd ms", "fwd", "bwd");
    double total_fwd = 0, total_bwd = 0;
    /* per kind (conv, depthwise): generated fwd, bwd, cuDNN fwd, bwd */
    double kind_ms[2][4] = {{0}};
    for (int i = 0; i < M->nlayers; i++) {
        const mc_layer *l = &M->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        CK(cudaMemcpy(d.acts, h.acts, act_bytes, cudaMemcpyHostToDevice));
        CK(cudaMemcpy(d.buffers, h0.buffers, (size_t)M->buffer_floats * 4, cudaMemcpyHostToDevice));
        G->layer_forward[i](&d, 1, 0);
        const long count = (long)n * l->c * l->h * l->w;
        float *y = download(d.acts + l->act * n, count);
        const double e = rel_err(y, h.acts + l->act * n, count);
        free(y);
        failed |= e > 1e-4;
        const double fwd = time_ms([&] { G->layer_forward[i](&d, 1, 0); });
        const double bwd = time_ms([&] { G->layer_backward[i](&d, 0); });
        total_fwd += fwd, total_bwd += bwd;
        char shape[32], gen[16] = "", dn[16] = "", dnb[16] = "", ratio[16] = "", ratio_b[16] = "";
        snprintf(shape, sizeof shape, "%dx%dx%d", l->c, l->h, l->w);
        if (l->kind == MC_L_CONV || l->kind == MC_L_DEPTHWISE) {
            const float *x = layer_input(l, &d);
            dnn_layer dl;
            dnn_layer_setup(dnn, l, n, &dl);
            const double g = time_ms([&] { run_generic(l, &d, x, scratch); });
            const double c = time_ms([&] { dnn_run(dnn, l, &dl, &d, x, scratch); });
            const double cb = time_ms([&] { dnn_run_bwd(dnn, l, &dl, &d, x, scratch, scratch_dw); });
            dnn_layer_free(&dl);
            snprintf(gen, sizeof gen, "%.4f", g);
            snprintf(dn, sizeof dn, "%.4f", c);
            snprintf(dnb, sizeof dnb, "%.4f", cb);
            snprintf(ratio, sizeof ratio, "%.2f", fwd / c);
            snprintf(ratio_b, sizeof ratio_b, "%.2f", bwd / cb);
            double *k = kind_ms[l->kind == MC_L_DEPTHWISE];
            k[0] += fwd, k[1] += bwd, k[2] += c, k[3] += cb;
        }
        char berr[16] = "-";
        if (!timing)
            snprintf(berr, sizeof berr, "%.1e", bwd_err[i]);
        printf("%-34s %-10s %-12s %8.1e %8s %8.4f %8.4f %8s %8s %8s %9s %9s%s\n", l->name, kind_name(l->kind), shape,
               e, berr, fwd, bwd, gen, dn, dnb, ratio, ratio_b, e > 1e-4 || bwd_err[i] > 1e-4 ? "  FAIL" : "");
    }
    printf("%-34s %-10s %-12s %8s %8s %8.4f %8.4f\n", "all layers", "", "", "", "", total_fwd, total_bwd);
    for (int k = 0; k < 2; k++)
        if (kind_ms[k][2] > 0)
            printf("%-9s layers: generated fwd %.4f ms, bwd %.4f ms; cuDNN fwd %.4f ms, bwd %.4f ms (generated "
                   "%.2fx and %.2fx of cuDNN's time)\n", k ? "depthwise" : "conv", kind_ms[k][0], kind_ms[k][1],
                   kind_ms[k][2], kind_ms[k][3], kind_ms[k][0] / kind_ms[k][2], kind_ms[k][1] / kind_ms[k][3]);

    /* 3: the training step on the GPU. */
    float *momentum;
    CK(cudaMalloc(&momentum, (size_t)M->param_floats * 4 + 4));
    mc_cuda_state_upload(M, &h0, &d);
    int first = 1;
    const double step = time_ms([&] {
        G->forward(&d, 1);
        (void)G->loss(&d, dlabels, dprobs);
        mc_cuda_zero_grads(M, &d);
        G->loss_backward(&d, dlabels, dprobs);
        G->backward(&d);
        mc_cuda_sgd_step(M, d.params, d.grads, momentum, 0.1f, 0.9f, 2e-4f, first);
        first = 0;
    });
    printf("\ntraining step (forward, loss, backward, SGD): %.3f ms, %.0f images/s; a 50,000-image epoch %.2f s\n",
           step, n / step * 1e3, 50000.0 / n * step / 1e3);
    printf("%s\n", failed ? "FAILED: a check is over its tolerance" : "all checks passed");
    return failed;
}
