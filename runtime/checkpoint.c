#include "mc_checkpoint.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_data.h"
#include "mc_safetensors.h"

static const char optim_prefix[] = "optim.";

/* The optimizer's per-parameter buffers: their prefixes and the net's
 * areas that hold them (SGD: the momentum; AdamW: first and second
 * moments, in net->momentum and net->second). Returns how many. */
static int moment_buffers(const mc_train_state *ts, mc_net *net, const char **prefixes, float **areas)
{
    if (ts->sgd.kind == MC_OPT_ADAMW) {
        prefixes[0] = "optim.exp_avg.", prefixes[1] = "optim.exp_avg_sq.";
        areas[0] = net->momentum, areas[1] = net->second;
        return 2;
    }
    prefixes[0] = "optim.momentum.", areas[0] = net->momentum;
    return 1;
}

static int tensor_shape(const mc_tensor_desc *t, int64_t *shape)
{
    for (int d = 0; d < t->ndim; d++)
        shape[d] = t->shape[d];
    return t->ndim;
}

static const void *tensor_data(const mc_net *net, const mc_tensor_desc *t)
{
    switch (t->area) {
    case MC_AREA_PARAM: return net->s.params + t->offset;
    case MC_AREA_BUFFER: return net->s.buffers + t->offset;
    case MC_AREA_COUNTER: return net->s.counters + t->offset;
    }
    return NULL;
}

int mc_checkpoint_save(const char *path, mc_net *net, const mc_train_state *ts, char *err, size_t errlen)
{
    mc_net_to_host(net);
    const mc_model_desc *m = net->m;
    mc_st_writer *w = mc_st_writer_new(); /* it reports its own failures at mc_st_write */
    int64_t shape[4];
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        const int ndim = tensor_shape(t, shape);
        mc_st_add(w, t->name, t->area == MC_AREA_COUNTER ? MC_ST_I64 : MC_ST_F32, ndim, shape, tensor_data(net, t));
    }
    char info[64];
    mc_st_add_metadata(w, "model", m->name);
    mc_st_add_metadata(w, "conv_type", m->conv_type);
    snprintf(info, sizeof info, "%dx%dx%d", m->c, m->h, m->w);
    mc_st_add_metadata(w, "input", info);
    snprintf(info, sizeof info, "%d", m->classes);
    mc_st_add_metadata(w, "classes", info);
    /* Scalars of the training state, as one I64 vector; the generator
     * state is its raw 64-bit words. */
    int64_t state[5];
    const int64_t state_shape[1] = {5}, rng_shape[1] = {4};
    double hyper[3], settings[3];
    const int64_t hyper_shape[1] = {3};
    const char *prefixes[2];
    float *areas[2];
    for (int b = 0, nb = ts ? moment_buffers(ts, net, prefixes, areas) : 0; b < nb; b++)
        for (int i = 0; i < m->ntensors; i++) {
            const mc_tensor_desc *t = &m->tensors[i];
            if (t->area != MC_AREA_PARAM || !t->updated)
                continue;
            char name[512];
            snprintf(name, sizeof name, "%s%s", prefixes[b], t->name);
            const int ndim = tensor_shape(t, shape);
            mc_st_add(w, name, MC_ST_F32, ndim, shape, areas[b] + t->offset);
        }
    if (ts) {
        state[0] = ts->epoch, state[1] = ts->epochs, state[2] = ts->batch, state[3] = ts->seed;
        state[4] = ts->sgd.steps;
        hyper[0] = ts->sgd.lr, hyper[1] = ts->sgd.momentum, hyper[2] = ts->sgd.weight_decay;
        mc_st_add(w, "optim.state", MC_ST_I64, 1, state_shape, state);
        mc_st_add(w, "optim.hyper", MC_ST_F64, 1, hyper_shape, hyper);
        settings[0] = (double)ts->limit, settings[1] = (double)ts->warmup, settings[2] = ts->label_smoothing;
        mc_st_add(w, "optim.settings", MC_ST_F64, 1, hyper_shape, settings);
        mc_st_add_metadata(w, "optimizer", mc_optimizer_name(ts->sgd.kind));
        mc_st_add(w, "optim.rng", MC_ST_I64, 1, rng_shape, ts->rng.s);
        mc_st_add_metadata(w, "dataset", ts->dataset);
        if (ts->info)
            mc_data_add_metadata(w, ts->info);
    }
    int rc = mc_st_write(w, path, err, errlen);
    mc_st_writer_free(w);
    return rc;
}

