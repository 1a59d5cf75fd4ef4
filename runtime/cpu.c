/* The CPU check of a classifier (mc_cpu.h). This file is compiled with the
 * runtime's own flags, for any CPU of its architecture, so the check runs
 * before any instruction of the target does. The features are those the
 * targets' -march levels (generator/target.c) let the compiler use. */
#include "mc_cpu.h"

#include <stdio.h>
#include <string.h>

bool mc_cpu_runs(const char *target, char *why, size_t whylen)
{
    if (!target || !strcmp(target, "portable"))
        return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!strcmp(target, "avx512")) {
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            return true;
        snprintf(why, whylen, "this CPU has no AVX-512 (avx512f avx512bw avx512dq avx512vl)");
        return false;
    }
    if (!strcmp(target, "avx2")) {
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return true;
        snprintf(why, whylen, "this CPU has no AVX2 and FMA");
        return false;
    }
    if (!strcmp(target, "neon")) {
        snprintf(why, whylen, "this CPU is x86, not AArch64");
        return false;
    }
#elif defined(__aarch64__)
    if (!strcmp(target, "neon"))
        return true;
    if (!strcmp(target, "avx512") || !strcmp(target, "avx2")) {
        snprintf(why, whylen, "this CPU is AArch64, not x86-64");
        return false;
    }
#else
    if (!strcmp(target, "avx512") || !strcmp(target, "avx2") || !strcmp(target, "neon")) {
        snprintf(why, whylen, "this CPU is neither x86-64 nor AArch64");
        return false;
    }
#endif
    snprintf(why, whylen, "the target is unknown to this runtime");
    return false;
}
