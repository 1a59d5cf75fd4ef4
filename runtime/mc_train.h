/* The training loop and evaluation of a classifier (the paper's recipe). */
#ifndef MC_TRAIN_H
#define MC_TRAIN_H

#include <stdint.h>

#include "mc_data.h"
#include "mc_dataset.h"
#include "mc_checkpoint.h"
#include "mc_finetune.h"
#include "mc_net.h"
#include "mc_report.h"

typedef struct mc_train_options {
    const char *data, *dataset, *out, *resume;
    /* The run's settings; a value that says "not given" (0, -1 or a
     * *_set of 0) takes the default of a fresh run (the paper's recipe, or
     * PyTorch's for AdamW) or, with --resume, the checkpoint's. */
    int epochs, batch;     /* 0: not given */
    double lr, wd;
    int lr_set, wd_set, seed_set;
    double momentum;       /* < 0: not given */
    int optimizer;         /* mc_optimizer; -1: not given */
    int warmup;            /* epochs of linear warmup; -1: not given */
    double label_smoothing; /* < 0: not given */
    uint64_t seed;
    long limit;            /* > 0: the first `limit` training and test images only */
    int progress;          /* mc_progress_mode: a bar (on a terminal), lines every 30 s, or nothing */
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

/* The settings of a run into ts (the dataset's defaults from info; NULL
 * with --resume): a fresh run's from the options and the defaults; a
 * resumed run's are those in ts (read from its checkpoint), which the
 * options may change only where that makes sense: --epochs and --lr are
 * applied with a note, any other that differs is refused. 0, or -1 after
 * printing a one-line error. */
int mc_train_settings(const mc_train_options *o, const mc_dataset_info *info, mc_train_state *ts);

/* Mean loss and accuracy of net (eval mode) over a dataset, in batches of
 * at most net->capacity, with progress (mc_progress_mode) on this rank's
 * part; confusion (if not NULL) counts this rank's images too. */
void mc_evaluate(mc_net *net, const mc_dataset *d, int progress, mc_confusion *confusion, double *loss,
                 double *accuracy);

#endif