const mc_st_tensor *mc_checkpoint_find(const mc_st_file *f, const char *name)
{
    const mc_st_tensor *t = mc_st_find(f, name);
    if (t)
        return t;
    char prefixed[512];
    snprintf(prefixed, sizeof prefixed, "module.%s", name);
    return mc_st_find(f, prefixed);
}

static void shape_text(char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* t must have this dtype and shape; else a message. */
static int check(const mc_st_file *f, const mc_st_tensor *t, const char *name, mc_st_dtype dtype, int ndim,
                 const int64_t *shape, char *err, size_t errlen)
{
    int same = t->dtype == dtype && t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (same)
        return 0;
    char want[128], got[128];
    shape_text(want, sizeof want, ndim, shape);
    shape_text(got, sizeof got, t->ndim, t->shape);
    snprintf(err, errlen, "%s: tensor '%s' is %s %s, the model expects %s %s", mc_st_path(f), name,
             mc_st_dtype_name(t->dtype), got, mc_st_dtype_name(dtype), want);
    return -1;
}

int mc_checkpoint_is_model_tensor(const mc_model_desc *m, const char *name)
{
    if (strncmp(name, "module.", 7) == 0)
        name += 7;
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return 1;
    return 0;
}

/* See mc_checkpoint.h. Loaded values the net can run on: finite floats (a NaN weight makes
 * every logit NaN), a running variance that is not negative (its square
 * root is taken), counters that are not negative. 0, or -1 with a message
 * naming the tensor, the element and the file. */
int mc_checkpoint_check_values(const mc_st_file *f, const char *name, const mc_st_tensor *st, char *err,
                               size_t errlen)
{
    const size_t len = strlen(name), n = st->nbytes / (st->dtype == MC_ST_I64 ? 8 : 4);
    if (st->dtype == MC_ST_I64) {
        const int64_t *v = st->data;
        for (size_t i = 0; i < n; i++)
            if (v[i] < 0) {
                snprintf(err, errlen, "%s: tensor '%s' holds %" PRId64 " at element %zu, expected a count >= 0",
                         mc_st_path(f), name, v[i], i);
                return -1;
            }
        return 0;
    }
    const int variance = len >= 11 && strcmp(name + len - 11, "running_var") == 0;
    const float *v = st->data;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (variance && v[i] < 0)) {
            snprintf(err, errlen, "%s: tensor '%s' holds %g at element %zu, expected %s", mc_st_path(f), name,
                     (double)v[i], i, variance ? "a finite variance >= 0" : "a finite number");
            return -1;
        }
    return 0;
}

static int load_model_tensors(const mc_st_file *f, mc_net *net, char *err, size_t errlen)
{
    const mc_model_desc *m = net->m;
    for (int i = 0; i < mc_st_count(f); i++) {
        const char *name = mc_st_at(f, i)->name;
        if (strncmp(name, optim_prefix, sizeof optim_prefix - 1) != 0 && !mc_checkpoint_is_model_tensor(m, name)) {
            snprintf(err, errlen, "%s: tensor '%s' is not in %s (%s)", mc_st_path(f), name, m->name, m->conv_type);
            return -1;
        }
    }
    int64_t shape[4];
    for (int i = 0; i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        const mc_st_tensor *st = mc_checkpoint_find(f, t->name);
        if (!st) {
            snprintf(err, errlen, "%s: tensor '%s' of %s (%s) is missing", mc_st_path(f), t->name, m->name,
                     m->conv_type);
            return -1;
        }
        const int counter = t->area == MC_AREA_COUNTER;
        const int ndim = tensor_shape(t, shape);
        if (check(f, st, t->name, counter ? MC_ST_I64 : MC_ST_F32, ndim, shape, err, errlen) ||
            mc_checkpoint_check_values(f, t->name, st, err, errlen))
            return -1;
        memcpy((void *)tensor_data(net, t), st->data, st->nbytes);
    }
    return 0;
}

