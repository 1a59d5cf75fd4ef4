/* One allocation holds every area of a step (llm.c style): parameters,
 * gradients, momentum, second moments, buffers, counters, activations and their gradients,
 * saved statistics, random draws and the softmax. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "mc_net.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Areas in the order they are carved out of the block; each is padded to
 * 64 bytes so that every area starts on a cache line. */
static size_t padded(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

int mc_net_init(mc_net *net, const mc_model_desc *m, int capacity, int generic)
{
    memset(net, 0, sizeof *net);
    net->m = m, net->capacity = capacity, net->generic = generic;
    net->shake_alpha = net->shake_beta = -1;
    net->loss_scale = 1;
    const size_t n = (size_t)capacity, f = sizeof(float);
    const size_t sizes[] = {
        padded((size_t)m->param_floats * f),      /* params */
        padded((size_t)m->param_floats * f),      /* grads */
        padded((size_t)m->param_floats * f),      /* momentum */
        padded((size_t)m->param_floats * f),      /* second moments */
        padded((size_t)m->buffer_floats * f),     /* buffers */
        padded((size_t)m->counters * sizeof(int64_t)),
        padded((size_t)m->act_floats * n * f),    /* acts */
        padded((size_t)m->act_floats * n * f),    /* dacts */
        padded((size_t)m->saved_floats * f),
        padded((size_t)m->extra_floats * n * f),
        padded((size_t)m->classes * n * f),       /* probs */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += sizes[i];
    /* In 2 MB pages where the kernel gives them on request (transparent
     * huge pages in madvise mode, as here): the kernels walk a channel
     * across the images, planes a whole image apart, and the transposes
     * read 16 planes at once, so 4 KB pages spent a TLB miss on nearly
     * every plane (resnet20's step 1% faster). The price is at the start:
     * where memory is fragmented the kernel compacts it for them (764 MB
     * at batch 128: 0.35 s to fault in, up to 1.9 s right after another
     * big process, against 0.64 s in 4 KB pages). */
    const size_t huge = (size_t)2 << 20;
    total = (total + huge - 1) / huge * huge;
    char *p = aligned_alloc(huge, total);
    if (!p)
        return -1;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, total, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
#endif
    memset(p, 0, total);
    net->block = p;
    void **areas[] = {(void **)&net->s.params, (void **)&net->s.grads, (void **)&net->momentum, (void **)&net->second,
                      (void **)&net->s.buffers, (void **)&net->s.counters, (void **)&net->s.acts,
                      (void **)&net->s.dacts, (void **)&net->s.saved, (void **)&net->s.extra,
                      (void **)&net->probs};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *areas[i] = p;
        p += sizes[i];
    }
    net->s.batch = capacity;
    return 0;
}

void mc_net_free(mc_net *net)
{
    if (net->dev)
        net->device->close(net);
    free(net->block);
    free(net->frozen);
    memset(net, 0, sizeof *net);
}

void mc_net_init_params(mc_net *net, mc_rng *r)
{
    const mc_model_desc *m = net->m;
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area == MC_AREA_COUNTER) {
            net->s.counters[t->offset] = 0;
            continue;
        }
        float *p = (t->area == MC_AREA_PARAM ? net->s.params : net->s.buffers) + t->offset;
        for (int64_t k = 0; k < t->numel; k++)
            switch (t->init) {
            case MC_INIT_ZEROS: p[k] = 0; break;
            case MC_INIT_ONES: p[k] = 1; break;
            case MC_INIT_NORMAL: p[k] = (float)(t->init_a * mc_rng_normal(r)); break;
            case MC_INIT_UNIFORM: p[k] = (float)(t->init_a * (2.0 * mc_rng_float(r) - 1.0)); break;
            }
    }
}

float *mc_net_input(mc_net *net, int n)
{
    net->s.batch = n;
    return net->s.acts;
}

const float *mc_net_logits(const mc_net *net)
{
    const mc_layer *out = &net->m->layers[net->m->nlayers - 1];
    return net->s.acts + out->act * net->s.batch;
}

/* Where draw k of a layer (per draws an image, image-major over the global
 * batch) goes in this shard's part of its slot e; NULL for another rank's
 * image. */
static float *shard_slot(const mc_net *net, float *e, long k, long per)
{
    const long at = k - (long)net->shard_first * per;
    return at >= 0 && at < (long)net->s.batch * per ? e + at : NULL;
}

