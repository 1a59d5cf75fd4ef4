/* The bench command: how fast the generated kernels are, measured against
 * the runtime's generic ones in the same process on the same data.
 *
 * Per layer, each iteration times the generated forward, the generated
 * backward, the generic forward and the generic backward one after the
 * other (interleaved, so that a slow moment of the machine hits both
 * sides alike); the whole training step (forward, loss, backward, SGD
 * update) alternates the same way. Every figure is the median of the
 * iterations after one warm-up, with its spread (max - min) / median.
 *
 * Rates: FLOP/s count 2 per multiply-accumulate of the convolutions and
 * linear layers (the paper's MACs; a backward does twice a forward's work:
 * input and weight gradients). Compulsory traffic is what a layer must
 * read and write at least, once each, in float32: forward reads its inputs
 * and parameters and writes its output; backward reads its inputs, the
 * output gradient and the parameters, and reads and writes the input
 * gradients (they accumulate) and the parameter gradients. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "mc_bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mc_gemm.h"
#include "mc_net.h"
#include "mc_optim.h"
#include "mc_progress.h"
#include "mc_rng.h"

typedef struct timing {
    double median, min, max; /* seconds */
} timing;

typedef struct layer_result {
    timing fwd[2], bwd[2]; /* [0] generated, [1] generic */
    double flops_fwd, flops_bwd, bytes_fwd, bytes_bwd;
} layer_result;

static const char *const kind_names[] = {
#define MC_LAYER_KIND(id, name) [MC_L_##id] = name,
#include "mc_layer_kinds.def"
};

/* The activation fused into a layer, as a suffix of its kind's name. */
static const char *const fused_names[] = {[MC_FUSED_NONE] = "", [MC_FUSED_RELU] = "+relu", [MC_FUSED_RELU6] = "+relu6",
                                          [MC_FUSED_SILU] = "+silu", [MC_FUSED_HARDSWISH] = "+hardswish",
                                          [MC_FUSED_HARDSIGMOID] = "+hardsigmoid"};

/* A conv that applies the folded batch norm it reads, or an add that
 * applies one of its inputs' (mc_layer.folded). */
static int applies_bn(const mc_model_desc *m, const mc_layer *l)
{
    const int fold = l->kind == MC_L_CONV ? MC_FOLD_CONV : l->kind == MC_L_ADD ? MC_FOLD_ADD : -1;
    for (int j = 0; j < l->ninputs; j++)
        if (l->inputs[j] >= 0 && m->layers[l->inputs[j]].folded == fold)
            return 1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static timing summarize(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return (timing){n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1]};
}

static double spread(timing t) { return t.median > 0 ? (t.max - t.min) / t.median : 0; }

/* ---- what a layer must compute and move ---------------------------------------- */

static int64_t param_numel(const mc_model_desc *m, int64_t offset)
{
    if (offset < 0)
        return 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].area == MC_AREA_PARAM && m->tensors[i].offset == offset)
            return m->tensors[i].numel;
    return 0;
}

