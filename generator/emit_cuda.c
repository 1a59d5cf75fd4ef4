/* The CUDA emitter: the same plan and the same drivers as the C emitter
 * (emit_m4.c) on templates/cuda, writing MODEL_cuda.h (the launchers),
 * MODEL_cuda.cu (one function per layer, the steps and the entry table)
 * and one MODEL_cuda_<template>.cu per kernel family. The model's
 * descriptor is the C target's (MODEL.h, MODEL.c), which the CUDA sources
 * link with. */
#include "emit_m4.h"

#include "arena.h"

/* The layer calls of node i (in execution order) between the template's
 * head and end of a layer function; `bwd` picks the backward calls, in
 * reverse part order. */
static void layer_function(emitter *e, FILE *f, int i, bool bwd)
{
    const mc_node *n = em_node(e, e->m->order[i]);
    const mc_plan_node *pn = &e->p->nodes[e->m->order[i]];
    em_defi(e, "LAYER_INDEX", i);
    fputs(bwd ? "MC_CU_LAYER_BWD()m4_dnl\n" : "MC_CU_LAYER_FWD()m4_dnl\n", f);
    for (int k = 0; k < pn->nkernels; k++) {
        int part = bwd ? pn->nkernels - 1 - k : k;
        em_call_constants(e, n, part);
        fprintf(f, "%s()m4_dnl\n", em_macro(e, n, bwd ? "CALL_BWD" : "CALL_FWD"));
    }
    fputs("MC_CU_LAYER_END()m4_dnl\n", f);
}

static void model_fn(emitter *e, FILE *f, const char *arg)
{
    (void)arg;
    em_driver_begin(e, f, arena_printf(e->a, "model loss %s", em_templates_used(e)));
    fputs("MC_CU_SOURCE_BEGIN()m4_dnl\n", f);
    for (int bwd = 0; bwd < 2; bwd++)
        for (int i = 0; i < e->m->norder; i++)
            layer_function(e, f, i, bwd);
    fputs("MC_CU_ENTRY()m4_dnl\n", f);
}

bool mc_emit_cuda(arena *a, const mc_model *m, const mc_plan *p, const mc_emit_options *opt, mc_staging *st,
                  char *err, size_t errlen)
{
    emitter e = {.a = a, .m = m, .p = p, .opt = opt};
    return em_generate(&e, st, arena_printf(a, "%s_cuda.h", m->name), em_header_fn, NULL, err, errlen) &&
           em_generate(&e, st, arena_printf(a, "%s_cuda.cu", m->name), model_fn, NULL, err, errlen) &&
           em_generate_families(&e, st, "%s_cuda_%s.cu", err, errlen);
}
