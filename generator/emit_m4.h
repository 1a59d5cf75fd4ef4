/* What the C and CUDA emitters share (emit_m4.c): writing m4 drivers, the
 * constants of a kernel and of a layer call, the model's header, one kernel
 * file per template family, and running m4 on a driver. Each emitter adds
 * only the drivers that differ (emit_c.c, emit_cuda.c); both read the
 * same plan and the same templates' macro names (MC_<OP>_KERNEL ...). */
#ifndef MCGEN_EMIT_M4_H
#define MCGEN_EMIT_M4_H

#include <stdbool.h>
#include <stdio.h>

#include "emit.h"

struct arena;

typedef struct emitter {
    struct arena *a;
    const mc_model *m;
    const mc_plan *p;
    const mc_emit_options *opt;
    FILE *f; /* the m4 driver being written */
    const char *model_tmpl; /* the template of the model files: "model" (the training step, NULL) or "infer" */
    void (*more_constants)(struct emitter *e); /* the model constants of that template, if any (every driver) */
} emitter;

/* m4_define(`name', `value') lines; integers, and floats as C literals. */
void em_def(emitter *e, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void em_defi(emitter *e, const char *name, long long v);
void em_deff(emitter *e, const char *name, double v);

/* MC_<OP>_<what>: a template's macro for node n's op. */
const char *em_macro(emitter *e, const mc_node *n, const char *what);
const mc_node *em_node(const emitter *e, int i);
mc_shape em_in_shape(const emitter *e, const mc_node *n, int i);
long long em_tensor_offset(const emitter *e, const mc_node *n, int i);

/* The constants a template reads for one kernel, and for one layer's call
 * (part `part` of an unfused Multiception). */
void em_kernel_constants(emitter *e, const mc_kernel *k);
void em_call_constants(emitter *e, const mc_node *n, int part);

/* Starts a driver: includes common.m4 and the templates named (space
 * separated), then defines the model's constants. */
void em_driver_begin(emitter *e, FILE *f, const char *templates_needed);
/* The template families the model needs, each once: "depthwise conv ...". */
const char *em_templates_used(emitter *e);

typedef void (*em_driver_fn)(emitter *e, FILE *f, const char *arg);

/* Drivers both targets write: the header (prototypes of every kernel), and
 * the kernels of one family (arg: the family). */
void em_header_fn(emitter *e, FILE *f, const char *arg);
void em_kernels_fn(emitter *e, FILE *f, const char *arg);

/* Writes one driver with fn, runs m4 on it into `out` in the staging folder. */
bool em_generate(emitter *e, mc_staging *st, const char *out, em_driver_fn fn, const char *arg, char *err,
                 size_t errlen);
/* One kernel file per family, named by printf(name_fmt, model, family). */
bool em_generate_families(emitter *e, mc_staging *st, const char *name_fmt, char *err, size_t errlen);

#endif