static void layer_cost(const mc_model_desc *m, const mc_layer *l, int n, layer_result *r)
{
    const double f = sizeof(float);
    double in = 0;
    for (int i = 0; i < l->ninputs; i++) {
        int j = l->inputs[i];
        in += j < 0 ? (double)m->c * m->h * m->w : (double)m->layers[j].c * m->layers[j].h * m->layers[j].w;
    }
    in *= n;
    const double out = (double)n * l->c * l->h * l->w;
    /* A Multiception's kernels are tensors of their own, one after the
     * other, as a MixConv's three groups; every other layer keeps its
     * weights in one tensor. */
    int64_t weight = param_numel(m, l->weight);
    if (l->kind == MC_L_DEPTHWISE)
        for (int j = 1; j < l->nk; j++)
            weight += (int64_t)l->in_c * l->ks[j] * l->ks[j];
    if (l->kind == MC_L_MIXCONV)
        for (int j = 1; j < 3; j++)
            weight += param_numel(m, l->weight + weight);
    const double params = (double)(weight + param_numel(m, l->bias_at));
    /* Every weight of a convolution or linear layer meets every output
     * position once per image. */
    const int macs_layer = l->kind == MC_L_CONV || l->kind == MC_L_DEPTHWISE || l->kind == MC_L_MIXCONV ||
                           l->kind == MC_L_LINEAR;
    r->flops_fwd = macs_layer ? 2.0 * n * (double)weight * l->h * l->w : 0;
    r->flops_bwd = 2 * r->flops_fwd;
    r->bytes_fwd = f * (in + out + params);
    /* (A fused ReLU's mask reads its bits too, a 32nd of the output, where a
     * fused SiLU recomputes from the input it reads anyway; a conv applying a
     * folded batch norm reads its input once more, for the batch norm's
     * gradient.) */
    const int bits = l->fused == MC_FUSED_RELU || l->fused == MC_FUSED_RELU6;
    r->bytes_bwd = f * (in + out + 2 * in + params + 2 * params + (bits ? out / 32 : 0) +
                        (l->kind == MC_L_CONV && applies_bn(m, l) ? in : 0));
    /* Batch statistics a depthwise or conv writes for its batch norm, which
     * reads them instead of its input (mc_layer.stats). */
    const double stats = l->stats >= 0 ? f * 2.0 * n * l->c : 0;
    if (l->kind != MC_L_BATCHNORM)
        r->bytes_fwd += stats;
    if (l->folded) { /* the statistics only: the conv or add after it does the rest */
        r->bytes_fwd = (stats ? stats : f * in) + f * 2 * params;
        if (l->folded == MC_FOLD_CONV) /* and the conv its backward */
            r->bytes_bwd = 0;
    }
}

/* ---- timing -------------------------------------------------------------------- */

typedef struct bench {
    const mc_model_desc *m;
    mc_net net;
    mc_sgd sgd;
    mc_rng rng;
    int32_t *labels;
    int sides; /* 2: generated and generic; 1: generated only */
    int cpu_time;
} bench;

/* Wall time; or, with --cpu-time, the CPU time of the process (all its
 * threads), which a busy machine disturbs less. */
