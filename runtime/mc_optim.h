/* The optimizers and the learning-rate schedule, as PyTorch computes them. */
#ifndef MC_OPTIM_H
#define MC_OPTIM_H

#include <stdint.h>

#include "mc_net.h"

typedef enum { MC_OPT_SGD, MC_OPT_ADAMW } mc_optimizer;

/* AdamW's constants: PyTorch's defaults (betas (0.9, 0.999), eps 1e-8). */
#define MC_ADAMW_BETA1 0.9
#define MC_ADAMW_BETA2 0.999
#define MC_ADAMW_EPS 1e-8

typedef struct mc_sgd {
    mc_optimizer kind;
    double lr, momentum, weight_decay; /* momentum: SGD's (AdamW's beta1 is MC_ADAMW_BETA1) */
    int64_t steps; /* taken so far: SGD's first one starts the momentum at the gradient; AdamW's bias
                    * corrections count them */
} mc_sgd;

/* One step of o->kind on every updated parameter:
 * SGD exactly torch.optim.SGD(nesterov=True): d = g + wd p; buf = d (first
 * step) or m buf + d; d += m buf; p -= lr d (buf: net->momentum).
 * AdamW exactly torch.optim.AdamW: p *= 1 - lr wd (decoupled decay);
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * (m: net->momentum, v: net->second). */
void mc_sgd_step(mc_sgd *o, mc_net *net);

/* The learning rate of epoch e (from 0) of E, set once per epoch: during
 * the first `warmup` epochs it rises linearly, base (e + 1) / warmup; then
 * the cosine over the remaining epochs, base/2 (1 + cos(pi (e - warmup) /
 * (E - warmup))) (without warmup, the paper's schedule). */
double mc_cosine_lr(double base, int epoch, int epochs, int warmup);

/* "sgd" or "adamw". */
const char *mc_optimizer_name(mc_optimizer kind);
/* The optimizer of a name; -1 when none. */
int mc_optimizer_named(const char *name);

#endif
