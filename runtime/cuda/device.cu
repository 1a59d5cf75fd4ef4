/* The GPU as a device of mc_net (see mc_net.h): a net's areas in device
 * memory, moved across only when the other side needs them. A training
 * step uploads the batch (and its random draws), runs on the device and
 * reads back the logits and one float, the loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_cuda.h"

typedef struct cuda_net {
    mc_state s; /* device areas for net->capacity images */
    float *momentum, *probs;
    int32_t *labels;
} cuda_net;

static const mc_cuda_model *model(const mc_net *net) { return (const mc_cuda_model *)net->device->model; }
static cuda_net *state(const mc_net *net) { return (cuda_net *)net->dev; }

static void copy(void *to, const void *from, size_t bytes, cudaMemcpyKind kind)
{
    if (bytes)
        mc_cuda_check(cudaMemcpy(to, from, bytes, kind), "cudaMemcpy between the host and the device");
}

static void *dev_open(mc_net *net)
{
    const mc_model_desc *m = net->m;
    cuda_net *d = (cuda_net *)calloc(1, sizeof *d);
    if (!d || mc_cuda_state_alloc(m, net->capacity, &d->s) != 0) {
        free(d);
        return NULL;
    }
    const size_t f = sizeof(float);
    if (cudaMalloc(&d->momentum, (size_t)m->param_floats * f + 1) != cudaSuccess ||
        cudaMalloc(&d->probs, (size_t)net->capacity * m->classes * f) != cudaSuccess ||
        cudaMalloc(&d->labels, (size_t)net->capacity * sizeof(int32_t)) != cudaSuccess) {
        fprintf(stderr, "mcgen: error: CUDA: cannot allocate the step's device memory\n");
        return NULL;
    }
    return d;
}

static void dev_close(mc_net *net)
{
    cuda_net *d = state(net);
    mc_cuda_state_free(&d->s);
    cudaFree(d->momentum), cudaFree(d->probs), cudaFree(d->labels);
    free(d);
    net->dev = NULL;
}

/* What a checkpoint holds, and the gradients (which `grad` reads). */
static void move(mc_net *net, int up)
{
    const mc_model_desc *m = net->m;
    cuda_net *d = state(net);
    const cudaMemcpyKind kind = up ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
    const size_t f = sizeof(float), p = (size_t)m->param_floats * f;
    void *host[] = {net->s.params, net->momentum, net->s.buffers, net->s.counters, net->s.grads};
    void *dev[] = {d->s.params, d->momentum, d->s.buffers, d->s.counters, d->s.grads};
    const size_t bytes[] = {p, p, (size_t)m->buffer_floats * f, (size_t)m->counters * sizeof(int64_t), p};
    for (int i = 0; i < (up ? 4 : 5); i++)
        copy(up ? dev[i] : host[i], up ? host[i] : dev[i], bytes[i], kind);
}

static void dev_push(mc_net *net) { move(net, 1); }
static void dev_pull(mc_net *net) { move(net, 0); }

static void dev_forward(mc_net *net, int train)
{
    const mc_model_desc *m = net->m;
    cuda_net *d = state(net);
    const int n = net->s.batch;
    d->s.batch = n;
    const size_t f = sizeof(float);
    copy(d->s.acts, net->s.acts, (size_t)n * m->c * m->h * m->w * f, cudaMemcpyHostToDevice);
    if (train)
        copy(d->s.extra, net->s.extra, (size_t)(m->extra_floats * n) * f, cudaMemcpyHostToDevice);
    model(net)->forward(&d->s, train);
    const int64_t out = m->layers[m->nlayers - 1].act * n;
    copy(net->s.acts + out, d->s.acts + out, (size_t)n * m->classes * f, cudaMemcpyDeviceToHost);
}

static float dev_loss(mc_net *net, const int32_t *labels)
{
    cuda_net *d = state(net);
    copy(d->labels, labels, (size_t)d->s.batch * sizeof *labels, cudaMemcpyHostToDevice);
    return model(net)->loss(&d->s, d->labels, d->probs);
}

static void dev_backward(mc_net *net)
{
    cuda_net *d = state(net);
    mc_cuda_zero_grads(net->m, &d->s);
    model(net)->loss_backward(&d->s, d->labels, d->probs);
    model(net)->backward(&d->s);
}

static void dev_sgd(mc_net *net, float lr, float momentum, float wd, int first)
{
    cuda_net *d = state(net);
    mc_cuda_sgd_step(net->m, d->s.params, d->s.grads, d->momentum, lr, momentum, wd, first);
}

mc_device mc_cuda_device(const mc_cuda_model *m)
{
    mc_device d = {"cuda", m, dev_open, dev_close, dev_push, dev_pull, dev_forward, dev_loss, dev_backward, dev_sgd};
    return d;
}
