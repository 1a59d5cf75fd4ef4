/* The inference library's test driver: infers a batch of raw float32
 * images with the library of a model (-DMODEL=name -DUPPER=NAME
 * -DMODEL_HEADER='"name.h"') and writes the raw logits, of the batch and
 * of each image alone, which tests/inference/check.py compares with the
 * training executable's eval forward. It includes nothing of the mcgen
 * runtime.
 *
 *   driver CKPT|- IN.f32 N OUT.f32
 *
 * CKPT: a checkpoint for MODEL_load; "-": the parameters embedded in the
 * library (built with -DEMBEDDED). OUT gets the batch's logits, the
 * logits of each image inferred alone, then those of the images inferred
 * at once, a thread each with a workspace of its own (3 x N x classes
 * floats): the API promises that threads may share a net. */
#define _POSIX_C_SOURCE 200809L /* pthreads under -std=c11 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include MODEL_HEADER

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define API(x) CAT(MODEL, x)
#define CONST(x) CAT(UPPER, x)

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "driver: %s: %s\n", path, what);
    return 1;
}

/* One image of the concurrent pass. */
typedef struct {
    const CAT(MODEL, _net) *net;
    const float *image;
    float *logits;
    int status;
} job;

static void *infer_one(void *arg)
{
    job *j = arg;
    void *ws = malloc(API(_workspace_bytes)(1));
    j->status = ws ? API(_infer)(j->net, j->image, 1, j->logits, ws) : -1;
    free(ws);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return fail("usage: driver CKPT|- IN.f32 N OUT.f32", "driver");
    const int n = atoi(argv[3]);
    const size_t image = (size_t)CONST(_IN_C) * CONST(_IN_H) * CONST(_IN_W), classes = CONST(_CLASSES);
    float *images = malloc(sizeof(float) * image * (size_t)n), *logits = malloc(sizeof(float) * classes * 3 * (size_t)n);
    void *ws = malloc(API(_workspace_bytes)(n));
    if (n < 1 || !images || !logits || !ws)
        return fail("bad N or out of memory", argv[3]);
    const float *params;
#ifdef EMBEDDED
    params = API(_params);
#else
    float *loaded = malloc(sizeof(float) * CONST(_PARAM_FLOATS));
    char err[512];
    if (!loaded || API(_load)(argv[1], loaded, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", loaded ? err : "out of memory");
        return 1;
    }
    params = loaded;
#endif
    CAT(MODEL, _net) *net = API(_new)(params);
    if (!net)
        return fail("out of memory", "the net");
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(images, sizeof(float) * image, (size_t)n, f) != (size_t)n)
        return fail("cannot read N images", argv[2]);
    fclose(f);
    if (API(_infer)(net, images, n, logits, ws) != 0)
        return fail("infer failed", "batch");
    for (int b = 0; b < n; b++) /* alone, in a workspace of one image */
        if (API(_infer)(net, images + (size_t)b * image, 1, logits + (size_t)(n + b) * classes, ws) != 0)
            return fail("infer failed", "one image");
    pthread_t *threads = malloc(sizeof(pthread_t) * (size_t)n);
    job *jobs = malloc(sizeof(job) * (size_t)n);
    if (!threads || !jobs)
        return fail("out of memory", "threads");
    for (int b = 0; b < n; b++) {
        jobs[b] = (job){net, images + (size_t)b * image, logits + (size_t)(2 * n + b) * classes, 0};
        if (pthread_create(&threads[b], NULL, infer_one, &jobs[b]) != 0)
            return fail("cannot start a thread", "at once");
    }
    for (int b = 0; b < n; b++)
        if (pthread_join(threads[b], NULL) != 0 || jobs[b].status != 0)
            return fail("infer failed", "at once");
    free(threads), free(jobs);
    f = fopen(argv[4], "wb");
    if (!f || fwrite(logits, sizeof(float) * classes, 3 * (size_t)n, f) != 3 * (size_t)n || fclose(f) != 0)
        return fail("cannot write the logits", argv[4]);
    API(_free)(net);
    free(images), free(logits), free(ws);
#ifndef EMBEDDED
    free(loaded);
#endif
    return 0;
}
