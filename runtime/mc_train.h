/* The training loop and evaluation of a classifier (the paper's recipe). */
#ifndef MC_TRAIN_H
#define MC_TRAIN_H

#include <stdint.h>

#include "mc_dataset.h"
#include "mc_net.h"

typedef struct mc_train_options {
    const char *data, *dataset, *out, *resume;
    int epochs, batch;     /* 0: the dataset's default */
    double lr, wd;
    uint64_t seed;
    long limit;            /* > 0: the first `limit` training and test images only */
    int progress;          /* a progress bar (on a terminal) instead of one line per epoch */
} mc_train_options;

/* Trains net (allocated by the caller for up to the batch size) and writes
 * out/checkpoint.safetensors after every epoch and out/log.csv. 0, or 1
 * after printing an error. */
int mc_train(const mc_model_desc *m, int generic, const mc_train_options *o);

/* Mean loss and accuracy of net (eval mode) over a dataset, in batches of
 * at most net->capacity. */
void mc_evaluate(mc_net *net, const mc_dataset *d, double *loss, double *accuracy);

#endif
