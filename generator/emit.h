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
    /* mcgen build: also <model>_main.c, the executable's main. */
    bool main;
    bool generic;          /* the main runs the runtime's generic kernels */
    bool cuda;             /* the main also hands the runtime the CUDA step (--device cuda) */
    const char *build;     /* how it is built (compiler and flags), shown by `info` */
} mc_emit_options;

/* Writes <model>.h, <model>.c and <model>_<template>.c (and, with
 * opt->main, <model>_main.c) into the staging folder. On failure returns false with a one-line message in err. */
bool mc_emit_c(struct arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st,
               char *err, size_t errlen);

/* The inference library (mcgen emit --inference). */
typedef struct mc_infer_options {
    const char *weights; /* --weights CKPT: its parameters in the C (or <model>.bin); NULL: the loader only */
    long long embed_max; /* the most parameter floats written as C arrays; more go to <model>.bin */
} mc_infer_options;

/* Writes <model>.h (the API), <model>_kernels.h, <model>.c and
 * <model>_<template>.c, and with weights <model>_weights.c or <model>.bin,
 * from a plan made with the inference option. */
bool mc_emit_inference(struct arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt,
                       const mc_infer_options *io, mc_staging *st, char *err, size_t errlen);

/* Writes <model>_cuda.h, <model>_cuda.cu and <model>_cuda_<template>.cu
 * (opt->templates: the CUDA templates); they link with the C target's
 * <model>.c, which holds the descriptor. */
bool mc_emit_cuda(struct arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st,
                  char *err, size_t errlen);

#endif
