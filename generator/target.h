/* The CPU targets of the C templates: one row per target, holding what the
 * planner and the templates need to know of the machine (vector lanes and
 * registers, the intrinsics of its row tails, its L2 budget, product tiles). The plan
 * reads it to choose each kernel's form; emit_m4.c hands it to the
 * templates as constants (VL, GEMM_MR, ...), so no template writes a lane
 * count, a register count or a cache budget of its own. docs/targets.md
 * shows the table and how to add a row. */
#ifndef MCGEN_TARGET_H
#define MCGEN_TARGET_H

#include <stdbool.h>

typedef struct mc_target {
    const char *name;     /* --cpu NAME: avx512, avx2, neon, portable */
    const char *isa;      /* the intrinsics of the templates' prelude: avx512, avx2 (both with masked loads
                           * and stores for a row's tail) or generic (lane loops) */
    const char *cflags;   /* the compiler flags that enable it (mcgen build puts them before MCGEN_CFLAGS) */
    const char *requires; /* in words, for errors and docs: what a CPU must have to run it */
    int lanes;            /* floats in a vector (VL): the channels-last forms take channels in groups of these */
    int vregs;            /* vector registers: the product tiles keep their sums in them */
    long l2;              /* bytes of L2 a thread's scratch may fill (the channels-last images and scratch) */
    long l1;              /* bytes of L1 data cache a block of products may fill (the Winograd blocks) */
    /* Product tiles (templates/c/gemm.m4), chosen so that the sums, the
     * loaded vectors and a broadcast fit the registers. */
    int gemm_mr, gemm_nv; /* plain and tap products, channels-last forward: rows x vectors of columns */
    int gemm_cl_mr, gemm_cl_nv; /* channels-last filter gradient: rows x vectors */
    int gemm_nt_mr;       /* transposed product: rows (x 4 columns) */
    /* A conv whose channels fill no whole vectors takes the channels-last
     * forms, its channels padded, where they keep at least this share of
     * the useful lanes the planar forms keep (plan.c, conv_rules): below 1
     * where this target's channels-last products run that much faster per
     * useful lane (avx2's 16 registers leave its planar tiles small). */
    double cl_margin;
} mc_target;

/* The bytes of the activation bits of one vector (an mc_bits word of the
 * templates: plan.c lays the masks out in them). */
static inline int mc_target_bits_bytes(const mc_target *t) { return (t->lanes + 7) / 8; }

/* What --cpu takes, for usage lines and errors. */
#define MC_TARGET_NAMES "native, avx512, avx2, neon or portable"

/* The target named (avx512, avx2, neon, portable), or "native": the best
 * one this machine's CPU runs. NULL for an unknown name. */
const mc_target *mc_target_find(const char *name);

/* The best target the CPU that runs mcgen supports: the first row of the
 * table that it runs (runtime/cpu.c decides, as the classifiers do). */
const mc_target *mc_target_native(void);

/* The compiler flags of --cpu name: -march=native for "native" (tuned for
 * this machine too), else the target's own. NULL for an unknown name. */
const char *mc_target_flags(const char *name);

/* The i-th row of the table (i from 0), NULL past the last. */
const mc_target *mc_target_at(int i);

#endif
