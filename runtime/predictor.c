/* The standalone predictor's commands (mc_predictor.h): info, predict,
 * eval and bench, around a model's inference library. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "mc_predictor.h"

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mc_batch.h"
#include "mc_class_names.h"
#include "mc_cpu.h"
#include "mc_dataset.h"
#include "mc_image.h"
#include "mc_safetensors.h"

typedef struct options {
    const char *weights, *data, *dataset, *json;
    long limit;
    int top, batch, iters, threads, latency;
    char **args;
    int nargs;
} options;

static const char usage[] =
    "usage: EXE info\n"
    "       EXE predict [--weights CKPT] [--dataset NAME] [--top K] IMAGE...\n"
    "       EXE eval [--weights CKPT] --data DIR [--dataset NAME] [--limit N] [--batch B]\n"
    "       EXE bench [--weights CKPT] [--latency] [--batch B] [--iters N] [--threads T] [--json FILE]\n"
    "\n"
    "A classifier's inference library (mcgen emit --inference) as a program.\n"
    "  predict   the top K classes (default 1) of each image (PNG, PGM or PPM of the\n"
    "            model's size), with their probabilities\n"
    "  eval      the accuracy on a dataset's test split (as the training executable reads it)\n"
    "  bench     images per second at batch B (default 128); with --latency also the\n"
    "            milliseconds of one image (batch 1): median and 90th percentile\n"
    "  --weights CKPT   the parameters (a checkpoint, or the MODEL.bin of emit --weights);\n"
    "                   without it, those built into the executable\n"
    "  --dataset NAME   the normalization of that dataset (default: the one the\n"
    "                   library's checkpoint names, else the library's own)\n"
    "  --threads T      OpenMP threads (default: OpenMP's)\n";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "error: %s%s\n%s", what, arg ? arg : "", usage);
    return 2;
}

static int parse(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"weights", required_argument, NULL, 'w'}, {"data", required_argument, NULL, 'd'},
        {"dataset", required_argument, NULL, 's'}, {"limit", required_argument, NULL, 'l'},
        {"top", required_argument, NULL, 'k'},     {"batch", required_argument, NULL, 'b'},
        {"iters", required_argument, NULL, 'i'},   {"threads", required_argument, NULL, 't'},
        {"latency", no_argument, NULL, 'L'},       {"json", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    *o = (options){.top = 1, .batch = 128, .iters = 10};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        long v = optarg ? strtol(optarg, &end, 10) : 0;
        const int number = optarg && *optarg && !*end && v >= 1 && v <= 1000000;
        switch (c) {
        case 'w': o->weights = optarg; break;
        case 'd': o->data = optarg; break;
        case 's': o->dataset = optarg; break;
        case 'j': o->json = optarg; break;
        case 'L': o->latency = 1; break;
        case 'l':
        case 'k':
        case 'b':
        case 'i':
        case 't':
            if (!number || (c == 'b' && v > 65536))
                return usage_error("expected a positive integer, got ", optarg);
            if (c == 'l')
                o->limit = v;
            else
                *(c == 'k' ? &o->top : c == 'b' ? &o->batch : c == 'i' ? &o->iters : &o->threads) = (int)v;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return usage_error("unknown or incomplete option ", argv[optind - 1]);
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
#ifdef _OPENMP
    if (o->threads)
        omp_set_num_threads(o->threads);
#endif
    return -1;
}

/* The net of the parameters of --weights, else of the library's own;
 * NULL with a message. */
static void *make_net(const mc_predictor *p, const options *o)
{
    if (!o->weights) {
        void *net = p->params ? p->make(p->params) : NULL;
        if (!p->params)
            fprintf(stderr, "error: %s has no parameters built in; give --weights CKPT\n", p->name);
        else if (!net)
            fprintf(stderr, "error: out of memory for the parameters\n");
        return net;
    }
    char err[1024];
    float *params = malloc(sizeof(float) * (size_t)p->param_floats);
    void *net = NULL;
    if (!params || p->load(o->weights, params, err, sizeof err) != 0)
        fprintf(stderr, "error: %s\n", params ? err : "out of memory for the parameters");
    else if (!(net = p->make(params)))
        fprintf(stderr, "error: out of memory for the parameters\n");
    free(params);
    return net;
}

