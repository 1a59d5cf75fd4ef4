#include "mc_optim.h"

#include <math.h>
#include <string.h>

static void sgd_tensor(const mc_sgd *o, float *p, const float *g, float *buf, int64_t numel)
{
    const float lr = (float)o->lr, mom = (float)o->momentum, wd = (float)o->weight_decay;
    const int first = o->steps == 0;
    for (int64_t k = 0; k < numel; k++) {
        float d = g[k] + wd * p[k];
        buf[k] = first ? d : mom * buf[k] + d;
        d += mom * buf[k];
        p[k] -= lr * d;
    }
}

/* torch.optim.AdamW's single-tensor update, in its order of operations
 * (float32 tensors, the bias corrections in double as Python computes
 * them), so that the weights agree with PyTorch's to the last bits or
 * nearly. */
static void adamw_tensor(const mc_sgd *o, float *p, const float *g, float *m, float *v, int64_t numel)
{
    const double t = (double)(o->steps + 1);
    const double bc1 = 1 - pow(MC_ADAMW_BETA1, t), bc2 = 1 - pow(MC_ADAMW_BETA2, t);
    const float decay = (float)(1 - o->lr * o->weight_decay), step = (float)(o->lr / bc1);
    const float b1 = (float)MC_ADAMW_BETA1, b2 = (float)MC_ADAMW_BETA2, bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)MC_ADAMW_EPS;
    for (int64_t k = 0; k < numel; k++) {
        p[k] *= decay;
        m[k] = m[k] * b1 + (1 - b1) * g[k];
        v[k] = v[k] * b2 + (1 - b2) * g[k] * g[k];
        const float denom = sqrtf(v[k]) / bc2_sqrt + eps;
        p[k] -= step * (m[k] / denom);
    }
}

void mc_sgd_step(mc_sgd *o, mc_net *net)
{
    const mc_model_desc *m = net->m;
    if (net->device) { /* SGD only: train refuses --optimizer adamw with a device */
        mc_net_on_device(net);
        net->device->sgd(net, (float)o->lr, (float)o->momentum, (float)o->weight_decay, o->steps == 0);
        o->steps++;
        return;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area != MC_AREA_PARAM || !t->updated || (net->frozen && net->frozen[i]))
            continue;
        float *p = net->s.params + t->offset;
        const float *g = net->s.grads + t->offset;
        if (o->kind == MC_OPT_ADAMW)
            adamw_tensor(o, p, g, net->momentum + t->offset, net->second + t->offset, t->numel);
        else
            sgd_tensor(o, p, g, net->momentum + t->offset, t->numel);
    }
    o->steps++;
}

double mc_cosine_lr(double base, int epoch, int epochs, int warmup)
{
    if (epoch < warmup)
        return base * (epoch + 1) / warmup;
    return 0.5 * base * (1.0 + cos(3.14159265358979323846 * (epoch - warmup) / (epochs - warmup)));
}

static const char *const names[] = {"sgd", "adamw"};

const char *mc_optimizer_name(mc_optimizer kind) { return names[kind]; }

int mc_optimizer_named(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}
