/* See mc_finetune.h. */
#include "mc_finetune.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_checkpoint.h"
#include "mc_safetensors.h"

/* A parameter of the layer that makes the logits: what a new class count
 * changes, and what may be absent from a backbone's weights. */
static int is_head(const mc_model_desc *m, const mc_tensor_desc *t)
{
    const mc_layer *out = &m->layers[m->nlayers - 1];
    return t->area == MC_AREA_PARAM && (t->offset == out->weight || (out->bias && t->offset == out->bias_at));
}

static int same_shape(const mc_tensor_desc *t, const mc_st_tensor *st)
{
    if (t->ndim != st->ndim)
        return 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != st->shape[d])
            return 0;
    return 1;
}

/* Appends ", name" to a note (cut with "..." when it grows long). */
static void note_add(char *note, size_t len, const char *name)
{
    const size_t at = strlen(note);
    if (at + strlen(name) + 8 < len)
        snprintf(note + at, len - at, "%s%s", at ? ", " : "", name);
    else if (at >= 3 && at + 5 < len && strcmp(note + at - 3, "...") != 0)
        snprintf(note + at, len - at, ", ...");
}

/* Goes over path's tensors for model m: with net, copies them in and prints
 * the notes; without, only checks. 0, or -1 after printing an error. */
static int overlay(const mc_model_desc *m, const char *path, mc_net *net)
{
    char err[1024];
    mc_st_file *f = mc_st_open(path, err, sizeof err);
    if (!f) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    char fresh[1024] = "", extra[1024] = "";
    int rc = 0, nfresh = 0, nextra = 0;
    for (int i = 0; rc == 0 && i < m->ntensors; i++) {
        const mc_tensor_desc *t = &m->tensors[i];
        const mc_st_tensor *st = mc_checkpoint_find(f, t->name);
        const mc_st_dtype want = t->area == MC_AREA_COUNTER ? MC_ST_I64 : MC_ST_F32;
        if (!st && !is_head(m, t)) {
            fprintf(stderr, "error: %s: tensor '%s' of %s (%s) is missing (weights of another model?)\n", path,
                    t->name, m->name, m->conv_type);
            rc = -1;
        } else if (!st || !same_shape(t, st)) {
            note_add(fresh, sizeof fresh, t->name);
            nfresh++;
        } else if (st->dtype != want) {
            fprintf(stderr, "error: %s: tensor '%s' is %s, expected %s\n", path, t->name, mc_st_dtype_name(st->dtype),
                    mc_st_dtype_name(want));
            rc = -1;
        } else if (mc_checkpoint_check_values(f, t->name, st, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            rc = -1;
        } else if (net) {
            void *to = t->area == MC_AREA_PARAM ? (void *)(net->s.params + t->offset)
                       : t->area == MC_AREA_BUFFER ? (void *)(net->s.buffers + t->offset)
                                                   : (void *)(net->s.counters + t->offset);
            memcpy(to, st->data, st->nbytes);
        }
    }
    for (int i = 0; rc == 0 && i < mc_st_count(f); i++) {
        const char *name = mc_st_at(f, i)->name;
        if (strncmp(name, "optim.", 6) != 0 && !mc_checkpoint_is_model_tensor(m, name)) {
            note_add(extra, sizeof extra, name);
            nextra++;
        }
    }
    if (rc == 0 && net && nfresh)
        fprintf(stderr, "note: %s: %d tensor%s absent or of another shape, initialized afresh (a new head): %s\n",
                path, nfresh, nfresh == 1 ? "" : "s", fresh);
    if (rc == 0 && net && nextra)
        fprintf(stderr, "note: %s: %d tensor%s not in %s, ignored: %s\n", path, nextra, nextra == 1 ? "" : "s",
                m->name, extra);
    mc_st_close(f);
    return rc;
}

/* The parameters that start with prefix: marked in frozen (if not NULL);
 * their count. */
static int match(const mc_model_desc *m, const char *prefix, uint8_t *frozen)
{
    const size_t len = strlen(prefix);
    int hits = 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].area == MC_AREA_PARAM && strncmp(m->tensors[i].name, prefix, len) == 0) {
            hits++;
            if (frozen)
                frozen[i] = 1;
        }
    return hits;
}

int mc_finetune_check(const mc_model_desc *m, const mc_finetune_options *t)
{
    for (int p = 0; p < t->nfreeze; p++)
        if (!match(m, t->freeze[p], NULL)) {
            fprintf(stderr, "error: --freeze %s: no parameter of %s starts with it (they are named as in its "
                            "state_dict, e.g. %s)\n", t->freeze[p], m->name, m->tensors[0].name);
            return -1;
        }
    return t->init ? overlay(m, t->init, NULL) : 0;
}

int mc_finetune_apply(mc_net *net, const mc_finetune_options *t, int fresh)
{
    if (fresh && t->init) {
        mc_net_to_host(net);
        if (overlay(net->m, t->init, net) != 0)
            return -1;
    }
    if (t->nfreeze == 0)
        return 0;
    if (net->device) {
        fprintf(stderr, "error: --freeze runs on the CPU only for now (the device's update has no frozen "
                        "parameters yet)\n");
        return -1;
    }
    free(net->frozen);
    if (!(net->frozen = calloc((size_t)net->m->ntensors, 1))) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    for (int p = 0; p < t->nfreeze; p++)
        match(net->m, t->freeze[p], net->frozen);
    return 0;
}
