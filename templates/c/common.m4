m4_divert(-1)
# Shared macros of the C templates. mcgen runs `m4 -P` (builtins are
# m4_-prefixed, so C text such as "index" or "format" passes through) on a
# driver that includes this file, then per kernel defines its constants
# (NAME, C, H, W, ...) and calls the family's macro. Avoid apostrophes in
# template text: they are m4 quotes.
m4_changecom()

# MC_FOR(var, first, last, text): text for var = first .. last, unrolled.
m4_define(`MC_FOR', `m4_pushdef(`$1', `$2')_MC_FOR(`$1', `$3', `$4')m4_popdef(`$1')')
m4_define(`_MC_FOR',
  `m4_ifelse(m4_eval($1 > $2), 1, `',
    `$3`'m4_define(`$1', m4_incr($1))_MC_FOR(`$1', `$2', `$3')')')

# MC_PARTS(fn, count, params, args): static void fn(params, int par),
# which runs fn_part(args, t) for the parts t = 0 .. count - 1 (each
# writing outputs of its own), fn_part(params, int t) written before it.
# With par nonzero every thread of the team calls fn with the same
# arguments and the parts are shared out over them (one image split over
# threads: MC_FEW_IMAGES); otherwise they run in order on the caller.
m4_define(`MC_PARTS',
`static void $1($3, int par)
{
    if (par) {
        MC_OMP_FOR_IN
        for (int t = 0; t < $2; t++)
            $1_part($4, t);
    } else
        for (int t = 0; t < $2; t++)
            $1_part($4, t);
}
')

# MC_PAR_FLOATS: the floats a loop reads or writes, at the least, for
# which the element-wise kernels and the linear products start a team of
# threads (MC_OMP_FOR_IF): below it (squeeze-excitation vectors,
# classifier heads) starting the team costs more than it saves
# (docs/shapes.md).
m4_define(`MC_PAR_FLOATS', 32768)

# MC_FLAT_LOOP(indent, var, count, statement): the statement for every var
# (a long) below count (a C expression), over threads where count reaches MC_PAR_FLOATS;
# below it a plain loop, not a region of one thread (an if clause still
# starts one), whose start alone cost more than a squeeze-excitation
# activation of a few hundred values or the add of 2 x 2 planes.
m4_define(`MC_FLAT_LOOP',
`$1if ($3 >= MC_PAR_FLOATS) {
$1    MC_OMP_FOR
$1    for (long $2 = 0; $2 < $3; $2++)
$1        $4
$1} else
$1    for (long $2 = 0; $2 < $3; $2++)
$1        $4
')

# MC_EVAL(expr): an integer literal computed at generation time.
m4_define(`MC_EVAL', `m4_eval(`$1')')

# MC_KJ(j): the size of kernel j of the list K0, K1, ...; MC_PJ(j) its padding.
m4_define(`MC_KJ', `m4_indir(`K$1')')
m4_define(`MC_PJ', `m4_eval(m4_indir(`K$1') / 2)')
m4_define(`MC_WOFF', `m4_indir(`WOFF$1')')

# Taps of a K x K window, fully unrolled.
#
# MC_TAPS(K, P, PMAX, W, text): text for every tap, with MC_T (the tap
# index ky*K+kx) and MC_OFF (its offset in a window of the largest padding
# PMAX that starts PMAX rows and columns before the output position, in a
# row of W) defined: the interior, where no tap leaves the input.
m4_define(`MC_TAPS',
`MC_FOR(`ky', 0, m4_eval($1 - 1), `MC_FOR(`kx', 0, m4_eval($1 - 1),
`m4_pushdef(`MC_T', m4_eval(ky * $1 + kx))m4_pushdef(`MC_OFF', m4_eval(($3 - $2 + ky) * $4 + $3 - $2 + kx))$5`'m4_popdef(`MC_OFF')m4_popdef(`MC_T')')')')

# MC_TAPS_CHECKED(K, P, S, H, W, text): the same around output (oy, ox)
# with bounds tests, for the border: text sees iy, ix (the input position,
# inside the H x W input) and MC_T.
m4_define(`MC_TAPS_CHECKED',
`MC_FOR(`ky', 0, m4_eval($1 - 1), `        {
            const int iy = oy * $3 + m4_eval(ky - $2);
            if (iy >= 0 && iy < $4) {
MC_FOR(`kx', 0, m4_eval($1 - 1), `m4_pushdef(`MC_T', m4_eval(ky * $1 + kx))m4_dnl
                { const int ix = ox * $3 + m4_eval(kx - $2); if (ix >= 0 && ix < $5) { $6 } }
m4_popdef(`MC_T')')m4_dnl
            }
        }
')')

# MC_ROWS(at, interior, oy0, oy1, ox0, ox1): the loops, in a function body,
# over the HO x WO
# output positions (oy, ox): the interior [oy0, oy1) x [ox0, ox1) runs the
# statements interior, the border the statement at (bounds tested). Empty
# loops are left out; an empty interior (oy0 = oy1 or ox0 = ox1, wherever
# they are) leaves everything to the border.
m4_define(`MC_BORDER_ROWS', `    for (int oy = $2; oy < $3; oy++)
        for (int ox = 0; ox < WO; ox++)
            $1
')
m4_define(`MC_BORDER_COLS', `        for (int ox = $2; ox < $3; ox++)
            $1
')
m4_define(`MC_ROWS',
`m4_ifelse(m4_eval($4 > $3 && $6 > $5), 0, `MC_BORDER_ROWS(`$1', 0, HO)',
`m4_ifelse(m4_eval($3 > 0), 1, `MC_BORDER_ROWS(`$1', 0, $3)')m4_dnl
    for (int oy = $3; oy < $4; oy++) {
m4_ifelse(m4_eval($5 > 0), 1, `MC_BORDER_COLS(`$1', 0, $5)')m4_dnl
        for (int ox = $5; ox < $6; ox++) {
$2        }
m4_ifelse(m4_eval($6 < WO), 1, `MC_BORDER_COLS(`$1', $6, WO)')m4_dnl
    }
m4_ifelse(m4_eval($4 < HO), 1, `MC_BORDER_ROWS(`$1', $4, HO)')')')

# MC_HAS_BORDER(oy0, oy1, ox0, ox1): 1 when that interior leaves a border
# (then a kernel needs its bounds-tested helper for one position), else 0.
m4_define(`MC_HAS_BORDER', `m4_eval(!($1 == 0 && $2 == HO && $3 == 0 && $4 == WO))')

# MC_VEC_PRELUDE: the vector types of the kernels that spell out their
# vector code, emitted once per file before its first use: GNU C vectors
# (gcc and clang) of VL floats (the target's, generator/target.c) that may
# sit at any float address: mc_vf (VL floats), mc_vi (VL ints: what v > 0
# gives), mc_vh and mc_vhd (VL / 2 floats, and as doubles); mc_bits, the
# bits of one vector's lanes (a byte, or two with 16 lanes). The helpers
# use the target's instructions where it has them (MC_ISA), plain vector
# code elsewhere; a file compiled without them stops at an #error.
m4_define(`MC_VEC_PRELUDE',
`typedef float mc_vf __attribute__((vector_size(m4_eval(4 * VL)), aligned(4), may_alias));
typedef float mc_vh __attribute__((vector_size(m4_eval(2 * VL)), aligned(4), may_alias));
typedef double mc_vhd __attribute__((vector_size(m4_eval(4 * VL)), aligned(8), may_alias));
typedef int mc_vi __attribute__((vector_size(m4_eval(4 * VL)), aligned(4), may_alias));
typedef MC_BITS_TYPE mc_bits;
MC_ISA_INCLUDE()m4_dnl

/* MC_HOLD(v): the vector v kept in a register. The tile of a product multiplies
 * each vector it loads by several rows; short of registers (16 on avx2),
 * gcc folds the load into every multiply-add that uses it instead, so the
 * loads, not the multiply-adds, bound the tile. The empty asm makes v a
 * value that only a register holds. */
MC_ISA_HOLD()

/* The first count floats at p, zeros after: the tail of a row; and its
 * store, the first count lanes of v to p (no lane past count touched).
 * (Vectors go by pointer: by value they would change the ABI where the
 * compiler has no register of their size.) */
static inline __attribute__((unused)) void mc_vf_part(mc_vf *v, const float *p, int count)
{
MC_ISA_PART_LOAD()m4_dnl
}

static inline __attribute__((unused)) void mc_vf_store_part(float *p, const mc_vf *v, int count)
{
MC_ISA_PART_STORE()m4_dnl
}

/* The lanes added in order, in float and in double. */
static inline __attribute__((unused)) float mc_vf_sum(const mc_vf *v)
{
    float s = 0.0f;
    for (int l = 0; l < VL; l++)
        s += (*v)[l];
    return s;
}

/* The VL float lanes of v added into the double lanes of sum (lanes 0 to
 * VL / 2 - 1 into sum[0], the others into sum[1]); and the sum of those. */
static inline __attribute__((unused)) void mc_vf_add_double(mc_vhd *sum, const mc_vf *v)
{
    sum[0] += __builtin_convertvector(__builtin_shufflevector(*v, *v, MC_FOR(`l', 0, m4_eval(VL / 2 - 1), `m4_ifelse(l, 0, `', `, ')l')), mc_vhd);
    sum[1] += __builtin_convertvector(__builtin_shufflevector(*v, *v, MC_FOR(`l', m4_eval(VL / 2), m4_eval(VL - 1), `m4_ifelse(l, m4_eval(VL / 2), `', `, ')l')), mc_vhd);
}

static inline __attribute__((unused)) double mc_vhd_sum(const mc_vhd *sum)
{
    const mc_vhd s = sum[0] + sum[1];
    double t = 0.0;
    for (int l = 0; l < m4_eval(VL / 2); l++)
        t += s[l];
    return t;
}

/* The VL x VL block r transposed in registers: log2(VL) rounds, each
 * swapping bit d of the row index with bit d of the column index, rows i
 * and i + d at a time (the lanes with bit d set come from the other row). */
static inline __attribute__((unused)) void mc_vf_transpose(mc_vf *r)
{
MC_TR_ROUNDS(m4_eval(VL / 2))m4_dnl
}

/* Activation masks kept as bits (plan.c, mask_activations): bit l of an
 * mc_bits word for lane l of a vector. mc_vf_bits: which lanes of m are
 * set; mc_vf_keep: the lanes of g whose bit is set, the others 0. */
static inline __attribute__((unused)) mc_bits mc_vf_bits(const mc_vi *m)
{
MC_ISA_BITS()m4_dnl
}

static inline __attribute__((unused)) void mc_vf_keep(mc_vf *g, mc_bits bits)
{
MC_ISA_KEEP()m4_dnl
}

/* One value g where its bit is 1, else 0, by its bits: the select bit ? g
 * : 0 compiled to a branch, which the signs of the data mispredict (the
 * backward of a batch norm on 2 x 2 planes 7x slower). */
static inline __attribute__((unused)) float mc_pass(float g, unsigned bit)
{
    union {
        float f;
        uint32_t u;
    } v = {g};
    v.u &= -(uint32_t)bit;
    return v.f;
}

m4_define(`MC_VEC_PRELUDE', `')m4_dnl
')

# The bits of a vector: a byte, or two with 16 lanes (BITS_BYTES, the plan's).
m4_define(`MC_BITS_TYPE', `m4_ifelse(BITS_BYTES, 2, `uint16_t', `uint8_t')')
# MC_LANES(expr): expr for lane l = 0 .. VL - 1, comma-separated (a vector literal's lanes).
m4_define(`MC_LANES', `MC_FOR(`l', 0, m4_eval(VL - 1), `m4_ifelse(l, 0, `', `, ')m4_eval($1)')')

# The prelude's target-specific parts, by MC_ISA: avx512 (mask registers),
# avx2 (vmaskmov, movemask) or generic (lane loops and vector code that
# any target's compiler lowers).
m4_define(`MC_ISA_INCLUDE', `m4_ifelse(MC_ISA, avx512, `
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || !defined(__AVX512VL__)
#error "these kernels are for the avx512 CPU target: compile them with -march=x86-64-v4 or -march=native on such a CPU"
#endif
#include <immintrin.h>', MC_ISA, avx2, `
#if !defined(__AVX2__) || !defined(__FMA__)
#error "these kernels are for the avx2 CPU target: compile them with -march=x86-64-v3 or -march=native on such a CPU"
#endif
#include <immintrin.h>')')
m4_define(`MC_ISA_PART_LOAD', `m4_ifelse(MC_ISA, avx512,
`    *v = (mc_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << count) - 1), p);
', MC_ISA, avx2,
`    *v = (mc_vf)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(MC_LANES(l))));
', `    *v = (mc_vf){0};
    for (int l = 0; l < count; l++)
        (*v)[l] = p[l];
')')
m4_define(`MC_ISA_PART_STORE', `m4_ifelse(MC_ISA, avx512,
`    _mm512_mask_storeu_ps(p, (__mmask16)((1u << count) - 1), (__m512)*v);
', MC_ISA, avx2,
`    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(MC_LANES(l))), (__m256)*v);
', `    for (int l = 0; l < count; l++)
        p[l] = (*v)[l];
')')
m4_define(`MC_ISA_BITS', `m4_ifelse(MC_ISA, avx512,
`    return (mc_bits)_mm512_cmpneq_epi32_mask((__m512i)*m, _mm512_setzero_si512());
', MC_ISA, avx2,
`    return (mc_bits)_mm256_movemask_ps((__m256)(*m != 0));
', `    unsigned bits = 0;
    for (int l = 0; l < VL; l++)
        bits |= (unsigned)((*m)[l] != 0) << l;
    return (mc_bits)bits;
')')
m4_define(`MC_ISA_KEEP', `m4_ifelse(MC_ISA, avx512,
`    *g = (mc_vf)_mm512_maskz_mov_ps((__mmask16)bits, (__m512)*g);
', `    const mc_vi lane = {MC_LANES(`1 << l')};
    *g = (mc_vf)((mc_vi)*g & ((((mc_vi){0} + (int)bits) & lane) != 0));
')')

# MC_ISA_HOLD: the definition of MC_HOLD, by the register class of the
# target's vectors (generic vectors: neon's, or 16 bytes on x86-64;
# elsewhere the compiler decides).
m4_define(`MC_ISA_HOLD', `m4_ifelse(MC_ISA, avx512, `#define MC_HOLD(v) __asm__("" : "+v"(v))',
    MC_ISA, avx2, `#define MC_HOLD(v) __asm__("" : "+x"(v))', `#if defined(__aarch64__)
#define MC_HOLD(v) __asm__("" : "+w"(v))
#elif defined(__x86_64__)
#define MC_HOLD(v) __asm__("" : "+x"(v))
#else
#define MC_HOLD(v) ((void)0)
#endif')')

# MC_TR_ROUNDS(d): the rounds d, d / 2, ..., 1 of the transpose.
m4_define(`MC_TR_ROUNDS', `MC_TR_ROUND($1)m4_ifelse(m4_eval($1 > 1), 1, `MC_TR_ROUNDS(m4_eval($1 / 2))')')

# MC_TR_ROUND(d): a round of the transpose, its shuffles literal (lanes VL
# to 2 VL - 1 are those of the second row): lane k of the new row i is
# lane k of row i, or lane k - d of row i + d when bit d of k is set; lane
# k of the new row i + d is lane k + d of row i, or lane k of row i + d
# when bit d of k is set.
m4_define(`MC_TR_ROUND',
`    for (int i = 0; i < VL; i++)
        if (!(i & $1)) {
            const mc_vf lo = r[i], hi = r[i + $1];
            r[i] = __builtin_shufflevector(lo, hi, MC_TR_LANES($1, 0));
            r[i + $1] = __builtin_shufflevector(lo, hi, MC_TR_LANES($1, $1));
        }
')
m4_define(`MC_TR_LANES', `MC_FOR(`k', 0, m4_eval(VL - 1), `m4_ifelse(k, 0, `', `, ')m4_eval(k + $2 + (k & $1) / $1 * (VL - $1))')')

# MC_CL_IN(fn, H, W, PAD, WP, PITCH, G[, hat[, nch]]): static void fn(planes, xt):
# G groups of VL planes of H x W (channel c at planes + c * H * W) into an
# image with its channels last: pixel (iy, ix) of group g at xt + ((iy +
# PAD) * WP + ix + PAD) * PITCH + g * VL, so a padded image when PAD > 0
# (its border is left as it is). VL pixels at a time: a VL x VL block
# loaded by channel, transposed in registers, stored by pixel. The VL
# planes are VL streams at once, more than the hardware prefetchers
# follow: each is prefetched 4 lines ahead into L1, and the next VL
# planes (the next group, or the next image after the last: the next
# call) at the same place into L2, so that short planes (14 x 14, 7 x 7:
# a stream of 12 or 3 lines) do not wait for memory at every start.
# Measured, resnet20 Multiception kernels of two builds alternated call
# by call: 4 lines ahead made the depthwise backwards 1.12x to 1.49x
# faster (2 and 8 lines no better), the next planes those at 14 x 14 and
# 7 x 7 another 1.12x to 1.26x.
# With hat, fn(planes, xt, mean, invstd) stores each channel normalized,
# (x - mean) * invstd (a batch norm folded into a pointwise conv, whose
# filter gradient needs its normalized input: conv.m4). With nch, fn(planes,
# xt, nch) reads only the first nch planes of the one group (G 1) and
# stores zeros in the other lanes (the last group of a depthwise whose
# channels do not fill it). With CH (the tenth argument), the planes are
# CH channels: the last group reads the CH % VL left and stores zeros in
# the other lanes (channels padded to whole vectors: conv.m4). With HW
# (the eleventh), the planes lie HW floats apart, of which fn reads the
# first H x W: a band of rows of larger planes, planes at its first.
m4_define(`MC_CL_IN',
`MC_VEC_PRELUDE()m4_dnl
static void $1(const float *restrict planes, float *restrict xt`'m4_ifelse(`$8', `hat', `,
    const float *restrict mean, const float *restrict invstd')`'m4_ifelse(`$9', `', `', `, int nch'))
{
    for (int g = 0; g < $7; g++) {
m4_ifelse(`$8', `hat', `        mc_vf mv, sv;
        memcpy(&mv, mean + g * VL, sizeof mv);
        memcpy(&sv, invstd + g * VL, sizeof sv);
')m4_dnl
_MC_CL_IN_PIXELS(0, m4_eval($2 * $3), m4_ifelse(`$11', `', `m4_eval($2 * $3)', `$11'), $3, $4, $5, $6, `iy + $4', m4_ifelse(`$8', `hat', `(r[q] - mv) * sv', `r[q]'),
    m4_ifelse(`$9', `', `_MC_CL_LAST($7, `$10')', `$9'))m4_dnl
    }
}
')

# MC_CL_IN_BAND(fn, H, W, PAD, WP, ROWS[, nch]): static void fn(planes, xt, y0[, nch]):
# the same for one group of VL planes (PITCH VL) and a band of the
# padded image: the rows that output rows y0 .. y0 + ROWS - 1 of a
# stride-1 window of PAD rows on each side read, input row iy at row iy -
# y0 + PAD of xt; rows past the image's edges are zeroed (a band inside
# the image wrote them), the columns of padding left as they are.
m4_define(`MC_CL_IN_BAND',
`MC_VEC_PRELUDE()m4_dnl
static void $1(const float *restrict planes, float *restrict xt, int y0`'m4_ifelse(`$7', `', `', `, int nch'))
{
    const int ylo = y0 > $4 ? y0 - $4 : 0, yhi = y0 + m4_eval($6 + $4) < $2 ? y0 + m4_eval($6 + $4) : $2;
    memset(xt, 0, sizeof(float) * (ylo - y0 + $4) * m4_eval($5 * VL));
    memset(xt + (yhi - y0 + $4) * m4_eval($5 * VL), 0, sizeof(float) * (y0 + m4_eval($6 + $4) - yhi) * m4_eval($5 * VL));
    for (int g = 0; g < 1; g++) {
_MC_CL_IN_PIXELS(ylo * $3, yhi * $3, m4_eval($2 * $3), $3, $4, $5, VL, `iy - y0 + $4', `r[q]', `$7')m4_dnl
    }
}
')

# _MC_CL_IN_PIXELS(first, end, HW, W, PAD, WP, PITCH, row, value[, nch]):
# pixels first .. end - 1 of the VL planes of group g (HW floats apart),
# VL at a time, pixel (iy, ix) stored as value at row `row' of xt; with
# nch, the planes from the nch-th on are zeros, not read.
m4_define(`_MC_CL_IN_PIXELS',
`m4_ifelse(_MC_CL_IN_FLAT($4, $5, $6), 1, `', `        int iy = ($1) / $4, ix = ($1) % $4; /* pixel p0, the first of each block */
')m4_dnl
        for (int p0 = $1; p0 < $2; p0 += VL) {
            const int count = $2 - p0 < VL ? $2 - p0 : VL;
            mc_vf r[VL];
            for (int c = 0; c < VL; c++) {
m4_ifelse(`$10', `', `', `                if (c >= $10) {
                    r[c] = (mc_vf){0};
                    continue;
                }
')m4_dnl
                const float *restrict p = planes + (g * VL + c) * $3 + p0;
                __builtin_prefetch(p + 64);
                __builtin_prefetch(p + m4_eval(VL * $3), 0, 2);
                if (count == VL)
                    r[c] = *(const mc_vf *)p;
                else
                    mc_vf_part(&r[c], p, count);
            }
            mc_vf_transpose(r);
m4_ifelse(_MC_CL_IN_FLAT($4, $5, $6), 1, `            for (int q = 0; q < count; q++)
                *(mc_vf *)(xt + (p0 + q) * $7 + g * VL) = $9;
', `            for (int q = 0; q < count; q++) {
                *(mc_vf *)(xt + (($8) * $6 + ix + $5) * $7 + g * VL) = $9;
                if (++ix == $4)
                    ix = 0, iy++;
            }
')m4_dnl
        }
')
# _MC_CL_LAST(G, CH): the channels of group g, of G groups of CH channels
# (an expression), where the last is partial; empty where all are whole.
m4_define(`_MC_CL_LAST', `m4_ifelse(`$2', `', `', `m4_ifelse(m4_eval($2 % VL), 0, `', `(g == m4_eval($1 - 1) ? m4_eval($2 % VL) : VL)')')')
# _MC_CL_IN_FLAT(W, PAD, WP): 1 when the image has no padding, its pixels
# stored in the order of the planes (a gathered strided image).
m4_define(`_MC_CL_IN_FLAT', `m4_eval($2 == 0 && $3 == $1)')

# MC_CL_OUT(fn, P, PITCH, G[, STRIDE[, nch]]): static void fn(xt, planes, acc): the inverse
# of the transpose above, without padding: pixel p of a channels-last
# image (channel c at xt + p * PITCH + c) back to G groups of VL planes of
# P floats, added to them when acc, else stored. With STRIDE, fn(xt,
# planes, acc, pixels): the first pixels pixels of planes STRIDE floats
# apart (a band of rows of larger planes). With nch, a last parameter
# nch: only the first nch planes of the one group (G 1) are written.
# With split (the seventh argument), fn(xt, planes, acc, par): the groups
# run as parts, shared out over the team when par is nonzero. With CH
# (the eighth), the planes are CH channels, the last group partial.
m4_define(`MC_CL_OUT',
`MC_VEC_PRELUDE()m4_dnl
m4_pushdef(`CLO_N', m4_ifelse(`$5', `', `$2', `pixels'))m4_pushdef(`CLO_STRIDE', m4_ifelse(`$5', `', `$2', `$5'))m4_dnl
m4_pushdef(`CLO_PARAMS', `const float *restrict xt, float *restrict planes, int acc`'m4_ifelse(`$5', `', `', `, int pixels')`'m4_ifelse(`$6', `', `', `, int nch')')m4_dnl
m4_ifelse(`$7', `split', `static void $1_part(CLO_PARAMS, int g)
{
_MC_CL_OUT_GROUP(`    ', $3, m4_ifelse(`$6', `', `_MC_CL_LAST($4, `$8')', `$6'))m4_dnl
}

MC_PARTS($1, $4, `CLO_PARAMS', `xt, planes, acc`'m4_ifelse(`$5', `', `', `, pixels')`'m4_ifelse(`$6', `', `', `, nch')')m4_dnl
', `static void $1(CLO_PARAMS)
{
    for (int g = 0; g < $4; g++)
_MC_CL_OUT_GROUP(`        ', $3, m4_ifelse(`$6', `', `_MC_CL_LAST($4, `$8')', `$6'))m4_dnl
}
')m4_dnl
m4_popdef(`CLO_N', `CLO_STRIDE', `CLO_PARAMS')m4_dnl
')

# _MC_CL_OUT_GROUP(indent, PITCH, nch): the loop over the pixels of group g (the transpose above).
m4_define(`_MC_CL_OUT_GROUP',
`$1for (int p0 = 0; p0 < CLO_N; p0 += VL) {
$1    const int count = CLO_N - p0 < VL ? CLO_N - p0 : VL;
$1    mc_vf r[VL];
$1    for (int q = 0; q < VL; q++)
$1        r[q] = q < count ? *(const mc_vf *)(xt + (p0 + q) * $2 + g * VL) : (mc_vf){0};
$1    mc_vf_transpose(r);
$1    for (int c = 0; c < m4_ifelse(`$3', `', `VL', `$3'); c++) {
$1        float *restrict p = planes + (g * VL + c) * CLO_STRIDE + p0;
$1        /* VL planes written a line at a time: without their lines
$1         * asked for ahead, each store waits for its line (the
$1         * Multiception forwards at 28 x 28 1.05x to 1.10x faster). */
$1        __builtin_prefetch(p + 64, 1, 2);
$1        if (count == VL) {
$1            if (acc)
$1                r[c] += *(const mc_vf *)p;
$1            *(mc_vf *)p = r[c];
$1        } else {
$1            if (acc) {
$1                mc_vf old;
$1                mc_vf_part(&old, p, count);
$1                r[c] += old;
$1            }
$1            mc_vf_store_part(p, &r[c], count);
$1        }
$1    }
$1}
')

# MC_PREFETCH_LINES(indent, address, lines, write): prefetches of that many
# 64-byte lines (16 floats each, on every target) from address on into L2 (for writing when write is 1), one
# statement a line: a plane fetched while the one before it is worked on.
m4_define(`MC_PREFETCH_LINES',
`m4_ifelse(m4_eval($3 > 1), 1, `MC_PREFETCH_LINES(`$1', `$2', m4_decr($3), $4)')m4_dnl
m4_ifelse(m4_eval($3 > 0), 1, `$1`'__builtin_prefetch($2`'m4_ifelse($3, 1, `', ` + m4_eval(16 * ($3 - 1))'), $4, 2);
')')

# MC_PLANE_MAP(indent, count, vector, scalar): the floats 0 .. count - 1
# of a plane, VL at a time in explicit vectors (gcc left such loops of a
# few vectors inside an OpenMP region scalar, or vectorized them across
# planes): vector is the statements of the vector at offset k; then the
# tail float by float, scalar the statement of float i. (Masked loads and
# stores for the tail stalled: on planes shorter than a vector the next
# plane loads from the line the masked store just wrote, and waits for it.
# docs/shapes.md has both measurements.)
m4_define(`MC_PLANE_MAP',
`m4_ifelse(m4_eval($2 >= VL), 1, `$1for (int k = 0; k < m4_eval($2 / VL * VL); k += VL) {
$3`'$1}
')m4_dnl
m4_ifelse(m4_eval($2 % VL), 0, `', `$1for (int i = m4_eval($2 / VL * VL); i < $2; i++)
$1    $4
')')

# MC_PLANE_SUM(fn, count[, ahead]): static double fn(p), the sum of count
# floats at p, in the 4 x VL / 2 double lanes of four vectors (2 VL
# floats a round, converted and added: every term in double, as the generic kernels
# sum; the sums of gradients that batch norm cancels to almost 0 need it;
# four chains of adds keep pace with memory), then the lanes and the tail.
# With ahead, each round also prefetches its two lines ahead floats on (the
# next plane of a walk over planes; see batchnorm.m4).
# MC_PLANE_DOT(fn, count): static double fn(p, q), the sum of p[i] q[i]
# the same way (each product in double, as the generic kernels take it).
m4_define(`MC_PLANE_SUM', `_MC_PLANE_REDUCE(`$1', `$2', `$3', `const float *restrict p', `_MC_PR_SUM')')
m4_define(`MC_PLANE_DOT', `_MC_PLANE_REDUCE(`$1', `$2', `', `const float *restrict p, const float *restrict q', `_MC_PR_DOT')')
m4_define(`_MC_PR_HALF', `__builtin_convertvector(*(const mc_vh *)($1), mc_vhd)')
m4_define(`_MC_PR_SUM', `_MC_PR_HALF(`p + $1')')
m4_define(`_MC_PR_DOT', `_MC_PR_HALF(`p + $1') * _MC_PR_HALF(`q + $1')')
m4_define(`_MC_PR_SUM_AT', `p[$1]')
m4_define(`_MC_PR_DOT_AT', `(double)p[$1] * q[$1]')
# _MC_PLANE_REDUCE(fn, count, ahead, params, term): term(offset) the
# double lanes of half a vector at offset, term`'_AT(i) of one float.
m4_define(`_MC_PLANE_REDUCE',
`MC_VEC_PRELUDE()m4_dnl
static inline double $1($4)
{
    mc_vhd s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int i = 0;
    for (; i + m4_eval(2 * VL) <= $2; i += m4_eval(2 * VL)) {
m4_ifelse(`$3', `', `', `MC_PREFETCH_LINES(`        ', `p + i + $3', m4_eval((2 * VL + 15) / 16), 0)')m4_dnl
        s0 += $5(`i');
        s1 += $5(`i + m4_eval(VL / 2)');
        s2 += $5(`i + VL');
        s3 += $5(`i + m4_eval(3 * VL / 2)');
    }
m4_ifelse(`$3', `', `', `MC_PREFETCH_LINES(`    ', `p + i + $3', m4_eval(($2 % (2 * VL) + 15) / 16), 0)')m4_dnl
    for (; i + m4_eval(VL / 2) <= $2; i += m4_eval(VL / 2))
        s0 += $5(`i');
    s0 += s1 + (s2 + s3);
    double s = 0.0;
    for (int l = 0; l < m4_eval(VL / 2); l++)
        s += s0[l];
    for (; i < $2; i++)
        s += m4_indir(`$5'`_AT', `i');
    return s;
}
')

# MC_BIAS_GRAD(channels, stride[, sums]): in a backward with a bias (BIAS
# 1), its gradient: per channel c (threads over channels), the sum in
# double of its output-gradient planes over the batch (plane c of image b
# at dy + (b * stride + c) * HO * WO, summed by NAME_bias_sum), added to
# dbias once. With sums (an array of doubles), each sum is stored there
# too, with a bias or without.
m4_define(`MC_BIAS_GRAD',
`m4_ifelse(m4_eval(BIAS || m4_len(`$3') > 0), 1, `    MC_OMP_FOR
    for (int c = 0; c < $1; c++) {
        double gb = 0;
        for (int b = 0; b < n; b++)
            gb += NAME`'_bias_sum(dy + ((long)b * $2 + c) * m4_eval(HO * WO));
m4_ifelse(`$3', `', `', `        $3[c] = gb;
')m4_dnl
m4_ifelse(BIAS, 1, `        dbias[c] += (float)gb;
')m4_dnl
    }
')m4_dnl
m4_ifelse(BIAS, 1, `', `    (void)dbias;
')')

# MC_BN_SUMS(fn, pixels, pitch, groups, m2): static void fn(yt, st), the
# batch statistics of one image's result for the batch norm after its
# producer (plan.c, producer_statistics; batchnorm.m4 PSTATS combines the
# images'): yt channels last, pixel p's channel g * VL + l at yt + p *
# pitch + g * VL + l, for groups of VL channels; per channel its mean over
# the pixels to st, the sum of squared deviations from that mean to st +
# m2. The result is in cache: two passes over it, the sums in double lanes
# as the batch norm sums (8 chains of float adds over chunks of 32 pixels,
# each chunk added in double: a conversion per pixel made the Multiception
# forward 1.4x slower), cost little against the batch norm reading its
# input twice from memory. The sums go through vectors on the stack, of
# which only the real channels are stored: where m2, the channel count,
# leaves the last group partial (channels padded to whole vectors:
# conv.m4), its first m2 % VL.
m4_define(`MC_BN_SUMS',
`static void $1(const float *restrict yt, float *restrict st)
{
    for (int g = 0; g < $4; g++) {
        const float *restrict yg = yt + g * VL;
        mc_vhd sum[2] = {{0}, {0}}, sq[2] = {{0}, {0}};
MC_BN_SUMS_PASS(`sum', `', $2, $3)m4_dnl
        _Alignas(64) float m[VL], q[VL];
        *(mc_vh *)m = __builtin_convertvector(sum[0] / $2, mc_vh);
        *(mc_vh *)(m + m4_eval(VL / 2)) = __builtin_convertvector(sum[1] / $2, mc_vh);
        const mc_vf mean = *(const mc_vf *)m;
MC_BN_SUMS_PASS(`sq', `MC_BN_SQDEV', $2, $3)m4_dnl
        *(mc_vh *)q = __builtin_convertvector(sq[0], mc_vh);
        *(mc_vh *)(q + m4_eval(VL / 2)) = __builtin_convertvector(sq[1], mc_vh);
        const int count = m4_ifelse(m4_eval($5 % VL), 0, VL, `g == m4_eval($4 - 1) ? m4_eval($5 % VL) : VL');
        memcpy(st + g * VL, m, sizeof(float) * count);
        memcpy(st + $5 + g * VL, q, sizeof(float) * count);
    }
}
')
# MC_BN_SUMS_PASS(sum, term, pixels, pitch): the sum over the pixels of yg
# of term(v), v a pixel (VL channels), added to sum, two double vectors.
m4_define(`MC_BN_SUMS_PASS',
`        for (int p0 = 0; p0 < $3; p0 += 32) {
            const int end = p0 + 32 < $3 ? p0 + 32 : $3;
            mc_vf MC_FOR(`u', 0, 7, `m4_ifelse(u, 0, `', `, ')a`'u = {0}');
            int p = p0;
            for (; p + 8 <= end; p += 8) {
MC_FOR(`u', 0, 7, `                const mc_vf v`'u = *(const mc_vf *)(yg + (p + u) * $4);
                a`'u += $2(v`'u);
')m4_dnl
            }
            for (; p < end; p++) {
                const mc_vf v0 = *(const mc_vf *)(yg + p * $4);
                a0 += $2(v0);
            }
            const mc_vf a = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
            mc_vf_add_double($1, &a);
        }
')
m4_define(`MC_BN_SQDEV', `($1 - mean) * ($1 - mean)')

# MC_NCH(floats): the fixed chunks of images of a filter gradient whose
# threads each sum whole chunks into a part of their own, floats each, the
# parts added in chunk order (the same bits on any thread count): 16, or
# fewer (at least 2) where 16 parts would pass 16 L2 budgets (4 MB).
m4_define(`MC_NCH', `m4_ifelse(m4_eval(($1) * 16 <= 16 * L2_FLOATS), 1, 16,
    m4_eval(($1) * 2 >= 16 * L2_FLOATS), 1, 2, `m4_eval(16 * L2_FLOATS / ($1))')')

# MC_IMAGE_CHUNKS(parts, nch, floats, body): inside a parallel region, the
# images in nch fixed chunks, a thread taking whole chunks, each
# chunk's sums into its own part of parts (floats each, cleared first):
# body, for image b, adds into part. The caller adds the parts in chunk
# order after the region.
m4_define(`MC_IMAGE_CHUNKS',
`        MC_OMP_FOR_IN
        for (int k = 0; k < $2; k++) {
            float *restrict part = $1 + (long)k * $3;
            memset(part, 0, sizeof(float) * $3);
            for (int b = k * n / $2; b < (k + 1) * n / $2; b++) {
$4            }
        }
')

# MC_ADD_OR_STORE(indent, loop, lhs, rhs[, flag]): the last pass of a
# backward into an input gradient: lhs += rhs in the loop, or lhs = rhs
# when acc (or the C flag given) is 0 (the kernel writes that gradient
# first: nothing cleared it).
m4_define(`MC_ADD_OR_STORE',
`$1if (m4_ifelse(`$5', `', `acc', `$5'))
$1    $2
$1        $3 += $4;
$1else
$1    $2
$1        $3 = $4;
')

# A batch norm or add that does the activation after it (FUSED relu or
# relu6, plan.c; none without): MC_FUSED_OUT(v), one result v as written;
# MC_FUSED_PASSES(y), whether the output y let the output gradient through
# (for a float, or lane by lane for a vector, as a mask).
m4_define(`MC_FUSED_OUT', `m4_ifelse(FUSED, relu, `($1 < 0 ? 0 : $1)', FUSED, relu6, `($1 < 0 ? 0 : ($1 > 6 ? 6 : $1))', `$1')')
m4_define(`MC_FUSED_PASSES', `m4_ifelse(FUSED, relu, `($1 > 0)', FUSED, relu6, `(($1 > 0) & ($1 < 6))', `1')')
# MC_MASKED(text): text when a fused activation keeps its bits (FUSED_READS
# bits: relu and relu6; plan.c).
m4_define(`MC_MASKED', `m4_ifelse(FUSED_READS, bits, `$1')')
# MC_FUSED_OUT_V(v): MC_FUSED_OUT of a vector (ReLU6: its lanes not below 0
# and not above 6, or 6 where above; NaN stays NaN, as the scalar form
# keeps it and PyTorch does).
m4_define(`MC_FUSED_OUT_V', `m4_ifelse(FUSED, relu, `(mc_vf)((mc_vi)($1) & ~($1 < 0))',
    FUSED, relu6, `(mc_vf)(((mc_vi)($1) & ~($1 < 0) & ~($1 > 6)) | ((mc_vi)((mc_vf){0} + 6) & ($1 > 6)))', `$1')')

# MC_TRAINING_ONLY(text): text, except in the inference library, which
# has no backward and no training forward.
m4_define(`MC_TRAINING_ONLY', `m4_ifelse(INFERENCE, 1, `', `$1')')

# MC_STATIC(type, name, count): a kernel's scratch array, written and read
# within one call, before and between its parallel regions. In a training
# step it is static (no allocation in a step, one step at a time). The
# inference library may run on several threads at once: there it is the
# scratch part of the workspace of the caller, which the infer function
# hands its kernels through a thread-local pointer; each kernel file
# reports the most one of its kernels takes (model.m4).
m4_define(`MC_STATIC', `MC_STATIC_AT(`$1', `$2', `$3', 0)')
# MC_STATIC_AT(type, name, count, offset[, zero]): the same for one of
# several arrays of a kernel, offset elements into the scratch (a
# multiple of 16); with zero, all zeros before the call uses it (a
# padded image whose border the call never writes: the static array
# zeroed once, the scratch every call).
m4_define(`MC_STATIC_AT', `m4_ifelse(INFERENCE, 1,
`m4_define(`MC_SCRATCH_MAX', MC_MAX(MC_SCRATCH_MAX, m4_eval(($4 + $3) * sizeof_$1)))m4_dnl
$1 *restrict $2 = ($1 *)MODEL`'_scratch + $4`'m4_ifelse(`$5', `', `', `;
    memset($2, 0, sizeof($1) * m4_eval($3))')',
`static _Alignas(64) $1 $2[$3]`'m4_ifelse(`$5', `', `', ` = {0}')')')
m4_define(`MC_SCRATCH_MAX', 0)
m4_define(`sizeof_float', 4)
m4_define(`MC_MAX', `m4_ifelse(m4_eval(($1) > ($2)), 1, `m4_eval($1)', `m4_eval($2)')')

# MC_GENERATED(model, template): the first line of every emitted file.
# (MC_TARGET names the template folder: c unless the target set it.)
m4_ifdef(`MC_TARGET', `', `m4_define(`MC_TARGET', `c')')
m4_define(`MC_GENERATED',
`/* Generated by mcgen from $1 with templates/MC_TARGET/$2.m4`'m4_ifelse(MC_TARGET, c, ` for the MC_CPU CPU target')`'; do not edit. */')

# MC_MIN(a, b): the smaller of two integers, at generation time.
m4_define(`MC_MIN', `m4_ifelse(m4_eval(($1) < ($2)), 1, `m4_eval($1)', `m4_eval($2)')')

# Pointers into the areas of a step (see mc_model.h and its step pointers
# macro); offsets are the plan's (activation and extra offsets count
# per-image floats, so they scale with the batch n). In the inference
# library the activations are the workspace of the caller, whose slots the
# emitter reuses, and a negative slot is the images of the caller.
m4_define(`MC_ACT', `m4_ifelse(INFERENCE, 1, `m4_ifelse(m4_eval(($1) < 0), 1, `images', `MC_ACT_AT($@)')', `MC_ACT_AT($@)')')
m4_define(`MC_ACT_AT', `(act + (long)($1) * n`'m4_ifelse(`$2', `', `', ` + $2'))')
m4_define(`MC_DACT', `(dact + (long)($1) * n`'m4_ifelse(`$2', `', `', ` + $2'))')
m4_define(`MC_PARAM', `m4_ifelse(m4_eval($1 < 0), 1, `0', `(par + $1)')')
m4_define(`MC_GRAD', `m4_ifelse(m4_eval($1 < 0), 1, `0', `(grad + $1)')')
m4_define(`MC_BUF', `(buf + $1)')
m4_define(`MC_COUNTER', `(cnt + $1)')
m4_define(`MC_SAVED', `(sav + $1)')
# MC_MASK(slot): the activation bits at that slot (plan.c, mask_activations):
# per plane of H x W values mc_bits words (one a vector: VL bits), bit l of
# word w for value VL w + l; an image's planes one after the other, the
# images whole floats apart. MC_PLANE_MASK(mask, b, c): the words of plane
# c of image b.
m4_define(`MC_MASK', `((MC_BITS_TYPE *)MC_ACT($1))')
m4_define(`MC_MASK_WORDS', `m4_eval((H * W + VL - 1) / VL)')
m4_define(`MC_PLANE_MASK', `$1 + (long)($2) * m4_eval((C * MC_MASK_WORDS * BITS_BYTES + 3) / 4 * 4 / BITS_BYTES) + ($3) * MC_MASK_WORDS')
m4_define(`MC_EXTRA', `(ext + (long)($1) * n)')
m4_divert(0)m4_dnl
