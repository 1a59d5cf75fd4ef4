/* A training run's settings: a fresh run's from the command line and the
 * defaults, a resumed run's from its checkpoint. A resumed run must go on
 * as it started (the same images, batches and optimizer), so an option
 * that would change that is refused, never silently ignored: only the
 * length (--epochs) and the base rate (--lr, e.g. lower after a
 * divergence) may change, and each change is noted. */
#include "mc_train.h"

#include <stdio.h>

#include "mc_dist.h"
#include "mc_optim.h"

/* Prints a refusal of option `flag` given as `given`, the run having `kept`. */
static int refuse(const char *resume, const char *flag, const char *given, const char *kept)
{
    fprintf(stderr, "error: %s %s: the run in %s has %s %s, and a resumed run keeps its settings (start a new run "
                    "in another --out to change it)\n", flag, given, resume, flag + 2, kept);
    return -1;
}

static int same_int(const char *resume, const char *flag, long long given, long long kept)
{
    char a[32], b[32];
    if (given == kept)
        return 0;
    snprintf(a, sizeof a, "%lld", given), snprintf(b, sizeof b, "%lld", kept);
    return refuse(resume, flag, a, b);
}

static int same_real(const char *resume, const char *flag, double given, double kept)
{
    char a[32], b[32];
    if (given == kept)
        return 0;
    snprintf(a, sizeof a, "%g", given), snprintf(b, sizeof b, "%g", kept);
    return refuse(resume, flag, a, b);
}

static int resumed(const mc_train_options *o, mc_train_state *ts)
{
    const char *r = o->resume;
    if ((o->batch && same_int(r, "--batch", o->batch, ts->batch)) ||
        (o->limit && same_int(r, "--limit", o->limit, ts->limit)) ||
        (o->seed_set && same_int(r, "--seed", (long long)o->seed, ts->seed)) ||
        (o->warmup >= 0 && same_int(r, "--warmup-epochs", o->warmup, ts->warmup)) ||
        (o->wd_set && same_real(r, "--wd", o->wd, ts->sgd.weight_decay)) ||
        (o->momentum >= 0 && same_real(r, "--momentum", o->momentum, ts->sgd.momentum)) ||
        (o->label_smoothing >= 0 && same_real(r, "--label-smoothing", o->label_smoothing, ts->label_smoothing)))
        return -1;
    if (o->optimizer >= 0 && o->optimizer != (int)ts->sgd.kind)
        return refuse(r, "--optimizer", mc_optimizer_name((mc_optimizer)o->optimizer), mc_optimizer_name(ts->sgd.kind));
    if (o->epochs && o->epochs != ts->epochs) {
        if (o->epochs <= ts->warmup) {
            fprintf(stderr, "error: --epochs %d: the run in %s warms up for %lld epochs; give more\n", o->epochs, r,
                    (long long)ts->warmup);
            return -1;
        }
        if (mc_dist_rank() == 0)
            fprintf(stderr, "note: the run in %s goes on for %d epochs instead of %lld (the cosine schedule stretches "
                        "to the new length)\n", r, o->epochs, (long long)ts->epochs);
        ts->epochs = o->epochs;
    }
    if (o->lr_set && o->lr != ts->sgd.lr) {
        if (mc_dist_rank() == 0)
            fprintf(stderr, "note: the run in %s goes on at base learning rate %g instead of %g\n", r, o->lr, ts->sgd.lr);
        ts->sgd.lr = o->lr;
    }
    return 0;
}

static int fresh(const mc_train_options *o, const mc_dataset_info *info, mc_train_state *ts)
{
    const int adamw = o->optimizer == MC_OPT_ADAMW;
    if (adamw && o->momentum >= 0) {
        fprintf(stderr, "error: --momentum is SGD's; AdamW takes PyTorch's betas (%g, %g)\n", MC_ADAMW_BETA1,
                MC_ADAMW_BETA2);
        return -1;
    }
    ts->epochs = o->epochs ? o->epochs : info->epochs;
    ts->batch = o->batch ? o->batch : info->batch;
    ts->seed = (int64_t)o->seed;
    ts->limit = o->limit;
    ts->warmup = o->warmup > 0 ? o->warmup : 0;
    ts->label_smoothing = o->label_smoothing > 0 ? o->label_smoothing : 0;
    if (ts->warmup >= ts->epochs) {
        fprintf(stderr, "error: --warmup-epochs %lld: expected fewer than the run's %lld epochs\n",
                (long long)ts->warmup, (long long)ts->epochs);
        return -1;
    }
    /* The paper's recipe; AdamW with PyTorch's default rate and decay. */
    ts->sgd = (mc_sgd){.kind = adamw ? MC_OPT_ADAMW : MC_OPT_SGD,
                       .lr = o->lr_set ? o->lr : adamw ? 1e-3 : 0.1,
                       .momentum = adamw ? MC_ADAMW_BETA1 : o->momentum >= 0 ? o->momentum : 0.9,
                       .weight_decay = o->wd_set ? o->wd : adamw ? 1e-2 : 2e-4};
    return 0;
}

int mc_train_settings(const mc_train_options *o, const mc_dataset_info *info, mc_train_state *ts)
{
    if (o->resume ? resumed(o, ts) : fresh(o, info, ts))
        return -1;
    /* The device step has SGD and the plain loss only. */
    if (o->device && (ts->sgd.kind != MC_OPT_SGD || ts->label_smoothing > 0)) {
        fprintf(stderr, "error: --device %s trains with SGD and without label smoothing only, for now\n",
                o->device->name);
        return -1;
    }
    return 0;
}