/* How images are normalized: the dataset's (--dataset, else the
 * checkpoint's), else the library's mean and std, as a dataset of the
 * model's shape. */
static int normalization(const mc_predictor *p, const options *o, mc_dataset_info *out)
{
    const char *name = o->dataset ? o->dataset : *p->dataset ? p->dataset : NULL;
    mc_st_file *f = !name && o->weights ? mc_st_open(o->weights, NULL, 0) : NULL; /* NULL for a MODEL.bin */
    if (f)
        name = mc_st_metadata(f, "dataset");
    const mc_dataset_info *info = name ? mc_dataset_info_named(name) : NULL;
    mc_st_close(f);
    if (!info && o->dataset) {
        fprintf(stderr, "error: unknown dataset '%s'\n", o->dataset);
        return -1;
    }
    if (info)
        *out = *info;
    else {
        *out = (mc_dataset_info){.name = "the library's normalization"};
        for (int c = 0; c < p->c && c < 3; c++)
            out->mean[c] = p->mean[c], out->std[c] = p->std[c];
    }
    out->c = p->c, out->h = p->h, out->w = p->w, out->classes = p->classes;
    return 0;
}

/* Class k's name: the library's (its checkpoint's), else what --weights
 * or the dataset say (mc_class_names.h). */
static const char *class_name(const mc_predictor *p, const mc_class_names *cn, int k)
{
    return p->class_names[k] ? p->class_names[k] : mc_class_name(cn, k);
}

static int cmd_info(const mc_predictor *p)
{
    printf("model       %s\nconv type   %s\ninput       %dx%dx%d\nclasses     %d\nparameters  %lld floats (batch "
           "norms folded), %s\nworkspace   %.1f KB for one image, %.1f MB for 128\ncpu target  %s\nbuild       %s\n"
           "dataset     %s\n",
           p->name, p->conv_type, p->c, p->h, p->w, p->classes, p->param_floats,
           p->params ? "built in" : "from --weights", p->workspace_bytes(1) / 1024.0,
           p->workspace_bytes(128) / 1048576.0, p->cpu, p->build, *p->dataset ? p->dataset : "(not named)");
    return 0;
}

/* The batches of d (all of it), normalized by d->info, through the
 * library; the logits of every image into logits. */
static int infer_all(const mc_predictor *p, const void *net, const mc_dataset *d, int batch, float *logits,
                     int32_t *labels)
{
    const long image = (long)p->c * p->h * p->w;
    float *x = malloc(sizeof(float) * (size_t)image * batch);
    int64_t *order = malloc(sizeof *order * (size_t)batch);
    void *ws = malloc(p->workspace_bytes(batch));
    int rc = x && order && ws ? 0 : -1;
    for (int first = 0; rc == 0 && first < d->n; first += batch) {
        const int n = d->n - first < batch ? d->n - first : batch;
        for (int i = 0; i < n; i++)
            order[i] = first + i;
        mc_batch_fill(d, order, n, 0, NULL, x, labels + first);
        rc = p->infer(net, x, n, logits + (long)first * p->classes, ws);
    }
    if (rc != 0)
        fprintf(stderr, "error: out of memory for a batch of %d\n", batch);
    free(x), free(order), free(ws);
    return rc;
}

