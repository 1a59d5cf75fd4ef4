/* The emitters: write a planned model's sources (see emit_c.c). */
#ifndef MCGEN_EMIT_H
#define MCGEN_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "graph.h"
#include "plan.h"
#include "run.h"

struct arena;

typedef struct mc_emit_options {
    const char *source;    /* the description's path, as given, for the files' first lines */
    const char *m4;        /* the m4 program */
    const char *templates; /* the target's template folder, e.g. <share>/templates/c */
} mc_emit_options;

/* Writes <model>.h, <model>.c and <model>_<template>.c into the staging
 * folder. On failure returns false with a one-line message in err. */
bool mc_emit_c(struct arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st,
               char *err, size_t errlen);

#endif
