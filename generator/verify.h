/* The verify stage (see verify.c): libclang checks the emitted C. */
#ifndef MCGEN_VERIFY_H
#define MCGEN_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

struct arena;

/* Checks the emitted files (names relative to dir) of a planned model;
 * messages name them as in the folder `shown` (where they will go).
 * runtime_include: the folder holding mc_model.h (NULL: the files include
 * nothing of the runtime). */
bool mc_verify(struct arena *a, const mc_plan *p, const char *dir, const char *shown, const char *const *files,
               int nfiles, const char *runtime_include, const char *cpu_flags, char *err, size_t errlen);

#endif
