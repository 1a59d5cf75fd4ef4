/* What a classifier asks of the CPU it runs on. Whether it runs the kernels
 * of a CPU target (mcgen --cpu): an executable built for AVX-512 on a CPU
 * without it would die of SIGILL at its first kernel, so the classifier
 * checks first and says why; and how many threads it should take. */
#ifndef MC_CPU_H
#define MC_CPU_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* True when this CPU has what `target` (avx512, avx2, neon, portable; NULL
 * for any) needs. Else false, with why a phrase naming the CPU and what it
 * lacks, as "this CPU (Intel Core i7-8650U) has no AVX-512 (avx512f
 * avx512bw avx512dq avx512vl)". */
bool mc_cpu_runs(const char *target, char *why, size_t whylen);

/* This CPU as /proc/cpuinfo names it, with its family and model numbers
 * where it has them ("AMD EPYC, family 25 model 17": the model name alone
 * is the same for several generations), else "unknown". */
const char *mc_cpu_name(void);

/* The processors this process may run on (its affinity mask) that no other
 * process keeps busy: their busy time over 100 ms of /proc/stat less this
 * process's own, in processors' worth (rounded) left out; at least 1. The kernels
 * split their work evenly over their threads, so a thread sharing a core
 * with another process holds every other one up: on 2 cores with one
 * busy, 2 threads ran the resnet20 step slower than 1 (docs/targets.md). */
int mc_cpu_free_count(void);

#ifdef __cplusplus
}
#endif

#endif