/* The training state within what `train` accepts on its command line (a
 * batch of 2^31 or a NaN rate would otherwise run, or fail far from here).
 * 0, or -1 with a message naming the value and the file. */
static int check_state(const mc_st_file *f, const int64_t *s, const double *h, const int64_t *rng, char *err,
                       size_t errlen)
{
    static const struct {
        const char *name;
        int64_t lo, hi;
    } ints[5] = {{"epoch", 0, 100000}, {"epochs", 1, 100000}, {"batch", 1, 65536}, {"seed", INT64_MIN, INT64_MAX},
                 {"steps", 0, INT64_MAX}};
    for (int i = 0; i < 5; i++)
        if (s[i] < ints[i].lo || s[i] > ints[i].hi) {
            snprintf(err, errlen, "%s: optim.state: %s is %" PRId64 ", expected %" PRId64 " to %" PRId64,
                     mc_st_path(f), ints[i].name, s[i], ints[i].lo, ints[i].hi);
            return -1;
        }
    if (s[0] > s[1]) {
        snprintf(err, errlen, "%s: optim.state: epoch %" PRId64 " is past the run's %" PRId64 " epochs",
                 mc_st_path(f), s[0], s[1]);
        return -1;
    }
    static const struct {
        const char *name;
        double lo, hi;
        int hi_open;
    } reals[3] = {{"learning rate", 0, 100, 0}, {"momentum", 0, 1, 1}, {"weight decay", 0, 1, 0}};
    for (int i = 0; i < 3; i++)
        if (!(h[i] >= reals[i].lo && (reals[i].hi_open ? h[i] < reals[i].hi : h[i] <= reals[i].hi))) {
            snprintf(err, errlen, "%s: optim.hyper: %s is %g, expected a number from %g to %g%s", mc_st_path(f),
                     reals[i].name, h[i], reals[i].lo, reals[i].hi, reals[i].hi_open ? " (not included)" : "");
            return -1;
        }
    if (!(rng[0] | rng[1] | rng[2] | rng[3])) { /* xoshiro's one dead state: it would draw zeros forever */
        snprintf(err, errlen, "%s: optim.rng: all zero, not a generator state", mc_st_path(f));
        return -1;
    }
    return 0;
}

/* What a run was started with beyond optim.state and optim.hyper (older
 * checkpoints have none of it: SGD, all images, no warmup or smoothing). */
static int read_settings(const mc_st_file *f, mc_train_state *ts, char *err, size_t errlen)
{
    const char *kind = mc_st_metadata(f, "optimizer");
    const int k = kind ? mc_optimizer_named(kind) : MC_OPT_SGD;
    if (k < 0) {
        snprintf(err, errlen, "%s: optimizer '%s' is not sgd or adamw", mc_st_path(f), kind);
        return -1;
    }
    ts->sgd.kind = (mc_optimizer)k;
    const mc_st_tensor *t = mc_st_find(f, "optim.settings");
    const int64_t shape[1] = {3};
    ts->limit = ts->warmup = 0, ts->label_smoothing = 0;
    if (!t)
        return 0;
    if (check(f, t, "optim.settings", MC_ST_F64, 1, shape, err, errlen))
        return -1;
    const double *v = t->data;
    if (!(v[0] >= 0 && v[0] <= 9e15 && v[0] == floor(v[0])) || !(v[1] >= 0 && v[1] < (double)ts->epochs) ||
        v[1] != floor(v[1]) || !(v[2] >= 0 && v[2] < 1)) {
        snprintf(err, errlen, "%s: optim.settings: limit %g, warmup %g, label smoothing %g: expected a count >= 0, "
                 "a count of epochs below the run's %lld and a number from 0 to 1 (not included)", mc_st_path(f),
                 v[0], v[1], v[2], (long long)ts->epochs);
        return -1;
    }
    ts->limit = (int64_t)v[0], ts->warmup = (int64_t)v[1], ts->label_smoothing = v[2];
    return 0;
}

