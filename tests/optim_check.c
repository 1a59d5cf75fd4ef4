/* optim_check OPTIMIZER: three steps of the runtime's optimizer (sgd or
 * adamw, with its defaults of train) on two small parameter tensors, one
 * of them never updated, with gradients that change every step. Prints
 * the parameters after each step, one line each, for tests/optim_torch.py
 * to compare with torch.optim. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mc_net.h"
#include "mc_optim.h"

int main(int argc, char **argv)
{
    const int kind = argc == 2 ? mc_optimizer_named(argv[1]) : -1;
    if (kind < 0) {
        fprintf(stderr, "usage: optim_check sgd|adamw\n");
        return 2;
    }
    static const mc_tensor_desc tensors[2] = {
        {.name = "w", .ndim = 1, .shape = {7}, .numel = 7, .area = MC_AREA_PARAM, .offset = 0, .updated = 1},
        {.name = "unused", .ndim = 1, .shape = {3}, .numel = 3, .area = MC_AREA_PARAM, .offset = 7, .updated = 0},
    };
    static const mc_model_desc m = {.name = "optim_check", .ntensors = 2, .tensors = tensors, .param_floats = 10};
    mc_net net;
    if (mc_net_init(&net, &m, 1, 1) != 0)
        return 1;
    for (int k = 0; k < 10; k++)
        net.s.params[k] = (float)sin(1.0 + k);
    mc_sgd o = kind == MC_OPT_ADAMW ? (mc_sgd){.kind = MC_OPT_ADAMW, .lr = 1e-3, .momentum = MC_ADAMW_BETA1, .weight_decay = 1e-2}
                                    : (mc_sgd){.kind = MC_OPT_SGD, .lr = 0.1, .momentum = 0.9, .weight_decay = 2e-4};
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < 10; k++)
            net.s.grads[k] = (float)cos(0.7 * k + step) * (k % 3 ? 1.0f : 1e-3f);
        mc_sgd_step(&o, &net);
        for (int k = 0; k < 10; k++)
            printf("%s%.9g", k ? " " : "", (double)net.s.params[k]);
        printf("\n");
    }
    mc_net_free(&net);
    return 0;
}
