m4_divert(-1)
# Shared macros of the CUDA templates, on top of those of the C templates
# (the unrolled taps, loops and area pointers of ../c/common.m4, read
# here so that both targets write the same tap expressions).
m4_define(`MC_TARGET', `cuda')
m4_include(`../c/common.m4')m4_divert(-1)

# Threads of a block, and the elements of a block in the element-wise kernels.
m4_define(`CU_THREADS', 256)

# CU_BODY(fn, params): the head of the block body fn_body, which does
# one block of a launch with threads tid of nthreads (see mc_cuda.h).
m4_define(`CU_BODY',
`MC_CU_HD static inline void $1_body(long block, int tid, int nthreads, float *shm, $2)')

# CU_KERNEL(fn, params, args): the kernel fn_kernel, which only hands its
# block and thread to fn_body.
m4_define(`CU_KERNEL',
`static __global__ void __launch_bounds__(CU_THREADS) $1_kernel($2)
{
    extern __shared__ float mc_shm[];
    $1_body(blockIdx.x, threadIdx.x, blockDim.x, mc_shm, $3);
}
')

# CU_RUN(fn, blocks, shared bytes, args): launch fn, or emulate it (the
# launcher has a host flag).
m4_define(`CU_RUN', `MC_CU_RUN(host, $1_kernel, $1_body, $2, CU_THREADS, $3, $4)')

# CU_MAP(fn, count, params, args, statements): a kernel running the
# statements for every i in [0, count), a long (count may use n, which
# must then be a parameter); a block takes CU_THREADS consecutive i.
m4_define(`CU_MAP',
`CU_BODY(`$1', `$3')
{
    (void)shm;
    const long first = block * CU_THREADS, last = first + CU_THREADS < ($2) ? first + CU_THREADS : ($2);
    for (long i = first + tid; i < last; i += nthreads) {
$5    }
}

CU_KERNEL(`$1', `$3', `$4')')
m4_define(`CU_MAP_RUN', `CU_RUN(`$1', (($2) + CU_THREADS - 1) / CU_THREADS, 0, `$3')')

# CU_IMAGE_SUM(fn, count): a kernel adding count floats of per-image
# partial gradients (n of them, count apart) into a gradient, in image
# order (the same bits every run; no atomics).
m4_define(`CU_IMAGE_SUM',
`CU_MAP($1, $2L, `int n, const float *part, float *grad', `n, part, grad',
`        double s = 0;
        for (int b = 0; b < n; b++)
            s += part[(long)b * $2 + i];
        grad[i] += (float)s;
')')

# Sums over the batch per channel, split into parts: a channel's n x plane
# elements are split into ranges (CU_PARTS: how many), a block each, so
# that the blocks fill the GPU (a block per channel leaves 116 of an
# H100's 132 multiprocessors idle at 16 channels). Each block writes its
# range's double sums to part (mc_cuda_sums); whoever needs a channel's
# total adds its parts in order (mc_cu_parts_total): the same bits every
# run, no atomics. At least 264 blocks: two per multiprocessor of an H100.
m4_define(`CU_PARTS', `m4_eval((264 + $1 - 1) / $1)')
# CU_CHANNEL_AT(i, stride, plane): element i of channel c over the batch
# (images stride channels of plane floats apart).
m4_define(`CU_CHANNEL_AT', `(((long)($1) / $3 * $2 + c) * $3 + ($1) % $3)')

# CU_PART_BODY(fn, params, args, statements, sums, preamble, channels,
# plane): the kernel fn summing the statements' values (into s0 and, with
# 2 sums, s1) over its block's range (c, m = n x plane and i in scope,
# after the preamble) into part[block * sums + j]. Launched by
# CU_PART_RUN(fn, channels, args).
m4_define(`CU_PART_BODY',
`CU_BODY($1, `int n, $2, double *part')
{
    const int c = (int)(block / CU_PARTS($7)), s = (int)(block % CU_PARTS($7));
    const long m = (long)n * $8, lo = m * s / CU_PARTS($7), hi = m * (s + 1) / CU_PARTS($7);
    double m4_ifelse($5, 2, `s0 = 0, s1 = 0', `s0 = 0');
$6m4_dnl
    for (long i = lo + tid; i < hi; i += nthreads) {
$4    }
    s0 = mc_cu_block_sum(s0, (double *)shm, tid, nthreads);
m4_ifelse($5, 2, `    s1 = mc_cu_block_sum(s1, (double *)shm, tid, nthreads);
')m4_dnl
    if (tid == 0) {
        part[block * $5] = s0;
m4_ifelse($5, 2, `        part[block * $5 + 1] = s1;
')m4_dnl
    }
}

CU_KERNEL($1, `int n, $2, double *part', `n, $3, part')')
m4_define(`CU_PART_RUN', `CU_RUN(`$1', m4_eval($2 * CU_PARTS($2)), CU_THREADS / 32 * sizeof(double), `$3')')

# CU_BIAS_SUM(fn, channels, stride, plane): fn_part and fn, adding to g[c]
# the sum of channel c's planes of dy over the batch; CU_BIAS_SUM_RUN(fn,
# channels, g) runs them (n and dy in scope).
m4_define(`CU_BIAS_SUM',
`CU_PART_BODY($1_part, `const float *dy', `dy', `        s0 += dy[CU_CHANNEL_AT(i, $3, $4)];
', 1, `', $2, $4)
CU_MAP($1, (long)$2, `const double *part, float *g', `part, g',
`        g[i] += (float)mc_cu_parts_total(part, (int)i, CU_PARTS($2), 1, 0);
')')
m4_define(`CU_BIAS_SUM_RUN',
`    {
        double *bias_parts = mc_cuda_sums(host, m4_eval($2 * CU_PARTS($2)));
        CU_PART_RUN($1_part, $2, `n, dy, bias_parts');
        CU_MAP_RUN($1, (long)$2, `bias_parts, $3');
    }')

# CU_GATHER(K, P, S, HO, WO, term): the transpose of a K x K window read
# with padding P and stride S, at input position (iy, ix): for every tap
# whose window covers it, term with MC_T (the tap) and oy, ox (the output
# position, inside HO x WO). Taps unrolled, bounds tested.
m4_define(`CU_GATHER',
`MC_FOR(`ky', 0, m4_eval($1 - 1), `    {
        const int ry = iy + m4_eval($2 - ky);
        if (ry >= 0 && ry < m4_eval($4 * $3)m4_ifelse($3, 1, `', ` && ry % $3 == 0')) {
            const int oy = ry / $3;
MC_FOR(`kx', 0, m4_eval($1 - 1), `m4_pushdef(`MC_T', m4_eval(ky * $1 + kx))m4_dnl
            { const int rx = ix + m4_eval($2 - kx); if (rx >= 0 && rx < m4_eval($5 * $3)m4_ifelse($3, 1, `', ` && rx % $3 == 0')) { const int ox = rx / $3; $6 } }
m4_popdef(`MC_T')')m4_dnl
        }
    }
')')

# A batch norm or add that does the activation after it (FUSED relu or
# relu6, plan.c; none without), as the C templates: MC_FUSED_OUT(v), one
# result v as written; MC_FUSED_PASSES(y), whether the output y let the
# output gradient through.
m4_define(`MC_FUSED_OUT', `m4_ifelse(FUSED, relu, `($1 < 0 ? 0.0f : $1)', FUSED, relu6, `($1 < 0 ? 0.0f : ($1 > 6 ? 6.0f : $1))',
    `$1')')
m4_define(`MC_FUSED_PASSES', `m4_ifelse(FUSED, relu, `($1 > 0)', FUSED, relu6, `(($1 > 0) & ($1 < 6))', `1')')

m4_divert(0)m4_dnl
