/* The training loop: the paper's recipe around the net's step. */
#define _POSIX_C_SOURCE 200809L
#include "mc_train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_batch.h"
#include "mc_checkpoint.h"
#include "mc_curves.h"
#include "mc_dist.h"
#include "mc_optim.h"
#include "mc_progress.h"
#include "mc_safetensors.h"
#include "mc_train_log.h"

/* Correct predictions among the n rows of logits. */
static int correct(const float *logits, const int32_t *labels, int n, int classes)
{
    int hits = 0;
    for (int b = 0; b < n; b++)
        hits += mc_argmax(logits + (long)b * classes, classes) == labels[b];
    return hits;
}

void mc_evaluate(mc_net *net, const mc_dataset *d, int progress, mc_confusion *confusion, double *loss,
                 double *accuracy)
{
    /* Data-parallel, every rank evaluates its part of the split. */
    const int lo = (int)((long)d->n * mc_dist_rank() / mc_dist_size());
    const int hi = (int)((long)d->n * (mc_dist_rank() + 1) / mc_dist_size());
    int64_t *order = malloc((size_t)(d->n ? d->n : 1) * sizeof *order);
    int32_t *labels = malloc((size_t)net->capacity * sizeof *labels);
    double total = 0;
    long hits = 0;
    if (!order || !labels) {
        fprintf(stderr, "error: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < d->n; i++)
        order[i] = i;
    /* The test loss is the plain cross-entropy, smoothed or not in
     * training: eval gives the same, and runs compare. */
    const float smoothing = net->label_smoothing;
    net->label_smoothing = 0;
    mc_progress bar;
    mc_progress_start(&bar, progress, "evaluation", hi - lo);
    for (int at = lo; at < hi; at += net->capacity) {
        const int n = hi - at < net->capacity ? hi - at : net->capacity;
        mc_batch_fill(d, order + at, n, 0, NULL, mc_net_input(net, n), labels);
        mc_net_forward(net, 0, NULL);
        total += (double)mc_net_loss(net, labels) * n;
        hits += correct(mc_net_logits(net), labels, n, net->m->classes);
        if (confusion)
            mc_confusion_add(confusion, mc_net_logits(net), labels, n);
        mc_progress_update(&bar, at + n - lo, total / (at + n - lo), (double)hits / (at + n - lo));
    }
    mc_progress_end(&bar);
    net->label_smoothing = smoothing;
    double sums[2] = {total, (double)hits};
    mc_dist_sum(sums, 2);
    *loss = d->n ? sums[0] / d->n : 0;
    *accuracy = d->n ? sums[1] / d->n : 0;
    free(order), free(labels);
}

int mc_dataset_fits(const mc_model_desc *m, const mc_dataset_info *in)
{
    if (m->c == in->c && m->h == in->h && m->w == in->w && m->classes == in->classes)
        return 1;
    fprintf(stderr,
            "error: %s takes %dx%dx%d images into %d classes, but %s has %dx%dx%d images in %d classes; "
            "build it with --input %dx%dx%d --classes %d\n",
            m->name, m->c, m->h, m->w, m->classes, in->name, in->c, in->h, in->w, in->classes, in->c, in->h,
            in->w, in->classes);
    return 0;
}

/* --out before any work: a folder (made if missing) where a file can be
 * created, and whose checkpoint.safetensors and log.csv, if there, are
 * files a rename can replace. A probe file is made and removed: the one
 * test that a read-only mount, a full quota or an ACL cannot fool. 0, or
 * -1 after printing an error. */
static int check_out(const char *dir, int *made)
{
    struct stat st;
    *made = mkdir(dir, 0777) == 0;
    if (!*made && errno != EEXIST) {
        fprintf(stderr, "error: %s: cannot create the output folder: %s\n", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "error: %s: not a folder (expected --out to name one for the checkpoint and log)\n", dir);
        return -1;
    }
    static const char *const outputs[2] = {"checkpoint.safetensors", "log.csv"};
    char path[4200];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, outputs[i]);
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            fprintf(stderr, "error: %s: not a regular file, so training could not replace it\n", path);
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/.mcgen-probe.%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "error: %s: cannot write in the output folder: %s\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

typedef struct run {
    const mc_model_desc *m;
    mc_net net;
    mc_dataset train, test;
    mc_train_state ts;
    int64_t *order;
    int32_t *labels;
    char *ckpt, *log, *curves;
    int made_out; /* --out was made by this run: removed again if nothing was written in it */
} run;

static void run_free(run *r)
{
    mc_net_free(&r->net);
    mc_dataset_free(&r->train);
    mc_dataset_free(&r->test);
    free(r->order), free(r->labels), free(r->ckpt), free(r->log), free(r->curves);
}

static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

/* Settings, data, net and training state: fresh, or from --resume. */
static int setup(run *r, int generic, const mc_train_options *o)
{
    mc_train_state *ts = &r->ts;
    char err[1024];
    if (mc_dist_rank() == 0 && check_out(o->out, &r->made_out) != 0) /* before the data, the net, an epoch */
        return -1;
    if (mc_finetune_check(r->m, &o->tune) != 0)
        return -1;
    /* A resumed run's settings (its --limit among them) before its data. */
    if (o->resume && mc_checkpoint_read_state(o->resume, ts, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    /* A resumed run's checkpoint fixes the data's classes, normalization
     * and split (mc_data.h). */
    const mc_dataset_info *chosen = mc_data_choose(r->m, o->data, o->dataset, o->resume, &o->own, o->seed, 1);
    const int loaded = chosen && mc_dataset_fits(r->m, chosen) && mc_train_settings(o, chosen, ts) == 0 &&
                       mc_data_load_splits(o->data, chosen, (long)ts->limit, &r->train, &r->test) == 0;
    mc_dataset_info_free(chosen);
    if (!loaded)
        return -1;
    const mc_dataset_info *info = r->train.info;
    ts->info = info;
    snprintf(ts->dataset, sizeof ts->dataset, "%s", info->name);
    const int ranks = mc_dist_size(), shard = (int)((ts->batch + ranks - 1) / ranks);
    if (ts->batch < ranks) {
        fprintf(stderr, "error: a batch of %lld cannot be shared by %d ranks; give --batch %d or more\n",
                (long long)ts->batch, ranks, ranks);
        return -1;
    }
    /* The device step neither scales a shard's loss gradient nor sums
     * gradients across ranks (that is NCCL's job, not written yet). */
    if (o->device && ranks > 1) {
        fprintf(stderr, "error: --device cuda trains in one process only for now; run it without mpirun\n");
        return -1;
    }
    if (mc_net_init(&r->net, r->m, shard, generic) != 0) {
        fprintf(stderr, "error: out of memory for a batch of %d\n", shard);
        return -1;
    }
    mc_net_set_device(&r->net, o->device);
    r->net.label_smoothing = (float)ts->label_smoothing;
    if (o->resume) {
        const mc_train_state settled = *ts; /* the load reads the checkpoint's settings again */
        if (mc_checkpoint_load(o->resume, &r->net, ts, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            return -1;
        }
        ts->epochs = settled.epochs, ts->sgd.lr = settled.sgd.lr;
        memcpy(ts->dataset, settled.dataset, sizeof ts->dataset);
    } else {
        mc_rng_seed(&ts->rng, (uint64_t)ts->seed);
        mc_net_init_params(&r->net, &ts->rng);
    }
    if (mc_finetune_apply(&r->net, &o->tune, !o->resume) != 0)
        return -1;
    r->order = malloc((size_t)(r->train.n ? r->train.n : 1) * sizeof *r->order);
    r->labels = malloc((size_t)shard * sizeof *r->labels);
    r->ckpt = join(o->out, "checkpoint.safetensors");
    r->log = join(o->out, "log.csv");
    r->curves = join(o->out, "curves.svg");
    if (!r->order || !r->labels || !r->ckpt || !r->log || !r->curves) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    /* The log lists the checkpoint's epochs: a killed save's pending row is
     * taken or dropped, rows past the checkpoint (a later, lost run) go. */
    if (o->resume && mc_dist_rank() == 0 && mc_log_recover(r->log, ts->epoch, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    return 0;
}

/* After an epoch: the checkpoint, then the log row, each atomically; the
 * log's text is synced before the checkpoint's rename commits the epoch
 * (mc_train_log.h). 0, or -1 after printing an error. */
static int save_epoch(run *r, const char *row)
{
    char err[1024];
    if (mc_log_prepare(r->log, r->ts.epoch - 1, row, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    int saved = mc_checkpoint_save(r->ckpt, &r->net, &r->ts, err, sizeof err);
    if (saved != 0 && saved != MC_ST_UNSYNCED) { /* the old checkpoint stands: so does the old log */
        mc_log_abandon(r->log);
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    char cerr[1024];
    if (mc_log_commit(r->log, cerr, sizeof cerr) != 0 || saved != 0) {
        if (saved != 0) /* the new checkpoint is in place: its row is committed with it */
            snprintf(cerr, sizeof cerr, "%s", err);
        fprintf(stderr, "error: %s (the checkpoint holds epoch %lld)\n", cerr, (long long)r->ts.epoch);
        return -1;
    }
    return 0;
}

/* OUT/curves.svg from the log just committed. The checkpoint and the log
 * are the run's record and the plot can be drawn again from the log, so a
 * plot that cannot be written is a warning, not the end of the run. */
static void draw_curves(run *r)
{
    char err[1024];
    if (mc_curves_write(r->log, r->curves, err, sizeof err) != 0)
        fprintf(stderr, "warning: %s\n", err);
}

/* Rank `rank`'s part of a global batch of b images: [*first, *first + *n),
 * b / ranks images each, the first b % ranks ranks one more. */
static void shard_of(int b, int *first, int *n)
{
    const int ranks = mc_dist_size(), rank = mc_dist_rank(), q = b / ranks, extra = b % ranks;
    *n = q + (rank < extra);
    *first = rank * q + (rank < extra ? rank : extra);
}

/* The images of an epoch that train: all, but for a last partial batch too
 * small to give every rank an image (then left out). */
static int epoch_images(const run *r)
{
    const int n = r->train.n, tail = n % (int)r->ts.batch;
    return tail && tail < mc_dist_size() ? n - tail : n;
}

/* One epoch of SGD, data-parallel: every rank draws the same order and
 * takes its shard of each global batch; the gradients of the shards,
 * summed over the ranks, are the global batch's, so every rank makes the
 * same update. Sets the mean training loss and accuracy and returns 0; or
 * returns the 1-based step whose loss was NaN or infinite (every rank
 * sees the same global loss, so all stop there together), before that
 * step's update. */
static int train_epoch(run *r, int progress, double *loss, double *accuracy)
{
    mc_train_state *ts = &r->ts;
    mc_net *net = &r->net;
    const int n = epoch_images(r), batch = (int)ts->batch;
    mc_shuffle(r->order, r->train.n, &ts->rng);
    mc_progress bar;
    char what[48];
    snprintf(what, sizeof what, "epoch %lld/%lld", (long long)ts->epoch + 1, (long long)ts->epochs);
    mc_progress_start(&bar, progress, what, n);
    double total = 0;
    long hits = 0, seen = 0;
    for (int at = 0; at < n; at += batch) {
        const int b = n - at < batch ? n - at : batch; /* the last partial batch is kept */
        int first, local;
        shard_of(b, &first, &local);
        net->shard_first = first, net->shard_total = b;
        net->loss_scale = (float)local / (float)b;
        mc_batch_fill_part(&r->train, r->order + at, b, first, local, r->train.info->augment, &ts->rng,
                           mc_net_input(net, local), r->labels);
        mc_net_forward(net, 1, &ts->rng);
        const float l = mc_net_loss(net, r->labels);
        double step_loss = (double)l * local;
        if (mc_dist_size() > 1)
            mc_dist_sum(&step_loss, 1);
        if (!isfinite(step_loss)) {
            mc_progress_end(&bar);
            return at / batch + 1;
        }
        hits += correct(mc_net_logits(net), r->labels, local, net->m->classes);
        total += (double)l * local;
        mc_net_backward(net, r->labels);
        mc_dist_sum_floats(net->s.grads, net->m->param_floats);
        mc_sgd_step(&ts->sgd, net);
        seen += local;
        /* The bar shows this rank's running loss and accuracy. */
        mc_progress_update(&bar, at + b, total / seen, (double)hits / seen);
    }
    mc_progress_end(&bar);
    double sums[2] = {total, (double)hits};
    mc_dist_sum(sums, 2);
    *loss = n ? sums[0] / n : 0;
    *accuracy = n ? sums[1] / n : 0;
    return 0;
}

/* Weights, optimizer state and batch-norm buffers all finite. */
static int state_finite(const run *r)
{
    const mc_net *net = &r->net;
    for (int64_t k = 0; k < r->m->param_floats; k++)
        if (!isfinite(net->s.params[k]) || !isfinite(net->momentum[k]) || !isfinite(net->second[k]))
            return 0;
    for (int64_t k = 0; k < r->m->buffer_floats; k++)
        if (!isfinite(net->s.buffers[k]))
            return 0;
    return 1;
}

/* FNV-1a of bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t bytes)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

/* Everything a rank's next epoch depends on. */
static uint64_t state_checksum(const run *r)
{
    const mc_model_desc *m = r->m;
    const mc_net *net = &r->net;
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, net->s.params, (size_t)m->param_floats * sizeof(float));
    h = fnv1a(h, net->momentum, (size_t)m->param_floats * sizeof(float));
    h = fnv1a(h, net->second, (size_t)m->param_floats * sizeof(float));
    h = fnv1a(h, net->s.buffers, (size_t)m->buffer_floats * sizeof(float));
    h = fnv1a(h, net->s.counters, (size_t)m->counters * sizeof(int64_t));
    return fnv1a(h, &r->ts.rng, sizeof r->ts.rng);
}

/* After an epoch: with local batch norm every rank's running statistics
 * saw only its shards, so they are averaged (the checkpoint holds one
 * model); then every rank must hold the same state, bit for bit. 0, or -1
 * after printing an error. */
static int sync_ranks(run *r, int sync_bn)
{
    const int ranks = mc_dist_size();
    mc_net *net = &r->net;
    if (ranks == 1)
        return 0;
    if (!sync_bn) {
        mc_dist_sum_floats(net->s.buffers, r->m->buffer_floats);
        for (int64_t k = 0; k < r->m->buffer_floats; k++)
            net->s.buffers[k] /= (float)ranks;
    }
    /* MCGEN_TEST_DRIFT makes the last rank's weights drift: the test of
     * this check. */
    if (getenv("MCGEN_TEST_DRIFT") && mc_dist_rank() == ranks - 1 && r->m->param_floats)
        net->s.params[0] = nextafterf(net->s.params[0], INFINITY);
    if (mc_dist_agree(state_checksum(r)))
        return 0;
    if (mc_dist_rank() == 0)
        fprintf(stderr, "error: after epoch %lld the %d ranks no longer hold the same weights (their checksums "
                        "differ); stopping\n", (long long)r->ts.epoch + 1, ranks);
    return -1;
}

int mc_train(const mc_model_desc *m, int generic, const mc_train_options *o)
{
    run r = {.m = m};
    if (setup(&r, generic, o) != 0) {
        if (r.made_out)
            rmdir(o->out); /* fails, as it should, if anything is in it */
        run_free(&r);
        return MC_TRAIN_FAILED;
    }
    mc_train_state *ts = &r.ts;
    const int lead = mc_dist_rank() == 0, ranks = mc_dist_size();
    const double base_lr = ts->sgd.lr, start = mc_now();
    const int64_t first_epoch = ts->epoch; /* a resumed run's checkpoint is good from the start */
    long images = 0;
    double test_loss = 0, test_acc = 0, train_secs = 0;
    int rc = 0;
    if (lead && ts->epoch >= ts->epochs)
        fprintf(stderr, "note: %s already holds %lld of %lld epochs\n", o->resume, (long long)ts->epoch,
                (long long)ts->epochs);
    if (lead && epoch_images(&r) < r.train.n)
        fprintf(stderr, "note: the last %d images of every epoch are fewer than the %d ranks and are left out\n",
                r.train.n - epoch_images(&r), ranks);
    mc_dist_sync_bn(o->sync_bn);
    while (rc == 0 && ts->epoch < ts->epochs) {
        const int e = (int)ts->epoch;
        ts->sgd.lr = mc_cosine_lr(base_lr, e, (int)ts->epochs, (int)ts->warmup);
        const double t0 = mc_now();
        double train_loss = 0, train_acc = 0;
        const int bad_step = train_epoch(&r, lead ? o->progress : MC_PROGRESS_OFF, &train_loss, &train_acc);
        if (!bad_step && sync_ranks(&r, o->sync_bn) != 0) {
            rc = MC_TRAIN_STOPPED; /* every rank saw the checksums differ */
            break;
        }
        if (!bad_step)
            mc_evaluate(&r.net, &r.test, lead ? o->progress : MC_PROGRESS_OFF, NULL, &test_loss, &test_acc);
        /* Finite training losses can still leave weights or running
         * statistics that overflow in eval mode: such a checkpoint would be
         * refused when loaded, so it is never written. Every rank holds the
         * same sums and weights here, so all stop together. */
        if (bad_step || !isfinite(test_loss) || !state_finite(&r)) {
            char kept[4200];
            if (e > first_epoch)
                snprintf(kept, sizeof kept, "%s keeps epoch %d, the last good one", r.ckpt, e);
            else if (o->resume)
                snprintf(kept, sizeof kept, "%s (epoch %d) is unchanged", o->resume, e);
            else
                snprintf(kept, sizeof kept, "no checkpoint was written");
            char where[128];
            if (bad_step)
                snprintf(where, sizeof where, "the training loss became NaN or infinite at epoch %d, step %d", e + 1,
                         bad_step);
            else
                snprintf(where, sizeof where, "the test loss (eval mode) became NaN or infinite after epoch %d", e + 1);
            if (lead)
                fprintf(stderr, "error: %s (learning rate %.4g): the run diverged; %s; try a lower --lr than %g\n",
                        where, ts->sgd.lr, kept, base_lr);
            rc = MC_TRAIN_STOPPED;
            break;
        }
        train_secs += mc_now() - t0;
        const double secs = mc_now() - t0;
        images += epoch_images(&r);
        ts->epoch++;
        if (!lead) {
            ts->sgd.lr = base_lr;
            continue;
        }
        printf("epoch %d/%lld  lr %.4f  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s  %.0f img/s\n",
               e + 1, (long long)ts->epochs, ts->sgd.lr, train_loss, 100 * train_acc, test_loss, 100 * test_acc, secs,
               epoch_images(&r) / secs);
        fflush(stdout);
        char row[256];
        snprintf(row, sizeof row, "%d,%.6g,%.6f,%.6f,%.6f,%.6f,%.3f", e + 1, ts->sgd.lr, train_loss, train_acc,
                 test_loss, test_acc, secs);
        /* The checkpoint keeps the base rate; each epoch's is derived. */
        ts->sgd.lr = base_lr;
        if (save_epoch(&r, row) != 0)
            rc = MC_TRAIN_FAILED;
        else
            draw_curves(&r);
    }
    if (rc == 0 && images == 0)
        mc_evaluate(&r.net, &r.test, lead ? o->progress : MC_PROGRESS_OFF, NULL, &test_loss, &test_acc);
    mc_dist_sync_bn(0);
    const double secs = mc_now() - start;
    if (rc == 0 && lead) {
        printf("%s (%s): %lld parameters; test accuracy %.2f%% (loss %.4f) after %lld epochs; %.1f s, %.0f images/s; "
               "checkpoint %s",
               m->name, m->conv_type, (long long)m->params, 100 * test_acc, test_loss, (long long)ts->epoch, secs,
               secs > 0 ? images / secs : 0, r.ckpt);
        if (ranks > 1)
            printf("; %d ranks, all-reduce %.1f s (%.1f%% of the training steps)", ranks, mc_dist_seconds(),
                   train_secs > 0 ? 100 * mc_dist_seconds() / train_secs : 0);
        printf("\n");
    }
    run_free(&r);
    return rc;
}
