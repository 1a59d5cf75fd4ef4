#!/usr/bin/env bash
# ab_kernels.sh A_DIR B_DIR MODEL [THREADS] [CALLS] [BATCH]
#
# Times the conv, depthwise and batch-norm kernels of two emitted versions
# of a model
# (the folders `mcgen emit MODEL.mcn -o DIR` wrote, from two versions of
# the templates) against each other in one process: each kernel of A and
# its twin in B are called in turn, call by call (the order swapped every
# call), and the medians of CALLS calls of each are printed with their
# ratio (> 1: B is faster). On a machine whose speed drifts from minute to
# minute, separate runs differ by more than the 5% a kernel change makes;
# alternating calls cancels the drift.
#
#   build/mcgen emit models/resnet20.mcn --conv multiception --input 1x28x28 -o /tmp/a
#   (change the templates)
#   build/mcgen emit models/resnet20.mcn --conv multiception --input 1x28x28 -o /tmp/b
#   tools/ab_kernels.sh /tmp/a /tmp/b resnet20 1 11
#
# Kernels are found by name (conv_kK_cC_CO_HxW_sS_pP..., dw_kK1_K2..._cC_HxW_sS...,
# bn_cC_HxW...), their buffers sized from it; inputs are fixed pseudo-random
# values (batch norm: its training forward and its backward; a batch norm
# folded into the conv after it, bn_..._stats: its forward, and that conv,
# conv_..._bn: both passes with the batch norm's arguments; a depthwise
# or conv that writes batch statistics, ..._stats, and a batch norm that reads
# them, bn_..._pstats: with a buffer of them; a batch norm applying a ReLU
# or ReLU6, bn_..._relu..: with a buffer for its activation bits).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
a=$(cd "$1" && pwd) b=$(cd "$2" && pwd) model=$3
threads=${4:-1} calls=${5:-11} batch=${6:-128}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# AB_MARCH: the -march of the kernels, native unless the models were
# emitted for another CPU target (x86-64-v3 for --cpu avx2).
cflags=(-std=c11 -O3 -march="${AB_MARCH:-native}" -fopenmp -ffp-contract=fast -I "$src/runtime")

# Each side's kernel files, their global symbols prefixed A_ or B_.
objs=()
for side in A B; do
  dir=$a
  [ $side = B ] && dir=$b
  for family in conv depthwise batchnorm; do
    f=$dir/${model}_$family.c
    [ -f "$f" ] || continue
    o=$work/${side}_$family.o
    gcc "${cflags[@]}" -c "$f" -o "$o"
    nm --defined-only -g "$o" | awk -v p=$side '{print $3" "p"_"$3}' > "$o.map"
    objcopy --redefine-syms="$o.map" "$o"
    objs+=("$o")
  done
done