/* The training state's scalars and generator, without the momentum. */
static int read_scalars(const mc_st_file *f, mc_train_state *ts, char *err, size_t errlen)
{
    const int64_t state_shape[1] = {5}, hyper_shape[1] = {3}, rng_shape[1] = {4};
    const mc_st_tensor *state = mc_st_find(f, "optim.state"), *hyper = mc_st_find(f, "optim.hyper"),
                       *rng = mc_st_find(f, "optim.rng");
    if (!state || !hyper || !rng) {
        snprintf(err, errlen, "%s: no training state (optim.state, optim.hyper, optim.rng): not a checkpoint of a "
                 "training run", mc_st_path(f));
        return -1;
    }
    if (check(f, state, "optim.state", MC_ST_I64, 1, state_shape, err, errlen) ||
        check(f, hyper, "optim.hyper", MC_ST_F64, 1, hyper_shape, err, errlen) ||
        check(f, rng, "optim.rng", MC_ST_I64, 1, rng_shape, err, errlen))
        return -1;
    const int64_t *s = state->data;
    const double *h = hyper->data;
    if (check_state(f, s, h, rng->data, err, errlen))
        return -1;
    ts->epoch = s[0], ts->epochs = s[1], ts->batch = s[2], ts->seed = s[3], ts->sgd.steps = s[4];
    ts->sgd.lr = h[0], ts->sgd.momentum = h[1], ts->sgd.weight_decay = h[2];
    if (read_settings(f, ts, err, errlen) != 0)
        return -1;
    memcpy(ts->rng.s, rng->data, sizeof ts->rng.s);
    const char *ds = mc_st_metadata(f, "dataset");
    snprintf(ts->dataset, sizeof ts->dataset, "%s", ds ? ds : "");
    return 0;
}

static int load_momentum(const mc_st_file *f, const mc_train_state *ts, mc_net *net, char *err, size_t errlen)
{
    const mc_model_desc *m = net->m;
    int64_t shape[4];
    char name[512];
    const char *prefixes[2];
    float *areas[2];
    for (int b = 0, nb = moment_buffers(ts, net, prefixes, areas); b < nb; b++)
        for (int i = 0; i < m->ntensors; i++) {
            const mc_tensor_desc *t = &m->tensors[i];
            if (t->area != MC_AREA_PARAM || !t->updated)
                continue;
            snprintf(name, sizeof name, "%s%s", prefixes[b], t->name);
            const mc_st_tensor *st = mc_st_find(f, name);
            if (!st) {
                snprintf(err, errlen, "%s: %s state '%s' is missing", mc_st_path(f), mc_optimizer_name(ts->sgd.kind),
                         name);
                return -1;
            }
            const int ndim = tensor_shape(t, shape);
            if (check(f, st, name, MC_ST_F32, ndim, shape, err, errlen) || mc_checkpoint_check_values(f, name, st, err, errlen))
                return -1;
            memcpy(areas[b] + t->offset, st->data, st->nbytes);
        }
    return 0;
}

int mc_checkpoint_read_state(const char *path, mc_train_state *ts, char *err, size_t errlen)
{
    mc_st_file *f = mc_st_open(path, err, errlen);
    if (!f)
        return -1;
    int rc = read_scalars(f, ts, err, errlen);
    mc_st_close(f);
    return rc;
}

int mc_checkpoint_load(const char *path, mc_net *net, mc_train_state *ts, char *err, size_t errlen)
{
    mc_net_to_host(net); /* the file overwrites the host areas, which then hold the truth */
    mc_st_file *f = mc_st_open(path, err, errlen);
    if (!f)
        return -1;
    int rc = load_model_tensors(f, net, err, errlen);
    if (rc == 0 && ts)
        rc = read_scalars(f, ts, err, errlen) || load_momentum(f, ts, net, err, errlen) ? -1 : 0;
    mc_st_close(f);
    return rc;
}
