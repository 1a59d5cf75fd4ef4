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
 * library (built with -DEMBEDDED). OUT gets the batch's logits, then the
 * logits of each image inferred alone (2 x N x classes floats). */
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

int main(int argc, char **argv)
{
    if (argc != 5)
        return fail("usage: driver CKPT|- IN.f32 N OUT.f32", "driver");
    const int n = atoi(argv[3]);
    const size_t image = (size_t)CONST(_IN_C) * CONST(_IN_H) * CONST(_IN_W), classes = CONST(_CLASSES);
    float *images = malloc(sizeof(float) * image * (size_t)n), *logits = malloc(sizeof(float) * classes * 2 * (size_t)n);
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
    f = fopen(argv[4], "wb");
    if (!f || fwrite(logits, sizeof(float) * classes, 2 * (size_t)n, f) != 2 * (size_t)n || fclose(f) != 0)
        return fail("cannot write the logits", argv[4]);
    API(_free)(net);
    free(images), free(logits), free(ws);
#ifndef EMBEDDED
    free(loaded);
#endif
    return 0;
}
