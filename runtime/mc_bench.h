/* The classifier's `bench`: every layer's forward and backward on the
 * generated and the generic kernels side by side, and the whole training
 * step on each. */
#ifndef MC_BENCH_H
#define MC_BENCH_H

#include "mc_model.h"

typedef struct mc_bench_options {
    int batch, iters;
    int layers;        /* time every layer, not only the whole step */
    int generated_only; /* skip the generic side (slow), for quick looks */
    int cpu_time;      /* time with the process CPU clock instead of the wall clock */
    const char *json;  /* write the results there too (NULL: not) */
    const char *times; /* with layers: name, forward and backward seconds per layer there (mcgen tune) */
} mc_bench_options;

/* Prints the tables (and writes the JSON); 0, or 1 after printing an error. */
int mc_bench(const mc_model_desc *m, const mc_bench_options *o);

#endif
