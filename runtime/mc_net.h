/* A model ready to run: its descriptor, the areas of a step for up to
 * `capacity` images in one allocation, and the choice between the
 * generated step and the runtime's generic one (the --generic build). */
#ifndef MC_NET_H
#define MC_NET_H

#include <stdint.h>

#include "mc_model.h"
#include "mc_rng.h"

struct mc_net;

/* Another processor that runs the step (the CUDA runtime provides one:
 * mc_cuda_device). The net keeps its areas on the host as well; whichever
 * side was written last holds the truth, and the net moves them across
 * only when the other side needs them (mc_net_to_host). */
typedef struct mc_device {
    const char *name;
    const void *model;                     /* the device's own model table */
    void *(*open)(struct mc_net *net);     /* its areas for net->capacity images; NULL after an error */
    void (*close)(struct mc_net *net);
    void (*push)(struct mc_net *net);      /* parameters, buffers, counters, momentum to the device */
    void (*pull)(struct mc_net *net);      /* the same and the gradients back */
    /* forward: the input slot and the random draws of the batch up, the
     * logits back; loss: the labels up, one float back; backward: zeroed
     * gradients, then the loss gradient and the step, all on the device. */
    void (*forward)(struct mc_net *net, int train);
    float (*loss)(struct mc_net *net, const int32_t *labels);
    void (*backward)(struct mc_net *net);
    void (*sgd)(struct mc_net *net, float lr, float momentum, float wd, int first);
} mc_device;

typedef struct mc_net {
    const mc_model_desc *m;
    int generic;        /* run the generic kernels instead of the generated ones */
    int capacity;       /* images per step at most */
    mc_state s;         /* s.batch: the images of the current step */
    float *probs;       /* capacity x classes: the softmax of the last loss */
    float *momentum;    /* param_floats: SGD momentum buffers (AdamW: first moments) */
    float *second;      /* param_floats: AdamW's second moments */
    float label_smoothing; /* the loss's (PyTorch's CrossEntropyLoss label_smoothing); 0: none */
    void *block;        /* the one allocation behind all areas */
    /* What the stochastic layers draw in a training forward: shake-shake
     * uses fixed weights when set (>= 0), dropout can be turned off; both
     * for checks against other frameworks. */
    float shake_alpha, shake_beta;
    int no_dropout;
    /* A data-parallel step (one rank's shard of a global batch): the images
     * here are [shard_first, shard_first + s.batch) of a global batch of
     * shard_total (0: the whole batch is here). Random draws are made for
     * the whole global batch, so that every rank's generator stays where
     * one process's would. The loss's gradient is scaled by loss_scale,
     * this shard's share of the global batch (1 in one process), so that
     * the ranks' gradients sum to the gradient of the global batch's mean
     * loss. */
    int shard_first, shard_total;
    float loss_scale;
    const mc_device *device; /* NULL: the step runs here */
    void *dev;               /* the device's state of this net */
    int on_device;           /* the device holds the current parameters */
    uint8_t *frozen;         /* per tensor of m: 1 = kept fixed by the update (train --freeze); NULL: none */
} mc_net;

/* Allocates the areas (zeroed); -1 when out of memory. */
int mc_net_init(mc_net *net, const mc_model_desc *m, int capacity, int generic);
void mc_net_free(mc_net *net);
/* Runs the steps of net on device (NULL: here) from now on. */
void mc_net_set_device(mc_net *net, const mc_device *device);
/* Before the host reads or writes parameters, buffers, counters, momentum
 * or gradients: brings them back from the device if it holds them. */
void mc_net_to_host(mc_net *net);
/* The device with the current areas (opened on first use); 0 or -1. */
int mc_net_on_device(mc_net *net);

/* Initial parameters and buffers as the descriptor's init rules say. */
void mc_net_init_params(mc_net *net, mc_rng *r);

/* The input slot of the current step: s.batch x c x h x w floats. */
float *mc_net_input(mc_net *net, int n);
const float *mc_net_logits(const mc_net *net);

/* A forward on the n images in the input slot (train: batch statistics
 * and running-stat updates, dropout and shake draws from r). */
void mc_net_forward(mc_net *net, int train, mc_rng *r);
/* Cross-entropy of the logits against labels (mean over the batch). */
float mc_net_loss(mc_net *net, const int32_t *labels);
/* After a training forward and its loss: every parameter's gradient into
 * s.grads (overwritten). */
void mc_net_backward(mc_net *net, const int32_t *labels);

#endif
