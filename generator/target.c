/* The target table (see target.h). Tiles: a tile of MR rows x NV vectors
 * keeps MR * NV sums in registers and needs NV loaded vectors and a
 * broadcast beside them, so MR * NV + NV + 1 <= vregs; the rows of a
 * transposed tile hold 4 sums each and load a vector for each row and
 * column. The rows go from the widest to the most portable: the native
 * target is the first this CPU runs. docs/targets.md gives the reasons and
 * the measurements. */
#include "target.h"

#include <string.h>

#include "mc_cpu.h"

static const mc_target targets[] = {
    {
        .name = "avx512", .isa = "avx512", .cflags = "-march=x86-64-v4",
        .requires = "AVX-512 F, BW, DQ and VL (x86-64-v4: Intel Skylake-SP and later, AMD Zen 4 and later)",
        .lanes = 16, .vregs = 32, .l2 = 262144, .l1 = 32768,
        .gemm_mr = 8, .gemm_nv = 2, .gemm_cl_mr = 8, .gemm_cl_nv = 3, .gemm_nt_mr = 4,
        .cl_margin = 1.0,
    },
    {
        .name = "avx2", .isa = "avx2", .cflags = "-march=x86-64-v3",
        .requires = "AVX2 and FMA (x86-64-v3: Intel Haswell and later, AMD Zen and later)",
        .lanes = 8, .vregs = 16, .l2 = 262144, .l1 = 32768,
        .gemm_mr = 6, .gemm_nv = 2, .gemm_cl_mr = 4, .gemm_cl_nv = 3, .gemm_nt_mr = 2,
        .cl_margin = 0.75,
    },
    {
        .name = "neon", .isa = "generic", .cflags = "",
        .requires = "AArch64 with Advanced SIMD (every ARMv8-A CPU: Apple M, Graviton, Ampere, Cortex-A)",
        .lanes = 4, .vregs = 32, .l2 = 262144, .l1 = 32768,
        .gemm_mr = 8, .gemm_nv = 3, .gemm_cl_mr = 8, .gemm_cl_nv = 3, .gemm_nt_mr = 4,
        .cl_margin = 1.0,
    },
    {
        .name = "portable", .isa = "generic", .cflags = "",
        .requires = "any CPU (GNU C vectors of 16 bytes, as gcc and clang lower them)",
        .lanes = 4, .vregs = 16, .l2 = 262144, .l1 = 32768,
        .gemm_mr = 6, .gemm_nv = 2, .gemm_cl_mr = 4, .gemm_cl_nv = 3, .gemm_nt_mr = 2,
        .cl_margin = 1.0,
    },
};

const mc_target *mc_target_native(void)
{
    static const mc_target *native;
    char why[256];
    for (size_t i = 0; !native && i < sizeof targets / sizeof targets[0]; i++)
        if (mc_cpu_runs(targets[i].name, why, sizeof why))
            native = &targets[i];
    return native; /* portable, the last, runs everywhere */
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

const char *mc_target_flags(const char *name)
{
    const mc_target *t = mc_target_find(name);
    return !t ? NULL : strcmp(name, "native") == 0 ? "-march=native" : t->cflags;
}