# kind name in out weights stats: 0 conv or depthwise, 1 batch norm, 2 folded batch norm (forward only), 3
# conv applying one; per-image floats of the input and the output, and the weights; 1 when its forward
# takes a buffer of batch statistics after its other pointers (a depthwise, writing them) or after x (a batch
# norm, reading them), 2 when a batch norm applies an activation (bits written by its forward, read by its
# backward in place of the output), 3 both, else 0.
table=$work/kernels.txt
: > "$table"
nm --defined-only -g "$work"/B_*.o | awk '{print $3}' > "$work/b_symbols.txt"
for k in $(nm --defined-only -g "$work"/A_*.o | awk '{print $3}' | sed -n 's/^A_\(.*\)_fwd\(_train\)\{0,1\}$/\1/p' | sort -u); do
  grep -Eqx "B_${k}_fwd(_train)?" "$work/b_symbols.txt" || continue
  if [[ $k =~ ^conv_k([0-9]+)_c([0-9]+)_([0-9]+)_([0-9]+)x([0-9]+)_s([0-9]+)_p([0-9]+) ]]; then
    K=${BASH_REMATCH[1]} C=${BASH_REMATCH[2]} CO=${BASH_REMATCH[3]} H=${BASH_REMATCH[4]} W=${BASH_REMATCH[5]}
    S=${BASH_REMATCH[6]} P=${BASH_REMATCH[7]}
    HO=$(( (H + 2 * P - K) / S + 1 )) WO=$(( (W + 2 * P - K) / S + 1 ))
    kind=0 st=0
    [[ $k == *_bn || $k == *_bn_stats ]] && kind=3
    [[ $k == *_stats ]] && st=1
    echo "$kind $k $(( C * H * W )) $(( CO * HO * WO )) $(( CO * C * K * K + CO )) $st" >> "$table"
  elif [[ $k =~ ^dw_k([0-9_]+)_c([0-9]+)_([0-9]+)x([0-9]+)_s([0-9]+) ]]; then
    C=${BASH_REMATCH[2]} H=${BASH_REMATCH[3]} W=${BASH_REMATCH[4]} S=${BASH_REMATCH[5]}
    HO=$(( (H - 1) / S + 1 )) WO=$(( (W - 1) / S + 1 ))
    nk=0 taps=0
    for kk in ${BASH_REMATCH[1]//_/ }; do nk=$((nk + 1)); taps=$((taps + kk * kk)); done
    st=0
    [[ $k == *_stats ]] && st=1
    echo "0 $k $(( C * H * W )) $(( nk * C * HO * WO )) $(( C * taps + nk * C )) $st" >> "$table"
  elif [[ $k =~ ^bn_c([0-9]+)_([0-9]+)x([0-9]+) ]]; then
    C=${BASH_REMATCH[1]} H=${BASH_REMATCH[2]} W=${BASH_REMATCH[3]}
    kind=1 st=0
    [[ $k == *_stats || $k == *_stats_pstats ]] && kind=2
    [[ $k == *_pstats ]] && st=1
    [[ $k == *_relu* ]] && st=$((st + 2))
    echo "$kind $k $(( C * H * W )) $(( C * H * W )) $C $st" >> "$table"
  fi
done
if [ ! -s "$table" ]; then
  echo "ab_kernels.sh: no conv, depthwise or batch-norm kernel found in both $a and $b for model $model" >&2
  exit 1
fi

{
  cat <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <stdint.h>
/* conv, depthwise: (n, x, w, bias, y) and (n, x, w, dy, dx, dw, dbias, acc) */
typedef void fwd_fn(int, const float *, const float *, const float *, float *);
typedef void bwd_fn(int, const float *, const float *, const float *, float *, float *, float *, int);
/* batch norm: (n, x, gamma, beta, running mean, running var, count, y, mean, invstd)
 * and (n, x, y, gamma, mean, invstd, dy, dx, dgamma, dbeta, acc) */
typedef void bn_fwd_fn(int, const float *, const float *, const float *, float *, float *, int64_t *, float *,
    float *, float *);
typedef void bn_bwd_fn(int, const float *, const float *, const float *, const float *, const float *,
    const float *, float *, float *, float *, int);
/* a conv applying a folded batch norm: its gamma, beta, mean and invstd after the bias (and their
 * gradients after dbias) */
typedef void fold_fwd_fn(int, const float *, const float *, const float *, const float *, const float *,
    const float *, const float *, float *);
typedef void fold_bwd_fn(int, const float *, const float *, const float *, float *, float *, float *, const float *,
    const float *, const float *, const float *, float *, float *, int);
/* with a buffer of batch statistics: a conv or depthwise (n, x, w, bias, y, stats), a conv applying a batch
 * norm (its arguments, then stats), a batch norm (n, x, stats, gamma, ...) */
typedef void fold_fwd_stats_fn(int, const float *, const float *, const float *, const float *, const float *,
    const float *, const float *, float *, float *);
typedef void fwd_stats_fn(int, const float *, const float *, const float *, float *, float *);
typedef void bn_fwd_stats_fn(int, const float *, const float *, const float *, const float *, float *, float *,
    int64_t *, float *, float *, float *);
/* a batch norm with its activation: the bits after the other arguments (forward), in place of y (backward) */
typedef void bn_fwd_mask_fn(int, const float *, const float *, const float *, float *, float *, int64_t *, float *,
    float *, float *, uint16_t *);
typedef void bn_fwd_stats_mask_fn(int, const float *, const float *, const float *, const float *, float *,
    float *, int64_t *, float *, float *, float *, uint16_t *);
typedef void bn_bwd_mask_fn(int, const float *, const uint16_t *, const float *, const float *, const float *,
    const float *, float *, float *, float *, int);
typedef void any_fn(void);
double (*mc_bn_allreduce)(double *, int, double); /* the kernels' hook for synchronized batch norm: off */
EOF
  while read -r kind k in out wn st; do
    case $kind in
    0) echo "fwd_fn A_${k}_fwd, B_${k}_fwd; bwd_fn A_${k}_bwd, B_${k}_bwd;" ;;
    1) echo "bn_fwd_fn A_${k}_fwd_train, B_${k}_fwd_train; bn_bwd_fn A_${k}_bwd, B_${k}_bwd;" ;;
    2) echo "bn_fwd_fn A_${k}_fwd_train, B_${k}_fwd_train;" ;;
    3) echo "fold_fwd_fn A_${k}_fwd, B_${k}_fwd; fold_bwd_fn A_${k}_bwd, B_${k}_bwd;" ;;
    esac
  done < "$table"
  echo 'static const struct kernel { const char *name; int kind, stats; long in, out, w; any_fn *fwd[2], *bwd[2]; } kernels[] = {'
  while read -r kind k in out wn st; do
    f=fwd bwd="{(any_fn *)A_${k}_bwd, (any_fn *)B_${k}_bwd}"
    [ "$kind" = 1 ] || [ "$kind" = 2 ] && f=fwd_train
    [ "$kind" = 2 ] && bwd="{0, 0}"
    echo "    {\"$k\", $kind, $st, $in, $out, $wn, {(any_fn *)A_${k}_$f, (any_fn *)B_${k}_$f}, $bwd},"
  done < "$table"
  echo '};'
  cat <<'EOF'
