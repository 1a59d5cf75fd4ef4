/* The training loop and evaluation of a classifier (the paper's recipe). */
#ifndef MC_TRAIN_H
#define MC_TRAIN_H

#include <stdint.h>

#include "mc_data.h"
#include "mc_dataset.h"
#include "mc_finetune.h"
#include "mc_net.h"

typedef struct mc_train_options {
    const char *data, *dataset, *out, *resume;
    int epochs, batch;     /* 0: the dataset's default */
    double lr, wd;
    int lr_set;            /* --lr given: a resumed run takes it instead of its checkpoint's */
    uint64_t seed;
    long limit;            /* > 0: the first `limit` training and test images only */
    int progress;          /* a progress bar (on a terminal) instead of one line per epoch */
    int sync_bn;           /* data-parallel: batch statistics over the global batch */
    const mc_device *device; /* where the steps run (NULL: here) */
    mc_data_options own;     /* images of one's own: --val-split, --mean, --std */
    mc_finetune_options tune; /* --init, --freeze */
} mc_train_options;

/* Trains the model and writes out/checkpoint.safetensors after every epoch
 * and out/log.csv. Data-parallel over the ranks of mc_dist.h when there are
 * several (rank 0 alone prints, logs and writes). 0; MC_TRAIN_FAILED after
 * printing an error that this rank alone may have met (the others may be
 * waiting for it: the caller aborts the job); MC_TRAIN_STOPPED after one
 * every rank met together (the job can end normally). */
enum { MC_TRAIN_FAILED = 1, MC_TRAIN_STOPPED = 2 };
int mc_train(const mc_model_desc *m, int generic, const mc_train_options *o);

/* 1 when the model takes the dataset's images and labels; else 0 after
 * printing an error that says how to build one that does. */
int mc_dataset_fits(const mc_model_desc *m, const mc_dataset_info *in);

/* Mean loss and accuracy of net (eval mode) over a dataset, in batches of
 * at most net->capacity. */
void mc_evaluate(mc_net *net, const mc_dataset *d, double *loss, double *accuracy);

#endif
