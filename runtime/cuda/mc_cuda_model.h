/* Where the emitted CUDA and the runtime meet (plain C: the classifier and
 * the tests include it). A model's CUDA entry table points at its
 * descriptor (the C target's MODEL_model: the same tables and areas) and
 * at the device step, which runs on an mc_state whose areas are device
 * memory. Every generated kernel also runs on the host, one block after
 * another with one thread ("host emulation": the same per-element
 * arithmetic), which is how CI checks the CUDA sources without a GPU. */
#ifndef MC_CUDA_MODEL_H
#define MC_CUDA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mc_model.h"
#include "mc_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*mc_cuda_layer_fwd)(const mc_state *s, int train, int host);
typedef void (*mc_cuda_layer_bwd)(const mc_state *s, int host);

typedef struct mc_cuda_model {
    const mc_model_desc *desc;
    /* The whole step on device areas (as mc_model_desc's, which see);
     * loss reads back one float. */
    void (*forward)(const mc_state *s, int train);
    void (*backward)(const mc_state *s);
    float (*loss)(const mc_state *s, const int32_t *labels, float *probs);
    void (*loss_backward)(const mc_state *s, const int32_t *labels, const float *probs);
    /* Layer by layer, in execution order (benchmarks, checks); host != 0
     * runs the host emulation on host areas. */
    const mc_cuda_layer_fwd *layer_forward;
    const mc_cuda_layer_bwd *layer_backward;
} mc_cuda_model;

/* The GPU as the device of an mc_net (--device cuda) for this model. */
mc_device mc_cuda_device(const mc_cuda_model *m);

/* Device memory for a step of up to `batch` images, laid out as the
 * descriptor says; zeroed. 0 on success, -1 with a message on stderr. */
int mc_cuda_state_alloc(const mc_model_desc *m, int batch, mc_state *s);
void mc_cuda_state_free(mc_state *s);
/* Copies every area of a host state (its batch) to or from the device. */
void mc_cuda_state_upload(const mc_model_desc *m, const mc_state *host, const mc_state *dev);
void mc_cuda_state_download(const mc_model_desc *m, const mc_state *dev, const mc_state *host);
/* Zeroes the gradient areas before a backward. */
void mc_cuda_zero_grads(const mc_model_desc *m, const mc_state *dev);

/* SGD with Nesterov momentum as torch.optim.SGD (and runtime/optim.c) on
 * device areas: params, grads and momentum of param_floats each. */
void mc_cuda_sgd_step(const mc_model_desc *m, float *params, const float *grads, float *momentum, float lr,
                      float mom, float wd, int first);

/* Stops with a one-line message when a CUDA call failed. */
void mc_cuda_check(int status, const char *what);
/* Waits for the device (and reports an error of an earlier launch). */
void mc_cuda_sync(void);

#ifdef __cplusplus
}
#endif

#endif