static int cmd_predict(const mc_predictor *p, const options *o)
{
    if (o->nargs == 0)
        return usage_error("expected IMAGE files", NULL);
    mc_dataset_info info;
    mc_class_names cn;
    if (normalization(p, o, &info) != 0 || mc_class_names_load(&cn, p->classes, o->weights, info.name) != 0)
        return 1;
    void *net = make_net(p, o);
    if (!net) {
        mc_class_names_free(&cn);
        return 1;
    }
    const long image = (long)p->c * p->h * p->w;
    mc_dataset d = {.info = &info, .n = o->nargs, .images = malloc((size_t)image * o->nargs),
                    .labels = calloc((size_t)o->nargs, sizeof(int32_t))};
    float *logits = malloc(sizeof(float) * (size_t)p->classes * o->nargs);
    int rc = d.images && d.labels && logits ? 0 : 1;
    char err[1024];
    for (int i = 0; rc == 0 && i < o->nargs; i++)
        if (mc_image_read(o->args[i], p->c, p->h, p->w, d.images + i * image, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            rc = 1;
        }
    rc = rc ? rc : infer_all(p, net, &d, 1, logits, d.labels) != 0;
    for (int i = 0; rc == 0 && i < o->nargs; i++) {
        const float *z = logits + (long)i * p->classes;
        double top = -INFINITY, sum = 0;
        for (int k = 0; k < p->classes; k++)
            top = z[k] > top ? z[k] : top;
        for (int k = 0; k < p->classes; k++)
            sum += exp(z[k] - top);
        if (!isfinite(top) || !isfinite(sum)) {
            printf("%s: no class: the outputs are NaN or infinite\n", o->args[i]);
            rc = 1;
            continue;
        }
        printf("%s:", o->args[i]);
        int shown[64], nshown = 0; /* the top K in order, one pass each */
        for (; nshown < o->top && nshown < p->classes && nshown < 64; nshown++) {
            int best = -1;
            for (int k = 0; k < p->classes; k++) {
                int taken = 0;
                for (int s = 0; s < nshown; s++)
                    taken |= shown[s] == k;
                if (!taken && (best < 0 || z[k] > z[best]))
                    best = k;
            }
            shown[nshown] = best;
            printf("%s %s (p=%.4f)", nshown ? "," : "", class_name(p, &cn, best), exp(z[best] - top) / sum);
        }
        printf("\n");
    }
    free(d.images), free(d.labels), free(logits);
    p->unmake(net);
    mc_class_names_free(&cn);
    return rc;
}

static int cmd_eval(const mc_predictor *p, const options *o)
{
    if (!o->data)
        return usage_error("expected --data DIR", NULL);
    void *net = make_net(p, o);
    if (!net)
        return 1;
    const mc_dataset_info *info = o->dataset ? mc_dataset_info_named(o->dataset) : NULL;
    mc_dataset d;
    char err[1024];
    if (mc_dataset_load(o->data, info, 1, o->limit, &d, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n", err);
        p->unmake(net);
        return 1;
    }
    int rc = 1;
    if (d.info->c != p->c || d.info->h != p->h || d.info->w != p->w || d.info->classes != p->classes)
        fprintf(stderr, "error: %s: %s images are %dx%dx%d in %d classes; %s takes %dx%dx%d into %d\n", o->data,
                d.info->name, d.info->c, d.info->h, d.info->w, d.info->classes, p->name, p->c, p->h, p->w,
                p->classes);
    else {
        float *logits = malloc(sizeof(float) * (size_t)p->classes * d.n);
        const struct timespec t0 = {0};
        struct timespec a = t0, b = t0;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (logits && infer_all(p, net, &d, o->batch, logits, d.labels) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &b);
            long correct = 0;
            for (int i = 0; i < d.n; i++) {
                const float *z = logits + (long)i * p->classes;
                int best = 0;
                for (int k = 1; k < p->classes; k++)
                    best = z[k] > z[best] ? k : best;
                correct += best == d.labels[i];
            }
            const double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
            printf("accuracy %.4f (%ld of %d %s test images), %.0f images/s\n", (double)correct / d.n, correct, d.n,
                   d.info->name, d.n / s);
            rc = 0;
        }
        free(logits);
    }
    mc_dataset_free(&d);
    p->unmake(net);
    return rc;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of each of `runs` calls at this batch (after one to warm up), sorted. */
static int time_batch(const mc_predictor *p, const void *net, int batch, int runs, double *sec)
{
    const long floats = (long)p->c * p->h * p->w * batch;
    float *x = malloc(sizeof(float) * (size_t)floats), *z = malloc(sizeof(float) * (size_t)p->classes * batch);
    void *ws = malloc(p->workspace_bytes(batch));
    int rc = x && z && ws ? 0 : -1;
    for (long i = 0; rc == 0 && i < floats; i++)
        x[i] = (float)((i * 7919 % 2001) - 1000) / 1000.0f;
    for (int r = -1; rc == 0 && r < runs; r++) {
        const double t = now();
        rc = p->infer(net, x, batch, z, ws);
        if (r >= 0)
            sec[r] = now() - t;
    }
    if (rc != 0)
        fprintf(stderr, "error: out of memory for a batch of %d\n", batch);
    else
        qsort(sec, (size_t)runs, sizeof *sec, by_value);
    free(x), free(z), free(ws);
    return rc;
}

static int cmd_bench(const mc_predictor *p, const options *o)
{
    void *net = make_net(p, o);
    if (!net)
        return 1;
    const int runs1 = o->iters * 20 > 2000 ? 2000 : o->iters * 20;
    double *sec = malloc(sizeof(double) * (size_t)(runs1 > o->iters ? runs1 : o->iters));
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    int rc = sec ? 0 : 1;
    double lat_med = 0, lat_p90 = 0, ips = 0;
    if (rc == 0 && o->latency && (rc = time_batch(p, net, 1, runs1, sec)) == 0) {
        lat_med = 1e3 * sec[runs1 / 2], lat_p90 = 1e3 * sec[runs1 * 9 / 10];
        printf("batch 1: %.3f ms median, %.3f ms 90th percentile (%d runs)\n", lat_med, lat_p90, runs1);
    }
    if (rc == 0 && (rc = time_batch(p, net, o->batch, o->iters, sec)) == 0) {
        ips = o->batch / sec[o->iters / 2];
        printf("batch %d: %.0f images/s (median of %d runs)\n", o->batch, ips, o->iters);
    }
    printf("%s inference library, %s target on %s, %d thread%s\n", p->name, p->cpu, mc_cpu_name(), threads,
           threads == 1 ? "" : "s");
    if (rc == 0 && o->json) {
        FILE *f = strcmp(o->json, "-") ? fopen(o->json, "w") : stdout;
        if (!f) {
            fprintf(stderr, "error: %s: cannot write\n", o->json);
            rc = 1;
        } else {
            fprintf(f, "{\"model\": \"%s\", \"cpu\": \"%s\", \"cpu_name\": \"%s\", \"threads\": %d, \"batch\": %d, "
                       "\"images_per_s\": %.3f, \"latency_ms_median\": %.6f, \"latency_ms_p90\": %.6f}\n",
                    p->name, p->cpu, mc_cpu_name(), threads, o->batch, ips, lat_med, lat_p90);
            if (f != stdout && fclose(f) != 0)
                rc = 1;
        }
    }
    free(sec);
    p->unmake(net);
    return rc;
}

int mc_predictor_main(const mc_predictor *p, int argc, char **argv)
{
    char why[256];
    if (!mc_cpu_runs(p->cpu, why, sizeof why)) {
        fprintf(stderr, "error: %s was built for the %s CPU target: %s\n", argv[0], p->cpu, why);
        return 1;
    }
    if (argc < 2)
        return usage_error("expected a command: info, predict, eval or bench", NULL);
    const char *cmd = argv[1];
    options o;
    int rc = parse(argc - 1, argv + 1, &o);
    if (rc >= 0)
        return rc;
    if (strcmp(cmd, "info") == 0)
        return cmd_info(p);
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(p, &o);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(p, &o);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(p, &o);
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    return usage_error("unknown command ", cmd);
}
