/* Whether this CPU runs the kernels of a CPU target (mcgen --cpu): an
 * executable built for AVX-512 on a CPU without it would die of SIGILL at
 * its first kernel; the classifier checks first and says why. */
#ifndef MC_CPU_H
#define MC_CPU_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when this CPU has what `target` (avx512, avx2, neon, portable; NULL
 * for any) needs. Else false, with why a phrase naming what it lacks, as
 * "this CPU has no AVX-512 (avx512f avx512bw avx512dq avx512vl)". */
bool mc_cpu_runs(const char *target, char *why, size_t whylen);

#ifdef __cplusplus
}
#endif

#endif
