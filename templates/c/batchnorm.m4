m4_divert(-1)
m4_ifdef(`MC_RELU_KERNEL', `', `m4_include(`activation.m4')m4_divert(-1)')
# Batch normalization (PyTorch BatchNorm2d) over C channels of H x W.
# Training normalizes with the batch mean and biased variance (sums in
# double), saves mean and 1/std for the backward and updates the running
# estimates (the variance with its unbiased value); eval uses them.
# With FUSED relu or relu6 it also does that activation after it
# (plan.c): it writes the activation of its result, and its backward takes
# the output gradient only where that output y is above 0 (and below 6;
# the forward keeps that as a bit per value, not recomputed: the mask is
# the forward's, bit for bit; FUSED_READS bits). With FUSED silu,
# hardswish or hardsigmoid (FUSED_READS input) the backward recomputes the
# value the forward gave the activation, (x - mean) * gamma / std + beta,
# and takes the output gradient through the derivative there, with the
# expressions of activation.m4.
# Folded (FOLD 1) into the pointwise conv that reads it (plan.c), its
# forward only takes the statistics (the eval forward saves the running
# ones as the mean and 1/std the conv reads) and it has no backward: the
# conv applies it and writes its gradients (conv.m4). Applied by the add
# that reads it (FOLD 2), its forward is the same and its backward its own.
# With PSTATS its input is the output of a depthwise or conv that also
# wrote the batch statistics of it per image (plan.c, producer_statistics;
# the batch statistics sums of common.m4): its training forward combines those (pstats)
# instead of reading its input for them.
# Constants: NAME, C, H, W, EPS, MOMENTUM, FUSED (none, relu, relu6, silu,
# hardswish, hardsigmoid), FUSED_READS (none, bits, input), FOLD, PSTATS.

