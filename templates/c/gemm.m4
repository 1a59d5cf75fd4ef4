m4_divert(-1)
# Matrix products with literal sizes, register-blocked, for the dense
# convolutions (conv.m4 includes this file once). Row-major, accumulating:
# the caller sets c.
#
# MC_GEMM_NN(fn, M, N, K[, split[, flags]]): static void fn(a, b, c): c[M x N] +=
# a[M x K] b[K x N] (= with the flag store). Threads share its tiles of columns, in a parallel
# region of its own (a caller whose images take turns). With split:
# static void fn(a, b, c, par), its tiles of columns parts (the part
# runner of common.m4), shared out over the team calling it when par is
# nonzero, run in order otherwise (a caller that runs an image per thread:
# a parallel region nested in each call, though on one thread, made the
# pointwise forwards 1.1x to 1.2x slower). With the flag act, each
# element of c is stored through the activation FUSED (activation.m4): a
# forward that applies the activation after it (the inference library).
# MC_GEMM_NN_TAPS(fn, M, N, C, KS, PLANE, ROW[, split[, flags]]): the same with row p of b
# not at p * N but at a shifted view of a padded image: p = (ci, ky, kx)
# over C channels and a KS x KS window, row at ci * PLANE + ky * ROW + kx
# (the rows of an im2col matrix, never built). N is a multiple of 16.
# MC_GEMM_NT_TAPS(fn, M, N, C, KS, PLANE, ROW, ASTRIDE, BSTRIDE[, inner]): static
# void fn(nb, a, b, c): c[M x C*KS*KS] += the sum over nb images i of
# a_i[M x N] b_i^T, with a_i at a + i ASTRIDE and the rows of b_i, at
# b + i BSTRIDE, as above: dot products of rows.
# MC_GEMM_NN_CL(fn, M, C, KS, HO, WO, WP, ASTRIDE, BSTRIDE[, serial[, S[, APITCH]]]): static void
# fn(nb, a, b, c): c[M x KS*KS*C] += the sum over nb images i of
# a_i[M x HO*WO] B_i, a_i at a + i ASTRIDE (its rows APITCH floats apart,
# HO * WO unless given: a band of rows of larger planes), where row p = (oy, ox) of B_i,
# column (ky, kx, ci), is b_i[((oy S + ky) * WP + ox S + kx) * C + ci] (b_i at
# b + i BSTRIDE; S 1 unless given): a padded image with its channels last,
# seen through the tap (ky, kx). C is a multiple of the lanes (channels
# padded: conv.m4), so no vector of columns straddles two taps. Threads
# share its blocks of rows, unless serial (the caller runs one per thread).
# MC_GEMM_CL_FWD(fn, P, WO, N, C, KS, WP[, act]): static void fn(a, b, bias, c):
# the forward in that layout, c[P x N] = (a padded channels-last image
# seen through every tap) b, through FUSED with act; see below.
#
# A tile of 8 rows x 32 columns of c (16 vectors of 16 floats) stays in
# registers over the whole sum; per term it loads 2 vectors of b and 8
# elements of a (broadcast) for 16 vector multiply-adds, so the loop runs
# at the speed of the multiply-adds, not of loads and stores of c. Columns
# left over take a narrower tile, its last vector partial (masked); rows
# left over a shorter one. Every element of c adds its terms in p order
# whatever the tile, so results do not depend on the blocking or on the
# thread count. Threads take tiles of 32 columns (the plain and tap
# products) or blocks of 8 rows (the others; 4 in the transposed form).
# 8 x 2 measured best of 4 x 4, 6 x 4, 8 x 3, 8 x 4, 12 x 2 and 16 x 1
# (resnet20 MC, 1 thread: the step 8% faster than 4 x 4; the 3x3 convs
# with 16 channels at 28 x 28 a third faster); it reads 2 vectors of b
# per 16 multiply-adds, the loads that split over two cache lines where a
# tap is not aligned (4 x 4 reads 4).
# The tiles are the target's (generator/target.c: GEMM_MR x GEMM_NV,
# GEMM_CL_MR x GEMM_CL_NV, GEMM_NT_MR), VL floats a vector; the figures
# above are the avx512 target's.
m4_define(`MC_GEMM_VL', VL)
m4_define(`MC_GEMM_MR', GEMM_MR)
m4_define(`MC_GEMM_NV', GEMM_NV)
m4_define(`MC_GEMM_NT_MR', GEMM_NT_MR)
m4_define(`MC_GEMM_CL_MR', GEMM_CL_MR)
m4_define(`MC_GEMM_CL_NV', GEMM_CL_NV)

# The loop over the terms p of a product: GEMM_TERMS opens it (the brace
# is closed by the tile), GEMM_BROW is where row p of b starts; each
# product defines them for its kind of b.
m4_define(`GEMM_PLAIN_TERMS',
`m4_define(`GEMM_TERMS', `            for (int p = 0; p < $2; p++) {
')m4_define(`GEMM_BROW', `p * $1')')
m4_define(`GEMM_TAP_TERMS',
`m4_define(`GEMM_TERMS', `            for (int ci = 0, p = 0; ci < $1; ci++)
            for (int ky = 0; ky < $2; ky++)
            for (int kx = 0; kx < $2; kx++, p++) {
')m4_define(`GEMM_BROW', `ci * $3 + ky * $4 + kx')')

# MC_GEMM_TILE(rows, vecs, N, K, j0, tail): c[i0, i0 + rows) x [j0, j0 + 16 vecs),
# the last vector only its first tail columns when tail is given (loaded
# and stored masked).
m4_define(`MC_GEMM_TILE',
`m4_pushdef(`GPART', m4_ifelse(`$6', `', -1, m4_eval($2 - 1)))m4_pushdef(`GCOUNT', `$6')m4_dnl
        {
MC_FOR(`GR', 0, m4_eval($1 - 1), `            float *restrict c`'GR = c + (i0 + GR) * $3 + $5;
            const float *restrict a`'GR = a + (i0 + GR) * $4;
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `            GEMM_SUM(`s'GR`_'GV, c`'GR + m4_eval(GV * MC_GEMM_VL), GV, GR)
')')m4_dnl
GEMM_TERMS()m4_dnl
                const float *restrict bp = b + GEMM_BROW + $5;
                /* The tile two to the right, for the first row block: a
                 * tile reads a piece of every row of b (a pointwise conv:
                 * of every input plane), dozens of short streams that the
                 * hardware prefetchers take up late (the pointwise forward
                 * 48 -> 16 at 28 x 28 1.7x faster). */
                __builtin_prefetch(bp + m4_eval(4 * MC_GEMM_VL), 0, 3);
                __builtin_prefetch(bp + m4_eval(5 * MC_GEMM_VL), 0, 3);
MC_FOR(`GV', 0, m4_eval($2 - 1), `                GEMM_VLOAD(`b'GV, bp + m4_eval(GV * MC_GEMM_VL), GV)
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `                const float x`'GR = a`'GR[p];
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                s`'GR`'_`'GV += x`'GR * b`'GV;
')')m4_dnl
            }
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `            GEMM_VSTORE(c`'GR + m4_eval(GV * MC_GEMM_VL), `s'GR`_'GV, GV)
')')m4_dnl
        }
m4_popdef(`GPART', `GCOUNT')m4_dnl
')

# GEMM_VLOAD(v, p, index): declare the vector v and load it from p (the
# partial vector masked); GEMM_VSTORE(p, v, index) stores it back, through
# the activation when the product has one (its only store of the
# element, the sum complete).
m4_define(`GEMM_VLOAD', `m4_ifelse(m4_eval($3 == GPART), 1,
`mc_vf $1; mc_vf_part(&$1, $2, GCOUNT);', `mc_vf $1 = *(const mc_vf *)($2);')')
m4_define(`GEMM_VSTORE', `m4_ifelse(GEMM_ACT, 1, `$2 = ACT_FUSED_V($2); ')m4_ifelse(m4_eval($3 == GPART), 1,
`mc_vf_store_part($1, &$2, GCOUNT);', `*(mc_vf *)($1) = $2;')')
m4_define(`GEMM_ACT', 0)
# GEMM_WITH_FLAGS(flags, text): text with GEMM_ACT 1 when the flags name
# act; GEMM_STORE 1 when they name store or bias: the product is the
# whole of c, its tiles start from 0 (store) or from the bias of their
# row (bias: the product takes bias[M] after a) instead of loading c,
# which the caller need not set. With fold (GEMM_FOLD 1), the tiles
# start from the line of a batch norm's input gradient, row r of c from
# fa[r] * (xf - fm[r]) + fb[r] (xf laid out as c), plus c itself when
# facc: a batch norm folded into the pointwise conv after it (conv.m4)
# writes its input gradient in the product's one pass over c.
m4_define(`GEMM_WITH_FLAGS', `m4_pushdef(`GEMM_ACT', m4_eval(m4_index(`$1', `act') >= 0))m4_dnl
m4_pushdef(`GEMM_BIAS', m4_eval(m4_index(`$1', `bias') >= 0))m4_dnl
m4_pushdef(`GEMM_FOLD', m4_eval(m4_index(`$1', `fold') >= 0))m4_dnl
m4_pushdef(`GEMM_STORE', m4_eval(GEMM_BIAS || m4_index(`$1', `store') >= 0))$2`'m4_popdef(`GEMM_ACT', `GEMM_BIAS', `GEMM_FOLD', `GEMM_STORE')')
m4_define(`GEMM_STORE', 0)
m4_define(`GEMM_BIAS', 0)
m4_define(`GEMM_FOLD', 0)
# GEMM_SUM(v, p, index, row): the tile sum v of row i0 + row, from c at
# p, from 0, from the bias of the row or from the fold's line.
m4_define(`GEMM_SUM', `m4_ifelse(GEMM_FOLD, 1, `GEMM_VLOAD($1, xf + ($2 - c), $3)
            $1 = fa[i0 + $4] * ($1 - fm[i0 + $4]) + fb[i0 + $4];
            if (facc) {
                GEMM_VLOAD($1`'_c, $2, $3)
                $1 += $1`'_c;
            }', GEMM_BIAS, 1, `mc_vf $1 = (mc_vf){0} + bias[i0 + $4];',
    GEMM_STORE, 1, `mc_vf $1 = (mc_vf){0};', `GEMM_VLOAD($1, $2, $3)')')
# GEMM_PARAMS, GEMM_ARGS: the parameters of a product, and its arguments
# to its parts.
m4_define(`GEMM_PARAMS', `const float *restrict a, m4_ifelse(GEMM_BIAS, 1, `const float *restrict bias, ')const float *restrict b, float *restrict c`'m4_ifelse(GEMM_FOLD, 1, `,
    const float *restrict xf, const float *restrict fm, const float *restrict fa, const float *restrict fb, int facc')')
m4_define(`GEMM_ARGS', `a, m4_ifelse(GEMM_BIAS, 1, `bias, ')b, c`'m4_ifelse(GEMM_FOLD, 1, `, xf, fm, fa, fb, facc')')

# GEMM_ROW_BLOCKS(M, tile, args[, rows]): the row blocks of M rows,
# tile(rows, args) for each: blocks of 8 (or of rows) from i0, then the
# rows left.
m4_define(`GEMM_ROW_BLOCKS',
`m4_pushdef(`GMR', m4_ifelse(`$4', `', MC_GEMM_MR, `$4'))m4_dnl
m4_pushdef(`GM', m4_eval($1 / GMR * GMR))m4_dnl
m4_ifelse(m4_eval(GM > 0), 1, `        for (int i0 = 0; i0 < GM; i0 += GMR)
$2(GMR, $3)')m4_dnl
m4_ifelse(m4_eval(GM < $1), 1, `        {
        const int i0 = GM;
$2(m4_eval($1 - GM), $3)m4_dnl
        }
')m4_dnl
m4_popdef(`GM', `GMR')m4_dnl
')

# GEMM_COLS(M, vecs, N, K, j0, tail): every row block of the columns from
# j0 (vecs vectors, the last partial when tail is given).
m4_define(`GEMM_COLS', `GEMM_ROW_BLOCKS($1, `MC_GEMM_TILE', `$2, $3, $4, $5, $6')')

# GEMM_BODY(M, N, K): column tiles of 4 vectors outer, threads taking
# them, row blocks inner, so that the K x 64 floats
# of b a tile reads stay in cache for every row block; then the columns
# left, the last vector partial.
m4_define(`GEMM_BODY',
`GEMM_PUSH_COLS($2)m4_dnl
m4_ifelse(m4_eval(GFULL > 0), 1, `    MC_OMP_FOR
    for (int j0 = 0; j0 < GFULL; j0 += GW) {
GEMM_COLS($1, MC_GEMM_NV, $2, $3, j0)m4_dnl
    }
')m4_dnl
m4_ifelse(GEMM_HAS_TAIL, 1, `    {
GEMM_TAIL_COLS($1, $2, $3)m4_dnl
    }
')m4_dnl
GEMM_POP_COLS()m4_dnl
')

# GEMM_PUSH_COLS(N): the column tiles of N columns: GW columns a tile,
# GFULL in whole tiles, then GVECS whole vectors and a partial one of
# GTAIL columns; GEMM_HAS_TAIL 1 when columns are left after the tiles.
m4_define(`GEMM_PUSH_COLS',
`m4_pushdef(`GW', m4_eval(MC_GEMM_NV * MC_GEMM_VL))m4_dnl
m4_pushdef(`GFULL', m4_eval($1 / GW * GW))m4_dnl
m4_pushdef(`GVECS', m4_eval(($1 - GFULL) / MC_GEMM_VL))m4_dnl
m4_pushdef(`GTAIL', m4_eval($1 - GFULL - GVECS * MC_GEMM_VL))m4_dnl
m4_pushdef(`GEMM_HAS_TAIL', m4_eval(GFULL < $1))')
m4_define(`GEMM_POP_COLS', `m4_popdef(`GW', `GFULL', `GVECS', `GTAIL', `GEMM_HAS_TAIL')')
# GEMM_TAIL_COLS(M, N, K): every row block of the columns after the tiles.
m4_define(`GEMM_TAIL_COLS', `m4_ifelse(GTAIL, 0, `GEMM_COLS($1, GVECS, $2, $3, GFULL)',
    `GEMM_COLS($1, m4_eval(GVECS + 1), $2, $3, GFULL, GTAIL)')')

# The parts of a split product: its tiles of columns, each cut into
# chunks of its row blocks (GEMM_CHUNKS) where there are fewer than
# GEMM_MIN_PARTS tiles, so that a few threads share out a small plane
# evenly (a 12 x 12 plane is 5 tiles of columns on avx512: 3 against 2).
m4_define(`GEMM_MIN_PARTS', 16)
# GEMM_CHUNKS(blocks, tiles): the chunks of row blocks a tile is cut into.
m4_define(`GEMM_CHUNKS', `m4_ifelse(m4_eval($1 < 2), 1, 1, `MC_MIN($1, m4_eval((GEMM_MIN_PARTS + $2 - 1) / $2))')')
# GEMM_CHUNK_RANGE(chunks, blocks, rows, tail[, final]): the start of a
# part function: its chunk of row blocks, rows lo .. hi - 1 (blocks of
# rows rows), last when it is the last chunk (which takes the tail rows,
# when tail is 1); t becomes the tile of columns (unless final: the part
# has one).
m4_define(`GEMM_CHUNK_RANGE',
`m4_ifelse(m4_eval($2 > 0), 1, `m4_ifelse($1, 1, `    const int lo = 0, hi = m4_eval($2 * $3);
', `    const int lo = t % $1 * $2 / $1 * $3, hi = (t % $1 + 1) * $2 / $1 * $3;
')')m4_dnl
m4_ifelse($4, 1, `    const int last = m4_ifelse($1, 1, 1, `t % $1 == m4_eval($1 - 1)');
')m4_dnl
m4_ifelse($1, 1, `', `$5', final, `', `    t /= $1;
')')
# GEMM_ONE_PART(parts): a part function of one part does not read t.
m4_define(`GEMM_ONE_PART', `m4_ifelse($1, 1, `    (void)t; /* the only part */
')')
# GEMM_ROW_RANGE(M, tile, args[, rows]): the row blocks from row lo to hi
# of M rows (blocks of rows, else of the target tile height), and the rows
# left when last, tile(rows, args) each.
m4_define(`GEMM_ROW_RANGE',
`m4_pushdef(`GMR', m4_ifelse(`$4', `', MC_GEMM_MR, `$4'))m4_dnl
m4_pushdef(`GM', m4_eval($1 / GMR * GMR))m4_dnl
m4_ifelse(m4_eval(GM > 0), 1, `        for (int i0 = lo; i0 < hi; i0 += GMR)
$2(GMR, $3)')m4_dnl
m4_ifelse(m4_eval(GM < $1), 1, `        if (last) {
        const int i0 = GM;
$2(m4_eval($1 - GM), $3)m4_dnl
        }
')m4_dnl
m4_popdef(`GM', `GMR')m4_dnl
')

# GEMM_SPLIT(fn, M, N, K): the split form of the products above (their
# flags: GEMM_WITH_FLAGS): fn_part(a, b, c, t) computes part t (the columns
# left after the whole tiles the last tile), fn(a, b, c, par) runs the
# parts.
m4_define(`GEMM_SPLIT',
`GEMM_PUSH_COLS($3)m4_dnl
m4_pushdef(`GSB', m4_eval($2 / MC_GEMM_MR))m4_dnl
m4_pushdef(`GSCH', GEMM_CHUNKS(GSB, m4_eval(GFULL / GW + GEMM_HAS_TAIL)))m4_dnl
static __attribute__((noinline)) void $1_part(GEMM_PARAMS, int t)
{
GEMM_ONE_PART(m4_eval((GFULL / GW + GEMM_HAS_TAIL) * GSCH))m4_dnl
GEMM_CHUNK_RANGE(GSCH, GSB, MC_GEMM_MR, m4_eval($2 % MC_GEMM_MR > 0))m4_dnl
m4_ifelse(m4_eval(GFULL > 0), 1, `    if (t < m4_eval(GFULL / GW)) {
        const int j0 = t * GW;
GEMM_ROW_RANGE($2, `MC_GEMM_TILE', `MC_GEMM_NV, $3, $4, j0')m4_dnl
        return;
    }
')m4_dnl
m4_ifelse(GEMM_HAS_TAIL, 1, `    {
m4_ifelse(GTAIL, 0, `GEMM_ROW_RANGE($2, `MC_GEMM_TILE', `GVECS, $3, $4, GFULL')',
    `GEMM_ROW_RANGE($2, `MC_GEMM_TILE', `m4_eval(GVECS + 1), $3, $4, GFULL, GTAIL')')m4_dnl
    }
')m4_dnl
}

MC_PARTS($1, m4_eval((GFULL / GW + GEMM_HAS_TAIL) * GSCH), `GEMM_PARAMS', `GEMM_ARGS')m4_dnl
m4_popdef(`GSB', `GSCH')m4_dnl
GEMM_POP_COLS()m4_dnl
')

m4_define(`MC_GEMM_NN',
`MC_VEC_PRELUDE()m4_dnl
GEMM_PLAIN_TERMS($3, $4)m4_dnl
GEMM_WITH_FLAGS(`$6', `m4_ifelse(`$5', `split', `GEMM_SPLIT($1, $2, $3, $4)', `static void $1(GEMM_PARAMS)
{
GEMM_BODY($2, $3, $4)m4_dnl
}
')')')

m4_define(`MC_GEMM_NN_TAPS',
`MC_VEC_PRELUDE()m4_dnl
GEMM_TAP_TERMS($4, $5, $6, $7)m4_dnl
GEMM_WITH_FLAGS(`$9', `m4_ifelse(`$8', `split', `GEMM_SPLIT($1, $2, $3, m4_eval($4 * $5 * $5))', `static void $1(GEMM_PARAMS)
{
GEMM_BODY($2, $3, m4_eval($4 * $5 * $5))m4_dnl
}
')')')

# The transposed form sums over images too. A row block of c keeps its
# sums in 16-lane vectors (sums, one per element) while the images go by,
# each image once: its rows stay in cache for every tile of the block. A
# tile of 4 rows of a against 4 rows of b holds 16 of those sums in
# registers over the 16-float chunks of the rows of one image (a short
# tail as a partial vector); each sum is added across its lanes, in a
# fixed order, into c at the end.
# GEMM_NT_TILE(rows, cols, N, KK, KS, PLANE, ROW, ASTRIDE, BSTRIDE): c[i0, i0 + rows) x [k0, k0 + cols), image i.
m4_define(`GNT_INNER', 0)
m4_define(`GEMM_NT_TILE',
`m4_pushdef(`GN16', m4_eval($3 / MC_GEMM_VL * MC_GEMM_VL))m4_dnl
            {
m4_ifelse(GNT_INNER, 1, `', `GEMM_NT_POINTERS($1, $2, $3, $5, $6, $7, $8, $9)')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                mc_vf s`'GR`'_`'GV = m4_ifelse(GNT_INNER, 1, `(mc_vf){0}', `sums[(i0 + GR) * $4 + k0 + GV]');
')')m4_dnl
m4_ifelse(GNT_INNER, 1, `                for (int i = 0; i < nb; i++) {
GEMM_NT_POINTERS($1, $2, $3, $5, $6, $7, $8, $9)m4_dnl
')m4_dnl
m4_ifelse(m4_eval(GN16 > 0), 1, `                for (int p = 0; p < GN16; p += MC_GEMM_VL) {
GEMM_NT_TERM($1, $2)m4_dnl
                }
')m4_dnl
m4_ifelse(m4_eval(GN16 < $3), 1, `                {
GEMM_NT_TERM($1, $2, m4_eval($3 - GN16))m4_dnl
                }
')m4_dnl
m4_ifelse(GNT_INNER, 1, `                }
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                c[(i0 + GR) * $4 + k0 + GV] += mc_vf_sum(&s`'GR`'_`'GV);
')')', `MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                sums[(i0 + GR) * $4 + k0 + GV] = s`'GR`'_`'GV;
')')')m4_dnl
            }
m4_popdef(`GN16')m4_dnl
')

# GEMM_NT_POINTERS(rows, cols, N, KS, PLANE, ROW, ASTRIDE, BSTRIDE): the rows of the tile in image i.
m4_define(`GEMM_NT_POINTERS',
`MC_FOR(`GR', 0, m4_eval($1 - 1), `                const float *restrict a`'GR = a + (long)i * $7 + (i0 + GR) * $3;
')m4_dnl
MC_FOR(`GV', 0, m4_eval($2 - 1), `                const float *restrict b`'GV = b + (long)i * $8 + GEMM_NT_ROW(k0 + GV, $4, $5, $6);
')')

# GEMM_NT_TERM(rows, cols, tail): one chunk of every pair of the tile: 16
# floats at p, or the last tail floats.
m4_define(`GEMM_NT_TERM',
`m4_ifelse(`$3', `', `MC_FOR(`GR', 0, m4_eval($1 - 1), `                    const mc_vf x`'GR = *(const mc_vf *)(a`'GR + p);
')MC_FOR(`GV', 0, m4_eval($2 - 1), `                    const mc_vf y`'GV = *(const mc_vf *)(b`'GV + p);
')', `MC_FOR(`GR', 0, m4_eval($1 - 1), `                    mc_vf x`'GR;
                    mc_vf_part(&x`'GR, a`'GR + GN16, $3);
')MC_FOR(`GV', 0, m4_eval($2 - 1), `                    mc_vf y`'GV;
                    mc_vf_part(&y`'GV, b`'GV + GN16, $3);
')')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                    s`'GR`'_`'GV += x`'GR * y`'GV;
')')m4_dnl
')

# GEMM_NT_ROW(k, KS, PLANE, ROW): where row k = (ci, ky, kx) of b starts.
m4_define(`GEMM_NT_ROW', `m4_ifelse($2, 1, `($1) * $3', `(($1) / m4_eval($2 * $2) * $3 + ($1) / $2 % $2 * $4 + ($1) % $2)')')

# GEMM_NT_ROWS(rows, N, KK, KS, PLANE, ROW, ASTRIDE, BSTRIDE): every column of c in the rows i0 .. i0 + rows, image i.
m4_define(`GEMM_NT_ROWS',
`m4_pushdef(`GKF', m4_eval($3 / 4 * 4))m4_dnl
m4_ifelse(m4_eval(GKF > 0), 1, `            for (int k0 = 0; k0 < GKF; k0 += 4)
GEMM_NT_TILE($1, 4, $2, $3, $4, $5, $6, $7, $8)')m4_dnl
m4_ifelse(m4_eval(GKF < $3), 1, `            {
            const int k0 = GKF;
GEMM_NT_TILE($1, m4_eval($3 - GKF), $2, $3, $4, $5, $6, $7, $8)m4_dnl
            }
')m4_dnl
m4_popdef(`GKF')m4_dnl
')

# The images are the outer loop, so that each is read from memory once,
# and threads take the row blocks of each image (the same ones each time:
# static schedules of equal loops), then the lane sums of their rows.
# With inner (the plan's, for planes of a few vectors) the images are the
# inner loop of each tile instead: its sums stay in registers over the
# whole batch, where a plane of one vector loaded and stored each sum for
# a single multiply-add; the rows of every image, which a tile of each
# block reads again, are small. Either way each sum adds its terms in the
# same order.
m4_define(`GEMM_NT_BLOCKS',
`            for (int i0 = 0; i0 < $2; i0 += MC_GEMM_NT_MR) {
m4_ifelse(GM, $2, `GEMM_NT_ROWS(MC_GEMM_NT_MR, $3, GKK, $5, $6, $7, $8, $9)',
GM, 0, `GEMM_NT_ROWS($2, $3, GKK, $5, $6, $7, $8, $9)',
`                if (i0 < GM) {
GEMM_NT_ROWS(MC_GEMM_NT_MR, $3, GKK, $5, $6, $7, $8, $9)m4_dnl
                } else {
GEMM_NT_ROWS(m4_eval($2 - GM), $3, GKK, $5, $6, $7, $8, $9)m4_dnl
                }
')m4_dnl
            }
')
m4_define(`MC_GEMM_NT_TAPS',
`MC_VEC_PRELUDE()m4_dnl
m4_pushdef(`GM', m4_eval($2 / MC_GEMM_NT_MR * MC_GEMM_NT_MR))m4_dnl
m4_pushdef(`GKK', m4_eval($4 * $5 * $5))m4_dnl
m4_pushdef(`GNT_INNER', m4_ifelse(`$10', 1, 1, 0))m4_dnl
static void $1(int nb, const float *restrict a, const float *restrict b, float *restrict c)
{
m4_ifelse(GNT_INNER, 1, `    MC_OMP_FOR
GEMM_NT_BLOCKS($@)m4_dnl
', `    static mc_vf sums[m4_eval($2 * GKK)];
    MC_OMP_PARALLEL
    {
        MC_OMP_FOR_IN
        for (int r = 0; r < $2; r++)
            memset(sums + r * GKK, 0, sizeof(mc_vf) * GKK);
        for (int i = 0; i < nb; i++) {
            MC_OMP_FOR_IN
GEMM_NT_BLOCKS($@)m4_dnl
        }
        MC_OMP_FOR_IN
        for (int r = 0; r < $2; r++)
            for (int k = 0; k < GKK; k++)
                c[r * GKK + k] += mc_vf_sum(&sums[r * GKK + k]);
    }
')m4_dnl
}
m4_popdef(`GM', `GKK', `GNT_INNER')m4_dnl
')

# The channels-last product: a tile of 8 rows x 3 vectors of c in
# registers over the pixels of one image (added to c every few rows, see
# GEMM_CL_RB), each vector of columns reading its own tap of the image;
# threads take blocks of 8 rows, and within them the images go by in
# order. 3 vectors (MC_GEMM_CL_NV): 3 loads and 8 broadcasts per 24
# multiply-adds; the 3x3 backwards of resnet20 1% to 3% faster than with
# 2 (kernels alternated call by call), 4 no better (separate runs). The rows of a (dy) are one pointer at literal offsets:
# as 8 pointers gcc kept some on the stack (the 3x3 backward at 28 x 28,
# 16 channels, 6.4 -> 6.1 ms).
# GEMM_CL_TILE(rows, vecs, C, KS, HO, WO, WP, ASTRIDE, BSTRIDE): c[i0, i0 + rows) x [j0, j0 + 16 vecs), image i.
m4_define(`GEMM_CL_TILE',
`m4_pushdef(`GNC', m4_eval($4 * $4 * $3))m4_dnl
            {
                const float *restrict ap = a + (long)i * $8 + i0 * GCL_APITCH;
MC_FOR(`GR', 0, m4_eval($1 - 1), `                float *restrict c`'GR = c + (i0 + GR) * GNC + j0;
')m4_dnl
MC_FOR(`GV', 0, m4_eval($2 - 1), `                const int o`'GV = GEMM_CL_OFF(j0 + m4_eval(GV * MC_GEMM_VL), $3, $4, $7);
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                mc_vf s`'GR`'_`'GV = {0};
')')m4_dnl
                for (int oy = 0, p = 0; oy < $5; oy++) {
                    for (int ox = 0; ox < $6; ox++, p++) {
                        const float *restrict bp = b + (long)i * $9 + (GEMM_CL_PIX(oy, ox, $7, GCL_STRIDE)) * $3;
MC_FOR(`GV', 0, m4_eval($2 - 1), `                        const mc_vf y`'GV = *(const mc_vf *)(bp + o`'GV);
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `                        const float x`'GR = ap[p + m4_eval(GR * GCL_APITCH)];
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                        s`'GR`'_`'GV += x`'GR * y`'GV;
')')m4_dnl
                    }
                    m4_ifelse(GEMM_CL_RB($6), 1, `{', `if (oy % GEMM_CL_RB($6) == m4_eval(GEMM_CL_RB($6) - 1) || oy == m4_eval($5 - 1)) {')
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                        *(mc_vf *)(c`'GR + m4_eval(GV * MC_GEMM_VL)) += s`'GR`'_`'GV;
')')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                        s`'GR`'_`'GV = (mc_vf){0};
')')m4_dnl
                    }
                }
            }
m4_popdef(`GNC')m4_dnl
')

# GEMM_CL_RB(WO): the rows of pixels whose sums a tile adds to c at once
# (about 64 pixels): short chains of float sums, then one add each, keep
# the rounding of these sums (which batch norm can cancel to almost 0)
# near that of a pairwise sum; one long chain per element was off by
# 1.4e-4 relative on a 32 x 32 layer.
m4_define(`GEMM_CL_RB', `m4_ifelse(m4_eval($1 >= 64), 1, 1, `m4_eval(64 / $1)')')

# GEMM_CL_PIX(oy, ox, WP, S): the pixel of a padded image, WP pixels a
# row, at the top left of the window of output pixel (oy, ox) at stride S.
m4_define(`GEMM_CL_PIX', `m4_ifelse($4, 1, `$1 * $3 + $2', `$1 * m4_eval($4 * $3) + $2 * $4')')

# GEMM_CL_OFF(col, C, KS, WP): where column col = (ky, kx, ci) reads, from the pixel.
m4_define(`GEMM_CL_OFF', `(($1) / $2 / $3 * $4 + ($1) / $2 % $3) * $2 + ($1) % $2')

# GEMM_CL_ROWS(rows, C, KS, HO, WO, WP, ASTRIDE, BSTRIDE): every column of the rows i0 .. i0 + rows.
m4_define(`GEMM_CL_ROWS',
`m4_pushdef(`GW', m4_eval(MC_GEMM_CL_NV * MC_GEMM_VL))m4_dnl
m4_pushdef(`GNC', m4_eval($3 * $3 * $2))m4_dnl
m4_pushdef(`GFULL', m4_eval(GNC / GW * GW))m4_dnl
        for (int i = 0; i < nb; i++) {
m4_ifelse(m4_eval(GFULL > 0), 1, `            for (int j0 = 0; j0 < GFULL; j0 += GW)
GEMM_CL_TILE($1, MC_GEMM_CL_NV, $2, $3, $4, $5, $6, $7, $8)')m4_dnl
m4_ifelse(m4_eval(GFULL < GNC), 1, `            {
            const int j0 = GFULL;
GEMM_CL_TILE($1, m4_eval((GNC - GFULL) / MC_GEMM_VL), $2, $3, $4, $5, $6, $7, $8)m4_dnl
            }
')m4_dnl
        }
m4_popdef(`GW', `GNC', `GFULL')m4_dnl
')

m4_define(`MC_GEMM_NN_CL',
`MC_VEC_PRELUDE()m4_dnl
m4_pushdef(`GM', m4_eval($2 / MC_GEMM_CL_MR * MC_GEMM_CL_MR))m4_dnl
m4_pushdef(`GCL_STRIDE', m4_ifelse(`$11', `', 1, `$11'))m4_dnl
m4_pushdef(`GCL_APITCH', m4_ifelse(`$12', `', `m4_eval($5 * $6)', `$12'))m4_dnl
static void $1(int nb, const float *restrict a, const float *restrict b, float *restrict c)
{
m4_ifelse(m4_eval(GM > 0), 1, `m4_ifelse(`$10', `serial', `', `    MC_OMP_FOR
')m4_dnl
    for (int i0 = 0; i0 < GM; i0 += MC_GEMM_CL_MR) {
GEMM_CL_ROWS(MC_GEMM_CL_MR, $3, $4, $5, $6, $7, $8, $9)m4_dnl
    }
')m4_dnl
m4_ifelse(m4_eval(GM < $2), 1, `    {
        const int i0 = GM;
GEMM_CL_ROWS(m4_eval($2 - GM), $3, $4, $5, $6, $7, $8, $9)m4_dnl
    }
')m4_dnl
}
m4_popdef(`GM', `GCL_STRIDE', `GCL_APITCH')m4_dnl
')

# The channels-last forward: c[P x N] = the im2col matrix of a padded
# image with its channels last (a, C channels a pixel, WP pixels a row)
# times b[KS*KS*C x N], N a multiple of 16; row i of the im2col matrix is
# output pixel (i / WO, i % WO), its column (ky, kx, ci) the float a[((oy
# + ky) * WP + ox + kx) * C + ci]. A tile of 8 pixels x 2 vectors of
# columns (output channels) in registers over every term: each term
# broadcasts one float of each pixel, all at the same offset from it, and
# loads 2 aligned vectors of b. Small planes lose no lanes this way (the
# planar products waste those past the last pixel of a row or of the
# plane). Column tiles outer, so that their K x 32 floats of b stay in
# cache for every block of pixels. Serial (the caller runs one image per
# thread); c is stored, from bias (a vector of N, or none) when given.
# Not inlined: in the caller, gcc ran out of registers for the 8 pixel
# offsets and reloaded them every term (14 x 14, 32 channels: 131 -> 180
# GFLOP/s alone).
# MC_GEMM_CL_FWD(fn, P, WO, N, C, KS, WP[, act[, split[, PITCH[, S[, KX]]]]]): static void fn(a, b, bias, c);
# with PITCH, a pixel of a takes PITCH floats, of which the product reads C
# (channels padded to whole vectors: conv.m4); with S, the windows of the
# output pixels S pixels apart (a strided conv on its padded image); with
# KX, windows of KS rows by KX columns (a phase of a strided conv's input
# gradient: conv.m4), the rows of b (ky, kx, ci) over that window.
# GEMM_CLF_TILE(rows, vecs, P, WO, N, C, KS, WP): c[i0, i0 + rows) x [j0, j0 + 16 vecs),
# a pixel GCL_PITCH floats
# (when rows divides WO, the block lies in one row: its pixels at fixed
# offsets from the first, one pointer).
m4_define(`GEMM_CLF_TILE',
`            {
m4_ifelse(m4_eval($4 % $1), 0, `                const float *restrict a0 = a + (GEMM_CL_PIX(i0 / $4, i0 % $4, $8, GCL_STRIDE)) * GCL_PITCH;
MC_FOR(`GR', 1, m4_eval($1 - 1), `                const float *restrict a`'GR = a0 + m4_eval(GR * GCL_STRIDE * GCL_PITCH);
')', `MC_FOR(`GR', 0, m4_eval($1 - 1), `                const float *restrict a`'GR = a + (GEMM_CL_PIX((i0 + GR) / $4, (i0 + GR) % $4, $8, GCL_STRIDE)) * GCL_PITCH;
')')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                mc_vf s`'GR`'_`'GV = bias ? *(const mc_vf *)(bias + j0 + m4_eval(GV * MC_GEMM_VL)) : (mc_vf){0};
')')m4_dnl
                const float *restrict bp = b + j0;
                for (int ky = 0; ky < $7; ky++)
                for (int kx = 0; kx < GCL_KX; kx++) {
                    const int o = (ky * $8 + kx) * GCL_PITCH;
                    for (int ci = 0; ci < $6; ci++, bp += $5) {
MC_FOR(`GV', 0, m4_eval($2 - 1), `                        const mc_vf b`'GV = *(const mc_vf *)(bp + m4_eval(GV * MC_GEMM_VL));
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `                        const float x`'GR = a`'GR[o + ci];
')m4_dnl
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                        s`'GR`'_`'GV += x`'GR * b`'GV;
')')m4_dnl
                    }
                }
MC_FOR(`GR', 0, m4_eval($1 - 1), `MC_FOR(`GV', 0, m4_eval($2 - 1), `                *(mc_vf *)(c + (i0 + GR) * $5 + j0 + m4_eval(GV * MC_GEMM_VL)) = m4_ifelse(GEMM_ACT, 1, `ACT_FUSED_V(s`'GR`'_`'GV)', `s`'GR`'_`'GV');
')')m4_dnl
            }
')

# GEMM_CLF_COLS(vecs, P, WO, N, C, KS, WP): every block of pixels of the columns from j0.
# Blocks of 8 pixels, or of 7 or 6 where those divide P and 8 does not: a
# block of the few pixels left keeps too few sums in flight to hide the
# multiply-add latency (7 x 7 planes: 6 blocks and 1 pixel; in blocks of 7
# the 3x3 convs at 7x7 1.03x faster, at 14x14 1.01x to 1.02x). With one
# vector of columns (16 output channels) 8 sums are too few: the blocks
# are whole rows of 28 pixels, or 16, 14 or 12 where those divide a row.
# A block inside one row needs one pointer (the tile below: its pixels at
# fixed offsets from the first), not one register per pixel, which is
# what made 16-pixel blocks lose before (the 3x3 16 -> 16 forward at
# 28 x 28: 1.07x faster in blocks of 14, then 1.04x more in rows of 28).
m4_define(`GEMM_CLF_COLS', `GEMM_ROW_BLOCKS($2, `GEMM_CLF_TILE', `$1, $2, $3, $4, $5, $6, $7', GEMM_CLF_RB($1, $2, $3))')
# GEMM_CLF_RB(vecs, P, WO): the pixels of a block, as above, as many as
# the target's registers hold with the vectors of b and a broadcast
# (GEMM_CLF_MAX): with one vector the longest of those rows that fits, else
# GEMM_MR, or one or two fewer where those divide P and it does not and the
# block still keeps 12 sums in flight, or the whole tile does not either
# (one vector) (GEMM_CLF_DIV). On avx2 (tiles of 6)
# a last block of 4 pixels beat blocks of 4 throughout: the 3x3 forwards at
# 28 x 28 and 14 x 14 1.04x to 1.10x faster, their backwards 1.03x
# (kernels alternated call by call, both orders).
m4_define(`GEMM_CLF_MAX', `m4_eval((VREGS - 1 - $1) / $1)')
m4_define(`GEMM_CLF_DIV', `m4_eval($2 % $3 == 0 && ($3 * $1 >= 12 || MC_GEMM_MR * $1 < 12))')
m4_define(`GEMM_CLF_RB', `m4_ifelse(
    m4_eval($1 == 1 && $3 % 28 == 0 && 28 <= GEMM_CLF_MAX(1)), 1, 28,
    m4_eval($1 == 1 && $3 % 16 == 0 && 16 <= GEMM_CLF_MAX(1)), 1, 16,
    m4_eval($1 == 1 && $3 % 14 == 0 && 14 <= GEMM_CLF_MAX(1)), 1, 14,
    m4_eval($1 == 1 && $3 % 12 == 0 && 12 <= GEMM_CLF_MAX(1)), 1, 12,
    m4_eval($2 % MC_GEMM_MR), 0, MC_GEMM_MR, GEMM_CLF_DIV($1, $2, m4_eval(MC_GEMM_MR - 1)), 1, m4_eval(MC_GEMM_MR - 1),
    GEMM_CLF_DIV($1, $2, m4_eval(MC_GEMM_MR - 2)), 1, m4_eval(MC_GEMM_MR - 2), MC_GEMM_MR)')

# The pixels left after the last whole block of each column tile (P not a
# multiple of the block) take one tile over all those columns instead: a
# block of 1 pixel x 2 vectors keeps 2 sums in flight, a chain of
# multiply-adds each waiting on the last, where 1 pixel x 4 vectors keeps 4
# and reads the same broadcast. GEMM_CLF_WIDE(rows, vecs): the vectors of
# such a tile, as many as the registers hold beside a broadcast and the
# vectors of b, in as few tiles as hold vecs, of equal widths.
m4_define(`GEMM_CLF_WMAX', `m4_eval((VREGS - 1) / ($1 + 1))')
m4_define(`GEMM_CLF_WIDE', `m4_eval(($2 + ($2 + GEMM_CLF_WMAX($1) - 1) / GEMM_CLF_WMAX($1) - 1)
    / (($2 + GEMM_CLF_WMAX($1) - 1) / GEMM_CLF_WMAX($1)))')

# GEMM_CLF_LEFT(rows, vecs, P, WO, N, C, KS, WP): the last rows pixels,
# from i0 = P - rows, of the first vecs vectors of columns, in wide tiles.
m4_define(`GEMM_CLF_LEFT',
`m4_pushdef(`GLW', GEMM_CLF_WIDE($1, $2))m4_dnl
m4_pushdef(`GLFULL', m4_eval($2 / GLW * GLW))m4_dnl
    {
        const int i0 = m4_eval($3 - $1);
m4_ifelse(m4_eval(GLFULL > 0), 1, `        for (int j0 = 0; j0 < m4_eval(GLFULL * MC_GEMM_VL); j0 += m4_eval(GLW * MC_GEMM_VL))
GEMM_CLF_TILE($1, GLW, $3, $4, $5, $6, $7, $8)')m4_dnl
m4_ifelse(m4_eval(GLFULL < $2), 1, `        {
        const int j0 = m4_eval(GLFULL * MC_GEMM_VL);
GEMM_CLF_TILE($1, m4_eval($2 - GLFULL), $3, $4, $5, $6, $7, $8)m4_dnl
        }
')m4_dnl
    }
m4_popdef(`GLW', `GLFULL')m4_dnl
')

# With split (the ninth argument), fn(a, b, bias, c, par) runs parts
# (the part runner of common.m4): each whole tile of columns, then the pixels left of those
# columns, then the columns left (in the order of the serial form).
m4_define(`MC_GEMM_CL_FWD',
`MC_VEC_PRELUDE()m4_dnl
m4_pushdef(`GW', m4_eval(MC_GEMM_NV * MC_GEMM_VL))m4_dnl
m4_pushdef(`GFULL', m4_eval($4 / GW * GW))m4_dnl
m4_pushdef(`GRB', GEMM_CLF_RB(MC_GEMM_NV, $2, $3))m4_dnl
m4_pushdef(`GPM', m4_eval($2 / GRB * GRB))m4_dnl
m4_pushdef(`GEMM_ACT', m4_ifelse(`$8', `act', 1, 0))m4_dnl
m4_pushdef(`GCL_PITCH', m4_ifelse(`$10', `', `$5', `$10'))m4_dnl
m4_pushdef(`GCL_STRIDE', m4_ifelse(`$11', `', 1, `$11'))m4_dnl
m4_pushdef(`GCL_KX', m4_ifelse(`$12', `', `$6', `$12'))m4_dnl
m4_pushdef(`GCL_TILES', m4_ifelse(m4_eval(GFULL > 0 && GPM > 0), 1, m4_eval(GFULL / GW), 0))m4_dnl
m4_pushdef(`GCL_LEFT', m4_eval(GFULL > 0 && GPM < $2))m4_dnl
m4_pushdef(`GCL_COLS', m4_eval(GFULL < $4))m4_dnl
m4_pushdef(`GCL_LEFT_TEXT', `GEMM_CLF_LEFT(m4_eval($2 - GPM), m4_eval(GFULL / MC_GEMM_VL), $2, $3, $4, $5, $6, $7)')m4_dnl
m4_pushdef(`GCL_COLS_TEXT', `    {
        const int j0 = GFULL;
GEMM_CLF_COLS(m4_eval(($4 - GFULL) / MC_GEMM_VL), $2, $3, $4, $5, $6, $7)m4_dnl
    }
')m4_dnl
m4_pushdef(`GCL_CH', m4_ifelse(GCL_TILES, 0, 1, `GEMM_CHUNKS(m4_eval(GPM / GRB), m4_eval(GCL_TILES + GCL_COLS))'))m4_dnl
m4_pushdef(`GCL_CVECS', m4_eval(($4 - GFULL) / MC_GEMM_VL))m4_dnl
m4_pushdef(`GCL_CRB', m4_ifelse(GCL_COLS, 1, `GEMM_CLF_RB(GCL_CVECS, $2, $3)', 1))m4_dnl
m4_pushdef(`GCL_CCH', m4_ifelse(GCL_COLS, 0, 0, `GEMM_CHUNKS(m4_eval($2 / GCL_CRB), m4_eval(GCL_TILES + 1))'))m4_dnl
m4_pushdef(`GCL_NPARTS', m4_eval(GCL_TILES * GCL_CH + GCL_LEFT + GCL_CCH))m4_dnl
m4_ifelse(`$9', `split', `static __attribute__((noinline)) void $1_part(const float *restrict a, const float *restrict b, const float *restrict bias,
    float *restrict c, int t)
{
GEMM_ONE_PART(GCL_NPARTS)m4_dnl
m4_ifelse(GCL_TILES, 0, `', `    if (t < m4_eval(GCL_TILES * GCL_CH)) {
GEMM_CHUNK_RANGE(GCL_CH, m4_eval(GPM / GRB), GRB, 0)m4_dnl
        const int j0 = t * GW;
        for (int i0 = lo; i0 < hi; i0 += GRB)
GEMM_CLF_TILE(GRB, MC_GEMM_NV, $2, $3, $4, $5, $6, $7)m4_dnl
        return;
    }
')m4_dnl
m4_ifelse(GCL_LEFT, 1, `m4_ifelse(GCL_COLS, 1, `    if (t == m4_eval(GCL_TILES * GCL_CH)) {
GCL_LEFT_TEXT()m4_dnl
        return;
    }
', `GCL_LEFT_TEXT()')')m4_dnl
m4_ifelse(GCL_COLS, 1, `    {
m4_ifelse(m4_eval(GCL_TILES * GCL_CH + GCL_LEFT > 0), 1, `    t -= m4_eval(GCL_TILES * GCL_CH + GCL_LEFT);
')m4_dnl
GEMM_CHUNK_RANGE(GCL_CCH, m4_eval($2 / GCL_CRB), GCL_CRB, m4_eval($2 % GCL_CRB > 0), final)m4_dnl
        const int j0 = GFULL;
GEMM_ROW_RANGE($2, `GEMM_CLF_TILE', `GCL_CVECS, $2, $3, $4, $5, $6, $7', GCL_CRB)m4_dnl
    }
')m4_dnl
}

MC_PARTS($1, GCL_NPARTS, `const float *restrict a, const float *restrict b, const float *restrict bias,
    float *restrict c', `a, b, bias, c')m4_dnl
', `static __attribute__((noinline)) void $1(const float *restrict a, const float *restrict b, const float *restrict bias,
    float *restrict c)
{
m4_ifelse(GCL_TILES, 0, `', `    for (int j0 = 0; j0 < GFULL; j0 += GW) {
        for (int i0 = 0; i0 < GPM; i0 += GRB)
GEMM_CLF_TILE(GRB, MC_GEMM_NV, $2, $3, $4, $5, $6, $7)m4_dnl
    }
')m4_dnl
m4_ifelse(GCL_LEFT, 1, `GCL_LEFT_TEXT()')m4_dnl
m4_ifelse(GCL_COLS, 1, `GCL_COLS_TEXT()')m4_dnl
}
')m4_dnl
m4_popdef(`GW', `GFULL', `GRB', `GPM', `GEMM_ACT', `GCL_PITCH', `GCL_STRIDE', `GCL_KX', `GCL_TILES', `GCL_LEFT', `GCL_COLS', `GCL_LEFT_TEXT', `GCL_COLS_TEXT', `GCL_CH', `GCL_CVECS', `GCL_CRB', `GCL_CCH', `GCL_NPARTS')m4_dnl
')

# MC_TRANSPOSE(fn, R, C): static void fn(a, t): t[C x R] = a[R x C]^T.
m4_define(`MC_TRANSPOSE',
`static void $1(const float *restrict a, float *restrict t)
{
    for (int r = 0; r < $2; r++)
        for (int q = 0; q < $3; q++)
            t[q * $2 + r] = a[r * $3 + q];
}
')
m4_divert(0)m4_dnl
