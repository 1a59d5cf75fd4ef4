#include "mc_optim.h"

#include <math.h>

void mc_sgd_step(mc_sgd *o, mc_net *net)
{
    const mc_model_desc *m = net->m;
    const float lr = (float)o->lr, mom = (float)o->momentum, wd = (float)o->weight_decay;
    const int first = o->steps == 0;
    if (net->device) {
        mc_net_on_device(net);
        net->device->sgd(net, lr, mom, wd, first);
        o->steps++;
        return;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        if (t->area != MC_AREA_PARAM || !t->updated || (net->frozen && net->frozen[i]))
            continue;
        float *p = net->s.params + t->offset, *buf = net->momentum + t->offset;
        const float *g = net->s.grads + t->offset;
        for (int64_t k = 0; k < t->numel; k++) {
            float d = g[k] + wd * p[k];
            buf[k] = first ? d : mom * buf[k] + d;
            d += mom * buf[k];
            p[k] -= lr * d;
        }
    }
    o->steps++;
}

double mc_cosine_lr(double base, int epoch, int epochs)
{
    return 0.5 * base * (1.0 + cos(3.14159265358979323846 * epoch / epochs));
}
