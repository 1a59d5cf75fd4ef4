/* The paper's optimizer and schedule, as PyTorch computes them. */
#ifndef MC_OPTIM_H
#define MC_OPTIM_H

#include <stdint.h>

#include "mc_net.h"

typedef struct mc_sgd {
    double lr, momentum, weight_decay;
    int64_t steps; /* taken so far: the first one starts the momentum at the gradient */
} mc_sgd;

/* One SGD step with Nesterov momentum on every updated parameter, exactly
 * torch.optim.SGD(nesterov=True): d = g + wd p; buf = d (first step) or
 * m buf + d; d += m buf; p -= lr d. */
void mc_sgd_step(mc_sgd *o, mc_net *net);

/* The learning rate of epoch e (from 0) of E: base/2 (1 + cos(pi e / E)),
 * set once per epoch. */
double mc_cosine_lr(double base, int epoch, int epochs);

#endif
