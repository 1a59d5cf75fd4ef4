/* mcgen tune: where the planner's rules cannot know the fastest form of a
 * kernel, measure. Each conv and depthwise layer has a few candidate forms
 * (plan.h, mc_plan_form_candidates); build v of the model gives every
 * layer its candidate v (its rules' form when it has fewer), so a handful
 * of builds measures every candidate of every layer. Each build is checked
 * against the generic kernels (EXE check) before it is timed (EXE bench
 * --layers --times). A layer's cost counts the layers its form decides
 * fusions with (the batch norm after it, one folded into it): its form
 * moves their work too. The choices go to a text file that `mcgen
 * emit/build --tune FILE` reads back, refused when it does not match the
 * model, the target or this CPU. */
#ifndef MCGEN_TUNE_H
#define MCGEN_TUNE_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

struct arena;

typedef struct mc_tune_layer {
    int node;
    mc_form cand[MC_FORM_CANDIDATES];
    int ncand;
    double cost[MC_FORM_CANDIDATES]; /* seconds, forward and backward with its neighbours; < 0: not measured */
    int best;
} mc_tune_layer;

typedef struct mc_tuning {
    const mc_plan *rules;
    mc_tune_layer *layers;
    int nlayers;
    int nbuilds; /* the most candidates of any layer */
} mc_tuning;

mc_tuning *mc_tune_begin(struct arena *a, const mc_plan *rules);

/* The forms of build v: every layer's candidate v, or its rules' form. */
const mc_tuned_form *mc_tune_build_forms(struct arena *a, const mc_tuning *t, int v, int *n);

/* Reads build v's times (EXE bench --times FILE). false after an error. */
bool mc_tune_record(struct arena *a, mc_tuning *t, int v, const char *times, char *err, size_t errlen);

/* Each layer's cheapest measured candidate, as forms for the plan. */
const mc_tuned_form *mc_tune_choose(struct arena *a, mc_tuning *t, int *n);

/* Writes the choices; note is a comment line for the header (the gain). */
bool mc_tune_write(const mc_tuning *t, const char *path, const char *note, int threads, int batch, char *err,
                   size_t errlen);

/* Reads a tune file for the model and target of `rules`: the forms it
 * names, checked against the model (every tunable layer present, with its
 * geometry), the target, this CPU and the forms each layer can take. NULL
 * after an error naming the file, the line and the layer. */
const mc_tuned_form *mc_tune_read(struct arena *a, const char *path, const mc_plan *rules, int *n, char *err,
                                  size_t errlen);

#endif