m4_define(`BN_HW', `m4_eval(H * W)')
m4_define(`BN_HWV', `m4_eval(H * W / VL * VL)')

# Every pass walks one channel over the batch: its planes, C * H * W floats
# apart, streams too short for the hardware prefetchers (at 48 x 28 x 28 the
# forward moved 16 GB/s where the memory gives 45). So a pass over a plane
# fetched from memory prefetches the next image plane of the channel, a
# line per 16 floats, as it goes; the passes after the first find the
# channel in L2.
m4_define(`BN_NEXT', `m4_eval(2 * C * H * W)')
# The channels of a block of the backward (below): a run of about 256
# floats of an image; one channel on planes of 32 floats and more (7 x 7
# planes 1.1x slower in blocks of 5: docs/shapes.md).
m4_define(`BN_CB', `m4_ifelse(m4_eval(H * W >= 32), 1, 1, `MC_MIN(C, m4_eval(256 / (H * W)))')')

# With an activation its training forward also writes where it let the
# gradient through, a bit per value (plan.c, mask_activations; the layout
# in common.m4). The backward reads those bits instead of the output (a
# 32nd of the traffic: at 16 x 28 x 28 a channel over the batch is 400 KB
# a stream, and three streams did not stay in L2 from one pass to the
# next). BN_KEEP(indent, v, at): the lanes of vector v (the values from
# at) where the activation passed them, the others 0; or the lanes through
# the derivative of an activation recomputed.
# (BN_KEEP(indent, v, at, xs): the values of x at xs instead of x + at.)
m4_define(`BN_KEEP', `MC_MASKED(`$1mc_vf_keep(&$2, m[$3 / VL]);
')BN_RECOMPUTED(`$1NAME`'_through(&$2, m4_ifelse(`$4', `', `x + $3', `$4'), mean, scale, shift);
')')
# The backward takes the tail of a plane (the values after its whole
# vectors) as a partial vector, zeros after it (which add nothing), where
# a scalar loop summed it in double: on planes of a few vectors (5 x 5: 9
# of 25 on 16 lanes) the tail was most of the work. The tail load with
# the activation applied, then text. A plane shorter than a vector keeps
# the scalar loop (BN_SHORT): the next plane, in the same line, waited for
# the partial store of the last (2 x 2 planes 3x slower); so does a tail of
# at most a quarter of a vector (7 x 7 on 16 lanes: 1 value).
m4_define(`BN_SHORT', `m4_eval(H * W < VL || 4 * (H * W % VL) <= VL)')
# BN_DY1(g, i): the output gradient g of value i of a scalar tail, passed
# or 0, or through the derivative.
m4_define(`BN_DY1', `m4_ifelse(FUSED_READS, bits, `mc_pass($1, m[BN_HWV / VL] >> ($2 - BN_HWV) & 1)',
    FUSED_READS, input, `NAME`'_act_grad((x[$2] - mean) * scale + shift, $1)', `$1')')
m4_define(`BN_TAIL', `m4_eval(BN_HW - BN_HWV)')
m4_define(`BN_TAIL_LOAD', `m4_ifelse(BN_TAIL, 0, `', `    {
        mc_vf gv, xv;
        mc_vf_part(&gv, g + BN_HWV, BN_TAIL);
        mc_vf_part(&xv, x + BN_HWV, BN_TAIL);
BN_KEEP(`        ', `gv', BN_HWV, `(const float *)&xv')m4_dnl
$1    }
')')
# BN_RECOMPUTED(text): text when the backward recomputes the activation.
m4_define(`BN_RECOMPUTED', `m4_ifelse(FUSED_READS, input, `$1')')
m4_define(`BN_ACT_UPPER', `m4_translit(FUSED, `a-z', `A-Z')')
# The activation recomputed, on a float and lane by lane on a vector, and
# an output gradient through its derivative (written in the forward too).
m4_define(`BN_ACT_FUNCTIONS',
`ACT_FUSED_FUNCTIONS()m4_dnl
/* The gradient g through FUSED at v, the value the forward gave it. */
static inline float NAME`'_act_grad(float v, float g)
{
    return m4_indir(`ACT_'BN_ACT_UPPER`_GRAD', `v', `g');
}

/* The lanes of g through FUSED at the values of x normalized. */
static inline void NAME`'_through(mc_vf *g, const float *restrict x, float mean, float scale, float shift)
{
    const mc_vf g0 = *g;
ACT_SIMD()m4_dnl
    for (int l = 0; l < VL; l++)
        (*g)[l] = NAME`'_act_grad((x[l] - mean) * scale + shift, g0[l]);
}

')

# The per-channel sums go plane by plane: each plane in chunks of
# BN_CHUNK floats, a chunk in the VL float lanes of a vector, the chunks'
# lanes and the tail then added in double, the planes in double. The
# backward's sums cancel: an output gradient nearly constant over a plane
# (an average pooling's) leaves dx a small part of g - mean(g), and whole
# planes summed in float lanes (1444 floats on 4 lanes) put 1.3e-4 of its
# size into dx where the generic kernel's double sums gave 6e-6
# (tests/fixtures/producer_stats.mcn at 16 x 75 x 75); chunks of 8 vectors
# bring it to the generic kernel's.
m4_define(`BN_CHUNK', `m4_eval(8 * VL)')
# BN_CHUNKS(lanes, body, flush): the vector part of the plane, chunk by
# chunk: the float vectors lanes (a declarator list, each {0}) cleared,
# body for the vector at i, then flush adds them into the double sums.
m4_define(`BN_CHUNKS',
`    for (int i0 = 0; i0 < BN_HWV; i0 += BN_CHUNK) {
        mc_vf $1 = {0};
        const int end = i0 + BN_CHUNK < BN_HWV ? i0 + BN_CHUNK : BN_HWV;
        for (int i = i0; i < end; i += VL) {
$2        }
$3    }
')
m4_define(`BN_PLANE_SUMS',
`MC_PLANE_SUM(NAME`'_plane_sum, BN_HW, BN_NEXT)
/* The sum of (p - mean)^2. */
static inline double NAME`'_plane_sum_sq(const float *restrict p, float mean)
{
    mc_vhd sums[2] = {{0}, {0}};
BN_CHUNKS(`lanes', `            const mc_vf d = *(const mc_vf *)(p + i) - mean;
            lanes += d * d;
', `        mc_vf_add_double(sums, &lanes);
')m4_dnl
    double s = mc_vhd_sum(sums);
    for (int i = BN_HWV; i < BN_HW; i++)
        s += (p[i] - mean) * (p[i] - mean);
    return s;
}

')

# The rest of the planes' work, for a batch norm that is not folded. With
# an activation, m is the bits of the plane.
m4_define(`BN_PLANE_PASSES',
`MC_VEC_PRELUDE()m4_dnl
BN_RECOMPUTED(`BN_ACT_FUNCTIONS()')m4_dnl
/* The sums of g and of g * (x - mean) * invstd (g where the activation passed it, with one). */
static inline void NAME`'_plane_sum_grad(const float *restrict g, const float *restrict x, MC_MASKED(`const mc_bits *restrict m,
    ')BN_RECOMPUTED(`float scale, float shift, ')float mean, float invstd, double *restrict sum_g, double *restrict sum_gx)
{
    mc_vhd sums_g[2] = {{0}, {0}}, sums_gx[2] = {{0}, {0}};
BN_CHUNKS(`lanes_g = {0}, lanes_gx', `            __builtin_prefetch(g + i + BN_NEXT, 0, 2);
            __builtin_prefetch(x + i + BN_NEXT, 0, 2);
            mc_vf gv = *(const mc_vf *)(g + i);
BN_KEEP(`            ', `gv', `i')m4_dnl
            lanes_g += gv;
            lanes_gx += gv * ((*(const mc_vf *)(x + i) - mean) * invstd);
', `        mc_vf_add_double(sums_g, &lanes_g);
        mc_vf_add_double(sums_gx, &lanes_gx);
')m4_dnl
m4_ifelse(BN_SHORT, 1, `    double sg = mc_vhd_sum(sums_g), sgx = mc_vhd_sum(sums_gx);
    for (int i = BN_HWV; i < BN_HW; i++) {
        const float gi = BN_DY1(`g[i]', `i');
        sg += gi;
        sgx += gi * ((x[i] - mean) * invstd);
    }
    *sum_g += sg;
    *sum_gx += sgx;
', `BN_TAIL_LOAD(`        const mc_vf gx = gv * ((xv - mean) * invstd);
        mc_vf_add_double(sums_g, &gv);
        mc_vf_add_double(sums_gx, &gx);
')m4_dnl
    *sum_g += mc_vhd_sum(sums_g);
    *sum_gx += mc_vhd_sum(sums_gx);
')m4_dnl
}

/* dx = k * (g - mean_g - (x - mean) * slope) (g where the activation passed
 * it, with one), added when acc, the next plane of dx prefetched for writing. */
static inline void NAME`'_plane_dx(const float *restrict g, const float *restrict x, MC_MASKED(`const mc_bits *restrict m, ')float *restrict dx,
    float k, float mean_g, float mean, float slope, BN_RECOMPUTED(`float scale, float shift, ')int acc)
{
    int i = 0;
    for (; i < BN_HWV; i += VL) {
        __builtin_prefetch(dx + i + BN_NEXT, 1, 2);
        mc_vf gv = *(const mc_vf *)(g + i);
BN_KEEP(`        ', `gv', `i')m4_dnl
        const mc_vf d = k * (gv - mean_g - (*(const mc_vf *)(x + i) - mean) * slope);
        if (acc)
            *(mc_vf *)(dx + i) += d;
        else
            *(mc_vf *)(dx + i) = d;
    }
m4_ifelse(BN_SHORT, 1, `    for (; i < BN_HW; i++) {
        const float d = k * (BN_DY1(`g[i]', `i') - mean_g - (x[i] - mean) * slope);
        dx[i] = acc ? dx[i] + d : d;
    }
', `BN_TAIL_LOAD(`        mc_vf d = k * (gv - mean_g - (xv - mean) * slope);
        if (acc) {
            mc_vf old;
            mc_vf_part(&old, dx + BN_HWV, BN_TAIL);
            d += old;
        }
        mc_vf_store_part(dx + BN_HWV, &d, BN_TAIL);
')')m4_dnl
}

m4_ifelse(FOLD, 0, `/* y = (x - mean) * scale + shift (its activation, when one is fused, and
 * where that passed the gradient to m, unless m is 0), the next plane of y
 * prefetched for writing (its lines are read before they are written). */
static inline void NAME`'_plane_normalize(const float *restrict x, float *restrict y, MC_MASKED(`mc_bits *restrict m, ')float mean,
    float scale, float shift)
{
    int i = 0;
    for (; i < BN_HWV; i += VL) {
        __builtin_prefetch(y + i + BN_NEXT, 1, 2);
        const mc_vf v = (*(const mc_vf *)(x + i) - mean) * scale + shift;
        *(mc_vf *)(y + i) = ACT_FUSED_V(v);
MC_MASKED(`        if (m) {
            const mc_vi passes = MC_FUSED_PASSES(v);
            m[i / VL] = mc_vf_bits(&passes);
        }
')m4_dnl
    }
MC_MASKED(`    unsigned bits = 0;
')m4_dnl
    for (; i < BN_HW; i++) {
        const float v = (x[i] - mean) * scale + shift;
        y[i] = ACT_FUSED(v);
MC_MASKED(`        bits |= (unsigned)MC_FUSED_PASSES(v) << (i - BN_HWV);
')m4_dnl
    }
MC_MASKED(m4_ifelse(BN_HWV, BN_HW, `    (void)bits;
', `    if (m)
        m[BN_HWV / VL] = (mc_bits)bits;
'))m4_dnl
}
')')


# The statistics of channel c from those of the images (PSTATS): per
# image the mean at st and the sum of squared deviations from it at st +
# C. The sum is H * W times the sum of the means; the squared deviations
# from mean, those of each image from its own mean plus H * W times the
# square of how far that lies from mean.
m4_define(`BN_PSTATS_SUMS',
`/* Channel c: the sum of the images, from their means. */
static double NAME`'_sum(int n, const float *restrict st, int c)
{
    double sum = 0;
    for (int b = 0; b < n; b++)
        sum += st[(long)b * m4_eval(2 * C) + c];
    return sum * BN_HW;
}

/* Channel c: the sum of squared deviations from mean, from the images. */
static double NAME`'_sqdev(int n, const float *restrict st, int c, double mean)
{
    double sq = 0;
    for (int b = 0; b < n; b++) {
        const double d = st[(long)b * m4_eval(2 * C) + c] - mean;
        sq += st[(long)b * m4_eval(2 * C) + C + c] + BN_HW * d * d;
    }
    return sq;
}
')

# BN_SRC: what the statistics come from.
m4_define(`BN_SRC', `m4_ifelse(PSTATS, 1, `pstats', `x')')

m4_define(`BN_BWD_MASK', `m4_ifelse(FUSED_READS, bits, `const MC_BITS_TYPE *restrict mask,', FUSED_READS, input,
    `const float *restrict beta,', `const float *restrict y,')')
m4_define(`BN_TRAIN_PARAMS', `int n, const float *restrict x, m4_ifelse(PSTATS, 1, `const float *restrict pstats, ')const float *restrict gamma,
    const float *restrict beta, float *restrict running_mean, float *restrict running_var, int64_t *restrict count,
    float *restrict y, float *restrict save_mean, float *restrict save_invstd`'MC_MASKED(`, MC_BITS_TYPE *restrict mask')')

# FOLD 1 or 2: its forward only takes the statistics (the conv or the add
# after it applies them); FOLD 1: no backward either.
m4_define(`BN_STATS_ONLY', `m4_eval(FOLD != 0)')

m4_define(`MC_BATCHNORM_KERNEL',
`/* NAME: batch norm over C channels of H`'x`'W`'m4_ifelse(FOLD, 1, `, applied by the pointwise conv after it', FOLD, 2, `, applied by the add after it')`'m4_ifelse(PSTATS, 1, `, from the statistics of the conv before it') */
m4_ifelse(PSTATS, 1, `BN_PSTATS_SUMS()', `BN_PLANE_SUMS()')m4_dnl
m4_ifelse(FOLD, 1, `', `BN_PLANE_PASSES()')m4_dnl
m4_ifelse(PSTATS, 1, `', `
static double NAME`'_sum(int n, const float *restrict x, int c)
{
    double sum = 0;
    for (int b = 0; b < n; b++)
        sum += NAME`'_plane_sum(x + ((long)b * C + c) * BN_HW);
    return sum;
}

static double NAME`'_sqdev(int n, const float *restrict x, int c, double mean)
{
    double sq = 0;
    for (int b = 0; b < n; b++)
        sq += NAME`'_plane_sum_sq(x + ((long)b * C + c) * BN_HW, (float)mean);
    return sq;
}
')
MC_TRAINING_ONLY(`/* Synchronized batch norm: every channel first, one reduction over all
 * processes for the sums, one for the squared deviations; stats gets the
 * means, then the variances. Returns the global count per channel. */
static double NAME`'_synced_stats(int n, const float *restrict src, double *restrict stats)
{
    MC_OMP_FOR
    for (int c = 0; c < C; c++)
        stats[c] = NAME`'_sum(n, src, c);
    const double m = mc_bn_allreduce(stats, C, (double)n * BN_HW);
    MC_OMP_FOR
    for (int c = 0; c < C; c++) {
        stats[c] /= m;
        stats[C + c] = NAME`'_sqdev(n, src, c, stats[c]);
    }
    mc_bn_allreduce(stats + C, C, m);
    for (int c = 0; c < C; c++)
        stats[C + c] /= m;
    return m;
}

void NAME`'_fwd_train(BN_TRAIN_PARAMS)
{
m4_ifelse(BN_STATS_ONLY, 1, `    (void)gamma, (void)beta, (void)y`'m4_ifelse(PSTATS, 1, `, (void)x'); /* the conv or add applies them */
')m4_dnl
    double stats[2 * C];
    const int synced = mc_bn_allreduce != 0;
    const double m = synced ? NAME`'_synced_stats(n, BN_SRC, stats) : (double)n * BN_HW;
    MC_OMP_FOR
    for (int c = 0; c < C; c++) {
        const double mean = synced ? stats[c] : NAME`'_sum(n, BN_SRC, c) / m;
        const double var = synced ? stats[C + c] : NAME`'_sqdev(n, BN_SRC, c, mean) / m, invstd = 1 / sqrt(var + EPS);
        const float fmean = (float)mean;
m4_ifelse(BN_STATS_ONLY, 1, `', `        const float scale = (float)(gamma[c] * invstd), shift = beta[c];
        for (int b = 0; b < n; b++)
            NAME`'_plane_normalize(x + ((long)b * C + c) * BN_HW, y + ((long)b * C + c) * BN_HW, MC_MASKED(`MC_PLANE_MASK(mask, b, c), ')fmean,
                scale, shift);
')m4_dnl
        save_mean[c] = fmean;
        save_invstd[c] = (float)invstd;
        /* With one value per channel the unbiased variance is 0/0: keep
         * the biased one (0), as the generic kernel does. */
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        running_mean[c] = (float)((1 - MOMENTUM) * running_mean[c] + MOMENTUM * mean);
        running_var[c] = (float)((1 - MOMENTUM) * running_var[c] + MOMENTUM * unbiased);
    }
    *count += 1;
}
')
m4_ifelse(BN_STATS_ONLY, 1, `/* The running statistics as the mean and 1/std that the conv or add applies. */
void NAME`'_fwd_eval(const float *restrict running_mean, const float *restrict running_var, float *restrict save_mean,
    float *restrict save_invstd)
{
    for (int c = 0; c < C; c++) {
        save_mean[c] = running_mean[c];
        save_invstd[c] = (float)(1 / sqrt((double)running_var[c] + EPS));
    }
}
', `void NAME`'_fwd_eval(int n, const float *restrict x, const float *restrict gamma, const float *restrict beta,
    const float *restrict running_mean, const float *restrict running_var, float *restrict y)
{
    MC_OMP_FOR
    for (int c = 0; c < C; c++) {
        const double invstd = 1 / sqrt((double)running_var[c] + EPS);
        const float mean = running_mean[c], scale = (float)(gamma[c] * invstd), shift = beta[c];
        for (int b = 0; b < n; b++)
            NAME`'_plane_normalize(x + ((long)b * C + c) * BN_HW, y + ((long)b * C + c) * BN_HW, MC_MASKED(`0, ')mean, scale,
                shift);
    }
}
')m4_dnl
m4_ifelse(FOLD, 1, `', `
/* Sums over channels c0 .. c0 + cn - 1 of dy and dy * xhat, also added to
 * dgamma and dbeta, two a channel into sums. */
static void NAME`'_grad_sums(int n, const float *restrict x, MC_MASKED(`const MC_BITS_TYPE *restrict mask, ')BN_RECOMPUTED(`const float *restrict gamma,
    const float *restrict beta, ')const float *restrict save_mean,
    const float *restrict save_invstd, const float *restrict dy, float *restrict dgamma, float *restrict dbeta, int c0, int cn,
    double *restrict sums)
{
    for (int j = 0; j < 2 * cn; j++)
        sums[j] = 0;
    for (int b = 0; b < n; b++)
        for (int j = 0, c = c0; j < cn; j++, c++) {
            const long at = ((long)b * C + c) * BN_HW;
            const float mean = save_mean[c], invstd = save_invstd[c];
            NAME`'_plane_sum_grad(dy + at, x + at, MC_MASKED(`MC_PLANE_MASK(mask, b, c), ')BN_RECOMPUTED(`gamma[c] * invstd, beta[c], ')mean, invstd, &sums[2 * j], &sums[2 * j + 1]);
        }
    for (int j = 0, c = c0; j < cn; j++, c++) {
        dgamma[c] += (float)sums[2 * j + 1];
        dbeta[c] += (float)sums[2 * j];
    }
}

/* dx = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)) (added to dx,
 * or stored with acc 0; dy masked by the output y with an activation): the
 * gradient also flows through the batch mean and variance. Synchronized
 * batch norm takes the means over all processes: every channel first, one
 * reduction (the parameter gradients keep the local sums; their all-reduce
 * adds them).
 *
 * The passes go by blocks of BN_CB channels, the images the outer loop
 * of a block, so that each image gives a block a run of about 256
 * floats: a channel at a time over the images read planes of 25 floats
 * 36 KB apart (360 x 5 x 5), lines shared with the next channel fetched
 * again. Every sum still adds the images in order. */
MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, BN_BWD_MASK const float *restrict gamma,
    const float *restrict save_mean, const float *restrict save_invstd, const float *restrict dy, float *restrict dx,
    float *restrict dgamma, float *restrict dbeta, int acc)
{
m4_ifelse(FUSED, none, `    (void)y; /* no activation: no mask, and the output is not needed */
')m4_dnl
    double sums[2 * C];
    const int synced = mc_bn_allreduce != 0;
    double m = (double)n * BN_HW;
    if (synced) {
        MC_OMP_FOR
        for (int c0 = 0; c0 < C; c0 += BN_CB)
            NAME`'_grad_sums(n, x, MC_MASKED(`mask, ')BN_RECOMPUTED(`gamma, beta, ')save_mean, save_invstd, dy, dgamma, dbeta, c0,
                C - c0 < BN_CB ? C - c0 : BN_CB, sums + 2 * c0);
        m = mc_bn_allreduce(sums, 2 * C, m);
    }
    MC_OMP_FOR
    for (int c0 = 0; c0 < C; c0 += BN_CB) {
        const int cn = C - c0 < BN_CB ? C - c0 : BN_CB;
        double local[2 * BN_CB];
        const double *restrict s = synced ? sums + 2 * c0 : local;
        if (!synced)
            NAME`'_grad_sums(n, x, MC_MASKED(`mask, ')BN_RECOMPUTED(`gamma, beta, ')save_mean, save_invstd, dy, dgamma, dbeta, c0, cn, local);
        float k[BN_CB] = {0}, mean_dy[BN_CB] = {0}, slope[BN_CB] = {0}; /* (gcc -O1 saw them read unset) */
        for (int j = 0, c = c0; j < cn; j++, c++) {
            k[j] = gamma[c] * save_invstd[c];
            mean_dy[j] = (float)(s[2 * j] / m);
            slope[j] = save_invstd[c] * (float)(s[2 * j + 1] / m);
        }
        for (int b = 0; b < n; b++)
            for (int j = 0, c = c0; j < cn; j++, c++) {
                const long at = ((long)b * C + c) * BN_HW;
                NAME`'_plane_dx(dy + at, x + at, MC_MASKED(`MC_PLANE_MASK(mask, b, c), ')dx + at, k[j], mean_dy[j], save_mean[c], slope[j],
                    BN_RECOMPUTED(`k[j], beta[c], ')acc);
            }
    }
}
')')')

m4_define(`MC_BATCHNORM_PROTO',
`MC_TRAINING_ONLY(`void NAME`'_fwd_train(BN_TRAIN_PARAMS);
')m4_ifelse(BN_STATS_ONLY, 1, `void NAME`'_fwd_eval(const float *restrict running_mean, const float *restrict running_var, float *restrict save_mean,
    float *restrict save_invstd);
', `void NAME`'_fwd_eval(int n, const float *restrict x, const float *restrict gamma, const float *restrict beta,
    const float *restrict running_mean, const float *restrict running_var, float *restrict y);
')m4_dnl
m4_ifelse(FOLD, 1, `', `MC_TRAINING_ONLY(`void NAME`'_bwd(int n, const float *restrict x, BN_BWD_MASK const float *restrict gamma,
    const float *restrict save_mean, const float *restrict save_invstd, const float *restrict dy, float *restrict dx,
    float *restrict dgamma, float *restrict dbeta, int acc);
')')')

# Calls: IN0, OUT, GAMMA, BETA (parameters), RUNNING_MEAN, RUNNING_VAR
# (buffers), COUNTER, SAVED_MEAN, SAVED_INVSTD.
m4_define(`MC_BATCHNORM_CALL_FWD', `m4_ifelse(INFERENCE, 1, `BN_CALL_EVAL(`    ')', `BN_CALL_FWD_STEP()')')
m4_define(`BN_CALL_FWD_STEP',
`    if (train)
        NAME`'_fwd_train(n, MC_ACT(IN0), m4_ifelse(PSTATS, 1, `MC_ACT(STATS_AT), ')MC_PARAM(GAMMA), MC_PARAM(BETA),
            MC_BUF(RUNNING_MEAN), MC_BUF(RUNNING_VAR), MC_COUNTER(COUNTER), MC_ACT(OUT), MC_SAVED(SAVED_MEAN),
            MC_SAVED(SAVED_INVSTD)MC_MASKED(`, MC_MASK(MASK_AT)'));
    else
m4_ifelse(BN_STATS_ONLY, 1, `        NAME`'_fwd_eval(MC_BUF(RUNNING_MEAN), MC_BUF(RUNNING_VAR), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD));
', `BN_CALL_EVAL(`        ')')')
# BN_CALL_EVAL(indent): the eval forward on the running statistics.
m4_define(`BN_CALL_EVAL',
`$1`'NAME`'_fwd_eval(n, MC_ACT(IN0), MC_PARAM(GAMMA), MC_PARAM(BETA), MC_BUF(RUNNING_MEAN), MC_BUF(RUNNING_VAR),
$1    MC_ACT(OUT));
')
m4_define(`MC_BATCHNORM_CALL_BWD',
`m4_ifelse(FOLD, 1, `    /* folded: the conv after it did its backward */
', `    NAME`'_bwd(n, MC_ACT(IN0), m4_ifelse(FUSED_READS, bits, `MC_MASK(MASK_AT)', FUSED_READS, input, `MC_PARAM(BETA)', `MC_ACT(OUT)'), MC_PARAM(GAMMA), MC_SAVED(SAVED_MEAN), MC_SAVED(SAVED_INVSTD),
        MC_DACT(OUT), MC_DACT(IN0), MC_GRAD(GAMMA), MC_GRAD(BETA), MC_ACC(0));
')')
m4_define(`MC_BATCHNORM_STORES')
m4_divert(0)m4_dnl
