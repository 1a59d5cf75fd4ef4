/* Fine-tuning: `train --init W.safetensors` starts from weights alone (a
 * checkpoint of ours or a PyTorch state_dict saved with safetensors,
 * "module." prefixes accepted; no training state needed), and `--freeze
 * PREFIX` keeps parameters fixed. */
#ifndef MC_FINETUNE_H
#define MC_FINETUNE_H

#include "mc_net.h"

enum { MC_FREEZE_MAX = 32 };

typedef struct mc_finetune_options {
    const char *init;                  /* --init: NULL for none */
    const char *freeze[MC_FREEZE_MAX]; /* --freeze prefixes */
    int nfreeze;
} mc_finetune_options;

/* Before any work: --init's file holds what mc_finetune_apply needs for
 * model m, and every --freeze prefix names parameters. 0, or -1 after
 * printing a one-line error. */
int mc_finetune_check(const mc_model_desc *m, const mc_finetune_options *t);

/* On a fresh run's initial state (fresh: not resumed), --init's tensors:
 * every model tensor that the file holds with the model's shape. A tensor
 * of another shape (a head for another class count), or a missing tensor
 * of the output layer (a new head), keeps its fresh initialization, and
 * one note names them; file tensors that are not the model's (and not
 * "optim.") are named in a note too. Any other missing tensor is an error.
 * Then --freeze: the parameters whose names start with a prefix are marked
 * in net->frozen (no update, no weight decay; a device step has no frozen
 * parameters yet: an error). 0, or -1 after printing a one-line error. */
int mc_finetune_apply(mc_net *net, const mc_finetune_options *t, int fresh);

#endif
