/* Checkpoints: safetensors files whose tensors carry the PyTorch state_dict
 * names, shapes and dtypes (so they load into the reference model with
 * load_state_dict(strict=True)), plus the training state under "optim.",
 * for an exact resume: optim.state (epoch, epochs, batch, seed, steps),
 * optim.hyper (learning rate, momentum, weight decay), optim.settings
 * (limit, warmup epochs, label smoothing; absent in older checkpoints:
 * zeros), optim.rng, the metadata "optimizer" (sgd when absent) and per
 * parameter optim.momentum.NAME (SGD) or optim.exp_avg.NAME and
 * optim.exp_avg_sq.NAME (AdamW, PyTorch's names). */
#ifndef MC_CHECKPOINT_H
#define MC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "mc_dataset.h"
#include "mc_net.h"
#include "mc_optim.h"
#include "mc_rng.h"
#include "mc_safetensors.h"

/* Where a run stands after an epoch, and what it was asked to do. */
typedef struct mc_train_state {
    int64_t epoch;  /* epochs completed */
    int64_t epochs; /* the run's length (the cosine schedule depends on it) */
    int64_t batch, seed;
    mc_sgd sgd;     /* sgd.lr: the base rate; sgd.kind: SGD or AdamW */
    int64_t limit;  /* > 0: the first `limit` training and test images only */
    int64_t warmup; /* epochs of linear warmup before the cosine */
    double label_smoothing;
    mc_rng rng;
    char dataset[32];
    const mc_dataset_info *info; /* what it trains on: normalization and classes go in the metadata (mc_data.h) */
} mc_train_state;

/* Writes the net's parameters, buffers and counters (and ts, if not NULL)
 * atomically to path. 0, or -1 with one line in err (MC_ST_UNSYNCED when
 * the file was replaced but its folder could not be synced). */
int mc_checkpoint_save(const char *path, mc_net *net, const mc_train_state *ts, char *err, size_t errlen);

/* Reads a checkpoint into the net: every state_dict tensor of the model
 * must be there with its shape and dtype, and nothing else but "optim."
 * entries; a "module." prefix is accepted. ts (if not NULL) gets the
 * training state, which must then be present. 0, or -1 with one line in
 * err naming the file and the problem. */
int mc_checkpoint_load(const char *path, mc_net *net, mc_train_state *ts, char *err, size_t errlen);

/* The training state alone (what a resumed run needs before it can size
 * its net): 0, or -1 with one line in err. */
int mc_checkpoint_read_state(const char *path, mc_train_state *ts, char *err, size_t errlen);

/* The file's tensor for a model tensor's name, with or without "module."
 * (PyTorch's DataParallel prefix); NULL if absent. */
const mc_st_tensor *mc_checkpoint_find(const mc_st_file *f, const char *name);
/* 1 when name (with or without "module.") is one of m's tensors. */
int mc_checkpoint_is_model_tensor(const mc_model_desc *m, const char *name);
/* 0 when st's values are ones the net can run on (finite; variances and
 * counters not negative); else -1 with a message naming tensor and file. */
int mc_checkpoint_check_values(const mc_st_file *f, const char *name, const mc_st_tensor *st, char *err,
                               size_t errlen);

#endif