/* The random draws of a training forward, into the extra area. */
static void draw_extra(mc_net *net, mc_rng *r)
{
    const mc_model_desc *m = net->m;
    const int n = net->s.batch, total = net->shard_total ? net->shard_total : n;
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        float *e = net->s.extra + l->extra * n, *slot;
        if (l->kind == MC_L_DROPOUT) {
            const long per = (long)l->c * l->h * l->w;
            const float keep = 1.0f / (1.0f - l->p);
            for (long k = 0; k < total * per; k++) {
                const float v = net->no_dropout ? 1.0f : mc_rng_float(r) < l->p ? 0.0f : keep;
                if ((slot = shard_slot(net, e, k, per)))
                    *slot = v;
            }
        } else if (l->kind == MC_L_SHAKE) {
            /* a for every image, then b: the layout the kernels read. */
            for (int half = 0; half < 2; half++) {
                const float fixed = half ? net->shake_beta : net->shake_alpha;
                for (int k = 0; k < total; k++) {
                    const float v = fixed >= 0 ? fixed : mc_rng_float(r);
                    if ((slot = shard_slot(net, e + half * n, k, 1)))
                        *slot = v;
                }
            }
        }
    }
}

void mc_net_set_device(mc_net *net, const mc_device *device) { net->device = device; }

int mc_net_on_device(mc_net *net)
{
    if (!net->dev && !(net->dev = net->device->open(net)))
        exit(1); /* the device said why */
    if (!net->on_device) {
        net->device->push(net);
        net->on_device = 1;
    }
    return 0;
}

void mc_net_to_host(mc_net *net)
{
    if (net->device && net->on_device) {
        net->device->pull(net);
        net->on_device = 0;
    }
}

void mc_net_forward(mc_net *net, int train, mc_rng *r)
{
    if (train)
        draw_extra(net, r);
    if (net->device) {
        mc_net_on_device(net);
        net->device->forward(net, train);
    } else if (net->generic)
        mc_generic_forward(net->m, &net->s, train);
    else
        net->m->forward(&net->s, train);
}

float mc_net_loss(mc_net *net, const int32_t *labels)
{
    const float xent = net->device ? net->device->loss(net, labels)
                       : net->generic ? mc_generic_loss(net->m, &net->s, labels, net->probs)
                                      : net->m->loss(&net->s, labels, net->probs);
    if (!net->label_smoothing)
        return xent;
    const double e = net->label_smoothing;
    return (float)((1 - e) * xent + e * mc_uniform_xent(net->s.batch, net->m->classes, mc_net_logits(net)));
}

/* Zeroes count floats, the threads taking chunks: a step clears every
 * activation gradient, tens of MB at batch 128. */
static void zero_floats(float *p, size_t count)
{
    const size_t chunk = (size_t)1 << 16;
    const long chunks = (long)((count + chunk - 1) / chunk);
    MC_OMP_FOR
    for (long c = 0; c < chunks; c++) {
        const size_t first = (size_t)c * chunk;
        memset(p + first, 0, (count - first < chunk ? count - first : chunk) * sizeof(float));
    }
}

void mc_net_backward(mc_net *net, const int32_t *labels)
{
    const mc_model_desc *m = net->m;
    if (net->device) {
        (void)labels; /* the device kept those of the loss */
        net->device->backward(net);
        return;
    }
    /* The backward accumulates: every gradient starts at 0 (a generated
     * step that clears its own activation gradients needs only the output's,
     * where the loss adds). */
    const mc_layer *out = &m->layers[m->nlayers - 1];
    float *dlogits = net->s.dacts + out->act * net->s.batch;
    zero_floats(net->s.grads, (size_t)m->param_floats);
    if (m->clears_dacts && !net->generic)
        zero_floats(dlogits, (size_t)m->classes * (size_t)net->s.batch);
    else
        zero_floats(net->s.dacts, (size_t)m->act_floats * (size_t)net->s.batch);
    if (net->generic)
        mc_generic_loss_backward(m, &net->s, labels, net->probs);
    else
        m->loss_backward(&net->s, labels, net->probs);
    if (net->label_smoothing) /* the device path refuses it (train, grad) */
        mc_smoothing_bwd(net->s.batch, m->classes, labels, net->label_smoothing, 1.0f / net->s.batch, dlogits);
    if (net->loss_scale != 1)
        for (long k = 0; k < (long)net->s.batch * m->classes; k++)
            dlogits[k] *= net->loss_scale;
    if (net->generic)
        mc_generic_backward(m, &net->s);
    else
        m->backward(&net->s);
}