static uint16_t *bits; /* a batch norm's activation bits, from its forward to its backward */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *p, const void *q)
{
    const double x = *(const double *)p, y = *(const double *)q;
    return (x > y) - (x < y);
}

static float *filled(long count, unsigned seed)
{
    float *p = malloc(sizeof(float) * (size_t)count);
    if (!p) {
        fprintf(stderr, "ab_kernels: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

/* Times side 0 and side 1 of one pass in turn, calls times each; the medians in t. */
static void alternate(const struct kernel *k, int n, int calls, int pass, float **buf, double t[2])
{
    double *s[2] = {malloc(sizeof(double) * calls), malloc(sizeof(double) * calls)};
    for (int c = -1; c < calls; c++)
        for (int turn = 0; turn < 2; turn++) {
            const int side = (turn + (c & 1)) & 1;
            const double t0 = now();
            int64_t count = 0;
            if (k->kind == 2 && pass == 1)
                ; /* no backward: the conv after it does it */
            else if (k->kind == 3 && pass == 0 && k->stats)
                ((fold_fwd_stats_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[8], buf[9], buf[10], buf[11], buf[1],
                    buf[13]);
            else if (k->kind == 3 && pass == 0)
                ((fold_fwd_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[8], buf[9], buf[10], buf[11], buf[1]);
            else if (k->kind == 3)
                ((fold_bwd_fn *)k->bwd[side])(n, buf[0], buf[2], buf[4], buf[5], buf[6], buf[7], buf[8], buf[9],
                    buf[10], buf[11], buf[3], buf[12], 0);
            else if (k->kind && pass == 0 && k->stats == 3)
                ((bn_fwd_stats_mask_fn *)k->fwd[side])(n, buf[0], buf[13], buf[2], buf[3], buf[8], buf[9], &count,
                    buf[1], buf[10], buf[11], bits);
            else if (k->kind && pass == 0 && k->stats == 2)
                ((bn_fwd_mask_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[8], buf[9], &count, buf[1], buf[10],
                    buf[11], bits);
            else if (k->kind && pass == 0 && k->stats)
                ((bn_fwd_stats_fn *)k->fwd[side])(n, buf[0], buf[13], buf[2], buf[3], buf[8], buf[9], &count, buf[1],
                    buf[10], buf[11]);
            else if (k->kind && pass == 0)
                ((bn_fwd_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[8], buf[9], &count, buf[1], buf[10],
                    buf[11]);
            else if (k->kind && k->stats >= 2)
                ((bn_bwd_mask_fn *)k->bwd[side])(n, buf[0], bits, buf[2], buf[10], buf[11], buf[4], buf[5], buf[6],
                    buf[7], 0);
            else if (k->kind)
                ((bn_bwd_fn *)k->bwd[side])(n, buf[0], buf[1], buf[2], buf[10], buf[11], buf[4], buf[5], buf[6],
                    buf[7], 0);
            else if (pass == 0 && k->stats)
                ((fwd_stats_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[1], buf[13]);
            else if (pass == 0)
                ((fwd_fn *)k->fwd[side])(n, buf[0], buf[2], buf[3], buf[1]);
            else
                ((bwd_fn *)k->bwd[side])(n, buf[0], buf[2], buf[4], buf[5], buf[6], buf[7], 0);
            if (c >= 0)
                s[side][c] = now() - t0; /* call -1 warms up */
        }
    for (int side = 0; side < 2; side++) {
        qsort(s[side], calls, sizeof(double), by_value);
        t[side] = s[side][calls / 2] * 1e3;
        free(s[side]);
    }
}

int main(int argc, char **argv)
{
    const int n = atoi(argv[1]), calls = atoi(argv[2]);
    double total[2][2] = {{0}};
    printf("%-36s %21s %8s %21s %8s\n", "kernel (ms: A, B)", "forward", "A/B", "backward", "A/B");
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        const struct kernel *k = &kernels[i];
        /* x, y, w, bias, dy, dx, dw, dbias; batch norm: gamma and beta in w and bias, then its running mean
         * and variance, its saved mean and 1/std (each forward sets those before the backwards read them);
         * a conv applying a batch norm: its gamma, beta, mean and 1/std in 8 to 11, dgamma and dbeta in 3
         * and 12 */
        float *buf[14] = {filled(n * k->in, 1), filled(n * k->out, 2), filled(k->w, 3), filled(k->out, 4),
                          filled(n * k->out, 5), filled(n * k->in, 6), filled(k->w, 7), filled(k->out, 8),
                          filled(k->w, 9), filled(k->w, 10), filled(k->w, 11), filled(k->w, 12),
                          filled(k->w, 13), filled(n * k->out, 14)};
        for (long c = 0; c < k->w; c++)
            buf[9][c] += 1; /* a variance */
        for (long c = 0; c < n * k->out; c++)
            buf[13][c] += 1; /* batch statistics: per image a mean, then a sum of squared deviations (>= 0) */
        /* per image, a byte per 4 values and a word per plane for its tail (the
         * most any target's bits take: a word of VL bits, rounded up to a byte) */
        bits = calloc((size_t)n * (k->out / 4 + 2 * k->w + 2), 1);
        double f[2], b[2];
        alternate(k, n, calls, 0, buf, f);
        alternate(k, n, calls, 1, buf, b);
        if (k->kind == 2)
            printf("%-36s %10.3f %10.3f %7.2fx %21s %8s\n", k->name, f[0], f[1], f[0] / f[1], "-", "");
        else
            printf("%-36s %10.3f %10.3f %7.2fx %10.3f %10.3f %7.2fx\n", k->name, f[0], f[1], f[0] / f[1], b[0],
                b[1], b[0] / b[1]);
        for (int side = 0; side < 2; side++) {
            total[0][side] += f[side];
            total[1][side] += b[side];
        }
        for (int j = 0; j < 14; j++)
            free(buf[j]);
        free(bits);
    }
    printf("%-36s %10.3f %10.3f %7.2fx %10.3f %10.3f %7.2fx\n", "all", total[0][0], total[0][1],
        total[0][0] / total[0][1], total[1][0], total[1][1], total[1][0] / total[1][1]);
    return 0;
}
EOF
} > "$work/main.c"
gcc -std=c11 -O2 -fopenmp "$work/main.c" "${objs[@]}" -lm -o "$work/ab"
echo "A: $a  B: $b  ($model, batch $batch, $threads thread(s), median of $calls calls each)"
OMP_NUM_THREADS=$threads "$work/ab" "$batch" "$calls"
