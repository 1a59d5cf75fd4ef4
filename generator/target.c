/* The target table (see target.h). Tiles: a tile of MR rows x NV vectors
 * keeps MR * NV sums in registers and needs NV loaded vectors and a
 * broadcast beside them, so MR * NV + NV + 1 <= vregs; the rows of a
 * transposed tile hold 4 sums each and load a vector for each row and
 * column. docs/targets.md gives the reasons and the measurements. */
#include "target.h"

#include <string.h>

static const mc_target targets[] = {
    {
        .name = "avx512", .isa = "avx512", .arch = "x86_64", .cflags = "-march=x86-64-v4",
        .requires = "AVX-512 F, BW, DQ and VL (x86-64-v4: Intel Skylake-SP and later, AMD Zen 4 and later)",
        .lanes = 16, .vregs = 32, .l2 = 262144,
        .gemm_mr = 8, .gemm_nv = 2, .gemm_cl_mr = 8, .gemm_cl_nv = 3, .gemm_nt_mr = 4,
    },
    {
        .name = "avx2", .isa = "avx2", .arch = "x86_64", .cflags = "-march=x86-64-v3",
        .requires = "AVX2 and FMA (x86-64-v3: Intel Haswell and later, AMD Zen and later)",
        .lanes = 8, .vregs = 16, .l2 = 262144,
        .gemm_mr = 6, .gemm_nv = 2, .gemm_cl_mr = 4, .gemm_cl_nv = 3, .gemm_nt_mr = 2,
    },
    {
        .name = "neon", .isa = "generic", .arch = "aarch64", .cflags = "",
        .requires = "AArch64 with Advanced SIMD (every ARMv8-A CPU: Apple M, Graviton, Ampere, Cortex-A)",
        .lanes = 4, .vregs = 32, .l2 = 262144,
        .gemm_mr = 8, .gemm_nv = 3, .gemm_cl_mr = 8, .gemm_cl_nv = 3, .gemm_nt_mr = 4,
    },
    {
        .name = "portable", .isa = "generic", .arch = "any", .cflags = "",
        .requires = "any CPU (GNU C vectors of 16 bytes, as gcc and clang lower them)",
        .lanes = 4, .vregs = 16, .l2 = 262144,
        .gemm_mr = 6, .gemm_nv = 2, .gemm_cl_mr = 4, .gemm_cl_nv = 3, .gemm_nt_mr = 2,
    },
};

const mc_target *mc_target_native(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return &targets[0];
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &targets[1];
    return &targets[3];
#elif defined(__aarch64__)
    return &targets[2];
#else
    return &targets[3];
#endif
}

const mc_target *mc_target_find(const char *name)
{
    if (strcmp(name, "native") == 0)
        return mc_target_native();
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

const mc_target *mc_target_at(int i)
{
    return i >= 0 && (size_t)i < sizeof targets / sizeof targets[0] ? &targets[i] : NULL;
}