static double clock_now(const bench *b)
{
    if (!b->cpu_time)
        return mc_now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double time_layer(bench *b, int layer, int backward, int generic)
{
    const mc_state *s = &b->net.s;
    double t0 = clock_now(b);
    if (generic && backward)
        mc_generic_backward_layer(b->m, s, layer);
    else if (generic)
        mc_generic_forward_layer(b->m, s, layer, 1);
    else if (backward)
        b->m->layer_backward[layer](s);
    else
        b->m->layer_forward[layer](s, 1);
    return clock_now(b) - t0;
}

static double time_step(bench *b, int generic)
{
    b->net.generic = generic;
    double t0 = clock_now(b);
    mc_net_forward(&b->net, 1, &b->rng);
    mc_net_loss(&b->net, b->labels);
    mc_net_backward(&b->net, b->labels);
    mc_sgd_step(&b->sgd, &b->net);
    return clock_now(b) - t0;
}

static void bench_layer(bench *b, int layer, int iters, double *t, layer_result *r)
{
    double *samples[4] = {t, t + iters, t + 2 * iters, t + 3 * iters};
    for (int it = -1; it < iters; it++) /* -1: warm-up */
        for (int v = 0; v < 2 * b->sides; v++) {
            double dt = time_layer(b, layer, v & 1, v >> 1);
            if (it >= 0)
                samples[v][it] = dt;
        }
    r->fwd[0] = summarize(samples[0], iters), r->bwd[0] = summarize(samples[1], iters);
    if (b->sides == 2)
        r->fwd[1] = summarize(samples[2], iters), r->bwd[1] = summarize(samples[3], iters);
}

/* ---- reports ------------------------------------------------------------------- */

static double rate(double amount, timing t) { return t.median > 0 ? amount / t.median * 1e-9 : 0; }

static void describe(const mc_model_desc *m, const mc_layer *l, char *op, size_t oplen)
{
    if (l->kind == MC_L_DEPTHWISE || l->kind == MC_L_CONV) {
        int len = snprintf(op, oplen, "%s%s k", kind_names[l->kind], applies_bn(m, l) ? "+bn" : "");
        for (int j = 0; j < (l->kind == MC_L_CONV ? 1 : l->nk) && len < (int)oplen; j++)
            len += snprintf(op + len, oplen - (size_t)len, "%s%d", j ? "," : "", l->kind == MC_L_CONV ? l->k : l->ks[j]);
        if (l->stride > 1 && len < (int)oplen)
            snprintf(op + len, oplen - (size_t)len, " s%d", l->stride);
    } else {
        /* A folded batch norm only takes the batch statistics; from its
         * producer's, it combines them. */
        snprintf(op, oplen, "%s%s%s", kind_names[l->kind], applies_bn(m, l) ? "+bn" : "",
                 l->folded ? (l->stats >= 0 ? " combine" : " stats") : fused_names[l->fused]);
    }
}

static void print_pass(const char *pass, const timing *t, double flops, double bytes)
{
    if (flops == 0 && bytes == 0) { /* a folded batch norm backward: nothing here, its conv does it */
        printf("%-4s %9s %5s %7s %6s  (in the conv after it)", pass, "-", "", "", "");
        return;
    }
    printf("%-4s %9.3f %4.0f%% %7.1f %6.1f", pass, 1e3 * t[0].median, 100 * spread(t[0]), rate(flops, t[0]),
           rate(bytes, t[0]));
    if (t[1].median > 0) /* not measured: --generated-only */
        printf("  %9.3f %7.1f  %6.2fx", 1e3 * t[1].median, rate(flops, t[1]),
               t[0].median > 0 ? t[1].median / t[0].median : 0);
}

static void print_layers(const mc_model_desc *m, const layer_result *res)
{
    printf("\n%-3s %-28s %-20s %-10s %-4s %9s %5s %7s %6s  %9s %7s  %7s\n", "#", "layer", "op", "output", "pass",
           "gen ms", "sprd", "GFLOP/s", "GB/s", "generic ms", "GFLOP/s", "speedup");
    double total[2][2] = {{0}};
    for (int i = 0; i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        const layer_result *r = &res[i];
        char op[64], shape[32];
        describe(m, l, op, sizeof op);
        snprintf(shape, sizeof shape, "%dx%dx%d", l->c, l->h, l->w);
        printf("%-3d %-28.28s %-20.20s %-10s ", i, l->name, op, shape);
        print_pass("fwd", r->fwd, r->flops_fwd, r->bytes_fwd);
        printf("\n%-3s %-28s %-20s %-10s ", "", "", "", "");
        print_pass("bwd", r->bwd, r->flops_bwd, r->bytes_bwd);
        printf("\n");
        for (int v = 0; v < 2; v++)
            total[v][0] += r->fwd[v].median, total[v][1] += r->bwd[v].median;
    }
    if (total[1][0] + total[1][1] <= 0) { /* --generated-only: no generic side to sum or compare */
        printf("sum of layer medians: forward %.1f ms, backward %.1f ms\n", 1e3 * total[0][0], 1e3 * total[0][1]);
        return;
    }
    printf("sum of layer medians: forward %.1f ms generated, %.1f ms generic; backward %.1f ms generated, %.1f ms "
           "generic\n",
           1e3 * total[0][0], 1e3 * total[1][0], 1e3 * total[0][1], 1e3 * total[1][1]);
    /* The figure the issue's targets name: forward + backward per op kind. */
    for (int kind = 0; kind < (int)(sizeof kind_names / sizeof *kind_names); kind++) {
        double lo = 0, hi = 0;
        int count = 0;
        for (int i = 0; i < m->nlayers; i++) {
            const layer_result *r = &res[i];
            if ((int)m->layers[i].kind != kind || kind == MC_L_IDENTITY)
                continue;
            double g = r->fwd[0].median + r->bwd[0].median, x = r->fwd[1].median + r->bwd[1].median;
            double s = g > 0 ? x / g : 0;
            lo = count ? (s < lo ? s : lo) : s, hi = count ? (s > hi ? s : hi) : s;
            count++;
        }
        if (count)
            printf("  %-10s %3d layers: forward+backward generated vs generic %.2fx .. %.2fx\n", kind_names[kind],
                   count, lo, hi);
    }
}

static void json_timing(FILE *f, const char *name, timing t, double flops, double bytes)
{
    fprintf(f, "\"%s\": {\"median_s\": %.9g, \"min_s\": %.9g, \"max_s\": %.9g, \"gflops\": %.6g, \"gbs\": %.6g}", name,
            t.median, t.min, t.max, rate(flops, t), rate(bytes, t));
}

static int write_json(const char *path, const mc_model_desc *m, const mc_bench_options *o, int threads,
                      const timing step[2], const layer_result *res)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "error: %s: cannot write: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(f, "{\"model\": \"%s\", \"conv\": \"%s\", \"cpu\": \"%s\", \"input\": [%d, %d, %d], \"batch\": %d, "
               "\"threads\": %d, \"iters\": %d,\n \"blas\": {\"config\": \"%s\", \"core\": \"%s\"},\n \"step\": {",
            m->name, m->conv_type, m->cpu ? m->cpu : "any", m->c, m->h, m->w, o->batch, threads, o->iters,
            mc_blas_config(), mc_blas_core());
    for (int v = 0; v < (o->generated_only ? 1 : 2); v++)
        fprintf(f, "%s\"%s\": {\"median_s\": %.9g, \"min_s\": %.9g, \"max_s\": %.9g, \"images_per_s\": %.6g}",
                v ? ", " : "", v ? "generic" : "generated", step[v].median, step[v].min, step[v].max,
                o->batch / step[v].median);
    fprintf(f, "},\n \"layers\": [");
    for (int i = 0, first = 1; res && i < m->nlayers; i++) {
        const mc_layer *l = &m->layers[i];
        if (l->kind == MC_L_IDENTITY)
            continue;
        const layer_result *r = &res[i];
        fprintf(f, "%s\n  {\"index\": %d, \"name\": \"%s\", \"op\": \"%s\", \"input\": [%d, %d, %d], \"output\": [%d, %d, %d], "
                   "\"pad\": %d, \"groups\": %d, ",
                first ? "" : ",", i, l->name, kind_names[l->kind], l->in_c, l->in_h, l->in_w, l->c, l->h, l->w, l->pad,
                l->groups);
        if (l->kind == MC_L_DEPTHWISE) {
            fprintf(f, "\"kernels\": [");
            for (int j = 0; j < l->nk; j++)
                fprintf(f, "%s%d", j ? ", " : "", l->ks[j]);
            fprintf(f, "], ");
        } else if (l->kind == MC_L_CONV || l->kind == MC_L_MAXPOOL) {
            fprintf(f, "\"kernels\": [%d], ", l->k);
        }
        if (l->fused != MC_FUSED_NONE)
            fprintf(f, "\"fused\": \"%s\", ", fused_names[l->fused] + 1);
        /* see mc_layer.folded (PyTorch's twins, tools/compare.py: a conv and the batch norm before it; a
         * batch norm and an add apart) */
        if (l->folded == MC_FOLD_CONV || (l->kind == MC_L_CONV && applies_bn(m, l)))
            fprintf(f, "\"%s\": true, ", l->folded ? "folded" : "applies_batchnorm");
        if (l->folded == MC_FOLD_ADD || (l->kind == MC_L_ADD && applies_bn(m, l)))
            fprintf(f, "\"%s\": true, ", l->folded ? "applied_by_add" : "add_applies_batchnorm");
        if (l->stats >= 0) /* see mc_layer.stats */
            fprintf(f, "\"%s\": true, ", l->kind == MC_L_BATCHNORM ? "reads_batch_stats" : "writes_batch_stats");
        fprintf(f, "\"stride\": %d, \"flops_fwd\": %.0f, \"flops_bwd\": %.0f, \"bytes_fwd\": %.0f, \"bytes_bwd\": "
                   "%.0f,\n   ",
                l->stride, r->flops_fwd, r->flops_bwd, r->bytes_fwd, r->bytes_bwd);
        json_timing(f, "fwd_generated", r->fwd[0], r->flops_fwd, r->bytes_fwd), fputs(", ", f);
        json_timing(f, "bwd_generated", r->bwd[0], r->flops_bwd, r->bytes_bwd);
        if (!o->generated_only) {
            fputs(",\n   ", f);
            json_timing(f, "fwd_generic", r->fwd[1], r->flops_fwd, r->bytes_fwd), fputs(", ", f);
            json_timing(f, "bwd_generic", r->bwd[1], r->flops_bwd, r->bytes_bwd);
        }
        fputs("}", f);
        first = 0;
    }
    fprintf(f, "\n ]}\n");
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "error: %s: cannot write: %s\n", path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

/* One line per layer: name, median seconds forward and backward of the
 * generated kernels (0 for a layer without code). */
static int write_times(const char *path, const mc_model_desc *m, const layer_result *res)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (int i = 0; i < m->nlayers; i++)
        fprintf(f, "%s\t%.9g\t%.9g\n", m->layers[i].name, res[i].fwd[0].median, res[i].bwd[0].median);
    if (fclose(f) != 0) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

int mc_bench(const mc_model_desc *m, const mc_bench_options *o)
{
    bench b = {.m = m, .sgd = {.lr = 0.01, .momentum = 0.9, .weight_decay = 2e-4}, .sides = o->generated_only ? 1 : 2,
              .cpu_time = o->cpu_time};
    layer_result *res = o->layers ? calloc((size_t)m->nlayers, sizeof *res) : NULL;
    double *t = malloc(sizeof(double) * 4 * (size_t)o->iters);
    b.labels = malloc(sizeof(int32_t) * (size_t)o->batch);
    if (!t || !b.labels || (o->layers && !res) || mc_net_init(&b.net, m, o->batch, 0) != 0) {
        fprintf(stderr, "error: out of memory for a batch of %d\n", o->batch);
        free(res), free(t), free(b.labels);
        return 1;
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    /* Random weights, images and labels: speed does not depend on them. */
    mc_rng_seed(&b.rng, 1);
    mc_net_init_params(&b.net, &b.rng);
    float *x = mc_net_input(&b.net, o->batch);
    for (long i = 0; i < (long)o->batch * m->c * m->h * m->w; i++)
        x[i] = (float)mc_rng_normal(&b.rng);
    for (int i = 0; i < o->batch; i++)
        b.labels[i] = (int32_t)mc_rng_below(&b.rng, (uint32_t)m->classes);

    printf("%s (%s), %s CPU target, input %dx%dx%d, batch %d, %d thread%s, median of %d after a warm-up "
           "(sprd: (max - min) / median)%s\n",
           m->name, m->conv_type, m->cpu ? m->cpu : "any", m->c, m->h, m->w, o->batch, threads, threads == 1 ? "" : "s",
           o->iters,
           o->cpu_time ? ", CPU time" : "");
    /* What the generic side's convolutions and linear layers run on. */
    if (b.sides == 2) {
        printf("generic matrix products: %s, core %s\n", mc_blas_config(), mc_blas_core());
        const char *fix = mc_blas_core_fix();
        if (fix)
            printf("note: OpenBLAS took its %s kernels, which lack this CPU's vectors: the generic side is slower than it "
                   "could be; OPENBLAS_CORETYPE=%s picks the right ones (docs/generic_baseline.md)\n",
                   mc_blas_core(), fix);
    }
    /* The step first: it also leaves every slot filled for the layers. */
    timing step[2];
    for (int it = -1; it < o->iters; it++)
        for (int v = 0; v < b.sides; v++) {
            double dt = time_step(&b, v);
            if (it >= 0)
                t[v * o->iters + it] = dt;
        }
    step[0] = summarize(t, o->iters), step[1] = b.sides == 2 ? summarize(t + o->iters, o->iters) : (timing){0};
    printf("training step: generated %.1f ms (%.0f images/s, sprd %.0f%%)", 1e3 * step[0].median,
           o->batch / step[0].median, 100 * spread(step[0]));
    if (b.sides == 2)
        printf(", generic %.1f ms (%.0f images/s), %.2fx", 1e3 * step[1].median, o->batch / step[1].median,
               step[1].median / step[0].median);
    printf("\n");
    if (o->layers) {
        b.net.generic = 0;
        for (int i = 0; i < m->nlayers; i++) {
            layer_cost(m, &m->layers[i], o->batch, &res[i]);
            if (m->layers[i].kind != MC_L_IDENTITY)
                bench_layer(&b, i, o->iters, t, &res[i]);
        }
        print_layers(m, res);
    }
    int rc = o->json ? write_json(o->json, m, o, threads, step, res) : 0;
    if (rc == 0 && o->times && o->layers)
        rc = write_times(o->times, m, res);
    mc_net_free(&b.net);
    free(res), free(t), free(b.labels);
    return rc;
}
